// The job pipeline's bounds, without models: the source is read only as fast as items leave the window
// (backpressure, so memory does not grow with the input), and a cancel drops what is in flight.
import { describe, expect, it } from 'vitest';
import { Cancelled, newStageTimes, runIndexPipeline } from '../src/jobs/pipeline.ts';
import { Acks } from '../src/jobs/checkpoint.ts';
import type { SourceItem } from '../src/jobs/source.ts';
import type { Services } from '../src/services.ts';

describe('job pipeline bounds', () => {
  it('reads no further than the window while the stages are blocked, whatever the input size', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<SourceItem> {
      for (let line = 1; line <= 1_000_000; line++) {
        pulled++;
        yield { line, id: `p-${line}`, input: { title: 't', description: '', categoryPath: [], images: [{ url: `https://img.example.com/${line}.jpg` }], attributes: {} } };
      }
    }
    // image fetches that never answer (a slow origin): every item waits in the fetch stage
    const never = new Promise<never>(() => {});
    const s = { fetcher: { fetchImage: () => never }, config: { image: { maxBytes: 1 << 20 } }, evidence: null, ocr: null } as unknown as Services;
    const abort = new AbortController();
    const acks: Array<[number, string]> = [];
    const run = runIndexPipeline(endless(), s, {
      fetchConcurrency: 4,
      embedConcurrency: 4,
      ocrConcurrency: 1,
      batchSize: 16,
      window: 50,
      allowPaths: false,
      ocr: false,
      signal: abort.signal,
      times: newStageTimes(),
      copyUnchanged: false,
      write: async () => [],
      onAck: (item, outcome) => acks.push([item.line, outcome]),
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(pulled).toBeLessThanOrEqual(51);
    expect(pulled).toBeGreaterThanOrEqual(50);
    const t0 = Date.now();
    abort.abort();
    // the run ends at once: items stuck in a stage are not waited for (they are dropped when they come out)
    await expect(run).rejects.toBeInstanceOf(Cancelled);
    expect(Date.now() - t0).toBeLessThan(200);
    expect(acks).toEqual([]);
  });

  it('invalid lines are acknowledged as failed in any order, and the checkpoint watermark only moves over contiguous lines', async () => {
    const a = new Acks(null, 'fp', null);
    a.ack(2, 'failed');
    a.ack(3, 'done');
    expect(a.line).toBe(0);
    a.ack(1, 'skipped');
    expect(a.line).toBe(3);
    expect(a.counts).toEqual({ done: 1, failed: 1, skipped: 1 });
    a.ack(5, 'blank');
    expect(a.line).toBe(3);
    expect(a.seen).toEqual({ done: 1, failed: 1, skipped: 1 });
    a.ack(4, 'done');
    expect(a.line).toBe(5);
    expect(a.counts).toEqual({ done: 2, failed: 1, skipped: 1 });
  });

  it('a cancel while items are queued ends the run with Cancelled and acknowledges nothing more', async () => {
    async function* few(): AsyncGenerator<SourceItem> {
      for (let line = 1; line <= 100; line++) yield { line, id: `p-${line}`, error: line % 2 ? { code: 'invalid_record', message: 'x' } : undefined, input: line % 2 ? undefined : { title: 't', description: '', categoryPath: [], images: [{ url: `https://img.example.com/${line}.jpg` }], attributes: {} } };
    }
    let release!: () => void;
    const gate = new Promise<never>((_, reject) => (release = () => reject(new Error('origin gone'))));
    gate.catch(() => undefined);
    const s = { fetcher: { fetchImage: () => gate }, config: { image: { maxBytes: 1 << 20 } }, evidence: null, ocr: null } as unknown as Services;
    const abort = new AbortController();
    const acks: number[] = [];
    const run = runIndexPipeline(few(), s, {
      fetchConcurrency: 2, embedConcurrency: 2, ocrConcurrency: 1, batchSize: 16, window: 10, allowPaths: false, ocr: false,
      signal: abort.signal, times: newStageTimes(), copyUnchanged: false, write: async () => [], onAck: (item) => acks.push(item.line),
    });
    await new Promise((r) => setTimeout(r, 100));
    const before = acks.length;
    expect(before).toBeGreaterThan(0); // the invalid lines among the first ten were acknowledged at once
    abort.abort();
    release(); // the fetches in flight fail now: after a cancel that is not reported as the item's failure
    await expect(run).rejects.toBeInstanceOf(Cancelled);
    expect(acks.length).toBe(before);
  });
});
