// Real services (real model, real backend) on a throw-away data directory, for route and method tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app.ts';
import { closeServices, createServices } from '../../src/bootstrap.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Backend } from '../../src/index/backend.ts';
import type { Services } from '../../src/services.ts';

export const TEST_KEY = 'test-key-0123456789';

export interface TestEnv {
  services: Services;
  app: ReturnType<typeof createApp>;
  dataDir: string;
  close: () => Promise<void>;
}

export async function makeTestEnv(over: Partial<Config> = {}, backend?: Backend): Promise<TestEnv> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sourcing-test-'));
  const config = { ...loadConfig({ ...process.env, DATA_DIR: dataDir }), apiKeys: [TEST_KEY], ...over };
  const services = await createServices(config, { log: () => {}, backend });
  const app = createApp(services);
  return {
    services,
    app,
    dataDir,
    close: async () => {
      await closeServices(services);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const auth = { authorization: `Bearer ${TEST_KEY}` };
