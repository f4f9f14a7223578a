// Maps the raw-descriptor cosine of a candidate to P(same product), fitted by isotonic regression on
// labelled pairs (the quality bench writes models/calibration.json from the Grocery val split). Without a
// calibration for the running model, confidence falls back to an uncalibrated logistic and says so.
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../config.ts';

export interface Calibration {
  modelVersion: string;
  method: string;
  fittedOn: string;
  /** ascending similarity knots with the fitted probability at each */
  points: Array<[number, number]>;
  sameSourceThreshold: number;
  substituteFloor: number;
  /** whitening shrinkage chosen alongside (see vision/projection.ts) */
  whiteningShrink: number;
}

export const CALIBRATION_FILE = path.join(repoRoot, 'models', 'calibration.json');

export function loadCalibration(modelVersion: string, file = CALIBRATION_FILE): Calibration | null {
  if (!fs.existsSync(file)) return null;
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Calibration;
  return c.modelVersion === modelVersion ? c : null;
}

/** Pool-adjacent-violators: the best non-decreasing fit of labels ordered by score. */
export function fitIsotonic(pairs: Array<[number, boolean]>, maxKnots = 24): Array<[number, number]> {
  const xs = [...pairs].sort((a, b) => a[0] - b[0]);
  const blocks: Array<{ sum: number; n: number; x: number }> = [];
  for (const [x, y] of xs) {
    blocks.push({ sum: y ? 1 : 0, n: 1, x });
    while (blocks.length > 1 && blocks[blocks.length - 2].sum / blocks[blocks.length - 2].n >= blocks[blocks.length - 1].sum / blocks[blocks.length - 1].n) {
      const b = blocks.pop()!;
      const a = blocks[blocks.length - 1];
      a.x = (a.x * a.n + b.x * b.n) / (a.n + b.n);
      a.sum += b.sum;
      a.n += b.n;
    }
  }
  let pts = blocks.map((b) => [b.x, b.sum / b.n] as [number, number]);
  if (pts.length > maxKnots) {
    const step = (pts.length - 1) / (maxKnots - 1);
    pts = Array.from({ length: maxKnots }, (_, i) => pts[Math.round(i * step)]);
  }
  return pts.map(([x, p]) => [Math.round(x * 1e4) / 1e4, Math.round(p * 1e4) / 1e4]);
}

export function probability(points: Array<[number, number]>, x: number): number {
  if (!points.length) return 0;
  if (x <= points[0][0]) return points[0][1];
  for (let i = 1; i < points.length; i++) {
    const [x1, p1] = points[i];
    if (x <= x1) {
      const [x0, p0] = points[i - 1];
      return p0 + ((p1 - p0) * (x - x0)) / Math.max(1e-9, x1 - x0);
    }
  }
  return points[points.length - 1][1];
}

/** The lowest similarity at which the calibrated P(same) reaches `p`; `fallback` when it never does. */
export function similarityAt(points: Array<[number, number]> | null, p: number, fallback: number): number {
  const hit = points?.find(([, q]) => q >= p);
  return hit ? hit[0] : fallback;
}
