// Plane geometry for DB post-processing, written out so that we do not load OpenCV (a 10 MB WASM module)
// for three functions: convex hull, minimum-area rectangle and the unclip expansion.

export interface Point {
  x: number;
  y: number;
}

/**
 * A rotated rectangle: centre, unit vector `u` along its width and `v` along its height.
 * `u` is the more horizontal side (|angle| ≤ 45°, pointing right) and `v` points down, so that
 * a crop sampled along (u, v) is upright for horizontal text.
 */
export interface RotatedRect {
  cx: number;
  cy: number;
  w: number;
  h: number;
  u: Point;
  v: Point;
}

const cross = (o: Point, a: Point, b: Point) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);

/** Andrew's monotone chain; returns the hull counter-clockwise (in y-up terms) without repeating the first point. */
export function convexHull(points: Point[]): Point[] {
  const p = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (p.length <= 2) return p;
  const lower: Point[] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: Point[] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], q) <= 0) upper.pop();
    upper.push(q);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** Orient a rectangle so that u is the more horizontal axis pointing right and v points down. */
function canonical(cx: number, cy: number, w: number, h: number, ux: number, uy: number): RotatedRect {
  // u and the perpendicular (−uy, ux); pick whichever is more horizontal as the width axis
  let a = { x: ux, y: uy };
  let b = { x: -uy, y: ux };
  let wa = w;
  let hb = h;
  if (Math.abs(b.x) > Math.abs(a.x)) {
    [a, b] = [b, a];
    [wa, hb] = [hb, wa];
  }
  if (a.x < 0) a = { x: -a.x, y: -a.y };
  if (b.y < 0) b = { x: -b.x, y: -b.y };
  return { cx, cy, w: wa, h: hb, u: a, v: b };
}

/** Minimum-area enclosing rectangle by rotating calipers over the hull edges (what cv2.minAreaRect returns). */
export function minAreaRect(points: Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) return canonical(0, 0, 0, 0, 1, 0);
  if (hull.length === 1) return canonical(hull[0].x, hull[0].y, 0, 0, 1, 0);
  let best: { area: number; r: RotatedRect } | null = null;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i];
    const b = hull[(i + 1) % hull.length];
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    if (len === 0) continue;
    const ux = (b.x - a.x) / len;
    const uy = (b.y - a.y) / len;
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const p of hull) {
      const pu = p.x * ux + p.y * uy;
      const pv = -p.x * uy + p.y * ux;
      if (pu < minU) minU = pu;
      if (pu > maxU) maxU = pu;
      if (pv < minV) minV = pv;
      if (pv > maxV) maxV = pv;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (!best || area < best.area) {
      const mu = (minU + maxU) / 2;
      const mv = (minV + maxV) / 2;
      // back from (u, v) coordinates to (x, y): x = mu·u + mv·(−uy, ux)
      const cx = mu * ux - mv * uy;
      const cy = mu * uy + mv * ux;
      best = { area, r: canonical(cx, cy, maxU - minU, maxV - minV, ux, uy) };
    }
  }
  return best!.r;
}

/**
 * DBNet shrinks text regions by D = A·(1 − r²)/L during training; inference grows the detected kernel back
 * by D' = A·ratio/L (PaddleOCR's unclip with pyclipper). Offsetting a rectangle by d and taking the
 * minimum-area rectangle of the rounded result adds 2d to each side, so no polygon clipper is needed.
 */
export function unclip(r: RotatedRect, ratio: number): RotatedRect {
  const area = r.w * r.h;
  const perimeter = 2 * (r.w + r.h);
  const d = perimeter > 0 ? (area * ratio) / perimeter : 0;
  return { ...r, w: r.w + 2 * d, h: r.h + 2 * d };
}

/** Corner points in order top-left, top-right, bottom-right, bottom-left (relative to u, v). */
export function corners(r: RotatedRect): [Point, Point, Point, Point] {
  const hw = r.w / 2;
  const hh = r.h / 2;
  const at = (su: number, sv: number) => ({ x: r.cx + su * hw * r.u.x + sv * hh * r.v.x, y: r.cy + su * hw * r.u.y + sv * hh * r.v.y });
  return [at(-1, -1), at(1, -1), at(1, 1), at(-1, 1)];
}

/** Axis-aligned bounding box [x0, y0, x1, y1]. */
export function bounds(r: RotatedRect): [number, number, number, number] {
  const c = corners(r);
  return [Math.min(...c.map((p) => p.x)), Math.min(...c.map((p) => p.y)), Math.max(...c.map((p) => p.x)), Math.max(...c.map((p) => p.y))];
}
