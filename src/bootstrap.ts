// Builds the services from configuration: model (built from the pinned npm package if missing), backend,
// projection, fetcher. Used by the server, the CLI, the bench and the tests alike.
import path from 'node:path';
import type { Config } from './config.ts';
import type { Backend } from './index/backend.ts';
import { EmbeddedBackend } from './index/embedded/backend.ts';
import { ProjectionState } from './index/methods/projection.ts';
import { GuardedFetcher } from './link/fetcher.ts';
import type { Services } from './services.ts';
import { ImageEmbedder, type EmbedderOptions, type VisionManifest } from './vision/embedder.ts';
import { ensureVisionModel } from './vision/model-build.ts';
import { INDEX_DIMS } from './vision/projection.ts';
import { loadCalibration } from './match/calibration.ts';
import { loadEvidenceModel, type EvidenceModel } from './match/evidence.ts';
import { setOrbWorkers } from './vision/local/orb-pool.ts';
import { DataDirLockedError } from './index/embedded/lock.ts';
import type { OcrReader } from './vision/ocr/index.ts';
import { TextEmbedder } from './text/embedder.ts';
import { loadTextModelManifest } from './text/model-fetch.ts';
import { DEFAULT_TEXT_DIMS } from './index/backend.ts';
import { DEFAULT_MODELS_DIR } from './vision/model-build.ts';
import { JobManager } from './jobs/manager.ts';

export async function createBackend(config: Config, textDims = DEFAULT_TEXT_DIMS): Promise<Backend> {
  if (config.backend === 'elasticsearch') {
    const { ElasticsearchBackend } = await import('./index/elasticsearch/backend.ts');
    return new ElasticsearchBackend({ ...config.es, dims: INDEX_DIMS, textDims });
  }
  return new EmbeddedBackend({ dir: path.join(config.dataDir, 'embedded'), dims: INDEX_DIMS, textDims, exactBelow: config.search.exactBelow });
}

/**
 * The text model if its files are in models/ and match the manifest; never downloads (that is
 * scripts/fetch-text-models.ts, run before `npm start`). Absent: null and the reason, and the service
 * searches words by keyword only.
 */
export async function createTextEmbedder(config: Config, modelsDir = DEFAULT_MODELS_DIR): Promise<{ embedder: TextEmbedder | null; missing?: string }> {
  if (config.text.model === 'off') return { embedder: null, missing: 'TEXT_MODEL=off' };
  const found = loadTextModelManifest(modelsDir, config.text.model);
  if ('missing' in found) return { embedder: null, missing: found.missing };
  return { embedder: await TextEmbedder.create(found.manifest, modelsDir, { threads: config.text.threads }) };
}

/** The vision embedder's options from the configuration (the services, and benches that vary one of them). */
export function embedderOptions(config: Config): EmbedderOptions {
  return {
    threads: config.vision.threads,
    maxBatch: config.vision.maxBatch,
    inflight: config.vision.inflight,
    decodeConcurrency: config.vision.decodeConcurrency,
    limits: config.image,
    worker: config.vision.worker,
  };
}

export async function createServices(config: Config, opts: { log?: (s: string) => void; backend?: Backend } = {}): Promise<Services> {
  const log = opts.log ?? ((s: string) => console.log(s));
  setOrbWorkers(config.evidence.localWorkers);
  const { manifest } = await ensureVisionModel({ log });
  const embedder = await ImageEmbedder.create(manifest.vision as VisionManifest, embedderOptions(config));
  const text = await createTextEmbedder(config);
  if (text.embedder) log(`text model ${text.embedder.modelVersion}: words are searched by keyword and by meaning (hybrid)`);
  else log(`text model not loaded (${text.missing}): words are searched by keyword only; run \`npm run fetch:models\` for semantic search`);
  const backend = opts.backend ?? (await createBackend(config, text.embedder?.dims));
  await backend.init();
  const projection = await ProjectionState.load(backend, embedder.dims);
  const calibration = loadCalibration(embedder.modelVersion);
  if (calibration) {
    // the calibration's cut-offs are the defaults; explicit settings still win
    if (!config.explicit.includes('SAME_SOURCE_THRESHOLD')) config.search.sameSourceThreshold = calibration.sameSourceThreshold;
    if (!config.explicit.includes('SUBSTITUTE_FLOOR')) config.search.substituteFloor = calibration.substituteFloor;
    if (!config.explicit.includes('WHITEN_SHRINK')) config.whitening.shrink = calibration.whiteningShrink;
  }
  const evidence = await evidenceWithIndex(backend, loadEvidenceModel(embedder.modelVersion), embedder.modelVersion);
  if (!evidence) log('evidence: no fitted evidence model for this vision model (models/evidence.json); same source falls back to image similarity');
  let ocr: Promise<OcrReader> | null = null;
  const ocrLoader = config.evidence.ocr
    ? () =>
        (ocr ??= import('./vision/ocr/index.ts').then(({ OcrReader }) => OcrReader.load({ threads: config.evidence.ocrThreads })).catch((e) => {
          ocr = null; // a later call may try again
          throw e;
        }))
    : null;
  const services: Services = {
    config,
    backend,
    embedder,
    textEmbedder: text.embedder,
    ...(text.missing ? { textModelMissing: text.missing } : {}),
    fetcher: new GuardedFetcher(config.fetch),
    projection,
    calibration,
    evidence,
    ocr: ocrLoader,
    log,
  };
  services.jobs = new JobManager(services);
  return services;
}

/**
 * The evidence model is stored with the index (its meta), so that an index keeps the judge its groups were
 * formed with: a newer fitted file replaces it (and is recorded), an index without the file keeps its own.
 */
async function evidenceWithIndex(backend: Backend, fromFile: EvidenceModel | null, modelVersion: string): Promise<EvidenceModel | null> {
  const stored = await backend.getMeta('evidence-model');
  const inIndex = stored ? (JSON.parse(stored.toString('utf8')) as EvidenceModel) : null;
  if (fromFile) {
    if (inIndex?.version !== fromFile.version) await backend.setMeta('evidence-model', Buffer.from(JSON.stringify(fromFile)));
    return fromFile;
  }
  return inIndex && inIndex.modelVersion === modelVersion ? inIndex : null;
}

/** For the CLI and the server: a locked data directory is an operator's mistake, said in one line (exit 3), not a stack trace. */
export function exitIfLocked(e: unknown): never {
  if (e instanceof DataDirLockedError) {
    console.error(e.message);
    process.exit(3);
  }
  throw e;
}

export async function closeServices(s: Services): Promise<void> {
  await s.jobs?.stopAll();
  await s.backend.close();
  await s.embedder.close();
  await s.textEmbedder?.close();
  // the ORB workers stay: they hold no reference on the event loop when idle, and other services in this
  // process (tests open several) may be using them
}
