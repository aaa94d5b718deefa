/**
 * The PositionalEncoding strategy: where position enters Algorithm 10. Three optional seams:
 *
 *   1. `embed`      add a [ℓ, d_e] table to the token embeddings (Alg 10 line 2: learned W_p, sinusoidal);
 *   2. `rotate`     transform queries and keys inside attention (Alg 4 lines 1–2: RoPE and its scalings);
 *   3. `scoreBias`  add a per-head bias to the scaled scores before masking (ALiBi).
 *
 * plus `scoreScale`, a multiplier on the scores (YaRN's temperature). Attention calls the seams and
 * never asks which encoding it has. Positions are 0-based in code (the paper's token t is row t−1).
 */
import type * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import type { Rng } from "../tensor/random.js";

/** A contiguous range of 0-based positions: start, start+1, …, start+length−1. */
export interface PositionRange {
  start: number;
  length: number;
}

/** What a seam may read: the model's config and parameters. */
export interface PeContext {
  cfg: DTransformerConfig;
  /** parameter lookup by full name (e.g. "pos.W_p") */
  param(name: string): tf.Tensor;
}

/** How the registry builds an encoding from its JSON spec: the name, the factory and the accepted forms. */
export interface PositionalEntry {
  name: string;
  factory: (spec: PositionalSpec) => PositionalEncoding;
  /** the accepted forms, e.g. "rope[:layout]" */
  help: string;
}

/** JSON form stored in checkpoints and accepted by the registry. */
export interface PositionalSpec {
  name: string;
  [option: string]: unknown;
}

/**
 * What an encoding promises about its seams, so that fast paths (the plain-JS decoder, read-ahead of
 * embedding rows) can use closed forms instead of calling the seam. Declared by the encoding; nothing
 * recognises an encoding by its name or class. Omitted traits are simply not assumed.
 */
export interface EncodingTraits {
  /** `embed(pos)` row t depends only on position t (not on the range or the sequence length) */
  embedByPosition?: boolean;
  /**
   * `rotate` turns pairs of dims of q and k (laid out "half-split" or "interleaved") by m·θ'_j with
   * θ' = `inverseFrequencies(cfg, seqLen)` (seqLen = the end of the keys' range), leaving the dims past
   * 2·|θ'| unchanged. Requires `inverseFrequencies`.
   */
  rotaryLayout?: "half-split" | "interleaved";
  /** `scoreBias` is slopes(H)[h]·(k − q) for a query at q and a key at k (ALiBi). Requires `slopes`. */
  linearBias?: boolean;
}

export interface PositionalEncoding {
  /** what the fast paths may assume about the seams (see EncodingTraits) */
  readonly traits?: EncodingTraits;
  /** registry name, e.g. "learned", "none", "rope" */
  readonly name: string;
  /** one-line description for tables and plots */
  readonly label: string;
  /** The largest number of positions this encoding can represent for `cfg`, or undefined if unbounded. */
  maxPositions?(cfg: DTransformerConfig): number | undefined;
  /** Parameters this encoding owns: full name ("pos.W_p") → shape. */
  paramShapes?(cfg: DTransformerConfig): Record<string, number[]>;
  /** Initial values of one of its parameters (row-major), drawn from `rng`. */
  initParam?(name: string, shape: number[], cfg: DTransformerConfig, rng: Rng): Float32Array;
  /** Seam 1 (Alg 10 line 2): the [ℓ, d_e] table added to W_e[x] for `pos`. */
  embed?(pos: PositionRange, ctx: PeContext): tf.Tensor;
  /**
   * Seam 2 (Alg 4): transform q or k, shape [B, H, ℓ, d_attn], whose rows sit at `pos`. The model passes
   * queries at [start, start+ℓ) and keys at [0, start+ℓ): both ranges end at the current sequence
   * length, which dynamic schemes use (s = max(1, ℓ/L)). With a KV cache, keys are cached before
   * rotation and rotated again each step (docs/design.md, "KV cache").
   */
  rotate?(t: tf.Tensor, pos: PositionRange, which: "q" | "k", ctx: PeContext): tf.Tensor;
  /** Seam 3: bias [H, ℓ_q, ℓ_k] added to the scaled scores (queries at `q`, keys at `k`). */
  scoreBias?(q: PositionRange, k: PositionRange, ctx: PeContext): tf.Tensor;
  /** Multiplier on the scaled scores (1 unless the encoding sets a temperature). */
  scoreScale?(pos: PositionRange, ctx: PeContext): number;
  // ---- inspection (plots, tests, notebooks); plain arrays, no tensors ----
  /**
   * Rotary schemes: the scaled inverse frequency θ'_j of each pair j = 0…d_attn/2−1, for a sequence of
   * length `seqLen` (dynamic schemes depend on it; others ignore it).
   */
  inverseFrequencies?(cfg: DTransformerConfig, seqLen?: number): Float64Array;
  /** Rotary schemes: the rotation angle m·θ'_j for each position m and pair j: [n][d_attn/2]. */
  angles?(positions: readonly number[], cfg: DTransformerConfig, seqLen?: number): number[][];
  /** The multiplier on the scaled scores (YaRN's mscale² = 1/t; 1 for most schemes) at `seqLen`. */
  attentionScale?(cfg: DTransformerConfig, seqLen?: number): number;
  /** Additive schemes: the rows added at line 2 for `positions`: [n][d_e]. Learned needs the model's params. */
  table?(positions: readonly number[], ctx: PeContext): number[][];
  /** Bias schemes (ALiBi): the slope m_h of each head. */
  slopes?(nHeads: number): number[];
  /** Check compatibility with a config; throw ConfigError otherwise. */
  validate?(cfg: DTransformerConfig): void;
  /** JSON for checkpoints and the registry. */
  toJSON(): PositionalSpec;
}
