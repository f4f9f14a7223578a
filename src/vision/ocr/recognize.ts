// SVTR-LCNet line recogniser input and CTC decoding, as PaddleOCR's predict_rec.py does it:
// the crop is resized to height 48 keeping its aspect ratio, normalised to [−1, 1] and right-padded
// with zeros; the output is decoded greedily (argmax, collapse repeats, drop the blank).
import type { RotatedRect } from './geometry.ts';

export const REC_HEIGHT = 48;
/** PaddleOCR pads every batch to at least 320 px: the model was trained on 48 × 320 inputs. */
export const REC_MIN_WIDTH = 320;
/** Lines longer than this (in 48-px-high pixels) are squeezed; a 1920-wide crop is ~60 characters. */
export const REC_MAX_WIDTH = 1920;

export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** bytes per pixel (3 for RGB) */
  channels: number;
}

export interface LineCrop {
  /** float32 CHW (B, G, R planes), 48 × width, normalised (x/255 − 0.5)/0.5 */
  chw: Float32Array;
  width: number;
}

/**
 * Samples the rotated box straight into the recogniser's input (bilinear, like cv2.warpPerspective +
 * cv2.resize in one step). Boxes at least 1.5× taller than wide are read rotated 90° counter-clockwise,
 * as PaddleOCR's get_rotate_crop_image does for vertical text.
 */
export function cropLine(img: RgbImage, r: RotatedRect): LineCrop {
  const vertical = r.h >= 1.5 * r.w;
  // origin and the source-space steps for one output pixel along x and y
  const len = vertical ? r.h : r.w; // source length along the output's x axis
  const thick = vertical ? r.w : r.h;
  const ox = vertical ? r.cx + (r.w / 2) * r.u.x - (r.h / 2) * r.v.x : r.cx - (r.w / 2) * r.u.x - (r.h / 2) * r.v.x;
  const oy = vertical ? r.cy + (r.w / 2) * r.u.y - (r.h / 2) * r.v.y : r.cy - (r.w / 2) * r.u.y - (r.h / 2) * r.v.y;
  const ax = vertical ? r.v : r.u; // output x runs along v (down) when rotated
  const ay = vertical ? { x: -r.u.x, y: -r.u.y } : r.v; // output y runs against u (right to left)
  const width = Math.max(1, Math.min(REC_MAX_WIDTH, Math.ceil((REC_HEIGHT * len) / Math.max(1, thick))));
  const sx = len / width;
  const sy = thick / REC_HEIGHT;
  const plane = REC_HEIGHT * width;
  const chw = new Float32Array(3 * plane);
  const { data, width: W, height: H, channels: C } = img;
  for (let y = 0; y < REC_HEIGHT; y++) {
    const fy = (y + 0.5) * sy;
    for (let x = 0; x < width; x++) {
      const fx = (x + 0.5) * sx;
      // source position (pixel centres at integer + 0.5 → subtract 0.5 for the sampling grid)
      const px = Math.min(W - 1, Math.max(0, ox + fx * ax.x + fy * ay.x - 0.5));
      const py = Math.min(H - 1, Math.max(0, oy + fx * ax.y + fy * ay.y - 0.5));
      const x0 = Math.floor(px);
      const y0 = Math.floor(py);
      const x1 = Math.min(W - 1, x0 + 1);
      const y1 = Math.min(H - 1, y0 + 1);
      const wx = px - x0;
      const wy = py - y0;
      for (let c = 0; c < 3; c++) {
        const ch = 2 - c; // B, G, R planes, as cv2 delivers them to PaddleOCR
        const v =
          (1 - wy) * ((1 - wx) * data[(y0 * W + x0) * C + ch] + wx * data[(y0 * W + x1) * C + ch]) +
          wy * ((1 - wx) * data[(y1 * W + x0) * C + ch] + wx * data[(y1 * W + x1) * C + ch]);
        chw[c * plane + y * width + x] = (v / 255 - 0.5) / 0.5;
      }
    }
  }
  return { chw, width };
}

/** Batch of crops → NCHW tensor data padded with zeros (mid-grey after normalisation) to a common width. */
export function batchTensor(crops: LineCrop[], minWidth = REC_MIN_WIDTH): { data: Float32Array; width: number } {
  const width = Math.max(minWidth, ...crops.map((c) => c.width));
  const plane = REC_HEIGHT * width;
  const data = new Float32Array(crops.length * 3 * plane);
  crops.forEach((crop, i) => {
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < REC_HEIGHT; y++) {
        const src = crop.chw.subarray(c * REC_HEIGHT * crop.width + y * crop.width, c * REC_HEIGHT * crop.width + (y + 1) * crop.width);
        data.set(src, i * 3 * plane + c * plane + y * width);
      }
  });
  return { data, width };
}

/**
 * Greedy CTC decoding of one line's softmax output (T × classes). Class 0 is the blank; class k ≥ 1 is
 * `charset[k - 1]`. Confidence is the mean probability of the kept characters (PaddleOCR's score).
 */
export function ctcDecode(probs: Float32Array, steps: number, classes: number, charset: string[]): { text: string; confidence: number } {
  let text = '';
  let sum = 0;
  let n = 0;
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestP = -1;
    const row = t * classes;
    for (let k = 0; k < classes; k++) {
      const p = probs[row + k];
      if (p > bestP) (bestP = p), (best = k);
    }
    if (best !== 0 && best !== prev) {
      text += charset[best - 1] ?? '';
      sum += bestP;
      n++;
    }
    prev = best;
  }
  return { text, confidence: n ? sum / n : 0 };
}
