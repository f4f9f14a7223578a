// Product input → index record: load each image (uploaded bytes, a URL through the guarded fetcher, or a
// local path for trusted loaders only), embed, project, tokenise.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { AppError } from '../../errors.ts';
import type { Product, ProductInput } from '../../schema/product.ts';
import type { Services } from '../../services.ts';
import { productText, tokenize } from '../../text/tokenize.ts';
import type { IndexRecord, IndexedImage, RecordExtras } from '../backend.ts';
import { encodeLocal, inspectImage, type ImageInspection } from '../../vision/inspect.ts';
import { isOutdatedLocal } from '../../vision/local/codec.ts';
import { mirroredFeatures } from '../components/extras.ts';
import { assignGroups } from './group.ts';

type ImageInput = ProductInput['images'][number];

export interface IngestOptions {
  /** local file paths are read only for the operator's CLI and the demo loader, never over HTTP */
  allowPaths?: boolean;
  /** text already read from an image with this sha256 (e.g. the demo catalogue's OCR cache) */
  ocrCache?: (sha256: string) => string | undefined;
}

export async function loadImageBytes(img: ImageInput, s: Pick<Services, 'fetcher' | 'config'>, opts: IngestOptions): Promise<Buffer> {
  if (img.base64 !== undefined) {
    const b = Buffer.from(img.base64, 'base64');
    if (!b.length) throw new AppError('invalid_image', 'the base64 image decodes to 0 bytes');
    return b;
  }
  if (img.url !== undefined) {
    const r = await s.fetcher.fetchImage(img.url, s.config.image.maxBytes);
    return r.body;
  }
  if (img.path !== undefined) {
    if (!opts.allowPaths) throw new AppError('path_not_allowed', 'images.path is only accepted from the operator CLI; send url or base64');
    try {
      return await fs.readFile(img.path);
    } catch {
      throw new AppError('invalid_image', `cannot read ${img.path}`);
    }
  }
  throw new AppError('invalid_request', 'an image needs url, base64 or path');
}

/** Hash of the record and its image bytes under the running text model: equal hashes need no re-embedding. */
export function hashRecord(id: string, input: ProductInput, imageBytes: Buffer[], textModel: string | null): string {
  const h = createHash('sha256');
  h.update(id);
  // a new (or no) text model makes the same listing a different record: re-running the feed re-embeds it
  if (textModel) h.update(`text:${textModel}`);
  h.update(JSON.stringify({ ...input, images: input.images.map((i) => i.url ?? i.path ?? '') }));
  for (const b of imageBytes) h.update(createHash('sha256').update(b).digest());
  return h.digest('hex');
}

/** Step 1 of buildRecord: every image's bytes (fetched, decoded from base64, or read from a trusted path). */
export function loadAllImageBytes(input: ProductInput, s: Pick<Services, 'fetcher' | 'config'>, opts: IngestOptions = {}): Promise<Buffer[]> {
  return Promise.all(input.images.map((img) => loadImageBytes(img, s, opts)));
}

/** The content hash a record built now from these bytes would get (cheap: no model runs). */
export function contentHashOf(id: string, input: ProductInput, bytes: Buffer[], s: Pick<Services, 'textEmbedder'>): string {
  return hashRecord(id, input, bytes, s.textEmbedder?.modelVersion ?? null);
}

/**
 * Is the stored record what building this input now would give (same content, same vision and text models,
 * local features not left behind by a newer extraction rule)?
 */
export function isCurrent(stored: IndexRecord | undefined | null, hash: string, input: ProductInput, s: Pick<Services, 'embedder'>): boolean {
  if (!stored || stored.contentHash !== hash) return false;
  if (hasOutdatedLocal(stored)) return false;
  return stored.product.modelVersion === (input.images.length ? s.embedder.modelVersion : null);
}

/** Local features stored before the current extraction rule, on an image the rule would read differently. */
export function hasOutdatedLocal(r: IndexRecord): boolean {
  return (r.extras?.local ?? []).some((b) => !!b && isOutdatedLocal(b));
}

export async function buildRecord(id: string, input: ProductInput, s: Services, opts: IngestOptions = {}): Promise<IndexRecord> {
  const bytes = await loadAllImageBytes(input, s, opts);
  return embedRecord(id, input, bytes, s, opts);
}

/**
 * Step 2 of buildRecord: embed the loaded bytes, project, tokenise. `extras` may be read separately (the
 * batch jobs run OCR in a stage of its own); by default they are read here, alongside the embedding.
 */
export async function embedRecord(
  id: string,
  input: ProductInput,
  bytes: Buffer[],
  s: Services,
  opts: IngestOptions & { extras?: Promise<RecordExtras | undefined> } = {},
): Promise<IndexRecord> {
  const [embedded, extras] = await Promise.all([Promise.all(bytes.map((b) => s.embedder.embed(b))), opts.extras ?? readExtras(bytes, s, opts)]);
  const vectors = await s.projection.applyMany(embedded.map((e) => e.descriptor));
  const images: IndexedImage[] = embedded.map((e, idx) => ({
    idx,
    descriptor: e.descriptor,
    vector: vectors[idx],
    phash: e.phash,
  }));
  const text = productText(input);
  const textVector = s.textEmbedder ? await s.textEmbedder.embedOne(text, 'passage') : null;
  const contentHash = contentHashOf(id, input, bytes, s);
  const product: Product = {
    id,
    title: input.title,
    description: input.description,
    categoryPath: input.categoryPath,
    price: input.price,
    moq: input.moq,
    supplier: input.supplier,
    listedAt: input.listedAt,
    attributes: input.attributes,
    images: input.images.map((img, idx) => ({
      ...(img.url ? { url: img.url } : {}),
      ref: `${id}/${idx}/${contentHash.slice(0, 12)}`,
    })),
    updatedAt: new Date().toISOString(),
    modelVersion: images.length ? s.embedder.modelVersion : null,
  };
  return {
    product,
    images,
    tokens: tokenize(text),
    projectionVersion: s.projection.current.version,
    contentHash,
    textVector,
    textModel: s.textEmbedder?.modelVersion ?? null,
    ...(extras ? { extras } : {}),
  };
}

/** OCR text (all images, in order) and local features (each image) for the same-source evidence. */
export async function readExtras(bytes: Buffer[], s: Services, opts: IngestOptions): Promise<RecordExtras | undefined> {
  if (!s.evidence || !bytes.length) return undefined;
  const reads: ImageInspection[] = await Promise.all(
    bytes.map(async (b, i) => {
      const cached = opts.ocrCache?.(createHash('sha256').update(b).digest('hex'));
      const svc = cached !== undefined ? { ...s, ocr: null } : s;
      // mirrored too, for the first image: grouping must see a reseller's flipped copy of a listing
      const r = await inspectImage(svc, b, { mirrored: s.config.evidence.indexMirror && i === 0, ocrScales: s.config.evidence.ocrIndexScales });
      return cached !== undefined ? { ...r, ocrText: cached } : r;
    }),
  );
  const extras: RecordExtras = {
    ocrText: reads.map((r) => r.ocrText).filter(Boolean).join('\n'),
    local: reads.map((r) => (r.local ? new Uint8Array(encodeLocal(r.local.normal)) : null)),
  };
  if (reads[0]?.local?.mirrored) mirroredFeatures.set(extras, reads[0].local.mirrored);
  return extras;
}

/** The one way records are written: same-source groups assigned first, then one durable upsert. */
export async function writeRecords(s: Services, recs: IndexRecord[]) {
  await assignGroups(s, recs);
  return s.backend.upsert(recs);
}
