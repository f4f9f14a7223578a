// `npx sourcing …`: the operator's batch jobs (the same job code as POST /v1/jobs). Local image paths are
// accepted here (and only here). Re-running the same command resumes an interrupted run from its checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { closeServices, createServices, exitIfLocked } from './bootstrap.ts';
import { loadConfigOrExit } from './config.ts';
import { commandJobId, JobManager, type JobState } from './jobs/manager.ts';
import type { JobKind, JobSpec, ReindexMode } from './jobs/kinds/types.ts';

interface CommonOpts {
  job?: string;
  ocr?: boolean;
  batchSize?: string;
  fetchConcurrency?: string;
  embedConcurrency?: string;
  window?: string;
  quiet?: boolean;
}

const fmtEta = (s: number | null) => (s === null ? '?' : s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`);

function line(st: JobState): string {
  const p = st.progress;
  const pct = p.total ? ` ${((100 * p.processed) / p.total).toFixed(1)}%` : '';
  return `progress: ${p.processed}/${p.total ?? '?'}${pct} done ${p.done} skipped ${p.skipped} failed ${p.failed} · ${p.rate.toFixed(1)} items/s · eta ${fmtEta(p.etaSeconds)}`;
}

async function runJob(kind: JobKind, input: string | null, mode: ReindexMode | undefined, o: CommonOpts): Promise<void> {
  if (input !== null) {
    if (!fs.existsSync(input)) {
      console.error(`no such file or folder: ${input}`);
      process.exit(2);
    }
    input = path.resolve(input);
  }
  const env = { ...process.env };
  if (o.batchSize) env.JOBS_BATCH_SIZE = o.batchSize;
  if (o.fetchConcurrency) env.JOBS_FETCH_CONCURRENCY = o.fetchConcurrency;
  if (o.embedConcurrency) env.JOBS_EMBED_CONCURRENCY = o.embedConcurrency;
  if (o.window) env.JOBS_WINDOW = o.window;
  const config = loadConfigOrExit(env);
  const s = await createServices(config, { log: (m) => console.error(m) }).catch(exitIfLocked);
  const manager = new JobManager(s);
  const spec: JobSpec = {
    id: o.job ?? commandJobId(kind, mode, input),
    kind,
    ...(mode ? { mode } : {}),
    input,
    ...(o.ocr !== undefined ? { ocr: o.ocr } : {}),
    allowPaths: true,
    origin: 'cli',
  };
  const { done } = manager.submit(spec);
  let stopping = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (stopping++) {
        // at once, but not inside a model run: onnxruntime-node aborts the whole process (exit 134 instead of
        // 130) when the thread running it is ended mid-run, so the vision worker is released first (one run)
        setTimeout(() => process.exit(130), 2000).unref();
        void s.embedder.close().finally(() => process.exit(130));
        return;
      }
      console.error('\ncancelling (acknowledged work is kept; run the same command again to resume; press again to quit at once)…');
      manager.cancel(spec.id);
    });

  const tty = process.stderr.isTTY && !o.quiet;
  let bar: cliProgress.SingleBar | null = null;
  let lastLine = 0;
  const tick = () => {
    const st = manager.get(spec.id);
    if (!st || st.status === 'queued') return;
    const p = st.progress;
    if (tty) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { format: `${kind}${mode ? ` ${mode}` : ''} [{bar}] {percentage}% | {value}/{total} | {rate} items/s | eta {etaText} | skipped {skipped} failed {failed}`, stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.total ?? 0, p.processed, { rate: '0.0', etaText: '?', skipped: 0, failed: 0 });
      }
      bar.setTotal(p.total ?? p.processed);
      bar.update(p.processed, { rate: p.rate.toFixed(1), etaText: fmtEta(p.etaSeconds), skipped: p.skipped, failed: p.failed });
    } else if (!o.quiet && Date.now() - lastLine >= 1000) {
      // not a terminal: plain lines, one a second at most
      lastLine = Date.now();
      console.log(line(st));
    }
  };
  const timer = setInterval(tick, tty ? 200 : 500);
  const st = await done;
  clearInterval(timer);
  tick();
  (bar as cliProgress.SingleBar | null)?.stop();
  if (st.resumedAfter) console.log(`resumed after line ${st.resumedAfter} of an interrupted run`);
  console.log(line(st));
  const errFile = manager.errorsFile(spec.id);
  console.log(`job ${st.id}: ${st.status}${st.error ? ` (${st.error.code}: ${st.error.message})` : ''}`);
  if (st.progress.failed) console.log(`errors report: ${errFile} (${st.progress.failed} items)`);
  const stageMs = Object.entries(st.stageMs).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ');
  if (stageMs) console.log(`busy time by stage: ${stageMs}`);
  await closeServices(s);
  process.exit(st.status === 'completed' || st.status === 'completed_with_errors' ? 0 : st.status === 'cancelled' ? 130 : 1);
}

const program = new Command()
  .name('sourcing')
  .description('Batch jobs for the sourcing search index (the configuration comes from the environment: DATA_DIR, SEARCH_BACKEND, ES_URL, …)');

const common = (c: Command) =>
  c
    .option('--job <id>', 'job id (default: derived from the command and the input path, so that re-running resumes)')
    .option('--ocr', 'read OCR text of the images (slow: ~0.3 s per image)')
    .option('--no-ocr', 'do not read OCR text (default: EVIDENCE_OCR)')
    .option('--batch-size <n>', 'records per bulk write (JOBS_BATCH_SIZE)')
    .option('--fetch-concurrency <n>', 'images fetched/read at once (JOBS_FETCH_CONCURRENCY)')
    .option('--embed-concurrency <n>', 'records being embedded at once (JOBS_EMBED_CONCURRENCY)')
    .option('--window <n>', 'items in flight at most (JOBS_WINDOW)')
    .option('-q, --quiet', 'no progress output');

common(program.command('index').argument('<input>', 'a JSON Lines catalogue (one product a line) or a folder of images').description('index (upsert) every listing of the input; unchanged ones are skipped')).action(
  (input: string, o: CommonOpts) => runJob('index', input, undefined, o),
);

common(
  program
    .command('reindex')
    .argument('[input]', 'a JSON Lines catalogue or a folder of images (optional for --mode stale)')
    .addOption(new Option('--mode <mode>', 'incremental: upsert into the live index; full: rebuild into a new index and swap; stale: re-embed what another model made').choices(['incremental', 'full', 'stale']).default('incremental'))
    .description('re-index: incremental upsert, full rebuild with an atomic swap, or only the stale records'),
).action((input: string | undefined, o: CommonOpts & { mode: ReindexMode }) => runJob('reindex', input ?? null, o.mode, o));

common(program.command('delete').argument('<input>', 'a file of ids: JSON Lines with "id", or one id a line').description('delete the listed ids')).action((input: string, o: CommonOpts) =>
  runJob('delete', input, undefined, o),
);

program
  .command('status')
  .argument('[id]', 'a job id (default: list the jobs)')
  .description('show a job (or all jobs) of this data directory')
  .action((id: string | undefined) => {
    const config = loadConfigOrExit();
    const dir = path.join(config.dataDir, 'jobs');
    const read = (j: string) => JSON.parse(fs.readFileSync(path.join(dir, j, 'state.json'), 'utf8')) as JobState;
    if (id) return console.log(JSON.stringify(read(id), null, 2));
    if (!fs.existsSync(dir)) return console.log('no jobs');
    for (const j of fs.readdirSync(dir)) {
      try {
        const st = read(j);
        console.log(`${st.id}  ${st.kind}${st.mode ? `/${st.mode}` : ''}  ${st.status}  ${line(st)}`);
      } catch {
        // not a job directory
      }
    }
  });

await program.parseAsync(process.argv);
