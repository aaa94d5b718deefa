/**
 * Algorithm 5 — MHAttention(X, Z | W, Mask).
 *   For h ∈ [H]: Y^h ← Attention(X, Z | W^h_qkv, Mask);  Y ← [Y¹; …; Y^H];  return Ṽ = W_o Y + b_o 1ᵀ.
 *
 * Row-major: all heads' projections sit side by side, W_q [d_x, H·d_attn] (head h in columns
 * h·d_attn … (h+1)·d_attn − 1, the GPT-2 c_attn layout), W_o [H·d_mid, d_out]. The heads run as one
 * batched product over a head axis ([B, H, ℓ, d]) through the shared core of Alg 4.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";
import { linear } from "../tensor/ops.js";
import { assertSameDim, type SeqOrBatch } from "../tensor/typed.js";
import { _attendCore, _attendMergedPerHead, checkQkv, mergeHeads, type AttendOptions, type MaskOption, type QkvWeights } from "./attention.js";

/** All parameters of one multi-head attention (the paper's W, eq. 4), row-major. */
export interface MhaWeights extends QkvWeights {
  W_o: tf.Tensor; // [H·d_mid, d_out]
  b_o: tf.Tensor; // [d_out]
}

/** Core without checks: X [B, ℓ_x, d_e], Z [B, ℓ_z, d_e] → [B, ℓ_x, d_out]. */
export function _mhAttention(X: tf.Tensor, Z: tf.Tensor, w: MhaWeights, o: AttendOptions): tf.Tensor {
  const Y = usePerHead(o) ? _attendMergedPerHead(X, Z, w, o) : mergeHeads(_attendCore(X, Z, w, o)); // [B, ℓ_x, H·d_mid]
  return linear(Y, w.W_o, w.b_o); // W_o Y + b_o
}

/**
 * Which attention layout to use. Per-(batch, head) 2-D products are much faster on wasm, the batched
 * 4-D form elsewhere; hooks and the KV cache need the 4-D tensors. CTXLAB_ATTENTION=batched|per-head
 * overrides (for benchmarks and the equivalence test).
 */
export function usePerHead(o: AttendOptions): boolean {
  if (o.hooks || o.kv) return false;
  const forced = attentionLayout.mode;
  if (forced !== "auto") return forced === "per-head";
  return tf.getBackend() === "wasm";
}

/** Attention layout switch: "auto" (per-head on wasm), or forced. */
export const attentionLayout: { mode: "auto" | "per-head" | "batched" } = {
  mode: (["per-head", "batched"] as const).find((m) => m === process.env.CTXLAB_ATTENTION) ?? "auto",
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
