// Fits the same-source evidence model on labelled pairs (Grocery val photos and generated reseller copies;
// see bench/sourcing.ts for the splits) and writes models/evidence.json, which the service loads and each
// index records in its meta. Run: npx tsx scripts/fit-evidence.ts [--dry-run]  (--dry-run: fit and print, write nothing)
import os from 'node:os';
import { createServices } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config.ts';
import { EVIDENCE_FILE } from '../src/match/evidence.ts';
import { benchSourcing } from '../bench/sourcing.ts';

const config = loadConfig({ ...process.env, DATA_DIR: `${os.tmpdir()}/sourcing-fit-${process.pid}` });
const s = await createServices(config, { log: () => {} });
await benchSourcing(s, console.log, { fitOnly: true, write: process.argv.includes('--dry-run') ? null : EVIDENCE_FILE });
process.exit(0);
