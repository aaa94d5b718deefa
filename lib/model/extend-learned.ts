/**
 * Extending a learned positional table (Alg 2's W_p) to a longer ℓ_max by interpolating the *table*,
 * as ViT does for its learned position embeddings (Dosovitskiy et al.; docs/literature.md, "Learned absolute positions"). Contrast PI,
 * which interpolates position *indices* of a rotary encoding (§2.4).
 *
 * Align-corners resampling: row t' (0-based) of the new table [ℓ'_max, d_e] is the old table at
 *
 *   x(t') = t'·(ℓ_max − 1)/(ℓ'_max − 1),   "linear":  (1 − w)·W_p[⌊x⌋] + w·W_p[⌊x⌋+1], w = x − ⌊x⌋
 *                                           "nearest": W_p[round(x)]
 *
 * so the first and last rows are kept and, e.g., ℓ_max = 8 → 15 puts old row k at new row 2k with
 * averages of neighbours in between. Computed in float64 in JS, stored as float32.
 */
import { makeConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { DTransformer } from "./dtransformer.js";
import { newVariable, ParamStore } from "./params.js";
import { W_P } from "../positional/learned.js";

export type ExtendMethod = "linear" | "nearest";

export interface ExtendOptions {
  /** interpolation of the table (default "linear") */
  method?: ExtendMethod;
}

/**
 * Resample a row-major table [lMax, d] to [newLMax, d] (align corners); plain numbers in and out.
 * @example resampleRows(new Float32Array([0, 2]), 2, 1, 3)  // Float32Array [0, 1, 2]
 */
export function resampleRows(old: ArrayLike<number>, lMax: number, d: number, newLMax: number, method: ExtendMethod = "linear"): Float32Array {
  const out = new Float32Array(newLMax * d);
  for (let t = 0; t < newLMax; t++) {
    const x = newLMax > 1 ? (t * (lMax - 1)) / (newLMax - 1) : 0;
    let lo = Math.floor(x);
    let w = x - lo;
    if (method === "nearest") [lo, w] = [Math.round(x), 0];
    const hi = Math.min(lo + 1, lMax - 1);
    for (let c = 0; c < d; c++) {
      const a = old[lo * d + c]!;
      out[t * d + c] = w === 0 ? a : (1 - w) * a + w * old[hi * d + c]!;
    }
  }
  return out;
}

function checkTarget(model: DTransformer, newLMax: number, method: string): void {
  const pe = model.positional;
  if (pe.name !== "learned" || !model.params.has(W_P)) {
    throw new ConfigError(`extendLearned: the model uses the ${pe.label}, which has no learned table ${W_P}; only a learned W_p can be extended`);
  }
  const lMax = model.params.get(W_P).shape[0]!;
  if (!Number.isSafeInteger(newLMax) || newLMax < lMax) {
    throw new ConfigError(`extendLearned: newLMax=${newLMax} must be an integer ≥ the current ℓ_max=${lMax}`);
  }
  if (method !== "linear" && method !== "nearest") throw new ConfigError(`extendLearned: method "${method}" must be "linear" or "nearest"`);
}

/**
 * A model with the same weights and a new W_p [newLMax, d_e] interpolated from the old one; config
 * ℓ_max = newLMax. Every other variable is shared (the same tf.Variable objects, as with
 * withPositional), so disposing either model frees them; the original model is unchanged.
 * @example const long = extendLearned(model, 2 * model.cfg.lMax)
 */
export function extendLearned(model: DTransformer, newLMax: number, opts: ExtendOptions = {}): DTransformer {
  const method = opts.method ?? "linear";
  checkTarget(model, newLMax, method);
  const old = model.params.get(W_P);
  const [lMax, d] = old.shape as [number, number];
  const data = resampleRows(old.dataSync(), lMax, d, newLMax, method);
  const cfg = makeConfig({ ...model.cfg, lMax: newLMax });
  const vars = new Map(model.params.vars);
  vars.set(W_P, newVariable(W_P, data, [newLMax, d]));
  return new DTransformer(cfg, new ParamStore(vars));
}
