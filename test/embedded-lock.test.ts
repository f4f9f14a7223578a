// One process per embedded data directory: a second opener (another backend in this process, or a CLI
// while the server runs) is refused with who holds it, before it reads or deletes anything; a lock left by
// a process that is gone (kill -9) is taken over.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { DataDirLockedError, LOCK_FILE } from '../src/index/embedded/lock.ts';
import { DIMS, makeCorpus } from './contract/synthetic.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'embedded-lock-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const backend = (dir: string) => new EmbeddedBackend({ dir, dims: DIMS, exactBelow: 20_000 });
const corpus = makeCorpus(30);

describe('embedded data directory lock', () => {
  it('a second backend on the same directory is refused, naming the holder, and gets in once the first closes', async () => {
    const dir = path.join(tmp, 'a');
    const a = backend(dir);
    await a.init();
    await a.upsert(corpus.records.slice(0, 10));
    const b = backend(dir);
    const err = await b.init().then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect(err.message).toContain(`process ${process.pid}`);
    expect(err.message).toContain('POST /v1/jobs');
    // the refused opener touched nothing: the holder still reads and writes
    await a.upsert(corpus.records.slice(10, 20));
    expect(await a.count()).toBe(20);
    await a.close();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    await b.init();
    expect(await b.count()).toBe(20);
    await b.close();
  });

  it('the lock dies with its process (kill -9), whatever its pid; a leftover LOCK note alone holds nothing', { timeout: 60_000 }, async () => {
    const dir = path.join(tmp, 'b');
    fs.mkdirSync(dir, { recursive: true });
    // another process takes the lock and keeps running
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', '-e', `import('./src/index/embedded/lock.ts').then((m) => { m.lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000); })`],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d) => String(d).includes('locked') && resolve());
      holder.on('exit', (c) => reject(new Error(`holder exited ${c}`)));
    });
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    const a = backend(dir);
    await expect(a.init()).rejects.toThrow(new RegExp(`in use by process ${holder.pid}`));
    holder.kill('SIGKILL');
    await exited;
    // the kernel dropped its lock: the note it left is stale and the directory opens
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
    await a.init();
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await a.close();
    // a note naming a running process (the test runner's parent) but no lock behind it does not block
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: os.hostname(), since: new Date().toISOString(), what: 'note only' }));
    const b = backend(dir);
    await b.init();
    await b.close();
  });

  it('the CLI on a directory the server holds exits 3 with one clear line, and leaves the holder as it was', { timeout: 120_000 }, async () => {
    const dataDir = path.join(tmp, 'c');
    const dir = path.join(dataDir, 'embedded');
    const held = backend(dir);
    await held.init();
    await held.upsert(corpus.records.slice(0, 5));
    const feed = path.join(tmp, 'feed.jsonl');
    fs.writeFileSync(feed, '');
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'index', feed, '--no-ocr'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, SEARCH_BACKEND: 'embedded' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    expect(code, out).toBe(3);
    expect(out).toMatch(new RegExp(`in use by process ${process.pid}`));
    expect(out).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(await held.count()).toBe(5);
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await held.close();
  });
});
