// The CLI as a real child process, killed with SIGKILL half-way through an index job and run again: the
// second run resumes after the checkpoint and the index ends with exactly the feed's good listings (none
// lost, none twice), and the errors report names each bad line once. On both backends.
//
// The CLI runs as `node --import tsx src/cli.ts` — what `npx sourcing` (bin/sourcing.js) runs, minus the
// npx wrapper process, so that SIGKILL hits the job runner itself.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Backend } from '../src/index/backend.ts';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { ElasticsearchBackend } from '../src/index/elasticsearch/backend.ts';
import { readCheckpoint, jobFiles } from '../src/jobs/checkpoint.ts';
import { readErrors } from '../src/jobs/errors.ts';
import { commandJobId } from '../src/jobs/manager.ts';
import { INDEX_DIMS } from '../src/vision/projection.ts';
import { makeFeed } from './support/feed.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const esUrl = inject('esUrl');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-kill-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  proc: ChildProcess;
}

function cli(args: string[], env: Record<string, string>): Run {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, EVIDENCE_OCR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    }),
  );
  return { out: () => out, exited, proc };
}

async function idsOf(b: Backend): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of b.scan(500)) out.push(...batch.map((r) => r.product.id));
  return out.sort();
}

for (const backend of ['embedded', 'elasticsearch'] as const) {
  describe.skipIf(backend === 'elasticsearch' && !esUrl)(`kill -9 half-way on ${backend}`, () => {
    it('the re-run resumes and ends with exactly the right documents', async () => {
      const dir = path.join(tmp, backend);
      const dataDir = path.join(dir, 'data');
      const index = `jobs_kill_${Date.now().toString(36)}`;
      const env: Record<string, string> =
        backend === 'elasticsearch' ? { DATA_DIR: dataDir, SEARCH_BACKEND: 'elasticsearch', ES_URL: esUrl, ES_INDEX: index } : { DATA_DIR: dataDir, SEARCH_BACKEND: 'embedded' };
      // 200 listings, every 25th bad
      const feed = await makeFeed(dir, 200, { badEvery: 25, photos: 80 });
      const open = async (): Promise<Backend> => {
        const b: Backend =
          backend === 'elasticsearch'
            ? new ElasticsearchBackend({ url: esUrl, index, dims: INDEX_DIMS })
            : new EmbeddedBackend({ dir: path.join(dataDir, 'embedded'), dims: INDEX_DIMS, exactBelow: 20_000 });
        await b.init();
        return b;
      };

      // 1. run, and SIGKILL once the progress shows more than 30% done
      const first = cli(['index', feed.file, '--batch-size', '16'], env);
      let pct = 0;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const m = [...first.out().matchAll(/progress: (\d+)\/200/g)].pop();
        pct = m ? Number(m[1]) / 200 : 0;
        if (pct > 0.3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(pct, first.out()).toBeGreaterThan(0.3);
      first.proc.kill('SIGKILL');
      const ex = await first.exited;
      expect(ex.signal).toBe('SIGKILL');

      // acknowledged work is there: every good line up to the checkpoint is stored
      const jobDir = path.join(dataDir, 'jobs', commandJobId('index', undefined, feed.file));
      const cp = readCheckpoint(jobFiles(jobDir).checkpoint);
      expect(cp).not.toBeNull();
      expect(cp!.line).toBeGreaterThan(0);
      expect(cp!.line).toBeLessThan(200);
      let b = await open();
      const afterKill = await idsOf(b);
      await b.close();
      const ackedGood = feed.good.filter((id) => Number(id.slice(5)) <= cp!.line);
      expect(afterKill).toEqual(expect.arrayContaining(ackedGood));

      // 2. the same command again: resumes after the checkpoint and completes
      const second = cli(['index', feed.file, '--batch-size', '16'], env);
      const ex2 = await second.exited;
      expect(ex2.code, second.out()).toBe(0);
      expect(second.out()).toContain(`resumed after line ${cp!.line}`);
      expect(second.out()).toContain('completed_with_errors');
      // the lines beyond the checkpoint already written before the kill are skipped, not embedded again
      const final = /progress: 200\/200 100\.0% done (\d+) skipped (\d+) failed (\d+)/.exec(second.out());
      expect(final, second.out()).not.toBeNull();
      const [done, skipped, failed] = final!.slice(1).map(Number);
      expect(failed).toBe(feed.errors.length);
      expect(done + skipped).toBe(feed.good.length);
      expect(skipped).toBeGreaterThanOrEqual(afterKill.length - ackedGood.length);

      // exactly the right documents, none twice, and each bad line reported once
      b = await open();
      expect(await idsOf(b)).toEqual([...feed.good].sort());
      expect(await b.count()).toBe(feed.good.length);
      const recs = await b.getMany(feed.good.slice(0, 20));
      for (const r of recs.values()) expect(r.images).toHaveLength(1);
      if (backend === 'elasticsearch') await (b as ElasticsearchBackend).drop();
      await b.close();
      expect(readErrors(jobFiles(jobDir).errors).map(({ line, id, code }) => ({ line, id, code }))).toEqual(feed.errors);
    }, 240_000);
  });
}

// Ctrl-C on the CLI: once cancels (exit 130, acknowledged work kept), twice quits at once, also while the
// vision model is in the middle of a run on its worker thread (onnxruntime-node aborts the whole process,
// exit 134, when that thread is ended mid-run).
describe('Ctrl-C on the CLI', () => {
  it.each([1, 2])('pressed %i time(s) mid-job exits with 130, not a crash, and keeps what was acknowledged', async (presses) => {
    const dir = path.join(tmp, `sigint-${presses}`);
    const dataDir = path.join(dir, 'data');
    const feed = await makeFeed(dir, 200, { badEvery: 0, photos: 80 });
    const run = cli(['index', feed.file, '--batch-size', '8'], { DATA_DIR: dataDir, SEARCH_BACKEND: 'embedded', EVIDENCE_LOCAL: '0' });
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && !/progress: (?:[2-9]\d|1\d\d)\/200/.test(run.out())) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < presses; i++) run.proc.kill('SIGINT');
    const ex = await run.exited;
    expect(run.out()).not.toContain('terminate called');
    expect(ex.code, run.out().slice(-2000)).toBe(130);
    const cp = readCheckpoint(jobFiles(path.join(dataDir, 'jobs', commandJobId('index', undefined, feed.file))).checkpoint);
    const b = new EmbeddedBackend({ dir: path.join(dataDir, 'embedded'), dims: INDEX_DIMS, exactBelow: 20_000 });
    await b.init();
    const stored = await idsOf(b);
    await b.close();
    const acked = feed.good.filter((id) => Number(id.slice(5)) <= (cp?.line ?? 0));
    expect(stored).toEqual(expect.arrayContaining(acked));
  }, 180_000);
});
