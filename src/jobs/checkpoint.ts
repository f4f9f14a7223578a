// Where a job stands: the highest line such that it and every line before it are acknowledged (written
// durably, skipped as unchanged, or reported as failed), with the counts up to there and the fingerprint of
// the input it belongs to. Written by write-temp-then-rename after acknowledged work, so that after kill -9
// the same command resumes after that line: the lines beyond it are done again, which duplicates nothing
// (upserts are by id, and records already written are skipped by their content hash).
import fs from 'node:fs';
import path from 'node:path';

export interface Counts {
  done: number;
  failed: number;
  skipped: number;
}

export interface Checkpoint {
  fingerprint: string;
  line: number;
  counts: Counts;
}

export type Outcome = keyof Counts | 'blank';

/** Atomic replacement of a small JSON file (temp file, fsync, rename). */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(value));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function readCheckpoint(file: string): Checkpoint | null {
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Checkpoint;
    return typeof c.line === 'number' && typeof c.fingerprint === 'string' ? c : null;
  } catch {
    return null;
  }
}

/**
 * Tracks acknowledgements that arrive out of order (items finish at different speeds) and advances the
 * contiguous watermark. Memory is bounded by the pipeline's window: only lines beyond the watermark wait here.
 */
export class Acks {
  private pending = new Map<number, Outcome>();
  line: number;
  /** counts of the lines up to the watermark */
  readonly counts: Counts;
  /** counts of every acknowledged line, including those beyond the watermark (for progress) */
  readonly seen: Counts;

  constructor(
    private readonly file: string | null,
    private readonly fp: string,
    from: Checkpoint | null,
  ) {
    this.line = from?.line ?? 0;
    this.counts = { ...(from?.counts ?? { done: 0, failed: 0, skipped: 0 }) };
    this.seen = { ...this.counts };
  }

  ack(line: number, outcome: Outcome): void {
    if (line <= this.line) return;
    this.pending.set(line, outcome);
    if (outcome !== 'blank') this.seen[outcome]++;
    let moved = false;
    for (let next = this.pending.get(this.line + 1); next !== undefined; next = this.pending.get(this.line + 1)) {
      this.pending.delete(++this.line);
      if (next !== 'blank') this.counts[next]++;
      moved = true;
    }
    if (moved) this.dirty = true;
  }

  private dirty = false;
  private lastWrite = 0;

  /** Persist the watermark (at most every `minMs` unless forced). */
  save(force = false, minMs = 200): void {
    if (!this.file || !this.dirty) return;
    const now = Date.now();
    if (!force && now - this.lastWrite < minMs) return;
    writeJsonAtomic(this.file, { fingerprint: this.fp, line: this.line, counts: this.counts } satisfies Checkpoint);
    this.dirty = false;
    this.lastWrite = now;
  }
}

export const jobFiles = (dir: string) => ({
  state: path.join(dir, 'state.json'),
  checkpoint: path.join(dir, 'checkpoint.json'),
  errors: path.join(dir, 'errors.jsonl'),
  input: path.join(dir, 'input.jsonl'),
});
