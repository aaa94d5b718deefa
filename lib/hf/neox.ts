/**
 * GPT-NeoX (Pythia) layout ↔ ctxlab θ: LayerNorm, GELU MLP, rotary (partial allowed, half-split =
 * NeoX's rotate_half), one K/V head per query head, the parallel residual (use_parallel_residual,
 * Pythia's default) or the sequential one; attention_bias=false drops the query_key_value and dense biases.
 *
 * HF names and shapes (nn.Linear weights are [out, in]; ctxlab's are [in, out], so each is transposed):
 *   gpt_neox.embed_in.weight [V, D]                       = W_e
 *   gpt_neox.layers.{l}.input_layernorm.{weight,bias}     = blocks.{l}.ln1.gamma/beta
 *   gpt_neox.layers.{l}.attention.query_key_value.weight [3·H·hd, D], bias [3·H·hd]:
 *     output row h·3·hd + t·hd + i is head h's (t = 0 q, 1 k, 2 v) dim i — interleaved BY HEAD, not [q | k | v]
 *   gpt_neox.layers.{l}.attention.dense.{weight [D, H·hd], bias}  = W_oᵀ, b_o
 *   gpt_neox.layers.{l}.post_attention_layernorm          = blocks.{l}.ln2
 *   gpt_neox.layers.{l}.mlp.dense_h_to_4h.{weight [d_mlp, D], bias} = W_mlp1ᵀ, b_mlp1
 *   gpt_neox.layers.{l}.mlp.dense_4h_to_h.{weight [D, d_mlp], bias} = W_mlp2ᵀ, b_mlp2
 *   gpt_neox.final_layer_norm.{weight,bias}               = ln_final
 *   embed_out.weight [V, D]                               = W_uᵀ (absent when tied)
 * Buffers of older conversions (attention.bias, attention.masked_bias, rotary_emb.inv_freq) are ignored.
 */
import * as tf from "@tensorflow/tfjs";
import type { DTransformerConfig } from "../config.js";
import { CheckpointError } from "../errors.js";
import type { DTransformer } from "../model/dtransformer.js";
import { ParamStore, paramShapes } from "../model/params.js";
import { toFloat32, type SafeTensor } from "../io/safetensors.js";

const P = "gpt_neox.";

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Expected NeoX tensor names and shapes for `cfg`. */
export function neoxShapes(cfg: DTransformerConfig): Map<string, number[]> {
  const { nVocab: V, dE: D, nHeads: H, dAttn: hd, dMlp: M } = cfg;
  const m = new Map<string, number[]>();
  m.set(`${P}embed_in.weight`, [V, D]);
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `${P}layers.${l}.`;
    m.set(`${p}input_layernorm.weight`, [D]).set(`${p}input_layernorm.bias`, [D]);
    m.set(`${p}attention.query_key_value.weight`, [3 * H * hd, D]);
    if (cfg.bias.q) m.set(`${p}attention.query_key_value.bias`, [3 * H * hd]);
    m.set(`${p}attention.dense.weight`, [D, H * hd]);
    if (cfg.bias.o) m.set(`${p}attention.dense.bias`, [D]);
    m.set(`${p}post_attention_layernorm.weight`, [D]).set(`${p}post_attention_layernorm.bias`, [D]);
    m.set(`${p}mlp.dense_h_to_4h.weight`, [M, D]).set(`${p}mlp.dense_h_to_4h.bias`, [M]);
    m.set(`${p}mlp.dense_4h_to_h.weight`, [D, M]).set(`${p}mlp.dense_4h_to_h.bias`, [D]);
  }
  m.set(`${P}final_layer_norm.weight`, [D]).set(`${P}final_layer_norm.bias`, [D]);
  if (!cfg.tiedEmbeddings) m.set("embed_out.weight", [V, D]);
  return m;
}

const IGNORED = /\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/;

/** NeoX-named tensors → θ for `cfg` (cfg.dAttn = cfg.dMid = head_dim). Throws CheckpointError naming the tensor. */
export function fromNeoxTensors(cfg: DTransformerConfig, tensors: Map<string, SafeTensor>, src = "model.safetensors"): ParamStore {
  const want = neoxShapes(cfg);
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`${src}: missing tensor "${name}" [${shape.join(", ")}] (gpt_neox layout)`);
    if (t.shape.join() !== shape.join()) throw new CheckpointError(`${src}: tensor "${name}" has shape [${t.shape.join(", ")}] but the config implies [${shape.join(", ")}]`);
    if (!["F32", "F16", "BF16", "F64"].includes(t.dtype)) throw new CheckpointError(`${src}: tensor "${name}" has dtype ${t.dtype}; weights must be F32, F16, BF16 or F64`);
  }
  for (const name of tensors.keys()) {
    if (!want.has(name) && !IGNORED.test(name)) {
      const m = /^gpt_neox\.layers\.(\d+)\./.exec(name);
      if (m && Number(m[1]) >= cfg.nLayers) throw new CheckpointError(`${src}: tensor "${name}": checkpoint has layer ${m[1]} but num_hidden_layers=${cfg.nLayers}`);
      if (/\.bias$/.test(name)) throw new CheckpointError(`${src}: tensor "${name}" is a bias the config does not have (gpt_neox: attention_bias=false); refusing to drop it`);
    }
  }
  const { dE: D, nHeads: H, dAttn: hd, dMlp: M, nVocab: V } = cfg;
  const f = (name: string) => toFloat32(tensors.get(name)!, name);
  const vals = new Map<string, Float32Array>();
  vals.set("W_e", f(`${P}embed_in.weight`));
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `${P}layers.${l}.`;
    const b = `blocks.${l}.`;
    vals.set(`${b}ln1.gamma`, f(`${p}input_layernorm.weight`)).set(`${b}ln1.beta`, f(`${p}input_layernorm.bias`));
    vals.set(`${b}ln2.gamma`, f(`${p}post_attention_layernorm.weight`)).set(`${b}ln2.beta`, f(`${p}post_attention_layernorm.bias`));
    const w = f(`${p}attention.query_key_value.weight`); // [3·H·hd, D]
    const bias = cfg.bias.q ? f(`${p}attention.query_key_value.bias`) : undefined;
    for (const [t, n] of [[0, "q"], [1, "k"], [2, "v"]] as const) {
      const W = new Float32Array(D * H * hd); // ctxlab [D, H·hd]
      const bb = new Float32Array(H * hd);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < hd; i++) {
          const row = h * 3 * hd + t * hd + i;
          const col = h * hd + i;
          for (let c = 0; c < D; c++) W[c * H * hd + col] = w[row * D + c]!;
          if (bias) bb[col] = bias[row]!;
        }
      }
      vals.set(`${b}attn.W_${n}`, W);
      if (bias) vals.set(`${b}attn.b_${n}`, bb);
    }
    vals.set(`${b}attn.W_o`, transpose(f(`${p}attention.dense.weight`), D, H * hd));
    if (cfg.bias.o) vals.set(`${b}attn.b_o`, f(`${p}attention.dense.bias`));
    vals.set(`${b}mlp.W_mlp1`, transpose(f(`${p}mlp.dense_h_to_4h.weight`), M, D)).set(`${b}mlp.b_mlp1`, f(`${p}mlp.dense_h_to_4h.bias`));
    vals.set(`${b}mlp.W_mlp2`, transpose(f(`${p}mlp.dense_4h_to_h.weight`), D, M)).set(`${b}mlp.b_mlp2`, f(`${p}mlp.dense_4h_to_h.bias`));
  }
  vals.set("ln_final.gamma", f(`${P}final_layer_norm.weight`)).set("ln_final.beta", f(`${P}final_layer_norm.bias`));
  if (!cfg.tiedEmbeddings) vals.set("W_u", transpose(f("embed_out.weight"), V, D));
  const vars = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of paramShapes(cfg)) {
      const v = vals.get(name);
      if (!v) throw new CheckpointError(`${src}: internal: parameter ${name} was not mapped from the gpt_neox layout`);
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
 * θ → NeoX-named F32 tensors. `perm` reorders each head's q/k dims (used to turn ctxlab's interleaved
 * rotary layout into NeoX's half-split one): new dim i takes old dim perm[i].
 */
export function toNeoxTensors(model: DTransformer, perm?: readonly number[]): Map<string, SafeTensor> {
  const { cfg, params } = model;
  const { dE: D, nHeads: H, dAttn: hd, dMlp: M, nVocab: V } = cfg;
  const read = (n: string) => new Float32Array(params.get(n).dataSync() as Float32Array);
  const out = new Map<string, SafeTensor>();
  const put = (name: string, data: Float32Array, shape: number[]) => out.set(name, { dtype: "F32", shape, data });
  put(`${P}embed_in.weight`, read("W_e"), [V, D]);
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `${P}layers.${l}.`;
    const b = `blocks.${l}.`;
    put(`${p}input_layernorm.weight`, read(`${b}ln1.gamma`), [D]);
    put(`${p}input_layernorm.bias`, read(`${b}ln1.beta`), [D]);
    const w = new Float32Array(3 * H * hd * D);
    const bias = new Float32Array(3 * H * hd);
    for (const [t, n] of [[0, "q"], [1, "k"], [2, "v"]] as const) {
      const W = read(`${b}attn.W_${n}`);
      const bb = cfg.bias.q ? read(`${b}attn.b_${n}`) : new Float32Array(H * hd);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < hd; i++) {
          const src = h * hd + (perm && t < 2 ? perm[i]! : i);
          const row = h * 3 * hd + t * hd + i;
          for (let c = 0; c < D; c++) w[row * D + c] = W[c * H * hd + src]!;
          bias[row] = bb[src]!;
        }
      }
    }
    put(`${p}attention.query_key_value.weight`, w, [3 * H * hd, D]);
    if (cfg.bias.q) put(`${p}attention.query_key_value.bias`, bias, [3 * H * hd]);
    put(`${p}attention.dense.weight`, transpose(read(`${b}attn.W_o`), H * hd, D), [D, H * hd]);
    if (cfg.bias.o) put(`${p}attention.dense.bias`, read(`${b}attn.b_o`), [D]);
    put(`${p}post_attention_layernorm.weight`, read(`${b}ln2.gamma`), [D]);
    put(`${p}post_attention_layernorm.bias`, read(`${b}ln2.beta`), [D]);
    put(`${p}mlp.dense_h_to_4h.weight`, transpose(read(`${b}mlp.W_mlp1`), D, M), [M, D]);
    put(`${p}mlp.dense_h_to_4h.bias`, read(`${b}mlp.b_mlp1`), [M]);
    put(`${p}mlp.dense_4h_to_h.weight`, transpose(read(`${b}mlp.W_mlp2`), M, D), [D, M]);
    put(`${p}mlp.dense_4h_to_h.bias`, read(`${b}mlp.b_mlp2`), [D]);
  }
  put(`${P}final_layer_norm.weight`, read("ln_final.gamma"), [D]);
  put(`${P}final_layer_norm.bias`, read("ln_final.beta"), [D]);
  // HF's GPTNeoXForCausalLM always has embed_out; tied models write W_e again and say tie_word_embeddings=true
  put("embed_out.weight", cfg.tiedEmbeddings ? read("W_e") : transpose(read("W_u"), D, V), [V, D]);
  return out;
}
