// Offline comparison of evidence models on dumped fitting pairs (BENCH_DUMP_PAIRS=… npm run bench -- sourcing
// or scripts/fit-evidence.ts): 5-fold cross-validation grouped by query, recall at precision 0.99 out of fold.
// Run: npx tsx bench/try-evidence.ts pairs.jsonl
import fs from 'node:fs';
import { fitLogistic, predict } from '../src/match/logistic.ts';
import { fitBoosted, predictBoosted } from '../src/match/boosted.ts';
import { FEATURES, featureVector, type PairEvidence } from '../src/match/evidence.ts';

type Row = { src: string; q: string; y: boolean; e: PairEvidence };
const rows: Row[] = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
console.log(`${rows.length} pairs, ${rows.filter((r) => r.y).length} positive`);

const noColour = (e: PairEvidence) => featureVector(e).slice(0, 10);
const sets: Record<string, { names: string[]; fx: (e: PairEvidence) => number[] }> = {
  'no-colour': { names: FEATURES.slice(0, 10), fx: noColour },
  all: { names: [...FEATURES], fx: featureVector },
};

function recallAt(scored: Array<{ p: number; y: boolean }>, precision: number) {
  const s = [...scored].sort((a, b) => b.p - a.p);
  const pos = s.filter((x) => x.y).length;
  let tp = 0, best = 0, cut = 1;
  s.forEach((x, i) => {
    if (x.y) tp++;
    const last = i + 1 === s.length || s[i + 1].p < x.p;
    if (last && tp / (i + 1) >= precision) (best = tp / pos), (cut = x.p);
  });
  return { recall: best, cut };
}

const queries = [...new Set(rows.map((r) => r.q))];
const fold = new Map(queries.map((q, i) => [q, i % 5]));
const bySrc = new Map<string, number>();
for (const r of rows) bySrc.set(r.src, (bySrc.get(r.src) ?? 0) + 1);
const weight = (r: Row) => rows.length / bySrc.size / bySrc.get(r.src)!;

for (const [setName, set] of Object.entries(sets)) {
  const X = rows.map((r) => set.fx(r.e).map((v) => (Number.isFinite(v) ? v : 0)));
  for (const kind of ['logistic', 'boosted'] as const) {
    const p = new Float64Array(rows.length);
    for (let f = 0; f < 5; f++) {
      const tr = rows.map((r, i) => i).filter((i) => fold.get(rows[i].q) !== f);
      const te = rows.map((r, i) => i).filter((i) => fold.get(rows[i].q) === f);
      const Xt = tr.map((i) => X[i]), yt = tr.map((i) => rows[i].y), wt = tr.map((i) => weight(rows[i]));
      if (kind === 'logistic') {
        const m = fitLogistic(set.names, Xt, yt, { l2: 1e-3, sampleWeights: wt });
        for (const i of te) p[i] = predict(m, X[i]);
      } else {
        const m = fitBoosted(set.names, Xt, yt, { sampleWeights: wt, ...JSON.parse(process.env.BOOST ?? '{}') });
        for (const i of te) p[i] = predictBoosted(m, X[i]);
      }
    }
    const all = recallAt(rows.map((r, i) => ({ p: p[i], y: r.y })), 0.99);
    const per = [...bySrc.keys()].map((src) => {
      const r = recallAt(rows.flatMap((row, i) => (row.src === src ? [{ p: p[i], y: row.y }] : [])), 0.99);
      return `${src} R ${r.recall.toFixed(3)}`;
    });
    console.log(`${setName.padEnd(8)} ${kind.padEnd(9)} all: recall@P.99 ${all.recall.toFixed(3)} (cut ${all.cut.toFixed(3)}); ${per.join(', ')}`);
  }
}
