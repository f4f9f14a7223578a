import { wasmNn2 } from './hamming-wasm.ts';

// Brute-force Hamming matching of 256-bit ORB descriptors. OpenCV's BFMatcher in the WASM build costs
// ~3.4 ms per 500×500 pair (no SIMD, plus marshalling through a DMatchVectorVector). Our scan runs in a
// hand-assembled WebAssembly function with native popcount (hamming-wasm.ts, ~1 ms per pair on a loaded
// 2-core machine); the JavaScript scan below (eight Int32 words, bit-twiddling popcount, ~8× slower) is
// the fallback and the reference the WebAssembly one is tested against.

/** Bytes per ORB descriptor. */
export const DESC_BYTES = 32;
const WORDS = DESC_BYTES / 4;

export interface Match {
  /** index of the query keypoint */
  q: number;
  /** index of the gallery keypoint */
  g: number;
  /** Hamming distance, 0..256 */
  d: number;
}

/** An Int32 view of `count` descriptors; copies only when the bytes are not 4-byte aligned. */
export function packDescriptors(desc: Uint8Array, count: number): Int32Array {
  const n = count * DESC_BYTES;
  if (desc.byteOffset % 4 === 0) return new Int32Array(desc.buffer, desc.byteOffset, n / 4);
  const copy = new Uint8Array(n);
  copy.set(desc.subarray(0, n));
  return new Int32Array(copy.buffer);
}

/** Hamming distance between descriptor i of `a` and descriptor j of `b` (both packed). */
export function hamming(a: Int32Array, i: number, b: Int32Array, j: number): number {
  let s = 0;
  const ai = i * WORDS;
  const bj = j * WORDS;
  for (let k = 0; k < WORDS; k++) s += nibbleCounts(a[ai + k] ^ b[bj + k]);
  return sumBytes(s);
}

// Per-byte bit counts of v (each byte ≤ 8). Eight words summed keep every byte ≤ 64, so the bytes of
// the running sum never carry into each other and are added up once at the end.
function nibbleCounts(v: number): number {
  // Int32 arithmetic throughout (`>>`, `| 0`): V8 keeps it in machine words. Unsigned `>>>` on
  // values ≥ 2³¹ yields doubles and made the matcher ~20× slower.
  v = (v - ((v >> 1) & 0x55555555)) | 0;
  v = (v & 0x33333333) + ((v >> 2) & 0x33333333);
  return (v + (v >> 4)) & 0x0f0f0f0f;
}

function sumBytes(s: number): number {
  return (s & 0xff) + ((s >>> 8) & 0xff) + ((s >>> 16) & 0xff) + (s >>> 24);
}

/**
 * Lowe's ratio test on the two nearest gallery descriptors of every query descriptor, then a
 * one-to-one filter: a gallery keypoint claimed by several query keypoints keeps only its closest one.
 * The one-to-one step matters most against false pairs: repetitive texture (text, barcodes, tiled
 * patterns) otherwise funnels many query points onto one gallery point and RANSAC finds "inliers" in
 * them (it cut the worst false pair measured from 99 inliers to 37).
 * Uses the WebAssembly scan when available (`kernel: 'auto'`), else the JavaScript one; both give
 * identical results.
 */
export function matchDescriptors(
  q: Uint8Array,
  nq: number,
  g: Uint8Array,
  ng: number,
  ratio: number,
  kernel: 'auto' | 'js' = 'auto',
): Match[] {
  if (nq === 0 || ng < 2) return [];
  const wasm = kernel === 'auto' ? wasmNn2() : null;
  const nn = wasm ? wasm(q, nq, g, ng) : nn2Js(packDescriptors(q, nq), nq, packDescriptors(g, ng), ng);
  // best query match per gallery keypoint: index and distance (-1 = none yet)
  const owner = new Int32Array(ng).fill(-1);
  const ownerD = new Int32Array(ng);
  for (let i = 0; i < nq; i++) {
    const j1 = nn[3 * i], d1 = nn[3 * i + 1], d2 = nn[3 * i + 2];
    if (j1 < 0 || d1 >= ratio * d2) continue;
    if (owner[j1] < 0 || d1 < ownerD[j1]) {
      owner[j1] = i;
      ownerD[j1] = d1;
    }
  }
  const out: Match[] = [];
  for (let j = 0; j < ng; j++) if (owner[j] >= 0) out.push({ q: owner[j], g: j, d: ownerD[j] });
  return out;
}

/** JavaScript 2-NN scan: for each query descriptor, [nearest index, its distance, second distance]. */
export function nn2Js(q: Int32Array, nq: number, g: Int32Array, ng: number): Int32Array {
  const out = new Int32Array(3 * nq);
  for (let i = 0; i < nq; i++) {
    const qi = i * WORDS;
    const q0 = q[qi], q1 = q[qi + 1], q2 = q[qi + 2], q3 = q[qi + 3];
    const q4 = q[qi + 4], q5 = q[qi + 5], q6 = q[qi + 6], q7 = q[qi + 7];
    let d1 = 257;
    let d2 = 257;
    let j1 = -1;
    for (let j = 0, gj = 0; j < ng; j++, gj += WORDS) {
      // unrolled: this loop is the whole cost of matching
      const s =
        nibbleCounts(q0 ^ g[gj]) +
        nibbleCounts(q1 ^ g[gj + 1]) +
        nibbleCounts(q2 ^ g[gj + 2]) +
        nibbleCounts(q3 ^ g[gj + 3]) +
        nibbleCounts(q4 ^ g[gj + 4]) +
        nibbleCounts(q5 ^ g[gj + 5]) +
        nibbleCounts(q6 ^ g[gj + 6]) +
        nibbleCounts(q7 ^ g[gj + 7]);
      const d = (s & 0xff) + ((s >>> 8) & 0xff) + ((s >>> 16) & 0xff) + (s >>> 24);
      if (d < d2) {
        if (d < d1) {
          d2 = d1;
          d1 = d;
          j1 = j;
        } else d2 = d;
      }
    }
    out[3 * i] = j1;
    out[3 * i + 1] = d1;
    out[3 * i + 2] = d2;
  }
  return out;
}
