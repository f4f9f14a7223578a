// A small logistic regression (Newton's method with an L2 penalty) over standardised features: enough for a
// dozen evidence features and a few thousand labelled pairs, and its output is a probability.

export interface LogisticModel {
  features: string[];
  mean: number[];
  std: number[];
  weights: number[];
  bias: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function predict(m: LogisticModel, x: number[]): number {
  let z = m.bias;
  for (let i = 0; i < m.weights.length; i++) z += m.weights[i] * ((x[i] - m.mean[i]) / m.std[i]);
  return sigmoid(z);
}

/** Solves A x = b for a small symmetric positive-definite A (Cholesky). */
function solveSpd(A: number[][], b: number[]): number[] {
  const n = b.length;
  const L = A.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j][j];
    }
  }
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i][k] * y[k];
    y[i] = s / L[i][i];
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k][i] * x[k];
    x[i] = s / L[i][i];
  }
  return x;
}

/**
 * Fits P(y | x). `l2` penalises the weights (not the bias); `weights` per sample let the caller balance
 * sources of pairs (e.g. so that thousands of easy negatives do not drown a few hundred positives).
 */
export function fitLogistic(features: string[], X: number[][], y: boolean[], opts: { l2?: number; iterations?: number; sampleWeights?: number[] } = {}): LogisticModel {
  const n = X.length;
  const d = features.length;
  if (!n) throw new Error('no samples');
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const x of X) for (let j = 0; j < d; j++) mean[j] += x[j] / n;
  for (const x of X) for (let j = 0; j < d; j++) std[j] += (x[j] - mean[j]) ** 2 / n;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
  const Z = X.map((x) => [1, ...x.map((v, j) => (v - mean[j]) / std[j])]);
  const sw = opts.sampleWeights ?? new Array<number>(n).fill(1);
  const l2 = opts.l2 ?? 1e-2;
  let w = new Array<number>(d + 1).fill(0);
  for (let it = 0; it < (opts.iterations ?? 50); it++) {
    const g = new Array<number>(d + 1).fill(0);
    const H = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let j = 0; j <= d; j++) z += w[j] * Z[i][j];
      const p = sigmoid(z);
      const r = sw[i] * (p - (y[i] ? 1 : 0));
      const h = sw[i] * p * (1 - p);
      for (let j = 0; j <= d; j++) {
        g[j] += r * Z[i][j];
        for (let k = 0; k <= j; k++) H[j][k] += h * Z[i][j] * Z[i][k];
      }
    }
    const totalW = sw.reduce((a, b) => a + b, 0);
    for (let j = 1; j <= d; j++) {
      g[j] += l2 * totalW * w[j];
      H[j][j] += l2 * totalW;
    }
    for (let j = 0; j <= d; j++) for (let k = j + 1; k <= d; k++) H[j][k] = H[k][j];
    const step = solveSpd(H, g);
    w = w.map((v, j) => v - step[j]);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  return { features, mean, std, weights: w.slice(1), bias: w[0] };
}
