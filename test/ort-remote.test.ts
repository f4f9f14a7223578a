// The vision model on its own worker thread (src/util/ort-remote.ts): the same numbers as on the calling
// thread, the main thread free while it runs, failures as errors (never a hang), and no hold on the process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageEmbedder, type VisionManifest } from '../src/vision/embedder.ts';
import { ensureVisionModel } from '../src/vision/model-build.ts';
import { RemoteSession } from '../src/util/ort-remote.ts';
import { sessionOptions } from '../src/util/ort.ts';
import { INPUT_SIZE } from '../src/vision/decode.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = path.join(ROOT, 'demo', 'catalogue', 'images');
const LIMITS = { maxBytes: 10 * 1024 * 1024, maxPixels: 50_000_000, resize: 'fill' as const };
const photos = fs.readdirSync(IMAGES).filter((f) => f.endsWith('.jpg')).slice(0, 12).map((f) => fs.readFileSync(path.join(IMAGES, f)));

let manifest: VisionManifest;
let onWorker: ImageEmbedder;
let onMain: ImageEmbedder;

beforeAll(async () => {
  manifest = (await ensureVisionModel()).manifest.vision as VisionManifest;
  onWorker = await ImageEmbedder.create(manifest, { threads: 2, maxBatch: 2, decodeConcurrency: 2, limits: LIMITS, worker: true });
  onMain = await ImageEmbedder.create(manifest, { threads: 2, maxBatch: 2, decodeConcurrency: 2, limits: LIMITS, worker: false });
});
afterAll(async () => {
  await onWorker?.close();
  await onMain?.close();
});

describe('the vision model on a worker thread', () => {
  it('gives the descriptors the same model gives on the main thread, alone and in concurrent batches', async () => {
    const main = [];
    for (const b of photos) main.push(await onMain.embed(b, undefined, { mirrored: true }));
    const worker = await Promise.all(photos.map((b) => onWorker.embed(b, undefined, { mirrored: true })));
    for (let i = 0; i < photos.length; i++) {
      let d = 0;
      for (let j = 0; j < main[i].descriptor.length; j++) d = Math.max(d, Math.abs(main[i].descriptor[j] - worker[i].descriptor[j]), Math.abs(main[i].mirrored![j] - worker[i].mirrored![j]));
      // batches of 1 and 2 may take different kernels: equal to float rounding, not necessarily bit for bit
      expect(d).toBeLessThan(1e-5);
      expect(worker[i].phash).toBe(main[i].phash);
    }
  });

  it('with two runs in flight, gives each its own worker and the same descriptors', async () => {
    const two = await ImageEmbedder.create(manifest, { threads: 1, maxBatch: 1, inflight: 2, decodeConcurrency: 2, limits: LIMITS, worker: true });
    try {
      expect(two.workers).toBe(2);
      const got = await Promise.all(photos.map((b) => two.embed(b)));
      for (let i = 0; i < photos.length; i++) {
        const want = await onMain.embed(photos[i]);
        let d = 0;
        for (let j = 0; j < want.descriptor.length; j++) d = Math.max(d, Math.abs(want.descriptor[j] - got[i].descriptor[j]));
        expect(d).toBeLessThan(1e-5);
      }
      expect(two.stats.images).toBe(photos.length);
    } finally {
      await two.close();
    }
  });

  it('leaves the main thread free while the model runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t = performance.now();
    await Promise.all(photos.map((b) => onWorker.embed(b)));
    const ms = performance.now() - t;
    clearInterval(timer);
    // on the main thread every run (tens of ms) blocks the timers; on a worker they keep firing
    expect(ticks).toBeGreaterThan(ms / 4); // measured: about ms / 2 on a worker, ms / 10 on the main thread
  });

  it('turns a model error into a rejected promise, and keeps serving after it', async () => {
    const s = await RemoteSession.create(path.join(ROOT, 'models', path.basename(manifest.onnx.file)), sessionOptions(1));
    try {
      await expect(s.run({ [manifest.input.name]: { type: 'float32', data: new Float32Array(3 * 10 * 10), dims: [1, 3, 10, 10] } })).rejects.toThrow();
      const ok = await s.run({ [manifest.input.name]: { type: 'float32', data: new Float32Array(3 * INPUT_SIZE * INPUT_SIZE), dims: [1, 3, INPUT_SIZE, INPUT_SIZE] } });
      expect(ok[manifest.output.name].dims).toEqual([1, ...manifest.output.dims]);
    } finally {
      await s.release();
    }
    await expect(s.run({})).rejects.toThrow(/released/);
  });

  it('replaces a worker that died: the runs it held fail, the next run gets a new one', async () => {
    const s = await RemoteSession.create(path.join(ROOT, 'models', path.basename(manifest.onnx.file)), sessionOptions(1));
    const input = () => ({ [manifest.input.name]: { type: 'float32' as const, data: new Float32Array(3 * INPUT_SIZE * INPUT_SIZE), dims: [1, 3, INPUT_SIZE, INPUT_SIZE] } });
    try {
      const before = await s.run(input());
      const crashed = s.crash();
      // sent after the crash request, before the worker is gone: held by the dying worker, so they fail
      const held = await Promise.allSettled([1, 2].map(() => s.run(input())));
      await crashed;
      for (const r of held) {
        expect(r.status).toBe('rejected');
        expect(String((r as PromiseRejectedResult).reason)).toMatch(/crash requested|exited/);
      }
      const after = await s.run(input());
      expect(s.restarts).toBe(1);
      expect(after[manifest.output.name].data).toEqual(before[manifest.output.name].data);
    } finally {
      await s.release();
    }
  });

  it('fails to open a model that is not there, without hanging', async () => {
    await expect(RemoteSession.create(path.join(os.tmpdir(), 'no-such-model.onnx'), sessionOptions(1))).rejects.toThrow();
  });

  it('does not keep a process alive once its work is done', () => {
    const script = `
      import { ImageEmbedder } from './src/vision/embedder.ts';
      import { ensureVisionModel } from './src/vision/model-build.ts';
      import fs from 'node:fs';
      const { manifest } = await ensureVisionModel();
      const e = await ImageEmbedder.create(manifest.vision, { threads: 1, maxBatch: 2, decodeConcurrency: 1, limits: ${JSON.stringify(LIMITS)}, worker: true });
      const d = await e.embed(fs.readFileSync(${JSON.stringify(path.join(IMAGES, fs.readdirSync(IMAGES).find((f) => f.endsWith('.jpg'))!))}));
      console.log('dims', d.descriptor.length);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toContain(`dims ${manifest.output.dims[0]}`);
    expect(r.status).toBe(0); // exited by itself: a worker holding the event loop would hit the timeout (status null)
  });
});
