/**
 * Learned absolute positional embedding — Algorithm 2 (P&H §5) and the GPT-2 default.
 *
 *   In: position t ∈ [ℓ_max].  Out: e_p = W_p[:, t] ∈ ℝ^{d_e}.  Param: W_p ∈ ℝ^{d_e×ℓ_max}.
 *
 * Stored row-major as "pos.W_p" [ℓ_max, d_e] (row t−1 = the paper's column t). It enters only at
 * Alg 10 line 2: e_t = W_e[:, x[t]] + W_p[:, t]. W_p has no row ℓ_max+1, so ℓ ≤ ℓ_max is a hard
 * shape constraint of this encoding, not of the transformer. Initialised N(0, 0.01²) as in
 * openai/gpt-2 (HF uses 0.02).
 */
import * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import { InputError } from "../errors.js";
import type { Rng } from "../tensor/random.js";
import type { PeContext, PositionRange, PositionalEncoding, PositionalEntry } from "./types.js";

export const W_P = "pos.W_p";

export interface LearnedOptions {
  /** std of W_p's normal initialiser (openai/gpt-2: 0.01) */
  initStd?: number;
}

/**
 * Algorithm 2: the positional embedding of (0-based) position `t`, i.e. row t of W_p [ℓ_max, d_e].
 * @example positionalEmbedding(0, W_p)  // the paper's W_p[:, 1]
 */
export function positionalEmbedding(t: number, W_p: tf.Tensor): tf.Tensor {
  const lMax = W_p.shape[0]!;
  if (!Number.isInteger(t) || t < 0 || t >= lMax) {
    throw new InputError(`positionalEmbedding: position t=${t} is outside [0, ℓ_max) with ℓ_max=${lMax} (W_p has ${lMax} rows)`);
  }
  return tf.tidy(() => tf.slice(W_p, [t, 0], [1, -1]).reshape([-1]));
}

export function pastLmaxMessage(where: string, last: number, lMax: number): string {
  return (
    `${where}: position ${last} needs ℓ=${last + 1} but the learned W_p has ℓ_max=${lMax} rows. ` +
    `A learned table has no row for ℓ > ℓ_max. Ways out: use ℓ ≤ ${lMax} (truncate or slide a window), ` +
    `extend W_p by interpolating its table to a longer ℓ_max (extendLearned(model, n)), or swap in an encoding without a table ` +
    `(model.withPositional(...) with sinusoidal, RoPE, ALiBi or NoPE).`
  );
}

class Learned implements PositionalEncoding {
  readonly name = "learned";
  readonly traits = { embedByPosition: true };
  readonly label = "learned W_p (Alg 2)";
  constructor(private readonly opts: LearnedOptions = {}) {}

  maxPositions(cfg: DTransformerConfig): number {
    return cfg.lMax;
  }
  paramShapes(cfg: DTransformerConfig): Record<string, number[]> {
    return { [W_P]: [cfg.lMax, cfg.dE] };
  }
  initParam(_name: string, shape: number[], _cfg: DTransformerConfig, rng: Rng): Float32Array {
    return rng.normalArray(shape[0]! * shape[1]!, this.opts.initStd ?? 0.01);
  }
  embed(pos: PositionRange, ctx: PeContext): tf.Tensor {
    const W_p = ctx.param(W_P);
    const lMax = W_p.shape[0]!;
    const last = pos.start + pos.length - 1;
    if (last >= lMax) throw new InputError(pastLmaxMessage("learned positions", last, lMax));
    return tf.slice(W_p, [pos.start, 0], [pos.length, -1]);
  }
  /** Rows of W_p for 0-based `positions` (plain arrays); past ℓ_max is an InputError. */
  table(positions: readonly number[], ctx: PeContext): number[][] {
    const W_p = ctx.param(W_P);
    const [lMax, d] = W_p.shape as [number, number];
    const data = W_p.dataSync();
    return positions.map((t, j) => {
      if (!Number.isInteger(t) || t < 0) throw new InputError(`learned table: positions[${j}]=${t} must be a non-negative integer`);
      if (t >= lMax) throw new InputError(pastLmaxMessage("learned table", t, lMax));
      return Array.from(data.subarray(t * d, (t + 1) * d));
    });
  }
  toJSON() {
    return { name: this.name, ...(this.opts.initStd !== undefined ? { initStd: this.opts.initStd } : {}) };
  }
}

/** Learned absolute positions W_p (Alg 2), GPT-2's encoding. */
export function learned(opts: LearnedOptions = {}): PositionalEncoding {
  return new Learned(opts);
}

/** Its registry entry (lib/positional/registry.ts). */
export const LEARNED_ENTRY: PositionalEntry = { name: "learned", factory: (s) => learned(typeof s.initStd === "number" ? { initStd: s.initStd } : {}), help: "learned" };
