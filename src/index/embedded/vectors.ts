// In-memory vector index for the embedded backend: exact search while the candidate set is small, HNSW
// (hnswlib, inner product on normalised vectors) above it. Filters are a predicate evaluated inside the
// search (hnswlib's filter callback), and a selective filter falls back to exact search over the few
// products that pass, so filtered results never come up short.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Hit } from '../backend.ts';
import { dot } from '../../vision/pooling.ts';

const require = createRequire(import.meta.url);
const { HierarchicalNSW } = require('hnswlib-node') as typeof import('hnswlib-node');
type Hnsw = InstanceType<typeof HierarchicalNSW>;

interface Entry {
  label: number;
  productId: string;
  imageIdx: number;
  vector: Float32Array;
}

export interface VectorIndexOptions {
  dims: number;
  exactBelow: number;
  efSearch?: number;
  M?: number;
  efConstruction?: number;
}

export class VectorIndex {
  private entries = new Map<number, Entry>();
  /** dense array of the live entries, for cache-friendly exact scans (swap-remove on delete) */
  private dense: Entry[] = [];
  private slot = new Map<number, number>();
  private byProduct = new Map<string, number[]>();
  private hnsw: Hnsw | null = null;
  private capacity = 0;

  constructor(private readonly opts: VectorIndexOptions) {}

  get size(): number {
    return this.entries.size;
  }

  labelsOf(productId: string): number[] {
    return this.byProduct.get(productId) ?? [];
  }

  add(label: number, productId: string, imageIdx: number, vector: Float32Array): void {
    this.preload(label, productId, imageIdx, vector);
    if (this.hnsw) this.hnswAdd(label, vector);
    else if (this.entries.size >= this.opts.exactBelow) this.buildHnsw();
  }

  /** Add an entry without touching the graph (start-up: the graph is loaded or built once afterwards). */
  preload(label: number, productId: string, imageIdx: number, vector: Float32Array): void {
    const e = { label, productId, imageIdx, vector };
    this.entries.set(label, e);
    this.slot.set(label, this.dense.length);
    this.dense.push(e);
    const ls = this.byProduct.get(productId) ?? [];
    ls.push(label);
    this.byProduct.set(productId, ls);
  }

  removeProduct(productId: string): void {
    for (const label of this.byProduct.get(productId) ?? []) {
      this.entries.delete(label);
      const at = this.slot.get(label)!;
      const last = this.dense.pop()!;
      if (last.label !== label) {
        this.dense[at] = last;
        this.slot.set(last.label, at);
      }
      this.slot.delete(label);
      if (this.hnsw) {
        try {
          this.hnsw.markDelete(label);
        } catch {
          /* already gone */
        }
      }
    }
    this.byProduct.delete(productId);
  }

  private hnswAdd(label: number, v: Float32Array) {
    const h = this.hnsw!;
    if (h.getCurrentCount() + 1 > this.capacity) {
      this.capacity = Math.ceil(this.capacity * 1.5) + 1024;
      h.resizeIndex(this.capacity);
    }
    h.addPoint(Array.from(v), label);
  }

  buildHnsw(): void {
    const h = new HierarchicalNSW('ip', this.opts.dims);
    this.capacity = Math.max(1024, Math.ceil(this.entries.size * 1.25));
    h.initIndex(this.capacity, this.opts.M ?? 16, this.opts.efConstruction ?? 100, 100);
    h.setEf(this.opts.efSearch ?? 128);
    this.hnsw = h;
    for (const [label, e] of this.entries) h.addPoint(Array.from(e.vector), label);
  }

  /** Load a saved HNSW graph, then reconcile it with the durable entries (the store is the truth). */
  loadHnsw(file: string): boolean {
    if (!fs.existsSync(file)) return false;
    try {
      const h = new HierarchicalNSW('ip', this.opts.dims);
      h.readIndexSync(file);
      h.setEf(this.opts.efSearch ?? 128);
      this.capacity = h.getMaxElements();
      this.hnsw = h;
      const inGraph = new Set(h.getIdsList());
      for (const label of inGraph) if (!this.entries.has(label)) h.markDelete(label);
      for (const [label, e] of this.entries) if (!inGraph.has(label)) this.hnswAdd(label, e.vector);
      return true;
    } catch {
      this.hnsw = null;
      return false;
    }
  }

  saveHnsw(file: string): void {
    if (!this.hnsw) return;
    const tmp = `${file}.tmp`;
    this.hnsw.writeIndexSync(tmp);
    fs.renameSync(tmp, file);
  }

  get approximate(): boolean {
    return this.hnsw !== null;
  }

  /**
   * Top-k products by their best image. `allowed` is the set of products that pass the filters (null: all).
   * A selective filter is searched exactly over just the allowed products' vectors; otherwise HNSW (when
   * built) runs with the set as its filter callback.
   */
  search(q: Float32Array, k: number, allowed: Set<string> | null): Hit[] {
    const imagesPerProduct = this.entries.size / Math.max(1, this.byProduct.size);
    if (!this.hnsw) return this.exact(q, k, allowed ? this.entriesOf(allowed) : this.dense);
    if (allowed && allowed.size * imagesPerProduct < this.opts.exactBelow) return this.exact(q, k, this.entriesOf(allowed));
    return this.approx(q, k, allowed ? (id) => allowed.has(id) : null);
  }

  private entriesOf(allowed: Set<string>): Entry[] {
    // walk the smaller side: the allowed products, or every entry
    if (allowed.size * 2 > this.byProduct.size) return this.dense.filter((e) => allowed.has(e.productId));
    const out: Entry[] = [];
    for (const id of allowed) for (const label of this.byProduct.get(id) ?? []) out.push(this.entries.get(label)!);
    return out;
  }

  private exact(q: Float32Array, k: number, candidates: Entry[]): Hit[] {
    const best = new Map<string, Hit>();
    // keep a running k-th best score so most entries are rejected without touching the map
    let floor = -Infinity;
    const top: number[] = [];
    for (const e of candidates) {
      const s = dot(q, e.vector);
      if (s < floor) continue;
      const prev = best.get(e.productId);
      if (prev && prev.score >= s) continue;
      best.set(e.productId, { id: e.productId, score: s, imageIdx: e.imageIdx });
      if (!prev) {
        top.push(s);
        if (top.length > 4 * k) {
          top.sort((a, b) => b - a);
          top.length = k;
          floor = top[k - 1];
        }
      }
    }
    return [...best.values()].filter((h) => h.score >= floor).sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, k);
  }

  private approx(q: Float32Array, k: number, allow: ((id: string) => boolean) | null): Hit[] {
    const h = this.hnsw!;
    // several images of one product can occupy the top: ask for more labels than products wanted
    const want = Math.min(this.entries.size, Math.max(k * 3, k + 10));
    const filter = allow
      ? (label: number) => {
          const e = this.entries.get(label);
          return !!e && allow(e.productId);
        }
      : undefined;
    h.setEf(Math.max(this.opts.efSearch ?? 128, want));
    const res = h.searchKnn(Array.from(q), want, filter);
    const best = new Map<string, Hit>();
    res.neighbors.forEach((label, i) => {
      const e = this.entries.get(label);
      if (!e) return;
      const s = 1 - res.distances[i]; // hnswlib 'ip' distance is 1 - dot
      const prev = best.get(e.productId);
      if (!prev || s > prev.score) best.set(e.productId, { id: e.productId, score: s, imageIdx: e.imageIdx });
    });
    return [...best.values()].sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, k);
  }
}
