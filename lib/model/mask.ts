/**
 * Attention masks (P&H eq. 3) in both orientations.
 *
 * Paper: Mask ∈ {0,1}^{ℓ_z×ℓ_x}, rows = key (context) positions t_z, columns = query positions t_x;
 * unidirectional attention is Mask[t_z, t_x] = [[t_z ≤ t_x]], upper-triangular with the diagonal, and
 * the softmax runs down each column. Code (row-major): rows = queries, columns = keys, the transpose —
 * lower-triangular ("tril") — and the softmax runs along each row. Same mask, transposed.
 */
import * as tf from "@tensorflow/tfjs";
import { MASK_VALUE } from "../tensor/ops.js";

/** The paper's causal mask [ℓ_z, ℓ_x] as 0/1 rows: Mask[t_z][t_x] = t_z ≤ t_x. */
export function maskPaper(l: number): number[][] {
  return Array.from({ length: l }, (_, tz) => Array.from({ length: l }, (_, tx) => (tz <= tx ? 1 : 0)));
}

/** The row-major causal mask [ℓ_x, ℓ_z] used in code: M[t_x][t_z] = t_z ≤ t_x (the transpose of maskPaper). */
export function maskRows(l: number): number[][] {
  return Array.from({ length: l }, (_, tx) => Array.from({ length: l }, (_, tz) => (tz <= tx ? 1 : 0)));
}

/**
 * Additive causal bias [ℓ_q, ℓ_k] for queries at positions qStart… and keys at kStart…: 0 where the
 * key is at or before the query, MASK_VALUE (−1e9) elsewhere. qStart > kStart supports a KV cache.
 */
export function causalBias(lq: number, lk: number, qStart = 0, kStart = 0): tf.Tensor2D {
  const data = new Float32Array(lq * lk);
  for (let i = 0; i < lq; i++) {
    const qp = qStart + i;
    for (let j = 0; j < lk; j++) if (kStart + j > qp) data[i * lk + j] = MASK_VALUE;
  }
  return tf.tensor2d(data, [lq, lk]);
}

/** Additive bias from a 0/1 (or boolean) row-major mask [ℓ_x, ℓ_z]: 1 → 0, 0 → −1e9. */
export function biasFromMask(mask: readonly (readonly (number | boolean)[])[]): tf.Tensor2D {
  const lq = mask.length;
  const lk = lq ? mask[0]!.length : 0;
  const data = new Float32Array(lq * lk);
  mask.forEach((row, i) => row.forEach((m, j) => (data[i * lk + j] = m ? 0 : MASK_VALUE)));
  return tf.tensor2d(data, [lq, lk]);
}
