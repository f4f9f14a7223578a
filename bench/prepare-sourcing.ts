// Fills the inspection cache (OCR + ORB) for the report side of `npm run bench -- sourcing` ahead of time:
// reseller test copies, Grocery test photos and train photos. Run: npx tsx bench/prepare-sourcing.ts
import os from 'node:os';
import { createServices } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config.ts';
import { readClasses, readSplit } from '../src/demo/grocery.ts';
import { inspectFiles } from './inspect-cache.ts';
import { makeCopies, TEST_SEED } from './sourcing.ts';

const config = loadConfig({ ...process.env, DATA_DIR: `${os.tmpdir()}/sourcing-prep-${process.pid}` });
const s = await createServices(config, { log: () => {} });
const classes = await readClasses();
// the copies are generated (and cached) as the bench makes them, so that this can run first on a fresh checkout
const copies = (await makeCopies(classes, TEST_SEED, console.log)).map((c) => c.file);
const [test, train] = await Promise.all([readSplit('test'), readSplit('train')]);
for (const [files, tag] of [[copies, 'copies-test'], [test.map((x) => x.path), 'test'], [train.map((x) => x.path), 'train']] as Array<[string[], string]>)
  await inspectFiles(s, files, { scales: config.evidence.ocrScales, tag }, console.log);
process.exit(0);
