// The 2-nearest-neighbour Hamming scan as a tiny hand-assembled WebAssembly function. WebAssembly has a
// native i64.popcnt, so a 256-bit distance is 4 loads, 4 xors, 4 popcounts and 3 adds, where plain
// JavaScript needs ~100 bit-twiddling operations. No toolchain is needed: the ~200 bytes of the module
// are spelled out below, with the equivalent text format alongside.
//
// (func $nn2 (param $q i32) (param $nq i32) (param $g i32) (param $ng i32) (param $out i32)
//   for i in 0..nq: scan all j in 0..ng, keep the smallest distance d1 (at j1) and the second d2,
//   then store j1, d1, d2 as three i32 at out + 12·i)

const enum Op {
  block = 0x02, loop = 0x03, if_ = 0x04, else_ = 0x05, end = 0x0b, br = 0x0c, br_if = 0x0d,
  get = 0x20, set = 0x21, tee = 0x22,
  i64_load = 0x29, i32_store = 0x36, i32_const = 0x41,
  i32_ge_u = 0x4f, i32_lt_u = 0x49, i32_add = 0x6a, i32_shl = 0x74, i32_mul = 0x6c,
  i64_popcnt = 0x7b, i64_add = 0x7c, i64_xor = 0x85, i32_wrap_i64 = 0xa7,
  void_ = 0x40,
}

// locals: params 0..4, then i32 locals 5..12, then i64 locals 13..16
const Q = 0, NQ = 1, G = 2, NG = 3, OUT = 4;
const I = 5, J = 6, QP = 7, GP = 8, D = 9, D1 = 10, D2 = 11, J1 = 12;
const Q0 = 13;

function leb(n: number): number[] {
  // signed LEB128 (also fine for the small unsigned immediates used here)
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function body(): number[] {
  const c: number[] = [];
  const get = (l: number) => c.push(Op.get, l);
  const set = (l: number) => c.push(Op.set, l);
  const i32 = (v: number) => c.push(Op.i32_const, ...leb(v));
  // i = 0
  i32(0); set(I);
  c.push(Op.block, Op.void_, Op.loop, Op.void_);
  get(I); get(NQ); c.push(Op.i32_ge_u, Op.br_if, 1);
  // qp = q + (i << 5); load the query descriptor's four words once
  get(Q); get(I); i32(5); c.push(Op.i32_shl, Op.i32_add); set(QP);
  for (let w = 0; w < 4; w++) {
    get(QP); c.push(Op.i64_load, 3, ...leb(8 * w)); set(Q0 + w);
  }
  i32(257); set(D1); i32(257); set(D2); i32(-1); set(J1); i32(0); set(J); get(G); set(GP);
  c.push(Op.block, Op.void_, Op.loop, Op.void_);
  get(J); get(NG); c.push(Op.i32_ge_u, Op.br_if, 1);
  // d = popcnt(q0 ^ g0) + ... + popcnt(q3 ^ g3)
  for (let w = 0; w < 4; w++) {
    get(Q0 + w); get(GP); c.push(Op.i64_load, 3, ...leb(8 * w), Op.i64_xor, Op.i64_popcnt);
    if (w > 0) c.push(Op.i64_add);
  }
  c.push(Op.i32_wrap_i64, Op.tee, D);
  get(D2); c.push(Op.i32_lt_u, Op.if_, Op.void_);
  get(D); get(D1); c.push(Op.i32_lt_u, Op.if_, Op.void_);
  get(D1); set(D2); get(D); set(D1); get(J); set(J1);
  c.push(Op.else_);
  get(D); set(D2);
  c.push(Op.end, Op.end);
  get(J); i32(1); c.push(Op.i32_add); set(J);
  get(GP); i32(32); c.push(Op.i32_add); set(GP);
  c.push(Op.br, 0, Op.end, Op.end);
  // out + i·12 ← j1, d1, d2
  get(OUT); get(I); i32(12); c.push(Op.i32_mul, Op.i32_add, Op.tee, QP); get(J1); c.push(Op.i32_store, 2, 0);
  get(QP); get(D1); c.push(Op.i32_store, 2, 4);
  get(QP); get(D2); c.push(Op.i32_store, 2, 8);
  get(I); i32(1); c.push(Op.i32_add); set(I);
  c.push(Op.br, 0, Op.end, Op.end, Op.end);
  return c;
}

function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

function str(s: string): number[] {
  return [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const locals = [2, 8, 0x7f, 4, 0x7e]; // 8 × i32, 4 × i64
  const fn = [...locals, ...body()];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]), // type: (i32 ×5) → ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0, 1]), // one memory, min 1 page, growable
    ...section(7, [2, ...str('nn2'), 0, 0, ...str('mem'), 2, 0]),
    ...section(10, [1, ...leb(fn.length), ...fn]),
  ]);
}

export interface Nn2 {
  /** For each query descriptor: index of the nearest gallery descriptor, its distance, the second distance. */
  (q: Uint8Array, nq: number, g: Uint8Array, ng: number): Int32Array;
}

let kernel: Nn2 | null | undefined;

/** The WebAssembly kernel, or null where WebAssembly is unavailable (the caller falls back to JS). */
export function wasmNn2(): Nn2 | null {
  if (kernel !== undefined) return kernel;
  try {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()));
    const nn2 = inst.exports.nn2 as (q: number, nq: number, g: number, ng: number, out: number) => void;
    const mem = inst.exports.mem as WebAssembly.Memory;
    kernel = (q, nq, g, ng) => {
      const need = 32 * (nq + ng) + 12 * nq;
      const have = mem.buffer.byteLength;
      if (need > have) mem.grow(Math.ceil((need - have) / 65536));
      const heap = new Uint8Array(mem.buffer);
      heap.set(q.subarray(0, 32 * nq), 0);
      heap.set(g.subarray(0, 32 * ng), 32 * nq);
      const out = 32 * (nq + ng);
      nn2(0, nq, 32 * nq, ng, out);
      return new Int32Array(mem.buffer.slice(out, out + 12 * nq));
    };
  } catch {
    kernel = null;
  }
  return kernel;
}
