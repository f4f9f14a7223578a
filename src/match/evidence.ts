// Evidence that a candidate shows the very product of the query, and P(same product) from it.
//
// The global embedding alone cannot tell "same" from "look-alike" (true and false pairs' cosines overlap),
// so every candidate is also checked with what does separate them: local features verified geometrically
// (a re-used or re-photographed pack matches point for point, in a consistent layout, mirrored or not),
// the text read from the images (OCR, compared by character n-grams so misreadings still match), the
// title, the supplier and the perceptual hash; where the local features align, the colours inside the
// aligned region are compared cell by cell (siblings of one brand align but differ in colour). Boosted
// trees fitted on labelled pairs (scripts/fit-evidence.ts) turn them into a probability; `sameSourceCut`
// is the probability chosen for precision ≥ 0.99 on out-of-fold predictions of the fitting pairs.
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../config.ts';
import type { IndexRecord } from '../index/backend.ts';
import { dot } from '../vision/pooling.ts';
import { hammingHex } from '../vision/phash.ts';
import { decodeLocal, verifyLocal, type LocalFeatures, type Verification } from '../vision/local/index.ts';
import { alignedColour, type ColourAgreement } from '../vision/local/colour.ts';
import { textSimilarities } from '../text/similarity.ts';
import { predict, type LogisticModel } from './logistic.ts';
import { predictBoosted, type BoostedModel } from './boosted.ts';

/** Geometric verification counts as proof at this many RANSAC inliers spanning this share of the query. */
export const VERIFIED_INLIERS = 15;
export const VERIFIED_SPAN = 0.05;
/** Perceptual-hash distance (of 64 bits) at or under which two images count as the same photo. */
export const SAME_PHOTO_BITS = 10;
/** Images of a candidate verified point by point: its best ones by cosine (verification is the cost). */
const VERIFY_IMAGES = 2;

export const FEATURES = [
  'cosine', 'logInliers', 'verified', 'span', 'ocrSim', 'ocrBoth', 'titleSim', 'titleBoth', 'sameSupplier', 'samePhoto',
  // colour agreement inside the aligned region (what tells sibling packs apart), and how clean the matches are
  'colourMismatch', 'colourDistance', 'colourBoth', 'inlierRatio', 'colourP90', 'chroma', 'chromaP90',
] as const;

export interface EvidenceModel {
  version: string;
  /** the vision model the pairs were embedded with; cosine means something else under another model */
  modelVersion: string;
  /** one of the two: boosted trees (the default fit) or a logistic regression (older files) */
  logistic?: LogisticModel;
  boosted?: BoostedModel;
  /** P(same) from which listings are put in a same-source group */
  sameSourceCut: number;
  fittedOn: string;
  metrics?: Record<string, number>;
}

export const EVIDENCE_FILE = path.join(repoRoot, 'models', 'evidence.json');

export function loadEvidenceModel(modelVersion: string, file = EVIDENCE_FILE): EvidenceModel | null {
  if (!fs.existsSync(file)) return null;
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as EvidenceModel;
  return m.modelVersion === modelVersion ? m : null;
}

/** What is known about the query side of a pair: a photo, a listing being indexed, or words. */
export interface QuerySide {
  descriptor: Float32Array | null;
  /** the photo's descriptor mirrored, when it was embedded both ways */
  mirroredDescriptor?: Float32Array | null;
  phash: string | null;
  local: { normal: LocalFeatures; mirrored: LocalFeatures | null } | null;
  ocrText: string;
  /** the buyer's words, a linked page's title, or (listing against listing) the listing's title */
  words: string;
  supplierId: string | null;
}

export interface PairEvidence {
  cosine: number;
  imageIdx: number;
  matches: number;
  inliers: number;
  span: number;
  mirrored: boolean;
  /** colour agreement inside the aligned region; null without an alignment or without colour on both sides */
  colour: ColourAgreement | null;
  ocrSim: number | null;
  titleSim: number | null;
  sameSupplier: boolean;
  phashDistance: number | null;
}

export function featureVector(e: PairEvidence): number[] {
  const verified = e.inliers >= VERIFIED_INLIERS && e.span >= VERIFIED_SPAN ? 1 : 0;
  return [
    e.cosine,
    Math.log1p(e.inliers),
    verified,
    Math.min(1, e.span),
    e.ocrSim ?? 0,
    e.ocrSim === null ? 0 : 1,
    e.titleSim ?? 0,
    e.titleSim === null ? 0 : 1,
    e.sameSupplier ? 1 : 0,
    e.phashDistance !== null && e.phashDistance <= SAME_PHOTO_BITS ? 1 : 0,
    e.colour ? e.colour.mismatch : 0,
    e.colour ? e.colour.distance : 0,
    e.colour ? 1 : 0,
    e.matches > 0 ? e.inliers / e.matches : 0,
    e.colour?.p90 ?? 0,
    e.colour?.chroma ?? 0,
    e.colour?.chromaP90 ?? 0,
  ];
}

/** P(same product) from a feature vector, whichever kind of model was fitted. */
export function predictEvidence(m: Pick<EvidenceModel, 'logistic' | 'boosted'>, x: number[]): number {
  if (m.boosted) return predictBoosted(m.boosted, x);
  if (m.logistic) return predict(m.logistic, x);
  return 0;
}

export function probabilityOf(m: EvidenceModel, e: PairEvidence): number {
  // a degenerate image (e.g. a flat one: no keypoints, zero-norm descriptor) must not turn into NaN
  const p = predictEvidence(m, featureVector(e).map((x) => (Number.isFinite(x) ? x : 0)));
  return Number.isFinite(p) ? p : 0;
}

const MIN_TEXT = 4;
/** an alignment from fewer inliers is too loose to compare colours cell by cell */
const COLOUR_MIN_INLIERS = 6;

/**
 * Evidence for each candidate against one query side; text similarities share one n-gram IDF over the set.
 * `judged`: records already judged in this answer, whose texts join the IDF (records added later are then
 * weighed as if they had been in the first set) but which are not judged again.
 */
export function gatherEvidence(q: QuerySide, recs: IndexRecord[], judged: IndexRecord[] = []): PairEvidence[] {
  const ocrQ = q.ocrText.trim().length >= MIN_TEXT ? q.ocrText : '';
  const sims = (text: (r: IndexRecord) => string, query: string) => textSimilarities(query, [...judged, ...recs].map(text)).slice(judged.length);
  const ocrSims = ocrQ ? sims((r) => r.extras?.ocrText ?? '', ocrQ) : null;
  const wordsQ = q.words.trim().length >= 2 ? q.words : '';
  const titleSims = wordsQ ? sims((r) => r.product.title, wordsQ) : null;
  return recs.map((rec, i) => {
    // the candidate's images by cosine to the query
    const order = rec.images
      .map((im, j) => ({ j, idx: im.idx, cos: q.descriptor ? Math.max(dot(q.descriptor, im.descriptor), q.mirroredDescriptor ? dot(q.mirroredDescriptor, im.descriptor) : -1) : 0 }))
      .sort((a, b) => b.cos - a.cos);
    const best = order[0];
    let matches = 0, inliers = 0, span = 0, mirrored = false;
    let aligned: { v: Verification; cand: LocalFeatures } | null = null;
    if (q.local) {
      for (const o of order.slice(0, VERIFY_IMAGES)) {
        const blob = rec.extras?.local?.[o.j];
        if (!blob) continue;
        const cand = decodeLocal(blob);
        const v = verifyLocal({ normal: q.local.normal, ...(q.local.mirrored ? { mirrored: q.local.mirrored } : {}) }, cand);
        if (v.inliers > inliers) ({ matches, inliers, span, mirrored } = v), (aligned = { v, cand });
      }
    }
    let colour: ColourAgreement | null = null;
    if (aligned && q.local && aligned.v.transform && inliers >= COLOUR_MIN_INLIERS) {
      const qf = aligned.v.mirrored ? q.local.mirrored : q.local.normal;
      if (qf?.colour && aligned.cand.colour) colour = alignedColour(qf.colour, qf, aligned.cand.colour, aligned.cand, aligned.v.transform, aligned.v.box);
      if (colour && colour.cells < 8) colour = null;
    }
    const candText = rec.extras?.ocrText ?? '';
    return {
      cosine: best ? best.cos : 0,
      imageIdx: best ? best.idx : 0,
      matches,
      inliers,
      span,
      mirrored,
      colour,
      ocrSim: ocrSims && candText.trim().length >= MIN_TEXT ? ocrSims[i] : null,
      titleSim: titleSims ? titleSims[i] : null,
      sameSupplier: !!q.supplierId && rec.product.supplier?.id === q.supplierId,
      phashDistance: q.phash && rec.images.length ? Math.min(...rec.images.map((im) => hammingHex(q.phash!, im.phash))) : null,
    };
  });
}

/** The evidence in plain words for a buyer. */
export function describeEvidence(e: PairEvidence): string[] {
  const out: string[] = [];
  if (e.inliers >= VERIFIED_INLIERS && e.span >= VERIFIED_SPAN)
    out.push(`${e.inliers} matching details line up between the photos${e.mirrored ? ' (one photo is mirrored)' : ''}`);
  else if (e.inliers > 0) out.push(`only ${e.inliers} matching details line up (not enough to prove the same product)`);
  if (e.phashDistance !== null && e.phashDistance <= SAME_PHOTO_BITS) out.push('near-identical photo');
  // where the details align, the colours there either agree (the same pack) or differ (a sibling flavour)
  if (e.colour) out.push(e.colour.mismatch <= 0.05 ? `the colours agree where the photos line up (${Math.round((1 - e.colour.mismatch) * 100)}% of the area)` : `the colours differ in ${Math.round(e.colour.mismatch * 100)}% of the area that lines up (another variant?)`);
  if (e.ocrSim !== null) out.push(e.ocrSim >= 0.5 ? `the text on the product reads the same (${Math.round(e.ocrSim * 100)}% alike)` : `the text on the product differs (${Math.round(e.ocrSim * 100)}% alike)`);
  if (e.titleSim !== null && e.titleSim >= 0.3) out.push(`the title matches your words (${Math.round(e.titleSim * 100)}% alike)`);
  if (e.sameSupplier) out.push('same supplier');
  out.push(`overall look ${e.cosine.toFixed(2)} similar`);
  return out;
}
