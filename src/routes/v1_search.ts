import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import { Filters } from '../index/components/filters.ts';
import { resolveLink } from '../link/query.ts';
import { search, type SearchInput } from '../match/search.ts';
import { Region, SearchAnswer, SearchJson, SearchMultipart } from '../schema/search.ts';
import type { SearchJson as SearchJsonT } from '../schema/search.ts';
import { errorResponses, requireKey, type App } from './common.ts';

export const route = createRoute({
  method: 'post',
  path: '/v1/search',
  tags: ['search'],
  summary: 'Find the same product (grouped, with its likely source) and substitutes',
  description:
    'Send a photo as multipart field `image`, or JSON with `imageUrl`, `imageBase64`, `text`, or `url` (a product page or image link: its photo, title and price are used). Filters apply inside the vector and keyword search.',
  request: {
    body: {
      content: {
        'application/json': { schema: SearchJson },
        'multipart/form-data': { schema: SearchMultipart },
      },
    },
  },
  responses: {
    200: { content: { 'application/json': { schema: SearchAnswer } }, description: 'the answer' },
    ...errorResponses(400, 401, 413, 415, 422, 503),
  },
});

function jsonField<T>(raw: unknown, schema: z.ZodType<T>, name: string): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(String(raw));
  } catch {
    throw new AppError('invalid_request', `${name} must be JSON`);
  }
  const r = schema.safeParse(v);
  if (!r.success) throw new AppError('invalid_request', `${name} is not valid`, r.error.issues);
  return r.data;
}

const MultipartOptions = z.object({
  text: z.string().min(1).max(500).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
  referencePrice: z.coerce.number().nonnegative().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/).default('CNY'),
  cheaperOnly: z.enum(['true', 'false', '1', '0']).optional(),
  sort: z.enum(['similarity', 'price']).default('similarity'),
  lang: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/).optional(),
});

async function fromMultipart(form: Record<string, unknown>): Promise<SearchInput> {
  const image = form.image;
  const opts = MultipartOptions.safeParse(Object.fromEntries(Object.entries(form).filter(([k, v]) => k !== 'image' && typeof v === 'string' && v !== '')));
  if (!opts.success) throw new AppError('invalid_request', 'the form fields are not valid', opts.error.issues);
  let bytes: Uint8Array | undefined;
  if (image instanceof File) bytes = new Uint8Array(await image.arrayBuffer());
  else if (image !== undefined) throw new AppError('invalid_request', 'the image field must be a file');
  if (!bytes && !opts.data.text) throw new AppError('invalid_request', 'send a photo in the image field, or text');
  return {
    image: bytes,
    region: jsonField(form.region, Region, 'region'),
    filters: jsonField(form.filters, Filters, 'filters'),
    text: opts.data.text,
    limit: opts.data.limit,
    referencePrice: opts.data.referencePrice,
    currency: opts.data.currency,
    cheaperOnly: opts.data.cheaperOnly === 'true' || opts.data.cheaperOnly === '1',
    sort: opts.data.sort,
    lang: opts.data.lang,
  };
}

export const register = (app: App) =>
  app.openapi(route, async (c) => {
    const s = c.get('services');
    if (s.config.searchRequiresKey) requireKey(c);
    const ct = c.req.header('content-type') ?? '';
    let input: SearchInput;
    if (/^application\/json/i.test(ct)) {
      const b = c.req.valid('json') as SearchJsonT;
      let image: Uint8Array | undefined;
      if (b.imageBase64 !== undefined) {
        image = Buffer.from(b.imageBase64, 'base64');
        if (!image.length) throw new AppError('invalid_image', 'imageBase64 decodes to 0 bytes');
      } else if (b.imageUrl !== undefined) {
        image = (await s.fetcher.fetchImage(b.imageUrl, s.config.image.maxBytes)).body;
      }
      input = { ...b, image };
      if (b.url !== undefined) {
        const l = await resolveLink(s.fetcher, b.url);
        const fromPage = b.referencePrice === undefined && l.price !== undefined;
        input = {
          ...input,
          image: l.image,
          text: b.text ?? l.text,
          ...(fromPage ? { referencePrice: l.price!.amount, currency: l.price!.currency, referenceFrom: 'link' as const } : {}),
          link: l.link,
        };
      }
    } else if (/^multipart\/form-data/i.test(ct)) {
      input = await fromMultipart(c.req.valid('form') as Record<string, unknown>);
    } else {
      throw new AppError('unsupported_media_type', 'send application/json or multipart/form-data');
    }
    return c.json(await search(s, input), 200);
  });
