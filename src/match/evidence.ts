// Evidence that a candidate shows the very product of the query, and P(same product) from it.
//
// The global embedding alone cannot tell "same" from "look-alike" (true and false pairs' cosines overlap),
// so every candidate is also checked with what does separate them: local features verified geometrically
// (a re-used or re-photographed pack matches point for point, in a consistent layout, mirrored or not),
// the text read from the images (OCR, compared by character n-grams so misreadings still match), the
// title, the supplier and the perceptual hash. A logistic model fitted on labelled pairs (scripts/
// fit-evidence.ts) turns them into a probability; `sameSourceCut` is the probability chosen for
// precision ≥ 0.99 on the fitting pairs.
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../config.ts';
import type { IndexRecord } from '../index/backend.ts';
import { dot } from '../vision/pooling.ts';
import { hammingHex } from '../vision/phash.ts';
import { decodeLocal, verifyLocal, type LocalFeatures } from '../vision/local/index.ts';
import { textSimilarities } from '../text/similarity.ts';
import { predict, type LogisticModel } from './logistic.ts';

/** Geometric verification counts as proof at this many RANSAC inliers spanning this share of the query. */
export const VERIFIED_INLIERS = 15;
export const VERIFIED_SPAN = 0.05;
const SAME_PHOTO_BITS = 10;
/** Images of a candidate verified point by point: its best ones by cosine (verification is the cost). */
const VERIFY_IMAGES = 2;

export const FEATURES = ['cosine', 'logInliers', 'verified', 'span', 'ocrSim', 'ocrBoth', 'titleSim', 'titleBoth', 'sameSupplier', 'samePhoto'] as const;

export interface EvidenceModel {
  version: string;
  /** the vision model the pairs were embedded with; cosine means something else under another model */
  modelVersion: string;
  logistic: LogisticModel;
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
  ];
}

export function probabilityOf(m: EvidenceModel, e: PairEvidence): number {
  // a degenerate image (e.g. a flat one: no keypoints, zero-norm descriptor) must not turn into NaN
  const p = predict(m.logistic, featureVector(e).map((x) => (Number.isFinite(x) ? x : 0)));
  return Number.isFinite(p) ? p : 0;
}

const MIN_TEXT = 4;

/** Evidence for each candidate against one query side; text similarities share one n-gram IDF over the set. */
export function gatherEvidence(q: QuerySide, recs: IndexRecord[]): PairEvidence[] {
  const ocrQ = q.ocrText.trim().length >= MIN_TEXT ? q.ocrText : '';
  const ocrSims = ocrQ ? textSimilarities(ocrQ, recs.map((r) => r.extras?.ocrText ?? '')) : null;
  const wordsQ = q.words.trim().length >= 2 ? q.words : '';
  const titleSims = wordsQ ? textSimilarities(wordsQ, recs.map((r) => r.product.title)) : null;
  return recs.map((rec, i) => {
    // the candidate's images by cosine to the query
    const order = rec.images
      .map((im, j) => ({ j, idx: im.idx, cos: q.descriptor ? dot(q.descriptor, im.descriptor) : 0 }))
      .sort((a, b) => b.cos - a.cos);
    const best = order[0];
    let matches = 0, inliers = 0, span = 0, mirrored = false;
    if (q.local) {
      for (const o of order.slice(0, VERIFY_IMAGES)) {
        const blob = rec.extras?.local?.[o.j];
        if (!blob) continue;
        const v = verifyLocal({ normal: q.local.normal, ...(q.local.mirrored ? { mirrored: q.local.mirrored } : {}) }, decodeLocal(blob));
        if (v.inliers > inliers) ({ matches, inliers, span, mirrored } = v);
      }
    }
    const candText = rec.extras?.ocrText ?? '';
    return {
      cosine: best ? best.cos : 0,
      imageIdx: best ? best.idx : 0,
      matches,
      inliers,
      span,
      mirrored,
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
  if (e.ocrSim !== null) out.push(e.ocrSim >= 0.5 ? `the text on the product reads the same (${Math.round(e.ocrSim * 100)}% alike)` : `the text on the product differs (${Math.round(e.ocrSim * 100)}% alike)`);
  if (e.titleSim !== null && e.titleSim >= 0.3) out.push(`the title matches your words (${Math.round(e.titleSim * 100)}% alike)`);
  if (e.sameSupplier) out.push('same supplier');
  out.push(`overall look ${e.cosine.toFixed(2)} similar`);
  return out;
}
