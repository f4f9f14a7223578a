import type { Services } from '../../services.ts';
import type { Acks } from '../checkpoint.ts';
import type { ErrorsReport } from '../errors.ts';
import type { PipelineOptions, StageTimes } from '../pipeline.ts';
import type { SourceItem } from '../source.ts';

export type JobKind = 'index' | 'reindex' | 'delete';
export type ReindexMode = 'incremental' | 'full' | 'stale';

export interface JobSpec {
  id: string;
  kind: JobKind;
  /** reindex only; default incremental */
  mode?: ReindexMode;
  /** a JSON Lines file or a folder of images; null: reindex `stale` over the stored records */
  input: string | null;
  /** read OCR text (and local features) when the services have an evidence model; default: config EVIDENCE_OCR */
  ocr?: boolean;
  /** local image paths are read for the operator's CLI only, never for HTTP jobs */
  allowPaths: boolean;
  /** where the job came from, for the listing */
  origin: 'cli' | 'http';
}

export interface JobContext {
  s: Services;
  spec: JobSpec;
  signal: AbortSignal;
  acks: Acks;
  errors: ErrorsReport;
  times: StageTimes;
  /** lines up to here were acknowledged by an earlier run (a resume) */
  after: number;
  /** ack + error report + checkpoint, in that order */
  ack: (item: SourceItem, outcome: Parameters<PipelineOptions['onAck']>[1], error?: { code: string; message: string }) => void;
  pipeline: Omit<PipelineOptions, 'write' | 'copyUnchanged' | 'onAck' | 'signal' | 'times' | 'allowPaths' | 'ocr'>;
}
