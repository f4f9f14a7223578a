// GET /v1/images/{id}/{idx}/{hash}: a listing's image for thumbnails, by the `ref` the answer gives.
// Image bytes are not stored by the backends, so this serves what can be found again without them:
// a demo-catalogue listing's file (only while the indexed listing is still that demo listing), or a
// listing's image URL fetched through the guarded fetcher. Anything else is 404 (the page shows a placeholder).
import fs from 'node:fs/promises';
import path from 'node:path';
import { readDemoCatalogue } from '../demo/catalogue.ts';
import { errorBody } from '../errors.ts';
import type { App } from './common.ts';

interface DemoEntry {
  title: string;
  supplierId?: string;
  paths: Array<string | undefined>;
}
let demo: Promise<Map<string, DemoEntry>> | null = null;
const demoListings = () =>
  (demo ??= (async () => {
    const m = new Map<string, DemoEntry>();
    try {
      for await (const p of readDemoCatalogue()) m.set(p.id, { title: p.input.title, supplierId: p.input.supplier?.id, paths: p.input.images.map((i) => i.path) });
    } catch {
      // no demo catalogue: only URL images can be served
    }
    return m;
  })());

const TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif' };

export const register = (app: App) =>
  app.get('/v1/images/:id/:idx/:hash', async (c) => {
    const s = c.get('services');
    const { id, idx, hash } = c.req.param();
    const notFound = () => c.json(errorBody('not_found', 'no image for this ref'), 404);
    const i = Number(idx);
    if (!/^\d{1,2}$/.test(idx) || !/^[0-9a-f]{6,64}$/.test(hash)) return notFound();
    const rec = await s.backend.get(id);
    const img = rec?.product.images[i];
    if (!rec || !img || img.ref !== `${id}/${idx}/${hash}`) return notFound();
    const headers = { 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' };
    const d = (await demoListings()).get(id);
    const file = d?.paths[i];
    if (d && file && d.title === rec.product.title && d.supplierId === rec.product.supplier?.id) {
      const type = TYPES[path.extname(file).toLowerCase()];
      if (type) {
        try {
          return new Response(new Uint8Array(await fs.readFile(file)), { headers: { ...headers, 'content-type': type } });
        } catch {
          return notFound();
        }
      }
    }
    if (img.url) {
      try {
        const r = await s.fetcher.fetchImage(img.url, s.config.image.maxBytes);
        if (/^image\/(jpeg|png|webp|gif|avif)/i.test(r.contentType)) return new Response(new Uint8Array(r.body), { headers: { ...headers, 'content-type': r.contentType } });
      } catch {
        // unreachable or refused: placeholder
      }
    }
    return notFound();
  });
