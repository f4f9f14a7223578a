// ONNX graphs of a single Gemm with transB (A · Bᵀ [+ C]), written with onnx-proto: the exact-kNN scorer
// (index/components/dot-scorer.ts) and the index projection (vision/projection-runner.ts) both run one.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** A dimension: a size, or a name for a size given at run time. */
type Dim = number | string;

export interface GemmGraph {
  producer: string;
  /** the graph's inputs, fed at run time */
  inputs: Array<{ name: string; dims: Dim[] }>;
  /** constants stored in the graph, row-major float32 */
  constants?: Array<{ name: string; dims: number[]; data: Float32Array }>;
  /** Gemm's operands A, B (and C), by input or constant name */
  operands: [string, string] | [string, string, string];
  output: { name: string; dims: Dim[] };
}

export function gemmTransB(g: GemmGraph): Uint8Array {
  const F = onnx.TensorProto.DataType.FLOAT;
  const io = (name: string, dims: Dim[]) => ({
    name,
    type: { tensorType: { elemType: F, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const raw = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: g.producer,
    graph: {
      name: 'gemm',
      node: [{ opType: 'Gemm', input: g.operands, output: [g.output.name], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] }],
      initializer: (g.constants ?? []).map((c) => ({ name: c.name, dims: c.dims, dataType: F, rawData: raw(c.data) })),
      input: g.inputs.map((i) => io(i.name, i.dims)),
      output: [io(g.output.name, g.output.dims)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
