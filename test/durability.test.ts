// The real service as a child process: an acknowledged write (a PUT that answered 200) must survive
// kill -9 at any moment, and a graceful restart must reuse the index instead of rebuilding it.
//
// The service runs as `node --import tsx src/main.ts` — what `npx tsx src/main.ts` ends up running, minus
// the npx and tsx wrapper processes, so that SIGKILL hits the server itself and nothing is left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = path.join(ROOT, 'demo', 'catalogue', 'images');
const QUERIES = path.join(ROOT, 'demo', 'queries');
const KEY = 'durability-test-key-42';
const AUTH = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

// one distinct product photo per listing we write
const SLUGS = fs
  .readdirSync(IMAGES)
  .filter((f) => f.endsWith('__photo-1.jpg'))
  .map((f) => f.replace('__photo-1.jpg', ''))
  .sort();

const tmpDirs: string[] = [];
const running = new Set<Service>();

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sourcing-durability-'));
  tmpDirs.push(d);
  return d;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Service {
  proc: ChildProcess;
  base: string;
  log: () => string;
  startMs: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function start(dataDir: string, opts: { demo?: boolean; readyTimeoutMs?: number } = {}): Promise<Service> {
  const port = await freePort();
  const t0 = Date.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      DEMO_CATALOGUE: opts.demo ? '1' : '0',
      API_KEYS: KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const svc: Service = { proc, base: `http://127.0.0.1:${port}`, log: () => out, startMs: 0, exited };
  running.add(svc);
  void exited.then(() => running.delete(svc));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (gone) throw new Error(`the service exited before it was ready:\n${out}`);
    if (Date.now() > deadline) throw new Error(`the service was not ready in time:\n${out}`);
    try {
      const r = await fetch(`${svc.base}/healthz`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  svc.startMs = Date.now() - t0;
  return svc;
}

async function kill9(svc: Service): Promise<void> {
  svc.proc.kill('SIGKILL');
  const { signal } = await svc.exited;
  expect(signal).toBe('SIGKILL');
}

async function stopGracefully(svc: Service): Promise<void> {
  svc.proc.kill('SIGTERM');
  const { code, signal } = await svc.exited;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
}

// a buyer photo that is not in the demo catalogue, for the run that indexes the catalogue as well
const OUTSIDE: Record<string, string> = { 'query-oatly': path.join(QUERIES, 'oatly-oat-milk.jpg') };
const photo = (slug: string) => fs.readFileSync(OUTSIDE[slug] ?? path.join(IMAGES, `${slug}__photo-1.jpg`));
const idOf = (slug: string) => `dur-${slug}`;
const titleOf = (slug: string) => `Durable ${slug}`;

function putBody(slug: string) {
  return JSON.stringify({
    title: titleOf(slug),
    categoryPath: ['Test'],
    price: { amount: 10 + slug.length, currency: 'CNY' },
    supplier: { id: 'sup-d', name: 'Durable Trading', badges: ['factory'], province: 'Zhejiang' },
    images: [{ base64: photo(slug).toString('base64') }],
  });
}

/** PUT, resolving with the status as soon as it is known (the body is not awaited). */
async function put(svc: Service, slug: string): Promise<number> {
  const r = await fetch(`${svc.base}/v1/products/${idOf(slug)}`, { method: 'PUT', headers: AUTH, body: putBody(slug) });
  return r.status;
}

async function topHit(svc: Service, bytes: Buffer): Promise<{ id: string; similarity: number }> {
  const fd = new FormData();
  fd.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'q.jpg');
  const r = await fetch(`${svc.base}/v1/search`, { method: 'POST', body: fd });
  expect(r.status).toBe(200);
  const a = await r.json();
  const all = [...a.sameSource.flatMap((g: any) => [g.source, ...g.listings]), ...a.substitutes.map((s: any) => s.listing)];
  all.sort((x: any, y: any) => y.similarity - x.similarity);
  return all[0] ? { id: all[0].id, similarity: all[0].similarity } : { id: '', similarity: -1 };
}

/** The listing is stored whole: readable, with its fields, and found first by its own photo. */
async function expectStoredWhole(svc: Service, slug: string): Promise<void> {
  const r = await fetch(`${svc.base}/v1/products/${idOf(slug)}`);
  expect(r.status, `${idOf(slug)} after restart`).toBe(200);
  const { product } = await r.json();
  expect(product.title).toBe(titleOf(slug));
  expect(product.images).toHaveLength(1);
  expect(product.supplier.badges).toEqual(['factory']);
  const hit = await topHit(svc, photo(slug));
  expect(hit.id, `search by the photo of ${slug}`).toBe(idOf(slug));
  expect(hit.similarity).toBeGreaterThan(0.999);
}

afterEach(async () => {
  // never leave a server behind, whatever failed
  for (const s of [...running]) {
    s.proc.kill('SIGKILL');
    await s.exited;
  }
});
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('durability of acknowledged writes', () => {
  it('kill -9 right after each acknowledged PUT loses nothing', { timeout: 240_000 }, async () => {
    const dir = tmpDir();
    const slugs = SLUGS.filter((_, i) => i % 17 === 3).slice(0, 4);
    expect(slugs).toHaveLength(4);
    const acked: string[] = [];
    let svc = await start(dir);
    for (const slug of slugs) {
      const status = await put(svc, slug);
      if (status === 200) svc.proc.kill('SIGKILL'); // as soon as the 200 is known
      expect(status).toBe(200);
      acked.push(slug);
      await kill9(svc);
      svc = await start(dir);
      for (const s of acked) await expectStoredWhole(svc, s);
      const h = await (await fetch(`${svc.base}/healthz`)).json();
      expect(h.products).toBe(acked.length);
    }
    await stopGracefully(svc);
  });

  it('kill -9 in the middle of concurrent PUTs keeps every acknowledged one, whole', { timeout: 240_000 }, async () => {
    const dir = tmpDir();
    const slugs = SLUGS.slice(0, 40);
    let svc = await start(dir);
    const acked = new Set<string>();
    const failed = new Set<string>();
    let next = 0;
    let killed = false;
    const KILL_AFTER = 10;
    const worker = async () => {
      while (next < slugs.length) {
        const slug = slugs[next++];
        try {
          const status = await put(svc, slug);
          if (status === 200) acked.add(slug);
          else failed.add(slug);
          if (!killed && acked.size >= KILL_AFTER) {
            killed = true;
            svc.proc.kill('SIGKILL'); // the other workers' PUTs are in flight right now
          }
        } catch {
          failed.add(slug); // connection reset by the kill: not acknowledged
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    expect(killed).toBe(true);
    await svc.exited;
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(failed.size).toBeGreaterThan(0); // the kill really interrupted writes
    console.log(`concurrent PUTs: ${acked.size} acknowledged before the kill, ${failed.size} cut off`);

    svc = await start(dir);
    for (const slug of acked) await expectStoredWhole(svc, slug);
    // a write that was not acknowledged is either absent or whole, never half-written
    let present = acked.size;
    for (const slug of failed) {
      const r = await fetch(`${svc.base}/v1/products/${idOf(slug)}`);
      expect([200, 404]).toContain(r.status);
      if (r.status === 200) {
        await expectStoredWhole(svc, slug);
        present++;
      }
    }
    const h = await (await fetch(`${svc.base}/healthz`)).json();
    expect(h.products).toBe(present);
    // and the service takes writes again
    expect(await put(svc, slugs[slugs.length - 1])).toBe(200);
    await expectStoredWhole(svc, slugs[slugs.length - 1]);
    await stopGracefully(svc);
  });
});

describe('graceful restart', () => {
  it('reuses the index: no re-indexing of the demo catalogue, same projection, same answers', { timeout: 400_000 }, async () => {
    const dir = tmpDir();
    const first = await start(dir, { demo: true, readyTimeoutMs: 300_000 });
    expect(first.log()).toMatch(/indexed 324 demo listings/);
    const h1 = await (await fetch(`${first.base}/healthz`)).json();
    expect(h1.products).toBe(324);
    expect(h1.projection).toMatch(/^pw-/); // whitening learned from the catalogue
    expect(await put(first, 'query-oatly')).toBe(200);
    const q = fs.readFileSync(path.join(QUERIES, 'arla-sour-cream.jpg'));
    const before = await (await fetch(`${first.base}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ imageBase64: q.toString('base64'), limit: 20 }) })).json();
    await stopGracefully(first);

    const second = await start(dir, { demo: true });
    expect(second.log()).toMatch(/demo catalogue already indexed/);
    expect(second.log()).not.toMatch(/indexing demo catalogue|indexed \d+ demo listings|learned/);
    expect(second.startMs).toBeLessThan(first.startMs / 2);
    const h2 = await (await fetch(`${second.base}/healthz`)).json();
    expect(h2).toEqual({ ...h1, products: 325 });
    const after = await (await fetch(`${second.base}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ imageBase64: q.toString('base64'), limit: 20 }) })).json();
    const ids = (a: any) => [...a.sameSource.flatMap((g: any) => [g.source, ...g.listings]), ...a.substitutes.map((s: any) => s.listing)].map((l: any) => `${l.id}:${l.similarity}`);
    expect(ids(after)).toEqual(ids(before));
    await expectStoredWhole(second, 'query-oatly');
    await stopGracefully(second);
  });
});
