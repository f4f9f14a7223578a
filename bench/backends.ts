// Backend latency, bulk rate and kNN recall at catalogue scale, both backends in one run. Vectors and
// attributes are synthetic (clustered, as real catalogues are); descriptors have the real 1792 dims.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Backend, IndexRecord, RebuildOptions } from '../src/index/backend.ts';
import type { Filters } from '../src/index/components/filters.ts';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import type { ProjectionState } from '../src/index/methods/projection.ts';
import { searchEmbedded } from '../src/match/search.ts';
import type { Services } from '../src/services.ts';
import { tokenize } from '../src/text/tokenize.ts';
import { INDEX_DIMS, project, type Projection } from '../src/vision/projection.ts';
import { gaussian, normalize, prng } from '../test/contract/synthetic.ts';

const DESC = 1792;
const PROVINCES = ['Zhejiang', 'Guangdong', 'Jiangsu', 'Fujian', 'Shandong', 'Hebei'];
const CATS = [['Home', 'Kitchen'], ['Home', 'Office'], ['Toys'], ['Apparel', 'Bags'], ['Packages', 'Milk'], ['Fruit', 'Apple']];
const WORDS = ['保温杯', '书包', 'mug', 'bottle', 'lamp', '玩具', 'backpack', '不锈钢', 'glass', 'ceramic'];

/** Identity on the first 512 descriptor dims: a real-size matrix multiply per query, exact known geometry. */
function identityProjection(): Projection {
  const matrix = new Float32Array(INDEX_DIMS * DESC);
  for (let i = 0; i < INDEX_DIMS; i++) matrix[i * DESC + i] = 1;
  return { kind: 'random', version: 'bench-identity', inDims: DESC, outDims: INDEX_DIMS, samples: 0, mean: new Float32Array(DESC), matrix };
}

export function makeCorpus(n: number, seed = 7) {
  const rnd = prng(seed);
  const centres = Array.from({ length: Math.max(10, Math.floor(n / 50)) }, () => normalize(Float32Array.from({ length: INDEX_DIMS }, () => gaussian(rnd))));
  const records: IndexRecord[] = [];
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rnd() * centres.length)];
    const vector = normalize(c.map((x) => x + (0.6 * gaussian(rnd)) / Math.sqrt(INDEX_DIMS)));
    const descriptor = new Float32Array(DESC);
    descriptor.set(vector);
    const title = `${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]} model ${i}`;
    records.push({
      product: {
        id: `b-${i}`,
        title,
        description: '',
        categoryPath: CATS[i % CATS.length],
        price: { amount: Math.round(rnd() * 10000) / 100, currency: 'CNY' },
        moq: [1, 10, 100, 1000][i % 4],
        supplier: { id: `s-${i % 500}`, name: 'supplier', badges: i % 5 === 0 ? ['factory'] : [], province: PROVINCES[i % PROVINCES.length] },
        attributes: {},
        images: [{ ref: `b-${i}/0` }],
        updatedAt: '2026-01-01T00:00:00.000Z',
        modelVersion: 'bench',
      },
      images: [{ idx: 0, vector, descriptor, phash: (i * 2654435761 % 2 ** 32).toString(16).padStart(16, '0') }],
      tokens: tokenize(title),
      projectionVersion: 'bench-identity',
      contentHash: `h${i}`,
    });
  }
  return { records, centres, rnd };
}

function pct(xs: number[], p: number) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

function exactTopK(records: IndexRecord[], q: Float32Array, k: number): string[] {
  const scored = records.map((r) => {
    let s = 0;
    const v = r.images[0].vector;
    for (let i = 0; i < q.length; i++) s += q[i] * v[i];
    return [s, r.product.id] as const;
  });
  scored.sort((a, b) => b[0] - a[0]);
  return scored.slice(0, k).map((x) => x[1]);
}

export interface BackendReport {
  backend: string;
  n: number;
  bulkDocsPerS: number;
  p50: number;
  p99: number;
  filteredP50: number;
  recallAt10: number;
  note: string;
}

export async function benchBackend(
  name: string,
  backend: Backend,
  base: Services,
  corpus: ReturnType<typeof makeCorpus>,
  log: (s: string) => void,
  opts: { queries?: number; tune?: (numCandidates: number) => void; candidatesGrid?: number[]; bulkSize?: number } = {},
): Promise<BackendReport> {
  const { records, rnd } = corpus;
  let t = performance.now();
  const bulk_ = opts.bulkSize ?? 1000;
  const load = async (write: (r: IndexRecord[]) => Promise<unknown>) => {
    for (let i = 0; i < records.length; i += bulk_) {
      await write(records.slice(i, i + bulk_));
      if (Math.floor((i + bulk_) / 20000) > Math.floor(i / 20000)) log(`    ${name}: ${Math.min(records.length, i + bulk_)}/${records.length} indexed`);
    }
  };
  // bulk loading goes through a rebuild where the backend has one (Elasticsearch: a new index with refresh
  // off and no replicas, then the alias swap), otherwise through acknowledged upserts
  // (no force-merge: on 2 cores merging 100k HNSW graphs into one segment takes longer than the load itself)
  if (backend.rebuild) await backend.rebuild((write) => load(write), { forceMerge: false } as RebuildOptions);
  else await load((r) => backend.upsert(r));
  const bulk = records.length / ((performance.now() - t) / 1000);
  const current = identityProjection();
  const projection = { current, apply: async (d: Float32Array) => project(current, d), applyMany: async (ds: Float32Array[]) => ds.map((d) => project(current, d)) } as unknown as ProjectionState;
  const s: Services = { ...base, backend, projection };
  const nq = opts.queries ?? 300;
  const queries = Array.from({ length: nq }, () => {
    const r = records[Math.floor(rnd() * records.length)];
    const v = normalize(r.images[0].vector.map((x) => x + (0.4 * gaussian(rnd)) / Math.sqrt(INDEX_DIMS)));
    const d = new Float32Array(DESC);
    d.set(v);
    return { descriptor: d, vector: v };
  });
  const filters: Filters[] = [{ priceMax: 50 }, { badge: 'factory' }, { province: 'Zhejiang', maxMoq: 100 }, { category: 'Toys' }];

  // recall@10 of the backend's kNN against exact search; for ES, pick num_candidates on a grid
  let recall = 0;
  let chosen = '';
  for (const nc of opts.candidatesGrid ?? [0]) {
    if (opts.tune) opts.tune(nc);
    let hit = 0;
    const sub = queries.slice(0, 100);
    for (const q of sub) {
      const truth = new Set(exactTopK(records, q.vector, 10));
      const got = await backend.knn(q.vector, { k: 10 });
      hit += got.filter((h) => truth.has(h.id)).length;
    }
    recall = hit / (sub.length * 10);
    if (opts.tune) log(`    ${name}: num_candidates ${nc} → recall@10 ${recall.toFixed(3)}`);
    chosen = opts.tune ? `num_candidates ${nc}` : '';
    if (recall >= 0.95) break;
  }

  const input = { limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' as const };
  const emb = (q: (typeof queries)[number]) => ({ descriptor: q.descriptor, phash: '0000000000000000', width: 1, height: 1, format: 'jpeg' });
  for (const q of queries.slice(0, 20)) await searchEmbedded(s, input, emb(q)); // warm-up
  const lat: number[] = [];
  for (const q of queries) {
    t = performance.now();
    await searchEmbedded(s, input, emb(q));
    lat.push(performance.now() - t);
  }
  const flat: number[] = [];
  for (const [i, q] of queries.slice(0, 100).entries()) {
    t = performance.now();
    await searchEmbedded(s, { ...input, filters: filters[i % filters.length] }, emb(q));
    flat.push(performance.now() - t);
  }
  const r = { backend: name, n: records.length, bulkDocsPerS: bulk, p50: pct(lat, 0.5), p99: pct(lat, 0.99), filteredP50: pct(flat, 0.5), recallAt10: recall, note: chosen };
  log(`    ${name}: bulk ${r.bulkDocsPerS.toFixed(0)} docs/s (batches of ${bulk_}${backend.rebuild ? ', rebuild path' : ', upserts'}), p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, filtered p50 ${r.filteredP50.toFixed(1)} ms, recall@10 ${r.recallAt10.toFixed(3)} ${r.note}`);
  return r;
}

export async function embeddedForBench(exactBelow: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-emb-'));
  const b = new EmbeddedBackend({ dir, dims: INDEX_DIMS, exactBelow });
  await b.init();
  return { backend: b, cleanup: async () => { await b.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}
