/**
 * DTransformerConfig: the paper's hyperparameters (N_V, ℓ_max, L, H, d_e, d_mlp, d_attn, d_mid)
 * plus the choices the paper leaves open, with defaults, presets and validation.
 *
 * Defaults (docs/design.md, "Defaults the paper leaves open"): GPT-2's tanh GELU and layer-norm ε = 1e-5, because GPT-2 weights
 * need them and ε = 0 makes layer norm's gradient undefined on constant inputs. The paper's exact
 * form (erf GELU, no ε) is the preset `paperExact` / options `gelu: "exact", lnEps: 0`.
 */
import { ConfigError } from "./errors.js";
import type { PositionalEncoding } from "./positional/types.js";
import { learned } from "./positional/learned.js";

export type GeluForm = "tanh" | "exact";
/** Normalisation of Alg 10 lines 5, 7, 10: layer norm (Alg 6, GPT-2) or RMSNorm (Llama, Qwen2) */
export type NormKind = "layernorm" | "rmsnorm";
/** MLP of line 8: GELU (GPT-2) or the gated SiLU MLP with gate/up/down projections (Llama, Qwen2) */
export type MlpKind = "gelu" | "gated-silu";
/** Residual wiring: sequential (Alg 10) or GPT-NeoX's parallel X ← X + MHAttn(LN1(X)) + MLP(LN2(X)) */
export type ResidualKind = "sequential" | "parallel";
/** Which projections carry a bias (a bias that is off has no parameter at all) */
export interface BiasOptions {
  q: boolean;
  k: boolean;
  v: boolean;
  o: boolean;
  mlp: boolean;
}

export interface DTransformerConfig {
  /** N_V: vocabulary size */
  nVocab: number;
  /** ℓ_max: maximum sequence length (a hard limit only for encodings that have a table, e.g. learned W_p) */
  lMax: number;
  /** L: number of layers */
  nLayers: number;
  /** H: number of heads */
  nHeads: number;
  /** d_e: residual width */
  dE: number;
  /** d_mlp: MLP hidden width */
  dMlp: number;
  /** d_attn: query/key width per head */
  dAttn: number;
  /** d_mid: value width per head */
  dMid: number;
  /** GELU form: "tanh" (GPT-2) or "exact" (the paper's eq. 5, erf) */
  gelu: GeluForm;
  /** layer-norm ε (the paper has none; PyTorch/GPT-2 use 1e-5) */
  lnEps: number;
  /** W_u = W_eᵀ (GPT-2) or a separate parameter */
  tiedEmbeddings: boolean;
  /** the positional encoding strategy (learned W_p, none, …) */
  positional: PositionalEncoding;
  /** std of the normal initialiser for weights (GPT-2: 0.02) */
  initStd: number;
  /** "layernorm" (Alg 6, default) or "rmsnorm" (γ only, ε = lnEps) */
  norm: NormKind;
  /** "gelu" (Alg 10 line 8, default) or "gated-silu" (W_gate, W_mlp1 = up, W_mlp2 = down) */
  mlp: MlpKind;
  /** H_kv: key/value heads (default H; 1 = multi-query); query head h reads key/value head ⌊h·H_kv/H⌋ */
  nKvHeads: number;
  /** bias on/off per projection (default all on); LayerNorm always has β, RMSNorm never */
  bias: BiasOptions;
  /** "sequential" (Alg 10, default) or "parallel" (GPT-NeoX) */
  residual: ResidualKind;
}

export type DTransformerOptions = Partial<Omit<DTransformerConfig, "bias">> &
  Pick<DTransformerConfig, "nVocab" | "lMax" | "nLayers" | "nHeads" | "dE"> & {
    /** a full or partial record (missing entries on), or one boolean for all */
    bias?: Partial<BiasOptions> | boolean;
  };

export const defaults = {
  gelu: "tanh" as GeluForm,
  lnEps: 1e-5,
  tiedEmbeddings: true,
  initStd: 0.02,
  norm: "layernorm" as NormKind,
  mlp: "gelu" as MlpKind,
  residual: "sequential" as ResidualKind,
};

const BIAS_KEYS = ["q", "k", "v", "o", "mlp"] as const;

/** The full bias record from the options' shorthand (undefined → all on, a boolean → all that value). */
export function resolveBias(b: Partial<BiasOptions> | boolean | undefined): BiasOptions {
  if (b === undefined) return { q: true, k: true, v: true, o: true, mlp: true };
  if (typeof b === "boolean") return { q: b, k: b, v: b, o: b, mlp: b };
  if (b === null || typeof b !== "object" || Array.isArray(b)) {
    throw new ConfigError(`DTransformerConfig: bias must be a boolean or a record { q, k, v, o, mlp } of booleans, got ${JSON.stringify(b)}`);
  }
  const unknown = Object.keys(b).filter((k) => !(BIAS_KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new ConfigError(`DTransformerConfig: bias has unknown key(s) ${unknown.map((k) => JSON.stringify(k)).join(", ")}; known: ${BIAS_KEYS.join(", ")}`);
  const out = {} as BiasOptions;
  for (const k of BIAS_KEYS) out[k] = (b[k] ?? true) as boolean;
  return out;
}

const INT_FIELDS: [keyof DTransformerConfig, string][] = [
  ["nVocab", "N_V"],
  ["lMax", "ℓ_max"],
  ["nLayers", "L"],
  ["nHeads", "H"],
  ["dE", "d_e"],
  ["dMlp", "d_mlp"],
  ["dAttn", "d_attn"],
  ["dMid", "d_mid"],
];

/** Fill defaults and validate. d_attn = d_mid = d_e/H and d_mlp = 4·d_e unless given. */
export function makeConfig(opts: DTransformerOptions): DTransformerConfig {
  if (opts == null || typeof opts !== "object") throw new ConfigError(`DTransformerConfig: expected an options object, got ${String(opts)}`);
  const nHeads = opts.nHeads;
  const dAttn = opts.dAttn ?? (Number.isInteger(opts.dE / nHeads) ? opts.dE / nHeads : NaN);
  if (opts.dAttn === undefined && !Number.isInteger(opts.dE / nHeads)) {
    throw new ConfigError(`DTransformerConfig: d_e=${opts.dE} is not divisible by H=${nHeads}; give d_attn explicitly or choose d_e a multiple of H`);
  }
  const cfg: DTransformerConfig = {
    nVocab: opts.nVocab,
    lMax: opts.lMax,
    nLayers: opts.nLayers,
    nHeads,
    dE: opts.dE,
    dMlp: opts.dMlp ?? 4 * opts.dE,
    dAttn,
    dMid: opts.dMid ?? dAttn,
    gelu: opts.gelu ?? defaults.gelu,
    lnEps: opts.lnEps ?? defaults.lnEps,
    tiedEmbeddings: opts.tiedEmbeddings ?? defaults.tiedEmbeddings,
    positional: opts.positional ?? learned(),
    initStd: opts.initStd ?? defaults.initStd,
    norm: opts.norm ?? defaults.norm,
    mlp: opts.mlp ?? defaults.mlp,
    nKvHeads: opts.nKvHeads ?? nHeads,
    bias: resolveBias(opts.bias),
    residual: opts.residual ?? defaults.residual,
  };
  validateConfig(cfg);
  return cfg;
}

/** Throw a ConfigError naming the field, its value and the rule it breaks. */
export function validateConfig(cfg: DTransformerConfig): void {
  for (const [key, sym] of INT_FIELDS) {
    const v = cfg[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new ConfigError(`DTransformerConfig: ${sym} (${key}) must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  if (cfg.nVocab > 2 ** 24) throw new ConfigError(`DTransformerConfig: N_V=${cfg.nVocab} exceeds the supported maximum 2^24 (token ids are stored as int32 and embedded by row)`);
  if (cfg.gelu !== "tanh" && cfg.gelu !== "exact") throw new ConfigError(`DTransformerConfig: gelu must be "tanh" or "exact", got ${JSON.stringify(cfg.gelu)}`);
  if (typeof cfg.lnEps !== "number" || !(cfg.lnEps >= 0) || !Number.isFinite(cfg.lnEps)) throw new ConfigError(`DTransformerConfig: lnEps must be a finite number ≥ 0, got ${cfg.lnEps}`);
  if (typeof cfg.initStd !== "number" || !(cfg.initStd > 0) || !Number.isFinite(cfg.initStd)) throw new ConfigError(`DTransformerConfig: initStd must be a finite number > 0, got ${cfg.initStd}`);
  if (typeof cfg.tiedEmbeddings !== "boolean") throw new ConfigError(`DTransformerConfig: tiedEmbeddings must be a boolean, got ${JSON.stringify(cfg.tiedEmbeddings)}`);
  validateArchitecture(cfg);
  const pe = cfg.positional;
  if (pe == null || typeof pe !== "object" || typeof pe.name !== "string") {
    throw new ConfigError(`DTransformerConfig: positional must be a PositionalEncoding strategy object (e.g. learned(), none()), got ${JSON.stringify(pe)}`);
  }
  pe.validate?.(cfg);
}

/** The architecture options (docs/design.md, "Architecture options"). */
function validateArchitecture(cfg: DTransformerConfig): void {
  const oneOf = (key: string, v: unknown, allowed: readonly string[]) => {
    if (!allowed.includes(v as string)) throw new ConfigError(`DTransformerConfig: ${key} must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, got ${JSON.stringify(v)}`);
  };
  oneOf("norm", cfg.norm, ["layernorm", "rmsnorm"]);
  oneOf("mlp", cfg.mlp, ["gelu", "gated-silu"]);
  oneOf("residual", cfg.residual, ["sequential", "parallel"]);
  const hk = cfg.nKvHeads;
  if (typeof hk !== "number" || !Number.isSafeInteger(hk) || hk < 1 || cfg.nHeads % hk !== 0) {
    throw new ConfigError(`DTransformerConfig: H_kv (nKvHeads) must be a positive integer that divides H=${cfg.nHeads} (each key/value head serves H/H_kv query heads), got ${JSON.stringify(hk)}`);
  }
  const b = cfg.bias as unknown;
  if (b === null || typeof b !== "object") throw new ConfigError(`DTransformerConfig: bias must be a record { q, k, v, o, mlp } of booleans, got ${JSON.stringify(b)}`);
  for (const k of BIAS_KEYS) {
    const v = (b as Record<string, unknown>)[k];
    if (typeof v !== "boolean") throw new ConfigError(`DTransformerConfig: bias.${k} must be a boolean, got ${JSON.stringify(v)}`);
  }
}

/** Presets, minGPT-style. Each is a complete options object; override fields with spread. */
export const presets = {
  /** a few thousand parameters: unit tests and finite differences */
  micro: { nVocab: 11, lMax: 8, nLayers: 2, nHeads: 2, dE: 8, dMlp: 16 },
  /** byte-level toy */
  tiny: { nVocab: 256, lMax: 128, nLayers: 2, nHeads: 4, dE: 64, dMlp: 256 },
  /** the reference model of docs/design.md: 891,648 parameters (learned W_p, ℓ_max = 256, untied W_u) */
  ref: { nVocab: 256, lMax: 256, nLayers: 4, nHeads: 4, dE: 128, dMlp: 512, tiedEmbeddings: false },
  /** GPT-2 small (124M) shapes */
  gpt2: { nVocab: 50257, lMax: 1024, nLayers: 12, nHeads: 12, dE: 768, dMlp: 3072 },
} as const satisfies Record<string, DTransformerOptions>;

/** The paper's exact choices: erf GELU and no ε in layer norm. */
export const paperExact = { gelu: "exact", lnEps: 0 } as const satisfies Partial<DTransformerConfig>;

/**
 * Full parameter name → shape, in a fixed order (the seeded init draws in this order). Absent under
 * the architecture options: β of RMSNorm, each bias that is off; W_gate/b_gate exist only for the
 * gated MLP; W_k/b_k/W_v/b_v have H_kv heads.
 */
export function paramShapes(cfg: DTransformerConfig): Map<string, number[]> {
  const { nVocab: V, dE, nHeads: H, dAttn, dMid, dMlp, nLayers: L } = cfg;
  const Hkv = cfg.nKvHeads ?? H;
  const bias = cfg.bias ?? resolveBias(undefined);
  const rms = cfg.norm === "rmsnorm";
  const gated = cfg.mlp === "gated-silu";
  const m = new Map<string, number[]>();
  const norm = (p: string) => (rms ? m.set(`${p}.gamma`, [dE]) : m.set(`${p}.gamma`, [dE]).set(`${p}.beta`, [dE]));
  const lin = (W: string, shape: number[], b: string | null, on: boolean) => {
    m.set(W, shape);
    if (on && b) m.set(b, [shape[1]!]);
  };
  m.set("W_e", [V, dE]);
  for (const [k, s] of Object.entries(cfg.positional.paramShapes?.(cfg) ?? {})) {
    if (!k.startsWith("pos.")) throw new ConfigError(`positional encoding "${cfg.positional.name}": parameter "${k}" must be named pos.*`);
    m.set(k, s);
  }
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}`;
    norm(`${p}.ln1`);
    lin(`${p}.attn.W_q`, [dE, H * dAttn], `${p}.attn.b_q`, bias.q);
    lin(`${p}.attn.W_k`, [dE, Hkv * dAttn], `${p}.attn.b_k`, bias.k);
    lin(`${p}.attn.W_v`, [dE, Hkv * dMid], `${p}.attn.b_v`, bias.v);
    lin(`${p}.attn.W_o`, [H * dMid, dE], `${p}.attn.b_o`, bias.o);
    norm(`${p}.ln2`);
    if (gated) lin(`${p}.mlp.W_gate`, [dE, dMlp], `${p}.mlp.b_gate`, bias.mlp);
    lin(`${p}.mlp.W_mlp1`, [dE, dMlp], `${p}.mlp.b_mlp1`, bias.mlp);
    lin(`${p}.mlp.W_mlp2`, [dMlp, dE], `${p}.mlp.b_mlp2`, bias.mlp);
  }
  norm("ln_final");
  if (!cfg.tiedEmbeddings) m.set("W_u", [dE, V]);
  return m;
}
