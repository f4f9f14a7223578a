// Issue 4's bench: same source and substitutes with all the evidence, on the Grocery protocol (both
// galleries) and on a generated reseller-copy protocol; also fits the evidence model (scripts/fit-evidence.ts).
//
// Splits, so that nothing is tuned on what is reported:
// - fit: Grocery val photos, and reseller copies made with seed FIT_SEED, as queries;
// - report: Grocery test photos, and reseller copies made with seed TEST_SEED;
// - the reseller gallery holds the 81 catalogue images (the factory listings), their copies made with
//   GALLERY_SEED (other resellers) and, as distractors, the Grocery train photos.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../src/config.ts';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { ProjectionState } from '../src/index/methods/projection.ts';
import { assignGroups } from '../src/index/methods/group.ts';
import { mirroredFeatures } from '../src/index/components/extras.ts';
import type { IndexRecord } from '../src/index/backend.ts';
import { createHash } from 'node:crypto';
import { DEFAULT_BOOST, fitBoosted, predictBoosted } from '../src/match/boosted.ts';
import { FEATURES, featureVector, gatherEvidence, type EvidenceModel } from '../src/match/evidence.ts';
import { mergeBest, searchEmbedded } from '../src/match/search.ts';
import type { Services } from '../src/services.ts';
import { productText, tokenize } from '../src/text/tokenize.ts';
import { INDEX_DIMS, project } from '../src/vision/projection.ts';
import type { ImageEmbedding } from '../src/vision/embedder.ts';
import type { ImageInspection } from '../src/vision/inspect.ts';
import { encodeLocal } from '../src/vision/local/index.ts';
import { ALTERATIONS, makeCopy } from '../src/demo/reseller.ts';
import { classTitle, type GroceryClass, type GrocerySample } from '../src/demo/grocery.ts';
import { mulberry32 as prng } from '../src/util/prng.ts';
import { embedFiles } from './embed-cache.ts';
import { inspectFiles, type Inspections } from './inspect-cache.ts';
import { benchSourcingCost, type CostReport } from './sourcing-cost.ts';
import { add, blank, finish, loadGrocery, rankedIds, type Item, type Metrics } from './quality.ts';

/** BENCH_DUMP_PAIRS=file: the fitting pairs' raw evidence as JSON lines, for trying models offline */
const dumpPairs = process.env.BENCH_DUMP_PAIRS || null;

export const GALLERY_SEED = 11;
export const FIT_SEED = 12;
export const TEST_SEED = 13;

export type EvItem = Omit<Item, 'kind'> & { kind: 'catalogue' | 'photo' | 'copy'; alteration?: string };
type Query = { sample: GrocerySample; packaged: boolean; alteration?: string; originalId?: string };

/** Reseller copies of every catalogue image, one per alteration, written once under .cache/bench. */
export async function makeCopies(classes: GroceryClass[], seed: number, log: (s: string) => void): Promise<EvItem[]> {
  const dir = path.join(repoRoot, '.cache', 'bench', 'reseller', `s${seed}`);
  fs.mkdirSync(dir, { recursive: true });
  const out: EvItem[] = [];
  let made = 0;
  for (const c of classes) {
    for (const [k, kind] of ALTERATIONS.entries()) {
      const file = path.join(dir, `${c.id}-${kind}.jpg`);
      if (!fs.existsSync(file)) {
        fs.writeFileSync(file, await makeCopy(fs.readFileSync(c.iconicPath), kind, seed * 100_003 + c.id * 101 + k));
        made++;
      }
      out.push({ id: `copy-${seed}-${c.id}-${kind}`, file, fine: c.id, coarse: c.coarseId, kind: 'copy', alteration: kind });
    }
  }
  if (made) log(`  generated ${made} reseller copies (seed ${seed})`);
  return out;
}

function recordFor(item: EvItem, cls: GroceryClass, e: ImageEmbedding, insp: Inspections, s: Services, rnd: () => number): IndexRecord {
  const title = classTitle(cls.name);
  const factory = item.kind === 'catalogue';
  const input = {
    title: factory ? title : item.kind === 'copy' ? `${title} 厂家直销 包邮` : title,
    description: factory ? cls.description : '',
    categoryPath: [cls.topFolder, cls.coarseName],
    attributes: { fine: String(item.fine), coarse: String(item.coarse) },
  };
  const i = insp.get(item.file);
  return {
    product: {
      id: item.id,
      ...input,
      // the factory lists first and not always cheapest: election must follow the badge, then the date
      supplier: factory ? { id: `f-${item.fine}`, name: 'factory', badges: ['factory'] } : { id: `r-${item.id}`, name: 'reseller', badges: [] },
      price: { amount: Math.round((factory ? 10 : 7 + rnd() * 8) * 100) / 100, currency: 'CNY' },
      listedAt: factory ? '2024-01-01T00:00:00Z' : new Date(Date.UTC(2024, 1 + Math.floor(rnd() * 20), 1)).toISOString(),
      images: [{ ref: item.id }],
      updatedAt: new Date(0).toISOString(),
      modelVersion: null,
    },
    images: [{ idx: 0, descriptor: e.descriptor, vector: project(s.projection.current, e.descriptor), phash: e.phash }],
    tokens: tokenize(productText(input)),
    projectionVersion: s.projection.current.version,
    contentHash: item.id,
    extras: i ? { ocrText: i.ocrText, local: [i.local ? new Uint8Array(encodeLocal(i.local.normal)) : null] } : undefined,
  };
}

export interface Gallery {
  s: Services;
  byId: Map<string, EvItem>;
  close: () => Promise<void>;
}

/** Indexes a gallery into a fresh embedded backend with the catalogue-learned whitening. */
export async function openGallery(base: Services, items: EvItem[], classes: GroceryClass[], emb: Map<string, ImageEmbedding>, insp: Inspections, opts: { groups: boolean }): Promise<Gallery> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-src-'));
  const backend = new EmbeddedBackend({ dir, dims: INDEX_DIMS, exactBelow: base.config.search.exactBelow });
  await backend.init();
  const projection = await ProjectionState.load(backend, base.embedder.dims);
  const s: Services = { ...base, backend, projection };
  const rnd = prng(5);
  const recs = items.map((it) => recordFor(it, classes[it.fine], emb.get(it.file)!, insp, s, rnd));
  for (let i = 0; i < recs.length; i += 500) await backend.upsert(recs.slice(i, i + 500));
  await projection.refit(backend, { shrink: base.config.whitening.shrink, maxSamples: 512 });
  await projection.reproject(backend);
  if (opts.groups && s.evidence) {
    // index-time groups, assigned as listings would arrive: factory listings first, then resellers
    const all = await backend.getMany(items.map((i) => i.id));
    for (const it of items) {
      const r = all.get(it.id)!;
      const m = insp.get(it.file)?.local?.mirrored;
      if (r.extras && m) mirroredFeatures.set(r.extras, m);
      await assignGroups(s, [r]);
      await backend.upsert([r]);
    }
  }
  return { s, byId: new Map(items.map((i) => [i.id, i])), close: async () => (await backend.close(), fs.rmSync(dir, { recursive: true, force: true })) };
}

/** A photo's top k candidates by image, as a search gathers them (the photo and the photo mirrored), with their evidence. */
export async function judgedCandidates(g: Gallery, e: ImageEmbedding, i: ImageInspection | undefined, k: number) {
  const normal = await g.s.backend.knn(await g.s.projection.apply(e.descriptor), { k });
  const hits = e.mirrored ? mergeBest(normal, await g.s.backend.knn(await g.s.projection.apply(e.mirrored), { k })).slice(0, k) : normal;
  const recs = await g.s.backend.getMany(hits.map((h) => h.id));
  const list = hits.map((h) => ({ hit: h, rec: recs.get(h.id)! })).filter((x) => x.rec);
  const ev = gatherEvidence({ descriptor: e.descriptor, mirroredDescriptor: e.mirrored ?? null, phash: e.phash, local: i?.local ?? null, ocrText: i?.ocrText ?? '', words: '', supplierId: null }, list.map((x) => x.rec));
  return list.map((x, j) => ({ ...x, ev: ev[j] }));
}

/** Labelled pairs (evidence features, same product?) from each query's top candidates by image. */
async function collectPairs(g: Gallery, queries: Query[], emb: Map<string, ImageEmbedding>, insp: Inspections, k: number, out: { X: number[][]; y: boolean[]; src: string[]; q: string[] }, src: string) {
  for (const q of queries) {
    const cands = await judgedCandidates(g, emb.get(q.sample.path)!, insp.get(q.sample.path), k);
    const list = cands.map((c) => c.rec);
    const ev = cands.map((c) => c.ev);
    list.forEach((r, j) => {
      out.X.push(featureVector(ev[j]));
      out.y.push(g.byId.get(r.product.id)!.fine === q.sample.fineId);
      out.src.push(src);
      out.q.push(q.sample.path);
      if (dumpPairs) fs.appendFileSync(dumpPairs, JSON.stringify({ src, q: q.sample.path, c: r.product.id, y: out.y[out.y.length - 1], rank: j, e: ev[j] }) + '\n');
    });
  }
}

export interface SourcingReport {
  grocery: Array<{
    gallery: string;
    all: Metrics;
    packages: Metrics;
    sameLabel: { precision: number; recall: number };
    substitutesP5: number;
    /** the best P@5 the gallery allows: other products of the query's coarse class, at most 5, over 5 */
    substitutesCeiling: number;
    /** hits over the slots that could be filled (min(5, other products of the coarse class)) */
    substitutesFillable: number;
  }>;
  reseller: Array<{ alteration: string; n: number; sourceR1: number; inGroup: number; top1: number }>;
  /** members of the returned groups that are another product: all groups, and 'same' groups only; `direct` counts
   * those judged at query time (not through their index-time group) */
  wronglyGrouped: { wrong: number; members: number; sameWrong: number; sameMembers: number; sameDirectWrong: number };
  model: EvidenceModel;
  cost: CostReport;
}

/** Grocery-style evaluation with the evidence model: the answer a buyer gets, metrics as in quality.ts. */
async function evaluateGrocery(g: Gallery, name: string, queries: Query[], emb: Map<string, ImageEmbedding>, insp: Inspections) {
  const acc = { all: blank(), packages: blank() };
  let tp = 0, fp = 0, fn = 0, subHits = 0, subSlots = 0, fillable = 0;
  const relCount = new Map<number, number>();
  for (const it of g.byId.values()) relCount.set(it.fine, (relCount.get(it.fine) ?? 0) + 1);
  // the products of each coarse class in the gallery: a query whose class has one product can have no right substitute
  const productsOf = new Map<number, Set<number>>();
  for (const it of g.byId.values()) productsOf.set(it.coarse, (productsOf.get(it.coarse) ?? new Set()).add(it.fine));
  for (const q of queries) {
    const a = await searchEmbedded(g.s, { limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' }, emb.get(q.sample.path)!, insp.get(q.sample.path));
    const ranked = rankedIds(a).slice(0, 10);
    const rel = ranked.map((r) => g.byId.get(r.id)!.fine === q.sample.fineId);
    for (const m of q.packaged ? [acc.all, acc.packages] : [acc.all]) add(m, rel, relCount.get(q.sample.fineId) ?? 0);
    ranked.forEach((r, i) => {
      if (r.same && rel[i]) tp++;
      else if (r.same && !rel[i]) fp++;
      else if (!r.same && rel[i]) fn++;
    });
    let hits = 0;
    for (const sub of a.substitutes.slice(0, 5)) {
      const it = g.byId.get(sub.listing.id)!;
      if (it.coarse === q.sample.coarseId && it.fine !== q.sample.fineId) hits++;
    }
    subHits += hits;
    subSlots += 5;
    const others = [...(productsOf.get(q.sample.coarseId) ?? [])].filter((f) => f !== q.sample.fineId).length;
    fillable += Math.min(5, others);
  }
  return { gallery: name, all: finish(acc.all), packages: finish(acc.packages), sameLabel: { precision: tp / Math.max(1, tp + fp), recall: tp / Math.max(1, tp + fn) }, substitutesP5: subHits / Math.max(1, subSlots), substitutesCeiling: fillable / Math.max(1, subSlots), substitutesFillable: subHits / Math.max(1, fillable) };
}

async function evaluateReseller(g: Gallery, queries: Query[], emb: Map<string, ImageEmbedding>, insp: Inspections) {
  const per = new Map<string, { n: number; src: number; inGroup: number; top1: number }>();
  let wrong = 0, members = 0, sameWrong = 0, sameMembers = 0, sameDirectWrong = 0;
  for (const q of queries) {
    const a = await searchEmbedded(g.s, { limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' }, emb.get(q.sample.path)!, insp.get(q.sample.path));
    const m = per.get(q.alteration!) ?? { n: 0, src: 0, inGroup: 0, top1: 0 };
    m.n++;
    const group = a.sameSource[0];
    if (group?.source.id === q.originalId) m.src++;
    if (group && [group.source, ...group.listings].some((l) => l.id === q.originalId)) m.inGroup++;
    const first = rankedIds(a)[0];
    if (first && g.byId.get(first.id)!.fine === q.sample.fineId) m.top1++;
    for (const grp of a.sameSource)
      for (const l of [grp.source, ...grp.listings]) {
        members++;
        const bad = g.byId.get(l.id)!.fine !== q.sample.fineId;
        if (bad) wrong++;
        if (grp.verdict === 'same') {
          sameMembers++;
          if (bad) sameWrong++;
          if (bad && (l.sameProductChance ?? 0) >= g.s.evidence!.sameSourceCut) sameDirectWrong++;
        }
        // BENCH_DEBUG_MEMBERS=1: every member of a 'same' group with its own P(same), right or wrong
        if (process.env.BENCH_DEBUG_MEMBERS && grp.verdict === 'same') console.error('MEMBER', bad ? 'wrong' : 'right', l.sameProductChance ?? '-', q.alteration, l.id === grp.source.id ? 'source' : 'listing');
        // BENCH_DEBUG_WRONG=1: each wrongly grouped listing on stderr, to see which products get confused
        if (process.env.BENCH_DEBUG_WRONG && bad) console.error('WRONG', q.alteration, grp.verdict, grp.confidence, l.sameProductChance ?? '-', q.sample.path.split('/').pop(), q.originalId, l.id, g.byId.get(l.id)!.fine, q.sample.fineId);
      }
    per.set(q.alteration!, m);
  }
  return {
    rows: [...per].map(([alteration, m]) => ({ alteration, n: m.n, sourceR1: m.src / m.n, inGroup: m.inGroup / m.n, top1: m.top1 / m.n })),
    wrong,
    members,
    sameWrong,
    sameMembers,
    sameDirectWrong,
  };
}

const asQueries = (items: EvItem[], classes: GroceryClass[]): Query[] =>
  items.map((it) => ({
    sample: { path: it.file, relPath: it.file, fineId: it.fine, coarseId: it.coarse },
    packaged: classes[it.fine].topFolder === 'Packages',
    alteration: it.alteration,
    originalId: `cat-${it.fine}`,
  }));

/** Runs the whole protocol; `fitOnly` stops after fitting (scripts/fit-evidence.ts). */
export async function benchSourcing(base: Services, log: (s: string) => void, opts: { fitOnly?: boolean; write?: string | null } = {}): Promise<SourcingReport | EvidenceModel> {
  const t0 = Date.now();
  const gro = await loadGrocery(base, log);
  const classes = gro.classes;
  const copies = { gallery: await makeCopies(classes, GALLERY_SEED, log), fit: await makeCopies(classes, FIT_SEED, log), test: await makeCopies(classes, TEST_SEED, log) };
  const copyFiles = [...copies.gallery, ...copies.fit, ...copies.test].map((c) => c.file);
  const emb = new Map([...gro.emb, ...(await embedFiles(base.embedder, copyFiles, `reseller-${base.config.image.resize}`, log))]);
  // queries are also searched mirrored (config search.mirrorQuery), as the service does
  if (base.config.search.mirrorQuery) {
    const queryFiles = [...gro.val, ...gro.test].map((q) => q.sample.path).concat([...copies.fit, ...copies.test].map((c) => c.file));
    const mirrored = await embedFiles(base.embedder, queryFiles, `queries-mirrored-${base.config.image.resize}`, log, { mirrored: true });
    for (const f of queryFiles) emb.set(f, { ...emb.get(f)!, mirrored: mirrored.get(f)!.descriptor });
  }
  log('  reading the images for evidence (OCR and ORB; cached in .cache/bench)…');
  const insp: Inspections = new Map([
    ...(await inspectFiles(base, gro.catalogue.map((c) => c.file), { scales: base.config.evidence.ocrIndexScales, tag: 'catalogue' }, log)),
    ...(await inspectFiles(base, [...copies.gallery, ...copies.fit].map((c) => c.file), { scales: base.config.evidence.ocrScales, tag: 'copies' }, log)),
    ...(await inspectFiles(base, gro.val.map((q) => q.sample.path), { scales: base.config.evidence.ocrScales, tag: 'val' }, log)),
  ]);

  const catalogue: EvItem[] = gro.catalogue.map((c) => ({ ...c, kind: 'catalogue' }));
  const train: EvItem[] = gro.trainItems.map((c) => ({ ...c, kind: 'photo' }));
  const noModel: Services = { ...base, evidence: null };

  // ---- fit
  const pairs = { X: [] as number[][], y: [] as boolean[], src: [] as string[], q: [] as string[] };
  const K = base.config.search.candidates;
  // fitting galleries leave the train photos out (reading them all is the bench's longest step); the report
  // below keeps them, as distractors and as the second Grocery gallery
  const vg = await openGallery(noModel, catalogue, classes, emb, insp, { groups: false });
  await collectPairs(vg, gro.val, emb, insp, K, pairs, 'val');
  await vg.close();
  const rg = await openGallery(noModel, [...catalogue, ...copies.gallery], classes, emb, insp, { groups: false });
  await collectPairs(rg, asQueries(copies.fit, classes), emb, insp, K, pairs, 'reseller');
  await rg.close();
  // each source of pairs weighs the same in total, so that the many easy negatives of one do not drown the other
  const bySrc = new Map<string, number>();
  for (const s of pairs.src) bySrc.set(s, (bySrc.get(s) ?? 0) + 1);
  const weights = pairs.src.map((s) => pairs.src.length / bySrc.size / bySrc.get(s)!);
  // boosted trees; the cut-off is chosen on out-of-fold predictions (5 folds grouped by query), because
  // trees fit their own training pairs too well for a 99 % precision cut read off them
  const queriesOf = [...new Set(pairs.q)];
  const foldOf = new Map(queriesOf.map((q, i) => [q, i % 5]));
  const oof = new Float64Array(pairs.X.length);
  for (let f = 0; f < 5; f++) {
    const tr = pairs.X.map((_, i) => i).filter((i) => foldOf.get(pairs.q[i]) !== f);
    const m = fitBoosted([...FEATURES], tr.map((i) => pairs.X[i]), tr.map((i) => pairs.y[i]), { sampleWeights: tr.map((i) => weights[i]) });
    pairs.X.forEach((x, i) => { if (foldOf.get(pairs.q[i]) === f) oof[i] = predictBoosted(m, x); });
  }
  const boosted = fitBoosted([...FEATURES], pairs.X, pairs.y, { sampleWeights: weights });
  // the cut-off: the lowest P(same) at which "same product" is still ≥ 99% precise out of fold
  const scored = pairs.X.map((_, i) => ({ p: oof[i], y: pairs.y[i] })).sort((a, b) => b.p - a.p);
  let cut = 1, tp = 0;
  const positives = scored.filter((x) => x.y).length;
  let recallAtCut = 0;
  scored.forEach((x, i) => {
    if (x.y) tp++;
    const last = i + 1 === scored.length || scored[i + 1].p < x.p;
    if (last && tp / (i + 1) >= 0.99) (cut = x.p), (recallAtCut = tp / positives);
  });
  // recall at the cut per source of pairs: reseller copies and shoppers' photos are very different tasks
  const perSource = [...bySrc.keys()].map((src) => {
    const idx = pairs.X.map((_, i) => i).filter((i) => pairs.src[i] === src && pairs.y[i]);
    return `${src} ${(idx.filter((i) => oof[i] >= cut).length / Math.max(1, idx.length)).toFixed(3)}`;
  });
  const model: EvidenceModel = {
    version: `ev2-gbdt-${boosted.trees.length}x${DEFAULT_BOOST.depth}-${createHash('sha256').update(JSON.stringify(boosted)).digest('hex').slice(0, 10)}`,
    modelVersion: base.embedder.modelVersion,
    boosted,
    sameSourceCut: Math.round(Math.max(cut, 0.5) * 1e4) / 1e4,
    fittedOn: `${pairs.X.length} pairs (top ${K} by image) of Grocery val photos on the catalogue and of reseller copies (seed ${FIT_SEED}) on a gallery of the catalogue images and their copies (seed ${GALLERY_SEED}); cut-off from 5-fold out-of-fold predictions`,
    metrics: { pairs: pairs.X.length, positives, precisionTarget: 0.99, recallAtCut },
  };
  log(`  out-of-fold recall at the cut by source: ${perSource.join(', ')}`);
  log(`  evidence model fitted on ${pairs.X.length} pairs (${positives} same product); cut P ≥ ${model.sameSourceCut} (precision ≥ 0.99 on them, recall ${recallAtCut.toFixed(3)})`);
  log(`  boosted trees: ${boosted.trees.length} × depth ${DEFAULT_BOOST.depth}, learning rate ${DEFAULT_BOOST.learningRate}; features ${FEATURES.join(', ')}`);
  if (opts.write) {
    fs.writeFileSync(opts.write, JSON.stringify(model, null, 2) + '\n');
    log(`  wrote ${opts.write}`);
  }
  if (opts.fitOnly) return model;

  // ---- report on test
  const tested: Services = { ...base, evidence: model };
  for (const [files, tag] of [
    [copies.test.map((c) => c.file), 'copies-test'],
    [gro.test.map((q) => q.sample.path), 'test'],
    [gro.trainItems.map((t) => t.file), 'train'],
  ] as Array<[string[], string]>)
    for (const [k, v] of await inspectFiles(base, files, { scales: base.config.evidence.ocrScales, tag }, log)) insp.set(k, v);
  const grocery = [];
  for (const [name, items] of [['catalogue only', catalogue], ['catalogue + train', [...catalogue, ...train]]] as Array<[string, EvItem[]]>) {
    const g = await openGallery(tested, items, classes, emb, insp, { groups: true });
    grocery.push(await evaluateGrocery(g, name, gro.test, emb, insp));
    await g.close();
  }
  const g = await openGallery(tested, [...catalogue, ...copies.gallery, ...train], classes, emb, insp, { groups: true });
  const rs = await evaluateReseller(g, asQueries(copies.test, classes), emb, insp);
  await g.close();
  const costGallery = [...catalogue, ...copies.gallery, ...train].map((it) => ({ file: it.file, title: classTitle(classes[it.fine].name) }));
  const costQueries = gro.test.filter((_, i) => i % 60 === 0).map((q) => q.sample.path);
  const cost = await benchSourcingCost(tested, costGallery, emb, insp, costQueries, Number(process.env.BENCH_COST_N ?? 10_000), log);
  log(`  wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return { grocery, reseller: rs.rows, wronglyGrouped: { wrong: rs.wrong, members: rs.members, sameWrong: rs.sameWrong, sameMembers: rs.sameMembers, sameDirectWrong: rs.sameDirectWrong }, model, cost };
}
