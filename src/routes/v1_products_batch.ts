import { createRoute, z } from '@hono/zod-openapi';
import PQueue from 'p-queue';
import { AppError } from '../errors.ts';
import { buildRecord, writeRecords } from '../index/methods/ingest.ts';
import { ProductId, ProductInput } from '../schema/product.ts';
import type { IndexRecord } from '../index/backend.ts';
import { bearer, errorResponses, requireKey, type App } from './common.ts';

const Item = z.object({ id: ProductId }).and(z.unknown()).openapi({ description: 'a ProductInput with its id' });

const ItemResult = z
  .object({ id: z.string().nullable(), ok: z.boolean(), error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }).optional() })
  .openapi('BatchItemResult');

export const route = createRoute({
  method: 'post',
  path: '/v1/products/batch',
  tags: ['products'],
  summary: 'Create or replace up to 100 listings; one result per item',
  description: 'Each item is validated, fetched and embedded on its own: a bad item fails alone and the others are stored. `ok: true` items are durable.',
  security: bearer,
  request: { body: { content: { 'application/json': { schema: z.object({ items: z.array(z.unknown()).min(1).max(100) }) } }, required: true } },
  responses: {
    200: {
      content: { 'application/json': { schema: z.object({ results: z.array(ItemResult), stored: z.number().int(), failed: z.number().int() }) } },
      description: 'per-item results, in request order',
    },
    ...errorResponses(400, 401, 413, 503),
  },
});
void Item;

type Result = z.infer<typeof ItemResult>;

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    requireKey(c);
    const s = c.get('services');
    const { items } = c.req.valid('json');
    const results: Result[] = new Array(items.length);
    const ready: Array<{ i: number; rec: IndexRecord }> = [];
    const q = new PQueue({ concurrency: s.config.vision.decodeConcurrency });
    await Promise.all(
      items.map((raw, i) =>
        q.add(async () => {
          const id = (raw as { id?: unknown })?.id;
          const idOk = ProductId.safeParse(id);
          if (!idOk.success) return void (results[i] = { id: typeof id === 'string' ? id : null, ok: false, error: { code: 'invalid_request', message: 'id is missing or invalid' } });
          const { id: _drop, ...rest } = raw as Record<string, unknown>;
          const parsed = ProductInput.safeParse(rest);
          if (!parsed.success) return void (results[i] = { id: idOk.data, ok: false, error: { code: 'invalid_request', message: 'the item is not a valid product', details: parsed.error.issues } });
          if (parsed.data.images.some((im) => im.path !== undefined))
            return void (results[i] = { id: idOk.data, ok: false, error: { code: 'path_not_allowed', message: 'images.path is only accepted from the operator CLI' } });
          try {
            ready.push({ i, rec: await buildRecord(idOk.data, parsed.data, s) });
          } catch (e) {
            const err = e instanceof AppError ? e : new AppError('internal', (e as Error).message);
            results[i] = { id: idOk.data, ok: false, error: { code: err.code, message: err.message } };
          }
        }),
      ),
    );
    // one durable write for everything that made it through; the same id twice keeps the later item
    const last = new Map<string, { i: number; rec: IndexRecord }>();
    for (const r of ready.sort((a, b) => a.i - b.i)) last.set(r.rec.product.id, r);
    const written = ready.length ? await writeRecords(s, [...last.values()].map((r) => r.rec)) : [];
    const byId = new Map(written.map((w) => [w.id, w]));
    for (const r of ready) {
      const w = byId.get(r.rec.product.id)!;
      results[r.i] = w.ok ? { id: w.id, ok: true } : { id: w.id, ok: false, error: { code: w.code, message: w.message } };
    }
    const stored = results.filter((r) => r.ok).length;
    return c.json({ results, stored, failed: results.length - stored }, 200);
  });
