// The order in which listings claim to be a product's source: a factory-badged supplier first, then the
// earliest listing, then the lowest price. Election (match/elect.ts) and the backends' `groupMembers`
// (which must hand the answer a large group's likeliest sources first) use this one definition.

export interface SourceClaim {
  badges: readonly string[];
  /** ISO 8601 with offset, or null */
  listedAt: string | null | undefined;
  price: number | null | undefined;
}

/** The listing's time, +∞ without one (it claims last). */
export function claimTime(c: SourceClaim): number {
  const t = c.listedAt ? Date.parse(c.listedAt) : NaN;
  return Number.isFinite(t) ? t : Number.POSITIVE_INFINITY;
}
/** The listing's price, +∞ without one. */
export const claimPrice = (c: SourceClaim): number => c.price ?? Number.POSITIVE_INFINITY;
export const isFactory = (c: SourceClaim) => c.badges.includes('factory');

/** Negative when `a` has the stronger claim; 0 when the rule cannot tell them apart. */
export function compareClaims(a: SourceClaim, b: SourceClaim): number {
  return Number(isFactory(b)) - Number(isFactory(a)) || claimTime(a) - claimTime(b) || claimPrice(a) - claimPrice(b);
}
