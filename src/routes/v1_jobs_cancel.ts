import { createRoute, z } from '@hono/zod-openapi';
import { Job, JobId } from '../schema/job.ts';
import { bearer, errorResponses, requireKey, type App } from './common.ts';
import { jobOr404, jobView, managerOf } from './jobs_common.ts';

export const route = createRoute({
  method: 'post',
  path: '/v1/jobs/{id}/cancel',
  tags: ['jobs'],
  summary: 'Cancel a job',
  description:
    'Stops promptly: items not yet written are dropped (acknowledged ones stay), a full rebuild discards its new index and the live one is untouched. ' +
    'Cancelling a finished job changes nothing.',
  security: bearer,
  request: { params: z.object({ id: JobId }) },
  responses: {
    200: { content: { 'application/json': { schema: z.object({ job: Job }) } }, description: 'the job (status cancelled once it has stopped)' },
    ...errorResponses(400, 401, 404),
  },
});

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    requireKey(c);
    const { id } = c.req.valid('param');
    const m = managerOf(c.get('services'));
    jobOr404(m, id);
    return c.json({ job: jobView(m.cancel(id)) }, 200);
  });
