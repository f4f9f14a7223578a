// The embedded vector index above its exact threshold: HNSW with filters inside the search, exact search
// for selective filters, deletes, and a saved graph reconciled with the store on load.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VectorIndex } from '../src/index/embedded/vectors.ts';
import { dotScores } from '../src/index/components/dot-scorer.ts';
import { dot } from '../src/vision/pooling.ts';
import { near, prng, unitVector } from './contract/synthetic.ts';

const DIMS = 64;

function build(n: number, exactBelow: number) {
  const rnd = prng(5);
  const idx = new VectorIndex({ dims: DIMS, exactBelow });
  const vecs = new Map<string, Float32Array>();
  for (let i = 0; i < n; i++) {
    const v = unitVector(rnd, DIMS);
    vecs.set(`p${i}`, v);
    idx.add(i + 1, `p${i}`, 0, v);
  }
  return { idx, vecs, rnd };
}

function brute(vecs: Map<string, Float32Array>, q: Float32Array, k: number, allowed?: Set<string>) {
  return [...vecs]
    .filter(([id]) => !allowed || allowed.has(id))
    .map(([id, v]) => [id, v.reduce((s, x, i) => s + x * q[i], 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([id]) => id);
}

describe('VectorIndex', () => {
  it('switches to HNSW above the threshold and still finds near-duplicates first', () => {
    const { idx, vecs, rnd } = build(600, 100);
    expect(idx.approximate).toBe(true);
    let recall = 0;
    for (let t = 0; t < 30; t++) {
      const target = `p${Math.floor(rnd() * 600)}`;
      const q = near(rnd, vecs.get(target)!, 0.3);
      const got = idx.search(q, 10, null).map((h) => h.id);
      expect(got[0]).toBe(target);
      const truth = new Set(brute(vecs, q, 10));
      recall += got.filter((id) => truth.has(id)).length / 10;
    }
    expect(recall / 30).toBeGreaterThan(0.9);
  });

  it('applies filters inside the search: every hit qualifies, and a selective filter is exact', () => {
    const { idx, vecs, rnd } = build(600, 100);
    const wide = new Set([...vecs.keys()].filter((_, i) => i % 2 === 0)); // 300 products: HNSW with a filter
    const narrow = new Set([...vecs.keys()].filter((_, i) => i % 10 === 3)); // 60 products: exact
    for (let t = 0; t < 10; t++) {
      const q = unitVector(rnd, DIMS);
      const w = idx.search(q, 10, wide);
      expect(w).toHaveLength(10);
      expect(w.every((h) => wide.has(h.id))).toBe(true);
      expect(idx.search(q, 10, narrow).map((h) => h.id)).toEqual(brute(vecs, q, 10, narrow));
    }
  });

  it('forgets deleted products and reconciles a saved graph with the entries on load', () => {
    const { idx, vecs } = build(300, 50);
    const q = vecs.get('p7')!;
    expect(idx.search(q, 1, null)[0].id).toBe('p7');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-')), 'g.hnsw');
    idx.saveHnsw(file);
    idx.removeProduct('p7');
    expect(idx.search(q, 5, null).some((h) => h.id === 'p7')).toBe(false);
    // a fresh index whose store lacks p7 but has a new p999 loads the old graph and must agree with the store
    const fresh = new VectorIndex({ dims: DIMS, exactBelow: 50 });
    for (const [id, v] of vecs) if (id !== 'p7') fresh.preload(Number(id.slice(1)) + 1, id, 0, v);
    fresh.preload(1000, 'p999', 0, q);
    expect(fresh.loadHnsw(file)).toBe(true);
    const hits = fresh.search(q, 5, null).map((h) => h.id);
    expect(hits[0]).toBe('p999');
    expect(hits).not.toContain('p7');
  });

  it('batched exact search (one Gemm) gives the single searches\' hits, order, scores and best image', async () => {
    const rnd = prng(9);
    const idx = new VectorIndex({ dims: DIMS, exactBelow: 10_000 });
    const vecs: Array<[string, number, Float32Array]> = [];
    for (let i = 0; i < 400; i++) {
      // products with one to three images, so the best image per product matters
      for (let m = 0; m <= i % 3; m++) {
        const v = unitVector(rnd, DIMS);
        vecs.push([`p${i}`, m, v]);
        idx.add(vecs.length, `p${i}`, m, v);
      }
    }
    // deletes move the last rows into the holes: the batched path must read the moved rows right
    for (const id of ['p0', 'p17', 'p399', 'p200']) idx.removeProduct(id);
    const qs = Array.from({ length: 12 }, (_, i) => (i % 2 ? unitVector(rnd, DIMS) : near(rnd, vecs[(i * 37) % vecs.length][2], 0.4)));
    const allowed = new Set(Array.from({ length: 400 }, (_, i) => `p${i}`).filter((_, i) => i % 3 === 1));
    for (const filter of [null, allowed]) {
      const many = await idx.searchMany(qs, 10, filter);
      expect(many).toHaveLength(qs.length);
      many.forEach((hits, i) => {
        expect(hits).toEqual(idx.search(qs[i], 10, filter));
        expect(hits.every((h) => !['p0', 'p17', 'p399', 'p200'].includes(h.id))).toBe(true);
      });
    }
    // the stored rows are the vectors given (after the swap-removes)
    const [, , v5] = vecs[5];
    expect(idx.vectorOf(6)).toEqual(v5);
    expect(idx.vectorOf(1)).toBeNull(); // p0's only image
  });

  it('above the HNSW threshold, batched search scores a selective filter\'s rows exactly and walks the graph otherwise', async () => {
    const { idx, vecs, rnd } = build(600, 100);
    expect(idx.approximate).toBe(true);
    idx.removeProduct('p3'); // a hole, so that gathered rows are not simply the first ones
    vecs.delete('p3');
    const narrow = new Set([...vecs.keys()].filter((_, i) => i % 10 === 3)); // 60 products: exact
    const wide = new Set([...vecs.keys()].filter((_, i) => i % 2 === 0)); // 300: the graph with a filter
    const qs = Array.from({ length: 6 }, () => unitVector(rnd, DIMS));
    const exact = await idx.searchMany(qs, 10, narrow);
    exact.forEach((hits, i) => {
      expect(hits.map((h) => h.id)).toEqual(brute(vecs, qs[i], 10, narrow));
      expect(hits).toEqual(idx.search(qs[i], 10, narrow));
    });
    const graph = await idx.searchMany(qs, 10, wide);
    graph.forEach((hits, i) => expect(hits).toEqual(idx.search(qs[i], 10, wide)));
  });

  it('a write while a batched search is scored does not mix old and new rows', async () => {
    const { idx, vecs } = build(300, 10_000);
    const q = vecs.get('p42')!;
    const pending = idx.searchMany([q], 3, null);
    idx.removeProduct('p42'); // lands before the Gemm's answer is read
    const [hits] = await pending;
    expect(hits).toEqual(idx.search(q, 3, null));
    expect(hits.some((h) => h.id === 'p42')).toBe(false);
  });

  it('dotScores equals dot for every query and row, to float32 precision', async () => {
    const rnd = prng(12);
    const rows = Array.from({ length: 257 }, () => unitVector(rnd, DIMS));
    const qs = Array.from({ length: 5 }, () => unitVector(rnd, DIMS));
    const m = new Float32Array(300 * DIMS); // spare capacity: only the first 257 rows are scored
    rows.forEach((r, i) => m.set(r, i * DIMS));
    const flat = new Float32Array(qs.length * DIMS);
    qs.forEach((q, i) => flat.set(q, i * DIMS));
    const s = await dotScores(flat, qs.length, m, rows.length, DIMS);
    expect(s).toHaveLength(qs.length * rows.length);
    let worst = 0;
    qs.forEach((q, b) => rows.forEach((r, i) => (worst = Math.max(worst, Math.abs(s[b * rows.length + i] - dot(q, r))))));
    expect(worst).toBeLessThan(1e-5);
    await expect(dotScores(flat, 4, m, 10, DIMS)).rejects.toThrow(/query values/);
  });
});
