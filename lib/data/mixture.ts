/**
 * Length mixtures for lengthMixtureSource: a list of { length, weight } or the "doubling" curriculum
 * of the project's question, "50% of sequences around ℓ_max, 25% around 2ℓ_max, 12.5% around 4ℓ_max, …":
 *
 *   lengths ℓ_max·2^k for k = 0, 1, … while ℓ_max·2^k ≤ maxLength (default maxLength = 8ℓ_max),
 *   weights 2^−(k+1), renormalised to sum to 1 over the kept lengths.
 *
 * With the default (4 lengths) the weights are 8/15, 4/15, 2/15, 1/15. With jitter j > 0, a drawn
 * length ℓ becomes round(ℓ·(1 + j·u)), u uniform in [−1, 1) (one extra rng draw; none when j = 0).
 */
import { ConfigError } from "../errors.js";
import type { Rng } from "../tensor/random.js";

/** One component of a length mixture. */
export interface MixtureComponent {
  length: number;
  weight: number;
}

/** How the mixture is specified. */
export interface MixtureSpec {
  /** explicit components (weights need not sum to 1) or "doubling" */
  mixture: readonly MixtureComponent[] | "doubling";
  /** ℓ_max: the base length of "doubling" (required there; recorded otherwise) */
  lMax?: number;
  /** longest nominal length: truncates "doubling" (default 8ℓ_max); checks explicit lengths */
  maxLength?: number;
  /** ± fraction of ℓ, in [0, 1); default 0 */
  jitter?: number;
}

/** A validated mixture. */
export interface Mixture {
  /** normalised components, ascending by length */
  components: MixtureComponent[];
  jitter: number;
  /** the longest length a batch can have after jitter */
  maxRealisedLength: number;
  /** for the run log */
  describe: Record<string, unknown>;
}

/** Checks a positive integer option; the error names it and its value. */
export function positiveInt(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw new ConfigError(`${what}=${String(v)} must be a positive integer`);
  return v;
}

/** ℓ_max·2^k ≤ maxLength with weights 2^−(k+1) (not yet normalised). */
export function doublingComponents(lMax: number, maxLength: number): MixtureComponent[] {
  const out: MixtureComponent[] = [];
  for (let k = 0, l = lMax; l <= maxLength; k++, l *= 2) out.push({ length: l, weight: 2 ** -(k + 1) });
  return out;
}

/** Validates explicit components: positive integer lengths, distinct, finite weights ≥ 0. */
function checkComponents(mix: readonly MixtureComponent[], where: string): MixtureComponent[] {
  if (!Array.isArray(mix) || mix.length === 0) throw new ConfigError(`${where}: mixture must be "doubling" or a non-empty list of { length, weight }`);
  const seen = new Set<number>();
  return mix.map((c, i) => {
    const length = positiveInt(c?.length, `${where}: mixture[${i}].length (ℓ)`);
    if (seen.has(length)) throw new ConfigError(`${where}: mixture[${i}].length=${length} appears twice`);
    seen.add(length);
    if (!(Number.isFinite(c.weight) && c.weight >= 0)) throw new ConfigError(`${where}: mixture[${i}].weight=${c.weight} must be finite and ≥ 0`);
    return { length, weight: c.weight };
  });
}

/** Divides weights by their sum and sorts by length. */
function normalise(comps: MixtureComponent[], where: string): MixtureComponent[] {
  const total = comps.reduce((s, c) => s + c.weight, 0);
  if (!(total > 0)) throw new ConfigError(`${where}: mixture weights sum to ${total}; need a positive sum`);
  return comps.map((c) => ({ length: c.length, weight: c.weight / total })).sort((a, b) => a.length - b.length);
}

/** Builds the normalised mixture from a spec; errors name the option and value. */
export function buildMixture(spec: MixtureSpec, where: string): Mixture {
  const jitter = spec.jitter ?? 0;
  if (!(Number.isFinite(jitter) && jitter >= 0 && jitter < 1)) throw new ConfigError(`${where}: jitter=${jitter} must be in [0, 1)`);
  const lMax = spec.lMax === undefined ? undefined : positiveInt(spec.lMax, `${where}: lMax (ℓ_max)`);
  let maxLength = spec.maxLength === undefined ? undefined : positiveInt(spec.maxLength, `${where}: maxLength`);
  let raw: MixtureComponent[];
  if (spec.mixture === "doubling") {
    if (lMax === undefined) throw new ConfigError(`${where}: mixture "doubling" needs lMax (ℓ_max)`);
    maxLength ??= 8 * lMax;
    if (maxLength < lMax) throw new ConfigError(`${where}: maxLength=${maxLength} is shorter than ℓ_max=${lMax}`);
    raw = doublingComponents(lMax, maxLength);
  } else if (typeof spec.mixture === "string") {
    throw new ConfigError(`${where}: unknown mixture "${spec.mixture}"; use "doubling" or a list of { length, weight }`);
  } else {
    raw = checkComponents(spec.mixture, where);
    const over = raw.find((c) => maxLength !== undefined && c.length > maxLength);
    if (over) throw new ConfigError(`${where}: mixture length ℓ=${over.length} exceeds maxLength=${maxLength}`);
  }
  const components = normalise(raw, where);
  const longest = components[components.length - 1]!.length;
  return {
    components,
    jitter,
    maxRealisedLength: Math.round(longest * (1 + jitter)),
    describe: {
      mixture: components.map((c) => ({ ...c })),
      spec: spec.mixture === "doubling" ? "doubling" : "custom",
      ...(lMax !== undefined ? { lMax } : {}),
      ...(maxLength !== undefined ? { maxLength } : {}),
      jitter,
    },
  };
}

/** The realised length of a batch: ℓ when jitter = 0 (no draw), else round(ℓ·(1 + j·u)) ≥ 1. */
export function jitterLength(length: number, jitter: number, rng: Rng): number {
  if (jitter === 0) return length;
  const u = 2 * rng.uniform() - 1;
  return Math.max(1, Math.round(length * (1 + jitter * u)));
}
