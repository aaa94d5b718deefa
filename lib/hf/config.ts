/**
 * Hugging Face config.json → a typed architecture spec (`HfArchSpec`) for model_type llama, qwen2,
 * gpt_neox and gpt2, and the spec's rope_scaling → ctxlab's rotary encodings with Hugging Face's
 * semantics (transformers `modeling_rope_utils.py`, 5.x; differences to older 4.x noted below).
 *
 * The spec describes the architecture; lib/hf/pretrained.ts maps it onto ctxlab's architecture options
 * (`configFromHfSpec`): LayerNorm or RMSNorm, GELU or gated SiLU MLP, key/value heads, bias per
 * projection, sequential or parallel residual, head width, tied unembedding.
 *
 * rope_scaling (`rope_type`, legacy `type`; also 5.x `rope_parameters` with rope_theta inside), L = the
 * original context, d = rotated dims = ⌊head_dim · partial_rotary_factor⌋, b = rope_theta:
 *   linear   θ_j/factor                                                       → ropePI(factor)
 *   dynamic  b' = b·(factor·T/L − (factor−1))^{d/(d−2)} for T > L, T = max position + 1, L =
 *            max_position_embeddings (HF's dynamic ignores original_max_position_embeddings)
 *                                                                             → ropeDynamicNTK({factor, originalLength: L})
 *   yarn     L = original_max_position_embeddings (else max_position_embeddings); factor as given
 *            (5.x: only when factor is absent is it max_position_embeddings/L; 4.4x–4.5x overwrote it
 *            with that ratio whenever original_max_position_embeddings was given);
 *            attention_factor as given, else mscale(factor, mscale)/mscale(factor, mscale_all_dim)
 *            when both keys are truthy, else mscale(factor) = 0.1·ln(factor)+1 (1 for factor ≤ 1);
 *            beta_fast = value || 32, beta_slow = value || 1 (Python `or`: 0 means the default);
 *            truncate = true (floor/ceil of the correction range; false is refused)
 *                                                                             → yarn(factor, {alpha: beta_slow, beta: beta_fast, originalLength: L, attentionFactor})
 *   llama3   factor, low_freq_factor, high_freq_factor, original_max_position_embeddings (all required)
 *                                                                             → llama3({...})
 * HF multiplies cos and sin by attention_factor, i.e. the ROTATED dims of q and k: with full rotary
 * that is ctxlab's scores × attention_factor²; with partial rotary and attention_factor ≠ 1 it is not
 * expressible (refused). Other rope types (longrope, su, …) are refused with the supported list.
 */
import { ConfigError } from "../errors.js";
import type { PositionalEncoding } from "../positional/types.js";
import { ropeDynamicNTK, ropePI, rope, yarn, llama3 } from "../positional/rope.js";
import { learned } from "../positional/learned.js";

export const HF_MODEL_TYPES = ["llama", "qwen2", "gpt_neox", "gpt2"] as const;
export type HfModelType = (typeof HF_MODEL_TYPES)[number];
export const HF_ROPE_TYPES = ["default", "linear", "dynamic", "yarn", "llama3"] as const;
export type HfRopeType = (typeof HF_ROPE_TYPES)[number];

/** rope_scaling after HF's defaults are applied. */
export interface HfRopeScaling {
  type: Exclude<HfRopeType, "default">;
  factor: number;
  /** L: original_max_position_embeddings for yarn/llama3 (default max_position_embeddings), max_position_embeddings for dynamic */
  originalLength: number;
  /** yarn: the multiplier on cos and sin (scores × its square) */
  attentionFactor?: number;
  betaFast?: number;
  betaSlow?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  /** the JSON as found */
  raw: Record<string, unknown>;
}

export type HfPositional =
  | { kind: "learned"; nPositions: number }
  | { kind: "rotary"; base: number; rotaryFraction: number; rotaryDims: number; layout: "half-split"; scaling: HfRopeScaling | null };

/** The architecture a config.json describes (every option ctxlab needs to build it). */
export interface HfArchSpec {
  modelType: HfModelType;
  architectures: string[];
  nVocab: number;
  /** d_e (hidden_size / n_embd) */
  dE: number;
  nLayers: number;
  nHeads: number;
  /** key/value heads (GQA/MQA when < nHeads) */
  nKvHeads: number;
  /** width of one head (head_dim, else d_e/H) */
  headDim: number;
  /** d_mlp (intermediate_size / n_inner) */
  dMlp: number;
  /** max_position_embeddings / n_positions */
  maxPositions: number;
  norm: { kind: "layernorm" | "rmsnorm"; eps: number };
  mlp: { kind: "gelu" | "gated-silu"; activation: string; gelu?: "tanh" | "exact" };
  bias: { qkv: boolean; o: boolean; mlp: boolean };
  parallelResidual: boolean;
  tiedEmbeddings: boolean;
  positional: HfPositional;
  /** the config.json as read */
  raw: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const show = (v: unknown) => {
  const s = v === undefined ? "undefined" : JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

const TANH = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];
const EXACT = ["gelu"];

/** Parse a config.json value. Throws ConfigError naming the key, the value and the rule. */
export function parseHfConfig(json: unknown, source = "config.json"): HfArchSpec {
  const fail = (m: string): never => {
    throw new ConfigError(`${source}: ${m}`);
  };
  if (!isObj(json)) return fail(`expected a JSON object, got ${show(json)}`);
  const mt = json.model_type;
  if (typeof mt !== "string" || !(HF_MODEL_TYPES as readonly string[]).includes(mt)) {
    return fail(`model_type ${show(mt)} is not supported; supported model types: ${HF_MODEL_TYPES.join(", ")}`);
  }
  const modelType = mt as HfModelType;
  const int = (key: string, dflt?: number): number => {
    const v = json[key] ?? dflt;
    if (v === undefined) fail(`${modelType}: key "${key}" is missing`);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) fail(`${modelType}: key "${key}" must be a positive integer, got ${show(v)}`);
    return v as number;
  };
  const num = (key: string, dflt: number, rule: (x: number) => boolean, ruleText: string): number => {
    const v = json[key] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || !rule(v)) fail(`${modelType}: key "${key}" must be ${ruleText}, got ${show(v)}`);
    return v as number;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = json[key] ?? dflt;
    if (typeof v !== "boolean") fail(`${modelType}: key "${key}" must be true or false, got ${show(v)}`);
    return v as boolean;
  };
  const architectures = Array.isArray(json.architectures) ? json.architectures.filter((a): a is string => typeof a === "string") : [];
  const geluOf = (key: string, dflt: string): { activation: string; gelu: "tanh" | "exact" } => {
    const a = json[key] ?? dflt;
    if (typeof a !== "string" || ![...TANH, ...EXACT].includes(a)) fail(`${modelType}: key "${key}"=${show(a)} is not supported; supported: ${[...EXACT, ...TANH].join(", ")}`);
    return { activation: a as string, gelu: EXACT.includes(a as string) ? "exact" : "tanh" };
  };

  if (modelType === "gpt2") {
    const dE = int("n_embd");
    const nHeads = int("n_head");
    if (dE % nHeads) fail(`gpt2: n_embd=${dE} is not divisible by n_head=${nHeads}`);
    const nPositions = json.n_positions === undefined && json.n_ctx !== undefined ? int("n_ctx") : int("n_positions");
    const act = geluOf("activation_function", "gelu_new");
    return {
      modelType, architectures, nVocab: int("vocab_size"), dE, nLayers: int("n_layer"), nHeads, nKvHeads: nHeads, headDim: dE / nHeads,
      dMlp: json.n_inner == null ? 4 * dE : int("n_inner"), maxPositions: nPositions,
      norm: { kind: "layernorm", eps: num("layer_norm_epsilon", 1e-5, (x) => x >= 0, "a finite number ≥ 0") },
      mlp: { kind: "gelu", ...act }, bias: { qkv: true, o: true, mlp: true }, parallelResidual: false,
      tiedEmbeddings: bool("tie_word_embeddings", true), positional: { kind: "learned", nPositions }, raw: json,
    };
  }

  const dE = int("hidden_size");
  const nHeads = int("num_attention_heads");
  const maxPositions = int("max_position_embeddings", modelType === "gpt_neox" ? 2048 : undefined);
  const nKvHeads = modelType === "gpt_neox" ? nHeads : int("num_key_value_heads", nHeads);
  if (nHeads % nKvHeads) fail(`${modelType}: num_attention_heads=${nHeads} is not a multiple of num_key_value_heads=${nKvHeads}`);
  const headDim = json.head_dim == null ? (dE % nHeads ? fail(`${modelType}: hidden_size=${dE} is not divisible by num_attention_heads=${nHeads} and head_dim is not given`) : dE / nHeads) : int("head_dim");
  // rope parameters: 5.x nests them in rope_parameters (with rope_theta inside), 4.x uses rope_theta + rope_scaling
  const rp = isObj(json.rope_parameters) ? json.rope_parameters : undefined;
  const thetaKey = modelType === "gpt_neox" && json.rope_theta === undefined ? "rotary_emb_base" : "rope_theta";
  const baseRaw = rp?.rope_theta ?? json[thetaKey] ?? 10000;
  if (typeof baseRaw !== "number" || !(baseRaw > 1) || !Number.isFinite(baseRaw)) fail(`${modelType}: ${rp ? "rope_parameters.rope_theta" : thetaKey} must be a finite number > 1, got ${show(baseRaw)}`);
  const fracKey = modelType === "gpt_neox" && json.partial_rotary_factor === undefined ? "rotary_pct" : "partial_rotary_factor";
  const fracRaw = rp?.partial_rotary_factor ?? json[fracKey] ?? (modelType === "gpt_neox" ? 0.25 : 1);
  if (typeof fracRaw !== "number" || !(fracRaw > 0 && fracRaw <= 1)) fail(`${modelType}: ${fracKey} must be in (0, 1], got ${show(fracRaw)}`);
  const rotaryDims = Math.floor(headDim * (fracRaw as number));
  if (rotaryDims < 2 || rotaryDims % 2) fail(`${modelType}: ${fracKey}=${fracRaw} × head_dim=${headDim} gives ${rotaryDims} rotated dims; must be an even number ≥ 2`);
  const scalingRaw = rp && (rp.rope_type ?? rp.type) !== undefined ? rp : json.rope_scaling;
  const scaling = parseRopeScaling(scalingRaw, { maxPositions, source: `${source}: ${modelType}: ${rp ? "rope_parameters" : "rope_scaling"}` });
  const positional: HfPositional = { kind: "rotary", base: baseRaw as number, rotaryFraction: fracRaw as number, rotaryDims, layout: "half-split", scaling };

  if (modelType === "gpt_neox") {
    const act = geluOf("hidden_act", "gelu");
    return {
      modelType, architectures, nVocab: int("vocab_size"), dE, nLayers: int("num_hidden_layers"), nHeads, nKvHeads, headDim,
      dMlp: int("intermediate_size", 4 * dE), maxPositions,
      norm: { kind: "layernorm", eps: num("layer_norm_eps", 1e-5, (x) => x >= 0, "a finite number ≥ 0") },
      mlp: { kind: "gelu", ...act },
      bias: { qkv: bool("attention_bias", true), o: bool("attention_bias", true), mlp: true },
      parallelResidual: bool("use_parallel_residual", true), tiedEmbeddings: bool("tie_word_embeddings", false), positional, raw: json,
    };
  }
  // llama, qwen2
  const act = json.hidden_act ?? "silu";
  if (act !== "silu") fail(`${modelType}: hidden_act=${show(act)} is not supported; supported: "silu" (gated SiLU MLP)`);
  if (modelType === "qwen2" && json.use_sliding_window === true) fail(`qwen2: use_sliding_window=true is not supported (sliding-window attention); supported: false`);
  const attnBias = modelType === "qwen2" ? true : bool("attention_bias", false);
  return {
    modelType, architectures, nVocab: int("vocab_size"), dE, nLayers: int("num_hidden_layers"), nHeads, nKvHeads, headDim,
    dMlp: int("intermediate_size"), maxPositions,
    norm: { kind: "rmsnorm", eps: num("rms_norm_eps", 1e-6, (x) => x >= 0, "a finite number ≥ 0") },
    mlp: { kind: "gated-silu", activation: "silu" },
    bias: { qkv: attnBias, o: modelType === "qwen2" ? false : attnBias, mlp: modelType === "llama" ? bool("mlp_bias", false) : false },
    parallelResidual: false, tiedEmbeddings: bool("tie_word_embeddings", false), positional, raw: json,
  };
}

/** HF's get_mscale: 0.1·m·ln(s) + 1, or 1 for s ≤ 1. */
export function hfYarnMscale(s: number, m = 1): number {
  return s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1;
}

/**
 * rope_scaling (or rope_parameters) → HfRopeScaling with HF's defaults, or null for none/"default".
 * Throws ConfigError for an unsupported type (listing the supported ones) or a bad value.
 */
export function parseRopeScaling(raw: unknown, o: { maxPositions: number; source?: string }): HfRopeScaling | null {
  const src = o.source ?? "rope_scaling";
  const fail = (m: string): never => {
    throw new ConfigError(`${src}: ${m}`);
  };
  if (raw == null) return null;
  if (!isObj(raw)) return fail(`expected an object or null, got ${show(raw)}`);
  const t = raw.rope_type ?? raw.type;
  if (t === undefined || t === "default") return null;
  if (typeof t !== "string" || !(HF_ROPE_TYPES as readonly string[]).includes(t)) {
    return fail(`rope type ${show(t)} is not supported; supported: ${HF_ROPE_TYPES.join(", ")} (ctxlab: none, PI, dynamic NTK, YaRN, Llama-3)`);
  }
  const pos = (key: string, v: unknown, rule: (x: number) => boolean, ruleText: string): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || !rule(v)) fail(`${t}: "${key}" must be ${ruleText}, got ${show(v)}`);
    return v as number;
  };
  const omRaw = raw.original_max_position_embeddings;
  const om = omRaw === undefined || omRaw === null ? undefined : pos("original_max_position_embeddings", omRaw, (x) => Number.isSafeInteger(x) && x >= 1, "a positive integer");
  if (t === "yarn") {
    const L = om ?? o.maxPositions;
    const factor = raw.factor == null ? o.maxPositions / L : pos("factor", raw.factor, (x) => x >= 1, "a number ≥ 1");
    if (!(factor >= 1)) fail(`yarn: factor (max_position_embeddings / original_max_position_embeddings = ${factor}) must be ≥ 1`);
    if (raw.truncate === false) fail(`yarn: truncate=false (unrounded correction range) is not supported; ctxlab's YaRN uses HF's default truncate=true`);
    let attentionFactor: number;
    if (raw.attention_factor != null) attentionFactor = pos("attention_factor", raw.attention_factor, (x) => x > 0, "a number > 0");
    else {
      const m = raw.mscale == null ? 0 : pos("mscale", raw.mscale, (x) => x >= 0, "a number ≥ 0");
      const mAll = raw.mscale_all_dim == null ? 0 : pos("mscale_all_dim", raw.mscale_all_dim, (x) => x >= 0, "a number ≥ 0");
      attentionFactor = m && mAll ? hfYarnMscale(factor, m) / hfYarnMscale(factor, mAll) : hfYarnMscale(factor);
    }
    // Python `or`: None and 0 both fall back to the defaults
    const betaFast = raw.beta_fast ? pos("beta_fast", raw.beta_fast, (x) => x > 0, "a number > 0") : 32;
    const betaSlow = raw.beta_slow ? pos("beta_slow", raw.beta_slow, (x) => x > 0, "a number > 0") : 1;
    if (!(betaFast > betaSlow)) fail(`yarn: beta_fast=${betaFast} must be > beta_slow=${betaSlow}`);
    return { type: "yarn", factor, originalLength: L, attentionFactor, betaFast, betaSlow, raw };
  }
  const factor = pos("factor", raw.factor, (x) => x >= 1, "a number ≥ 1");
  if (t === "linear") return { type: "linear", factor, originalLength: om ?? o.maxPositions, raw };
  if (t === "dynamic") return { type: "dynamic", factor, originalLength: o.maxPositions, raw };
  // llama3: HF requires every key
  if (om === undefined) fail(`llama3: "original_max_position_embeddings" is required`);
  const low = pos("low_freq_factor", raw.low_freq_factor, (x) => x > 0, "a number > 0");
  const high = pos("high_freq_factor", raw.high_freq_factor, (x) => x > low, `a number > low_freq_factor=${low}`);
  return { type: "llama3", factor, originalLength: om!, lowFreqFactor: low, highFreqFactor: high, raw };
}

/**
 * The ctxlab positional encoding for a spec (learned W_p, or RoPE with the mapped scaling; half-split,
 * HF's rotate_half). Throws ConfigError for what ctxlab cannot express (YaRN's attention factor with
 * partial rotary).
 */
export function positionalFromHf(spec: HfArchSpec): PositionalEncoding {
  const p = spec.positional;
  if (p.kind === "learned") return learned();
  const common = { base: p.base, layout: p.layout, rotaryFraction: p.rotaryFraction } as const;
  const s = p.scaling;
  if (!s) return rope(common);
  switch (s.type) {
    case "linear":
      return ropePI(s.factor, { ...common, originalLength: s.originalLength });
    case "dynamic":
      return ropeDynamicNTK({ ...common, factor: s.factor, originalLength: s.originalLength });
    case "yarn":
      if (p.rotaryFraction !== 1 && Math.abs(s.attentionFactor! - 1) > 0) {
        throw new ConfigError(
          `${spec.modelType}: YaRN with partial rotary (${p.rotaryFraction}) and attention_factor=${s.attentionFactor} is not expressible: HF scales only the rotated dims of q and k, ctxlab scales whole scores`,
        );
      }
      return yarn(s.factor, { ...common, originalLength: s.originalLength, alpha: s.betaSlow!, beta: s.betaFast!, attentionFactor: s.attentionFactor! });
    case "llama3":
      return llama3({ ...common, factor: s.factor, originalLength: s.originalLength, lowFreqFactor: s.lowFreqFactor!, highFreqFactor: s.highFreqFactor! });
  }
}

/**
 * The options of `spec` that ctxlab's DTransformer cannot build (empty when it can). Every spec that
 * parseHfConfig accepts builds since the architecture options (RMSNorm, gated SiLU MLP, grouped-query
 * attention, bias per projection, parallel residual, free head width); what ctxlab cannot express is
 * refused while parsing (sliding-window attention, other activations, other rope types) or when the
 * encoding is built (YaRN's attention factor with partial rotary). Kept as the place for the next one.
 */
export function missingOptions(spec: HfArchSpec): string[] {
  const out: string[] = [];
  if (spec.modelType === "gpt_neox" && spec.nKvHeads !== spec.nHeads) out.push(`grouped-query attention in gpt_neox`);
  return out;
}

/** Throws ConfigError listing what ctxlab cannot build, unless it can build the spec. */
export function assertBuildable(spec: HfArchSpec, source = "config.json"): void {
  const m = missingOptions(spec);
  if (m.length) {
    throw new ConfigError(`${source}: model_type "${spec.modelType}" parsed, but ${m.join("; ")} ${m.length > 1 ? "are" : "is"} not available in ctxlab's DTransformer`);
  }
}
