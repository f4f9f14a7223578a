// `npm run build:web`: bundles the buyer's page (web/) into web/dist/ with esbuild. `npm start` does this itself when needed.
import { buildWeb } from '../src/web/build.ts';

await buildWeb((m) => console.log(m));
