// `npm run bench -- query-cost`: the photo-query cost of issue 4 (sourcing-cost.ts: 10,000 listings, all the
// evidence) on a gallery that needs no train photos read (the 81 catalogue images and their 810 reseller
// copies, seed 11, repeated under new ids), with the vision model on the main thread and on a worker thread,
// alternated, so that the two compare within one run. Reads (and caches) 891 images for OCR and ORB the
// first time: about 2 minutes.
import fs from 'node:fs';
import path from 'node:path';
import { embedderOptions } from '../src/bootstrap.ts';
import { repoRoot } from '../src/config.ts';
import { ALTERATIONS, makeCopy } from '../src/demo/reseller.ts';
import { classTitle, readClasses, readSplit } from '../src/demo/grocery.ts';
import { ImageEmbedder, type VisionManifest } from '../src/vision/embedder.ts';
import { ensureVisionModel } from '../src/vision/model-build.ts';
import type { Services } from '../src/services.ts';
import { embedFiles } from './embed-cache.ts';
import { inspectFiles } from './inspect-cache.ts';
import { benchSourcingCost, type CostReport } from './sourcing-cost.ts';
import { GALLERY_SEED } from './sourcing.ts';

export async function benchQueryCost(s: Services, log: (l: string) => void, rounds = 2): Promise<Array<{ worker: boolean; r: CostReport }>> {
  const config = s.config;
  const classes = await readClasses();
  const dir = path.join(repoRoot, '.cache', 'bench', 'reseller', `s${GALLERY_SEED}`);
  fs.mkdirSync(dir, { recursive: true });
  const gallery: Array<{ file: string; title: string }> = classes.map((c) => ({ file: c.iconicPath, title: classTitle(c.name) }));
  for (const c of classes)
    for (const [k, kind] of ALTERATIONS.entries()) {
      // the same files (and seeds) as the sourcing bench's other resellers
      const file = path.join(dir, `${c.id}-${kind}.jpg`);
      if (!fs.existsSync(file)) fs.writeFileSync(file, await makeCopy(fs.readFileSync(c.iconicPath), kind, GALLERY_SEED * 100_003 + c.id * 101 + k));
      gallery.push({ file, title: classTitle(c.name) });
    }
  const emb = await embedFiles(s.embedder, gallery.map((g) => g.file), `query-cost-${config.image.resize}`, log);
  const insp = new Map([
    ...(await inspectFiles(s, classes.map((c) => c.iconicPath), { scales: config.evidence.ocrIndexScales, tag: 'catalogue' }, log)),
    ...(await inspectFiles(s, gallery.slice(classes.length).map((g) => g.file), { scales: config.evidence.ocrScales, tag: 'copies' }, log)),
  ]);
  const queries = (await readSplit('test')).filter((_, i) => i % 60 === 0).map((q) => q.path);
  const { manifest } = await ensureVisionModel();
  const out: Array<{ worker: boolean; r: CostReport }> = [];
  for (let round = 0; round < rounds; round++)
    for (const worker of [false, true]) {
      const embedder = await ImageEmbedder.create(manifest.vision as VisionManifest, { ...embedderOptions(config), worker });
      log(`  round ${round + 1}, vision model on ${worker ? 'a worker thread' : 'the main thread'} (${queries.length} phone photos; gallery ${gallery.length} images repeated to 10,000 listings):`);
      const r = await benchSourcingCost({ ...s, embedder }, gallery, emb, insp, queries, 10_000, log);
      await embedder.close();
      out.push({ worker, r });
    }
  log('  | vision model | query p50 | p95 | embedding (median) | ORB (median) | OCR (median) |');
  log('  |---|---|---|---|---|---|');
  for (const { worker, r } of out)
    log(`  | ${worker ? 'worker thread' : 'main thread'} | ${r.queryP50.toFixed(0)} ms | ${r.queryP95.toFixed(0)} ms | ${r.stages.embedMs} ms | ${r.stages.localMs} ms | ${r.stages.ocrMs} ms |`);
  return out;
}
