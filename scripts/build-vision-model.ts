// CLI: always (re)builds models/mobilenet_v2_1.4_features.onnx and the manifest's
// `vision` entry. The service itself uses ensureVisionModel(), which skips the
// build when the file already matches the manifest.
import { buildVisionModel } from '../src/vision/model-build.ts';

const t0 = performance.now();
try {
  const { onnxPath, manifest, stats } = await buildVisionModel({ log: (s) => console.log(s) });
  const v = manifest.vision;
  console.log(`tfjs ops converted: ${JSON.stringify(stats.tfOps)}`);
  console.log(`onnx ops: ${JSON.stringify(stats.onnxOps)}`);
  console.log(`${onnxPath}: ${v.onnx.bytes} bytes sha256 ${v.onnx.sha256}`);
  console.log(`modelVersion ${v.modelVersion}; total ${(performance.now() - t0).toFixed(0)} ms`);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
