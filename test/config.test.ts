// Settings from the environment: counts must be whole numbers, weights any finite number, and a bad value
// stops the start naming the setting instead of running with NaN or a fraction of a thread.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, repoRoot } from '../src/config.ts';

describe('configuration from the environment', () => {
  it('has defaults for everything', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.search).toMatchObject({ candidates: 50, groupMates: 10, ocrWeight: 1, localWeight: 0.1 });
    expect(c.explicit).toEqual([]);
  });

  it('takes whole numbers for counts and fractions for weights', () => {
    const c = loadConfig({ SEARCH_CANDIDATES: '100', SEARCH_GROUP_MATES: '0', SEARCH_OCR_WEIGHT: '0.5', SEARCH_LOCAL_WEIGHT: '0', SUBSTITUTE_FLOOR: '0.4', WHITEN_SHRINK: '3', TEXT_SEMANTIC_FLOOR: '' });
    expect(c.search).toMatchObject({ candidates: 100, groupMates: 0, ocrWeight: 0.5, localWeight: 0, substituteFloor: 0.4 });
    expect(c.whitening.shrink).toBe(3);
    expect(c.text.semanticFloor).toBe(0.5); // empty = not set
    expect(c.explicit).toEqual(['SUBSTITUTE_FLOOR', 'WHITEN_SHRINK']);
  });

  for (const [name, value] of [
    ['JOBS_BATCH_SIZE', '6.5'],
    ['PORT', '-1'],
    ['SEARCH_CANDIDATES', 'fifty'],
    ['VISION_THREADS', '1e400'],
    ['SUBSTITUTE_FLOOR', 'abc'],
    ['SEARCH_OCR_WEIGHT', 'NaN'],
    // counts that 0 would break: a queue of concurrency 0 never runs, a bulk of 0 records never fills
    ['JOBS_BATCH_SIZE', '0'],
    ['JOBS_FETCH_CONCURRENCY', '0'],
    ['JOBS_WINDOW', '0'],
    ['VISION_THREADS', '0'],
    ['FETCH_TIMEOUT_MS', '0'],
  ] as const)
    it(`refuses ${name}=${value}, naming it`, () => {
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name} must be`));
    });

  it('takes 0 where it means something: any free port, no group mates, no redirects, ORB on the calling thread', () => {
    const c = loadConfig({ PORT: '0', SEARCH_GROUP_MATES: '0', FETCH_MAX_REDIRECTS: '0', EVIDENCE_LOCAL_WORKERS: '0', EXACT_KNN_BELOW: '0' });
    expect(c.port).toBe(0);
    expect(c.search).toMatchObject({ groupMates: 0, exactBelow: 0 });
    expect(c.fetch.maxRedirects).toBe(0);
    expect(c.evidence.localWorkers).toBe(0);
    expect(() => loadConfig({ JOBS_BATCH_SIZE: '0' })).toThrow('JOBS_BATCH_SIZE must be a whole number ≥ 1, got 0');
  });

  it('the server and the CLI stop on a bad setting with one line and exit code 2, before touching the data directory', () => {
    const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
    for (const [args, env, name] of [
      [['src/main.ts'], { PORT: '8.5' }, 'PORT'],
      [['src/cli.ts', 'status'], { JOBS_WINDOW: '-3' }, 'JOBS_WINDOW'],
      // the CLI's own flags are settings too (an existing input, so that the setting is what stops it)
      [['src/cli.ts', 'index', 'package.json', '--batch-size', '0'], {}, 'JOBS_BATCH_SIZE'],
    ] as const) {
      const r = spawnSync(tsx, [...args], { cwd: repoRoot, env: { ...process.env, ...env, DATA_DIR: '/nonexistent/never-created' }, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^configuration: ${name} must be a whole number`))]);
    }
  });
});

