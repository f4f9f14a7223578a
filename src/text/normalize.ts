// Text folding shared by indexing and querying: NFKC folds full-width forms to half-width,
// case is lowered, accents are removed from Latin letters.
export function foldText(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .normalize('NFC');
}
