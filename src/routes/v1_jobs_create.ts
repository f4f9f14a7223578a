import fs from 'node:fs';
import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import { jobFiles } from '../jobs/checkpoint.ts';
import { Job, JobCreate } from '../schema/job.ts';
import { bearer, errorResponses, requireKey, type App } from './common.ts';
import { jobView, managerOf } from './jobs_common.ts';

export const route = createRoute({
  method: 'post',
  path: '/v1/jobs',
  tags: ['jobs'],
  summary: 'Start a batch job: index, reindex (incremental | full | stale) or delete',
  description:
    'The feed is given inline (`feed`, JSON Lines), as a URL fetched through the guarded fetcher (`feedUrl`), or for delete as `ids`. ' +
    'Images are fetched by URL or sent as base64; server-side paths are refused per item (path_not_allowed). ' +
    'Answers 202 at once; follow the job with GET /v1/jobs/{id}.',
  security: bearer,
  request: { body: { content: { 'application/json': { schema: JobCreate } }, required: true } },
  responses: {
    202: { content: { 'application/json': { schema: z.object({ job: Job }) } }, description: 'queued' },
    ...errorResponses(400, 401, 413, 422, 503),
  },
});

const FEED_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/json', 'application/x-jsonlines', 'text/plain', 'application/octet-stream'];

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    requireKey(c);
    const s = c.get('services');
    const m = managerOf(s);
    const body = c.req.valid('json');
    if (body.mode === 'full' && !s.backend.rebuild) throw new AppError('invalid_request', `the ${s.backend.kind} backend cannot rebuild`);
    // the input is fetched (guarded: public addresses only) before the job exists, so that a refused URL is a 4xx
    const text = body.feedUrl !== undefined ? (await s.fetcher.fetch(body.feedUrl, { accept: FEED_TYPES, maxBytes: s.config.jobs.feedMaxBytes })).body : body.feed !== undefined ? body.feed : body.ids?.join('\n');
    const { id, dir } = m.newJobDir();
    let input: string | null = null;
    if (text !== undefined) {
      input = jobFiles(dir).input;
      fs.writeFileSync(input, text);
    }
    const { state } = m.submit({ id, kind: body.kind, ...(body.mode ? { mode: body.mode } : {}), input, ...(body.ocr !== undefined ? { ocr: body.ocr } : {}), allowPaths: false, origin: 'http' });
    return c.json({ job: jobView(state) }, 202);
  });
