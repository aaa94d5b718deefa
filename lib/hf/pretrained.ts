/**
 * `loadPretrained(idOrDir)`: a Hugging Face model directory or hub id → a DTransformer, and
 * `saveHf(model, dir)`: the way back (also `saveCheckpoint(model, dir, { format: "hf" })`).
 *
 * Loading: gpt2 (learned positions; lib/io/checkpoint.ts), gpt_neox (lib/hf/neox.ts; sequential or
 * parallel residual, partial rotary), llama and qwen2 (lib/hf/llama.ts; RMSNorm, gated SiLU MLP,
 * grouped-query attention, bias per projection). The spec → config mapping is `configFromHfSpec`.
 *
 * Export (`hfLayoutOf`): learned W_p → GPT-2; rotary with LayerNorm + GELU (the small models trained
 * here, and NeoX models) → GPT-NeoX; rotary with RMSNorm + gated SiLU → Llama, or Qwen2 when the
 * biases are q/k/v only. Other encodings and mixed options have no HF architecture (a clear error).
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { makeConfig, type DTransformerConfig } from "../config.js";
import { CheckpointError, ConfigError } from "../errors.js";
import { DTransformer } from "../model/dtransformer.js";
import type { PositionalEncoding } from "../positional/types.js";
import { ntkBase, RotaryEncoding } from "../positional/rope.js";
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.js";
import { readSafetensorsDir, writeFileAtomic, writeSafetensorsFile } from "../io/safetensors.js";
import { assertBuildable, parseHfConfig, positionalFromHf, type HfArchSpec } from "./config.js";
import { hubDownload, isHubId, type HubOptions } from "./hub.js";
import { fromNeoxTensors, toNeoxTensors } from "./neox.js";
import { fromLlamaTensors, llamaJsonFromConfig, llamaLayoutOf, toLlamaTensors } from "./llama.js";

export interface PretrainedSource {
  /** what was asked for: a hub id or a directory */
  source: string;
  /** the directory read (a cache snapshot for hub ids) */
  dir: string;
  /** the commit, for hub ids */
  commit?: string;
  spec: HfArchSpec;
}

const sources = new WeakMap<object, PretrainedSource>();

/** Where a model from loadPretrained came from (also for its withPositional variants, which share θ). */
export function pretrainedSource(model: DTransformer): PretrainedSource | undefined {
  return sources.get(model.params);
}

const isDir = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);

/**
 * A local directory as it is, or a hub id downloaded into (or found in) the Hugging Face cache.
 * A path that exists wins over a hub id of the same spelling; "./x" or "/x" is always a path.
 */
export async function resolveModelDir(idOrDir: string, o: HubOptions = {}): Promise<{ dir: string; commit?: string }> {
  if (typeof idOrDir !== "string" || idOrDir === "") throw new ConfigError(`loadPretrained: expected a hub id ("owner/name") or a directory, got ${JSON.stringify(idOrDir)}`);
  if (await isDir(idOrDir)) return { dir: idOrDir };
  if (!isHubId(idOrDir)) throw new CheckpointError(`loadPretrained: ${idOrDir} is not a directory and not a hub id ("owner/name")`);
  const r = await hubDownload(idOrDir, o);
  return { dir: r.dir, commit: r.commit };
}

export interface LoadPretrainedOptions extends HubOptions {
  /** replace the model's positional encoding (same weights), e.g. ropePI(4) */
  positional?: PositionalEncoding;
}

async function readConfig(dir: string): Promise<unknown> {
  const p = join(dir, "config.json");
  let text: string;
  try {
    text = await readFile(p, "utf8");
  } catch {
    throw new CheckpointError(`${dir}: no config.json (expected a Hugging Face model directory)`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${p}: invalid JSON: ${(e as Error).message}`);
  }
}

/** DTransformerConfig of a rotary spec (gpt_neox, llama, qwen2): every architecture option from the config. */
export function configFromHfSpec(spec: HfArchSpec): DTransformerConfig {
  const init = spec.raw.initializer_range;
  const b = spec.bias;
  return makeConfig({
    nVocab: spec.nVocab, lMax: spec.maxPositions, nLayers: spec.nLayers, nHeads: spec.nHeads, nKvHeads: spec.nKvHeads, dE: spec.dE, dMlp: spec.dMlp,
    dAttn: spec.headDim, dMid: spec.headDim, norm: spec.norm.kind, lnEps: spec.norm.eps, mlp: spec.mlp.kind, gelu: spec.mlp.gelu ?? "exact",
    bias: { q: b.qkv, k: b.qkv, v: b.qkv, o: b.o, mlp: b.mlp }, residual: spec.parallelResidual ? "parallel" : "sequential",
    tiedEmbeddings: spec.tiedEmbeddings, positional: positionalFromHf(spec), initStd: typeof init === "number" && init > 0 ? init : 0.02,
  });
}
/** The name from before llama/qwen2 built: configFromHfSpec. */
export const configFromNeoxSpec = configFromHfSpec;

/**
 * Load a Hugging Face model (directory or hub id; hub options as in hubDownload) as a DTransformer.
 * Throws ConfigError for an unsupported model_type / rope type / architecture option, CheckpointError
 * for missing or malformed files, HubError for the Hub.
 */
export async function loadPretrained(idOrDir: string, o: LoadPretrainedOptions = {}): Promise<DTransformer> {
  const { dir, commit } = await resolveModelDir(idOrDir, o);
  const json = await readConfig(dir);
  const src = join(dir, "config.json");
  const spec = parseHfConfig(json, src);
  assertBuildable(spec, src);
  let model: DTransformer;
  if (spec.modelType === "gpt2") {
    model = await loadCheckpoint(dir, o.positional ? { positional: o.positional } : {});
  } else {
    let cfg = configFromHfSpec(spec);
    if (o.positional) cfg = makeConfig({ ...cfg, positional: o.positional });
    const w = await readSafetensorsDir(dir);
    const file = w.files.length === 1 ? w.files[0]! : dir;
    const params = spec.modelType === "gpt_neox" ? fromNeoxTensors(cfg, w.tensors, file) : fromLlamaTensors(cfg, w.tensors, file, spec.modelType);
    model = new DTransformer(cfg, params);
  }
  sources.set(model.params, { source: idOrDir, dir, ...(commit ? { commit } : {}), spec });
  return model;
}

/** HF rope_scaling (both `rope_type` and the legacy `type`) and rope_theta for a rotary encoding. */
export function hfRopeFromEncoding(enc: RotaryEncoding, cfg: DTransformerConfig): { rope_theta: number; rope_scaling: Record<string, unknown> | null; max_position_embeddings: number } {
  const s = enc.settings;
  const d = enc.rotaryDims(cfg);
  const L = enc.originalLength(cfg);
  const typed = (t: string, rest: Record<string, unknown>) => ({ rope_type: t, type: t, ...rest });
  if (s.layout !== "half-split" && s.layout !== "interleaved") throw new ConfigError(`export: unknown rotary layout ${s.layout}`);
  switch (s.kind) {
    case "rope":
      return { rope_theta: s.base, rope_scaling: null, max_position_embeddings: cfg.lMax };
    case "ntk": // a static base change: HF has no "ntk" type, so write the changed base
      return { rope_theta: ntkBase(s.base, s.factor!, d), rope_scaling: null, max_position_embeddings: cfg.lMax };
    case "pi":
      return { rope_theta: s.base, rope_scaling: typed("linear", { factor: s.factor }), max_position_embeddings: cfg.lMax };
    case "dynamic-ntk": // HF's dynamic reads L from max_position_embeddings
      return { rope_theta: s.base, rope_scaling: typed("dynamic", { factor: s.factor }), max_position_embeddings: L };
    case "yarn": {
      if (s.ramp !== "implementation") throw new ConfigError(`export: YaRN with ramp "${s.ramp}" has no Hugging Face equivalent (HF uses the implementation ramp); use yarn(s) with the default ramp`);
      if (s.rotaryFraction !== 1 && s.attentionFactor !== 1) {
        throw new ConfigError(`export: YaRN with partial rotary (${s.rotaryFraction}) and attentionFactor=${s.attentionFactor} is not expressible in HF (it scales only the rotated dims)`);
      }
      // max_position_embeddings = factor·L when that is an integer, so that transformers 4.4x–4.5x (which
      // recompute factor as max_position_embeddings / original_max_position_embeddings) agree with 5.x
      const fl = s.factor! * L;
      return {
        rope_theta: s.base,
        rope_scaling: typed("yarn", { factor: s.factor, original_max_position_embeddings: L, beta_fast: s.beta, beta_slow: s.alpha, attention_factor: s.attentionFactor }),
        max_position_embeddings: Number.isInteger(fl) ? fl : cfg.lMax,
      };
    }
    case "llama3":
      return {
        rope_theta: s.base,
        rope_scaling: typed("llama3", { factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: L }),
        max_position_embeddings: cfg.lMax,
      };
  }
}

/** The GPT-NeoX config.json written for a rotary DTransformer with LayerNorm + GELU. */
export function neoxJsonFromConfig(cfg: DTransformerConfig, rope = hfRope(cfg)): Record<string, unknown> {
  const why = (m: string): never => {
    throw new ConfigError(`export: GPT-NeoX needs ${m}`);
  };
  if (cfg.dAttn !== cfg.dMid || cfg.dAttn * cfg.nHeads !== cfg.dE) why(`d_attn = d_mid = d_e/H, got d_attn=${cfg.dAttn}, d_mid=${cfg.dMid}, d_e=${cfg.dE}, H=${cfg.nHeads}`);
  if (cfg.norm !== "layernorm" || cfg.mlp !== "gelu") why(`LayerNorm and a GELU MLP, got norm "${cfg.norm}", mlp "${cfg.mlp}"`);
  if (cfg.nKvHeads !== cfg.nHeads) why(`one key/value head per query head, got nKvHeads=${cfg.nKvHeads}, H=${cfg.nHeads}`);
  const b = cfg.bias;
  if (!(b.q === b.k && b.k === b.v && b.v === b.o) || !b.mlp) why(`biases on q, k, v and o together (attention_bias) and on the MLP, got ${JSON.stringify(b)}`);
  const enc = cfg.positional;
  const frac = enc instanceof RotaryEncoding ? enc.rotaryDims(cfg) / cfg.dAttn : 1;
  return {
    architectures: ["GPTNeoXForCausalLM"],
    model_type: "gpt_neox",
    vocab_size: cfg.nVocab,
    hidden_size: cfg.dE,
    num_hidden_layers: cfg.nLayers,
    num_attention_heads: cfg.nHeads,
    intermediate_size: cfg.dMlp,
    hidden_act: cfg.gelu === "exact" ? "gelu" : "gelu_new",
    rotary_pct: frac,
    partial_rotary_factor: frac,
    rotary_emb_base: rope.rope_theta,
    rope_theta: rope.rope_theta,
    rope_scaling: rope.rope_scaling,
    max_position_embeddings: rope.max_position_embeddings,
    layer_norm_eps: cfg.lnEps,
    use_parallel_residual: cfg.residual === "parallel",
    attention_bias: b.q,
    tie_word_embeddings: cfg.tiedEmbeddings,
    initializer_range: cfg.initStd,
    attention_dropout: 0,
    hidden_dropout: 0,
    use_cache: true,
    torch_dtype: "float32",
  };
}

/** rope_theta / rope_scaling of a rotary config (ConfigError for another encoding). */
function hfRope(cfg: DTransformerConfig): ReturnType<typeof hfRopeFromEncoding> {
  const enc = cfg.positional;
  if (!(enc instanceof RotaryEncoding)) throw new ConfigError(`export: the ${layoutName(cfg)} layout needs a rotary encoding, got ${enc.label}`);
  return hfRopeFromEncoding(enc, cfg);
}
const layoutName = (cfg: DTransformerConfig) => (cfg.norm === "rmsnorm" ? "Llama/Qwen2" : "GPT-NeoX");

/** LayerNorm, GELU MLP, one K/V head per query head, every bias, sequential residual: what GPT-2's layout holds. */
function gpt2Architecture(cfg: DTransformerConfig): boolean {
  const b = cfg.bias;
  return cfg.norm === "layernorm" && cfg.mlp === "gelu" && cfg.nKvHeads === cfg.nHeads && b.q && b.k && b.v && b.o && b.mlp && cfg.residual === "sequential";
}

/** The HF architecture that expresses `cfg`, or a ConfigError saying why none does. */
export function hfLayoutOf(cfg: DTransformerConfig): "gpt2" | "gpt_neox" | "llama" | "qwen2" {
  if (cfg.norm === "layernorm" && cfg.mlp === "gelu") return cfg.positional.name === "learned" && gpt2Architecture(cfg) ? "gpt2" : "gpt_neox";
  if (cfg.norm === "rmsnorm" && cfg.mlp === "gated-silu") return llamaLayoutOf(cfg);
  throw new ConfigError(`export: norm "${cfg.norm}" with mlp "${cfg.mlp}" has no Hugging Face architecture; exportable: LayerNorm + GELU (GPT-2, GPT-NeoX), RMSNorm + gated SiLU (Llama, Qwen2)`);
}

/** For the interleaved layout: per-head dim order that turns pairs (2j, 2j+1) into HF's (j, j+d/2). */
function interleavedToHalfSplit(dAttn: number, d: number): number[] {
  const h = d / 2;
  const perm = Array.from({ length: dAttn }, (_, i) => i);
  for (let j = 0; j < h; j++) {
    perm[j] = 2 * j;
    perm[j + h] = 2 * j + 1;
  }
  return perm;
}

/**
 * Write `model` in the Hugging Face layout of its architecture (`hfLayoutOf`): GPT-2, GPT-NeoX, Llama
 * or Qwen2; an interleaved rotary model's q/k dims are permuted into HF's half-split pairs. Atomic files.
 */
export async function saveHf(model: DTransformer, dir: string, o: { metadata?: Record<string, string> } = {}): Promise<void> {
  const cfg = model.cfg;
  const enc = cfg.positional;
  const layout = hfLayoutOf(cfg);
  if (layout === "gpt2") return saveCheckpoint(model, dir, { ...(o.metadata ? { metadata: o.metadata } : {}) });
  if (!(enc instanceof RotaryEncoding)) {
    throw new ConfigError(
      `saveCheckpoint(format "hf"): the ${enc.label} has no Hugging Face ${layout} equivalent; exportable: learned W_p → gpt2 (LayerNorm + GELU, every bias, sequential), rotary (RoPE, PI, NTK, dynamic NTK, YaRN, Llama-3) → gpt_neox, llama or qwen2`,
    );
  }
  if ((layout === "llama" || layout === "qwen2") && enc.rotaryDims(cfg) !== cfg.dAttn) {
    throw new ConfigError(`export: ${layout} rotates every dim of a head; this model rotates ${enc.rotaryDims(cfg)} of d_attn=${cfg.dAttn} (partial rotary exports as gpt_neox only)`);
  }
  const rope = hfRope(cfg);
  const config = layout === "gpt_neox" ? neoxJsonFromConfig(cfg, rope) : llamaJsonFromConfig(cfg, rope, layout);
  const perm = enc.settings.layout === "interleaved" ? interleavedToHalfSplit(cfg.dAttn, enc.rotaryDims(cfg)) : undefined;
  const tensors = layout === "gpt_neox" ? toNeoxTensors(model, perm) : toLlamaTensors(model, perm);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new CheckpointError(`saveCheckpoint: cannot create directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  await writeSafetensorsFile(join(dir, "model.safetensors"), tensors, { format: "pt", ...o.metadata });
  await writeFileAtomic(join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
}

/**
 * The model behind a CLI/notebook argument: a ctxlab checkpoint or training directory
 * (loadCheckpoint), a Hugging Face directory of another model_type, or a hub id (loadPretrained).
 */
export async function loadModel(pathOrId: string, o: LoadPretrainedOptions = {}): Promise<DTransformer> {
  if (await isDir(pathOrId)) {
    const cfg = await readFile(join(pathOrId, "config.json"), "utf8").then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
    if (cfg && cfg.model_type !== undefined && cfg.model_type !== "gpt2" && cfg.model_type !== "ctxlab") return loadPretrained(pathOrId, o);
    return loadCheckpoint(pathOrId, o.positional ? { positional: o.positional } : {});
  }
  if (isHubId(pathOrId) && !/^\.{0,2}\//.test(pathOrId)) return loadPretrained(pathOrId, o);
  return loadCheckpoint(pathOrId, o.positional ? { positional: o.positional } : {}); // its error names the missing directory
}
