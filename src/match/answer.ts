// Splits candidates into same-source groups and substitutes. With an evidence model (photo queries), a
// candidate joins the group when P(same product) from all the evidence (match/evidence.ts) reaches the
// model's cut-off, or when it was grouped with such a listing at index time; without one (words only, or no
// fitted model) the split is a threshold on the global image embedding.
import type { IndexRecord } from '../index/backend.ts';
import { describeEvidence, SAME_PHOTO_BITS, type PairEvidence } from './evidence.ts';
import type { ListingT, SearchAnswer } from '../schema/search.ts';
import { dot } from '../vision/pooling.ts';
import { electSource } from './elect.ts';
import { probability } from './calibration.ts';

export interface Candidate {
  record: IndexRecord;
  /** ranking score in the index space (whitened cosine) */
  score: number;
  /** cosine of raw descriptors of the best image: what thresholds apply to */
  similarity: number;
  imageIdx: number;
  textMatch: boolean;
  /** the listing's words are close in meaning to the query's (text-vector cosine above the semantic floor) */
  semanticMatch?: boolean;
  phashDistance: number | null;
  /** P(same product as the query) from all the evidence, when an evidence model judged this candidate */
  pSame?: number;
  evidence?: PairEvidence;
}

export interface AnswerOptions {
  limit: number;
  sameSourceThreshold: number;
  substituteFloor: number;
  referencePrice?: { amount: number; currency: string; from: 'request' };
  cheaperOnly: boolean;
  sort: 'similarity' | 'price';
  /** pair similarity above which a group member may be elected source (P(same) ≥ 0.5 when calibrated) */
  electionThreshold: number;
  /** isotonic knots (similarity → P(same)); null when no calibration fits the running model */
  calibration: Array<[number, number]> | null;
  /** the evidence model's cut-off on P(same); set when candidates carry pSame */
  evidenceCut?: number;
  /** listings per index-time group (backend.groupSizes), for "N listings sell this" */
  groupSizes?: Map<string, number>;
  /** weight of the text-on-product similarity beside the look when ranking unproven candidates (0: look only) */
  ocrWeight?: number;
  /** weight of ln(1 + RANSAC inliers) in that order (0: none) */
  localWeight?: number;
}

export function toListing(c: Candidate): ListingT {
  const p = c.record.product;
  return {
    id: p.id,
    title: p.title,
    categoryPath: p.categoryPath,
    price: p.price,
    moq: p.moq,
    supplier: p.supplier,
    listedAt: p.listedAt,
    images: p.images,
    attributes: p.attributes,
    similarity: round(c.similarity),
    ...(c.pSame !== undefined ? { sameProductChance: round(c.pSame) } : {}),
  };
}

const round = (x: number) => Math.round(x * 10000) / 10000;

/** P(same product) from the calibration when there is one; otherwise a monotone, uncalibrated stand-in. */
function confidenceOf(sim: number, o: AnswerOptions): number {
  if (o.calibration) return round(probability(o.calibration, sim));
  return round(1 / (1 + Math.exp(-(sim - o.sameSourceThreshold) / 0.04)));
}

function bestPairCosine(a: IndexRecord, b: IndexRecord): number {
  let best = -1;
  for (const x of a.images) for (const y of b.images) best = Math.max(best, dot(x.descriptor, y.descriptor));
  return best;
}

type Built = Pick<SearchAnswer, 'sameSource' | 'substitutes'> & { referencePrice: SearchAnswer['query']['referencePrice'] };

export function buildAnswer(cands: Candidate[], o: AnswerOptions): Built {
  if (o.evidenceCut !== undefined && cands.every((c) => c.pSame !== undefined)) return buildJudged(cands, o);
  // a near-identical perceptual hash supports, but never alone decides: look-alike packs collide too
  const same = cands.filter(
    (c) => c.similarity >= o.sameSourceThreshold || (c.phashDistance !== null && c.phashDistance <= SAME_PHOTO_BITS && c.similarity >= o.sameSourceThreshold - 0.1),
  );
  const rest = cands.filter((c) => !same.includes(c));

  // star grouping: a candidate joins the first group whose seed (its best match) it also resembles;
  // comparing with the seed only, never with any member, stops chains of look-alikes from merging products
  const groups: Candidate[][] = [];
  for (const c of same) {
    const g = groups.find((g) => bestPairCosine(g[0].record, c.record) >= o.sameSourceThreshold);
    if (g) g.push(c);
    else groups.push([c]);
  }

  const sameSource = groups.slice(0, o.limit).map((g) => {
    const listings = g.map(toListing);
    // the source is elected among the listings we are surest show the seed's very product (a reseller's
    // copy of a factory photo is near-identical), so a look-alike that only just joined cannot win it
    const sure = g.filter((c, i) => i === 0 || bestPairCosine(g[0].record, c.record) >= o.electionThreshold);
    const elected = electSource(listings.filter((l) => sure.some((c) => c.record.product.id === l.id)));
    const source = elected.source;
    const reason =
      sure.length === 1 && g.length > 1 ? 'closest match to your query; no other listing in the group is near-identical to it' : elected.reason;
    const best = g.reduce((a, b) => (b.similarity > a.similarity ? b : a));
    const srcCand = g.find((c) => c.record.product.id === source.id)!;
    const prices = listings.filter((l) => l.price).map((l) => l.price!);
    const cur = prices[0]?.currency;
    const samePhoto = srcCand.phashDistance !== null && srcCand.phashDistance <= SAME_PHOTO_BITS;
    const summary: string[] = [];
    if (samePhoto) summary.push('same photo (near-identical image)');
    summary.push(`image similarity ${srcCand.similarity.toFixed(2)}`);
    if (srcCand.textMatch) summary.push('your words match its title');
    else if (srcCand.semanticMatch) summary.push('its title means what your words say');
    if (g.length > 1) summary.push(`${g.length} listings show the same product`);
    return {
      groupId: `g-${source.id}`,
      verdict: 'same' as const,
      confidence: confidenceOf(best.similarity, o),
      source,
      sourceReason: reason,
      listings: listings.filter((l) => l.id !== source.id).sort((a, b) => b.similarity - a.similarity),
      listingCount: listings.length,
      priceRange: prices.length && prices.every((p) => p.currency === cur)
        ? { min: Math.min(...prices.map((p) => p.amount)), max: Math.max(...prices.map((p) => p.amount)), currency: cur }
        : null,
      evidence: {
        imageSimilarity: round(srcCand.similarity),
        phashDistance: srcCand.phashDistance,
        textMatch: srcCand.textMatch,
        samePhoto,
        summary,
        calibrated: o.calibration !== null,
      },
    };
  });

  return { sameSource, ...substitutesOf(rest, cands, sameSource, o) };
}

/** P(same) from which an unproven candidate is more likely the query's product than a substitute. */
const LIKELY = 0.5;

/**
 * Evidence mode. The first group holds the listings judged to show the query's very product (a photo shows
 * one product) with their index-time group mates not judged more likely another product: verdict "same".
 * Candidates more likely the product than not, but under the cut-off, follow as "likely" groups (one per
 * index-time group), so that they are neither passed off as proven nor as substitutes. Everything else may
 * be a substitute.
 */
function buildJudged(cands: Candidate[], o: AnswerOptions): Built {
  const cut = o.evidenceCut!;
  const gid = (c: Candidate) => c.record.extras?.sourceGroupId ?? `g-${c.record.product.id}`;
  const taken = new Set<Candidate>();
  const sameSource: SearchAnswer['sameSource'] = [];
  // listings grouped at index time with a sure one are the same product too (their own evidence, e.g. a
  // shared photo with another listing, may be stronger than the query photo's), unless their own evidence
  // against the query says they are more likely another product: then the index-time link is what is in
  // doubt (a sibling flavour joined at indexing), and the group would carry its error to every query.
  // On the reseller protocol (2026-12-03) such mates were 96 of the 147 wrong members of 'same' groups,
  // and 290 of 8,210 right ones. The one exception is the listing the whole group would elect as its source
  // (a factory's original, re-photographed or altered by every reseller): leaving it out would name a
  // reseller as the source, and on that protocol those 10 doubtful sources were all right.
  const sure = cands.filter((c) => c.pSame! >= cut);
  if (sure.length) {
    const ids = new Set(sure.map(gid));
    const pool = cands.filter((c) => c.pSame! >= cut || ids.has(gid(c)));
    const elected = electSource(pool.map(toListing));
    const members = pool.filter((c) => c.pSame! >= Math.min(cut, LIKELY) || c.record.product.id === elected.source.id);
    members.forEach((c) => taken.add(c));
    // the pool's source is among the members, so it is their source too: no second election
    sameSource.push(judgedGroup(members, ids, 'same', o, elected));
  }
  for (const c of cands) {
    if (sameSource.length >= o.limit) break;
    if (taken.has(c) || c.pSame! < LIKELY) continue;
    const members = cands.filter((x) => !taken.has(x) && gid(x) === gid(c) && x.pSame! >= LIKELY);
    members.forEach((x) => taken.add(x));
    sameSource.push(judgedGroup(members, new Set([gid(c)]), 'likely', o));
  }
  // substitutes are "similar": ordered by the look (whitened image score) and the text printed on the
  // product, not by P(same), which is too small below the 'likely' band to order by
  const rest = cands.filter((c) => !taken.has(c)).sort((a, b) => unprovenRank(b, o) - unprovenRank(a, o));
  return { sameSource, ...substitutesOf(rest, cands, sameSource, o) };
}

/**
 * Text similarity under which the text on two products is taken as unrelated: a few shared trigrams (a size,
 * "ml", a date) give unrelated packs cosines of a few hundredths, and such noise must not reorder the look
 * (it once put a yoghurt, at 0.05, ahead of the apple juice photographed, and its category with it).
 * Flat on the Grocery replay between 0 and 0.2 (packaged R@1 0.599–0.608).
 */
const OCR_NOISE = 0.1;

/**
 * Order of candidates nothing proves the same: the look, plus the text printed on the product when it reads
 * alike, plus the details that line up geometrically. Too few inliers to prove the same product still tell a
 * pack from a look-alike of another kind: a phone photo of a pack aligns a handful of details with the
 * pack's studio image, and a sibling flavour more than an unrelated product.
 */
function unprovenRank(c: Candidate, o: AnswerOptions): number {
  const t = c.evidence?.ocrSim ?? 0;
  return c.score + (o.ocrWeight ?? 0) * (t >= OCR_NOISE ? t : 0) + (o.localWeight ?? 0) * Math.log1p(c.evidence?.inliers ?? 0);
}

function judgedGroup(
  members: Candidate[],
  groupIds: Set<string>,
  verdict: 'same' | 'likely',
  o: AnswerOptions,
  elected: ReturnType<typeof electSource> = electSource(members.map(toListing)),
): SearchAnswer['sameSource'][number] {
  const listings = members.map(toListing);
  const source = elected.source;
  const best = members.reduce((a, b) => (b.pSame! > a.pSame! ? b : a));
  const ev = best.evidence!;
  const prices = listings.filter((l) => l.price).map((l) => l.price!);
  const cur = prices[0]?.currency;
  // listings of these groups that the search did not retrieve still sell the product
  let indexed = 0;
  for (const g of groupIds) indexed += o.groupSizes?.get(g) ?? 0;
  const summary = describeEvidence(ev);
  if (verdict === 'likely') summary.unshift('more likely the same product than not, but not proven');
  if (members.length > 1) summary.push(`${members.length} listings found show the same product`);
  const srcCand = members.find((c) => c.record.product.id === source.id)!;
  return {
    groupId: srcCand.record.extras?.sourceGroupId ?? `g-${source.id}`,
    verdict,
    confidence: round(best.pSame!),
    source,
    // a source that is in the group through its index-time mates, not through its own evidence against the
    // photo, says so: otherwise a buyer sees a source with a low sameProductChance and no reason for it
    sourceReason: verdict === 'same' && srcCand.pSame! < o.evidenceCut! ? `${elected.reason}; in the group because it was grouped with these listings when it was indexed` : elected.reason,
    listings: listings.filter((l) => l.id !== source.id).sort((a, b) => (b.sameProductChance ?? 0) - (a.sameProductChance ?? 0) || b.similarity - a.similarity),
    listingCount: Math.max(members.length, indexed),
    priceRange: prices.length && prices.every((p) => p.currency === cur)
      ? { min: Math.min(...prices.map((p) => p.amount)), max: Math.max(...prices.map((p) => p.amount)), currency: cur }
      : null,
    evidence: {
      imageSimilarity: round(ev.cosine),
      phashDistance: ev.phashDistance,
      textMatch: best.textMatch,
      samePhoto: ev.phashDistance !== null && ev.phashDistance <= SAME_PHOTO_BITS,
      summary,
      calibrated: true,
      matchedDetails: ev.inliers,
      mirrored: ev.mirrored,
      colourAgreement: ev.colour ? round(1 - ev.colour.mismatch) : null,
      textOnProduct: ev.ocrSim === null ? null : round(ev.ocrSim),
      titleSimilarity: ev.titleSim === null ? null : round(ev.titleSim),
      sameSupplier: ev.sameSupplier,
    },
  };
}

function substitutesOf(rest: Candidate[], cands: Candidate[], sameSource: SearchAnswer['sameSource'], o: AnswerOptions): Omit<Built, 'sameSource'> {
  const ref = o.referencePrice ?? (sameSource[0]?.source.price ? { amount: sameSource[0].source.price.amount, currency: sameSource[0].source.price.currency, from: 'source' as const } : null);

  let subs = rest
    .filter((c) => c.similarity >= o.substituteFloor || c.textMatch || c.semanticMatch)
    .map((c) => {
      const l = toListing(c);
      const priceDelta = ref && l.price && l.price.currency === ref.currency
        ? {
            amount: round(l.price.amount - ref.amount),
            percent: ref.amount > 0 ? round(((l.price.amount - ref.amount) / ref.amount) * 100) : null,
            currency: ref.currency,
            reference: ref.from,
          }
        : null;
      return { listing: l, similarity: round(c.similarity), priceDelta, ...(c.pSame !== undefined ? { sameProductChance: round(c.pSame) } : {}) };
    });
  if (o.cheaperOnly) subs = subs.filter((s) => s.priceDelta !== null && s.priceDelta.amount < 0);
  // a substitute is an alternative for the same need: listings in the category of what the buyer is looking
  // at (the first group's source, else the best candidate by the substitutes' own order: look and text on
  // the product) come first, each side in its own order. Below the 'likely' band P(same) is too small to
  // order by; and look alone must not pick the category, or a pack whose text matches the photo is pushed
  // behind every look-alike of another category.
  const bestLook = cands.length ? cands.reduce((a, b) => (unprovenRank(b, o) > unprovenRank(a, o) ? b : a)) : null;
  const refCategory = (sameSource[0]?.source ?? (bestLook ? toListing(bestLook) : null))?.categoryPath.join('\u0000');
  if (refCategory) {
    const same = (x: (typeof subs)[number]) => (x.listing.categoryPath.join('\u0000') === refCategory ? 0 : 1);
    subs = subs.map((x, i) => ({ x, i })).sort((a, b) => same(a.x) - same(b.x) || a.i - b.i).map(({ x }) => x);
  }
  if (o.sort === 'price') subs.sort((a, b) => (a.listing.price?.amount ?? Infinity) - (b.listing.price?.amount ?? Infinity));
  return { substitutes: subs.slice(0, o.limit), referencePrice: ref };
}

