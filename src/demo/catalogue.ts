// Reader for the committed demo catalogue (demo/catalogue/catalogue.jsonl, built by scripts/build-demo-catalogue.ts).
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ProductId, ProductInput } from '../schema/product.ts';
import { REPO_ROOT } from './grocery.ts';

export const DEFAULT_DEMO_CATALOGUE_DIR = path.join(REPO_ROOT, 'demo', 'catalogue');

export interface DemoProduct {
  id: string;
  /** Validated ProductInput; every `images[].path` is absolute (resolved against the catalogue directory). */
  input: ProductInput;
}

/**
 * Streams catalogue.jsonl line by line, validating each line with ProductInput (plus its `id`).
 * Throws on the first invalid line, on a duplicate id, or on an image path that leaves the catalogue directory.
 * A relative `dir` is resolved against the working directory; the default is the repo's demo/catalogue.
 */
export async function* readDemoCatalogue(dir: string = DEFAULT_DEMO_CATALOGUE_DIR): AsyncGenerator<DemoProduct> {
  const base = path.resolve(dir);
  const file = path.join(base, 'catalogue.jsonl');
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  const seen = new Set<string>();
  let lineNo = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (line.trim() === '') continue;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}:${lineNo}: invalid JSON (${(e as Error).message})`);
      }
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new Error(`${file}:${lineNo}: expected a JSON object`);
      }
      const { id: rawId, ...rest } = raw as Record<string, unknown>;
      const id = ProductId.safeParse(rawId);
      if (!id.success) throw new Error(`${file}:${lineNo}: invalid id: ${id.error.issues.map((i) => i.message).join('; ')}`);
      if (seen.has(id.data)) throw new Error(`${file}:${lineNo}: duplicate id ${id.data}`);
      seen.add(id.data);
      const parsed = ProductInput.safeParse(rest);
      if (!parsed.success) {
        const msg = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        throw new Error(`${file}:${lineNo}: ${id.data}: ${msg}`);
      }
      const input = parsed.data;
      input.images = input.images.map((img) => {
        if (img.path === undefined) return img;
        const abs = path.resolve(base, img.path);
        if (!abs.startsWith(base + path.sep)) {
          throw new Error(`${file}:${lineNo}: ${id.data}: image path leaves the catalogue directory: ${img.path}`);
        }
        return { ...img, path: abs };
      });
      yield { id: id.data, input };
    }
  } finally {
    rl.close();
  }
}
