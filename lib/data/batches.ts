/**
 * Batch sources over a token corpus. Every source draws all of its randomness from the Rng passed to
 * `next(rng)`, so a seeded trainer reproduces its batches exactly.
 *
 *   windowSource         B random windows of ℓ tokens (uniform start positions)
 *   lengthMixtureSource  per batch, one length ℓ drawn from a mixture (see mixture.ts), B rows of ℓ
 *   mixedSource          per batch, one sub-source drawn by weight (text + retrieval tasks, …)
 *
 * A window of ℓ tokens gives ℓ − 1 next-token targets (Batch: targets are shifted inside each row).
 */
import { ConfigError, InputError } from "../errors.js";
import type { Rng } from "../tensor/random.js";
import type { Batch, BatchSource, Tokenizer } from "./types.js";
import { buildMixture, jitterLength, positiveInt, type MixtureComponent, type MixtureSpec } from "./mixture.js";

/** Tokens as accepted by the sources. */
export type TokenArray = Int32Array | readonly number[];

/** Encodes `text` with `tokenizer` into an Int32Array (no specials added). */
export function textTokens(text: string, tokenizer: Tokenizer): Int32Array {
  return Int32Array.from(tokenizer.encode(text));
}

/** Returns the tokens as an Int32Array (a view for Int32Array input, one copy for number[]). */
function asInt32(tokens: TokenArray, where: string): Int32Array {
  if (tokens instanceof Int32Array) return tokens;
  if (!Array.isArray(tokens)) throw new InputError(`${where}: tokens must be an Int32Array or number[]`);
  const out = Int32Array.from(tokens);
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== tokens[i]) throw new InputError(`${where}: tokens[${i}]=${tokens[i]} is not a 32-bit integer`);
  }
  return out;
}

/** Fills a [B, ℓ] batch with B windows at uniform random starts in [0, N − ℓ]. */
function sampleWindows(tokens: Int32Array, batch: number, length: number, rng: Rng): Batch {
  const out = new Int32Array(batch * length);
  const starts = tokens.length - length + 1;
  for (let b = 0; b < batch; b++) {
    const s = rng.int(0, starts);
    out.set(tokens.subarray(s, s + length), b * length);
  }
  return { tokens: out, batch, length };
}

/** Error when the corpus is shorter than a window. */
function checkFits(n: number, length: number, where: string): void {
  if (n < length) throw new ConfigError(`${where}: ℓ=${length} is longer than the corpus (${n} tokens)`);
}

/** B random windows of ℓ tokens each. */
export function windowSource(tokens: TokenArray, opts: { batch: number; length: number }): BatchSource {
  const toks = asInt32(tokens, "windowSource");
  const batch = positiveInt(opts.batch, "windowSource: batch (B)");
  const length = positiveInt(opts.length, "windowSource: length (ℓ)");
  checkFits(toks.length, length, "windowSource");
  return {
    name: "window",
    next: (rng: Rng) => sampleWindows(toks, batch, length, rng),
    describe: () => ({ kind: "window", batch, length, corpusTokens: toks.length }),
  };
}

/** One row of `realised()`: how often a length was drawn. */
export interface RealisedLength {
  length: number;
  /** batches at this length */
  count: number;
  /** count / all batches */
  fraction: number;
  /** sequences (rows) at this length */
  sequences: number;
  /** sequences / all sequences */
  sequenceFraction: number;
}

/** Options of lengthMixtureSource; give exactly one of `batch` (fixed B) and `batchTokens`. */
export interface LengthMixtureOptions extends MixtureSpec {
  /** fixed B */
  batch?: number;
  /** B = max(1, floor(batchTokens / ℓ)) for the drawn ℓ, so batches hold about the same tokens */
  batchTokens?: number;
}

/** A length-mixture source, with counts of the lengths it has drawn. */
export interface LengthMixtureSource extends BatchSource {
  /** The normalised mixture: one { length, weight } per component. */
  readonly mixture: readonly MixtureComponent[];
  /** Counts per realised length (by: "length", default) or per nominal component (by: "component"). */
  realised(opts?: { by?: "length" | "component" }): RealisedLength[];
  /** Clears the counts (e.g. after resuming from a checkpoint). */
  resetRealised(): void;
}

/** Tallies batches and rows per key. */
class Tally {
  private m = new Map<number, { count: number; sequences: number }>();
  add(key: number, rows: number): void {
    const e = this.m.get(key) ?? { count: 0, sequences: 0 };
    e.count++;
    e.sequences += rows;
    this.m.set(key, e);
  }
  rows(keys: readonly number[] = []): RealisedLength[] {
    const all = [...new Set([...keys, ...this.m.keys()])].sort((a, b) => a - b);
    let nb = 0;
    let ns = 0;
    for (const e of this.m.values()) (nb += e.count), (ns += e.sequences);
    return all.map((length) => {
      const e = this.m.get(length) ?? { count: 0, sequences: 0 };
      return { length, count: e.count, fraction: nb ? e.count / nb : 0, sequences: e.sequences, sequenceFraction: ns ? e.sequences / ns : 0 };
    });
  }
  clear(): void {
    this.m.clear();
  }
}

/** Resolves the B rule; returns B for a drawn ℓ. */
function batchRule(opts: LengthMixtureOptions): (length: number) => number {
  const where = "lengthMixtureSource";
  if ((opts.batch === undefined) === (opts.batchTokens === undefined)) {
    throw new ConfigError(`${where}: give exactly one of batch (B) and batchTokens, got batch=${opts.batch}, batchTokens=${opts.batchTokens}`);
  }
  if (opts.batch !== undefined) {
    const b = positiveInt(opts.batch, `${where}: batch (B)`);
    return () => b;
  }
  const bt = positiveInt(opts.batchTokens, `${where}: batchTokens`);
  return (length) => Math.max(1, Math.floor(bt / length));
}

/**
 * Batches whose length ℓ is drawn per batch from a mixture (so each batch is rectangular [B, ℓ]),
 * optionally jittered by ±jitter·ℓ (rounded). `mixture: "doubling"` is ℓ_max, 2ℓ_max, 4ℓ_max, … with
 * weights 1/2, 1/4, 1/8, … truncated at maxLength (default 8ℓ_max) and renormalised. Weights are
 * probabilities per batch; with batchTokens they are also (about) fractions of tokens.
 */
export function lengthMixtureSource(tokens: TokenArray, opts: LengthMixtureOptions): LengthMixtureSource {
  const where = "lengthMixtureSource";
  const toks = asInt32(tokens, where);
  const mix = buildMixture(opts, where);
  checkFits(toks.length, mix.maxRealisedLength, `${where} (longest length after jitter)`);
  const batchOf = batchRule(opts);
  const weights = mix.components.map((c) => c.weight);
  const byLength = new Tally();
  const byComponent = new Tally();
  return {
    name: "length-mixture",
    mixture: mix.components,
    next(rng: Rng): Batch {
      const nominal = mix.components[rng.categorical(weights)]!.length;
      const length = jitterLength(nominal, mix.jitter, rng);
      const b = sampleWindows(toks, batchOf(length), length, rng);
      byLength.add(length, b.batch);
      byComponent.add(nominal, b.batch);
      return b;
    },
    describe: () => ({
      kind: "length-mixture",
      ...mix.describe,
      ...(opts.batch !== undefined ? { batch: opts.batch } : { batchTokens: opts.batchTokens }),
      corpusTokens: toks.length,
    }),
    realised: (o) => (o?.by === "component" ? byComponent.rows(mix.components.map((c) => c.length)) : byLength.rows()),
    resetRealised: () => (byLength.clear(), byComponent.clear()),
  };
}

/** One entry of mixedSource. */
export interface WeightedSource {
  source: BatchSource;
  weight: number;
}

/** A source that picks one sub-source per batch, with probability ∝ weight. */
export interface MixedSource extends BatchSource {
  /** Batches drawn from each sub-source so far, in the order given. */
  realised(): { name: string; count: number; fraction: number }[];
}

/** Chooses a sub-source per batch by weight (e.g. text windows mixed with retrieval tasks). */
export function mixedSource(parts: readonly WeightedSource[]): MixedSource {
  if (!Array.isArray(parts) || parts.length === 0) throw new ConfigError("mixedSource: need at least one { source, weight }");
  parts.forEach((p, i) => {
    if (!p?.source || typeof p.source.next !== "function") throw new ConfigError(`mixedSource: parts[${i}].source is not a BatchSource`);
    if (!(Number.isFinite(p.weight) && p.weight >= 0)) throw new ConfigError(`mixedSource: parts[${i}].weight=${p.weight} must be finite and ≥ 0`);
  });
  const total = parts.reduce((s, p) => s + p.weight, 0);
  if (!(total > 0)) throw new ConfigError(`mixedSource: weights sum to ${total}; need a positive sum`);
  const weights = parts.map((p) => p.weight);
  const counts = parts.map(() => 0);
  return {
    name: "mixed",
    next(rng: Rng): Batch {
      const i = rng.categorical(weights);
      counts[i]!++;
      return parts[i]!.source.next(rng);
    },
    describe: () => ({
      kind: "mixed",
      sources: parts.map((p) => ({ name: p.source.name, weight: p.weight / total, source: p.source.describe() })),
    }),
    realised() {
      const n = counts.reduce((s, c) => s + c, 0);
      return parts.map((p, i) => ({ name: p.source.name, count: counts[i]!, fraction: n ? counts[i]! / n : 0 }));
    },
  };
}
