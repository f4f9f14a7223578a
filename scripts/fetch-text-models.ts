// Fetches the text embedding model(s) from Maven Central into models/text/ and checks them against
// models/manifest.json. Idempotent: when the files are there and match, it only hashes them (< 1 s).
//
//   tsx scripts/fetch-text-models.ts              # fetch/verify the default model; fail when impossible
//   tsx scripts/fetch-text-models.ts --optional   # warn instead of failing (npm start: the service then runs keyword-only)
//   tsx scripts/fetch-text-models.ts --pin        # (maintainers) record the fetched files' sha256 in the manifest
//   tsx scripts/fetch-text-models.ts --model bge-small-zh-v1.5-q
import { DEFAULT_MODELS_DIR } from '../src/vision/model-build.ts';
import { DEFAULT_TEXT_MODEL, fetchTextModels } from '../src/text/model-fetch.ts';

const args = process.argv.slice(2);
const optional = args.includes('--optional');
const pin = args.includes('--pin');
const names = args.flatMap((a, i) => (a === '--model' && args[i + 1] ? [args[i + 1]] : []));
const t0 = Date.now();
try {
  await fetchTextModels({ modelsDir: DEFAULT_MODELS_DIR, names: names.length ? names : [DEFAULT_TEXT_MODEL], pin, log: (s) => console.log(s) });
  if (Date.now() - t0 > 2000) console.log(`text models ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} catch (e) {
  const msg = `text model not available: ${(e as Error).message}`;
  if (!optional) {
    console.error(msg);
    process.exit(1);
  }
  console.warn(`${msg}\nthe service will run keyword-only (words are matched, not understood)`);
}
