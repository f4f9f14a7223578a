// Runs jobs in-process (at most `config.jobs.concurrentJobs` at once) and keeps each job's state in
// DATA_DIR/jobs/<id>/: state.json (status, counts), checkpoint.json (resume point), errors.jsonl (the errors
// report) and, for HTTP jobs, input.jsonl (the uploaded or fetched feed). The CLI and the HTTP API run the
// same code: `run` here.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { AppError } from '../errors.ts';
import type { Services } from '../services.ts';
import { Acks, jobFiles, readCheckpoint, writeJsonAtomic, type Counts } from './checkpoint.ts';
import { ErrorsReport } from './errors.ts';
import { Cancelled, newStageTimes, type StageTimes } from './pipeline.ts';
import { progressView, RateMeter, type ProgressView } from './progress.ts';
import { countItems, fingerprint } from './source.ts';
import { runDelete } from './kinds/delete.ts';
import { runIndex } from './kinds/index.ts';
import { runReindex } from './kinds/reindex.ts';
import type { JobContext, JobKind, JobSpec, ReindexMode } from './kinds/types.ts';

export type { JobKind, JobSpec, ReindexMode };

export type JobStatus = 'queued' | 'running' | 'completed' | 'completed_with_errors' | 'failed' | 'cancelled';
export const TERMINAL: JobStatus[] = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

export interface JobState {
  id: string;
  kind: JobKind;
  mode: ReindexMode | null;
  origin: JobSpec['origin'];
  status: JobStatus;
  input: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** this run resumed an interrupted one after this line */
  resumedAfter: number;
  progress: ProgressView;
  /** busy time per stage, ms (stages overlap in wall time) */
  stageMs: StageTimes['ms'];
  error: { code: string; message: string } | null;
}

interface Running {
  spec: JobSpec;
  state: JobState;
  abort: AbortController;
  acks: Acks | null;
  meter: RateMeter;
  times: StageTimes;
  done: Promise<JobState>;
  /** status of an earlier run of the same job id (an interrupted one can be resumed) */
  prevStatus: JobStatus | null;
  resumeCounts?: Counts;
  /** stopped by a shutdown, not by a cancel: left queued, resumed by the next start */
  interrupted?: boolean;
}

/** A stable id for the same command over the same input, so that re-running it resumes. */
export function commandJobId(kind: JobKind, mode: ReindexMode | undefined, input: string | null): string {
  const abs = input ? path.resolve(input) : '';
  return `${kind}-${createHash('sha256').update(`${kind}\n${mode ?? ''}\n${abs}`).digest('hex').slice(0, 12)}`;
}

export class JobManager {
  private readonly running = new Map<string, Running>();
  private readonly queue: PQueue;
  readonly dir: string;

  constructor(private readonly s: Services, opts: { dir?: string } = {}) {
    this.dir = opts.dir ?? path.join(s.config.dataDir, 'jobs');
    fs.mkdirSync(this.dir, { recursive: true });
    this.queue = new PQueue({ concurrency: Math.max(1, s.config.jobs.concurrentJobs) });
  }

  jobDir(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new AppError('not_found', `no job ${id}`);
    return path.join(this.dir, id);
  }

  /** A new id and directory for an HTTP job (its input is written there by the caller). */
  newJobDir(): { id: string; dir: string } {
    const id = randomUUID();
    const dir = this.jobDir(id);
    fs.mkdirSync(dir, { recursive: true });
    return { id, dir };
  }

  private readState(id: string): JobState | null {
    try {
      return JSON.parse(fs.readFileSync(jobFiles(this.jobDir(id)).state, 'utf8')) as JobState;
    } catch {
      return null;
    }
  }

  get(id: string): JobState | null {
    const r = this.running.get(id);
    if (r) return this.view(r);
    return this.readState(id);
  }

  list(): JobState[] {
    const out: JobState[] = [];
    for (const id of fs.readdirSync(this.dir)) {
      const st = this.get(id);
      if (st) out.push(st);
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  errorsFile(id: string): string {
    return jobFiles(this.jobDir(id)).errors;
  }

  private view(r: Running): JobState {
    if (r.acks && r.state.status === 'running') r.state.progress = progressView(r.acks.seen, r.state.progress.total, r.meter);
    r.state.stageMs = Object.fromEntries(Object.entries(r.times.ms).map(([k, v]) => [k, Math.round(v)])) as StageTimes['ms'];
    return { ...r.state, progress: { ...r.state.progress } };
  }

  private persist(r: Running): void {
    writeJsonAtomic(jobFiles(this.jobDir(r.spec.id)).state, this.view(r));
  }

  /** Queue a job; `wait` on the answer's promise for its end. */
  submit(spec: JobSpec): { state: JobState; done: Promise<JobState> } {
    if (this.running.has(spec.id)) throw new AppError('invalid_request', `job ${spec.id} is already running`);
    const dir = this.jobDir(spec.id);
    fs.mkdirSync(dir, { recursive: true });
    const now = new Date().toISOString();
    const state: JobState = {
      id: spec.id,
      kind: spec.kind,
      mode: spec.kind === 'reindex' ? (spec.mode ?? 'incremental') : null,
      origin: spec.origin,
      status: 'queued',
      input: spec.origin === 'cli' ? spec.input : null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      resumedAfter: 0,
      progress: { total: null, processed: 0, done: 0, failed: 0, skipped: 0, rate: 0, etaSeconds: null },
      stageMs: newStageTimes().ms,
      error: null,
    };
    const before = this.readState(spec.id);
    const r: Running = { spec, state, abort: new AbortController(), acks: null, meter: new RateMeter(), times: newStageTimes(), done: null as never, prevStatus: before?.status ?? null };
    // an interrupted run of the same job keeps its original creation time
    if (before && !TERMINAL.includes(before.status)) state.createdAt = before.createdAt;
    this.running.set(spec.id, r);
    this.persist(r);
    r.done = this.queue.add(() => this.execute(r)).finally(() => this.running.delete(spec.id)) as Promise<JobState>;
    return { state: this.view(r), done: r.done };
  }

  cancel(id: string): JobState {
    const r = this.running.get(id);
    if (!r) {
      const st = this.readState(id);
      if (!st) throw new AppError('not_found', `no job ${id}`);
      return st; // already over: cancelling is a no-op
    }
    r.abort.abort();
    if (r.state.status === 'queued') {
      r.state.status = 'cancelled';
      r.state.finishedAt = new Date().toISOString();
      this.persist(r);
    }
    return this.view(r);
  }

  /** Stop every job and wait for them (shutdown): they stay queued, to be resumed by the next start. */
  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) {
      r.interrupted = true;
      r.abort.abort();
    }
    await Promise.allSettled(all.map((r) => r.done));
  }

  /** Jobs that were queued or running when the process died: HTTP jobs are resumed on start. */
  resumeInterrupted(): string[] {
    const resumed: string[] = [];
    for (const id of fs.readdirSync(this.dir)) {
      const st = this.readState(id);
      if (!st || TERMINAL.includes(st.status) || st.origin !== 'http' || this.running.has(id)) continue;
      const input = jobFiles(this.jobDir(id)).input;
      this.submit({ id, kind: st.kind, ...(st.mode ? { mode: st.mode } : {}), input: fs.existsSync(input) ? input : null, allowPaths: false, origin: 'http' });
      resumed.push(id);
    }
    return resumed;
  }

  private countsAt(r: Running): number {
    return r.resumeCounts ? r.resumeCounts.done + r.resumeCounts.failed + r.resumeCounts.skipped : 0;
  }

  private async execute(r: Running): Promise<JobState> {
    const { spec, state } = r;
    const files = jobFiles(this.jobDir(spec.id));
    if (r.abort.signal.aborted) {
      state.status = r.interrupted ? 'queued' : 'cancelled';
      state.finishedAt ??= new Date().toISOString();
      this.persist(r);
      return this.view(r);
    }
    state.status = 'running';
    state.startedAt = new Date().toISOString();
    let timer: NodeJS.Timeout | null = null;
    try {
      const fp = spec.input ? await fingerprint(spec.input) : 'scan';
      const before = spec.input ? await countItems(spec.input) : null;
      state.progress.total = before;
      // resume: the same input, an interrupted run (not for a full rebuild: its new store was discarded)
      const prev = readCheckpoint(files.checkpoint);
      const resumable = prev && prev.fingerprint === fp && spec.mode !== 'full' && r.prevStatus !== null && !TERMINAL.includes(r.prevStatus) && spec.input !== null;
      const from = resumable ? prev : null;
      if (!from) fs.rmSync(files.checkpoint, { force: true });
      state.resumedAfter = from?.line ?? 0;
      if (from) r.resumeCounts = { ...from.counts };
      const acks = new Acks(files.checkpoint, fp, from);
      r.acks = acks;
      const errors = new ErrorsReport(files.errors, from?.line ?? 0);
      this.persist(r);
      timer = setInterval(() => {
        acks.save();
        this.persist(r);
      }, 1000);
      const j = this.s.config.jobs;
      const ctx: JobContext = {
        s: this.s,
        spec,
        signal: r.abort.signal,
        acks,
        errors,
        times: r.times,
        after: from?.line ?? 0,
        ack: (item, outcome, error) => {
          if (outcome === 'failed') errors.add({ line: item.line, id: item.id ?? null, code: error?.code ?? 'internal', message: error?.message ?? 'failed' });
          acks.ack(item.line, outcome);
          // written work is durable: record it at once (bounded to one small atomic file write per 200 ms)
          acks.save();
        },
        pipeline: { fetchConcurrency: j.fetchConcurrency, embedConcurrency: j.embedConcurrency, ocrConcurrency: j.ocrConcurrency, batchSize: j.batchSize, window: j.window },
      };
      if (spec.kind === 'index') await runIndex(ctx);
      else if (spec.kind === 'reindex') await runReindex(ctx);
      else await runDelete(ctx);
      acks.save(true);
      const c: Counts = acks.counts;
      state.status = c.failed > 0 ? 'completed_with_errors' : 'completed';
    } catch (e) {
      r.acks?.save(true);
      if (r.interrupted) state.status = 'queued';
      else if (e instanceof Cancelled || r.abort.signal.aborted) state.status = 'cancelled';
      else {
        state.status = 'failed';
        state.error = e instanceof AppError ? { code: e.code, message: e.message } : { code: 'internal', message: (e as Error)?.message ?? String(e) };
        this.s.log(`job ${spec.id} failed: ${(e as Error)?.stack ?? e}`);
      }
    } finally {
      if (timer) clearInterval(timer);
    }
    state.finishedAt = new Date().toISOString();
    if (r.acks) {
      const secs = (Date.parse(state.finishedAt) - Date.parse(state.startedAt)) / 1000;
      // everything acknowledged (beyond the checkpoint's watermark too: a cancelled job wrote those)
      const p = progressView(r.acks.seen, state.progress.total, r.meter);
      // the run's mean rate (items this run acknowledged over its wall time); nothing left to wait for
      const thisRun = p.processed - (state.resumedAfter ? this.countsAt(r) : 0);
      state.progress = { ...p, rate: Math.round((thisRun / Math.max(0.001, secs)) * 10) / 10, etaSeconds: state.status === 'cancelled' || state.status === 'failed' ? null : 0 };
    }
    this.persist(r);
    return this.view(r);
  }
}
