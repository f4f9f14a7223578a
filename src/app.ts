// Builds the HTTP app: services injected through the context, one module per route, typed errors mapped
// to HTTP codes, zod issues returned as 400s, and a body limit before anything is parsed.
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { AppError, errorBody } from './errors.ts';
import type { AppEnv, Services } from './services.ts';
import * as docs from './routes/docs.ts';
import * as healthz from './routes/healthz.ts';
import * as productsBatch from './routes/v1_products_batch.ts';
import * as productsDelete from './routes/v1_products_delete.ts';
import * as productsGet from './routes/v1_products_get.ts';
import * as productsPut from './routes/v1_products_put.ts';
import * as searchRoute from './routes/v1_search.ts';
import * as imagesRoute from './routes/v1_images.ts';
import * as web from './routes/web.ts';
import * as jobsCreate from './routes/v1_jobs_create.ts';
import * as jobsGet from './routes/v1_jobs_get.ts';
import * as jobsCancel from './routes/v1_jobs_cancel.ts';
import * as jobsList from './routes/v1_jobs_list.ts';
import { requireKey } from './routes/common.ts';

export function createApp(services: Services) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return c.json(errorBody('invalid_request', 'the request is not valid', result.error.issues), 400);
    },
  });

  app.use('*', async (c, next) => {
    c.set('services', services);
    await next();
  });
  // writes need the key, checked before any body is read or validated (strangers learn nothing of the schema)
  app.use('/v1/*', async (c, next) => {
    const write = c.req.path.startsWith('/v1/products/') && ['PUT', 'POST', 'DELETE'].includes(c.req.method);
    // jobs (their state and errors reports too) are the operator's
    if (c.req.path === '/v1/jobs' || c.req.path.startsWith('/v1/jobs/')) requireKey(c);
    if (write || (c.req.path === '/v1/search' && services.config.searchRequiresKey)) requireKey(c);
    await next();
  });
  // base64 inflates by 4/3; batches may carry several images
  const maxBody = Math.ceil(services.config.image.maxBytes * 1.4) + 1024 * 1024;
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: maxBody,
      onError: (c) => c.json(errorBody('payload_too_large', `the request body is larger than ${maxBody} bytes`), 413),
    }),
  );

  for (const r of [healthz, productsBatch, productsPut, productsGet, productsDelete, searchRoute, imagesRoute, jobsCreate, jobsList, jobsGet, jobsCancel, docs, web]) r.register(app);

  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof AppError) return c.json(errorBody(err.code, err.message, err.details), err.status as 400);
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
      return c.json(errorBody(code, err.message || 'bad request'), status);
    }
    // malformed JSON or multipart bodies surface here as SyntaxError/TypeError from the parsers
    if (err instanceof SyntaxError || /multipart|form data|boundary|JSON/i.test(err.message)) {
      return c.json(errorBody('invalid_request', `the body could not be parsed: ${err.message}`), 400);
    }
    if ((err as { meta?: unknown }).meta !== undefined || /ECONNREFUSED|ConnectionError|NoLivingConnections/.test(err.name + err.message)) {
      return c.json(errorBody('backend_unavailable', 'the search backend is not answering; try again shortly'), 503);
    }
    services.log(`unexpected error on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return c.json(errorBody('internal', 'something went wrong on our side'), 500);
  });
  return app;
}
