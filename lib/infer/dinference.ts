/**
 * Algorithm 14 — y ← DInference(x, θ̂): generate ℓ_gen tokens after a prompt x.
 *
 *   for i = 1 … ℓ_gen:  P ← DTransformer(x | θ̂);  p ← P[:, ℓ+i−1];  y ∼ q ∝ p^{1/τ};  x ← [x, y]
 *
 * With `cache: true` (default) each step feeds only the new token and reuses the keys and values of
 * earlier positions (KVCache), so a step costs O(ℓ) instead of a full O(ℓ²) recomputation; its
 * outputs equal the no-cache computation (test/infer). Keys are cached before the positional
 * rotation. Additions to the paper: top-k, top-p, stop tokens, a streaming callback, an AbortSignal.
 * Under learned W_p the paper's limit ℓ + ℓ_gen − 1 ≤ ℓ_max applies: generation stops there with
 * stopReason "max-context" (Alg 14 has no truncation step).
 *
 * Decoder: with the cache on the wasm and cpu backends, the steps after the prompt pass run in plain
 * JavaScript (lib/infer/js-decoder.ts: the same maths without ~190 kernel calls per token); on
 * tfjs-node(-gpu), or with `decoder: "tfjs"` (env CTXLAB_DECODER=tfjs), every step is dTransformer.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, InputError } from "../errors.js";
import { dTransformer, DTransformer, KVCache } from "../model/dtransformer.js";
import { toTokenBatch } from "../model/token-embedding.js";
import { Rng } from "../tensor/random.js";
import { currentSignal } from "../runtime/context.js";
import { forwardMacs, generationMacs, refuseLongRunOnCpu } from "../runtime/long-run.js";
import { JsDecoder, jsDecoderUnsupported } from "./js-decoder.js";
import { sampleToken, validateSampling, type SamplingOptions } from "./sampling.js";

export interface GenerateOptions extends SamplingOptions {
  /** ℓ_gen: number of tokens to generate */
  maxTokens: number;
  /** seed or Rng for sampling (default seed 0) */
  seed?: number | Rng;
  /** stop when one of these token ids is generated (it is included in the output) */
  stop?: readonly number[];
  /** called with each new token as soon as it is chosen (streaming); return false to stop */
  onToken?: (id: number, index: number) => void | boolean;
  /** use the KV cache (default true) */
  cache?: boolean;
  /**
   * how cached steps run: "js" (JsDecoder), "tfjs" (dTransformer with the KVCache), or "auto" (default:
   * "js" on the wasm and cpu backends when the encoding allows it, else "tfjs"; env CTXLAB_DECODER)
   */
  decoder?: "auto" | "js" | "tfjs";
  /** stop at the next token when aborted (default: the host's signal, e.g. the running cell's interrupt) */
  signal?: AbortSignal;
  /** generate ≥ LONG_RUN_MACS multiply-adds on TF.js's slow cpu backend although wasm is available (lib/runtime/long-run.ts) */
  allowCpu?: boolean;
}

export interface GenerateResult {
  /** which implementation ran the cached steps ("none" without a cache) */
  decoder: "js" | "tfjs" | "none";
  /** the generated tokens y = x[ℓ+1 : ℓ+ℓ_gen] */
  tokens: number[];
  stopReason: "length" | "stop" | "callback" | "aborted" | "max-context";
  /** wall time and tokens/s of the generation loop (after the prompt) */
  seconds: number;
  tokensPerSecond: number;
}

function lastRow(logits: tf.Tensor): Float32Array {
  const [, l, n] = logits.shape as [number, number, number];
  return tf.tidy(() => logits.slice([0, l - 1, 0], [1, 1, n]).reshape([n])).dataSync() as Float32Array;
}

/**
 * Algorithm 14 for one prompt (B = 1). Async so that a notebook can stream tokens and interrupt.
 * @example const { tokens } = await dInference(model, prompt, { maxTokens: 50, temperature: 0 });
 */
export async function dInference(model: DTransformer, prompt: readonly number[], o: GenerateOptions): Promise<GenerateResult> {
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 0) throw new ConfigError(`dInference: maxTokens ℓ_gen=${o.maxTokens} must be an integer ≥ 0`);
  validateSampling(o, model.cfg.nVocab);
  toTokenBatch(prompt as number[], model.cfg.nVocab, "dInference: prompt").ids.dispose(); // validates ids and ℓ ≥ 1
  const signal = currentSignal(o.signal);
  const rng = o.seed instanceof Rng ? o.seed : new Rng(o.seed ?? 0);
  const max = model.positional.maxPositions?.(model.cfg) ?? Infinity;
  (o.stop ?? []).forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= model.cfg.nVocab) throw new InputError(`dInference: stop[${i}]=${id} is not a token id: ids must be integers in [0, N_V) with N_V=${model.cfg.nVocab}`);
  });
  const stop = new Set(o.stop ?? []);
  const useCache = o.cache ?? true;
  const decoder = useCache ? chooseDecoder(model, o.decoder) : "none";
  // the plain-JS decoder's steps do not run on TF.js: then only the prompt's pass does
  const newTokens = Math.max(0, Math.min(o.maxTokens, max - prompt.length + 1));
  const macs = decoder === "js" ? forwardMacs(model.cfg, prompt.length) : generationMacs(model.cfg, prompt.length, newTokens, useCache);
  await refuseLongRunOnCpu(`dInference: ${newTokens} tokens after a ${prompt.length}-token prompt`, macs, o.allowCpu);
  const kv = useCache ? new KVCache(model.cfg.nLayers) : undefined;
  let js: JsDecoder | undefined;
  const x = prompt.slice();
  const out: number[] = [];
  let stopReason: GenerateResult["stopReason"] = "length";
  const t0 = performance.now();
  try {
    if (x.length > max) throw new ConfigError(`dInference: the prompt has ℓ=${x.length} tokens but ${model.positional.label} allows ℓ_max=${max}`);
    let feed = x.slice(); // with a cache: the tokens not yet seen by the model
    for (let i = 0; i < o.maxTokens; i++) {
      if (signal?.aborted) { stopReason = "aborted"; break; }
      if (x.length > max) { stopReason = "max-context"; break; } // ℓ + i > ℓ_max: no row of W_p for it
      let row: Float32Array;
      if (js) row = js.step(feed[0]!); // one new token, plain JS over the cached keys and values
      else {
        row = tf.tidy(() => {
          const ids = tf.tensor2d(useCache ? feed : x, [1, useCache ? feed.length : x.length], "int32");
          return lastRow(dTransformer(ids, model, { kv })); // p = P[:, ℓ+i−1] (as logits)
        });
        const capacity = Math.min(prompt.length + o.maxTokens, max); // positions 0 … ℓ + ℓ_gen − 2 are ever fed
        if (decoder === "js" && capacity > kv!.length) {
          js = new JsDecoder(model, kv!, capacity); // copies the prompt's keys and values
          kv!.dispose();
        }
      }
      const y = sampleToken(row, rng, o); // line 5
      x.push(y); // line 6
      out.push(y);
      feed = [y];
      if (o.onToken?.(y, i) === false) { stopReason = "callback"; break; }
      if (stop.has(y)) { stopReason = "stop"; break; }
      if (i % 8 === 7) await new Promise((r) => setImmediate(r)); // let an interrupt in
    }
  } finally {
    kv?.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { tokens: out, stopReason, seconds, tokensPerSecond: out.length / Math.max(seconds, 1e-9), decoder };
}

/** "js" or "tfjs" for the cached steps (see GenerateOptions.decoder); "js" where unsupported is a ConfigError. */
function chooseDecoder(model: DTransformer, asked: GenerateOptions["decoder"]): "js" | "tfjs" {
  const env = process.env.CTXLAB_DECODER;
  const choice = asked ?? (env === "js" || env === "tfjs" ? env : "auto");
  if (choice !== "auto" && choice !== "js" && choice !== "tfjs") throw new ConfigError(`dInference: decoder=${JSON.stringify(choice)} must be "auto", "js" or "tfjs"`);
  const why = jsDecoderUnsupported(model);
  if (choice === "js" && why) throw new ConfigError(`dInference: decoder="js" is not available: ${why}; use decoder "tfjs" or "auto"`);
  if (choice !== "auto") return choice;
  return !why && (tf.getBackend() === "wasm" || tf.getBackend() === "cpu") ? "js" : "tfjs";
}
