// Same-source detection by local features on reseller copies of the 81 catalogue images: every copy
// is verified against every original, as the lead's search would after a shortlist of one catalogue.
// Prints, per alteration, Recall@1 by inliers alone, recall of the same-source rule, false pairs, and
// the cost of extraction and verification.
import fs from 'node:fs';
import os from 'node:os';
import type { GroceryClass } from '../src/demo/grocery.ts';
import { ALTERATIONS, makeCopy, type Alteration } from '../src/demo/reseller.ts';
import {
  DEFAULT_VERIFY,
  LOCAL_SIDE,
  ORB_FEATURES,
  SAME_SOURCE,
  STRICT_SAME_SOURCE,
  extractGalleryLocal,
  extractLocal,
  isSameSource,
  verifyLocal,
  type LocalFeatures,
  type Verification,
} from '../src/vision/local/index.ts';

export interface LocalBenchRow {
  kind: Alteration | 'catalogue vs catalogue';
  copies: number;
  /** share of copies whose original has strictly the most inliers of all 81 */
  recallAt1: number;
  /** share of copies that verify against their original under the same-source rule (≥15, span ≥5%) */
  sameSource: number;
  /** same, strict rule (≥20) */
  sameSourceStrict: number;
  /** pairs (copy, another product's original) passing the rule, and their share of all such pairs */
  false15: number;
  false20: number;
  negatives: number;
  /** the highest inlier count among wrong pairs */
  worstFalse: number;
}

export interface LocalBenchReport {
  rows: LocalBenchRow[];
  galleryExtractMs: number;
  queryExtractMs: number;
  verifyMsPerPair: number;
}

export async function benchLocalFeatures(
  classes: GroceryClass[],
  log: (s: string) => void,
  seed = 1,
  kinds: readonly Alteration[] = ALTERATIONS,
): Promise<LocalBenchReport> {
  log(
    `  settings: ORB ${ORB_FEATURES} keypoints on greyscale at longer side ${LOCAL_SIDE} px; 2-NN Hamming, ratio ${DEFAULT_VERIFY.ratio}, one-to-one per gallery keypoint; ` +
      `${DEFAULT_VERIFY.model} RANSAC ${DEFAULT_VERIFY.threshold} px, scale ${DEFAULT_VERIFY.minScale.toFixed(2)}–${DEFAULT_VERIFY.maxScale}, ≤${DEFAULT_VERIFY.maxIterations} iterations, seeded; ` +
      `query also mirrored (best of two); same source = ≥${SAME_SOURCE.minInliers} inliers spanning ≥${SAME_SOURCE.minSpan * 100}% of the query (strict ≥${STRICT_SAME_SOURCE.minInliers}); copies seed ${seed}`,
  );
  const bytes = classes.map((c) => fs.readFileSync(c.iconicPath));
  await extractGalleryLocal(bytes[0]); // load opencv-js and warm up outside the timings
  let t = performance.now();
  const gallery: LocalFeatures[] = [];
  for (const b of bytes) gallery.push(await extractGalleryLocal(b));
  const galleryExtractMs = (performance.now() - t) / bytes.length;

  let queryMs = 0;
  let queries = 0;
  let verifyMs = 0;
  let pairs = 0;
  const rows: LocalBenchRow[] = [];

  // Baseline: the originals against each other (different products, no alteration).
  {
    const v: Verification[][] = [];
    for (let i = 0; i < gallery.length; i++) v.push(gallery.map((g, j) => (i === j ? null : verifyLocal({ normal: gallery[i] }, g))) as Verification[]);
    rows.push(summarise('catalogue vs catalogue', v, false));
    // Name them: so far these are sibling SKUs sharing one packaging design, which local features
    // cannot tell apart (see the report); a new kind of false pair would show up here first.
    const named: string[] = [];
    for (let i = 0; i < v.length; i++)
      for (let j = i + 1; j < v.length; j++) {
        const x = [v[i][j], v[j][i]].filter((y) => y && isSameSource(y)).map((y) => y.inliers);
        if (x.length) named.push(`${classes[i].name} ~ ${classes[j].name} (${Math.max(...x)})`);
      }
    log(`  catalogue pairs of different products passing the rule either way (${named.length}): ${named.join('; ')}`);
  }

  for (const kind of kinds) {
    const tk = performance.now();
    const v: Verification[][] = [];
    for (let i = 0; i < bytes.length; i++) {
      const copy = await makeCopy(bytes[i], kind, seed * 1000 + i);
      t = performance.now();
      const q = await extractLocal(copy);
      queryMs += performance.now() - t;
      queries++;
      t = performance.now();
      v.push(gallery.map((g) => verifyLocal(q, g)));
      verifyMs += performance.now() - t;
      pairs += gallery.length;
    }
    const row = summarise(kind, v, true);
    rows.push(row);
    log(`  ${kind}: done in ${((performance.now() - tk) / 1000).toFixed(0)} s`);
  }

  log(`  ${classes.length} catalogue images (${classes.filter((c) => c.topFolder === 'Packages').length} packaged goods), one copy of each per alteration, each verified against all ${classes.length} originals`);
  log('  | alteration | copies | R@1 by inliers | same source (≥15, span ≥5%) | strict (≥20) | false pairs ≥15 | false pairs ≥20 | most inliers in a false pair |');
  log('  |---|---|---|---|---|---|---|---|');
  for (const r of rows)
    log(
      `  | ${r.kind} | ${r.copies} | ${r.kind === 'catalogue vs catalogue' ? '—' : r.recallAt1.toFixed(3)} | ${r.kind === 'catalogue vs catalogue' ? '—' : r.sameSource.toFixed(3)} | ${r.kind === 'catalogue vs catalogue' ? '—' : r.sameSourceStrict.toFixed(3)} | ` +
        `${r.false15} / ${r.negatives} (${((100 * r.false15) / r.negatives).toFixed(2)}%) | ${r.false20} (${((100 * r.false20) / r.negatives).toFixed(2)}%) | ${r.worstFalse} |`,
    );
  const altered = rows.filter((r) => r.kind !== 'catalogue vs catalogue');
  const sum = (f: (r: LocalBenchRow) => number) => altered.reduce((s, r) => s + f(r), 0);
  const copies = sum((r) => r.copies);
  const tp = sum((r) => r.sameSource * r.copies);
  const f15 = sum((r) => r.false15);
  const neg = sum((r) => r.negatives);
  log(
    `  all alterations: R@1 ${(sum((r) => r.recallAt1 * r.copies) / copies).toFixed(3)}, same-source recall ${(tp / copies).toFixed(3)} ` +
      `(strict ${(sum((r) => r.sameSourceStrict * r.copies) / copies).toFixed(3)}), precision of the rule ${(tp / (tp + f15)).toFixed(3)}, ` +
      `false pairs ≥15: ${((100 * f15) / neg).toFixed(2)}%, ≥20: ${((100 * sum((r) => r.false20)) / neg).toFixed(2)}%`,
  );
  const report = { rows, galleryExtractMs, queryExtractMs: queryMs / queries, verifyMsPerPair: verifyMs / pairs };
  log(
    `  timings (1 thread, opencv-js WASM without SIMD; load average now ${os.loadavg()[0].toFixed(2)}): extraction ${report.galleryExtractMs.toFixed(1)} ms per gallery image, ` +
      `${report.queryExtractMs.toFixed(1)} ms per query (normal + mirrored, decode included); verification ${report.verifyMsPerPair.toFixed(2)} ms per pair (both orientations)`,
  );
  return report;
}

/** v[i][j]: copy (or original) i against original j; the diagonal is the true pair. */
function summarise(kind: LocalBenchRow['kind'], v: (Verification | null)[][], hasPositives: boolean): LocalBenchRow {
  const n = v.length;
  let r1 = 0, same = 0, strict = 0, f15 = 0, f20 = 0, neg = 0, worst = 0;
  for (let i = 0; i < n; i++) {
    let bestOther = 0;
    for (let j = 0; j < n; j++) {
      const x = v[i][j];
      if (i === j || !x) continue;
      neg++;
      bestOther = Math.max(bestOther, x.inliers);
      if (isSameSource(x, SAME_SOURCE)) f15++;
      if (isSameSource(x, STRICT_SAME_SOURCE)) f20++;
    }
    worst = Math.max(worst, bestOther);
    const own = v[i][i];
    if (hasPositives && own) {
      if (own.inliers > bestOther) r1++;
      if (isSameSource(own, SAME_SOURCE)) same++;
      if (isSameSource(own, STRICT_SAME_SOURCE)) strict++;
    }
  }
  return { kind, copies: n, recallAt1: r1 / n, sameSource: same / n, sameSourceStrict: strict / n, false15: f15, false20: f20, negatives: neg, worstFalse: worst };
}
