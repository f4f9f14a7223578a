import { createRoute, z } from '@hono/zod-openapi';
import type { App } from './common.ts';

export const route = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['ops'],
  summary: 'Liveness and readiness',
  responses: {
    200: {
      content: {
        'application/json': {
          schema: z.object({ status: z.literal('ok'), backend: z.string(), products: z.number().int(), modelVersion: z.string(), projection: z.string() }),
        },
      },
      description: 'ready',
    },
    503: { description: 'the backend does not answer' },
  },
});

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    const s = c.get('services');
    const products = await s.backend.count();
    return c.json({ status: 'ok' as const, backend: s.backend.kind, products, modelVersion: s.embedder.modelVersion, projection: s.projection.current.version }, 200);
  });
