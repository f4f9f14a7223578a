// Dot products of a few query vectors with every row of a matrix, in one onnxruntime Gemm (Q · Mᵀ).
// A JavaScript dot loop reads the whole matrix once per query at about 1 GMAC/s; MLAS's sgemm is an
// order of magnitude faster and, given a batch, reads the matrix once for all of it. `npm run bench --
// gemm`, 10,000 × 512 floats on this 2-core machine: 10.7 ms per query in JavaScript, 1.05 ms alone and
// 0.23 ms per query in a batch of 64 (index-time grouping looks up a whole write batch at once).
import * as ort from 'onnxruntime-node';
import { gemmTransB } from '../../util/gemm-model.ts';
import { sessionOptions } from '../../util/ort.ts';

let session: Promise<ort.InferenceSession> | null = null;

function open(): Promise<ort.InferenceSession> {
  // one intra-op thread: the scores are wanted on the calling thread, beside the models' own threads
  session ??= ort.InferenceSession.create(
    // every dimension symbolic: one session serves every index and size
    gemmTransB({
      producer: 'sourcing-search/dot-scorer',
      inputs: [
        { name: 'Q', dims: ['B', 'D'] },
        { name: 'M', dims: ['N', 'D'] },
      ],
      operands: ['Q', 'M'],
      output: { name: 'S', dims: ['B', 'N'] },
    }),
    sessionOptions(1),
  ).catch((e) => {
    session = null;
    throw e;
  });
  return session;
}

/**
 * Row-major B × N scores of `queries` (B × dims, concatenated) against the first `n` rows of `matrix`
 * (row-major, dims per row). Float32 sums in a different order than `dot`: equal to about 1e-6.
 */
export async function dotScores(queries: Float32Array, b: number, matrix: Float32Array, n: number, dims: number): Promise<Float32Array> {
  if (queries.length !== b * dims) throw new Error(`dotScores: ${queries.length} query values for ${b} × ${dims}`);
  if (matrix.length < n * dims) throw new Error(`dotScores: the matrix has fewer than ${n} rows`);
  if (b === 0 || n === 0) return new Float32Array(0);
  const s = await open();
  const out = await s.run({
    Q: new ort.Tensor('float32', queries, [b, dims]),
    M: new ort.Tensor('float32', matrix.subarray(0, n * dims), [n, dims]),
  });
  return out.S.data as Float32Array;
}
