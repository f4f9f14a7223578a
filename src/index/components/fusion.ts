// Reciprocal rank fusion on our side: the test Elasticsearch lacks RRF, and both backends must rank alike.
import type { Hit } from '../backend.ts';

export interface FusedHit {
  id: string;
  score: number;
  ranks: Record<string, number>;
}

export function rrf(lists: Record<string, Hit[]>, k = 60, weights: Record<string, number> = {}): FusedHit[] {
  const acc = new Map<string, FusedHit>();
  for (const [name, hits] of Object.entries(lists)) {
    const w = weights[name] ?? 1;
    hits.forEach((h, i) => {
      const e = acc.get(h.id) ?? { id: h.id, score: 0, ranks: {} };
      e.score += w / (k + i + 1);
      e.ranks[name] = i + 1;
      acc.set(h.id, e);
    });
  }
  return [...acc.values()].sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}
