/**
 * ALiBi — Press, Smith & Lewis, "Train Short, Test Long" (ICLR 2022, arXiv 2108.12409; docs/literature.md,
 * "ALiBi"). No positional embedding; seam 3 adds a per-head linear bias to the scaled scores:
 *
 *   S_h[i, j] ← q_i·k_j/√d_attn − m_h·(i − j)      query position i, key position j (0-based)
 *
 * added before the causal mask, as in fairseq (the bias sits in the additive mask, after q is scaled).
 * For j > i the bias is +m_h·(j − i), finite, and the mask removes it. Positions come from the
 * PositionRanges, so a query at position 5 over cached keys 0…5 gets the last row of the full bias.
 *
 * Slopes (reference `get_slopes`, ofirpress/attention_with_linear_biases): for H a power of two,
 * m_h = 2^{−8h/H}, h = 1…H. Otherwise, with c = 2^⌊log₂H⌋: the c power-of-two slopes, then every other
 * slope of the 2c-head set (indices 0, 2, 4, …), the first H − c of them — unsorted
 * (6 heads: [1/4, 1/16, 1/64, 1/256, 1/2, 1/8]). No parameters, no ℓ limit.
 */
import * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import type { PeContext, PositionRange, PositionalEncoding, PositionalEntry, PositionalSpec } from "./types.js";

export interface AlibiOptions {
  /** one slope per head (default: the reference get_slopes(H)) */
  slopes?: number[];
}

function powerOfTwoSlopes(n: number): number[] {
  return Array.from({ length: n }, (_, h) => Math.pow(2, (-8 * (h + 1)) / n));
}

/**
 * The reference ALiBi slopes m_1…m_H (get_slopes), including non-power-of-two H.
 * @example alibiSlopes(6)  // [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]
 */
export function alibiSlopes(nHeads: number): number[] {
  if (!Number.isSafeInteger(nHeads) || nHeads < 1) throw new ConfigError(`alibiSlopes: H=${nHeads} must be a positive integer`);
  const c = 2 ** Math.floor(Math.log2(nHeads));
  if (c === nHeads) return powerOfTwoSlopes(nHeads);
  const extra = alibiSlopes(2 * c).filter((_, i) => i % 2 === 0);
  return [...powerOfTwoSlopes(c), ...extra.slice(0, nHeads - c)];
}

function checkSlopes(where: string, slopes: readonly number[], nHeads?: number): void {
  if (!Array.isArray(slopes) || slopes.some((m) => typeof m !== "number" || !Number.isFinite(m))) {
    throw new ConfigError(`${where}: slopes must be an array of finite numbers, got ${JSON.stringify(slopes)}`);
  }
  if (nHeads !== undefined && slopes.length !== nHeads) {
    throw new ConfigError(`${where}: ${slopes.length} slopes given but the model has H=${nHeads} heads (one slope per head)`);
  }
}

/**
 * The bias −m_h·(i − j) as plain arrays [H][ℓ_q][ℓ_k], queries at qStart…, keys at kStart….
 * @example alibiBias(4, 3, 3)[0]  // [[0, 0.25, 0.5], [-0.25, 0, 0.25], [-0.5, -0.25, 0]] (m_1 = 1/4)
 */
export function alibiBias(nHeads: number, lq: number, lk: number, qStart = 0, kStart = 0, slopes?: readonly number[]): number[][][] {
  const m = slopes ?? alibiSlopes(nHeads);
  checkSlopes("alibiBias", m, nHeads);
  return m.map((mh) => Array.from({ length: lq }, (_, a) => Array.from({ length: lk }, (_, b) => mh * (kStart + b - (qStart + a)) + 0))); // + 0: no −0
}

class Alibi implements PositionalEncoding {
  readonly name = "alibi";
  readonly traits = { linearBias: true };
  readonly label = "ALiBi (bias −m_h·(i−j))";

  constructor(private readonly opts: AlibiOptions = {}) {
    if (opts.slopes !== undefined) checkSlopes("alibi", opts.slopes);
  }
  maxPositions(): undefined {
    return undefined;
  }
  validate(cfg: DTransformerConfig): void {
    if (this.opts.slopes) checkSlopes("alibi", this.opts.slopes, cfg.nHeads);
  }
  slopes(nHeads: number): number[] {
    if (!this.opts.slopes) return alibiSlopes(nHeads);
    checkSlopes("alibi", this.opts.slopes, nHeads);
    return [...this.opts.slopes];
  }
  /** Seam 3: m_h·(j − i) as [H, ℓ_q, ℓ_k], built from the position ranges (works with a KV cache). */
  scoreBias(q: PositionRange, k: PositionRange, ctx: PeContext): tf.Tensor {
    const H = ctx.cfg.nHeads;
    return tf.tidy(() => {
      const i = tf.range(q.start, q.start + q.length, 1, "float32").reshape([q.length, 1]);
      const j = tf.range(k.start, k.start + k.length, 1, "float32").reshape([1, k.length]);
      const m = tf.tensor3d(this.slopes(H), [H, 1, 1], "float32");
      return tf.mul(m, tf.sub(j, i)); // −m_h·(i − j)
    });
  }
  toJSON(): PositionalSpec {
    return { name: this.name, ...(this.opts.slopes ? { slopes: [...this.opts.slopes] } : {}) };
  }
}

/** ALiBi: per-head linear distance penalty on the attention scores; no parameters, no ℓ limit. */
export function alibi(opts: AlibiOptions = {}): PositionalEncoding {
  return new Alibi(opts.slopes ? { slopes: [...opts.slopes] } : {});
}

/** Its registry entry (lib/positional/registry.ts). */
export const ALIBI_ENTRY: PositionalEntry = { name: "alibi", factory: (s) => alibi(Array.isArray(s.slopes) ? { slopes: s.slopes as number[] } : {}), help: "alibi" };
