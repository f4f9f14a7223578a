// The order in which listings claim to be a product's source: a factory-badged supplier first, then the
// earliest listing, then the lowest price. Election (match/elect.ts) and the backends' `groupMembers`
// (which must hand the answer a large group's likeliest sources first) use this one definition.

export interface SourceClaim {
  badges: readonly string[];
  /** ISO 8601 with offset, or null */
  listedAt: string | null | undefined;
  price: number | null | undefined;
}

const time = (c: SourceClaim) => {
  const t = c.listedAt ? Date.parse(c.listedAt) : NaN;
  return Number.isFinite(t) ? t : Number.POSITIVE_INFINITY;
};
const price = (c: SourceClaim) => c.price ?? Number.POSITIVE_INFINITY;
export const isFactory = (c: SourceClaim) => c.badges.includes('factory');

/** Negative when `a` has the stronger claim; 0 when the rule cannot tell them apart. */
export function compareClaims(a: SourceClaim, b: SourceClaim): number {
  return Number(isFactory(b)) - Number(isFactory(a)) || time(a) - time(b) || price(a) - price(b);
}

export { time as claimTime, price as claimPrice };
