/**
 * The batched layout: all heads as one product over a head axis, [B, H, ℓ, d]. The layout hooks
 * see (every value of Alg 4 passes a hook point: q, k, v, the rotated q and k, scores, pattern, z)
 * and the one used with a KV cache. Seams come from the plan (seams.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { hp } from "../hooks/context.js";
import { linear, mm, mmT } from "../tensor/ops.js";
import { appendKV, planAttention, repeatKv, splitHeads, type AttendOptions, type QkvWeights } from "./seams.js";

/** Alg 4/5 for X [B, ℓ_x, d_x], Z [B, ℓ_z, d_z] → per-head outputs Y [B, H, ℓ_x, d_mid]. */
export function attendBatched(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const plan = planAttention(X, Z, w, o);
  const { H, Hkv } = plan;
  const p = o.prefix ?? "attn";
  const h = o.hooks;
  let q = hp(h, `${p}.hook_q`, splitHeads(linear(X, w.W_q, w.b_q), H)); // line 1: [B, H, ℓ_x, d_attn]
  let k = splitHeads(linear(Z, w.W_k, w.b_k), Hkv); // line 2: [B, H_kv, ℓ_z, d_attn]
  let v = splitHeads(linear(Z, w.W_v, w.b_v), Hkv); // line 3: [B, H_kv, ℓ_z, d_mid]
  if (o.kv) [k, v] = appendKV(o.kv, k, v); // earlier positions' keys and values from the cache
  k = hp(h, `${p}.hook_k`, k);
  v = hp(h, `${p}.hook_v`, v);
  if (plan.rotateQ && plan.rotateK) {
    q = hp(h, `${p}.hook_rot_q`, plan.rotateQ(q));
    k = hp(h, `${p}.hook_rot_k`, plan.rotateK(k));
  }
  k = repeatKv(k, H / Hkv); // grouped-query attention: each key/value head serves H/H_kv query heads (headOf)
  v = repeatKv(v, H / Hkv);
  let s = tf.mul(blockProduct(q, k, true), plan.scale); // line 4 (transposed): [B, H, ℓ_x, ℓ_z]
  if (plan.scoreBias) s = tf.add(s, plan.scoreBias(plan.qPos, plan.kPos));
  const mb = plan.maskBias(plan.qPos, plan.kPos); // line 5
  if (mb) s = tf.add(s, mb);
  s = hp(h, `${p}.hook_scores`, s);
  const pattern = hp(h, `${p}.hook_pattern`, tf.softmax(s, -1)); // line 6: softmax per query
  return hp(h, `${p}.hook_z`, blockProduct(pattern, v, false)); // [B, H, ℓ_x, d_mid]
}

/**
 * a·b (or a·bᵀ) over [B, H, m, k] blocks. On wasm a 4-D batched matMul runs on a scalar kernel, so
 * when there are few blocks (B·H ≤ 16, e.g. a prompt pass with a KV cache) each block is a 2-D
 * product instead; unstacking costs a copy of the input per block, hence the limit.
 */
function blockProduct(a: tf.Tensor, b: tf.Tensor, transposeB: boolean): tf.Tensor {
  const [B, H, m] = a.shape as [number, number, number, number];
  const n = B * H;
  if (tf.getBackend() !== "wasm" || n === 1 || n > 16 || m < 64) return transposeB ? mmT(a, b) : mm(a, b);
  const as = tf.unstack(a.reshape([n, m, a.shape[3]!]));
  const bs = tf.unstack(b.reshape([n, b.shape[2]!, b.shape[3]!]));
  const out = tf.stack(as.map((x, i) => (transposeB ? mmT(x, bs[i]!) : mm(x, bs[i]!))));
  return out.reshape([B, H, m, out.shape[2]!]);
}
