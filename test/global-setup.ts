// vitest globalSetup: one Elasticsearch for the whole run. Tests read its URL with
// `inject('esUrl')` from 'vitest'; an empty string means Elasticsearch was skipped (SKIP_ES=1).
import type { TestProject } from 'vitest/node';
import { ensureElasticsearch } from './support/elasticsearch.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    esUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const es = await ensureElasticsearch();
  if ('skipped' in es) {
    console.warn(`[global-setup] Elasticsearch skipped: ${es.reason}`);
    project.provide('esUrl', '');
    return undefined;
  }
  project.provide('esUrl', es.url);
  return async () => {
    await es.stop();
  };
}
