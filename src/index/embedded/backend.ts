// The default backend: SQLite (better-sqlite3, WAL) is the durable truth for products, vectors and
// keyword postings (FTS5 over our own tokens); vectors are mirrored in memory for kNN (see vectors.ts).
// A write is acknowledged only after its transaction commits, so it survives kill -9.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { lockDataDir } from './lock.ts';
import {
  DEFAULT_TEXT_DIMS,
  type Backend,
  type Hit,
  type IndexRecord,
  type IndexedImage,
  type RebuildContext,
  type RebuildOptions,
  type RebuildResult,
  type SearchOptions,
  type UpsertResult,
  type WriteRecords,
} from '../backend.ts';
import { AppError } from '../../errors.ts';
import { filterAttrs, hasFilters, matches, type FilterAttrs, type Filters } from '../components/filters.ts';
import { VectorIndex } from './vectors.ts';
import { decodeExtras, encodeExtras } from '../components/extras.ts';
import { compareClaims, type SourceClaim } from '../components/source-order.ts';
import type { Product } from '../../schema/product.ts';

export interface EmbeddedOptions {
  dir: string;
  dims: number;
  exactBelow: number;
  /** dimensions of the text vectors (default DEFAULT_TEXT_DIMS) */
  textDims?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS products (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL,
  tokens TEXT NOT NULL,
  projection_version TEXT,
  content_hash TEXT NOT NULL,
  price REAL, moq INTEGER, categories TEXT NOT NULL, province TEXT, badges TEXT NOT NULL,
  text_vector BLOB, text_model TEXT
);
CREATE TABLE IF NOT EXISTS images (
  label INTEGER PRIMARY KEY AUTOINCREMENT,
  product_id TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  phash TEXT NOT NULL,
  descriptor BLOB NOT NULL,
  vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS images_product ON images(product_id);
-- keyword postings keyed by the product's rowid (deleting by an UNINDEXED column would scan the table)
CREATE VIRTUAL TABLE IF NOT EXISTS product_text USING fts5(tokens, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
`;

/** Columns added after the first release: added in place to an older file on open. */
const ADDED_COLUMNS: Array<[table: string, column: string, decl: string]> = [
  ['products', 'extras', 'BLOB'],
  ['products', 'source_group', 'TEXT'],
];

function f32(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}
const blob = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** FTS5 query: each token quoted (so that no token is read as syntax), any token may match. */
function ftsQuery(tokens: string[]): string {
  return [...new Set(tokens)].map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}

/** The same predicate as components/filters.ts `matches`, as SQL over the products table. */
function sqlFilters(f?: Filters): { where: string; params: Record<string, unknown> } {
  const c: string[] = [];
  const params: Record<string, unknown> = {};
  if (f?.priceMin !== undefined) (c.push('p.price >= @priceMin'), (params.priceMin = f.priceMin));
  if (f?.priceMax !== undefined) (c.push('p.price <= @priceMax'), (params.priceMax = f.priceMax));
  if (f?.maxMoq !== undefined) (c.push('COALESCE(p.moq, 1) <= @maxMoq'), (params.maxMoq = f.maxMoq));
  if (f?.category !== undefined) (c.push('EXISTS (SELECT 1 FROM json_each(p.categories) WHERE value = @category)'), (params.category = f.category));
  if (f?.province !== undefined) (c.push('p.province = @province'), (params.province = f.province));
  if (f?.badge !== undefined) (c.push('EXISTS (SELECT 1 FROM json_each(p.badges) WHERE value = @badge)'), (params.badge = f.badge));
  return { where: c.map((x) => `AND ${x}`).join(' '), params };
}

/** One SQLite file and its in-memory vector mirrors: the live store, or the one a rebuild is filling. */
class EmbeddedStore {
  db!: Database.Database;
  private vectors: VectorIndex;
  /** one text vector per product, labelled by the product's rowid */
  private textVectors: VectorIndex;
  private attrs = new Map<string, FilterAttrs>();
  private readonly hnswFile: string;
  private readonly textHnswFile: string;

  constructor(
    private readonly opts: EmbeddedOptions,
    readonly files: StoreFiles,
  ) {
    this.vectors = new VectorIndex({ dims: opts.dims, exactBelow: opts.exactBelow });
    this.hnswFile = path.join(opts.dir, files.hnsw);
    this.textVectors = new VectorIndex({ dims: opts.textDims ?? DEFAULT_TEXT_DIMS, exactBelow: opts.exactBelow });
    this.textHnswFile = path.join(opts.dir, files.textHnsw);
  }

  async init(): Promise<void> {
    fs.mkdirSync(this.opts.dir, { recursive: true });
    this.db = new Database(path.join(this.opts.dir, this.files.db));
    this.db.pragma('journal_mode = WAL');
    // FULL: a commit is on disk before we acknowledge it (kill -9 and power loss alike)
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    for (const [table, column, decl] of ADDED_COLUMNS) {
      const cols = this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
      if (!cols.some((c) => c.name === column)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
    }
    this.db.exec('CREATE INDEX IF NOT EXISTS products_source_group ON products(source_group)');
    const cols = new Set((this.db.prepare('PRAGMA table_info(products)').all() as Array<{ name: string }>).map((c) => c.name));
    if (!cols.has('text_vector')) {
      // a store from before text vectors: its records keep working (keyword and image search), without semantics
      this.db.exec('ALTER TABLE products ADD COLUMN text_vector BLOB; ALTER TABLE products ADD COLUMN text_model TEXT;');
    }
    if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'fts'").get()) {
      // an index from before product_text: move the postings over once
      this.db.transaction(() => {
        this.db.exec('DROP TABLE fts; DELETE FROM product_text; INSERT INTO product_text (rowid, tokens) SELECT rowid, tokens FROM products;');
      })();
    }
    for (const row of this.db.prepare('SELECT id, price, moq, categories, province, badges FROM products').iterate() as Iterable<any>) {
      this.attrs.set(row.id, {
        price: row.price,
        moq: row.moq,
        categories: JSON.parse(row.categories),
        province: row.province,
        badges: JSON.parse(row.badges),
      });
    }
    for (const row of this.db.prepare('SELECT label, product_id, idx, vector FROM images').iterate() as Iterable<any>) {
      this.vectors.preload(row.label, row.product_id, row.idx, f32(row.vector));
    }
    if (this.vectors.size >= this.opts.exactBelow && !this.vectors.loadHnsw(this.hnswFile)) this.vectors.buildHnsw();
    for (const row of this.db.prepare('SELECT rowid, id, text_vector FROM products WHERE text_vector IS NOT NULL').iterate() as Iterable<any>) {
      this.textVectors.preload(row.rowid, row.id, 0, f32(row.text_vector));
    }
    if (this.textVectors.size >= this.opts.exactBelow && !this.textVectors.loadHnsw(this.textHnswFile)) this.textVectors.buildHnsw();
  }

  async close(opts: { saveGraphs?: boolean } = {}): Promise<void> {
    if (!this.db?.open) return;
    if (opts.saveGraphs === false) return void this.db.close();
    this.vectors.saveHnsw(this.hnswFile);
    this.textVectors.saveHnsw(this.textHnswFile);
    this.db.close();
  }

  async upsert(records: IndexRecord[]): Promise<UpsertResult[]> {
    const delImages = this.db.prepare('DELETE FROM images WHERE product_id = ?');
    const delText = this.db.prepare('DELETE FROM product_text WHERE rowid = (SELECT rowid FROM products WHERE id = ?)');
    const rowidOf = this.db.prepare('SELECT rowid FROM products WHERE id = ?').pluck();
    const putProduct = this.db.prepare(
      `INSERT INTO products (id, doc, tokens, projection_version, content_hash, price, moq, categories, province, badges, extras, source_group, text_vector, text_model)
       VALUES (@id, @doc, @tokens, @pv, @hash, @price, @moq, @categories, @province, @badges, @extras, @group, @tv, @tm)
       ON CONFLICT(id) DO UPDATE SET doc=excluded.doc, tokens=excluded.tokens, projection_version=excluded.projection_version,
         content_hash=excluded.content_hash, price=excluded.price, moq=excluded.moq, categories=excluded.categories,
         province=excluded.province, badges=excluded.badges, extras=excluded.extras, source_group=excluded.source_group,
         text_vector=excluded.text_vector, text_model=excluded.text_model`,
    );
    const putImage = this.db.prepare('INSERT INTO images (product_id, idx, phash, descriptor, vector) VALUES (?, ?, ?, ?, ?)');
    const putText = this.db.prepare('INSERT INTO product_text (rowid, tokens) VALUES (?, ?)');
    const added: Array<{ id: string; rowid: number; labels: Array<[number, IndexedImage]>; attrs: FilterAttrs; text: Float32Array | null }> = [];
    const tx = this.db.transaction((recs: IndexRecord[]) => {
      for (const r of recs) {
        const id = r.product.id;
        const a = filterAttrs(r.product);
        delImages.run(id);
        delText.run(id);
        putProduct.run({
          id,
          doc: JSON.stringify(r.product),
          tokens: r.tokens.join(' '),
          pv: r.projectionVersion,
          hash: r.contentHash,
          price: a.price,
          moq: a.moq,
          categories: JSON.stringify(a.categories),
          province: a.province,
          badges: JSON.stringify(a.badges),
          extras: encodeExtras(r.extras),
          group: r.extras?.sourceGroupId ?? null,
          tv: r.textVector ? blob(r.textVector) : null,
          tm: r.textVector ? (r.textModel ?? null) : null,
        });
        const labels: Array<[number, IndexedImage]> = [];
        for (const img of r.images) {
          const info = putImage.run(id, img.idx, img.phash, blob(img.descriptor), blob(img.vector));
          labels.push([Number(info.lastInsertRowid), img]);
        }
        const rowid = Number(rowidOf.get(id));
        putText.run(rowid, r.tokens.join(' '));
        added.push({ id, rowid, labels, attrs: a, text: r.textVector ?? null });
      }
    });
    tx(records);
    // the transaction committed: mirror it in memory
    for (const a of added) {
      this.vectors.removeProduct(a.id);
      for (const [label, img] of a.labels) this.vectors.add(label, a.id, img.idx, img.vector);
      this.textVectors.removeProduct(a.id);
      if (a.text) this.textVectors.add(a.rowid, a.id, 0, a.text);
      this.attrs.set(a.id, a.attrs);
    }
    return records.map((r) => ({ id: r.product.id, ok: true as const }));
  }

  private toRecord(row: any, images: any[]): IndexRecord {
    const extras = decodeExtras(row.extras);
    return {
      ...(extras ? { extras } : {}),
      product: JSON.parse(row.doc) as Product,
      tokens: row.tokens ? row.tokens.split(' ') : [],
      projectionVersion: row.projection_version,
      contentHash: row.content_hash,
      textVector: row.text_vector ? f32(row.text_vector) : null,
      textModel: row.text_vector ? (row.text_model ?? null) : null,
      images: images.map((im) => ({ idx: im.idx, phash: im.phash, descriptor: f32(im.descriptor), vector: f32(im.vector) })),
    };
  }

  async get(id: string): Promise<IndexRecord | null> {
    return (await this.getMany([id])).get(id) ?? null;
  }

  async getMany(ids: string[]): Promise<Map<string, IndexRecord>> {
    const out = new Map<string, IndexRecord>();
    const getP = this.db.prepare('SELECT * FROM products WHERE id = ?');
    const getI = this.db.prepare('SELECT idx, phash, descriptor, vector FROM images WHERE product_id = ? ORDER BY idx');
    for (const id of ids) {
      const row = getP.get(id);
      if (row) out.set(id, this.toRecord(row, getI.all(id)));
    }
    return out;
  }

  async delete(id: string): Promise<boolean> {
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM product_text WHERE rowid = (SELECT rowid FROM products WHERE id = ?)').run(id);
      return this.db.prepare('DELETE FROM products WHERE id = ?').run(id).changes > 0;
    });
    const existed = tx();
    this.vectors.removeProduct(id);
    this.textVectors.removeProduct(id);
    this.attrs.delete(id);
    return existed;
  }

  async count(): Promise<number> {
    return this.attrs.size;
  }

  async groupSizes(groupIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const q = this.db.prepare('SELECT COUNT(*) FROM products WHERE source_group = ?').pluck();
    for (const g of new Set(groupIds)) out.set(g, Number(q.get(g)));
    return out;
  }

  async groupMembers(groupIds: string[], opts: SearchOptions): Promise<string[]> {
    const groups = [...new Set(groupIds)];
    if (!groups.length || opts.k < 1) return [];
    const rows = this.db
      .prepare(`SELECT id, json_extract(doc, '$.listedAt') AS listedAt FROM products WHERE source_group IN (${groups.map(() => '?').join(', ')})`)
      .all(...groups) as Array<{ id: string; listedAt: string | null }>;
    const claims: Array<SourceClaim & { id: string }> = [];
    for (const { id, listedAt } of rows) {
      const a = this.attrs.get(id);
      if (a && matches(a, opts.filters)) claims.push({ id, listedAt, badges: a.badges, price: a.price });
    }
    return claims
      .sort((x, y) => compareClaims(x, y) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
      .slice(0, opts.k)
      .map((c) => c.id);
  }

  async knn(vector: Float32Array, opts: SearchOptions): Promise<Hit[]> {
    return (await this.searchVectors(this.vectors, [vector], opts))[0];
  }

  async knnMany(vectors: Float32Array[], opts: SearchOptions): Promise<Hit[][]> {
    return this.searchVectors(this.vectors, vectors, opts);
  }

  async knnText(vector: Float32Array, opts: SearchOptions): Promise<Hit[]> {
    return (await this.searchVectors(this.textVectors, [vector], opts))[0].map(({ id, score }) => ({ id, score }));
  }

  private async searchVectors(index: VectorIndex, vectors: Float32Array[], opts: SearchOptions): Promise<Hit[][]> {
    if (!hasFilters(opts.filters)) return index.searchMany(vectors, opts.k, null);
    // one pass over the attributes decides the qualifying set; the vector search then only asks the set
    const allowed = new Set<string>();
    for (const [id, a] of this.attrs) if (matches(a, opts.filters)) allowed.add(id);
    if (allowed.size === 0) return vectors.map(() => []);
    return index.searchMany(vectors, opts.k, allowed);
  }

  async text(tokens: string[], opts: SearchOptions): Promise<Hit[]> {
    if (!tokens.length) return [];
    // bm25() is lower-is-better; the filters are part of the same query, applied before the limit
    const { where, params } = sqlFilters(opts.filters);
    const rows = this.db
      .prepare(
        `SELECT p.id AS id, -bm25(product_text) AS score FROM product_text JOIN products p ON p.rowid = product_text.rowid
         WHERE product_text MATCH @q ${where} ORDER BY bm25(product_text), p.id LIMIT @k`,
      )
      .all({ ...params, q: ftsQuery(tokens), k: opts.k }) as Array<{ id: string; score: number }>;
    return rows.map((r) => ({ id: r.id, score: r.score }));
  }

  async *scan(batchSize: number): AsyncIterable<IndexRecord[]> {
    let after = '';
    const page = this.db.prepare('SELECT * FROM products WHERE id > ? ORDER BY id LIMIT ?');
    const getI = this.db.prepare('SELECT idx, phash, descriptor, vector FROM images WHERE product_id = ? ORDER BY idx');
    for (;;) {
      const rows = page.all(after, batchSize) as any[];
      if (!rows.length) return;
      yield rows.map((r) => this.toRecord(r, getI.all(r.id)));
      after = rows[rows.length - 1].id;
    }
  }

  metaEntries(): Array<{ key: string; value: Buffer }> {
    return this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: Buffer }>;
  }

  async getMeta(key: string): Promise<Buffer | null> {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: Buffer } | undefined;
    return row ? Buffer.from(row.value) : null;
  }

  async setMeta(key: string, value: Buffer): Promise<void> {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}

/** The files of one store generation: generation 0 keeps the names of a store from before rebuilds existed. */
interface StoreFiles {
  generation: number;
  db: string;
  hnsw: string;
  textHnsw: string;
}

function storeFiles(generation: number): StoreFiles {
  if (generation === 0) return { generation, db: 'catalogue.sqlite', hnsw: 'vectors.hnsw', textHnsw: 'text-vectors.hnsw' };
  return { generation, db: `catalogue-v${generation}.sqlite`, hnsw: `vectors-v${generation}.hnsw`, textHnsw: `text-vectors-v${generation}.hnsw` };
}

const GENERATION_FILE = /^(?:catalogue(?:-v(\d+))?\.sqlite(?:-wal|-shm|-journal)?|(?:text-)?vectors(?:-v(\d+))?\.hnsw(?:\.tmp)?)$/;

function generationOf(file: string): number | null {
  const m = GENERATION_FILE.exec(file);
  if (!m) return null;
  return Number(m[1] ?? m[2] ?? 0);
}

/** write-temp, fsync, rename, fsync the directory: after this returns the new content survives a crash */
function writeFileAtomic(dir: string, name: string, content: string): void {
  const tmp = path.join(dir, `${name}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, name));
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/**
 * The embedded backend: one current store generation named by the CURRENT file (absent: generation 0,
 * `catalogue.sqlite`). A rebuild fills generation N+1 while the current one keeps answering, mirrors live
 * writes into both, then switches CURRENT by an atomic rename and deletes the old files. A crash before the
 * rename leaves the old generation current; the partial one is deleted on the next open.
 */
export class EmbeddedBackend implements Backend {
  readonly kind = 'embedded' as const;
  private cur!: EmbeddedStore;
  private building: { store: EmbeddedStore; superseded: Set<string>; metaKeys: Set<string> } | null = null;
  private unlock: (() => void) | null = null;

  constructor(private readonly opts: EmbeddedOptions) {}

  private currentGeneration(): number {
    const f = path.join(this.opts.dir, 'CURRENT');
    if (!fs.existsSync(f)) return 0;
    const g = Number(fs.readFileSync(f, 'utf8').trim());
    if (!Number.isInteger(g) || g < 0) throw new Error(`${f} does not name a store generation`);
    return g;
  }

  /** Files of any other generation: a rebuild that crashed before its swap, or an old one not yet deleted. */
  private removeOtherGenerations(keep: number): void {
    for (const f of fs.readdirSync(this.opts.dir)) {
      const g = generationOf(f);
      if (g !== null && g !== keep) fs.rmSync(path.join(this.opts.dir, f), { force: true });
    }
  }

  async init(): Promise<void> {
    fs.mkdirSync(this.opts.dir, { recursive: true });
    this.unlock ??= lockDataDir(this.opts.dir); // before anything is read or deleted
    try {
      const g = this.currentGeneration();
      this.removeOtherGenerations(g);
      this.cur = new EmbeddedStore(this.opts, storeFiles(g));
      await this.cur.init();
    } catch (e) {
      this.unlock();
      this.unlock = null;
      throw e;
    }
  }

  async close(): Promise<void> {
    try {
      if (this.building) await this.discardBuild();
      await this.cur?.close();
    } finally {
      this.unlock?.();
      this.unlock = null;
    }
  }

  private async discardBuild(): Promise<void> {
    const b = this.building;
    this.building = null;
    if (!b) return;
    await b.store.close({ saveGraphs: false });
    this.removeOtherGenerations(this.cur.files.generation);
  }

  async upsert(records: IndexRecord[]): Promise<UpsertResult[]> {
    const res = await this.cur.upsert(records);
    const b = this.building;
    if (b) {
      for (const r of records) b.superseded.add(r.product.id);
      await b.store.upsert(records);
    }
    return res;
  }

  get(id: string) {
    return this.cur.get(id);
  }
  getMany(ids: string[]) {
    return this.cur.getMany(ids);
  }

  async delete(id: string): Promise<boolean> {
    const existed = await this.cur.delete(id);
    const b = this.building;
    if (b) {
      b.superseded.add(id);
      await b.store.delete(id);
    }
    return existed;
  }

  count() {
    return this.cur.count();
  }
  groupSizes(groupIds: string[]) {
    return this.cur.groupSizes(groupIds);
  }
  groupMembers(groupIds: string[], opts: SearchOptions) {
    return this.cur.groupMembers(groupIds, opts);
  }
  knn(vector: Float32Array, opts: SearchOptions) {
    return this.cur.knn(vector, opts);
  }
  knnMany(vectors: Float32Array[], opts: SearchOptions) {
    return this.cur.knnMany(vectors, opts);
  }
  knnText(vector: Float32Array, opts: SearchOptions) {
    return this.cur.knnText(vector, opts);
  }
  text(tokens: string[], opts: SearchOptions) {
    return this.cur.text(tokens, opts);
  }
  scan(batchSize: number): AsyncIterable<IndexRecord[]> {
    return this.cur.scan(batchSize);
  }
  getMeta(key: string) {
    return this.cur.getMeta(key);
  }

  async setMeta(key: string, value: Buffer): Promise<void> {
    await this.cur.setMeta(key, value);
    const b = this.building;
    if (b && !b.metaKeys.has(key)) await b.store.setMeta(key, value);
  }

  /** The generation the data is read from (tests). */
  currentGenerationNumber(): number {
    return this.cur.files.generation;
  }

  async rebuild(build: (write: WriteRecords, ctx: RebuildContext) => Promise<void>, opts: RebuildOptions = {}): Promise<RebuildResult> {
    if (this.building) throw new AppError('invalid_request', `a rebuild into generation ${this.building.store.files.generation} is already running`);
    const next = this.cur.files.generation + 1;
    this.removeOtherGenerations(this.cur.files.generation);
    const store = new EmbeddedStore(this.opts, storeFiles(next));
    await store.init();
    const st = { store, superseded: new Set<string>(), metaKeys: new Set<string>() };
    this.building = st;
    for (const { key, value } of this.cur.metaEntries()) await store.setMeta(key, Buffer.from(value));
    const result: RebuildResult = { written: 0, failed: 0, superseded: 0 };
    try {
      await build(
        async (records) => {
          if (this.building !== st) throw new AppError('internal', 'the rebuild was discarded');
          // a live write of the same id during the rebuild is newer than the build's copy
          const keep = records.filter((r) => !st.superseded.has(r.product.id));
          result.superseded += records.length - keep.length;
          if (keep.length) await store.upsert(keep);
          result.written += keep.length;
          return records.map((r) => ({ id: r.product.id, ok: true as const }));
        },
        {
          setMeta: async (key, value) => {
            if (this.building !== st) throw new AppError('internal', 'the rebuild was discarded');
            st.metaKeys.add(key);
            await store.setMeta(key, value);
          },
        },
      );
      if (this.building !== st) throw new AppError('internal', 'the rebuild was discarded (the backend was closed)');
      if (result.failed > (opts.maxFailures ?? 0)) throw new AppError('internal', `rebuild aborted: ${result.failed} records failed to write`);
    } catch (e) {
      if (this.building === st) await this.discardBuild();
      throw e;
    }
    // the swap: nothing awaits between here and the switch, so no read or write sees a mix
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    writeFileAtomic(this.opts.dir, 'CURRENT', `${next}\n`);
    const old = this.cur;
    this.cur = store;
    this.building = null;
    await old.close({ saveGraphs: false });
    this.removeOtherGenerations(next);
    return result;
  }
}
