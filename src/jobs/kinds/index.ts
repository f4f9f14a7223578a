// `index`: every record of the input upserted into the live index; unchanged ones (same content hash, same
// models) are skipped before any model runs.
import { writeRecords } from '../../index/methods/ingest.ts';
import { runIndexPipeline } from '../pipeline.ts';
import { inputKind, jsonlProducts, folderProducts, type SourceItem } from '../source.ts';
import type { JobContext } from './types.ts';

export function productsOf(input: string, after: number): AsyncIterable<SourceItem> {
  return inputKind(input) === 'folder' ? folderProducts(input, after) : jsonlProducts(input, after);
}

export async function runIndex(ctx: JobContext): Promise<void> {
  const { s, spec } = ctx;
  if (!spec.input) throw new Error('an index job needs an input');
  await runIndexPipeline(productsOf(spec.input, ctx.after), s, {
    ...ctx.pipeline,
    allowPaths: spec.allowPaths,
    ocr: spec.ocr ?? s.config.evidence.ocr,
    signal: ctx.signal,
    times: ctx.times,
    copyUnchanged: false,
    write: (recs) => writeRecords(s, recs),
    onAck: ctx.ack,
  });
}
