// What the evidence costs: a photo query end to end (embedding, ORB on the photo and its mirror, OCR,
// retrieval, verification of every candidate, the answer) on a catalogue of N listings, and indexing cost
// per image with and without OCR.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { ProjectionState } from '../src/index/methods/projection.ts';
import { buildRecord } from '../src/index/methods/ingest.ts';
import type { IndexRecord } from '../src/index/backend.ts';
import { search } from '../src/match/search.ts';
import type { Services } from '../src/services.ts';
import { INDEX_DIMS } from '../src/vision/projection.ts';
import { encodeLocal } from '../src/vision/local/index.ts';
import type { ImageEmbedding } from '../src/vision/embedder.ts';
import type { Inspections } from './inspect-cache.ts';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

export interface CostReport {
  n: number;
  queryP50: number;
  queryP95: number;
  stages: Record<string, number>;
  indexWithOcr: number;
  indexWithoutOcr: number;
}

/**
 * `gallery`: real images with cached embeddings and inspections; repeated under new ids up to `n` listings
 * (the evidence work per query depends on the candidates, not on how the catalogue was made).
 */
export async function benchSourcingCost(
  base: Services,
  gallery: Array<{ file: string; title: string }>,
  emb: Map<string, ImageEmbedding>,
  insp: Inspections,
  queries: string[],
  n: number,
  log: (s: string) => void,
): Promise<CostReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cost-'));
  const backend = new EmbeddedBackend({ dir, dims: INDEX_DIMS, exactBelow: base.config.search.exactBelow });
  await backend.init();
  const projection = await ProjectionState.load(backend, base.embedder.dims);
  const s: Services = { ...base, backend, projection };
  let batch: IndexRecord[] = [];
  for (let i = 0; i < n; i++) {
    const g = gallery[i % gallery.length];
    const e = emb.get(g.file)!;
    const x = insp.get(g.file);
    batch.push({
      product: { id: `l-${i}`, title: g.title, description: '', categoryPath: [], attributes: {}, images: [{ ref: `l-${i}` }], updatedAt: '', modelVersion: null },
      images: [{ idx: 0, descriptor: e.descriptor, vector: await projection.apply(e.descriptor), phash: e.phash }],
      tokens: [],
      projectionVersion: projection.current.version,
      contentHash: `l-${i}`,
      extras: x ? { ocrText: x.ocrText, local: [x.local ? new Uint8Array(encodeLocal(x.local.normal)) : null], sourceGroupId: `l-${i}` } : undefined,
    });
    if (batch.length === 1000) (await backend.upsert(batch), (batch = []));
  }
  if (batch.length) await backend.upsert(batch);
  await projection.refit(backend, { shrink: base.config.whitening.shrink, maxSamples: 512 });
  await projection.reproject(backend);

  const times: number[] = [];
  const stages: Record<string, number[]> = {};
  // warm-up: models loaded, caches filled
  for (const q of queries.slice(0, 3)) await search(s, { image: fs.readFileSync(q), limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' });
  for (const q of queries) {
    const bytes = fs.readFileSync(q);
    const t = performance.now();
    const a = await search(s, { image: bytes, limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' });
    times.push(performance.now() - t);
    for (const [k, v] of Object.entries(a.timings)) (stages[k] ??= []).push(v);
  }
  // indexing: the whole buildRecord (decode, embed, ORB, OCR at the index scales) per one-image listing
  const index = async (svc: Services) => {
    const ts: number[] = [];
    for (const q of queries.slice(0, 20)) {
      const t = performance.now();
      await buildRecord('x', { title: 'x', description: '', categoryPath: [], attributes: {}, images: [{ base64: fs.readFileSync(q).toString('base64') }] }, svc);
      ts.push(performance.now() - t);
    }
    return pct(ts, 0.5);
  };
  const indexWithOcr = await index(s);
  const indexWithoutOcr = await index({ ...s, ocr: null });
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const report = {
    n,
    queryP50: pct(times, 0.5),
    queryP95: pct(times, 0.95),
    stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, pct(v, 0.5)])),
    indexWithOcr,
    indexWithoutOcr,
  };
  log(`  photo query on ${n.toLocaleString('en')} listings, all evidence: p50 ${report.queryP50.toFixed(0)} ms, p95 ${report.queryP95.toFixed(0)} ms (${queries.length} phone photos; goal p50 ≤ 250 ms)`);
  log(`  stage medians (ms; embedding, ORB and OCR run side by side): ${Object.entries(report.stages).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  log(`  indexing per one-image listing (decode, embed, ORB${s.ocr ? ', OCR ×' + s.config.evidence.ocrIndexScales.join('/') : ''}): p50 ${indexWithOcr.toFixed(0)} ms with OCR, ${indexWithoutOcr.toFixed(0)} ms without`);
  return report;
}
