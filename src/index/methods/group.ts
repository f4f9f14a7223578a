// Same-source groups kept at index time: a listing joins the group of the indexed listing that the evidence
// model judges to show the same product (its best match at or above the model's cut-off), else it starts
// its own group. Groups only ever grow as listings arrive, so "N listings sell this" is a count, not a search.
import type { IndexRecord } from '../backend.ts';
import type { Services } from '../../services.ts';
import { gatherEvidence, probabilityOf } from '../../match/evidence.ts';
import { decodeLocal } from '../../vision/local/index.ts';
import { mirroredFeatures } from '../components/extras.ts';
import { dot } from '../../vision/pooling.ts';

/** Indexed listings checked per new listing (the nearest by image). */
const GROUP_CANDIDATES = 10;
/** listings whose neighbours are looked up in one kNN call (one Gemm on the embedded backend, one _msearch on Elasticsearch) */
const NEIGHBOUR_BATCH = 64;

export async function assignGroups(s: Pick<Services, 'backend' | 'evidence'>, recs: IndexRecord[]): Promise<void> {
  if (!s.evidence) return;
  // the indexed neighbours of every listing first, a batch at a time (they do not depend on each other:
  // nothing is written until the batch is grouped): one pass over the index instead of one per listing
  const withImage = recs.filter((r) => r.images[0]);
  const neighbours = new Map<IndexRecord, Map<string, IndexRecord>>();
  for (let i = 0; i < withImage.length; i += NEIGHBOUR_BATCH) {
    const slice = withImage.slice(i, i + NEIGHBOUR_BATCH);
    const hits = await s.backend.knnMany(slice.map((r) => r.images[0].vector), { k: GROUP_CANDIDATES + 1 });
    const ids = hits.map((h, j) => h.map((x) => x.id).filter((id) => id !== slice[j].product.id));
    const docs = await s.backend.getMany([...new Set(ids.flat())]);
    slice.forEach((r, j) => neighbours.set(r, new Map(ids[j].flatMap((id) => (docs.has(id) ? [[id, docs.get(id)!] as const] : [])))));
  }
  const done: IndexRecord[] = [];
  for (const r of recs) {
    const im = r.images[0];
    let group = r.product.id;
    if (im) {
      const found = neighbours.get(r)!;
      // listings of the same batch are not in the index yet: the nearest of the indexed ones and of the
      // batch together are checked, so a listing meets the same candidates whatever the batch size
      const near = (d: IndexRecord) => Math.max(...d.images.map((x) => dot(x.descriptor, im.descriptor)));
      const cands = [...found.values(), ...done.filter((d) => d.images.length && d.product.id !== r.product.id && !found.has(d.product.id))]
        .map((d) => ({ d, c: near(d) }))
        .sort((a, b) => b.c - a.c)
        .slice(0, GROUP_CANDIDATES)
        .map((x) => x.d);
      const blob = r.extras?.local?.[0];
      const ev = gatherEvidence(
        {
          descriptor: im.descriptor,
          phash: im.phash,
          local: blob ? { normal: decodeLocal(blob), mirrored: (r.extras && mirroredFeatures.get(r.extras)) ?? null } : null,
          ocrText: r.extras?.ocrText ?? '',
          words: r.product.title,
          supplierId: r.product.supplier?.id ?? null,
        },
        cands,
      );
      let best = -1;
      cands.forEach((c, i) => {
        const p = probabilityOf(s.evidence!, ev[i]);
        if (p >= s.evidence!.sameSourceCut && p > best) (best = p), (group = c.extras?.sourceGroupId ?? c.product.id);
      });
    }
    r.extras = { ...r.extras, sourceGroupId: group };
    done.push(r);
  }
}
