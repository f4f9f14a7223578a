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
          schema: z.object({
            status: z.literal('ok'),
            backend: z.string(),
            products: z.number().int(),
            modelVersion: z.string(),
            projection: z.string(),
            textSearch: z
              .object({ mode: z.enum(['hybrid', 'keyword-only']), model: z.string().nullable(), reason: z.string().optional() })
              .openapi({ description: 'how words are searched: keyword and semantic (hybrid), or keyword only when the text model is absent' }),
          }),
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
    const textSearch = s.textEmbedder
      ? { mode: 'hybrid' as const, model: s.textEmbedder.modelVersion }
      : { mode: 'keyword-only' as const, model: null, ...(s.textModelMissing ? { reason: s.textModelMissing } : {}) };
    return c.json({ status: 'ok' as const, backend: s.backend.kind, products, modelVersion: s.embedder.modelVersion, projection: s.projection.current.version, textSearch }, 200);
  });
