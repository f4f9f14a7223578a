// A real Elasticsearch for tests: an external one (ES_URL), a local one started by
// scripts/es.sh (Maven Central integ-test-zip, single node on 127.0.0.1:9250), or an
// explicit skip (SKIP_ES=1).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ElasticsearchHandle {
  url: string;
  stop: () => Promise<void>;
}

export interface ElasticsearchSkipped {
  skipped: true;
  reason: string;
}

const ES_SCRIPT = fileURLToPath(new URL('../../scripts/es.sh', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** First run downloads ~107 MB with Maven and unpacks it; a cold JVM start takes 30–60 s on 2 cores. */
const START_TIMEOUT_MS = 10 * 60_000;
const STOP_TIMEOUT_MS = 60_000;

const HOW_TO_FIX =
  'To fix: install a JDK 17+ (e.g. `apt-get install openjdk-17-jdk-headless`, or point ES_JAVA_HOME at one) ' +
  'and Maven so `bash scripts/es.sh start` works; or set ES_URL to a running Elasticsearch 8.x ' +
  '(e.g. ES_URL=http://127.0.0.1:9200); or set SKIP_ES=1 to skip the Elasticsearch-backed tests explicitly.';

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `bash scripts/es.sh <cmd>`, streaming its output to our stderr unless `quiet`. */
function runEsScript(cmd: 'start' | 'stop' | 'status', timeoutMs: number, quiet = false): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [ES_SCRIPT, cmd], {
      cwd: REPO_ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (!quiet) process.stderr.write(chunk);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (!quiet) process.stderr.write(chunk);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

async function checkHealth(url: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new Error(
      `ES_URL=${url} is not reachable (GET ${url}/_cluster/health failed: ${cause}). ` +
        'Start that Elasticsearch, fix ES_URL, unset it to let scripts/es.sh start a local one, or set SKIP_ES=1.',
    );
  }
  const body = await res.text();
  if (!res.ok) {
    throw new Error(
      `ES_URL=${url} answered GET /_cluster/health with HTTP ${res.status}: ${body.slice(0, 300)}. ` +
        'It must be an Elasticsearch 8.x with security disabled; or set SKIP_ES=1.',
    );
  }
  const status = (JSON.parse(body) as { status?: string }).status;
  if (status !== 'green' && status !== 'yellow') {
    throw new Error(`ES_URL=${url} is reachable but its cluster status is ${status ?? 'unknown'} (need green or yellow).`);
  }
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * Makes an Elasticsearch available for tests.
 * - SKIP_ES=1 → `{ skipped: true, reason }`.
 * - ES_URL set → checks its `_cluster/health` (throws if unreachable); `stop` is a no-op.
 * - otherwise → `bash scripts/es.sh start`; `stop` runs `bash scripts/es.sh stop`, except when a
 *   healthy instance was already running before (a developer's, or another test run's), which is
 *   left alone.
 * Throws an Error explaining how to fix things when it cannot provide one.
 */
export async function ensureElasticsearch(): Promise<ElasticsearchHandle | ElasticsearchSkipped> {
  if (process.env.SKIP_ES === '1') {
    return { skipped: true, reason: 'SKIP_ES=1 is set' };
  }

  const external = process.env.ES_URL?.trim();
  if (external) {
    const url = external.replace(/\/+$/, '');
    await checkHealth(url);
    return { url, stop: async () => {} };
  }

  let alreadyRunning = false;
  try {
    alreadyRunning = (await runEsScript('status', 30_000, true)).code === 0;
  } catch {
    // bash itself missing: the start below reports it.
  }

  let result: RunResult;
  try {
    result = await runEsScript('start', START_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`Could not run \`bash ${ES_SCRIPT} start\`: ${(err as Error).message}. ${HOW_TO_FIX}`);
  }
  const url = result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^https?:\/\//.test(l))
    .pop();
  if (result.code !== 0 || !url) {
    if (result.timedOut) {
      await runEsScript('stop', STOP_TIMEOUT_MS).catch(() => undefined);
    }
    const why = result.timedOut
      ? `timed out after ${START_TIMEOUT_MS / 1000}s`
      : result.code !== 0
        ? `exited with ${result.code ?? result.signal}`
        : 'printed no URL';
    throw new Error(
      `Could not start a local Elasticsearch: \`bash scripts/es.sh start\` ${why}.\n` +
        `${HOW_TO_FIX}\n--- last output of scripts/es.sh ---\n${lastLines(result.stderr + result.stdout, 25)}`,
    );
  }

  const stop = async (): Promise<void> => {
    if (alreadyRunning) {
      process.stderr.write(`elasticsearch: leaving ${url} running (it was already up before the tests)\n`);
      return;
    }
    const r = await runEsScript('stop', STOP_TIMEOUT_MS);
    if (r.code !== 0) {
      throw new Error(`\`bash scripts/es.sh stop\` exited with ${r.code ?? r.signal}: ${lastLines(r.stderr, 10)}`);
    }
  };
  return { url, stop };
}
