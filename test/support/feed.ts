// JSON Lines feeds for the job tests and the jobs bench, made from Grocery photos (local paths) with varied
// attributes; optionally with bad items at known lines: a missing image file, corrupt image bytes, a line
// that is not JSON, a record that fails the schema.
import fs from 'node:fs';
import path from 'node:path';
import { readSplit } from '../../src/demo/grocery.ts';
import { mulberry32 } from '../../src/util/prng.ts';

export interface ExpectedError {
  line: number;
  id: string | null;
  code: string;
}

export interface Feed {
  file: string;
  ids: string[];
  /** good items (written) */
  good: string[];
  errors: ExpectedError[];
}

const PROVINCES = ['Zhejiang', 'Guangdong', 'Jiangsu', 'Fujian', 'Shandong'];
const BADGES = ['factory', 'verified', 'trade_assurance', 'gold'] as const;

/** Grocery train photos, sorted, `n` of them spread over the classes (reused when more are asked). */
export async function groceryPhotos(n: number): Promise<string[]> {
  const all = (await readSplit('train')).map((x) => x.path).sort();
  const step = Math.max(1, Math.floor(all.length / Math.min(n, all.length)));
  const picked = all.filter((_, i) => i % step === 0).slice(0, Math.min(n, all.length));
  return picked;
}

export function productLine(id: string, photo: string, i: number, rnd: () => number): Record<string, unknown> {
  const cls = path.basename(path.dirname(photo));
  return {
    id,
    title: `${cls.replace(/-/g, ' ')} #${i}`,
    description: `Listing ${i} of ${cls}`,
    categoryPath: ['Grocery', path.basename(path.dirname(path.dirname(photo)))],
    price: { amount: Math.round(rnd() * 10000) / 100, currency: 'CNY' },
    moq: 1 + Math.floor(rnd() * 500),
    supplier: { id: `sup-${i % 37}`, name: `Supplier ${i % 37}`, badges: [BADGES[i % 4]], province: PROVINCES[i % 5] },
    attributes: { batch: i % 11, colour: ['red', 'blue', 'green'][i % 3] },
    images: [{ path: photo }],
  };
}

/**
 * A feed of `n` lines in `dir`. With `badEvery` k, every k-th line (k, 2k, …) is bad, cycling through the
 * four kinds of bad item.
 */
export async function makeFeed(dir: string, n: number, opts: { badEvery?: number; photos?: number; prefix?: string; seed?: number; name?: string } = {}): Promise<Feed> {
  fs.mkdirSync(dir, { recursive: true });
  const photos = await groceryPhotos(opts.photos ?? Math.min(n, 60));
  const corrupt = path.join(dir, 'corrupt.jpg');
  fs.writeFileSync(corrupt, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7)]));
  const rnd = mulberry32(opts.seed ?? 1);
  const prefix = opts.prefix ?? 'item';
  const lines: string[] = [];
  const ids: string[] = [];
  const good: string[] = [];
  const errors: ExpectedError[] = [];
  let bad = 0;
  for (let i = 1; i <= n; i++) {
    const id = `${prefix}-${String(i).padStart(6, '0')}`;
    ids.push(id);
    const rec = productLine(id, photos[(i - 1) % photos.length], i, rnd);
    if (opts.badEvery && i % opts.badEvery === 0) {
      const kind = bad++ % 4;
      if (kind === 0) {
        lines.push(JSON.stringify({ ...rec, images: [{ path: path.join(dir, 'no-such-photo.jpg') }] }));
        errors.push({ line: i, id, code: 'invalid_image' });
      } else if (kind === 1) {
        lines.push(JSON.stringify({ ...rec, images: [{ path: corrupt }] }));
        errors.push({ line: i, id, code: 'invalid_image' });
      } else if (kind === 2) {
        lines.push(JSON.stringify(rec).slice(0, 40));
        errors.push({ line: i, id: null, code: 'invalid_record' });
      } else {
        lines.push(JSON.stringify({ ...rec, price: { amount: -5, currency: 'CNY' } }));
        errors.push({ line: i, id, code: 'invalid_record' });
      }
      continue;
    }
    lines.push(JSON.stringify(rec));
    good.push(id);
  }
  const file = path.join(dir, opts.name ?? 'feed.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return { file, ids, good, errors };
}
