// OCR as "same source" evidence on the Grocery packaged goods: how often a buyer's photo yields text,
// and how well that text alone finds the product's catalogue image (whose text is OCR'd too), ranked by
// character n-gram TF-IDF cosine. OCR results are cached in .cache/bench per model and settings.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../src/config.ts';
import { classTitle, readClasses, readSplit, type GroceryClass } from '../src/demo/grocery.ts';
import { cosine, NgramIdf, ngrams } from '../src/text/ngram.ts';
import { OcrReader, type OcrResult } from '../src/vision/ocr/index.ts';

interface Cached {
  f: string;
  text: string;
  n: number;
  ms: number;
}

export interface OcrBenchReport {
  photos: number;
  usable: number;
  r1: number;
  r5: number;
  /** the same over photos with usable text only */
  r1Usable: number;
  r5Usable: number;
  /** with the catalogue's title and description added to its OCR text */
  r1WithListing: number;
  r5WithListing: number;
  photoMs: { mean: number; p50: number; p90: number };
  catalogueMs: { mean: number; p50: number };
  /** a fresh (uncached) timing pass, with the machine's load average while it ran */
  fresh: { photos: number; photoMs: number; catalogue: number; catalogueMs: number; load: number };
}

/** OCR every file once per (model, settings, scales); the cache keeps text and the time it took. */
async function ocrFiles(reader: OcrReader, files: string[], scales: number[], log: (s: string) => void): Promise<Map<string, Cached>> {
  const tag = createHash('sha256').update(JSON.stringify({ m: reader.modelVersion, s: reader.settings, scales, v: 1 })).digest('hex').slice(0, 12);
  const dir = path.join(repoRoot, '.cache', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `ocr-${tag}-x${scales.join('+')}.jsonl`);
  const out = new Map<string, Cached>();
  if (fs.existsSync(file))
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) if (line) (({ f, ...r }) => out.set(f, { f, ...r }))(JSON.parse(line) as Cached);
  const todo = files.filter((f) => !out.has(f));
  if (todo.length) {
    const t0 = Date.now();
    const fd = fs.openSync(file, 'a');
    for (const [i, f] of todo.entries()) {
      const r: OcrResult = await reader.read(fs.readFileSync(f), { scales });
      const c = { f, text: r.text, n: r.lines.length, ms: Math.round(r.ms * 10) / 10 };
      out.set(f, c);
      fs.writeSync(fd, JSON.stringify(c) + '\n');
      if ((i + 1) % 100 === 0) log(`  OCR ${i + 1}/${todo.length} at ${scales.join('+')}× (${((Date.now() - t0) / (i + 1)).toFixed(0)} ms/image, load ${os.loadavg()[0].toFixed(1)})`);
    }
    fs.closeSync(fd);
    log(`  OCR'd ${todo.length} images at ${scales.join('+')}× in ${((Date.now() - t0) / 1000).toFixed(0)} s (cache ${path.relative(repoRoot, file)})`);
  } else log(`  OCR of ${files.length} images at ${scales.join('+')}× from cache ${path.relative(repoRoot, file)}`);
  return out;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Rank of the true class (1 = first); ties count against it; no shared gram at all = not found. */
function rankOf(sims: number[], truth: number): number {
  const own = sims[truth];
  if (!(own > 0)) return Infinity;
  return 1 + sims.filter((s, i) => i !== truth && s >= own).length;
}

export async function benchOcr(log: (s: string) => void, opts: { threads?: number; limit?: number } = {}): Promise<OcrBenchReport> {
  const classes = (await readClasses()).filter((c) => c.topFolder === 'Packages');
  const byId = new Map(classes.map((c, i) => [c.id, i]));
  const photos = (await readSplit('test')).filter((s) => s.relPath.includes('/test/Packages/') && byId.has(s.fineId));
  const queries = opts.limit ? photos.filter((_, i) => i % Math.ceil(photos.length / opts.limit!) === 0) : photos;
  const reader = await OcrReader.load({ threads: opts.threads ?? 2 });
  const d = reader.settings.detect;
  log(`  settings: ${reader.modelVersion}; photos at 2×, catalogue images at 2×+4× merged; detector side ≤ ${d.limitSideLen} (multiples of 32), ImageNet mean/std on BGR planes, DB thresh ${d.thresh}, box score ≥ ${d.boxThresh}, unclip ${d.unclipRatio}; recogniser height 48, width ≥ 320, lines with confidence ≥ ${reader.settings.minConfidence}; ${reader.settings.threads} ORT threads`);
  log(`  text: NFKC + lower case + accents off + letters/digits only, character 3-grams (CJK bigrams), sublinear tf × smoothed idf over the ${classes.length} catalogue texts, cosine`);

  const cat = await ocrFiles(reader, classes.map((c) => c.iconicPath), [2, 4], log);
  const pho = await ocrFiles(reader, queries.map((q) => q.path), [2], log);

  const evaluate = (docText: (c: GroceryClass) => string) => {
    const idf = new NgramIdf();
    const docs = classes.map((c) => ngrams(docText(c)));
    docs.forEach((g) => idf.add(g));
    const vecs = docs.map((g) => idf.weigh(g));
    const ranks = queries.map((q) => {
      const v = idf.vector(pho.get(q.path)!.text);
      return rankOf(vecs.map((d) => cosine(v, d)), byId.get(q.fineId)!);
    });
    return ranks;
  };
  const usable = queries.map((q) => ngrams(pho.get(q.path)!.text).size > 0);
  const ranks = evaluate((c) => cat.get(c.iconicPath)!.text);
  const ranksListing = evaluate((c) => `${cat.get(c.iconicPath)!.text}\n${classTitle(c.name)}\n${c.description}`);
  const at = (rs: number[], k: number, mask?: boolean[]) => {
    const sel = rs.filter((_, i) => !mask || mask[i]);
    return sel.filter((r) => r <= k).length / Math.max(1, sel.length);
  };
  const photoMs = queries.map((q) => pho.get(q.path)!.ms);
  const catMs = classes.map((c) => cat.get(c.iconicPath)!.ms);
  const stats = reader.stats;
  if (stats.reads) log(`  stage split over the ${stats.reads} fresh reads: decode ${(stats.decodeMs / stats.reads).toFixed(0)} ms, detector ${(stats.detMs / stats.reads).toFixed(0)} ms, boxes ${(stats.postMs / stats.reads).toFixed(0)} ms, recogniser ${(stats.recMs / stats.reads).toFixed(0)} ms per image`);
  // Cached times come from whenever each image was first read; time a small sample now as well.
  const sampleP = queries.filter((_, i) => i % Math.ceil(queries.length / 20) === 0);
  const sampleC = classes.filter((_, i) => i % 6 === 0);
  const load0 = os.loadavg()[0];
  const timeAll = async (files: string[], scales: number[]) => {
    const ms: number[] = [];
    for (const f of files) ms.push((await reader.read(fs.readFileSync(f), { scales })).ms);
    return mean(ms);
  };
  const freshPhotoMs = await timeAll(sampleP.map((q) => q.path), [2]);
  const freshCatMs = await timeAll(sampleC.map((c) => c.iconicPath), [2, 4]);
  const fresh = { photos: sampleP.length, photoMs: freshPhotoMs, catalogue: sampleC.length, catalogueMs: freshCatMs, load: (load0 + os.loadavg()[0]) / 2 };
  await reader.close();
  return {
    fresh,
    photos: queries.length,
    usable: usable.filter(Boolean).length / queries.length,
    r1: at(ranks, 1),
    r5: at(ranks, 5),
    r1Usable: at(ranks, 1, usable),
    r5Usable: at(ranks, 5, usable),
    r1WithListing: at(ranksListing, 1),
    r5WithListing: at(ranksListing, 5),
    photoMs: { mean: mean(photoMs), p50: quantile(photoMs, 0.5), p90: quantile(photoMs, 0.9) },
    catalogueMs: { mean: mean(catMs), p50: quantile(catMs, 0.5) },
  };
}
