/**
 * Bad inputs at the API: every case must throw the named error class with a message that names the
 * argument, the value and the limit (one regex per case). Token ids outside [0, N_V), empty
 * sequences, ℓ > ℓ_max under learned positions, non-integer or negative sizes, mismatched shapes,
 * across DTransformer.logits/forward/trace, tokenEmbedding, mhAttention, layerNorm, makeConfig,
 * dInference, dTraining, extendLearned and useBackend.
 */
import * as tf from "@tensorflow/tfjs";
import { makeConfig, presets, type DTransformerOptions } from "../../lib/config.js";
import { BackendError, ConfigError, InputError, ShapeError } from "../../lib/errors.js";
import { dInference, type GenerateOptions } from "../../lib/infer/dinference.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { layerNorm } from "../../lib/model/layer-norm.js";
import { mhAttention } from "../../lib/model/mh-attention.js";
import { tokenEmbedding } from "../../lib/model/token-embedding.js";
import { extendLearned } from "../../lib/model/extend-learned.js";
import { rope } from "../../lib/positional/index.js";
import { useBackend, type BackendName } from "../../lib/tensor/backend.js";
import type { Batch, BatchSource } from "../../lib/data/types.js";
import { dTraining, type TrainingOptions } from "../../lib/train/dtraining.js";

export interface ApiCase {
  api: string;
  input: string;
  cls: abstract new (...a: never[]) => Error;
  re: RegExp;
  run: () => unknown;
}

export interface ApiResult {
  api: string;
  input: string;
  ok: boolean;
  got: string;
}

const src = (b: Partial<Batch> = {}): BatchSource => ({
  name: "src",
  describe: () => ({}),
  next: (rng) => ({ tokens: Int32Array.from({ length: (b.batch ?? 2) * (b.length ?? 4) }, () => rng.int(0, 11)), batch: 2, length: 4, ...b }),
});

/** The table, over a learned micro model (N_V = 11, ℓ_max = 8, d_e = 8, H = 2) and a RoPE one. */
export function apiCases(m: DTransformer, mr: DTransformer): ApiCase[] {
  const W_e = m.params.get("W_e");
  const X = tf.zeros([3, 8]) as never; // the typed-dims brand is what these cases break
  const w = (over: Record<string, tf.Tensor> = {}) => ({
    W_q: tf.zeros([8, 8]), b_q: tf.zeros([8]), W_k: tf.zeros([8, 8]), b_k: tf.zeros([8]), W_v: tf.zeros([8, 8]), b_v: tf.zeros([8]), W_o: tf.zeros([8, 8]), b_o: tf.zeros([8]), ...over,
  });
  const cfg = (o: Partial<Record<keyof DTransformerOptions, unknown>>) => () => makeConfig({ ...presets.micro, ...o } as DTransformerOptions);
  const gen = (p: unknown, o: Partial<Record<keyof GenerateOptions, unknown>>) => () => dInference(m, p as number[], { maxTokens: 2, ...o } as GenerateOptions);
  const train = (o: Partial<Record<keyof TrainingOptions, unknown>>) => () => dTraining(m, { source: src(), steps: 1, ...o } as TrainingOptions);
  const L = (over: object) => ({ api: "DTransformer.logits", cls: InputError, ...over });
  return [
    L({ input: "id = N_V", run: () => m.logits([1, 11]), re: /x\[1\]=11 is not a token id: ids must be integers in \[0, N_V\) with N_V=11/ }),
    L({ input: "id = −1", run: () => m.logits([-1]), re: /x\[0\]=-1 .*\[0, N_V\) with N_V=11/ }),
    L({ input: "id = 1.5", run: () => m.logits([1.5]), re: /x\[0\]=1\.5 .*integers in \[0, N_V\) with N_V=11/ }),
    L({ input: "id = NaN", run: () => m.logits([NaN]), re: /x\[0\]=NaN .*N_V=11/ }),
    L({ input: "id = 2^53 in a batch", run: () => m.logits([[1], [2 ** 53]]), re: /x\[1\]\[0\]=9007199254740992 .*N_V=11/ }),
    L({ input: "empty sequence", run: () => m.logits([]), re: /x: the sequence is empty \(ℓ=0\); Algorithm 10 needs ℓ ≥ 1/ }),
    L({ input: "batch of empty sequences", run: () => m.logits([[], []]), re: /ℓ=0/ }),
    L({ input: "ragged batch", run: () => m.logits([[1, 2], [1]]), re: /x\[0\] has ℓ=2 but .*x\[1\] has ℓ=1/ }),
    L({ input: "ℓ = 9 > ℓ_max = 8 (learned)", run: () => m.logits(new Array(9).fill(1)), re: /ℓ=9 tokens exceed ℓ_max=8 of the learned W_p/ }),
    L({ input: "start + ℓ > ℓ_max", run: () => m.logits([1, 2], { start: 7 }), re: /ℓ=9 tokens exceed ℓ_max=8/ }),
    L({ input: "start = −1", run: () => m.logits([1], { start: -1 }), re: /start=-1 must be a non-negative integer/ }),
    L({ input: "start = 0.5", run: () => m.logits([1], { start: 0.5 }), re: /start=0\.5 must be a non-negative integer/ }),
    L({ input: "rank-3 tensor", run: () => m.logits(tf.zeros([1, 1, 1], "int32")), re: /token tensor must be \[ℓ\] or \[B, ℓ\], got shape \[1, 1, 1\]/ }),
    L({ input: "a string", run: () => m.logits("abc" as unknown as number[]), re: /expected token ids .* got string/ }),
    { api: "DTransformer.forward", input: "id = N_V (RoPE)", cls: InputError, run: () => mr.forward([0, 11]), re: /x\[1\]=11 .*N_V=11/ },
    { api: "DTransformer.trace", input: "ℓ = 9 > ℓ_max = 8", cls: InputError, run: () => m.trace(new Array(9).fill(0)).logits, re: /ℓ=9 tokens exceed ℓ_max=8/ },
    { api: "tokenEmbedding", input: "id = N_V", cls: InputError, run: () => tokenEmbedding([3, 11], W_e), re: /tokenEmbedding: x\[1\]=11 .*N_V=11/ },
    { api: "tokenEmbedding", input: "W_e of rank 1", cls: ShapeError, run: () => tokenEmbedding([1], tf.zeros([11])), re: /tokenEmbedding: W_e must have 2 dims \[N_V, d_e\] but has shape \[11\]/ },
    { api: "mhAttention", input: "H = 0", cls: ShapeError, run: () => mhAttention(X, X, w(), { nHeads: 0 }), re: /mhAttention: H=0 must be a positive integer/ },
    { api: "mhAttention", input: "H = 1.5", cls: ShapeError, run: () => mhAttention(X, X, w(), { nHeads: 1.5 }), re: /H=1\.5 must be a positive integer/ },
    { api: "mhAttention", input: "H = 3 does not divide 8 columns", cls: ShapeError, run: () => mhAttention(X, X, w(), { nHeads: 3 }), re: /W_q has 8 and W_v 8 columns; both must be divisible by H=3/ },
    { api: "mhAttention", input: "X d_e = 6 vs W_q d_e = 8", cls: ShapeError, run: () => mhAttention(tf.zeros([3, 6]) as never, tf.zeros([3, 6]) as never, w(), { nHeads: 2 }), re: /X has d_e=6 but W_q expects d_e=8/ },
    { api: "mhAttention", input: "X and Z batch sizes", cls: ShapeError, run: () => mhAttention(tf.zeros([2, 3, 8]) as never, tf.zeros([1, 3, 8]) as never, w(), { nHeads: 2 }), re: /X has B=2 but Z has B=1/ },
    { api: "layerNorm", input: "γ has 4, e has d_e = 8", cls: ShapeError, run: () => layerNorm(X, tf.ones([4]), tf.zeros([8])), re: /layerNorm: e has d_e=8 but γ expects d_e=4/ },
    { api: "layerNorm", input: "ε = −1", cls: ConfigError, run: () => layerNorm(X, tf.ones([8]), tf.zeros([8]), -1), re: /layerNorm: .*ε.*=-1 .*≥ 0/ },
    { api: "layerNorm", input: "ε = NaN", cls: ConfigError, run: () => layerNorm(X, tf.ones([8]), tf.zeros([8]), NaN), re: /layerNorm: .*ε.*=NaN/ },
    { api: "makeConfig", input: "N_V = 0", cls: ConfigError, run: cfg({ nVocab: 0 }), re: /N_V \(nVocab\) must be a positive integer, got 0/ },
    { api: "makeConfig", input: "ℓ_max = 1.5", cls: ConfigError, run: cfg({ lMax: 1.5 }), re: /ℓ_max \(lMax\) must be a positive integer, got 1\.5/ },
    { api: "makeConfig", input: "H = −2", cls: ConfigError, run: cfg({ nHeads: -2, dAttn: 4 }), re: /H \(nHeads\) must be a positive integer, got -2/ },
    { api: "makeConfig", input: "L = \"2\"", cls: ConfigError, run: cfg({ nLayers: "2" }), re: /L \(nLayers\) must be a positive integer, got "2"/ },
    { api: "makeConfig", input: "d_e = 10, H = 4", cls: ConfigError, run: cfg({ dE: 10, nHeads: 4 }), re: /d_e=10 is not divisible by H=4/ },
    { api: "makeConfig", input: "N_V = 2^25", cls: ConfigError, run: cfg({ nVocab: 2 ** 25 }), re: /N_V=33554432 exceeds the supported maximum 2\^24/ },
    { api: "makeConfig", input: "lnEps = −1", cls: ConfigError, run: cfg({ lnEps: -1 }), re: /lnEps must be a finite number ≥ 0, got -1/ },
    { api: "makeConfig", input: "initStd = 0", cls: ConfigError, run: cfg({ initStd: 0 }), re: /initStd must be a finite number > 0, got 0/ },
    { api: "makeConfig", input: "d_mlp = 2^53", cls: ConfigError, run: cfg({ dMlp: 2 ** 53 }), re: /d_mlp \(dMlp\) must be a positive integer, got 9007199254740992/ },
    { api: "dInference", input: "maxTokens = −1", cls: ConfigError, run: gen([1], { maxTokens: -1 }), re: /maxTokens ℓ_gen=-1 must be an integer ≥ 0/ },
    { api: "dInference", input: "maxTokens = 1.5", cls: ConfigError, run: gen([1], { maxTokens: 1.5 }), re: /maxTokens ℓ_gen=1\.5 must be an integer ≥ 0/ },
    { api: "dInference", input: "prompt id = N_V", cls: InputError, run: gen([1, 11], {}), re: /dInference: prompt\[1\]=11 .*N_V=11/ },
    { api: "dInference", input: "empty prompt", cls: InputError, run: gen([], {}), re: /dInference: prompt: the sequence is empty \(ℓ=0\)/ },
    { api: "dInference", input: "prompt ℓ = 9 > ℓ_max = 8", cls: ConfigError, run: gen(new Array(9).fill(1), {}), re: /the prompt has ℓ=9 tokens but learned W_p.* allows ℓ_max=8/ },
    { api: "dInference", input: "temperature = −1", cls: ConfigError, run: gen([1], { temperature: -1 }), re: /temperature τ=-1 must be a finite number ≥ 0/ },
    { api: "dInference", input: "topK = 1.5", cls: ConfigError, run: gen([1], { topK: 1.5 }), re: /topK=1\.5 must be an integer ≥ 0/ },
    { api: "dInference", input: "topP = 0", cls: ConfigError, run: gen([1], { topP: 0 }), re: /topP=0 must be in \(0, 1\]/ },
    { api: "dInference", input: "stop id = N_V", cls: InputError, run: gen([1], { stop: [11] }), re: /stop\[0\]=11 .*N_V=11/ },
    { api: "dTraining", input: "steps = −1", cls: ConfigError, run: train({ steps: -1 }), re: /dTraining: steps=-1 must be an integer ≥ 0/ },
    { api: "dTraining", input: "steps = 1.5", cls: ConfigError, run: train({ steps: 1.5 }), re: /steps=1\.5 must be an integer ≥ 0/ },
    { api: "dTraining", input: "accumulate = 0", cls: ConfigError, run: train({ accumulate: 0 }), re: /accumulate=0 must be an integer ≥ 1/ },
    { api: "dTraining", input: "workers = 0", cls: ConfigError, run: train({ workers: 0 }), re: /workers=0 must be an integer ≥ 1/ },
    { api: "dTraining", input: "checkpointEvery = 0", cls: ConfigError, run: train({ checkpointEvery: 0, checkpointDir: "/nonexistent/never-written" }), re: /checkpointEvery=0 must be an integer ≥ 1/ },
    { api: "dTraining", input: "clip = −1", cls: ConfigError, run: train({ clip: -1 }), re: /clip: the maximum gradient norm must be a number > 0 .*got -1/ },
    { api: "dTraining", input: "valSource without valEvery", cls: ConfigError, run: train({ valSource: src() }), re: /valEvery=undefined must be an integer ≥ 1/ },
    { api: "dTraining", input: "no source", cls: ConfigError, run: train({ source: undefined }), re: /`source` must be a BatchSource/ },
    { api: "dTraining", input: "batch ℓ = 9 > ℓ_max = 8", cls: InputError, run: train({ source: src({ length: 9 }) }), re: /step 1, src micro-batch 0: ℓ=9 exceeds ℓ_max=8/ },
    { api: "dTraining", input: "batch B = 0", cls: InputError, run: train({ source: src({ batch: 0, tokens: new Int32Array(0) }) }), re: /batch=0, length=4 must be positive integers/ },
    { api: "dTraining", input: "batch ℓ = 1", cls: InputError, run: train({ source: src({ length: 1, tokens: new Int32Array(2) }) }), re: /ℓ=1; a next-token loss needs ℓ ≥ 2/ },
    { api: "extendLearned", input: "newLMax = 4 < ℓ_max = 8", cls: ConfigError, run: () => extendLearned(m, 4), re: /newLMax=4 must be an integer ≥ the current ℓ_max=8/ },
    { api: "extendLearned", input: "newLMax = 10.5", cls: ConfigError, run: () => extendLearned(m, 10.5), re: /newLMax=10\.5 must be an integer/ },
    { api: "extendLearned", input: "method = \"cubic\"", cls: ConfigError, run: () => extendLearned(m, 16, { method: "cubic" as "linear" }), re: /method "cubic" must be "linear" or "nearest"/ },
    { api: "extendLearned", input: "a RoPE model", cls: ConfigError, run: () => extendLearned(mr, 16), re: /uses the RoPE.*no learned table pos\.W_p/ },
    { api: "useBackend", input: "\"gpu\"", cls: BackendError, run: () => useBackend("gpu" as BackendName), re: /"gpu" is not a backend; valid names are/ },
    { api: "useBackend", input: "42", cls: BackendError, run: () => useBackend(42 as unknown as BackendName), re: /"42" is not a backend; valid names are/ },
  ] as ApiCase[];
}

/** Runs every case; frees the tensors the table made. */
export async function apiFaults(): Promise<ApiResult[]> {
  const m = DTransformer.create({ ...presets.micro }, 0);
  const mr = DTransformer.create({ ...presets.micro, positional: rope() }, 0);
  const backend = tf.getBackend();
  const out: ApiResult[] = [];
  try {
    tf.engine().startScope();
    for (const c of apiCases(m, mr)) {
      let got: string;
      let ok = false;
      try {
        const r = await c.run();
        got = `no error (returned ${r instanceof tf.Tensor ? `a tensor [${r.shape}]` : typeof r})`;
        if (r instanceof tf.Tensor) r.dispose();
      } catch (e) {
        got = `${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`;
        ok = e instanceof c.cls && c.re.test((e as Error).message);
      }
      out.push({ api: c.api, input: c.input, ok, got: got.slice(0, 300) });
    }
  } finally {
    tf.engine().endScope();
    if (tf.getBackend() !== backend) await useBackend(backend as BackendName);
    m.dispose();
    mr.dispose();
  }
  return out;
}
