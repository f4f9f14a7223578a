// Batch jobs over HTTP: what POST /v1/jobs takes and what the job routes answer.
import { z } from '@hono/zod-openapi';
import { ProductId } from './product.ts';

export const JobCreate = z
  .object({
    kind: z.enum(['index', 'reindex', 'delete']),
    mode: z.enum(['incremental', 'full', 'stale']).optional().openapi({ description: 'reindex only (default incremental)' }),
    feedUrl: z.string().url().max(2048).optional().openapi({ description: 'a JSON Lines feed fetched through the guarded fetcher (public addresses only)' }),
    feed: z.string().max(50_000_000).optional().openapi({ description: 'the JSON Lines feed itself (one product, or for delete one id, a line)' }),
    ids: z.array(ProductId).max(100_000).optional().openapi({ description: 'delete only: the ids to delete' }),
    ocr: z.boolean().optional().openapi({ description: 'read OCR text of the images (slow); default EVIDENCE_OCR' }),
  })
  .refine((b) => [b.feedUrl, b.feed, b.ids].filter((x) => x !== undefined).length <= 1, { message: 'give at most one of feedUrl, feed, ids' })
  .refine((b) => b.ids === undefined || b.kind === 'delete', { message: 'ids is for delete jobs' })
  .refine((b) => b.mode === undefined || b.kind === 'reindex', { message: 'mode is for reindex jobs' })
  .refine((b) => b.feedUrl !== undefined || b.feed !== undefined || b.ids !== undefined || (b.kind === 'reindex' && b.mode === 'stale'), {
    message: 'give the input: feedUrl, feed or ids (only a stale reindex needs none)',
  })
  .openapi('JobCreate');

export const JobId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).openapi({ example: '3f1c2a9e-5b7d-4e0f-9a1b-2c3d4e5f6a7b' });

export const Job = z
  .object({
    id: z.string(),
    kind: z.enum(['index', 'reindex', 'delete']),
    mode: z.enum(['incremental', 'full', 'stale']).nullable(),
    origin: z.enum(['cli', 'http']),
    status: z.enum(['queued', 'running', 'completed', 'completed_with_errors', 'failed', 'cancelled']),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    resumedAfter: z.number().int(),
    progress: z.object({
      total: z.number().int().nullable(),
      processed: z.number().int(),
      done: z.number().int(),
      failed: z.number().int(),
      skipped: z.number().int(),
      rate: z.number().openapi({ description: 'items per second over the last 10 s (the run mean once finished)' }),
      etaSeconds: z.number().nullable(),
    }),
    stageMs: z.record(z.string(), z.number()).openapi({ description: 'busy time per stage (overlapping)' }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    errorsUrl: z.string().openapi({ description: 'the errors report (JSON Lines: line, id, code, message)' }),
  })
  .openapi('Job');
