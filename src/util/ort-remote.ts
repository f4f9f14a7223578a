// An ONNX session that runs on its own worker thread (ort-worker.mjs). Same results as a session on the
// calling thread (same runtime, same options); what changes is that the main thread stays free while the
// model runs, so decoding, pooling and the other stages overlap with inference instead of waiting for it.
// The worker holds no reference on the event loop while idle, so a CLI run still exits.
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';

export interface FeedTensor {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: readonly number[];
}

export interface OutTensor {
  type: string;
  data: Float32Array;
  dims: readonly number[];
}

/** The subset of an InferenceSession our embedders use. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, FeedTensor>): Promise<Record<string, OutTensor>>;
  release(): Promise<void>;
}

interface Task {
  resolve: (v: Record<string, OutTensor>) => void;
  reject: (e: Error) => void;
}

export class RemoteSession implements ModelSession {
  private pending = new Map<number, Task>();
  private nextId = 1;
  private dead: Error | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    worker.on('message', (m: { id: number; out?: Record<string, OutTensor>; error?: string; released?: boolean }) => {
      const t = this.pending.get(m.id);
      if (!t) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.out) t.resolve(m.out);
      else if (m.released) t.resolve({});
      else t.reject(new Error(m.error ?? 'model worker failed'));
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const t of this.pending.values()) t.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`model worker exited with code ${code}`)));
    worker.unref();
  }

  static create(file: string, options: InferenceSession.SessionOptions): Promise<RemoteSession> {
    // execArgv: [] so that the worker does not inherit loaders (tsx, vitest): it is plain JavaScript
    const worker = new Worker(new URL('./ort-worker.mjs', import.meta.url), { execArgv: [], workerData: { file, options } });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      worker.once('error', onError);
      worker.once('message', (m: { ready?: boolean; inputNames: string[]; outputNames: string[] }) => {
        worker.off('error', onError);
        resolve(new RemoteSession(worker, m.inputNames, m.outputNames));
      });
    });
  }

  /** Runs the model; the feeds' buffers are handed to the worker (the caller must not use them after). */
  run(feeds: Record<string, FeedTensor>): Promise<Record<string, OutTensor>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      const transfer = [...new Set(Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer))];
      this.worker.postMessage({ id, feeds }, transfer);
    });
  }

  async release(): Promise<void> {
    if (!this.dead) {
      const id = this.nextId++;
      await new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.worker.ref();
        this.worker.postMessage({ id, release: true });
      }).catch(() => undefined);
    }
    await this.worker.terminate();
  }
}

/** A session on the calling thread, behind the same interface (`VISION_WORKER=0`, and where a worker is not wanted). */
export class LocalSession implements ModelSession {
  private constructor(
    private readonly session: InferenceSession,
    private readonly ort: typeof import('onnxruntime-node'),
  ) {}

  get inputNames() {
    return this.session.inputNames;
  }

  get outputNames() {
    return this.session.outputNames;
  }

  static async create(file: string, options: InferenceSession.SessionOptions): Promise<LocalSession> {
    const ort = await import('onnxruntime-node');
    return new LocalSession(await ort.InferenceSession.create(file, options), ort);
  }

  async run(feeds: Record<string, FeedTensor>): Promise<Record<string, OutTensor>> {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new this.ort.Tensor(f.type, f.data, f.dims)]));
    const res = await this.session.run(inputs);
    return Object.fromEntries(Object.entries(res).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: t.data as Float32Array }]));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** A session on a worker thread, or on this one. */
export function openSession(file: string, options: InferenceSession.SessionOptions, worker: boolean): Promise<ModelSession> {
  return worker ? RemoteSession.create(file, options) : LocalSession.create(file, options);
}
