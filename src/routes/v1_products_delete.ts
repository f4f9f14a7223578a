import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import { ProductId } from '../schema/product.ts';
import { bearer, errorResponses, requireKey, type App } from './common.ts';

export const route = createRoute({
  method: 'delete',
  path: '/v1/products/{id}',
  tags: ['products'],
  summary: 'Delete a product listing',
  security: bearer,
  request: { params: z.object({ id: ProductId }) },
  responses: {
    200: { content: { 'application/json': { schema: z.object({ deleted: z.literal(true), id: z.string() }) } }, description: 'deleted' },
    ...errorResponses(400, 401, 404, 503),
  },
});

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    requireKey(c);
    const { id } = c.req.valid('param');
    const existed = await c.get('services').backend.delete(id);
    if (!existed) throw new AppError('not_found', `no product with id ${id}`);
    return c.json({ deleted: true as const, id }, 200);
  });
