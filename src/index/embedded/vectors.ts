// In-memory vector index for the embedded backend: exact search while the candidate set is small, HNSW
// (hnswlib, inner product on normalised vectors) above it. Filters are a predicate evaluated inside the
// search (hnswlib's filter callback), and a selective filter falls back to exact search over the few
// products that pass, so filtered results never come up short. The vectors live in one contiguous
// row-major matrix (one row per image, swap-remove on delete), which an exact search scores in a single
// onnxruntime Gemm for a whole batch of queries (see components/dot-scorer.ts).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Hit } from '../backend.ts';
import { dotScores } from '../components/dot-scorer.ts';

const require = createRequire(import.meta.url);
const { HierarchicalNSW } = require('hnswlib-node') as typeof import('hnswlib-node');
type Hnsw = InstanceType<typeof HierarchicalNSW>;

interface Entry {
  label: number;
  productId: string;
  imageIdx: number;
  /** row in the matrix (and position in `dense`) */
  at: number;
}

export interface VectorIndexOptions {
  dims: number;
  exactBelow: number;
  efSearch?: number;
  M?: number;
  efConstruction?: number;
}

/**
 * Gemm scores differ from a sequential dot in the last bits (about 1e-6 for unit vectors): products within
 * this margin of the k-th are re-scored exactly, so hits, order and scores are those of the exact scan.
 */
const RESCORE_MARGIN = 1e-4;

export class VectorIndex {
  private entries = new Map<number, Entry>();
  /** the live entries in row order (swap-remove on delete) */
  private dense: Entry[] = [];
  /** row-major vectors, `dense.length` rows in use */
  private rows: Float32Array;
  private byProduct = new Map<string, number[]>();
  private hnsw: Hnsw | null = null;
  private capacity = 0;
  /** bumped on every change of the rows: a batched search that spans a change is redone */
  private version = 0;

  constructor(private readonly opts: VectorIndexOptions) {
    this.rows = new Float32Array(opts.dims * 64);
  }

  get size(): number {
    return this.entries.size;
  }

  labelsOf(productId: string): number[] {
    return this.byProduct.get(productId) ?? [];
  }

  /** A copy of the stored vector of an entry. */
  vectorOf(label: number): Float32Array | null {
    const e = this.entries.get(label);
    return e ? this.row(e).slice() : null;
  }

  add(label: number, productId: string, imageIdx: number, vector: Float32Array): void {
    this.preload(label, productId, imageIdx, vector);
    if (this.hnsw) this.hnswAdd(label, vector);
    else if (this.entries.size >= this.opts.exactBelow) this.buildHnsw();
  }

  /** Add an entry without touching the graph (start-up: the graph is loaded or built once afterwards). */
  preload(label: number, productId: string, imageIdx: number, vector: Float32Array): void {
    const d = this.opts.dims;
    if (vector.length !== d) throw new Error(`vector of ${vector.length} dims in an index of ${d}`);
    if (this.entries.has(label)) throw new Error(`label ${label} is already in the index`);
    const at = this.dense.length;
    if ((at + 1) * d > this.rows.length) {
      const grown = new Float32Array(Math.max((at + 1) * d, Math.ceil(this.rows.length * 1.5)));
      grown.set(this.rows.subarray(0, at * d));
      this.rows = grown;
    }
    this.rows.set(vector, at * d);
    const e = { label, productId, imageIdx, at };
    this.entries.set(label, e);
    this.dense.push(e);
    const ls = this.byProduct.get(productId) ?? [];
    ls.push(label);
    this.byProduct.set(productId, ls);
    this.version++;
  }

  removeProduct(productId: string): void {
    const d = this.opts.dims;
    for (const label of this.byProduct.get(productId) ?? []) {
      const e = this.entries.get(label);
      if (!e) continue;
      this.entries.delete(label);
      const last = this.dense.pop()!;
      if (last !== e) {
        this.rows.copyWithin(e.at * d, last.at * d, (last.at + 1) * d);
        last.at = e.at;
        this.dense[e.at] = last;
      }
      if (this.hnsw) {
        try {
          this.hnsw.markDelete(label);
        } catch {
          /* already gone */
        }
      }
    }
    this.byProduct.delete(productId);
    this.version++;
  }

  /** The entry's row in the matrix (a view: valid until the next write). */
  private row(e: Entry): Float32Array {
    const d = this.opts.dims;
    return this.rows.subarray(e.at * d, (e.at + 1) * d);
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
    for (const e of this.dense) h.addPoint(Array.from(this.row(e)), e.label);
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
      for (const e of this.dense) if (!inGraph.has(e.label)) this.hnswAdd(e.label, this.row(e));
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

  /**
   * `search` for several queries at once, with the same answers. Below the HNSW threshold every query is
   * scored against all rows in one Gemm, then the products near the k-th are re-scored exactly; above it a
   * selective filter's rows are gathered and scored the same way, and otherwise each query walks the graph.
   */
  async searchMany(qs: Float32Array[], k: number, allowed: Set<string> | null): Promise<Hit[][]> {
    const d = this.opts.dims;
    if (this.dense.length === 0 || k <= 0 || qs.some((q) => q.length !== d)) return qs.map((q) => this.search(q, k, allowed));
    let ents: Entry[];
    let matrix: Float32Array;
    if (!this.hnsw) {
      ents = this.dense;
      matrix = this.rows;
    } else {
      const imagesPerProduct = this.entries.size / Math.max(1, this.byProduct.size);
      if (!allowed || allowed.size * imagesPerProduct >= this.opts.exactBelow) return qs.map((q) => this.approx(q, k, allowed ? (id) => allowed.has(id) : null));
      // a selective filter: the qualifying rows are gathered (a copy runs at memory speed) and scored in
      // one Gemm; a JavaScript scan over the matrix rows costs 11.6 ms per query at 10,000 (bench -- gemm)
      ents = this.entriesOf(allowed);
      matrix = new Float32Array(ents.length * d);
      ents.forEach((e, i) => matrix.set(this.row(e), i * d));
    }
    const n = ents.length;
    if (n === 0) return qs.map(() => []);
    const flat = new Float32Array(qs.length * d);
    qs.forEach((q, i) => flat.set(q, i * d));
    const version = this.version;
    let scores: Float32Array;
    try {
      scores = await dotScores(flat, qs.length, matrix, n, d);
    } catch {
      scores = new Float32Array(0); // onnxruntime refused: the exact scan below answers alone
    }
    // rows moved while the Gemm ran (a write between its start and its answer): scan them afresh
    if (this.version !== version || scores.length !== qs.length * n) return qs.map((q) => this.search(q, k, allowed));
    return qs.map((q, b) => this.fromScores(q, scores.subarray(b * n, (b + 1) * n), ents, k, allowed));
  }

  /** Top-k from approximate scores of `ents`: candidates down to the k-th minus the margin, re-scored exactly. */
  private fromScores(q: Float32Array, s: Float32Array, ents: Entry[], k: number, allowed: Set<string> | null): Hit[] {
    const best = new Map<string, number>();
    let floor = -Infinity;
    const top: number[] = [];
    for (let i = 0; i < s.length; i++) {
      const v = s[i];
      if (v < floor) continue;
      const id = ents[i].productId;
      if (allowed && !allowed.has(id)) continue;
      const prev = best.get(id);
      if (prev !== undefined && prev >= v) continue;
      best.set(id, v);
      if (prev === undefined) {
        top.push(v);
        if (top.length > 4 * k) {
          top.sort((a, b) => b - a);
          top.length = k;
          floor = top[k - 1] - RESCORE_MARGIN;
        }
      }
    }
    const ranked = [...best.values()].sort((a, b) => b - a);
    const cut = ranked.length >= k ? ranked[k - 1] - RESCORE_MARGIN : -Infinity;
    const cands: Entry[] = [];
    for (const [id, v] of best) if (v >= cut) for (const label of this.byProduct.get(id) ?? []) cands.push(this.entries.get(label)!);
    return this.exact(q, k, cands);
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
    const rows = this.rows;
    const d = this.opts.dims;
    // keep a running k-th best score so most entries are rejected without touching the map
    let floor = -Infinity;
    const top: number[] = [];
    for (const e of candidates) {
      const s = dotAt(q, rows, e.at * d, d);
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

/** `dot` (vision/pooling.ts) of q with the row at `off`, summed in the same order: the same bits. */
function dotAt(q: Float32Array, rows: Float32Array, off: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += q[i] * rows[off + i];
    s1 += q[i + 1] * rows[off + i + 1];
    s2 += q[i + 2] * rows[off + i + 2];
    s3 += q[i + 3] * rows[off + i + 3];
  }
  for (; i < n; i++) s0 += q[i] * rows[off + i];
  return s0 + s1 + s2 + s3;
}
