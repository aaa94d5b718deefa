/**
 * One seeded random number generator for initialisation, batching and sampling.
 *
 * xoshiro128** (Blackman & Vigna) on four 32-bit words, seeded through splitmix32. Values are
 * produced in JavaScript, then uploaded, so the same seed gives bit-identical parameters on every
 * backend. The state (including the cached second Box–Muller normal) is serialisable, so a
 * checkpoint can resume a run exactly.
 */
import { ConfigError } from "../errors.js";

/** Serialisable RNG state. */
export interface RngState {
  s: [number, number, number, number];
  /** Cached second normal of a Box–Muller pair, or null. */
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function seedToNumber(seed: number | string): number {
  if (typeof seed === "string") {
    let h = 0x811c9dc5; // FNV-1a
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
    return h;
  }
  if (!Number.isSafeInteger(seed)) throw new ConfigError(`Rng: seed=${seed} must be a safe integer or a string`);
  // fold the high bits in so that seeds ≥ 2^32 differ from their low 32 bits
  return ((seed >>> 0) ^ Math.floor(seed / 2 ** 32)) >>> 0;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Seeded RNG. `new Rng(42)` always gives the same stream. */
export class Rng {
  private s: [number, number, number, number];
  private spare: number | null = null;

  constructor(seed: number | string = 0) {
    const sm = splitmix32(seedToNumber(seed));
    this.s = [sm(), sm(), sm(), sm()];
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Restore a generator from `state()`. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  state(): RngState {
    return { s: [...this.s] as [number, number, number, number], spare: this.spare };
  }

  setState(state: RngState): void {
    if (!state || !Array.isArray(state.s) || state.s.length !== 4 || !state.s.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new ConfigError(`Rng.setState: state.s must be four unsigned 32-bit integers, got ${JSON.stringify(state?.s)}`);
    }
    if ((state.s[0] | state.s[1] | state.s[2] | state.s[3]) === 0) throw new ConfigError("Rng.setState: the all-zero state is invalid for xoshiro128**");
    this.s = [...state.s] as [number, number, number, number];
    this.spare = state.spare ?? null;
  }

  /** A new generator seeded from this one (for independent streams, e.g. per worker). */
  fork(): Rng {
    return new Rng(this.nextU32() * 2 ** 21 + (this.nextU32() >>> 11));
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [lo, hi) (hi exclusive), without modulo bias. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi <= lo) {
      throw new ConfigError(`Rng.int: need integers lo < hi, got lo=${lo}, hi=${hi}`);
    }
    return lo + Math.floor(this.uniform() * (hi - lo));
  }

  /** Standard normal N(0, 1) by Box–Muller (pairs are cached). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** n samples of N(mean, std²) as a Float32Array. */
  normalArray(n: number, std = 1, mean = 0): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffle<T>(xs: readonly T[]): T[] {
    const a = xs.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  /** Draw an index from unnormalised non-negative weights. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (!(w >= 0)) throw new ConfigError(`Rng.categorical: weight[${i}]=${w} must be ≥ 0`);
      total += w;
    }
    if (!(total > 0) || !Number.isFinite(total)) throw new ConfigError(`Rng.categorical: weights must have a positive finite sum, got ${total}`);
    let u = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i; // rounding fell off the end
    return weights.length - 1;
  }
}
