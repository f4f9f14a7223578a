// Turns untrusted image bytes into the model's input tensor and a perceptual hash, in one sharp pass.
// The header is read before any pixel is decoded, so a decompression bomb is refused cheaply.
import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors.ts';
import type { ResizeMode } from '../config.ts';
import { phashFromRgb } from './phash.ts';
import { ACCEPTED_FORMATS, RASTER_FORMATS, assertRaster } from './format.ts';

export const INPUT_SIZE = 224;

export interface DecodeLimits {
  maxBytes: number;
  maxPixels: number;
  resize: ResizeMode;
}

/** A region of the photo to search, in fractions of the (EXIF-rotated) image. */
export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PreparedImage {
  /** float32 CHW, RGB scaled to [0,1] */
  chw: Float32Array;
  /** 64-bit DCT perceptual hash as 16 hex characters */
  phash: string;
  width: number;
  height: number;
  format: string;
}

sharp.cache(false); // images are one-shot; caching only holds memory
sharp.concurrency(1); // parallelism comes from our queue, not libvips threads per image

export async function prepareImage(bytes: Uint8Array, limits: DecodeLimits, region?: Region): Promise<PreparedImage> {
  if (bytes.byteLength === 0) throw new AppError('invalid_image', 'the image is empty (0 bytes)');
  if (bytes.byteLength > limits.maxBytes)
    throw new AppError('image_too_large', `the image is ${bytes.byteLength} bytes; the limit is ${limits.maxBytes}`);
  assertRaster(bytes); // before libvips picks a loader by itself
  let meta: Metadata;
  try {
    // failOn 'error': tolerate benign warnings from phone encoders, refuse broken data.
    meta = await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata();
  } catch {
    throw new AppError('invalid_image', `the bytes are not an image we can decode (${ACCEPTED_FORMATS})`);
  }
  const { width = 0, height = 0, format = 'unknown' } = meta;
  if (!width || !height) throw new AppError('invalid_image', 'the image has no dimensions');
  if (width * height > limits.maxPixels)
    throw new AppError('image_too_large', `the image is ${width}×${height} pixels; the limit is ${limits.maxPixels} pixels`);
  // libvips must agree with the sniff: anything else it reports (a TIFF wrapping who knows what) is refused
  if (!RASTER_FORMATS.has(format)) throw new AppError('invalid_image', `${format} is not accepted: send a raster photo (${ACCEPTED_FORMATS})`);

  try {
    let img = sharp(bytes, { failOn: 'error', limitInputPixels: limits.maxPixels, pages: 1 }).rotate();
    if (region) {
      // EXIF orientation swaps width/height for 5..8; the region is relative to what the buyer saw.
      const swap = (meta.orientation ?? 1) >= 5;
      const W = swap ? height : width;
      const H = swap ? width : height;
      const left = Math.max(0, Math.min(W - 1, Math.round(region.x * W)));
      const top = Math.max(0, Math.min(H - 1, Math.round(region.y * H)));
      const w = Math.max(1, Math.min(W - left, Math.round(region.w * W)));
      const h = Math.max(1, Math.min(H - top, Math.round(region.h * H)));
      // extract after rotate needs its own pipeline stage; hand it raw pixels (re-encoding in the input
      // format would be lossy for JPEG, palette-quantised for GIF and slow for AVIF)
      const rotated = await img.raw().toBuffer({ resolveWithObject: true });
      const { width: rw, height: rh, channels } = rotated.info;
      img = sharp(rotated.data, { raw: { width: rw, height: rh, channels }, limitInputPixels: false }).extract({ left, top, width: w, height: h });
    }
    const { data } = await img
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .resize(INPUT_SIZE, INPUT_SIZE, {
        fit: limits.resize,
        background: '#ffffff',
        kernel: 'cubic',
      })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (data.length !== INPUT_SIZE * INPUT_SIZE * 3) throw new Error(`unexpected raw size ${data.length}`);
    return { chw: toChw(data), phash: phashFromRgb(data, INPUT_SIZE), width, height, format };
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('invalid_image', 'the image is damaged or truncated and could not be decoded');
  }
}

function toChw(rgb: Uint8Array): Float32Array {
  const n = INPUT_SIZE * INPUT_SIZE;
  const out = new Float32Array(3 * n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    out[i] = rgb[p] / 255;
    out[n + i] = rgb[p + 1] / 255;
    out[2 * n + i] = rgb[p + 2] / 255;
  }
  return out;
}
