/**
 * Long runs on the slow cpu backend (lib/runtime/long-run.ts): the work estimates, and every library
 * entry point that computes a long run refusing TF.js's cpu backend nobody asked for while wasm is
 * available — decided by multiply-adds, not by a step count — unless asked (allowCpu, useBackend("cpu"),
 * CTXLAB_BACKEND=cpu). Nothing is computed or changed by a refusal. "Allowed" runs are given an aborted
 * signal, so they stop before their first step instead of computing for minutes on cpu.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { presets, type DTransformerConfig } from "../../lib/config.js";
import { textTokens, windowSource, lengthMixtureSource, mixedSource } from "../../lib/data/batches.js";
import { corpusSplit, mobyDick } from "../../lib/data/corpus.js";
import { byteTokenizer } from "../../lib/data/tokenizer.js";
import type { BatchSource } from "../../lib/data/types.js";
import { BackendError } from "../../lib/errors.js";
import { forwardCost } from "../../lib/eval/cost.js";
import { runEval } from "../../lib/eval/index.js";
import { perplexityVsLength } from "../../lib/eval/perplexity.js";
import { contextExtension } from "../../lib/extend/experiment.js";
import { runRecipe } from "../../lib/extend/run-recipe.js";
import { dInference } from "../../lib/infer/dinference.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { rope } from "../../lib/positional/rope.js";
import { trainBase } from "../../lib/pretrain/base-checkpoint.js";
import { loadBase } from "../../lib/pretrain/base-model.js";
import { baseRecipe } from "../../lib/pretrain/recipes.js";
import { describedStepMacs, forwardMacs, generationMacs, LONG_RUN_MACS, refuseLongRunOnCpu, trainingMacs } from "../../lib/runtime/long-run.js";
import { _setOptionalLoaderForTests, tf, useBackend } from "../../lib/tensor/backend.js";
import { dTraining } from "../../lib/train/dtraining.js";

/** presets.micro by hand: N_V 11, L 2, H 2, d_e 8, d_mlp 16, d_attn = d_mid = 4. */
const micro = { nVocab: 11, nLayers: 2, nHeads: 2, dE: 8, dMlp: 16, dAttn: 4, dMid: 4 };
// per token and layer: W_q, W_k, W_v 8·(2·4) each + W_o 8·8 = 256, MLP 2·8·16 = 256; unembedding 8·11 = 88;
// attention over ℓ positions, per layer: ℓ·H·(d_attn + d_mid) = 16ℓ
const microToken = (l: number) => 2 * (256 + 256) + 88 + 2 * 16 * l;

/** TF.js on its cpu backend with no selection made (what a script or cell gets when nothing calls useBackend). */
async function unrequestedCpu(): Promise<void> {
  delete process.env["CTXLAB_BACKEND"];
  _setOptionalLoaderForTests(null); // forget the selection; wasm can still be loaded
  await tf.setBackend("cpu");
}

function assertRefused(e: unknown, what: RegExp): true {
  assert.ok(e instanceof BackendError, `expected a BackendError, got ${String(e)}`);
  assert.match(e.message, what);
  assert.match(e.message, /multiply-adds; long runs start at 1\.0·10⁹ multiply-adds\) would run on TF\.js's plain-JavaScript "cpu" backend \(nothing selected a backend\)/);
  assert.match(e.message, /to over 100× \(a training step of 16 × 128 tokens\) slower than wasm/);
  assert.match(e.message, /call `await useBackend\(\)` first/);
  assert.match(e.message, /useBackend\("cpu"\), CTXLAB_BACKEND=cpu or the option allowCpu: true/);
  return true;
}

const aborted = (): AbortSignal => {
  const ac = new AbortController();
  ac.abort();
  return ac.signal;
};

const tok = byteTokenizer();
const { train } = corpusSplit(mobyDick());
const text = textTokens(train.slice(0, 50_000), tok);
let tiny: DTransformer;
const big = () => windowSource(text, { batch: 16, length: 128 }); // one training step of presets.tiny ≈ 9·10⁸

describe("work estimates", () => {
  it("forwardMacs, trainingMacs and generationMacs count Algorithm 10's products", () => {
    assert.equal(forwardMacs(micro, 8), 8 * microToken(8));
    assert.equal(forwardMacs(micro, 8, 3), 3 * 8 * microToken(8));
    assert.equal(trainingMacs(micro, 8, 2), 3 * 2 * 8 * microToken(8));
    // no cache: a full forward for each new token
    assert.equal(generationMacs(micro, 3, 4, false), [3, 4, 5, 6].reduce((n, l) => n + forwardMacs(micro, l), 0));
    // cache: the prompt once, then one row per new token over its context
    assert.equal(generationMacs(micro, 3, 4), forwardMacs(micro, 3) + [3, 4, 5, 6].reduce((n, l) => n + microToken(l), 0));
    assert.ok(generationMacs(micro, 3, 40) < generationMacs(micro, 3, 40, false));
    // grouped-query attention and the gated MLP change the projections
    const gqa = { ...micro, nKvHeads: 1, mlp: "gated-silu" as const };
    assert.equal(forwardMacs(gqa, 1), 2 * (8 * (8 + 4 + 4) + 64 + 3 * 8 * 16) + 88 + 2 * 16);
  });

  it("describedStepMacs reads the batch shape from a source's describe(); a custom source gives undefined", () => {
    const cfg = { ...micro } as unknown as DTransformerConfig;
    assert.equal(describedStepMacs(cfg, windowSource(text, { batch: 4, length: 8 }).describe()), trainingMacs(micro, 8, 4));
    const mix = lengthMixtureSource(text, { mixture: [{ length: 8, weight: 3 }, { length: 16, weight: 1 }], batchTokens: 64 });
    assert.equal(describedStepMacs(cfg, mix.describe()), 0.75 * trainingMacs(micro, 8, 8) + 0.25 * trainingMacs(micro, 16, 4));
    const mixed = mixedSource([{ source: windowSource(text, { batch: 2, length: 8 }), weight: 1 }, { source: windowSource(text, { batch: 2, length: 16 }), weight: 3 }]);
    assert.equal(describedStepMacs(cfg, mixed.describe()), 0.25 * trainingMacs(micro, 8, 2) + 0.75 * trainingMacs(micro, 16, 2));
    assert.equal(describedStepMacs(cfg, { name: "custom" }), undefined);
  });
});

describe("entry points refuse a long run on an unrequested cpu backend while wasm is available", () => {
  before(async () => {
    await unrequestedCpu();
    tiny = DTransformer.create({ ...presets.tiny, nVocab: tok.vocabSize, positional: rope() }, 0);
  });
  beforeEach(unrequestedCpu);
  after(() => tiny.dispose());

  it("dTraining: 2 steps of the README's batch are refused (the old 20-step rule let them run); 30 micro steps run", async () => {
    assert.ok(2 * trainingMacs(tiny.cfg, 128, 16) >= LONG_RUN_MACS);
    const before = tf.memory().numTensors;
    const w = Array.from(tiny.params.get("blocks.0.mlp.W_mlp1").dataSync());
    await assert.rejects(dTraining(tiny, { source: big(), steps: 2 }), (e) => assertRefused(e, /^dTraining: 2 steps \(about 1\.8·10⁹ multiply-adds/));
    assert.equal(tf.memory().numTensors, before, "a refused run leaves no tensors (its optimizer is disposed)");
    assert.deepEqual(Array.from(tiny.params.get("blocks.0.mlp.W_mlp1").dataSync()), w, "nothing was trained");
    const m = DTransformer.create({ ...presets.micro, positional: rope() }, 0);
    const r = await dTraining(m, { source: windowSource(Int32Array.from({ length: 400 }, (_, i) => i % 11), { batch: 2, length: 8 }), steps: 30 });
    assert.equal(r.status, "completed");
    m.dispose();
  });

  it("dTraining with a source that does not describe its shape: measured on the first batch, before any update", async () => {
    const custom: BatchSource = { name: "custom", describe: () => ({}), next: (rng) => ({ tokens: Int32Array.from({ length: 16 * 128 }, () => rng.int(0, 256)), batch: 16, length: 128 }) };
    const w = Array.from(tiny.params.get("W_e").dataSync());
    await assert.rejects(dTraining(tiny, { source: custom, steps: 3 }), (e) => assertRefused(e, /^dTraining: 3 steps/));
    assert.deepEqual(Array.from(tiny.params.get("W_e").dataSync()), w);
  });

  it("runEval (retrieval sweep and perplexity), perplexityVsLength and forwardCost", async () => {
    await assert.rejects(runEval(tiny, "passkey", { lengths: [128, 256], depths: [0, 0.5, 1], n: 20, variant: "compact" }), (e) => assertRefused(e, /^evaluation of 120 examples \(RoPE/));
    await assert.rejects(runEval(tiny, "perplexity", { lengths: [512], windows: 16 }), (e) => assertRefused(e, /^perplexity of 16 windows/));
    await assert.rejects(perplexityVsLength(tiny, { lengths: [512], windows: 16 }), (e) => assertRefused(e, /^perplexity of 16 windows/));
    await assert.rejects(forwardCost(tiny, { lengths: [1024, 2048] }), (e) => assertRefused(e, /^forwardCost: ℓ ∈ \{1024, 2048\}, 5 passes each/));
    // small work runs
    assert.equal((await runEval(tiny, "passkey", { lengths: [64], depths: [0.5], n: 2, variant: "compact" })).numRows(), 2);
  });

  it("dInference: generation without the cache over many tokens is refused; the cached plain-JS decoder only counts the prompt", async () => {
    assert.ok(generationMacs(tiny.cfg, 16, 200, false) >= LONG_RUN_MACS);
    await assert.rejects(dInference(tiny, tok.encode("Call me Ishmael."), { maxTokens: 200, cache: false }), (e) => assertRefused(e, /^dInference: 200 tokens after a 16-token prompt/));
    const r = await dInference(tiny, tok.encode("Call me Ishmael."), { maxTokens: 200 });
    assert.equal(r.tokens.length, 200);
    assert.equal(r.decoder, "js");
  });

  it("runRecipe, contextExtension, loadBase's stand-in and trainBase (before it clears its work directory)", async () => {
    const before = tf.memory().numTensors;
    await assert.rejects(runRecipe(tiny, "pi-ft", { targetLength: 512, steps: 100 }), (e) => assertRefused(e, /^runRecipe "pi-ft": 100 steps at ℓ′ = 512/));
    assert.equal(tf.memory().numTensors, before, "the fine-tune's copy of the weights was disposed");
    await assert.rejects(contextExtension({ bases: { rope: tiny } }), (e) => assertRefused(e, /^contextExtension: \d+ runs/));
    const dir = mkdtempSync(join(tmpdir(), "ctxlab-long-run-"));
    try {
      await assert.rejects(loadBase("rope", { dir }), (e) => assertRefused(e, /^loadBase\("rope"\): .* not found; training a stand-in for 40 steps/));
      assert.equal(tf.memory().numTensors, before, "the stand-in model was disposed");
      const work = join(dir, "work");
      await assert.rejects(trainBase("rope", baseRecipe("rope"), { work }), (e) => assertRefused(e, /^trainBase\("rope"\): \d+ steps of/));
      assert.equal(existsSync(work), false, "nothing was written");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("allowed when asked: allowCpu, useBackend(\"cpu\"), CTXLAB_BACKEND=cpu; and on wasm", async () => {
    const run = () => dTraining(tiny, { source: big(), steps: 50, signal: aborted() });
    assert.equal((await dTraining(tiny, { source: big(), steps: 50, signal: aborted(), allowCpu: true })).status, "interrupted");
    assert.equal((await runRecipe(tiny, "yarn-ft", { targetLength: 512, steps: 100, allowCpu: true, signal: aborted() })).status, "interrupted");
    assert.equal((await runEval(tiny, "perplexity", { lengths: [512], windows: 16, allowCpu: true, signal: aborted() })).numRows(), 0);
    assert.equal((await dInference(tiny, [1, 2], { maxTokens: 200, cache: false, allowCpu: true, signal: aborted() })).stopReason, "aborted");
    const dir = mkdtempSync(join(tmpdir(), "ctxlab-long-run-"));
    try {
      const b = await loadBase("rope", { dir, allowCpu: true, signal: aborted() });
      assert.equal(b.fromCheckpoint, false);
      b.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await refuseLongRunOnCpu("x", 1e12, true);
    await useBackend("cpu"); // by name
    assert.equal((await run()).status, "interrupted");
    await unrequestedCpu();
    process.env["CTXLAB_BACKEND"] = "cpu"; // chosen by the variable, although nothing passed it to useBackend
    try {
      assert.equal((await run()).status, "interrupted");
    } finally {
      delete process.env["CTXLAB_BACKEND"];
    }
    await unrequestedCpu();
    await assert.rejects(run(), BackendError);
    await useBackend("wasm");
    assert.equal((await run()).status, "interrupted");
  });
});
