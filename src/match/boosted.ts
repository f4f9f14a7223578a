// Gradient-boosted decision trees (logistic loss, Newton leaves, quantile bins): a small non-linear model
// for P(same product | evidence). A linear score cannot say "many aligned details, but the colours in the
// aligned region disagree" (a sibling pack) — a tree splits on exactly that. Fitted by bench/sourcing.ts,
// stored as plain JSON in models/evidence.json; prediction is a handful of comparisons.

export interface TreeNode {
  /** feature index for a split; -1 for a leaf */
  f: number;
  /** go left when x[f] <= t */
  t: number;
  l: number;
  r: number;
  /** leaf value (log-odds increment) */
  v: number;
}

export interface BoostedModel {
  features: string[];
  base: number;
  trees: TreeNode[][];
}

export interface BoostOptions {
  rounds: number;
  depth: number;
  learningRate: number;
  /** L2 on leaf values */
  lambda: number;
  /** minimum hessian (≈ weighted examples near p=0.5) in a child */
  minChildWeight: number;
  bins: number;
  sampleWeights?: number[];
}

export const DEFAULT_BOOST: Omit<BoostOptions, 'sampleWeights'> = { rounds: 150, depth: 3, learningRate: 0.1, lambda: 1, minChildWeight: 5, bins: 32 };

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function thresholds(col: number[], bins: number): number[] {
  const s = [...col].sort((a, b) => a - b);
  const out: number[] = [];
  for (let b = 1; b < bins; b++) {
    const v = s[Math.min(s.length - 1, Math.floor((b * s.length) / bins))];
    if (!out.length || v > out[out.length - 1]) out.push(v);
  }
  // a split at the maximum sends everything left: useless
  return out.filter((v) => v < s[s.length - 1]);
}

export function fitBoosted(features: string[], X: number[][], y: boolean[], options: Partial<BoostOptions> = {}): BoostedModel {
  const o = { ...DEFAULT_BOOST, ...options };
  const n = X.length, d = features.length;
  const w = o.sampleWeights ?? new Array(n).fill(1);
  const cuts = features.map((_, j) => thresholds(X.map((x) => x[j]), o.bins));
  // bin index per example and feature: x <= cuts[b] falls in bin b (bin cuts.length: above all)
  const bin = features.map((_, j) => {
    const c = cuts[j];
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let b = 0;
      while (b < c.length && X[i][j] > c[b]) b++;
      out[i] = b;
    }
    return out;
  });
  let pos = 0, tot = 0;
  for (let i = 0; i < n; i++) (tot += w[i]), (pos += y[i] ? w[i] : 0);
  const p0 = Math.min(1 - 1e-6, Math.max(1e-6, pos / tot));
  const base = Math.log(p0 / (1 - p0));
  const F = new Float64Array(n).fill(base);
  const g = new Float64Array(n), h = new Float64Array(n);
  const trees: TreeNode[][] = [];
  for (let m = 0; m < o.rounds; m++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(F[i]);
      g[i] = w[i] * (p - (y[i] ? 1 : 0));
      h[i] = w[i] * Math.max(1e-6, p * (1 - p));
    }
    const nodes: TreeNode[] = [];
    const grow = (idx: Int32Array, depth: number): number => {
      let G = 0, H = 0;
      for (const i of idx) (G += g[i]), (H += h[i]);
      const me = nodes.length;
      nodes.push({ f: -1, t: 0, l: -1, r: -1, v: (-G / (H + o.lambda)) * o.learningRate });
      if (depth >= o.depth || idx.length < 2) return me;
      let best = { gain: 1e-9, f: -1, b: -1 };
      const parent = (G * G) / (H + o.lambda);
      for (let j = 0; j < d; j++) {
        const k = cuts[j].length;
        if (!k) continue;
        const hg = new Float64Array(k + 1), hh = new Float64Array(k + 1);
        const bj = bin[j];
        for (const i of idx) (hg[bj[i]] += g[i]), (hh[bj[i]] += h[i]);
        let GL = 0, HL = 0;
        for (let b = 0; b < k; b++) {
          GL += hg[b];
          HL += hh[b];
          const GR = G - GL, HR = H - HL;
          if (HL < o.minChildWeight || HR < o.minChildWeight) continue;
          const gain = (GL * GL) / (HL + o.lambda) + (GR * GR) / (HR + o.lambda) - parent;
          if (gain > best.gain) best = { gain, f: j, b };
        }
      }
      if (best.f < 0) return me;
      const bj = bin[best.f];
      const left = idx.filter((i) => bj[i] <= best.b);
      const right = idx.filter((i) => bj[i] > best.b);
      nodes[me].f = best.f;
      nodes[me].t = cuts[best.f][best.b];
      nodes[me].l = grow(left, depth + 1);
      nodes[me].r = grow(right, depth + 1);
      return me;
    };
    grow(Int32Array.from({ length: n }, (_, i) => i), 0);
    trees.push(nodes);
    for (let i = 0; i < n; i++) F[i] += leafOf(nodes, X[i]);
  }
  return { features, base, trees };
}

function leafOf(nodes: TreeNode[], x: number[]): number {
  let k = 0;
  while (nodes[k].f >= 0) k = x[nodes[k].f] <= nodes[k].t ? nodes[k].l : nodes[k].r;
  return nodes[k].v;
}

export function predictBoosted(m: BoostedModel, x: number[]): number {
  let z = m.base;
  for (const t of m.trees) z += leafOf(t, x);
  return sigmoid(z);
}
