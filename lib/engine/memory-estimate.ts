/**
 * Memory estimate of one forward pass of Algorithm 10 (float32 tensors, bytes), and a check that
 * refuses a pass that cannot fit before anything is allocated.
 *
 * Why: on wasm every tensor lives in one WebAssembly heap that is capped at 4 GiB (wasm32) and never
 * shrinks (docs/performance.md); a pass that does not fit dies deep inside a kernel with "Aborted()" or
 * leaves the process unusable. `checkFits` throws first, naming the estimate and the ways out.
 *
 * The model, fitted to the reference model and variants (L = 2…8, d_e = 64/128, d_mlp = 128/512,
 * B = 1/2, ℓ = 256…2,048; tf.profile's high-water of tf.memory().numBytes) and to the wasm heap of the
 * long-context benchmark. "Features" are floats per token; each costs 4·B·ℓ bytes.
 *   params       4·|θ| (training: twice, for the gradients)
 *   activations  dTransformer keeps every layer's tensors alive until the pass ends (no per-layer
 *                tidy): per layer 7·d_e + 4·d_mlp features, plus 20·H·d_attn for the per-head q/k/v of
 *                the unchunked layouts (the chunked path frees them per layer); 4·d_e for embedding and
 *                final layer norm. Training (tape-saved inputs and every intermediate gradient, which
 *                tf.variableGrads keeps until the backward pass ends): 120·d_e + 28·d_mlp per layer,
 *                20·d_e + 8·N_V outside the layers.
 *   attention    unchunked: every layer's score tensors, unchunkedScoreBytes (~4 [ℓ_q, ℓ_k] per
 *                (batch, head) + the mask; training 2.2×), i.e. O(L·B·H·ℓ²); chunked: one block's
 *                working set, rows·ℓ_k·(3 + 2H with ALiBi)·4 bytes (twice when training), plus the last
 *                layer's per-head tensors — O(ℓ·chunk), independent of B and H.
 *   logits       2·N_V features (the product and its bias/reshape).
 *   options      |θ| from paramShapes (H_kv key/value heads, W_gate, absent biases); the gated MLP keeps
 *                ~2.5× the GELU MLP's [ℓ, d_mlp] tensors (gate, up, σ, SiLU, product): +4·d_mlp features
 *                per layer (training +42·d_mlp), scaled by tensor count, not fitted. The q/k/v term stays
 *                20·H·d_attn under H_kv < H (the batched layout repeats K, V to H heads).
 * Training adds (measured at SmolLM-135M's shape, docs/performance.md "Real-model scale"):
 *   gradients    4·|θ| (all held until the update: clipping needs their global norm)
 *   optimizer    the slots (AdamW m and v: 8·|θ_trainable|) when they live in the heap, nothing when
 *                they live in JS memory ("host", lib/train/optim.ts); plus the update's temporaries,
 *                one parameter at a time: ~17 copies of the largest parameter with tf ops (heap), 2 with
 *                the JS update (host)
 *   weights      the whole tape keeps ~6 [N_V, d_e] matrices (W_u's transposed copies, its gradient,
 *                the embedding's dense gradient) and ~2·|θ| (the weights' transposed copies for the
 *                backward products, intermediate gradients) besides θ: measured at the 135M shape, where
 *                ~1 GB of the heap at ℓ = 64 (2 layers) did not depend on ℓ; the per-token terms above
 *                were fitted on N_V = 256 and hold there (0.82 MiB measured per layer and token, 0.72 estimated)
 *   recompute    layer-by-layer backward (lib/train/recompute.ts): the L layer inputs, ONE layer's
 *                training working set and its scores, the head's [rows, N_V] chunk (~10 copies of
 *                2^23 floats at most) and 4 [N_V, d_e] matrices (W_u's transposed copy, its gradient, the
 *                embedding's dense gradient, their sum), instead of every layer's tape and the full logits.
 * numBytes counts a reshape or clone as a new tensor, so it reads ~20 % above the real heap use; the
 * estimate sits between the two: 0.7–1.0× numBytes (tested: within 2×), and 0.85× / 1.09× / 0.94× the wasm
 * heap measured after a forward at ℓ = 1,024 / 16,384 / 65,536 (the heap also holds fragmentation).
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../errors.js";
import { paramShapes, type DTransformerConfig } from "../config.js";
import { blockRows } from "./attention-chunked.js";
import { attentionPath, resolveLayout, unchunkedScoreBytes, type AttentionLayout } from "./layout-options.js";

/** "auto" optimiser slots live in JS memory on wasm above this many bytes (256 MiB; lib/train/optim.ts). */
export const HOST_MOMENTS_BYTES = 256 * 2 ** 20;

/** The optimiser of a training step, for the estimate. */
export interface OptimizerMemory {
  /** slots per trainable parameter (AdamW 2, SGD with momentum 1, plain SGD 0; default 2) */
  slots?: number;
  /** the slots live in JS memory, outside the heap (default: what "auto" picks on this backend) */
  host?: boolean;
  /** the slots are already allocated (counted in liveBytes; default false) */
  live?: boolean;
}

/** The wasm heap limit (wasm32: 4 GiB). */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

/** What a pass looks like. */
export interface ForwardMemoryOptions {
  /** B: sequences per pass */
  batch: number;
  /** ℓ: tokens per sequence (queries = keys without a KV cache) */
  length: number;
  /** chunked attention (default: what `layout` chooses for this pass) */
  chunked?: boolean;
  /** query rows per block of the chunked path (default: layout.chunk) */
  chunk?: number;
  /** the attention layout of the pass (default: automatic, default thresholds) */
  layout?: Partial<AttentionLayout>;
  /** a training step (forward kept for backward, plus gradients) instead of inference */
  training?: boolean;
  /** training: the layer-by-layer backward of lib/train/recompute.ts (default false: one whole tape) */
  recompute?: boolean;
  /** training: the optimiser (default AdamW, slots where "auto" puts them) */
  optimizer?: OptimizerMemory;
}

/** The estimate, by part (bytes). */
export interface ForwardMemoryEstimate {
  bytes: number;
  params: number;
  activations: number;
  attention: number;
  logits: number;
  /** training: the gradients (4·|θ|) */
  grads: number;
  /** training: optimiser slots in the heap plus the update's temporaries */
  optimizer: number;
  /** training: the optimiser's slots live in JS memory (not counted) */
  slotsHost: boolean;
  chunked: boolean;
}

const F32 = 4;

/** Each part of the estimate (see the header). */
export function forwardMemory(cfg: DTransformerConfig, o: ForwardMemoryOptions): ForwardMemoryEstimate {
  const { nLayers: L, nHeads: H, dE, dMlp, dAttn, dMid, nVocab } = cfg;
  const B = o.batch;
  const l = o.length;
  const bias = cfg.positional.scoreBias !== undefined;
  const chunked = o.chunked ?? attentionPath({ nHeads: H, pe: cfg.positional }, B, l, l, o.layout, tf.getBackend()) === "chunked";
  let nParams = 0;
  let largest = 0;
  for (const shape of paramShapes(cfg).values()) {
    const n = shape.reduce((a, b) => a * b, 1);
    nParams += n;
    largest = Math.max(largest, n);
  }
  const train = o.training ? 2 : 1;
  const recompute = !!(o.training && o.recompute);
  const rowsBytes = F32 * B * l; // one feature: [B, ℓ, 1]
  const heads = chunked ? 0 : 20 * H * dAttn;
  const gate = cfg.mlp === "gated-silu" ? (o.training ? 42 : 4) * dMlp : 0;
  const perLayer = (o.training ? 120 * dE + 28 * dMlp + heads : 7 * dE + 4 * dMlp + heads) + gate;
  const outside = o.training ? 20 * dE + 8 * nVocab : 4 * dE;
  // dTransformer frees each layer's temporaries at the layer's end (one tf.tidy per layer), so a
  // forward holds one layer's working set plus the residual stream of every layer; training keeps
  // every layer's activations for the backward pass.
  const activations = recompute
    ? rowsBytes * (L * dE + perLayer + 6 * dE) + 4 * F32 * nVocab * dE // layer inputs, one layer's tape, dX; W_u's transposed copy, its gradient, the embedding's dense gradient, their sum
    : rowsBytes * ((o.training ? L * perLayer : L * dE + perLayer) + outside) + (o.training ? 6 * F32 * nVocab * dE + 2 * F32 * nParams : 0); // the whole tape also keeps ~6 [N_V, d_e] copies and ~2 θ (transposes, gradients)
  let attention: number;
  if (chunked) {
    const rows = blockRows(l, l, H, bias, { chunk: o.chunk ?? resolveLayout(o.layout).chunk });
    const block = F32 * rows * l * (3 + (bias ? 2 * H : 0)) * train; // backward: P, dP, dS and transposes
    attention = block + rowsBytes * 10 * H * (dAttn + dMid) / 2; // + the last layer's per-head q, k, v and rotations
  } else {
    const perLayerScores = unchunkedScoreBytes(B, H, l, l, bias);
    attention = o.training ? (recompute ? 1 : L) * perLayerScores * 2.2 : perLayerScores;
  }
  const logits = recompute ? F32 * 10 * Math.min(B * (l - 1), headRows(nVocab)) * nVocab : rowsBytes * nVocab * 2;
  const params = F32 * nParams;
  const grads = o.training ? F32 * nParams : 0;
  const opt = optimizerBytes(nParams, largest, o.optimizer);
  const optimizer = o.training ? opt.slots + opt.temporaries : 0;
  return { bytes: params + grads + optimizer + activations + attention + logits, params, grads, optimizer, slotsHost: opt.host, activations, attention, logits, chunked };
}

/** Rows of the logits the layer-by-layer backward makes at once: [rows, N_V] ≤ 2^23 floats (32 MiB). */
export const headRows = (nVocab: number): number => Math.max(1, Math.floor(2 ** 23 / nVocab));

/** The optimiser's heap bytes: slots (0 when in JS memory) and the update's temporaries (see the header). */
export function optimizerBytes(nParams: number, largest: number, o: OptimizerMemory = {}): { slots: number; temporaries: number; host: boolean } {
  const n = o.slots ?? 2;
  const host = n > 0 && (o.host ?? (tf.getBackend() === "wasm" && F32 * n * nParams > HOST_MOMENTS_BYTES));
  return { slots: host ? 0 : F32 * n * nParams, temporaries: F32 * largest * (host ? 2 : 17), host };
}

/**
 * Bytes of a KV cache (Alg 14) holding ℓ positions: per layer the keys [B, H_kv, ℓ, d_attn] and
 * values [B, H_kv, ℓ, d_mid], float32: 4·L·B·H_kv·ℓ·(d_attn + d_mid). Linear in ℓ.
 * @example kvCacheMemory(cfg, { batch: 1, length: 1024 })
 */
export function kvCacheMemory(cfg: DTransformerConfig, o: { batch: number; length: number }): number {
  if (!(Number.isSafeInteger(o.batch) && o.batch >= 1)) throw new InputError(`kvCacheMemory: batch must be an integer ≥ 1, got ${o.batch}`);
  if (!(Number.isSafeInteger(o.length) && o.length >= 0)) throw new InputError(`kvCacheMemory: length must be an integer ≥ 0, got ${o.length}`);
  return F32 * cfg.nLayers * o.batch * cfg.nKvHeads * o.length * (cfg.dAttn + cfg.dMid);
}

/** Estimated bytes of tensors alive at the high-water mark of one forward (or training) pass. */
export function estimateForwardMemory(cfg: DTransformerConfig, o: ForwardMemoryOptions): number {
  return forwardMemory(cfg, o).bytes;
}

const GiB = (n: number) => (n < 2 ** 30 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 2 ** 30).toFixed(n < 100 * 2 ** 30 ? 2 : 0)} GiB`);

/** Largest n in [1, hi] with fits(n) (fits monotone decreasing), or 0. */
function largest(hi: number, fits: (n: number) => boolean): number {
  if (!fits(1)) return 0;
  let lo = 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Options of checkFits: the pass, and the memory it may use. */
export interface CheckFitsOptions extends ForwardMemoryOptions {
  /** bytes available in all (default: the 4 GiB wasm heap on wasm, no check on other backends) */
  limitBytes?: number;
  /** bytes already held by live tensors (default tf.memory().numBytes, which includes θ) */
  liveBytes?: number;
}

/**
 * Throw an InputError before a pass whose estimate exceeds the memory left (limit − live tensors),
 * naming the estimate by part and the ways out: a smaller ℓ (the largest that fits), chunked
 * attention (its estimate), a smaller batch. Returns the estimate when it fits. Allocates nothing.
 * @example checkFits(model.cfg, { batch: 1, length: 1_000_000, chunked: false })  // throws
 */
export function checkFits(cfg: DTransformerConfig, o: CheckFitsOptions): ForwardMemoryEstimate {
  const limit = o.limitBytes ?? (tf.getBackend() === "wasm" ? WASM_HEAP_LIMIT : Infinity);
  const est = forwardMemory(cfg, o);
  if (!Number.isFinite(limit)) return est;
  const live = o.liveBytes ?? tf.memory().numBytes;
  const slotsLive = o.training && o.optimizer?.live ? optimizerBytes(est.params / F32, 0, { ...o.optimizer, host: est.slotsHost }).slots : 0;
  const left = limit - live + est.params + slotsLive; // θ (and allocated slots) are already live: count them once
  if (est.bytes <= left) return est;
  const same = { chunked: est.chunked, ...(o.chunk !== undefined ? { chunk: o.chunk } : {}), ...(o.layout !== undefined ? { layout: o.layout } : {}), ...(o.training !== undefined ? { training: o.training, recompute: !!o.recompute, ...(o.optimizer ? { optimizer: o.optimizer } : {}) } : {}) };
  const fitsL = (n: number) => estimateForwardMemory(cfg, { ...same, batch: o.batch, length: n }) <= left;
  const fitsB = (n: number) => estimateForwardMemory(cfg, { ...same, batch: n, length: o.length }) <= left;
  const chunkedEst = forwardMemory(cfg, { ...o, chunked: true });
  const ways = [`a smaller ℓ (ℓ ≤ ${largest(o.length, fitsL)} fits at B=${o.batch}${est.chunked ? ", chunked" : ", unchunked"})`];
  if (!est.chunked) {
    ways.push(
      `chunked attention (layout { mode: "chunked" }, per model or per call: estimate ${GiB(chunkedEst.bytes)}, ${chunkedEst.bytes <= left ? "fits" : "still too large"})`,
    );
  }
  if (o.training && !o.recompute) {
    const rc = forwardMemory(cfg, { ...o, recompute: true });
    ways.push(`layer-by-layer recomputation (dTraining's recompute: true: estimate ${GiB(rc.bytes)}, ${rc.bytes <= left ? "fits" : "still too large"})`);
  }
  const maxB = o.batch > 1 ? largest(o.batch, fitsB) : 0;
  ways.push(o.batch > 1 ? (maxB > 0 ? `a smaller batch (B ≤ ${maxB} fits)` : `a smaller batch (even B=1 does not fit at this ℓ)`) : "a smaller batch (B is already 1)");
  const train = o.training ? `gradients ${GiB(est.grads)}, optimizer ${GiB(est.optimizer)} (${est.slotsHost ? "slots in JS memory; update temporaries" : "slots and update temporaries"}), ` : "";
  const parts = `parameters ${GiB(est.params)}, ${train}${o.training && o.recompute ? "layer-by-layer recomputation, " : ""}activations ${GiB(est.activations)}, attention ${GiB(est.attention)} (${est.chunked ? "chunked" : "unchunked scores O(L·B·H·ℓ²)"}), logits ${GiB(est.logits)}`;
  throw new InputError(
    `DTransformer: a ${o.training ? "training step" : "forward pass"} at B=${o.batch}, ℓ=${o.length} needs an estimated ${GiB(est.bytes)} of tensors (${parts}) ` +
      `but only ${GiB(Math.max(0, left))} is left of the ${GiB(limit)} ${limit === WASM_HEAP_LIMIT ? "wasm heap" : "limit"} (${GiB(live)} live). ` +
      `Options: ${ways.join("; ")}. ` +
      `(The logits are B·ℓ×N_V = ${o.batch * o.length}×${cfg.nVocab} floats, ${GiB(F32 * o.batch * o.length * cfg.nVocab)} per copy; a large vocabulary needs a smaller ℓ.)`,
  );
}
