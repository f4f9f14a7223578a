// Indexes the committed demo catalogue, with progress, then learns the catalogue's whitening. A second
// start finds the same catalogue hash in the index and skips all of it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { buildRecord, writeRecords } from '../index/methods/ingest.ts';
import type { IndexRecord } from '../index/backend.ts';
import type { Services } from '../services.ts';
import { DEFAULT_DEMO_CATALOGUE_DIR, readDemoCatalogue } from './catalogue.ts';

export async function loadDemoCatalogue(s: Services, dir = DEFAULT_DEMO_CATALOGUE_DIR): Promise<{ indexed: number; skipped: boolean; ms: number }> {
  const t0 = Date.now();
  const file = path.join(dir, 'catalogue.jsonl');
  const hash = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  // a new text model (or its arrival) re-indexes the demo listings, so that they all get text vectors; a
  // newly fitted evidence model re-forms the groups
  const key = `demo:${s.embedder.modelVersion}${s.textEmbedder ? `+${s.textEmbedder.modelVersion}` : ''}:${s.evidence?.version ?? 'no-evidence'}`;
  const ocrCache = readOcrCache(dir);
  const seen = await s.backend.getMeta(key);
  if (seen?.toString() === hash && (await s.backend.count()) > 0) return { indexed: 0, skipped: true, ms: Date.now() - t0 };

  const items: Array<{ id: string; input: any }> = [];
  for await (const p of readDemoCatalogue(dir)) items.push(p);
  const total = items.length;
  let done = 0;
  const tty = process.stdout.isTTY;
  const progress = () => {
    const rate = done / Math.max(0.001, (Date.now() - t0) / 1000);
    const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
    const line = `indexing demo catalogue: ${done}/${total} (${rate.toFixed(1)}/s, eta ${eta}s)`;
    if (tty) process.stdout.write(`\r${line}   `);
    else if (done === total || done % 50 === 0) s.log(line);
  };
  const q = new PQueue({ concurrency: s.config.vision.decodeConcurrency });
  let pending: IndexRecord[] = [];
  const flush = async () => {
    const batch = pending;
    pending = [];
    if (batch.length) await writeRecords(s, batch);
  };
  await Promise.all(
    items.map(({ id, input }) =>
      q.add(async () => {
        // await first: `pending.push(await …)` would capture the array before a concurrent flush swaps it
        const rec = await buildRecord(id, input, s, { allowPaths: true, ocrCache: (sha) => ocrCache.get(sha) });
        pending.push(rec);
        done++;
        if (pending.length >= 64) await flush();
        progress();
      }),
    ),
  );
  await flush();
  if (tty) process.stdout.write('\n');
  await s.projection.refit(s.backend, { log: s.log, shrink: s.config.whitening.shrink, maxSamples: s.config.whitening.maxSamples });
  await s.backend.setMeta(key, Buffer.from(hash));
  return { indexed: total, skipped: false, ms: Date.now() - t0 };
}

/** Text read from the demo images once (scripts/build-demo-ocr.ts), so that a first start needs no OCR. */
export const OCR_CACHE_FILE = 'ocr.json';

function readOcrCache(dir: string): Map<string, string> {
  const f = path.join(dir, OCR_CACHE_FILE);
  if (!fs.existsSync(f)) return new Map();
  const j = JSON.parse(fs.readFileSync(f, 'utf8')) as { scales: number[]; texts: Record<string, string> };
  return new Map(Object.entries(j.texts));
}
