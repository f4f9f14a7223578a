// Checks the converted ONNX feature extractor against the original tfjs graph
// (run with the pure-JS CPU backend) on real photos.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { groceryRoot } from '../src/demo/grocery.ts';
import { convertVisionModel, ensureVisionModel } from '../src/vision/model-build.ts';
import {
  type TfjsWeightSpec,
  decodeWeights,
  loadNsfwjsMobilenetV2Mid,
  sha256Hex,
  toTfjsModelArtifacts,
} from '../src/vision/tfjs-artifacts.ts';
import { NSFWJS_MNV2_FEATURE_NODE, convertTfjsGraphToOnnx } from '../src/vision/tfjs-to-onnx.ts';

const DATASET = path.join(groceryRoot(), 'dataset', 'test');
// Different categories (fruit, vegetable, package) so the features differ a lot.
const IMAGES = [
  'Fruit/Banana/Banana_001.jpg',
  'Vegetables/Carrots/Carrots_001.jpg',
  'Packages/Milk/Arla-Lactose-Medium-Fat-Milk/Arla-Lactose-Medium-Fat-Milk_001.jpg',
  'Fruit/Apple/Granny-Smith/Granny-Smith_001.jpg',
];
const N = IMAGES.length;
const S = 224;
const HW = S * S;
const C = 1792;
const D = C * 7 * 7;
const MIN_COSINE = 0.9999;

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/** Same preprocessing the service uses: EXIF rotate, flatten on white, 224x224 fill, RGB/255. */
async function loadImages(): Promise<{ nhwc: Float32Array; nchw: Float32Array }> {
  const nhwc = new Float32Array(N * HW * 3);
  const nchw = new Float32Array(N * HW * 3);
  for (let k = 0; k < N; k++) {
    const { data, info } = await sharp(path.join(DATASET, IMAGES[k]))
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(S, S, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([S, S, 3]);
    for (let p = 0; p < HW; p++) {
      for (let c = 0; c < 3; c++) {
        const v = data[p * 3 + c] / 255;
        nhwc[k * HW * 3 + p * 3 + c] = v;
        nchw[k * HW * 3 + c * HW + p] = v;
      }
    }
  }
  return { nhwc, nchw };
}

async function runOnnx(model: string | Uint8Array, nchw: Float32Array) {
  const session = await ort.InferenceSession.create(model as any);
  try {
    const out = (await session.run({ input: new ort.Tensor('float32', nchw, [N, 3, S, S]) })).features;
    return { dims: [...out.dims], data: out.data as Float32Array };
  } finally {
    await session.release();
  }
}

const perImage = (a: Float32Array, k: number) => a.subarray(k * D, (k + 1) * D);

describe('vision model (nsfwjs MobileNetV2-1.4 -> ONNX)', () => {
  let onnxPath: string;
  let manifest: any;
  let input: { nhwc: Float32Array; nchw: Float32Array };
  let src: ReturnType<typeof loadNsfwjsMobilenetV2Mid>;
  let reference: Float32Array; // tfjs output transposed to NCHW

  beforeAll(async () => {
    ({ onnxPath, manifest } = await ensureVisionModel());
    input = await loadImages();
    src = loadNsfwjsMobilenetV2Mid();

    await tf.setBackend('cpu');
    const model = await tf.loadGraphModel({ load: async () => toTfjsModelArtifacts(src) as tf.io.ModelArtifacts });
    const x = tf.tensor4d(input.nhwc, [N, S, S, 3]);
    const y = model.execute(x, NSFWJS_MNV2_FEATURE_NODE) as tf.Tensor;
    expect(y.shape).toEqual([N, 7, 7, C]);
    const t = tf.transpose(y, [0, 3, 1, 2]);
    reference = t.dataSync() as Float32Array;
    tf.dispose([x, y, t]);
    model.dispose();
  }, 120_000);

  it('manifest describes the built file', () => {
    const v = manifest.vision;
    expect(path.basename(onnxPath)).toBe(v.onnx.file);
    expect(v.input).toMatchObject({ name: 'input', layout: 'NCHW', shape: [-1, 3, S, S], colour: 'RGB' });
    expect(v.output).toEqual({ name: 'features', dims: [C, 7, 7] });
    expect(v.modelVersion).toBe(`mnv2-1.4-gem3-${v.onnx.sha256.slice(0, 8)}`);
    expect(v.source).toMatchObject({ package: 'nsfwjs', version: '4.4.0', path: 'dist/models/mobilenet_v2_mid' });
  });

  it('conversion is deterministic and the built file is what the current code produces', () => {
    const a = sha256Hex(convertVisionModel().result.bytes);
    const b = sha256Hex(convertVisionModel().result.bytes);
    expect(b).toBe(a);
    // If this fails after editing the converter, rebuild: npx tsx scripts/build-vision-model.ts
    expect(a).toBe(manifest.vision.onnx.sha256);
  });

  it('ONNX features match tfjs on real photos (cosine >= 0.9999 per image)', async () => {
    const out = await runOnnx(onnxPath, input.nchw);
    expect(out.dims).toEqual([N, C, 7, 7]);
    const cos = IMAGES.map((_, k) => cosine(perImage(out.data, k), perImage(reference, k)));
    console.log('cosine onnx vs tfjs:', cos.map((c) => `${c.toFixed(9)} (1-cos=${(1 - c).toExponential(2)})`).join(', '));
    for (const c of cos) expect(c).toBeGreaterThanOrEqual(MIN_COSINE);
    // The metric must separate images: features of different photos are far apart.
    expect(cosine(perImage(out.data, 0), perImage(reference, 1))).toBeLessThan(0.9);
  }, 60_000);

  it('the check catches a dequantization error of one step in a single layer', async () => {
    // Shift the last conv's dequantized weights by one quantization step (an off-by-one in min).
    const broken: TfjsWeightSpec[] = src.weightSpecs.map((s) =>
      s.name.endsWith('MobilenetV2/Conv_1/Conv2D_weights') && s.quantization
        ? { ...s, quantization: { ...s.quantization, min: s.quantization.min! + s.quantization.scale! } }
        : s,
    );
    expect(broken).not.toEqual(src.weightSpecs);
    const bytes = convertTfjsGraphToOnnx(src.modelJson, decodeWeights(broken, src.weightData), {
      outputNode: NSFWJS_MNV2_FEATURE_NODE,
    }).bytes;
    const out = await runOnnx(bytes, input.nchw);
    for (let k = 0; k < N; k++) expect(cosine(perImage(out.data, k), perImage(reference, k))).toBeLessThan(MIN_COSINE);
  }, 60_000);
});
