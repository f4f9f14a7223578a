// Our own tokeniser, used for both backends so that they agree on what matches: Chinese is segmented
// with jieba (search mode, so 保温杯 also yields 保温), other scripts split on non-letters/digits.
import { createRequire } from 'node:module';
import { foldText, toSimplified } from './normalize.ts';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { Jieba } = require('@node-rs/jieba') as typeof import('@node-rs/jieba');
const { dict } = require('@node-rs/jieba/dict') as { dict: Uint8Array };

let jieba: InstanceType<typeof Jieba> | null = null;
function seg(): InstanceType<typeof Jieba> {
  jieba ??= Jieba.withDict(dict);
  return jieba;
}

const HAN = /\p{Script=Han}/u;
const WORD = /[\p{L}\p{N}]+/gu;

export function tokenize(text: string): string[] {
  const folded = foldText(text);
  const out: string[] = [];
  for (const m of folded.matchAll(WORD)) {
    const w = m[0];
    if (HAN.test(w)) {
      for (const t of seg().cutForSearch(w, true)) {
        const tt = t.trim();
        if (tt) out.push(tt);
      }
    } else {
      out.push(w);
    }
  }
  return out;
}

/** The text of a product that keyword search sees. */
export function productText(p: { title: string; description?: string; categoryPath?: string[]; attributes?: Record<string, unknown> }): string {
  const attrs = Object.entries(p.attributes ?? {})
    .filter(([, v]) => typeof v === 'string')
    .map(([, v]) => v as string);
  return [p.title, p.description ?? '', ...(p.categoryPath ?? []), ...attrs].join(' \n ');
}

/** Jieba's precise-mode segmentation (the words of a title, each once), for glossing: NFKC and
 *  Traditional → Simplified are folded, case is kept. */
export function segment(text: string): string[] {
  return seg().cut(toSimplified(text.normalize('NFKC')), true).filter((t) => t.trim());
}

/** Word frequencies of jieba's dictionary (how common a Chinese word is), read once on first use. */
let freqs: Map<string, number> | null = null;
export function wordFrequency(word: string): number {
  if (!freqs) {
    freqs = new Map();
    for (const line of Buffer.from(dict).toString('utf8').split('\n')) {
      const a = line.indexOf(' ');
      const b = line.indexOf(' ', a + 1);
      if (a > 0) freqs.set(line.slice(0, a), Number(line.slice(a + 1, b > 0 ? b : undefined)) || 0);
    }
  }
  return freqs.get(word) ?? 0;
}
