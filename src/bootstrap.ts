// Builds the services from configuration: model (built from the pinned npm package if missing), backend,
// projection, fetcher. Used by the server, the CLI, the bench and the tests alike.
import path from 'node:path';
import type { Config } from './config.ts';
import type { Backend } from './index/backend.ts';
import { EmbeddedBackend } from './index/embedded/backend.ts';
import { ProjectionState } from './index/methods/projection.ts';
import { GuardedFetcher } from './link/fetcher.ts';
import type { Services } from './services.ts';
import { ImageEmbedder, type VisionManifest } from './vision/embedder.ts';
import { ensureVisionModel } from './vision/model-build.ts';
import { INDEX_DIMS } from './vision/projection.ts';
import { loadCalibration } from './match/calibration.ts';
import { loadEvidenceModel, type EvidenceModel } from './match/evidence.ts';
import type { OcrReader } from './vision/ocr/index.ts';

export async function createBackend(config: Config): Promise<Backend> {
  if (config.backend === 'elasticsearch') {
    const { ElasticsearchBackend } = await import('./index/elasticsearch/backend.ts');
    return new ElasticsearchBackend({ ...config.es, dims: INDEX_DIMS });
  }
  return new EmbeddedBackend({ dir: path.join(config.dataDir, 'embedded'), dims: INDEX_DIMS, exactBelow: config.search.exactBelow });
}

export async function createServices(config: Config, opts: { log?: (s: string) => void; backend?: Backend } = {}): Promise<Services> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const { manifest } = await ensureVisionModel({ log });
  const embedder = await ImageEmbedder.create(manifest.vision as VisionManifest, {
    threads: config.vision.threads,
    maxBatch: config.vision.maxBatch,
    inflight: config.vision.inflight,
    decodeConcurrency: config.vision.decodeConcurrency,
    limits: config.image,
  });
  const backend = opts.backend ?? (await createBackend(config));
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
  return { config, backend, embedder, fetcher: new GuardedFetcher(config.fetch), projection, calibration, evidence, ocr: ocrLoader, log };
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

export async function closeServices(s: Services): Promise<void> {
  await s.backend.close();
  await s.embedder.close();
}
