// Reads image files for the evidence once (OCR text, ORB features as they are and mirrored) and caches the
// result on disk per settings, so that the quality and reseller benches and the evidence fit can be re-run
// without re-reading thousands of photos.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { repoRoot } from '../src/config.ts';
import type { Services } from '../src/services.ts';
import { inspectImage, type ImageInspection } from '../src/vision/inspect.ts';
import { decodeLocal, encodeLocal } from '../src/vision/local/index.ts';
import { extractLocal } from '../src/vision/local/features.ts';
import { LOCAL_RULE, ORB_FEATURES } from '../src/vision/local/orb-core.mjs';

/** Marks cache rows read under the current extraction rule. */
const RULE_TAG = `rule-${LOCAL_RULE}`;
import { colourGrid, mirrorGrid } from '../src/vision/local/colour.ts';

export type Inspections = Map<string, ImageInspection>;

export async function inspectFiles(
  s: Services,
  files: string[],
  opts: { scales: number[]; tag: string; concurrency?: number },
  log: (s: string) => void = console.log,
): Promise<Inspections> {
  const dir = path.join(repoRoot, '.cache', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const key = createHash('sha256').update(JSON.stringify({ v: 1, scales: opts.scales, ocr: !!s.ocr, local: s.config.evidence.local })).digest('hex').slice(0, 10);
  const file = path.join(dir, `inspect-${opts.tag}-${key}.jsonl`);
  const out: Inspections = new Map();
  const rows = new Map<string, CachedRow>();
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      rows.set(r.f, r);
      out.set(r.f, {
        ocrText: r.t,
        local: r.n ? { normal: decodeLocal(Buffer.from(r.n, 'base64')), mirrored: r.m ? decodeLocal(Buffer.from(r.m, 'base64')) : null } : null,
        localMs: r.lm,
        ocrMs: r.om,
      });
    }
  }
  if (s.config.evidence.local) await rereadUnderRule(out, rows, file, log);
  const todo = [...new Set(files)].filter((f) => !out.has(f));
  if (todo.length) {
    const t0 = Date.now();
    const fd = fs.openSync(file, 'a');
    let done = 0;
    const q = new PQueue({ concurrency: opts.concurrency ?? 2 });
    await Promise.all(
      todo.map((f) =>
        q.add(async () => {
          const r = await inspectImage(s, fs.readFileSync(f), { mirrored: true, ocrScales: opts.scales });
          out.set(f, r);
          const n = r.local ? encodeLocal(r.local.normal).toString('base64') : null;
          const m = r.local?.mirrored ? encodeLocal(r.local.mirrored).toString('base64') : null;
          fs.writeSync(fd, JSON.stringify({ f, t: r.ocrText, n, m, lm: r.localMs, om: r.ocrMs, lk: RULE_TAG }) + '\n');
          if (++done % 200 === 0) log(`  inspected ${done}/${todo.length} (${((done * 1000) / (Date.now() - t0)).toFixed(1)} img/s)`);
        }),
      ),
    );
    fs.closeSync(fd);
    log(`  inspected ${todo.length} images (${opts.tag}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  await backfillColour(out, files);
  return out;
}

interface CachedRow {
  f: string;
  t: string;
  n: string | null;
  m: string | null;
  lm?: number;
  om?: number;
  /** RULE_TAG when read under the current extraction rule (orb-core's LOCAL_RULE) */
  lk?: string | number;
}

/**
 * Entries cached before the current extraction rule are read again, ORB only, where the rule can change
 * them (fewer than ORB_FEATURES keypoints as they are or mirrored): the OCR text stays, so the caches do not
 * have to be rebuilt from scratch. The new row is appended and wins on the next load.
 */
async function rereadUnderRule(out: Inspections, rows: Map<string, CachedRow>, file: string, log: (s: string) => void) {
  const stale = [...rows.values()].filter((r) => {
    if (r.lk === RULE_TAG || !r.n) return false;
    const l = out.get(r.f)!.local!;
    return l.normal.count < ORB_FEATURES || (l.mirrored?.count ?? ORB_FEATURES) < ORB_FEATURES;
  });
  if (!stale.length) return;
  const t0 = Date.now();
  const fd = fs.openSync(file, 'a');
  const q = new PQueue({ concurrency: 2 });
  await Promise.all(
    stale.map((r) =>
      q.add(async () => {
        const { normal, mirrored } = await extractLocal(fs.readFileSync(r.f));
        out.set(r.f, { ...out.get(r.f)!, local: { normal, mirrored } });
        const row = { ...r, n: encodeLocal(normal).toString('base64'), m: encodeLocal(mirrored).toString('base64'), lk: RULE_TAG };
        fs.writeSync(fd, JSON.stringify(row) + '\n');
      }),
    ),
  );
  fs.closeSync(fd);
  log(`  read ${stale.length} images again under extraction rule ${LOCAL_RULE} (${path.basename(file)}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Entries cached before the local features carried colour get it from the file (cheap: a 32 px resize). */
async function backfillColour(out: Inspections, files: string[]) {
  const q = new PQueue({ concurrency: 4 });
  await Promise.all(
    [...new Set(files)].map((f) =>
      q.add(async () => {
        const r = out.get(f);
        if (!r?.local || r.local.normal.colour) return;
        const colour = await colourGrid(fs.readFileSync(f)).catch(() => undefined);
        if (!colour) return;
        r.local = { normal: { ...r.local.normal, colour }, mirrored: r.local.mirrored ? { ...r.local.mirrored, colour: mirrorGrid(colour) } : null };
      }),
    ),
  );
}
