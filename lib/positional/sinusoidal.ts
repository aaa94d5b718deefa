/**
 * Sinusoidal absolute positions — Vaswani et al. 2017 §3.5 (docs/literature.md, "Sinusoidal"), added at Alg 10 line 2
 * in place of the learned W_p (P&H §5 mention it as the hard-coded alternative to Alg 2).
 *
 *   "vaswani" (default):  PE(p, 2i) = sin(p·ω_i), PE(p, 2i+1) = cos(p·ω_i), ω_i = base^{−2i/d_e},
 *                         0-based p and i = 0…d_e/2−1, interleaved, base 10⁴.
 *   "phuong-hutter":      the formula as printed in P&H (docs/literature.md, "Phuong & Hutter"): 1-based t = p+1 and i = 1…d_e/2,
 *                         W_p[2i−1, t] = sin(t/ℓ_max^{2i/d_e}), W_p[2i, t] = cos(t/ℓ_max^{2i/d_e}); base ℓ_max
 *                         unless `base` is given. It is Vaswani shifted by one frequency pair (and one
 *                         position); kept only as a documented variant (docs/design.md, "Defaults the paper leaves open").
 *   "tensor2tensor":      get_timing_signal_1d: concatenated [sin(p·ω_0…) | cos(p·ω_0…)] with
 *                         ω_k = base^{−k/(d_e/2−1)}, k = 0…d_e/2−1 (the increment divides by d_e/2−1).
 *
 * No parameters, no ℓ limit. Tables are computed in float64 in JS and uploaded as float32.
 * For Vaswani, PE(p)·PE(p+k) = Σ_i cos(k·ω_i) depends only on k (test vectors: docs/literature.md, "Test vectors").
 */
import * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import { ConfigError, InputError } from "../errors.js";
import type { PeContext, PositionRange, PositionalEncoding, PositionalEntry, PositionalSpec } from "./types.js";

export type SinusoidVariant = "vaswani" | "phuong-hutter" | "tensor2tensor";
export const SINUSOID_VARIANTS: readonly SinusoidVariant[] = ["vaswani", "phuong-hutter", "tensor2tensor"];

export interface SinusoidalOptions {
  /** the frequency base (default 10⁴; for "phuong-hutter" the default is the config's ℓ_max, as printed) */
  base?: number;
  /** formula and layout (default "vaswani") */
  variant?: SinusoidVariant;
}

/** Where each frequency's sin and cos go, its frequency, and the position offset. */
interface Layout {
  freqs: Float64Array;
  sinCol: (i: number) => number;
  cosCol: (i: number) => number;
  /** added to the 0-based position (P&H count t from 1) */
  shift: number;
}

function layout(variant: SinusoidVariant, d: number, base: number): Layout {
  const n = d / 2;
  const freqs = new Float64Array(n);
  if (variant === "tensor2tensor") {
    const inc = Math.log(base) / Math.max(n - 1, 1);
    for (let k = 0; k < n; k++) freqs[k] = Math.exp(-k * inc);
    return { freqs, sinCol: (k) => k, cosCol: (k) => n + k, shift: 0 };
  }
  const first = variant === "phuong-hutter" ? 1 : 0;
  for (let i = 0; i < n; i++) freqs[i] = Math.pow(base, (-2 * (i + first)) / d);
  return { freqs, sinCol: (i) => 2 * i, cosCol: (i) => 2 * i + 1, shift: first };
}

function checkDim(where: string, d: number): void {
  if (!Number.isInteger(d) || d < 2 || d % 2 !== 0) {
    throw new ConfigError(`${where}: d_e=${d} must be an even integer ≥ 2 (sin and cos come in pairs)`);
  }
}

function checkBase(where: string, base: number): void {
  if (typeof base !== "number" || !Number.isFinite(base) || !(base > 1)) throw new ConfigError(`${where}: base=${base} must be a finite number > 1`);
}

/** Write the d-wide row of position `p` into `out` at `offset` (float64 arithmetic). */
function fillRow(out: Float32Array | Float64Array, offset: number, p: number, lay: Layout): void {
  const t = p + lay.shift;
  for (let i = 0; i < lay.freqs.length; i++) {
    const a = t * lay.freqs[i]!;
    out[offset + lay.sinCol(i)] = Math.sin(a);
    out[offset + lay.cosCol(i)] = Math.cos(a);
  }
}

/**
 * The sinusoid rows for 0-based `positions`: [n][d] in float64.
 * @example sinusoidTable([0, 1, 5], 8)  // docs/literature.md, "Test vectors" (Vaswani, base 10⁴)
 */
export function sinusoidTable(positions: readonly number[], d: number, opts: { base?: number; variant?: SinusoidVariant } = {}): number[][] {
  const variant = opts.variant ?? "vaswani";
  const base = opts.base ?? 10000;
  checkDim("sinusoidTable", d);
  checkBase("sinusoidTable", base);
  const lay = layout(variant, d, base);
  return positions.map((p, j) => {
    if (typeof p !== "number" || !Number.isFinite(p)) throw new InputError(`sinusoidTable: positions[${j}]=${p} must be a finite number`);
    const row = new Float64Array(d);
    fillRow(row, 0, p, lay);
    return Array.from(row);
  });
}

class Sinusoidal implements PositionalEncoding {
  readonly name = "sinusoidal";
  readonly traits = { embedByPosition: true };
  readonly label: string;
  readonly variant: SinusoidVariant;

  constructor(private readonly opts: SinusoidalOptions = {}) {
    const v = opts.variant ?? "vaswani";
    if (!SINUSOID_VARIANTS.includes(v)) throw new ConfigError(`sinusoidal: variant "${v}" is not one of ${SINUSOID_VARIANTS.join(", ")}`);
    if (opts.base !== undefined) checkBase("sinusoidal", opts.base);
    this.variant = v;
    const what = { vaswani: "Vaswani", "phuong-hutter": "P&H as printed", tensor2tensor: "tensor2tensor [sin|cos]" }[v];
    this.label = `sinusoidal (${what}${opts.base !== undefined ? `, base ${opts.base}` : ""})`;
  }

  /** The frequency base for `cfg` (P&H as printed: ℓ_max). */
  base(cfg: DTransformerConfig): number {
    return this.opts.base ?? (this.variant === "phuong-hutter" ? cfg.lMax : 10000);
  }
  maxPositions(): undefined {
    return undefined;
  }
  validate(cfg: DTransformerConfig): void {
    checkDim(`sinusoidal`, cfg.dE);
    checkBase(`sinusoidal (${this.variant})`, this.base(cfg));
  }
  /** Seam 1: the [ℓ, d_e] rows for positions start…start+ℓ−1 (float64 in JS, uploaded as float32). */
  embed(pos: PositionRange, ctx: PeContext): tf.Tensor {
    const d = ctx.cfg.dE;
    const lay = layout(this.variant, d, this.base(ctx.cfg));
    const data = new Float32Array(pos.length * d);
    for (let r = 0; r < pos.length; r++) fillRow(data, r * d, pos.start + r, lay);
    return tf.tensor2d(data, [pos.length, d]);
  }
  table(positions: readonly number[], ctx: PeContext): number[][] {
    return sinusoidTable(positions, ctx.cfg.dE, { base: this.base(ctx.cfg), variant: this.variant });
  }
  toJSON(): PositionalSpec {
    return { name: this.name, ...(this.variant !== "vaswani" ? { variant: this.variant } : {}), ...(this.opts.base !== undefined ? { base: this.opts.base } : {}) };
  }
}

/** Fixed sinusoidal positions (Vaswani et al. §3.5, or a documented variant). Unbounded ℓ. */
export function sinusoidal(opts: SinusoidalOptions = {}): PositionalEncoding {
  return new Sinusoidal(opts);
}

function fromSpec(s: PositionalSpec): PositionalEncoding {
  const args = Array.isArray(s.args) ? (s.args as string[]) : [];
  const variant = (typeof s.variant === "string" ? s.variant : args[0]) as SinusoidVariant | undefined;
  const rawBase = typeof s.base === "number" ? s.base : args[1] !== undefined ? Number(args[1]) : undefined;
  return sinusoidal({ ...(variant ? { variant } : {}), ...(rawBase !== undefined ? { base: rawBase } : {}) });
}

/** Its registry entry (lib/positional/registry.ts). */
export const SINUSOIDAL_ENTRY: PositionalEntry = { name: "sinusoidal", factory: fromSpec, help: "sinusoidal[:vaswani|phuong-hutter|tensor2tensor[:<base>]]" };
