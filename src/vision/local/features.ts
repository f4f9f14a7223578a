// ORB keypoints and descriptors of an image at a fixed working scale. Everything downstream (the 5 px
// RANSAC threshold, the stored int16 coordinates, the span) is in pixels of that scale, so every image
// — catalogue picture or buyer's photo, 198 px or 4000 px — is brought to the same longer side first.
import sharp from 'sharp';
import { loadOpenCv, type CV } from './opencv.ts';
import { colourGrid, mirrorGrid, type ColourGrid } from './colour.ts';
import { mirrorRows } from '../mirror.ts';

/** Longer side, in pixels, at which features are extracted. */
export const LOCAL_SIDE = 480;
/** Keypoints kept per image (ORB keeps the strongest by Harris response). */
export const ORB_FEATURES = 500;
/** Coordinates are rounded to 1/16 px at extraction so that the int16 storage format is lossless. */
export const XY_SCALE = 16;

export interface LocalFeatures {
  /** size of the image at the working scale */
  width: number;
  height: number;
  count: number;
  /** 2·count: x0, y0, x1, y1, ... in pixels at the working scale */
  xy: Float32Array;
  /** 32·count: one 256-bit ORB descriptor per keypoint */
  desc: Uint8Array;
  /** coarse colours of the same frame (absent on features stored before v2, or extracted from greyscale) */
  colour?: ColourGrid;
}

/** A query is matched as it is and mirrored: resellers flip pictures, and ORB is not mirror-invariant. */
export interface QueryFeatures {
  normal: LocalFeatures;
  mirrored: LocalFeatures;
}

/** Decoded 8-bit greyscale pixels, one byte per pixel, row-major. */
export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodeOptions {
  /** refuse images with more pixels than this (decompression bombs); default 50 MP */
  maxPixels?: number;
}

/** Decodes, applies the EXIF orientation, flattens alpha on white, greyscales and resizes to LOCAL_SIDE. */
export async function decodeGrey(bytes: Uint8Array, options: DecodeOptions = {}): Promise<GreyImage> {
  const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: options.maxPixels ?? 50_000_000, pages: 1 })
    .rotate()
    .flatten({ background: '#ffffff' })
    // fit 'inside' also enlarges small images (catalogue pictures are often ~200 px): ORB's pyramid and
    // the pixel thresholds then see the same geometry whatever size the reseller uploaded
    .resize(LOCAL_SIDE, LOCAL_SIDE, { fit: 'inside', kernel: 'cubic' })
    .toColourspace('b-w')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return toSingleChannel(data, info.width, info.height, info.channels);
}

/** Brings already-decoded greyscale pixels to the working scale (no-op if they are already there). */
export async function toWorkingScale(img: GreyImage): Promise<GreyImage> {
  if (Math.max(img.width, img.height) === LOCAL_SIDE) return img;
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 1 }, limitInputPixels: false })
    .resize(LOCAL_SIDE, LOCAL_SIDE, { fit: 'inside', kernel: 'cubic' })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return toSingleChannel(data, info.width, info.height, info.channels);
}

function toSingleChannel(data: Buffer, width: number, height: number, channels: number): GreyImage {
  if (channels === 1) return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width, height };
  // sharp keeps an alpha channel in some colourspace paths; take the grey one
  const out = new Uint8Array(width * height);
  for (let i = 0, p = 0; i < out.length; i++, p += channels) out[i] = data[p];
  return { data: out, width, height };
}

/** Left-right mirror of a greyscale image. */
export function mirrorGrey(img: GreyImage): GreyImage {
  return { data: mirrorRows(img.data, img.width), width: img.width, height: img.height };
}

type Input = Uint8Array | GreyImage;

function isGrey(x: Input): x is GreyImage {
  return !(x instanceof Uint8Array) && typeof (x as GreyImage).width === 'number';
}

async function greyOf(input: Input): Promise<GreyImage> {
  return isGrey(input) ? toWorkingScale(input) : decodeGrey(input);
}

/** Features of a gallery (catalogue / listing) image: only as it is. */
export async function extractGalleryLocal(input: Input): Promise<LocalFeatures> {
  const [f, colour] = await Promise.all([greyOf(input).then(extractGrey), colourOf(input)]);
  return colour ? { ...f, colour } : f;
}

/** Colour needs the encoded bytes; features extracted from greyscale pixels go without. */
async function colourOf(input: Input): Promise<ColourGrid | undefined> {
  return isGrey(input) ? undefined : colourGrid(input).catch(() => undefined);
}

/** Features of a query image, as it is and mirrored. Accepts encoded bytes or decoded greyscale. */
export async function extractLocal(input: Input): Promise<QueryFeatures> {
  const [grey, colour] = await Promise.all([greyOf(input), colourOf(input)]);
  const normal = await extractGrey(grey);
  // re-extract on the flipped pixels rather than flipping coordinates: descriptors are not mirror-symmetric
  const mirrored = await extractGrey(mirrorGrey(grey));
  if (!colour) return { normal, mirrored };
  return { normal: { ...normal, colour }, mirrored: { ...mirrored, colour: mirrorGrid(colour) } };
}

let orb: CV = null;

/** ORB on greyscale pixels at whatever size they come; callers normally pass the working scale. */
export async function extractGrey(img: GreyImage): Promise<LocalFeatures> {
  const cv = await loadOpenCv();
  if (!orb) {
    // Constructing ORB with all its arguments throws in this build; the one-argument form plus
    // setters is the reliable path. Defaults otherwise: 8 levels, scale 1.2, FAST 20, patch 31.
    orb = new cv.ORB(ORB_FEATURES);
  }
  const mat = new cv.Mat(img.height, img.width, cv.CV_8UC1);
  const mask = new cv.Mat();
  const kps = new cv.KeyPointVector();
  const desc = new cv.Mat();
  try {
    mat.data.set(img.data);
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
    if (count > 0) d.set((desc.data as Uint8Array).subarray(0, count * 32));
    return { width: img.width, height: img.height, count, xy, desc: d };
  } finally {
    mat.delete();
    mask.delete();
    kps.delete();
    desc.delete();
  }
}
