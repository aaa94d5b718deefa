/**
 * lib/hf/config.ts: config.json of real model shapes → HfArchSpec; rope_scaling → ctxlab encodings
 * checked against hand-computed values of Hugging Face's formulas (vectors in the style of docs/literature.md, "Test vectors", at d = 8,
 * L = 2048, s = 4: PI, dynamic NTK at ℓ = 4096, YaRN's ramp and attention factor; Llama-3's bands at
 * d = 128); every unsupported key is a clear error.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeConfig } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { missingOptions, parseHfConfig, positionalFromHf, type HfArchSpec } from "../../lib/hf/config.js";
import { configFromHfSpec } from "../../lib/hf/pretrained.js";
import { llama3Bands, RotaryEncoding } from "../../lib/positional/rope.js";

const smol = {
  architectures: ["LlamaForCausalLM"], model_type: "llama", vocab_size: 49152, hidden_size: 576, intermediate_size: 1536,
  num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, hidden_act: "silu", max_position_embeddings: 2048,
  rms_norm_eps: 1e-5, rope_theta: 10000.0, rope_scaling: null, tie_word_embeddings: true,
};
const pythia70m = {
  architectures: ["GPTNeoXForCausalLM"], model_type: "gpt_neox", vocab_size: 50304, hidden_size: 512, intermediate_size: 2048,
  num_hidden_layers: 6, num_attention_heads: 8, hidden_act: "gelu", rotary_pct: 0.25, rotary_emb_base: 10000,
  max_position_embeddings: 2048, layer_norm_eps: 1e-5, use_parallel_residual: true, tie_word_embeddings: false,
};
const qwen = {
  architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", vocab_size: 151936, hidden_size: 896, intermediate_size: 4864,
  num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, hidden_act: "silu", max_position_embeddings: 32768,
  rms_norm_eps: 1e-6, rope_theta: 1000000.0, tie_word_embeddings: true, use_sliding_window: false, sliding_window: 32768,
};

/** A llama config with head_dim 8 (hidden 32, 4 heads) and the given scaling, for the d = 8 vectors. */
const d8 = (rope_scaling: unknown, max = 8192) => ({ ...smol, hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: max, rope_scaling });

function freqs(spec: HfArchSpec, seqLen?: number): { inv: number[]; scale: number } {
  const pe = positionalFromHf(spec) as RotaryEncoding;
  const cfg = makeConfig({ nVocab: 8, lMax: spec.maxPositions, nLayers: 1, nHeads: spec.nHeads, dE: spec.dE, dAttn: spec.headDim, dMid: spec.headDim, positional: pe });
  return { inv: Array.from(pe.inverseFrequencies(cfg, seqLen)), scale: pe.attentionScale(cfg, seqLen) };
}
const close = (a: number[], b: number[], rtol = 1e-7) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= rtol * Math.abs(b[i]!), `[${i}] ${v} vs ${b[i]}`));

describe("config.json → architecture spec", () => {
  it("SmolLM-135M (llama): sizes, GQA 9/3, RMSNorm ε, SwiGLU, tied; ctxlab's config has every option", () => {
    const s = parseHfConfig(smol);
    assert.deepEqual([s.nVocab, s.dE, s.nLayers, s.nHeads, s.nKvHeads, s.headDim, s.dMlp, s.maxPositions], [49152, 576, 30, 9, 3, 64, 1536, 2048]);
    assert.deepEqual(s.norm, { kind: "rmsnorm", eps: 1e-5 });
    assert.equal(s.mlp.kind, "gated-silu");
    assert.deepEqual(s.bias, { qkv: false, o: false, mlp: false });
    assert.equal(s.tiedEmbeddings, true);
    assert.deepEqual(s.positional, { kind: "rotary", base: 10000, rotaryFraction: 1, rotaryDims: 64, layout: "half-split", scaling: null });
    assert.deepEqual(missingOptions(s), []);
    const c = configFromHfSpec(s);
    assert.deepEqual([c.norm, c.lnEps, c.mlp, c.nKvHeads, c.dAttn, c.dMid, c.residual, c.tiedEmbeddings], ["rmsnorm", 1e-5, "gated-silu", 3, 64, 64, "sequential", true]);
    assert.deepEqual(c.bias, { q: false, k: false, v: false, o: false, mlp: false });
  });
  it("Pythia-70M (gpt_neox): rotary_pct 0.25 → 16 of 64 dims, exact GELU, untied, parallel residual", () => {
    const s = parseHfConfig(pythia70m);
    assert.equal(s.headDim, 64);
    assert.equal(s.positional.kind === "rotary" && s.positional.rotaryDims, 16);
    assert.deepEqual(s.mlp, { kind: "gelu", activation: "gelu", gelu: "exact" });
    assert.deepEqual(missingOptions(s), []);
    const c = configFromHfSpec(s);
    assert.deepEqual([c.norm, c.mlp, c.gelu, c.nKvHeads, c.residual, c.tiedEmbeddings], ["layernorm", "gelu", "exact", 8, "parallel", false]);
    assert.deepEqual(c.bias, { q: true, k: true, v: true, o: true, mlp: true });
    assert.equal(configFromHfSpec(parseHfConfig({ ...pythia70m, use_parallel_residual: false })).residual, "sequential");
    assert.deepEqual(configFromHfSpec(parseHfConfig({ ...pythia70m, attention_bias: false })).bias, { q: false, k: false, v: false, o: false, mlp: true });
  });
  it("Qwen2.5-0.5B (qwen2): q/k/v biases only, θ = 1e6, head_dim 64; sliding window refused", () => {
    const s = parseHfConfig(qwen);
    assert.deepEqual(s.bias, { qkv: true, o: false, mlp: false });
    assert.equal(s.positional.kind === "rotary" && s.positional.base, 1e6);
    assert.equal(s.headDim, 64);
    assert.throws(() => parseHfConfig({ ...qwen, use_sliding_window: true }), /use_sliding_window=true is not supported/);
    assert.deepEqual(configFromHfSpec(s).bias, { q: true, k: true, v: true, o: false, mlp: false });
  });
  it("llama attention_bias / mlp_bias → bias on q, k, v, o / on gate, up, down", () => {
    assert.deepEqual(configFromHfSpec(parseHfConfig({ ...smol, attention_bias: true })).bias, { q: true, k: true, v: true, o: true, mlp: false });
    assert.deepEqual(configFromHfSpec(parseHfConfig({ ...smol, mlp_bias: true })).bias, { q: false, k: false, v: false, o: false, mlp: true });
    assert.throws(() => parseHfConfig({ ...smol, attention_bias: "yes" }), /key "attention_bias" must be true or false, got "yes"/);
  });
  it("explicit head_dim; 5.x rope_parameters with rope_theta inside", () => {
    assert.equal(parseHfConfig({ ...smol, head_dim: 32 }).headDim, 32);
    const s = parseHfConfig({ ...d8(null), rope_theta: undefined, rope_parameters: { rope_type: "linear", factor: 4, rope_theta: 500000 } });
    assert.equal(s.positional.kind === "rotary" && s.positional.base, 500000);
    assert.equal(s.positional.kind === "rotary" && s.positional.scaling?.type, "linear");
  });
  it("unsupported model types, rope types and values: clear errors listing what is supported", () => {
    assert.throws(() => parseHfConfig({ ...smol, model_type: "mistral" }), (e: Error) => e instanceof ConfigError && /model_type "mistral" is not supported; supported model types: llama, qwen2, gpt_neox, gpt2/.test(e.message));
    assert.throws(() => parseHfConfig(d8({ rope_type: "longrope", long_factor: [1], short_factor: [1] })), /rope type "longrope" is not supported; supported: default, linear, dynamic, yarn, llama3/);
    assert.throws(() => parseHfConfig(d8({ type: "yarn", factor: 4, truncate: false })), /truncate=false/);
    assert.throws(() => parseHfConfig(d8({ type: "linear", factor: 0.5 })), /"factor" must be a number ≥ 1, got 0.5/);
    assert.throws(() => parseHfConfig(d8({ type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4 })), /original_max_position_embeddings" is required/);
    assert.throws(() => parseHfConfig({ ...smol, num_key_value_heads: 4 }), /not a multiple of num_key_value_heads=4/);
    assert.throws(() => parseHfConfig({ ...smol, hidden_act: "gelu" }), /hidden_act="gelu" is not supported/);
    assert.throws(() => parseHfConfig({ ...smol, vocab_size: 0 }), /"vocab_size" must be a positive integer, got 0/);
  });
});

describe("rope_scaling with Hugging Face's semantics (hand-computed vectors, d = 8, b = 10⁴)", () => {
  it("linear ×4: θ/4 = [0.25, 0.025, 0.0025, 0.00025]", () => {
    close(freqs(parseHfConfig(d8({ type: "linear", factor: 4 }))).inv, [0.25, 0.025, 0.0025, 0.00025]);
  });
  it("dynamic ×4, L = max_position_embeddings = 2048: unchanged at ℓ ≤ 2048, b' = 85498.797 at ℓ = 4096", () => {
    const s = parseHfConfig(d8({ type: "dynamic", factor: 4 }, 2048));
    close(freqs(s, 2048).inv, [1, 0.1, 0.01, 0.001]);
    close(freqs(s, 4096).inv, [1, 0.058480355, 0.0034199519, 0.0002]);
  });
  it("yarn ×4, L = original_max_position_embeddings = 2048: ramp [0, 0, 0.5, 1] → θ = [1, 0.1, 0.00625, 0.00025]; scores × (0.1 ln 4 + 1)²", () => {
    const r = freqs(parseHfConfig(d8({ rope_type: "yarn", factor: 4, original_max_position_embeddings: 2048 })));
    close(r.inv, [1, 0.1, 0.00625, 0.00025]);
    assert.ok(Math.abs(r.scale - 1.2964769927807063) < 1e-12);
  });
  it("yarn: explicit attention_factor wins; mscale/mscale_all_dim give their ratio; beta 0 means the default (Python `or`)", () => {
    assert.equal(freqs(parseHfConfig(d8({ type: "yarn", factor: 4, original_max_position_embeddings: 2048, attention_factor: 1.5 }))).scale, 2.25);
    const m = freqs(parseHfConfig(d8({ type: "yarn", factor: 4, original_max_position_embeddings: 2048, mscale: 0.707, mscale_all_dim: 1 })));
    assert.ok(Math.abs(m.scale - 0.964326914892074 ** 2) < 1e-12);
    const z = parseHfConfig(d8({ type: "yarn", factor: 4, original_max_position_embeddings: 2048, beta_fast: 0, beta_slow: 0 }));
    assert.deepEqual([z.positional.kind === "rotary" && z.positional.scaling?.betaFast, z.positional.kind === "rotary" && z.positional.scaling?.betaSlow], [32, 1]);
  });
  it("yarn without factor: factor = max_position_embeddings / original (8192/2048 = 4); without original: L = max_position_embeddings", () => {
    close(freqs(parseHfConfig(d8({ type: "yarn", original_max_position_embeddings: 2048 }))).inv, [1, 0.1, 0.00625, 0.00025]);
    const s = parseHfConfig(d8({ type: "yarn", factor: 4 }, 2048));
    close(freqs(s).inv, [1, 0.1, 0.00625, 0.00025]);
  });
  it("llama3 (d = 128, b = 5·10⁵, L = 8192, ×8, low 1, high 4): 29 pairs kept, 29 divided, 6 blended", () => {
    const s = parseHfConfig({ ...smol, hidden_size: 1024, num_attention_heads: 8, num_key_value_heads: 8, rope_theta: 500000, max_position_embeddings: 131072,
      rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    const pe = positionalFromHf(s) as RotaryEncoding;
    assert.equal(pe.settings.originalLength, 8192);
    const bands = llama3Bands(128, 500000, 8192, { factor: 8, lowFreqFactor: 1, highFreqFactor: 4 });
    assert.deepEqual(["keep", "divide", "blend"].map((b) => bands.filter((x) => x === b).length), [29, 29, 6]);
    const { inv } = freqs(s);
    inv.forEach((v, j) => {
      const t = 500000 ** (-(2 * j) / 128);
      if (bands[j] === "keep") assert.equal(v, t);
      if (bands[j] === "divide") assert.ok(Math.abs(v - t / 8) < 1e-18);
    });
  });
  it("YaRN's attention factor with partial rotary is refused (HF scales the rotated dims only)", () => {
    const s = parseHfConfig({ ...pythia70m, use_parallel_residual: false, rope_scaling: { type: "yarn", factor: 4 } });
    assert.throws(() => positionalFromHf(s), /partial rotary \(0.25\) and attention_factor=1.13862/);
    assert.doesNotThrow(() => positionalFromHf(parseHfConfig({ ...pythia70m, rope_scaling: { type: "yarn", factor: 4, attention_factor: 1 } })));
  });
});
