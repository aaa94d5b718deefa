/**
 * Global-norm gradient clipping for Algorithm 13 (not in the paper, which takes plain gradient
 * steps; standard since GPT-2, and PyTorch's `clip_grad_norm_` without its 1e-6):
 *   ‖g‖ = √(Σ_params Σ_i g_i²) over every trainable parameter;
 *   if ‖g‖ > maxNorm, every gradient is multiplied by maxNorm/‖g‖ (the direction is kept).
 * The pre-clip norm is what the training log reports as grad_norm; a non-finite norm means a
 * diverged step (dTraining then applies no update). The sum of squares is float32, so gradients
 * whose norm exceeds ~1.8e19 overflow to ∞ and count as divergence too.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";

/** ‖g‖ over all given gradients, as a scalar tensor (float32 sum of squares). */
export function _globalNorm(grads: Iterable<tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const sq = [...grads].map((g) => tf.sum(tf.square(g)));
    if (sq.length === 0) return tf.scalar(0);
    return tf.sqrt(sq.length === 1 ? sq[0]! : tf.addN(sq)) as tf.Scalar;
  });
}

/** ‖g‖ as a number. */
export function globalNorm(grads: Map<string, tf.Tensor> | readonly tf.Tensor[]): number {
  const n = _globalNorm(grads instanceof Map ? grads.values() : grads);
  try {
    return n.dataSync()[0]!;
  } finally {
    n.dispose();
  }
}

/** The factor clipping applies: maxNorm/‖g‖ when ‖g‖ > maxNorm, else 1 (also 1 when maxNorm is null/∞). */
export function clipScale(norm: number, maxNorm: number | null | undefined): number {
  if (maxNorm == null || !(norm > maxNorm)) return 1;
  return maxNorm / norm;
}

/** Validate a clipping threshold: null/undefined/Infinity = no clipping, else a number > 0. */
export function checkMaxNorm(maxNorm: unknown, where = "clip"): number | null {
  if (maxNorm == null || maxNorm === Infinity) return null;
  if (typeof maxNorm !== "number" || !(maxNorm > 0) || Number.isNaN(maxNorm)) throw new ConfigError(`${where}: the maximum gradient norm must be a number > 0 (or null for no clipping), got ${String(maxNorm)}`);
  return maxNorm;
}

/** g·scale for every gradient (new tensors; the inputs are left alone). */
export function _scaleGrads(grads: Map<string, tf.Tensor>, scale: number): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>(); // built outside tidy: tidy does not look inside a Map
  for (const [k, g] of grads) out.set(k, tf.tidy(() => tf.mul(g, scale)));
  return out;
}

/**
 * Clip gradients to global norm `maxNorm`. Returns new tensors (the caller disposes them and the
 * inputs), the pre-clip norm and the factor applied.
 *
 * @example
 * const { grads: g, norm } = clipByGlobalNorm(grads, 1.0); // norm = ‖g‖ before clipping
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number | null): { grads: Map<string, tf.Tensor>; norm: number; scale: number } {
  const max = checkMaxNorm(maxNorm, "clipByGlobalNorm");
  const norm = globalNorm(grads);
  const scale = clipScale(norm, max);
  return { grads: _scaleGrads(grads, scale), norm, scale };
}
