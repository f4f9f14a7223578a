// Runs the Backend contract against both backends: embedded (temp dir) and Elasticsearch (the test
// server from globalSetup, a unique index per run; skipped only when SKIP_ES=1).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { Backend } from '../src/index/backend.ts';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { ElasticsearchBackend } from '../src/index/elasticsearch/backend.ts';
import { backendContract, FILTER_CASES, observed } from './contract/backend.contract.ts';
import { DIMS } from './contract/synthetic.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-embedded-'));
backendContract('embedded', async () => new EmbeddedBackend({ dir, dims: DIMS, exactBelow: 20_000 }), {
  cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
});

const esUrl = inject('esUrl');
const index = `contract_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
const es = (b: Backend) => b as ElasticsearchBackend;
backendContract('elasticsearch', async () => new ElasticsearchBackend({ url: esUrl, index, dims: DIMS }), {
  skip: esUrl ? undefined : 'SKIP_ES=1: no Elasticsearch',
  physicalIndex: (b) => es(b).currentIndex(),
  physicalExists: (b, name) => es(b).indexExists(name),
  cleanup: async () => {
    const b = new ElasticsearchBackend({ url: esUrl, index, dims: DIMS });
    await b.drop();
    await b.close();
  },
});

describe.skipIf(!esUrl)('both backends qualify the same products', () => {
  it('for every filter and text case', () => {
    const e = observed.embedded;
    const s = observed.elasticsearch;
    const cases = Object.keys(e);
    expect(cases.length).toBeGreaterThanOrEqual(Object.keys(FILTER_CASES).length * 2);
    expect(Object.keys(s).sort()).toEqual(cases.sort());
    for (const c of cases) expect(s[c], c).toEqual(e[c]);
  });
});
