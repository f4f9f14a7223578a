// What routes and jobs are given: one object built at start-up and injected through the Hono context.
import type { Config } from './config.ts';
import type { Backend } from './index/backend.ts';
import type { ImageEmbedder } from './vision/embedder.ts';
import type { TextEmbedder } from './text/embedder.ts';
import type { GuardedFetcher } from './link/fetcher.ts';
import type { ProjectionState } from './index/methods/projection.ts';
import type { Calibration } from './match/calibration.ts';
import type { EvidenceModel } from './match/evidence.ts';
import type { OcrReader } from './vision/ocr/index.ts';
import type { JobManager } from './jobs/manager.ts';

export interface Services {
  config: Config;
  backend: Backend;
  embedder: ImageEmbedder;
  /** semantic text embeddings; null when the model is absent or off (the service then searches words by keyword only) */
  textEmbedder: TextEmbedder | null;
  /** why textEmbedder is null, for /healthz and the start-up log */
  textModelMissing?: string;
  fetcher: GuardedFetcher;
  projection: ProjectionState;
  /** same-source calibration for the running model, if the bench has fitted one */
  calibration: Calibration | null;
  /** same-source evidence model (models/evidence.json) for the running vision model; null: cosine only */
  evidence: EvidenceModel | null;
  /** OCR reader, loaded on first use; null when OCR is switched off */
  ocr: (() => Promise<OcrReader>) | null;
  log: (msg: string) => void;
  /** batch jobs (src/jobs), run in this process; set by createServices */
  jobs?: JobManager;
}

export type AppEnv = { Variables: { services: Services } };
