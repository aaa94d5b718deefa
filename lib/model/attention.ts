/**
 * Algorithm 3 — basic single-query attention, and Algorithm 4 — Attention(X, Z | W_qkv, Mask).
 *
 * Alg 4 (paper, column vectors):  Q ← W_q X + b_q 1ᵀ;  K ← W_k Z + b_k 1ᵀ;  V ← W_v Z + b_v 1ᵀ;
 *   S ← KᵀQ;  S[t_z, t_x] ← −∞ where ¬Mask[t_z, t_x];  return Ṽ = V · softmax(S/√d_attn).
 * Code (row-major): Q = X·W_q + b_q is [ℓ_x, d_attn], scores are Q·Kᵀ [ℓ_x, ℓ_z] (the paper's Sᵀ),
 * masked entries get −1e9 instead of −∞ (exp underflows to exactly 0 and gradients stay finite),
 * and the softmax runs along rows (the paper's columns). See lib/model/mask.ts.
 *
 * Position enters here through the encoding's seams: `rotate` transforms q and k after lines 1–2,
 * `scoreBias` is added to the scaled scores before masking, `scoreScale` multiplies them.
 * `_attendCore` is shared by Alg 4 (H = 1) and Alg 5 (H heads) and by the model.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";
import { hp, type HookContext } from "../hooks/context.js";
import type { PeContext, PositionalEncoding, PositionRange } from "../positional/types.js";
import { affine2d, linear, mm, mmT } from "../tensor/ops.js";
import { mergeGrid, splitGrid, transpose2d } from "../tensor/fast-kernels.js";
import { concatRows, splitRows } from "../tensor/split-rows.js";
import { assertDims, assertSameDim, type SeqOrBatch, type Tensor } from "../tensor/typed.js";
import { biasFromMask, causalBias } from "./mask.js";

/** One head's (or all heads', side by side) query/key/value parameters, row-major. */
export interface QkvWeights {
  W_q: tf.Tensor; // [d_x, H·d_attn]
  b_q: tf.Tensor; // [H·d_attn]
  W_k: tf.Tensor; // [d_z, H·d_attn]
  b_k: tf.Tensor;
  W_v: tf.Tensor; // [d_z, H·d_mid]
  b_v: tf.Tensor; // [H·d_mid]
}

/** Mask option: "causal" (eq. 3, unidirectional), "bidirectional" (Mask ≡ 1), or a row-major 0/1 matrix [ℓ_x, ℓ_z]. */
export type MaskOption = "causal" | "bidirectional" | readonly (readonly (number | boolean)[])[];

/** Options of the shared core. */
export interface AttendOptions {
  nHeads: number;
  mask: MaskOption;
  pe?: PositionalEncoding;
  peCtx?: PeContext;
  /** positions of the queries (default 0…ℓ_x−1) and keys (default 0…ℓ_z−1) */
  qPos?: PositionRange;
  kPos?: PositionRange;
  hooks?: HookContext;
  /** hook name prefix, e.g. "blocks.0.attn" */
  prefix?: string;
  /** KV cache of this layer: keys (before rotation) and values of earlier positions; updated in place */
  kv?: LayerKV;
}

/**
 * One layer's KV cache (Alg 14 with caching): keys are stored BEFORE the positional rotation and
 * rotated again at every step, so dynamic schemes (whose rotation depends on the current length)
 * stay exact (REFERENCE.md §5.4). Tensors are kept (tf.keep) and owned by the cache.
 */
export interface LayerKV {
  k?: tf.Tensor; // [B, H, ℓ_past, d_attn]
  v?: tf.Tensor; // [B, H, ℓ_past, d_mid]
}

function appendKV(kv: LayerKV, k: tf.Tensor, v: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const fullK = kv.k ? tf.concat([kv.k, k], 2) : k;
  const fullV = kv.v ? tf.concat([kv.v, v], 2) : v;
  kv.k?.dispose();
  kv.v?.dispose();
  kv.k = tf.keep(fullK.clone());
  kv.v = tf.keep(fullV.clone());
  return [fullK, fullV];
}

/** [B, ℓ, H·d] → [B, H, ℓ, d] */
function splitHeads(t: tf.Tensor, H: number): tf.Tensor {
  const [B, l, hd] = t.shape as [number, number, number];
  return tf.transpose(tf.reshape(t, [B, l, H, hd / H]), [0, 2, 1, 3]);
}

/** [B, H, ℓ, d] → [B, ℓ, H·d] */
export function mergeHeads(t: tf.Tensor): tf.Tensor {
  const [B, H, l, d] = t.shape as [number, number, number, number];
  return tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [B, l, H * d]);
}

function maskBias(mask: MaskOption, lq: number, lk: number, q: PositionRange, k: PositionRange): tf.Tensor | undefined {
  if (mask === "bidirectional") return undefined;
  if (mask === "causal") return causalBias(lq, lk, q.start, k.start);
  if (mask.length !== lq || mask.some((r) => r.length !== lk)) {
    throw new ShapeError(`attention: Mask must be [ℓ_x=${lq}, ℓ_z=${lk}] (rows = queries, row-major; the paper's Mask transposed) but is [${mask.length}, ${mask[0]?.length ?? 0}]`);
  }
  return biasFromMask(mask);
}

/**
 * Core of Alg 4/5 without checks: X [B, ℓ_x, d_x], Z [B, ℓ_z, d_z] → per-head outputs Y [B, H, ℓ_x, d_mid].
 */
export function _attendCore(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const H = o.nHeads;
  const lq = X.shape[1]!;
  const p = o.prefix ?? "attn";
  const h = o.hooks;
  let q = hp(h, `${p}.hook_q`, splitHeads(linear(X, w.W_q, w.b_q), H)); // line 1: [B, H, ℓ_x, d_attn]
  let k = splitHeads(linear(Z, w.W_k, w.b_k), H); // line 2: [B, H, ℓ_z, d_attn]
  let v = splitHeads(linear(Z, w.W_v, w.b_v), H); // line 3: [B, H, ℓ_z, d_mid]
  if (o.kv) [k, v] = appendKV(o.kv, k, v); // earlier positions' keys and values from the cache
  k = hp(h, `${p}.hook_k`, k);
  v = hp(h, `${p}.hook_v`, v);
  const lk = k.shape[2]!;
  const qPos = o.qPos ?? { start: lk - lq, length: lq };
  const kPos = o.kPos ?? { start: 0, length: lk };
  if (o.pe?.rotate && o.peCtx) {
    q = hp(h, `${p}.hook_rot_q`, o.pe.rotate(q, qPos, "q", o.peCtx));
    k = hp(h, `${p}.hook_rot_k`, o.pe.rotate(k, kPos, "k", o.peCtx));
  }
  const dAttn = q.shape[3]!;
  let s = tf.mul(blockProduct(q, k, true), 1 / Math.sqrt(dAttn)); // line 4 (transposed): [B, H, ℓ_x, ℓ_z]
  const scale = o.pe?.scoreScale && o.peCtx ? o.pe.scoreScale(qPos, o.peCtx) : 1;
  if (scale !== 1) s = tf.mul(s, scale);
  if (o.pe?.scoreBias && o.peCtx) s = tf.add(s, o.pe.scoreBias(qPos, kPos, o.peCtx));
  const mb = maskBias(o.mask, lq, lk, qPos, kPos); // line 5
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

/** The sizes both per-head paths start from: H, B, ℓ_x, ℓ_z, d_x, d_z, d_attn, d_mid and the position ranges. */
function blockGeometry(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions) {
  const H = o.nHeads;
  const [B, lq, dx] = X.shape as [number, number, number];
  const [, lk, dz] = Z.shape as [number, number, number];
  return {
    H, B, lq, dx, lk, dz,
    dAttn: w.W_q.shape[1]! / H,
    dMid: w.W_v.shape[1]! / H,
    qPos: o.qPos ?? { start: lk - lq, length: lq },
    kPos: o.kPos ?? { start: 0, length: lk },
  };
}

/**
 * The same computation as `mergeHeads(_attendCore(…))`, organised for speed on the wasm backend:
 * every product is a 2-D matMul of one (batch, head) block, which takes XNNPACK's fast path, where a
 * 4-D batched matMul falls back to a scalar kernel (PERF-NOTES.md). Per-head projections come from
 * column slices of the (small) weights, so the activations are never sliced head by head; only the
 * batch axis is unstacked. Used when no hook or KV cache needs the [B, H, ℓ, d] tensors.
 * Returns Y with heads side by side: [B, ℓ_x, H·d_mid].
 */
export function _attendMergedPerHead(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const { H, B, lq, dx, lk, dz, dAttn, dMid, qPos, kPos } = blockGeometry(X, Z, w, o);
  const X2 = X.reshape([B * lq, dx]);
  const Z2 = self(X, Z) ? X2 : Z.reshape([B * lk, dz]);
  let scale = 1 / Math.sqrt(dAttn);
  if (o.pe?.scoreScale && o.peCtx) scale *= o.pe.scoreScale(qPos, o.peCtx);
  const maskB = maskBias(o.mask, lq, lk, qPos, kPos);
  const peBias = o.pe?.scoreBias && o.peCtx ? o.pe.scoreBias(qPos, kPos, o.peCtx) : undefined; // [H, ℓ_x, ℓ_z]
  const perBatch: tf.Tensor[][] = Array.from({ length: B }, () => []);
  for (let h = 0; h < H; h++) {
    const proj = (A: tf.Tensor, W: tf.Tensor, b: tf.Tensor, d: number, l: number) =>
      affine2d(A, tf.slice(W, [0, h * d], [-1, d]), tf.slice(b, [h * d], [d])).reshape([B, 1, l, d]);
    let q = proj(X2, w.W_q, w.b_q, dAttn, lq); // [B, 1, ℓ_x, d_attn]: head h only
    let k = proj(Z2, w.W_k, w.b_k, dAttn, lk);
    const v = proj(Z2, w.W_v, w.b_v, dMid, lk);
    if (o.pe?.rotate && o.peCtx) {
      q = o.pe.rotate(q, qPos, "q", o.peCtx);
      k = o.pe.rotate(k, kPos, "k", o.peCtx);
    }
    let bias = maskB;
    if (peBias) {
      const hb = tf.slice(peBias, [h, 0, 0], [1, -1, -1]).reshape([lq, lk]);
      bias = bias ? tf.add(bias, hb) : hb;
    }
    const qs = unstackBatch(q, B, lq, dAttn);
    const ks = unstackBatch(k, B, lk, dAttn);
    const vs = unstackBatch(v, B, lk, dMid);
    for (let b = 0; b < B; b++) {
      let s = tf.mul(mmT(qs[b]!, ks[b]!), scale); // [ℓ_x, ℓ_z]
      if (bias) s = tf.add(s, bias);
      perBatch[b]!.push(mm(tf.softmax(s, -1), vs[b]!)); // [ℓ_x, d_mid]
    }
  }
  const ys = perBatch.map((heads) => (H === 1 ? heads[0]! : tf.concat(heads, 1))); // B × [ℓ_x, H·d_mid]
  return concatRows(ys).reshape([B, lq, H * dMid]);
}

/**
 * One (sequence, head) block of attention as one differentiable op with a hand-written gradient:
 * q [ℓ_x, d], k [ℓ_z, d], v [ℓ_z, d_mid] → softmax(q·kᵀ·scale + bias)·v [ℓ_x, d_mid]. `bias`
 * ([ℓ_x, ℓ_z], the mask; a constant: no gradient flows to it) may be undefined. Forward as in
 * `_attendMergedPerHead`, except that the scale multiplies q (a [ℓ_x, d] product instead of
 * [ℓ_x, ℓ_z]). Backward (P = the softmax, s = scale, G = dY):
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

/** Whether `_attendFused` can run this call: no rotation (its blocks would need [B, 1, ℓ, d] tensors), no score bias. */
export function fusedApplies(o: AttendOptions): boolean {
  return !(o.pe?.rotate && o.peCtx) && !(o.pe?.scoreBias && o.peCtx) && !o.kv && !o.hooks;
}

/**
 * The same computation as `_attendMergedPerHead` (and `mergeHeads(_attendCore(…))`) with fewer and
 * cheaper kernels on wasm: all heads' q, k, v come from one affine map of X (and Z) by the
 * side-by-side weights [W_q | W_k | W_v] (so Xᵀ is formed once in the gradient, not per head),
 * one kernel cuts them into (head, sequence) blocks (splitGrid), each block is one `attendBlock`
 * op, and one kernel puts the outputs back side by side (mergeGrid). Needs `fusedApplies(o)`.
 * Returns Y [B, ℓ_x, H·d_mid].
 */
export function _attendFused(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const { H, B, lq, dx, lk, dz, dAttn, dMid, qPos, kPos } = blockGeometry(X, Z, w, o);
  let scale = 1 / Math.sqrt(dAttn);
  if (o.pe?.scoreScale && o.peCtx) scale *= o.pe.scoreScale(qPos, o.peCtx);
  const bias = maskBias(o.mask, lq, lk, qPos, kPos);
  let qs: tf.Tensor[], ks: tf.Tensor[], vs: tf.Tensor[];
  if (self(X, Z) && dAttn === dMid) {
    const qkv = affine2d(X.reshape([B * lq, dx]), tf.concat([w.W_q, w.W_k, w.W_v], 1), tf.concat([w.b_q, w.b_k, w.b_v]));
    const blocks = splitGrid(qkv, B, 3 * H); // index g·B + b: heads of q, then of k, then of v
    [qs, ks, vs] = [blocks.slice(0, H * B), blocks.slice(H * B, 2 * H * B), blocks.slice(2 * H * B)];
  } else {
    const Z2 = Z.reshape([B * lk, dz]);
    qs = splitGrid(affine2d(X.reshape([B * lq, dx]), w.W_q, w.b_q), B, H);
    ks = splitGrid(affine2d(Z2, w.W_k, w.b_k), B, H);
    vs = splitGrid(affine2d(Z2, w.W_v, w.b_v), B, H);
  }
  const ys = qs.map((q, i) => attendBlock(q, ks[i]!, vs[i]!, scale, bias));
  return mergeGrid(ys, B, H).reshape([B, lq, H * dMid]);
}

/**
 * [B, 1, ℓ, d] → B tensors [ℓ, d], by splitRows: on wasm tf.unstack (and its gradient's stack) cost a
 * quarter of a training step (docs/performance.md).
 */
function unstackBatch(t: tf.Tensor, B: number, l: number, d: number): tf.Tensor[] {
  return splitRows(t.reshape([B * l, d]), B);
}

function self(X: tf.Tensor, Z: tf.Tensor): boolean {
  return X === Z;
}

/** Check X, Z and the weights against each other; returns whether the input was batched. */
export function checkQkv(where: string, X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, H: number): boolean {
  if (X.rank !== 2 && X.rank !== 3) throw new ShapeError(`${where}: X must be [ℓ_x, d_x] or [B, ℓ_x, d_x], got [${X.shape.join(", ")}]`);
  if (Z.rank !== X.rank) throw new ShapeError(`${where}: Z must have the same rank as X (${X.rank}), got [${Z.shape.join(", ")}]`);
  if (X.rank === 3 && X.shape[0] !== Z.shape[0]) throw new ShapeError(`${where}: X has B=${X.shape[0]} but Z has B=${Z.shape[0]}`);
  for (const n of ["W_q", "W_k", "W_v"] as const) assertDims(`${where}: ${n}`, w[n], ["d_e", "H·d_attn"]);
  const [dx, dz] = where === "mhAttention" ? (["d_e", "d_e"] as const) : (["d_x", "d_z"] as const);
  assertSameDim(where, "X", X, -1, "W_q", w.W_q, 0, dx);
  assertSameDim(where, "Z", Z, -1, "W_k", w.W_k, 0, dz);
  assertSameDim(where, "Z", Z, -1, "W_v", w.W_v, 0, dz);
  assertSameDim(where, "W_q", w.W_q, 1, "W_k", w.W_k, 1, "d_attn");
  assertSameDim(where, "W_q", w.W_q, 1, "b_q", w.b_q, 0, "d_attn");
  assertSameDim(where, "W_k", w.W_k, 1, "b_k", w.b_k, 0, "d_attn");
  assertSameDim(where, "W_v", w.W_v, 1, "b_v", w.b_v, 0, "d_mid");
  if (w.W_q.shape[1]! % H !== 0 || w.W_v.shape[1]! % H !== 0) {
    throw new ShapeError(`${where}: W_q has ${w.W_q.shape[1]} and W_v ${w.W_v.shape[1]} columns; both must be divisible by H=${H}`);
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
    const y = _attendCore(Xb, Zb, w, { nHeads: 1, mask: opts.mask ?? "bidirectional" }).squeeze([1]);
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
    const q = tf.add(tf.matMul(e.expandDims(0), w.W_q), w.b_q).squeeze([0]);
    const T = E.shape[0]!;
    const dAttn = q.shape[0]!;
    const logits: tf.Tensor[] = [];
    const values: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const et = tf.slice(E, [t, 0], [1, -1]);
      const kt = tf.add(tf.matMul(et, w.W_k), w.b_k).squeeze([0]);
      values.push(tf.add(tf.matMul(et, w.W_v), w.b_v).squeeze([0]));
      logits.push(tf.div(tf.sum(tf.mul(q, kt)), Math.sqrt(dAttn)));
    }
    const alpha = tf.softmax(tf.stack(logits));
    return tf.sum(tf.mul(alpha.expandDims(1), tf.stack(values)), 0);
  }) as Tensor<["d_out"]>;
}
