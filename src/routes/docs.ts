// The OpenAPI document the route schemas produce, and a docs page served from the local swagger-ui-dist
// package (no CDN: the service must work offline).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { App } from './common.ts';

const require = createRequire(import.meta.url);
const uiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css',
  'swagger-ui-bundle.js': 'text/javascript',
};

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sourcing search API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });</script></body></html>`;

export const register = (app: App) => {
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'sourcing search',
      version: '0.1.0',
      description: 'Find where a product comes from: same-source listings with the elected source, and substitutes with price differences.',
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'API key from API_KEYS' });
  app.get('/docs', (c) => c.html(PAGE));
  app.get('/docs/assets/:file', (c) => {
    const file = c.req.param('file');
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined; // not 'constructor' & co.
    if (!type) return c.json({ error: { code: 'not_found', message: 'no such asset' } }, 404);
    return c.body(fs.readFileSync(path.join(uiDir, file)), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
};
