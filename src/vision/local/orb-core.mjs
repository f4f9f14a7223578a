// ORB extraction on greyscale pixels with opencv.js, in plain JavaScript so that the same code runs on the
// main thread and inside the ORB worker threads (a worker loads it with no TypeScript loader).
import { createRequire } from 'node:module';

/** Keypoints kept per image (ORB keeps the strongest by Harris response). */
export const ORB_FEATURES = 500;
/** Coordinates are rounded to 1/16 px at extraction so that the int16 storage format is lossless. */
export const XY_SCALE = 16;
/**
 * Which extraction rule made a set of features, stored with them: 1 = an image that does not fill ORB's
 * budget of keypoints is read again with raised contrast (see orbExtract). Features stored before it (no
 * rule) are out of date exactly where the rule could change them: on images with fewer than ORB_FEATURES.
 */
export const LOCAL_RULE = 1;
/** A keypoint of the second reading closer than this (px) to one of the first is the same corner. */
export const SAME_CORNER_PX = 3;
/** Contrast gain of the second reading, around the image's mean: a FAST threshold of 20 / 3 in effect. */
export const LOW_CONTRAST_GAIN = 3;

let loading = null;

/**
 * Lazy, once-only loader for @techstark/opencv-js (OpenCV 4.5 compiled to WASM, no SIMD or threads).
 * Loading costs ~0.35 s and ~100 MB of address space, so nothing loads it until an extraction is asked for.
 */
export function loadOpenCv() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      try {
        // The Emscripten glue installs process-wide 'uncaughtException' (rethrows, printing the 7 MB
        // bundle as the source line) and 'unhandledRejection' (aborts the WASM runtime) handlers. Neither
        // belongs in a server: remove whatever it added and keep the process's own error handling.
        const before = {
          uncaughtException: new Set(process.listeners('uncaughtException')),
          unhandledRejection: new Set(process.listeners('unhandledRejection')),
        };
        // A UMD bundle: require() it rather than import, so that Node does not wrap it as ESM.
        const cv = createRequire(import.meta.url)('@techstark/opencv-js');
        for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.has(l)) process.removeListener('uncaughtException', l);
        for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.has(l)) process.removeListener('unhandledRejection', l);
        // The Emscripten module has a `then` that hands back the module itself, so resolving a promise
        // with it (or awaiting it) loops forever. Wait for the runtime callback, then drop `then` so the
        // ready module can travel through promises like any object.
        const ready = () => {
          delete cv.then;
          resolve(cv);
        };
        if (cv.Mat && cv.ORB) ready();
        else cv.onRuntimeInitialized = ready;
      } catch (e) {
        loading = null;
        reject(e);
      }
    });
  }
  return loading;
}

let orb = null;

/**
 * ORB keypoints (x, y at 1/16 px) and 32-byte descriptors of 8-bit greyscale pixels.
 *
 * FAST's fixed threshold of 20 (this opencv.js build does not let us lower it: the constructor that takes
 * it is unbound) finds few corners on smooth, low-contrast pictures: a lemon on white, a thumbnail enlarged
 * from 100 px, a pale product under a reseller's banner whose text takes the corners there are. So an image
 * that does not fill the budget of ORB_FEATURES is read again with its contrast raised, and the corners of
 * that second reading that are not already there fill the budget. The first reading's keypoints are kept
 * as they are, in front; an image that fills the budget gets exactly the features it always had.
 */
export async function orbExtract(data, width, height) {
  const cv = await loadOpenCv();
  const first = detect(cv, data, width, height);
  if (first.count >= ORB_FEATURES) return { ...first, rule: LOCAL_RULE };
  const second = detect(cv, raiseContrast(data, LOW_CONTRAST_GAIN), width, height);
  return { ...mergeReadings(first, second, ORB_FEATURES), rule: LOCAL_RULE };
}

/** `first`, then the keypoints of `second` farther than SAME_CORNER_PX from all of first's, up to `max`. */
export function mergeReadings(first, second, max) {
  const keep = [];
  const r2 = SAME_CORNER_PX * SAME_CORNER_PX;
  for (let i = 0; i < second.count && first.count + keep.length < max; i++) {
    const x = second.xy[2 * i], y = second.xy[2 * i + 1];
    let near = false;
    for (let j = 0; j < first.count && !near; j++) {
      const dx = first.xy[2 * j] - x, dy = first.xy[2 * j + 1] - y;
      near = dx * dx + dy * dy < r2;
    }
    if (!near) keep.push(i);
  }
  if (!keep.length) return first;
  const count = first.count + keep.length;
  const xy = new Float32Array(2 * count);
  const desc = new Uint8Array(32 * count);
  xy.set(first.xy.subarray(0, 2 * first.count));
  desc.set(first.desc.subarray(0, 32 * first.count));
  keep.forEach((i, k) => {
    const at = first.count + k;
    xy[2 * at] = second.xy[2 * i];
    xy[2 * at + 1] = second.xy[2 * i + 1];
    desc.set(second.desc.subarray(32 * i, 32 * i + 32), 32 * at);
  });
  return { width: first.width, height: first.height, count, xy, desc };
}

/** One ORB reading of the pixels as they are, without the second reading (tests show the rule's premise with it). */
export async function orbDetectOnce(data, width, height) {
  return detect(await loadOpenCv(), data, width, height);
}

/** Pixels stretched by `gain` around their mean, clipped to 0–255. */
export function raiseContrast(data, gain) {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  const mean = data.length ? sum / data.length : 0;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Math.round(mean + gain * (data[i] - mean));
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

function detect(cv, data, width, height) {
  if (!orb) {
    // Constructing ORB with all its arguments throws in this build; the one-argument form plus
    // setters is the reliable path. Defaults otherwise: 8 levels, scale 1.2, FAST 20, patch 31.
    orb = new cv.ORB(ORB_FEATURES);
  }
  const mat = new cv.Mat(height, width, cv.CV_8UC1);
  const mask = new cv.Mat();
  const kps = new cv.KeyPointVector();
  const desc = new cv.Mat();
  try {
    mat.data.set(data);
    orb.detectAndCompute(mat, mask, kps, desc);
    const count = Math.min(desc.rows | 0, kps.size() | 0);
    const xy = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      const pt = kps.get(i).pt;
      xy[2 * i] = Math.round(pt.x * XY_SCALE) / XY_SCALE;
      xy[2 * i + 1] = Math.round(pt.y * XY_SCALE) / XY_SCALE;
    }
    // copy out of the WASM heap: the Mat's memory is freed below and may move when the heap grows
    const d = new Uint8Array(count * 32);
    if (count > 0) d.set(desc.data.subarray(0, count * 32));
    return { width, height, count, xy, desc: d };
  } finally {
    mat.delete();
    mask.delete();
    kps.delete();
    desc.delete();
  }
}
