// The Grocery Store evaluation protocol (../shared/datasets/README.md), run through the real engine:
// galleries indexed into a real embedded backend, queries answered by the real search (from cached
// embeddings), metrics computed on the answer a buyer would get.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { ProjectionState } from '../src/index/methods/projection.ts';
import type { IndexRecord } from '../src/index/backend.ts';
import { searchEmbedded } from '../src/match/search.ts';
import type { SearchAnswer } from '../src/schema/search.ts';
import type { Services } from '../src/services.ts';
import { productText, tokenize } from '../src/text/tokenize.ts';
import { INDEX_DIMS, project, randomProjection } from '../src/vision/projection.ts';
import type { ImageEmbedding } from '../src/vision/embedder.ts';
import { classTitle, readClasses, readSplit, type GroceryClass, type GrocerySample } from '../src/demo/grocery.ts';
import { embedFiles } from './embed-cache.ts';

export interface Item {
  id: string;
  file: string;
  fine: number;
  coarse: number;
  kind: 'catalogue' | 'photo';
}

export interface Metrics {
  n: number;
  r1: number;
  r5: number;
  r10: number;
  map10: number;
}

function recordFor(item: Item, cls: GroceryClass, e: ImageEmbedding, proj: ProjectionState): IndexRecord {
  const title = classTitle(cls.name);
  const input = {
    title,
    description: item.kind === 'catalogue' ? cls.description : '',
    categoryPath: [cls.topFolder, cls.coarseName],
    attributes: { fine: String(item.fine), coarse: String(item.coarse) },
  };
  return {
    product: {
      id: item.id,
      ...input,
      supplier: item.kind === 'catalogue' ? { id: `f-${item.fine}`, name: 'factory', badges: ['factory'] } : { id: `r-${item.id}`, name: 'reseller', badges: [] },
      images: [{ ref: item.id }],
      updatedAt: new Date(0).toISOString(),
      modelVersion: null,
    },
    images: [{ idx: 0, descriptor: e.descriptor, vector: project(proj.current, e.descriptor), phash: e.phash }],
    tokens: tokenize(productText(input)),
    projectionVersion: proj.current.version,
    contentHash: item.id,
  };
}

/** The ranked list a buyer sees: same-source groups (source first, then its listings), then substitutes. */
export function rankedIds(a: SearchAnswer): Array<{ id: string; same: boolean; section: 'same' | 'sub' }> {
  const out: Array<{ id: string; same: boolean; section: 'same' | 'sub' }> = [];
  for (const g of a.sameSource) for (const l of [g.source, ...g.listings]) out.push({ id: l.id, same: g.verdict === 'same', section: 'same' });
  for (const s of a.substitutes) out.push({ id: s.listing.id, same: false, section: 'sub' });
  return out;
}

export interface GalleryReport {
  gallery: string;
  all: Metrics;
  packages: Metrics;
  sameLabel: { precision: number; recall: number };
  substitutesP5: number;
  projection: string;
  ms: number;
}

export async function runGallery(
  base: Services,
  name: string,
  gallery: Item[],
  queries: Array<{ sample: GrocerySample; packaged: boolean }>,
  emb: Map<string, ImageEmbedding>,
  classes: GroceryClass[],
  opts: { whiten: boolean; shrink?: number; threshold?: number; floor?: number; pairs?: Array<[number, boolean]> },
): Promise<GalleryReport> {
  const t0 = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-q-'));
  const backend = new EmbeddedBackend({ dir, dims: INDEX_DIMS, exactBelow: base.config.search.exactBelow });
  await backend.init();
  const projection = await ProjectionState.load(backend, base.embedder.dims);
  const byId = new Map<string, Item>();
  const recs = gallery.map((it) => {
    byId.set(it.id, it);
    return recordFor(it, classes[it.fine], emb.get(it.file)!, projection);
  });
  for (let i = 0; i < recs.length; i += 500) await backend.upsert(recs.slice(i, i + 500));
  if (opts.whiten) await projection.refit(backend, { shrink: opts.shrink, maxSamples: 512 });
  else projection.current = randomProjection(base.embedder.dims, INDEX_DIMS);
  await projection.reproject(backend);
  const cfg = {
    ...base.config,
    search: {
      ...base.config.search,
      sameSourceThreshold: opts.threshold ?? base.config.search.sameSourceThreshold,
      substituteFloor: opts.floor ?? base.config.search.substituteFloor,
    },
  };
  const s: Services = { ...base, config: cfg, backend, projection };

  const acc = { all: blank(), packages: blank() };
  let labelTP = 0, labelFP = 0, labelFN = 0;
  let subHits = 0, subSlots = 0;
  const relCount = new Map<number, number>();
  for (const it of gallery) relCount.set(it.fine, (relCount.get(it.fine) ?? 0) + 1);
  for (const q of queries) {
    const e = emb.get(q.sample.path)!;
    const a = await searchEmbedded(s, { limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' }, e);
    const ranked = rankedIds(a).slice(0, 10);
    const rel = ranked.map((r) => byId.get(r.id)!.fine === q.sample.fineId);
    if (opts.pairs) {
      const sims = new Map<string, number>();
      for (const g of a.sameSource) for (const l of [g.source, ...g.listings]) sims.set(l.id, l.similarity);
      for (const sub of a.substitutes) sims.set(sub.listing.id, sub.similarity);
      ranked.forEach((r, i) => opts.pairs!.push([sims.get(r.id)!, rel[i]]));
    }
    for (const m of q.packaged ? [acc.all, acc.packages] : [acc.all]) add(m, rel, relCount.get(q.sample.fineId) ?? 0);
    ranked.forEach((r, i) => {
      if (r.same && rel[i]) labelTP++;
      else if (r.same && !rel[i]) labelFP++;
      else if (!r.same && rel[i]) labelFN++;
    });
    const subs = a.substitutes.slice(0, 5);
    for (const sub of subs) {
      const it = byId.get(sub.listing.id)!;
      if (it.coarse === q.sample.coarseId && it.fine !== q.sample.fineId) subHits++;
    }
    subSlots += 5;
  }
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    gallery: name,
    all: finish(acc.all),
    packages: finish(acc.packages),
    sameLabel: { precision: labelTP / Math.max(1, labelTP + labelFP), recall: labelTP / Math.max(1, labelTP + labelFN) },
    substitutesP5: subHits / Math.max(1, subSlots),
    projection: projection.current.version,
    ms: Date.now() - t0,
  };
}

export function blank() {
  return { n: 0, r1: 0, r5: 0, r10: 0, ap: 0 };
}
export function add(m: ReturnType<typeof blank>, rel: boolean[], relevantInGallery: number) {
  m.n++;
  const first = rel.indexOf(true);
  if (first === 0) m.r1++;
  if (first >= 0 && first < 5) m.r5++;
  if (first >= 0 && first < 10) m.r10++;
  let hits = 0, sum = 0;
  rel.forEach((r, i) => {
    if (r) sum += ++hits / (i + 1);
  });
  m.ap += relevantInGallery ? sum / Math.min(10, relevantInGallery) : 0;
}
export function finish(m: ReturnType<typeof blank>): Metrics {
  const d = Math.max(1, m.n);
  return { n: m.n, r1: m.r1 / d, r5: m.r5 / d, r10: m.r10 / d, map10: m.ap / d };
}

export async function loadGrocery(base: Services, log: (s: string) => void) {
  const classes = await readClasses();
  const [train, val, test] = await Promise.all([readSplit('train'), readSplit('val'), readSplit('test')]);
  const catalogue: Item[] = classes.map((c) => ({ id: `cat-${c.id}`, file: c.iconicPath, fine: c.id, coarse: c.coarseId, kind: 'catalogue' }));
  const trainItems: Item[] = train.map((s, i) => ({ id: `train-${i}`, file: s.path, fine: s.fineId, coarse: s.coarseId, kind: 'photo' }));
  const files = [...catalogue.map((c) => c.file), ...train.map((s) => s.path), ...val.map((s) => s.path), ...test.map((s) => s.path)];
  log(`embedding ${files.length} Grocery images (cached per model version)…`);
  const emb = await embedFiles(base.embedder, files, `grocery-${base.config.image.resize}`, log);
  const q = (xs: GrocerySample[]) => xs.map((sample) => ({ sample, packaged: sample.relPath.includes('/Packages/') }));
  return { classes, catalogue, trainItems, val: q(val), test: q(test), emb };
}
