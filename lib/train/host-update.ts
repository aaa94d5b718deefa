/**
 * The optimiser update of ONE parameter in JavaScript, with its slots (m, v) in Float32Arrays outside
 * the tensor memory: the "host" moments of lib/train/optim.ts.
 *
 * Same arithmetic as Optimizer.update's tf ops, element by element, each operation rounded to float32
 * (Math.fround; double rounding is exact for +, −, ×, ÷ and √ of float32 operands), in the same order:
 *   g ← g·s (clip scale, when s ≠ 1)
 *   AdamW: m ← m·β1 + g·(1−β1); v ← v·β2 + g²·(1−β2); step = (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
 *   SGD:   b ← b·μ + g (μ > 0), step = b; or step = g
 *   decay: step ← step + θ·λ;  θ ← θ − step·η
 * The heap holds, besides θ and g, one new tensor of θ's size for the assignment; the gradient and θ are
 * read into JS (dataSync) for the loop.
 */
import * as tf from "@tensorflow/tfjs";
import type { OptimizerHyper } from "./optim.js";

const f = Math.fround;

export interface HostUpdateOptions {
  hyper: OptimizerHyper;
  /** Adam's t after this update */
  t: number;
  lr: number;
  /** gradient multiplier (clipping) */
  scale: number;
  /** apply weight decay to this parameter */
  decay: boolean;
  m?: Float32Array | undefined;
  v?: Float32Array | undefined;
}

/** θ ← update(θ, g) in JS; m and v are updated in place. */
export function hostUpdate(p: tf.Variable, g: tf.Tensor, o: HostUpdateOptions): void {
  const { betas: [b1, b2], eps, momentum, weightDecay, kind } = o.hyper;
  const gd = g.dataSync() as Float32Array;
  const pd = p.dataSync() as Float32Array;
  const n = pd.length;
  const out = new Float32Array(n);
  const [s, lr, wd] = [f(o.scale), f(o.lr), f(weightDecay)];
  const decay = o.decay && weightDecay > 0;
  const scaled = o.scale !== 1;
  if (kind === "adamw") {
    const m = o.m!;
    const v = o.v!;
    const [fb1, c1, fb2, c2, fe] = [f(b1), f(1 - b1), f(b2), f(1 - b2), f(eps)];
    const [bc1, bc2] = [f(1 - b1 ** o.t), f(1 - b2 ** o.t)];
    for (let i = 0; i < n; i++) {
      const gi = scaled ? f(gd[i]! * s) : gd[i]!;
      const mi = f(f(m[i]! * fb1) + f(gi * c1));
      const vi = f(f(v[i]! * fb2) + f(f(gi * gi) * c2));
      m[i] = mi;
      v[i] = vi;
      let step = f(f(mi / bc1) / f(f(Math.sqrt(f(vi / bc2))) + fe));
      if (decay) step = f(step + f(pd[i]! * wd));
      out[i] = f(pd[i]! - f(step * lr));
    }
  } else {
    const b = momentum > 0 ? o.m! : undefined;
    const mu = f(momentum);
    for (let i = 0; i < n; i++) {
      const gi = scaled ? f(gd[i]! * s) : gd[i]!;
      let step = gi;
      if (b) {
        step = f(f(b[i]! * mu) + gi);
        b[i] = step;
      }
      if (decay) step = f(step + f(pd[i]! * wd));
      out[i] = f(pd[i]! - f(step * lr));
    }
  }
  tf.tidy(() => p.assign(tf.tensor(out, p.shape, "float32")));
}
