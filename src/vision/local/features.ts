// ORB keypoints and descriptors of an image at a fixed working scale. Everything downstream (the 5 px
// RANSAC threshold, the stored int16 coordinates, the span) is in pixels of that scale, so every image
// — catalogue picture or buyer's photo, 198 px or 4000 px — is brought to the same longer side first.
import sharp from 'sharp';
import { ORB_FEATURES, XY_SCALE } from './orb-core.mjs';
import { orbOnPool } from './orb-pool.ts';
import { colourGrid, mirrorGrid, type ColourGrid } from './colour.ts';
import { mirrorRows } from '../mirror.ts';

/** Longer side, in pixels, at which features are extracted. */
export const LOCAL_SIDE = 480;
export { ORB_FEATURES, XY_SCALE };

export interface LocalFeatures {
  /** size of the image at the working scale */
  width: number;
  height: number;
  count: number;
  /** 2·count: x0, y0, x1, y1, ... in pixels at the working scale */
  xy: Float32Array;
  /** 32·count: one 256-bit ORB descriptor per keypoint */
  desc: Uint8Array;
  /** the extraction rule that made them (orb-core's LOCAL_RULE); absent on features stored before rule 1 */
  rule?: number;
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

/** ORB on greyscale pixels at whatever size they come; callers normally pass the working scale. */
export async function extractGrey(img: GreyImage): Promise<LocalFeatures> {
  return orbOnPool(img.data, img.width, img.height);
}
