// Keeps the index-space projection (see vision/projection.ts) with the index: loads it, and when asked,
// learns PCA-whitening from the indexed catalogue and re-projects every stored vector from its raw
// descriptor (no re-embedding).
import type { Backend, IndexRecord } from '../backend.ts';
import { deserializeProjection, fitWhitening, INDEX_DIMS, randomProjection, serializeProjection, type Projection } from '../../vision/projection.ts';
import { projectMany } from '../../vision/projection-runner.ts';

const KEY = 'projection';

/** The records with every image's vector made afresh from its raw descriptor under `p` (one Gemm for all). */
async function reprojected(rs: IndexRecord[], p: Projection): Promise<IndexRecord[]> {
  const vectors = await projectMany(p, rs.flatMap((r) => r.images.map((im) => im.descriptor)));
  let i = 0;
  return rs.map((r) => ({ ...r, images: r.images.map((im) => ({ ...im, vector: vectors[i++] })), projectionVersion: p.version }));
}

export class ProjectionState {
  private constructor(public current: Projection) {}

  static async load(backend: Backend, inDims: number): Promise<ProjectionState> {
    const buf = await backend.getMeta(KEY);
    if (buf) {
      const p = deserializeProjection(buf);
      if (p.inDims === inDims && p.outDims === INDEX_DIMS) return new ProjectionState(p);
    }
    return new ProjectionState(randomProjection(inDims, INDEX_DIMS));
  }

  async apply(descriptor: Float32Array): Promise<Float32Array> {
    return (await projectMany(this.current, [descriptor]))[0];
  }

  applyMany(descriptors: Float32Array[]): Promise<Float32Array[]> {
    return projectMany(this.current, descriptors);
  }

  /**
   * Learn whitening from up to `maxSamples` stored descriptors (evenly spread over the catalogue), store
   * it, and re-project every record. Returns the new projection's version.
   */
  async refit(backend: Backend, opts: { maxSamples?: number; shrink?: number; log?: (s: string) => void } = {}): Promise<Projection> {
    const maxSamples = opts.maxSamples ?? 512;
    const total = await backend.count();
    const stride = Math.max(1, Math.ceil(total / maxSamples));
    const sample: Float32Array[] = [];
    let i = 0;
    for await (const batch of backend.scan(256))
      for (const r of batch) {
        if (i++ % stride === 0 && r.images[0]) sample.push(r.images[0].descriptor);
      }
    if (sample.length < 16) return this.current; // too few to learn anything; keep what we have
    const t0 = Date.now();
    const p = fitWhitening(sample.slice(0, maxSamples), INDEX_DIMS, opts.shrink ?? 0.1);
    opts.log?.(`learned ${p.kind} ${p.version} from ${p.samples} images in ${Date.now() - t0} ms`);
    if (backend.rebuild) {
      // a new index with the new vectors replaces the live one atomically: no search sees a mix
      await backend.rebuild(async (write, ctx) => {
        await ctx.setMeta(KEY, serializeProjection(p));
        for await (const batch of backend.scan(256)) await write(await reprojected(batch, p));
      });
      this.current = p;
    } else {
      await backend.setMeta(KEY, serializeProjection(p));
      this.current = p;
    }
    // records written while the rebuild ran (or all of them, in place) get the new projection
    await this.reproject(backend);
    return p;
  }

  /** Re-project every record whose vectors were made under another projection. */
  async reproject(backend: Backend): Promise<number> {
    let n = 0;
    for await (const batch of backend.scan(256)) {
      const stale: IndexRecord[] = batch.filter((r) => r.projectionVersion !== this.current.version);
      if (!stale.length) continue;
      await backend.upsert(await reprojected(stale, this.current));
      n += stale.length;
    }
    return n;
  }
}
