// Query bodies. `filterClauses` is components/filters.ts `matches()` written as ES filter clauses; read the
// two side by side — each line below says which line of matches() it mirrors. The fields are the ones
// `toDoc()` fills from `filterAttrs()` (null/[] values are simply absent from the index).
import type { estypes } from '@elastic/elasticsearch';
import type { Filters } from '../components/filters.ts';
import { FILTER_FIELDS as F } from './mapping.ts';

type Query = estypes.QueryDslQueryContainer;

/** ES limits: knn num_candidates and index.max_result_window. */
export const ES_MAX_K = 10_000;

export function filterClauses(f?: Filters): Query[] {
  const c: Query[] = [];
  if (!f) return c;
  // if (f.priceMin !== undefined && (a.price === null || a.price < f.priceMin)) return false;
  //   a range never matches a document without the field, so a missing price is excluded
  if (f.priceMin !== undefined) c.push({ range: { [F.price.name]: { gte: f.priceMin } } });
  // if (f.priceMax !== undefined && (a.price === null || a.price > f.priceMax)) return false;
  if (f.priceMax !== undefined) c.push({ range: { [F.price.name]: { lte: f.priceMax } } });
  // if (f.maxMoq !== undefined && (a.moq ?? 1) > f.maxMoq) return false;
  //   i.e. keep (moq present and moq <= maxMoq) or (moq missing and 1 <= maxMoq)
  if (f.maxMoq !== undefined) {
    const should: Query[] = [{ range: { [F.moq.name]: { lte: f.maxMoq } } }];
    if (1 <= f.maxMoq) should.push({ bool: { must_not: [{ exists: { field: F.moq.name } }] } });
    c.push({ bool: { should, minimum_should_match: 1 } });
  }
  // if (f.category !== undefined && !a.categories.includes(f.category)) return false;
  //   a term on a multi-valued keyword matches when any element equals it
  if (f.category !== undefined) c.push({ term: { [F.categories.name]: f.category } });
  // if (f.province !== undefined && a.province !== f.province) return false;
  if (f.province !== undefined) c.push({ term: { [F.province.name]: f.province } });
  // if (f.badge !== undefined && !a.badges.includes(f.badge)) return false;
  if (f.badge !== undefined) c.push({ term: { [F.badges.name]: f.badge } });
  return c;
}

/** num_candidates when the caller gives none: generous on small k, bounded by ES's limit. */
export function defaultNumCandidates(k: number): number {
  return Math.max(100, 4 * k);
}

export function normalized(v: Float32Array): number[] {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  n = Math.sqrt(n);
  // dot_product needs unit vectors; the order of hits does not change with the query's length
  return Array.from(v, (x) => (n > 0 ? x / n : x));
}

/**
 * kNN over the nested image vectors, one hit per product (ES keeps the best image per parent). The filter
 * sits INSIDE the knn clause, so it is applied during the graph search (not after it, which would return
 * fewer than k hits).
 */
export function knnBody(vector: Float32Array, k: number, numCandidates: number, filters: Filters | undefined, withVectors: boolean): estypes.SearchRequest {
  return knnOn('images.vector', ['images.idx', 'images.vector_b64'], vector, k, numCandidates, filters, withVectors);
}

/**
 * kNN over the products' text vectors (one per product, so no nested documents): the same filter inside the
 * knn clause; with `withVectors` the stored float32 copy comes back for exact re-scoring.
 */
export function knnTextBody(vector: Float32Array, k: number, numCandidates: number, filters: Filters | undefined, withVectors: boolean): estypes.SearchRequest {
  return knnOn('text_vector', ['text_vector_b64'], vector, k, numCandidates, filters, withVectors);
}

function knnOn(field: string, vectorSource: string[], vector: Float32Array, k: number, numCandidates: number, filters: Filters | undefined, withVectors: boolean): estypes.SearchRequest {
  const kk = Math.min(ES_MAX_K, Math.max(1, k));
  return {
    knn: { field, query_vector: normalized(vector), k: kk, num_candidates: Math.min(ES_MAX_K, Math.max(kk, numCandidates)), filter: filterClauses(filters) },
    size: kk,
    track_total_hits: false,
    _source: withVectors ? vectorSource : false,
  };
}

/** Keyword search: any of our tokens (operator or), the same filters as a bool filter; BM25 score. */
export function textBody(tokens: string[], k: number, filters: Filters | undefined): estypes.SearchRequest {
  return {
    query: {
      bool: {
        must: [{ match: { tokens: { query: [...new Set(tokens)].join(' '), operator: 'or' } } }],
        filter: filterClauses(filters),
      },
    },
    size: Math.min(ES_MAX_K, Math.max(1, k)),
    track_total_hits: false,
    _source: false,
    // ties broken by id, as the embedded backend does
    sort: [{ _score: { order: 'desc' } }, { id: { order: 'asc' } }],
  };
}

/** ES's dot_product score is (1 + dot) / 2; the embedded backend reports the dot (cosine) itself. */
export const cosineFromScore = (s: number): number => 2 * s - 1;
