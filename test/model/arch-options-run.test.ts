/**
 * Architecture options beyond the forward pass, for every variant of arch-variants.ts: KV-cache decoding
 * (Alg 14 with the cache, through dTransformer and through the plain-JS decoder) equals full recomputation
 * position by position and in greedy generation; trace() records the new hook names with the right shapes;
 * a few steps of Alg 13 lower the loss; ctxlab's checkpoint round-trips the options and reproduces the logits.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { estimateForwardMemory } from "../../lib/engine/memory-estimate.js";
import { hookNames } from "../../lib/hooks/names.js";
import { dInference } from "../../lib/infer/dinference.js";
import { JsDecoder } from "../../lib/infer/js-decoder.js";
import { loadCheckpoint, saveCheckpoint } from "../../lib/io/checkpoint.js";
import { DTransformer, dTransformer, KVCache } from "../../lib/model/dtransformer.js";
import { dTraining } from "../../lib/train/dtraining.js";
import { resolveOptimizer } from "../../lib/train/optim.js";
import { nextTokenLoss } from "../../lib/train/loss.js";
import { expectClose, testBackend } from "../helpers/setup.js";
import { fixedSource } from "../train/sources.js";
import { ARCH_BASE, SEQS, VARIANTS } from "./arch-variants.js";

let tmp: string;
before(async () => {
  await testBackend();
  tmp = await mkdtemp(join(tmpdir(), "ctxlab-arch-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const X = SEQS[0]!;
const P = 4; // prompt length of the cached runs

/** Full-recomputation logits of X, row by row. */
function fullRows(m: DTransformer): number[][] {
  return tf.tidy(() => {
    const y = m.logits(X) as tf.Tensor;
    return (y.arraySync() as number[][]).slice(P);
  });
}

describe("architecture options: KV cache and decoding", () => {
  for (const { name, opts } of VARIANTS) {
    it(`${name}: the cached tfjs steps and the JS decoder equal full recomputation; greedy generation agrees`, async () => {
      const m = DTransformer.create(opts, 9);
      const want = fullRows(m);
      const kv = new KVCache(m.cfg.nLayers);
      tf.tidy(() => void dTransformer(tf.tensor2d([X.slice(0, P)], [1, P], "int32"), m, { kv }));
      assert.equal(kv.layers[0]!.k!.shape[1], m.cfg.nKvHeads, "the cache holds H_kv heads");
      assert.equal(kv.bytes(), 4 * m.cfg.nLayers * P * m.cfg.nKvHeads * (m.cfg.dAttn + m.cfg.dMid));
      const kvJs = new KVCache(m.cfg.nLayers);
      tf.tidy(() => void dTransformer(tf.tensor2d([X.slice(0, P)], [1, P], "int32"), m, { kv: kvJs }));
      const dec = new JsDecoder(m, kvJs, X.length);
      kvJs.dispose();
      for (let t = P; t < X.length; t++) {
        const row = tf.tidy(() => Array.from(dTransformer(tf.tensor2d([[X[t]!]], [1, 1], "int32"), m, { kv }).dataSync()));
        expectClose(row, want[t - P]!, { atol: 2e-5, what: `cached tfjs step at position ${t}` });
        expectClose(dec.step(X[t]!), want[t - P]!, { atol: 2e-5, what: `JS decoder at position ${t}` });
      }
      kv.dispose();
      const gen = async (o: object) => (await dInference(m, X.slice(0, P), { maxTokens: 6, temperature: 0, ...o })).tokens;
      const plain = await gen({ cache: false });
      assert.deepEqual(await gen({ decoder: "tfjs" }), plain, "greedy tokens with the tfjs cache");
      assert.deepEqual(await gen({ decoder: "js" }), plain, "greedy tokens with the JS decoder");
      m.dispose();
    });
  }
});

describe("architecture options: hooks", () => {
  it("llama-like: hook_pre (gate), hook_pre_linear (up), hook_post; hook_k/hook_v have H_kv heads; names as hookNames", () => {
    const m = DTransformer.create(VARIANTS.find((v) => v.name === "llama-like")!.opts, 1);
    const { logits, cache } = m.trace([X]);
    const names = hookNames(2, m.cfg).filter((n) => n !== "hook_pos_embed");
    assert.deepEqual(cache.names(), names);
    assert.deepEqual(cache.get("blocks.0.mlp.hook_pre").shape, [1, 10, 24]);
    assert.deepEqual(cache.get("blocks.1.mlp.hook_pre_linear").shape, [1, 10, 24]);
    assert.deepEqual(cache.get("blocks.0.attn.hook_q").shape, [1, 4, 10, 4]);
    assert.deepEqual(cache.get("blocks.0.attn.hook_k").shape, [1, 2, 10, 4]);
    assert.deepEqual(cache.get("blocks.0.attn.hook_rot_k").shape, [1, 2, 10, 4]);
    assert.deepEqual(cache.get("blocks.0.attn.hook_pattern").shape, [1, 4, 10, 10]);
    const [pre, lin, post] = ["hook_pre", "hook_pre_linear", "hook_post"].map((n) => cache.get(`blocks.1.mlp.${n}`));
    expectClose(post!, tf.mul(tf.mul(pre!, tf.sigmoid(pre!)), lin!), { atol: 1e-6, what: "SiLU(gate) ⊙ up" });
    const n = cache.get("blocks.0.ln1.hook_normalized");
    const g = m.params.get("blocks.0.ln1.gamma");
    expectClose(tf.div(n, g).square().mean(-1), new Array(10).fill(1), { atol: 1e-3, what: "RMSNorm: mean square of x̂ = 1" });
    tf.dispose(logits);
    cache.dispose();
    m.dispose();
  });

  it("runWithHooks: replacing the gated MLP's up projection (hook_pre_linear) by 0 zeroes the MLP's output (no biases)", () => {
    const m = DTransformer.create(VARIANTS.find((v) => v.name === "llama-like")!.opts, 1);
    let out: number[] = [];
    const y = m.runWithHooks([X], [
      ["blocks.1.mlp.hook_pre_linear", (v) => tf.zerosLike(v)],
      ["blocks.1.hook_mlp_out", (v) => void (out = Array.from(v.dataSync()))],
    ]);
    assert.equal(out.length, 10 * 16);
    assert.ok(out.every((x) => x === 0));
    tf.dispose(y);
    m.dispose();
  });

  it("parallel residual: no hook_resid_mid; resid_post = resid_pre + attn_out + mlp_out, the MLP reads LN2(resid_pre)", () => {
    const m = DTransformer.create(VARIANTS.find((v) => v.name === "neox-like")!.opts, 2);
    const { logits, cache } = m.trace([X]);
    assert.deepEqual(cache.names(), hookNames(2, m.cfg).filter((n) => n !== "hook_pos_embed"));
    assert.ok(!cache.names().includes("blocks.0.hook_resid_mid"));
    const c = (s: string) => cache.get(`blocks.1.${s}`);
    expectClose(c("hook_resid_post"), tf.add(tf.add(c("hook_resid_pre"), c("hook_attn_out")), c("hook_mlp_out")), { atol: 1e-5 });
    const ln2 = tf.tidy(() => {
      const r = c("hook_resid_pre");
      const mu = r.mean(-1, true);
      const v = r.sub(mu).square().mean(-1, true);
      return r.sub(mu).div(v.add(m.cfg.lnEps).sqrt()).mul(m.params.get("blocks.1.ln2.gamma")).add(m.params.get("blocks.1.ln2.beta"));
    });
    expectClose(c("ln2.hook_normalized"), ln2, { atol: 1e-5 });
    tf.dispose([logits, ln2]);
    cache.dispose();
    m.dispose();
  });

  it("the memory estimate counts H_kv and the gate", () => {
    const o = { batch: 1, length: 64, chunked: false };
    const [base, gqa, gated] = [{}, { nKvHeads: 1 }, { mlp: "gated-silu" as const }].map((x) => DTransformer.create({ ...ARCH_BASE, ...x }, 0));
    const est = (mm: DTransformer) => estimateForwardMemory(mm.cfg, o);
    assert.ok(est(gqa!) < est(base!), "fewer key/value parameters");
    assert.ok(est(gated!) > est(base!) + 4 * 2 * 16 * 24 * 4, "W_gate and the gate's activations");
    [base, gqa, gated].forEach((mm) => mm!.dispose());
  });
});

describe("architecture options: training and checkpoints", () => {
  it("weight decay: RMSNorm's γ and the gate's bias do not decay, W_gate does (as W_mlp1)", () => {
    const m = DTransformer.create({ ...ARCH_BASE, norm: "rmsnorm", mlp: "gated-silu" }, 0);
    const decay = new Set(resolveOptimizer(m.params.names()).decay);
    for (const n of ["blocks.0.ln1.gamma", "ln_final.gamma", "blocks.0.mlp.b_gate", "blocks.1.attn.b_k"]) assert.ok(!decay.has(n), n);
    for (const n of ["blocks.0.mlp.W_gate", "blocks.0.mlp.W_mlp1", "blocks.1.attn.W_k"]) assert.ok(decay.has(n), n);
    m.dispose();
  });

  for (const name of ["llama-like", "qwen2-like", "neox-like", "multi-query (H_kv = 1)", "free head width (H·d_attn ≠ d_e) with H_kv = 2"]) {
    it(`${name}: 8 steps of Alg 13 lower the loss on a fixed sequence`, async () => {
      const m = DTransformer.create(VARIANTS.find((v) => v.name === name)!.opts, 3);
      const before = nextTokenLoss(m, [X]);
      const r = await dTraining(m, { source: fixedSource(X, 2), steps: 8, schedule: 1e-2, optimizer: { weightDecay: 0 } });
      const after = nextTokenLoss(m, [X]);
      assert.equal(r.status, "completed");
      assert.ok(after.dataSync()[0]! < before.dataSync()[0]! - 0.1, `loss ${before.dataSync()[0]} → ${after.dataSync()[0]}`);
      tf.dispose([before, after]);
      r.optimizer.dispose();
      m.dispose();
    });
  }

  for (const { name, opts } of VARIANTS) {
    it(`${name}: saveCheckpoint → loadCheckpoint keeps the options and reproduces the logits`, async () => {
      const m = DTransformer.create(opts, 4);
      const dir = join(tmp, name.replace(/[^a-z0-9]+/gi, "_"));
      await saveCheckpoint(m, dir);
      const json = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as { model_type: string; ctxlab: Record<string, unknown> };
      assert.equal(json.model_type, "ctxlab");
      assert.equal(json.ctxlab.tensors, "ctxlab");
      const back = await loadCheckpoint(dir);
      for (const k of ["norm", "mlp", "nKvHeads", "bias", "residual", "dAttn", "dMid", "tiedEmbeddings"] as const) assert.deepEqual(back.cfg[k], m.cfg[k], k);
      assert.deepEqual(back.params.names(), m.params.names());
      expectClose(back.logits(X), m.logits(X), { atol: 0, rtol: 0, what: "logits after the round trip" });
      back.dispose();
      m.dispose();
    });
  }

  it("a ctxlab-layout config.json with a bad option or without tensors: \"ctxlab\" is a CheckpointError naming it", async () => {
    const m = DTransformer.create(VARIANTS.find((v) => v.name === "llama-like")!.opts, 4);
    const dir = join(tmp, "bad");
    await saveCheckpoint(m, dir);
    const path = join(dir, "config.json");
    const good = JSON.parse(await readFile(path, "utf8")) as { ctxlab: Record<string, unknown> };
    const tryWith = async (ctxlab: Record<string, unknown>, re: RegExp) => {
      await writeFile(path, JSON.stringify({ ...good, ctxlab: { ...good.ctxlab, ...ctxlab } }));
      await assert.rejects(loadCheckpoint(dir), (e: Error) => e.name === "CheckpointError" && re.test(e.message));
    };
    await tryWith({ n_kv_heads: 3 }, /H_kv \(nKvHeads\) must be a positive integer that divides H=4.*got 3/);
    await tryWith({ norm: "scalenorm" }, /norm must be "layernorm" or "rmsnorm", got "scalenorm"/);
    await tryWith({ tensors: undefined }, /ctxlab\.tensors must be "ctxlab"/);
    await tryWith({ n_kv_heads: 1 }, /tensor "blocks\.0\.attn\.W_k" has shape \[16, 8\] but the config implies \[16, 4\]/);
    m.dispose();
  });

  it("a default-architecture model is still written in the GPT-2 layout with no option fields", async () => {
    const m = DTransformer.create(ARCH_BASE, 4);
    const dir = join(tmp, "default");
    await saveCheckpoint(m, dir);
    const json = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as { model_type: string; ctxlab: Record<string, unknown> };
    assert.equal(json.model_type, "gpt2");
    assert.deepEqual(Object.keys(json.ctxlab).sort(), ["d_attn", "d_mid", "format", "gelu", "init_std", "ln_eps", "positional", "tied"]);
    const back = await loadCheckpoint(dir);
    assert.deepEqual([back.cfg.norm, back.cfg.mlp, back.cfg.nKvHeads, back.cfg.residual], ["layernorm", "gelu", 4, "sequential"]);
    back.dispose();
    m.dispose();
  });
});
