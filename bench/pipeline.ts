// Image pipeline throughput: sharp alone, ONNX alone, end to end, measured in one run on the same
// photos so that the figures compare as ratios. Ways to spend the 2 cores are compared: one model run at a
// time with 2 intra-op threads, or 2 runs in flight with 1 thread each; the model on its own worker thread
// (the default) or on the main thread.
import fs from 'node:fs';
import PQueue from 'p-queue';
import { prepareImage } from '../src/vision/decode.ts';
import { ImageEmbedder, type VisionManifest } from '../src/vision/embedder.ts';
import { ensureVisionModel } from '../src/vision/model-build.ts';
import type { Config } from '../src/config.ts';

export interface PipelineRow {
  threads: number;
  inflight: number;
  worker: boolean;
  sharpImgPerS: number;
  onnxImgPerS: number;
  endToEndImgPerS: number;
  /** CPU time (all threads) per image end to end */
  cpuMsPerImg: number;
  ratio: number;
}

export async function benchPipeline(config: Config, files: string[], log: (l: string) => void): Promise<PipelineRow[]> {
  const bytes = files.map((f) => fs.readFileSync(f));
  const { manifest } = await ensureVisionModel();
  const conc = config.vision.decodeConcurrency;
  const rows: PipelineRow[] = [];
  log(`image pipeline: ${bytes.length} real phone photos, decode concurrency ${conc}, max batch ${config.vision.maxBatch}, resize ${config.image.resize}`);
  for (const [threads, inflight, worker] of [
    [2, 1, true],
    [1, 2, true],
    [2, 1, false],
  ] as Array<[number, number, boolean]>) {
    const e = await ImageEmbedder.create(manifest.vision as VisionManifest, {
      threads,
      inflight,
      maxBatch: config.vision.maxBatch,
      decodeConcurrency: conc,
      limits: config.image,
      worker,
    });
    for (const b of bytes.slice(0, 8)) await e.embed(b); // warm-up

    let t = performance.now();
    const q = new PQueue({ concurrency: conc });
    const tensors = await Promise.all(bytes.map((b) => q.add(() => prepareImage(b, config.image))));
    const sharpS = (performance.now() - t) / 1000;

    // ONNX alone at batch 1, as many requests in flight as the configuration runs at once
    t = performance.now();
    const q2 = new PQueue({ concurrency: inflight });
    await Promise.all(tensors.map((x) => q2.add(() => e.embedTensor(x!.chw))));
    const onnxS = (performance.now() - t) / 1000;

    t = performance.now();
    // CPU of the whole process (every thread: sharp's, the model's worker), to compare with a job's per item
    const c0 = process.cpuUsage();
    await Promise.all(bytes.map((b) => e.embed(b)));
    const e2eS = (performance.now() - t) / 1000;
    const c1 = process.cpuUsage(c0);
    await e.close();

    const n = bytes.length;
    const row = { threads, inflight, worker, sharpImgPerS: n / sharpS, onnxImgPerS: n / onnxS, endToEndImgPerS: n / e2eS, ratio: n / e2eS / Math.min(n / sharpS, n / onnxS), cpuMsPerImg: (c1.user + c1.system) / 1000 / n };
    rows.push(row);
    log(
      `  ORT ${threads} thread(s) × ${inflight} run(s) in flight, ${worker ? 'on a worker thread' : 'on the main thread'}: sharp alone ${row.sharpImgPerS.toFixed(1)} img/s · ONNX alone ${row.onnxImgPerS.toFixed(1)} img/s · end to end ${row.endToEndImgPerS.toFixed(1)} img/s = ${row.ratio.toFixed(2)} × the slower stage (goal ≥ 0.85) · ${row.cpuMsPerImg.toFixed(1)} ms of CPU per image`,
    );
  }
  return rows;
}
