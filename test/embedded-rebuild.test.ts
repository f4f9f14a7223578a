// The embedded backend's rebuild on disk: a crash in the middle of a build (the data directory as it was
// at that moment, WAL files included) reopens on the old store and removes the partial one; a crash after
// the CURRENT switch but before the old files were deleted reopens on the new store and removes the old.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { DIMS, makeCorpus } from './contract/synthetic.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'embedded-rebuild-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const open = async (dir: string) => {
  const b = new EmbeddedBackend({ dir, dims: DIMS, exactBelow: 20_000 });
  await b.init();
  return b;
};
const ids = async (b: EmbeddedBackend) => {
  const out: string[] = [];
  for await (const batch of b.scan(100)) out.push(...batch.map((r) => r.product.id));
  return out.sort();
};
const sqliteFiles = (dir: string) => fs.readdirSync(dir).filter((f) => /\.sqlite$/.test(f)).sort();

describe('embedded rebuild on disk', () => {
  const corpus = makeCorpus(60);
  const live = corpus.records.slice(0, 40);
  const rebuilt = corpus.records.slice(20, 60);

  it('a crash mid-build reopens on the old store; the partial store is removed', async () => {
    const dir = path.join(tmp, 'a');
    const crashed = path.join(tmp, 'a-crashed');
    const b = await open(dir);
    await b.upsert(live);
    await expect(
      b.rebuild(async (write) => {
        await write(rebuilt.slice(0, 25));
        // the disk as a kill -9 at this moment would leave it
        fs.cpSync(dir, crashed, { recursive: true });
        throw new Error('stop here');
      }),
    ).rejects.toThrow('stop here');
    await b.close();
    expect(sqliteFiles(crashed)).toEqual(['catalogue-v1.sqlite', 'catalogue.sqlite']);
    const c = await open(crashed);
    expect(c.currentGenerationNumber()).toBe(0);
    expect(await ids(c)).toEqual(live.map((r) => r.product.id).sort());
    expect(sqliteFiles(crashed)).toEqual(['catalogue.sqlite']);
    await c.close();
  });

  it('after the switch, a reopen finds the new store, even if the old files were not deleted yet', async () => {
    const dir = path.join(tmp, 'b');
    const b = await open(dir);
    await b.upsert(live);
    const res = await b.rebuild(async (write) => void (await write(rebuilt)));
    expect(res).toEqual({ written: 40, failed: 0, superseded: 0 });
    expect(b.currentGenerationNumber()).toBe(1);
    expect(await ids(b)).toEqual(rebuilt.map((r) => r.product.id).sort());
    await b.close();
    expect(fs.readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim()).toBe('1');
    expect(sqliteFiles(dir)).toEqual(['catalogue-v1.sqlite']);
    // as if the process died between the CURRENT rename and the deletion of generation 0
    fs.writeFileSync(path.join(dir, 'catalogue.sqlite'), 'old generation left behind');
    const c = await open(dir);
    expect(await ids(c)).toEqual(rebuilt.map((r) => r.product.id).sort());
    expect(sqliteFiles(dir)).toEqual(['catalogue-v1.sqlite']);
    // and the next rebuild goes on to generation 2
    await c.rebuild(async (write) => void (await write(live)));
    expect(c.currentGenerationNumber()).toBe(2);
    await c.close();
    const d = await open(dir);
    expect(await ids(d)).toEqual(live.map((r) => r.product.id).sort());
    await d.close();
  });
});
