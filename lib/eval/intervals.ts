/**
 * Uncertainty of the evaluation numbers:
 *
 *   wilson(k, n)             95 % Wilson score interval of a proportion k/n (accuracies). Unlike the
 *                            normal ±1.96·√(p(1−p)/n) interval it stays inside [0, 1] and is not empty
 *                            at 0/n or n/n: 0/10 → [0, 0.278], 10/10 → [0.722, 1].
 *                              centre = (p + z²/2n) / (1 + z²/n)
 *                              half   = z / (1 + z²/n) · √(p(1−p)/n + z²/4n²)
 *   bootstrapInterval(…)     percentile bootstrap of a weighted mean over resampled units (perplexity:
 *                            windows, weighted by their scored tokens; perplexity = exp(mean loss)),
 *                            seeded: the same seed gives the same interval
 *   spread(xs)               mean, sample sd, min and max of per-seed numbers
 */
import { ConfigError } from "../errors.js";
import { Rng } from "../tensor/random.js";

/** z of a two-sided 95 % normal interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  lo: number;
  hi: number;
}

/** The Wilson score interval of k successes in n trials (z = 1.96 by default); n = 0 gives null. */
export function wilson(k: number, n: number, z = Z95): Interval | null {
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`wilson: n=${n} must be an integer ≥ 0`);
  if (!Number.isSafeInteger(k) || k < 0 || k > n) throw new ConfigError(`wilson: k=${k} must be an integer in [0, n=${n}]`);
  if (!(z > 0 && Number.isFinite(z))) throw new ConfigError(`wilson: z=${z} must be a finite number > 0`);
  if (n === 0) return null;
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // exact ends at 0/n and n/n (the formula gives them up to rounding)
  return { lo: k === 0 ? 0 : Math.max(0, centre - half), hi: k === n ? 1 : Math.min(1, centre + half) };
}

export interface BootstrapOptions {
  /** resamples (default 2,000) */
  reps?: number;
  /** seed of the resampling (default 0) */
  seed?: number | string;
  /** coverage (default 0.95) */
  level?: number;
  /** applied to the weighted mean of each resample (default identity; perplexity: Math.exp) */
  transform?: (mean: number) => number;
}

/**
 * Percentile bootstrap interval of transform(Σ w·x / Σ w) over units resampled with replacement
 * (weights default 1). One unit gives [v, v]; none gives null.
 * @example bootstrapInterval(losses, { weights: scored, transform: Math.exp, seed: 0 }) // perplexity
 */
export function bootstrapInterval(values: readonly number[], o: BootstrapOptions & { weights?: readonly number[] } = {}): Interval | null {
  const reps = o.reps ?? 2000;
  const level = o.level ?? 0.95;
  if (!Number.isSafeInteger(reps) || reps < 1) throw new ConfigError(`bootstrapInterval: reps=${reps} must be an integer ≥ 1`);
  if (!(level > 0 && level < 1)) throw new ConfigError(`bootstrapInterval: level=${level} must be in (0, 1)`);
  const w = o.weights ?? values.map(() => 1);
  if (w.length !== values.length) throw new ConfigError(`bootstrapInterval: ${w.length} weights for ${values.length} values`);
  for (const [i, v] of values.entries()) if (!Number.isFinite(v) || !(w[i]! > 0)) throw new ConfigError(`bootstrapInterval: value ${i} = ${v} (weight ${w[i]}) must be finite with a weight > 0`);
  const f = o.transform ?? ((m: number) => m);
  const n = values.length;
  if (n === 0) return null;
  const mean = (idx: (j: number) => number) => {
    let s = 0;
    let sw = 0;
    for (let j = 0; j < n; j++) {
      const i = idx(j);
      s += values[i]! * w[i]!;
      sw += w[i]!;
    }
    return f(s / sw);
  };
  if (n === 1) {
    const v = mean(() => 0);
    return { lo: v, hi: v };
  }
  const rng = new Rng(o.seed ?? 0);
  const stats = Float64Array.from({ length: reps }, () => mean(() => rng.int(0, n))).sort();
  const q = (p: number) => {
    const x = p * (reps - 1);
    const i = Math.floor(x);
    return i + 1 < reps ? stats[i]! + (x - i) * (stats[i + 1]! - stats[i]!) : stats[i]!;
  };
  return { lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
}

export interface Spread {
  n: number;
  mean: number | null;
  /** sample standard deviation (n − 1); null below 2 values */
  sd: number | null;
  min: number | null;
  max: number | null;
}

/** Mean, sample sd, min and max of finite numbers (nulls and NaNs are skipped). */
export function spread(xs: readonly (number | null | undefined)[]): Spread {
  const v = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  const n = v.length;
  if (!n) return { n, mean: null, sd: null, min: null, max: null };
  const mean = v.reduce((s, x) => s + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : null;
  return { n, mean, sd, min: Math.min(...v), max: Math.max(...v) };
}
