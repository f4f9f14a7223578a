// Bilingual recall: hand-written English queries over a small Chinese-titled catalogue
// (test/fixtures/bilingual), run through the real search verb (text path: language identification,
// dictionary translation, keyword search, RRF, answer). Records are indexed directly with no images, so no
// model is needed. Recall@10 = the share of each query's relevant ids among its first 10 listings, averaged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import type { Backend, IndexRecord } from '../src/index/backend.ts';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { search } from '../src/match/search.ts';
import type { SearchAnswer } from '../src/schema/search.ts';
import type { Services } from '../src/services.ts';
import { productText, tokenize } from '../src/text/tokenize.ts';
import { loadDictionary } from '../src/text/translate.ts';
import { createTextEmbedder } from '../src/bootstrap.ts';
import type { TextEmbedder } from '../src/text/embedder.ts';
import { mulberry32 } from '../src/util/prng.ts';
import { INDEX_DIMS } from '../src/vision/projection.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'bilingual');

export interface BilingualQuery {
  query: string;
  relevant: string[];
}

export function loadBilingualCatalogue(): IndexRecord[] {
  const lines = fs.readFileSync(path.join(FIXTURES, 'catalogue.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
  return lines.map((l) => {
    const p = JSON.parse(l) as { id: string; title: string; categoryPath: string[]; price?: number; description?: string };
    const input = { title: p.title, description: p.description ?? '', categoryPath: p.categoryPath, attributes: {} };
    return {
      product: {
        id: p.id,
        ...input,
        ...(p.price !== undefined ? { price: { amount: p.price, currency: 'CNY' } } : {}),
        images: [],
        updatedAt: '2026-01-01T00:00:00.000Z',
        modelVersion: null,
      },
      images: [],
      tokens: tokenize(productText(input)),
      projectionVersion: null,
      contentHash: `bilingual-${p.id}`,
    };
  });
}

export function loadBilingualQueries(): BilingualQuery[] {
  return fs
    .readFileSync(path.join(FIXTURES, 'queries.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [query, ids] = l.split('\t');
      return { query: query.trim(), relevant: ids.split(',').map((x) => x.trim()).filter(Boolean) };
    });
}

function unit(rnd: () => number, dims: number): Float32Array {
  const v = Float32Array.from({ length: dims }, () => Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-12))) * Math.cos(2 * Math.PI * rnd()));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The reseller listing of a product in the "with photos" catalogue: same photo, a title that says nothing. */
export const resellerOf = (id: string) => `rs-${id.slice(3)}`;

/**
 * Gives every product one photo and adds, per product, a reseller listing titled only by an article number
 * ("货号 A-1001") that shows the same photo (re-encoded: cosine ≈ 0.98). The photos are synthetic vectors
 * (the bilingual fixtures have no images), so different products never look alike here: this measures the
 * mechanism of the text → image feedback, not how often real look-alikes would mislead it.
 */
export function withResellerPhotos(records: IndexRecord[]): IndexRecord[] {
  const out: IndexRecord[] = [];
  for (const r of records) {
    const rnd = mulberry32([...r.product.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
    const photo = unit(rnd, INDEX_DIMS);
    const copy = unit(rnd, INDEX_DIMS).map((x, i) => photo[i] + 0.2 * x);
    const n = Math.hypot(...copy);
    const img = (v: Float32Array) => ({ idx: 0, vector: v, descriptor: v, phash: '0000000000000000' });
    out.push({ ...r, images: [img(photo)] });
    const id = resellerOf(r.product.id);
    const title = `货号 A-${1000 + Number(r.product.id.slice(3))}`;
    out.push({
      product: { id, title, description: '', categoryPath: [], attributes: {}, images: [], updatedAt: '2026-01-01T00:00:00.000Z', modelVersion: null },
      images: [img(copy.map((x) => x / n))],
      tokens: tokenize(title),
      projectionVersion: null,
      contentHash: `bilingual-${id}`,
    });
  }
  return out;
}

/** Adds each record's text vector, as ingest does. */
export async function embedRecords(records: IndexRecord[], text: TextEmbedder): Promise<IndexRecord[]> {
  const out: IndexRecord[] = [];
  for (const r of records) {
    out.push({ ...r, textVector: await text.embedOne(productText(r.product), 'passage'), textModel: text.modelVersion });
  }
  return out;
}

export interface BilingualOptions {
  /** semantic text vectors (needs the text model: `npm run fetch:models`); default true */
  semantic?: boolean;
  /** synthetic photos and reseller listings titled by article number only (see withResellerPhotos) */
  photos?: boolean;
}

/** Services over the bilingual catalogue: a real embedded backend and the real text model, no vision model. */
export async function bilingualServices(opts: BilingualOptions = {}): Promise<{ services: Services; close: () => Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sourcing-bilingual-'));
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir });
  const backend: Backend = new EmbeddedBackend({ dir: path.join(dataDir, 'embedded'), dims: INDEX_DIMS, exactBelow: config.search.exactBelow });
  await backend.init();
  let textEmbedder: TextEmbedder | null = null;
  if (opts.semantic ?? true) {
    const t = await createTextEmbedder(config);
    if (!t.embedder) throw new Error(`the bilingual services need the text model: ${t.missing}`);
    textEmbedder = t.embedder;
  }
  let records = loadBilingualCatalogue();
  if (opts.photos) records = withResellerPhotos(records);
  if (textEmbedder) records = await embedRecords(records, textEmbedder);
  await backend.upsert(records);
  await loadDictionary(); // as the server does at start-up

  const services = {
    config,
    backend,
    textEmbedder,
    embedder: { modelVersion: 'none (text only)' },
    fetcher: null,
    projection: { current: { version: 'none' } },
    calibration: null,
    log: () => {},
  } as unknown as Services;
  return {
    services,
    close: async () => {
      await backend.close();
      await textEmbedder?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Listing ids in the order the answer shows them: same-source groups (source, then members), then substitutes. */
export function rankedIds(a: SearchAnswer): string[] {
  const ids = [...a.sameSource.flatMap((g) => [g.source.id, ...g.listings.map((l) => l.id)]), ...a.substitutes.map((x) => x.listing.id)];
  return [...new Set(ids)];
}

export interface BilingualResult {
  query: string;
  relevant: string[];
  got: string[];
  recall: number;
  /** 1-based rank of the first relevant listing, 0 when none is in the first 10 */
  firstRank: number;
  terms: string[];
}

export type Retrieval = NonNullable<Parameters<typeof search>[1]['retrieval']>;

export const MODES: Record<string, Retrieval> = {
  'keyword only': { keyword: true, semantic: false, prf: false },
  'semantic only': { keyword: false, semantic: true, prf: false },
  hybrid: { keyword: true, semantic: true, prf: false },
  'hybrid + image PRF': { keyword: true, semantic: true, prf: true },
};

export async function evalBilingual(
  s: Services,
  queries = loadBilingualQueries(),
  retrieval?: Retrieval,
): Promise<{ recallAt10: number; mrr: number; hitAt1: number; queries: number; results: BilingualResult[] }> {
  const results: BilingualResult[] = [];
  for (const q of queries) {
    const a = await search(s, { text: q.query, limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity', retrieval });
    const got = rankedIds(a).slice(0, 10);
    const recall = q.relevant.filter((id) => got.includes(id)).length / q.relevant.length;
    const firstRank = got.findIndex((id) => q.relevant.includes(id)) + 1;
    results.push({ query: q.query, relevant: q.relevant, got, recall, firstRank, terms: a.query.translation?.terms ?? [] });
  }
  const n = Math.max(1, results.length);
  const recallAt10 = results.reduce((x, r) => x + r.recall, 0) / n;
  const mrr = results.reduce((x, r) => x + (r.firstRank ? 1 / r.firstRank : 0), 0) / n;
  const hitAt1 = results.filter((r) => r.firstRank === 1).length / n;
  return { recallAt10, mrr, hitAt1, queries: results.length, results };
}

const fmt = (r: { recallAt10: number; mrr: number; hitAt1: number }) =>
  `Recall@10 ${r.recallAt10.toFixed(3)}, MRR ${r.mrr.toFixed(3)}, first listing relevant ${(r.hitAt1 * 100).toFixed(0)}%`;

export async function benchBilingual(log: (s: string) => void): Promise<{ recallAt10: number; queries: number; modes: Record<string, number> }> {
  const t0 = performance.now();
  const qs = loadBilingualQueries();
  const modes: Record<string, number> = {};
  const { services, close } = await bilingualServices();
  let r: Awaited<ReturnType<typeof evalBilingual>>;
  try {
    // the baseline: the query's own tokens only, straight to the keyword index
    let base = 0;
    for (const q of qs) {
      const hits = (await services.backend.text(tokenize(q.query), { k: 10 })).map((h) => h.id);
      base += q.relevant.filter((id) => hits.includes(id)).length / q.relevant.length;
    }
    log(`  without translation (original tokens only): Recall@10 ${(base / Math.max(1, qs.length)).toFixed(3)}`);
    // what the text model makes of the English words alone (no dictionary terms): is a Chinese model enough?
    let asWritten = 0;
    for (const q of qs) {
      const v = await services.textEmbedder!.embedOne(q.query, 'query');
      const hits = (await services.backend.knnText(v, { k: 10 })).map((h) => h.id);
      asWritten += q.relevant.filter((id) => hits.includes(id)).length / q.relevant.length;
    }
    log(`  semantic only, English words as written (${services.textEmbedder!.modelVersion}, no translation): Recall@10 ${(asWritten / Math.max(1, qs.length)).toFixed(3)}`);
    for (const [mode, retrieval] of Object.entries(MODES)) {
      if (mode.includes('PRF')) continue; // no photos in this catalogue: the same as hybrid
      const m = await evalBilingual(services, qs, retrieval);
      modes[mode] = m.recallAt10;
      log(`  ${mode.padEnd(18)} ${fmt(m)}`);
    }
    r = await evalBilingual(services, qs);
    const misses = r.results.filter((x) => x.recall < 1 || x.firstRank !== 1);
    log(`  bilingual (English queries, Chinese titles, default search): ${fmt(r)} over ${r.queries} queries, ${services.backend.kind} backend`);
    for (const m of misses) log(`    ${m.recall < 1 ? 'miss' : 'rank ' + m.firstRank} ${JSON.stringify(m.query)} want ${m.relevant.join(',')} got ${m.got.slice(0, 5).join(',')} terms ${m.terms.join(' ')}`);
  } finally {
    await close();
  }
  // the same queries over the catalogue with photos and one "货号 A-10xx" reseller per product (same photo):
  // a reseller is relevant wherever its product is
  const withPhotos = await bilingualServices({ photos: true });
  try {
    const rq = qs.map((q) => ({ query: q.query, relevant: [...q.relevant, ...q.relevant.map(resellerOf)] }));
    log(`  with photos and a reseller per product titled only "货号 A-10xx" (synthetic photos, ${rq.length} queries, relevant = products + their resellers):`);
    for (const [mode, retrieval] of Object.entries(MODES)) {
      const m = await evalBilingual(withPhotos.services, rq, retrieval);
      modes[`photos: ${mode}`] = m.recallAt10;
      log(`    ${mode.padEnd(18)} ${fmt(m)}`);
    }
  } finally {
    await withPhotos.close();
  }
  log(`  (${Math.round(performance.now() - t0)} ms)`);
  return { recallAt10: r.recallAt10, queries: r.queries, modes };
}
