// DBNet text detection, pre- and post-processing as in PaddleOCR (ppocr/data/imaug/operators.py
// DetResizeForTest + NormalizeImage, ppocr/postprocess/db_postprocess.py), without OpenCV.
import { bounds, minAreaRect, unclip, type Point, type RotatedRect } from './geometry.ts';

export interface DetectSettings {
  /** longest side of the detector input; PaddleOCR's det_limit_side_len with limit_type 'max' */
  limitSideLen: number;
  /** probability above which a pixel is text (det_db_thresh) */
  thresh: number;
  /** mean probability inside a box needed to keep it (det_db_box_thresh) */
  boxThresh: number;
  /** how far the shrunk kernel is grown back (det_db_unclip_ratio) */
  unclipRatio: number;
  /** boxes whose short side is below this (in detector pixels) are noise */
  minSize: number;
  maxCandidates: number;
}

export const DEFAULT_DETECT: DetectSettings = { limitSideLen: 960, thresh: 0.3, boxThresh: 0.5, unclipRatio: 1.6, minSize: 3, maxCandidates: 1000 };

// ImageNet statistics. PaddleOCR reads images with cv2 (BGR) and applies this mean/std in that channel
// order, so the detector was trained on B,G,R planes normalised with the R,G,B numbers; we feed the same.
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Detector input size: longest side at most `limit`, both sides rounded to multiples of 32 (DBNet's stride). */
export function detInputSize(width: number, height: number, limit: number): { w: number; h: number } {
  const ratio = Math.max(width, height) > limit ? limit / Math.max(width, height) : 1;
  const r32 = (x: number) => Math.max(32, Math.round((x * ratio) / 32) * 32);
  return { w: r32(width), h: r32(height) };
}

/** Interleaved RGB bytes → NCHW float32 with planes in B, G, R order, ImageNet-normalised. */
export function detTensor(rgb: Uint8Array, w: number, h: number): Float32Array {
  const hw = w * h;
  const out = new Float32Array(3 * hw);
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) {
      const src = rgb[i * 3 + (2 - c)]; // plane c takes channel B, G, R
      out[c * hw + i] = (src / 255 - MEAN[c]) / STD[c];
    }
  }
  return out;
}

export interface DetectedBox {
  rect: RotatedRect;
  score: number;
}

/**
 * Probability map (h × w) → text boxes in map pixels. Connected components (8-connected) of the
 * binarised map stand in for cv2.findContours' outer contours: both yield one region per blob and the
 * minimum-area rectangle of a region depends only on its convex hull.
 */
export function boxesFromProbMap(prob: Float32Array, w: number, h: number, s: DetectSettings = DEFAULT_DETECT): DetectedBox[] {
  const label = new Int32Array(w * h).fill(-1);
  const out: DetectedBox[] = [];
  const stack: number[] = [];
  let regions = 0;
  for (let start = 0; start < w * h; start++) {
    if (label[start] !== -1 || prob[start] <= s.thresh) continue;
    if (regions++ >= s.maxCandidates) break;
    // flood fill, tracking the left- and right-most pixel of every row: their hull is the region's hull
    const rowMin = new Map<number, number>();
    const rowMax = new Map<number, number>();
    label[start] = regions;
    stack.push(start);
    let count = 0;
    while (stack.length) {
      const p = stack.pop()!;
      count++;
      const x = p % w;
      const y = (p - x) / w;
      if (!(rowMin.get(y)! <= x)) rowMin.set(y, x);
      if (!(rowMax.get(y)! >= x)) rowMax.set(y, x);
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          const q = yy * w + xx;
          if (label[q] === -1 && prob[q] > s.thresh) {
            label[q] = regions;
            stack.push(q);
          }
        }
      }
    }
    if (count < 4) continue;
    const pts: Point[] = [];
    for (const [y, x0] of rowMin) {
      pts.push({ x: x0, y });
      const x1 = rowMax.get(y)!;
      if (x1 !== x0) pts.push({ x: x1, y });
    }
    const rect = minAreaRect(pts);
    if (Math.min(rect.w, rect.h) < s.minSize) continue;
    const score = meanInside(prob, w, h, rect);
    if (score < s.boxThresh) continue;
    const grown = unclip(rect, s.unclipRatio);
    if (Math.min(grown.w, grown.h) < s.minSize + 2) continue;
    out.push({ rect: grown, score });
  }
  return out;
}

/** PaddleOCR's "fast" box score: mean probability over the pixels inside the (rotated) box. */
function meanInside(prob: Float32Array, w: number, h: number, r: RotatedRect): number {
  const [x0, y0, x1, y1] = bounds(r);
  const xa = Math.max(0, Math.floor(x0));
  const xb = Math.min(w - 1, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0));
  const yb = Math.min(h - 1, Math.ceil(y1));
  // half-extents grown by half a pixel: the rectangle runs through pixel centres
  const hw = r.w / 2 + 0.5;
  const hh = r.h / 2 + 0.5;
  let sum = 0;
  let n = 0;
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const dx = x - r.cx;
      const dy = y - r.cy;
      if (Math.abs(dx * r.u.x + dy * r.u.y) <= hw && Math.abs(dx * r.v.x + dy * r.v.y) <= hh) {
        sum += prob[y * w + x];
        n++;
      }
    }
  }
  return n ? sum / n : 0;
}
