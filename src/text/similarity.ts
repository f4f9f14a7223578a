// Text similarity for evidence: character n-gram TF-IDF cosine (survives OCR misreadings), with the IDF
// taken from the texts being compared (the query's candidates), so that what every candidate shares (a
// brand's big name on each flavour) weighs little and what tells them apart (the small print) weighs more.
import { NgramIdf, cosine, ngrams } from './ngram.ts';

export function textSimilarities(query: string, texts: string[]): number[] {
  const idf = new NgramIdf();
  const grams = texts.map((t) => ngrams(t));
  const q = ngrams(query);
  idf.add(q);
  for (const g of grams) if (g.size) idf.add(g);
  const qv = idf.weigh(q);
  return grams.map((g) => (g.size ? cosine(qv, idf.weigh(g)) : 0));
}
