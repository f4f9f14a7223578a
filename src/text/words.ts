// What the search verb does with a query's words before the backend sees them, and with the titles it
// returns: language identification, translation into Chinese search terms, and English glosses of titles.
import { detectLanguage, type Language } from './language.ts';
import { tokenize } from './tokenize.ts';
import { glossTitle, loadDictionary, loadedDictionary, translateWords } from './translate.ts';

export interface QueryTranslationReport {
  terms: string[];
  from: string;
  method: 'dictionary';
}

export interface UnderstoodWords {
  /** the query's own tokens (reported as query.tokens) */
  tokens: string[];
  /** what the backend is asked for: the query's own tokens, then those of the translated terms (each once) */
  searchTokens: string[];
  language: Language;
  translation?: QueryTranslationReport;
}

/** Languages whose queries are translated (the dictionary and glossary are English → Chinese). */
const CJK = new Set(['zh', 'ja', 'ko']);
const LATIN = /\p{Script=Latin}/u;

export function understandWords(text: string): UnderstoodWords {
  const tokens = tokenize(text);
  const language = detectLanguage(text);
  if (CJK.has(language.code) || !LATIN.test(text)) return { tokens, searchTokens: tokens, language };
  // a query never waits for CC-CEDICT to load (seconds, once): the server loads it at start-up (src/main.ts),
  // a `lang` request loads it for its glosses; until it is there, the glossary alone translates
  const t = translateWords(text, loadedDictionary());
  if (!t.terms.length) return { tokens, searchTokens: tokens, language };
  const searchTokens = [...new Set([...tokens, ...tokenize(t.terms.join(' '))])];
  return { tokens, searchTokens, language, translation: { terms: t.terms, from: 'en', method: 'dictionary' } };
}

/**
 * What the semantic model is asked to embed for a query: the words as written, followed by their Chinese
 * translation when there is one. The model reads English too, but the catalogue's titles are Chinese, and
 * the dictionary's terms put the query into the titles' language (measured in bench/bilingual.ts).
 */
export function semanticQueryText(text: string, words: UnderstoodWords | null): string {
  const terms = words?.translation?.terms ?? [];
  return terms.length ? `${text} ${terms.join(' ')}` : text;
}

const HAN = /\p{Script=Han}/u;

interface Glossable {
  title: string;
  titleTranslated?: string;
  translation?: 'gloss';
}

/** Adds an English gloss to every listing whose title is Chinese (only English glosses exist). */
export async function glossListings(listings: Iterable<Glossable>, lang: string): Promise<void> {
  if (!/^en\b/i.test(lang)) return;
  const d = await loadDictionary();
  const memo = new Map<string, string>();
  for (const l of listings) {
    if (!HAN.test(l.title)) continue;
    let g = memo.get(l.title);
    if (g === undefined) memo.set(l.title, (g = glossTitle(l.title, d)));
    l.titleTranslated = g;
    l.translation = 'gloss';
  }
}
