// The buyer's page in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core
// against the real service (real model, real embedded backend, a slice of the demo catalogue), served
// over HTTP on 127.0.0.1. Every request the page makes must go to the service's origin.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { chromium, type BrowserContext, type Page, type Request as PwRequest } from 'playwright-core';
import { DEMO_SLICE } from './support/demo-slice.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { readDemoCatalogue, type DemoProduct } from '../src/demo/catalogue.ts';
import { buildRecord } from '../src/index/methods/ingest.ts';
import { ensureWebBuilt } from '../src/web/build.ts';
import { makeTestEnv, type TestEnv } from './support/services.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const QUERIES = path.join(ROOT, 'demo', 'queries');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const CHROMIUM = '/usr/bin/chromium';

const PRODUCTS = DEMO_SLICE;

let env: TestEnv;
let server: ReturnType<typeof serve>;
let origin = '';
let fixture: http.Server;
let fixtureOrigin = '';
let context: BrowserContext;
let userDataDir = '';
const requests: Array<{ url: string; page: string }> = [];
const forms: Array<Record<string, string>> = [];

async function listen(s: http.Server): Promise<string> {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the web page tests need Debian's Chromium. Install it with: apt-get update && apt-get install -y chromium`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await ensureWebBuilt();

  // a product page on 127.0.0.1 for the link search (the fetcher allows this host in this test only)
  fixture = http.createServer((req, res) => {
    if (req.url === '/photo.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(fs.readFileSync(path.join(QUERIES, 'tropicana-apple-juice.jpg')));
    } else if (req.url === '/product') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>Shop</title>
<meta property="og:title" content="Tropicana Apple Juice 1L">
<meta property="og:image" content="${fixtureOrigin}/photo.jpg">
<meta property="product:price:amount" content="25.00"><meta property="product:price:currency" content="CNY">
</head><body><h1>Tropicana Apple Juice 1L</h1></body></html>`);
    } else {
      res.writeHead(404).end();
    }
  });
  fixtureOrigin = await listen(fixture);

  const base = loadConfig({ ...process.env });
  env = await makeTestEnv({ fetch: { ...base.fetch, allowHosts: ['127.0.0.1'] } });
  // the page is driven on the image-similarity answer (a group for a buyer's photo is then certain to be
  // shown); the evidence model's verdicts render through the same group card, tested in routes/sourcing
  env.services.evidence = null;
  const want = new Set(PRODUCTS);
  const items: DemoProduct[] = [];
  for await (const p of readDemoCatalogue()) if (want.has(p.input.attributes.fineClass as string)) items.push(p);
  expect(items).toHaveLength(PRODUCTS.length * 4);
  const records = await Promise.all(items.map((p) => buildRecord(p.id, p.input, env.services, { allowPaths: true })));
  expect((await env.services.backend.upsert(records)).every((r) => r.ok)).toBe(true);

  // the browser does not expose multipart bodies with files, so the fields of every search form are recorded here
  const app = env.app;
  server = serve({
    fetch: async (req: Request) => {
      if (req.method === 'POST' && new URL(req.url).pathname === '/v1/search' && /multipart/.test(req.headers.get('content-type') ?? '')) {
        const fd = await req.clone().formData();
        forms.push(Object.fromEntries([...fd.entries()].map(([k, v]) => [k, typeof v === 'string' ? v : `<file ${v.size} bytes>`])));
      }
      return app.fetch(req);
    },
    port: 0,
    hostname: '127.0.0.1',
  });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sourcing-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  context.on('request', (r: PwRequest) => requests.push({ url: r.url(), page: r.frame().url() }));
});

afterAll(async () => {
  await context?.close().catch(() => {});
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await new Promise((r) => (fixture ? fixture.close(r) : r(undefined)));
  await env?.close();
});

async function open(width = 1280, query = ''): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize({ width, height: width < 500 ? 800 : 900 });
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto(`${origin}/${query}`);
  await page.waitForSelector('#q');
  return page;
}

/** Waits for the next answer from /v1/search started by `action`; returns the request. */
async function searched(page: Page, action: () => Promise<unknown>): Promise<PwRequest> {
  const [res] = await Promise.all([page.waitForResponse((r) => r.url() === `${origin}/v1/search` && r.request().method() === 'POST', { timeout: 60_000 }), action()]);
  expect(res.status(), await res.text()).toBe(200);
  await page.waitForFunction(() => !document.querySelector('#search-form')?.hasAttribute('aria-busy'));
  return res.request();
}

/** Scrolls through the page so that lazy thumbnails load, then takes a full-page screenshot. */
async function screenshot(page: Page, name: string) {
  await page.evaluate(async () => {
    for (let y = 0; y < document.body.scrollHeight; y += 600) {
      window.scrollTo(0, y);
      await new Promise((r) => setTimeout(r, 60));
    }
    window.scrollTo(0, 0);
  });
  await page.waitForFunction(() => [...document.images].every((i) => i.complete || !i.getClientRects().length), null, { timeout: 5_000 }).catch(() => {});
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

const shownPrices = (page: Page) => page.$$eval('[data-price]', (els) => els.map((e) => Number((e as HTMLElement).dataset.price)));
const firstGroupIds = (page: Page) => page.$$eval('#groups > li:first-child [data-listing-id]', (els) => els.map((e) => (e as HTMLElement).dataset.listingId ?? ''));

describe('web page', () => {
  it('serves the page and its assets with the right types, and nothing outside web/dist', async () => {
    const html = await fetch(`${origin}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('/assets/app.js');
    const js = await fetch(`${origin}/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${origin}/assets/app.css`)).headers.get('content-type')).toMatch(/^text\/css/);
    for (const p of ['/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/..%2fpackage.json', '/assets/main.ts', '/assets/', '/assets/nope.js']) {
      const r = await fetch(`${origin}${p}`);
      expect(r.status, p).toBe(404);
      expect(await r.text()).not.toContain('"dependencies"');
    }
  });

  it('a photo finds its product in the first same-source group; dragging a box searches that region', async () => {
    const page = await open();
    await searched(page, () => page.setInputFiles('#photo-input', path.join(QUERIES, 'tropicana-apple-juice.jpg')));
    const ids = await firstGroupIds(page);
    expect(ids.some((id) => id.startsWith('tropicana-apple-juice-')), ids.join(', ')).toBe(true);
    const first = page.locator('#groups > li').first();
    await expect.poll(() => first.textContent()).toMatch(/About \d+% sure/);
    const text = (await first.textContent()) ?? '';
    expect(text).toMatch(/other listings? sells? this|No other listing sells this/);
    expect(text).toMatch(/Chosen as the source because: /);
    expect(text).toMatch(/MOQ \d+/);
    expect(await first.locator('.evidence li').count()).toBeGreaterThan(0);
    // thumbnails of demo listings come from /v1/images/{ref}, lazily
    const img = first.locator('.thumb img').first();
    expect(await img.getAttribute('loading')).toBe('lazy');
    await expect.poll(() => img.evaluate((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth), { timeout: 10_000 }).toBeGreaterThan(0);
    await screenshot(page, 'web-photo-desktop.png');

    // draw a box over the middle of the photo
    const stage = page.locator('.stage').first();
    const b = (await stage.boundingBox())!;
    await searched(page, async () => {
      await page.mouse.move(b.x + b.width * 0.2, b.y + b.height * 0.25);
      await page.mouse.down();
      await page.mouse.move(b.x + b.width * 0.5, b.y + b.height * 0.5, { steps: 5 });
      await page.mouse.move(b.x + b.width * 0.8, b.y + b.height * 0.75, { steps: 5 });
      await page.mouse.up();
    });
    const form = forms.at(-1)!;
    expect(form.image).toMatch(/^<file \d+ bytes>$/);
    expect(form.region, 'the multipart form carries a region field').toBeDefined();
    const region = JSON.parse(form.region);
    expect(region.x).toBeCloseTo(0.2, 1);
    expect(region.y).toBeCloseTo(0.25, 1);
    expect(region.w).toBeCloseTo(0.6, 1);
    expect(region.h).toBeCloseTo(0.5, 1);
    expect(await page.locator('.region-box').first().isVisible()).toBe(true);
    expect(await page.locator('#groups > li, #subs > li').count()).toBeGreaterThan(0);

    // keyboard fallback: the "search whole photo" button sends no region
    const n = forms.length;
    await searched(page, async () => {
      await page.getByRole('button', { name: 'Search whole photo' }).focus();
      await page.keyboard.press('Enter');
    });
    expect(forms.length).toBe(n + 1);
    expect(forms.at(-1)!.region).toBeUndefined();
    await page.close();
  });

  it('English words find a listing whose title matches, and the URL keeps the query', async () => {
    const page = await open();
    await page.fill('#q', 'apple juice');
    const req = await searched(page, () => page.press('#q', 'Enter'));
    expect(JSON.parse(req.postData() ?? '{}')).toMatchObject({ text: 'apple juice' });
    const titles = await page.$$eval('#results .title', (els) => els.map((e) => e.textContent ?? ''));
    expect(titles.some((t) => /apple juice/i.test(t)), titles.join(' | ')).toBe(true);
    expect(new URL(page.url()).searchParams.get('q')).toBe('apple juice');
    // a restored URL runs the same search on load
    const again = await context.newPage();
    await searched(again, () => again.goto(`${origin}/?q=apple+juice`));
    expect(await again.inputValue('#q')).toBe('apple juice');
    expect(await again.locator('#results .title').count()).toBeGreaterThan(0);
    await again.close();
    await page.close();
  });

  it('a product link is searched with its page photo and title', async () => {
    const page = await open();
    const link = `${fixtureOrigin}/product`;
    await page.fill('#q', link);
    const req = await searched(page, () => page.click('#go'));
    expect(JSON.parse(req.postData() ?? '{}')).toMatchObject({ url: link });
    const ids = await firstGroupIds(page);
    expect(ids.length).toBeGreaterThan(0);
    const all = await page.$$eval('#results [data-listing-id]', (els) => els.map((e) => (e as HTMLElement).dataset.listingId ?? ''));
    expect(all.some((id) => id.startsWith('tropicana-apple-juice-')), all.join(', ')).toBe(true);
    expect(await page.textContent('#subs-ref')).toMatch(/linked page/);
    expect(new URL(page.url()).searchParams.get('url')).toBe(link);
    await page.close();
  });

  it('a price filter narrows every shown price and lives in the URL', async () => {
    const page = await open();
    await page.fill('#q', 'juice');
    await searched(page, () => page.press('#q', 'Enter'));
    const before = (await shownPrices(page)).sort((a, b) => a - b);
    expect(before.length).toBeGreaterThan(2);
    const max = Math.floor(before[Math.floor(before.length / 2)]);
    expect(before.some((p) => p > max)).toBe(true);
    await page.click('#filters summary');
    await page.fill('#f-priceMax', String(max));
    const req = await searched(page, () => page.click('#apply-filters'));
    expect(JSON.parse(req.postData() ?? '{}').filters).toEqual({ priceMax: max });
    const after = await shownPrices(page);
    expect(after.length).toBeGreaterThan(0);
    for (const p of after) expect(p).toBeLessThanOrEqual(max);
    const url = new URL(page.url());
    expect(url.searchParams.get('priceMax')).toBe(String(max));
    expect(url.searchParams.get('q')).toBe('juice');
    // reload: the filter is restored and applied again
    await searched(page, () => page.reload());
    expect(await page.inputValue('#f-priceMax')).toBe(String(max));
    for (const p of await shownPrices(page)) expect(p).toBeLessThanOrEqual(max);
    await screenshot(page, 'web-filter-desktop.png');
    await page.close();
  });

  it('fits a 375 px wide phone screen with results, photo and filters open', async () => {
    const page = await open(375);
    await page.click('#filters summary');
    await searched(page, () => page.setInputFiles('#photo-input', path.join(QUERIES, 'tropicana-apple-juice.jpg')));
    expect(await page.locator('#groups > li').count()).toBeGreaterThan(0);
    expect(await page.locator('#subs > li').count()).toBeGreaterThan(0);
    await page.locator('#groups > li:first-child details summary').click().catch(() => {}); // open the other listings if any
    const width = await page.evaluate('document.scrollingElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(375);
    // substitutes say cheaper/dearer in colour with amount and percent
    const deltas = await page.$$eval('#subs .delta', (els) => els.map((e) => ({ text: e.textContent ?? '', cls: e.className, color: getComputedStyle(e).color })));
    for (const d of deltas) {
      if (/cheaper/.test(d.cls)) expect(d.text).toMatch(/cheaper \(\d+%\)/);
      if (/dearer/.test(d.cls)) expect(d.text).toMatch(/dearer \(\d+%\)/);
    }
    const green = deltas.find((d) => /cheaper/.test(d.cls));
    const red = deltas.find((d) => /dearer/.test(d.cls));
    if (green) expect(green.color).toBe('rgb(17, 112, 58)');
    if (red) expect(red.color).toBe('rgb(179, 38, 30)');
    expect(green ?? red, 'at least one substitute has a price difference').toBeTruthy();
    await screenshot(page, 'web-photo-375.png');
    await page.close();
  });

  it('is usable from the keyboard: labelled controls, buttons, visible focus', async () => {
    const page = await open();
    const unlabelled = await page.$$eval('input:not([type=file]):not([type=hidden])', (els) =>
      els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label')).map((e) => e.id),
    );
    expect(unlabelled).toEqual([]);
    await page.keyboard.press('Tab'); // skip link
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('q');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('add-photo');
    expect(await page.evaluate('document.activeElement.tagName')).toBe('BUTTON');
    await page.close();
  });

  it('made no request outside the service origin', () => {
    expect(requests.length).toBeGreaterThan(10);
    const foreign = requests.filter(({ url }) => {
      if (url.startsWith('data:')) return false;
      const u = url.startsWith('blob:') ? url.slice(5) : url;
      return new URL(u).origin !== origin;
    });
    expect(foreign).toEqual([]);
  });
});
