// Throws thousands of broken, random and hostile files at POST /v1/search (multipart and imageBase64),
// through the real app, model and embedded backend. Every answer must be a 200 or a 4xx with the error
// shape — never a 5xx, never a throw — and the service must still answer normally afterwards.
// Seeded: FUZZ_SEED=<n> reproduces a run, FUZZ_CASES=<n> changes its size.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { mulberry32 } from '../src/util/prng.ts';
import { pngChunk } from './support/png.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDemoCatalogue } from '../src/demo/catalogue.ts';
import { buildRecord } from '../src/index/methods/ingest.ts';
import { SearchAnswer } from '../src/schema/search.ts';
import { makeTestEnv, type TestEnv } from './support/services.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const CONCURRENCY = 4;


type Rand = ReturnType<typeof mulberry32>;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1)); // inclusive
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
function randomBytes(r: Rand, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

// hand-made PNG with any IHDR (valid CRCs), to reach the decoder with odd sizes and depths
function craftedPng(r: Rand): Buffer {
  const ihdr = Buffer.alloc(13);
  const dim = () => pick(r, [0, 1, 2, 7, 100, 4000, 7000, 20000, 65535, 100000, 0x7fffffff, 0xffffffff]);
  ihdr.writeUInt32BE(dim(), 0);
  ihdr.writeUInt32BE(dim(), 4);
  ihdr[8] = pick(r, [1, 2, 4, 8, 16, 3, 0]);
  ihdr[9] = pick(r, [0, 2, 3, 4, 6, 1, 7]);
  ihdr[12] = pick(r, [0, 0, 0, 1, 2]); // interlace
  const idat = r() < 0.5 ? zlib.deflateSync(randomBytes(r, int(r, 0, 4000))) : randomBytes(r, int(r, 0, 200));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}
/** JPEG whose SOF0 claims random dimensions, followed by a random tail. */
function craftedJpeg(r: Rand, real: Buffer): Buffer {
  const b = Buffer.from(real);
  const sof = b.indexOf(Buffer.from([0xff, 0xc0]));
  if (sof > 0) {
    b.writeUInt16BE(pick(r, [0, 1, 8, 7000, 30000, 65535]), sof + 5); // height
    b.writeUInt16BE(pick(r, [0, 1, 8, 7000, 30000, 65535]), sof + 7); // width
  }
  return r() < 0.5 ? b : b.subarray(0, int(r, sof + 10, b.length));
}

const MAGIC: Buffer[] = [
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('GIF89a'),
  Buffer.from('GIF87a'),
  Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x10, 0, 0, 0]), Buffer.from('WEBPVP8 ')]),
  Buffer.from([0x49, 0x49, 0x2a, 0x00]),
  Buffer.from([0x4d, 0x4d, 0x00, 0x2a]),
  Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from('ftypavif')]),
  Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic')]),
  Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000">'),
  Buffer.from('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;'),
  Buffer.from('%PDF-1.7\n'),
  Buffer.from('BM'),
  Buffer.from('P6\n65535 65535\n255\n'),
  Buffer.from('P3\n2 2\n255\n'),
  Buffer.from('#?RADIANCE\n'),
  Buffer.from('SIMPLE  =                    T'), // FITS
  Buffer.from([0x00, 0x00, 0x01, 0x00]), // ICO
  Buffer.from('8BPS'),
  Buffer.from([0xff, 0x0a]), // JPEG XL
  Buffer.from([0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]), // JPEG 2000
];

interface Seeds {
  [format: string]: Buffer;
}

async function makeSeeds(): Promise<Seeds> {
  const photo = fs.readFileSync(path.join(ROOT, 'demo', 'catalogue', 'images', 'tropicana-apple-juice__photo-1.jpg'));
  const small = sharp(photo).resize(96, 96);
  const seeds: Seeds = {
    jpeg: photo,
    jpegSmall: await small.clone().jpeg({ quality: 70 }).toBuffer(),
    progressive: await small.clone().jpeg({ progressive: true }).toBuffer(),
    png: await small.clone().png().toBuffer(),
    pngInterlaced: await small.clone().png({ progressive: true }).toBuffer(),
    pngAlpha: await small.clone().ensureAlpha(0.5).png().toBuffer(),
    webp: await small.clone().webp().toBuffer(),
    webpLossless: await small.clone().webp({ lossless: true }).toBuffer(),
    gif: await small.clone().gif().toBuffer(),
    tiff: await small.clone().tiff().toBuffer(),
  };
  try {
    seeds.avif = await small.clone().avif({ effort: 0 }).toBuffer();
  } catch {
    /* no AVIF encoder here */
  }
  return seeds;
}

interface Case {
  kind: string;
  bytes: Buffer;
  transport: 'multipart' | 'json';
  fields: Record<string, string>;
}

function makeCase(r: Rand, seeds: Seeds): Case {
  const formats = Object.keys(seeds);
  const fmt = pick(r, formats);
  const real = seeds[fmt];
  const roll = r();
  let kind: string;
  let bytes: Buffer;
  if (roll < 0.16) {
    kind = 'random';
    bytes = randomBytes(r, pick(r, [0, 1, 2, 3, 8, 64, int(r, 1, 4096), int(r, 4096, 40000)]));
  } else if (roll < 0.4) {
    kind = `truncated-${fmt}`;
    bytes = real.subarray(0, int(r, 0, real.length - 1));
  } else if (roll < 0.56) {
    kind = `header+tail-${fmt}`;
    const keep = int(r, 2, Math.min(real.length, 700));
    bytes = Buffer.concat([real.subarray(0, keep), randomBytes(r, int(r, 0, 6000))]);
  } else if (roll < 0.78) {
    kind = `bitflip-${fmt}`;
    bytes = Buffer.from(real);
    const flips = pick(r, [1, 2, 4, 16, 64, 512]);
    // bias half the flips to the header, where the parsers make their decisions
    for (let i = 0; i < flips; i++) {
      const at = r() < 0.5 ? int(r, 0, Math.min(bytes.length - 1, 400)) : int(r, 0, bytes.length - 1);
      bytes[at] ^= 1 << int(r, 0, 7);
    }
  } else if (roll < 0.86) {
    kind = 'magic+random';
    bytes = Buffer.concat([pick(r, MAGIC), randomBytes(r, int(r, 0, 3000))]);
  } else if (roll < 0.93) {
    kind = 'crafted-png';
    bytes = craftedPng(r);
  } else {
    kind = 'crafted-jpeg';
    bytes = craftedJpeg(r, seeds.jpegSmall);
  }
  // sometimes with odd form fields or JSON options, which must be refused cleanly too
  const fields: Record<string, string> = {};
  if (r() < 0.15) {
    const junk = pick(r, ['', '{', 'null', '[]', '{"x":-1,"y":2,"w":0,"h":0}', '{"x":0.9,"y":0.9,"w":0.1,"h":0.1}', '{"x":0,"y":0,"w":1,"h":1}', '"__proto__"', '{"__proto__":{"a":1}}', '1e999', 'NaN']);
    fields[pick(r, ['region', 'filters', 'limit', 'referencePrice', 'cheaperOnly', 'sort', 'text', 'currency'])] = junk;
  }
  return { kind, bytes, transport: r() < 0.5 ? 'multipart' : 'json', fields };
}

let env: TestEnv;
let seeds: Seeds;

beforeAll(async () => {
  env = await makeTestEnv();
  seeds = await makeSeeds();
  const want = new Set(['Tropicana-Apple-Juice', 'Arla-Sour-Cream', 'Banana']);
  const recs = [];
  for await (const p of readDemoCatalogue()) if (want.has(p.input.attributes.fineClass as string)) recs.push(await buildRecord(p.id, p.input, env.services, { allowPaths: true }));
  await env.services.backend.upsert(recs);
});
afterAll(async () => {
  await env?.close();
});

async function request(c: Case): Promise<Response> {
  if (c.transport === 'multipart') {
    const fd = new FormData();
    fd.append('image', new Blob([new Uint8Array(c.bytes)]), 'upload.jpg');
    for (const [k, v] of Object.entries(c.fields)) fd.append(k, v);
    return env.app.request('/v1/search', { method: 'POST', body: fd });
  }
  const body: Record<string, unknown> = { imageBase64: c.bytes.toString('base64') };
  for (const [k, v] of Object.entries(c.fields)) {
    try {
      body[k] = JSON.parse(v);
    } catch {
      body[k] = v;
    }
  }
  return env.app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('fuzzing POST /v1/search', () => {
  it(`${CASES} random, truncated and hostile files never cause a 5xx (seed ${SEED})`, { timeout: 180_000 }, async () => {
    const r = mulberry32(SEED);
    const cases = Array.from({ length: CASES }, () => makeCase(r, seeds));
    const tally = new Map<string, number>();
    const failures: string[] = [];
    let slowest = { ms: 0, what: '' };
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i];
        const what = `case ${i} (seed ${SEED}): ${c.kind} via ${c.transport}, ${c.bytes.length} bytes, fields ${JSON.stringify(c.fields)}`;
        const t = performance.now();
        try {
          const res = await request(c);
          const text = await res.text();
          const ms = performance.now() - t;
          if (ms > slowest.ms) slowest = { ms, what };
          let body: any;
          try {
            body = JSON.parse(text);
          } catch {
            failures.push(`${what}: ${res.status} non-JSON body ${text.slice(0, 200)}`);
            continue;
          }
          if (res.status === 200) {
            const parsed = SearchAnswer.safeParse(body);
            if (!parsed.success) failures.push(`${what}: 200 not a SearchAnswer: ${parsed.error.message.slice(0, 300)}`);
            tally.set('200', (tally.get('200') ?? 0) + 1);
          } else if (res.status >= 400 && res.status < 500) {
            const e = body?.error;
            const shaped =
              Object.keys(body).length === 1 && typeof e?.code === 'string' && typeof e?.message === 'string' && Object.keys(e).every((k) => ['code', 'message', 'details'].includes(k));
            if (!shaped) failures.push(`${what}: ${res.status} without the error shape: ${text.slice(0, 200)}`);
            const key = `${res.status} ${e?.code}`;
            tally.set(key, (tally.get(key) ?? 0) + 1);
          } else {
            failures.push(`${what}: status ${res.status} ${text.slice(0, 300)}`);
          }
        } catch (err) {
          failures.push(`${what}: threw ${(err as Error).stack ?? err}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `fuzz: ${CASES} cases in ${secs.toFixed(1)} s; ${JSON.stringify(Object.fromEntries([...tally].sort()))}; slowest ${slowest.ms.toFixed(0)} ms: ${slowest.what}`,
    );
    expect(failures.slice(0, 20), `${failures.length} failures`).toEqual([]);
    // the corpus exercised both outcomes: most refused, some decoded and answered
    expect(tally.get('422 invalid_image') ?? 0).toBeGreaterThan(CASES / 4);
    expect(tally.get('200') ?? 0).toBeGreaterThan(CASES / 50);
    expect(tally.get('413 image_too_large') ?? 0).toBeGreaterThan(0);
    // no single request hung the service
    expect(slowest.ms).toBeLessThan(30_000); // a hang detector, not a speed target (those live in bench/)
  });

  it('the service is still healthy and still finds things afterwards', async () => {
    const h = await env.app.request('/healthz');
    expect(h.status).toBe(200);
    expect((await h.json()).products).toBe(12);
    const fd = new FormData();
    fd.append('image', new Blob([fs.readFileSync(path.join(ROOT, 'demo', 'queries', 'tropicana-apple-juice.jpg'))]), 'q.jpg');
    const res = await env.app.request('/v1/search', { method: 'POST', body: fd });
    expect(res.status).toBe(200);
    const a = SearchAnswer.parse(await res.json());
    // its product leads the answer: in a group, or first among the look-alikes when nothing is proven
    expect(a.sameSource[0]?.source.id ?? a.substitutes[0]?.listing.id ?? '').toMatch(/^tropicana-apple-juice-/);
    // the embedder's queues drained: nothing is stuck waiting
    const stats = env.services.embedder.stats;
    expect(stats.images).toBeGreaterThan(0);
  });
});
