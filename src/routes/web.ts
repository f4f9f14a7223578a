// The buyer's page: GET / → web/dist/index.html, GET /assets/<file> → the bundle and stylesheet.
// Only plain file names that exist in web/dist are served (no directories, so no traversal).
import fs from 'node:fs/promises';
import path from 'node:path';
import { errorBody } from '../errors.ts';
import { WEB_DIST } from '../web/build.ts';
import type { App } from './common.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

// the page talks to this origin only: no fonts, scripts or images from anywhere else
const CSP = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

async function serveFile(name: string): Promise<Response | null> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes('..')) return null;
  const type = TYPES[path.extname(name)];
  if (!type) return null;
  const file = path.join(WEB_DIST, name);
  if (path.dirname(file) !== WEB_DIST) return null;
  let body: Buffer;
  try {
    body = await fs.readFile(file);
  } catch {
    return null;
  }
  return new Response(new Uint8Array(body), {
    headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'content-security-policy': CSP },
  });
}

export const register = (app: App) => {
  app.get('/', async (c) => {
    const res = await serveFile('index.html');
    return res ?? c.json(errorBody('not_found', 'the web page is not built: run npm run build:web'), 404);
  });
  app.get('/assets/*', async (c) => {
    const name = c.req.path.slice('/assets/'.length);
    const res = await serveFile(name);
    return res ?? c.json(errorBody('not_found', `no asset ${name}`), 404);
  });
};
