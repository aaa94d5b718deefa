/**
 * Numeric building blocks shared by the algorithms: matrix products whose gradients avoid the
 * slow transposed paths of the wasm backend, affine maps, GELU in both forms, masking helpers.
 *
 * Why a custom matMul gradient: TF.js writes matMul's gradient with transposeA/transposeB, which on
 * wasm falls off XNNPACK onto a scalar kernel (1–2 GFLOP/s against ~28 with an explicit transpose;
 * PERF-NOTES.md). `mm` transposes explicitly instead. Values are identical; only speed differs.
 */
import * as tf from "@tensorflow/tfjs";

function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = t.rank;
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return tf.transpose(t, perm);
}

/**
 * a·b for a [..., m, k] and b [..., k, n] with equal leading (batch) dims, no broadcasting.
 * Gradient: dA = dY·bᵀ, dB = aᵀ·dY with explicit transposes.
 */
const mmGrad = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [sa, sb] = saved as [tf.Tensor, tf.Tensor];
      return [tf.matMul(g, swapLast(sb)), tf.matMul(swapLast(sa), g)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]);

export function mm(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return mmGrad(a, b);
}

/** a·bᵀ for a [..., m, k], b [..., n, k] (explicit transpose, fast path on wasm). */
export function mmT(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return mm(a, swapLast(b));
}

/**
 * Affine map on the last axis: X [..., d_in] · W [d_in, d_out] + b [d_out] → [..., d_out].
 * Leading dims are folded into one so the product is a single 2-D matMul.
 */
export function linear(X: tf.Tensor, W: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const lead = X.shape.slice(0, -1);
  const dIn = X.shape[X.rank - 1]!;
  const dOut = W.shape[1]!;
  let y = mm(X.reshape([-1, dIn]), W);
  if (b) y = tf.add(y, b);
  return y.reshape([...lead, dOut]);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (GPT-2): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // x + 0.044715·x³ as x·(1 + 0.044715·x²): tf.pow is ~2× slower than products on wasm
    const inner = tf.mul(SQRT_2_OVER_PI, tf.mul(x, tf.add(1, tf.mul(0.044715, tf.square(x)))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/** GELU, exact (the paper's eq. 5): x·Φ(x) = 0.5·x·(1 + erf(x/√2)). */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** GELU in the chosen form. */
export function gelu(x: tf.Tensor, form: "tanh" | "exact" = "tanh"): tf.Tensor {
  return form === "exact" ? geluExact(x) : geluTanh(x);
}

/** A large negative number used instead of −∞ for masked scores (keeps gradients finite). */
export const MASK_VALUE = -1e9;
