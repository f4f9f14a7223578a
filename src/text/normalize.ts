// Text folding shared by indexing and querying: NFKC folds full-width forms to half-width, Traditional
// Chinese is folded to Simplified (OpenCC tables, Taiwan variants included, character and phrase level, so
// 保溫杯 and 保温杯 index alike), case is lowered, accents are removed from Latin letters.
import * as OpenCC from 'opencc-js/t2cn';

const HAN = /\p{Script=Han}/u;
let t2s: ((s: string) => string) | null = null;

/** Traditional → Simplified Chinese; text without Han characters is returned as it is. */
export function toSimplified(s: string): string {
  if (!HAN.test(s)) return s;
  const conv = (t2s ??= OpenCC.Converter({ from: 'tw', to: 'cn' }));
  return conv(s);
}

export function foldText(s: string): string {
  return toSimplified(
    s
      .normalize('NFKC')
      .toLowerCase()
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .normalize('NFC'),
  );
}
