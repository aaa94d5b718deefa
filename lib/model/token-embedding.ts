/**
 * Algorithm 1 — Token embedding.  In: v ∈ V ≅ [N_V].  Out: e = W_e[:, v] ∈ ℝ^{d_e}.  Param: W_e.
 *
 * Deviation: token ids are 0-based (v ∈ [0, N_V)), and W_e is stored row-major [N_V, d_e], so the
 * paper's column v is row v here. Batched: ids [B, ℓ] → [B, ℓ, d_e] by tf.gather, whose gradient
 * needs UnsortedSegmentSum (registered for wasm by lib/tensor/wasm-kernels.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../errors.js";
import { assertDims, type BSeq, type Seq, type Tensor } from "../tensor/typed.js";

/** Token ids accepted by the public API: one sequence or a batch of equal-length sequences. */
export type TokenInput = number | readonly number[] | readonly (readonly number[])[] | Int32Array | tf.Tensor;

/**
 * Validate token ids and return them as an int32 tensor [B, ℓ] (a single sequence gets B = 1).
 * Errors name the argument, the offending index and value, and the limit N_V.
 */
export function toTokenBatch(x: TokenInput, nVocab: number, where = "x"): { ids: tf.Tensor2D; batched: boolean } {
  let rows: ArrayLike<number>[];
  let batched: boolean;
  if (x instanceof tf.Tensor) {
    if (x.rank !== 1 && x.rank !== 2) throw new InputError(`${where}: token tensor must be [ℓ] or [B, ℓ], got shape [${x.shape.join(", ")}]`);
    const data = x.dataSync();
    const [b, l] = x.rank === 1 ? [1, x.shape[0]!] : [x.shape[0]!, x.shape[1]!];
    rows = Array.from({ length: b }, (_, i) => data.subarray(i * l, (i + 1) * l));
    batched = x.rank === 2;
  } else if (typeof x === "number") {
    rows = [[x]];
    batched = false;
  } else if (x instanceof Int32Array || (Array.isArray(x) && (x.length === 0 || typeof x[0] === "number"))) {
    rows = [x as ArrayLike<number>];
    batched = false;
  } else if (Array.isArray(x)) {
    rows = x as ArrayLike<number>[];
    batched = true;
  } else {
    throw new InputError(`${where}: expected token ids (number[], number[][], Int32Array or an int tensor), got ${typeof x}`);
  }
  if (rows.length === 0) throw new InputError(`${where}: the batch is empty (B=0); give at least one sequence`);
  const l = rows[0]!.length;
  if (l === 0) throw new InputError(`${where}: the sequence is empty (ℓ=0); Algorithm 10 needs ℓ ≥ 1 tokens`);
  const flat = new Int32Array(rows.length * l);
  rows.forEach((r, b) => {
    if (!r || typeof r.length !== "number") throw new InputError(`${where}[${b}]: expected an array of token ids, got ${JSON.stringify(r)}`);
    if (r.length !== l) throw new InputError(`${where}: sequences must have equal length; ${where}[0] has ℓ=${l} but ${where}[${b}] has ℓ=${r.length}`);
    for (let t = 0; t < l; t++) {
      const v = r[t]!;
      if (!Number.isInteger(v) || v < 0 || v >= nVocab) {
        const at = batched ? `${where}[${b}][${t}]` : `${where}[${t}]`;
        throw new InputError(`${at}=${v} is not a token id: ids must be integers in [0, N_V) with N_V=${nVocab}`);
      }
      flat[b * l + t] = v;
    }
  });
  return { ids: tf.tensor2d(flat, [rows.length, l], "int32"), batched };
}

/** Core: ids [B, ℓ] (int32, already validated) → W_e rows [B, ℓ, d_e]. */
export function _tokenEmbedding(ids: tf.Tensor, W_e: tf.Tensor): tf.Tensor {
  return tf.gather(W_e, ids);
}

/**
 * Algorithm 1: embed token ids with W_e [N_V, d_e]. A single id gives [d_e], a sequence [ℓ, d_e],
 * a batch [B, ℓ, d_e].
 * @example tokenEmbedding([3, 1, 4], W_e)   // [3, d_e]
 */
export function tokenEmbedding(x: number, W_e: tf.Tensor): Tensor<["d_e"]>;
export function tokenEmbedding(x: readonly number[] | Int32Array, W_e: tf.Tensor): Seq<"d_e">;
export function tokenEmbedding(x: readonly (readonly number[])[], W_e: tf.Tensor): BSeq<"d_e">;
export function tokenEmbedding(x: TokenInput, W_e: tf.Tensor): tf.Tensor;
export function tokenEmbedding(x: TokenInput, W_e: tf.Tensor): tf.Tensor {
  assertDims("tokenEmbedding: W_e", W_e, ["N_V", "d_e"]);
  const { ids, batched } = toTokenBatch(x, W_e.shape[0]!, "tokenEmbedding: x");
  return tf.tidy(() => {
    const e = _tokenEmbedding(ids, W_e);
    ids.dispose();
    if (typeof x === "number") return e.reshape([W_e.shape[1]!]);
    return batched ? e : e.squeeze([0]);
  });
}
