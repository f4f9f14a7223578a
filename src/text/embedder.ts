// Semantic text embeddings: a BERT-style ONNX model (bge-small-zh-v1.5, int8, from LangChain4j's Maven
// jar; see scripts/fetch-text-models.ts and models/manifest.json `text`) tokenised in TypeScript with
// @huggingface/tokenizers and run by onnxruntime-node. Queries and listings are folded like the keyword
// index (NFKC, lower case, Traditional → Simplified) first: the jar's tokenizer.json does not lower-case,
// while the model's wordpiece vocabulary is lower case, so "LED" would otherwise become [UNK].
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../util/ort.ts';
import { AppError } from '../errors.ts';
import { foldText } from './normalize.ts';

export interface TextModelManifest {
  name: string;
  source: { maven: string; jarSha256: string; licence?: string };
  onnx: { file: string; sha256: string; bytes: number };
  tokenizer: { file: string; sha256: string };
  dims: number;
  pooling: 'cls' | 'mean';
  normalize: boolean;
  /** prepended to short queries (not to listings), as the model card recommends for retrieval */
  queryPrefix: string;
  maxTokens: number;
  modelVersion: string;
}

export interface TextEmbedderOptions {
  /** ORT intra-op threads (default 1: the vision model and other requests share 2 cores) */
  threads?: number;
}

export type TextKind = 'query' | 'passage';

const l2 = (v: Float32Array): Float32Array => {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
};

export class TextEmbedder {
  readonly modelVersion: string;
  readonly dims: number;
  /** one model run at a time: runs queue behind each other instead of fighting over the cores */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    readonly manifest: TextModelManifest,
    private readonly opts: Required<TextEmbedderOptions>,
  ) {
    this.modelVersion = manifest.modelVersion;
    this.dims = manifest.dims;
  }

  static async create(m: TextModelManifest, modelsDir: string, opts: TextEmbedderOptions = {}): Promise<TextEmbedder> {
    const tok = JSON.parse(fs.readFileSync(path.join(modelsDir, m.tokenizer.file), 'utf8'));
    const tokenizer = new Tokenizer(tok, { model_max_length: m.maxTokens });
    const session = await ort.InferenceSession.create(path.join(modelsDir, m.onnx.file), sessionOptions(opts.threads ?? 1));
    for (const name of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(name)) throw new AppError('model_unavailable', `text model lacks the input ${name}`);
    }
    return new TextEmbedder(session, tokenizer, m, { threads: opts.threads ?? 1 });
  }

  /** The text the model sees: folded, and for queries prefixed with the model's retrieval instruction. */
  prepare(text: string, kind: TextKind): string {
    const folded = foldText(text).replace(/\s+/g, ' ').trim();
    return kind === 'query' ? this.manifest.queryPrefix + folded : folded;
  }

  /** Token ids with [CLS] … [SEP], cut to maxTokens (keeping the final [SEP]). */
  encode(text: string): number[] {
    const ids = this.tokenizer.encode(text).ids;
    if (ids.length <= this.manifest.maxTokens) return ids;
    return [...ids.slice(0, this.manifest.maxTokens - 1), ids[ids.length - 1]];
  }

  /**
   * L2-normalised embeddings, in input order. Each text is its own model run: the int8 model quantises its
   * activations with a scale taken over the whole input tensor, so in a padded batch a text's vector would
   * depend on its neighbours (cosine ≈ 0.993 to its single run). A title costs about 5 ms alone.
   */
  async embed(texts: string[], kind: TextKind): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const t of texts) {
      const ids = this.encode(this.prepare(t, kind));
      const run = this.chain.then(() => this.run(ids));
      this.chain = run.catch(() => undefined);
      out.push(await run);
    }
    return out;
  }

  async embedOne(text: string, kind: TextKind): Promise<Float32Array> {
    return (await this.embed([text], kind))[0];
  }

  private async run(tokens: number[]): Promise<Float32Array> {
    const n = tokens.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, n]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    };
    if (this.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(n), [1, n]);
    const res = await this.session.run(feeds);
    const hidden = res[this.session.outputNames[0]];
    const h = hidden.data as Float32Array;
    const d = hidden.dims[2];
    if (d !== this.dims) throw new AppError('model_unavailable', `text model output has ${d} dims, the manifest says ${this.dims}`);
    const v = new Float32Array(d);
    if (this.manifest.pooling === 'cls') v.set(h.subarray(0, d));
    else {
      for (let c = 0; c < n; c++) for (let j = 0; j < d; j++) v[j] += h[c * d + j];
      for (let j = 0; j < d; j++) v[j] /= n;
    }
    return this.manifest.normalize ? l2(v) : v;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
