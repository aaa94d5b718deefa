/**
 * Llama / Qwen2 layout ↔ ctxlab θ (RMSNorm, gated SiLU MLP, grouped-query attention, bias per
 * projection, rotary half-split = HF's rotate_half).
 *
 * HF names and shapes (nn.Linear weights are [out, in]; ctxlab's are [in, out], so each is transposed);
 * hd = head_dim = d_attn = d_mid, H_kv = num_key_value_heads:
 *   model.embed_tokens.weight [V, D]                           = W_e
 *   model.layers.{l}.input_layernorm.weight [D]                = blocks.{l}.ln1.gamma (RMSNorm: no beta)
 *   model.layers.{l}.self_attn.q_proj.weight [H·hd, D] (+ bias) = W_qᵀ (b_q)
 *   model.layers.{l}.self_attn.k_proj.weight [H_kv·hd, D]      = W_kᵀ (b_k)
 *   model.layers.{l}.self_attn.v_proj.weight [H_kv·hd, D]      = W_vᵀ (b_v)
 *   model.layers.{l}.self_attn.o_proj.weight [D, H·hd]         = W_oᵀ (b_o)
 *   model.layers.{l}.post_attention_layernorm.weight [D]       = blocks.{l}.ln2.gamma
 *   model.layers.{l}.mlp.gate_proj.weight [M, D]               = W_gateᵀ (b_gate)
 *   model.layers.{l}.mlp.up_proj.weight [M, D]                 = W_mlp1ᵀ (b_mlp1)
 *   model.layers.{l}.mlp.down_proj.weight [D, M]               = W_mlp2ᵀ (b_mlp2)
 *   model.norm.weight [D]                                      = ln_final.gamma
 *   lm_head.weight [V, D]                                      = W_uᵀ (absent when tied; a tied copy is ignored)
 * Llama: attention_bias puts a bias on q, k, v AND o; mlp_bias on gate, up and down.
 * Qwen2: biases on q, k, v only (always). Buffers (rotary_emb.inv_freq) are ignored.
 */
import * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import { CheckpointError, ConfigError } from "../errors.js";
import type { DTransformer } from "../model/dtransformer.js";
import { ParamStore, paramShapes } from "../model/params.js";
import { toFloat32, type SafeTensor } from "../io/safetensors.js";

export type LlamaLayout = "llama" | "qwen2";

const M_ = "model.";
const FLOAT = ["F32", "F16", "BF16", "F64"];

export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** [HF suffix, ctxlab suffix, HF shape [out, in] (or [n] for vectors)] of one layer, for `cfg`. */
function layerMap(cfg: DTransformerConfig): [string, string, number[]][] {
  const { dE: D, nHeads: H, dAttn: hd, dMid, dMlp: M } = cfg;
  const kv = cfg.nKvHeads;
  const b = cfg.bias;
  const rows: [string, string, number[]][] = [
    ["input_layernorm.weight", "ln1.gamma", [D]],
    ["self_attn.q_proj.weight", "attn.W_q", [H * hd, D]],
    ["self_attn.k_proj.weight", "attn.W_k", [kv * hd, D]],
    ["self_attn.v_proj.weight", "attn.W_v", [kv * dMid, D]],
    ["self_attn.o_proj.weight", "attn.W_o", [D, H * dMid]],
    ["post_attention_layernorm.weight", "ln2.gamma", [D]],
    ["mlp.gate_proj.weight", "mlp.W_gate", [M, D]],
    ["mlp.up_proj.weight", "mlp.W_mlp1", [M, D]],
    ["mlp.down_proj.weight", "mlp.W_mlp2", [D, M]],
  ];
  if (b.q) rows.push(["self_attn.q_proj.bias", "attn.b_q", [H * hd]]);
  if (b.k) rows.push(["self_attn.k_proj.bias", "attn.b_k", [kv * hd]]);
  if (b.v) rows.push(["self_attn.v_proj.bias", "attn.b_v", [kv * dMid]]);
  if (b.o) rows.push(["self_attn.o_proj.bias", "attn.b_o", [D]]);
  if (b.mlp) rows.push(["mlp.gate_proj.bias", "mlp.b_gate", [M]], ["mlp.up_proj.bias", "mlp.b_mlp1", [M]], ["mlp.down_proj.bias", "mlp.b_mlp2", [D]]);
  return rows;
}

/** Every HF tensor of the Llama/Qwen2 layout for `cfg`: name → [ctxlab name, HF shape]. */
export function llamaShapes(cfg: DTransformerConfig): Map<string, [string, number[]]> {
  const { nVocab: V, dE: D } = cfg;
  const m = new Map<string, [string, number[]]>();
  m.set(`${M_}embed_tokens.weight`, ["W_e", [V, D]]);
  const rows = layerMap(cfg);
  for (let l = 0; l < cfg.nLayers; l++) for (const [hf, ours, shape] of rows) m.set(`${M_}layers.${l}.${hf}`, [`blocks.${l}.${ours}`, shape]);
  m.set(`${M_}norm.weight`, ["ln_final.gamma", [D]]);
  if (!cfg.tiedEmbeddings) m.set("lm_head.weight", ["W_u", [V, D]]);
  return m;
}

/** nn.Linear weights ([out, in] in HF, transposed): the blocks' matrices and the unembedding. */
const isLinear = (ours: string, shape: number[]) => shape.length === 2 && (ours.startsWith("blocks.") || ours === "W_u");

const IGNORED = /(rotary_emb\.inv_freq|^lm_head\.weight)$/;

/** Llama/Qwen2-named tensors → θ for `cfg`. Throws CheckpointError naming the tensor. */
export function fromLlamaTensors(cfg: DTransformerConfig, tensors: Map<string, SafeTensor>, src = "model.safetensors", layout: LlamaLayout = "llama"): ParamStore {
  const want = llamaShapes(cfg);
  for (const [name, [, shape]] of want) {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`${src}: missing tensor "${name}" [${shape.join(", ")}] (${layout} layout)`);
    if (t.shape.join() !== shape.join()) throw new CheckpointError(`${src}: tensor "${name}" has shape [${t.shape.join(", ")}] but the config implies [${shape.join(", ")}]`);
    if (!FLOAT.includes(t.dtype)) throw new CheckpointError(`${src}: tensor "${name}" has dtype ${t.dtype}; weights must be F32, F16, BF16 or F64`);
  }
  for (const name of tensors.keys()) {
    if (want.has(name) || IGNORED.test(name)) continue;
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m && Number(m[1]) >= cfg.nLayers) throw new CheckpointError(`${src}: tensor "${name}": checkpoint has layer ${m[1]} but num_hidden_layers=${cfg.nLayers}`);
    if (/\.bias$/.test(name)) throw new CheckpointError(`${src}: tensor "${name}" is a bias the config does not have (${layout}: attention_bias / mlp_bias); refusing to drop it`);
  }
  const vals = new Map<string, Float32Array>();
  for (const [name, [ours, shape]] of want) {
    const data = toFloat32(tensors.get(name)!, name);
    vals.set(ours, isLinear(ours, shape) ? transpose(data, shape[0]!, shape[1]!) : data);
  }
  const vars = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of paramShapes(cfg)) {
      const v = vals.get(name);
      if (!v) throw new CheckpointError(`${src}: internal: parameter ${name} was not mapped from the ${layout} layout`);
      const t = tf.tensor(v, shape, "float32");
      vars.set(name, tf.variable(t, true));
      t.dispose(); // the variable keeps its own reference to the data (tf.memory() counted it twice)
    }
  } catch (e) {
    for (const v of vars.values()) v.dispose();
    throw e;
  }
  return new ParamStore(vars);
}

/**
 * θ → Llama/Qwen2-named F32 tensors. `perm` reorders each head's q/k dims (ctxlab's interleaved rotary
 * layout → HF's half-split): new dim i takes old dim perm[i].
 */
export function toLlamaTensors(model: DTransformer, perm?: readonly number[]): Map<string, SafeTensor> {
  const { cfg, params } = model;
  const out = new Map<string, SafeTensor>();
  const permute = (data: Float32Array, heads: number, hd: number, rows: number) => {
    if (!perm) return data;
    const o = new Float32Array(data.length); // [rows, heads·hd] row-major (or a vector when rows = 1)
    for (let r = 0; r < rows; r++) for (let h = 0; h < heads; h++) for (let i = 0; i < hd; i++) o[r * heads * hd + h * hd + i] = data[r * heads * hd + h * hd + perm[i]!]!;
    return o;
  };
  for (const [name, [ours, shape]] of llamaShapes(cfg)) {
    let data = new Float32Array(params.get(ours).dataSync() as Float32Array);
    if (/attn\.[Wb]_[qk]$/.test(ours)) {
      const heads = ours.endsWith("q") ? cfg.nHeads : cfg.nKvHeads;
      data = permute(data, heads, cfg.dAttn, ours.includes("W_") ? cfg.dE : 1);
    }
    if (isLinear(ours, shape)) data = transpose(data, shape[1]!, shape[0]!);
    out.set(name, { dtype: "F32", shape, data });
  }
  return out;
}

/** Which HF layout expresses a rotary config with RMSNorm + gated SiLU, or a ConfigError saying why none does. */
export function llamaLayoutOf(cfg: DTransformerConfig): LlamaLayout {
  const b = cfg.bias;
  const why = (m: string): never => {
    throw new ConfigError(`export: ${m}`);
  };
  if (cfg.residual !== "sequential") why(`Llama/Qwen2 have a sequential residual; this model has residual "${cfg.residual}" (GPT-NeoX's parallel residual needs LayerNorm + GELU)`);
  if (cfg.dAttn !== cfg.dMid) why(`Llama/Qwen2 have one head_dim for queries, keys and values; got d_attn=${cfg.dAttn}, d_mid=${cfg.dMid}`);
  if (b.q === b.k && b.k === b.v && b.v === b.o) return "llama"; // attention_bias (q, k, v, o), mlp_bias free
  if (b.q && b.k && b.v && !b.o && !b.mlp) return "qwen2";
  return why(`bias ${JSON.stringify(b)} has no Hugging Face layout: Llama has attention_bias on q, k, v and o together (and mlp_bias), Qwen2 has biases on q, k, v only`);
}

/** The Llama (LlamaForCausalLM) or Qwen2 (Qwen2ForCausalLM) config.json written for `cfg`. */
export function llamaJsonFromConfig(cfg: DTransformerConfig, rope: { rope_theta: number; rope_scaling: Record<string, unknown> | null; max_position_embeddings: number }, layout: LlamaLayout = llamaLayoutOf(cfg)): Record<string, unknown> {
  const common = {
    vocab_size: cfg.nVocab,
    hidden_size: cfg.dE,
    intermediate_size: cfg.dMlp,
    num_hidden_layers: cfg.nLayers,
    num_attention_heads: cfg.nHeads,
    num_key_value_heads: cfg.nKvHeads,
    head_dim: cfg.dAttn,
    hidden_act: "silu",
    max_position_embeddings: rope.max_position_embeddings,
    rms_norm_eps: cfg.lnEps,
    rope_theta: rope.rope_theta,
    rope_scaling: rope.rope_scaling,
    tie_word_embeddings: cfg.tiedEmbeddings,
    initializer_range: cfg.initStd,
    attention_dropout: 0,
    use_cache: true,
    torch_dtype: "float32",
  };
  if (layout === "qwen2") return { architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", ...common, use_sliding_window: false };
  return { architectures: ["LlamaForCausalLM"], model_type: "llama", ...common, attention_bias: cfg.bias.q, mlp_bias: cfg.bias.mlp };
}
