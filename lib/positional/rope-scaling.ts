/**
 * RoPE frequency schedules and their context-extension scalings, as pure float64 maths (no tensors).
 * lib/positional/rope.ts turns these inverse frequencies into rotations; plots and tests call them
 * directly. d = rotated head dims (d_attn, or rotaryFraction·d_attn), j = 0…d/2−1, L = original
 * training context, s = L'/L. docs/literature.md, "RoPE" to "Llama 3 scaling", "Test vectors".
 *
 *   RoPE    θ_j = b^{−2j/d}                               RoFormer §3.2.2 (arXiv 2104.09864)
 *   PI      θ_j / s                                        Chen et al. eq. 4; HF `_compute_linear_scaling_rope_parameters`
 *   NTK     b' = b·s^{d/(d−2)}                             bloc97; YaRN §3.1
 *   dynamic b' = b·(f·ℓ/L − (f−1))^{d/(d−2)} for ℓ > L    HF `_compute_dynamic_ntk_parameters`
 *   YaRN    θ' = (1−γ)·θ/s + γ·θ,  γ from a ramp on r = L/λ  YaRN eqs. 10–13; HF `_compute_yarn_parameters`
 *           "implementation": γ linear in pair index j between floor(j(β)) and ceil(j(α)),
 *           j(r) = d·ln(L/(2πr))/(2 ln b)   (jquesnelle/yarn scaled_rope/, HF; the default)
 *           "paper": γ(r) = clamp((r−α)/(β−α), 0, 1)  (eq. 11)
 *           temperature: cos/sin × mscale, mscale = 0.1·ln s + 1 (eq. 15) → scores × mscale²
 *   Llama 3 keep θ if λ < L/high; θ/f if λ > L/low; else (1−σ)θ/f + σθ, σ = (L/λ − low)/(high − low)
 *           HF `_compute_llama3_parameters`
 */
import { ConfigError } from "../errors.js";

export type YarnRamp = "implementation" | "paper";
export type Llama3Band = "keep" | "divide" | "blend";

/** RoPE θ_j = base^{−2j/d} for j = 0…d/2−1 (float64). */
export function ropeInverseFrequencies(d: number, base: number): Float64Array {
  const out = new Float64Array(Math.floor(d / 2));
  for (let j = 0; j < out.length; j++) out[j] = Math.pow(base, (-2 * j) / d);
  return out;
}

/** NTK-aware base b' = b·s^{d/(d−2)}: θ_0 unchanged, θ_{d/2−1} divided by exactly s. */
export function ntkBase(base: number, s: number, d: number): number {
  return base * Math.pow(s, d / (d - 2));
}

/**
 * HF dynamic NTK base at sequence length ℓ: b for ℓ ≤ L, else b·(factor·ℓ/L − (factor−1))^{d/(d−2)},
 * i.e. NTK with the effective s = factor·ℓ/L − (factor−1) (= ℓ/L when factor = 1).
 */
export function dynamicNtkBase(base: number, d: number, L: number, seqLen: number, factor = 1): number {
  return seqLen > L ? ntkBase(base, dynamicNtkScale(L, seqLen, factor), d) : base;
}

/** The effective s of HF's dynamic rule: max(1, factor·ℓ/L − (factor−1)). */
export function dynamicNtkScale(L: number, seqLen: number, factor = 1): number {
  return seqLen > L ? factor * (seqLen / L) - (factor - 1) : 1;
}

/** YaRN's pair index at which a dimension completes r rotations in L tokens: d·ln(L/(2πr))/(2 ln b). */
export function yarnCorrectionDim(r: number, d: number, base: number, L: number): number {
  return (d * Math.log(L / (2 * Math.PI * r))) / (2 * Math.log(base));
}

/** The implementation ramp's end points: low = max(floor(j(β)), 0), high = min(ceil(j(α)), d−1) (HF). */
export function yarnCorrectionRange(d: number, base: number, L: number, alpha: number, beta: number): { low: number; high: number } {
  const low = Math.floor(yarnCorrectionDim(beta, d, base, L));
  const high = Math.ceil(yarnCorrectionDim(alpha, d, base, L));
  return { low: Math.max(low, 0), high: Math.min(high, d - 1) };
}

/**
 * YaRN's γ_j per pair ("extrapolation factor": 1 keeps θ_j, 0 divides it by s).
 * "implementation": 1 − clamp((j − low)/(high − low), 0, 1); "paper": clamp((r_j − α)/(β − α), 0, 1).
 */
export function yarnGamma(d: number, base: number, L: number, o: { alpha?: number; beta?: number; ramp?: YarnRamp } = {}): Float64Array {
  const alpha = o.alpha ?? 1;
  const beta = o.beta ?? 32;
  const theta = ropeInverseFrequencies(d, base);
  const g = new Float64Array(theta.length);
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  if ((o.ramp ?? "implementation") === "paper") {
    for (let j = 0; j < g.length; j++) g[j] = clamp((L / ((2 * Math.PI) / theta[j]!) - alpha) / (beta - alpha));
    return g;
  }
  const { low } = yarnCorrectionRange(d, base, L, alpha, beta);
  let { high } = yarnCorrectionRange(d, base, L, alpha, beta);
  if (high === low) high += 0.001; // HF linear_ramp_factor: avoid 0/0
  for (let j = 0; j < g.length; j++) g[j] = 1 - clamp((j - low) / (high - low));
  return g;
}

/** YaRN inverse frequencies θ'_j = (1−γ_j)·θ_j/s + γ_j·θ_j (NTK-by-parts, Def. 1). */
export function yarnInverseFrequencies(d: number, base: number, L: number, s: number, o: { alpha?: number; beta?: number; ramp?: YarnRamp } = {}): Float64Array {
  const theta = ropeInverseFrequencies(d, base);
  const g = yarnGamma(d, base, L, o);
  return theta.map((t, j) => (1 - g[j]!) * (t / s) + g[j]! * t);
}

/** YaRN's default mscale = √(1/t) = 0.1·ln s + 1 (eq. 15; 1 for s ≤ 1). Scores are multiplied by mscale². */
export function yarnMscale(s: number): number {
  return s <= 1 ? 1 : 0.1 * Math.log(s) + 1;
}

export interface Llama3Options {
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
}

/** Which Llama-3 band each pair falls in: "keep" (λ < L/high), "divide" (λ > L/low) or "blend". */
export function llama3Bands(d: number, base: number, L: number, o: Llama3Options = {}): Llama3Band[] {
  const low = o.lowFreqFactor ?? 1;
  const high = o.highFreqFactor ?? 4;
  return Array.from(ropeInverseFrequencies(d, base), (t) => {
    const wl = (2 * Math.PI) / t;
    return wl < L / high ? "keep" : wl > L / low ? "divide" : "blend";
  });
}

/** Llama 3.1 inverse frequencies (HF `_compute_llama3_parameters`). */
export function llama3InverseFrequencies(d: number, base: number, L: number, o: Llama3Options = {}): Float64Array {
  const f = o.factor ?? 8;
  const low = o.lowFreqFactor ?? 1;
  const high = o.highFreqFactor ?? 4;
  const theta = ropeInverseFrequencies(d, base);
  const bands = llama3Bands(d, base, L, o);
  return theta.map((t, j) => {
    if (bands[j] === "keep") return t;
    if (bands[j] === "divide") return t / f;
    const sigma = (L / ((2 * Math.PI) / t) - low) / (high - low);
    return (1 - sigma) * (t / f) + sigma * t;
  });
}

// ---- options: the one description every rotary scheme is built from, parsed and checked here ----

export type RotaryLayout = "interleaved" | "half-split";
export type RotaryKind = "rope" | "pi" | "ntk" | "dynamic-ntk" | "yarn" | "llama3";
export const ROTARY_KINDS: readonly RotaryKind[] = ["rope", "pi", "ntk", "dynamic-ntk", "yarn", "llama3"];

/** Options shared by every rotary scheme. */
export interface RopeOptions {
  /** b in θ_j = b^{−2j/d} (default 10000) */
  base?: number;
  /** coordinate pairing (default "half-split", HF Llama / GPT-NeoX); stored in checkpoints */
  layout?: RotaryLayout;
  /** fraction of d_attn rotated, from the front (default 1; GPT-NeoX rotary_pct) */
  rotaryFraction?: number;
}

/** Options of the scalings: L = `originalLength` (default: the model's ℓ_max). */
export interface ScaledRopeOptions extends RopeOptions {
  originalLength?: number;
}

export interface YarnOptions extends ScaledRopeOptions {
  alpha?: number;
  beta?: number;
  ramp?: YarnRamp;
  /** mscale multiplying cos and sin (default 0.1·ln s + 1); scores are multiplied by its square */
  attentionFactor?: number;
}

/** Fully resolved options of one rotary encoding (what toJSON stores, minus defaults that need cfg). */
export interface RotarySettings {
  kind: RotaryKind;
  base: number;
  layout: RotaryLayout;
  rotaryFraction: number;
  originalLength?: number;
  factor?: number;
  alpha?: number;
  beta?: number;
  ramp?: YarnRamp;
  attentionFactor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
}

const COMMON = ["base", "layout", "rotaryFraction"];
const ALLOWED: Record<RotaryKind, string[]> = {
  rope: COMMON,
  pi: [...COMMON, "factor", "originalLength"],
  ntk: [...COMMON, "factor", "originalLength"],
  "dynamic-ntk": [...COMMON, "factor", "originalLength"],
  yarn: [...COMMON, "factor", "originalLength", "alpha", "beta", "ramp", "attentionFactor"],
  llama3: [...COMMON, "factor", "originalLength", "lowFreqFactor", "highFreqFactor"],
};

/** Accepted string forms, for the registry's help and error messages. */
export const ROTARY_FORMS: Record<RotaryKind, string> = {
  rope: "rope[:interleaved|half-split][:pi|ntk|yarn|llama3:<s>|:dynamic-ntk[:<factor>]]",
  pi: "pi:<s>[:interleaved|half-split]",
  ntk: "ntk:<s>[:interleaved|half-split]",
  "dynamic-ntk": "dynamic-ntk[:<factor>][:interleaved|half-split]",
  yarn: "yarn:<s>[:implementation|paper][:interleaved|half-split]",
  llama3: "llama3[:<factor>][:interleaved|half-split]",
};

const fail = (kind: string, msg: string) => new ConfigError(`${kind}: ${msg}`);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function need(kind: string, key: string, v: unknown, ok: (x: number) => boolean, rule: string): void {
  if (v !== undefined && (!isNum(v) || !ok(v))) throw fail(kind, `option ${key}=${typeof v === "number" ? v : JSON.stringify(v)} must be ${rule}`);
}

/** Check the options that do not depend on the model's config; throws ConfigError naming option, value and rule. */
export function checkRotarySettings(s: RotarySettings): void {
  const k = s.kind;
  need(k, "base", s.base, (x) => x > 1, "a finite number > 1");
  if (s.layout !== "interleaved" && s.layout !== "half-split") throw fail(k, `option layout=${JSON.stringify(s.layout)} must be "interleaved" or "half-split"`);
  need(k, "rotaryFraction", s.rotaryFraction, (x) => x > 0 && x <= 1, "in (0, 1]");
  need(k, "originalLength", s.originalLength, (x) => Number.isSafeInteger(x) && x >= 1, "a positive integer (the original training context L)");
  if (k !== "rope" && s.factor === undefined) throw fail(k, `needs a scale factor s; accepted forms: ${ROTARY_FORMS[k]}`);
  need(k, "factor", s.factor, (x) => x >= 1, "a finite number ≥ 1 (s = L'/L)");
  need(k, "alpha", s.alpha, (x) => x > 0, "a finite number > 0");
  need(k, "beta", s.beta, (x) => x > (s.alpha ?? 1), `a finite number > alpha=${s.alpha ?? 1}`);
  if (s.ramp !== undefined && s.ramp !== "implementation" && s.ramp !== "paper") throw fail(k, `option ramp=${JSON.stringify(s.ramp)} must be "implementation" or "paper"`);
  need(k, "attentionFactor", s.attentionFactor, (x) => x > 0, "a finite number > 0");
  need(k, "lowFreqFactor", s.lowFreqFactor, (x) => x > 0, "a finite number > 0");
  need(k, "highFreqFactor", s.highFreqFactor, (x) => x > (s.lowFreqFactor ?? 1), `a finite number > lowFreqFactor=${s.lowFreqFactor ?? 1}`);
}

/** Fill the defaults of `kind` into user options and check them. */
export function resolveRotary(kind: RotaryKind, o: Record<string, unknown>): RotarySettings {
  const bad = Object.keys(o).filter((key) => o[key] !== undefined && !ALLOWED[kind].includes(key));
  if (bad.length) throw fail(kind, `unknown option ${bad.map((b) => JSON.stringify(b)).join(", ")}; accepted: ${ALLOWED[kind].join(", ")}`);
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<RotarySettings>;
  const s: RotarySettings = { kind, base: 10000, layout: "half-split", rotaryFraction: 1, ...given };
  if (kind === "dynamic-ntk") s.factor ??= 1;
  if (kind === "llama3") Object.assign(s, { factor: s.factor ?? 8, lowFreqFactor: s.lowFreqFactor ?? 1, highFreqFactor: s.highFreqFactor ?? 4 });
  if (kind === "yarn") {
    Object.assign(s, { alpha: s.alpha ?? 1, beta: s.beta ?? 32, ramp: s.ramp ?? "implementation" });
    if (isNum(s.factor)) s.attentionFactor ??= yarnMscale(s.factor);
  }
  checkRotarySettings(s);
  return s;
}

/** Parse colon arguments ("8", "paper", "interleaved", or under "rope" a scaling name) into options. */
function parseArgs(name: RotaryKind, args: readonly string[]): { kind: RotaryKind; opts: Record<string, unknown> } {
  let kind = name;
  const opts: Record<string, unknown> = {};
  const bad = (a: string, why: string) => fail(name, `argument "${a}" ${why}; accepted forms: ${ROTARY_FORMS[name]}`);
  for (const a of args) {
    if (a === "interleaved" || a === "half-split") {
      if (opts.layout !== undefined) throw bad(a, "repeats the layout");
      opts.layout = a;
    } else if (kind === "rope" && name === "rope" && ROTARY_KINDS.includes(a as RotaryKind) && a !== "rope") {
      kind = a as RotaryKind;
    } else if ((a === "paper" || a === "implementation") && kind === "yarn") {
      opts.ramp = a;
    } else if (a !== "" && Number.isFinite(Number(a)) && kind !== "rope") {
      if (opts.factor !== undefined) throw bad(a, `is a second factor (already ${opts.factor})`);
      opts.factor = Number(a);
    } else {
      throw bad(a, "is not recognised");
    }
  }
  return { kind, opts };
}

/**
 * Registry spec → settings. Accepts the colon form's args ({name: "rope", args: ["pi", "4"]}) and the
 * JSON form written by toJSON ({name: "yarn", factor: 8, ramp: "paper", originalLength: 128}); keys
 * given in the JSON form override the same option given as an argument.
 */
export function rotaryFromSpec(spec: { name: string; args?: unknown; [k: string]: unknown }): RotarySettings {
  const name = spec.name as RotaryKind;
  if (!ROTARY_KINDS.includes(name)) throw new ConfigError(`rotary: unknown scheme "${spec.name}"; accepted: ${Object.values(ROTARY_FORMS).join(", ")}`);
  const { name: _n, args, ...rest } = spec;
  if (args !== undefined && (!Array.isArray(args) || !args.every((a) => typeof a === "string"))) {
    throw fail(name, `args must be an array of strings, got ${JSON.stringify(args)}`);
  }
  const parsed = parseArgs(name, (args as string[] | undefined) ?? []);
  return resolveRotary(parsed.kind, { ...parsed.opts, ...rest });
}
