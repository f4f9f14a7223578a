// Embeds image files once per model version and preprocessing, caching descriptors and hashes on disk so
// that the quality bench can try settings without re-running the model.
import fs from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { repoRoot } from '../src/config.ts';
import type { ImageEmbedder, ImageEmbedding } from '../src/vision/embedder.ts';

/** `mirrored`: the cached descriptor is that of the left-right mirrored image (what a query adds). */
export async function embedFiles(embedder: ImageEmbedder, files: string[], tag: string, log = console.log, opts: { mirrored?: boolean } = {}): Promise<Map<string, ImageEmbedding>> {
  const dir = path.join(repoRoot, '.cache', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${embedder.modelVersion}-${tag}.jsonl`);
  const out = new Map<string, ImageEmbedding>();
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      const b = Buffer.from(r.d, 'base64');
      const descriptor = new Float32Array(b.byteLength / 4);
      new Uint8Array(descriptor.buffer).set(b);
      out.set(r.f, { descriptor, phash: r.h, width: r.w, height: r.ht, format: r.fm });
    }
  }
  const todo = files.filter((f) => !out.has(f));
  if (todo.length) {
    const t0 = Date.now();
    const fd = fs.openSync(file, 'a');
    let done = 0;
    const q = new PQueue({ concurrency: 8 }); // bounds how many files are read ahead of the model
    await Promise.all(
      todo.map((f) => q.add(async () => {
        const full = await embedder.embed(fs.readFileSync(f), undefined, { mirrored: !!opts.mirrored });
        const e = opts.mirrored ? { ...full, descriptor: full.mirrored! } : full;
        out.set(f, e);
        const d = Buffer.from(e.descriptor.buffer, e.descriptor.byteOffset, e.descriptor.byteLength).toString('base64');
        fs.writeSync(fd, JSON.stringify({ f, d, h: e.phash, w: e.width, ht: e.height, fm: e.format }) + '\n');
        if (++done % 500 === 0) log(`  embedded ${done}/${todo.length} (${((done * 1000) / (Date.now() - t0)).toFixed(1)} img/s)`);
      })),
    );
    fs.closeSync(fd);
    log(`  embedded ${todo.length} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return out;
}
