// PP-OCRv4 (detector + recogniser) on onnxruntime-node and sharp. Product photos are small and their
// text is small: reading the image upscaled 2× (and catalogue images at 2× and 4×, merged) finds far
// more lines than reading it as it is, which is why scales are part of the API.
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../../util/ort.ts';
import sharp, { type OutputInfo, type SharpOptions } from 'sharp';
import { AppError } from '../../errors.ts';
import { boxesFromProbMap, DEFAULT_DETECT, detInputSize, detTensor, type DetectSettings } from './detect.ts';
import { bounds, type RotatedRect } from './geometry.ts';
import { locateOcrModels, type OcrModelFiles } from './models.ts';
import { batchTensor, ctcDecode, cropLine, REC_HEIGHT, REC_MIN_WIDTH, type RgbImage } from './recognize.ts';

export type Box = [number, number, number, number];

export interface OcrLine {
  text: string;
  confidence: number;
  /** axis-aligned [x0, y0, x1, y1] in pixels of the (EXIF-rotated) input image */
  box: Box;
}

export interface OcrResult {
  /** the lines in reading order, one per line of text */
  text: string;
  lines: OcrLine[];
  ms: number;
}

export interface OcrLoadOptions {
  /** onnxruntime intra-op threads per session; the machine is shared, so keep this small */
  threads?: number;
  detect?: Partial<DetectSettings>;
  /** recognised lines below this mean character probability are dropped (PaddleOCR drop_score) */
  minConfidence?: number;
  /** crops per recogniser run */
  recBatch?: number;
  /** batches are right-padded to at least this width (PaddleOCR: 320, the training width) */
  recMinWidth?: number;
  /** longest side of the upscaled working image; bounds memory for large inputs */
  maxWorkingSide?: number;
}

export interface OcrReadOptions {
  /** upscale factors to read at; lines found at several scales are merged. Default [2]. */
  scales?: number[];
}

const DEFAULTS = { threads: 1, minConfidence: 0.5, recBatch: 8, recMinWidth: REC_MIN_WIDTH, maxWorkingSide: 2048 };

sharp.cache(false);

export class OcrReader {
  readonly modelVersion: string;
  readonly settings: { detect: DetectSettings; minConfidence: number; recBatch: number; recMinWidth: number; maxWorkingSide: number; threads: number };

  private constructor(
    private readonly det: ort.InferenceSession,
    private readonly rec: ort.InferenceSession,
    private readonly files: OcrModelFiles,
    opts: OcrLoadOptions,
  ) {
    this.modelVersion = files.manifest.modelVersion;
    this.settings = {
      detect: { ...DEFAULT_DETECT, ...opts.detect },
      minConfidence: opts.minConfidence ?? DEFAULTS.minConfidence,
      recBatch: opts.recBatch ?? DEFAULTS.recBatch,
      recMinWidth: opts.recMinWidth ?? DEFAULTS.recMinWidth,
      maxWorkingSide: opts.maxWorkingSide ?? DEFAULTS.maxWorkingSide,
      threads: opts.threads ?? DEFAULTS.threads,
    };
  }

  /** cumulative milliseconds per stage, for the bench */
  readonly stats = { reads: 0, decodeMs: 0, detMs: 0, postMs: 0, recMs: 0, boxes: 0, lines: 0 };

  private static shared: Promise<OcrReader> | null = null;

  /**
   * Verifies the model files against models/manifest.json and creates both sessions. Without options
   * the reader is created once per process and shared (the sessions hold ~60 MB).
   */
  static load(opts?: OcrLoadOptions): Promise<OcrReader> {
    if (opts) return OcrReader.create(opts);
    OcrReader.shared ??= OcrReader.create({}).catch((e) => {
      OcrReader.shared = null; // let a later call retry
      throw e;
    });
    return OcrReader.shared;
  }

  private static async create(opts: OcrLoadOptions): Promise<OcrReader> {
    const files = locateOcrModels();
    const so = sessionOptions(opts.threads ?? DEFAULTS.threads);
    const [det, rec] = await Promise.all([ort.InferenceSession.create(files.det, so), ort.InferenceSession.create(files.rec, so)]);
    return new OcrReader(det, rec, files, opts);
  }

  async read(bytes: Uint8Array | Buffer, opts: OcrReadOptions = {}): Promise<OcrResult> {
    const t0 = performance.now();
    const scales = opts.scales?.length ? opts.scales : [2];
    const { data, info } = await decode(bytes);
    this.stats.reads++;
    this.stats.decodeMs += performance.now() - t0;
    const all: OcrLine[] = [];
    for (const scale of scales) all.push(...(await this.readAt(data, info.width, info.height, scale)));
    const lines = readingOrder(scales.length > 1 ? mergeScales(all) : all);
    return { text: lines.map((l) => l.text).join('\n'), lines, ms: performance.now() - t0 };
  }

  /** One pass: upscale, detect, crop, recognise. Boxes come back in original-image pixels. */
  private async readAt(rgb: Uint8Array, width: number, height: number, scale: number): Promise<OcrLine[]> {
    const s = Math.min(scale, this.settings.maxWorkingSide / Math.max(width, height));
    const W = Math.max(1, Math.round(width * s));
    const H = Math.max(1, Math.round(height * s));
    const raw = { raw: { width, height, channels: 3 as const } };
    const work: RgbImage = { data: W === width && H === height ? rgb : await resizeRaw(rgb, raw, W, H), width: W, height: H, channels: 3 };

    let t = performance.now();
    const d = this.settings.detect;
    const { w: dw, h: dh } = detInputSize(W, H, d.limitSideLen);
    const detRgb = dw === W && dh === H ? work.data : await resizeRaw(work.data, { raw: { width: W, height: H, channels: 3 } }, dw, dh);
    const detOut = await this.det.run({ [this.files.manifest.det.input]: new ort.Tensor('float32', detTensor(detRgb, dw, dh), [1, 3, dh, dw]) });
    this.stats.detMs += performance.now() - t;
    t = performance.now();
    const prob = detOut[this.files.manifest.det.output].data as Float32Array;
    const rects = boxesFromProbMap(prob, dw, dh, d).map((b) => rescale(b.rect, W / dw, H / dh));

    this.stats.boxes += rects.length;
    const crops = rects.map((r) => ({ r, crop: cropLine(work, r) }));
    // similar widths together, so that little of each batch is padding
    crops.sort((a, b) => a.crop.width - b.crop.width);
    this.stats.postMs += performance.now() - t;
    t = performance.now();
    const lines: OcrLine[] = [];
    for (let i = 0; i < crops.length; i += this.settings.recBatch) {
      const batch = crops.slice(i, i + this.settings.recBatch);
      const { data, width: bw } = batchTensor(batch.map((c) => c.crop), this.settings.recMinWidth);
      const out = await this.rec.run({ [this.files.manifest.rec.input]: new ort.Tensor('float32', data, [batch.length, 3, REC_HEIGHT, bw]) });
      const t = out[this.files.manifest.rec.output];
      const [, steps, classes] = t.dims as number[];
      const probs = t.data as Float32Array;
      batch.forEach((c, j) => {
        const { text, confidence } = ctcDecode(probs.subarray(j * steps * classes, (j + 1) * steps * classes), steps, classes, this.files.charset);
        const trimmed = text.trim();
        if (!trimmed || confidence < this.settings.minConfidence) return;
        const [x0, y0, x1, y1] = bounds(c.r);
        const clamp = (v: number, max: number) => Math.round(Math.min(max, Math.max(0, v / s)) * 10) / 10;
        lines.push({ text: trimmed, confidence, box: [clamp(x0, width), clamp(y0, height), clamp(x1, width), clamp(y1, height)] });
      });
    }
    this.stats.recMs += performance.now() - t;
    this.stats.lines += lines.length;
    return lines;
  }

  async close(): Promise<void> {
    await Promise.all([this.det.release(), this.rec.release()]);
    if (OcrReader.shared && (await OcrReader.shared.catch(() => null)) === this) OcrReader.shared = null;
  }
}

async function decode(bytes: Uint8Array | Buffer): Promise<{ data: Uint8Array; info: OutputInfo }> {
  if (bytes.byteLength === 0) throw new AppError('invalid_image', 'the image is empty (0 bytes)');
  try {
    // EXIF-rotate like the rest of the pipeline; transparent areas become white, as on a product page
    const { data, info } = await sharp(bytes, { failOn: 'error', pages: 1 })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info };
  } catch (e) {
    throw new AppError('invalid_image', `OCR could not decode the image: ${(e as Error).message}`);
  }
}

async function resizeRaw(data: Uint8Array, raw: SharpOptions, w: number, h: number): Promise<Uint8Array> {
  // fill: DetResizeForTest stretches each side to its multiple of 32 independently
  const out = await sharp(data, raw).resize(w, h, { fit: 'fill' }).raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Detector pixels → working-image pixels (sides scale almost uniformly: only the rounding to 32 differs). */
function rescale(r: RotatedRect, sx: number, sy: number): RotatedRect {
  const u = { x: r.u.x * sx, y: r.u.y * sy };
  const v = { x: r.v.x * sx, y: r.v.y * sy };
  const lu = Math.hypot(u.x, u.y);
  const lv = Math.hypot(v.x, v.y);
  return { cx: r.cx * sx, cy: r.cy * sy, w: r.w * lu, h: r.h * lv, u: { x: u.x / lu, y: u.y / lu }, v: { x: v.x / lv, y: v.y / lv } };
}

const area = (b: Box) => Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);

/** Share of the smaller box covered by the other: a line read whole at one scale and split at another overlaps ~1. */
function overlap(a: Box, b: Box): number {
  const i = area([Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])]);
  const m = Math.min(area(a), area(b));
  return m > 0 ? i / m : 0;
}

/** Lines read at several scales: keep the most confident reading of each place on the image. */
export function mergeScales(lines: OcrLine[], minOverlap = 0.6): OcrLine[] {
  const kept: OcrLine[] = [];
  for (const l of [...lines].sort((a, b) => b.confidence - a.confidence)) if (!kept.some((k) => overlap(k.box, l.box) >= minOverlap)) kept.push(l);
  return kept;
}

/** Top to bottom, then left to right for lines whose vertical centres are within half a line height. */
export function readingOrder(lines: OcrLine[]): OcrLine[] {
  const cy = (l: OcrLine) => (l.box[1] + l.box[3]) / 2;
  const sorted = [...lines].sort((a, b) => cy(a) - cy(b));
  const out: OcrLine[] = [];
  let row: OcrLine[] = [];
  for (const l of sorted) {
    if (row.length && Math.abs(cy(l) - cy(row[0])) > (row[0].box[3] - row[0].box[1]) / 2) {
      out.push(...row.sort((a, b) => a.box[0] - b.box[0]));
      row = [];
    }
    row.push(l);
  }
  out.push(...row.sort((a, b) => a.box[0] - b.box[0]));
  return out;
}
