// Lazy, once-only loader for @techstark/opencv-js (OpenCV 4.5 compiled to WASM, no SIMD or threads).
// Loading costs ~0.35 s and ~100 MB of address space, so nothing imports it until a local-feature
// extraction is actually asked for.
import { createRequire } from 'node:module';

// The package ships its own loose typings (mirada); we use a handful of calls, typed at the call site.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CV = any;

let loading: Promise<CV> | null = null;

export function loadOpenCv(): Promise<CV> {
  if (!loading) {
    loading = new Promise<CV>((resolve, reject) => {
      try {
        // The Emscripten glue installs process-wide 'uncaughtException' (rethrows, printing the 7 MB
        // bundle as the source line) and 'unhandledRejection' (aborts the WASM runtime) handlers. Neither
        // belongs in a server: remove whatever it added and keep the process's own error handling.
        const before = {
          uncaughtException: new Set(process.listeners('uncaughtException')),
          unhandledRejection: new Set(process.listeners('unhandledRejection')),
        };
        // A UMD bundle: require() it rather than import, so that Node does not wrap it as ESM.
        const cv = createRequire(import.meta.url)('@techstark/opencv-js') as CV;
        for (const l of process.listeners('uncaughtException'))
          if (!before.uncaughtException.has(l)) process.removeListener('uncaughtException', l);
        for (const l of process.listeners('unhandledRejection'))
          if (!before.unhandledRejection.has(l)) process.removeListener('unhandledRejection', l);
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
