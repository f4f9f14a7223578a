// Language identification of a query. Short queries are hard for n-gram models, so the script decides
// first: any Han character makes it Chinese (the catalogue's language); kana → ja, hangul → ko; otherwise
// eld (n-gram detector, "small" data set) decides, and a Latin-script text it cannot place is taken as
// English with low confidence (product words such as "mug" are too short to identify).
import { eld } from 'eld/small';

export interface Language {
  /** ISO 639-1 code, or 'und' when nothing in the text is a letter */
  code: string;
  /** 0..1: 1 for script-decided answers, eld's score otherwise */
  confidence: number;
}

const HAN = /\p{Script=Han}/u;
const KANA = /[\p{Script=Hiragana}\p{Script=Katakana}]/u;
const HANGUL = /\p{Script=Hangul}/u;
const LETTER = /\p{L}/u;
const LATIN = /\p{Script=Latin}/u;

export function detectLanguage(text: string): Language {
  const t = text.normalize('NFKC');
  if (KANA.test(t)) return { code: 'ja', confidence: 1 };
  if (HAN.test(t)) return { code: 'zh', confidence: 1 };
  if (HANGUL.test(t)) return { code: 'ko', confidence: 1 };
  if (!LETTER.test(t)) return { code: 'und', confidence: 0 };
  const r = eld.detect(t);
  const scores = r.getScores();
  if (r.language) {
    const conf = Math.min(1, Math.max(0, scores[r.language] ?? 0));
    // the detector's second guess can be nearly as good on a few words: report the margin, not the raw score
    const others = Object.entries(scores).filter(([k]) => k !== r.language).map(([, v]) => v);
    const margin = others.length ? conf - Math.max(...others) : conf;
    const confidence = r.isReliable() ? Math.max(0.5, Math.min(1, 0.5 + margin * 2)) : Math.min(0.5, conf);
    return { code: r.language, confidence: round(confidence) };
  }
  if (LATIN.test(t)) return { code: 'en', confidence: 0.3 };
  return { code: 'und', confidence: 0 };
}

const round = (x: number) => Math.round(x * 100) / 100;
