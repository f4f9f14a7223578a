// The Elasticsearch documents and mappings, generated in code from the product schema and the filter
// attributes (components/filters.ts) so that both backends index the same facts about a product.
//
// One document per product:
// - `doc`: the Product itself (schema/product.ts), kept verbatim in _source and not indexed
//   (`enabled: false`), so a schema change never trips the strict mapping;
// - the flat filter fields, derived by `filterAttrs()` — the very function whose output the embedded
//   backend stores and `matches()` tests;
// - `tokens`: our own tokens (jieba for Chinese) joined with spaces, searched with the built-in
//   `whitespace` analyzer (no analysis plugin needed, no second opinion on how to cut words);
// - `images` (nested): per image the projected vector as a `dense_vector` (int8_hnsw, dot_product) for
//   kNN, and the same vector again as base64 float32 (`vector_b64`) plus the raw descriptor (`descriptor`).
//
// Why the vector is stored twice: `images.vector` is left out of _source (mapping `_source.excludes`), so
// that ES does not keep 512 floats per image as JSON text nor ship them back with every hit; an int8 HNSW
// index cannot give the float32 values back either. `vector_b64` keeps the exact float32 bytes (~2.7 KB per
// image, less than the JSON text), so that get/getMany/scan return records that round-trip bit for bit,
// and so that kNN candidates can be re-scored exactly on our side (scores then equal the embedded
// backend's). The descriptor is kept so that a new projection never needs re-embedding.
import type { estypes } from '@elastic/elasticsearch';
import type { IndexRecord } from '../backend.ts';
import { filterAttrs, type FilterAttrs } from '../components/filters.ts';
import type { Product } from '../../schema/product.ts';
import { decodeExtras, encodeExtras } from '../components/extras.ts';

type Property = estypes.MappingProperty;

/** Field names of the filter attributes in the ES document: one entry per FilterAttrs key (checked by tsc). */
export const FILTER_FIELDS: { [K in keyof FilterAttrs]: { name: string; mapping: Property } } = {
  price: { name: 'price', mapping: { type: 'double' } },
  // long, not integer: the schema accepts any positive integer MOQ and the embedded backend stores it all
  moq: { name: 'moq', mapping: { type: 'long' } },
  categories: { name: 'categories', mapping: { type: 'keyword' } },
  province: { name: 'province', mapping: { type: 'keyword' } },
  badges: { name: 'badges', mapping: { type: 'keyword' } },
};

export interface EsImage {
  idx: number;
  phash: string;
  vector: number[];
  vector_b64: string;
  descriptor: string;
}

export interface EsDoc {
  id: string;
  supplierId: string | null;
  price: number | null;
  moq: number | null;
  categories: string[];
  province: string | null;
  badges: string[];
  tokens: string;
  doc: Product;
  images: EsImage[];
  projectionVersion: string | null;
  contentHash: string;
  modelVersion: string | null;
  /** same-source evidence (components/extras.ts), base64; not indexed */
  extras?: string | null;
  sourceGroupId?: string | null;
  /** the product's listedAt, indexed for the source order of `groupMembers` (components/source-order.ts) */
  listedAt?: string | null;
  /** the listing's text embedding (absent when it has none): indexed, left out of _source like images.vector */
  text_vector?: number[];
  /** the same vector as base64 float32, for exact re-scoring and exact round trips */
  text_vector_b64?: string;
  textModel?: string | null;
}

/**
 * The text-vector fields. Separate, because init() also adds them to an index created before text vectors
 * existed (adding fields to a mapping is allowed; its records simply lack them).
 */
export function textVectorProperties(textDims: number): Record<string, Property> {
  return {
    text_vector: { type: 'dense_vector', dims: textDims, index: true, similarity: 'dot_product', index_options: { type: 'int8_hnsw' } } as Property,
    text_vector_b64: { type: 'binary', doc_values: false },
    textModel: { type: 'keyword' },
  };
}

export function productMapping(dims: number, textDims: number): estypes.MappingTypeMapping {
  const filterProps = Object.fromEntries(Object.values(FILTER_FIELDS).map((f) => [f.name, f.mapping]));
  return {
    dynamic: 'strict',
    _source: { excludes: ['images.vector', 'text_vector'] },
    properties: {
      id: { type: 'keyword' },
      supplierId: { type: 'keyword' },
      ...filterProps,
      tokens: { type: 'text', analyzer: 'whitespace', norms: true },
      doc: { type: 'object', enabled: false },
      images: {
        type: 'nested',
        dynamic: 'strict',
        properties: {
          idx: { type: 'integer' },
          phash: { type: 'keyword' },
          vector: {
            type: 'dense_vector',
            dims,
            index: true,
            similarity: 'dot_product',
            index_options: { type: 'int8_hnsw' },
          } as Property,
          vector_b64: { type: 'binary', doc_values: false },
          descriptor: { type: 'binary', doc_values: false },
        },
      },
      projectionVersion: { type: 'keyword' },
      contentHash: { type: 'keyword' },
      modelVersion: { type: 'keyword' },
      extras: { type: 'binary', doc_values: false },
      sourceGroupId: { type: 'keyword' },
      // ignore_malformed: a date ES reads differently from zod must never refuse the listing's write
      listedAt: { type: 'date', ignore_malformed: true },
      ...textVectorProperties(textDims),
    },
  };
}

/** The small side index for meta blobs (projection parameters can be ~4 MB). */
export function metaMapping(): estypes.MappingTypeMapping {
  return {
    dynamic: 'strict',
    properties: {
      index: { type: 'keyword' },
      key: { type: 'keyword' },
      value: { type: 'binary', doc_values: false },
      updatedAt: { type: 'date' },
    },
  };
}

export const b64 = (v: Float32Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

export function fromB64(s: string): Float32Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export function toDoc(r: IndexRecord): EsDoc {
  const a = filterAttrs(r.product);
  return {
    id: r.product.id,
    supplierId: r.product.supplier?.id ?? null,
    price: a.price,
    moq: a.moq,
    categories: a.categories,
    province: a.province,
    badges: a.badges,
    tokens: r.tokens.join(' '),
    doc: r.product,
    images: r.images.map((im) => ({
      idx: im.idx,
      phash: im.phash,
      vector: Array.from(im.vector),
      vector_b64: b64(im.vector),
      descriptor: b64(im.descriptor),
    })),
    projectionVersion: r.projectionVersion,
    contentHash: r.contentHash,
    modelVersion: r.product.modelVersion ?? null,
    ...(r.textVector ? { text_vector: Array.from(r.textVector), text_vector_b64: b64(r.textVector), textModel: r.textModel ?? null } : {}),
    extras: encodeExtras(r.extras)?.toString('base64') ?? null,
    sourceGroupId: r.extras?.sourceGroupId ?? null,
    listedAt: r.product.listedAt ?? null,
  };
}

export function fromSource(src: Omit<EsDoc, 'images' | 'text_vector'> & { images?: Array<Omit<EsImage, 'vector'>> }): IndexRecord {
  const extras = src.extras ? decodeExtras(Buffer.from(src.extras, 'base64')) : undefined;
  return {
    ...(extras ? { extras } : {}),
    product: src.doc,
    tokens: src.tokens ? src.tokens.split(' ') : [],
    projectionVersion: src.projectionVersion ?? null,
    contentHash: src.contentHash,
    textVector: src.text_vector_b64 ? fromB64(src.text_vector_b64) : null,
    textModel: src.text_vector_b64 ? (src.textModel ?? null) : null,
    images: (src.images ?? [])
      .map((im) => ({ idx: im.idx, phash: im.phash, vector: fromB64(im.vector_b64), descriptor: fromB64(im.descriptor) }))
      .sort((x, y) => x.idx - y.idx),
  };
}
