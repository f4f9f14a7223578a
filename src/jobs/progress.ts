// Rate over a moving window and the ETA when the total is known (files are counted first; a stream has none).
import type { Counts } from './checkpoint.ts';

export interface ProgressView {
  total: number | null;
  processed: number;
  done: number;
  failed: number;
  skipped: number;
  /** items per second over the last `windowMs` */
  rate: number;
  /** seconds to go at that rate; null when the total is unknown or nothing moves */
  etaSeconds: number | null;
}

export class RateMeter {
  private samples: Array<[t: number, n: number]> = [];
  constructor(private readonly windowMs = 10_000) {}

  rate(processed: number, now = Date.now()): number {
    this.samples.push([now, processed]);
    while (this.samples.length > 2 && now - this.samples[1][0] >= this.windowMs) this.samples.shift();
    const [t0, n0] = this.samples[0];
    return now > t0 ? ((processed - n0) * 1000) / (now - t0) : 0;
  }
}

export function progressView(counts: Counts, total: number | null, meter: RateMeter): ProgressView {
  const processed = counts.done + counts.failed + counts.skipped;
  const rate = meter.rate(processed);
  const etaSeconds = total !== null && rate > 0 ? Math.max(0, Math.round((total - processed) / rate)) : null;
  return { total, processed, ...counts, rate: Math.round(rate * 10) / 10, etaSeconds };
}
