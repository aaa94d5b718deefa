/**
 * Numeric building blocks shared by the algorithms: matrix products whose gradients avoid the
 * slow transposed paths of the wasm backend, affine maps, GELU in both forms, masking helpers.
 *
 * Why a custom matMul gradient: TF.js writes matMul's gradient with transposeA/transposeB, which on
 * wasm falls off XNNPACK onto a scalar kernel (1–2 GFLOP/s against ~28 with an explicit transpose;
 * docs/design.md, "Backends: what each can and cannot do"). `mm` transposes explicitly instead. Values are identical; only speed differs.
 */
import * as tf from "@tensorflow/tfjs";
import { sumRows, transpose2d } from "./fast-kernels.js";

function swapLast(t: tf.Tensor): tf.Tensor {
  if (t.rank === 2) return transpose2d(t); // wasm's Transpose is slow on large 2-D inputs (fast-kernels.ts)
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
  const X2 = X.reshape([-1, dIn]);
  const y = b ? affine2d(X2, W, b) : mm(X2, W);
  return y.reshape([...lead, dOut]);
}

/**
 * X·W + b for X [n, d_in], W [d_in, d_out], b [d_out] as one differentiable op. Gradient:
 * dX = dY·Wᵀ, dW = Xᵀ·dY (explicit 2-D transposes), db = column sums of dY (sumRows: tf.add's
 * broadcast gradient is a tf.sum over rows, which transposes dY first on wasm).
 */
const affineGrad = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [sx, sw] = saved as [tf.Tensor, tf.Tensor];
      return [tf.matMul(g, transpose2d(sw)), tf.matMul(transpose2d(sx), g), sumRows(g)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]);

/** X [n, d_in] · W [d_in, d_out] + b [d_out] (2-D; see `linear` for any leading dims). */
export function affine2d(X: tf.Tensor, W: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return (affineGrad as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor)(X, W, b);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh approximation (GPT-2): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as the
 * identical x·σ(2u), u = √(2/π)·x·(1 + 0.044715·x²), with a hand-written gradient
 * dy/dx = s + x·s(1 − s)·2u′ (s = σ(2u), u′ = √(2/π)·(1 + 3·0.044715·x²)). On wasm Tanh is a
 * scalar kernel (~8× slower than Sigmoid) and the op-by-op gradient saves and copies every
 * intermediate; this is 6 kernels forward and 10 backward. `geluTanhOps` is the op-by-op form.
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return (geluTanhGrad as (x: tf.Tensor) => tf.Tensor)(x);
}

const GELU_2C = 2 * SQRT_2_OVER_PI;
const GELU_2CA = 2 * SQRT_2_OVER_PI * 0.044715;

const geluTanhGrad = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const s = tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.square(x), GELU_2CA), GELU_2C))); // σ(2u)
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sx, ss] = saved as [tf.Tensor, tf.Tensor];
      const du2 = tf.add(tf.mul(tf.square(sx), 3 * GELU_2CA), GELU_2C); // 2u′
      const ds = tf.sub(ss, tf.square(ss)); // s(1 − s)
      return [tf.mul(dy as tf.Tensor, tf.add(ss, tf.mul(tf.mul(sx, du2), ds)))];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]);

/** GELU tanh form op by op (the reference for `geluTanh`). */
export function geluTanhOps(x: tf.Tensor): tf.Tensor {
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
