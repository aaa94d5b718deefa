/** Algorithm 14: sampling arithmetic, KV-cache equivalence, greedy determinism, stop tokens, limits. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { dInference } from "../../lib/infer/dinference.js";
import { sampleToken, samplingDistribution } from "../../lib/infer/sampling.js";
import { dTransformer, DTransformer, KVCache } from "../../lib/model/dtransformer.js";
import { none } from "../../lib/positional/none.js";
import { Rng } from "../../lib/tensor/random.js";
import { expectClose, testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

describe("sampling (Alg 14 line 5)", () => {
  const p = [0.5, 0.3, 0.2];
  const logits = p.map(Math.log);
  it("q ∝ p^{1/τ} matches §4.10 for τ = 0.5, 1, 2", () => {
    expectClose(samplingDistribution(logits, { temperature: 0.5 }), [0.65789474, 0.23684211, 0.10526316], { rtol: 1e-7 });
    expectClose(samplingDistribution(logits, { temperature: 1 }), p, { rtol: 1e-12 });
    expectClose(samplingDistribution(logits, { temperature: 2 }), [0.41544591, 0.32180302, 0.26275107], { rtol: 1e-7 });
  });
  it("τ = 0 is greedy; top-k and top-p truncate and renormalise", () => {
    assert.deepEqual(Array.from(samplingDistribution(logits, { temperature: 0 })), [1, 0, 0]);
    expectClose(samplingDistribution(logits, { topK: 2 }), [0.625, 0.375, 0], { rtol: 1e-12 });
    expectClose(samplingDistribution(logits, { topP: 0.75 }), [0.625, 0.375, 0], { rtol: 1e-12 });
    expectClose(samplingDistribution(logits, { topP: 0.5 }), [1, 0, 0], { rtol: 1e-12 });
  });
  it("draws with the empirical frequencies of q, reproducibly for a seed", () => {
    const r = new Rng(3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleToken(logits, r)]!++;
    expectClose(counts.map((c) => c / 20000), p, { atol: 0.015 });
    const a = Array.from({ length: 20 }, ((r1) => () => sampleToken(logits, r1))(new Rng(9)));
    const b = Array.from({ length: 20 }, ((r2) => () => sampleToken(logits, r2))(new Rng(9)));
    assert.deepEqual(a, b);
  });
  it("rejects bad options with the value named", async () => {
    const m = DTransformer.create(presets.micro, 0);
    await assert.rejects(dInference(m, [1], { maxTokens: 2, temperature: -1 }), /temperature τ=-1/);
    await assert.rejects(dInference(m, [1], { maxTokens: 2, topP: 0 }), /topP=0/);
    await assert.rejects(dInference(m, [], { maxTokens: 2 }), /empty/);
    await assert.rejects(dInference(m, [99], { maxTokens: 2 }), /N_V=11/);
    m.dispose();
  });
});

describe("KV cache", () => {
  for (const [label, pe] of [["learned", undefined], ["NoPE", none()]] as const) {
    it(`feeding tokens one at a time with a cache gives the full-sequence logits (${label})`, () => {
      const m = DTransformer.create({ ...presets.micro, ...(pe ? { positional: pe } : {}) }, 1);
      const x = [3, 1, 4, 1, 5, 9, 2, 6];
      const full = m.logits(x);
      const kv = new KVCache(m.cfg.nLayers);
      const rows: tf.Tensor[] = [];
      // a 3-token prefix at once, then one token at a time
      rows.push(dTransformer(tf.tensor2d([x.slice(0, 3)], [1, 3], "int32"), m, { kv }).squeeze([0]));
      for (let t = 3; t < x.length; t++) rows.push(dTransformer(tf.tensor2d([[x[t]!]], [1, 1], "int32"), m, { kv }).squeeze([0]));
      assert.equal(kv.length, 8);
      expectClose(tf.concat(rows, 0), full, { atol: 2e-5 });
      kv.dispose();
      m.dispose();
    });
  }

  it("greedy generation is identical with and without the cache, and reproducible", async () => {
    const m = DTransformer.create({ ...presets.tiny, lMax: 64 }, 2);
    const prompt = Array.from(Buffer.from("Call me"));
    const a = await dInference(m, prompt, { maxTokens: 20, temperature: 0 });
    const b = await dInference(m, prompt, { maxTokens: 20, temperature: 0, cache: false });
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(a.tokens.length, 20);
    const s1 = await dInference(m, prompt, { maxTokens: 20, temperature: 1, topK: 50, seed: 5 });
    const s2 = await dInference(m, prompt, { maxTokens: 20, temperature: 1, topK: 50, seed: 5, cache: false });
    assert.deepEqual(s1.tokens, s2.tokens);
    m.dispose();
  });

  it("stops at stop tokens, at the callback's request, on abort, and at ℓ_max under learned positions", async () => {
    const m = DTransformer.create({ ...presets.micro }, 3);
    const g = await dInference(m, [1, 2], { maxTokens: 6, temperature: 0 });
    const first = g.tokens[0]!;
    const s = await dInference(m, [1, 2], { maxTokens: 6, temperature: 0, stop: [first] });
    assert.deepEqual(s.tokens, [first]);
    assert.equal(s.stopReason, "stop");
    const streamed: number[] = [];
    const c = await dInference(m, [1, 2], { maxTokens: 6, temperature: 0, onToken: (id, i) => (streamed.push(id), i < 1) });
    assert.deepEqual(streamed, g.tokens.slice(0, 2));
    assert.equal(c.stopReason, "callback");
    const ac = new AbortController();
    ac.abort();
    assert.equal((await dInference(m, [1, 2], { maxTokens: 6, signal: ac.signal })).stopReason, "aborted");
    // ℓ_max = 8: a 5-token prompt can produce ℓ + ℓ_gen − 1 ≤ 8 → 4 tokens
    const lim = await dInference(m, [1, 2, 3, 4, 5], { maxTokens: 10, temperature: 0 });
    assert.equal(lim.tokens.length, 4);
    assert.equal(lim.stopReason, "max-context");
    m.dispose();
  });

  it("leaves no tensors behind", async () => {
    const m = DTransformer.create({ ...presets.micro }, 4);
    const n0 = tf.memory().numTensors;
    await dInference(m, [1, 2], { maxTokens: 5, temperature: 1, seed: 1 });
    await dInference(m, [1, 2], { maxTokens: 5, temperature: 1, seed: 1, cache: false });
    assert.equal(tf.memory().numTensors, n0);
    m.dispose();
  });
});
