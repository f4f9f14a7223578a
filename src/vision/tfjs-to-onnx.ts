// Converts a (frozen, NHWC) tfjs graph model into a native-NCHW ONNX graph.
// Only the ops MobileNet-style graphs use are supported; anything else throws,
// so a changed source graph cannot silently produce a wrong model.
import onnxProto from 'onnx-proto';
import type { DecodedWeight, TfjsModelJson, TfjsNode } from './tfjs-artifacts.ts';

const { onnx } = onnxProto;

/** Common name prefix of the MobileNetV2 nodes inside nsfwjs's graph. */
export const NSFWJS_MNV2_PREFIX =
  'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/';
/** Last conv feature map (after Relu6), right before the AvgPool of the head. */
export const NSFWJS_MNV2_FEATURE_NODE = `${NSFWJS_MNV2_PREFIX}MobilenetV2/Conv_1/Relu6`;

export const ONNX_OPSET = 13;
const ONNX_IR_VERSION = 7; // minimum IR for opset 13; widely loadable

export interface ConvertOptions {
  /** tfjs node whose output becomes the ONNX output */
  outputNode: string;
  inputName?: string;
  outputName?: string;
  /** static spatial size of the input; tfjs graphs declare it in the Placeholder */
  inputSize?: [number, number];
  docString?: string;
  /** strip this prefix from tf names to keep ONNX node names readable */
  stripPrefix?: string;
}

export interface ConvertResult {
  bytes: Uint8Array;
  /** tfjs ops (excluding Const) that were converted, with counts */
  tfOps: Record<string, number>;
  /** ONNX ops emitted, with counts */
  onnxOps: Record<string, number>;
  /** output shape without the batch dim, NCHW: [C, H, W] */
  outputDims: number[];
  /** number of float parameters written as initializers */
  parameters: number;
}

type Shape = [number, number, number]; // C, H, W (batch is dynamic)
type Value = { kind: 'const'; name: string; w: DecodedWeight } | { kind: 'tensor'; name: string; shape: Shape };

function attrString(a: any): string | undefined {
  return a?.s === undefined ? undefined : Buffer.from(a.s, 'base64').toString('utf8');
}
function attrInts(a: any): number[] | undefined {
  return a?.list?.i?.map((x: string | number) => Number(x));
}
function attrStrings(a: any): string[] {
  return (a?.list?.s ?? []).map((x: string) => Buffer.from(x, 'base64').toString('utf8'));
}

/** float32 little-endian bytes regardless of host endianness (determinism). */
function f32le(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
  return out;
}

/** TF HWIO [kh,kw,ci,co] -> ONNX OIHW [co,ci,kh,kw]. */
function hwioToOihw(w: DecodedWeight): { dims: number[]; values: Float32Array } {
  const [kh, kw, ci, co] = w.shape;
  const src = w.values;
  const dst = new Float32Array(src.length);
  for (let h = 0; h < kh; h++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) dst[((o * ci + i) * kh + h) * kw + x] = src[((h * kw + x) * ci + i) * co + o];
  return { dims: [co, ci, kh, kw], values: dst };
}

/** TF depthwise [kh,kw,ci,mult] -> ONNX grouped conv [ci*mult,1,kh,kw]; TF orders out channels c*mult+m. */
function depthwiseToOihw(w: DecodedWeight): { dims: number[]; values: Float32Array } {
  const [kh, kw, ci, m] = w.shape;
  const src = w.values;
  const dst = new Float32Array(src.length);
  for (let h = 0; h < kh; h++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < ci; c++)
        for (let k = 0; k < m; k++) dst[((c * m + k) * kh + h) * kw + x] = src[((h * kw + x) * ci + c) * m + k];
  return { dims: [ci * m, 1, kh, kw], values: dst };
}

/** TF SAME/VALID padding for one spatial axis; TF puts the odd pixel at the end. */
function tfPad(inSize: number, k: number, stride: number, dilation: number, padding: string) {
  const eff = (k - 1) * dilation + 1;
  if (padding === 'VALID') return { out: Math.ceil((inSize - eff + 1) / stride), before: 0, after: 0 };
  if (padding === 'SAME') {
    const out = Math.ceil(inSize / stride);
    const total = Math.max((out - 1) * stride + eff - inSize, 0);
    const before = Math.floor(total / 2);
    return { out, before, after: total - before };
  }
  throw new Error(`unsupported padding ${padding}`);
}

export function convertTfjsGraphToOnnx(
  model: TfjsModelJson,
  weights: Map<string, DecodedWeight>,
  opts: ConvertOptions,
): ConvertResult {
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'features';
  const strip = (n: string) => (opts.stripPrefix && n.startsWith(opts.stripPrefix) ? n.slice(opts.stripPrefix.length) : n);

  const byName = new Map<string, TfjsNode>();
  for (const n of model.modelTopology.node) byName.set(n.name, n);
  if (!byName.has(opts.outputNode)) throw new Error(`output node not in graph: ${opts.outputNode}`);

  const nodes: any[] = [];
  const initializers: any[] = [];
  const initNames = new Set<string>();
  const tfOps: Record<string, number> = {};
  const onnxOps: Record<string, number> = {};
  let parameters = 0;
  let graphInput: any;

  const addInit = (name: string, dims: number[], values: Float32Array) => {
    if (initNames.has(name)) return name;
    initNames.add(name);
    parameters += values.length;
    initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: f32le(values) });
    return name;
  };
  const emit = (opType: string, name: string, inputs: string[], output: string, attribute: any[] = []) => {
    onnxOps[opType] = (onnxOps[opType] ?? 0) + 1;
    nodes.push({ opType, name, input: inputs, output: [output], attribute });
    return output;
  };
  const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name: string, v: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });

  const clip6 = (x: string, name: string) => {
    const lo = addInit('relu6/min', [], new Float32Array([0]));
    const hi = addInit('relu6/max', [], new Float32Array([6]));
    return emit('Clip', name, [x, lo, hi], `${name}:0`);
  };

  /** An NHWC-broadcast constant operand expressed for NCHW tensors. */
  const constOperand = (v: Extract<Value, { kind: 'const' }>) => {
    const { shape, values } = v.w;
    if (shape.length === 0) return addInit(strip(v.name), [], values);
    if (shape.length === 1) return addInit(strip(v.name), [shape[0], 1, 1], values); // per-channel
    throw new Error(`unsupported constant operand shape [${shape}] for ${v.name}`);
  };

  const memo = new Map<string, Value>();
  const visiting = new Set<string>();

  const valueOf = (ref: string): Value => {
    const m = /^(.*?)(?::(\d+))?$/.exec(ref)!;
    if (m[2] && m[2] !== '0') throw new Error(`multi-output reference unsupported: ${ref}`);
    return convert(m[1]);
  };
  const tensorIn = (ref: string) => {
    const v = valueOf(ref);
    if (v.kind !== 'tensor') throw new Error(`expected a tensor for ${ref}`);
    return v;
  };
  const constIn = (ref: string) => {
    const v = valueOf(ref);
    if (v.kind !== 'const') throw new Error(`expected a constant for ${ref}`);
    return v;
  };

  const convNode = (n: TfjsNode, depthwise: boolean, fused: boolean): Value => {
    const a = n.attr ?? {};
    const format = attrString(a.data_format) ?? 'NHWC';
    if (format !== 'NHWC') throw new Error(`${n.name}: data_format ${format} unsupported`);
    const strides = attrInts(a.strides) ?? [1, 1, 1, 1];
    const dil = attrInts(a.dilations) ?? [1, 1, 1, 1];
    const padding = attrString(a.padding) ?? 'VALID';
    const fusedOps = fused ? attrStrings(a.fused_ops) : [];
    const inputs = (n.input ?? []).filter((s) => !s.startsWith('^'));
    const x = tensorIn(inputs[0]);
    const w = constIn(inputs[1]);
    const { dims, values } = depthwise ? depthwiseToOihw(w.w) : hwioToOihw(w.w);
    const [co, ci, kh, kw] = dims;
    const group = depthwise ? x.shape[0] : 1;
    if (!depthwise && ci !== x.shape[0]) throw new Error(`${n.name}: channels ${x.shape[0]} != weight ${ci}`);
    if (depthwise && w.w.shape[2] !== x.shape[0]) throw new Error(`${n.name}: depthwise channel mismatch`);
    const ph = tfPad(x.shape[1], kh, strides[1], dil[1], padding);
    const pw = tfPad(x.shape[2], kw, strides[2], dil[2], padding);

    const convInputs = [x.name, addInit(`${strip(w.name)}`, dims, values)];
    let activation: string | undefined;
    if (fusedOps.length) {
      if (fusedOps[0] !== 'BiasAdd') throw new Error(`${n.name}: fused ops ${fusedOps} unsupported`);
      const b = constIn(inputs[2]);
      if (b.w.shape.length !== 1 || b.w.shape[0] !== co) throw new Error(`${n.name}: bias shape mismatch`);
      convInputs.push(addInit(strip(b.name), [co], b.w.values));
      activation = fusedOps[1];
      if (fusedOps.length > 2 || (activation && activation !== 'Relu6' && activation !== 'Relu')) {
        throw new Error(`${n.name}: fused ops ${fusedOps} unsupported`);
      }
    }
    const base = strip(n.name);
    let out = emit('Conv', activation ? `${base}/conv` : base, convInputs, activation ? `${base}/conv:0` : `${base}:0`, [
      ints('kernel_shape', [kh, kw]),
      ints('strides', [strides[1], strides[2]]),
      ints('dilations', [dil[1], dil[2]]),
      ints('pads', [ph.before, pw.before, ph.after, pw.after]),
      int('group', group),
    ]);
    if (activation === 'Relu6') out = clip6(out, base);
    else if (activation === 'Relu') out = emit('Relu', base, [out], `${base}:0`);
    return { kind: 'tensor', name: out, shape: [co, ph.out, pw.out] };
  };

  const convert = (name: string): Value => {
    const hit = memo.get(name);
    if (hit) return hit;
    if (visiting.has(name)) throw new Error(`cycle at ${name}`);
    visiting.add(name);
    const n = byName.get(name);
    if (!n) throw new Error(`unknown node ${name}`);
    if (n.op !== 'Const') tfOps[n.op] = (tfOps[n.op] ?? 0) + 1;
    const inputs = (n.input ?? []).filter((s) => !s.startsWith('^')); // drop control deps
    let v: Value;
    switch (n.op) {
      case 'Const': {
        const w = weights.get(n.name);
        if (!w) throw new Error(`constant ${n.name} has no weight data`);
        v = { kind: 'const', name: n.name, w };
        break;
      }
      case 'Placeholder': {
        if (graphInput) throw new Error('more than one graph input');
        const dims = (n.attr?.shape?.shape?.dim ?? []).map((d: any) => Number(d.size));
        if (dims.length !== 4) throw new Error(`input ${n.name}: expected NHWC rank 4`);
        const [, h0, w0, c] = dims;
        const [h, w] = opts.inputSize ?? [h0, w0];
        if (!(h > 0 && w > 0 && c > 0)) throw new Error(`input ${n.name}: need static H, W, C`);
        graphInput = { name: inputName, c, h, w };
        v = { kind: 'tensor', name: inputName, shape: [c, h, w] };
        break;
      }
      case 'Identity':
        v = valueOf(inputs[0]);
        break;
      case 'Mul':
      case 'Sub':
      case 'Add':
      case 'AddV2': {
        const [l, r] = inputs.map(valueOf);
        const opType = n.op === 'AddV2' ? 'Add' : n.op;
        let shape: Shape;
        if (l.kind === 'tensor' && r.kind === 'tensor') {
          if (l.shape.join() !== r.shape.join()) throw new Error(`${n.name}: shape mismatch ${l.shape} vs ${r.shape}`);
          shape = l.shape;
        } else if (l.kind === 'tensor' || r.kind === 'tensor') {
          shape = (l.kind === 'tensor' ? l : (r as Extract<Value, { kind: 'tensor' }>)).shape;
        } else throw new Error(`${n.name}: constant folding not implemented`);
        const ln = l.kind === 'tensor' ? l.name : constOperand(l);
        const rn = r.kind === 'tensor' ? r.name : constOperand(r);
        const base = strip(n.name);
        v = { kind: 'tensor', name: emit(opType, base, [ln, rn], `${base}:0`), shape };
        break;
      }
      case 'BiasAdd': {
        const x = tensorIn(inputs[0]);
        const b = constIn(inputs[1]);
        const base = strip(n.name);
        v = { kind: 'tensor', name: emit('Add', base, [x.name, constOperand(b)], `${base}:0`), shape: x.shape };
        break;
      }
      case 'Relu6': {
        const x = tensorIn(inputs[0]);
        v = { kind: 'tensor', name: clip6(x.name, strip(n.name)), shape: x.shape };
        break;
      }
      case 'Relu': {
        const x = tensorIn(inputs[0]);
        const base = strip(n.name);
        v = { kind: 'tensor', name: emit('Relu', base, [x.name], `${base}:0`), shape: x.shape };
        break;
      }
      case 'Conv2D':
        v = convNode(n, false, false);
        break;
      case '_FusedConv2D':
        v = convNode(n, false, true);
        break;
      case 'DepthwiseConv2dNative':
        v = convNode(n, true, false);
        break;
      case 'FusedDepthwiseConv2dNative':
        v = convNode(n, true, true);
        break;
      default:
        throw new Error(`unsupported tfjs op ${n.op} (${n.name})`);
    }
    visiting.delete(name);
    memo.set(name, v);
    return v;
  };

  const out = convert(opts.outputNode);
  if (out.kind !== 'tensor') throw new Error('output node is a constant');
  if (!graphInput) throw new Error('output does not depend on the graph input');
  // Give the final tensor the public output name.
  const producer = nodes.find((nd) => nd.output[0] === out.name);
  if (producer) {
    producer.output[0] = outputName;
    for (const nd of nodes) nd.input = nd.input.map((i: string) => (i === out.name ? outputName : i));
  } else {
    emit('Identity', 'output', [out.name], outputName);
  }

  const tensorType = (name: string, dims: number[]) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'N' }, ...dims.map((d) => ({ dimValue: d }))] },
      },
    },
  });

  const modelMsg = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'sourcing-search/tfjs-to-onnx',
    producerVersion: '1',
    docString: opts.docString ?? '',
    graph: {
      name: 'features',
      node: nodes,
      initializer: initializers,
      input: [tensorType(inputName, [graphInput.c, graphInput.h, graphInput.w])],
      output: [tensorType(outputName, out.shape)],
    },
  });
  const bytes = onnx.ModelProto.encode(modelMsg).finish();
  return { bytes, tfOps, onnxOps, outputDims: [...out.shape], parameters };
}
