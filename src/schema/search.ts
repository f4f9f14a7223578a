// Search request and answer schemas: the answer's shape is final and documented in the OpenAPI.
import { z } from '@hono/zod-openapi';
import { Filters } from '../index/components/filters.ts';
import { Price, Supplier, SupplierBadge } from './product.ts';

export const Region = z
  .object({
    x: z.number().min(0).max(1),
    y: z.number().min(0).max(1),
    w: z.number().gt(0).max(1),
    h: z.number().gt(0).max(1),
  })
  .refine((r) => r.x + r.w <= 1.0001 && r.y + r.h <= 1.0001, { message: 'the region must lie inside the image' })
  .openapi('Region', { description: 'part of the photo to search, as fractions of its width and height' });

const SearchOptionsShape = {
  filters: Filters.optional(),
  limit: z.number().int().min(1).max(100).default(10),
  referencePrice: z.number().nonnegative().optional().openapi({ description: 'price to compare substitutes with (CNY unless currency is given)' }),
  currency: z.string().regex(/^[A-Z]{3}$/).default('CNY'),
  cheaperOnly: z.boolean().default(false),
  sort: z.enum(['similarity', 'price']).default('similarity').openapi({ description: 'order of substitutes' }),
  lang: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/).optional().openapi({
    description: "language of the reader: with 'en', each listing with a Chinese title gets titleTranslated, a word-by-word dictionary gloss",
    example: 'en',
  }),
};

export const SearchJson = z
  .object({
    imageUrl: z.string().url().max(2048).optional(),
    url: z.string().min(1).max(2048).optional().openapi({
      description: 'a product page (JSON-LD, Open Graph or marketplace HTML) or an image URL: its photo, title and price are searched with',
    }),
    imageBase64: z.string().max(14_000_000).optional(),
    text: z.string().min(1).max(500).optional(),
    region: Region.optional(),
    ...SearchOptionsShape,
  })
  .refine((b) => b.imageUrl !== undefined || b.imageBase64 !== undefined || b.text !== undefined || b.url !== undefined, {
    message: 'give url, imageUrl, imageBase64 or text',
  })
  .refine((b) => !(b.url !== undefined && (b.imageUrl !== undefined || b.imageBase64 !== undefined)), { message: 'give url or imageUrl/imageBase64, not both' })
  .refine((b) => !(b.imageUrl !== undefined && b.imageBase64 !== undefined), { message: 'give imageUrl or imageBase64, not both' })
  .openapi('SearchRequest');

export type SearchJson = z.infer<typeof SearchJson>;

/** Multipart form: the photo as a file, the options as fields (filters and region as JSON strings). */
export const SearchMultipart = z
  .object({
    image: z.any().optional().openapi({ type: 'string', format: 'binary' }), // optional: a form may carry text only
    text: z.string().optional(),
    filters: z.string().optional().openapi({ description: 'Filters as JSON' }),
    region: z.string().optional().openapi({ description: 'Region as JSON' }),
    limit: z.string().optional(),
    referencePrice: z.string().optional(),
    cheaperOnly: z.string().optional(),
    sort: z.string().optional(),
    lang: z.string().optional(),
  })
  .openapi('SearchMultipart');

export const Listing = z
  .object({
    id: z.string(),
    title: z.string(),
    categoryPath: z.array(z.string()),
    price: Price.optional(),
    moq: z.number().optional(),
    supplier: Supplier.optional(),
    listedAt: z.string().optional(),
    images: z.array(z.object({ url: z.string().optional(), ref: z.string() })),
    attributes: z.record(z.string(), z.unknown()),
    similarity: z.number().openapi({ description: 'cosine similarity of the best-matching image to the query, in [-1, 1]' }),
    titleTranslated: z.string().optional().openapi({ description: "the title in the request's lang (a Chinese title only)" }),
    translation: z.literal('gloss').optional().openapi({ description: 'how titleTranslated was made: gloss = word by word from a dictionary' }),
    sameProductChance: z.number().min(0).max(1).optional().openapi({ description: 'P(this listing shows the very product of the query photo), from all the evidence' }),
  })
  .openapi('Listing');

export const Evidence = z
  .object({
    imageSimilarity: z.number().openapi({ description: 'cosine of the source listing image to the query image' }),
    phashDistance: z.number().int().nullable().openapi({ description: 'Hamming distance of 64-bit perceptual hashes; ≤ 10 usually means the same photo' }),
    textMatch: z.boolean().openapi({ description: 'whether the query words matched this listing' }),
    samePhoto: z.boolean().openapi({ description: 'near-identical image (perceptual hash)' }),
    summary: z.array(z.string()).openapi({ description: 'the evidence in plain words' }),
    calibrated: z.boolean().openapi({ description: 'whether confidence is a calibrated probability' }),
    matchedDetails: z.number().int().optional().openapi({ description: 'local details (keypoints) that line up geometrically between the query photo and this listing' }),
    mirrored: z.boolean().optional().openapi({ description: 'the details line up once one photo is mirrored' }),
    colourAgreement: z.number().nullable().optional().openapi({ description: 'share of the aligned area whose colours agree once each photo\'s colour cast is removed (a sibling flavour of one brand aligns but differs in colour); null without an alignment' }),
    textOnProduct: z.number().nullable().optional().openapi({ description: 'similarity of the text read from both photos (OCR, character n-grams); null when either shows none' }),
    titleSimilarity: z.number().nullable().optional().openapi({ description: "similarity of the buyer's words (or the linked page's title) to the title" }),
    sameSupplier: z.boolean().optional(),
  })
  .openapi('Evidence');

export const SameSourceGroup = z
  .object({
    groupId: z.string(),
    verdict: z.enum(['same', 'likely']).openapi({
      description: "same: judged the very product of the query (P(same) at or above the cut-off chosen for 99% precision); likely: more likely than not, unproven",
    }),
    confidence: z.number().min(0).max(1),
    source: Listing,
    sourceReason: z.string().openapi({ example: 'factory badge' }),
    listings: z.array(Listing).openapi({ description: 'the other listings of the same product, best first' }),
    listingCount: z.number().int(),
    priceRange: z.object({ min: z.number(), max: z.number(), currency: z.string() }).nullable(),
    evidence: Evidence,
  })
  .openapi('SameSourceGroup');

export const PriceDelta = z
  .object({
    amount: z.number().openapi({ description: 'substitute price minus reference price; negative is cheaper' }),
    percent: z.number().nullable(),
    currency: z.string(),
    reference: z.enum(['request', 'source', 'link']).openapi({ description: 'where the reference price came from (link: the linked page)' }),
  })
  .openapi('PriceDelta');

export const Substitute = z
  .object({
    listing: Listing,
    similarity: z.number(),
    priceDelta: PriceDelta.nullable(),
    sameProductChance: z.number().min(0).max(1).optional().openapi({ description: 'P(same product) when judged: high values are possibly the same product, not proven' }),
  })
  .openapi('Substitute');

export const LinkUnderstood = z
  .object({
    url: z.string(),
    title: z.string().optional(),
    image: z.string().optional().openapi({ description: 'the image searched with (the URL itself for an image link)' }),
    price: z.object({ amount: z.number(), currency: z.string() }).optional(),
    extractedFrom: z.enum(['json-ld', 'open-graph', 'fallback', 'image']),
  })
  .openapi('LinkUnderstood', { description: 'what was read from a linked page' });

export const SearchAnswer = z
  .object({
    query: z.object({
      kind: z.enum(['image', 'text', 'image+text']),
      text: z.string().optional(),
      tokens: z.array(z.string()).optional(),
      language: z
        .object({ code: z.string(), confidence: z.number().min(0).max(1) })
        .optional()
        .openapi({ description: "the query words' language (ISO 639-1; Han characters are zh, otherwise n-gram identification)" }),
      translation: z
        .object({ terms: z.array(z.string()), from: z.string(), method: z.literal('dictionary') })
        .optional()
        .openapi({ description: 'Chinese terms the words were translated to and searched with besides the words themselves' }),
      semantic: z
        .object({
          model: z.string().nullable(),
          used: z.boolean(),
          hits: z.number().int(),
          text: z.string().optional().openapi({ description: 'what the model embedded: the words, then their translated terms' }),
        })
        .optional()
        .openapi({
          description:
            'semantic search of the words: the text model (null when the service runs keyword-only), whether its nearest listings were fused with the keyword hits, and how many it returned',
        }),
      expansion: z
        .object({
          kind: z.literal('image-prf'),
          from: z.array(z.string()),
          hits: z.number().int(),
        })
        .optional()
        .openapi({
          description:
            "a words query also searched the photos of its best hits (`from`, pooled into one visual query): listings with uninformative titles but the same photo are found this way",
        }),
      image: z
        .object({ width: z.number(), height: z.number(), format: z.string(), phash: z.string(), region: Region.optional() })
        .optional(),
      filters: Filters.optional(),
      referencePrice: z.object({ amount: z.number(), currency: z.string(), from: z.enum(['request', 'source', 'link']) }).nullable(),
      link: LinkUnderstood.optional(),
      modelVersion: z.string(),
      projection: z.string(),
      backend: z.string(),
    }),
    sameSource: z.array(SameSourceGroup),
    substitutes: z.array(Substitute),
    timings: z.record(z.string(), z.number()).openapi({ description: 'milliseconds per stage' }),
  })
  .openapi('SearchAnswer');

export type SearchAnswer = z.infer<typeof SearchAnswer>;
export type ListingT = z.infer<typeof Listing>;
export { SupplierBadge };
