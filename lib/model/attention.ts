/**
 * Algorithm 3 — basic single-query attention, and Algorithm 4 — Attention(X, Z | W_qkv, Mask).
 *
 * Alg 4 (paper, column vectors):  Q ← W_q X + b_q 1ᵀ;  K ← W_k Z + b_k 1ᵀ;  V ← W_v Z + b_v 1ᵀ;
 *   S ← KᵀQ;  S[t_z, t_x] ← −∞ where ¬Mask[t_z, t_x];  return Ṽ = V · softmax(S/√d_attn).
 * Code (row-major): Q = X·W_q + b_q is [ℓ_x, d_attn], scores are Q·Kᵀ [ℓ_x, ℓ_z] (the paper's Sᵀ),
 * masked entries get −1e9 instead of −∞ (exp underflows to exactly 0 and gradients stay finite),
 * and the softmax runs along rows (the paper's columns). See lib/model/mask.ts.
 *
 * `attendReference` is Alg 4 run once per head, line by line, with no backend special case: the
 * reference every faster layout of lib/engine/ is tested against. Position enters through the seams
 * that lib/engine/seams.ts prepares once for every layout: q and k rotated after lines 1–2, the
 * scores scaled, the encoding's score bias added before the mask.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";
import { appendKV, headCols, planAttention, splitHeads, type AttendOptions, type MaskOption, type QkvWeights } from "../engine/seams.js";
import { assertDims, assertSameDim, type SeqOrBatch, type Tensor } from "../tensor/typed.js";

export { mergeHeads, type AttendOptions, type LayerKV, type MaskOption, type QkvWeights } from "../engine/seams.js";

/**
 * Algorithm 4 for each head h in turn (Alg 5's loop), X [B, ℓ_x, d_x], Z [B, ℓ_z, d_z] → Y^h
 * stacked on a head axis: [B, H, ℓ_x, d_mid]. Hooks are not called; a KV cache is read and filled.
 */
export function attendReference(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const plan = planAttention(X, Z, w, o);
  const { H, Hkv, dAttn } = plan;
  const affine = (A: tf.Tensor, W: tf.Tensor, b: tf.Tensor | undefined) => (b ? tf.add(tf.matMul(A, W), b) : tf.matMul(A, W));
  let K = splitHeads(affine(flat(Z), w.W_k, w.b_k).reshape([plan.B, Z.shape[1]!, -1]), Hkv); // H_kv key heads
  let V = splitHeads(affine(flat(Z), w.W_v, w.b_v).reshape([plan.B, Z.shape[1]!, -1]), Hkv);
  if (o.kv) [K, V] = appendKV(o.kv, K, V); // keys before rotation, as the cache stores them
  const ys: tf.Tensor[] = [];
  for (let h = 0; h < H; h++) {
    const at = plan.headOf(h); // query head h, its key/value head
    const [Wq, bq] = headCols(w.W_q, w.b_q, at.q, dAttn);
    let q = affine(flat(X), Wq, bq).reshape([plan.B, 1, plan.lq, dAttn]); // line 1: Q = X·W_q + b_q
    let k = tf.slice(K, [0, at.k, 0, 0], [-1, 1, -1, -1]); // line 2: K = Z·W_k + b_k
    const v = tf.slice(V, [0, at.v, 0, 0], [-1, 1, -1, -1]); // line 3: V = Z·W_v + b_v
    if (plan.rotateQ && plan.rotateK) [q, k] = [plan.rotateQ(q), plan.rotateK(k)];
    let S = tf.mul(tf.matMul(q, k, false, true), plan.scale); // line 4: S = Q·Kᵀ (the paper's KᵀQ), scaled
    if (plan.scoreBias) S = tf.add(S, tf.slice(plan.scoreBias(plan.qPos, plan.kPos), [h, 0, 0], [1, -1, -1]));
    const mask = plan.maskBias(plan.qPos, plan.kPos); // line 5: −1e9 where ¬Mask
    if (mask) S = tf.add(S, mask);
    ys.push(tf.matMul(tf.softmax(S, -1), v)); // line 6: softmax(S)·V, [B, 1, ℓ_x, d_mid]
  }
  return H === 1 ? ys[0]! : tf.concat(ys, 1);
}

function flat(t: tf.Tensor): tf.Tensor {
  return t.reshape([-1, t.shape[2]!]);
}

/** Check X, Z and the weights against each other; returns whether the input was batched. */
export function checkQkv(where: string, X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, H: number, Hkv = H): boolean {
  if (X.rank !== 2 && X.rank !== 3) throw new ShapeError(`${where}: X must be [ℓ_x, d_x] or [B, ℓ_x, d_x], got [${X.shape.join(", ")}]`);
  if (Z.rank !== X.rank) throw new ShapeError(`${where}: Z must have the same rank as X (${X.rank}), got [${Z.shape.join(", ")}]`);
  if (X.rank === 3 && X.shape[0] !== Z.shape[0]) throw new ShapeError(`${where}: X has B=${X.shape[0]} but Z has B=${Z.shape[0]}`);
  for (const n of ["W_q", "W_k", "W_v"] as const) assertDims(`${where}: ${n}`, w[n], ["d_e", "H·d_attn"]);
  const [dx, dz] = where === "mhAttention" ? (["d_e", "d_e"] as const) : (["d_x", "d_z"] as const);
  assertSameDim(where, "X", X, -1, "W_q", w.W_q, 0, dx);
  assertSameDim(where, "Z", Z, -1, "W_k", w.W_k, 0, dz);
  assertSameDim(where, "Z", Z, -1, "W_v", w.W_v, 0, dz);
  if (Hkv === H) assertSameDim(where, "W_q", w.W_q, 1, "W_k", w.W_k, 1, "d_attn");
  else if (w.W_q.shape[1]! * Hkv !== w.W_k.shape[1]! * H) throw new ShapeError(`${where}: W_k has ${w.W_k.shape[1]} columns but H_kv·d_attn = ${Hkv}·${w.W_q.shape[1]! / H} (W_q has H·d_attn = ${w.W_q.shape[1]})`);
  if (w.b_q) assertSameDim(where, "W_q", w.W_q, 1, "b_q", w.b_q, 0, "d_attn");
  if (w.b_k) assertSameDim(where, "W_k", w.W_k, 1, "b_k", w.b_k, 0, "d_attn");
  if (w.b_v) assertSameDim(where, "W_v", w.W_v, 1, "b_v", w.b_v, 0, "d_mid");
  if (w.W_q.shape[1]! % H !== 0 || w.W_v.shape[1]! % Hkv !== 0) {
    if (Hkv === H) throw new ShapeError(`${where}: W_q has ${w.W_q.shape[1]} and W_v ${w.W_v.shape[1]} columns; both must be divisible by H=${H}`);
    throw new ShapeError(`${where}: W_q has ${w.W_q.shape[1]} columns (must be divisible by H=${H}) and W_v ${w.W_v.shape[1]} (must be divisible by H_kv=${Hkv})`);
  }
  return X.rank === 3;
}

/**
 * Algorithm 4: one attention head. X [ℓ_x, d_x] (or [B, ℓ_x, d_x]) attends to Z [ℓ_z, d_z];
 * returns Ṽ [ℓ_x, d_out] (row t_x = the paper's column t_x). `mask` defaults to "bidirectional".
 * @example attention(X, X, { W_q, b_q, W_k, b_k, W_v, b_v }, { mask: "causal" })
 */
export function attention(X: SeqOrBatch<"d_x" | "d_e">, Z: SeqOrBatch<"d_z" | "d_e">, w: QkvWeights, opts: { mask?: MaskOption } = {}): SeqOrBatch<"d_out"> {
  const batched = checkQkv("attention", X, Z, w, 1);
  return tf.tidy(() => {
    const Xb = batched ? X : X.expandDims(0);
    const Zb = batched ? Z : Z.expandDims(0);
    const y = attendReference(Xb, Zb, w, { nHeads: 1, mask: opts.mask ?? "bidirectional" }).squeeze([1]);
    return batched ? y : y.squeeze([0]);
  }) as SeqOrBatch<"d_out">;
}

/**
 * Algorithm 3: basic single-query attention, written as in the paper (an independent reference
 * for Alg 4): q = W_q e + b_q; k_t = W_k e_t + b_k; v_t = W_v e_t + b_v;
 * α_t = softmax_t(qᵀk_t/√d_attn); return ṽ = Σ_t α_t v_t.  e [d_in], context E [T, d_in] → [d_out].
 */
export function singleQueryAttention(e: Tensor<["d_x" | "d_e"]>, E: Tensor<["ℓ_z" | "ℓ", "d_z" | "d_e"]>, w: QkvWeights): Tensor<["d_out"]> {
  assertDims("singleQueryAttention: e", e, ["d_x"]);
  assertDims("singleQueryAttention: context", E, ["ℓ_z", "d_z"]);
  assertSameDim("singleQueryAttention", "e", e, 0, "W_q", w.W_q, 0, "d_x");
  assertSameDim("singleQueryAttention", "context", E, 1, "W_k", w.W_k, 0, "d_z");
  return tf.tidy(() => {
    const add = (t: tf.Tensor, b: tf.Tensor | undefined) => (b ? tf.add(t, b) : t);
    const q = add(tf.matMul(e.expandDims(0), w.W_q), w.b_q).squeeze([0]);
    const T = E.shape[0]!;
    const dAttn = q.shape[0]!;
    const logits: tf.Tensor[] = [];
    const values: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const et = tf.slice(E, [t, 0], [1, -1]);
      const kt = add(tf.matMul(et, w.W_k), w.b_k).squeeze([0]);
      values.push(add(tf.matMul(et, w.W_v), w.b_v).squeeze([0]));
      logits.push(tf.div(tf.sum(tf.mul(q, kt)), Math.sqrt(dAttn)));
    }
    const alpha = tf.softmax(tf.stack(logits));
    return tf.sum(tf.mul(alpha.expandDims(1), tf.stack(values)), 0);
  }) as Tensor<["d_out"]>;
}
