// POST /v1/search { url } end to end, with the real model and the real embedded backend: fixture product
// pages (1688-style, Amazon-like, Shopify-like) and a bare image URL, served from a local server whose
// product images are demo catalogue images, so the linked product's listing must come first.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { readDemoCatalogue, type DemoProduct } from '../src/demo/catalogue.ts';
import { buildRecord } from '../src/index/methods/ingest.ts';
import { SearchAnswer } from '../src/schema/search.ts';
import { makeTestEnv, type TestEnv } from './support/services.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = path.join(ROOT, 'demo', 'catalogue', 'images');
const PAGES = path.join(ROOT, 'test', 'fixtures', 'pages');

// the four linked products and a look-alike of each
const PRODUCTS = [
  'Oatly-Oat-Milk', 'Alpro-Fresh-Soy-Milk',
  'Arla-Sour-Cream', 'Arla-Ecological-Sour-Cream',
  'Tropicana-Apple-Juice', 'Bravo-Apple-Juice',
  'Yoggi-Strawberry-Yoghurt', 'Yoggi-Vanilla-Yoghurt',
];

const GBK_OAT_MILK = Buffer.from([0xd1, 0xe0, 0xc2, 0xf3, 0xc4, 0xcc]); // 燕麦奶 in GBK

let env: TestEnv;
let server: http.Server;
let base = '';
const prices = new Map<string, number>();

type Answer = ReturnType<typeof SearchAnswer.parse>;
type L = Answer['substitutes'][number]['listing'];
const listingsOf = (a: Answer): L[] => [...a.sameSource.flatMap((g) => [g.source, ...g.listings]), ...a.substitutes.map((s) => s.listing)];
const rankedIds = (a: Answer) => [...new Map(listingsOf(a).map((l) => [l.id, l])).values()].sort((x, y) => y.similarity - x.similarity).map((l) => l.id);
const firstGroupIds = (a: Answer) => (a.sameSource[0] ? [a.sameSource[0].source, ...a.sameSource[0].listings].map((l) => l.id) : []);

function post(body: unknown) {
  return env.app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
async function linkSearch(body: Record<string, unknown>): Promise<Answer> {
  const res = await post(body);
  const text = await res.text();
  expect(res.status, text.slice(0, 800)).toBe(200);
  return SearchAnswer.parse(JSON.parse(text)); // the answer matches its documented schema
}
async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text.slice(0, 500)).toBe(status);
  expect(JSON.parse(text).error.code).toBe(code);
}

/** The linked listing is the top answer and sits in the first same-source group. */
function expectLinkedFirst(a: Answer, id: string) {
  expect(rankedIds(a)[0]).toBe(id);
  expect(firstGroupIds(a)).toContain(id);
}

/** Every substitute with a comparable price is measured against the page's price. */
function expectDeltasAgainst(a: Answer, amount: number, currency: string) {
  const priced = a.substitutes.filter((s) => s.listing.price?.currency === currency);
  expect(priced.length).toBeGreaterThan(0);
  for (const s of priced) {
    expect(s.priceDelta).not.toBeNull();
    expect(s.priceDelta!.reference).toBe('link');
    expect(s.priceDelta!.currency).toBe(currency);
    expect(s.priceDelta!.amount).toBeCloseTo(s.listing.price!.amount - amount, 2);
  }
}

beforeAll(async () => {
  // only the local fixture server is allowed despite being on loopback (FETCH_ALLOW_HOSTS=127.0.0.1)
  env = await makeTestEnv({ fetch: { ...loadConfig().fetch, allowHosts: ['127.0.0.1'] } });
  const want = new Set(PRODUCTS);
  const indexed: DemoProduct[] = [];
  for await (const p of readDemoCatalogue()) if (want.has(p.input.attributes.fineClass as string)) indexed.push(p);
  expect(indexed).toHaveLength(PRODUCTS.length * 4);
  for (const p of indexed) if (p.input.price) prices.set(p.id, p.input.price.amount);
  const s = env.services;
  const res = await s.backend.upsert(await Promise.all(indexed.map((p) => buildRecord(p.id, p.input, s, { allowPaths: true }))));
  expect(res.every((r) => r.ok)).toBe(true);

  server = http.createServer((rq, rs) => {
    const u = new URL(rq.url ?? '/', 'http://x');
    const img = u.pathname.match(/^\/images\/([a-z0-9-]+__[a-z0-9-]+\.jpg)$/);
    if (img && fs.existsSync(path.join(IMAGES, img[1]))) return rs.writeHead(200, { 'content-type': 'image/jpeg' }).end(fs.readFileSync(path.join(IMAGES, img[1])));
    const pg = u.pathname.match(/^\/pages\/([a-z0-9-]+\.html)$/);
    if (pg && fs.existsSync(path.join(PAGES, pg[1])))
      return rs.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(fs.readFileSync(path.join(PAGES, pg[1]), 'utf8').replaceAll('{{BASE}}', base));
    switch (u.pathname) {
      case '/products/tropicana': // a short link that redirects to the product page
        return rs.writeHead(301, { location: '/pages/shopify-like.html' }).end();
      case '/dead-first-image.html':
        return rs
          .writeHead(200, { 'content-type': 'application/xhtml+xml' })
          .end('<html xmlns="http://www.w3.org/1999/xhtml"><head><meta property="og:image" content="/images/gone__photo-9.jpg"/></head><body><h1>Yoggi Strawberry</h1><img src="/images/yoggi-strawberry-yoghurt__catalogue.jpg" width="600" height="600"/></body></html>');
      case '/gbk-offer.html': // a GBK page that says so only in its <meta charset>
        return rs
          .writeHead(200, { 'content-type': 'text/html' })
          .end(Buffer.concat([Buffer.from('<html><head><meta charset="gbk"></head><body><h1>Oatly '), GBK_OAT_MILK, Buffer.from('</h1><img data-src="/images/oatly-oat-milk__catalogue.jpg" width="800" height="800"></body></html>')]));
      case '/title-only.html':
        return rs.writeHead(200, { 'content-type': 'text/html' }).end('<html><head><title>Arla Sour Cream</title></head><body></body></html>');
      case '/garbage.jpg':
        return rs.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.from('not a jpeg at all'));
      case '/private-image.html':
        return rs.writeHead(200, { 'content-type': 'text/html' }).end('<meta property="og:image" content="http://10.0.0.1/p.jpg"><h1>Oatly</h1>');
      default:
        return rs.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
  await env?.close();
});

describe('POST /v1/search { url }: product pages', () => {
  it('1688-style offer (fallback extraction): the lazy gallery photo and the Chinese title find the product; the CNY range low end is the reference', async () => {
    const url = `${base}/pages/1688-offer.html`;
    const a = await linkSearch({ url, limit: 50 });
    expect(a.query.link).toEqual({
      url,
      title: 'Oatly燕麦奶 咖啡大师 1L整箱批发',
      image: `${base}/images/oatly-oat-milk__photo-2.jpg`,
      price: { amount: 19.8, currency: 'CNY' },
      extractedFrom: 'fallback',
    });
    expect(a.query.kind).toBe('image+text');
    expect(a.query.text).toBe('Oatly燕麦奶 咖啡大师 1L整箱批发');
    expect(a.query.tokens).toContain('oatly');
    expectLinkedFirst(a, 'oatly-oat-milk-photo-2');
    expect(a.sameSource[0].evidence.samePhoto).toBe(true);
    expect(a.query.referencePrice).toEqual({ amount: 19.8, currency: 'CNY', from: 'link' });
    expectDeltasAgainst(a, 19.8, 'CNY');
  });

  it('Amazon-like page (Open Graph): og:image wins over sponsored images; a USD price is the reference but is not compared with CNY listings', async () => {
    const url = `${base}/pages/amazon-like.html`;
    const a = await linkSearch({ url, limit: 50 });
    expect(a.query.link).toMatchObject({ url, title: 'Arla Sour Cream 18%, 300 ml', image: `${base}/images/arla-sour-cream__photo-1.jpg`, extractedFrom: 'open-graph' });
    expect(a.query.link?.price).toEqual({ amount: 3.99, currency: 'USD' });
    expectLinkedFirst(a, 'arla-sour-cream-photo-1');
    expect(a.query.referencePrice).toEqual({ amount: 3.99, currency: 'USD', from: 'link' });
    expect(a.substitutes.length).toBeGreaterThan(0);
    for (const s of a.substitutes) expect(s.priceDelta).toBeNull(); // no exchange rates are guessed
  });

  it('Shopify-like page (JSON-LD @graph, AggregateOffer) behind a redirect: lowPrice is the reference; cheaperOnly keeps the cheaper ones', async () => {
    const url = `${base}/products/tropicana`;
    const a = await linkSearch({ url, limit: 50 });
    expect(a.query.link).toEqual({
      url,
      title: 'Tropicana Apple Juice 1 L',
      image: `${base}/images/tropicana-apple-juice__catalogue.jpg`, // resolved against the final page URL
      price: { amount: 24, currency: 'CNY' },
      extractedFrom: 'json-ld',
    });
    expectLinkedFirst(a, 'tropicana-apple-juice-catalogue');
    expect(a.query.referencePrice).toEqual({ amount: 24, currency: 'CNY', from: 'link' });
    expectDeltasAgainst(a, 24, 'CNY');

    const cheaper = await linkSearch({ url, limit: 50, cheaperOnly: true });
    expect(cheaper.substitutes.length).toBeGreaterThan(0);
    expect(cheaper.substitutes.length).toBeLessThan(a.substitutes.length);
    for (const s of cheaper.substitutes) {
      expect(s.listing.price!.amount).toBeLessThan(24);
      expect(s.priceDelta!.reference).toBe('link');
    }
  });

  it('a bare image URL is the photo itself: no text, no page price', async () => {
    const url = `${base}/images/yoggi-strawberry-yoghurt__photo-3.jpg`;
    const a = await linkSearch({ url });
    expect(a.query.link).toEqual({ url, image: url, extractedFrom: 'image' });
    expect(a.query.kind).toBe('image');
    expect(a.query.text).toBeUndefined();
    expectLinkedFirst(a, 'yoggi-strawberry-yoghurt-photo-3');
    expect(a.query.referencePrice?.from ?? null).not.toBe('link');
  });

  it("the request's referencePrice and text win over the page's", async () => {
    const a = await linkSearch({ url: `${base}/pages/shopify-like.html`, referencePrice: 30, text: 'apple juice', limit: 50 });
    expect(a.query.referencePrice).toEqual({ amount: 30, currency: 'CNY', from: 'request' });
    expect(a.query.text).toBe('apple juice');
    expect(a.query.link?.price).toEqual({ amount: 24, currency: 'CNY' }); // still reported as understood
    expect(rankedIds(a)[0]).toBe('tropicana-apple-juice-catalogue');
    for (const s of a.substitutes) if (s.priceDelta) expect(s.priceDelta.reference).toBe('request');
  });

  it('an image that cannot be fetched is skipped for the next one; an XHTML page is read', async () => {
    const a = await linkSearch({ url: `${base}/dead-first-image.html` });
    expect(a.query.link?.image).toBe(`${base}/images/yoggi-strawberry-yoghurt__catalogue.jpg`);
    expect(a.query.link?.extractedFrom).toBe('open-graph');
    expectLinkedFirst(a, 'yoggi-strawberry-yoghurt-catalogue');
  });

  it('a GBK-encoded page is read in its charset', async () => {
    const a = await linkSearch({ url: `${base}/gbk-offer.html` });
    expect(a.query.link).toMatchObject({ title: 'Oatly 燕麦奶', image: `${base}/images/oatly-oat-milk__catalogue.jpg`, extractedFrom: 'fallback' });
    expectLinkedFirst(a, 'oatly-oat-milk-catalogue');
  });

  it('a page with a title and no image is a words-only search', async () => {
    const a = await linkSearch({ url: `${base}/title-only.html` });
    expect(a.query.kind).toBe('text');
    expect(a.query.link).toEqual({ url: `${base}/title-only.html`, title: 'Arla Sour Cream', extractedFrom: 'fallback' });
    expect(listingsOf(a).some((l) => l.id.startsWith('arla-sour-cream-'))).toBe(true);
  });
});

describe('POST /v1/search { url }: errors and refusals', () => {
  it('an image URL that is not a decodable image is 422 invalid_image; a 404 is 422 fetch_failed', async () => {
    await expectError(await post({ url: `${base}/garbage.jpg` }), 422, 'invalid_image');
    await expectError(await post({ url: `${base}/pages/no-such-page.html` }), 422, 'fetch_failed');
  });

  it('400 for url with imageUrl or imageBase64, or an empty url', async () => {
    await expectError(await post({ url: `${base}/pages/1688-offer.html`, imageUrl: `${base}/images/oatly-oat-milk__photo-2.jpg` }), 400, 'invalid_request');
    await expectError(await post({ url: `${base}/pages/1688-offer.html`, imageBase64: 'AAAA' }), 400, 'invalid_request');
    await expectError(await post({ url: '' }), 400, 'invalid_request');
  });

  it('an allowed page pointing at a private image, or a non-allowlisted loopback address, is 400 url_not_allowed', async () => {
    await expectError(await post({ url: `${base}/private-image.html` }), 400, 'url_not_allowed');
    const port = (server.address() as AddressInfo).port;
    await expectError(await post({ url: `http://localhost:${port}/pages/1688-offer.html` }), 400, 'url_not_allowed');
    await expectError(await post({ url: `http://[::1]:${port}/pages/1688-offer.html` }), 400, 'url_not_allowed');
  });

  it('the OpenAPI documents url in the request and query.link in the answer', async () => {
    const doc = (await (await env.app.request('/openapi.json')).json()) as any;
    expect(doc.components.schemas.SearchRequest.properties.url).toBeDefined();
    expect(doc.components.schemas.LinkUnderstood.properties.extractedFrom.enum).toEqual(['json-ld', 'open-graph', 'fallback', 'image']);
    expect(doc.components.schemas.PriceDelta.properties.reference.enum).toContain('link');
  });
});
