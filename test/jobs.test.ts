// Batch jobs on both backends (embedded, and the test Elasticsearch), with the real models and real Grocery
// photos: a feed with 5% bad items, an idempotent re-run, a model change re-embedding exactly the stale
// records, a full rebuild while searches run, and cancellation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SearchAnswer } from '../src/schema/search.ts';
import { readErrors } from '../src/jobs/errors.ts';
import type { JobManager, JobSpec, JobState } from '../src/jobs/manager.ts';
import { tokenize } from '../src/text/tokenize.ts';
import { decodeLocal, encodeLocal } from '../src/vision/local/index.ts';
import { LOCAL_RULE, ORB_FEATURES } from '../src/vision/local/orb-core.mjs';
import { groceryPhotos, makeFeed, type Feed } from './support/feed.ts';
import { makeTestEnv, type TestEnv } from './support/services.ts';

const esUrl = inject('esUrl');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sortedIds = (xs: string[]) => [...xs].sort();

async function allIds(env: TestEnv): Promise<string[]> {
  const out: string[] = [];
  for await (const b of env.services.backend.scan(200)) out.push(...b.map((r) => r.product.id));
  return out.sort();
}

for (const backend of ['embedded', 'elasticsearch'] as const) {
  describe.skipIf(backend === 'elasticsearch' && !esUrl)(`batch jobs on ${backend}`, () => {
    let env: TestEnv;
    let jobs: JobManager;
    let feed: Feed;
    const dir = path.join(tmp, backend);
    let n = 0;
    const run = async (spec: Omit<JobSpec, 'id' | 'allowPaths' | 'origin'> & { id?: string }): Promise<JobState> => {
      const { done } = jobs.submit({ id: spec.id ?? `t${++n}`, allowPaths: true, origin: 'cli', ocr: false, ...spec });
      return done;
    };

    beforeAll(async () => {
      const index = `jobs_${backend}_${Date.now().toString(36)}`;
      env = await makeTestEnv(backend === 'elasticsearch' ? { backend: 'elasticsearch', es: { url: esUrl, index } } : {});
      jobs = env.services.jobs!;
      // 100 lines, every 20th bad (5%): a missing photo, corrupt bytes, a line that is not JSON, a bad price
      feed = await makeFeed(dir, 100, { badEvery: 20, photos: 40 });
    });
    afterAll(async () => {
      if (!env) return;
      if (backend === 'elasticsearch') await (env.services.backend as unknown as { drop(): Promise<void> }).drop().catch(() => undefined);
      await env.close();
    });

    it('a feed with 5% bad items completes with an accurate errors report', async () => {
      const st = await run({ id: 'feed', kind: 'index', input: feed.file });
      expect(st.status).toBe('completed_with_errors');
      expect(st.progress).toMatchObject({ total: 100, processed: 100, done: 95, failed: 5, skipped: 0, etaSeconds: 0 });
      const errs = readErrors(jobs.errorsFile('feed'));
      expect(errs.map(({ line, id, code }) => ({ line, id, code }))).toEqual(feed.errors);
      for (const e of errs) expect(e.message.length).toBeGreaterThan(5);
      expect(await env.services.backend.count()).toBe(95);
      expect(await allIds(env)).toEqual(sortedIds(feed.good));
      // the stored record is the feed's
      const r = await env.services.backend.get('item-000007');
      expect(r!.product.title).toBe(JSON.parse(fs.readFileSync(feed.file, 'utf8').split('\n')[6]).title);
      expect(r!.images).toHaveLength(1);
      // the job's view has per-stage times and the errors report is on disk only for this job
      expect(st.stageMs.embed).toBeGreaterThan(0);
      expect(st.stageMs.write).toBeGreaterThan(0);
    });

    it('re-running the unchanged feed re-embeds nothing', async () => {
      const stamp = async () => new Map([...(await env.services.backend.getMany(feed.good)).values()].map((r) => [r.product.id, r.product.updatedAt]));
      const before = await stamp();
      const st = await run({ id: 'feed', kind: 'index', input: feed.file });
      expect(st.status).toBe('completed_with_errors');
      expect(st.progress).toMatchObject({ done: 0, skipped: 95, failed: 5 });
      // not one record written again (only the corrupt image reached the model, and failed there)
      expect(await stamp()).toEqual(before);
      expect(st.stageMs.embed).toBeLessThan(200);
      // the report is rewritten, not appended to
      expect(readErrors(jobs.errorsFile('feed'))).toHaveLength(5);
    });

    it('a model-version change re-embeds exactly the stale records', async () => {
      const staleIds = feed.good.filter((_, i) => i % 9 === 0);
      const recs = await env.services.backend.getMany(staleIds);
      // records as an older vision model made them
      await env.services.backend.upsert([...recs.values()].map((r) => ({ ...r, product: { ...r.product, modelVersion: 'older-model-1' } })));
      const untouched = await env.services.backend.get(feed.good[1]);
      const st = await run({ kind: 'reindex', mode: 'stale', input: feed.file });
      expect(st.progress).toMatchObject({ done: staleIds.length, skipped: 95 - staleIds.length, failed: 5 });
      const after = await env.services.backend.getMany(staleIds);
      for (const id of staleIds) expect(after.get(id)!.product.modelVersion).toBe(env.services.embedder.modelVersion);
      expect((await env.services.backend.get(feed.good[1]))!.product.updatedAt).toBe(untouched!.product.updatedAt);
    });

    it('local features read before the current extraction rule are read again exactly where the rule changes them', async () => {
      const [oldLow, oldMany, newLow] = [feed.good[2], feed.good[3], feed.good[4]];
      const recs = await env.services.backend.getMany([oldLow, oldMany, newLow]);
      const rewrite = (id: string, count: number, rule: number | undefined) => {
        const r = recs.get(id)!;
        const f = decodeLocal(r.extras!.local![0]!);
        expect(f.rule).toBe(LOCAL_RULE);
        expect(f.count).toBeGreaterThanOrEqual(count);
        const g = { ...f, count, xy: f.xy.slice(0, 2 * count), desc: f.desc.slice(0, 32 * count), rule };
        return { ...r, extras: { ...r.extras, local: [new Uint8Array(encodeLocal(g))] } };
      };
      await env.services.backend.upsert([
        rewrite(oldLow, 10, undefined), // a sparse reading stored before the rule: out of date
        rewrite(oldMany, ORB_FEATURES, undefined), // stored before the rule, but full: the rule would not change it
        rewrite(newLow, 10, LOCAL_RULE), // sparse under the current rule: current
      ]);
      const stamp = recs.get(oldMany)!.product.updatedAt;
      const st = await run({ kind: 'reindex', mode: 'stale', input: feed.file });
      expect(st.progress).toMatchObject({ done: 1, skipped: 94, failed: 5 });
      const after = await env.services.backend.getMany([oldLow, oldMany, newLow]);
      const again = decodeLocal(after.get(oldLow)!.extras!.local![0]!);
      expect(again.rule).toBe(LOCAL_RULE);
      expect(again.count).toBe(decodeLocal(recs.get(oldLow)!.extras!.local![0]!).count);
      expect(after.get(oldMany)!.product.updatedAt).toBe(stamp);
      expect(decodeLocal(after.get(newLow)!.extras!.local![0]!).count).toBe(10);
    });

    it('a full rebuild swaps in the new index while searches keep answering (never an error, never empty)', async () => {
      // the new catalogue: the first 60 lines, retitled (so re-embedded), and 10 new listings
      const lines = fs.readFileSync(feed.file, 'utf8').split('\n').filter(Boolean);
      const next = lines.slice(0, 60).map((l) => {
        try {
          const o = JSON.parse(l);
          return JSON.stringify({ ...o, title: `${o.title} rebuilt` });
        } catch {
          return l;
        }
      });
      const extra = await makeFeed(path.join(dir, 'extra'), 10, { prefix: 'new', photos: 10, seed: 5 });
      const file = path.join(dir, 'rebuild.jsonl');
      fs.writeFileSync(file, [...next, ...fs.readFileSync(extra.file, 'utf8').split('\n').filter(Boolean)].join('\n') + '\n');
      const expected = sortedIds([...feed.good.filter((id) => Number(id.slice(5)) <= 60), ...extra.good]);

      const probe = (await env.services.backend.get('item-000001'))!;
      const tokens = tokenize('Milk');
      let stop = false;
      let searches = 0;
      const failures: string[] = [];
      const loop = (async () => {
        while (!stop) {
          try {
            const res = await env.app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'Milk' }) });
            if (res.status !== 200) failures.push(`search answered ${res.status}: ${await res.text()}`);
            else {
              const a = SearchAnswer.parse(await res.json());
              if (a.sameSource.length + a.substitutes.length === 0) failures.push('empty search answer');
            }
            const [k, t] = await Promise.all([env.services.backend.knn(probe.images[0].vector, { k: 5 }), env.services.backend.text(tokens, { k: 5 })]);
            if (!k.length || !t.length) failures.push(`empty backend answer (knn ${k.length}, text ${t.length})`);
            searches++;
          } catch (e) {
            failures.push(String(e));
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const st = await run({ kind: 'reindex', mode: 'full', input: file });
      stop = true;
      await loop;
      expect(st.status).toBe('completed_with_errors'); // lines 20, 40 and 60 of the old feed are still bad
      expect(st.progress).toMatchObject({ done: expected.length, failed: 3 });
      expect(failures).toEqual([]);
      expect(searches).toBeGreaterThan(5);
      expect(await allIds(env)).toEqual(expected);
      expect(await env.services.backend.count()).toBe(expected.length);
      expect((await env.services.backend.get('item-000001'))!.product.title).toMatch(/rebuilt$/);
    });

    it('cancellation stops promptly and leaves the live index untouched', async () => {
      const before = await allIds(env);
      const hashes = new Map([...(await env.services.backend.getMany(before)).values()].map((r) => [r.product.id, r.contentHash]));
      const big = await makeFeed(path.join(dir, 'big'), 400, { prefix: 'big', photos: 80, seed: 9 });

      // a full rebuild cancelled half-way: the new store is discarded
      const { done } = jobs.submit({ id: 'cancel-full', kind: 'reindex', mode: 'full', input: big.file, allowPaths: true, origin: 'cli', ocr: false });
      const until = async (f: () => boolean) => {
        for (let i = 0; i < 600 && !f(); i++) await new Promise((r) => setTimeout(r, 50));
      };
      await until(() => (jobs.get('cancel-full')?.progress.processed ?? 0) >= 70);
      const t0 = Date.now();
      jobs.cancel('cancel-full');
      const st = await done;
      const stopMs = Date.now() - t0;
      expect(st.status).toBe('cancelled');
      expect(stopMs).toBeLessThan(5000);
      expect(st.progress.processed).toBeLessThan(400);
      expect(await allIds(env)).toEqual(before);
      const now = await env.services.backend.getMany(before);
      for (const [id, h] of hashes) expect(now.get(id)!.contentHash).toBe(h);
      if (backend === 'embedded') {
        // only the current store generation is left on disk
        const files = fs.readdirSync(path.join(env.dataDir, 'embedded')).filter((f) => f.endsWith('.sqlite'));
        expect(files).toHaveLength(1);
      }

      // an incremental job cancelled: it stops promptly, and exactly what it acknowledged is written
      const inc = jobs.submit({ id: 'cancel-index', kind: 'index', input: big.file, allowPaths: true, origin: 'cli', ocr: false });
      await until(() => (jobs.get('cancel-index')?.progress.processed ?? 0) >= 70);
      const t1 = Date.now();
      jobs.cancel('cancel-index');
      const st2 = await inc.done;
      expect(st2.status).toBe('cancelled');
      expect(Date.now() - t1).toBeLessThan(5000);
      const bigNow = (await allIds(env)).filter((id) => id.startsWith('big-'));
      expect(bigNow.length).toBe(st2.progress.done);
      expect(bigNow.length).toBeLessThan(400);
      // nothing half-written: every stored record is complete
      for (const r of (await env.services.backend.getMany(bigNow)).values()) expect(r.images).toHaveLength(1);
    });

    it('a folder of images with a sidecar is indexed, one listing per image', async () => {
      const folder = path.join(dir, 'folder');
      fs.mkdirSync(folder, { recursive: true });
      const photos = (await groceryPhotos(60)).slice(50, 54);
      photos.forEach((p, i) => fs.copyFileSync(p, path.join(folder, `shot ${i}.jpg`)));
      fs.writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
      fs.writeFileSync(path.join(folder, 'sidecar.json'), JSON.stringify({ 'shot 1.jpg': { id: 'folder-one', title: 'Named by the sidecar', price: { amount: 9.9, currency: 'CNY' } }, 'shot 3.jpg': { price: { amount: -1 } } }));
      const st = await run({ kind: 'index', input: folder });
      expect(st.status).toBe('completed_with_errors');
      expect(st.progress).toMatchObject({ total: 4, done: 3, failed: 1 });
      const got = await env.services.backend.getMany(['shot-0', 'folder-one', 'shot-2', 'shot-3']);
      expect([...got.keys()].sort()).toEqual(['folder-one', 'shot-0', 'shot-2']);
      expect(got.get('folder-one')!.product).toMatchObject({ title: 'Named by the sidecar', price: { amount: 9.9 } });
      expect(got.get('shot-0')!.product.title).toBe('shot 0');
      expect(readErrors(jobs.errorsFile(`t${n}`)).map(({ line, id, code }) => ({ line, id, code }))).toEqual([{ line: 4, id: 'shot-3', code: 'invalid_record' }]);
    });
  });
}
