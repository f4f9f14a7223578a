// Same source and substitutes end to end, on both backends, with the real model, real OCR and real local
// features: factory listings of real Grocery catalogue images, reseller copies of some of them made by the
// seeded generator (crop, watermark, Chinese text, border, mirror), and look-alike products of the same
// brand and category. Copies must group with their original, at index time and in the answer; the factory
// listing must be elected; look-alikes must land in substitutes, not in the group.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Backend } from '../src/index/backend.ts';
import { ElasticsearchBackend } from '../src/index/elasticsearch/backend.ts';
import { buildRecord, writeRecords } from '../src/index/methods/ingest.ts';
import { search } from '../src/match/search.ts';
import type { ProductInput } from '../src/schema/product.ts';
import { makeCopy, type Alteration } from '../src/demo/reseller.ts';
import { classTitle, readClasses, type GroceryClass } from '../src/demo/grocery.ts';
import { INDEX_DIMS } from '../src/vision/projection.ts';
import { makeTestEnv, type TestEnv } from './support/services.ts';

const ORIGINAL = 'Arla-Standard-Milk';
const LOOK_ALIKES = ['Arla-Medium-Fat-Milk', 'Garant-Ecological-Standard-Milk', 'Oatly-Oat-Milk'];
const OTHER = 'Bravo-Apple-Juice';
const COPIES_OF_ORIGINAL: Alteration[] = ['crop', 'watermark', 'text-zh'];
const COPIES_OF_OTHER: Alteration[] = ['border', 'mirror'];

function listing(cls: GroceryClass, image: Buffer, o: { factory: boolean; supplier: string; price: number; listedAt: string; title?: string }): ProductInput {
  return {
    title: o.title ?? classTitle(cls.name),
    description: '',
    categoryPath: [cls.topFolder, cls.coarseName],
    price: { amount: o.price, currency: 'CNY' },
    supplier: { id: o.supplier, name: o.supplier, badges: o.factory ? ['factory'] : [] },
    listedAt: o.listedAt,
    images: [{ base64: image.toString('base64') }],
    attributes: {},
  };
}

function sourcingSuite(name: string, backendFor: () => Promise<Backend | undefined>, skip?: string) {
  describe.skipIf(!!skip)(`same source and substitutes: ${name}`, () => {
    let env: TestEnv;
    const cls = new Map<string, GroceryClass>();
    const bytes = (n: string) => fs.readFileSync(cls.get(n)!.iconicPath);

    beforeAll(async () => {
      for (const c of await readClasses()) cls.set(c.name, c);
      env = await makeTestEnv({}, await backendFor());
      expect(env.services.evidence, 'models/evidence.json must be fitted for the running vision model').not.toBeNull();
      const s = env.services;
      const inputs: Array<[string, ProductInput]> = [];
      // factory listings come first and are not the cheapest: election must follow the badge
      for (const n of [ORIGINAL, OTHER, ...LOOK_ALIKES])
        inputs.push([`fac-${cls.get(n)!.id}`, listing(cls.get(n)!, bytes(n), { factory: true, supplier: `factory-${n}`, price: 10, listedAt: '2024-01-01T00:00:00Z' })]);
      for (const [i, kind] of COPIES_OF_ORIGINAL.entries())
        inputs.push([`res-a-${kind}`, listing(cls.get(ORIGINAL)!, await makeCopy(bytes(ORIGINAL), kind, 100 + i), { factory: false, supplier: `reseller-${i}`, price: 8 + i, listedAt: `2024-0${3 + i}-01T00:00:00Z`, title: `热卖 牛奶 ${kind}` })]);
      for (const [i, kind] of COPIES_OF_OTHER.entries())
        inputs.push([`res-b-${kind}`, listing(cls.get(OTHER)!, await makeCopy(bytes(OTHER), kind, 200 + i), { factory: false, supplier: `reseller-b${i}`, price: 9 + i, listedAt: `2024-0${3 + i}-01T00:00:00Z`, title: `果汁 ${kind}` })]);
      // written one by one, as listings arrive, so each is grouped against those before it
      for (const [id, input] of inputs) {
        const [r] = await writeRecords(s, [await buildRecord(id, input, s)]);
        expect(r.ok).toBe(true);
      }
    }, 300_000);
    afterAll(async () => {
      const b = env?.services.backend;
      await env?.close();
      if (b instanceof ElasticsearchBackend) await b.drop().catch(() => undefined);
    });

    it('groups each reseller copy with its original at index time, and keeps look-alikes apart', async () => {
      const b = env.services.backend;
      const orig = `fac-${cls.get(ORIGINAL)!.id}`;
      const other = `fac-${cls.get(OTHER)!.id}`;
      for (const k of COPIES_OF_ORIGINAL) expect((await b.get(`res-a-${k}`))?.extras?.sourceGroupId, k).toBe(orig);
      for (const k of COPIES_OF_OTHER) expect((await b.get(`res-b-${k}`))?.extras?.sourceGroupId, k).toBe(other);
      for (const n of LOOK_ALIKES) {
        const id = `fac-${cls.get(n)!.id}`;
        expect((await b.get(id))?.extras?.sourceGroupId, n).toBe(id);
      }
      expect(Object.fromEntries(await b.groupSizes([orig, other]))).toEqual({ [orig]: 1 + COPIES_OF_ORIGINAL.length, [other]: 1 + COPIES_OF_OTHER.length });
      // what was read for the evidence is kept with the record
      const rec = await b.get(orig);
      expect(rec?.extras?.local?.[0]?.byteLength).toBeGreaterThan(1000);
    });

    it('answers a new reseller copy (all alterations combined) with the group, the factory elected, look-alikes as substitutes', async () => {
      const query = await makeCopy(bytes(ORIGINAL), 'combined', 999);
      const a = await search(env.services, { image: query, limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity', referencePrice: 12 });
      const orig = `fac-${cls.get(ORIGINAL)!.id}`;
      expect(a.sameSource.filter((x) => x.verdict === "same").length).toBe(1);
      expect(a.sameSource[0].verdict).toBe("same");
      const g = a.sameSource[0];
      expect(g.source.id).toBe(orig);
      expect(g.sourceReason).toContain('factory');
      expect(new Set(g.listings.map((l) => l.id))).toEqual(new Set(COPIES_OF_ORIGINAL.map((k) => `res-a-${k}`)));
      expect(g.listingCount).toBe(1 + COPIES_OF_ORIGINAL.length);
      expect(g.confidence).toBeGreaterThanOrEqual(env.services.evidence!.sameSourceCut);
      expect(g.evidence.calibrated).toBe(true);
      expect(g.evidence.summary.join(' ')).toMatch(/line up|near-identical|text on the product/);
      // the aligned area of a copy has its original's colours (a sibling flavour's would not)
      expect(g.evidence.colourAgreement).toBeGreaterThanOrEqual(0.9);
      const subs = a.substitutes.map((x) => x.listing.id);
      for (const n of LOOK_ALIKES) expect(subs, n).toContain(`fac-${cls.get(n)!.id}`);
      // substitutes in the query's category come first, each with its price against the reference
      expect(a.substitutes[0].listing.categoryPath).toEqual(['Packages', 'Milk']);
      for (const x of a.substitutes) expect(x.priceDelta?.amount).toBeCloseTo(x.listing.price!.amount - 12, 6);
      expect(a.timings.evidenceMs).toBeGreaterThan(0);
    }, 120_000);

    it('sees through a mirrored copy', async () => {
      const a = await search(env.services, { image: await makeCopy(bytes(OTHER), 'mirror', 4242), limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' });
      const g = a.sameSource[0];
      expect(g?.source.id).toBe(`fac-${cls.get(OTHER)!.id}`);
      expect(g.listings.map((l) => l.id)).toContain('res-b-mirror');
    }, 120_000);

    it('cheaperOnly keeps only substitutes cheaper than the reference', async () => {
      const a = await search(env.services, { image: bytes(ORIGINAL), limit: 10, currency: 'CNY', cheaperOnly: true, sort: 'price', referencePrice: 10.5 });
      expect(a.substitutes.length).toBeGreaterThan(0);
      for (const x of a.substitutes) expect(x.priceDelta!.amount).toBeLessThan(0);
      const prices = a.substitutes.map((x) => x.listing.price!.amount);
      expect(prices).toEqual([...prices].sort((p, q) => p - q));
    }, 120_000);

    // last: it adds listings to the shared catalogue (and removes them again)
    it('reaches the factory listing through its group when the vector search does not return it', async () => {
      const s = env.services;
      const orig = `fac-${cls.get(ORIGINAL)!.id}`;
      // three more resellers re-use one reseller's photo: with 3 candidates they fill the vector search
      const photo = await makeCopy(bytes(ORIGINAL), 'watermark', 101);
      const extra = [0, 1, 2].map((i) => `res-re-${i}`);
      for (const [i, id] of extra.entries()) {
        const [r] = await writeRecords(s, [await buildRecord(id, listing(cls.get(ORIGINAL)!, photo, { factory: false, supplier: `reseller-re${i}`, price: 7 + i, listedAt: `2024-02-0${1 + i}T00:00:00Z` }), s)]);
        expect(r.ok).toBe(true);
        expect((await s.backend.get(id))?.extras?.sourceGroupId).toBe(orig);
      }
      try {
        const ask = (groupMates: number) =>
          search({ ...s, config: { ...s.config, search: { ...s.config.search, candidates: 1, groupMates } } }, { image: photo, limit: 1, currency: 'CNY', cheaperOnly: false, sort: 'similarity' });
        // without reaching through the group, the factory listing is not among the candidates: a reseller is elected
        const without = await ask(0);
        expect(without.sameSource[0].verdict).toBe('same');
        expect([without.sameSource[0].source.id, ...without.sameSource[0].listings.map((l) => l.id)]).not.toContain(orig);
        const a = await ask(10);
        const g = a.sameSource[0];
        expect(g.verdict).toBe('same');
        expect(g.source.id).toBe(orig);
        expect(g.sourceReason).toContain('factory badge');
        // its own evidence against the photo may not prove it: the reason then says how it got in
        if (g.source.sameProductChance! < s.evidence!.sameSourceCut) expect(g.sourceReason).toContain('grouped with these listings when it was indexed');
        else expect(g.sourceReason).not.toContain('when it was indexed');
        expect(g.listingCount).toBe(1 + COPIES_OF_ORIGINAL.length + extra.length);
        // a filter the factory listing fails keeps it out, as it keeps it out of every other search
        const filtered = await search({ ...s, config: { ...s.config, search: { ...s.config.search, candidates: 1 } } }, { image: photo, limit: 1, currency: 'CNY', cheaperOnly: false, sort: 'similarity', filters: { priceMax: 9.5 } });
        expect(filtered.sameSource[0].source.id).not.toBe(orig);
      } finally {
        for (const id of extra) await s.backend.delete(id);
      }
    }, 180_000);
  });
}

sourcingSuite('embedded', async () => undefined);
const esUrl = inject('esUrl');
sourcingSuite(
  'elasticsearch',
  async () => new ElasticsearchBackend({ url: esUrl, index: `sourcing_${Date.now().toString(36)}`, dims: INDEX_DIMS }),
  esUrl ? undefined : 'SKIP_ES=1: no Elasticsearch',
);
