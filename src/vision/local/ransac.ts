// RANSAC for a similarity (from 2 correspondences) or an affine transform (from 3), written here because
// opencv-js 4.5 lacks estimateAffinePartial2D and its estimateAffine2D draws from OpenCV's global RNG.
// A seeded PRNG makes the inlier count a pure function of the matches: the same pair always verifies
// the same way, which tests and thresholds rely on.
import { mulberry32 } from '../../util/prng.ts';

export type TransformModel = 'similarity' | 'affine';

export interface RansacOptions {
  model: TransformModel;
  /** reprojection error in pixels for an inlier */
  threshold: number;
  /** bounds on the scale (similarity) or on both singular values (affine) */
  minScale: number;
  maxScale: number;
  maxIterations: number;
  /** stop once this probability of having drawn an all-inlier sample is reached */
  confidence: number;
  seed: number;
}

export const DEFAULT_RANSAC: RansacOptions = {
  model: 'similarity',
  threshold: 5,
  minScale: 1 / 3,
  maxScale: 3,
  maxIterations: 1000,
  confidence: 0.999,
  seed: 0x1f2e3d4c,
};

export interface RansacResult {
  inliers: number;
  /** 1 for each correspondence that is an inlier of the returned model */
  mask: Uint8Array;
  /** [a, b, tx, c, d, ty]: x' = a·x + b·y + tx, y' = c·x + d·y + ty; null when nothing fitted */
  transform: Float64Array | null;
}

/** Correspondences as parallel coordinate arrays: (sx[i], sy[i]) in one image → (dx[i], dy[i]) in the other. */
export interface Correspondences {
  sx: Float64Array;
  sy: Float64Array;
  dx: Float64Array;
  dy: Float64Array;
}

const MIN_SAMPLE_SPREAD_SQ = 4 * 4; // sample points closer than 4 px define no reliable transform

export function ransac(c: Correspondences, options: Partial<RansacOptions> = {}): RansacResult {
  const o = { ...DEFAULT_RANSAC, ...options };
  const n = c.sx.length;
  const m = o.model === 'similarity' ? 2 : 3;
  const empty: RansacResult = { inliers: 0, mask: new Uint8Array(n), transform: null };
  if (n < m) return empty;

  const rand = mulberry32(o.seed);
  const thrSq = o.threshold * o.threshold;
  const sample = new Int32Array(m);
  const t = new Float64Array(6);
  let best = empty;
  let needed = o.maxIterations;
  for (let it = 0; it < needed; it++) {
    if (!drawSample(rand, n, sample, c)) continue;
    if (!fit(o.model, c, sample, m, t) || !plausible(o, t)) continue;
    const k = countInliers(c, t, thrSq, null);
    if (k > best.inliers) {
      best = { inliers: k, mask: new Uint8Array(n), transform: Float64Array.from(t) };
      needed = Math.min(o.maxIterations, iterationsFor(k / n, m, o.confidence));
    }
  }
  if (!best.transform) return empty;
  countInliers(c, best.transform, thrSq, best.mask);

  // Local optimisation: a least-squares refit on the inliers usually picks up a few more that the
  // minimal sample's noise left just outside the threshold. Kept only if it does not lose any.
  for (let round = 0; round < 3; round++) {
    const idx = maskIndices(best.mask);
    if (idx.length <= m || !fit(o.model, c, idx, idx.length, t) || !plausible(o, t)) break;
    const mask = new Uint8Array(n);
    const k = countInliers(c, t, thrSq, mask);
    if (k <= best.inliers) break;
    best = { inliers: k, mask, transform: Float64Array.from(t) };
  }
  return best;
}

/** Iterations needed to draw one all-inlier sample of size m with the given confidence. */
function iterationsFor(inlierRatio: number, m: number, confidence: number): number {
  const p = Math.pow(inlierRatio, m);
  if (p >= 1) return 1;
  if (p <= 0) return Infinity;
  return Math.ceil(Math.log(1 - confidence) / Math.log(1 - p));
}

function drawSample(rand: () => number, n: number, out: Int32Array, c: Correspondences): boolean {
  for (let k = 0; k < out.length; k++) {
    let tries = 0;
    let i: number;
    do {
      i = Math.floor(rand() * n);
    } while (out.subarray(0, k).includes(i) && ++tries < 8);
    if (tries >= 8) return false;
    for (let l = 0; l < k; l++) {
      const j = out[l];
      const ddx = c.sx[i] - c.sx[j];
      const ddy = c.sy[i] - c.sy[j];
      if (ddx * ddx + ddy * ddy < MIN_SAMPLE_SPREAD_SQ) return false;
    }
    out[k] = i;
  }
  return true;
}

function maskIndices(mask: Uint8Array): Int32Array {
  let k = 0;
  for (let i = 0; i < mask.length; i++) k += mask[i];
  const idx = new Int32Array(k);
  for (let i = 0, j = 0; i < mask.length; i++) if (mask[i]) idx[j++] = i;
  return idx;
}

function countInliers(c: Correspondences, t: Float64Array, thrSq: number, mask: Uint8Array | null): number {
  const [a, b, tx, cc, d, ty] = t;
  let k = 0;
  for (let i = 0; i < c.sx.length; i++) {
    const x = c.sx[i];
    const y = c.sy[i];
    const ex = a * x + b * y + tx - c.dx[i];
    const ey = cc * x + d * y + ty - c.dy[i];
    if (ex * ex + ey * ey <= thrSq) {
      k++;
      if (mask) mask[i] = 1;
    }
  }
  return k;
}

/**
 * Rejects transforms no reseller copy produces: reflections (the mirrored query handles mirrors, so a
 * reflection here is a coincidence), scales outside the bounds and, for affine, strong shear.
 */
function plausible(o: RansacOptions, t: Float64Array): boolean {
  const [a, b, , c, d] = t;
  const det = a * d - b * c;
  if (!(det > 0)) return false;
  if (o.model === 'similarity') {
    const s = Math.sqrt(det); // a = d, c = -b, so det = scale²
    return s >= o.minScale && s <= o.maxScale;
  }
  // singular values of [[a, b], [c, d]]
  const e = (a + d) / 2, f = (a - d) / 2, g = (c + b) / 2, h = (c - b) / 2;
  const q = Math.hypot(e, h), r = Math.hypot(f, g);
  const s1 = q + r, s2 = Math.abs(q - r);
  return s2 >= o.minScale && s1 <= o.maxScale && s1 <= 2 * s2;
}

/** Least-squares fit over the correspondences idx[0..k) (exact for a minimal sample). */
function fit(model: TransformModel, c: Correspondences, idx: Int32Array, k: number, t: Float64Array): boolean {
  return model === 'similarity' ? fitSimilarity(c, idx, k, t) : fitAffine(c, idx, k, t);
}

// Closed form: centre both point sets, then the rotation-scale (a, b) is the normalised complex
// correlation of the centred points and the translation maps centroid to centroid.
function fitSimilarity(c: Correspondences, idx: Int32Array, k: number, t: Float64Array): boolean {
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let l = 0; l < k; l++) {
    const i = idx[l];
    msx += c.sx[i]; msy += c.sy[i]; mdx += c.dx[i]; mdy += c.dy[i];
  }
  msx /= k; msy /= k; mdx /= k; mdy /= k;
  let sxx = 0, re = 0, im = 0;
  for (let l = 0; l < k; l++) {
    const i = idx[l];
    const x = c.sx[i] - msx, y = c.sy[i] - msy;
    const u = c.dx[i] - mdx, v = c.dy[i] - mdy;
    sxx += x * x + y * y;
    re += x * u + y * v;
    im += x * v - y * u;
  }
  if (sxx < 1e-9) return false;
  const a = re / sxx;
  const b = im / sxx;
  t[0] = a; t[1] = -b; t[2] = mdx - (a * msx - b * msy);
  t[3] = b; t[4] = a; t[5] = mdy - (b * msx + a * msy);
  return true;
}

// Normal equations on centred points: [[Sxx, Sxy], [Sxy, Syy]] · (a, b) = (Sxu, Syu), same for (c, d).
function fitAffine(c: Correspondences, idx: Int32Array, k: number, t: Float64Array): boolean {
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let l = 0; l < k; l++) {
    const i = idx[l];
    msx += c.sx[i]; msy += c.sy[i]; mdx += c.dx[i]; mdy += c.dy[i];
  }
  msx /= k; msy /= k; mdx /= k; mdy /= k;
  let sxx = 0, sxy = 0, syy = 0, sxu = 0, syu = 0, sxv = 0, syv = 0;
  for (let l = 0; l < k; l++) {
    const i = idx[l];
    const x = c.sx[i] - msx, y = c.sy[i] - msy;
    const u = c.dx[i] - mdx, v = c.dy[i] - mdy;
    sxx += x * x; sxy += x * y; syy += y * y;
    sxu += x * u; syu += y * u; sxv += x * v; syv += y * v;
  }
  const det = sxx * syy - sxy * sxy;
  // collinear samples: the transform across the line is undetermined
  if (Math.abs(det) < 1e-6 * Math.max(1, sxx * syy)) return false;
  const a = (syy * sxu - sxy * syu) / det;
  const b = (sxx * syu - sxy * sxu) / det;
  const cc = (syy * sxv - sxy * syv) / det;
  const d = (sxx * syv - sxy * sxv) / det;
  t[0] = a; t[1] = b; t[2] = mdx - (a * msx + b * msy);
  t[3] = cc; t[4] = d; t[5] = mdy - (cc * msx + d * msy);
  return true;
}
