// What the same-source evidence needs from an image besides its embedding: local features (ORB, for
// geometric verification) and the text printed on the product (OCR). Used alike for a buyer's photo at
// query time (local features also mirrored) and for a listing's images at index time.
import sharp from 'sharp';
import type { Services } from '../services.ts';
import type { Region } from './decode.ts';
import { sniffRaster } from './format.ts';
import { extractGalleryLocal, extractLocal, encodeLocal, type LocalFeatures } from './local/index.ts';

export interface ImageInspection {
  local: { normal: LocalFeatures; mirrored: LocalFeatures | null } | null;
  ocrText: string;
  localMs: number;
  ocrMs: number;
}

async function cropTo(bytes: Uint8Array, region: Region): Promise<Buffer> {
  const img = sharp(bytes, { failOn: 'error', pages: 1 }).rotate();
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const left = Math.floor(region.x * info.width);
  const top = Math.floor(region.y * info.height);
  const width = Math.max(1, Math.min(info.width - left, Math.round(region.w * info.width)));
  const height = Math.max(1, Math.min(info.height - top, Math.round(region.h * info.height)));
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .extract({ left, top, width, height })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

const ms = (t: number) => Math.round((performance.now() - t) * 10) / 10;

/**
 * Reads an image for the evidence. Failures of a reader degrade to "no evidence of that kind" (the
 * embedding has already accepted the image); they never fail the search or the write.
 */
export async function inspectImage(
  s: Pick<Services, 'ocr' | 'config'>,
  bytes: Uint8Array,
  opts: { region?: Region; mirrored: boolean; ocrScales?: number[] },
): Promise<ImageInspection> {
  const t0 = performance.now();
  // runs beside the decoder, so it checks the format itself rather than trusting the decoder's refusal
  if (!sniffRaster(bytes)) return { local: null, ocrText: '', localMs: 0, ocrMs: 0 };
  let img: Uint8Array = bytes;
  if (opts.region) {
    try {
      img = await cropTo(bytes, opts.region);
    } catch {
      return { local: null, ocrText: '', localMs: 0, ocrMs: 0 }; // the embedding decides whether the image is usable
    }
  }
  const localP = (async () => {
    if (!s.config.evidence.local) return null;
    if (opts.mirrored) return extractLocal(img);
    return { normal: await extractGalleryLocal(img), mirrored: null };
  })()
    .catch(() => null)
    .then((r) => ({ r, ms: ms(t0) }));
  const ocrP = (async () => {
    if (!s.ocr) return '';
    const reader = await s.ocr();
    const r = await reader.read(img, { scales: opts.ocrScales ?? s.config.evidence.ocrScales });
    return r.text;
  })()
    .catch(() => '')
    .then((r) => ({ r, ms: ms(t0) }));
  const [local, ocr] = await Promise.all([localP, ocrP]);
  return { local: local.r, ocrText: ocr.r, localMs: local.ms, ocrMs: ocr.ms };
}

export { encodeLocal };
