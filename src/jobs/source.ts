// Job inputs as async iterators of numbered items: JSON Lines (one product a line) or a folder of images
// with an optional sidecar. Lines are read with readline over a stream, one at a time as the consumer asks
// for them, so a feed of any size is read with bounded memory (backpressure comes from the pipeline).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ProductId, ProductInput } from '../schema/product.ts';
import type { ErrorCode } from '../errors.ts';

export interface ItemError {
  code: ErrorCode | 'invalid_record';
  message: string;
}

/** One numbered unit of work. `line` numbers every line (blank ones too), so a checkpoint can name a position. */
export interface SourceItem {
  line: number;
  id?: string;
  input?: ProductInput;
  /** the item is bad before any work (not JSON, fails the schema): reported, never retried */
  error?: ItemError;
  /** nothing to do (a blank line) */
  blank?: boolean;
}

const IMAGE_EXT = /\.(jpe?g|png|webp|gif|avif|tiff?)$/i;

/** Every line of a text file with its number (1-based), from `after + 1` on. */
export async function* readLines(file: string, after = 0): AsyncGenerator<{ line: number; text: string }> {
  const rl = readline.createInterface({ input: fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 }), crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      if (line <= after) continue;
      yield { line, text };
    }
  } finally {
    rl.close();
  }
}

/** A JSON Lines product record: `{ "id": …, …ProductInput }`. */
export function parseProductLine(line: number, text: string): SourceItem {
  if (!text.trim()) return { line, blank: true };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { line, error: { code: 'invalid_record', message: `not JSON: ${(e as Error).message}` } };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { line, error: { code: 'invalid_record', message: 'a line must be a JSON object' } };
  const { id, ...rest } = raw as Record<string, unknown>;
  const idOk = ProductId.safeParse(id);
  if (!idOk.success) return { line, ...(typeof id === 'string' ? { id } : {}), error: { code: 'invalid_record', message: 'id is missing or invalid' } };
  const parsed = ProductInput.safeParse(rest);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`);
    return { line, id: idOk.data, error: { code: 'invalid_record', message: `not a valid product: ${issues.join('; ')}` } };
  }
  return { line, id: idOk.data, input: parsed.data };
}

export async function* jsonlProducts(file: string, after = 0): AsyncGenerator<SourceItem> {
  for await (const { line, text } of readLines(file, after)) yield parseProductLine(line, text);
}

/** Ids to delete: a JSON object with an id, a JSON string, or a bare id per line. */
export async function* jsonlIds(file: string, after = 0): AsyncGenerator<SourceItem> {
  for await (const { line, text } of readLines(file, after)) {
    const t = text.trim();
    if (!t) {
      yield { line, blank: true };
      continue;
    }
    let id: unknown = t;
    if (t.startsWith('{') || t.startsWith('"')) {
      try {
        const v = JSON.parse(t);
        id = typeof v === 'string' ? v : (v as { id?: unknown })?.id;
      } catch {
        id = undefined;
      }
    }
    const ok = ProductId.safeParse(id);
    yield ok.success ? { line, id: ok.data } : { line, error: { code: 'invalid_record', message: 'not an id (a JSON object with "id", a JSON string or a bare id)' } };
  }
}

/** Attributes for a folder's images, by file name: `products.jsonl` ({"file": …, …}) or `sidecar.json` ({file: {…}}). */
function readSidecar(dir: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const jsonl = path.join(dir, 'products.jsonl');
  const json = path.join(dir, 'sidecar.json');
  if (fs.existsSync(jsonl)) {
    for (const text of fs.readFileSync(jsonl, 'utf8').split('\n')) {
      if (!text.trim()) continue;
      const o = JSON.parse(text) as Record<string, unknown>;
      if (typeof o.file === 'string') out.set(o.file, o);
    }
  } else if (fs.existsSync(json)) {
    for (const [file, o] of Object.entries(JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, Record<string, unknown>>)) out.set(file, o);
  }
  return out;
}

export function folderImages(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => IMAGE_EXT.test(f))
    .sort();
}

/** One product per image of a folder (sorted by name); the sidecar adds id, title and attributes. */
export async function* folderProducts(dir: string, after = 0): AsyncGenerator<SourceItem> {
  const side = readSidecar(dir);
  const files = folderImages(dir);
  for (let i = after; i < files.length; i++) {
    const file = files[i];
    const { file: _f, images: _i, ...attrs } = side.get(file) ?? {};
    const stem = file.replace(IMAGE_EXT, '');
    const id = (attrs.id as string | undefined) ?? stem.replace(/[^A-Za-z0-9._:-]+/g, '-').slice(0, 128);
    yield parseProductLine(i + 1, JSON.stringify({ title: stem, ...attrs, id, images: [{ path: path.join(dir, file) }] }));
  }
}

export type InputKind = 'jsonl' | 'folder';

export function inputKind(p: string): InputKind {
  return fs.statSync(p).isDirectory() ? 'folder' : 'jsonl';
}

/** How many items an input has: lines of a file (a fast byte count), images of a folder. */
export async function countItems(p: string): Promise<number> {
  if (inputKind(p) === 'folder') return folderImages(p).length;
  let n = 0;
  let last = 10;
  for await (const chunk of fs.createReadStream(p)) {
    const b = chunk as Buffer;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
    if (b.length) last = b[b.length - 1];
  }
  return last === 10 ? n : n + 1;
}

/**
 * What a checkpoint belongs to: the input's size and a hash of its first and last MiB (files), or its image
 * list and sidecar (folders). A changed feed starts over (cheaply: unchanged records are skipped by hash).
 */
export async function fingerprint(p: string): Promise<string> {
  const h = createHash('sha256');
  if (inputKind(p) === 'folder') {
    const files = folderImages(p);
    h.update(files.join('\n'));
    for (const f of files) h.update(`${fs.statSync(path.join(p, f)).size}`);
    for (const side of ['products.jsonl', 'sidecar.json']) if (fs.existsSync(path.join(p, side))) h.update(fs.readFileSync(path.join(p, side)));
    return h.digest('hex');
  }
  const size = fs.statSync(p).size;
  h.update(String(size));
  const fd = fs.openSync(p, 'r');
  try {
    const n = Math.min(size, 1 << 20);
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, 0);
    h.update(buf);
    fs.readSync(fd, buf, 0, n, Math.max(0, size - n));
    h.update(buf);
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}
