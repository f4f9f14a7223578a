// Search filters and the flat attributes they test. Both backends derive the same attributes from a
// product, so that "which products qualify" never differs between them.
import { z } from '@hono/zod-openapi';
import { SupplierBadge, type Product } from '../../schema/product.ts';

export const Filters = z
  .object({
    priceMin: z.number().nonnegative().optional(),
    priceMax: z.number().nonnegative().optional(),
    maxMoq: z.number().int().positive().optional(),
    category: z.string().min(1).max(100).optional().openapi({ description: 'any element of the category path' }),
    province: z.string().min(1).max(64).optional(),
    badge: SupplierBadge.optional().openapi({ description: 'supplier badge, e.g. factory' }),
  })
  .refine((f) => f.priceMin === undefined || f.priceMax === undefined || f.priceMin <= f.priceMax, {
    message: 'priceMin must not exceed priceMax',
  })
  .openapi('Filters');

export type Filters = z.infer<typeof Filters>;

export interface FilterAttrs {
  price: number | null;
  moq: number | null;
  categories: string[];
  province: string | null;
  badges: string[];
}

export function filterAttrs(p: Product): FilterAttrs {
  return {
    price: p.price?.amount ?? null,
    moq: p.moq ?? null,
    categories: p.categoryPath ?? [],
    province: p.supplier?.province ?? null,
    badges: p.supplier?.badges ?? [],
  };
}

export function hasFilters(f?: Filters): boolean {
  return !!f && Object.values(f).some((v) => v !== undefined);
}

export function matches(a: FilterAttrs, f?: Filters): boolean {
  if (!f) return true;
  if (f.priceMin !== undefined && (a.price === null || a.price < f.priceMin)) return false;
  if (f.priceMax !== undefined && (a.price === null || a.price > f.priceMax)) return false;
  // a listing without an MOQ sells from one piece
  if (f.maxMoq !== undefined && (a.moq ?? 1) > f.maxMoq) return false;
  if (f.category !== undefined && !a.categories.includes(f.category)) return false;
  if (f.province !== undefined && a.province !== f.province) return false;
  if (f.badge !== undefined && !a.badges.includes(f.badge)) return false;
  return true;
}
