// The product model: the single source of truth for validation, storage and the OpenAPI document.
import { z } from '@hono/zod-openapi';

export const ProductId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only')
  .openapi({ example: 'arla-standard-milk-1' });

export const Money = z.object({
  amount: z.number().nonnegative().finite(),
  currency: z.string().length(3).regex(/^[A-Z]{3}$/).default('CNY'),
});

export const PriceTier = z.object({
  minQuantity: z.number().int().positive(),
  amount: z.number().nonnegative().finite(),
});

export const Price = Money.extend({
  tiers: z.array(PriceTier).max(20).optional().openapi({ description: 'quantity price breaks' }),
});

export const SupplierBadge = z.enum(['factory', 'verified', 'trade_assurance', 'gold']);

export const Supplier = z.object({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(200),
  badges: z.array(SupplierBadge).max(8).default([]),
  province: z.string().max(64).optional(),
  city: z.string().max(64).optional(),
});

/** An image is either a URL we fetch through the guarded fetcher, or bytes uploaded as base64. */
export const ProductImage = z
  .object({
    url: z.string().url().max(2048).optional(),
    base64: z.string().max(14_000_000).optional().openapi({ description: 'image bytes, base64 (max 10 MB decoded)' }),
    path: z.string().max(1024).optional().openapi({ description: 'server-local path; only accepted from the operator CLI and demo loader' }),
  })
  .refine((i) => [i.url, i.base64, i.path].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of url, base64 or path',
  });

export const ProductInput = z
  .object({
    title: z.string().min(1).max(500),
    description: z.string().max(10_000).default(''),
    categoryPath: z.array(z.string().min(1).max(100)).max(10).default([]).openapi({ example: ['Packages', 'Milk'] }),
    price: Price.optional(),
    moq: z.number().int().positive().optional().openapi({ description: 'minimum order quantity' }),
    supplier: Supplier.optional(),
    listedAt: z.iso.datetime({ offset: true }).optional(),
    images: z.array(ProductImage).max(12).default([]),
    attributes: z.record(z.string().max(100), z.union([z.string().max(500), z.number(), z.boolean()])).default({}),
  })
  .openapi('ProductInput');

export type ProductInput = z.infer<typeof ProductInput>;

/** What we store and return: the input plus server-assigned fields. Uploaded bytes are not echoed back. */
export const Product = ProductInput.omit({ images: true })
  .extend({
    id: ProductId,
    images: z.array(z.object({ url: z.string().optional(), ref: z.string() })),
    updatedAt: z.string(),
    modelVersion: z.string().nullable(),
  })
  .openapi('Product');

export type Product = z.infer<typeof Product>;
