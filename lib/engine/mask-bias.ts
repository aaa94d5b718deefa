/**
 * The attention mask (P&H eq. 3; its paper and row-major forms are in lib/model/mask.ts) as the
 * additive bias attention adds to its scores: 0 where a key may be seen, MASK_VALUE (−1e9) where not.
 */
import * as tf from "@tensorflow/tfjs";
import { MASK_VALUE } from "../tensor/ops.js";

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
