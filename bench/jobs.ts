// `npm run bench -- jobs`: a batch index job of BENCH_JOBS_N (default 10,000) listings made from the Grocery
// photos (local paths, varied attributes), end to end through the same code as `npx sourcing index`: items/s,
// peak RSS, and the busy time of each stage. The image pipeline's end-to-end throughput is measured in the
// same run (bench/pipeline.ts, the configuration the services use), and the ratio printed (goal ≥ 0.8).
// A smaller job (BENCH_JOBS_OCR_N, default 300) runs with OCR on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { repoRoot, type Config } from '../src/config.ts';
import { readSplit } from '../src/demo/grocery.ts';
import type { JobState } from '../src/jobs/manager.ts';
import { benchPipeline } from './pipeline.ts';
import { productLine } from '../test/support/feed.ts';
import { mulberry32 } from '../src/util/prng.ts';

export interface JobsReport {
  n: number;
  itemsPerS: number;
  pipelineImgPerS: number;
  ratio: number;
  peakRssMb: number;
  stageShare: Record<string, number>;
  ocr: { n: number; itemsPerS: number } | null;
}

async function feedFile(n: number): Promise<string> {
  const dir = path.join(repoRoot, '.cache', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `jobs-feed-${n}.jsonl`);
  if (fs.existsSync(file)) return file;
  const photos = [...(await readSplit('train')), ...(await readSplit('val'))].map((x) => x.path).sort();
  const rnd = mulberry32(42);
  const out = fs.createWriteStream(file);
  for (let i = 1; i <= n; i++) {
    // photos reused with different ids and attributes once the dataset runs out
    const line = JSON.stringify(productLine(`bench-${String(i).padStart(7, '0')}`, photos[(i * 7919) % photos.length], i, rnd));
    if (!out.write(line + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  return file;
}

/**
 * The job as the operator runs it: `sourcing index` in a child process (so that its peak RSS is the job's
 * alone: VmHWM from /proc), on a fresh embedded data directory. The rate is over the job's own run
 * (startedAt → finishedAt, the models already loaded).
 */
async function runJob(input: string, ocr: boolean, log: (l: string) => void, label: string, env: Record<string, string> = {}): Promise<{ st: JobState; wallS: number; peak: number; cpuMsPerItem: number | null }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sourcing-bench-jobs-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'index', input, '--job', 'bench', ocr ? '--ocr' : '--no-ocr'], {
    cwd: repoRoot,
    env: { ...process.env, DATA_DIR: dataDir, SEARCH_BACKEND: 'embedded', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // the newest progress line and its count, taken as output arrives (not by re-reading all of it)
  let lastLine: string | null = null;
  let processed: number | null = null;
  const onData = (d: Buffer) => {
    // only the tail is ever read (here, and in the error on a failed exit): keep that much
    out = (out + d).slice(-4000);
    const tail = out.slice(-1000);
    const at = tail.lastIndexOf('progress: ');
    if (at < 0) return;
    const line = tail.slice(at).split('\n')[0];
    const m = /^progress: (\d+)\//.exec(line);
    if (m) (lastLine = line), (processed = Number(m[1]));
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let peak = 0;
  // the job's CPU time per item, all threads: from the first progress line (models loaded, job running) to
  // the last sample; /proc/<pid>/stat fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, read once)
  type CpuSample = { ticks: number; processed: number };
  // widened on purpose: they are set inside the sampler's closure, which narrowing does not follow
  let cpu0 = null as CpuSample | null;
  let cpu1 = null as CpuSample | null;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      const stat = fs.readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]);
      if (processed !== null) {
        cpu0 ??= { ticks, processed };
        cpu1 = { ticks, processed };
      }
    } catch {
      // exited
    }
  };
  const sampler = setInterval(sample, 200);
  let last = 0;
  const progress = setInterval(() => {
    if (lastLine && Date.now() - last > 30_000) {
      last = Date.now();
      log(`  ${label}: ${lastLine} · peak rss so far ${(peak / 2 ** 20).toFixed(0)} MB`);
    }
  }, 1000);
  const code = await new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  clearInterval(sampler);
  clearInterval(progress);
  if (code !== 0) throw new Error(`sourcing index exited with ${code}:\n${out.slice(-3000)}`);
  const st = JSON.parse(fs.readFileSync(path.join(dataDir, 'jobs', 'bench', 'state.json'), 'utf8')) as JobState;
  const wallS = (Date.parse(st.finishedAt!) - Date.parse(st.startedAt!)) / 1000;
  fs.rmSync(dataDir, { recursive: true, force: true });
  const cpuMsPerItem = cpu0 && cpu1 && cpu1.processed > cpu0.processed ? ((cpu1.ticks - cpu0.ticks) * msPerTick()) / (cpu1.processed - cpu0.processed) : null;
  return { st, wallS, peak, cpuMsPerItem };
}

export async function benchJobs(config: Config, log: (l: string) => void): Promise<JobsReport> {
  const n = Number(process.env.BENCH_JOBS_N ?? 10_000);
  const ocrN = Number(process.env.BENCH_JOBS_OCR_N ?? 300);
  const j = config.jobs;
  log(`  settings: fetch ${j.fetchConcurrency}, embed ${j.embedConcurrency}, evidence ${j.ocrConcurrency}, bulk ${j.batchSize}, window ${j.window}; vision ${config.vision.threads} thread(s) × ${config.vision.inflight} in flight${config.vision.worker ? ' on a worker thread' : ''}, max batch ${config.vision.maxBatch}, decode ${config.vision.decodeConcurrency}`);

  // the image pipeline's end-to-end throughput in this run, in each configuration it compares
  const test = await readSplit('test');
  const rows = await benchPipeline(config, test.filter((_, i) => i % 12 === 0).map((x) => x.path), log);
  // the ratio is taken against the fastest way the pipeline ran in this run, not only the services' own
  // configuration: the stricter of the two
  const row = rows.reduce((a, b) => (b.endToEndImgPerS > a.endToEndImgPerS ? b : a));
  const own = rows.find((r) => r.threads === config.vision.threads && r.inflight === config.vision.inflight && r.worker === config.vision.worker) ?? row;
  log(`  image pipeline to compare with: ${row.endToEndImgPerS.toFixed(1)} img/s (${row.threads} thread(s) × ${row.inflight}, ${row.worker ? 'worker' : 'main thread'}; the services' configuration gave ${own.endToEndImgPerS.toFixed(1)})`);

  const file = await feedFile(n);
  log(`  feed: ${file} (${n.toLocaleString('en')} listings, one Grocery photo each, local paths)`);

  // the stage concurrencies the defaults come from: a short job per setting (local features off, so that
  // the model stages decide)
  const sweepN = Number(process.env.BENCH_JOBS_SWEEP_N ?? 500);
  if (sweepN > 0) {
    const small = path.join(path.dirname(file), `jobs-feed-${sweepN}-sweep.jsonl`);
    fs.writeFileSync(small, fs.readFileSync(file, 'utf8').split('\n').slice(0, sweepN).join('\n') + '\n');
    for (const [fetchC, embedC, bulk] of [
      [4, 8, 64],
      [8, 16, 64],
      [8, 32, 64],
      [8, 16, 256],
    ]) {
      const r = await runJob(small, false, () => {}, 'sweep', {
        EVIDENCE_LOCAL: '0',
        JOBS_FETCH_CONCURRENCY: String(fetchC),
        JOBS_EMBED_CONCURRENCY: String(embedC),
        JOBS_BATCH_SIZE: String(bulk),
      });
      log(`  sweep (${sweepN} listings, local features off): fetch ${fetchC}, embed ${embedC}, bulk ${bulk} → ${(r.st.progress.processed / r.wallS).toFixed(1)} items/s, peak RSS ${(r.peak / 2 ** 20).toFixed(0)} MB, load ${os.loadavg()[0].toFixed(1)}`);
    }
  }

  const main = await runJob(file, false, log, 'index');
  const p = main.st.progress;
  const itemsPerS = p.processed / main.wallS;
  const total = Object.values(main.st.stageMs).reduce((a, b) => a + b, 0);
  const stageShare = Object.fromEntries(Object.entries(main.st.stageMs).map(([k, v]) => [k, v / Math.max(1, total)]));
  log(`  load average now ${os.loadavg()[0].toFixed(2)}`);
  log(`  job ${main.st.status}: ${p.done} done, ${p.skipped} skipped, ${p.failed} failed in ${main.wallS.toFixed(0)} s (after the models loaded)`);
  // what the CPU allows: a job that needs X ms of CPU per listing cannot run faster than cores × 1000 / X
  // listings a second, whatever its stages' concurrency
  const cores = os.cpus().length;
  const cpuLine = (cpuMs: number | null) =>
    cpuMs === null ? 'CPU per listing not measured' : `${cpuMs.toFixed(1)} ms of CPU per listing against ${row.cpuMsPerImg.toFixed(1)} per image for the pipeline → at most ${((cores * 1000) / cpuMs).toFixed(1)} listings/s on ${cores} cores, ratio ≤ ${((cores * 1000) / cpuMs / row.endToEndImgPerS).toFixed(2)}`;
  log(`  end to end ${itemsPerS.toFixed(1)} items/s · image pipeline ${row.endToEndImgPerS.toFixed(1)} img/s → ratio ${(itemsPerS / row.endToEndImgPerS).toFixed(2)} (goal ≥ 0.8) · peak RSS ${(main.peak / 2 ** 20).toFixed(0)} MB (goal < 1024)`);
  log(`  ${cpuLine(main.cpuMsPerItem)}`);
  log(`  busy time by stage (overlapping; share of the sum): ${Object.entries(main.st.stageMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} s (${((100 * v) / Math.max(1, total)).toFixed(0)}%)`).join(' · ')}`);

  if (config.evidence.local && process.env.BENCH_JOBS_NO_LOCAL !== '0') {
    // the same job without local features (EVIDENCE_LOCAL=0): what the ORB stage costs
    const r = await runJob(file, false, log, 'index without local features', { EVIDENCE_LOCAL: '0' });
    const rate = r.st.progress.processed / r.wallS;
    const sum = Object.values(r.st.stageMs).reduce((a, b) => a + b, 0);
    log(`  without local features (EVIDENCE_LOCAL=0): ${rate.toFixed(1)} items/s → ratio ${(rate / row.endToEndImgPerS).toFixed(2)} · peak RSS ${(r.peak / 2 ** 20).toFixed(0)} MB · busy: ${Object.entries(r.st.stageMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} s (${((100 * v) / Math.max(1, sum)).toFixed(0)}%)`).join(' · ')}`);
    log(`  without local features: ${cpuLine(r.cpuMsPerItem)}`);
  }

  let ocr: JobsReport['ocr'] = null;
  if (ocrN > 0) {
    const small = path.join(path.dirname(file), `jobs-feed-${ocrN}-ocr.jsonl`);
    fs.writeFileSync(small, fs.readFileSync(file, 'utf8').split('\n').slice(0, ocrN).join('\n') + '\n');
    const r = await runJob(small, true, log, 'index with OCR');
    ocr = { n: r.st.progress.processed, itemsPerS: r.st.progress.processed / r.wallS };
    log(`  with OCR on (${ocr.n} listings): ${ocr.itemsPerS.toFixed(2)} items/s, peak RSS ${(r.peak / 2 ** 20).toFixed(0)} MB; busy: ${Object.entries(r.st.stageMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} s`).join(' · ')}`);
  }
  return { n, itemsPerS, pipelineImgPerS: row.endToEndImgPerS, ratio: itemsPerS / row.endToEndImgPerS, peakRssMb: main.peak / 2 ** 20, stageShare, ocr };
}

let tickMs: number | null = null;
/** Milliseconds per clock tick of /proc/<pid>/stat: 1000 / USER_HZ (100 on common Linux builds). */
function msPerTick(): number {
  if (tickMs === null) {
    let hz = 100;
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // no getconf: keep Linux's usual 100
    }
    tickMs = 1000 / hz;
  }
  return tickMs;
}
