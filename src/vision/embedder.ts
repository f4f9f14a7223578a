// Shares one ONNX session among concurrent requests: decoding runs in a bounded queue, and whatever
// inputs pile up while the model is busy run together as one batch (micro-batching at no added wait).
import fs from 'node:fs';
import path from 'node:path';
import { sessionOptions } from '../util/ort.ts';
import { openSession, type ModelSession } from '../util/ort-remote.ts';
import PQueue from 'p-queue';
import { repoRoot } from '../config.ts';
import { AppError } from '../errors.ts';
import { prepareImage, INPUT_SIZE, type DecodeLimits, type Region } from './decode.ts';
import { mirrorRows } from './mirror.ts';
import { poolFeatures, type Pooling } from './pooling.ts';

export interface VisionManifest {
  onnx: { file: string; sha256: string };
  input: { name: string };
  output: { name: string; dims: number[] };
  pooling?: Pooling;
  gemP?: number;
  modelVersion: string;
}

export interface ImageEmbedding {
  /** L2-normalised global descriptor (before the catalogue-learned projection) */
  descriptor: Float32Array;
  phash: string;
  width: number;
  height: number;
  format: string;
  /** descriptor of the left-right mirrored image (query photos only: resellers flip pictures) */
  mirrored?: Float32Array;
}

/** Left-right flip of a CHW tensor. */
export const mirrorChw = (chw: Float32Array, size = INPUT_SIZE): Float32Array => mirrorRows(chw, size);

export interface EmbedderOptions {
  threads: number;
  maxBatch: number;
  decodeConcurrency: number;
  /** model runs in flight at once (ORT allows concurrent Run on one session); with 1 intra-op thread each */
  inflight?: number;
  limits: DecodeLimits;
  pooling?: Pooling;
  /** run the model on its own worker thread (default true), so the main thread's work overlaps with it */
  worker?: boolean;
}

const onWorkers = (opts: EmbedderOptions) => opts.worker ?? true;

interface Pending {
  chw: Float32Array;
  resolve: (d: Float32Array) => void;
  reject: (e: unknown) => void;
}

export class ImageEmbedder {
  readonly modelVersion: string;
  readonly dims: number;
  private readonly decodeQueue: PQueue;
  private pending: Pending[] = [];
  private running = 0;
  /** runs in flight per session */
  private readonly busy: number[];
  /** worker threads the model runs on (0: on the calling thread) */
  readonly workers: number;
  private readonly inflight: number;
  /** images per model run, for the bench and /healthz */
  readonly stats = { runs: 0, images: 0 };

  private constructor(
    private readonly sessions: ModelSession[],
    private readonly manifest: VisionManifest,
    private readonly opts: EmbedderOptions,
  ) {
    this.dims = manifest.output.dims[0];
    this.decodeQueue = new PQueue({ concurrency: opts.decodeConcurrency });
    this.inflight = Math.max(1, opts.inflight ?? 1);
    this.workers = onWorkers(opts) ? sessions.length : 0;
    this.busy = sessions.map(() => 0);
    this.modelVersion = `${manifest.modelVersion}${opts.pooling && opts.pooling !== (manifest.pooling ?? 'gem') ? `-${opts.pooling}` : ''}`;
  }

  static async create(manifest: VisionManifest, opts: EmbedderOptions): Promise<ImageEmbedder> {
    const file = path.isAbsolute(manifest.onnx.file) ? manifest.onnx.file : path.join(repoRoot, 'models', path.basename(manifest.onnx.file));
    if (!fs.existsSync(file)) throw new AppError('model_unavailable', `vision model missing at ${file}: run npm run build:model`);
    // on worker threads, runs in flight go to separate workers (one thread cannot overlap two runs)
    const n = onWorkers(opts) ? Math.max(1, opts.inflight ?? 1) : 1;
    const sessions = await Promise.all(Array.from({ length: n }, () => openSession(file, sessionOptions(opts.threads), onWorkers(opts))));
    return new ImageEmbedder(sessions, manifest, opts);
  }

  /** Decode (bounded queue) then embed (shared batched model). */
  async embed(bytes: Uint8Array, region?: Region, opts: { mirrored?: boolean } = {}): Promise<ImageEmbedding> {
    const img = await this.decodeQueue.add(() => prepareImage(bytes, this.opts.limits, region));
    // both orientations go to the model together (one micro-batch)
    const [descriptor, mirrored] = await Promise.all([this.embedTensor(img.chw), opts.mirrored ? this.embedTensor(mirrorChw(img.chw)) : undefined]);
    return { descriptor, phash: img.phash, width: img.width, height: img.height, format: img.format, ...(mirrored ? { mirrored } : {}) };
  }

  embedTensor(chw: Float32Array): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.pending.push({ chw, resolve, reject });
      this.drain();
    });
  }

  /** Start model runs while there is work and room: up to `inflight` runs at once, each a micro-batch. */
  private drain(): void {
    while (this.pending.length && this.running < this.inflight) {
      const batch = this.pending.splice(0, this.opts.maxBatch);
      this.running++;
      this.run(batch.map((b) => b.chw))
        .then(
          (out) => batch.forEach((b, i) => b.resolve(out[i])),
          (e) => batch.forEach((b) => b.reject(new AppError('model_unavailable', `vision model failed: ${(e as Error).message}`))),
        )
        .finally(() => {
          this.running--;
          this.drain();
        });
    }
  }

  private async run(inputs: Float32Array[]): Promise<Float32Array[]> {
    const n = inputs.length;
    const per = 3 * INPUT_SIZE * INPUT_SIZE;
    const data = new Float32Array(n * per);
    inputs.forEach((x, i) => data.set(x, i * per));
    const feeds = { [this.manifest.input.name]: { type: 'float32' as const, data, dims: [n, 3, INPUT_SIZE, INPUT_SIZE] } };
    // the least busy session (runs can finish out of order, so round robin could queue behind a busy one)
    const i = this.busy.indexOf(Math.min(...this.busy));
    this.busy[i]++;
    const result = await this.sessions[i].run(feeds).finally(() => this.busy[i]--);
    const t = result[this.manifest.output.name];
    const [c, h, w] = this.manifest.output.dims;
    const all = t.data as Float32Array;
    this.stats.runs++;
    this.stats.images += n;
    const pooling = this.opts.pooling ?? this.manifest.pooling ?? 'gem';
    return inputs.map((_, i) => poolFeatures(all.subarray(i * c * h * w, (i + 1) * c * h * w), c, h * w, pooling, this.manifest.gemP ?? 3));
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map((x) => x.release()));
  }
}
