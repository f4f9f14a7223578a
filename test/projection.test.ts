import { describe, expect, it } from 'vitest';
import { projectMany } from '../src/vision/projection-runner.ts';
import { deserializeProjection, fitWhitening, project, randomProjection, serializeProjection, symmetricEigen } from '../src/vision/projection.ts';

function rng(seed: number) {
  return () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5;
}

describe('symmetricEigen', () => {
  it('reconstructs a random symmetric matrix and yields orthonormal eigenvectors', () => {
    const n = 40;
    const r = rng(7);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) A[i * n + j] = A[j * n + i] = r();
    const { values, vectors } = symmetricEigen(A, n);
    let maxErr = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
        maxErr = Math.max(maxErr, Math.abs(s - A[i * n + j]));
        let o = 0;
        for (let k = 0; k < n; k++) o += vectors[k * n + i] * vectors[k * n + j];
        expect(Math.abs(o - (i === j ? 1 : 0))).toBeLessThan(1e-9);
      }
    expect(maxErr).toBeLessThan(1e-9);
  });
});

describe('whitening', () => {
  it('decorrelates the training descriptors and round-trips through serialisation', () => {
    const r = rng(3);
    const d = 64;
    const descs = Array.from({ length: 50 }, () => {
      const v = new Float32Array(d);
      const a = r();
      for (let j = 0; j < d; j++) v[j] = a * (j % 3) + 0.2 * r();
      return v;
    });
    const p = fitWhitening(descs, 32, 0);
    const ys = descs.map((x) => project(p, x));
    // the first two whitened components are uncorrelated across the sample
    let c = 0;
    for (const y of ys) c += y[0] * y[1];
    expect(Math.abs(c / ys.length)).toBeLessThan(0.05);
    const back = deserializeProjection(serializeProjection(p));
    expect(Array.from(project(back, descs[0]))).toEqual(Array.from(ys[0]));
  });

  it('the random fallback keeps cosines roughly', () => {
    const p = randomProjection(1792, 512);
    const r = rng(11);
    const a = Float32Array.from({ length: 1792 }, () => r());
    const b = Float32Array.from(a, (x) => x + 0.5 * r());
    const cos = (x: Float32Array, y: Float32Array) => {
      let s = 0, nx = 0, ny = 0;
      for (let i = 0; i < x.length; i++) (s += x[i] * y[i]), (nx += x[i] * x[i]), (ny += y[i] * y[i]);
      return s / Math.sqrt(nx * ny);
    };
    expect(Math.abs(cos(project(p, a), project(p, b)) - cos(a, b))).toBeLessThan(0.08);
  });

  it('projectMany (one onnxruntime Gemm) equals project for whitening and random projections', async () => {
    const r = rng(21);
    const descs = Array.from({ length: 40 }, () => Float32Array.from({ length: 96 }, () => r() + 0.3));
    for (const p of [fitWhitening(descs.slice(0, 30), 16, 0.1), randomProjection(96, 32, 5)]) {
      const fast = await projectMany(p, descs);
      expect(fast).toHaveLength(descs.length);
      let worst = 0;
      descs.forEach((d, i) => {
        const want = project(p, d);
        expect(fast[i]).toHaveLength(want.length);
        for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(fast[i][j] - want[j]));
      });
      expect(worst).toBeLessThan(1e-5);
    }
    expect(await projectMany(randomProjection(96, 32, 5), [])).toEqual([]);
  });
});
