// Source election inside a same-source group: a factory-badged supplier first, then the earliest listing,
// then the lowest price (index/components/source-order.ts); the reason is said in words. Listings equal on
// all three (two factories listing the same day at the same price, or records without dates and prices) go
// to the one closest to the query: of two equal claims, the buyer is best served by the listing that most
// surely shows their product.
import type { ListingT } from '../schema/search.ts';
import { claimPrice, claimTime, compareClaims, isFactory, type SourceClaim } from '../index/components/source-order.ts';

const closeness = (l: ListingT) => [l.sameProductChance ?? -1, l.similarity] as const;
const claim = (l: ListingT): SourceClaim => ({ badges: l.supplier?.badges ?? [], listedAt: l.listedAt, price: l.price?.amount });

export function electSource(listings: ListingT[]): { source: ListingT; reason: string } {
  const factory = (l: ListingT) => isFactory(claim(l));
  const time = (l: ListingT) => claimTime(claim(l));
  const price = (l: ListingT) => claimPrice(claim(l));
  const rule = (a: ListingT, b: ListingT) => compareClaims(claim(a), claim(b));
  const closer = (a: ListingT, b: ListingT) => closeness(b)[0] - closeness(a)[0] || closeness(b)[1] - closeness(a)[1];
  const sorted = [...listings].sort((a, b) => rule(a, b) || closer(a, b) || a.id.localeCompare(b.id));
  const source = sorted[0];
  const others = sorted.slice(1);
  const reasons: string[] = [];
  if (factory(source) && others.some((o) => !factory(o))) reasons.push('factory badge');
  else if (factory(source)) reasons.push('factory badge (shared; earliest of them)');
  if (others.length && others.every((o) => time(source) <= time(o)) && Number.isFinite(time(source))) reasons.push('earliest listing');
  if (others.length && others.every((o) => price(source) <= price(o)) && Number.isFinite(price(source))) reasons.push('lowest price');
  if (others.length && rule(source, others[0]) === 0 && closer(source, others[0]) < 0) reasons.push('closest to your query of the listings equal on those');
  if (!others.length) reasons.push('only listing');
  return { source, reason: reasons.join(', ') || 'best match' };
}
