/**
 * Checkpoints in the Hugging Face GPT-2 layout: a directory holding `config.json` and
 * `model.safetensors`, so GPT-2 weights load directly and ctxlab models can be read back by HF.
 *
 * config.json ↔ DTransformerConfig:
 *   vocab_size = N_V, n_positions = ℓ_max, n_embd = d_e, n_layer = L, n_head = H,
 *   n_inner = d_mlp (null → 4·d_e), layer_norm_epsilon = ε (default 1e-5),
 *   activation_function "gelu_new" (also "gelu_pytorch_tanh", "gelu_fast") = tanh GELU, "gelu" = erf GELU,
 *   tie_word_embeddings (default true). ctxlab's own fields sit under "ctxlab"
 *   ({format: 1, positional, d_attn, d_mid, gelu, ln_eps, init_std, tied}) and win over the GPT-2
 *   fields; without them a file loads as learned positions and d_attn = d_mid = d_e/H.
 *
 * model.safetensors ↔ θ (names may carry a "transformer." prefix; Conv1D weights are [in, out],
 * which is ctxlab's row-major orientation, so no weight is transposed except lm_head):
 *   wte.weight [N_V, d_e]                 = W_e
 *   wpe.weight [ℓ_max, d_e]               = pos.W_p (only if the encoding has it; other pos.* keep their names)
 *   h.{l}.ln_1.weight / bias              = blocks.{l}.ln1.gamma / beta
 *   h.{l}.attn.c_attn.weight [d_e, 2·H·d_attn + H·d_mid] = [W_q | W_k | W_v] (columns), bias likewise
 *   h.{l}.attn.c_proj.weight [H·d_mid, d_e] / bias = W_o / b_o
 *   h.{l}.ln_2.weight / bias              = blocks.{l}.ln2.gamma / beta
 *   h.{l}.mlp.c_fc.weight [d_e, d_mlp]    = W_mlp1, bias = b_mlp1
 *   h.{l}.mlp.c_proj.weight [d_mlp, d_e]  = W_mlp2, bias = b_mlp2
 *   ln_f.weight / bias                    = ln_final.gamma / beta
 *   lm_head.weight [N_V, d_e]             = W_uᵀ when untied; when tied it must equal wte.weight
 * Old buffers h.{l}.attn.bias / masked_bias and other unknown names are ignored; h.{l} with
 * l ≥ L is an error. Every shape is checked against the config before any data is converted.
 * A model with architecture options the GPT-2 layout cannot hold (RMSNorm, gated MLP, H_kv < H,
 * biases off, parallel residual) is written with model_type "ctxlab" and θ's own tensor names
 * (lib/io/arch-tensors.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { makeConfig, type DTransformerConfig, type GeluForm } from "../config.js";
import { CheckpointError } from "../errors.js";
import { DTransformer } from "../model/dtransformer.js";
import { ParamStore, paramShapes } from "../model/params.js";
import { positionalFrom, type PositionalEncoding, type PositionalSpec } from "../positional/index.js";
import { archFromJson, archJson, CTXLAB_TENSORS, fromCtxlabTensors, isGpt2Architecture, toCtxlabTensors } from "./arch-tensors.js";
import { readSafetensorsDir, SAFETENSORS_INDEX_FILE, toFloat32, writeFileAtomic, writeSafetensorsFile, type SafeTensor } from "./safetensors.js";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
const FORMAT = 1;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
/** A value for an error message: its JSON, cut to 200 characters; never throws (JSON.stringify does on deep nesting). */
const show = (v: unknown): string => {
  let s: string;
  try {
    s = v === undefined ? "undefined" : JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? "an array nested too deeply to print" : `a ${typeof v} nested too deeply to print`;
  }
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
};
const isPosInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
/** An error's message for wrapping, cut to 1,000 characters (a value echoed by a nested check can be huge). */
const msg = (e: unknown) => {
  const m = e instanceof Error ? e.message : String(e);
  return m.length > 1000 ? `${m.slice(0, 997)}...` : m;
};

const TANH_NAMES = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];

/** Validate a GPT-2 config.json value (with optional "ctxlab" fields) and build the config. */
export function configFromGpt2Json(json: unknown, source = CONFIG_FILE): DTransformerConfig {
  const fail = (m: string): never => {
    throw new CheckpointError(`${source}: ${m}`);
  };
  if (!isObj(json)) return fail(`expected a JSON object (Hugging Face GPT-2 config), got ${Array.isArray(json) ? "an array" : show(json)}`);
  if (json.model_type !== undefined && json.model_type !== "gpt2" && json.model_type !== "ctxlab") fail(`model_type ${show(json.model_type)} is not supported here; loadCheckpoint reads "gpt2" and ctxlab's own "ctxlab" (other Hugging Face models: loadPretrained)`);
  const int = (field: string, sym: string, v: unknown = json[field]): number => {
    if (v === undefined) fail(`field "${field}" (${sym}) is missing`);
    if (!isPosInt(v)) fail(`field "${field}" (${sym}) must be a positive integer, got ${show(v)}`);
    return v as number;
  };
  const cx = json.ctxlab;
  if (cx !== undefined && !isObj(cx)) fail(`field "ctxlab" must be an object, got ${show(cx)}`);
  const c: Record<string, unknown> = isObj(cx) ? cx : {};
  if (isObj(cx) && cx.format !== FORMAT) fail(`ctxlab.format is ${show(cx.format)}; this ctxlab reads format ${FORMAT} (written by a newer ctxlab?)`);

  const nVocab = int("vocab_size", "N_V");
  const lMax = json.n_positions === undefined && json.n_ctx !== undefined ? int("n_ctx", "ℓ_max") : int("n_positions", "ℓ_max");
  const dE = int("n_embd", "d_e");
  const nLayers = int("n_layer", "L");
  const nHeads = int("n_head", "H");
  const dMlp = json.n_inner == null ? 4 * dE : int("n_inner", "d_mlp");
  const dAttn = c.d_attn === undefined ? undefined : int("ctxlab.d_attn", "d_attn", c.d_attn);
  const dMid = c.d_mid === undefined ? undefined : int("ctxlab.d_mid", "d_mid", c.d_mid);
  if (dAttn === undefined && dE % nHeads !== 0) fail(`n_embd=${dE} (d_e) is not divisible by n_head=${nHeads} (H)`);

  const num = (field: string, v: unknown, dflt: number, positive: boolean): number => {
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (positive && v === 0)) fail(`field "${field}" must be a finite number ${positive ? "> 0" : "≥ 0"}, got ${show(v)}`);
    return v as number;
  };
  let lnEps = num("layer_norm_epsilon", json.layer_norm_epsilon, 1e-5, false);
  if (c.ln_eps !== undefined) lnEps = num("ctxlab.ln_eps", c.ln_eps, lnEps, false);
  let initStd = typeof json.initializer_range === "number" && json.initializer_range > 0 && Number.isFinite(json.initializer_range) ? json.initializer_range : 0.02;
  if (c.init_std !== undefined) initStd = num("ctxlab.init_std", c.init_std, initStd, true);

  const act = json.activation_function ?? "gelu_new";
  let gelu: GeluForm = "tanh";
  if (act === "gelu") gelu = "exact";
  else if (!TANH_NAMES.includes(act as string)) fail(`activation_function ${show(act)} is not supported; use "gelu_new" (tanh GELU, GPT-2) or "gelu" (exact erf GELU)`);
  if (c.gelu !== undefined) {
    if (c.gelu !== "tanh" && c.gelu !== "exact") fail(`ctxlab.gelu must be "tanh" or "exact", got ${show(c.gelu)}`);
    gelu = c.gelu as GeluForm;
  }
  const tied: unknown = c.tied !== undefined ? c.tied : (json.tie_word_embeddings ?? true);
  if (typeof tied !== "boolean") fail(`${c.tied !== undefined ? "ctxlab.tied" : "tie_word_embeddings"} must be a boolean, got ${show(tied)}`);
  if (json.scale_attn_weights === false) fail(`scale_attn_weights=false is not supported (attention always divides by √d_attn)`);
  if (json.scale_attn_by_inverse_layer_idx === true) fail(`scale_attn_by_inverse_layer_idx=true is not supported`);

  let positional: PositionalEncoding;
  try {
    positional = positionalFrom((c.positional ?? "learned") as PositionalSpec | string);
  } catch (e) {
    return fail(`ctxlab.positional: ${msg(e)}`);
  }
  try {
    const cfg = makeConfig({ nVocab, lMax, nLayers, nHeads, dE, dMlp, dAttn, dMid, gelu, lnEps, tiedEmbeddings: tied as boolean, positional, initStd, ...archFromJson(c) });
    if (!isGpt2Architecture(cfg) && c.tensors !== CTXLAB_TENSORS) fail(`the ctxlab fields set architecture options (norm, mlp, n_kv_heads, bias, residual) that the GPT-2 tensor layout cannot hold; ctxlab.tensors must be "${CTXLAB_TENSORS}"`);
    if (json.model_type === "ctxlab" && c.tensors !== CTXLAB_TENSORS) fail(`model_type "ctxlab" needs ctxlab.tensors = "${CTXLAB_TENSORS}"`);
    return cfg;
  } catch (e) {
    return fail(msg(e));
  }
}

/** config.json contents for `cfg`: the GPT-2 fields plus ctxlab's own under "ctxlab". */
export function gpt2JsonFromConfig(cfg: DTransformerConfig): Record<string, unknown> {
  const gpt2 = isGpt2Architecture(cfg);
  return {
    architectures: [gpt2 ? "GPT2LMHeadModel" : "CtxlabDTransformer"],
    model_type: gpt2 ? "gpt2" : "ctxlab",
    vocab_size: cfg.nVocab,
    n_positions: cfg.lMax,
    n_ctx: cfg.lMax,
    n_embd: cfg.dE,
    n_layer: cfg.nLayers,
    n_head: cfg.nHeads,
    n_inner: cfg.dMlp,
    activation_function: cfg.gelu === "exact" ? "gelu" : "gelu_new",
    layer_norm_epsilon: cfg.lnEps,
    initializer_range: cfg.initStd,
    tie_word_embeddings: cfg.tiedEmbeddings,
    ctxlab: {
      format: FORMAT,
      positional: cfg.positional.toJSON(),
      d_attn: cfg.dAttn,
      d_mid: cfg.dMid,
      gelu: cfg.gelu,
      ln_eps: cfg.lnEps,
      init_std: cfg.initStd,
      tied: cfg.tiedEmbeddings,
      ...archJson(cfg),
    },
  };
}

/** One dimension of an expected shape: its size and where the size comes from. */
interface Dim {
  n: number;
  why: string;
}
interface Spec {
  shape: Dim[];
  /** the ctxlab parameter(s) it becomes */
  ours: string;
}

function dims(cfg: DTransformerConfig) {
  const { nVocab: V, lMax, dE, nHeads: H, dAttn, dMid, dMlp } = cfg;
  const std = dAttn * H === dE && dMid === dAttn;
  const hd = `n_head=${H}, d_attn=${dAttn}, d_mid=${dMid} (ctxlab.d_attn/d_mid, default n_embd/n_head)`;
  return {
    V: { n: V, why: `N_V=${V} from vocab_size` },
    P: { n: lMax, why: `ℓ_max=${lMax} from n_positions` },
    E: { n: dE, why: `d_e=${dE} from n_embd` },
    M: { n: dMlp, why: `d_mlp=${dMlp} from n_inner (null → 4·n_embd)` },
    QKV: { n: 2 * H * dAttn + H * dMid, why: std ? `3·d_e=${3 * dE} from n_embd` : `2·H·d_attn + H·d_mid=${2 * H * dAttn + H * dMid} from ${hd}` },
    HM: { n: H * dMid, why: std ? `d_e=${dE} from n_embd` : `H·d_mid=${H * dMid} from ${hd}` },
  };
}

/** Per-layer tensors copied as they are: GPT-2 suffix, ctxlab suffix, shape (keys of `dims`). */
const LAYER_MAP: readonly [string, string, readonly ("E" | "M" | "HM")[]][] = [
  ["ln_1.weight", "ln1.gamma", ["E"]], ["ln_1.bias", "ln1.beta", ["E"]],
  ["attn.c_proj.weight", "attn.W_o", ["HM", "E"]], ["attn.c_proj.bias", "attn.b_o", ["E"]],
  ["ln_2.weight", "ln2.gamma", ["E"]], ["ln_2.bias", "ln2.beta", ["E"]],
  ["mlp.c_fc.weight", "mlp.W_mlp1", ["E", "M"]], ["mlp.c_fc.bias", "mlp.b_mlp1", ["M"]],
  ["mlp.c_proj.weight", "mlp.W_mlp2", ["M", "E"]], ["mlp.c_proj.bias", "mlp.b_mlp2", ["E"]],
];

/**
 * Expected GPT-2 tensors for `cfg`, in order, generated lazily so an absurd n_layer fails at the
 * first missing tensor instead of building a huge table.
 */
function* expectedTensors(cfg: DTransformerConfig): Generator<[string, Spec]> {
  const d = dims(cfg);
  yield ["wte.weight", { shape: [d.V, d.E], ours: "W_e" }];
  for (const [k, s] of Object.entries(cfg.positional.paramShapes?.(cfg) ?? {})) {
    const shape = k === "pos.W_p" ? [d.P, d.E] : s.map((n, i) => ({ n, why: `dim ${i} of ${k} from the ${cfg.positional.label}` }));
    yield [k === "pos.W_p" ? "wpe.weight" : k, { shape, ours: `${k} (needed by the ${cfg.positional.label})` }];
  }
  for (let l = 0; l < cfg.nLayers; l++) {
    for (const [g, o, shape] of LAYER_MAP) {
      if (g === "attn.c_proj.weight") {
        yield [`h.${l}.attn.c_attn.weight`, { shape: [d.E, d.QKV], ours: `blocks.${l}.attn.W_q|W_k|W_v` }];
        yield [`h.${l}.attn.c_attn.bias`, { shape: [d.QKV], ours: `blocks.${l}.attn.b_q|b_k|b_v` }];
      }
      yield [`h.${l}.${g}`, { shape: shape.map((k) => d[k]), ours: `blocks.${l}.${o}` }];
    }
  }
  yield ["ln_f.weight", { shape: [d.E], ours: "ln_final.gamma" }];
  yield ["ln_f.bias", { shape: [d.E], ours: "ln_final.beta" }];
  if (!cfg.tiedEmbeddings) yield ["lm_head.weight", { shape: [d.V, d.E], ours: "W_u (transposed)" }];
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);
const fmtShape = (s: Dim[]) => `[${s.map((x) => x.n).join(", ")}]`;

/** Strip the "transformer." prefix; reject a name given both ways. */
function normalise(tensors: Map<string, SafeTensor>, src: string): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, t] of tensors) {
    const n = name.startsWith("transformer.") ? name.slice("transformer.".length) : name;
    if (out.has(n)) throw new CheckpointError(`${src}: tensor "${n}" appears both with and without the "transformer." prefix`);
    out.set(n, t);
  }
  return out;
}

/** Columns [c0, c1) of a row-major [rows, cols] matrix (or entries of a vector when rows = 1). */
function cols(data: Float32Array, rows: number, c0: number, c1: number): Float32Array {
  const n = data.length / rows;
  const w = c1 - c0;
  const out = new Float32Array(rows * w);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * n + c0, r * n + c1), r * w);
  return out;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** GPT-2-named tensors (no "transformer." prefix) → θ for `cfg`. Throws CheckpointError. */
export function fromGpt2Tensors(cfg: DTransformerConfig, tensors: Map<string, SafeTensor>, source = WEIGHTS_FILE): ParamStore {
  const src = source;
  if (!isGpt2Architecture(cfg)) throw new CheckpointError(`${src}: the config's architecture options have no GPT-2 tensor layout (ctxlab's own layout: ctxlab.tensors = "${CTXLAB_TENSORS}")`);
  const all = normalise(tensors, src);
  for (const name of all.keys()) {
    const m = /^h\.(\d+)\./.exec(name);
    if (m && Number(m[1]) >= cfg.nLayers) {
      throw new CheckpointError(`${src}: tensor "${name}": checkpoint has layer ${m[1]} but n_layer=${cfg.nLayers} (L=${cfg.nLayers}, layers 0…${cfg.nLayers - 1})`);
    }
  }
  // 1. every expected tensor present, float, and shaped as the config implies — before converting anything
  const missing: string[] = [];
  const specs: [string, Spec][] = [];
  for (const [name, spec] of expectedTensors(cfg)) {
    const t = all.get(name);
    if (!t) {
      missing.push(`"${name}" ${fmtShape(spec.shape)} (${spec.shape.map((x) => x.why).join(", ")}; becomes ${spec.ours})`);
      if (missing.length >= 4) break;
      continue;
    }
    if (!FLOAT_DTYPES.has(t.dtype)) throw new CheckpointError(`${src}: tensor "${name}" has dtype ${t.dtype}; weights must be F32, F16, BF16 or F64`);
    const want = spec.shape;
    if (t.shape.length !== want.length || t.shape.some((n, i) => n !== want[i]!.n)) {
      const bad = t.shape.length !== want.length ? `rank ${t.shape.length} instead of ${want.length}` : want.map((x, i) => (t.shape[i] !== x.n ? `dim ${i} is ${t.shape[i]}, expected ${x.why}` : "")).filter(Boolean).join("; ");
      throw new CheckpointError(`${src}: tensor "${name}" has shape [${t.shape.join(", ")}] but the config implies ${fmtShape(want)}: ${bad}`);
    }
    specs.push([name, spec]);
  }
  if (missing.length) throw new CheckpointError(`${src}: missing tensor${missing.length > 1 ? "s" : ""} ${missing.join("; ")}${missing.length >= 4 ? "; …" : ""}`);
  if (cfg.tiedEmbeddings && all.has("lm_head.weight")) checkTiedHead(all, cfg, src);
  // 2. convert and map to ctxlab names
  const { dE, nHeads: H, dAttn, dMid, nLayers } = cfg;
  const f32 = (name: string) => toFloat32(all.get(name)!, name);
  const values = new Map<string, tf.Tensor>();
  const put = (name: string, data: Float32Array, shape: number[]) => values.set(name, tf.tensor(data, shape, "float32"));
  try {
    for (const [name, spec] of specs) {
      const shape = spec.shape.map((x) => x.n);
      if (name === "wte.weight") put("W_e", f32(name), shape);
      else if (name === "wpe.weight") put("pos.W_p", f32(name), shape);
      else if (name.startsWith("pos.")) put(name, f32(name), shape);
      else if (name === "lm_head.weight") put("W_u", transpose(f32(name), cfg.nVocab, dE), [dE, cfg.nVocab]);
      else if (name === "ln_f.weight") put("ln_final.gamma", f32(name), shape);
      else if (name === "ln_f.bias") put("ln_final.beta", f32(name), shape);
    }
    const qa = H * dAttn;
    for (let l = 0; l < nLayers; l++) {
      const h = `h.${l}`;
      const b = `blocks.${l}`;
      const w = f32(`${h}.attn.c_attn.weight`);
      const bias = f32(`${h}.attn.c_attn.bias`);
      const qkvCols = 2 * qa + H * dMid;
      put(`${b}.attn.W_q`, cols(w, dE, 0, qa), [dE, qa]);
      put(`${b}.attn.W_k`, cols(w, dE, qa, 2 * qa), [dE, qa]);
      put(`${b}.attn.W_v`, cols(w, dE, 2 * qa, qkvCols), [dE, H * dMid]);
      put(`${b}.attn.b_q`, bias.slice(0, qa), [qa]);
      put(`${b}.attn.b_k`, bias.slice(qa, 2 * qa), [qa]);
      put(`${b}.attn.b_v`, bias.slice(2 * qa), [H * dMid]);
      for (const [g, o] of LAYER_MAP) put(`${b}.${o}`, f32(`${h}.${g}`), all.get(`${h}.${g}`)!.shape);
    }
    return toParamStore(cfg, values, src);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${src}: ${msg(e)}`, { cause: e });
  } finally {
    for (const t of values.values()) t.dispose();
  }
}

/**
 * Variables from validated tensors (built here rather than with ParamStore.fromTensors so that no
 * intermediate tensor outlives the call); the caller disposes `values`.
 */
function toParamStore(cfg: DTransformerConfig, values: Map<string, tf.Tensor>, src: string): ParamStore {
  const vars = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of paramShapes(cfg)) {
      const t = values.get(name);
      if (!t || t.shape.join() !== shape.join()) throw new CheckpointError(`${src}: internal: parameter ${name} ${t ? `has shape [${t.shape}]` : "was not mapped"}, needs [${shape}]`);
      vars.set(name, tf.variable(t, true));
    }
  } catch (e) {
    for (const v of vars.values()) v.dispose();
    throw e;
  }
  return new ParamStore(vars);
}

/** A tied config tolerates lm_head.weight only as a copy of wte.weight (HF stores it that way). */
function checkTiedHead(all: Map<string, SafeTensor>, cfg: DTransformerConfig, src: string): void {
  const lm = all.get("lm_head.weight")!;
  const want = `[N_V=${cfg.nVocab}, d_e=${cfg.dE}]`;
  if (lm.shape.length !== 2 || lm.shape[0] !== cfg.nVocab || lm.shape[1] !== cfg.dE) {
    throw new CheckpointError(`${src}: tensor "lm_head.weight" has shape [${lm.shape.join(", ")}] but the config implies ${want} (from vocab_size, n_embd)`);
  }
  if (!FLOAT_DTYPES.has(lm.dtype)) throw new CheckpointError(`${src}: tensor "lm_head.weight" has dtype ${lm.dtype}; weights must be F32, F16, BF16 or F64`);
  const a = toFloat32(lm, "lm_head.weight");
  const b = toFloat32(all.get("wte.weight")!, "wte.weight");
  if (!a.every((v, i) => v === b[i] || (Number.isNaN(v) && Number.isNaN(b[i]!)))) {
    throw new CheckpointError(
      `${src}: tensor "lm_head.weight" differs from "wte.weight" but the config ties them (tie_word_embeddings / ctxlab.tied); ` +
        `set tie_word_embeddings=false to load it as W_u = lm_head.weightᵀ`,
    );
  }
}

/** θ of `model` as GPT-2-named F32 tensors (no "transformer." prefix; copies, not views of backend memory). */
export function toGpt2Tensors(model: DTransformer): Map<string, SafeTensor> {
  const { cfg, params } = model;
  if (!isGpt2Architecture(cfg)) throw new CheckpointError(`toGpt2Tensors: the model's architecture options (norm=${cfg.norm}, mlp=${cfg.mlp}, H_kv=${cfg.nKvHeads}, bias=${JSON.stringify(cfg.bias)}, residual=${cfg.residual}) have no GPT-2 layout; saveCheckpoint writes ctxlab's own layout for them`);
  const { dE, nHeads: H, dAttn, dMid } = cfg;
  const read = (name: string) => new Float32Array(params.get(name).dataSync() as Float32Array);
  const out = new Map<string, SafeTensor>();
  const put = (name: string, data: Float32Array, shape: number[]) => out.set(name, { dtype: "F32", shape, data });
  const same = (name: string, ours: string) => put(name, read(ours), params.get(ours).shape);
  same("wte.weight", "W_e");
  for (const k of Object.keys(cfg.positional.paramShapes?.(cfg) ?? {})) same(k === "pos.W_p" ? "wpe.weight" : k, k);
  const qa = H * dAttn;
  const width = 2 * qa + H * dMid;
  for (let l = 0; l < cfg.nLayers; l++) {
    const h = `h.${l}`;
    const b = `blocks.${l}.`;
    const [q, k, v] = ["W_q", "W_k", "W_v"].map((n) => read(`${b}attn.${n}`)) as [Float32Array, Float32Array, Float32Array];
    const w = new Float32Array(dE * width);
    for (let r = 0; r < dE; r++) {
      w.set(q.subarray(r * qa, (r + 1) * qa), r * width);
      w.set(k.subarray(r * qa, (r + 1) * qa), r * width + qa);
      w.set(v.subarray(r * H * dMid, (r + 1) * H * dMid), r * width + 2 * qa);
    }
    put(`${h}.attn.c_attn.weight`, w, [dE, width]);
    const bias = new Float32Array(width);
    bias.set(read(`${b}attn.b_q`), 0);
    bias.set(read(`${b}attn.b_k`), qa);
    bias.set(read(`${b}attn.b_v`), 2 * qa);
    put(`${h}.attn.c_attn.bias`, bias, [width]);
    for (const [g, o] of LAYER_MAP) same(`${h}.${g}`, `${b}${o}`);
  }
  same("ln_f.weight", "ln_final.gamma");
  same("ln_f.bias", "ln_final.beta");
  if (!cfg.tiedEmbeddings) put("lm_head.weight", transpose(read("W_u"), dE, cfg.nVocab), [cfg.nVocab, dE]);
  return out;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

/**
 * Load a checkpoint directory (HF GPT-2 layout or written by saveCheckpoint). `opts.positional`
 * replaces the stored encoding (its parameters must be in the file). Throws only CheckpointError.
 */
/**
 * A training directory (lib/train/state.ts) keeps the model in a snapshot named by its
 * trainer-state.json ("checkpoint": "step-00000200"); loadCheckpoint follows that pointer so the
 * same path works for model-only and training checkpoints.
 */
async function followTrainingPointer(dir: string): Promise<string> {
  if (await isFile(join(dir, CONFIG_FILE))) return dir;
  try {
    const j = JSON.parse(await readFile(join(dir, "trainer-state.json"), "utf8")) as { checkpoint?: unknown };
    if (typeof j.checkpoint === "string" && /^step-\d{8}(-[0-9a-z]+)?$/.test(j.checkpoint)) return join(dir, j.checkpoint);
  } catch {
    /* not a training directory */
  }
  return dir;
}

export async function loadCheckpoint(dir: string, opts: { positional?: PositionalEncoding } = {}): Promise<DTransformer> {
  try {
    dir = await followTrainingPointer(dir);
    const st = await stat(dir).catch(() => undefined);
    if (!st) throw new CheckpointError(`checkpoint directory ${dir} does not exist`);
    if (!st.isDirectory()) throw new CheckpointError(`checkpoint ${dir} is not a directory (expected a directory with ${CONFIG_FILE} and ${WEIGHTS_FILE})`);
    const cfgPath = join(dir, CONFIG_FILE);
    if (!(await isFile(cfgPath))) throw new CheckpointError(`checkpoint ${dir} has no ${CONFIG_FILE} (expected ${cfgPath}, Hugging Face GPT-2 layout)`);
    const text = await readFile(cfgPath, "utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CheckpointError(`${cfgPath}: invalid JSON: ${msg(e)}`);
    }
    let cfg = configFromGpt2Json(json, cfgPath);
    if (opts.positional) {
      try {
        cfg = makeConfig({ ...cfg, positional: opts.positional });
      } catch (e) {
        throw new CheckpointError(`${cfgPath}: opts.positional: ${msg(e)}`);
      }
    }
    const wPath = join(dir, WEIGHTS_FILE);
    if (!(await isFile(wPath)) && !(await isFile(join(dir, SAFETENSORS_INDEX_FILE)))) {
      const bin = (await isFile(join(dir, "pytorch_model.bin"))) ? "; found pytorch_model.bin, which is not read: convert it to safetensors" : "";
      throw new CheckpointError(`checkpoint ${dir} has no ${WEIGHTS_FILE} (expected ${wPath}) and no ${SAFETENSORS_INDEX_FILE}${bin}`);
    }
    const file = await readSafetensorsDir(dir); // single file or shards
    const src = file.files.length === 1 ? file.files[0]! : join(dir, SAFETENSORS_INDEX_FILE);
    return new DTransformer(cfg, isGpt2Architecture(cfg) ? fromGpt2Tensors(cfg, file.tensors, src) : fromCtxlabTensors(cfg, file.tensors, src));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`loadCheckpoint(${dir}): ${msg(e)}`, { cause: e });
  }
}

/**
 * Write `model` to `dir` (created if needed): model.safetensors, then config.json, each atomically.
 * `format: "hf"` writes the Hugging Face layout of the architecture (GPT-2 for learned W_p; GPT-NeoX,
 * Llama or Qwen2 for rotary encodings: lib/hf/pretrained.ts, saveHf); the default is the GPT-2 layout
 * with ctxlab's fields.
 */
export async function saveCheckpoint(model: DTransformer, dir: string, opts: { metadata?: Record<string, string>; format?: "ctxlab" | "hf" } = {}): Promise<void> {
  if (opts.format !== undefined && opts.format !== "ctxlab" && opts.format !== "hf") throw new CheckpointError(`saveCheckpoint: format ${show(opts.format)} is not one of "ctxlab", "hf"`);
  if (opts.format === "hf") {
    const { saveHf } = await import("../hf/pretrained.js"); // lazy: lib/hf imports this module; it comes back here for GPT-2
    return saveHf(model, dir, opts.metadata ? { metadata: opts.metadata } : {});
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    // Node's recursive mkdir reports ENOENT on a read-only file system; a plain mkdir names the real cause (EROFS)
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? await mkdir(dir).then(() => null, (e2: unknown) => e2) : e;
    if (why !== null) throw new CheckpointError(`saveCheckpoint: cannot create directory ${dir}: ${msg(why)}`, { cause: why });
  }
  try {
    const config = JSON.stringify(gpt2JsonFromConfig(model.cfg), null, 2) + "\n";
    const tensors = isGpt2Architecture(model.cfg) ? toGpt2Tensors(model) : toCtxlabTensors(model);
    await writeSafetensorsFile(join(dir, WEIGHTS_FILE), tensors, { format: "pt", ...opts.metadata });
    await writeFileAtomic(join(dir, CONFIG_FILE), config);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`saveCheckpoint(${dir}): ${msg(e)}`, { cause: e });
  }
}
