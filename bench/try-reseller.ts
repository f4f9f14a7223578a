// Diagnostic for issue 4's reseller protocol: for each test copy (seed 13) whose answer does not elect its
// original, prints what the answer saw — the candidates judged surely the same, their index-time groups and
// whether the original's group was among them, and the original's own rank by image. Uses the caches of
// `npm run bench -- sourcing` and the committed evidence model. Run: npx tsx bench/try-reseller.ts [alteration…] (default: combined)
import os from 'node:os';
import { createServices } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config.ts';
import { searchEmbedded } from '../src/match/search.ts';
import { embedFiles } from './embed-cache.ts';
import { inspectFiles } from './inspect-cache.ts';
import { loadGrocery } from './quality.ts';
import { GALLERY_SEED, judgedCandidates, makeCopies, openGallery, TEST_SEED, type EvItem } from './sourcing.ts';
import { FEATURES, featureVector, probabilityOf } from '../src/match/evidence.ts';

const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['combined'];
const config = loadConfig({ ...process.env, DATA_DIR: `${os.tmpdir()}/sourcing-try-${process.pid}` });
const s = await createServices(config, { log: () => {} });
if (!s.evidence) throw new Error('no evidence model for this vision model');
const log = (x: string) => console.error(x);
const gro = await loadGrocery(s, log);
const gallery = await makeCopies(gro.classes, GALLERY_SEED, log);
const test = (await makeCopies(gro.classes, TEST_SEED, log)).filter((c) => kinds.includes(c.alteration!));
const emb = new Map([...gro.emb, ...(await embedFiles(s.embedder, [...gallery, ...test].map((c) => c.file), `reseller-${config.image.resize}`, log))]);
const mirrored = await embedFiles(s.embedder, test.map((c) => c.file), `queries-mirrored-${config.image.resize}`, log, { mirrored: true });
for (const c of test) emb.set(c.file, { ...emb.get(c.file)!, mirrored: mirrored.get(c.file)!.descriptor });
const insp = new Map([
  ...(await inspectFiles(s, gro.catalogue.map((c) => c.file), { scales: config.evidence.ocrIndexScales, tag: 'catalogue' }, log)),
  ...(await inspectFiles(s, gallery.map((c) => c.file), { scales: config.evidence.ocrScales, tag: 'copies' }, log)),
  ...(await inspectFiles(s, test.map((c) => c.file), { scales: config.evidence.ocrScales, tag: 'copies-test' }, log)),
  ...(await inspectFiles(s, gro.trainItems.map((t) => t.file), { scales: config.evidence.ocrScales, tag: 'train' }, log)),
]);
const items: EvItem[] = [...gro.catalogue.map((c) => ({ ...c, kind: 'catalogue' as const })), ...gallery, ...gro.trainItems.map((c) => ({ ...c, kind: 'photo' as const }))];
const g = await openGallery(s, items, gro.classes, emb, insp, { groups: true });
const groupOf = async (id: string) => (await g.s.backend.get(id))?.extras?.sourceGroupId ?? id;
let missed = 0;
for (const q of test) {
  const original = `cat-${q.fine}`;
  const a = await searchEmbedded(g.s, { limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' }, emb.get(q.file)!, insp.get(q.file));
  if (a.sameSource[0]?.source.id === original) continue;
  missed++;
  const judged = await judgedCandidates(g, emb.get(q.file)!, insp.get(q.file), 200);
  const rank = judged.findIndex((x) => x.rec.product.id === original);
  const origGroup = await groupOf(original);
  const sure = judged.filter((x) => probabilityOf(s.evidence!, x.ev) >= s.evidence!.sameSourceCut);
  const rows = await Promise.all(judged.slice(0, 6).map(async (x) => `${x.rec.product.id}${g.byId.get(x.rec.product.id)!.fine === q.fine ? '+' : '-'} P=${probabilityOf(s.evidence!, x.ev).toFixed(2)} inl=${x.ev.inliers} grp=${(await groupOf(x.rec.product.id)) === origGroup ? 'orig' : await groupOf(x.rec.product.id)}`));
  console.log(`${q.alteration} ${q.id}: answer ${a.sameSource[0] ? `${a.sameSource[0].verdict} source ${a.sameSource[0].source.id}` : 'no group'}; original rank by image ${rank < 0 ? '>200' : rank + 1}, P=${rank < 0 ? '-' : probabilityOf(s.evidence!, judged[rank].ev).toFixed(2)} inl=${rank < 0 ? '-' : judged[rank].ev.inliers}; sure ${sure.length} (same product ${sure.filter((x) => g.byId.get(x.rec.product.id)!.fine === q.fine).length}, in the original's group ${(await Promise.all(sure.map((x) => groupOf(x.rec.product.id)))).filter((x) => x === origGroup).length})`);
  for (const r of rows) console.log(`    ${r}`);
  if (rank >= 0) {
    const ev = judged[rank].ev;
    console.log(`    original's evidence: ${FEATURES.map((f, j) => `${f} ${featureVector(ev)[j].toFixed(3)}`).join(', ')}`);
  }
}
console.log(`${missed} of ${test.length} missed`);
await g.close();
process.exit(0);
