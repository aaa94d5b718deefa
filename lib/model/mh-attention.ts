/**
 * Algorithm 5 — MHAttention(X, Z | W, Mask).
 *   For h ∈ [H]: Y^h ← Attention(X, Z | W^h_qkv, Mask);  Y ← [Y¹; …; Y^H];  return Ṽ = W_o Y + b_o 1ᵀ.
 *
 * Row-major: all heads' projections sit side by side, W_q [d_x, H·d_attn] (head h in columns
 * h·d_attn … (h+1)·d_attn − 1, the GPT-2 c_attn layout), W_o [H·d_mid, d_out]. The heads run as one
 * batched product over a head axis ([B, H, ℓ, d]) through the shared core of Alg 4, as per-(batch, head)
 * 2-D products (wasm), or in query blocks for long contexts (chunked-attention.ts); see `attentionPath`.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";
import { linear } from "../tensor/ops.js";
import { assertSameDim, type SeqOrBatch } from "../tensor/typed.js";
import { _attendCore, _attendFused, _attendMergedPerHead, fusedApplies, checkQkv, mergeHeads, type AttendOptions, type MaskOption, type QkvWeights } from "./attention.js";
import { _attendChunked, DEFAULT_CHUNK, unchunkedScoreBytes } from "./chunked-attention.js";

/** All parameters of one multi-head attention (the paper's W, eq. 4), row-major. */
export interface MhaWeights extends QkvWeights {
  W_o: tf.Tensor; // [H·d_mid, d_out]
  b_o: tf.Tensor; // [d_out]
}

/** Core without checks: X [B, ℓ_x, d_e], Z [B, ℓ_z, d_e] → [B, ℓ_x, d_out]. */
export function _mhAttention(X: tf.Tensor, Z: tf.Tensor, w: MhaWeights, o: AttendOptions): tf.Tensor {
  const lk = Z.shape[1]! + (o.kv?.k?.shape[2] ?? 0);
  const path = attentionPath(o, X.shape[0]!, X.shape[1]!, lk);
  if (path === "chunked") {
    // one tidy per layer: the per-head projections and rotations are freed as soon as Y exists
    return tf.tidy(() => linear(_attendChunked(X, Z, w, o, { chunk: attentionLayout.chunk }), w.W_o, w.b_o));
  }
  const Y = path === "per-head" ? (fusedApplies(o) ? _attendFused(X, Z, w, o) : _attendMergedPerHead(X, Z, w, o)) : mergeHeads(_attendCore(X, Z, w, o)); // [B, ℓ_x, H·d_mid]
  return linear(Y, w.W_o, w.b_o); // W_o Y + b_o
}

/**
 * Which attention layout to use for B sequences of ℓ_q queries over ℓ_k keys. Hooks need the
 * batched [B, H, ℓ, d] tensors. Otherwise long inputs are chunked: ℓ_q > attentionLayout.chunkAbove,
 * or the unchunked layouts' score tensors for one layer (unchunkedScoreBytes: ~4 [ℓ_q, ℓ_k] per
 * (batch, head) plus the mask; e.g. B = 4, H = 4, ℓ = 1,024) would exceed attentionLayout.scoreBudgetBytes
 * (dTransformer keeps every layer's). With a KV cache,
 * a long prompt pass is chunked (the cache still receives the full keys and values), other steps
 * are batched. Short inputs: per-head 2-D products on wasm, batched elsewhere.
 * attentionLayout.mode (CTXLAB_ATTENTION=per-head|batched|chunked) forces a layout where hooks allow.
 */
export function attentionPath(o: AttendOptions, B: number, lq: number, lk: number): "per-head" | "batched" | "chunked" {
  if (o.hooks) return "batched";
  const forced = attentionLayout.mode;
  const long = lq > attentionLayout.chunkAbove || unchunkedScoreBytes(B, o.nHeads, lq, lk, !!o.pe?.scoreBias) > attentionLayout.scoreBudgetBytes;
  if (forced === "chunked" || (forced === "auto" && long)) return "chunked";
  if (o.kv) return "batched";
  if (forced !== "auto") return forced;
  return tf.getBackend() === "wasm" ? "per-head" : "batched";
}

/** Whether the per-head layout is used for short inputs (kept for callers of the former switch). */
export function usePerHead(o: AttendOptions): boolean {
  if (o.hooks || o.kv) return false;
  const forced = attentionLayout.mode;
  if (forced !== "auto") return forced === "per-head";
  return tf.getBackend() === "wasm";
}

function envChunk(): number {
  const n = Number(process.env.CTXLAB_ATTENTION_CHUNK);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_CHUNK;
}

/**
 * Attention layout switch: mode "auto" (see attentionPath) or forced; `chunk` query rows per block
 * of the chunked path (CTXLAB_ATTENTION_CHUNK, default 1024); `chunkAbove` and `scoreBudgetBytes`,
 * the automatic thresholds (ℓ_q > 2,048 or one layer's unchunked scores > 256 MiB).
 */
export const attentionLayout: { mode: "auto" | "per-head" | "batched" | "chunked"; chunk: number; chunkAbove: number; scoreBudgetBytes: number } = {
  mode: (["per-head", "batched", "chunked"] as const).find((m) => m === process.env.CTXLAB_ATTENTION) ?? "auto",
  chunk: envChunk(),
  chunkAbove: 2048,
  scoreBudgetBytes: 256 * 2 ** 20,
};

/**
 * Algorithm 5 on X [ℓ_x, d_e] (or [B, ℓ_x, d_e]) attending to Z (pass X again for self-attention).
 * `mask` defaults to "bidirectional" (Mask ≡ 1); use "causal" for Alg 10's unidirectional mask.
 * @example mhAttention(X, X, W, { nHeads: 4, mask: "causal" })   // [ℓ, d_e]
 */
export function mhAttention<T extends SeqOrBatch<"d_e">>(X: T, Z: SeqOrBatch<"d_e">, w: MhaWeights, opts: { nHeads: number; mask?: MaskOption }): T {
  const H = opts.nHeads;
  if (!Number.isInteger(H) || H < 1) throw new ShapeError(`mhAttention: H=${H} must be a positive integer`);
  const batched = checkQkv("mhAttention", X, Z, w, H);
  assertSameDim("mhAttention", "W_v", w.W_v, 1, "W_o", w.W_o, 0, "H·d_mid");
  assertSameDim("mhAttention", "W_o", w.W_o, 1, "b_o", w.b_o, 0, "d_out");
  return tf.tidy(() => {
    const Xb = batched ? X : X.expandDims(0);
    const Zb = batched ? Z : Z.expandDims(0);
    const y = _mhAttention(Xb, Zb, w, { nHeads: H, mask: opts.mask ?? "bidirectional" });
    return batched ? y : y.squeeze([0]);
  }) as T;
}
