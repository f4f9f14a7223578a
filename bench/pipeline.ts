// Image pipeline throughput: sharp alone, ONNX alone, end to end, measured in one run on the same
// photos so that the figures compare as ratios.
import fs from 'node:fs';
import PQueue from 'p-queue';
import { prepareImage } from '../src/vision/decode.ts';
import type { Services } from '../src/services.ts';

export interface PipelineReport {
  images: number;
  sharpImgPerS: number;
  onnxImgPerS: number;
  endToEndImgPerS: number;
  ratioToSlowerStage: number;
  settings: string;
}

export async function benchPipeline(s: Services, files: string[], log: (l: string) => void): Promise<PipelineReport> {
  const bytes = files.map((f) => fs.readFileSync(f));
  const conc = s.config.vision.decodeConcurrency;
  // warm-up
  for (const b of bytes.slice(0, 4)) await s.embedder.embed(b);

  let t = performance.now();
  const q1 = new PQueue({ concurrency: conc });
  const tensors = await Promise.all(bytes.map((b) => q1.add(() => prepareImage(b, s.config.image))));
  const sharpS = (performance.now() - t) / 1000;

  t = performance.now();
  // ONNX alone, the way the service runs it: one request at a time (batch 1)
  for (const x of tensors) await s.embedder.embedTensor(x!.chw);
  const onnxS = (performance.now() - t) / 1000;

  t = performance.now();
  await Promise.all(bytes.map((b) => s.embedder.embed(b)));
  const e2eS = (performance.now() - t) / 1000;

  const n = bytes.length;
  const r: PipelineReport = {
    images: n,
    sharpImgPerS: n / sharpS,
    onnxImgPerS: n / onnxS,
    endToEndImgPerS: n / e2eS,
    ratioToSlowerStage: n / e2eS / Math.min(n / sharpS, n / onnxS),
    settings: `decode concurrency ${conc}, ORT intra-op threads ${s.config.vision.threads}, max batch ${s.config.vision.maxBatch}, resize ${s.config.image.resize}`,
  };
  log(`image pipeline (${n} real photos; ${r.settings})`);
  log(`  sharp decode+resize alone : ${r.sharpImgPerS.toFixed(1)} img/s`);
  log(`  ONNX alone (batch 1)      : ${r.onnxImgPerS.toFixed(1)} img/s`);
  log(`  end to end                : ${r.endToEndImgPerS.toFixed(1)} img/s  = ${r.ratioToSlowerStage.toFixed(2)} × the slower stage (goal ≥ 0.85)`);
  return r;
}
