// Checks the committed demo catalogue (built by scripts/build-demo-catalogue.ts). Needs no dataset.
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_CATALOGUE_DIR, readDemoCatalogue, type DemoProduct } from '../src/demo/catalogue.ts';
import { REPO_ROOT, readSplit } from '../src/demo/grocery.ts';

const DIR = DEFAULT_DEMO_CATALOGUE_DIR;
const QUERIES_DIR = path.join(REPO_ROOT, 'demo', 'queries');
const MAX_TOTAL_BYTES = 15_000_000;

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await dirSize(p) : (await stat(p)).size;
  }
  return total;
}

describe('demo catalogue', () => {
  let products: DemoProduct[] = [];

  beforeAll(async () => {
    products = [];
    for await (const p of readDemoCatalogue()) products.push(p); // throws on any invalid line
  });

  it('validates: 81 catalogue listings and 3 photo listings per product, unique ids', () => {
    expect(products).toHaveLength(81 * 4);
    expect(new Set(products.map((p) => p.id)).size).toBe(products.length);
    const catalogue = products.filter((p) => p.input.attributes.kind === 'catalogue');
    expect(catalogue).toHaveLength(81);
    expect(new Set(catalogue.map((p) => p.input.attributes.fineClass)).size).toBe(81);
    for (const p of catalogue) {
      expect(p.id).toMatch(/-catalogue$/);
      expect(p.input.supplier?.badges).toContain('factory');
      expect(p.input.price?.currency).toBe('CNY');
      expect(p.input.categoryPath[0]).toMatch(/^(Fruit|Vegetables|Packages)$/);
    }
    expect(products.filter((p) => p.input.attributes.kind === 'photo')).toHaveLength(243);
    expect(products.filter((p) => p.input.categoryPath[0] === 'Packages' && p.input.attributes.kind === 'catalogue')).toHaveLength(31);
  });

  it('all images exist inside the catalogue directory and decode with sharp', async () => {
    const paths = products.flatMap((p) => p.input.images.map((i) => i.path));
    expect(paths).toHaveLength(324);
    for (const p of paths) {
      expect(p && path.isAbsolute(p) && p.startsWith(DIR + path.sep)).toBe(true);
      expect(existsSync(p as string)).toBe(true);
      const { info } = await sharp(p as string).raw().toBuffer({ resolveWithObject: true }); // full decode
      expect(Math.max(info.width, info.height)).toBeLessThanOrEqual(640);
    }
    // No stray image files either.
    expect((await readdir(path.join(DIR, 'images'))).length).toBe(324);
  });

  it('stays within 15 MB and carries its licence and attribution', async () => {
    expect(await dirSize(DIR)).toBeLessThanOrEqual(MAX_TOTAL_BYTES);
    expect(await readFile(path.join(DIR, 'LICENSE'), 'utf8')).toMatch(/MIT License[\s\S]*Marcus Klasson/);
    const attribution = await readFile(path.join(DIR, 'ATTRIBUTION.md'), 'utf8');
    expect(attribution).toMatch(/Klasson/);
    // Catalogue images come from the iconic set and the train split only.
    const sources = [...attribution.matchAll(/← `([^`]+)`/g)].map((m) => m[1] as string);
    expect(sources).toHaveLength(324);
    for (const s of sources) expect(s).toMatch(/^dataset\/(iconic-images-and-descriptions|train)\//);
  });

  it('queries are packaged-goods test photos; demo/queries images decode', async () => {
    const lines = (await readFile(path.join(DIR, 'queries.txt'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(62);
    for (const l of lines) expect(l).toMatch(/^dataset\/test\/Packages\/.+\.jpg$/);
    const jpgs = (await readdir(QUERIES_DIR)).filter((f) => f.endsWith('.jpg'));
    expect(jpgs).toHaveLength(6);
    const readme = await readFile(path.join(QUERIES_DIR, 'README.md'), 'utf8');
    for (const f of jpgs) {
      expect(readme).toContain(f);
      const meta = await sharp(path.join(QUERIES_DIR, f)).metadata();
      expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(480);
    }
  });

  // the global setup has already stopped the run if the dataset is missing
  it(
    'against the dataset: listing photos are train photos, queries are test photos',
    async () => {
      const attribution = await readFile(path.join(DIR, 'ATTRIBUTION.md'), 'utf8');
      const train = new Set((await readSplit('train')).map((s) => s.relPath));
      const test = new Set((await readSplit('test')).map((s) => s.relPath));
      const photoSources = [...attribution.matchAll(/← `(dataset\/train\/[^`]+)`/g)].map((m) => m[1] as string);
      expect(photoSources).toHaveLength(243);
      for (const s of photoSources) expect(train.has(s)).toBe(true);
      const queries = (await readFile(path.join(DIR, 'queries.txt'), 'utf8')).trim().split('\n');
      for (const q of queries) expect(test.has(q)).toBe(true);
    },
  );
});
