// Source election inside a same-source group: a factory-badged supplier first, then the earliest listing,
// then the lowest price; the reason is said in words.
import type { ListingT } from '../schema/search.ts';

export function electSource(listings: ListingT[]): { source: ListingT; reason: string } {
  const factory = (l: ListingT) => (l.supplier?.badges ?? []).includes('factory');
  const time = (l: ListingT) => (l.listedAt ? Date.parse(l.listedAt) : Number.POSITIVE_INFINITY);
  const price = (l: ListingT) => l.price?.amount ?? Number.POSITIVE_INFINITY;
  const sorted = [...listings].sort(
    (a, b) => Number(factory(b)) - Number(factory(a)) || time(a) - time(b) || price(a) - price(b) || a.id.localeCompare(b.id),
  );
  const source = sorted[0];
  const others = sorted.slice(1);
  const reasons: string[] = [];
  if (factory(source) && others.some((o) => !factory(o))) reasons.push('factory badge');
  else if (factory(source)) reasons.push('factory badge (shared; earliest of them)');
  if (others.length && others.every((o) => time(source) <= time(o)) && Number.isFinite(time(source))) reasons.push('earliest listing');
  if (others.length && others.every((o) => price(source) <= price(o)) && Number.isFinite(price(source))) reasons.push('lowest price');
  if (!others.length) reasons.push('only listing');
  return { source, reason: reasons.join(', ') || 'best match' };
}
