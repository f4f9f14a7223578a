// The one interface both backends implement; the contract suite in test/contract runs against each.
import type { Product } from '../schema/product.ts';
import type { Filters } from './components/filters.ts';
import type { RecordExtras } from './components/extras.ts';

export type { RecordExtras };

export interface IndexedImage {
  /** position of the image in the product's images */
  idx: number;
  /** projected, L2-normalised vector in the index space */
  vector: Float32Array;
  /** raw pooled descriptor kept so that a new projection needs no re-embedding */
  descriptor: Float32Array;
  phash: string;
}

export interface IndexRecord {
  product: Product;
  images: IndexedImage[];
  /** our own tokens of the searchable text (jieba for Chinese) */
  tokens: string[];
  projectionVersion: string | null;
  /** hash of the record and its image bytes, so that re-running an unchanged feed embeds nothing */
  contentHash: string;
  /** same-source evidence read at index time (OCR text, local features, group); absent on older records */
  extras?: RecordExtras;
  /**
   * L2-normalised semantic embedding of the listing's words (src/text/embedder.ts); null or absent for
   * records indexed without a text model: they are simply never semantic hits.
   */
  textVector?: Float32Array | null;
  /** the text model that made textVector (its modelVersion) */
  textModel?: string | null;
}

/** Dimensions of the text vectors a new store is made for (bge-small-zh-v1.5). */
export const DEFAULT_TEXT_DIMS = 512;

export interface Hit {
  id: string;
  score: number;
  /** which image of the product matched (vector hits) */
  imageIdx?: number;
}

export type UpsertResult = { id: string; ok: true } | { id: string; ok: false; code: string; message: string };

export interface SearchOptions {
  k: number;
  filters?: Filters;
}

/** What a rebuild's `build` callback writes with: like `upsert`, but into the store being built. */
export type WriteRecords = (records: IndexRecord[]) => Promise<UpsertResult[]>;

export interface RebuildContext {
  /** meta (e.g. a new projection) that belongs to the store being built; the current store's meta is copied in first */
  setMeta(key: string, value: Buffer): Promise<void>;
}

export interface RebuildOptions {
  /** abort (keep the current store) when more items than this failed to write; default 0 */
  maxFailures?: number;
}

export interface RebuildResult {
  written: number;
  failed: number;
  /** build writes skipped because a live upsert/delete of the same id during the rebuild is newer */
  superseded: number;
}

export interface Backend {
  readonly kind: 'embedded' | 'elasticsearch';
  init(): Promise<void>;
  close(): Promise<void>;
  /** Durable when the promise resolves: an acknowledged write survives kill -9. */
  upsert(records: IndexRecord[]): Promise<UpsertResult[]>;
  get(id: string): Promise<IndexRecord | null>;
  getMany(ids: string[]): Promise<Map<string, IndexRecord>>;
  delete(id: string): Promise<boolean>;
  count(): Promise<number>;
  /** How many listings each same-source group has (groups joined at index time); cheap on both backends. */
  groupSizes(groupIds: string[]): Promise<Map<string, number>>;
  /**
   * Ids of listings in these index-time groups that pass the filters, at most k, in the order of their claim
   * to be the source (index/components/source-order.ts: factory badge, earliest listedAt, lowest price; then
   * id). The answer reaches through it to a group's listings that the vector search did not return.
   */
  groupMembers(groupIds: string[], opts: SearchOptions): Promise<string[]>;
  /** kNN over image vectors with the filters applied inside the search; one hit per product (best image). */
  knn(vector: Float32Array, opts: SearchOptions): Promise<Hit[]>;
  /** `knn` for several vectors with the same options, answers in order (one pass over the index where it can). */
  knnMany(vectors: Float32Array[], opts: SearchOptions): Promise<Hit[][]>;
  /**
   * kNN over the products' text vectors with the same filters inside the search; products without a text
   * vector are never hits. Scores are the exact dot product (cosine) on both backends.
   */
  knnText(vector: Float32Array, opts: SearchOptions): Promise<Hit[]>;
  /** Keyword search over our tokens with the same filters. */
  text(tokens: string[], opts: SearchOptions): Promise<Hit[]>;
  /** Every record, in batches, for re-projection and whitening fits. */
  scan(batchSize: number): AsyncIterable<IndexRecord[]>;
  getMeta(key: string): Promise<Buffer | null>;
  setMeta(key: string, value: Buffer): Promise<void>;
  /**
   * Optional full re-index into a NEW store that replaces the current one atomically once `build` resolves.
   * Searches keep being served by the current store until the swap (never by a half-built one); writes made
   * through this backend meanwhile go to both. If `build` throws, the new store is discarded.
   */
  rebuild?(build: (write: WriteRecords, ctx: RebuildContext) => Promise<void>, opts?: RebuildOptions): Promise<RebuildResult>;
}
