// Words in any language: Traditional → Simplified folding, language identification, English → Chinese
// translation, Chinese → English glosses, and recall of hand-written English queries over a Chinese-titled
// catalogue through the real search verb (text path, embedded backend, no vision model).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bilingualServices, evalBilingual, loadBilingualCatalogue, loadBilingualQueries, rankedIds } from '../bench/bilingual.ts';
import { createApp } from '../src/app.ts';
import { search } from '../src/match/search.ts';
import { SearchAnswer } from '../src/schema/search.ts';
import type { Services } from '../src/services.ts';
import { detectLanguage } from '../src/text/language.ts';
import { foldText, toSimplified } from '../src/text/normalize.ts';
import { tokenize } from '../src/text/tokenize.ts';
import { glossTitle, loadDictionary, loadedDictionary, parseGlossary, translateQuery, translateWords } from '../src/text/translate.ts';
import { understandWords } from '../src/text/words.ts';

const base = { limit: 10, currency: 'CNY', cheaperOnly: false, sort: 'similarity' as const };

describe('folding', () => {
  it('folds Traditional to Simplified Chinese, full-width to half-width, case and accents', () => {
    expect(foldText('保溫杯')).toBe('保温杯');
    expect(foldText('雙肩背包 檯燈 手機殼')).toBe('双肩背包 台灯 手机壳');
    expect(foldText('ＬＥＤ５００ｍｌ')).toBe('led500ml');
    expect(foldText('Café')).toBe('cafe');
    // Simplified text is left as it is (著名, 皇后, 干净 are not "converted")
    expect(toSimplified('著名 皇后 干净 面条 一只')).toBe('著名 皇后 干净 面条 一只');
    expect(toSimplified('no han here')).toBe('no han here');
  });

  it('index and query tokens agree across scripts', () => {
    expect(tokenize('不鏽鋼保溫杯 500毫升')).toEqual(tokenize('不锈钢保温杯 500毫升'));
  });
});

describe('language identification', () => {
  it.each([
    ['stainless steel water bottle', 'en'],
    ['backpack for school', 'en'],
    ['保温杯', 'zh'],
    ['保溫杯 500ml', 'zh'],
    ['水杯 mug', 'zh'],
    ['보온병', 'ko'],
    ['ステンレス', 'ja'],
    ['термос из нержавеющей стали', 'ru'],
    ['bình giữ nhiệt', 'vi'],
    ['Wasserflasche aus Edelstahl', 'de'],
    ['mug', 'en'],
  ])('%s → %s', (text, code) => {
    const l = detectLanguage(text);
    expect(l.code).toBe(code);
    expect(l.confidence).toBeGreaterThan(0);
    expect(l.confidence).toBeLessThanOrEqual(1);
  });

  it('Han is decided by script with full confidence; no letters is und', () => {
    expect(detectLanguage('保温杯')).toEqual({ code: 'zh', confidence: 1 });
    expect(detectLanguage('500 123')).toEqual({ code: 'und', confidence: 0 });
  });
});

describe('before the dictionary is loaded', () => {
  it('a query does not wait for it (the server loads it at start-up): the glossary alone translates', () => {
    expect(loadedDictionary()).toBeNull();
    const w = understandWords('umbrella mug');
    expect(w.translation?.terms).toEqual(['马克杯', '杯子']);
    expect(w.tokens).toEqual(['umbrella', 'mug']);
    expect(w.searchTokens).toEqual(expect.arrayContaining(['umbrella', 'mug', '马克杯', '杯子']));
    expect(loadedDictionary()).toBeNull();
  });
});

describe('translation', () => {
  beforeAll(async () => {
    await loadDictionary();
  }, 60_000);

  it('matches glossary phrases longest-first and keeps numbers with their units', async () => {
    const t = await translateQuery('stainless steel water bottle 500ml');
    expect(t.parts.map((p) => p.source)).toEqual(['stainless steel', 'water bottle', '500', 'ml']);
    expect(t.terms).toEqual(expect.arrayContaining(['不锈钢', '保温杯', '水杯', '500', '毫升']));
    expect(t.terms).not.toContain('钢');
    const spaced = await translateQuery('ceramic mug 350 ml');
    expect(spaced.terms).toEqual(expect.arrayContaining(['陶瓷', '马克杯', '350', '毫升']));
  });

  it('translates product categories, foods and B2B words from the glossary', async () => {
    const cases: Array<[string, string[]]> = [
      ['oat milk', ['燕麦奶']],
      ['soy milk', ['豆奶']],
      ['yoghurt', ['酸奶']],
      ['phone case', ['手机壳']],
      ['backpack', ['背包']],
      ['desk lamp', ['台灯']],
      ['MOQ', ['起订量']],
      ['OEM', ['贴牌']],
      ['wholesale', ['批发']],
      ['dropshipping', ['一件代发']],
      ['custom logo', ['定制logo']],
      ['free shipping', ['包邮']],
      ['factory', ['工厂', '厂家']],
    ];
    for (const [en, zh] of cases) expect((await translateQuery(en)).terms, en).toEqual(expect.arrayContaining(zh));
  });

  it('falls back to the reversed CC-CEDICT for words the glossary lacks, with a few ranked candidates', async () => {
    for (const [en, zh] of [
      ['umbrella', '雨伞'],
      ['scissors', '剪刀'],
      ['bicycle', '自行车'],
      ['pillow', '枕头'],
      ['toothbrush', '牙刷'],
    ]) {
      const t = await translateQuery(en);
      expect(t.parts[0].via, en).toBe('dictionary');
      expect(t.terms[0], en).toBe(zh);
      expect(t.terms.length).toBeLessThanOrEqual(2);
    }
  });

  it('folds plurals, skips stop words, reports unknown words; single letters are units only after a number', async () => {
    expect((await translateQuery('bottles')).terms).toContain('水杯');
    const men = await translateQuery('trousers for men');
    expect(men.terms).toEqual(['裤子', '男', '男士']);
    expect((await translateQuery('qwxz mug')).unknown).toEqual(['qwxz']);
    expect((await translateQuery('size m')).terms).not.toContain('米');
    expect((await translateQuery('1.5 l kettle')).terms).toEqual(expect.arrayContaining(['1.5', '升', '水壶']));
  });

  it('the glossary file format: tab-separated, | between candidates, # comments, the gloss is the first line listing the term first', () => {
    const g = parseGlossary('# c\nmug\t马克杯|杯子\ncoffee mug\t马克杯\ncup\t杯子\n\nbad line\n');
    expect(g.en2zh.get('mug')).toEqual(['马克杯', '杯子']);
    expect(g.en2zh.get('coffee mug')).toEqual(['马克杯']);
    expect(g.zh2en.get('马克杯')).toBe('mug');
    expect(g.zh2en.get('杯子')).toBe('cup'); // listed first there
    expect(g.en2zh.get('mug')).toEqual(['马克杯', '杯子']);
    expect(g.en2zh.has('bad line')).toBe(false);
  });

  it('the shipped glossary has at least 150 entries', async () => {
    const fs = await import('node:fs');
    const { GLOSSARY_FILE } = await import('../src/text/translate.ts');
    expect(parseGlossary(fs.readFileSync(GLOSSARY_FILE, 'utf8')).en2zh.size).toBeGreaterThanOrEqual(150);
  });

  it('translateWords without the dictionary uses the glossary only', () => {
    const t = translateWords('umbrella mug', null);
    expect(t.terms).toEqual(['马克杯', '杯子']);
    expect(t.unknown).toEqual(['umbrella']);
  });

  it('glosses Chinese titles word by word, keeping Latin words and numbers', async () => {
    const d = await loadDictionary();
    expect(glossTitle('不锈钢保温杯 500毫升', d)).toBe('stainless steel thermos 500 ml');
    expect(glossTitle('陶瓷马克杯 350毫升', d)).toBe('ceramic mug 350 ml');
    expect(glossTitle('燕麦奶 1L 无糖', d)).toBe('oat milk 1L sugar free');
    expect(glossTitle('纯棉短袖T恤 男', d)).toBe('cotton short sleeve t-shirt men');
    expect(glossTitle('iPhone15 手机壳 透明', d)).toBe('iPhone15 phone case transparent');
    // Traditional titles are glossed after folding
    expect(glossTitle('保溫杯', d)).toBe(glossTitle('保温杯', d));
  });
});

describe('bilingual search (real search verb, embedded backend)', () => {
  let s: Services;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ services: s, close } = await bilingualServices());
    await loadDictionary();
  }, 120_000);
  afterAll(async () => close?.());

  it('the fixtures are what the test claims: ~50 Chinese-titled products, ≥ 60 queries with known ids', () => {
    const cat = loadBilingualCatalogue();
    const ids = new Set(cat.map((r) => r.product.id));
    expect(cat.length).toBeGreaterThanOrEqual(40);
    for (const r of cat) expect(r.product.title).toMatch(/\p{Script=Han}/u);
    const qs = loadBilingualQueries();
    expect(qs.length).toBeGreaterThanOrEqual(60);
    for (const q of qs) for (const id of q.relevant) expect(ids.has(id), `${q.query}: ${id}`).toBe(true);
  });

  it('English queries find Chinese-titled products: Recall@10 ≥ 0.95 (measured 1.00), MRR ≥ 0.9', async () => {
    const r = await evalBilingual(s);
    const misses = r.results.filter((x) => x.recall < 1).map((x) => `${x.query} → ${x.got.join(',')} (${x.terms.join(' ')})`);
    expect(r.recallAt10, misses.join('\n')).toBeGreaterThanOrEqual(0.95);
    expect(r.mrr).toBeGreaterThanOrEqual(0.9);
  });

  it('without translation the same queries find almost nothing (the baseline the translation lifts)', async () => {
    let found = 0;
    const qs = loadBilingualQueries();
    for (const q of qs) {
      const hits = await s.backend.text(tokenize(q.query), { k: 10 });
      if (hits.some((h) => q.relevant.includes(h.id))) found++;
    }
    expect(found / qs.length).toBeLessThan(0.2);
  });

  it('reports the language and the translated terms, and the answer keeps its schema', async () => {
    const a = await search(s, { ...base, text: 'stainless steel water bottle 500ml' });
    expect(a.query.language?.code).toBe('en');
    expect(a.query.translation).toMatchObject({ from: 'en', method: 'dictionary' });
    expect(a.query.translation!.terms).toEqual(expect.arrayContaining(['不锈钢', '保温杯', '500', '毫升']));
    expect(a.query.tokens).toEqual(['stainless', 'steel', 'water', 'bottle', '500ml']);
    expect(rankedIds(a)[0]).toBe('bl-01');
    expect(() => SearchAnswer.parse(a)).not.toThrow();
  });

  it('a Chinese query is not translated; a Traditional one finds the Simplified title', async () => {
    const zh = await search(s, { ...base, text: '保溫杯' });
    expect(zh.query.language).toEqual({ code: 'zh', confidence: 1 });
    expect(zh.query.translation).toBeUndefined();
    expect(rankedIds(zh).slice(0, 2).sort()).toEqual(['bl-01', 'bl-02']);
  });

  it("lang 'en' adds titleTranslated (a gloss) to Chinese titles; without lang there is none", async () => {
    const a = await search(s, { ...base, text: 'ceramic mug', lang: 'en' });
    const first = a.sameSource[0]?.source ?? a.substitutes[0].listing;
    expect(first.id).toBe('bl-05');
    expect(first.titleTranslated).toBe('ceramic mug 350 ml simple');
    expect(first.translation).toBe('gloss');
    for (const x of a.substitutes) expect(x.listing.titleTranslated).toBeTruthy();
    expect(() => SearchAnswer.parse(a)).not.toThrow();
    const plain = await search(s, { ...base, text: 'ceramic mug' });
    for (const x of plain.substitutes) expect(x.listing.titleTranslated).toBeUndefined();
  });

  it('POST /v1/search takes lang in JSON and in a multipart form', async () => {
    const app = createApp(s);
    const r = await app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'oat milk', lang: 'en' }) });
    expect(r.status).toBe(200);
    const a = (await r.json()) as SearchAnswer;
    expect(a.substitutes[0].listing.id).toBe('bl-42');
    expect(a.substitutes[0].listing.titleTranslated).toContain('oat milk');
    expect(a.query.translation?.terms).toContain('燕麦奶');
    const fd = new FormData();
    fd.append('text', 'soy milk');
    fd.append('lang', 'en');
    const m = await app.request('/v1/search', { method: 'POST', body: fd });
    expect(m.status).toBe(200);
    const b = (await m.json()) as SearchAnswer;
    expect(b.substitutes[0].listing.id).toBe('bl-43');
    expect(b.substitutes[0].listing.translation).toBe('gloss');
    const bad = await app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'mug', lang: 'English!' }) });
    expect(bad.status).toBe(400);
  });
});
