// ORB extraction on greyscale pixels with opencv.js, in plain JavaScript so that the same code runs on the
// main thread and inside the ORB worker threads (a worker loads it with no TypeScript loader).
import { createRequire } from 'node:module';

/** Keypoints kept per image (ORB keeps the strongest by Harris response). */
export const ORB_FEATURES = 500;
/** Coordinates are rounded to 1/16 px at extraction so that the int16 storage format is lossless. */
export const XY_SCALE = 16;

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

/** ORB keypoints (x, y at 1/16 px) and 32-byte descriptors of 8-bit greyscale pixels. */
export async function orbExtract(data, width, height) {
  const cv = await loadOpenCv();
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
