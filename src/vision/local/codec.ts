// Compact storage of a gallery image's local features next to its record: a 12-byte header, int16
// fixed-point coordinates (1/16 px, exact because extraction rounds to that grid) and the raw
// descriptors. 500 keypoints take 18,012 bytes. Version 2 appends the colour grid (2 bytes of size, then
// RGB; about 3 KB); version 1 blobs still decode, without colour. Byte 10 holds the extraction rule
// (0 before the second, contrast-raised reading of sparse images).
import { DESC_BYTES } from './hamming.ts';
import { XY_SCALE, type LocalFeatures } from './features.ts';
import { LOCAL_RULE, ORB_FEATURES } from './orb-core.mjs';

const MAGIC = 0x464c; // "LF" little-endian
const VERSION = 2;
const HEADER = 12;

export function encodeLocal(f: LocalFeatures): Buffer {
  if (f.count > 0xffff) throw new Error(`too many keypoints to encode: ${f.count}`);
  const colourBytes = f.colour ? 2 + f.colour.rgb.length : 0;
  const b = Buffer.alloc(HEADER + f.count * (4 + DESC_BYTES) + colourBytes);
  b.writeUInt16LE(MAGIC, 0);
  b.writeUInt8(VERSION, 2);
  b.writeUInt8(XY_SCALE, 3);
  b.writeUInt16LE(f.width, 4);
  b.writeUInt16LE(f.height, 6);
  b.writeUInt16LE(f.count, 8);
  b.writeUInt8(f.rule ?? 0, 10);
  // byte 11 reserved (zero)
  let p = HEADER;
  for (let i = 0; i < 2 * f.count; i++, p += 2) b.writeInt16LE(Math.round(f.xy[i] * XY_SCALE), p);
  b.set(f.desc.subarray(0, f.count * DESC_BYTES), p);
  p += f.count * DESC_BYTES;
  if (f.colour) {
    b.writeUInt8(f.colour.w, p);
    b.writeUInt8(f.colour.h, p + 1);
    b.set(f.colour.rgb, p + 2);
  }
  return b;
}

export function decodeLocal(b: Uint8Array): LocalFeatures {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < HEADER || buf.readUInt16LE(0) !== MAGIC) throw new Error('not encoded local features');
  const version = buf.readUInt8(2);
  if (version !== 1 && version !== VERSION) throw new Error(`unsupported local features version ${version}`);
  const scale = buf.readUInt8(3);
  const width = buf.readUInt16LE(4);
  const height = buf.readUInt16LE(6);
  const count = buf.readUInt16LE(8);
  const rule = buf.readUInt8(10);
  const end = HEADER + count * (4 + DESC_BYTES);
  let colour: LocalFeatures['colour'];
  if (version >= 2 && buf.length > end) {
    const w = buf.readUInt8(end), h = buf.readUInt8(end + 1);
    if (buf.length !== end + 2 + w * h * 3) throw new Error('local features: wrong colour length');
    colour = { w, h, rgb: new Uint8Array(buf.subarray(end + 2, end + 2 + w * h * 3)) };
  } else if (buf.length !== end) throw new Error('local features: wrong length');
  const xy = new Float32Array(2 * count);
  let p = HEADER;
  for (let i = 0; i < 2 * count; i++, p += 2) xy[i] = buf.readInt16LE(p) / scale;
  // copy: the descriptors must be 4-byte aligned for the Uint32 matcher and must not pin the record's buffer
  const desc = new Uint8Array(count * DESC_BYTES);
  desc.set(buf.subarray(p, p + count * DESC_BYTES));
  const f: LocalFeatures = { width, height, count, xy, desc };
  if (rule) f.rule = rule;
  if (colour) f.colour = colour;
  return f;
}

/**
 * Whether stored features predate the current extraction rule where it matters: read with fewer than
 * ORB_FEATURES keypoints (the images the rule reads again) before the rule existed. Reads the header only.
 */
export function isOutdatedLocal(b: Uint8Array): boolean {
  if (b.byteLength < HEADER) return false;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.readUInt16LE(0) !== MAGIC) return false;
  return buf.readUInt16LE(8) < ORB_FEATURES && buf.readUInt8(10) < LOCAL_RULE;
}
