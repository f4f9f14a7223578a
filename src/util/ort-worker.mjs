// A worker thread that holds one ONNX session and runs it for the main thread (see ort-remote.ts).
// onnxruntime-node's `run` blocks the calling thread for the whole inference; on the main thread that
// stalls the HTTP server, the job stages and the JavaScript work around the model (decoding, pooling,
// projection), which then cannot overlap with it.
//
// Messages are handled one at a time, in order: a release waits for the runs before it, so that the thread
// is never ended inside a native run (onnxruntime-node aborts the whole process when its thread is
// terminated there: "terminate called after throwing an instance of 'Napi::Error'").
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

const session = await ort.InferenceSession.create(workerData.file, workerData.options);
parentPort.postMessage({ ready: true, inputNames: session.inputNames, outputNames: session.outputNames });

async function handle({ id, feeds, release, crash }) {
  if (crash) {
    // the tests' stand-in for a thread that dies between runs: an uncaught error ends this thread
    setImmediate(() => {
      throw new Error('model worker crash requested');
    });
    return;
  }
  if (release) {
    await session.release();
    parentPort.postMessage({ id, released: true });
    return;
  }
  try {
    const inputs = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = new ort.Tensor(f.type, f.data, f.dims);
    const res = await session.run(inputs);
    const out = {};
    const transfer = [];
    for (const [name, t] of Object.entries(res)) {
      // a copy we own, so that its buffer can be handed over instead of cloned
      const data = t.data.slice();
      out[name] = { type: t.type, dims: t.dims, data };
      transfer.push(data.buffer);
    }
    parentPort.postMessage({ id, out }, transfer);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
}

let chain = Promise.resolve();
parentPort.on('message', (m) => {
  chain = chain.then(() => handle(m));
});
