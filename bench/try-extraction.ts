// Diagnostic for the local-feature extraction rule (orb-core's orbExtract): every seed-13 reseller copy of
// the given alterations is verified against all 81 catalogue images, once with a single ORB reading per
// image (orbDetectOnce) and once with the current rule (a second, contrast-raised reading of images that do
// not fill the keypoint budget). "Verified" = at least SAME_SOURCE.minInliers inliers and more than any other
// product. Needs the copies of `npm run bench -- sourcing` (or bench/prepare-sourcing.ts).
// Run: npx tsx bench/try-extraction.ts [alteration,…]  (default: crop,combined,half,watermark,text-en)
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../src/config.ts';
import { readClasses } from '../src/demo/grocery.ts';
import { decodeGrey, extractGrey, mirrorGrey, type GreyImage, type LocalFeatures } from '../src/vision/local/features.ts';
import { orbDetectOnce } from '../src/vision/local/orb-core.mjs';
import { SAME_SOURCE, verifyLocal } from '../src/vision/local/verify.ts';

const kinds = (process.argv[2] ?? 'crop,combined,half,watermark,text-en').split(',');
const classes = await readClasses();
const readers: Record<string, (g: GreyImage) => Promise<LocalFeatures>> = {
  'one reading': (g) => orbDetectOnce(g.data, g.width, g.height),
  'current rule': (g) => extractGrey(g),
};
for (const [name, read] of Object.entries(readers)) {
  const feats = async (file: string) => {
    const g = await decodeGrey(fs.readFileSync(file));
    return { normal: await read(g), mirrored: await read(mirrorGrey(g)) };
  };
  const cat = await Promise.all(classes.map((c) => feats(c.iconicPath)));
  const per: Record<string, number> = {};
  let ok = 0, total = 0, falsePairs = 0, siblingFalse = 0;
  const misses: string[] = [];
  for (const kind of kinds) {
    per[kind] = 0;
    for (const [i, c] of classes.entries()) {
      const q = await feats(path.join(repoRoot, '.cache', 'bench', 'reseller', 's13', `${c.id}-${kind}.jpg`));
      const inl = cat.map((g) => verifyLocal(q, g.normal).inliers);
      const best = Math.max(...inl.filter((_, j) => j !== i));
      total++;
      if (inl[i] >= SAME_SOURCE.minInliers && inl[i] > best) (ok++, per[kind]++);
      else misses.push(`${kind}:${c.name}`);
      for (const [j, n] of inl.entries())
        if (j !== i && n >= SAME_SOURCE.minInliers) (falsePairs++, classes[j].coarseId === c.coarseId && siblingFalse++);
    }
  }
  console.log(`${name}: verified ${ok}/${total} ${JSON.stringify(per)}; pairs with other products at ≥ ${SAME_SOURCE.minInliers} inliers ${falsePairs} (same coarse class ${siblingFalse})`);
  console.log(`  misses: ${misses.join(' ')}`);
}
process.exit(0);
