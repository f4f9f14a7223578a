// `npm run bench -- gemm`: exact kNN and the index projection, in JavaScript and as onnxruntime Gemms
// (index/components/dot-scorer.ts, vision/projection-runner.ts), on the same data in one run. Synthetic
// unit vectors: the cost does not depend on the values.
import { VectorIndex } from '../src/index/embedded/vectors.ts';
import { projectMany } from '../src/vision/projection-runner.ts';
import { project, randomProjection } from '../src/vision/projection.ts';
import { mulberry32 } from '../src/util/prng.ts';

function unit(rnd: () => number, d: number): Float32Array {
  const v = Float32Array.from({ length: d }, () => rnd() - 0.5);
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

async function timeMs(reps: number, f: () => unknown): Promise<number> {
  await f(); // warm-up
  const t = performance.now();
  for (let i = 0; i < reps; i++) await f();
  return (performance.now() - t) / reps;
}

export async function benchGemm(log: (s: string) => void) {
  const rnd = mulberry32(7);
  const dims = 512;
  log('  | index size | JS scan per query | Gemm, 1 query | Gemm per query, batch of 64 | same hits |');
  log('  |---|---|---|---|---|');
  for (const n of [2_000, 10_000, 19_000]) {
    const idx = new VectorIndex({ dims, exactBelow: 1e9 });
    for (let i = 0; i < n; i++) idx.add(i + 1, `p${i}`, 0, unit(rnd, dims));
    const qs = Array.from({ length: 64 }, () => unit(rnd, dims));
    const js = await timeMs(3, () => qs.slice(0, 8).map((q) => idx.search(q, 11, null)));
    const one = await timeMs(20, () => idx.searchMany([qs[0]], 11, null));
    const many = await timeMs(5, () => idx.searchMany(qs, 11, null));
    const batch = await idx.searchMany(qs, 11, null);
    const same = qs.every((q, i) => JSON.stringify(idx.search(q, 11, null)) === JSON.stringify(batch[i]));
    log(`  | ${n.toLocaleString('en')} × ${dims} | ${(js / 8).toFixed(2)} ms | ${one.toFixed(2)} ms | ${(many / 64).toFixed(3)} ms | ${same ? 'yes' : 'NO'} |`);
  }
  const p = randomProjection(1792, 512);
  const descs = Array.from({ length: 64 }, () => unit(rnd, 1792));
  const js = await timeMs(5, () => descs.map((d) => project(p, d)));
  const one = await timeMs(200, () => projectMany(p, [descs[0]]));
  const many = await timeMs(20, () => projectMany(p, descs));
  log(`  projection 1792 → 512 per descriptor: JS ${(js / 64).toFixed(3)} ms · Gemm alone ${one.toFixed(3)} ms · Gemm in a batch of 64 ${(many / 64).toFixed(3)} ms`);
}
