import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { project, randomProjection } from '../src/vision/projection.ts';
const { onnx } = onnxProto;
const p = randomProjection(1792, 512);
const F = onnx.TensorProto.DataType.FLOAT;
const bias = new Float32Array(512);
for (let i = 0; i < 512; i++) { let s = 0; for (let j = 0; j < 1792; j++) s += p.matrix[i * 1792 + j] * p.mean[j]; bias[i] = -s; }
const m = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], graph: { name: 'g',
  node: [{ opType: 'Gemm', input: ['X', 'W', 'C'], output: ['Y'], attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] }],
  initializer: [{ name: 'W', dims: [512, 1792], dataType: F, rawData: new Uint8Array(p.matrix.buffer) }, { name: 'C', dims: [512], dataType: F, rawData: new Uint8Array(bias.buffer) }],
  input: [{ name: 'X', type: { tensorType: { elemType: F, shape: { dim: [{ dimParam: 'B' }, { dimValue: 1792 }] } } } }],
  output: [{ name: 'Y', type: { tensorType: { elemType: F, shape: { dim: [{ dimParam: 'B' }, { dimValue: 512 }] } } } }] } });
const s = await ort.InferenceSession.create(onnx.ModelProto.encode(m).finish(), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
const x = new Float32Array(1792).map(() => Math.random());
for (let i = 0; i < 100; i++) await s.run({ X: new ort.Tensor('float32', x, [1, 1792]) });
let t = performance.now();
let y: any;
for (let i = 0; i < 1000; i++) y = await s.run({ X: new ort.Tensor('float32', x, [1, 1792]) });
console.log('ort ms', (performance.now() - t) / 1000);
for (let i = 0; i < 100; i++) project(p, x);
t = performance.now();
let z: any;
for (let i = 0; i < 1000; i++) z = project(p, x);
console.log('js ms', (performance.now() - t) / 1000);
const yy = y.Y.data as Float32Array; let n = 0; for (const v of yy) n += v * v; n = Math.sqrt(n);
let d = 0; for (let i = 0; i < 512; i++) d = Math.max(d, Math.abs(yy[i] / n - z[i])); console.log('maxdiff', d);
