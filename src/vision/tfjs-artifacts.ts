// Reads the tfjs graph model that nsfwjs ships as JS modules and decodes its
// weights exactly the way tfjs-core's io_utils.decodeWeight does.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const NSFWJS_PACKAGE = 'nsfwjs';
export const NSFWJS_VERSION = '4.4.0';
export const NSFWJS_MODEL_SUBDIR = 'dist/models/mobilenet_v2_mid';
export const NSFWJS_LICENCE = 'MIT';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/** Minimal slice of the tfjs model.json that the converter needs. */
export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, any>;
}

export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  userDefinedMetadata?: unknown;
  modelTopology: { node: TfjsNode[]; [k: string]: unknown };
  weightsManifest: { paths: string[]; weights: TfjsWeightSpec[] }[];
}

export interface SourceFile {
  /** path relative to the model directory */
  file: string;
  sha256: string;
}

export interface NsfwjsModelSource {
  packageDir: string;
  modelDir: string;
  version: string;
  modelJson: TfjsModelJson;
  weightSpecs: TfjsWeightSpec[];
  /** all shards concatenated in manifest order, as tfjs does */
  weightData: Uint8Array;
  /** model.min.js first, then the shards in manifest order */
  files: SourceFile[];
}

export interface DecodedWeight {
  shape: number[];
  values: Float32Array;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function locatePackageDir(): string {
  const require = createRequire(import.meta.url);
  // package.json is not in nsfwjs's "exports" map for every version, so resolve
  // the main entry and walk up to the directory that owns a package.json named nsfwjs.
  let dir = path.dirname(require.resolve(NSFWJS_PACKAGE));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (pkg.name === NSFWJS_PACKAGE) return dir;
    } catch {
      // no package.json here; keep walking
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`could not locate the ${NSFWJS_PACKAGE} package directory`);
    dir = up;
  }
}

/**
 * Loads model.min.js and the base64 shard modules of nsfwjs's mobilenet_v2_mid.
 * The files are UMD bundles: model.min.js exports the model.json object, each
 * shard exports the base64 string of its binary weight file.
 */
export function loadNsfwjsMobilenetV2Mid(): NsfwjsModelSource {
  const packageDir = locatePackageDir();
  const version = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')).version;
  if (version !== NSFWJS_VERSION) {
    // The converted model and its manifest are pinned to this exact release.
    throw new Error(`expected ${NSFWJS_PACKAGE}@${NSFWJS_VERSION}, found ${version} in ${packageDir}`);
  }
  const modelDir = path.join(packageDir, NSFWJS_MODEL_SUBDIR);
  const require = createRequire(import.meta.url);
  const files: SourceFile[] = [];

  const loadModule = (file: string): unknown => {
    const abs = path.join(modelDir, file);
    files.push({ file, sha256: sha256Hex(readFileSync(abs)) });
    return require(abs);
  };

  const modelJson = loadModule('model.min.js') as TfjsModelJson;
  if (!modelJson?.modelTopology?.node || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error('model.min.js did not export a tfjs graph model.json');
  }

  const weightSpecs: TfjsWeightSpec[] = [];
  const chunks: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      const b64 = loadModule(`${p}.min.js`);
      if (typeof b64 !== 'string') throw new Error(`shard ${p}.min.js did not export a base64 string`);
      chunks.push(Buffer.from(b64, 'base64'));
    }
    weightSpecs.push(...group.weights);
  }
  const weightData = new Uint8Array(Buffer.concat(chunks));
  return { packageDir, modelDir, version, modelJson, weightSpecs, weightData, files };
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * Decodes float32 weights (plain or uint8/uint16-quantized) in manifest order.
 * Dequantization mirrors tfjs-core: `Float32Array[i] = q * scale + min`, i.e.
 * computed in double and rounded once to float32, so the values are bit-identical.
 */
export function decodeWeights(specs: TfjsWeightSpec[], data: Uint8Array): Map<string, DecodedWeight> {
  const out = new Map<string, DecodedWeight>();
  let offset = 0;
  for (const spec of specs) {
    const size = sizeOf(spec.shape);
    const q = spec.quantization;
    if (spec.dtype !== 'float32') throw new Error(`unsupported weight dtype ${spec.dtype} for ${spec.name}`);
    const storedType = q ? q.dtype : spec.dtype;
    const byteLen = size * (BYTES[storedType] ?? NaN);
    if (!Number.isFinite(byteLen)) throw new Error(`unsupported storage dtype ${storedType} for ${spec.name}`);
    if (offset + byteLen > data.byteLength) throw new Error(`weight data too short at ${spec.name}`);
    // copy so the typed arrays below are aligned regardless of offset
    const bytes = data.slice(offset, offset + byteLen);
    offset += byteLen;

    let values: Float32Array;
    if (!q) {
      values = new Float32Array(bytes.buffer, 0, size);
    } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      if (typeof q.min !== 'number' || typeof q.scale !== 'number') {
        throw new Error(`weight ${spec.name} is ${q.dtype}-quantized without min/scale`);
      }
      const qa = q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer, 0, size);
      values = new Float32Array(size);
      for (let i = 0; i < size; i++) values[i] = qa[i] * q.scale + q.min;
    } else {
      // float16 quantization is not used by this model; fail loudly rather than guess.
      throw new Error(`unsupported quantization ${q.dtype} for ${spec.name}`);
    }
    out.set(spec.name, { shape: spec.shape, values });
  }
  if (offset !== data.byteLength) {
    throw new Error(`weight data has ${data.byteLength - offset} unread bytes; manifest mismatch`);
  }
  return out;
}

/** tfjs ModelArtifacts for tf.loadGraphModel({ load }) — kept tfjs-free here. */
export function toTfjsModelArtifacts(src: NsfwjsModelSource) {
  const { modelJson } = src;
  const weightData = src.weightData.slice().buffer;
  return {
    modelTopology: modelJson.modelTopology,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    userDefinedMetadata: modelJson.userDefinedMetadata,
    weightSpecs: src.weightSpecs,
    weightData,
  };
}
