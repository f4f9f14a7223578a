// The bounded stages of an index job: fetch/decode the image bytes, look the record up (unchanged ones are
// skipped before any model runs), OCR when on, embed (the embedder batches concurrent requests), write in
// bulk. (The evidence stage is OCR, when on, and local features, when the services have an evidence model.)
// Each stage is a p-queue with its own concurrency; at most `window` items are between "read from the
// source" and "acknowledged", so memory is bounded whatever the input size: the source is not read further
// until an item leaves the window.
import PQueue from 'p-queue';
import { AppError } from '../errors.ts';
import type { IndexRecord, RecordExtras, UpsertResult } from '../index/backend.ts';
import { contentHashOf, embedRecord, isCurrent, loadAllImageBytes, readExtras } from '../index/methods/ingest.ts';
import type { Services } from '../services.ts';
import type { Outcome } from './checkpoint.ts';
import type { SourceItem } from './source.ts';

export type Stage = 'read' | 'fetch' | 'lookup' | 'evidence' | 'embed' | 'write';

export interface StageTimes {
  /** busy milliseconds summed over the stage's tasks (tasks run concurrently, so these overlap in wall time) */
  ms: Record<Stage, number>;
  items: Record<Stage, number>;
}

export const newStageTimes = (): StageTimes => ({
  ms: { read: 0, fetch: 0, lookup: 0, evidence: 0, embed: 0, write: 0 },
  items: { read: 0, fetch: 0, lookup: 0, evidence: 0, embed: 0, write: 0 },
});

export interface PipelineOptions {
  fetchConcurrency: number;
  embedConcurrency: number;
  ocrConcurrency: number;
  batchSize: number;
  window: number;
  allowPaths: boolean;
  /** read OCR/local-feature evidence (only when the services have an evidence model) */
  ocr: boolean;
  signal: AbortSignal;
  /** the bulk write: into the live index, or into the store a rebuild is filling */
  write: (records: IndexRecord[]) => Promise<UpsertResult[]>;
  /** a full rebuild copies unchanged stored records into the new store (no re-embedding) instead of skipping them */
  copyUnchanged: boolean;
  /** an item is acknowledged: written durably, skipped, or failed (its error already reported) */
  onAck: (item: SourceItem, outcome: Outcome, error?: { code: string; message: string }) => void;
  times: StageTimes;
}

export class Cancelled extends Error {
  constructor() {
    super('the job was cancelled');
  }
}

/** Batches concurrent `get`s into one getMany per tick (at most `max` ids). */
class Lookup {
  private waiting: Array<{ id: string; resolve: (r: IndexRecord | undefined) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  constructor(private readonly s: Services, private readonly max = 64) {}

  get(id: string): Promise<IndexRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id, resolve, reject });
      if (this.waiting.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting.splice(0, this.waiting.length);
    if (!batch.length) return;
    this.s.backend.getMany([...new Set(batch.map((b) => b.id))]).then(
      (m) => batch.forEach((b) => b.resolve(m.get(b.id))),
      (e) => batch.forEach((b) => b.reject(e)),
    );
  }
}

function toItemError(e: unknown): { code: string; message: string } {
  if (e instanceof AppError) return { code: e.code, message: e.message };
  return { code: 'internal', message: (e as Error)?.message ?? String(e) };
}

/** A bounded counter: `acquire` waits while `limit` slots are taken. */
class Window {
  private used = 0;
  private waiters: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  /** Resolves when there is room (then the slot is taken), or when `stop` says so (nothing taken: false). */
  async acquire(stop: () => boolean): Promise<boolean> {
    while (this.used >= this.limit && !stop()) await new Promise<void>((r) => this.waiters.push(r));
    if (stop()) return false;
    this.used++;
    return true;
  }
  /** Wake every waiter (a cancel). */
  wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  release(): void {
    this.used--;
    this.waiters.shift()?.();
  }
  get inUse(): number {
    return this.used;
  }
}

async function timed<T>(times: StageTimes, stage: Stage, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    times.ms[stage] += performance.now() - t;
    times.items[stage]++;
  }
}

/**
 * Runs every item of `items` through the stages. Resolves when every item read is acknowledged; rejects
 * with Cancelled when the signal aborts (items not yet written are dropped, unacknowledged, and the
 * pending bulk is not written), or with the error of a bulk write that failed as a whole (backend down).
 */
export async function runIndexPipeline(items: AsyncIterable<SourceItem>, s: Services, o: PipelineOptions): Promise<void> {
  const svc: Services = o.ocr ? s : { ...s, ocr: null };
  const readsExtras = !!svc.evidence;
  const fetchQ = new PQueue({ concurrency: o.fetchConcurrency });
  const embedQ = new PQueue({ concurrency: o.embedConcurrency });
  const ocrQ = new PQueue({ concurrency: o.ocrConcurrency });
  const writeQ = new PQueue({ concurrency: 1 });
  const lookup = new Lookup(s);
  const window = new Window(o.window);
  let fatal: unknown = null;
  let batch: Array<{ item: SourceItem; rec: IndexRecord }> = [];
  const inflight = new Set<Promise<void>>();

  const check = () => {
    if (fatal) throw fatal;
    if (o.signal.aborted) throw new Cancelled();
  };

  let lastFlush = performance.now();
  const flush = (): Promise<void> => {
    lastFlush = performance.now();
    const mine = batch;
    batch = [];
    if (!mine.length) return Promise.resolve();
    return writeQ.add(async () => {
      if (fatal || o.signal.aborted) return; // dropped: never half-written, never acknowledged
      const res = await timed(o.times, 'write', () => o.write(mine.map((m) => m.rec)));
      const byId = new Map(res.map((r) => [r.id, r]));
      for (const m of mine) {
        const r = byId.get(m.rec.product.id);
        if (r && !r.ok) o.onAck(m.item, 'failed', { code: r.code, message: r.message });
        else o.onAck(m.item, 'done');
      }
    });
  };

  const handle = async (item: SourceItem): Promise<void> => {
    if (item.blank) return o.onAck(item, 'blank');
    if (item.error || !item.input || !item.id) return o.onAck(item, 'failed', item.error ?? { code: 'invalid_record', message: 'no record' });
    const { id, input } = item;
    let bytes: Buffer[];
    try {
      bytes = await fetchQ.add(() => {
        check();
        return timed(o.times, 'fetch', () => loadAllImageBytes(input, svc, { allowPaths: o.allowPaths }));
      });
    } catch (e) {
      check();
      return o.onAck(item, 'failed', toItemError(e));
    }
    check();
    const stored = await timed(o.times, 'lookup', () => lookup.get(id));
    const hash = contentHashOf(id, input, bytes, svc);
    if (isCurrent(stored, hash, input, svc)) {
      if (!o.copyUnchanged) return o.onAck(item, 'skipped');
      batch.push({ item, rec: stored! });
    } else {
      let rec: IndexRecord;
      try {
        const extras: Promise<RecordExtras | undefined> | undefined = readsExtras
          ? ocrQ.add(() => {
              check();
              return timed(o.times, 'evidence', () => readExtras(bytes, svc, {}));
            })
          : Promise.resolve(undefined);
        // awaited by embedRecord; when the embed task is dropped first, its rejection is not unhandled
        extras.catch(() => undefined);
        rec = await embedQ.add(() => {
          check();
          return timed(o.times, 'embed', () => embedRecord(id, input, bytes, svc, { extras }));
        });
      } catch (e) {
        check();
        return o.onAck(item, 'failed', toItemError(e));
      }
      check();
      batch.push({ item, rec });
    }
    // a full bulk, or a second since the last one: slow items (OCR) are acknowledged, and shown, as they come
    if (batch.length >= o.batchSize || performance.now() - lastFlush > 1000) await flush();
  };

  const iterator = items[Symbol.asyncIterator]();
  try {
    o.signal.addEventListener('abort', () => window.wakeAll(), { once: true });
    for (;;) {
      if (!(await window.acquire(() => !!fatal || o.signal.aborted))) break;
      const t = performance.now();
      const next = await iterator.next();
      o.times.ms.read += performance.now() - t;
      if (next.done) {
        window.release();
        break;
      }
      o.times.items.read++;
      const p: Promise<void> = handle(next.value)
        .catch((e) => {
          if (!(e instanceof Cancelled)) fatal ??= e;
        })
        .finally(() => {
          window.release();
          inflight.delete(p);
        });
      inflight.add(p);
    }
  } finally {
    await iterator.return?.(undefined);
  }
  // on a cancel, items still in a stage (a slow fetch, a model run) are not waited for: they are dropped at
  // their next stage boundary and never acknowledged; only a bulk write already begun is waited for
  const aborted = new Promise<void>((r) => (o.signal.aborted ? r() : o.signal.addEventListener('abort', () => r(), { once: true })));
  while (inflight.size && !o.signal.aborted) await Promise.race([Promise.all([...inflight]), aborted]);
  if (!fatal && !o.signal.aborted) await flush().catch((e) => (fatal ??= e));
  await writeQ.onIdle();
  if (fatal) throw fatal;
  if (o.signal.aborted) throw new Cancelled();
}
