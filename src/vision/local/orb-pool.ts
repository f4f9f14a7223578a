// ORB extractions off the main thread. opencv.js is synchronous WASM: on the main thread every extraction
// (~20 ms at the working scale) stalls the HTTP server, the job stages and the feeding of the CNN. A small
// pool of worker threads runs them instead; results are bit-identical (the same WASM build, the same code:
// orb-core.mjs). Workers hold no reference on the event loop while idle, so a CLI run still exits.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { orbExtract, type OrbResult } from './orb-core.mjs';

interface Task {
  resolve: (f: OrbResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Task>;
}

/** Default pool size: a thread per core beyond the first (the main thread runs the models), at least one. */
export function defaultOrbWorkers(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

// the services set it from EVIDENCE_LOCAL_WORKERS; tests and benches that call the extractors directly get this
let size = defaultOrbWorkers();
const slots: Slot[] = [];
let nextId = 1;

/** Sets the pool size (0 runs extractions on the calling thread). Existing workers beyond it are ended. */
export function setOrbWorkers(n: number) {
  size = Math.max(0, Math.floor(n));
  for (const s of slots.splice(size)) void s.worker.terminate();
}

export function orbWorkers(): number {
  return size;
}

function spawn(): Slot {
  const worker = new Worker(new URL('./orb-worker.mjs', import.meta.url), { execArgv: [] });
  const slot: Slot = { worker, pending: new Map() };
  worker.unref();
  worker.on('message', (m: { id: number; f?: OrbResult; error?: string }) => {
    const t = slot.pending.get(m.id);
    if (!t) return;
    slot.pending.delete(m.id);
    if (slot.pending.size === 0) worker.unref();
    if (m.f) t.resolve(m.f);
    else t.reject(new Error(`ORB worker: ${m.error}`));
  });
  // a worker that dies fails what it held and is replaced on the next call, not reused
  const fail = (e: Error) => {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    for (const t of slot.pending.values()) t.reject(e);
    slot.pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`ORB worker exited with code ${code}`)));
  return slot;
}

function pick(): Slot {
  // fill the pool first, then the least busy worker
  if (slots.length < size) {
    const s = spawn();
    slots.push(s);
    return s;
  }
  return slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
}

/** ORB on 8-bit greyscale pixels, on a worker thread when the pool has any. */
export function orbOnPool(data: Uint8Array, width: number, height: number): Promise<OrbResult> {
  if (size === 0) return orbExtract(data, width, height);
  const slot = pick();
  const id = nextId++;
  return new Promise<OrbResult>((resolve, reject) => {
    slot.pending.set(id, { resolve, reject });
    if (slot.pending.size === 1) slot.worker.ref();
    // a copy goes over (structured clone): callers keep using their pixels, e.g. to mirror them
    slot.worker.postMessage({ id, data, width, height });
  });
}

/** Ends the workers (tests; a process exits without this, the workers hold no reference when idle). */
export async function closeOrbPool() {
  await Promise.all(slots.splice(0).map((s) => s.worker.terminate()));
}
