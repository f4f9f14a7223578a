// Configuration from the environment, read once. Every knob has a safe default for the embedded demo.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultOrbWorkers } from './vision/local/orb-pool.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Env = Record<string, string | undefined>;

/** A setting with a value we cannot use; its message starts with the setting's name. */
export class ConfigError extends Error {}

/** A count, size or port: a whole number ≥ min, 0 by default (a typo like `8.5` or `-1` stops the start with its name). */
function int(env: Env, name: string, def: number, min = 0): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be a whole number ≥ ${min}, got ${v}`);
  return n;
}
/** A count, size or time that 0 would break (a queue of concurrency 0 never runs, a bulk of 0 never fills). */
const count = (env: Env, name: string, def: number) => int(env, name, def, 1);
/** A weight, cut-off or shrinkage: any finite number. */
function num(env: Env, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`${name} must be a number, got ${v}`);
  return n;
}
function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** OCR upscaling factors: at most 3, each in (0, 8]. */
function scales(env: Env, name: string, dflt: number[]): number[] {
  const xs = list(env, name).map(Number);
  if (!xs.length) return dflt;
  if (xs.length > 3 || xs.some((x) => !(x > 0 && x <= 8))) throw new ConfigError(`${name} must be up to 3 numbers in (0, 8], e.g. 2,4`);
  return xs;
}

export type ResizeMode = 'fill' | 'cover' | 'contain';

export interface Config {
  port: number;
  dataDir: string;
  backend: 'embedded' | 'elasticsearch';
  apiKeys: string[];
  searchRequiresKey: boolean;
  image: { maxBytes: number; maxPixels: number; resize: ResizeMode };
  vision: { threads: number; inflight: number; maxBatch: number; decodeConcurrency: number; worker: boolean };
  search: { candidates: number; groupMates: number; sameSourceThreshold: number; substituteFloor: number; exactBelow: number; mirrorQuery: boolean; ocrWeight: number; localWeight: number };
  whitening: { shrink: number; maxSamples: number };
  /** same-source evidence: local features and OCR, read at index and query time */
  evidence: { local: boolean; localWorkers: number; indexMirror: boolean; ocr: boolean; ocrScales: number[]; ocrIndexScales: number[]; ocrThreads: number };
  /** semantic text search: the model's name in models/manifest.json `text` ('off': keyword-only), ORT threads */
  text: { model: string; threads: number; prfDocs: number; semanticFloor: number; semanticMargin: number };
  fetch: { timeoutMs: number; maxBytes: number; maxRedirects: number; allowHosts: string[] };
  es: { url: string; index: string; apiKey?: string; username?: string; password?: string; caFile?: string };
  /**
   * batch jobs (src/jobs): items fetched/decoded, embedded and OCR'd at once, records per bulk write, items in
   * flight at most (bounds memory whatever the feed size), jobs run at once by the server
   */
  jobs: { fetchConcurrency: number; embedConcurrency: number; ocrConcurrency: number; batchSize: number; window: number; concurrentJobs: number; feedMaxBytes: number };
  /** names of the settings given explicitly, which a fitted calibration must not override */
  explicit: string[];
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(env.DATA_DIR ?? path.join(repoRoot, 'data'));
  const resize = (env.IMAGE_RESIZE ?? 'fill') as ResizeMode;
  if (!['fill', 'cover', 'contain'].includes(resize)) throw new ConfigError(`IMAGE_RESIZE must be fill|cover|contain`);
  const backend = (env.SEARCH_BACKEND ?? 'embedded') as Config['backend'];
  if (!['embedded', 'elasticsearch'].includes(backend)) throw new ConfigError('SEARCH_BACKEND must be embedded|elasticsearch');
  return {
    port: int(env, 'PORT', 8080),
    dataDir,
    backend,
    apiKeys: list(env, 'API_KEYS'),
    searchRequiresKey: env.SEARCH_REQUIRES_KEY === '1',
    image: { maxBytes: count(env, 'IMAGE_MAX_BYTES', 10 * 1024 * 1024), maxPixels: count(env, 'IMAGE_MAX_PIXELS', 50_000_000), resize },
    vision: {
      threads: count(env, 'VISION_THREADS', 2),
      inflight: count(env, 'VISION_INFLIGHT', 1),
      maxBatch: count(env, 'VISION_MAX_BATCH', 2),
      decodeConcurrency: count(env, 'DECODE_CONCURRENCY', 4),
      // the model on its own thread: onnxruntime-node's run blocks the thread that calls it
      worker: env.VISION_WORKER !== '0',
    },
    search: {
      candidates: count(env, 'SEARCH_CANDIDATES', 50),
      // listings of the groups judged the same that the vector search missed, fetched in source order: a
      // factory photo altered past recognition is still reached through its other resellers' copies
      groupMates: int(env, 'SEARCH_GROUP_MATES', 10),
      // raw GeM cosine cut-offs chosen by `npm run bench -- quality` on the Grocery val split
      sameSourceThreshold: num(env, 'SAME_SOURCE_THRESHOLD', 0.66),
      substituteFloor: num(env, 'SUBSTITUTE_FLOOR', 0.49),
      exactBelow: int(env, 'EXACT_KNN_BELOW', 20_000),
      // a photo is also searched mirrored (one more model run, batched with the first, and one more kNN)
      mirrorQuery: env.SEARCH_MIRROR !== '0',
      // unproven candidates are ranked by look + this × text-on-product similarity (OCR 3-gram cosine):
      // 1.0 is the weight the first experiments chose on train+val (issue 4)
      ocrWeight: num(env, 'SEARCH_OCR_WEIGHT', 1),
      // … + this × ln(1 + RANSAC inliers): details that line up count even below the proof of "same product".
      // 0.1 chosen on the Grocery val split (0 to 0.5 tried, both galleries; bench/try-ranking.ts)
      localWeight: num(env, 'SEARCH_LOCAL_WEIGHT', 0.1),
    },
    // shrinkage chosen on val by the quality bench (0.3 / 1 / 3 tried)
    whitening: { shrink: num(env, 'WHITEN_SHRINK', 1), maxSamples: count(env, 'WHITEN_MAX_SAMPLES', 512) },
    evidence: {
      local: env.EVIDENCE_LOCAL !== '0',
      // ORB runs on worker threads (opencv.js is synchronous WASM and would stall the event loop); 0: in-thread
      localWorkers: int(env, 'EVIDENCE_LOCAL_WORKERS', defaultOrbWorkers()),
      // the first image of a listing is also read mirrored at indexing, so that a flipped copy joins its
      // original's group; it costs a second ORB extraction per listing (off: flipped copies are still found
      // at query time, through the mirrored query)
      indexMirror: env.EVIDENCE_INDEX_MIRROR !== '0',
      ocr: env.EVIDENCE_OCR !== '0',
      // a buyer's photo is read at 2× (small print on packs); listing images also at 4× (small catalogue pictures)
      ocrScales: scales(env, 'OCR_SCALES', [2]),
      ocrIndexScales: scales(env, 'OCR_INDEX_SCALES', [2, 4]),
      // 2: a query's OCR sets its latency (A/B on 30 photos, 2026-12-03: query p50 454–477 → 392–394 ms)
      ocrThreads: count(env, 'OCR_THREADS', 2),
    },
    text: { model: env.TEXT_MODEL || 'bge-small-zh-v1.5-q', threads: count(env, 'TEXT_THREADS', 1), prfDocs: int(env, 'TEXT_PRF_DOCS', 3),
      // text-vector cosine above which a semantic hit counts as a words match: keeps 95 % of the relevant
      // top-10 hits of the bilingual queries and drops half of the irrelevant ones (bge-small-zh-v1.5)
      semanticFloor: num(env, 'TEXT_SEMANTIC_FLOOR', 0.5),
      // ... or within this margin of the query's best semantic hit
      semanticMargin: num(env, 'TEXT_SEMANTIC_MARGIN', 0.08),
    },
    fetch: {
      timeoutMs: count(env, 'FETCH_TIMEOUT_MS', 5000),
      maxBytes: count(env, 'FETCH_MAX_BYTES', 5 * 1024 * 1024),
      maxRedirects: int(env, 'FETCH_MAX_REDIRECTS', 3),
      allowHosts: list(env, 'FETCH_ALLOW_HOSTS'),
    },
    // defaults chosen by `npm run bench -- jobs` (README, Batch jobs)
    jobs: {
      fetchConcurrency: count(env, 'JOBS_FETCH_CONCURRENCY', 8),
      embedConcurrency: count(env, 'JOBS_EMBED_CONCURRENCY', 16),
      ocrConcurrency: count(env, 'JOBS_OCR_CONCURRENCY', 2),
      batchSize: count(env, 'JOBS_BATCH_SIZE', 64),
      window: count(env, 'JOBS_WINDOW', 128),
      concurrentJobs: count(env, 'JOBS_CONCURRENT', 1),
      feedMaxBytes: count(env, 'JOBS_FEED_MAX_BYTES', 50 * 1024 * 1024),
    },
    explicit: ['SAME_SOURCE_THRESHOLD', 'SUBSTITUTE_FLOOR', 'WHITEN_SHRINK'].filter((k) => env[k] !== undefined && env[k] !== ''),
    es: {
      url: env.ES_URL ?? 'http://127.0.0.1:9250',
      index: env.ES_INDEX ?? 'products',
      apiKey: env.ES_API_KEY,
      username: env.ES_USERNAME,
      password: env.ES_PASSWORD,
      caFile: env.ES_CA_FILE,
    },
  };
}

/** loadConfig for the entry points: a bad setting ends the process with one line and exit code 2, no stack. */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`configuration: ${e.message}`);
    process.exit(2);
  }
}
