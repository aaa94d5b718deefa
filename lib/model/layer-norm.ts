/**
 * Algorithm 6 — layer_norm(e | γ, β).
 *   m = Σ_i e[i]/d_e;  v = Σ_i (e[i] − m)²/d_e;  ê = ((e − m)/√(v + ε)) ⊙ γ + β.
 *
 * Deviation: ε is configurable (the paper has none; GPT-2/PyTorch use 1e-5, ctxlab's default). The
 * variance divides by d_e (biased), as in the paper and PyTorch. Applied to the last axis, so it
 * normalises every token (every column of the paper's X) of [..., d_e] at once.
 * `rmsNorm` is the variant with m = β = 0 (Gopher), as the paper notes.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import { assertSameDim, type Rows } from "../tensor/typed.js";

/** Core without checks. */
export function _layerNorm(e: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const axis = e.rank - 1;
    const m = tf.mean(e, axis, true);
    const c = tf.sub(e, m);
    const v = tf.mean(tf.square(c), axis, true);
    const inv = eps > 0 ? tf.rsqrt(tf.add(v, eps)) : tf.rsqrt(v);
    return tf.add(tf.mul(tf.mul(c, inv), gamma), beta);
  });
}

/**
 * Algorithm 6 on the last axis of e [..., d_e] with γ, β [d_e].
 * @example layerNorm(tf.tensor1d([1, 2, 3, 4]), tf.ones([4]), tf.zeros([4]), 0)  // ≈ [−1.342, −0.447, 0.447, 1.342]
 */
export function layerNorm<T extends Rows<"d_e">>(e: T, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): T {
  if (typeof eps !== "number" || !(eps >= 0) || !Number.isFinite(eps)) throw new ConfigError(`layerNorm: ε=${eps} must be a finite number ≥ 0 (the paper has none; PyTorch uses 1e-5)`);
  assertSameDim("layerNorm", "e", e, -1, "γ", gamma, 0, "d_e");
  assertSameDim("layerNorm", "e", e, -1, "β", beta, 0, "d_e");
  return _layerNorm(e, gamma, beta, eps) as T;
}

/** RMSnorm: e/√(mean(e²) + ε) ⊙ γ (layer norm with m = β = 0). */
export function rmsNorm<T extends Rows<"d_e">>(e: T, gamma: tf.Tensor, eps = 1e-5): T {
  if (typeof eps !== "number" || !(eps >= 0) || !Number.isFinite(eps)) throw new ConfigError(`rmsNorm: ε=${eps} must be a finite number ≥ 0`);
  assertSameDim("rmsNorm", "e", e, -1, "γ", gamma, 0, "d_e");
  return tf.tidy(() => tf.mul(tf.mul(e, tf.rsqrt(tf.add(tf.mean(tf.square(e), e.rank - 1, true), eps))), gamma)) as T;
}
