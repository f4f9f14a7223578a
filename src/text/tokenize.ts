// Our own tokeniser, used for both backends so that they agree on what matches: Chinese is segmented
// with jieba (search mode, so 保温杯 also yields 保温), other scripts split on non-letters/digits.
import { createRequire } from 'node:module';
import { foldText } from './normalize.ts';

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
