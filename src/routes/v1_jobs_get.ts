import { createRoute, z } from '@hono/zod-openapi';
import { Job, JobId } from '../schema/job.ts';
import { bearer, errorResponses, requireKey, type App } from './common.ts';
import { jobOr404, jobView, managerOf } from './jobs_common.ts';

export const route = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  tags: ['jobs'],
  summary: 'A job: status, done/failed/skipped counts, rate and ETA',
  security: bearer,
  request: { params: z.object({ id: JobId }) },
  responses: {
    200: { content: { 'application/json': { schema: z.object({ job: Job }) } }, description: 'the job' },
    ...errorResponses(400, 401, 404),
  },
});

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    requireKey(c);
    const { id } = c.req.valid('param');
    return c.json({ job: jobView(jobOr404(managerOf(c.get('services')), id)) }, 200);
  });
