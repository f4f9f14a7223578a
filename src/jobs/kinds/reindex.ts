// `reindex`:
// - incremental: the input upserted into the live index (as `index`): records whose content, vision model
//   or text model changed are re-embedded, the others skipped;
// - full: the input written into a NEW store (backend.rebuild: a versioned index behind an alias on
//   Elasticsearch, a new store generation on the embedded backend) that replaces the live one atomically at
//   the end; unchanged stored records are copied without re-embedding; listings absent from the input are
//   gone after the swap. Searches are answered by the old store until then; a cancel or failure discards
//   the new store. Not resumable (a new store is begun again).
// - stale: without an input, the stored records made by another vision or text model (or holding local
//   features read before the current extraction rule, where it changes them) are re-embedded from
//   their image URLs (fetched again through the guarded fetcher); records on another projection only are
//   re-projected from their stored descriptors. With an input it is the same as incremental.
import { AppError } from '../../errors.ts';
import { hasOutdatedLocal, writeRecords } from '../../index/methods/ingest.ts';
import { assignGroups } from '../../index/methods/group.ts';
import type { IndexRecord } from '../../index/backend.ts';
import type { ProductInput } from '../../schema/product.ts';
import type { Services } from '../../services.ts';
import { runIndexPipeline } from '../pipeline.ts';
import type { SourceItem } from '../source.ts';
import { productsOf } from './index.ts';
import type { JobContext } from './types.ts';

export function isStale(r: IndexRecord, s: Services): boolean {
  const vision = r.images.length ? s.embedder.modelVersion : null;
  const text = s.textEmbedder?.modelVersion ?? null;
  return r.product.modelVersion !== vision || (r.textModel ?? null) !== text || hasOutdatedLocal(r);
}

/** The input a stored record was made from, as far as it can be rebuilt: its image URLs. */
function inputOf(r: IndexRecord): ProductInput | null {
  const p = r.product;
  if (p.images.some((i) => !i.url)) return null;
  return {
    title: p.title,
    description: p.description,
    categoryPath: p.categoryPath,
    price: p.price,
    moq: p.moq,
    supplier: p.supplier,
    listedAt: p.listedAt,
    attributes: p.attributes,
    images: p.images.map((i) => ({ url: i.url! })),
  } as ProductInput;
}

async function* staleItems(s: Services): AsyncGenerator<SourceItem> {
  let n = 0;
  for await (const batch of s.backend.scan(256)) {
    for (const r of batch) {
      if (!isStale(r, s)) continue;
      const input = inputOf(r);
      yield input
        ? { line: ++n, id: r.product.id, input }
        : { line: ++n, id: r.product.id, error: { code: 'invalid_record', message: 'the stored listing has images without a URL (uploaded or local): index it again from its feed' } };
    }
  }
}

export async function runReindex(ctx: JobContext): Promise<void> {
  const { s, spec } = ctx;
  const mode = spec.mode ?? 'incremental';
  const base = {
    ...ctx.pipeline,
    allowPaths: spec.allowPaths,
    ocr: spec.ocr ?? s.config.evidence.ocr,
    signal: ctx.signal,
    times: ctx.times,
    onAck: ctx.ack,
  };
  if (mode === 'full') {
    if (!spec.input) throw new AppError('invalid_request', 'a full rebuild needs an input feed');
    if (!s.backend.rebuild) throw new AppError('invalid_request', `the ${s.backend.kind} backend cannot rebuild`);
    const input = spec.input;
    await s.backend.rebuild(async (write) => {
      await runIndexPipeline(productsOf(input, 0), s, {
        ...base,
        copyUnchanged: true,
        write: async (recs) => {
          await assignGroups(s, recs);
          return write(recs);
        },
      });
    });
    return;
  }
  if (mode === 'stale' && !spec.input) {
    await runIndexPipeline(staleItems(s), s, { ...base, allowPaths: false, copyUnchanged: false, write: (recs) => writeRecords(s, recs) });
    await s.projection.reproject(s.backend);
    return;
  }
  if (!spec.input) throw new AppError('invalid_request', 'an incremental reindex needs an input feed');
  await runIndexPipeline(productsOf(spec.input, ctx.after), s, { ...base, copyUnchanged: false, write: (recs) => writeRecords(s, recs) });
}
