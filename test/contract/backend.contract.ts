// The Backend contract: one suite, run against every backend (test/contract.test.ts). Each backend must
// equal brute force (filters: `matches()` from components/filters.ts), so the backends equal each other;
// the qualifying sets are also recorded in `observed` for a direct cross-backend comparison.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, IndexRecord } from '../../src/index/backend.ts';
import type { Product } from '../../src/schema/product.ts';
import { filterAttrs, type Filters } from '../../src/index/components/filters.ts';
import { rrf } from '../../src/index/components/fusion.ts';
import { tokenize } from '../../src/text/tokenize.ts';
import { bruteKnn, bruteKnnText, bruteText, makeCorpus, makeRecord, near, prng, SPECIAL, TEXT_DIMS, TEXT_MODEL, unitVector } from './synthetic.ts';

export interface ContractHooks {
  /** describe.skip the whole suite with this reason */
  skip?: string;
  /** the physical store serving reads now (ES: the index behind the alias) */
  physicalIndex?: (b: Backend) => Promise<string>;
  physicalExists?: (b: Backend, name: string) => Promise<boolean>;
  /** called once after the suite, with the last backend instance (already closed) */
  cleanup?: (b: Backend) => Promise<void>;
}

/** name → case → sorted ids, filled by the suites for a cross-backend comparison */
export const observed: Record<string, Record<string, string[]>> = {};

export const N = 120;

export const FILTER_CASES: Record<string, Filters> = {
  priceMin: { priceMin: 50 },
  priceMax: { priceMax: 100 },
  priceRange: { priceMin: 50, priceMax: 100 },
  priceZero: { priceMax: 0 },
  maxMoq5: { maxMoq: 5 },
  maxMoq1: { maxMoq: 1 },
  categoryRoot: { category: 'Home' },
  categoryInner: { category: 'Kitchen' },
  categoryChinese: { category: '厨房' },
  province: { province: '浙江' },
  provinceLatin: { province: 'Jiangsu' },
  badge: { badge: 'factory' },
  combined: { priceMax: 150, maxMoq: 10, category: 'Home', badge: 'verified' },
  combined2: { priceMin: 9.9, maxMoq: 100, province: '广东' },
  nothing: { category: 'no-such-category' },
};

const ids = (hs: Array<{ id: string }>) => hs.map((h) => h.id);
const sorted = (xs: string[]) => [...xs].sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectSameRecord(got: IndexRecord | null | undefined, want: IndexRecord): void {
  expect(got, want.product.id).toBeTruthy();
  expect(got!.product).toEqual(want.product);
  expect(got!.tokens).toEqual(want.tokens);
  expect(got!.projectionVersion).toBe(want.projectionVersion);
  expect(got!.contentHash).toBe(want.contentHash);
  expect(got!.images.map((i) => [i.idx, i.phash])).toEqual(want.images.map((i) => [i.idx, i.phash]));
  got!.images.forEach((im, j) => {
    expect(maxAbsDiff(im.vector, want.images[j].vector)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(im.descriptor, want.images[j].descriptor)).toBeLessThanOrEqual(1e-6);
  });
  // a record written without a text vector (absent or null) reads back with null
  if (want.textVector) {
    expect(got!.textVector, `${want.product.id} text vector`).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(got!.textVector!, want.textVector)).toBeLessThanOrEqual(1e-6);
    expect(got!.textModel).toBe(want.textModel);
  } else {
    expect(got!.textVector ?? null, `${want.product.id} has no text vector`).toBeNull();
    expect(got!.textModel ?? null).toBeNull();
  }
}

export function backendContract(name: string, makeBackend: () => Promise<Backend>, hooks: ContractHooks = {}): void {
  describe.skipIf(!!hooks.skip)(`Backend contract: ${name}${hooks.skip ? ` (skipped: ${hooks.skip})` : ''}`, () => {
    const corpus = makeCorpus(N);
    /** what the backend should hold now (updated by the mutation tests) */
    const model = new Map(corpus.byId);
    const seen: Record<string, string[]> = (observed[name] = {});
    const rnd = prng(7);
    let b: Backend;

    beforeAll(async () => {
      b = await makeBackend();
      await b.init();
    });
    afterAll(async () => {
      if (b) {
        await b.close().catch(() => undefined);
        await hooks.cleanup?.(b);
      }
    });

    it('ingests: every record acknowledged, count matches', async () => {
      const half = Math.ceil(N / 2);
      const r1 = await b.upsert(corpus.records.slice(0, half));
      const r2 = await b.upsert(corpus.records.slice(half));
      expect([...r1, ...r2].filter((r) => !r.ok)).toEqual([]);
      expect(ids([...r1, ...r2])).toEqual(corpus.records.map((r) => r.product.id));
      expect(await b.count()).toBe(N);
      expect(await b.upsert([])).toEqual([]);
    });

    it('get/getMany round-trip the records exactly (vectors within 1e-6)', async () => {
      const all = await b.getMany(corpus.records.map((r) => r.product.id));
      expect(all.size).toBe(N);
      for (const r of corpus.records) expectSameRecord(all.get(r.product.id), r);
      expectSameRecord(await b.get('p-007'), corpus.byId.get('p-007')!);
      expect(await b.get('no-such-id')).toBeNull();
      const some = await b.getMany(['p-002', 'no-such-id', 'p-001']);
      expect([...some.keys()]).toEqual(['p-002', 'p-001']);
      expect((await b.getMany([])).size).toBe(0);
    });

    it('kNN equals brute force on small data (ids, order, scores, best image)', async () => {
      const withImages = corpus.records.filter((r) => r.images.length);
      for (let q = 0; q < 16; q++) {
        const base = withImages[Math.floor(rnd() * withImages.length)];
        const query = q % 2 ? unitVector(rnd) : near(rnd, base.images[base.images.length - 1].vector, 0.6);
        const got = await b.knn(query, { k: 10 });
        const want = bruteKnn(model.values(), query, 10);
        expect(ids(got)).toEqual(ids(want));
        got.forEach((h, i) => {
          expect(h.score).toBeCloseTo(want[i].score, 5);
          if (h.imageIdx !== undefined) expect(h.imageIdx).toBe(want[i].imageIdx);
        });
        if (q % 2 === 0) expect(got[0].id).toBe(base.product.id);
      }
    });

    it('kNN with each filter qualifies exactly the products matches() qualifies', async () => {
      const query = unitVector(prng(99));
      for (const [caseName, filters] of Object.entries(FILTER_CASES)) {
        const got = await b.knn(query, { k: N * 2, filters });
        const want = bruteKnn(model.values(), query, N * 2, filters);
        expect(sorted(ids(got)), caseName).toEqual(sorted(ids(want)));
        expect(ids(got).slice(0, 5), caseName).toEqual(ids(want).slice(0, 5));
        if (caseName !== 'nothing') expect(want.length, `${caseName} qualifies something`).toBeGreaterThan(0);
        seen[`knn:${caseName}`] = sorted(ids(got));
        // small k: the filter is applied inside the search, so k qualifying hits still come back
        const top3 = await b.knn(query, { k: 3, filters });
        expect(ids(top3), caseName).toEqual(ids(want).slice(0, 3));
      }
      // the data exercises the edge cases of matches()
      const noMoq = [...model.values()].filter((r) => r.images.length && r.product.moq === undefined).map((r) => r.product.id);
      expect(noMoq.length).toBeGreaterThan(0);
      for (const id of noMoq) expect(seen['knn:maxMoq1']).toContain(id);
      const noPrice = [...model.values()].filter((r) => filterAttrs(r.product).price === null).map((r) => r.product.id);
      expect(noPrice.length).toBeGreaterThan(0);
      for (const id of noPrice) expect(seen['knn:priceMax']).not.toContain(id);
      expect(seen['knn:priceRange'].some((id) => model.get(id)!.product.price!.amount === 50)).toBe(true);
      expect(seen['knn:priceRange'].some((id) => model.get(id)!.product.price!.amount === 100)).toBe(true);
    });

    it('kNN of many vectors at once answers each as brute force would, in order, with and without filters', async () => {
      const withImages = corpus.records.filter((r) => r.images.length);
      const r2 = prng(31);
      const queries = Array.from({ length: 9 }, (_, q) => {
        const base = withImages[Math.floor(r2() * withImages.length)];
        return q % 3 ? near(r2, base.images[0].vector, 0.5) : unitVector(r2);
      });
      expect(await b.knnMany([], { k: 5 })).toEqual([]);
      for (const filters of [undefined, FILTER_CASES.combined2, FILTER_CASES.nothing]) {
        const got = await b.knnMany(queries, { k: 7, filters });
        expect(got).toHaveLength(queries.length);
        got.forEach((hits, i) => {
          const want = bruteKnn(model.values(), queries[i], 7, filters);
          expect(ids(hits)).toEqual(ids(want));
          hits.forEach((h, j) => {
            expect(h.score).toBeCloseTo(want[j].score, 5);
            if (h.imageIdx !== undefined) expect(h.imageIdx).toBe(want[j].imageIdx);
          });
        });
      }
    });

    it('text-vector kNN equals brute force (ids, order, scores); records without a text vector never hit', async () => {
      const withText = corpus.records.filter((r) => r.textVector);
      const without = corpus.records.filter((r) => !r.textVector).map((r) => r.product.id);
      expect(without.length).toBeGreaterThan(10);
      expect(corpus.records.some((r) => !('textVector' in r))).toBe(true);
      for (let q = 0; q < 12; q++) {
        const base = withText[Math.floor(rnd() * withText.length)];
        const query = q % 2 ? unitVector(rnd, TEXT_DIMS) : near(rnd, base.textVector!, 0.6);
        const got = await b.knnText(query, { k: 10 });
        const want = bruteKnnText(model.values(), query, 10);
        expect(ids(got)).toEqual(ids(want));
        got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i].score, 5));
        if (q % 2 === 0) expect(got[0].id).toBe(base.product.id);
      }
      const all = await b.knnText(unitVector(prng(4), TEXT_DIMS), { k: N * 2 });
      expect(all).toHaveLength(withText.length);
      for (const id of without) expect(ids(all)).not.toContain(id);
      expect(await b.knnText(unitVector(prng(5), TEXT_DIMS), { k: 3 })).toHaveLength(3);
    });

    it('text-vector kNN applies each filter inside the search', async () => {
      const query = unitVector(prng(98), TEXT_DIMS);
      for (const [caseName, filters] of Object.entries(FILTER_CASES)) {
        const got = await b.knnText(query, { k: N * 2, filters });
        const want = bruteKnnText(model.values(), query, N * 2, filters);
        expect(sorted(ids(got)), caseName).toEqual(sorted(ids(want)));
        expect(ids(got).slice(0, 5), caseName).toEqual(ids(want).slice(0, 5));
        seen[`knnText:${caseName}`] = sorted(ids(got));
        const top3 = await b.knnText(query, { k: 3, filters });
        expect(ids(top3), caseName).toEqual(ids(want).slice(0, 3));
      }
    });

    it('hybrid: keyword and text-vector hits fused by rrf (as the search verb does) qualify the same products', async () => {
      const toks = tokenize('保温杯 mug backpack');
      const v = near(prng(31), corpus.byId.get('p-033')!.textVector!, 0.5);
      for (const [caseName, filters] of Object.entries({ none: undefined, ...FILTER_CASES })) {
        const [kw, sem] = await Promise.all([b.text(toks, { k: N * 2, filters }), b.knnText(v, { k: 20, filters })]);
        const fused = rrf({ text: kw, semantic: sem });
        const want = new Set([...bruteText(model.values(), toks, filters), ...ids(bruteKnnText(model.values(), v, 20, filters))]);
        expect(sorted(ids(fused)), caseName).toEqual(sorted([...want]));
        seen[`hybrid:${caseName}`] = sorted(ids(fused));
      }
      const both = rrf({ text: await b.text(tokenize('stainless steel thermos flask'), { k: 10 }), semantic: await b.knnText(v, { k: 10 }) });
      expect(both[0].id).toBe('p-033');
      expect(Object.keys(both[0].ranks).sort()).toEqual(['semantic', 'text']);
    });

    it('text search finds the right product (Chinese and English)', async () => {
      const zh = tokenize('保温杯');
      const zhHits = await b.text(zh, { k: 10 });
      expect(zhHits[0]?.id).toBe('p-007');
      // 保温 alone also matches the lunch box and the vacuum flasks: OR semantics over our tokens
      expect(ids(zhHits)).toContain('p-021');
      const en = tokenize('Thermos');
      expect(ids(await b.text(en, { k: 10 }))).toEqual(['p-033']);
      expect(await b.text([], { k: 10 })).toEqual([]);
      expect(await b.text(['no-such-token-xyz'], { k: 10 })).toEqual([]);
      for (const [qname, text] of Object.entries({ zh: '保温杯', en: 'glass water bottle', mixed: '陶瓷 mug 书包 model17' })) {
        const toks = tokenize(text);
        const got = await b.text(toks, { k: N * 2 });
        expect(sorted(ids(got)), qname).toEqual(bruteText(model.values(), toks));
        seen[`text:${qname}`] = sorted(ids(got));
        // scores are descending
        for (let i = 1; i < got.length; i++) expect(got[i].score).toBeLessThanOrEqual(got[i - 1].score);
      }
    });

    it('text search applies the same filters', async () => {
      const toks = tokenize('杯 mug bottle backpack 书包 toy 台灯 款1 款2 款3');
      for (const [caseName, filters] of Object.entries(FILTER_CASES)) {
        const got = await b.text(toks, { k: N * 2, filters });
        const want = bruteText(model.values(), toks, filters);
        expect(sorted(ids(got)), caseName).toEqual(want);
        seen[`text:${caseName}`] = sorted(ids(got));
      }
    });

    it('respects k (and k larger than the corpus)', async () => {
      const q = unitVector(prng(5));
      expect(await b.knn(q, { k: 1 })).toHaveLength(1);
      expect(await b.knn(q, { k: 3 })).toHaveLength(3);
      const withImages = [...model.values()].filter((r) => r.images.length).length;
      expect(await b.knn(q, { k: 10_000 })).toHaveLength(withImages);
      const toks = tokenize('model1 model2 model3 model4 款1');
      expect(await b.text(toks, { k: 2 })).toHaveLength(2);
      expect(await b.text(toks, { k: 10_000 })).toHaveLength(bruteText(model.values(), toks).length);
    });

    it('scan visits every record exactly once', async () => {
      const visited: string[] = [];
      for await (const batch of b.scan(7)) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(7);
        for (const r of batch) {
          visited.push(r.product.id);
          expectSameRecord(r, model.get(r.product.id)!);
        }
      }
      expect(visited.length).toBe(new Set(visited).size);
      expect(sorted(visited)).toEqual(sorted([...model.keys()]));
      expect(visited.length).toBe(await b.count());
    });

    it('meta round-trips (4 MB binary), overwrites, and misses', async () => {
      const r = prng(11);
      const big = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = Math.floor(r() * 256);
      expect(await b.getMeta('contract-missing')).toBeNull();
      await b.setMeta('contract-small', Buffer.from('first'));
      await b.setMeta('contract-small', Buffer.from('second'));
      expect((await b.getMeta('contract-small'))?.toString()).toBe('second');
      await b.setMeta('projection', big);
      const back = await b.getMeta('projection');
      expect(back?.length).toBe(big.length);
      expect(back!.equals(big)).toBe(true);
    });

    it('update replaces the record (images, filters, tokens)', async () => {
      const old = [...model.values()].find((r) => r.images.length > 1 && r.product.id > 'p-010' && !SPECIAL[r.product.id])!;
      const id = old.product.id;
      const r = prng(1234);
      const fresh = makeRecord(r, Number(id.slice(2)), { projectionVersion: 'test-proj-2' });
      fresh.product = { ...fresh.product, title: 'replaced', categoryPath: ['Replaced'], price: { amount: 999.99, currency: 'CNY' }, moq: 3 };
      fresh.images = [{ idx: 0, vector: unitVector(r), descriptor: unitVector(r, 1792), phash: '0123456789abcdef' }];
      fresh.product.images = [{ ref: `${id}/0/new` }];
      fresh.tokens = ['replacedtoken', '替换'];
      fresh.textVector = unitVector(r, TEXT_DIMS);
      fresh.textModel = TEXT_MODEL;
      expect(await b.upsert([fresh])).toEqual([{ id, ok: true }]);
      model.set(id, fresh);
      expectSameRecord(await b.get(id), fresh);
      expect(await b.count()).toBe(N);
      const hit = (await b.knn(fresh.images[0].vector, { k: 1 }))[0];
      expect(hit.id).toBe(id);
      expect(hit.score).toBeCloseTo(1, 5);
      // the old second image is gone: querying with it finds the product (if at all) only through its new image
      const oldQ = old.images[1].vector;
      expect(ids(await b.knn(oldQ, { k: 5 }))).toEqual(ids(bruteKnn(model.values(), oldQ, 5)));
      expect(ids(await b.knn(oldQ, { k: 5, filters: { category: 'Replaced' } }))).toEqual([id]);
      expect(ids(await b.knn(oldQ, { k: 5, filters: { priceMin: 999.99, maxMoq: 3 } }))).toEqual([id]);
      expect(ids(await b.text(['replacedtoken'], { k: 5 }))).toEqual([id]);
      const oldOnly = old.tokens.filter((t) => t === `model${Number(id.slice(2))}`);
      expect(oldOnly).toHaveLength(1);
      expect(ids(await b.text(oldOnly, { k: 5 }))).not.toContain(id);
      // the text vector is replaced too; the old one finds the product no more
      const textHit = (await b.knnText(fresh.textVector, { k: 1 }))[0];
      expect(textHit.id).toBe(id);
      expect(textHit.score).toBeCloseTo(1, 5);
      if (old.textVector) expect(ids(await b.knnText(old.textVector, { k: 3 }))).not.toContain(id);
      // and a record rewritten without one (e.g. by a service without a text model) leaves the text space
      const plain = { ...fresh, textVector: null, textModel: null };
      expect(await b.upsert([plain])).toEqual([{ id, ok: true }]);
      expect(ids(await b.knnText(fresh.textVector, { k: N * 2 }))).not.toContain(id);
      expect(await b.upsert([fresh])).toEqual([{ id, ok: true }]);
    });

    it('delete removes the record from every read', async () => {
      const gone = model.get('p-020')!;
      expect(await b.delete('p-020')).toBe(true);
      expect(await b.delete('p-020')).toBe(false);
      expect(await b.delete('no-such-id')).toBe(false);
      model.delete('p-020');
      expect(await b.get('p-020')).toBeNull();
      expect(await b.count()).toBe(N - 1);
      if (gone.images.length) expect(ids(await b.knn(gone.images[0].vector, { k: N }))).not.toContain('p-020');
      expect(ids(await b.text(gone.tokens, { k: N * 2 }))).not.toContain('p-020');
      expect(gone.textVector).toBeTruthy();
      expect(ids(await b.knnText(gone.textVector!, { k: N * 2 }))).not.toContain('p-020');
    });

    it('round-trips same-source extras and counts listings per group', async () => {
      const base = corpus.records.filter((r) => r.images.length >= 2).slice(0, 3);
      const blobs = [new Uint8Array([1, 2, 3, 250]), null];
      const recs = base.map((r, i) => ({
        ...r,
        product: { ...r.product, id: `x-${i}` },
        extras: { ocrText: i === 0 ? 'ARLA 牛奶\n1,5 L' : '', local: r.images.map((_, j) => (j === 0 ? blobs[0] : blobs[1])), sourceGroupId: i < 2 ? 'x-0' : 'x-2' },
      }));
      expect((await b.upsert(recs)).every((r) => r.ok)).toBe(true);
      const got = await b.getMany(recs.map((r) => r.product.id));
      for (const r of recs) {
        const g = got.get(r.product.id)!;
        expect(g.extras?.ocrText).toBe(r.extras.ocrText);
        expect(g.extras?.sourceGroupId).toBe(r.extras.sourceGroupId);
        expect(g.extras?.local?.map((x) => (x ? [...x] : null))).toEqual(r.extras.local.map((x) => (x ? [...x] : null)));
      }
      const sizes = await b.groupSizes(['x-0', 'x-2', 'x-9']);
      expect(Object.fromEntries(sizes)).toEqual({ 'x-0': 2, 'x-2': 1, 'x-9': 0 });
      // a record written without extras reads back without them
      expect((await b.get('p-001'))?.extras).toBeUndefined();
      for (const r of recs) await b.delete(r.product.id);
      expect(Object.fromEntries(await b.groupSizes(['x-0']))).toEqual({ 'x-0': 0 });
    });

    it('lists a group\'s members in source order (factory, earliest, cheapest), with the filters applied', async () => {
      const base = corpus.records.slice(0, 5);
      const claim: Array<{ group: string; badges: NonNullable<Product['supplier']>['badges']; listedAt?: string; price?: number }> = [
        { group: 'gm-A', badges: [], listedAt: '2024-03-01T00:00:00+08:00', price: 5 },
        { group: 'gm-A', badges: ['factory'], listedAt: '2024-05-01T00:00:00Z', price: 9 },
        // later than gm-0 by an hour, though its text sorts first: dates are compared as instants
        { group: 'gm-A', badges: ['verified'], listedAt: '2024-02-29T17:00:00Z', price: 1 },
        { group: 'gm-A', badges: [], price: 2 },
        { group: 'gm-B', badges: ['factory'], listedAt: '2023-01-01T00:00:00Z' },
      ];
      const recs = base.map((r, i) => {
        const c = claim[i];
        const { listedAt: _l, price: _p, ...rest } = r.product;
        return {
          ...r,
          product: {
            ...rest,
            id: `gm-${i}`,
            supplier: { id: `s-gm-${i}`, name: `Supplier gm-${i}`, badges: c.badges },
            ...(c.listedAt ? { listedAt: c.listedAt } : {}),
            ...(c.price !== undefined ? { price: { amount: c.price, currency: 'CNY' } } : {}),
          },
          extras: { sourceGroupId: c.group },
        };
      });
      expect((await b.upsert(recs)).every((r) => r.ok)).toBe(true);
      expect(await b.groupMembers(['gm-A'], { k: 10 })).toEqual(['gm-1', 'gm-0', 'gm-2', 'gm-3']);
      expect(await b.groupMembers(['gm-A'], { k: 2 })).toEqual(['gm-1', 'gm-0']);
      expect(await b.groupMembers(['gm-A', 'gm-B', 'gm-A'], { k: 10 })).toEqual(['gm-4', 'gm-1', 'gm-0', 'gm-2', 'gm-3']);
      expect(await b.groupMembers(['gm-A'], { k: 10, filters: { priceMax: 6 } })).toEqual(['gm-0', 'gm-2', 'gm-3']);
      expect(await b.groupMembers(['gm-A', 'gm-B'], { k: 10, filters: { badge: 'factory' } })).toEqual(['gm-4', 'gm-1']);
      expect(await b.groupMembers(['gm-none'], { k: 10 })).toEqual([]);
      expect(await b.groupMembers([], { k: 10 })).toEqual([]);
      await b.delete('gm-1');
      expect(await b.groupMembers(['gm-A'], { k: 10 })).toEqual(['gm-0', 'gm-2', 'gm-3']);
      for (const r of recs) await b.delete(r.product.id);
      expect(await b.groupMembers(['gm-A', 'gm-B'], { k: 10 })).toEqual([]);
    });

    it('is durable across close and reopen', async () => {
      const q = unitVector(prng(77));
      const before = await b.knn(q, { k: 10, filters: { maxMoq: 50 } });
      const tq = unitVector(prng(78), TEXT_DIMS);
      const textBefore = await b.knnText(tq, { k: 10, filters: { maxMoq: 50 } });
      expect(textBefore.length).toBeGreaterThan(0);
      const meta = await b.getMeta('projection');
      await b.close();
      b = await makeBackend();
      await b.init();
      expect(await b.count()).toBe(model.size);
      const all = await b.getMany([...model.keys()]);
      for (const [id, r] of model) expectSameRecord(all.get(id), r);
      expect(await b.knn(q, { k: 10, filters: { maxMoq: 50 } })).toEqual(before);
      expect(await b.knnText(tq, { k: 10, filters: { maxMoq: 50 } })).toEqual(textBefore);
      expect((await b.getMeta('projection'))!.equals(meta!)).toBe(true);
    });

    it('rebuilds into a new store while searches keep answering', async (ctx) => {
      if (!b.rebuild) return ctx.skip(`${name} has no rebuild()`);
      const physicalBefore = await hooks.physicalIndex?.(b);
      const meta = await b.getMeta('projection');
      let stop = false;
      let searches = 0;
      const failures: string[] = [];
      const zh = tokenize('保温杯');
      const loop = (async () => {
        const r = prng(3);
        while (!stop) {
          try {
            const [k, t] = await Promise.all([b.knn(unitVector(r), { k: 5 }), b.text(zh, { k: 5 })]);
            if (!k.length || !t.length) failures.push(`empty answer (knn ${k.length}, text ${t.length})`);
            searches++;
          } catch (e) {
            failures.push(String(e));
          }
          await sleep(5);
        }
      })();

      const rebuilt = [...model.values()]
        .filter((r) => r.product.id !== 'p-119')
        .map((r) => ({ ...r, contentHash: `rebuilt-${r.product.id}`, tokens: [...r.tokens, 'rebuiltmarker'] }));
      const live = makeRecord(prng(8), 500);
      let liveDone = false;
      const res = await b.rebuild(async (write) => {
        for (let i = 0; i < rebuilt.length; i += 20) {
          const out = await write(rebuilt.slice(i, i + 20));
          expect(out.every((x) => x.ok)).toBe(true);
          if (i === 20) {
            // live writes during the build go to both stores: newer than the build's own copy
            expect(await b.upsert([live])).toEqual([{ id: live.product.id, ok: true }]);
            expect(await b.delete('p-118')).toBe(true);
            liveDone = true;
          }
          await sleep(100);
        }
        // until the swap, the current store serves the old data
        expect((await b.get('p-001'))!.contentHash).toBe(model.get('p-001')!.contentHash);
        expect(ids(await b.text(['rebuiltmarker'], { k: 5 }))).toEqual([]);
      });
      stop = true;
      await loop;
      expect(liveDone).toBe(true);
      expect(failures).toEqual([]);
      expect(searches).toBeGreaterThan(3);
      expect(res.failed).toBe(0);

      model.delete('p-119');
      model.delete('p-118');
      for (const r of rebuilt) if (model.has(r.product.id)) model.set(r.product.id, r);
      model.set(live.product.id, live);
      expect(await b.count()).toBe(model.size);
      expect((await b.get('p-001'))!.contentHash).toBe('rebuilt-p-001');
      expect(await b.get('p-119')).toBeNull();
      expect(await b.get('p-118')).toBeNull();
      expectSameRecord(await b.get(live.product.id), live);
      expect(sorted(ids(await b.text(['rebuiltmarker'], { k: N * 2 })))).toEqual(sorted([...model.keys()].filter((id) => id !== live.product.id)));
      const q = unitVector(prng(21));
      expect(ids(await b.knn(q, { k: 10 }))).toEqual(ids(bruteKnn(model.values(), q, 10)));
      const tq = unitVector(prng(22), TEXT_DIMS);
      expect(ids(await b.knnText(tq, { k: 10 }))).toEqual(ids(bruteKnnText(model.values(), tq, 10)));
      // meta travels with the store
      expect((await b.getMeta('projection'))!.equals(meta!)).toBe(true);
      if (hooks.physicalIndex && hooks.physicalExists && physicalBefore) {
        const after = await hooks.physicalIndex(b);
        expect(after).not.toBe(physicalBefore);
        expect(await hooks.physicalExists(b, physicalBefore)).toBe(false);
      }
    });

    it('a rebuilt store is the one a reopen finds; a build that throws leaves the current store as it was', async (ctx) => {
      if (!b.rebuild) return ctx.skip(`${name} has no rebuild()`);
      await b.close();
      b = await makeBackend();
      await b.init();
      expect(await b.count()).toBe(model.size);
      expect((await b.get('p-001'))!.contentHash).toBe('rebuilt-p-001');
      const before = await hooks.physicalIndex?.(b);
      await expect(
        b.rebuild!(async (write) => {
          await write([{ ...model.get('p-001')!, contentHash: 'never-swapped' }]);
          throw new Error('build failed on purpose');
        }),
      ).rejects.toThrow('build failed on purpose');
      expect(await b.count()).toBe(model.size);
      expect((await b.get('p-001'))!.contentHash).toBe('rebuilt-p-001');
      if (hooks.physicalIndex) expect(await hooks.physicalIndex(b)).toBe(before);
      // writes after a discarded build go to the current store only, and stay
      const live = makeRecord(prng(9), 501);
      expect(await b.upsert([live])).toEqual([{ id: live.product.id, ok: true }]);
      model.set(live.product.id, live);
      expect(await b.count()).toBe(model.size);
    });
  });
}
