// Text → image pseudo-relevance feedback: a words query is turned into a photo query by pooling the image
// vectors of its best few hits. Listings whose titles say nothing ("货号 A-1029") but that show the same
// photo as a well-titled listing are then reached through the image index, which words alone never reach.
import type { IndexRecord } from '../index/backend.ts';

function normalize(v: Float32Array): Float32Array | null {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  if (!(n > 0)) return null;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/**
 * The normalised mean of the records' image vectors (index space). Each record counts once, whatever its
 * number of photos (its own images are averaged first), so that a listing with many photos does not pull
 * the visual query towards itself. Null when no record has an image.
 */
export function pooledImageVector(records: IndexRecord[]): Float32Array | null {
  let sum: Float32Array | null = null;
  for (const r of records) {
    if (!r.images.length) continue;
    const own = new Float32Array(r.images[0].vector.length);
    for (const im of r.images) for (let i = 0; i < own.length; i++) own[i] += im.vector[i];
    const unit = normalize(own);
    if (!unit) continue;
    sum ??= new Float32Array(unit.length);
    for (let i = 0; i < unit.length; i++) sum[i] += unit[i];
  }
  return sum ? normalize(sum) : null;
}
