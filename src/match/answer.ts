// Splits candidates into same-source groups and substitutes. Here the split is a similarity threshold on
// the global image embedding; the evidence and calibration of a later step plug in at `judge`.
import type { IndexRecord } from '../index/backend.ts';
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
  };
}

const round = (x: number) => Math.round(x * 10000) / 10000;
const SAME_PHOTO_BITS = 10;

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

export function buildAnswer(cands: Candidate[], o: AnswerOptions): Pick<SearchAnswer, 'sameSource' | 'substitutes'> & { referencePrice: SearchAnswer['query']['referencePrice'] } {
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
      return { listing: l, similarity: round(c.similarity), priceDelta };
    });
  if (o.cheaperOnly) subs = subs.filter((s) => s.priceDelta !== null && s.priceDelta.amount < 0);
  // a substitute is an alternative for the same need: listings in the category of what the buyer is looking
  // at (the first group's source, else the best candidate) come first, each side in its own order
  const refCategory = (sameSource[0]?.source ?? (cands[0] ? toListing(cands[0]) : null))?.categoryPath.join('\u0000');
  if (refCategory) {
    const same = (x: (typeof subs)[number]) => (x.listing.categoryPath.join('\u0000') === refCategory ? 0 : 1);
    subs = subs.map((x, i) => ({ x, i })).sort((a, b) => same(a.x) - same(b.x) || a.i - b.i).map(({ x }) => x);
  }
  if (o.sort === 'price') subs.sort((a, b) => (a.listing.price?.amount ?? Infinity) - (b.listing.price?.amount ?? Infinity));
  return { sameSource, substitutes: subs.slice(0, o.limit), referencePrice: ref };
}

