// Synthetic index records for backend tests: seeded, no model needed. Random unit 512-d vectors, varied
// filter attributes (missing price/MOQ/supplier included), Chinese and English titles tokenised with our
// tokenizer, and brute-force references for kNN and text search built on `matches()`.
import type { Hit, IndexRecord } from '../../src/index/backend.ts';
import { filterAttrs, matches, type Filters } from '../../src/index/components/filters.ts';
import type { Product } from '../../src/schema/product.ts';
import { productText, tokenize } from '../../src/text/tokenize.ts';

export const DIMS = 512;
export const DESCRIPTOR_DIMS = 1792;
export const TEXT_DIMS = 512;
export const TEXT_MODEL = 'test-text-model-1';

import { mulberry32 as prng } from '../../src/util/prng.ts';

export { prng };

export function gaussian(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

export function unitVector(rnd: () => number, dims = DIMS): Float32Array {
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = gaussian(rnd);
  return normalize(v);
}

export function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return v.map((x) => x / n);
}

/** A query near `base`: base + noise, normalised. */
export function near(rnd: () => number, base: Float32Array, noise: number): Float32Array {
  return normalize(base.map((x) => x + noise * gaussian(rnd) / Math.sqrt(base.length)));
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

const CATEGORIES: string[][] = [
  ['Home', 'Kitchen', 'Drinkware'],
  ['Home', 'Office'],
  ['Toys'],
  ['Apparel', 'Bags'],
  ['家居', '厨房'],
  [],
];
const PROVINCES = ['浙江', '广东', 'Jiangsu', 'Fujian'];
const BADGES = ['factory', 'verified', 'trade_assurance', 'gold'] as const;
const TITLES = [
  '陶瓷马克杯',
  '儿童书包',
  '玻璃水杯',
  'LED台灯',
  'ceramic coffee mug',
  'kids school backpack',
  'glass water bottle',
  'wooden desk organizer',
  '真空保温壶',
  'plush toy bear',
];
/** Titles that exist exactly once, for "finds the right product" checks. */
export const SPECIAL: Record<string, string> = {
  'p-007': '不锈钢保温杯 500ml',
  'p-021': '保温饭盒 双层',
  'p-033': 'stainless steel thermos flask',
};

export interface Corpus {
  records: IndexRecord[];
  byId: Map<string, IndexRecord>;
}

export function makeRecord(rnd: () => number, i: number, opts: { projectionVersion?: string } = {}): IndexRecord {
  const id = `p-${String(i).padStart(3, '0')}`;
  const nImages = i === 5 || i === 6 ? 0 : pick(rnd, [1, 1, 2, 2, 3]);
  // boundary prices on purpose (50 and 100 are filter bounds in the tests)
  const price = i % 5 === 4 ? undefined : pick(rnd, [0, 9.9, 50, 50.01, 99.99, 100, 150, Math.round(rnd() * 20000) / 100]);
  const moq = i % 4 === 3 ? undefined : pick(rnd, [1, 2, 5, 6, 10, 50, 100, 1000]);
  const hasSupplier = i % 7 !== 6;
  const title = SPECIAL[id] ?? `${pick(rnd, TITLES)} 款${i % 10} model${i}`;
  const categoryPath = pick(rnd, CATEGORIES);
  const attributes: Record<string, string | number | boolean> = { colour: pick(rnd, ['red', '蓝色', 'black']), weight: Math.round(rnd() * 1000) };
  const input = { title, description: i % 3 === 0 ? `description of item ${i}` : '', categoryPath, attributes };
  const product: Product = {
    id,
    ...input,
    ...(price !== undefined ? { price: { amount: price, currency: 'CNY' } } : {}),
    ...(moq !== undefined ? { moq } : {}),
    ...(hasSupplier
      ? {
          supplier: {
            id: `s-${i % 13}`,
            name: `Supplier ${i % 13}`,
            badges: BADGES.filter(() => rnd() < 0.4),
            ...(i % 11 === 10 ? {} : { province: pick(rnd, PROVINCES) }),
          },
        }
      : {}),
    images: Array.from({ length: nImages }, (_, idx) => ({ ref: `${id}/${idx}/abc`, url: `https://img.example.com/${id}/${idx}.jpg` })),
    updatedAt: new Date(Date.UTC(2025, 0, 1 + (i % 28))).toISOString(),
    modelVersion: nImages ? 'test-model-1' : null,
  };
  return {
    product,
    images: Array.from({ length: nImages }, (_, idx) => ({
      idx,
      vector: unitVector(rnd),
      descriptor: Float32Array.from({ length: DESCRIPTOR_DIMS }, () => gaussian(rnd) * 3),
      phash: Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0') + Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0'),
    })),
    tokens: tokenize(productText(input)),
    projectionVersion: opts.projectionVersion ?? 'test-proj-1',
    contentHash: `hash-${id}-${Math.floor(rnd() * 1e9)}`,
    // every 9th record is "old": indexed before text vectors (field absent), every 9th+4 has an explicit null;
    // drawn from their own seed, so that the other fields stay what they were before text vectors existed
    ...(i % 9 === 8 ? {} : i % 9 === 4 ? { textVector: null, textModel: null } : { textVector: unitVector(prng(10_000 + i), TEXT_DIMS), textModel: TEXT_MODEL }),
  };
}

export function makeCorpus(n: number, seed = 42): Corpus {
  const rnd = prng(seed);
  const records = Array.from({ length: n }, (_, i) => makeRecord(rnd, i));
  return { records, byId: new Map(records.map((r) => [r.product.id, r])) };
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** Exact kNN over the records (best image per product), with `matches()` as the filter. */
export function bruteKnn(records: Iterable<IndexRecord>, q: Float32Array, k: number, filters?: Filters): Hit[] {
  const out: Hit[] = [];
  for (const r of records) {
    if (!r.images.length || !matches(filterAttrs(r.product), filters)) continue;
    let best = -Infinity;
    let idx = 0;
    for (const im of r.images) {
      const s = dot(q, im.vector);
      if (s > best) (best = s), (idx = im.idx);
    }
    out.push({ id: r.product.id, score: best, imageIdx: idx });
  }
  return out.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, k);
}

/** Ids of the records that have any of the tokens and pass the filters. */
export function bruteText(records: Iterable<IndexRecord>, tokens: string[], filters?: Filters): string[] {
  const want = new Set(tokens);
  const out: string[] = [];
  for (const r of records) if (r.tokens.some((t) => want.has(t)) && matches(filterAttrs(r.product), filters)) out.push(r.product.id);
  return out.sort();
}

/** Exact kNN over the records' text vectors (records without one never hit), with `matches()` as the filter. */
export function bruteKnnText(records: Iterable<IndexRecord>, q: Float32Array, k: number, filters?: Filters): Hit[] {
  const out: Hit[] = [];
  for (const r of records) {
    if (!r.textVector || !matches(filterAttrs(r.product), filters)) continue;
    out.push({ id: r.product.id, score: dot(q, r.textVector) });
  }
  return out.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, k);
}
