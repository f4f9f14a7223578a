// A coarse colour grid of an image in the same frame as its local features, and the colour agreement of
// two images inside the region their features align. Same-brand siblings (two flavours of one juice, one
// milk in two fat levels) share a pack layout, so ORB aligns dozens of points between them; what differs
// is the colour of the flavour band, the cap, the fruit. A re-used or re-photographed pack agrees in
// colour cell by cell once the alignment is known; a sibling does not.
import sharp from 'sharp';
import { mirrorRows } from '../mirror.ts';

/** Cells along the longer side of the grid. */
export const GRID_SIDE = 32;

export interface ColourGrid {
  w: number;
  h: number;
  /** w·h·3 bytes, RGB, row-major */
  rgb: Uint8Array;
}

/** The colour grid of encoded image bytes: orientation and alpha handled as for the local features. */
export async function colourGrid(bytes: Uint8Array, maxPixels = 50_000_000): Promise<ColourGrid> {
  const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels, pages: 1 })
    .rotate()
    .flatten({ background: '#ffffff' })
    // 'inside' keeps the aspect of the whole image, as the local features' frame does
    .resize(GRID_SIDE, GRID_SIDE, { fit: 'inside', kernel: 'cubic' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`colour grid: ${info.channels} channels`);
  return { w: info.width, h: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height * 3) };
}

export function mirrorGrid(g: ColourGrid): ColourGrid {
  return { w: g.w, h: g.h, rgb: mirrorRows(g.rgb, g.w, 3) };
}

/** Bilinear sample of channel values at grid coordinates (cell centres at integer + 0.5). */
function sample(g: ColourGrid, gx: number, gy: number, out: Float64Array) {
  const x = Math.min(g.w - 1, Math.max(0, gx - 0.5));
  const y = Math.min(g.h - 1, Math.max(0, gy - 0.5));
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const x1 = Math.min(g.w - 1, x0 + 1), y1 = Math.min(g.h - 1, y0 + 1);
  const fx = x - x0, fy = y - y0;
  for (let c = 0; c < 3; c++) {
    const v00 = g.rgb[3 * (y0 * g.w + x0) + c], v01 = g.rgb[3 * (y0 * g.w + x1) + c];
    const v10 = g.rgb[3 * (y1 * g.w + x0) + c], v11 = g.rgb[3 * (y1 * g.w + x1) + c];
    out[c] = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy;
  }
}

export interface ColourAgreement {
  /** grid cells of the query compared (inside the aligned box and inside the candidate) */
  cells: number;
  /** share of those cells whose colour differs clearly once each image's overall colour cast is removed */
  mismatch: number;
  /** mean per-cell colour distance after removing the casts, 0…~1 */
  distance: number;
  /** the 90th percentile of that distance: a flavour band or a fruit of another colour is a minority of cells */
  p90: number;
  /** the same for chromaticity alone (brightness and shading ignored) */
  chroma: number;
  chromaP90: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : 0;
};
const quantile = (xs: Float64Array, q: number) => {
  const s = Float64Array.from(xs).sort();
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0;
};

/** Frame sizes are those of the local features (the working scale); T maps query → candidate pixels. */
export function alignedColour(
  q: ColourGrid,
  qFrame: { width: number; height: number },
  c: ColourGrid,
  cFrame: { width: number; height: number },
  T: ArrayLike<number>,
  box: readonly [number, number, number, number],
): ColourAgreement {
  const qa: number[] = [], ca: number[] = [];
  const px = new Float64Array(3);
  const sxq = qFrame.width / q.w, syq = qFrame.height / q.h;
  for (let v = 0; v < q.h; v++)
    for (let u = 0; u < q.w; u++) {
      const x = (u + 0.5) * sxq, y = (v + 0.5) * syq;
      if (x < box[0] || x > box[2] || y < box[1] || y > box[3]) continue;
      const X = T[0] * x + T[1] * y + T[2];
      const Y = T[3] * x + T[4] * y + T[5];
      if (X < 0 || Y < 0 || X >= cFrame.width || Y >= cFrame.height) continue;
      sample(c, (X * c.w) / cFrame.width, (Y * c.h) / cFrame.height, px);
      const o = 3 * (v * q.w + u);
      qa.push(q.rgb[o], q.rgb[o + 1], q.rgb[o + 2]);
      ca.push(px[0], px[1], px[2]);
    }
  const n = qa.length / 3;
  if (n < 8) return { cells: n, mismatch: 0, distance: 0, p90: 0, chroma: 0, chromaP90: 0 };
  // each image's cast (lighting, white balance, a reseller's filter): per-channel gain, the median of the
  // cells' ratios, so that a region of another colour (the very thing looked for) does not set the cast
  const gain = [0, 1, 2].map((k) => median(Array.from({ length: n }, (_, i) => (qa[3 * i + k] + 8) / (ca[3 * i + k] + 8))));
  const dist = new Float64Array(n), chroma = new Float64Array(n);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    let d2 = 0, sq = 0, sc = 0;
    const cq = [0, 0, 0], cc = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      cq[k] = qa[3 * i + k] + 8;
      cc[k] = (ca[3 * i + k] + 8) * gain[k];
      const d = (cq[k] - cc[k]) / 255;
      d2 += d * d;
      sq += cq[k];
      sc += cc[k];
    }
    dist[i] = Math.sqrt(d2 / 3);
    if (dist[i] > 0.15) bad++;
    let x2 = 0;
    for (let k = 0; k < 3; k++) x2 += (cq[k] / sq - cc[k] / sc) ** 2;
    chroma[i] = Math.sqrt(x2);
  }
  const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { cells: n, mismatch: bad / n, distance: mean(dist), p90: quantile(dist, 0.9), chroma: mean(chroma), chromaP90: quantile(chroma, 0.9) };
}
