#!/usr/bin/env node
// A Hugging Face Llama directory of SmolLM-135M's shape with seeded random weights, for the real-model
// scale benchmark (bench/scale-135m.mjs, bench/pytorch_llama.py). No network: the weights are random.
//
//   node bench/llama-shape.mjs [--out bench/out/smollm-135m-shape] [--seed 0] [--force]
//
// Shape (SmolLM-135M's config.json): 30 layers, hidden 576, 9 heads, 3 key/value heads (head dim 64),
// intermediate 1,536, vocabulary 49,152, tied embeddings, rope_theta 10,000, max_position_embeddings
// 2,048, rms_norm_eps 1e-5: 134,515,008 parameters, F32 (538 MB). Weights ~ N(0, 0.02²) (HF's
// initializer_range), RMSNorm gains 1. Tensors carry the real HF names ("model.layers.0.self_attn.q_proj.weight",
// nn.Linear's [out, in]). The directory is rewritten only when missing, of another seed, or with --force.
// Prints one JSON line: { dir, params, bytes, seconds }.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Rng, writeSafetensorsFile } from "ctxlab";

export const SMOLLM_135M_SHAPE = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  vocab_size: 49152,
  max_position_embeddings: 2048,
  rope_theta: 10000.0,
  rope_scaling: null,
  rms_norm_eps: 1e-5,
  hidden_act: "silu",
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  initializer_range: 0.02,
  bos_token_id: 0,
  eos_token_id: 0,
  torch_dtype: "float32",
};
export const EXPECTED_PARAMS = 134_515_008;
export const DEFAULT_DIR = resolve(import.meta.dirname, "out", "smollm-135m-shape");

/** HF name → shape of every tensor of a Llama config (tied: no lm_head). */
export function llamaTensorShapes(c) {
  const D = c.hidden_size;
  const hd = c.head_dim ?? D / c.num_attention_heads;
  const [Q, KV, M] = [c.num_attention_heads * hd, c.num_key_value_heads * hd, c.intermediate_size];
  const m = new Map([["model.embed_tokens.weight", [c.vocab_size, D]]]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    m.set(`${p}input_layernorm.weight`, [D]);
    m.set(`${p}self_attn.q_proj.weight`, [Q, D]);
    m.set(`${p}self_attn.k_proj.weight`, [KV, D]);
    m.set(`${p}self_attn.v_proj.weight`, [KV, D]);
    m.set(`${p}self_attn.o_proj.weight`, [D, Q]);
    m.set(`${p}post_attention_layernorm.weight`, [D]);
    m.set(`${p}mlp.gate_proj.weight`, [M, D]);
    m.set(`${p}mlp.up_proj.weight`, [M, D]);
    m.set(`${p}mlp.down_proj.weight`, [D, M]);
  }
  m.set("model.norm.weight", [D]);
  if (!c.tie_word_embeddings) m.set("lm_head.weight", [c.vocab_size, D]);
  return m;
}

/** Write (or keep) the directory; returns { dir, params, bytes, seconds, written }. */
export async function writeLlamaShape({ dir = DEFAULT_DIR, seed = 0, force = false, config = SMOLLM_135M_SHAPE } = {}) {
  const shapes = llamaTensorShapes(config);
  const params = [...shapes.values()].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  const metaFile = join(dir, "shape-meta.json");
  const meta = { seed, params, config };
  if (!force && existsSync(join(dir, "model.safetensors")) && existsSync(metaFile) && readFileSync(metaFile, "utf8") === JSON.stringify(meta)) {
    return { dir, params, bytes: params * 4, seconds: 0, written: false };
  }
  const t0 = performance.now();
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const std = config.initializer_range ?? 0.02;
  const tensors = new Map();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = name.endsWith("layernorm.weight") || name === "model.norm.weight" ? new Float32Array(n).fill(1) : rng.normalArray(n, std);
    tensors.set(name, { dtype: "F32", shape, data });
  }
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  await writeSafetensorsFile(join(dir, "model.safetensors"), tensors, { format: "pt" });
  writeFileSync(metaFile, JSON.stringify(meta));
  return { dir, params, bytes: params * 4, seconds: (performance.now() - t0) / 1000, written: true };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
  const r = await writeLlamaShape({ dir: resolve(opt("out", DEFAULT_DIR)), seed: Number(opt("seed", 0)), force: args.includes("--force") });
  if (r.params !== EXPECTED_PARAMS) throw new Error(`llama-shape: ${r.params} parameters, expected ${EXPECTED_PARAMS}`);
  console.log(JSON.stringify(r));
}
