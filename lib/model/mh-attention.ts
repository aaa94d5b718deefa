/**
 * Algorithm 5 — MHAttention(X, Z | W, Mask).
 *   For h ∈ [H]: Y^h ← Attention(X, Z | W^h_qkv, Mask);  Y ← [Y¹; …; Y^H];  return Ṽ = W_o Y + b_o 1ᵀ.
 *
 * Row-major: all heads' projections sit side by side, W_q [d_x, H·d_attn] (head h in columns
 * h·d_attn … (h+1)·d_attn − 1, the GPT-2 c_attn layout), W_o [H·d_mid, d_out]. How the heads are
 * computed (one batched product, per-(batch, head) 2-D products, query blocks for long contexts) is
 * the engine's choice (lib/engine/attend.ts), made from the call's `layout` option.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";
import { attendHeads } from "../engine/attend.js";
import type { AttentionLayout } from "../engine/layout-options.js";
import type { AttendOptions, MaskOption, QkvWeights } from "../engine/seams.js";
import { linear } from "../tensor/ops.js";
import { assertSameDim, type SeqOrBatch } from "../tensor/typed.js";
import { checkQkv } from "./attention.js";

/** All parameters of one multi-head attention (the paper's W, eq. 4), row-major. */
export interface MhaWeights extends QkvWeights {
  W_o: tf.Tensor; // [H·d_mid, d_out]
  b_o?: tf.Tensor; // [d_out] (absent: no output bias)
}

/** Core without checks: X [B, ℓ_x, d_e], Z [B, ℓ_z, d_e] → [B, ℓ_x, d_out]. */
export function _mhAttention(X: tf.Tensor, Z: tf.Tensor, w: MhaWeights, o: AttendOptions): tf.Tensor {
  return linear(attendHeads(X, Z, w, o), w.W_o, w.b_o); // W_o Y + b_o
}

/**
 * Algorithm 5 on X [ℓ_x, d_e] (or [B, ℓ_x, d_e]) attending to Z (pass X again for self-attention).
 * `mask` defaults to "bidirectional" (Mask ≡ 1); use "causal" for Alg 10's unidirectional mask.
 * `layout` picks how the heads are computed (default automatic; every layout gives the same values).
 * @example mhAttention(X, X, W, { nHeads: 4, mask: "causal" })   // [ℓ, d_e]
 */
export function mhAttention<T extends SeqOrBatch<"d_e">>(X: T, Z: SeqOrBatch<"d_e">, w: MhaWeights, opts: { nHeads: number; nKvHeads?: number; mask?: MaskOption; layout?: Partial<AttentionLayout> }): T {
  const H = opts.nHeads;
  const Hkv = opts.nKvHeads ?? H;
  if (!Number.isInteger(H) || H < 1) throw new ShapeError(`mhAttention: H=${H} must be a positive integer`);
  if (!Number.isInteger(Hkv) || Hkv < 1 || H % Hkv !== 0) throw new ShapeError(`mhAttention: H_kv=${Hkv} must be a positive integer that divides H=${H}`);
  const batched = checkQkv("mhAttention", X, Z, w, H, Hkv);
  if (w.W_o.shape[0] !== (w.W_v.shape[1]! / Hkv) * H) throw new ShapeError(`mhAttention: W_o has ${w.W_o.shape[0]} rows but H·d_mid = ${H}·${w.W_v.shape[1]! / Hkv}`);
  if (w.b_o) assertSameDim("mhAttention", "W_o", w.W_o, 1, "b_o", w.b_o, 0, "d_out");
  return tf.tidy(() => {
    const Xb = batched ? X : X.expandDims(0);
    const Zb = batched ? Z : Z.expandDims(0);
    const y = _mhAttention(Xb, Zb, w, { nHeads: H, nKvHeads: Hkv, mask: opts.mask ?? "bidirectional", ...(opts.layout ? { layout: opts.layout } : {}) });
    return batched ? y : y.squeeze([0]);
  }) as T;
}
