// The search verb: understand the query (photo and/or words), fetch candidates from the backend (vector
// and keyword, fused on our side), then build the answer.
import type { Filters } from '../index/components/filters.ts';
import { rrf } from '../index/components/fusion.ts';
import type { Hit, IndexRecord } from '../index/backend.ts';
import type { SearchAnswer } from '../schema/search.ts';
import type { Services } from '../services.ts';
import { glossListings, semanticQueryText, understandWords } from '../text/words.ts';
import { pooledImageVector } from './expansion.ts';
import type { Region } from '../vision/decode.ts';
import { dot } from '../vision/pooling.ts';
import type { ImageEmbedding } from '../vision/embedder.ts';
import { hammingHex } from '../vision/phash.ts';
import { buildAnswer, type Candidate } from './answer.ts';
import { gatherEvidence, probabilityOf } from './evidence.ts';
import { inspectImage, type ImageInspection } from '../vision/inspect.ts';
import { similarityAt } from './calibration.ts';

export interface SearchInput {
  image?: Uint8Array;
  region?: Region;
  text?: string;
  filters?: Filters;
  limit: number;
  referencePrice?: number;
  currency: string;
  cheaperOnly: boolean;
  sort: 'similarity' | 'price';
  /** where referencePrice came from: the request (default) or a linked page */
  referenceFrom?: 'request' | 'link';
  /** what a link query read from its page, reported back in query.link */
  link?: NonNullable<SearchAnswer['query']['link']>;
  /** language for titleTranslated on Chinese titles (only 'en' is glossed) */
  lang?: string;
  /**
   * Which retrievers a words query uses (all by default; the bench and tests switch them off one by one):
   * keyword (our tokens, BM25), semantic (text-vector kNN), prf (image kNN from the best hits' photos).
   */
  retrieval?: { keyword?: boolean; semantic?: boolean; prf?: boolean };
}

/**
 * Best image of a record for the query: `score` in the whitened index space ranks; `sim`, the cosine of
 * the raw descriptors, is what thresholds are set on, because it does not move when the catalogue-learned
 * whitening is refitted.
 */
type QueryVector = { vector: Float32Array; descriptor: Float32Array };

function bestImage(q: QueryVector, rec: IndexRecord, mirrored?: QueryVector | null): { score: number; sim: number; idx: number } {
  let score = -Infinity;
  let sim = -1;
  let idx = 0;
  for (const side of mirrored ? [q, mirrored] : [q])
    for (const im of rec.images) {
      const s = dot(side.vector, im.vector);
      if (s > score) (score = s), (idx = im.idx), (sim = dot(side.descriptor, im.descriptor));
    }
  return { score, sim, idx };
}

/** One list from the query's and the mirrored query's hits: each product at its better score. */
export function mergeBest(a: Hit[], b: Hit[]): Hit[] {
  const best = new Map<string, Hit>();
  for (const h of [...a, ...b]) {
    const o = best.get(h.id);
    if (!o || h.score > o.score) best.set(h.id, h);
  }
  return [...best.values()].sort((x, y) => y.score - x.score);
}

function minPhash(h: string | null, rec: IndexRecord): number | null {
  if (!h || !rec.images.length) return null;
  return Math.min(...rec.images.map((im) => hammingHex(h, im.phash)));
}

export async function search(s: Services, input: SearchInput): Promise<SearchAnswer> {
  const t0 = performance.now();
  let embedMs = 0;
  // the embedding and the evidence readers (local features, OCR) work on the photo side by side
  const [embedding, inspection] = input.image
    ? await Promise.all([
        s.embedder.embed(input.image, input.region, { mirrored: s.config.search.mirrorQuery }).then((e) => ((embedMs = performance.now() - t0), e)),
        s.evidence ? inspectImage(s, input.image, { region: input.region, mirrored: true }) : Promise.resolve(undefined),
      ])
    : [undefined, undefined];
  const answer = await searchEmbedded(s, input, embedding, inspection);
  if (embedding) answer.timings.embedMs = Math.round(embedMs * 10) / 10;
  if (inspection) Object.assign(answer.timings, { localMs: inspection.localMs, ocrMs: inspection.ocrMs });
  answer.timings.totalMs = Math.round((performance.now() - t0) * 10) / 10;
  return answer;
}

/** The search after the photo is embedded (the bench feeds cached embeddings through here). */
export async function searchEmbedded(s: Services, input: Omit<SearchInput, 'image'>, e?: ImageEmbedding, inspection?: ImageInspection): Promise<SearchAnswer> {
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => (timings[name] = Math.round((performance.now() - since) * 10) / 10);
  const K = Math.max(s.config.search.candidates, input.limit * 3);

  let qvec: QueryVector | null = null;
  // the photo mirrored: resellers flip pictures, and the embedding is not mirror-invariant
  const [qv, qm] = e ? await s.projection.applyMany(e.mirrored ? [e.descriptor, e.mirrored] : [e.descriptor]) : [];
  const qmirror: QueryVector | null = e?.mirrored && qm ? { vector: qm, descriptor: e.mirrored } : null;
  let qimage: SearchAnswer['query']['image'];
  let qhash: string | null = null;
  if (e) {
    qvec = { vector: qv, descriptor: e.descriptor };
    qhash = e.phash;
    qimage = { width: e.width, height: e.height, format: e.format, phash: e.phash, ...(input.region ? { region: input.region } : {}) };
  }
  // words: language identified, non-Chinese translated into Chinese terms searched with the original tokens
  const words = input.text ? understandWords(input.text) : null;
  const use = { keyword: true, semantic: true, prf: true, ...input.retrieval };
  const tokens = use.keyword ? (words?.searchTokens ?? []) : [];
  const textModel = s.textEmbedder ?? null;
  // words nobody can read (no Han characters, nothing the dictionary knows) are not searched by meaning:
  // the embedding of "qqqzzz" is as near to some titles (cosine ~0.45) as a real synonym is to its listing
  const readable = !!words && (/\p{Script=Han}/u.test(input.text ?? '') || (words.translation?.terms.length ?? 0) > 0);
  const semanticText = input.text && use.semantic && textModel && readable ? semanticQueryText(input.text, words) : null;

  const t1 = performance.now();
  const lists: Record<string, Hit[]> = {};
  const [[vhits, mhits], thits, shits] = await Promise.all([
    // the photo and its mirror in one call: one pass over the index (embedded), one round trip (Elasticsearch)
    qvec ? s.backend.knnMany(qmirror ? [qvec.vector, qmirror.vector] : [qvec.vector], { k: K, filters: input.filters }) : Promise.resolve([null, null]),
    tokens.length ? s.backend.text(tokens, { k: K, filters: input.filters }) : Promise.resolve(null),
    semanticText
      ? (async () => {
          const t = performance.now();
          const v = await textModel!.embedOne(semanticText, 'query');
          lap('textEmbedMs', t);
          return s.backend.knnText(v, { k: K, filters: input.filters });
        })()
      : Promise.resolve(null),
  ]);
  if (vhits) lists.image = mhits ? mergeBest(vhits, mhits).slice(0, K) : vhits;
  if (thits) lists.text = thits;
  if (shits) lists.semantic = shits;
  const wordsFused = rrf({ ...(thits ? { text: thits } : {}), ...(shits ? { semantic: shits } : {}) });

  // a words-only query also searches the photos of its best few hits (pseudo-relevance feedback)
  let expansion: SearchAnswer['query']['expansion'];
  const prefetched = new Map<string, IndexRecord>();
  if (!e && use.prf && wordsFused.length && s.config.text.prfDocs > 0) {
    const top = await s.backend.getMany(wordsFused.slice(0, s.config.text.prfDocs).map((f) => f.id));
    for (const [id, r] of top) prefetched.set(id, r);
    const from = [...top.values()].filter((r) => r.images.length);
    const pooled = pooledImageVector(from);
    if (pooled) {
      lists.prf = await s.backend.knn(pooled, { k: K, filters: input.filters });
      expansion = { kind: 'image-prf', from: from.map((r) => r.product.id), hits: lists.prf.length };
    }
  }
  const fused = rrf(lists).slice(0, K);
  lap('retrieveMs', t1);

  const t2 = performance.now();
  const missing = fused.map((f) => f.id).filter((id) => !prefetched.has(id));
  const records = new Map([...prefetched, ...(await s.backend.getMany(missing))]);
  const textIds = new Set((thits ?? []).map((h) => h.id));
  // semantic hits that count as words matches: above the floor, or close to the best one (a short query
  // such as 移动电源 scores its right listing, 充电宝, at 0.48 only: the prefix-instructed query is far from all)
  const meaningFloor = Math.min(s.config.text.semanticFloor, (shits?.[0]?.score ?? 0) - s.config.text.semanticMargin);
  const meaningIds = new Set((shits ?? []).filter((h) => h.score >= meaningFloor).map((h) => h.id));
  // a words-only query anchors on its best words hit's image (the best keyword hit first, as before semantic
  // search existed), so that "same source" means the same product
  if (!qvec && wordsFused.length) {
    for (const id of [...(thits?.length ? [thits[0].id] : []), ...wordsFused.map((f) => f.id)]) {
      const anchor = records.get(id) ?? (await s.backend.get(id));
      if (anchor?.images[0]) {
        qvec = anchor.images[0];
        break;
      }
    }
  }
  const candidateOf = (rec: IndexRecord): Candidate => {
    const b = qvec ? bestImage(qvec, rec, qmirror) : { score: 0, sim: 0, idx: 0 };
    const id = rec.product.id;
    return { record: rec, score: b.score, similarity: b.sim, imageIdx: b.idx, textMatch: textIds.has(id), semanticMatch: meaningIds.has(id), phashDistance: minPhash(qhash, rec) };
  };
  const cands: Candidate[] = [];
  for (const f of fused) {
    const rec = records.get(f.id);
    if (rec) cands.push(candidateOf(rec));
  }
  // image queries rank by the whitened score; words-only and hybrid keep the fused order
  if (e && !tokens.length && !shits) cands.sort((a, b) => b.score - a.score);
  lap('candidatesMs', t2);

  // a photo query: every candidate is judged on all the evidence, and ranked by P(same product)
  let groupSizes: Map<string, number> | undefined;
  if (e && s.evidence) {
    const t3 = performance.now();
    const side = {
      descriptor: e.descriptor,
      mirroredDescriptor: e.mirrored ?? null,
      phash: e.phash,
      local: inspection?.local ?? null,
      ocrText: inspection?.ocrText ?? '',
      words: input.text ?? input.link?.title ?? '',
      supplierId: null,
    };
    const ev = gatherEvidence(side, cands.map((c) => c.record));
    cands.forEach((c, i) => ((c.evidence = ev[i]), (c.pSame = probabilityOf(s.evidence!, ev[i]))));
    const groups = [...new Set(cands.filter((c) => c.pSame! >= s.evidence!.sameSourceCut).map((c) => c.record.extras?.sourceGroupId).filter((g): g is string => !!g))];
    // the groups' likeliest sources that the vector search did not return (a reseller's copy altered past
    // recognition still leads to the factory listing its other copies were grouped with at indexing); each
    // is judged on its own evidence like any candidate, and the answer's rules for index-time mates apply
    if (groups.length && s.config.search.groupMates > 0) {
      const have = new Set(cands.map((c) => c.record.product.id));
      const ids = (await s.backend.groupMembers(groups, { k: s.config.search.groupMates, filters: input.filters })).filter((id) => !have.has(id));
      const mates = [...(await s.backend.getMany(ids)).values()];
      const mev = gatherEvidence(side, mates, cands.map((c) => c.record));
      mates.forEach((rec, i) => cands.push({ ...candidateOf(rec), evidence: mev[i], pSame: probabilityOf(s.evidence!, mev[i]) }));
    }
    cands.sort((a, b) => b.pSame! - a.pSame! || b.score - a.score);
    if (groups.length) groupSizes = await s.backend.groupSizes(groups);
    lap('evidenceMs', t3);
  }
  const t4 = performance.now();
  const answer = buildAnswer(cands, {
    limit: input.limit,
    sameSourceThreshold: s.config.search.sameSourceThreshold,
    substituteFloor: s.config.search.substituteFloor,
    referencePrice: input.referencePrice !== undefined ? { amount: input.referencePrice, currency: input.currency, from: 'request' } : undefined,
    cheaperOnly: input.cheaperOnly,
    sort: input.sort,
    calibration: s.calibration?.points ?? null,
    electionThreshold: Math.max(s.config.search.sameSourceThreshold, similarityAt(s.calibration?.points ?? null, 0.5, 0.9)),
    ...(e && s.evidence ? { evidenceCut: s.evidence.sameSourceCut, groupSizes, ocrWeight: s.config.search.ocrWeight, localWeight: s.config.search.localWeight } : {}),
  });
  if (input.referenceFrom === 'link' && answer.referencePrice?.from === 'request') {
    answer.referencePrice = { ...answer.referencePrice, from: 'link' };
    for (const sub of answer.substitutes) if (sub.priceDelta) sub.priceDelta.reference = 'link';
  }
  if (input.lang) await glossListings([...answer.sameSource.flatMap((g) => [g.source, ...g.listings]), ...answer.substitutes.map((x) => x.listing)], input.lang);
  lap('answerMs', t4);
  lap('searchMs', t0);
  return {
    query: {
      kind: e && (tokens.length || shits) ? 'image+text' : e ? 'image' : 'text',
      ...(input.text ? { text: input.text, tokens: words?.tokens ?? [] } : {}),
      ...(words ? { language: words.language } : {}),
      ...(words?.translation ? { translation: words.translation } : {}),
      ...(input.text
        ? {
            semantic: textModel
              ? { model: textModel.modelVersion, used: !!shits, hits: shits?.length ?? 0, ...(semanticText ? { text: semanticText } : {}) }
              : { model: null, used: false, hits: 0 },
          }
        : {}),
      ...(expansion ? { expansion } : {}),
      ...(qimage ? { image: qimage } : {}),
      ...(input.filters ? { filters: input.filters } : {}),
      referencePrice: answer.referencePrice,
      ...(input.link ? { link: input.link } : {}),
      modelVersion: s.embedder.modelVersion,
      projection: s.projection.current.version,
      backend: s.backend.kind,
    },
    sameSource: answer.sameSource,
    substitutes: answer.substitutes,
    timings,
  };
}
