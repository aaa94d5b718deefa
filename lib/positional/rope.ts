/**
 * Rotary position encodings — RoPE (Su et al., RoFormer, arXiv 2104.09864 §3.2) and its
 * context-extension scalings PI, NTK-aware, dynamic NTK, YaRN and Llama 3.1 — on seam 2 (`rotate`).
 *
 *   For position m and pair j: (x_a, x_b) ↦ (x_a cos mθ'_j − x_b sin mθ'_j, x_a sin mθ'_j + x_b cos mθ'_j),
 *   applied to q and k (not v) in every layer after Alg 4 lines 1–2, so ⟨R(m)q, R(n)k⟩ depends on m−n only.
 *
 * θ'_j comes from lib/positional/rope-scaling.ts (formulas and references there; docs/literature.md, "RoPE" to "Llama 3 scaling").
 * Layouts (docs/literature.md, "RoPE"; docs/design.md, "Defaults the paper leaves open"): "half-split" pairs (j, j+d/2) — HF Llama `rotate_half`, GPT-NeoX,
 * the DEFAULT, so HF Llama weights load without permuting W_q/W_k; "interleaved" pairs (2j, 2j+1) —
 * RoFormer, meta-llama `apply_rotary_emb`, GPT-J. The layout is always written by toJSON (checkpoint).
 * Partial rotary (GPT-NeoX rotary_pct, HF partial_rotary_factor): the first d = ⌊rotaryFraction·d_attn⌋
 * dims are rotated (d must be even), the rest pass through; d is the "d" of every formula.
 * L (original training context) = option `originalLength`, default the model's ℓ_max (docs/design.md, "Defaults the paper leaves open").
 * YaRN's temperature: scores × mscale² (`scoreScale`), equal to HF's cos/sin × mscale.
 * Dynamic NTK reads ℓ = end of the PositionRange; keys are rotated after caching (docs/design.md, "KV cache and dynamic scalings").
 * Angles m·θ are formed in float64 in JS and uploaded as float32 cos/sin tables.
 */
import * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import { ConfigError, ShapeError } from "../errors.js";
import {
  dynamicNtkBase,
  llama3InverseFrequencies,
  ntkBase,
  resolveRotary,
  ROTARY_FORMS,
  ROTARY_KINDS,
  ropeInverseFrequencies,
  rotaryFromSpec,
  yarnInverseFrequencies,
  type Llama3Options,
  type RopeOptions,
  type RotaryLayout,
  type RotarySettings,
  type ScaledRopeOptions,
  type YarnOptions,
} from "./rope-scaling.js";
import type { EncodingTraits, PeContext, PositionalEncoding, PositionalEntry, PositionalSpec, PositionRange } from "./types.js";

export * from "./rope-scaling.js";

/**
 * Rotate the first 2·invFreq.length coordinates of a plain vector at position m (tests, plots).
 * @example applyRotaryArray([1, 2, 3, 4], 1, ropeInverseFrequencies(4, 1e4), "interleaved")
 */
export function applyRotaryArray(vec: readonly number[], m: number, invFreq: ArrayLike<number>, layout: RotaryLayout): number[] {
  const h = invFreq.length;
  if (vec.length < 2 * h) throw new ShapeError(`applyRotaryArray: vec has ${vec.length} entries but ${h} pairs need ${2 * h}`);
  const out = vec.slice();
  for (let j = 0; j < h; j++) {
    const [ia, ib] = layout === "interleaved" ? [2 * j, 2 * j + 1] : [j, j + h];
    const angle = m * invFreq[j]!;
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    out[ia] = vec[ia]! * c - vec[ib]! * s;
    out[ib] = vec[ia]! * s + vec[ib]! * c;
  }
  return out;
}

/** cos and sin of m·θ_j for m ∈ pos, row-major [ℓ, θ.length], computed in float64, stored as float32. */
export function rotaryTables(invFreq: ArrayLike<number>, pos: PositionRange): { cos: Float32Array; sin: Float32Array } {
  const h = invFreq.length;
  const cos = new Float32Array(pos.length * h);
  const sin = new Float32Array(pos.length * h);
  for (let i = 0; i < pos.length; i++) {
    const m = pos.start + i;
    for (let j = 0; j < h; j++) {
      const a = m * invFreq[j]!;
      cos[i * h + j] = Math.cos(a);
      sin[i * h + j] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** (a, b) ↦ (a·c − b·s, a·s + b·c), concatenated along the last axis. */
function rotatePairs(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, s: tf.Tensor, axis: number): tf.Tensor {
  return tf.concat([tf.sub(tf.mul(a, c), tf.mul(b, s)), tf.add(tf.mul(a, s), tf.mul(b, c))], axis);
}

/**
 * Rotate x [B, H, ℓ, d_attn] whose rows sit at `pos`, pairing the first 2·h dims (h = invFreq.length)
 * in `layout`; the other dims pass through. Only slice/reshape/concat/mul/add/sub: differentiable on
 * every backend (no stridedSlice).
 */
export function applyRotary(x: tf.Tensor, invFreq: ArrayLike<number>, pos: PositionRange, layout: RotaryLayout, tables = rotaryTables(invFreq, pos)): tf.Tensor {
  const [B, H, l, d] = x.shape as [number, number, number, number];
  const h = invFreq.length;
  if (x.rank !== 4 || l !== pos.length || 2 * h > d) {
    throw new ShapeError(`applyRotary: x must be [B, H, ℓ=${pos.length}, d_attn ≥ ${2 * h}], got [${x.shape.join(", ")}]`);
  }
  return tf.tidy(() => {
    const xr = 2 * h === d ? x : tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 2 * h]);
    let rot: tf.Tensor;
    if (layout === "half-split") {
      const c = tf.tensor2d(tables.cos, [l, h]);
      const s = tf.tensor2d(tables.sin, [l, h]);
      rot = rotatePairs(tf.slice(xr, [0, 0, 0, 0], [-1, -1, -1, h]), tf.slice(xr, [0, 0, 0, h], [-1, -1, -1, h]), c, s, 3);
    } else {
      const c = tf.tensor3d(tables.cos, [l, h, 1]);
      const s = tf.tensor3d(tables.sin, [l, h, 1]);
      const p = tf.reshape(xr, [B * H, l, h, 2]);
      rot = tf.reshape(rotatePairs(tf.slice(p, [0, 0, 0, 0], [-1, -1, -1, 1]), tf.slice(p, [0, 0, 0, 1], [-1, -1, -1, 1]), c, s, 3), [B, H, l, 2 * h]);
    }
    return 2 * h === d ? rot : tf.concat([rot, tf.slice(x, [0, 0, 0, 2 * h], [-1, -1, -1, d - 2 * h])], 3);
  });
}

function labelOf(s: RotarySettings): string {
  const lay = `${s.layout}, b=${s.base}${s.rotaryFraction !== 1 ? `, ${s.rotaryFraction} of d_attn` : ""}`;
  switch (s.kind) {
    case "rope":
      return `RoPE (${lay})`;
    case "pi":
      return `PI ×${s.factor} (RoPE θ/s; ${lay})`;
    case "ntk":
      return `NTK-aware ×${s.factor} (b' = b·s^{d/(d−2)}; ${lay})`;
    case "dynamic-ntk":
      return `dynamic NTK (factor ${s.factor}, s from ℓ/L; ${lay})`;
    case "yarn":
      return `YaRN ×${s.factor} (${s.ramp} ramp, α=${s.alpha}, β=${s.beta}, scores × ${s.attentionFactor!.toPrecision(6)}²; ${lay})`;
    case "llama3":
      return `Llama-3 ×${s.factor} (low ${s.lowFreqFactor}, high ${s.highFreqFactor}; ${lay})`;
  }
}

/**
 * A rotary encoding: RoPE or one of its scalings, chosen by `settings.kind`. Owns no parameters and
 * has no ℓ limit. Build with rope(), ropePI(), ropeNTK(), ropeDynamicNTK(), yarn(), llama3() or
 * positionalFrom("rope:pi:4").
 */
export class RotaryEncoding implements PositionalEncoding {
  readonly name: string;
  readonly label: string;
  private readonly memo = new Map<string, { cos: Float32Array; sin: Float32Array }>();

  constructor(readonly settings: Readonly<RotarySettings>) {
    this.name = settings.kind;
    this.label = labelOf(settings);
  }

  /** Every scaling is a pairwise rotation by m·θ'_j (the JS decoder's closed form). */
  get traits(): EncodingTraits {
    return { rotaryLayout: this.settings.layout };
  }

  maxPositions(): undefined {
    return undefined;
  }

  /** d: how many of d_attn's dims are rotated, ⌊rotaryFraction·d_attn⌋. */
  rotaryDims(cfg: DTransformerConfig): number {
    return Math.floor(this.settings.rotaryFraction * cfg.dAttn + 1e-9);
  }

  /** L: the original training context (option originalLength, else the model's ℓ_max). */
  originalLength(cfg: DTransformerConfig): number {
    return this.settings.originalLength ?? cfg.lMax;
  }

  /**
   * θ'_j for j = 0…d/2−1 (d = rotaryDims). `seqLen` matters only for dynamic NTK: undefined or
   * ≤ L gives plain RoPE.
   */
  inverseFrequencies(cfg: DTransformerConfig, seqLen?: number): Float64Array {
    const s = this.settings;
    const d = this.rotaryDims(cfg);
    const L = this.originalLength(cfg);
    const f = s.factor ?? 1;
    switch (s.kind) {
      case "rope":
        return ropeInverseFrequencies(d, s.base);
      case "pi":
        return ropeInverseFrequencies(d, s.base).map((t) => t / f);
      case "ntk":
        return ropeInverseFrequencies(d, ntkBase(s.base, f, d));
      case "dynamic-ntk":
        return ropeInverseFrequencies(d, dynamicNtkBase(s.base, d, L, seqLen ?? L, f));
      case "yarn":
        return yarnInverseFrequencies(d, s.base, L, f, { alpha: s.alpha!, beta: s.beta!, ramp: s.ramp! });
      case "llama3":
        return llama3InverseFrequencies(d, s.base, L, { factor: f, lowFreqFactor: s.lowFreqFactor!, highFreqFactor: s.highFreqFactor! });
    }
  }

  /** m·θ'_j for each position m: [n][d/2]. `seqLen` defaults to max(positions)+1 (dynamic NTK only). */
  angles(positions: readonly number[], cfg: DTransformerConfig, seqLen?: number): number[][] {
    const inv = this.inverseFrequencies(cfg, seqLen ?? positions.reduce((a, m) => Math.max(a, m), 0) + 1);
    return positions.map((m) => Array.from(inv, (t) => m * t));
  }

  /** The multiplier on the scaled scores: YaRN's mscale² (attentionFactor²), 1 for the others. */
  attentionScale(_cfg?: DTransformerConfig, _seqLen?: number): number {
    return this.settings.kind === "yarn" ? this.settings.attentionFactor! ** 2 : 1;
  }

  /** Seam 2: rotate q or k [B, H, ℓ, d_attn] at `pos`; ℓ_seq = pos.start + pos.length (dynamic NTK). */
  rotate(t: tf.Tensor, pos: PositionRange, _which: "q" | "k", ctx: PeContext): tf.Tensor {
    const cfg = ctx.cfg;
    if (t.rank !== 4 || t.shape[3] !== cfg.dAttn) {
      throw new ShapeError(`${this.name}.rotate: expected [B, H, ℓ, d_attn=${cfg.dAttn}], got [${t.shape.join(", ")}]`);
    }
    const inv = this.inverseFrequencies(cfg, pos.start + pos.length);
    return applyRotary(t, inv, pos, this.settings.layout, this.tables(inv, pos));
  }

  /** Scores multiplier (YaRN's temperature); 1 unless kind is "yarn". */
  scoreScale(_pos: PositionRange, ctx: PeContext): number {
    return this.attentionScale(ctx.cfg);
  }

  validate(cfg: DTransformerConfig): void {
    const s = this.settings;
    const d = this.rotaryDims(cfg);
    if (cfg.dAttn % 2 !== 0) throw new ConfigError(`${s.kind}: d_attn=${cfg.dAttn} must be even (rotary encodings rotate pairs of coordinates)`);
    if (d < 2 || d % 2 !== 0) {
      throw new ConfigError(`${s.kind}: rotaryFraction=${s.rotaryFraction} × d_attn=${cfg.dAttn} gives ${d} rotated dims; that must be an even number ≥ 2`);
    }
    if ((s.kind === "ntk" || s.kind === "dynamic-ntk") && d <= 2) {
      throw new ConfigError(`${s.kind}: needs more than 2 rotated dims (b' = b·s^{d/(d−2)}), got d=${d} (d_attn=${cfg.dAttn}, rotaryFraction=${s.rotaryFraction})`);
    }
    resolveRotary(s.kind, this.options());
  }

  /** JSON spec with every option (layout always written); originalLength only when given (else ℓ_max). */
  toJSON(): PositionalSpec {
    return { name: this.name, ...this.options() };
  }

  private options(): Record<string, unknown> {
    const { kind: _k, ...rest } = this.settings;
    return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  }

  private tables(inv: Float64Array, pos: PositionRange): { cos: Float32Array; sin: Float32Array } {
    const key = `${pos.start}:${pos.length}:${inv.join(",")}`;
    let t = this.memo.get(key);
    if (!t) {
      if (this.memo.size >= 8) this.memo.delete(this.memo.keys().next().value!);
      t = rotaryTables(inv, pos);
      this.memo.set(key, t);
    }
    return t;
  }
}

/** Plain RoPE, θ_j = b^{−2j/d}. @example rope({ layout: "interleaved" }) */
export function rope(opts: RopeOptions = {}): RotaryEncoding {
  return new RotaryEncoding(resolveRotary("rope", { ...opts }));
}

/** Position Interpolation ×s: θ_j/s, i.e. RoPE at positions m/s. @example ropePI(4) */
export function ropePI(s: number, opts: ScaledRopeOptions = {}): RotaryEncoding {
  return new RotaryEncoding(resolveRotary("pi", { ...opts, factor: s }));
}

/** NTK-aware ×s: base b' = b·s^{d/(d−2)}. @example ropeNTK(4) */
export function ropeNTK(s: number, opts: ScaledRopeOptions = {}): RotaryEncoding {
  return new RotaryEncoding(resolveRotary("ntk", { ...opts, factor: s }));
}

/** Dynamic NTK (HF "dynamic"): for ℓ > L, b' = b·(factor·ℓ/L − (factor−1))^{d/(d−2)}; else b. */
export function ropeDynamicNTK(opts: ScaledRopeOptions & { factor?: number } = {}): RotaryEncoding {
  return new RotaryEncoding(resolveRotary("dynamic-ntk", { ...opts }));
}

/** YaRN ×s: NTK-by-parts frequencies and scores × mscale² (default ramp "implementation"). @example yarn(8, { ramp: "paper" }) */
export function yarn(s: number, opts: YarnOptions = {}): RotaryEncoding {
  return new RotaryEncoding(resolveRotary("yarn", { ...opts, factor: s }));
}

/** Llama 3.1 scaling (factor 8, low 1, high 4 by default). @example llama3({ factor: 8, originalLength: 8192, base: 5e5 }) */
export function llama3(opts: ScaledRopeOptions & Llama3Options = {}): RotaryEncoding {
  return new RotaryEncoding(resolveRotary("llama3", { ...opts }));
}

/** Registry entries (lib/positional/registry.ts): RoPE and each scaling under its own name. */
export const ROTARY_ENTRIES: PositionalEntry[] = ROTARY_KINDS.map((kind) => ({ name: kind, factory: (spec) => new RotaryEncoding(rotaryFromSpec(spec)), help: ROTARY_FORMS[kind] }));
