// An ONNX session that runs on its own worker thread (ort-worker.mjs). Same results as a session on the
// calling thread (same runtime, same options); what changes is that the main thread stays free while the
// model runs, so decoding, pooling and the other stages overlap with inference instead of waiting for it.
// The worker holds no reference on the event loop while idle, so a CLI run still exits.
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
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

interface Thread {
  worker: Worker;
  pending: Map<number, Task>;
  inputNames: string[];
  outputNames: string[];
}

/** Starts a worker and waits until its session is open. */
function startThread(file: string, options: InferenceSession.SessionOptions): Promise<Thread> {
  // execArgv: [] so that the worker does not inherit loaders (tsx, vitest): it is plain JavaScript
  const worker = new Worker(new URL('./ort-worker.mjs', import.meta.url), { execArgv: [], workerData: { file, options } });
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    const onExit = (code: number) => reject(new Error(`model worker exited with code ${code} while opening ${file}`));
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', (m: { inputNames: string[]; outputNames: string[] }) => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve({ worker, pending: new Map(), inputNames: m.inputNames, outputNames: m.outputNames });
    });
  });
}

/**
 * A session on a worker thread. A worker that dies (a crash, an out-of-memory kill of the thread) fails
 * the runs it held, and the next run starts a new one: one bad moment must not leave the service without
 * its model until a restart.
 */
export class RemoteSession implements ModelSession {
  private nextId = 1;
  private current: Promise<Thread> | null;
  private released = false;
  /** the worker runs go to, once started */
  private live: Thread | null = null;
  /** workers started after the first: one per crash */
  restarts = 0;

  private constructor(
    private readonly file: string,
    private readonly options: InferenceSession.SessionOptions,
    first: Thread,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    this.current = Promise.resolve(this.watch(first));
  }

  static async create(file: string, options: InferenceSession.SessionOptions): Promise<RemoteSession> {
    const t = await startThread(file, options);
    return new RemoteSession(file, options, t, t.inputNames, t.outputNames);
  }

  private watch(t: Thread): Thread {
    t.worker.on('message', (m: { id: number; out?: Record<string, OutTensor>; error?: string; released?: boolean }) => {
      const task = t.pending.get(m.id);
      if (!task) return;
      t.pending.delete(m.id);
      if (t.pending.size === 0) t.worker.unref();
      if (m.out) task.resolve(m.out);
      else if (m.released) task.resolve({});
      else task.reject(new Error(m.error ?? 'model worker failed'));
    });
    let ended = false;
    const end = (e: Error) => {
      if (ended) return;
      ended = true;
      for (const task of t.pending.values()) task.reject(e);
      t.pending.clear();
      // the next run starts a new worker (unless the session was released on purpose)
      if (!this.released && this.live === t) {
        this.current = null;
        this.live = null;
      }
    };
    t.worker.on('error', end);
    t.worker.on('exit', (code) => end(new Error(`model worker exited with code ${code}`)));
    t.worker.unref();
    this.live = t;
    return t;
  }

  private thread(): Promise<Thread> {
    if (this.released) return Promise.reject(new Error('model session released'));
    if (!this.current) {
      this.restarts++;
      const next = startThread(this.file, this.options).then((t) => this.watch(t));
      // a worker that cannot start fails this run; the next run tries again
      next.catch(() => {
        if (this.current === next) this.current = null;
      });
      this.current = next;
    }
    return this.current;
  }

  /** Runs the model; the feeds' buffers are handed to the worker (the caller must not use them after). */
  async run(feeds: Record<string, FeedTensor>): Promise<Record<string, OutTensor>> {
    const t = await this.thread();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      if (t.pending.size === 1) t.worker.ref();
      const transfer = [...new Set(Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer))];
      t.worker.postMessage({ id, feeds }, transfer);
    });
  }

  /** Makes the current worker die after the runs already sent (tests): runs sent after it fail, the next run starts a new one. */
  async crash(): Promise<void> {
    const t = await this.current;
    if (!t) return;
    const exited = new Promise((r) => t.worker.once('exit', r));
    t.worker.ref();
    t.worker.postMessage({ crash: true });
    await exited;
  }

  async release(): Promise<void> {
    const current = this.current;
    this.released = true;
    const t = await current?.catch(() => null);
    if (!t) return;
    const id = this.nextId++;
    await new Promise((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.ref();
      t.worker.postMessage({ id, release: true });
    }).catch(() => undefined);
    // the worker has answered the release, so it is not inside a run: ending it now is safe
    await t.worker.terminate();
  }
}

/** A session on the calling thread, behind the same interface (`VISION_WORKER=0`, and where a worker is not wanted). */
export class LocalSession implements ModelSession {
  private constructor(private readonly session: InferenceSession) {}

  get inputNames() {
    return this.session.inputNames;
  }

  get outputNames() {
    return this.session.outputNames;
  }

  static async create(file: string, options: InferenceSession.SessionOptions): Promise<LocalSession> {
    return new LocalSession(await ort.InferenceSession.create(file, options));
  }

  async run(feeds: Record<string, FeedTensor>): Promise<Record<string, OutTensor>> {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)]));
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
