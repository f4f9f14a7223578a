// A worker thread that runs ORB extractions for the main thread (see orb-pool.ts): opencv.js is
// synchronous WASM, and on the main thread each extraction (~20 ms) stalls every request and job stage.
import { parentPort } from 'node:worker_threads';
import { orbExtract } from './orb-core.mjs';

parentPort.on('message', async ({ id, data, width, height }) => {
  try {
    const f = await orbExtract(data, width, height);
    parentPort.postMessage({ id, f }, [f.xy.buffer, f.desc.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.stack ?? e) });
  }
});
