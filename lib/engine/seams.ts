/**
 * The attention seams, applied once. Every attention layout (the per-head reference of Alg 4 in
 * lib/model/attention.ts, the batched, per-head, fused and chunked layouts here, the cached decode
 * step and the plain-JS decoder) starts from `planAttention`, which turns the call's options into
 * the few things a layout consumes:
 *
 *   scale        the one multiplier on q·kᵀ: 1/√d_attn times the encoding's `scoreScale`;
 *   rotateQ/K    the encoding's `rotate` seam at the queries' and the keys' positions (or undefined);
 *   scoreBias    the encoding's additive score term for any block of queries and keys (or undefined);
 *   maskBias     the mask as an additive bias (0 / −1e9) for any block of queries and keys.
 *
 * A layout only arranges the arithmetic (which products, in which blocks); it never asks which
 * encoding it has. A new seam, or an architecture option that changes what q, k or the scores are,
 * is written here once. Head geometry (how many query heads share one key/value head, the widths
 * of q/k and v) is also decided here (`headOf`), so the layouts slice weights the same way.
 * See docs/design.md, "Attention: one set of seams, several layouts".
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";
import type { HookContext } from "../hooks/context.js";
import type { PeContext, PositionalEncoding, PositionRange } from "../positional/types.js";
import { biasFromMask, causalBias } from "./mask-bias.js";
import type { AttentionLayout } from "./layout-options.js";

/**
 * One head's (or all heads', side by side) query/key/value parameters, row-major. Keys and values
 * have H_kv heads (grouped-query attention; H_kv = H by default). A bias may be absent (no bias).
 */
export interface QkvWeights {
  W_q: tf.Tensor; // [d_x, H·d_attn]
  b_q?: tf.Tensor; // [H·d_attn]
  W_k: tf.Tensor; // [d_z, H_kv·d_attn]
  b_k?: tf.Tensor;
  W_v: tf.Tensor; // [d_z, H_kv·d_mid]
  b_v?: tf.Tensor; // [H_kv·d_mid]
}

/** Mask option: "causal" (eq. 3, unidirectional), "bidirectional" (Mask ≡ 1), or a row-major 0/1 matrix [ℓ_x, ℓ_z]. */
export type MaskOption = "causal" | "bidirectional" | readonly (readonly (number | boolean)[])[];

/**
 * One layer's KV cache (Alg 14 with caching): keys are stored BEFORE the positional rotation and
 * rotated again at every step, so dynamic schemes (whose rotation depends on the current length)
 * stay exact (docs/design.md, "KV cache"). Tensors are kept (tf.keep) and owned by the cache.
 */
export interface LayerKV {
  k?: tf.Tensor; // [B, H_kv, ℓ_past, d_attn]
  v?: tf.Tensor; // [B, H_kv, ℓ_past, d_mid]
}

/** Options of one attention call (every layout takes the same). */
export interface AttendOptions {
  nHeads: number;
  /** H_kv: key/value heads (default H); query head h reads key/value head ⌊h / (H/H_kv)⌋ */
  nKvHeads?: number;
  mask: MaskOption;
  pe?: PositionalEncoding;
  peCtx?: PeContext;
  /** positions of the queries (default: the last ℓ_x of the keys) and keys (default 0…ℓ_k−1) */
  qPos?: PositionRange;
  kPos?: PositionRange;
  hooks?: HookContext;
  /** hook name prefix, e.g. "blocks.0.attn" */
  prefix?: string;
  /** KV cache of this layer: keys (before rotation) and values of earlier positions; updated in place */
  kv?: LayerKV;
  /** layout choice for this call (default: the automatic choice with default thresholds) */
  layout?: Partial<AttentionLayout>;
}

/** What every layout consumes (see the header). Sizes count the cached keys. */
export interface AttentionPlan {
  H: number;
  /** key/value heads; query head h uses key/value head headOf(h).k */
  Hkv: number;
  B: number;
  lq: number;
  lk: number;
  dAttn: number;
  dMid: number;
  qPos: PositionRange;
  kPos: PositionRange;
  scale: number;
  rotateQ?: (q: tf.Tensor) => tf.Tensor;
  rotateK?: (k: tf.Tensor) => tf.Tensor;
  /** [H, rows, keys] for queries at `q` and keys at `k`; undefined when the encoding adds nothing */
  scoreBias?: (q: PositionRange, k: PositionRange) => tf.Tensor;
  /** [rows, keys] (0 or −1e9) for queries at `q` and keys at `k`; undefined for "bidirectional" */
  maskBias: (q: PositionRange, k: PositionRange, rowOffset?: number) => tf.Tensor | undefined;
  /** column block of query head h's queries, keys and values in the side-by-side weights (GQA: ⌊h / (H/H_kv)⌋ for k, v) */
  headOf: (h: number) => { q: number; k: number; v: number };
}

/**
 * The plan for X [B, ℓ_x, ·] attending to Z [B, ℓ_z, ·] (plus the ℓ_past cached keys) with weights
 * `w`: positions, scale, rotations, score bias and mask, from the options and the encoding's seams.
 */
export function planAttention(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): AttentionPlan {
  const H = o.nHeads;
  const Hkv = o.nKvHeads ?? H;
  const group = H / Hkv;
  const [B, lq] = X.shape as [number, number];
  const lk = Z.shape[1]! + (o.kv?.k?.shape[2] ?? 0);
  const dAttn = w.W_q.shape[1]! / H;
  const dMid = w.W_v.shape[1]! / Hkv;
  if (!Number.isInteger(group) || w.W_k.shape[1] !== Hkv * dAttn || !Number.isInteger(dMid)) {
    throw new ShapeError(`attention: H=${H} query heads, H_kv=${Hkv} key/value heads (H_kv must divide H): W_q has ${w.W_q.shape[1]} columns (H·d_attn), W_k ${w.W_k.shape[1]} (must be H_kv·d_attn = ${Hkv * dAttn}), W_v ${w.W_v.shape[1]} (H_kv·d_mid)`);
  }
  const qPos = o.qPos ?? { start: lk - lq, length: lq };
  const kPos = o.kPos ?? { start: 0, length: lk };
  const { pe, peCtx } = o;
  const scale = scoreScale(dAttn, qPos, pe, peCtx);
  const rot = pe?.rotate && peCtx ? pe.rotate.bind(pe) : undefined;
  const bias = pe?.scoreBias && peCtx ? pe.scoreBias.bind(pe) : undefined;
  return {
    H, Hkv, B, lq, lk, dAttn, dMid, qPos, kPos, scale,
    ...(rot ? { rotateQ: (q: tf.Tensor) => rot(q, qPos, "q", peCtx!), rotateK: (k: tf.Tensor) => rot(k, kPos, "k", peCtx!) } : {}),
    ...(bias ? { scoreBias: (q: PositionRange, k: PositionRange) => bias(q, k, peCtx!) } : {}),
    maskBias: (q, k, rowOffset = 0) => maskBias(o.mask, q, k, rowOffset, lq, lk),
    headOf: (h) => {
      const g = group === 1 ? h : Math.floor(h / group); // HF's repeat_kv order: consecutive query heads share
      return { q: h, k: g, v: g };
    },
  };
}

/** The one multiplier on q·kᵀ: 1/√d_attn, times the encoding's `scoreScale` at the queries' positions. */
export function scoreScale(dAttn: number, qPos: PositionRange, pe?: PositionalEncoding, peCtx?: PeContext): number {
  const scale = 1 / Math.sqrt(dAttn);
  const temperature = pe?.scoreScale && peCtx ? pe.scoreScale(qPos, peCtx) : 1;
  return temperature === 1 ? scale : scale * temperature;
}

/**
 * The same seams for one decode step in plain numbers (lib/infer/js-decoder.ts): the scale, the score
 * bias row of each head for the query at `pos` over keys 0…nK−1, and the rotary closed form when the
 * encoding declares one (traits.rotaryLayout). Returns why the step cannot be done in plain numbers
 * (an encoding that rotates without declaring how) as `unsupported`.
 */
export function stepSeams(pe: PositionalEncoding, peCtx: PeContext) {
  const { nHeads: H, dAttn } = peCtx.cfg;
  const t = pe.traits ?? {};
  const slopes = t.linearBias && pe.slopes ? pe.slopes(H) : undefined;
  const rotary = t.rotaryLayout && pe.inverseFrequencies ? { layout: t.rotaryLayout, inverseFrequencies: (seqLen: number) => pe.inverseFrequencies!(peCtx.cfg, seqLen) } : undefined;
  return {
    unsupported: pe.rotate && !rotary ? `the positional encoding "${pe.name}" rotates q and k but declares no traits.rotaryLayout (with inverseFrequencies)` : null,
    rotary,
    /** rows of the additive embedding may be read ahead in blocks */
    embedAhead: t.embedByPosition === true,
    scale: (pos: number) => scoreScale(dAttn, { start: pos, length: 1 }, pe, peCtx),
    /** fills out[h·stride + t] for t < nK; false when the encoding adds no score bias */
    biasRows(pos: number, nK: number, out: Float64Array, stride: number): boolean {
      if (slopes) {
        for (let h = 0; h < H; h++) for (let k = 0; k < nK; k++) out[h * stride + k] = slopes[h]! * (k - pos);
        return true;
      }
      if (!pe.scoreBias) return false;
      const b = tf.tidy(() => pe.scoreBias!({ start: pos, length: 1 }, { start: 0, length: nK }, peCtx).dataSync() as Float32Array);
      for (let h = 0; h < H; h++) for (let k = 0; k < nK; k++) out[h * stride + k] = b[h * nK + k]!;
      return true;
    },
  };
}

/** The mask as an additive bias for queries `q` (rows rowOffset… of the call) and keys `k`. */
function maskBias(mask: MaskOption, q: PositionRange, k: PositionRange, rowOffset: number, lq: number, lk: number): tf.Tensor | undefined {
  if (mask === "bidirectional") return undefined;
  if (mask === "causal") return causalBias(q.length, k.length, q.start, k.start);
  if (mask.length !== lq || mask.some((r) => r.length !== lk)) {
    throw new ShapeError(`attention: Mask must be [ℓ_x=${lq}, ℓ_z=${lk}] (rows = queries, row-major; the paper's Mask transposed) but is [${mask.length}, ${mask[0]?.length ?? 0}]`);
  }
  const rows = rowOffset === 0 && q.length === lq ? mask : mask.slice(rowOffset, rowOffset + q.length);
  return biasFromMask(k.length === lk ? rows : rows.map((r) => r.slice(0, k.length)));
}

/** Append new keys/values [B, H, ℓ_new, d] to a layer's cache; returns the full ones. */
export function appendKV(kv: LayerKV, k: tf.Tensor, v: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const fullK = kv.k ? tf.concat([kv.k, k], 2) : k;
  const fullV = kv.v ? tf.concat([kv.v, v], 2) : v;
  kv.k?.dispose();
  kv.v?.dispose();
  kv.k = tf.keep(fullK.clone());
  kv.v = tf.keep(fullV.clone());
  return [fullK, fullV];
}

/**
 * [B, H_kv, ℓ, d] → [B, H, ℓ, d]: key/value head g repeated for query heads g·r … g·r + r − 1
 * (r = H/H_kv, the order of `headOf`); the identity when r = 1. Differentiable (the gradient sums the copies).
 */
export function repeatKv(t: tf.Tensor, r: number): tf.Tensor {
  if (r === 1) return t;
  const [B, Hkv, l, d] = t.shape as [number, number, number, number];
  return tf.tile(t.reshape([B, Hkv, 1, l * d]), [1, 1, r, 1]).reshape([B, Hkv * r, l, d]); // rank 4: tile's gradient stops at rank 4
}

/** Columns g·d … (g+1)·d − 1 of W [d_in, n·d] and of its bias (undefined when absent). */
export function headCols(W: tf.Tensor, b: tf.Tensor | undefined, g: number, d: number): [tf.Tensor, tf.Tensor | undefined] {
  return [tf.slice(W, [0, g * d], [-1, d]), b ? tf.slice(b, [g * d], [d]) : undefined];
}

/** [B, ℓ, H·d] → [B, H, ℓ, d] */
export function splitHeads(t: tf.Tensor, H: number): tf.Tensor {
  const [B, l, hd] = t.shape as [number, number, number];
  return tf.transpose(tf.reshape(t, [B, l, H, hd / H]), [0, 2, 1, 3]);
}

/** [B, H, ℓ, d] → [B, ℓ, H·d] */
export function mergeHeads(t: tf.Tensor): tf.Tensor {
  const [B, H, l, d] = t.shape as [number, number, number, number];
  return tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [B, l, H * d]);
}
