/**
 * The parameter set θ of Algorithm 10 as named variables, created and initialised from one seeded RNG.
 *
 * Names are attribute paths (TransformerLens style), shapes row-major (lib/notation.ts):
 *   W_e [N_V, d_e]; pos.* (owned by the positional encoding, e.g. pos.W_p [ℓ_max, d_e]);
 *   blocks.{l}.ln1.{gamma,beta} [d_e]; blocks.{l}.attn.{W_q,W_k} [d_e, H·d_attn], {b_q,b_k} [H·d_attn],
 *   W_v [d_e, H·d_mid], b_v [H·d_mid], W_o [H·d_mid, d_e], b_o [d_e];
 *   blocks.{l}.ln2.{gamma,beta}; blocks.{l}.mlp.W_mlp1 [d_e, d_mlp], b_mlp1, W_mlp2 [d_mlp, d_e], b_mlp2;
 *   ln_final.{gamma,beta}; W_u [d_e, N_V] unless tied to W_e.
 * Architecture options (lib/config.ts): RMSNorm has γ only; the gated MLP adds mlp.W_gate [d_e, d_mlp]
 * (+ b_gate); W_k/b_k/W_v/b_v have H_kv heads; a bias that is off is absent.
 *
 * GPT-2 initialisation: weights N(0, initStd²) with initStd = 0.02, the residual projections W_o and
 * W_mlp2 scaled by 1/√(2L) (GPT-2 paper §2.3), biases 0, γ = 1, β = 0 (W_gate as W_mlp1, RMSNorm's γ = 1). Values are drawn in JS in
 * the order of `paramShapes`, so a seed gives bit-identical parameters on every backend.
 */
import * as tf from "@tensorflow/tfjs";
import { paramShapes, type DTransformerConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { Rng } from "../tensor/random.js";

export { paramShapes } from "../config.js"; // the shapes of θ follow from the config alone

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Initial value of one parameter (see the header for the scheme). */
export function initValue(name: string, shape: number[], cfg: DTransformerConfig, rng: Rng): Float32Array {
  const n = size(shape);
  if (name.startsWith("pos.")) {
    const v = cfg.positional.initParam?.(name, shape, cfg, rng);
    if (!v || v.length !== n) throw new ConfigError(`positional encoding "${cfg.positional.name}" did not initialise ${name} with ${n} values`);
    return v;
  }
  const leaf = name.slice(name.lastIndexOf(".") + 1);
  if (leaf === "gamma") return new Float32Array(n).fill(1);
  if (leaf === "beta" || leaf.startsWith("b_")) return new Float32Array(n);
  const residualOut = leaf === "W_o" || leaf === "W_mlp2";
  const std = residualOut ? cfg.initStd / Math.sqrt(2 * cfg.nLayers) : cfg.initStd;
  return rng.normalArray(n, std);
}

/**
 * θ: named trainable variables. Two models made by `withPositional` share one ParamStore (no copy).
 */
export class ParamStore {
  readonly vars: Map<string, tf.Variable>;

  constructor(vars: Map<string, tf.Variable>) {
    this.vars = vars;
  }

  /** Create and initialise θ for `cfg` from `seed` (or an Rng). */
  static init(cfg: DTransformerConfig, seed: number | Rng = 0): ParamStore {
    const rng = typeof seed === "number" ? new Rng(seed) : seed;
    const vars = new Map<string, tf.Variable>();
    for (const [name, shape] of paramShapes(cfg)) {
      const data = initValue(name, shape, cfg, rng);
      vars.set(name, newVariable(name, data, shape));
    }
    return new ParamStore(vars);
  }

  /** Wrap given values (e.g. from a checkpoint) as variables; shapes are checked against `cfg`. */
  static fromTensors(cfg: DTransformerConfig, values: Map<string, tf.Tensor>, source = "parameters"): ParamStore {
    const vars = new Map<string, tf.Variable>();
    const shapes = paramShapes(cfg);
    const missing = [...shapes.keys()].filter((k) => !values.has(k));
    if (missing.length) throw new ConfigError(`${source}: missing ${missing.length} parameter(s): ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", …" : ""}`);
    for (const [name, shape] of shapes) {
      const t = values.get(name)!;
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new ConfigError(`${source}: ${name} has shape [${t.shape.join(", ")}] but the config needs [${shape.join(", ")}]`);
      }
      const f = t.dtype === "float32" ? t : t.asType("float32");
      vars.set(name, tf.variable(f, true, uniqueVarName(name)));
      if (f !== t) f.dispose(); // tf.variable copies its initial value
    }
    return new ParamStore(vars);
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new ConfigError(`parameter "${name}" does not exist; known: ${[...this.vars.keys()].slice(0, 6).join(", ")}, … (${this.vars.size} in all)`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Total number of scalar parameters. */
  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /** Dispose every variable. */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
  }
}

/** A trainable variable holding `data`, without leaving the initial tensor behind. */
export function newVariable(name: string, data: Float32Array, shape: number[]): tf.Variable {
  const init = tf.tensor(data, shape, "float32");
  const v = tf.variable(init, true, uniqueVarName(name));
  init.dispose(); // the variable holds its own reference to the data
  return v;
}

let varCounter = 0;
function uniqueVarName(name: string): string {
  // tf.variable names must be unique per engine; the readable name stays the map key
  return `ctxlab/${name}#${++varCounter}`;
}
