// The OCR runner with the real PP-OCRv4 models: rendered text of known content, real Grocery photos
// against their catalogue images, and the edge cases (blank, tiny, broken images).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClasses, readSplit } from '../src/demo/grocery.ts';
import { cosine, NgramIdf, normalizeForNgrams } from '../src/text/ngram.ts';
import { minAreaRect } from '../src/vision/ocr/geometry.ts';
import { locateOcrModels, readOcrManifest } from '../src/vision/ocr/models.ts';
import { OcrReader } from '../src/vision/ocr/reader.ts';

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** Compare as the n-gram matcher will: case, accents, spaces and punctuation do not count. */
const fold = (s: string) => normalizeForNgrams(s).replace(/\n/g, '');

function svgText(lines: string[], opts: { font?: string; size?: number; rotate?: number; width?: number; height?: number } = {}): Buffer {
  const size = opts.size ?? 32;
  const width = opts.width ?? 520;
  const height = opts.height ?? 40 + lines.length * size * 1.6;
  const body = lines
    .map((l, i) => `<text x="24" y="${30 + (i + 1) * size * 1.3}" font-family="${opts.font ?? 'DejaVu Sans'}" font-size="${size}" fill="#202020">${l}</text>`)
    .join('');
  const g = opts.rotate ? `<g transform="translate(${height} 0) rotate(${opts.rotate})">${body}</g>` : body;
  const [w, h] = opts.rotate ? [height, width] : [width, height];
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="#fbfaf5"/>${g}</svg>`);
}
const png = async (svg: Buffer) => sharp(svg).png().toBuffer();

function cjkFont(): string | null {
  try {
    const out = execFileSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' }).trim();
    return out ? out.split('\n')[0].split(',')[0] : null;
  } catch {
    return null;
  }
}

let reader: OcrReader;
beforeAll(async () => {
  reader = await OcrReader.load({ threads: 2 });
});
afterAll(async () => {
  await reader?.close();
});

describe('OCR models', () => {
  it('are pinned by sha256 and the charset matches the recogniser output', () => {
    const files = locateOcrModels();
    expect(files.charset.length + 1).toBe(6625);
    expect(files.charset[files.charset.length - 1]).toBe(' ');
    const bad = readOcrManifest();
    bad.files.rec = { ...bad.files.rec, sha256: '0'.repeat(64) };
    expect(() => locateOcrModels(bad)).toThrow(/sha256/);
  });
});

describe('geometry', () => {
  it('minAreaRect recovers a rotated rectangle', () => {
    const a = (20 * Math.PI) / 180;
    const pts = [];
    for (let u = -30; u <= 30; u++) for (let v = -5; v <= 5; v++) pts.push({ x: 100 + u * Math.cos(a) - v * Math.sin(a), y: 50 + u * Math.sin(a) + v * Math.cos(a) });
    const r = minAreaRect(pts);
    expect(r.w).toBeCloseTo(60, 3);
    expect(r.h).toBeCloseTo(10, 3);
    expect(r.cx).toBeCloseTo(100, 3);
    expect(Math.atan2(r.u.y, r.u.x)).toBeCloseTo(a, 3);
  });
});

describe('OcrReader on rendered text', () => {
  it('reads English words', async () => {
    const want = ['Organic Oat Drink', 'Semi Skimmed Milk 1.5%', 'Best before 2026'];
    const r = await reader.read(await png(svgText(want)));
    expect(r.lines.length).toBe(3);
    expect(editDistance(fold(r.text), fold(want.join('\n')))).toBeLessThanOrEqual(2);
    for (const l of r.lines) {
      expect(l.confidence).toBeGreaterThanOrEqual(0.5);
      expect(l.box[2]).toBeGreaterThan(l.box[0]);
      expect(l.box[3]).toBeLessThanOrEqual(r.lines.length * 60 + 60);
    }
    // reading order: top line first
    expect(fold(r.lines[0].text)).toMatch(/organ/);
  });

  it('reads a line set vertically (rotated 90°) by turning the tall crop', async () => {
    const r = await reader.read(await png(svgText(['Tropicana Orange'], { rotate: 90 })));
    expect(editDistance(fold(r.text), 'tropicanaorange')).toBeLessThanOrEqual(2);
  });

  const font = cjkFont();
  it.skipIf(!font)(`reads Chinese (font: ${font ?? 'none installed — fc-list :lang=zh is empty'})`, async () => {
    const want = ['有机燕麦奶', '保质期十二个月'];
    const r = await reader.read(await png(svgText(want, { font: font!, size: 40 })));
    expect(editDistance(fold(r.text), fold(want.join('')))).toBeLessThanOrEqual(2);
  });

  it('returns empty text for a blank or tiny image, and refuses bytes that are no image', async () => {
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const r = await reader.read(blank, { scales: [1, 2] });
    expect(r.text).toBe('');
    expect(r.lines).toEqual([]);
    const tiny = await sharp({ create: { width: 1, height: 1, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    expect((await reader.read(tiny)).text).toBe('');
    await expect(reader.read(Buffer.from('not an image'))).rejects.toMatchObject({ code: 'invalid_image' });
    await expect(reader.read(new Uint8Array(0))).rejects.toMatchObject({ code: 'invalid_image' });
  });
});

describe('OcrReader on Grocery packaged goods', () => {
  // Products whose packs carry different words; the first test photo of each (no choosing of photos).
  const NAMES = ['Bravo-Apple-Juice', 'Tropicana-Mandarin-Morning', 'Garant-Ecological-Standard-Milk', 'Alpro-Fresh-Soy-Milk'];

  it("matches a shop photo's text to its own catalogue image better than to the other products'", async () => {
    const classes = (await readClasses()).filter((c) => NAMES.includes(c.name));
    const test = await readSplit('test');
    const catalogue = await Promise.all(classes.map((c) => reader.read(fs.readFileSync(c.iconicPath), { scales: [2, 4] })));
    const idf = new NgramIdf();
    catalogue.forEach((c) => idf.add(c.text));
    const docs = catalogue.map((c) => idf.vector(c.text));
    let wins = 0;
    const report: string[] = [];
    for (const [i, c] of classes.entries()) {
      const photo = test.find((s) => s.fineId === c.id)!;
      const r = await reader.read(fs.readFileSync(photo.path));
      const sims = docs.map((d) => cosine(idf.vector(r.text), d));
      const others = sims.filter((_, j) => j !== i);
      if (sims[i] > Math.max(...others)) wins++;
      report.push(`${c.name}: "${r.text.replace(/\n/g, ' | ')}" own ${sims[i].toFixed(2)} best other ${Math.max(...others).toFixed(2)}`);
    }
    console.log(report.join('\n'));
    expect(catalogue.every((c) => c.text.length > 0)).toBe(true);
    expect(wins, report.join('\n')).toBe(NAMES.length);
  });
});
