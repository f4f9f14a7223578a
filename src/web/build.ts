// Builds the buyer's page (web/ → web/dist/) with esbuild: one bundle, one stylesheet, the HTML copied.
// ensureWebBuilt() rebuilds only when dist is missing or older than any source file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
export const WEB_DIST = path.join(WEB_DIR, 'dist');
const OUTPUTS = ['index.html', 'app.js', 'app.css'];

function newestSource(dir = WEB_DIR): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'dist' || e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function oldestOutput(): number | null {
  let oldest = Infinity;
  for (const f of OUTPUTS) {
    const p = path.join(WEB_DIST, f);
    if (!fs.existsSync(p)) return null;
    oldest = Math.min(oldest, fs.statSync(p).mtimeMs);
  }
  return oldest;
}

export async function buildWeb(log: (msg: string) => void = () => {}): Promise<void> {
  const t0 = Date.now();
  const { build } = await import('esbuild');
  fs.mkdirSync(WEB_DIST, { recursive: true });
  await build({
    entryPoints: { app: path.join(WEB_DIR, 'main.ts'), 'app.css': path.join(WEB_DIR, 'style.css') },
    outdir: WEB_DIST,
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'esm',
    target: ['es2020', 'chrome100', 'safari15', 'firefox100'],
    logLevel: 'silent',
  });
  // the CSS entry is named app.css.css by esbuild's naming; give it its plain name
  const cssOut = path.join(WEB_DIST, 'app.css.css');
  if (fs.existsSync(cssOut)) fs.renameSync(cssOut, path.join(WEB_DIST, 'app.css'));
  fs.copyFileSync(path.join(WEB_DIR, 'index.html'), path.join(WEB_DIST, 'index.html'));
  log(`web page built into ${path.relative(process.cwd(), WEB_DIST) || WEB_DIST} in ${Date.now() - t0} ms`);
}

let building: Promise<void> | null = null;

/** Builds web/dist if it is missing or stale; concurrent callers share one build. */
export async function ensureWebBuilt(log: (msg: string) => void = () => {}): Promise<void> {
  const out = oldestOutput();
  if (out !== null && out >= newestSource()) return;
  building ??= buildWeb(log).finally(() => {
    building = null;
  });
  await building;
}
