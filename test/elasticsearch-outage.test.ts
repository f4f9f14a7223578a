// Elasticsearch goes away and comes back: the backend fails fast with backend_unavailable, the HTTP app
// answers 503 and the process stays up; once ES is back (same data: ES_KEEP_DATA=1), everything works again.
//
// The shared test ES from globalSetup is NOT stopped: other test files use it concurrently (vitest runs
// files in parallel). This test starts its own single-node ES with scripts/es.sh on a private port (own
// run dir), stops it mid-way, restarts it once, and stops it at the end: it only ever stops the one it
// started. Skipped when SKIP_ES=1 or when ES_URL points at an external Elasticsearch.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AppError } from '../src/errors.ts';
import { ElasticsearchBackend } from '../src/index/elasticsearch/backend.ts';
import { makeCorpus, makeRecord, prng, unitVector } from './contract/synthetic.ts';
import { makeTestEnv, type TestEnv } from './support/services.ts';
import { INDEX_DIMS } from '../src/vision/projection.ts';

const ES_SCRIPT = fileURLToPath(new URL('../scripts/es.sh', import.meta.url));
const PORT = Number(process.env.ES_OUTAGE_PORT ?? 9257);

const esUrl = inject('esUrl');
const skipReason = !esUrl
  ? 'SKIP_ES=1: no Elasticsearch'
  : process.env.ES_URL
    ? 'ES_URL points at an external Elasticsearch: this test only stops an Elasticsearch it started itself (unset ES_URL to run it)'
    : undefined;

function es(cmd: 'start' | 'stop' | 'status', extraEnv: Record<string, string> = {}, timeoutMs = 240_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [ES_SCRIPT, cmd], {
      env: { ...process.env, ES_PORT: String(PORT), ES_TRANSPORT_PORT: String(PORT + 100), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Runs fn, expects AppError('backend_unavailable'), returns how long it took. */
async function failsFast(what: string, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  expect(err, `${what} should fail`).toBeInstanceOf(AppError);
  expect((err as AppError).code, `${what}: ${(err as Error).message}`).toBe('backend_unavailable');
  expect(ms, `${what} took ${ms.toFixed(0)} ms`).toBeLessThan(3000);
  return ms;
}

describe.skipIf(!!skipReason)(`Elasticsearch outage and recovery${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let url = '';
  let started = false;
  let backend: ElasticsearchBackend;
  let env: TestEnv | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  const corpus = makeCorpus(20, 4242);
  const post = (body: unknown) =>
    env!.app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    const r = await es('start');
    url = r.out.split('\n').map((l) => l.trim()).filter((l) => /^https?:\/\//.test(l)).pop() ?? '';
    if (r.code !== 0 || !url) throw new Error(`could not start the private Elasticsearch on port ${PORT}:\n${r.out.slice(-2000)}`);
    started = true;
    backend = new ElasticsearchBackend({ url, index: `outage_${Date.now().toString(36)}`, dims: INDEX_DIMS });
    await backend.init();
    const res = await backend.upsert(corpus.records);
    expect(res.every((x) => x.ok)).toBe(true);
    env = await makeTestEnv({ backend: 'elasticsearch', es: { url, index: backend.names.alias } }, backend);
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await env?.close().catch(() => undefined);
    if (started) await es('stop');
  });

  it('fails fast with backend_unavailable while ES is down, 503 over HTTP, and recovers', { timeout: 300_000 }, async () => {
    const photo = await sharp({ create: { width: 96, height: 96, channels: 3, background: { r: 200, g: 40, b: 30 } } }).png().toBuffer();
    // up: searches answer
    expect((await post({ text: 'mug bottle' })).status).toBe(200);
    expect((await post({ imageBase64: photo.toString('base64') })).status).toBe(200);
    const q = unitVector(prng(1));
    expect((await backend.knn(q, { k: 5 })).length).toBe(5);
    // a search failing inside an _msearch (HTTP 200 overall) is classified as the same failure alone
    const missing = new ElasticsearchBackend({ url, index: `missing_${Date.now().toString(36)}`, dims: INDEX_DIMS });
    for (const call of [() => missing.knn(q, { k: 5 }), () => missing.knnMany([q, q], { k: 5 })]) {
      const e = await call().then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('backend_unavailable');
    }
    await missing.close();

    // down
    const stopped = await es('stop');
    expect(stopped.code, stopped.out).toBe(0);
    const times: Record<string, number> = {};
    times.knn = await failsFast('knn', () => backend.knn(q, { k: 5 }));
    times.knnMany = await failsFast('knnMany', () => backend.knnMany([q, q], { k: 5 }));
    times.text = await failsFast('text', () => backend.text(['mug'], { k: 5 }));
    times.get = await failsFast('get', () => backend.get('p-001'));
    times.getMany = await failsFast('getMany', () => backend.getMany(['p-001', 'p-002']));
    times.count = await failsFast('count', () => backend.count());
    times.upsert = await failsFast('upsert', () => backend.upsert([makeRecord(prng(2), 900)]));
    times.delete = await failsFast('delete', () => backend.delete('p-001'));
    times.getMeta = await failsFast('getMeta', () => backend.getMeta('projection'));
    times.setMeta = await failsFast('setMeta', () => backend.setMeta('x', Buffer.from('y')));
    times.scan = await failsFast('scan', async () => {
      for await (const _ of backend.scan(10)) void _;
    });
    times.init = await failsFast('init', () => backend.init());
    console.log(`[outage] failure latency (ms): ${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(v)])))}`);

    for (const body of [{ text: 'mug bottle' }, { imageBase64: photo.toString('base64') }]) {
      const t0 = performance.now();
      const res = await post(body);
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('backend_unavailable');
    }
    const health = await env!.app.request('/healthz');
    expect(health.status).toBe(503);
    expect(unhandled).toEqual([]);

    // back, with its data (ES_KEEP_DATA=1: es.sh wipes the data dir on start otherwise)
    const restarted = await es('start', { ES_KEEP_DATA: '1' });
    expect(restarted.code, restarted.out).toBe(0);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await backend.count()) === corpus.records.length) break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
      if (Date.now() > deadline) throw new Error('the index did not come back in 60 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await backend.knn(q, { k: 5 })).length).toBe(5);
    expect((await backend.get('p-001'))?.contentHash).toBe(corpus.byId.get('p-001')!.contentHash);
    expect(await backend.upsert([makeRecord(prng(3), 901)])).toEqual([{ id: 'p-901', ok: true }]);
    const text = await post({ text: 'mug bottle' });
    expect(text.status).toBe(200);
    expect((await post({ imageBase64: photo.toString('base64') })).status).toBe(200);
    expect((await env!.app.request('/healthz')).status).toBe(200);
    expect(unhandled).toEqual([]);
  });
});
