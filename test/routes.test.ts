// Every route through `app.request`, in process, with the real model and the real embedded backend:
// the happy path, the error paths and the security paths. A small slice of the demo catalogue
// (15 products of 6 classes, 4 listings each) is indexed once in beforeAll.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { DEMO_SLICE } from './support/demo-slice.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDemoCatalogue, type DemoProduct } from '../src/demo/catalogue.ts';
import { buildRecord } from '../src/index/methods/ingest.ts';
import { SearchAnswer } from '../src/schema/search.ts';
import { auth, makeTestEnv, TEST_KEY, type TestEnv } from './support/services.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = path.join(ROOT, 'demo', 'catalogue', 'images');
const QUERIES = path.join(ROOT, 'demo', 'queries');

const PRODUCTS = DEMO_SLICE;

let env: TestEnv;
let indexed: DemoProduct[] = [];
const byId = new Map<string, DemoProduct>();

const b64 = (f: string) => fs.readFileSync(path.join(IMAGES, f)).toString('base64');
const query = (slug: string) => fs.readFileSync(path.join(QUERIES, `${slug}.jpg`));
const JSON_HEADERS = { 'content-type': 'application/json' };

function req(url: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  if (json !== undefined) {
    rest.body = JSON.stringify(json);
    rest.headers = { ...JSON_HEADERS, ...(rest.headers as Record<string, string>) };
  }
  return env.app.request(url, rest);
}

/** Every error leaves the service as { error: { code, message[, details] } } with a JSON content type. */
async function expectError(res: Response, status: number, code?: string): Promise<{ code: string; message: string; details?: unknown }> {
  const text = await res.text();
  expect(res.status, text.slice(0, 500)).toBe(status);
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.code).toBe('string');
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  for (const k of Object.keys(body.error)) expect(['code', 'message', 'details']).toContain(k);
  if (code) expect(body.error.code).toBe(code);
  return body.error;
}

async function ok<T = any>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text.slice(0, 800)).toBe(status);
  return JSON.parse(text) as T;
}

type Answer = ReturnType<typeof SearchAnswer.parse>;
type L = Answer['substitutes'][number]['listing'];
/** Every listing in an answer: group sources, their listings, substitutes. */
const listingsOf = (a: Answer): L[] => [...a.sameSource.flatMap((g) => [g.source, ...g.listings]), ...a.substitutes.map((s) => s.listing)];
/** Distinct listings of an answer ranked by their similarity to the query. */
const rankedIds = (a: Answer) =>
  [...new Map(listingsOf(a).map((l) => [l.id, l])).values()].sort((x, y) => y.similarity - x.similarity).map((l) => l.id);

async function searchJson(body: unknown): Promise<Answer> {
  const a = await ok(await req('/v1/search', { method: 'POST', json: body }));
  return SearchAnswer.parse(a); // the answer matches its documented schema
}
async function searchPhoto(bytes: Uint8Array, fields: Record<string, string> = {}): Promise<Answer> {
  const fd = new FormData();
  fd.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'photo.jpg');
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return SearchAnswer.parse(await ok(await req('/v1/search', { method: 'POST', body: fd })));
}

function productBody(over: Record<string, unknown> = {}) {
  return {
    title: 'Test listing',
    categoryPath: ['Packages', 'Juice'],
    price: { amount: 12.5, currency: 'CNY' },
    moq: 10,
    supplier: { id: 'sup-t', name: 'Test Trading Co.', badges: ['verified'], province: 'Zhejiang' },
    images: [{ base64: b64('bravo-apple-juice__photo-1.jpg') }],
    ...over,
  };
}

beforeAll(async () => {
  env = await makeTestEnv();
  const want = new Set(PRODUCTS);
  for await (const p of readDemoCatalogue()) if (want.has(p.input.attributes.fineClass as string)) indexed.push(p);
  expect(indexed).toHaveLength(PRODUCTS.length * 4);
  for (const p of indexed) byId.set(p.id, p);
  const s = env.services;
  const records = await Promise.all(indexed.map((p) => buildRecord(p.id, p.input, s, { allowPaths: true })));
  const res = await s.backend.upsert(records);
  expect(res.every((r) => r.ok)).toBe(true);
});

afterAll(async () => {
  await env?.close();
});

// ------------------------------------------------------------------------------------------ PUT

describe('PUT /v1/products/{id}', () => {
  it('stores a listing from a base64 image, then replaces it', async () => {
    const first = await ok(await req('/v1/products/put-1', { method: 'PUT', headers: auth, json: productBody() }));
    expect(first.created).toBe(true);
    expect(first.product.id).toBe('put-1');
    expect(first.product.modelVersion).toBe(env.services.embedder.modelVersion);
    expect(first.product.images).toHaveLength(1);
    expect(JSON.stringify(first)).not.toContain(b64('bravo-apple-juice__photo-1.jpg').slice(0, 200)); // bytes are not echoed
    const again = await ok(await req('/v1/products/put-1', { method: 'PUT', headers: { 'x-api-key': TEST_KEY }, json: productBody({ title: 'Renamed' }) }));
    expect(again.created).toBe(false);
    const got = await ok(await req('/v1/products/put-1'));
    expect(got.product.title).toBe('Renamed');
    expect(got.product.supplier.badges).toEqual(['verified']);
    expect(await env.services.backend.count()).toBe(indexed.length + 1);
    await ok(await req('/v1/products/put-1', { method: 'DELETE', headers: auth }));
  });

  it('a listing without images is stored and text-searchable', async () => {
    await ok(await req('/v1/products/put-noimg', { method: 'PUT', headers: auth, json: productBody({ title: 'Zyxwvut oolong tea', images: [] }) }));
    const a = await searchJson({ text: 'zyxwvut' });
    expect(listingsOf(a).map((l) => l.id)).toContain('put-noimg');
    await ok(await req('/v1/products/put-noimg', { method: 'DELETE', headers: auth }));
  });

  it('401 without a key, with a wrong key, with an empty bearer', async () => {
    await expectError(await req('/v1/products/put-2', { method: 'PUT', json: productBody() }), 401, 'unauthorized');
    await expectError(await req('/v1/products/put-2', { method: 'PUT', headers: { authorization: 'Bearer nope' }, json: productBody() }), 401, 'unauthorized');
    await expectError(await req('/v1/products/put-2', { method: 'PUT', headers: { 'x-api-key': `${TEST_KEY}x` }, json: productBody() }), 401, 'unauthorized');
    await expectError(await req('/v1/products/put-2', { method: 'PUT', headers: { authorization: 'Bearer ' }, json: productBody() }), 401, 'unauthorized');
    await expectError(await req('/v1/products/put-2', { method: 'PUT', headers: { authorization: `Basic ${TEST_KEY}` }, json: productBody() }), 401, 'unauthorized');
    await expectError(await req('/v1/products/put-2'), 404, 'not_found');
  });

  it('401 comes before the body is looked at (no schema details for strangers)', async () => {
    const e = await expectError(await req('/v1/products/put-2', { method: 'PUT', json: { nonsense: true } }), 401, 'unauthorized');
    expect(e.details).toBeUndefined();
    await expectError(await req('/v1/products/put-2', { method: 'PUT', headers: JSON_HEADERS, body: '{not json' }), 401, 'unauthorized');
  });

  it('400 for an invalid body, with the zod issues in error.details', async () => {
    const e = await expectError(
      await req('/v1/products/put-3', { method: 'PUT', headers: auth, json: { title: '', price: { amount: -1 }, moq: 0, images: [{}] } }),
      400,
      'invalid_request',
    );
    expect(Array.isArray(e.details)).toBe(true);
    const paths = (e.details as Array<{ path: unknown[] }>).map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['title', 'price.amount', 'moq']));
    // both url and base64 in one image
    await expectError(await req('/v1/products/put-3', { method: 'PUT', headers: auth, json: productBody({ images: [{ url: 'https://example.com/a.jpg', base64: 'AAAA' }] }) }), 400, 'invalid_request');
    // malformed JSON
    await expectError(await req('/v1/products/put-3', { method: 'PUT', headers: { ...auth, ...JSON_HEADERS }, body: '{"title": ' }), 400, 'invalid_request');
    await expectError(await req('/v1/products/put-3'), 404);
  });

  it('400 for a bad id in the path', async () => {
    await expectError(await req('/v1/products/bad%20id', { method: 'PUT', headers: auth, json: productBody() }), 400, 'invalid_request');
    await expectError(await req(`/v1/products/${'x'.repeat(129)}`, { method: 'PUT', headers: auth, json: productBody() }), 400, 'invalid_request');
  });

  it('400 path_not_allowed for images[].path (server-local files are for the operator only)', async () => {
    await expectError(
      await req('/v1/products/put-4', { method: 'PUT', headers: auth, json: productBody({ images: [{ path: '/etc/passwd' }] }) }),
      400,
      'path_not_allowed',
    );
    await expectError(
      await req('/v1/products/put-4', { method: 'PUT', headers: auth, json: productBody({ images: [{ path: path.join(IMAGES, 'banana__photo-1.jpg') }] }) }),
      400,
      'path_not_allowed',
    );
    await expectError(await req('/v1/products/put-4'), 404);
  });

  it('422 invalid_image for garbage, empty or SVG bytes', async () => {
    await expectError(await req('/v1/products/put-5', { method: 'PUT', headers: auth, json: productBody({ images: [{ base64: Buffer.from('definitely not a photo').toString('base64') }] }) }), 422, 'invalid_image');
    await expectError(await req('/v1/products/put-5', { method: 'PUT', headers: auth, json: productBody({ images: [{ base64: '' }] }) }), 422, 'invalid_image');
    await expectError(await req('/v1/products/put-5', { method: 'PUT', headers: auth, json: productBody({ images: [{ base64: '!!!!' }] }) }), 422, 'invalid_image');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>').toString('base64');
    await expectError(await req('/v1/products/put-5', { method: 'PUT', headers: auth, json: productBody({ images: [{ base64: svg }] }) }), 422, 'invalid_image');
    // one bad image of two fails the whole listing
    await expectError(
      await req('/v1/products/put-5', { method: 'PUT', headers: auth, json: productBody({ images: [{ base64: b64('banana__photo-1.jpg') }, { base64: 'AAAA' }] }) }),
      422,
      'invalid_image',
    );
    await expectError(await req('/v1/products/put-5'), 404);
  });

  it.each([
    'http://127.0.0.1/a.jpg',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/a.jpg',
    'http://2130706433/a.jpg',
    'http://0x7f.0.0.1/a.jpg',
    'http://127.1/a.jpg',
    'http://[::ffff:127.0.0.1]/a.jpg',
    'http://[::ffff:a9fe:a9fe]/',
    'http://10.1.2.3/a.jpg',
    'http://192.168.0.1/a.jpg',
    'http://localhost/a.jpg',
    'http://0.0.0.0/a.jpg',
    'file:///etc/passwd',
    'ftp://example.com/a.jpg',
    'http://user:pw@example.com/a.jpg',
  ])('400 url_not_allowed for images[].url %s', async (url) => {
    await expectError(await req('/v1/products/put-6', { method: 'PUT', headers: auth, json: productBody({ images: [{ url }] }) }), 400, 'url_not_allowed');
  });

  it('413 for a body over the limit', async () => {
    const big = 'A'.repeat(Math.ceil(env.services.config.image.maxBytes * 1.4) + 2 * 1024 * 1024);
    await expectError(await req('/v1/products/put-7', { method: 'PUT', headers: auth, json: productBody({ images: [{ base64: big }] }) }), 413, 'payload_too_large');
  });
});

// --------------------------------------------------------------------- url images (a local server)

describe('url images through the guarded fetcher', () => {
  let server: http.Server;
  let base = '';
  beforeAll(async () => {
    const jpeg = fs.readFileSync(path.join(IMAGES, 'banana__photo-2.jpg'));
    server = http.createServer((rq, rs) => {
      if (rq.url === '/img.jpg') return rs.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
      if (rq.url === '/page') return rs.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
      if (rq.url === '/to-metadata') return rs.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (rq.url === '/to-loopback') return rs.writeHead(302, { location: 'http://[::1]:1/x.jpg' }).end();
      if (rq.url === '/to-img') return rs.writeHead(301, { location: '/img.jpg' }).end();
      rs.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // only this test server is allowed despite being on loopback (the operator knob the fixtures use)
    env.services.config.fetch.allowHosts.push('127.0.0.1');
  });
  afterAll(async () => {
    const hosts = env.services.config.fetch.allowHosts;
    hosts.splice(hosts.indexOf('127.0.0.1'), 1);
    await new Promise((r) => server.close(r));
  });

  it('fetches an allowed image URL, following a redirect on the same host', async () => {
    const r = await ok(await req('/v1/products/url-1', { method: 'PUT', headers: auth, json: productBody({ images: [{ url: `${base}/to-img` }] }) }));
    expect(r.product.images[0].url).toBe(`${base}/to-img`);
    const a = await searchPhoto(fs.readFileSync(path.join(IMAGES, 'banana__photo-2.jpg')));
    expect(rankedIds(a)[0]).toBe('url-1');
    await ok(await req('/v1/products/url-1', { method: 'DELETE', headers: auth }));
  });

  it('a redirect to the metadata address or to loopback is refused hop by hop', async () => {
    await expectError(await req('/v1/products/url-2', { method: 'PUT', headers: auth, json: productBody({ images: [{ url: `${base}/to-metadata` }] }) }), 400, 'url_not_allowed');
    await expectError(await req('/v1/products/url-2', { method: 'PUT', headers: auth, json: productBody({ images: [{ url: `${base}/to-loopback` }] }) }), 400, 'url_not_allowed');
    await expectError(await req('/v1/search', { method: 'POST', json: { imageUrl: `${base}/to-metadata` } }), 400, 'url_not_allowed');
  });

  it('a page that is not an image, or a 404, is refused', async () => {
    await expectError(await req('/v1/products/url-3', { method: 'PUT', headers: auth, json: productBody({ images: [{ url: `${base}/page` }] }) }), 415, 'unsupported_media_type');
    await expectError(await req('/v1/products/url-3', { method: 'PUT', headers: auth, json: productBody({ images: [{ url: `${base}/missing.jpg` }] }) }), 422, 'fetch_failed');
    await expectError(await req('/v1/products/url-3'), 404);
  });
});

// ------------------------------------------------------------------------------------ GET, DELETE

describe('GET and DELETE /v1/products/{id}', () => {
  it('GET: 200 with the stored product, 404 not_found, 400 bad id', async () => {
    const id = 'tropicana-apple-juice-catalogue';
    const r = await ok(await req(`/v1/products/${id}`));
    expect(r.product.id).toBe(id);
    expect(r.product.title).toBe(byId.get(id)!.input.title);
    expect(r.product.supplier.badges).toContain('factory');
    expect(JSON.stringify(r)).not.toContain('/demo/catalogue/images'); // server paths are not echoed
    await expectError(await req('/v1/products/no-such-product'), 404, 'not_found');
    await expectError(await req('/v1/products/bad%20id'), 400, 'invalid_request');
    await expectError(await req('/v1/products/%3Cscript%3E'), 400, 'invalid_request');
  });

  it('DELETE: 401 without key, 404 unknown, 200 then GET 404 and gone from search', async () => {
    await ok(await req('/v1/products/del-1', { method: 'PUT', headers: auth, json: productBody({ images: [{ base64: b64('banana__photo-3.jpg') }] }) }));
    await expectError(await req('/v1/products/del-1', { method: 'DELETE' }), 401, 'unauthorized');
    await expectError(await req('/v1/products/del-1', { method: 'DELETE', headers: { authorization: 'Bearer wrong' } }), 401, 'unauthorized');
    await ok(await req('/v1/products/del-1'));
    await expectError(await req('/v1/products/never-was', { method: 'DELETE', headers: auth }), 404, 'not_found');
    await expectError(await req('/v1/products/bad%20id', { method: 'DELETE', headers: auth }), 400, 'invalid_request');
    const d = await ok(await req('/v1/products/del-1', { method: 'DELETE', headers: auth }));
    expect(d).toEqual({ deleted: true, id: 'del-1' });
    await expectError(await req('/v1/products/del-1'), 404, 'not_found');
    await expectError(await req('/v1/products/del-1', { method: 'DELETE', headers: auth }), 404, 'not_found');
    const a = await searchPhoto(fs.readFileSync(path.join(IMAGES, 'banana__photo-3.jpg')));
    expect(listingsOf(a).map((l) => l.id)).not.toContain('del-1');
    expect(await env.services.backend.count()).toBe(indexed.length);
  });
});

// ------------------------------------------------------------------------------------------ batch

describe('POST /v1/products/batch', () => {
  it('mixed good and bad items: one result per item in order, the good ones stored', async () => {
    const items = [
      { id: 'batch-good-1', ...productBody({ title: 'Batch one' }) },
      { id: 'bad id!', ...productBody() },
      { id: 'batch-bad-body', title: '' },
      { id: 'batch-bad-path', ...productBody({ images: [{ path: '/etc/hostname' }] }) },
      { id: 'batch-bad-image', ...productBody({ images: [{ base64: Buffer.from('nope').toString('base64') }] }) },
      { id: 'batch-bad-url', ...productBody({ images: [{ url: 'http://169.254.169.254/' }] }) },
      { id: 'batch-good-2', ...productBody({ title: 'Batch two', images: [{ base64: b64('banana__photo-1.jpg') }] }) },
      'not even an object',
      null,
    ];
    const r = await ok(await req('/v1/products/batch', { method: 'POST', headers: auth, json: { items } }));
    expect(r.results).toHaveLength(items.length);
    expect(r.results.map((x: any) => [x.id, x.ok, x.error?.code ?? null])).toEqual([
      ['batch-good-1', true, null],
      ['bad id!', false, 'invalid_request'],
      ['batch-bad-body', false, 'invalid_request'],
      ['batch-bad-path', false, 'path_not_allowed'],
      ['batch-bad-image', false, 'invalid_image'],
      ['batch-bad-url', false, 'url_not_allowed'],
      ['batch-good-2', true, null],
      [null, false, 'invalid_request'],
      [null, false, 'invalid_request'],
    ]);
    expect(r.stored).toBe(2);
    expect(r.failed).toBe(7);
    expect(r.results[2].error.details).toBeDefined();
    expect((await ok(await req('/v1/products/batch-good-1'))).product.title).toBe('Batch one');
    expect((await ok(await req('/v1/products/batch-good-2'))).product.title).toBe('Batch two');
    for (const id of ['batch-bad-body', 'batch-bad-path', 'batch-bad-image', 'batch-bad-url']) await expectError(await req(`/v1/products/${id}`), 404);
    for (const id of ['batch-good-1', 'batch-good-2']) await ok(await req(`/v1/products/${id}`, { method: 'DELETE', headers: auth }));
  });

  it('the same id twice keeps the later item', async () => {
    const items = [
      { id: 'batch-dup', ...productBody({ title: 'first' }) },
      { id: 'batch-dup', ...productBody({ title: 'second' }) },
    ];
    const r = await ok(await req('/v1/products/batch', { method: 'POST', headers: auth, json: { items } }));
    expect(r.stored).toBe(2);
    expect((await ok(await req('/v1/products/batch-dup'))).product.title).toBe('second');
    await ok(await req('/v1/products/batch-dup', { method: 'DELETE', headers: auth }));
  });

  it('401 without a key; 400 for no items, too many, or not an array', async () => {
    const items = [{ id: 'batch-x', ...productBody() }];
    await expectError(await req('/v1/products/batch', { method: 'POST', json: { items } }), 401, 'unauthorized');
    await expectError(await req('/v1/products/batch', { method: 'POST', headers: { authorization: 'Bearer bad' }, json: { items } }), 401, 'unauthorized');
    await expectError(await req('/v1/products/batch-x'), 404);
    await expectError(await req('/v1/products/batch', { method: 'POST', headers: auth, json: { items: [] } }), 400, 'invalid_request');
    await expectError(await req('/v1/products/batch', { method: 'POST', headers: auth, json: { items: Array.from({ length: 101 }, (_, i) => ({ id: `b${i}` })) } }), 400, 'invalid_request');
    await expectError(await req('/v1/products/batch', { method: 'POST', headers: auth, json: { items: 'nope' } }), 400, 'invalid_request');
    await expectError(await req('/v1/products/batch', { method: 'POST', headers: { ...auth, ...JSON_HEADERS }, body: '[' }), 400, 'invalid_request');
  });
});

// ----------------------------------------------------------------------------------------- search

describe('POST /v1/search', () => {
  it('multipart photo of a demo query: its product leads the answer; groups carry a verdict, a source elected by the rules and calibrated evidence', async () => {
    const a = await searchPhoto(query('tropicana-apple-juice'));
    expect(a.query.kind).toBe('image');
    expect(a.query.image?.format).toBe('jpeg');
    expect(a.query.backend).toBe('embedded');
    // a buyer's own photo is rarely *proven* the same product: it leads the answer, in a group or not
    const ranked = [...a.sameSource.flatMap((g) => [g.source, ...g.listings]), ...a.substitutes.map((x) => x.listing)];
    expect(ranked.slice(0, 3).some((l) => l.id.startsWith('tropicana-apple-juice-'))).toBe(true);
    const cut = env.services.evidence?.sameSourceCut ?? 0;
    for (const g of a.sameSource) {
      expect(['same', 'likely']).toContain(g.verdict);
      expect(g.listingCount).toBeGreaterThanOrEqual(g.listings.length + 1);
      expect(g.sourceReason.length).toBeGreaterThan(0);
      expect(g.confidence).toBeGreaterThanOrEqual(g.verdict === 'same' ? cut : 0.5);
      expect(g.confidence).toBeLessThanOrEqual(1);
      expect(g.evidence.calibrated).toBe(true);
      expect(g.evidence.samePhoto).toBe(false); // a buyer's own photo, not a re-upload
    }
    expect(a.timings.evidenceMs).toBeGreaterThan(0);
  });

  // What the engine achieves on this slice today (random projection, no whitening): the product's
  // listing is among the top 3 answers by similarity for five of the six queries, and Oatly (a known miss
  // until 2026-12-03, when substitutes stopped taking their category from look alone) in the top 5.
  it.each([
    ['tropicana-apple-juice', 1],
    ['arla-sour-cream', 3],
    ['alpro-fresh-soy-milk', 3],
    ['arla-standard-milk', 3],
    ['yoggi-strawberry-yoghurt', 3],
    ['oatly-oat-milk', 5],
  ])('demo query %s finds its product within the top %i', async (slug, top) => {
    const a = await searchPhoto(query(slug));
    const ranked = rankedIds(a);
    const at = ranked.findIndex((id) => id.startsWith(`${slug}-`));
    expect(at, `${slug}: ${ranked.slice(0, 5).join(', ')}`).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(top);
  });


  it('the exact catalogue photo is recognised as the same photo', async () => {
    const a = await searchJson({ imageBase64: b64('arla-sour-cream__catalogue.jpg') });
    const g = a.sameSource.find((x) => [x.source, ...x.listings].some((l) => l.id === 'arla-sour-cream-catalogue'));
    expect(g).toBeDefined();
    expect(rankedIds(a)[0]).toBe('arla-sour-cream-catalogue');
    const src = [g!.source, ...g!.listings].find((l) => l.id === 'arla-sour-cream-catalogue')!;
    expect(src.similarity).toBeGreaterThan(0.999);
    if (g!.source.id === 'arla-sour-cream-catalogue') {
      expect(g!.evidence.samePhoto).toBe(true);
      expect(g!.evidence.phashDistance).toBe(0);
    }
  });

  it('JSON imageBase64 gives the same answer as multipart', async () => {
    const bytes = query('arla-sour-cream');
    const [a, b] = await Promise.all([searchJson({ imageBase64: bytes.toString('base64') }), searchPhoto(bytes)]);
    expect(rankedIds(a)).toEqual(rankedIds(b));
    expect(a.query.image?.phash).toBe(b.query.image?.phash);
  });

  it('JSON text search finds the product by its words (English and Chinese)', async () => {
    const a = await searchJson({ text: 'Tropicana Apple Juice' });
    expect(a.query.kind).toBe('text');
    expect(a.query.tokens).toEqual(['tropicana', 'apple', 'juice']);
    const first = a.sameSource[0]?.source.id ?? a.substitutes[0]?.listing.id;
    expect(first.startsWith('tropicana-apple-juice-')).toBe(true);
    const zh = await searchJson({ text: '全脂牛奶' });
    const ids = listingsOf(zh).map((l) => l.id);
    expect(ids.length).toBeGreaterThan(0);
    // 全脂牛奶 (whole milk): Arla Standard Milk and Garant Ecological Standard Milk, not 半脱脂 (semi-skimmed).
    // The first listing is whole milk and all eight whole-milk listings are in the answer. (The same-source
    // group around it also pulls in look-alike semi-skimmed Arla cartons by image: see the report.)
    const zhOf = (id: string) => String(byId.get(id)?.input.attributes.titleZh);
    expect(zhOf(zh.sameSource[0]?.source.id ?? zh.substitutes[0].listing.id)).toContain('全脂牛奶');
    const whole = indexed.filter((p) => zhOf(p.id).includes('全脂牛奶')).map((p) => p.id);
    expect(whole).toHaveLength(8);
    expect(ids).toEqual(expect.arrayContaining(whole));
  });

  it('text with no match answers 200 and empty', async () => {
    const a = await searchJson({ text: 'qqqzzzxxx' });
    expect(a.sameSource).toEqual([]);
    expect(a.substitutes).toEqual([]);
  });

  it('a multipart region is applied and echoed; a region outside the image is 400', async () => {
    const a = await searchPhoto(query('tropicana-apple-juice'), { region: JSON.stringify({ x: 0.1, y: 0.1, w: 0.8, h: 0.8 }) });
    expect(a.query.image?.region).toEqual({ x: 0.1, y: 0.1, w: 0.8, h: 0.8 });
    const full = await searchPhoto(query('tropicana-apple-juice'));
    expect(a.query.image?.phash).not.toBe(full.query.image?.phash);
    const fd = new FormData();
    fd.append('image', new Blob([query('tropicana-apple-juice')]), 'q.jpg');
    fd.append('region', JSON.stringify({ x: 0.5, y: 0, w: 0.8, h: 1 }));
    await expectError(await req('/v1/search', { method: 'POST', body: fd }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: { imageBase64: query('arla-sour-cream').toString('base64'), region: { x: 0, y: 0, w: 0, h: 1 } } }), 400, 'invalid_request');
  });

  describe('filters restrict every returned listing', () => {
    const price = (l: L) => l.price?.amount;
    const cases: Array<[string, Record<string, unknown>, (l: L) => boolean]> = [
      ['priceMax', { priceMax: 12 }, (l) => price(l) !== undefined && price(l)! <= 12],
      ['priceMin', { priceMin: 15 }, (l) => price(l) !== undefined && price(l)! >= 15],
      ['badge factory', { badge: 'factory' }, (l) => (l.supplier?.badges ?? []).includes('factory')],
      ['category', { category: 'Yoghurt' }, (l) => l.categoryPath.includes('Yoghurt')],
      ['province', { province: 'Guangdong' }, (l) => l.supplier?.province === 'Guangdong'],
      ['maxMoq', { maxMoq: 12 }, (l) => (l.moq ?? 1) <= 12],
      ['combined', { category: 'Packages', priceMax: 20, maxMoq: 100 }, (l) => l.categoryPath.includes('Packages') && price(l)! <= 20 && (l.moq ?? 1) <= 100],
    ];

    it.each(cases)('%s, on a photo search (JSON)', async (_name, filters, pass) => {
      const body = { imageBase64: query('yoggi-strawberry-yoghurt').toString('base64'), limit: 50 };
      const unfiltered = listingsOf(await searchJson(body));
      expect(unfiltered.some((l) => !pass(l))).toBe(true); // the filter has something to remove
      const a = await searchJson({ ...body, filters });
      expect(a.query.filters).toEqual(filters);
      const got = listingsOf(a);
      expect(got.length).toBeGreaterThan(0);
      for (const l of got) expect(pass(l), `${l.id} fails ${JSON.stringify(filters)}`).toBe(true);
      // nothing that passes the filter was lost among the candidates the unfiltered search saw
      const expected = indexed.filter((p) => pass({ ...p.input, id: p.id, similarity: 0 } as unknown as L)).length;
      expect(got.length).toBeLessThanOrEqual(expected);
    });

    it.each(cases)('%s, on a multipart photo search', async (_name, filters, pass) => {
      const a = await searchPhoto(query('arla-standard-milk'), { filters: JSON.stringify(filters), limit: '50' });
      const got = listingsOf(a);
      expect(got.length).toBeGreaterThan(0);
      for (const l of got) expect(pass(l), l.id).toBe(true);
    });

    it.each(cases)('%s, on a text search', async (_name, filters, pass) => {
      const a = await searchJson({ text: 'milk yoghurt juice cream apple soy oat', limit: 50, filters });
      const got = listingsOf(a);
      expect(got.length).toBeGreaterThan(0);
      for (const l of got) expect(pass(l), l.id).toBe(true);
    });

    it('a filter nothing passes gives an empty answer', async () => {
      const a = await searchJson({ imageBase64: query('arla-sour-cream').toString('base64'), filters: { province: 'Nowhere' } });
      expect(listingsOf(a)).toEqual([]);
    });

    it('priceMin above priceMax is 400', async () => {
      await expectError(await req('/v1/search', { method: 'POST', json: { text: 'milk', filters: { priceMin: 10, priceMax: 5 } } }), 400, 'invalid_request');
      await expectError(await req('/v1/search', { method: 'POST', json: { text: 'milk', filters: { badge: 'pirate' } } }), 400, 'invalid_request');
    });
  });

  it('cheaperOnly with a reference price keeps only cheaper substitutes', async () => {
    const a = await searchJson({ imageBase64: query('arla-standard-milk').toString('base64'), referencePrice: 14, cheaperOnly: true, limit: 50 });
    expect(a.query.referencePrice).toEqual({ amount: 14, currency: 'CNY', from: 'request' });
    expect(a.substitutes.length).toBeGreaterThan(0);
    for (const s of a.substitutes) {
      expect(s.priceDelta!.amount).toBeLessThan(0);
      expect(s.listing.price!.amount).toBeLessThan(14);
      expect(s.priceDelta!.reference).toBe('request');
    }
  });

  it('415 for a text/plain body or no content type', async () => {
    await expectError(await req('/v1/search', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'milk' }), 415, 'unsupported_media_type');
    await expectError(await req('/v1/search', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: query('arla-sour-cream') }), 415, 'unsupported_media_type');
    await expectError(await req('/v1/search', { method: 'POST' }), 415, 'unsupported_media_type');
  });

  it('400 for invalid JSON, for neither image nor text, for both imageUrl and imageBase64', async () => {
    await expectError(await req('/v1/search', { method: 'POST', headers: JSON_HEADERS, body: '{"text": "milk"' }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', headers: JSON_HEADERS, body: '' }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: {} }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: { limit: 5 } }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: [] }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: 'milk' }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: { imageUrl: 'https://example.com/a.jpg', imageBase64: 'AAAA' } }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: { text: 'milk', limit: 0 } }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', json: { text: 'x'.repeat(501) } }), 400, 'invalid_request');
  });

  it('400 for a multipart form without image or text, with bad filters JSON, with bad fields', async () => {
    const form = (fields: Record<string, string | Blob>) => {
      const fd = new FormData();
      for (const [k, v] of Object.entries(fields)) fd.append(k, v);
      return req('/v1/search', { method: 'POST', body: fd });
    };
    const photo = new Blob([query('arla-sour-cream')], { type: 'image/jpeg' });
    await expectError(await form({ limit: '5' }), 400, 'invalid_request');
    await expectError(await form({ image: photo, filters: '{not json' }), 400, 'invalid_request');
    const e = await expectError(await form({ image: photo, filters: '{"priceMax": -3}' }), 400, 'invalid_request');
    expect(e.details).toBeDefined();
    await expectError(await form({ image: photo, limit: 'many' }), 400, 'invalid_request');
    await expectError(await form({ image: 'a string, not a file' }), 400, 'invalid_request');
    await expectError(await form({ image: photo, sort: 'random' }), 400, 'invalid_request');
    // a multipart body that is not multipart
    await expectError(await req('/v1/search', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=xyz' }, body: 'garbage' }), 400, 'invalid_request');
    await expectError(await req('/v1/search', { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'garbage' }), 400, 'invalid_request');
    // text only in multipart works
    const ok200 = await form({ text: 'sour cream' });
    expect(ok200.status).toBe(200);
  });

  it('422 for a photo that is not an image; 413 for an image over the byte limit', async () => {
    await expectError(await req('/v1/search', { method: 'POST', json: { imageBase64: Buffer.from('hello').toString('base64') } }), 422, 'invalid_image');
    await expectError(await req('/v1/search', { method: 'POST', json: { imageBase64: '' } }), 422, 'invalid_image');
    const fd = new FormData();
    fd.append('image', new Blob([new Uint8Array(env.services.config.image.maxBytes + 1)]), 'big.jpg');
    await expectError(await req('/v1/search', { method: 'POST', body: fd }), 413, 'image_too_large');
    const empty = new FormData();
    empty.append('image', new Blob([]), 'empty.jpg');
    await expectError(await req('/v1/search', { method: 'POST', body: empty }), 422, 'invalid_image');
  });

  it('413 for a body over the limit (JSON and multipart)', async () => {
    const limit = Math.ceil(env.services.config.image.maxBytes * 1.4) + 1024 * 1024;
    await expectError(await req('/v1/search', { method: 'POST', json: { imageBase64: 'A'.repeat(limit + 10) } }), 413, 'payload_too_large');
    const fd = new FormData();
    fd.append('image', new Blob([new Uint8Array(limit + 10)]), 'huge.jpg');
    await expectError(await req('/v1/search', { method: 'POST', body: fd }), 413, 'payload_too_large');
  });

  it.each(['http://127.0.0.1/x.jpg', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/x.jpg', 'http://2130706433/x.jpg', 'file:///etc/passwd'])(
    'imageUrl %s is 400 url_not_allowed',
    async (imageUrl) => {
      await expectError(await req('/v1/search', { method: 'POST', json: { imageUrl } }), 400, 'url_not_allowed');
    },
  );

  it('needs a key only when SEARCH_REQUIRES_KEY is set', async () => {
    const cfg = env.services.config;
    cfg.searchRequiresKey = true;
    try {
      await expectError(await req('/v1/search', { method: 'POST', json: { text: 'milk' } }), 401, 'unauthorized');
      expect((await req('/v1/search', { method: 'POST', headers: auth, json: { text: 'milk' } })).status).toBe(200);
    } finally {
      cfg.searchRequiresKey = false;
    }
  });
});

// ---------------------------------------------------------------------------- ops, docs, unknown

describe('GET /healthz', () => {
  it('reports the backend, the listing count and the model', async () => {
    const h = await ok(await req('/healthz'));
    expect(h).toEqual({
      status: 'ok',
      backend: 'embedded',
      products: indexed.length,
      modelVersion: env.services.embedder.modelVersion,
      projection: env.services.projection.current.version,
      textSearch: { mode: 'hybrid', model: env.services.textEmbedder!.modelVersion },
    });
  });
});

describe('GET /openapi.json', () => {
  let doc: any;
  beforeAll(async () => {
    doc = await ok(await req('/openapi.json'));
  });

  it('is OpenAPI 3.1 with every route and operation', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    expect(Object.keys(doc.paths).sort()).toEqual(
      ['/healthz', '/v1/products/batch', '/v1/products/{id}', '/v1/search', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/errors'].sort(),
    );
    expect(Object.keys(doc.paths['/v1/jobs']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/jobs/{id}/cancel'])).toEqual(['post']);
    // every jobs operation needs the API key
    for (const p of ['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/errors'])
      for (const op of Object.values(doc.paths[p]) as Array<{ security?: unknown }>) expect(op.security, p).toEqual([{ apiKey: [] }]);
    expect(Object.keys(doc.paths['/v1/products/{id}']).sort()).toEqual(['delete', 'get', 'put']);
    expect(Object.keys(doc.paths['/v1/products/batch'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/v1/search'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/v1/search'].post.requestBody.content).sort()).toEqual(['application/json', 'multipart/form-data']);
  });

  it('documents SearchAnswer, Product, Error and the API key scheme', () => {
    const s = doc.components.schemas;
    for (const name of ['SearchAnswer', 'SearchRequest', 'SameSourceGroup', 'Listing', 'Substitute', 'Product', 'ProductInput', 'Error', 'Filters', 'Region'])
      expect(s[name], name).toBeDefined();
    expect(Object.keys(s.SearchAnswer.properties).sort()).toEqual(['query', 'sameSource', 'substitutes', 'timings']);
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/v1/search'].post.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/SearchAnswer');
    expect(doc.paths['/v1/products/{id}'].put.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths['/v1/products/{id}'].get.security).toBeUndefined();
  });

  it('is well-formed: every $ref resolves, every operation answers, path parameters are declared', () => {
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) k === '$ref' ? refs.push(x as string) : walk(x);
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(5);
    for (const r of refs) {
      expect(r).toMatch(/^#\/components\//);
      const target = r.slice(2).split('/').reduce((o: any, k) => o?.[k], doc);
      expect(target, r).toBeDefined();
    }
    for (const [p, item] of Object.entries<any>(doc.paths)) {
      const names = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries<any>(item)) {
        expect(Object.keys(op.responses).length, `${method} ${p}`).toBeGreaterThan(0);
        for (const [code, r] of Object.entries<any>(op.responses)) {
          expect(code).toMatch(/^[1-5]\d\d$/);
          expect(typeof r.description).toBe('string');
        }
        const declared = (op.parameters ?? []).filter((x: any) => x.in === 'path').map((x: any) => x.name);
        expect(declared.sort(), `${method} ${p}`).toEqual(names.sort());
        for (const x of op.parameters ?? []) if (x.in === 'path') expect(x.required).toBe(true);
      }
    }
  });
});

describe('GET /docs', () => {
  it('serves HTML whose assets load locally, with no external URL', async () => {
    const res = await req('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      expect(a.startsWith('/')).toBe(true);
      const r = await req(a);
      expect(r.status, a).toBe(200);
      expect(r.headers.get('content-type')).toMatch(a.endsWith('.css') ? /^text\/css/ : /javascript/);
      expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
    expect(html).toContain("'/openapi.json'");
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'package.json', '..%2F..%2Fpackage.json', '..%2Fswagger-ui-dist%2Fpackage.json', 'index.html'])(
    'an asset that is not listed (%s) is a JSON 404, not a file or a 500',
    async (name) => {
      await expectError(await req(`/docs/assets/${name}`), 404, 'not_found');
    },
  );
});

describe('unknown routes', () => {
  it.each([
    ['GET', '/nope'],
    ['GET', '/v1'],
    ['POST', '/v1/products'],
    ['PATCH', '/v1/products/abc'],
    ['GET', '/v2/search'],
    ['DELETE', '/v1/search'],
  ])('%s %s is a 404 with the error shape', async (method, url) => {
    await expectError(await req(url, { method }), 404, 'not_found');
  });
});
