// `npm start`: build the model if missing, index the demo catalogue (once), serve.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { closeServices, createServices, exitIfLocked } from './bootstrap.ts';
import { loadConfigOrExit } from './config.ts';
import { loadDemoCatalogue } from './demo/load.ts';
import { loadDictionary } from './text/translate.ts';
import { ensureWebBuilt } from './web/build.ts';

const config = loadConfigOrExit();
fs.mkdirSync(config.dataDir, { recursive: true });
if (!config.apiKeys.length) {
  // no key configured: make one for this data directory so that writes are never open by accident
  const keyFile = path.join(config.dataDir, 'api-key');
  if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  config.apiKeys = [fs.readFileSync(keyFile, 'utf8').trim()];
  console.log(`API_KEYS not set: write endpoints use the key in ${keyFile}`);
}

const t0 = Date.now();
const services = await createServices(config).catch(exitIfLocked);
if (process.env.DEMO_CATALOGUE !== '0') {
  const r = await loadDemoCatalogue(services);
  console.log(r.skipped ? 'demo catalogue already indexed' : `indexed ${r.indexed} demo listings in ${(r.ms / 1000).toFixed(1)} s`);
}
// the English → Chinese dictionary loads in the background, so the first English query need not wait for it
void loadDictionary().catch((e) => console.error(`translation dictionary not loaded: ${(e as Error).message}`));
await ensureWebBuilt((m) => console.log(m)).catch((e) => console.error(`web page not built (the API still serves): ${(e as Error).message}`));
const resumed = services.jobs?.resumeInterrupted() ?? [];
if (resumed.length) console.log(`resuming ${resumed.length} interrupted job(s): ${resumed.join(', ')}`);
const app = createApp(services);
const listings = await services.backend.count();
const server = serve({ fetch: app.fetch, port: config.port, hostname: process.env.HOST ?? '0.0.0.0' }, (info) => {
  console.log(`sourcing search (${services.backend.kind}, ${listings} listings) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s on http://localhost:${info.port}`);
});

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    server.close();
    void closeServices(services).finally(() => process.exit(0));
  });
