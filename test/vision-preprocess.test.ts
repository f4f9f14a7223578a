// Image preprocessing (src/vision/decode.ts `prepareImage`) and the embedder on what buyers and feeds
// actually send: EXIF-rotated phone photos, alpha, CMYK, 16-bit, palette, animated GIF, WebP, AVIF, TIFF,
// degenerate sizes, decompression-bomb headers, garbage, truncation and SVG. Every fixture is generated
// with sharp at test time from the committed demo photos; the real ONNX model embeds them.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pngChunk } from './support/png.ts';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.ts';
import { prepareImage, INPUT_SIZE, type DecodeLimits, type Region } from '../src/vision/decode.ts';
import { sniffRaster } from '../src/vision/format.ts';
import { inspectImage } from '../src/vision/inspect.ts';
import { ImageEmbedder, type VisionManifest } from '../src/vision/embedder.ts';
import { ensureVisionModel } from '../src/vision/model-build.ts';
import { hammingHex } from '../src/vision/phash.ts';
import { dot } from '../src/vision/pooling.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = path.join(ROOT, 'demo', 'catalogue', 'images');
const QUERIES = path.join(ROOT, 'demo', 'queries');
const LIMITS: DecodeLimits = { maxBytes: 10 * 1024 * 1024, maxPixels: 50_000_000, resize: 'fill' };
const N = INPUT_SIZE * INPUT_SIZE;

const read = (name: string) => fs.readFileSync(path.join(IMAGES, name));
const JUICE = read('tropicana-apple-juice__photo-1.jpg');
const MILK = read('arla-standard-milk__photo-1.jpg');

let embedder: ImageEmbedder;

beforeAll(async () => {
  const { manifest } = await ensureVisionModel();
  embedder = await ImageEmbedder.create(manifest.vision as VisionManifest, { threads: 2, maxBatch: 8, decodeConcurrency: 2, limits: LIMITS });
});
afterAll(async () => {
  await embedder?.close();
});

// ---------------------------------------------------------------- helpers

const prep = (b: Uint8Array, region?: Region, limits: DecodeLimits = LIMITS) => prepareImage(b, limits, region);
const embed = async (b: Uint8Array, region?: Region) => (await embedder.embed(b, region)).descriptor;
const cos = (a: Float32Array, b: Float32Array) => dot(a, b); // descriptors are L2-normalised

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
/** RGB of the model input at (x, y) of the 224×224 tensor. */
function pixel(chw: Float32Array, x: number, y: number): [number, number, number] {
  const i = y * INPUT_SIZE + x;
  return [chw[i], chw[N + i], chw[2 * N + i]];
}

/** Raw RGB pixels of a photo, resized to a square tile, so that compositions are lossless. */
async function tileRaw(b: Buffer, size: number): Promise<Buffer> {
  return sharp(b).resize(size, size, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}
/** Two photos side by side (h) or stacked (v), as lossless PNG. */
async function twoTiles(a: Buffer, b: Buffer, dir: 'h' | 'v', size = 240): Promise<Buffer> {
  const [ta, tb] = await Promise.all([tileRaw(a, size), tileRaw(b, size)]);
  const raw = { width: size, height: size, channels: 3 as const };
  return sharp([await sharp(ta, { raw }).png().toBuffer(), await sharp(tb, { raw }).png().toBuffer()], {
    join: { across: dir === 'h' ? 2 : 1 },
  })
    .png()
    .toBuffer();
}

const JPEG_EXACT = { quality: 100, chromaSubsampling: '4:4:4' } as const;

async function expectAppError(p: Promise<unknown>, code: string): Promise<AppError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, `expected AppError ${code}, got success`).toBeInstanceOf(AppError);
  expect((e as AppError).code).toBe(code);
  return e as AppError;
}

// A PNG written by hand: signature, IHDR with the given size, one IDAT holding `idat`, IEND.
function handMadePng(width: number, height: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---------------------------------------------------------------- orientation

describe('EXIF orientation', () => {
  let upright: Buffer; // portrait: juice above milk, what the buyer saw
  beforeAll(async () => {
    upright = await twoTiles(JUICE, MILK, 'v');
  });

  // stored pixels for a tag, so that applying the tag gives back the upright image
  const storedFor: Record<number, (s: Sharp) => Sharp> = {
    3: (s) => s.rotate(180),
    6: (s) => s.rotate(270), // the camera stored it landscape; the viewer turns it 90° clockwise
    8: (s) => s.rotate(90),
  };

  it('orientation 6: a landscape JPEG with the tag gives the tensor of the physically rotated photo', async () => {
    const stored = await storedFor[6](sharp(upright)).jpeg(JPEG_EXACT).toBuffer();
    const tagged = await sharp(stored).jpeg(JPEG_EXACT).withMetadata({ orientation: 6 }).toBuffer();
    const meta = await sharp(tagged).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([480, 240, 6]);

    const uprightJpeg = await sharp(upright).jpeg(JPEG_EXACT).toBuffer();
    const [a, b, c] = await Promise.all([prep(tagged), prep(uprightJpeg), prep(stored)]);
    expect(meanAbsDiff(a.chw, b.chw)).toBeLessThan(0.01);
    expect(meanAbsDiff(a.chw, c.chw)).toBeGreaterThan(0.08); // ignoring the tag would be visibly different

    const [ea, eb, ec] = await Promise.all([embed(tagged), embed(uprightJpeg), embed(stored)]);
    expect(cos(ea, eb)).toBeGreaterThanOrEqual(0.999);
    expect(cos(ea, ec)).toBeLessThan(0.98);
    // the pHash is taken after rotation too
    expect(hammingHex(a.phash, b.phash)).toBeLessThanOrEqual(4);
  });

  it.each([3, 8])('orientation %i is applied as well', async (o) => {
    const stored = await storedFor[o](sharp(upright)).jpeg(JPEG_EXACT).toBuffer();
    const tagged = await sharp(stored).jpeg(JPEG_EXACT).withMetadata({ orientation: o }).toBuffer();
    expect((await sharp(tagged).metadata()).orientation).toBe(o);
    const uprightJpeg = await sharp(upright).jpeg(JPEG_EXACT).toBuffer();
    const [a, b, c] = await Promise.all([prep(tagged), prep(uprightJpeg), prep(stored)]);
    expect(meanAbsDiff(a.chw, b.chw)).toBeLessThan(0.01);
    expect(meanAbsDiff(a.chw, c.chw)).toBeGreaterThan(0.08);
  });

  it('a region is relative to the rotated (displayed) photo', async () => {
    const stored = await storedFor[6](sharp(upright)).jpeg(JPEG_EXACT).toBuffer();
    const tagged = await sharp(stored).jpeg(JPEG_EXACT).withMetadata({ orientation: 6 }).toBuffer();
    const juiceTile = await sharp(await tileRaw(JUICE, 240), { raw: { width: 240, height: 240, channels: 3 } }).png().toBuffer();
    const milkTile = await sharp(await tileRaw(MILK, 240), { raw: { width: 240, height: 240, channels: 3 } }).png().toBuffer();
    const [top, bottom, juice, milk] = await Promise.all([
      embed(tagged, { x: 0, y: 0, w: 1, h: 0.5 }),
      embed(tagged, { x: 0, y: 0.5, w: 1, h: 0.5 }),
      embed(juiceTile),
      embed(milkTile),
    ]);
    expect(cos(top, juice)).toBeGreaterThan(0.98);
    expect(cos(bottom, milk)).toBeGreaterThan(0.98);
    expect(cos(top, juice)).toBeGreaterThan(cos(top, milk) + 0.05);
    expect(cos(bottom, milk)).toBeGreaterThan(cos(bottom, juice) + 0.05);
  });
});

// ---------------------------------------------------------------- formats

describe('formats', () => {
  let ref: Float32Array; // embedding of the original JPEG
  let refChw: Float32Array;
  beforeAll(async () => {
    ref = await embed(JUICE);
    refChw = (await prep(JUICE)).chw;
  });

  it('PNG with alpha: transparent areas become white, not black', async () => {
    // left half fully transparent black, right half opaque red, bottom-right quarter half-transparent black
    const w = 64;
    const raw = Buffer.alloc(w * w * 4);
    for (let y = 0; y < w; y++)
      for (let x = 0; x < w; x++) {
        const p = (y * w + x) * 4;
        if (x < w / 2) raw.set([0, 0, 0, 0], p);
        else if (y < w / 2) raw.set([255, 0, 0, 255], p);
        else raw.set([0, 0, 0, 128], p);
      }
    const png = await sharp(raw, { raw: { width: w, height: w, channels: 4 } }).png().toBuffer();
    expect((await sharp(png).metadata()).hasAlpha).toBe(true);
    const { chw, format } = await prep(png);
    expect(format).toBe('png');
    for (const [x, y] of [[10, 10], [50, 200], [100, 112]]) for (const v of pixel(chw, x, y)) expect(v).toBeGreaterThan(0.99);
    const red = pixel(chw, 180, 40);
    expect(red[0]).toBeGreaterThan(0.99);
    expect(red[1]).toBeLessThan(0.01);
    expect(red[2]).toBeLessThan(0.01);
    for (const v of pixel(chw, 180, 180)) expect(v).toBeCloseTo(127 / 255, 1); // 50 % black over white
    const e = await embed(png);
    expect(Number.isFinite(e[0])).toBe(true);
  });

  it('CMYK JPEG decodes and embeds close to the RGB original', async () => {
    const cmyk = await sharp(JUICE).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const p = await prep(cmyk);
    expect(p.format).toBe('jpeg');
    expect(meanAbsDiff(p.chw, refChw)).toBeLessThan(0.06);
    expect(cos(await embed(cmyk), ref)).toBeGreaterThan(0.97);
  });

  it('16-bit PNG decodes to the same 8-bit tensor', async () => {
    const png16 = await sharp(JUICE).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const png8 = await sharp(JUICE).png().toBuffer();
    const [a, b] = await Promise.all([prep(png16), prep(png8)]);
    expect(maxAbsDiff(a.chw, b.chw)).toBeLessThanOrEqual(2 / 255 + 1e-6);
    expect(cos(await embed(png16), ref)).toBeGreaterThan(0.995);
  });

  it('palette PNG decodes and embeds close to the original', async () => {
    const pal = await sharp(JUICE).png({ palette: true, colours: 256 }).toBuffer();
    const meta = await sharp(pal).metadata();
    expect(meta.isPalette).toBe(true);
    const p = await prep(pal);
    expect(p.format).toBe('png');
    expect(meanAbsDiff(p.chw, refChw)).toBeLessThan(0.03);
    expect(cos(await embed(pal), ref)).toBeGreaterThan(0.98);
  });

  it('animated GIF: the first frame is used, and its size is one frame', async () => {
    const frame = (background: string) => sharp({ create: { width: 64, height: 48, channels: 3, background } }).png().toBuffer();
    const gif = await sharp([await frame('#ff0000'), await frame('#0000ff')], { join: { animated: true } }).gif().toBuffer();
    const meta = await sharp(gif).metadata();
    expect(meta.format).toBe('gif');
    expect(meta.pages).toBe(2);
    const p = await prep(gif);
    expect([p.width, p.height, p.format]).toEqual([64, 48, 'gif']);
    const [r, g, b] = pixel(p.chw, 112, 112);
    expect(r).toBeGreaterThan(0.95);
    expect(g).toBeLessThan(0.05);
    expect(b).toBeLessThan(0.05);
    // also a region of an animated GIF (the region path decodes in two steps)
    const q = await prep(gif, { x: 0.5, y: 0.5, w: 0.5, h: 0.5 });
    expect(pixel(q.chw, 112, 112)[0]).toBeGreaterThan(0.95);
    expect(pixel(q.chw, 112, 112)[2]).toBeLessThan(0.05);
  });

  it('a real photo as GIF embeds close to the original', async () => {
    const gif = await sharp(JUICE).gif().toBuffer();
    expect(cos(await embed(gif), ref)).toBeGreaterThan(0.97);
  });

  it('WebP', async () => {
    const webp = await sharp(JUICE).webp({ quality: 90 }).toBuffer();
    const p = await prep(webp);
    expect(p.format).toBe('webp');
    expect([p.width, p.height]).toEqual([348, 348]);
    expect(cos(await embed(webp), ref)).toBeGreaterThan(0.98);
  });

  it('AVIF (when sharp can encode it here)', async (ctx) => {
    let avif: Buffer;
    try {
      avif = await sharp(JUICE).avif({ quality: 70, effort: 0 }).toBuffer();
    } catch {
      return ctx.skip();
    }
    const p = await prep(avif);
    expect(p.format).toBe('heif');
    expect([p.width, p.height]).toEqual([348, 348]);
    expect(cos(await embed(avif), ref)).toBeGreaterThan(0.97);
  });

  it('TIFF', async () => {
    const tiff = await sharp(JUICE).tiff({ compression: 'lzw' }).toBuffer();
    const p = await prep(tiff);
    expect(p.format).toBe('tiff');
    expect(cos(await embed(tiff), ref)).toBeGreaterThan(0.995);
  });

  it('a 1×1 image decodes to a uniform tensor and embeds', async () => {
    const one = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#336699' } }).png().toBuffer();
    const p = await prep(one);
    expect([p.width, p.height]).toEqual([1, 1]);
    expect(p.chw).toHaveLength(3 * N);
    expect(maxAbsDiff(p.chw.subarray(0, N), new Float32Array(N).fill(0x33 / 255))).toBeLessThan(0.01);
    expect(maxAbsDiff(p.chw.subarray(2 * N), new Float32Array(N).fill(0x99 / 255))).toBeLessThan(0.01);
    expect(p.phash).toMatch(/^[0-9a-f]{16}$/);
    const e = await embed(one);
    expect(Math.abs(cos(e, e) - 1)).toBeLessThan(1e-4);
    // and a region of it (rounding must not produce an empty extract)
    await expect(prep(one, { x: 0.5, y: 0.5, w: 0.5, h: 0.5 })).resolves.toBeTruthy();
  });

  it('a JPEG with junk after its end marker still decodes (benign)', async () => {
    const junk = Buffer.concat([JUICE, Buffer.from('trailing bytes some apps append')]);
    const p = await prep(junk);
    expect(meanAbsDiff(p.chw, refChw)).toBeLessThan(1e-6);
  });
});

// ---------------------------------------------------------------- refusals

describe('refusals', () => {
  it('a header claiming 30000×30000 is refused as image_too_large before any decoding', async () => {
    // The IDAT holds 10 rows of a 30-px image: a real decode would fail as invalid_image, so only a
    // header-stage refusal can answer image_too_large, and fast.
    const idat = zlib.deflateSync(Buffer.alloc(10 * (1 + 30 * 3)));
    const bomb = handMadePng(30000, 30000, idat);
    expect(bomb.length).toBeLessThan(200);
    const meta = await sharp(bomb, { limitInputPixels: false }).metadata();
    expect([meta.width, meta.height]).toEqual([30000, 30000]);
    const t = performance.now();
    const e = await expectAppError(prep(bomb), 'image_too_large');
    expect(performance.now() - t).toBeLessThan(500);
    expect(e.status).toBe(413);
    // the embedder path refuses it the same way
    await expectAppError(embedder.embed(bomb), 'image_too_large');
    // control: the same bytes claiming 30×30 are decoded and found broken
    await expectAppError(prep(handMadePng(30, 30, idat)), 'invalid_image');
  });

  it('the pixel limit is the configured one', async () => {
    const png = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#fff' } }).png().toBuffer();
    await expectAppError(prep(png, undefined, { ...LIMITS, maxPixels: 399 }), 'image_too_large');
    await expect(prep(png, undefined, { ...LIMITS, maxPixels: 400 })).resolves.toBeTruthy();
  });

  it('more bytes than maxBytes is image_too_large', async () => {
    await expectAppError(prep(JUICE, undefined, { ...LIMITS, maxBytes: JUICE.length - 1 }), 'image_too_large');
  });

  it('zero bytes is invalid_image', async () => {
    const e = await expectAppError(prep(new Uint8Array(0)), 'invalid_image');
    expect(e.status).toBe(422);
  });

  it('a text file named .jpg is invalid_image', async () => {
    const text = Buffer.from('This is not a photo.\nIt is a text file that someone saved as photo.jpg\n'.repeat(20));
    await expectAppError(prep(text), 'invalid_image');
    await expectAppError(embedder.embed(text), 'invalid_image');
  });

  it('a truncated JPEG is refused as invalid_image (decode.ts fails on errors, not warnings)', async () => {
    for (const frac of [0.01, 0.1, 0.5, 0.9]) await expectAppError(prep(JUICE.subarray(0, Math.floor(JUICE.length * frac))), 'invalid_image');
    // even when only the end-of-image marker is missing
    await expectAppError(prep(JUICE.subarray(0, JUICE.length - 2)), 'invalid_image');
    // and truncated PNG / WebP
    const png = await sharp(JUICE).png().toBuffer();
    await expectAppError(prep(png.subarray(0, png.length >> 1)), 'invalid_image');
    const webp = await sharp(JUICE).webp().toBuffer();
    await expectAppError(prep(webp.subarray(0, webp.length >> 1)), 'invalid_image');
  });

  it('SVG is refused (not rasterised)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><rect width="200" height="200" fill="red"/></svg>');
    const e = await expectAppError(prep(svg), 'invalid_image');
    expect(e.message).toMatch(/svg/i);
    // with an XML prolog and an external reference
    const svg2 = Buffer.from(
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><image xlink:href="file:///etc/passwd" width="10" height="10"/></svg>',
    );
    await expectAppError(prep(svg2), 'invalid_image');
  });
  it('other formats libvips could load (PDF, PPM, FITS, Radiance, XML) are refused on their magic bytes', async () => {
    for (const head of ['%PDF-1.7\n', 'P6\n2 2\n255\n', 'SIMPLE  =                    T', '#?RADIANCE\n', '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;'])
      await expectAppError(prep(Buffer.concat([Buffer.from(head), Buffer.alloc(64, 7)])), 'invalid_image');
  });

  it('the sniff knows every format we accept, as sharp writes them, and nothing else', async () => {
    const small = sharp(JUICE).resize(32, 32);
    expect(sniffRaster(JUICE)).toBe('jpeg');
    expect(sniffRaster(await small.clone().png().toBuffer())).toBe('png');
    expect(sniffRaster(await small.clone().gif().toBuffer())).toBe('gif');
    expect(sniffRaster(await small.clone().webp().toBuffer())).toBe('webp');
    expect(sniffRaster(await small.clone().tiff().toBuffer())).toBe('tiff');
    try {
      expect(sniffRaster(await small.clone().avif({ effort: 0 }).toBuffer())).toBe('heif');
    } catch (e) {
      if (!/avif|heif|unsupported/i.test(String(e))) throw e; // no AVIF encoder here
    }
    for (const b of [Buffer.alloc(0), Buffer.from([0xff, 0xd8]), Buffer.from('GIF90a'), Buffer.from('RIFF\0\0\0\0WAVE'), Buffer.from('\0\0\0\x18ftypmp42')]) expect(sniffRaster(b)).toBeNull();
  });

  it('the evidence readers, which run beside the decoder, do not hand a refused format to libvips either', async () => {
    const svc = { ocr: undefined, config: { evidence: { local: true, ocrScales: [1] } } } as unknown as Parameters<typeof inspectImage>[0];
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><rect width="150" height="300" fill="red"/><circle cx="200" cy="100" r="40"/></svg>');
    expect((await inspectImage(svc, svg, { mirrored: true })).local).toBeNull();
    // the same picture as a PNG is read (so the null above is the refusal, not a reader that never works)
    expect((await inspectImage(svc, await sharp(svg).png().toBuffer(), { mirrored: true })).local).not.toBeNull();
  });
});

// ---------------------------------------------------------------- region

describe('region', () => {
  let sideBySide: Buffer;
  let juiceTile: Float32Array;
  let milkTile: Float32Array;
  beforeAll(async () => {
    sideBySide = await twoTiles(JUICE, MILK, 'h');
    const raw = { width: 240, height: 240, channels: 3 as const };
    juiceTile = await embed(await sharp(await tileRaw(JUICE, 240), { raw }).png().toBuffer());
    milkTile = await embed(await sharp(await tileRaw(MILK, 240), { raw }).png().toBuffer());
  });

  it('a region selects its part of a two-tile image', async () => {
    const [left, right, whole] = await Promise.all([
      embed(sideBySide, { x: 0, y: 0, w: 0.5, h: 1 }),
      embed(sideBySide, { x: 0.5, y: 0, w: 0.5, h: 1 }),
      embed(sideBySide),
    ]);
    expect(cos(left, juiceTile)).toBeGreaterThan(0.995);
    expect(cos(right, milkTile)).toBeGreaterThan(0.995);
    expect(cos(whole, juiceTile)).toBeLessThan(0.95);
    expect(cos(left, milkTile)).toBeLessThan(0.95);
  });

  it('a region of a JPEG upload is as good as a region of a lossless one', async () => {
    const jpeg = await sharp(sideBySide).jpeg({ quality: 95 }).toBuffer();
    const left = await embed(jpeg, { x: 0, y: 0, w: 0.5, h: 1 });
    expect(cos(left, juiceTile)).toBeGreaterThan(0.99);
    // the region's pixels are exactly the crop's, not re-encoded on the way
    const crop = await sharp(jpeg).extract({ left: 0, top: 0, width: 240, height: 240 }).png().toBuffer();
    const [a, b] = await Promise.all([prep(jpeg, { x: 0, y: 0, w: 0.5, h: 1 }), prep(crop)]);
    expect(maxAbsDiff(a.chw, b.chw)).toBeLessThan(1e-6);
  });

  it('a region gives the same pixels whatever the container: 16-bit, CMYK, grey+alpha, palette, WebP', async () => {
    const region = { x: 0, y: 0, w: 0.5, h: 1 };
    const base = (await prep(sideBySide, region)).chw;
    const variants: Array<[string, Buffer, number]> = [
      ['16-bit PNG', await sharp(sideBySide).toColourspace('rgb16').png().toBuffer(), 2 / 255],
      ['CMYK JPEG', await sharp(sideBySide).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer(), 0.06],
      ['palette PNG', await sharp(sideBySide).png({ palette: true }).toBuffer(), 0.03],
      ['WebP', await sharp(sideBySide).webp({ lossless: true }).toBuffer(), 1e-6],
    ];
    for (const [name, bytes, tol] of variants) {
      const whole = (await prep(bytes)).chw;
      const crop = (await prep(bytes, region)).chw;
      expect(meanAbsDiff(crop, base), name).toBeLessThan(Math.max(tol, 0.005));
      expect(meanAbsDiff(whole, crop), name).toBeGreaterThan(0.05);
    }
    // grey with alpha: the transparent right half is white in the region as in the whole image
    const w = 64;
    const ga = Buffer.alloc(w * w * 2);
    for (let i = 0; i < w * w; i++) ga.set(i % w < w / 2 ? [40, 255] : [0, 0], i * 2);
    const png = await sharp(ga, { raw: { width: w, height: w, channels: 2 } }).png().toBuffer();
    const right = await prep(png, { x: 0.5, y: 0, w: 0.5, h: 1 });
    const left = await prep(png, { x: 0, y: 0, w: 0.5, h: 1 });
    for (const v of pixel(right.chw, 112, 112)) expect(v).toBeGreaterThan(0.99);
    for (const v of pixel(left.chw, 112, 112)) expect(v).toBeCloseTo(40 / 255, 2);
  });
});

// ---------------------------------------------------------------- pHash

describe('perceptual hash', () => {
  const photos = [
    'tropicana-apple-juice__photo-1.jpg',
    'arla-standard-milk__photo-1.jpg',
    'oatly-oat-milk__photo-1.jpg',
    'yoggi-strawberry-yoghurt__photo-1.jpg',
    'alpro-fresh-soy-milk__photo-1.jpg',
    'arla-sour-cream__photo-1.jpg',
    'granny-smith__photo-1.jpg',
    'banana__photo-1.jpg',
  ];

  it('the same photo re-encoded at JPEG quality 40 stays within 10 bits', async () => {
    for (const f of photos) {
      const orig = read(f);
      const q40 = await sharp(orig).jpeg({ quality: 40 }).toBuffer();
      const [a, b] = await Promise.all([prep(orig), prep(q40)]);
      expect(hammingHex(a.phash, b.phash), f).toBeLessThanOrEqual(10);
    }
  });

  it('so does the same photo resized to half and saved as WebP', async () => {
    const orig = read(photos[0]);
    const small = await sharp(orig).resize(174).webp({ quality: 60 }).toBuffer();
    const [a, b] = await Promise.all([prep(orig), prep(small)]);
    expect(hammingHex(a.phash, b.phash)).toBeLessThanOrEqual(10);
  });

  it('different products are further apart', async () => {
    const hashes = await Promise.all(photos.map(async (f) => (await prep(read(f))).phash));
    const d: number[] = [];
    for (let i = 0; i < hashes.length; i++) for (let j = i + 1; j < hashes.length; j++) d.push(hammingHex(hashes[i], hashes[j]));
    expect(Math.min(...d)).toBeGreaterThan(10);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    expect(mean).toBeGreaterThan(20);
  });

  it('a buyer photo of a product is not "the same photo" as the catalogue listing', async () => {
    const q = await prep(fs.readFileSync(path.join(QUERIES, 'tropicana-apple-juice.jpg')));
    const c = await prep(read('tropicana-apple-juice__catalogue.jpg'));
    expect(hammingHex(q.phash, c.phash)).toBeGreaterThan(10);
  });
});
