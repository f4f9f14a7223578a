import fs from 'node:fs';
import { createRoute, z } from '@hono/zod-openapi';
import { Job, JobId } from '../schema/job.ts';
import { bearer, errorResponses, requireKey, type App } from './common.ts';
import { jobOr404, jobView, managerOf } from './jobs_common.ts';

export const route = createRoute({
  method: 'get',
  path: '/v1/jobs',
  tags: ['jobs'],
  summary: 'The jobs of this service, newest first',
  security: bearer,
  responses: {
    200: { content: { 'application/json': { schema: z.object({ jobs: z.array(Job) }) } }, description: 'the jobs' },
    ...errorResponses(401),
  },
});

export const errorsRoute = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/errors',
  tags: ['jobs'],
  summary: "A job's errors report (JSON Lines: line, id, code, message)",
  security: bearer,
  request: { params: z.object({ id: JobId }) },
  responses: {
    200: { content: { 'application/x-ndjson': { schema: z.string() } }, description: 'one failed item a line' },
    ...errorResponses(400, 401, 404),
  },
});

export const register = (app: App) => {
  app.openapi(route, async (c) => {
    requireKey(c);
    return c.json({ jobs: managerOf(c.get('services')).list().map(jobView) }, 200);
  });
  app.openapi(errorsRoute, async (c) => {
    requireKey(c);
    const { id } = c.req.valid('param');
    const m = managerOf(c.get('services'));
    jobOr404(m, id);
    const file = m.errorsFile(id);
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    // a JSON Lines body (not one JSON value): typed as the route's string schema
    return c.body(text, 200, { 'content-type': 'application/x-ndjson' }) as never;
  });
};
