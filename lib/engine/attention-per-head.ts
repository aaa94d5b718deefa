/**
 * The per-head layouts, organised for speed on the wasm backend: every product is a 2-D matMul of
 * one (batch, head) block, which takes XNNPACK's fast path, where a 4-D batched matMul falls back to
 * a scalar kernel (docs/performance.md). Same values as the batched layout and the reference.
 *
 *   attendPerHead  per-head projections from column slices of the (small) weights, so activations
 *                  are never sliced head by head; any seam (rotation, score bias, scale).
 *   attendFused    all heads' q, k, v from one affine map by [W_q | W_k | W_v], cut into (head,
 *                  sequence) blocks by one kernel, one hand-differentiated op per block, one kernel
 *                  to put the outputs back side by side. Needs `fusedApplies` (no rotation, no score
 *                  bias: its blocks are [ℓ, d] and would need [B, 1, ℓ, d] tensors for `rotate`).
 *
 * Both return Y with heads side by side: [B, ℓ_x, H·d_mid]. Seams come from the plan (seams.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { affine2d, mm, mmT } from "../tensor/ops.js";
import { mergeGrid, splitGrid, transpose2d } from "../tensor/fast-kernels.js";
import { concatRows, splitRows } from "../tensor/split-rows.js";
import { headCols, planAttention, type AttendOptions, type AttentionPlan, type QkvWeights } from "./seams.js";

/** Per-head 2-D products with column slices of the weights (any seam). */
export function attendPerHead(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const plan = planAttention(X, Z, w, o);
  const { H, B, lq, lk, dAttn, dMid, qPos, kPos, scale } = plan;
  const X2 = X.reshape([B * lq, X.shape[2]!]);
  const Z2 = X === Z ? X2 : Z.reshape([B * lk, Z.shape[2]!]);
  const maskB = plan.maskBias(qPos, kPos);
  const peBias = plan.scoreBias?.(qPos, kPos); // [H, ℓ_x, ℓ_z]
  const perBatch: tf.Tensor[][] = Array.from({ length: B }, () => []);
  const proj = (A: tf.Tensor, W: tf.Tensor, b: tf.Tensor | undefined, d: number, l: number, g: number) => {
    const [Wg, bg] = headCols(W, b, g, d);
    return (bg ? affine2d(A, Wg, bg) : mm(A, Wg)).reshape([B, 1, l, d]);
  };
  // keys (rotated) and values of each key/value head, computed once for the H/H_kv query heads that share it
  const kvOf = new Map<number, { ks: tf.Tensor[]; vs: tf.Tensor[] }>();
  const kvHead = (gk: number, gv: number) => {
    let e = kvOf.get(gk);
    if (!e) {
      let k = proj(Z2, w.W_k, w.b_k, dAttn, lk, gk);
      if (plan.rotateQ && plan.rotateK) k = plan.rotateK(k);
      e = { ks: unstackBatch(k, B, lk, dAttn), vs: unstackBatch(proj(Z2, w.W_v, w.b_v, dMid, lk, gv), B, lk, dMid) };
      kvOf.set(gk, e);
    }
    return e;
  };
  for (let h = 0; h < H; h++) {
    const at = plan.headOf(h);
    let q = proj(X2, w.W_q, w.b_q, dAttn, lq, at.q); // [B, 1, ℓ_x, d_attn]: head h only
    if (plan.rotateQ && plan.rotateK) q = plan.rotateQ(q);
    const { ks, vs } = kvHead(at.k, at.v); // key/value head ⌊h / (H/H_kv)⌋
    let bias = maskB;
    if (peBias) {
      const hb = tf.slice(peBias, [h, 0, 0], [1, -1, -1]).reshape([lq, lk]);
      bias = bias ? tf.add(bias, hb) : hb;
    }
    const qs = unstackBatch(q, B, lq, dAttn);
    for (let b = 0; b < B; b++) {
      let s = tf.mul(mmT(qs[b]!, ks[b]!), scale); // [ℓ_x, ℓ_z]
      if (bias) s = tf.add(s, bias);
      perBatch[b]!.push(mm(tf.softmax(s, -1), vs[b]!)); // [ℓ_x, d_mid]
    }
  }
  const ys = perBatch.map((heads) => (H === 1 ? heads[0]! : tf.concat(heads, 1))); // B × [ℓ_x, H·d_mid]
  return concatRows(ys).reshape([B, lq, H * dMid]);
}

/** Whether `attendFused` can run this call: no rotation, no score bias, no KV cache, no hooks. */
export function fusedApplies(o: AttendOptions): boolean {
  return !(o.pe?.rotate && o.peCtx) && !(o.pe?.scoreBias && o.peCtx) && !o.kv && !o.hooks;
}

/** The fused per-head layout (see the header). Needs `fusedApplies(o)`. */
export function attendFused(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const plan = planAttention(X, Z, w, o);
  const { H, B, lq, dMid, qPos, kPos, scale } = plan;
  const bias = plan.maskBias(qPos, kPos);
  const [qs, ks, vs] = fusedBlocks(X, Z, w, plan);
  const ys = qs.map((q, i) => attendBlock(q, ks[i]!, vs[i]!, scale, bias));
  return mergeGrid(ys, B, H).reshape([B, lq, H * dMid]);
}

/**
 * q, k, v as (head, sequence) blocks [ℓ, d], index h·B + b for query head h; the k and v lists hold
 * the block of query head h's key/value head (headOf), so with H_kv < H a block appears r = H/H_kv times.
 */
function fusedBlocks(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, plan: AttentionPlan): [tf.Tensor[], tf.Tensor[], tf.Tensor[]] {
  const { H, Hkv, B, lq, lk, dAttn, dMid } = plan;
  const dx = X.shape[2]!;
  const aff = (A: tf.Tensor, W: tf.Tensor, b: tf.Tensor | undefined) => (b ? affine2d(A, W, b) : mm(A, W));
  const byQueryHead = (kv: tf.Tensor[]) => Array.from({ length: H * B }, (_, i) => kv[plan.headOf(Math.floor(i / B)).k * B + (i % B)]!);
  let q: tf.Tensor[], k: tf.Tensor[], v: tf.Tensor[];
  if (X === Z && dAttn === dMid) {
    const bs = [w.b_q, w.b_k, w.b_v];
    const n = [H * dAttn, Hkv * dAttn, Hkv * dMid];
    const b = bs.every((t) => !t) ? undefined : tf.concat(bs.map((t, i) => t ?? tf.zeros([n[i]!]))); // an absent bias adds 0
    const qkv = aff(X.reshape([B * lq, dx]), tf.concat([w.W_q, w.W_k, w.W_v], 1), b);
    const blocks = splitGrid(qkv, B, H + 2 * Hkv); // index g·B + b: heads of q, then of k, then of v
    [q, k, v] = [blocks.slice(0, H * B), blocks.slice(H * B, (H + Hkv) * B), blocks.slice((H + Hkv) * B)];
  } else {
    const Z2 = Z.reshape([B * lk, Z.shape[2]!]);
    [q, k, v] = [splitGrid(aff(X.reshape([B * lq, dx]), w.W_q, w.b_q), B, H), splitGrid(aff(Z2, w.W_k, w.b_k), B, Hkv), splitGrid(aff(Z2, w.W_v, w.b_v), B, Hkv)];
  }
  return Hkv === H ? [q, k, v] : [q, byQueryHead(k), byQueryHead(v)];
}

/**
 * One (sequence, head) block of attention as one differentiable op with a hand-written gradient:
 * q [ℓ_x, d], k [ℓ_z, d], v [ℓ_z, d_mid] → softmax(q·kᵀ·scale + bias)·v [ℓ_x, d_mid]. `bias`
 * ([ℓ_x, ℓ_z], the mask; a constant: no gradient flows to it) may be undefined. The scale
 * multiplies q (a [ℓ_x, d] product instead of [ℓ_x, ℓ_z]). Backward (P = the softmax, s = scale, G = dY):
 *   dP = G·vᵀ;  dS = P ⊙ (dP − rowsum(dP ⊙ P));  dq = s·dS·k;  dk = dSᵀ·(s·q);  dv = Pᵀ·G
 * where every product is a plain 2-D matMul (XNNPACK on wasm) with explicit transposes (transpose2d).
 * dSᵀ·(s·q) rather than ((s·q)ᵀ·dS)ᵀ: XNNPACK repacks its right operand on every call, and a
 * 32-row product with a [ℓ_z, ℓ_z] right operand ran at under half its rate. The op-by-op gradient
 * saved and copied every intermediate.
 */
function attendBlock(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number, bias: tf.Tensor | undefined): tf.Tensor {
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [q0, k0, v0, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const qs = scale === 1 ? q0 : tf.mul(q0, scale);
    let s = tf.matMul(qs, transpose2d(k0));
    if (bias) s = tf.add(s, bias);
    const p = tf.softmax(s, -1);
    save([qs, k0, v0, p]);
    return {
      value: tf.matMul(p, v0),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor;
        const [sq, sk, sv, sp] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const dp = tf.matMul(g, transpose2d(sv));
        const ds = tf.mul(sp, tf.sub(dp, tf.sum(tf.mul(dp, sp), -1, true)));
        const dqs = tf.matMul(ds, sk);
        return [scale === 1 ? dqs : tf.mul(dqs, scale), tf.matMul(transpose2d(ds), sq), tf.matMul(transpose2d(sp), g)];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return (op as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor)(q, k, v);
}

/**
 * [B, 1, ℓ, d] → B tensors [ℓ, d], by splitRows: on wasm tf.unstack (and its gradient's stack) cost a
 * quarter of a training step (docs/performance.md).
 */
function unstackBatch(t: tf.Tensor, B: number, l: number, d: number): tf.Tensor[] {
  return splitRows(t.reshape([B * l, d]), B);
}
