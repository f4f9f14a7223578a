// Reads the text on every demo catalogue image once (PP-OCRv4 at the index scales) and writes
// demo/catalogue/ocr.json keyed by the image's sha256, so that `npm start` indexes the demo without OCR.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { DEFAULT_DEMO_CATALOGUE_DIR, readDemoCatalogue } from '../src/demo/catalogue.ts';
import { OCR_CACHE_FILE } from '../src/demo/load.ts';
import { OcrReader } from '../src/vision/ocr/index.ts';

const config = loadConfig();
const reader = await OcrReader.load({ threads: 2 });
const texts: Record<string, string> = {};
let n = 0;
for await (const { input } of readDemoCatalogue(DEFAULT_DEMO_CATALOGUE_DIR)) {
  for (const img of input.images) {
    if (!img.path) continue;
    const bytes = fs.readFileSync(img.path);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (texts[sha] !== undefined) continue;
    texts[sha] = (await reader.read(bytes, { scales: config.evidence.ocrIndexScales })).text;
    if (++n % 50 === 0) console.log(`read ${n} images`);
  }
}
const sorted = Object.fromEntries(Object.entries(texts).sort(([a], [b]) => a.localeCompare(b)));
fs.writeFileSync(path.join(DEFAULT_DEMO_CATALOGUE_DIR, OCR_CACHE_FILE), JSON.stringify({ scales: config.evidence.ocrIndexScales, model: reader.modelVersion, texts: sorted }, null, 1) + '\n');
console.log(`wrote ${n} texts`);
process.exit(0);
