// Shared pieces of the route files: the app type, the error schema and response helpers, the API-key check.
import { timingSafeEqual, createHash } from 'node:crypto';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AppError } from '../errors.ts';
import type { AppEnv } from '../services.ts';

export type App = OpenAPIHono<AppEnv>;

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_image' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [code, { content: { 'application/json': { schema: ErrorSchema } }, description: DESCRIPTIONS[code] ?? 'error' }]),
  );

const DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request (code invalid_request, url_not_allowed, path_not_allowed)',
  401: 'missing or wrong API key (unauthorized)',
  404: 'unknown product (not_found)',
  413: 'image or body too large (image_too_large, payload_too_large)',
  415: 'unsupported content type',
  422: 'image could not be decoded or fetched (invalid_image, fetch_failed)',
  503: 'backend or model unavailable',
};

export const bearer = [{ apiKey: [] as string[] }];

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time check of the key from `Authorization: Bearer …` or `X-API-Key`. */
export function requireKey(c: Context<AppEnv>): void {
  const keys = c.get('services').config.apiKeys;
  const auth = c.req.header('authorization');
  const given = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : c.req.header('x-api-key');
  if (!given) throw new AppError('unauthorized', 'this endpoint needs an API key (Authorization: Bearer <key> or X-API-Key)');
  const g = digest(given);
  if (!keys.some((k) => timingSafeEqual(digest(k), g))) throw new AppError('unauthorized', 'the API key is not valid');
}
