// Readers for the shared Grocery Store Dataset (Klasson, Zhang and Kjellström, WACV 2019; MIT).
// Used by the demo catalogue builder and by the benchmark. Nothing here is needed at serve time.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in <root>/src/demo/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type TopFolder = 'Fruit' | 'Vegetables' | 'Packages';
export type Split = 'train' | 'val' | 'test';

export interface GroceryClass {
  /** Fine class name as in classes.csv, e.g. "Oatly-Oat-Milk". */
  name: string;
  /** Fine class id (0..80). */
  id: number;
  /** Coarse class name, e.g. "Oat-Milk". */
  coarseName: string;
  coarseId: number;
  /** Absolute path of the iconic (catalogue) image. */
  iconicPath: string;
  /** The English product description text, trimmed. */
  description: string;
  topFolder: TopFolder;
}

export interface GrocerySample {
  /** Absolute path of the photo. */
  path: string;
  /** Path relative to the dataset root (groceryRoot()), e.g. "dataset/test/Packages/Milk/...jpg". */
  relPath: string;
  fineId: number;
  coarseId: number;
}

/** Root of the dataset: env GROCERY_DIR if set, else ../shared/datasets/grocery-store relative to the repo root. */
export function groceryRoot(): string {
  const fromEnv = process.env.GROCERY_DIR;
  if (fromEnv && fromEnv.trim() !== '') return path.resolve(fromEnv);
  return path.resolve(REPO_ROOT, '..', 'shared', 'datasets', 'grocery-store');
}

/** "Oatly-Oat-Milk" → "oatly-oat-milk" (a valid ProductId fragment). */
export function classSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** "Oatly-Oat-Milk" → "Oatly Oat Milk" (the evaluation protocol's listing title). */
export function classTitle(name: string): string {
  return name.replace(/-/g, ' ');
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** classes.csv paths look like "/iconic-images-and-descriptions/Fruit/..."; they are relative to <root>/dataset. */
function datasetFile(root: string, csvPath: string): string {
  const rel = csvPath.trim().replace(/^[/\\]+/, '');
  const abs = path.resolve(root, 'dataset', rel);
  const base = path.resolve(root, 'dataset') + path.sep;
  if (!abs.startsWith(base)) throw new Error(`classes.csv path escapes the dataset: ${csvPath}`);
  return abs;
}

/** The 81 fine classes, sorted by id. */
export async function readClasses(root: string = groceryRoot()): Promise<GroceryClass[]> {
  const csv = stripBom(await readFile(path.join(root, 'dataset', 'classes.csv'), 'utf8'));
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (!header || !/^Class Name/i.test(header)) throw new Error('classes.csv: unexpected header');
  const classes = await Promise.all(
    lines.map(async (line, i): Promise<GroceryClass> => {
      const cols = line.split(',').map((c) => c.trim());
      if (cols.length !== 6) throw new Error(`classes.csv line ${i + 2}: expected 6 columns, got ${cols.length}`);
      const [name, id, coarseName, coarseId, iconic, descPath] = cols as [string, string, string, string, string, string];
      const iconicPath = datasetFile(root, iconic);
      const parts = iconic.replace(/^[/\\]+/, '').split('/');
      const topFolder = parts[1];
      if (topFolder !== 'Fruit' && topFolder !== 'Vegetables' && topFolder !== 'Packages') {
        throw new Error(`classes.csv line ${i + 2}: unexpected top folder ${topFolder}`);
      }
      const description = stripBom(await readFile(datasetFile(root, descPath), 'utf8')).normalize('NFC').trim();
      return {
        name,
        id: Number.parseInt(id, 10),
        coarseName,
        coarseId: Number.parseInt(coarseId, 10),
        iconicPath,
        description,
        topFolder,
      };
    }),
  );
  return classes.sort((a, b) => a.id - b.id);
}

/** One split's photos, in file order. `relPath` is relative to groceryRoot() ("dataset/train/..."). */
export async function readSplit(split: Split, root: string = groceryRoot()): Promise<GrocerySample[]> {
  if (split !== 'train' && split !== 'val' && split !== 'test') throw new Error(`unknown split ${String(split)}`);
  const text = stripBom(await readFile(path.join(root, 'dataset', `${split}.txt`), 'utf8'));
  const out: GrocerySample[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length !== 3) throw new Error(`${split}.txt line ${i + 1}: expected 3 columns`);
    const [p, fine, coarse] = cols as [string, string, string];
    const inDataset = p.replace(/^[/\\]+/, '');
    out.push({
      path: datasetFile(root, inDataset),
      relPath: `dataset/${inDataset}`,
      fineId: Number.parseInt(fine, 10),
      coarseId: Number.parseInt(coarse, 10),
    });
  });
  return out;
}
