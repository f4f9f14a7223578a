// 64-bit DCT perceptual hash (pHash): grey 32×32, 2-D DCT, top-left 8×8 without DC, bit = above median.
// Computed from the 224×224 model input so no second decode is needed.

const N = 32;
const COS: Float64Array = (() => {
  const t = new Float64Array(N * N);
  for (let k = 0; k < N; k++) for (let n = 0; n < N; n++) t[k * N + n] = Math.cos((Math.PI / N) * (n + 0.5) * k);
  return t;
})();

export function phashFromRgb(rgb: Uint8Array, size: number): string {
  // box-downsample to 32×32 greyscale (Rec.601 luma)
  const grey = new Float64Array(N * N);
  const counts = new Float64Array(N * N);
  for (let y = 0; y < size; y++) {
    const gy = Math.min(N - 1, Math.floor((y * N) / size));
    for (let x = 0; x < size; x++) {
      const gx = Math.min(N - 1, Math.floor((x * N) / size));
      const p = (y * size + x) * 3;
      grey[gy * N + gx] += 0.299 * rgb[p] + 0.587 * rgb[p + 1] + 0.114 * rgb[p + 2];
      counts[gy * N + gx]++;
    }
  }
  for (let i = 0; i < N * N; i++) grey[i] /= counts[i];
  // separable DCT, only the 8×8 low-frequency block is needed
  const rows = new Float64Array(N * 8);
  for (let y = 0; y < N; y++)
    for (let k = 0; k < 8; k++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += grey[y * N + x] * COS[k * N + x];
      rows[y * 8 + k] = s;
    }
  const coef: number[] = [];
  for (let ky = 0; ky < 8; ky++)
    for (let kx = 0; kx < 8; kx++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += rows[y * 8 + kx] * COS[ky * N + y];
      coef.push(s);
    }
  const ac = coef.slice(1);
  const median = [...ac].sort((a, b) => a - b)[Math.floor(ac.length / 2)];
  let hash = 0n;
  for (let i = 0; i < 64; i++) if (coef[i] > median) hash |= 1n << BigInt(63 - i);
  return hash.toString(16).padStart(16, '0');
}

export function hammingHex(a: string, b: string): number {
  let x = BigInt('0x' + a) ^ BigInt('0x' + b);
  let c = 0;
  while (x) {
    x &= x - 1n;
    c++;
  }
  return c;
}
