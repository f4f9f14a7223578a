import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import { Product, ProductId } from '../schema/product.ts';
import { errorResponses, type App } from './common.ts';

export const route = createRoute({
  method: 'get',
  path: '/v1/products/{id}',
  tags: ['products'],
  summary: 'Read a product listing',
  request: { params: z.object({ id: ProductId }) },
  responses: {
    200: { content: { 'application/json': { schema: z.object({ product: Product }) } }, description: 'the listing' },
    ...errorResponses(400, 404, 503),
  },
});

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const rec = await c.get('services').backend.get(id);
    if (!rec) throw new AppError('not_found', `no product with id ${id}`);
    return c.json({ product: rec.product }, 200);
  });
