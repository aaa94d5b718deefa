/**
 * Bounded positions — the encoding proposed in the question behind ctxlab: infinitely many positions
 * inside the unit ball, consecutive positions closer and closer as t grows. Added at Alg 10 line 2
 * like W_p (seam 1). No parameters, no ℓ limit.
 *
 *   u(t) = ln(1 + t/τ)                                  log-compressed position (τ ≥ 1, default 1)
 *   r(t) = 1 − τ / (4(τ + t))                           radius, from 3/4 at t = 0 up towards 1
 *   p(t) = r(t)/√(d/2) · [sin(ω_i u), cos(ω_i u)]_i      interleaved, ω_i = base^{−2i/d}, i = 0…d/2−1
 *   row added to W_e[x[t]] = scale · p(t)                (scale default 1)
 *
 * Properties (for every real t ≥ 0, not only the ones the tests sample):
 *   • ‖p(t)‖ = r(t) < 1: inside the open unit ball, accumulating on the unit sphere as t → ∞.
 *     (Numerically: 1 − r(t) = τ/(4(τ+t)) is below float64's resolution past t ≈ 2⁵¹ and float32's
 *     past t ≈ 2²², where rows round onto the sphere.)
 *   • distinct: r is strictly increasing, so no two positions share a vector.
 *   • D(t) = ‖p(t+1) − p(t)‖ is strictly decreasing and → 0. Proof sketch: with Δ = u(t+1) − u(t) =
 *     ln(1 + 1/(τ+t)), D² = (r(t+1) − r(t))² + r(t)r(t+1)·h(Δ), h(Δ) = (2/(d/2))·Σ_i (1 − cos ω_iΔ).
 *     The first term falls because r is concave. For the second, ω_iΔ ≤ ln 2 < π/2 (τ ≥ 1, ω_i ≤ 1),
 *     where x ↦ 1 − cos x has elasticity ≥ 1.5, and d ln Δ/dt ≤ −1/(τ+t+1), so d ln h/dt ≤ −1.5/(τ+t+1);
 *     the radius grows more slowly: d ln(r(t)r(t+1))/dt ≤ 2·(τ/4)/((τ+t)(τ+t−τ/4)) < 1.5/(τ+t+1).
 *   • Scale-aware: ‖p(t) − p(ct)‖ does not vanish as t → ∞ (u differs by → ln c), so t and 2t stay
 *     apart while t and t+1 merge — a Weber–Fechner-like resolution (relative, not absolute, position).
 *
 * Why this form: the log makes the step shrink like 1/t while every ratio of positions stays resolvable;
 * sinusoidal features of u give smooth, bounded coordinates (Vaswani §3.5 applied to u instead of t);
 * the monotone radius makes injectivity exact (sinusoids alone can repeat when frequencies are
 * commensurate, e.g. base 10⁴ with d = 8). The default base 100 (not 10⁴) suits u, which stays below 37
 * for every safe-integer t: with 10⁴ the slow half of the pairs would barely turn. ε = 1/4 in r is fixed
 * because the monotonicity proof needs ε ≤ 1/4.
 *
 * Amplitude: GPT-2-initialised token rows have norm ≈ initStd·√d_e (0.16 at d_e = 64, 0.55 at 768);
 * learned W_p rows ≈ 0.01·√d_e. scale = 1 adds p(t) itself (norm ¾…1), so at initialisation position
 * dominates small models by a few times; pass `scale` (e.g. initStd·√d_e) to match token rows.
 */
import * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import { ConfigError, InputError } from "../errors.js";
import type { PeContext, PositionRange, PositionalEncoding, PositionalEntry, PositionalSpec } from "./types.js";

export interface BoundedOptions {
  /** τ in u(t) = ln(1 + t/τ): positions up to ≈ τ are spaced almost evenly (≥ 1; default 1) */
  tau?: number;
  /** frequency base of the features of u (> 1; default 100) */
  base?: number;
  /** multiplier on p(t) (> 0; default 1, which keeps rows inside the unit ball) */
  scale?: number;
}

const DEFAULTS = { tau: 1, base: 100, scale: 1 } as const;

function resolve(where: string, o: BoundedOptions): Required<BoundedOptions> {
  const r = { tau: o.tau ?? DEFAULTS.tau, base: o.base ?? DEFAULTS.base, scale: o.scale ?? DEFAULTS.scale };
  const fin = (v: number) => typeof v === "number" && Number.isFinite(v);
  if (!fin(r.tau) || r.tau < 1) throw new ConfigError(`${where}: tau=${r.tau} must be a finite number ≥ 1 (the spacing proof needs ω·ln(1+1/τ) < π/2)`);
  if (!fin(r.base) || !(r.base > 1)) throw new ConfigError(`${where}: base=${r.base} must be a finite number > 1`);
  if (!fin(r.scale) || !(r.scale > 0)) throw new ConfigError(`${where}: scale=${r.scale} must be a finite number > 0`);
  return r;
}

function checkDim(where: string, d: number): void {
  if (!Number.isInteger(d) || d < 2 || d % 2 !== 0) throw new ConfigError(`${where}: d_e=${d} must be an even integer ≥ 2 (sin and cos come in pairs)`);
}

/** Write scale·p(t) into `out` at `offset` (float64 arithmetic). */
function fillRow(out: Float32Array | Float64Array, offset: number, t: number, d: number, o: Required<BoundedOptions>): void {
  const n = d / 2;
  const u = Math.log1p(t / o.tau);
  const amp = (o.scale * (1 - o.tau / (4 * (o.tau + t)))) / Math.sqrt(n);
  for (let i = 0; i < n; i++) {
    const a = u * Math.pow(o.base, (-2 * i) / d);
    out[offset + 2 * i] = amp * Math.sin(a);
    out[offset + 2 * i + 1] = amp * Math.cos(a);
  }
}

/**
 * scale·p(t) for each 0-based position (any real t ≥ 0): [n][d] in float64.
 * @example boundedTable([0, 1, 1000], 8)  // norms 0.75, 0.875, 0.99975
 */
export function boundedTable(positions: readonly number[], d: number, opts: BoundedOptions = {}): number[][] {
  const o = resolve("boundedTable", opts);
  checkDim("boundedTable", d);
  return positions.map((t, j) => {
    if (typeof t !== "number" || !Number.isFinite(t) || t < 0) throw new InputError(`boundedTable: positions[${j}]=${t} must be a finite number ≥ 0`);
    const row = new Float64Array(d);
    fillRow(row, 0, t, d, o);
    return Array.from(row);
  });
}

/** The radius ‖p(t)‖ = r(t) = 1 − τ/(4(τ+t)) before `scale`. */
export function boundedRadius(t: number, tau: number = DEFAULTS.tau): number {
  return 1 - tau / (4 * (tau + t));
}

class Bounded implements PositionalEncoding {
  readonly name = "bounded";
  readonly traits = { embedByPosition: true };
  readonly label: string;
  private readonly o: Required<BoundedOptions>;

  constructor(private readonly opts: BoundedOptions = {}) {
    this.o = resolve("bounded", opts);
    this.label = `bounded (unit ball, u = ln(1+t/${this.o.tau})${this.o.scale !== 1 ? `, scale ${this.o.scale}` : ""})`;
  }
  maxPositions(): undefined {
    return undefined;
  }
  validate(cfg: DTransformerConfig): void {
    checkDim("bounded", cfg.dE);
  }
  /** Seam 1: scale·p(t) for t = start…start+ℓ−1 (float64 in JS, uploaded as float32). */
  embed(pos: PositionRange, ctx: PeContext): tf.Tensor {
    const d = ctx.cfg.dE;
    const data = new Float32Array(pos.length * d);
    for (let r = 0; r < pos.length; r++) fillRow(data, r * d, pos.start + r, d, this.o);
    return tf.tensor2d(data, [pos.length, d]);
  }
  table(positions: readonly number[], ctx: PeContext): number[][] {
    return boundedTable(positions, ctx.cfg.dE, this.o);
  }
  toJSON(): PositionalSpec {
    const { tau, base, scale } = this.opts;
    return { name: this.name, ...(tau !== undefined ? { tau } : {}), ...(base !== undefined ? { base } : {}), ...(scale !== undefined ? { scale } : {}) };
  }
}

/** Bounded positions inside the unit ball with shrinking steps (see the header for the formula). */
export function bounded(opts: BoundedOptions = {}): PositionalEncoding {
  return new Bounded(opts);
}

function fromSpec(s: PositionalSpec): PositionalEncoding {
  const args = Array.isArray(s.args) ? (s.args as string[]).map(Number) : [];
  const pick = (key: "tau" | "base" | "scale", i: number) => (typeof s[key] === "number" ? (s[key] as number) : args[i]);
  const o: BoundedOptions = {};
  const [tau, base, scale] = [pick("tau", 0), pick("base", 1), pick("scale", 2)];
  if (tau !== undefined) o.tau = tau;
  if (base !== undefined) o.base = base;
  if (scale !== undefined) o.scale = scale;
  return bounded(o);
}

/** Its registry entry (lib/positional/registry.ts). */
export const BOUNDED_ENTRY: PositionalEntry = { name: "bounded", factory: fromSpec, help: "bounded[:<tau>[:<base>[:<scale>]]]" };
