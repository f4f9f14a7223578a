import { createRoute, z } from '@hono/zod-openapi';
import { buildRecord, writeRecords } from '../index/methods/ingest.ts';
import { Product, ProductId, ProductInput } from '../schema/product.ts';
import { AppError } from '../errors.ts';
import { bearer, errorResponses, requireKey, type App } from './common.ts';

export const route = createRoute({
  method: 'put',
  path: '/v1/products/{id}',
  tags: ['products'],
  summary: 'Create or replace a product listing',
  description: 'Images are fetched (url, through the guarded fetcher) or decoded (base64), embedded and indexed before the answer; a 200 means the listing is durable.',
  security: bearer,
  request: {
    params: z.object({ id: ProductId }),
    body: { content: { 'application/json': { schema: ProductInput } }, required: true },
  },
  responses: {
    200: { content: { 'application/json': { schema: z.object({ product: Product, created: z.boolean() }) } }, description: 'stored' },
    ...errorResponses(400, 401, 413, 422, 503),
  },
});

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    requireKey(c);
    const s = c.get('services');
    const { id } = c.req.valid('param');
    const input = c.req.valid('json');
    if (input.images.some((i) => i.path !== undefined)) throw new AppError('path_not_allowed', 'images.path is only accepted from the operator CLI; send url or base64');
    const existed = (await s.backend.get(id)) !== null;
    const record = await buildRecord(id, input, s);
    const [res] = await writeRecords(s, [record]);
    if (!res.ok) throw new AppError('backend_unavailable', res.message);
    return c.json({ product: record.product, created: !existed }, 200);
  });
