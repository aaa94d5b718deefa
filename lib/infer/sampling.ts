/**
 * Sampling a token from logits (Alg 14 line 5): y ∼ q ∝ p^{1/τ} = softmax(logits/τ), with top-k and
 * top-p (nucleus) truncation. τ → 0 (τ = 0) is greedy: the most likely token, ties to the lowest id.
 * Done in float64 on the JS side from one row of logits [N_V], drawing from the seeded Rng.
 */
import { ConfigError } from "../errors.js";
import type { Rng } from "../tensor/random.js";

export interface SamplingOptions {
  /** τ ≥ 0; 0 is greedy (default 1) */
  temperature?: number;
  /** keep only the k most likely tokens (0 or undefined: all) */
  topK?: number;
  /** keep the smallest set of most likely tokens whose probability reaches p (1: all) */
  topP?: number;
}

export function validateSampling(o: SamplingOptions, nVocab: number): void {
  const { temperature: tau = 1, topK = 0, topP = 1 } = o;
  if (typeof tau !== "number" || !(tau >= 0) || !Number.isFinite(tau)) throw new ConfigError(`sampling: temperature τ=${tau} must be a finite number ≥ 0 (0 = greedy)`);
  if (!Number.isInteger(topK) || topK < 0) throw new ConfigError(`sampling: topK=${topK} must be an integer ≥ 0 (0 = no top-k), at most N_V=${nVocab}`);
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) throw new ConfigError(`sampling: topP=${topP} must be in (0, 1]`);
}

/**
 * The distribution q that `sampleToken` draws from (float64), after temperature, top-k and top-p.
 * For τ = 0 it is one-hot on the argmax.
 */
export function samplingDistribution(logits: ArrayLike<number>, o: SamplingOptions = {}): Float64Array {
  const n = logits.length;
  const { temperature: tau = 1, topK = 0, topP = 1 } = o;
  const q = new Float64Array(n);
  if (tau === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
    q[best] = 1;
    return q;
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]!);
  let z = 0;
  for (let i = 0; i < n; i++) z += q[i] = Math.exp((logits[i]! - max) / tau);
  for (let i = 0; i < n; i++) q[i]! /= z;
  if ((topK > 0 && topK < n) || topP < 1) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => q[b]! - q[a]! || a - b);
    let keep = topK > 0 ? Math.min(topK, n) : n;
    if (topP < 1) {
      let cum = 0;
      for (let r = 0; r < keep; r++) {
        cum += q[order[r]!]!;
        if (cum >= topP) {
          keep = r + 1;
          break;
        }
      }
    }
    let s = 0;
    for (let r = keep; r < n; r++) q[order[r]!] = 0;
    for (let r = 0; r < keep; r++) s += q[order[r]!]!;
    for (let i = 0; i < n; i++) q[i]! /= s;
  }
  return q;
}

/** Draw one token id from logits [N_V] with the options above. */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, o: SamplingOptions = {}): number {
  const q = samplingDistribution(logits, o);
  if ((o.temperature ?? 1) === 0) return q.indexOf(1);
  return rng.categorical(q);
}
