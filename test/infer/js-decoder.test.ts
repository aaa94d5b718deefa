/**
 * The JS decode path (lib/infer/js-decoder.ts) equals dTransformer with a KVCache, token by token,
 * for every positional encoding, both GELU forms, tied and untied W_u, d_mid ≠ d_attn; dInference
 * picks it on wasm/cpu and falls back to tfjs for encodings it does not know.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../../lib/errors.js";
import { dInference } from "../../lib/infer/dinference.js";
import { erfApprox, JsDecoder, jsDecoderUnsupported } from "../../lib/infer/js-decoder.js";
import { dTransformer, DTransformer, KVCache } from "../../lib/model/dtransformer.js";
import { positionalFrom } from "../../lib/positional/index.js";
import { rope } from "../../lib/positional/rope.js";
import type { PositionalEncoding } from "../../lib/positional/types.js";
import { expectClose, testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

// ℓ_max = 12 < the 20 positions fed: dynamic NTK changes θ' on the way (keys rotated again), the
// scalings use L = 12; learned W_p gets its own ℓ_max = 24.
const BASE = { nVocab: 23, lMax: 12, nLayers: 2, nHeads: 2, dE: 16, dMlp: 32, initStd: 0.4 };
const SEQ = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
const SPECS = [
  "learned", "sinusoidal", "sinusoidal:phuong-hutter", "bounded", "none", "alibi",
  "rope", "rope:interleaved", "pi:4", "ntk:4", "dynamic-ntk", "dynamic-ntk:2:interleaved", "yarn:4", "yarn:4:paper", "llama3:4",
];

/** Logits of each position fed one token at a time through tfjs with a KVCache (after a 5-token prompt). */
function tfjsSteps(m: DTransformer, x: number[], P: number): number[][] {
  const kv = new KVCache(m.cfg.nLayers);
  const rows: number[][] = [];
  tf.tidy(() => void dTransformer(tf.tensor2d([x.slice(0, P)], [1, P], "int32"), m, { kv }));
  for (let t = P; t < x.length; t++) {
    rows.push(tf.tidy(() => Array.from(dTransformer(tf.tensor2d([[x[t]!]], [1, 1], "int32"), m, { kv }).dataSync())));
  }
  kv.dispose();
  return rows;
}

function jsSteps(m: DTransformer, x: number[], P: number): number[][] {
  const kv = new KVCache(m.cfg.nLayers);
  tf.tidy(() => void dTransformer(tf.tensor2d([x.slice(0, P)], [1, P], "int32"), m, { kv }));
  const dec = new JsDecoder(m, kv, x.length);
  kv.dispose(); // the decoder holds copies
  const rows = x.slice(P).map((t) => Array.from(dec.step(t)));
  assert.equal(dec.length, x.length);
  return rows;
}

function check(m: DTransformer, what: string, P = 5): void {
  const a = jsSteps(m, SEQ, P);
  const b = tfjsSteps(m, SEQ, P);
  const spread = Math.max(...b.flat()) - Math.min(...b.flat());
  assert.ok(spread > 0.5, `${what}: logits vary (spread ${spread}), so the comparison can fail`);
  a.forEach((row, i) => expectClose(row, b[i]!, { atol: 2e-4, rtol: 1e-4, what: `${what}, position ${P + i}` }));
}

describe("JsDecoder equals dTransformer with a KV cache", () => {
  for (const spec of SPECS) {
    it(spec, () => {
      const pe = positionalFrom(spec);
      const m = DTransformer.create({ ...BASE, ...(spec === "learned" ? { lMax: 24 } : {}), positional: pe }, 7);
      check(m, spec);
      m.dispose();
    });
  }
  it("partial rotary (half the dims), exact GELU, untied W_u, d_mid ≠ d_attn, ε = 0, 3 heads", () => {
    const m = DTransformer.create({ ...BASE, nHeads: 3, dE: 18, dAttn: 4, dMid: 5, gelu: "exact", lnEps: 0, tiedEmbeddings: false, positional: rope({ rotaryFraction: 0.5 }) }, 3);
    check(m, "mixed", 1);
    m.dispose();
  });
  it("the plain-JS product (no WebAssembly) gives the same logits as the SIMD one", () => {
    const m = DTransformer.create({ ...BASE, positional: positionalFrom("yarn:4") }, 9);
    const kv = new KVCache(m.cfg.nLayers);
    tf.tidy(() => void dTransformer(tf.tensor2d([SEQ.slice(0, 6)], [1, 6], "int32"), m, { kv }));
    const a = new JsDecoder(m, kv, 20);
    const b = new JsDecoder(m, kv, 20, { prefer: "js" });
    kv.dispose();
    assert.equal(b.kind, "js");
    for (const t of SEQ.slice(6)) expectClose(Array.from(a.step(t)), Array.from(b.step(t)), { atol: 1e-5, rtol: 1e-5 });
    m.dispose();
  });
  it("ALiBi with 3 heads (non-power-of-two slopes)", () => {
    const m = DTransformer.create({ ...BASE, nHeads: 3, dE: 12, positional: positionalFrom("alibi") }, 2);
    check(m, "alibi H=3");
    m.dispose();
  });
  it("an empty cache (prompt of one token fed through step)", () => {
    const m = DTransformer.create({ ...BASE, positional: rope() }, 1);
    const dec = new JsDecoder(m, new KVCache(m.cfg.nLayers), 3);
    const got = [1, 2, 3].map((t) => Array.from(dec.step(t)));
    const full = tf.tidy(() => Array.from(m.logits([1, 2, 3]).dataSync()));
    got.forEach((row, i) => expectClose(row, full.slice(i * 23, (i + 1) * 23), { atol: 2e-4, rtol: 1e-4 }));
    assert.throws(() => dec.step(1), /position 3 is past the capacity of 3 positions/);
    m.dispose();
  });
  it("rejects a bad token id and a capacity with no room", () => {
    const m = DTransformer.create({ ...BASE, positional: rope() }, 1);
    const dec = new JsDecoder(m, new KVCache(m.cfg.nLayers), 4);
    assert.throws(() => dec.step(23), /token=23 .*N_V=23/);
    assert.throws(() => new JsDecoder(m, new KVCache(m.cfg.nLayers), 0), /capacity=0/);
    m.dispose();
  });
  it("erfApprox is within 2e-7 of erf at known points", () => {
    const known: [number, number][] = [[0, 0], [0.5, 0.5204998778], [1, 0.8427007929], [-1.5, -0.9661051465], [3, 0.9999779095]];
    for (const [x, e] of known) assert.ok(Math.abs(erfApprox(x) - e) < 2e-7, `erf(${x}) = ${erfApprox(x)}, expected ${e}`);
  });
});

describe("dInference decoder choice", () => {
  it("greedy tokens are the same with the JS and the tfjs decoder (RoPE, learned)", async () => {
    for (const pe of [rope(), positionalFrom("learned")]) {
      const m = DTransformer.create({ ...BASE, initStd: 0.1, lMax: 40, positional: pe }, 5);
      const a = await dInference(m, [1, 2, 3, 4], { maxTokens: 30, temperature: 0, decoder: "js" });
      const b = await dInference(m, [1, 2, 3, 4], { maxTokens: 30, temperature: 0, decoder: "tfjs" });
      const c = await dInference(m, [1, 2, 3, 4], { maxTokens: 30, temperature: 0, cache: false });
      assert.equal(a.decoder, "js");
      assert.equal(b.decoder, "tfjs");
      assert.equal(c.decoder, "none");
      assert.deepEqual(a.tokens, b.tokens);
      assert.deepEqual(a.tokens, c.tokens);
      assert.ok(new Set(a.tokens).size > 1, "the model does not just repeat one token");
      m.dispose();
    }
  });
  it("sampling with a seed gives the same tokens on both decoders; learned W_p stops at ℓ_max", async () => {
    const m = DTransformer.create({ ...BASE, lMax: 16, positional: positionalFrom("learned") }, 5);
    const a = await dInference(m, [1, 2, 3], { maxTokens: 40, temperature: 1, seed: 4, decoder: "js" });
    const b = await dInference(m, [1, 2, 3], { maxTokens: 40, temperature: 1, seed: 4, decoder: "tfjs" });
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(a.stopReason, "max-context");
    assert.equal(a.tokens.length, 14);
    m.dispose();
  });
  it("auto uses JS on wasm/cpu; an unknown rotating encoding falls back to tfjs, and 'js' is then refused", async () => {
    const m = DTransformer.create({ ...BASE, positional: rope() }, 5);
    assert.equal((await dInference(m, [1, 2], { maxTokens: 3 })).decoder, ["wasm", "cpu"].includes(tf.getBackend()) ? "js" : "tfjs");
    const inner = rope();
    const custom: PositionalEncoding = { name: "my-rotary", label: "custom", rotate: (t, p, w, c) => inner.rotate(t, p, w, c), toJSON: () => ({ name: "my-rotary" }) };
    const mc = m.withPositional(custom);
    assert.match(jsDecoderUnsupported(mc)!, /my-rotary/);
    const r = await dInference(mc, [1, 2], { maxTokens: 3 });
    assert.equal(r.decoder, "tfjs");
    await assert.rejects(dInference(mc, [1, 2], { maxTokens: 3, decoder: "js" }), (e: Error) => e instanceof ConfigError && /my-rotary/.test(e.message));
    await assert.rejects(dInference(m, [1, 2], { maxTokens: 3, decoder: "fast" as never }), /decoder="fast"/);
    m.dispose();
  });
  it("an encoding is recognised by the traits it declares, not by its name or class", () => {
    const inner = rope({ layout: "interleaved" });
    const rotary: PositionalEncoding = {
      name: "my-rotary", label: "custom", traits: { rotaryLayout: "interleaved" },
      rotate: (t, p, w, c) => inner.rotate(t, p, w, c), inverseFrequencies: (cfg, n) => inner.inverseFrequencies(cfg, n), toJSON: () => ({ name: "my-rotary" }),
    };
    const lin = positionalFrom("alibi");
    const bias: PositionalEncoding = { name: "my-bias", label: "custom", traits: { linearBias: true }, slopes: (h) => lin.slopes!(h).map((s) => 2 * s), scoreBias: (q, k, c) => tf.mul(lin.scoreBias!(q, k, c), 2), toJSON: () => ({ name: "my-bias" }) };
    const base = DTransformer.create({ ...BASE }, 9);
    for (const pe of [rotary, bias]) {
      const m = base.withPositional(pe);
      assert.equal(jsDecoderUnsupported(m), null, pe.name);
      const ref = tfjsSteps(m, SEQ, 5);
      const kv = new KVCache(m.cfg.nLayers);
      tf.tidy(() => void dTransformer(tf.tensor2d([SEQ.slice(0, 5)], [1, 5], "int32"), m, { kv }));
      const dec = new JsDecoder(m, kv, SEQ.length);
      kv.dispose();
      SEQ.slice(5).forEach((t, i) => expectClose(tf.tensor1d(dec.step(t)), tf.tensor1d(ref[i]!), { atol: 1e-4, what: `${pe.name} step ${i}` }));
    }
    base.dispose();
  });
});
