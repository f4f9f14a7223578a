// The jobs API through `app.request`, with the real model and the embedded backend: the happy paths (an
// inline feed with base64 images, a feed URL whose image URLs go through the guarded fetcher, a delete
// job, cancel), the error paths (bad kind, unknown job) and the security paths (API key, a feed URL to a
// private address, server-side paths refused per item).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groceryPhotos } from './support/feed.ts';
import { auth, makeTestEnv, type TestEnv } from './support/services.ts';

let env: TestEnv;
let photos: string[] = [];
let server: http.Server;
let base = '';

function req(url: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  if (json !== undefined) {
    rest.body = JSON.stringify(json);
    rest.headers = { 'content-type': 'application/json', ...(rest.headers as Record<string, string>) };
  }
  return env.app.request(url, rest);
}

async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text.slice(0, 500)).toBe(status);
  const body = JSON.parse(text);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
}

async function ok<T = any>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text.slice(0, 800)).toBe(status);
  return JSON.parse(text) as T;
}

async function waitJob(id: string): Promise<any> {
  for (let i = 0; i < 1200; i++) {
    const { job } = await ok(await req(`/v1/jobs/${id}`, { headers: auth }));
    if (!['queued', 'running'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

const product = (id: string, image: Record<string, string>, title = `Listing ${id}`) => JSON.stringify({ id, title, price: { amount: 3.5, currency: 'CNY' }, images: [image] });

beforeAll(async () => {
  env = await makeTestEnv();
  photos = await groceryPhotos(6);
  // a fixture server: a feed whose images are URLs on the same server
  server = http.createServer((rq, rs) => {
    const m = /^\/img\/(\d+)\.jpg$/.exec(rq.url ?? '');
    if (m && photos[Number(m[1])]) {
      rs.writeHead(200, { 'content-type': 'image/jpeg' });
      return rs.end(fs.readFileSync(photos[Number(m[1])]));
    }
    if (rq.url === '/feed.jsonl') {
      rs.writeHead(200, { 'content-type': 'application/x-ndjson' });
      return rs.end([0, 1, 2].map((i) => product(`url-${i}`, { url: `${base}/img/${i}.jpg` })).join('\n') + `\n${product('url-missing', { url: `${base}/img/99.jpg` })}\n`);
    }
    rs.writeHead(404);
    rs.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await env?.close();
});

describe('jobs API', () => {
  it('401 without an API key, on every jobs route', async () => {
    await expectError(await req('/v1/jobs', { method: 'POST', json: { kind: 'index', feed: '' } }), 401, 'unauthorized');
    await expectError(await req('/v1/jobs', { method: 'POST', json: { kind: 'index', feed: '' }, headers: { authorization: 'Bearer wrong' } }), 401, 'unauthorized');
    await expectError(await req('/v1/jobs/abc'), 401, 'unauthorized');
    await expectError(await req('/v1/jobs/abc/cancel', { method: 'POST' }), 401, 'unauthorized');
    await expectError(await req('/v1/jobs'), 401, 'unauthorized');
  });

  it('400 for a bad kind, a missing input, or ids on an index job', async () => {
    await expectError(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'explode', feed: '' } }), 400, 'invalid_request');
    await expectError(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'index' } }), 400, 'invalid_request');
    await expectError(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'index', ids: ['a'] } }), 400, 'invalid_request');
    await expectError(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'reindex', mode: 'sideways', feed: '' } }), 400, 'invalid_request');
  });

  it('404 not_found for an unknown job (get and cancel)', async () => {
    await expectError(await req('/v1/jobs/no-such-job', { headers: auth }), 404, 'not_found');
    await expectError(await req('/v1/jobs/no-such-job/cancel', { method: 'POST', headers: auth }), 404, 'not_found');
    await expectError(await req('/v1/jobs/no-such-job/errors', { headers: auth }), 404, 'not_found');
  });

  it('a feed URL to a private address is refused by the guarded fetcher', async () => {
    for (const url of ['http://127.0.0.1:1/feed.jsonl', `${base}/feed.jsonl`, 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/feed.jsonl'])
      await expectError(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'index', feedUrl: url } }), 400, 'url_not_allowed');
  });

  it('an inline feed: base64 images indexed; server-side paths and bad lines go to the errors report', async () => {
    const feed = [
      product('b64-0', { base64: fs.readFileSync(photos[0]).toString('base64') }),
      product('b64-1', { base64: fs.readFileSync(photos[1]).toString('base64') }),
      product('local-path', { path: photos[2] }),
      '{"id": "broken", ',
      '',
      product('b64-2', { base64: Buffer.from('not an image').toString('base64') }),
    ].join('\n');
    const { job } = await ok(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'index', feed, ocr: false } }), 202);
    expect(['queued', 'running']).toContain(job.status);
    expect(job.errorsUrl).toBe(`/v1/jobs/${job.id}/errors`);
    const done = await waitJob(job.id);
    expect(done.status).toBe('completed_with_errors');
    expect(done.progress).toMatchObject({ total: 6, processed: 5, done: 2, failed: 3, skipped: 0, etaSeconds: 0 });
    const res = await req(done.errorsUrl, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/ndjson/);
    const errs = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l)).sort((a, b) => a.line - b.line);
    expect(errs.map(({ line, id, code }) => ({ line, id, code }))).toEqual([
      { line: 3, id: 'local-path', code: 'path_not_allowed' },
      { line: 4, id: null, code: 'invalid_record' },
      { line: 6, id: 'b64-2', code: 'invalid_image' },
    ]);
    expect(await env.services.backend.get('local-path')).toBeNull();
    const { product: p } = await ok(await req('/v1/products/b64-1'));
    expect(p.title).toBe('Listing b64-1');
    // the job is listed, without the server-side input path
    const { jobs } = await ok(await req('/v1/jobs', { headers: auth }));
    const listed = jobs.find((j: any) => j.id === job.id);
    expect(listed.status).toBe('completed_with_errors');
    expect(listed.input).toBeUndefined();
  });

  it('a feed URL (allowed host) is fetched, and its image URLs too; an unreachable image is a per-item error', async () => {
    env.services.config.fetch.allowHosts.push('127.0.0.1');
    try {
      const { job } = await ok(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'index', feedUrl: `${base}/feed.jsonl`, ocr: false } }), 202);
      const done = await waitJob(job.id);
      expect(done.status).toBe('completed_with_errors');
      expect(done.progress).toMatchObject({ done: 3, failed: 1 });
      const errs = (await (await req(done.errorsUrl, { headers: auth })).text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(errs).toHaveLength(1);
      expect(errs[0]).toMatchObject({ line: 4, id: 'url-missing', code: 'fetch_failed' });
      const got = await env.services.backend.getMany(['url-0', 'url-1', 'url-2']);
      expect(got.size).toBe(3);
      expect(got.get('url-1')!.product.images[0].url).toBe(`${base}/img/1.jpg`);

      // a stale reindex without a feed: the records another model made are re-embedded from their image URLs
      const old = got.get('url-1')!;
      await env.services.backend.upsert([{ ...old, product: { ...old.product, modelVersion: 'older-model-1' } }]);
      const stale = (await ok(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'reindex', mode: 'stale', ocr: false } }), 202)).job;
      const staleDone = await waitJob(stale.id);
      expect(staleDone.status).toBe('completed');
      expect(staleDone.progress).toMatchObject({ total: null, done: 1, failed: 0, skipped: 0 });
      expect((await env.services.backend.get('url-1'))!.product.modelVersion).toBe(env.services.embedder.modelVersion);
      expect((await env.services.backend.get('url-2'))!.product.updatedAt).toBe(got.get('url-2')!.product.updatedAt);
    } finally {
      const hosts = env.services.config.fetch.allowHosts;
      hosts.splice(hosts.indexOf('127.0.0.1'), 1);
    }
  });

  it('a delete job by ids: known ids deleted, unknown ones skipped, bad ones reported', async () => {
    const { job } = await ok(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'delete', ids: ['b64-0', 'url-0', 'never-existed'] } }), 202);
    const done = await waitJob(job.id);
    expect(done.status).toBe('completed');
    expect(done.progress).toMatchObject({ done: 2, skipped: 1, failed: 0 });
    expect(await env.services.backend.get('b64-0')).toBeNull();
    expect(await env.services.backend.get('url-0')).toBeNull();
    expect(await env.services.backend.get('b64-1')).not.toBeNull();
  });

  it('cancel: a running job stops and says cancelled; cancelling a finished job changes nothing', async () => {
    const lines = Array.from({ length: 120 }, (_, i) => product(`c-${i}`, { base64: fs.readFileSync(photos[i % photos.length]).toString('base64') }, `Cancel me ${i}`));
    const { job } = await ok(await req('/v1/jobs', { method: 'POST', headers: auth, json: { kind: 'index', feed: lines.join('\n'), ocr: false } }), 202);
    for (let i = 0; i < 100; i++) {
      const { job: j } = await ok(await req(`/v1/jobs/${job.id}`, { headers: auth }));
      if (j.status === 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = Date.now();
    await ok(await req(`/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: auth }));
    const done = await waitJob(job.id);
    expect(done.status).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(done.progress.processed).toBeLessThan(120);
    const again = await ok(await req(`/v1/jobs/${job.id}/cancel`, { method: 'POST', headers: auth }));
    expect(again.job.status).toBe('cancelled');
    // a finished job stays as it was
    const { jobs } = await ok(await req('/v1/jobs', { headers: auth }));
    const finished = jobs.find((j: any) => j.kind === 'delete');
    const after = await ok(await req(`/v1/jobs/${finished.id}/cancel`, { method: 'POST', headers: auth }));
    expect(after.job.status).toBe('completed');
  });
});
