// Which image formats untrusted bytes may be handed to libvips as. Checked on the magic bytes, before
// sharp sees anything: libvips would otherwise pick any loader it has (SVG through librsvg/libxml2, PDF,
// FITS, PPM, …), and a hostile SVG parsed by two readers at once crashed the process with a double free.
import { AppError } from '../errors.ts';

export type RasterFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif';
/** The same names as libvips reports them (sharp's metadata().format) */
export const RASTER_FORMATS: ReadonlySet<string> = new Set<RasterFormat>(['jpeg', 'png', 'gif', 'webp', 'tiff', 'heif']);

export const ACCEPTED_FORMATS = 'JPEG, PNG, WebP, AVIF, GIF, TIFF';

// ISO-BMFF brands of the HEIF family (AVIF is one); libvips' heifload decides which it can decode
const HEIF_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1']);

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to));

/** The raster format the bytes start like, or null. Only a sniff: the decoder still validates the rest. */
export function sniffRaster(b: Uint8Array): RasterFormat | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a))) return 'tiff';
  if (b.length >= 12 && ascii(b, 4, 8) === 'ftyp' && HEIF_BRANDS.has(ascii(b, 8, 12))) return 'heif';
  return null;
}

/** Refuses bytes that are not one of the accepted raster formats, with the API's invalid_image error. */
export function assertRaster(b: Uint8Array): RasterFormat {
  const f = sniffRaster(b);
  if (!f) throw new AppError('invalid_image', `the bytes are not an image we accept (${ACCEPTED_FORMATS}); vector (SVG), document (PDF) and other formats are refused`);
  return f;
}
