import { describe, expect, it } from 'vitest';
import { cosine, NgramIdf, ngrams, normalizeForNgrams } from '../src/text/ngram.ts';

describe('normalizeForNgrams', () => {
  it('folds width, case and accents and drops everything but letters and digits', () => {
    expect(normalizeForNgrams('Ｃrème  Fraîche, 34 %!')).toBe('cremefraiche34');
    expect(normalizeForNgrams('SOMMAR-MJÖLK\n3,0 %')).toBe('sommarmjolk\n30');
  });
  it('keeps CJK and folds Traditional to Simplified', () => {
    expect(normalizeForNgrams('燕麥 奶（有機）')).toBe('燕麦奶有机');
  });
  it('drops empty lines', () => {
    expect(normalizeForNgrams('  \n--\nab')).toBe('ab');
  });
});

describe('ngrams', () => {
  it('makes character trigrams per line, ignoring spaces', () => {
    expect([...ngrams('Oat milk').keys()]).toEqual(['oat', 'atm', 'tmi', 'mil', 'ilk']);
    // a lost space changes nothing
    expect(ngrams('Best before')).toEqual(ngrams('Bestbefore'));
  });
  it('never spans two lines', () => {
    expect([...ngrams('ab\ncd').keys()]).toEqual(['ab', 'cd']);
  });
  it('counts repeats', () => {
    expect(ngrams('aaaa').get('aaa')).toBe(2);
  });
  it('uses bigrams for CJK runs and trigrams for the Latin runs beside them', () => {
    expect([...ngrams('有机燕麦奶 Oatly').keys()]).toEqual(['有机', '机燕', '燕麦', '麦奶', 'oat', 'atl', 'tly']);
    expect([...ngrams('奶').keys()]).toEqual(['奶']);
  });
  it('drops lone Latin characters and empty text', () => {
    expect(ngrams('a').size).toBe(0);
    expect(ngrams('').size).toBe(0);
    expect(ngrams('!!! ...').size).toBe(0);
  });
});

describe('cosine', () => {
  it('is 1 for the same vector, 0 for disjoint or empty ones', () => {
    const a = new Map([['x', 1], ['y', 2]]);
    expect(cosine(a, a)).toBeCloseTo(1, 12);
    expect(cosine(a, new Map([['z', 1]]))).toBe(0);
    expect(cosine(a, new Map())).toBe(0);
  });
  it('does not need normalised input and is symmetric', () => {
    const a = new Map([['x', 3], ['y', 4]]);
    const b = new Map([['x', 1]]);
    expect(cosine(a, b)).toBeCloseTo(0.6, 12);
    expect(cosine(b, a)).toBeCloseTo(0.6, 12);
  });
});

describe('NgramIdf', () => {
  const docs = ['Arla Standard Milk 3%', 'Arla Medium Fat Milk 1.5%', 'Oatly Oat Milk', 'Tropicana Apple Juice'];

  it('weights rare grams above common ones', () => {
    const t = new NgramIdf();
    docs.forEach((d) => t.add(d));
    expect(t.size).toBe(4);
    expect(t.idf('mil')).toBeLessThan(t.idf('arl'));
    expect(t.idf('arl')).toBeLessThan(t.idf('jui'));
    expect(t.idf('never-seen')).toBeGreaterThan(t.idf('jui'));
  });

  it('tolerates OCR errors: a misread photo text is closest to its own product', () => {
    const t = new NgramIdf();
    docs.forEach((d) => t.add(d));
    const q = t.vector('Arla\nSTANDARDMJ0LK 3%'); // misread O, lost spaces
    const sims = docs.map((d) => cosine(q, t.vector(d)));
    expect(sims.indexOf(Math.max(...sims))).toBe(0);
    const v = t.vector(docs[2]);
    expect([...v.values()].reduce((s, w) => s + w * w, 0)).toBeCloseTo(1, 10);
  });

  it('updates incrementally and round-trips through JSON', () => {
    const a = new NgramIdf();
    docs.forEach((d) => a.add(d));
    const before = a.idf('arl');
    a.add('Arla Ecological Milk');
    expect(a.idf('arl')).toBeLessThan(before);
    a.remove('Arla Ecological Milk');
    expect(a.idf('arl')).toBeCloseTo(before, 12);

    const json = JSON.stringify(a);
    const b = NgramIdf.fromJSON(json);
    expect(b.size).toBe(a.size);
    for (const g of ['arl', 'mil', 'jui', 'zzz']) expect(b.idf(g)).toBe(a.idf(g));
    expect(JSON.stringify(b)).toBe(json);
    // removing every document leaves an empty table, not negative counts
    docs.forEach((d) => b.remove(d));
    expect(b.toJSON()).toEqual({ version: 1, docs: 0, df: {} });
    expect(() => NgramIdf.fromJSON('{"version":2}')).toThrow();
  });

  it('accepts gram counts as well as text', () => {
    const a = new NgramIdf();
    const b = new NgramIdf();
    docs.forEach((d) => (a.add(d), b.add(ngrams(d))));
    expect(a.toJSON()).toEqual(b.toJSON());
    expect(a.weigh(ngrams('oat milk'))).toEqual(a.vector('oat milk'));
  });
});
