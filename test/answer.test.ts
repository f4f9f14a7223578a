// The answer's split, grouping and source election, on hand-made candidates (no model needed).
import { describe, expect, it } from 'vitest';
import type { IndexRecord } from '../src/index/backend.ts';
import { buildAnswer, type AnswerOptions, type Candidate } from '../src/match/answer.ts';
import { electSource } from '../src/match/elect.ts';
import type { PairEvidence } from '../src/match/evidence.ts';

function unit(seed: number, base?: Float32Array, noise = 0): Float32Array {
  let x = seed;
  const r = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const v = base ? Float32Array.from(base, (b) => b + noise * r()) : Float32Array.from({ length: 64 }, r);
  const n = Math.hypot(...v);
  return v.map((a) => a / n);
}
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

function cand(id: string, desc: Float32Array, query: Float32Array, extra: { factory?: boolean; listedAt?: string; price?: number; category?: string[] } = {}): Candidate {
  const record: IndexRecord = {
    product: {
      id,
      title: id,
      description: '',
      categoryPath: extra.category ?? ['Home'],
      attributes: {},
      images: [{ ref: `${id}/0` }],
      updatedAt: '',
      modelVersion: 'm',
      listedAt: extra.listedAt,
      price: extra.price !== undefined ? { amount: extra.price, currency: 'CNY' } : undefined,
      supplier: { id: `s-${id}`, name: id, badges: extra.factory ? ['factory'] : [] },
    },
    images: [{ idx: 0, vector: desc, descriptor: desc, phash: '0000000000000000' }],
    tokens: [],
    projectionVersion: 'p',
    contentHash: id,
  };
  const sim = dot(query, desc);
  return { record, score: sim, similarity: sim, imageIdx: 0, textMatch: false, phashDistance: null };
}

/** Judged evidence for a candidate: nothing but what a test sets (P(same), text on the product, inliers). */
function judge(c: Candidate, pSame: number, e: Partial<PairEvidence> = {}): Candidate {
  c.pSame = pSame;
  c.evidence = { cosine: c.similarity, imageIdx: 0, matches: 0, inliers: 0, span: 0, mirrored: false, colour: null, ocrSim: null, titleSim: null, sameSupplier: false, phashDistance: null, ...e };
  return c;
}

const OPTS: AnswerOptions = { limit: 10, sameSourceThreshold: 0.6, substituteFloor: 0.1, cheaperOnly: false, sort: 'similarity', calibration: null, electionThreshold: 0.95 };

describe('buildAnswer', () => {
  const photo = unit(1);
  const query = unit(2, photo, 0.4); // a buyer's photo of the product
  const lookAlike = unit(3, photo, 1.2);

  it('elects the factory listing among near-identical copies, not a look-alike that joined the group', () => {
    const cands = [
      cand('reseller-copy', unit(4, photo, 0.02), query, { listedAt: '2025-03-01T00:00:00Z', price: 9 }),
      cand('factory-original', photo, query, { factory: true, listedAt: '2025-01-01T00:00:00Z', price: 10 }),
      cand('other-factory', lookAlike, query, { factory: true, listedAt: '2024-01-01T00:00:00Z', price: 8 }),
    ].sort((a, b) => b.score - a.score);
    expect(dot(photo, lookAlike)).toBeLessThan(0.95);
    const a = buildAnswer(cands, { ...OPTS, sameSourceThreshold: Math.min(...cands.map((c) => c.similarity)) - 0.01 });
    const g = a.sameSource[0];
    expect(g.source.id).toBe('factory-original');
    expect(g.sourceReason).toContain('factory badge');
    expect(g.listingCount).toBe(g.listings.length + 1);
  });

  it('puts what is not the same into substitutes with price deltas against the source price', () => {
    const cands = [cand('same', unit(4, query, 0.01), query, { price: 10 }), cand('similar', unit(5, query, 2.5), query, { price: 7 })];
    const a = buildAnswer(cands, { ...OPTS, sameSourceThreshold: 0.99, substituteFloor: -1 });
    expect(a.sameSource.map((g) => g.source.id)).toEqual(['same']);
    expect(a.substitutes.map((s) => s.listing.id)).toEqual(['similar']);
    expect(a.substitutes[0].priceDelta).toEqual({ amount: -3, percent: -30, currency: 'CNY', reference: 'source' });
    const cheaper = buildAnswer(cands, { ...OPTS, sameSourceThreshold: 0.99, substituteFloor: -1, referencePrice: { amount: 5, currency: 'CNY', from: 'request' }, cheaperOnly: true });
    expect(cheaper.substitutes).toEqual([]);
  });

  it('lists substitutes from the category of what the buyer looks at first', () => {
    const cands = [
      cand('same', unit(4, query, 0.01), query, { category: ['Drinks', 'Juice'] }),
      cand('other-cat-closer', unit(20, query, 0.8), query, { category: ['Dairy', 'Milk'] }),
      cand('same-cat-farther', unit(21, query, 1.2), query, { category: ['Drinks', 'Juice'] }),
    ];
    expect(cands[1].similarity).toBeGreaterThan(cands[2].similarity);
    const a = buildAnswer(cands, { ...OPTS, sameSourceThreshold: 0.99, substituteFloor: -1 });
    expect(a.sameSource[0].source.id).toBe('same');
    expect(a.substitutes.map((s) => s.listing.id)).toEqual(['same-cat-farther', 'other-cat-closer']);
  });

  it('unproven candidates are ranked by look plus the text printed on the product, when a weight is given', () => {
    const q = unit(30);
    const closerLook = cand('closer-look', unit(31, q, 0.5), q);
    const sameText = cand('same-text', unit(32, q, 0.9), q);
    expect(closerLook.score).toBeGreaterThan(sameText.score);
    for (const [c, ocrSim] of [[closerLook, 0.15], [sameText, 0.8]] as const) judge(c, 0.001, { ocrSim });
    const judged = { ...OPTS, substituteFloor: -1, evidenceCut: 0.7 };
    const ids = (w: number) => buildAnswer([closerLook, sameText], { ...judged, ocrWeight: w }).substitutes.map((x) => x.listing.id);
    expect(ids(0)).toEqual(['closer-look', 'same-text']);
    // the weight must outweigh the gap in look for the order to turn
    const gap = closerLook.score - sameText.score;
    expect(ids(gap / 0.65 + 0.01)).toEqual(['same-text', 'closer-look']);
    expect(ids(gap / 0.65 - 0.01)).toEqual(['closer-look', 'same-text']);
  });

  it('unproven candidates with details that line up rank above a closer look without them, by the weight given', () => {
    const q = unit(40);
    const closerLook = cand('closer-look', unit(41, q, 0.5), q);
    const aligned = cand('aligned', unit(42, q, 0.9), q);
    expect(closerLook.score).toBeGreaterThan(aligned.score);
    for (const [c, inliers] of [[closerLook, 0], [aligned, 12]] as const) judge(c, 0.001, { matches: inliers, inliers, span: 0.02 });
    const judged = { ...OPTS, substituteFloor: -1, evidenceCut: 0.7, ocrWeight: 1 };
    const ids = (w: number) => buildAnswer([closerLook, aligned], { ...judged, localWeight: w }).substitutes.map((x) => x.listing.id);
    expect(ids(0)).toEqual(['closer-look', 'aligned']);
    // ln(1 + 12) × weight must outweigh the gap in look
    const gap = closerLook.score - aligned.score;
    expect(ids(gap / Math.log(13) + 0.01)).toEqual(['aligned', 'closer-look']);
    expect(ids(gap / Math.log(13) - 0.01)).toEqual(['closer-look', 'aligned']);
  });

  it('index-time group mates join the same group unless their own evidence says they are more likely another product', () => {
    const q = unit(50);
    const ev = (c: Candidate, p: number, group: string) => {
      c.record.extras = { ocrText: '', local: [], sourceGroupId: group };
      return judge(c, p);
    };
    const cands = [
      ev(cand('sure', unit(51, q, 0.2), q, { factory: true }), 0.95, 'G'),
      ev(cand('mate-likely', unit(52, q, 0.4), q), 0.6, 'G'),
      ev(cand('mate-doubtful', unit(53, q, 0.4), q), 0.2, 'G'),
      ev(cand('other', unit(54, q, 0.5), q), 0.1, 'H'),
    ];
    const a = buildAnswer(cands, { ...OPTS, substituteFloor: -1, evidenceCut: 0.7 });
    expect(a.sameSource).toHaveLength(1);
    const g = a.sameSource[0];
    expect(g.verdict).toBe('same');
    expect([g.source.id, ...g.listings.map((l) => l.id)].sort()).toEqual(['mate-likely', 'sure']);
    expect(a.substitutes.map((x) => x.listing.id).sort()).toEqual(['mate-doubtful', 'other']);
    // except the listing the whole group would elect as its source: without it a reseller would be named
    cands[2].record.product.supplier = { id: 'factory', name: 'factory', badges: ['factory'] };
    cands[2].record.product.listedAt = '2020-01-01T00:00:00Z';
    const f = buildAnswer(cands, { ...OPTS, substituteFloor: -1, evidenceCut: 0.7 });
    expect(f.sameSource[0].source.id).toBe('mate-doubtful');
    expect(f.sameSource[0].listings.map((l) => l.id).sort()).toEqual(['mate-likely', 'sure']);
    // and its reason says how it got in, since its own sameProductChance is low
    expect(f.sameSource[0].sourceReason).toContain('grouped with these listings when it was indexed');
    expect(a.sameSource[0].sourceReason).not.toContain('when it was indexed');
    cands[2].record.product.supplier = { id: 's', name: 's', badges: [] };
    cands[2].record.product.listedAt = undefined;
    // a 'likely' group (no sure candidate) leaves out its doubtful mates the same way
    cands[0].pSame = 0.55;
    const b = buildAnswer(cands, { ...OPTS, substituteFloor: -1, evidenceCut: 0.7 });
    expect(b.sameSource.map((x) => x.verdict)).toEqual(['likely']);
    expect([b.sameSource[0].source.id, ...b.sameSource[0].listings.map((l) => l.id)].sort()).toEqual(['mate-likely', 'sure']);
  });

  it('without a group, the category that leads the substitutes is that of the best candidate by look and text, not by look alone', () => {
    const q = unit(40);
    // a look-alike in another category, closest by look; the product itself (its text matches) a little farther
    const lookAlike = cand('look-alike', unit(41, q, 0.5), q, { category: ['Dairy', 'Milk'] });
    const lookAlike2 = cand('look-alike-2', unit(42, q, 0.6), q, { category: ['Dairy', 'Milk'] });
    const product = cand('product', unit(43, q, 0.9), q, { category: ['Drinks', 'Juice'] });
    expect(lookAlike.score).toBeGreaterThan(product.score);
    for (const [c, ocrSim] of [[lookAlike, 0], [lookAlike2, 0], [product, 0.9]] as const) judge(c, 0.001, { ocrSim });
    const judged = { ...OPTS, substituteFloor: -1, evidenceCut: 0.7 };
    const ids = (w: number) => buildAnswer([lookAlike, lookAlike2, product], { ...judged, ocrWeight: w }).substitutes.map((x) => x.listing.id);
    expect(ids(0)).toEqual(['look-alike', 'look-alike-2', 'product']);
    expect(ids(1)[0]).toBe('product');
    // text that reads only a few hundredths alike is noise: it neither reorders the look nor picks the category
    product.evidence!.ocrSim = 0.05;
    lookAlike.evidence!.ocrSim = 0;
    const noisy = buildAnswer([lookAlike, lookAlike2, product], { ...judged, ocrWeight: 10 }).substitutes.map((x) => x.listing.id);
    expect(noisy).toEqual(['look-alike', 'look-alike-2', 'product']);
  });

  it('does not chain look-alikes into one group (star grouping around the best match)', () => {
    const a1 = unit(10);
    const a2 = unit(11, a1, 0.9); // similar to a1
    const a3 = unit(12, a2, 0.9); // similar to a2, not to a1
    const q = unit(13, a1, 0.3);
    const cands = [cand('a1', a1, q), cand('a2', a2, q), cand('a3', a3, q)];
    const t = Math.min(dot(a1, a2), dot(a2, a3)) - 0.001;
    const a = buildAnswer(cands, { ...OPTS, sameSourceThreshold: Math.min(t, ...cands.map((c) => c.similarity)) - 0.001 });
    if (dot(a1, a3) < t) expect(a.sameSource.find((g) => [g.source, ...g.listings].some((l) => l.id === 'a1'))!.listings.some((l) => l.id === 'a3')).toBe(false);
  });
});

describe('electSource', () => {
  it('factory first, then earliest, then cheapest', () => {
    const l = (id: string, f: boolean, at: string, p: number) => ({ id, title: id, categoryPath: [], attributes: {}, images: [], similarity: 1, listedAt: at, price: { amount: p, currency: 'CNY' }, supplier: { id, name: id, badges: f ? (['factory'] as const) : [] } }) as any;
    expect(electSource([l('a', false, '2020-01-01T00:00:00Z', 1), l('b', true, '2024-01-01T00:00:00Z', 5)]).source.id).toBe('b');
    expect(electSource([l('a', false, '2024-01-01T00:00:00Z', 1), l('b', false, '2020-01-01T00:00:00Z', 5)]).source.id).toBe('b');
    const r = electSource([l('a', false, '2020-01-01T00:00:00Z', 9), l('b', false, '2020-01-01T00:00:00Z', 5)]);
    expect(r.source.id).toBe('b');
    expect(r.reason).toContain('lowest price');
  });

  it('listings equal on badge, date and price go to the one closest to the query, whatever their ids', () => {
    const l = (id: string, chance: number | undefined, sim: number) => ({ id, title: id, categoryPath: [], attributes: {}, images: [], similarity: sim, ...(chance === undefined ? {} : { sameProductChance: chance }), listedAt: '2024-01-01T00:00:00Z', price: { amount: 10, currency: 'CNY' }, supplier: { id, name: id, badges: ['factory'] } }) as any;
    const r = electSource([l('a', 0.2, 0.9), l('b', 0.8, 0.7)]);
    expect(r.source.id).toBe('b');
    expect(r.reason).toContain('closest to your query');
    expect(electSource([l('b', 0.2, 0.9), l('a', 0.8, 0.7)]).source.id).toBe('a');
    // without a P(same), the look decides
    expect(electSource([l('a', undefined, 0.6), l('b', undefined, 0.7)]).source.id).toBe('b');
    // closeness never overrides the rule: an earlier listing wins however far it is
    const early = { ...l('c', 0.1, 0.5), listedAt: '2023-01-01T00:00:00Z' };
    expect(electSource([l('a', 0.9, 0.9), early]).source.id).toBe('c');
  });
});
