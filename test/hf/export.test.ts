/**
 * The way back: saveCheckpoint(model, dir, { format: "hf" }) writes the Hugging Face layout of the
 * model's architecture — GPT-2 (learned W_p), GPT-NeoX (rotary + LayerNorm + GELU, sequential or
 * parallel residual), Llama (rotary + RMSNorm + gated SiLU; GQA, head_dim, attention_bias/mlp_bias,
 * tied or not) and Qwen2 (biases on q/k/v only). The files load in the independent PyTorch reference
 * (test/reference/hf_reference.py; skipped, saying why, without python3-torch) with the same logits,
 * and back in ctxlab. What HF cannot express is a clear error.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets, type DTransformerOptions } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { loadPretrained } from "../../lib/hf/pretrained.js";
import { saveCheckpoint } from "../../lib/io/checkpoint.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { alibi } from "../../lib/positional/alibi.js";
import { rope, ropePI, yarn, llama3, ropeDynamicNTK, ropeNTK } from "../../lib/positional/rope.js";
import { testBackend } from "../helpers/setup.js";

const FIX = fileURLToPath(new URL("../../../test/fixtures/hf", import.meta.url));
const REF = fileURLToPath(new URL("../../../test/reference/hf_reference.py", import.meta.url));
const PY = "/usr/bin/python3";
const torchOk = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
const noTorch = torchOk ? false : `${PY} with torch is not available (apt-get install python3-torch)`;

const tmp = mkdtempSync(join(tmpdir(), "ctxlab-hf-export-"));
before(async () => void (await testBackend()));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
const maxAbs = (a: number[][], b: ArrayLike<number>, V: number) => Math.max(...a.flatMap((row, t) => row.map((v, j) => Math.abs(v - b[t * V + j]!))));
const referenceLogits = (dir: string): number[][] => {
  const r = spawnSync(PY, [REF, "logits", dir, JSON.stringify(ids)], { encoding: "utf8", maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as number[][];
};
const readJson = (p: string) => JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>;
const dirFor = (label: string) => join(tmp, label.replace(/[^a-z0-9]+/gi, "-"));

/** bigger weights than the initialisation, so that errors show in the logits (norm gains stay near 1) */
function make(o: DTransformerOptions, seed: number): DTransformer {
  const m = DTransformer.create(o, seed);
  for (const name of m.params.names()) {
    if (name.includes("gamma")) continue;
    const v = m.params.get(name);
    v.assign(tf.mul(v, 12));
  }
  return m;
}

const micro = { ...presets.micro, nVocab: 17, lMax: 8 };
const llamaish = { ...micro, nHeads: 4, dE: 16, dMlp: 24, norm: "rmsnorm", mlp: "gated-silu", bias: false, tiedEmbeddings: false } as const;
/** label, options, model_type and architecture expected in config.json, keys expected there */
const CASES: [string, DTransformerOptions, string, Record<string, unknown>][] = [
  ["learned → gpt2", { ...micro, lMax: 24 }, "gpt2", {}],
  ["RoPE half-split → gpt_neox", { ...micro, gelu: "exact", tiedEmbeddings: false, positional: rope() }, "gpt_neox", { use_parallel_residual: false }],
  ["RoPE interleaved, partial 1/2 → gpt_neox (q/k permuted)", { ...micro, positional: rope({ layout: "interleaved", rotaryFraction: 0.5 }) }, "gpt_neox", { rotary_pct: 0.5 }],
  ["PI ×2.5 → linear", { ...micro, positional: ropePI(2.5) }, "gpt_neox", {}],
  ["NTK ×4 → rope_theta", { ...micro, positional: ropeNTK(4) }, "gpt_neox", { rope_scaling: null }],
  ["dynamic NTK ×2 → dynamic", { ...micro, positional: ropeDynamicNTK({ factor: 2 }) }, "gpt_neox", {}],
  ["YaRN ×4 → yarn", { ...micro, positional: yarn(4, { originalLength: 8 }) }, "gpt_neox", {}],
  ["Llama-3 ×4 → llama3", { ...micro, positional: llama3({ factor: 4, originalLength: 8 }) }, "gpt_neox", {}],
  ["parallel residual, partial rotary → gpt_neox", { ...micro, residual: "parallel", tiedEmbeddings: false, positional: rope({ rotaryFraction: 0.5 }) }, "gpt_neox", { use_parallel_residual: true }],
  ["RMSNorm + gated SiLU + GQA 4/2, untied, PI ×2.5 → llama", { ...llamaish, nKvHeads: 2, positional: ropePI(2.5) }, "llama", { num_key_value_heads: 2, attention_bias: false, rope_scaling: { rope_type: "linear", type: "linear", factor: 2.5 } }],
  ["multi-query, tied, attention_bias + mlp_bias, YaRN ×4 → llama", { ...llamaish, nKvHeads: 1, bias: true, tiedEmbeddings: true, positional: yarn(4, { originalLength: 8 }) }, "llama", { num_key_value_heads: 1, attention_bias: true, mlp_bias: true, tie_word_embeddings: true }],
  ["head_dim 6 ≠ d_e/H, dynamic NTK ×2 → llama", { ...llamaish, nKvHeads: 2, dAttn: 6, dMid: 6, positional: ropeDynamicNTK({ factor: 2 }) }, "llama", { head_dim: 6 }],
  ["Llama-3 ×4, interleaved RoPE → llama (q/k permuted)", { ...llamaish, nKvHeads: 2, positional: llama3({ factor: 4, originalLength: 8, layout: "interleaved" }) }, "llama", {}],
  ["biases on q/k/v only, GQA, tied → qwen2", { ...llamaish, nKvHeads: 2, bias: { q: true, k: true, v: true, o: false, mlp: false }, tiedEmbeddings: true, positional: rope({ base: 1e6 }) }, "qwen2", { rope_theta: 1e6, use_sliding_window: false }],
];

describe("export: saveCheckpoint(format 'hf') loads in the reference with the same logits", { skip: noTorch }, () => {
  for (const [label, opts, modelType, keys] of CASES) {
    it(label, async (t) => {
      const m = make(opts, 3 + CASES.findIndex((c) => c[0] === label));
      const dir = dirFor(label);
      await saveCheckpoint(m, dir, { format: "hf" });
      const config = readJson(join(dir, "config.json"));
      assert.equal(config.model_type, modelType);
      for (const [k, v] of Object.entries(keys)) assert.deepEqual(config[k], v, `config.json ${k}`);
      if (modelType !== "gpt2") assert.equal(config.ctxlab, undefined, "format hf writes no ctxlab fields beside the HF keys"); // GPT-2's keeps them, as the default format
      const ref = referenceLogits(dir);
      const ours = m.logits(ids);
      const d = maxAbs(ref, ours.dataSync(), m.cfg.nVocab);
      const scale = Math.max(...ref.flat().map(Math.abs));
      assert.ok(scale > 1, `logits too small to compare (${scale})`);
      assert.ok(d < 1e-3, `${label}: max |Δlogit| = ${d} (max |logit| ${scale})`);
      // and back into ctxlab: same logits
      const back = await loadPretrained(dir);
      const d2 = tf.max(tf.abs(tf.sub(back.logits(ids), ours))).dataSync()[0]!;
      assert.ok(d2 < 1e-4, `${label}: reloaded export differs by ${d2}`);
      t.diagnostic(`${label}: max |Δlogit| vs reference ${d.toExponential(1)} (max |logit| ${scale.toFixed(1)})`);
      ours.dispose();
      back.dispose();
      m.dispose();
    });
  }
  for (const [name, arch] of [["llama-gqa", "LlamaForCausalLM"], ["qwen2-bias", "Qwen2ForCausalLM"], ["neox-parallel", "GPTNeoXForCausalLM"], ["llama-yarn-mscale", "LlamaForCausalLM"]] as const) {
    it(`${name}: loaded, exported again, the reference gives the fixture's logits`, async () => {
      const m = await loadPretrained(join(FIX, name));
      const dir = dirFor(`re-${name}`);
      await saveCheckpoint(m, dir, { format: "hf" });
      assert.deepEqual(readJson(join(dir, "config.json")).architectures, [arch]);
      const exp = JSON.parse(readFileSync(join(FIX, name, "expected.json"), "utf8")) as { ids: number[]; logits: number[][] };
      const r = spawnSync(PY, [REF, "logits", dir, JSON.stringify(exp.ids)], { encoding: "utf8", maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, r.stderr);
      const d = Math.max(...(JSON.parse(r.stdout) as number[][]).flatMap((row, t) => row.map((v, j) => Math.abs(v - exp.logits[t]![j]!))));
      assert.ok(d < 1e-3, `${name}: re-exported logits differ from the fixture's by ${d}`);
      m.dispose();
    });
  }
});

describe("export: what Hugging Face cannot express is a clear error", () => {
  const refuse = async (label: string, o: DTransformerOptions, re: RegExp) => {
    const m = DTransformer.create(o, 1);
    await assert.rejects(saveCheckpoint(m, dirFor(label), { format: "hf" }), (e: Error) => e instanceof ConfigError && re.test(e.message), label);
    m.dispose();
  };
  it("RMSNorm with a GELU MLP: no HF architecture, the exportable ones listed", () =>
    refuse("rms-gelu", { ...micro, norm: "rmsnorm", positional: rope() }, /norm "rmsnorm" with mlp "gelu" has no Hugging Face architecture.*RMSNorm \+ gated SiLU \(Llama, Qwen2\)/));
  it("Llama layout with partial rotary", () => refuse("llama-partial", { ...llamaish, positional: rope({ rotaryFraction: 0.5 }) }, /llama rotates every dim of a head; this model rotates 2 of d_attn=4/));
  it("a bias pattern neither Llama nor Qwen2 has", () => refuse("llama-bias", { ...llamaish, bias: { q: true, k: false, v: false, o: false, mlp: false }, positional: rope() }, /has no Hugging Face layout: Llama has attention_bias on q, k, v and o together/));
  it("GPT-NeoX with grouped-query attention", () => refuse("neox-gqa", { ...micro, nHeads: 4, dE: 16, nKvHeads: 2, positional: rope() }, /GPT-NeoX needs one key\/value head per query head, got nKvHeads=2, H=4/));
  it("ALiBi on a Llama-style model", () => refuse("llama-alibi", { ...llamaish, positional: alibi() }, /ALiBi.*has no Hugging Face llama equivalent/i));
  it("learned positions with the parallel residual (GPT-2 has no parallel residual, NeoX no W_p)", () =>
    refuse("learned-parallel", { ...micro, residual: "parallel" }, /learned.*has no Hugging Face gpt_neox equivalent; exportable: learned W_p → gpt2 \(LayerNorm \+ GELU, every bias, sequential\)/i));
});
