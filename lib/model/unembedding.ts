/**
 * Algorithm 7 — Unembedding.  In: e ∈ ℝ^{d_e}.  Out: p = softmax(W_u e) ∈ Δ(V).  Param: W_u ∈ ℝ^{N_V×d_e}.
 *
 * Row-major: W_u is stored [d_e, N_V], so logits = X·W_u for X [..., d_e]. When tied (GPT-2),
 * W_u = W_eᵀ and logits = X·W_eᵀ with W_e [N_V, d_e].
 */
import * as tf from "@tensorflow/tfjs";
import { linear, mmT } from "../tensor/ops.js";
import { assertSameDim, type Rows, type WithLast } from "../tensor/typed.js";

/** Core: pre-softmax logits [..., N_V]. `W` is W_e [N_V, d_e] when `tied` (W_u = W_eᵀ), else W_u [d_e, N_V]. */
export function _unembedLogits(X: tf.Tensor, W: tf.Tensor, tied: boolean): tf.Tensor {
  if (!tied) return linear(X, W);
  const lead = X.shape.slice(0, -1);
  return mmT(X.reshape([-1, X.shape[X.rank - 1]!]), W).reshape([...lead, W.shape[0]!]);
}

/**
 * Algorithm 7: p = softmax(W_u e) for e [d_e] or every row of X [..., d_e], with W_u [d_e, N_V].
 * @example unembedding(e, W_u)  // [N_V], sums to 1
 */
export function unembedding<T extends Rows<"d_e">>(e: T, W_u: tf.Tensor): WithLast<T, "N_V"> {
  assertSameDim("unembedding", "e", e, -1, "W_u", W_u, 0, "d_e");
  return tf.tidy(() => {
    const X = e.rank === 1 ? e.expandDims(0) : e;
    const p = tf.softmax(_unembedLogits(X, W_u, false), -1);
    return e.rank === 1 ? p.squeeze([0]) : p;
  }) as WithLast<T, "N_V">;
}
