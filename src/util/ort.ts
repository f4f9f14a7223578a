// Session options shared by every model. onnxruntime's intra-op threads spin while they wait for work,
// which on 2 cores takes CPU from everything else running beside a model (the ORB worker, sharp, the other
// models). Measured 2026-12-03: a 400-listing job used 38.7 → 29.8 s of CPU and took 22.6 → 20.1 s without
// spinning; photo queries p50 386 → 361 ms. ORT_SPIN=1 turns spinning back on.
import type { InferenceSession } from 'onnxruntime-node';

export function sessionOptions(threads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    ...(process.env.ORT_SPIN === '1' ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  };
}
