// What a record carries for same-source evidence besides its vectors: the text read from its images (OCR),
// the local features of each image (ORB keypoints, encoded by vision/local) and the same-source group it
// joined when it was indexed. Both backends store it as one opaque blob, so that evidence can grow
// without a schema change in either of them.

export interface RecordExtras {
  /** text read from the product's images, lines joined with newlines */
  ocrText?: string;
  /** encoded local features per image (same order as images); null where extraction failed */
  local?: Array<Uint8Array | null>;
  /** the same-source group this listing joined at index time (its own id when it started one) */
  sourceGroupId?: string;
}

/**
 * The first image's mirrored local features, kept beside (never stored in) a record's extras from reading
 * until grouping: a reseller's flipped copy must join the listing it copies, and ORB is not mirror-invariant.
 */
export const mirroredFeatures = new WeakMap<RecordExtras, import('../../vision/local/index.ts').LocalFeatures>();

interface Header {
  v: 1;
  ocrText?: string;
  sourceGroupId?: string;
  /** byte lengths of the local-feature blobs that follow the header; -1 for null */
  local?: number[];
}

export function encodeExtras(x: RecordExtras | undefined): Buffer | null {
  if (!x) return null;
  const local = x.local ?? [];
  const header: Header = { v: 1, ocrText: x.ocrText, sourceGroupId: x.sourceGroupId, local: x.local ? local.map((b) => (b ? b.byteLength : -1)) : undefined };
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.byteLength);
  return Buffer.concat([len, h, ...local.filter((b): b is Uint8Array => !!b).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))]);
}

export function decodeExtras(buf: Buffer | Uint8Array | null | undefined): RecordExtras | undefined {
  if (!buf || buf.byteLength < 4) return undefined;
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = b.readUInt32LE(0);
  const header = JSON.parse(b.subarray(4, 4 + n).toString('utf8')) as Header;
  const out: RecordExtras = {};
  if (header.ocrText !== undefined) out.ocrText = header.ocrText;
  if (header.sourceGroupId !== undefined) out.sourceGroupId = header.sourceGroupId;
  if (header.local) {
    let at = 4 + n;
    out.local = header.local.map((len) => {
      if (len < 0) return null;
      // copy: the caller may keep it long after the row buffer is gone
      const part = new Uint8Array(b.subarray(at, at + len));
      at += len;
      return part;
    });
  }
  return out;
}
