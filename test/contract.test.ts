// Runs the Backend contract against both backends: embedded (temp dir) and Elasticsearch (the test
// server from globalSetup, a unique index per run; skipped only when SKIP_ES=1).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { Backend } from '../src/index/backend.ts';
import { EmbeddedBackend } from '../src/index/embedded/backend.ts';
import { Client } from '@elastic/elasticsearch';
import { ElasticsearchBackend } from '../src/index/elasticsearch/backend.ts';
import { productMapping } from '../src/index/elasticsearch/mapping.ts';
import { backendContract, FILTER_CASES, observed } from './contract/backend.contract.ts';
import { DIMS, makeCorpus } from './contract/synthetic.ts';

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

describe.skipIf(!esUrl)('an Elasticsearch index from an older release', () => {
  it('gets the fields added since (listedAt) when opened, and then orders group members by them', async () => {
    const name = `old_${Date.now().toString(36)}`;
    const client = new Client({ node: esUrl });
    // the mapping as released before listedAt was indexed: strict, so a write carrying it would be refused
    const old = productMapping(DIMS, 512);
    delete old.properties!.listedAt;
    await client.indices.create({ index: `${name}_v1`, mappings: old });
    await client.indices.putAlias({ index: `${name}_v1`, name });
    const b = new ElasticsearchBackend({ url: esUrl, index: name, dims: DIMS });
    try {
      await b.init();
      const mapping = await client.indices.getMapping({ index: `${name}_v1` });
      expect(mapping[`${name}_v1`].mappings.properties?.listedAt).toMatchObject({ type: 'date' });
      const [r0, r1] = makeCorpus(2, 5).records;
      const recs = [
        { ...r0, product: { ...r0.product, id: 'late', supplier: undefined, price: undefined, listedAt: '2024-06-01T00:00:00Z' }, extras: { sourceGroupId: 'g' } },
        { ...r1, product: { ...r1.product, id: 'early', supplier: undefined, price: undefined, listedAt: '2024-01-01T00:00:00+08:00' }, extras: { sourceGroupId: 'g' } },
      ];
      expect((await b.upsert(recs)).every((r) => r.ok)).toBe(true);
      expect(await b.groupMembers(['g'], { k: 5 })).toEqual(['early', 'late']);
    } finally {
      await b.drop().catch(() => undefined);
      await b.close();
      await client.close();
    }
  }, 60_000);
});
