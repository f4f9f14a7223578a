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

/** Text-only services over the bilingual catalogue: a real embedded backend, no vision model. */
export async function bilingualServices(): Promise<{ services: Services; close: () => Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sourcing-bilingual-'));
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir });
  const backend: Backend = new EmbeddedBackend({ dir: path.join(dataDir, 'embedded'), dims: INDEX_DIMS, exactBelow: config.search.exactBelow });
  await backend.init();
  await backend.upsert(loadBilingualCatalogue());
  await loadDictionary(); // as the server does at start-up

  const services = {
    config,
    backend,
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

export async function evalBilingual(s: Services, queries = loadBilingualQueries()): Promise<{ recallAt10: number; mrr: number; hitAt1: number; queries: number; results: BilingualResult[] }> {
  const results: BilingualResult[] = [];
  for (const q of queries) {
    const a = await search(s, { text: q.query, limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' });
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

export async function benchBilingual(log: (s: string) => void): Promise<{ recallAt10: number; queries: number }> {
  const t0 = performance.now();
  const { services, close } = await bilingualServices();
  try {
    const r = await evalBilingual(services);
    // the baseline: the query's own tokens only, straight to the keyword index
    let base = 0;
    const qs = loadBilingualQueries();
    for (const q of qs) {
      const hits = (await services.backend.text(tokenize(q.query), { k: 10 })).map((h) => h.id);
      base += q.relevant.filter((id) => hits.includes(id)).length / q.relevant.length;
    }
    log(`  without translation (original tokens only): Recall@10 ${(base / Math.max(1, qs.length)).toFixed(3)}`);
    const misses = r.results.filter((x) => x.recall < 1 || x.firstRank !== 1);
    log(`  bilingual (English queries, Chinese titles): Recall@10 ${r.recallAt10.toFixed(3)}, MRR ${r.mrr.toFixed(3)}, first hit relevant ${(r.hitAt1 * 100).toFixed(0)}% over ${r.queries} queries, ${services.backend.kind} backend, ${Math.round(performance.now() - t0)} ms`);
    for (const m of misses) log(`    ${m.recall < 1 ? 'miss' : 'rank ' + m.firstRank} ${JSON.stringify(m.query)} want ${m.relevant.join(',')} got ${m.got.slice(0, 5).join(',')} terms ${m.terms.join(' ')}`);
    return { recallAt10: r.recallAt10, queries: r.queries };
  } finally {
    await close();
  }
}
