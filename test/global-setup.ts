// vitest globalSetup: one Elasticsearch for the whole run. Tests read its URL with
// `inject('esUrl')` from 'vitest'; an empty string means Elasticsearch was skipped (SKIP_ES=1).
import type { TestProject } from 'vitest/node';
import fs from 'node:fs';
import path from 'node:path';
import { groceryRoot } from '../src/demo/grocery.ts';
import { ensureElasticsearch } from './support/elasticsearch.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    esUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // the real-photo tests read the shared Grocery dataset: say where it was looked for, once, instead of
  // a file-not-found in every test that needs it
  const grocery = groceryRoot();
  if (!fs.existsSync(path.join(grocery, 'dataset', 'train.txt')))
    throw new Error(`the Grocery dataset is not at ${grocery}: clone the repository beside ../shared (the workplace's datasets) or set GROCERY_DIR to the dataset's folder`);
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
