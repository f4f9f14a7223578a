// Diagnostic for issue 4's Grocery figures: for every test photo, dumps what the judged answer saw (the
// candidates with look, text-on-product similarity, P(same)) and where the right product ended, plus the
// gallery's best matches by the text on the product alone, so that rankings and a text candidate channel
// can be compared offline. Uses the cached embeddings and inspections of `npm run bench -- sourcing`.
// Run: npx tsx bench/try-ranking.ts out.jsonl [test|val]
import fs from 'node:fs';
import os from 'node:os';
import { createServices } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config.ts';
import { featureVector, probabilityOf } from '../src/match/evidence.ts';
import { searchEmbedded } from '../src/match/search.ts';
import { NgramIdf, cosine, ngrams } from '../src/text/ngram.ts';
import { dot } from '../src/vision/pooling.ts';
import { inspectFiles } from './inspect-cache.ts';
import { loadGrocery, rankedIds } from './quality.ts';
import { judgedCandidates, openGallery, type EvItem } from './sourcing.ts';

const out = process.argv[2] ?? '/tmp/ranking.jsonl';
// the split whose photos are the queries: test (what the bench reports) or val (what settings may be chosen on)
const split = (process.argv[3] ?? 'test') as 'test' | 'val';
fs.writeFileSync(out, '');
const config = loadConfig({ ...process.env, DATA_DIR: `${os.tmpdir()}/sourcing-try-${process.pid}` });
const s = await createServices(config, { log: () => {} });
if (!s.evidence) throw new Error('no evidence model for this vision model');
const log = (x: string) => console.error(x);
const gro = await loadGrocery(s, log);
const insp = new Map([
  ...(await inspectFiles(s, gro.catalogue.map((c) => c.file), { scales: config.evidence.ocrIndexScales, tag: 'catalogue' }, log)),
  ...(await inspectFiles(s, gro[split].map((q) => q.sample.path), { scales: config.evidence.ocrScales, tag: split }, log)),
  ...(await inspectFiles(s, gro.trainItems.map((t) => t.file), { scales: config.evidence.ocrScales, tag: 'train' }, log)),
]);
const catalogue: EvItem[] = gro.catalogue.map((c) => ({ ...c, kind: 'catalogue' }));
const train: EvItem[] = gro.trainItems.map((c) => ({ ...c, kind: 'photo' }));
const K = config.search.candidates;

for (const [name, items] of [['catalogue only', catalogue], ['catalogue + train', [...catalogue, ...train]]] as Array<[string, EvItem[]]>) {
  const g = await openGallery(s, items, gro.classes, gro.emb, insp, { groups: true });
  // the gallery's text on products, weighed with a gallery-wide IDF (what a text channel in the index would do)
  const idf = new NgramIdf();
  const grams = items.map((it) => ngrams(insp.get(it.file)?.ocrText ?? ''));
  for (const gr of grams) if (gr.size) idf.add(gr);
  const vecs = grams.map((gr) => idf.weigh(gr));
  const recsAll = await g.s.backend.getMany(items.map((it) => it.id));
  let n = 0;
  for (const q of gro[split]) {
    const e = gro.emb.get(q.sample.path)!;
    const i = insp.get(q.sample.path);
    const a = await searchEmbedded(g.s, { limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' }, e, i);
    const ranked = rankedIds(a).map((r) => ({ fine: g.byId.get(r.id)!.fine, same: r.same }));
    // the candidates as search gathers them, and their evidence
    const judged = await judgedCandidates(g, e, i, K);
    // text channel: the gallery's best by text alone (gallery-wide IDF), with their look score
    const qv = idf.weigh(ngrams(i?.ocrText ?? ''));
    const tOf = new Map(qv.size ? vecs.map((v, j) => [items[j].id, cosine(qv, v)] as [string, number]) : []);
    const qa = await g.s.projection.apply(e.descriptor);
    const qm = e.mirrored ? await g.s.projection.apply(e.mirrored) : null;
    const look = (id: string) => {
      const r = recsAll.get(id)!;
      let best = -Infinity;
      for (const im of r.images) for (const v of qm ? [qa, qm] : [qa]) best = Math.max(best, dot(v, im.vector));
      return +best.toFixed(4);
    };
    const cands = judged.map(({ hit, rec: r, ev }) => ({ fine: g.byId.get(r.product.id)!.fine, score: +hit.score.toFixed(4), ocr: ev.ocrSim === null ? null : +ev.ocrSim.toFixed(4), t: +(tOf.get(r.product.id) ?? 0).toFixed(4), p: +probabilityOf(s.evidence!, ev).toFixed(4), inl: ev.inliers, x: featureVector(ev).map((v) => +v.toFixed(4)) }));
    const text = [...tOf].filter(([, t]) => t > 0).sort((x, y) => y[1] - x[1]).slice(0, K).map(([id, t]) => ({ fine: g.byId.get(id)!.fine, t: +t.toFixed(4), score: look(id) }));
    fs.appendFileSync(out, JSON.stringify({ gallery: name, q: q.sample.path, fine: q.sample.fineId, packaged: q.packaged, ranked: ranked.slice(0, 10), cands, text, ocrLen: (i?.ocrText ?? '').length }) + '\n');
    if (++n % 500 === 0) log(`${name}: ${n}/${gro[split].length}`);
  }
  await g.close();
}
await s.backend.close();
process.exit(0);
