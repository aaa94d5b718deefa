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
import { sumRows } from "../tensor/fast-kernels.js";
import { assertSameDim, type Rows } from "../tensor/typed.js";

/**
 * Core without checks: one differentiable op with a hand-written gradient (ê = the normalised
 * rows, inv = 1/√(v + ε), g = dY ⊙ γ):
 *   dγ = Σ_rows dY ⊙ ê;  dβ = Σ_rows dY;  de = inv ⊙ (g − mean(g) − ê ⊙ mean(g ⊙ ê)).
 * The op-by-op gradient (`_layerNormOps`) saved and copied each intermediate, and its γ/β sums over
 * rows transposed [B·ℓ, d_e] first on wasm (fast-kernels.ts).
 */
export function _layerNorm(e: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return (layerNormOp(eps) as (e: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor)(e, gamma, beta);
}

const layerNormOps = new Map<number, ReturnType<typeof tf.customGrad>>();

function layerNormOp(eps: number): ReturnType<typeof tf.customGrad> {
  let op = layerNormOps.get(eps);
  if (op) return op;
  op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [e, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const d = e.shape[e.rank - 1]!;
    const x = e.reshape([-1, d]);
    const c = tf.sub(x, tf.mean(x, 1, true));
    const v = tf.mean(tf.square(c), 1, true);
    const inv = eps > 0 ? tf.rsqrt(tf.add(v, eps)) : tf.rsqrt(v);
    const xh = tf.mul(c, inv);
    save([xh, inv, gamma]);
    return {
      value: tf.add(tf.mul(xh, gamma), beta).reshape(e.shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sxh, sinv, sg] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const g2 = (dy as tf.Tensor).reshape([-1, d]);
        const g = tf.mul(g2, sg);
        const de = tf.mul(sinv, tf.sub(tf.sub(g, tf.mean(g, 1, true)), tf.mul(sxh, tf.mean(tf.mul(g, sxh), 1, true))));
        return [de.reshape(e.shape), sumRows(tf.mul(g2, sxh)), sumRows(g2)];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  layerNormOps.set(eps, op);
  return op;
}

/** Algorithm 6 op by op (the reference for `_layerNorm`; the same values). */
export function _layerNormOps(e: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
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

/**
 * RMSNorm core without checks (config option norm: "rmsnorm"; Llama, Qwen2): ê = e/√(mean(e²) + ε),
 * y = ê ⊙ γ, one op with a hand-written gradient (inv = 1/√(mean(e²) + ε), g = dY ⊙ γ):
 *   dγ = Σ_rows dY ⊙ ê;  de = inv ⊙ (g − ê ⊙ mean(g ⊙ ê))   (layer norm's without the mean terms).
 */
export function _rmsNorm(e: tf.Tensor, gamma: tf.Tensor, eps: number): tf.Tensor {
  return (rmsNormOp(eps) as (e: tf.Tensor, g: tf.Tensor) => tf.Tensor)(e, gamma);
}

const rmsNormOps = new Map<number, ReturnType<typeof tf.customGrad>>();

function rmsNormOp(eps: number): ReturnType<typeof tf.customGrad> {
  let op = rmsNormOps.get(eps);
  if (op) return op;
  op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [e, gamma, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const d = e.shape[e.rank - 1]!;
    const x = e.reshape([-1, d]);
    const ms = tf.mean(tf.square(x), 1, true);
    const inv = eps > 0 ? tf.rsqrt(tf.add(ms, eps)) : tf.rsqrt(ms);
    const xh = tf.mul(x, inv);
    save([xh, inv, gamma]);
    return {
      value: tf.mul(xh, gamma).reshape(e.shape),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sxh, sinv, sg] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const g2 = (dy as tf.Tensor).reshape([-1, d]);
        const g = tf.mul(g2, sg);
        const de = tf.mul(sinv, tf.sub(g, tf.mul(sxh, tf.mean(tf.mul(g, sxh), 1, true))));
        return [de.reshape(e.shape), sumRows(tf.mul(g2, sxh))];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  rmsNormOps.set(eps, op);
  return op;
}

/** RMSNorm op by op (the reference for `_rmsNorm`; the same values). */
export function _rmsNormOps(e: tf.Tensor, gamma: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(e, tf.rsqrt(tf.add(tf.mean(tf.square(e), e.rank - 1, true), eps))), gamma));
}

/**
 * RMSNorm: e/√(mean(e²) + ε) ⊙ γ (layer norm with m = β = 0) on the last axis of e [..., d_e].
 * @example rmsNorm(tf.tensor1d([3, 4]), tf.ones([2]), 0)  // [3, 4]/√12.5 ≈ [0.849, 1.131]
 */
export function rmsNorm<T extends Rows<"d_e">>(e: T, gamma: tf.Tensor, eps = 1e-5): T {
  if (typeof eps !== "number" || !(eps >= 0) || !Number.isFinite(eps)) throw new ConfigError(`rmsNorm: ε=${eps} must be a finite number ≥ 0`);
  assertSameDim("rmsNorm", "e", e, -1, "γ", gamma, 0, "d_e");
  return _rmsNorm(e, gamma, eps) as T;
}

/** The config's normalisation (Alg 10 lines 5, 7, 10): layer norm with β, or RMSNorm (β absent). */
export function _norm(kind: "layernorm" | "rmsnorm", e: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor | undefined, eps: number): tf.Tensor {
  return kind === "rmsnorm" ? _rmsNorm(e, gamma, eps) : _layerNorm(e, gamma, beta!, eps);
}
