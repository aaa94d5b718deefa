/**
 * Attention masks (P&H eq. 3) in both orientations.
 *
 * Paper: Mask ∈ {0,1}^{ℓ_z×ℓ_x}, rows = key (context) positions t_z, columns = query positions t_x;
 * unidirectional attention is Mask[t_z, t_x] = [[t_z ≤ t_x]], upper-triangular with the diagonal, and
 * the softmax runs down each column. Code (row-major): rows = queries, columns = keys, the transpose —
 * lower-triangular ("tril") — and the softmax runs along each row. Same mask, transposed.
 */

/** The paper's causal mask [ℓ_z, ℓ_x] as 0/1 rows: Mask[t_z][t_x] = t_z ≤ t_x. */
export function maskPaper(l: number): number[][] {
  return Array.from({ length: l }, (_, tz) => Array.from({ length: l }, (_, tx) => (tz <= tx ? 1 : 0)));
}

/** The row-major causal mask [ℓ_x, ℓ_z] used in code: M[t_x][t_z] = t_z ≤ t_x (the transpose of maskPaper). */
export function maskRows(l: number): number[][] {
  return Array.from({ length: l }, (_, tx) => Array.from({ length: l }, (_, tz) => (tz <= tx ? 1 : 0)));
}

// The masks as additive biases (what attention adds to its scores) live with the attention layouts.
export { causalBias, biasFromMask } from "../engine/mask-bias.js";
