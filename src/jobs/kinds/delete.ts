// `delete`: the ids of the input (JSON Lines with "id", or one id a line) removed from the live index;
// unknown ids are skipped. Each delete is durable when acknowledged.
import PQueue from 'p-queue';
import { AppError } from '../../errors.ts';
import { Cancelled } from '../pipeline.ts';
import { jsonlIds } from '../source.ts';
import type { JobContext } from './types.ts';

export async function runDelete(ctx: JobContext): Promise<void> {
  const { s, spec } = ctx;
  if (!spec.input) throw new AppError('invalid_request', 'a delete job needs an input of ids');
  const q = new PQueue({ concurrency: 4 });
  let fatal: unknown = null;
  for await (const item of jsonlIds(spec.input, ctx.after)) {
    if (ctx.signal.aborted || fatal) break;
    await q.onSizeLessThan(ctx.pipeline.window);
    void q.add(async () => {
      if (ctx.signal.aborted) return;
      if (item.blank) return ctx.ack(item, 'blank');
      if (item.error || !item.id) return ctx.ack(item, 'failed', item.error);
      const t = performance.now();
      try {
        const existed = await s.backend.delete(item.id);
        ctx.ack(item, existed ? 'done' : 'skipped');
      } catch (e) {
        fatal ??= e; // the backend is down: the job fails and resumes from its checkpoint
      } finally {
        ctx.times.ms.write += performance.now() - t;
        ctx.times.items.write++;
      }
    });
  }
  await q.onIdle();
  if (fatal) throw fatal;
  if (ctx.signal.aborted) throw new Cancelled();
}
