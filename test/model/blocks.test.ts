/**
 * Algorithms 1–7 against hand-computed values (docs/literature.md, "Phuong & Hutter"), closed forms and each other.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { attention, singleQueryAttention, type QkvWeights } from "../../lib/model/attention.js";
import { layerNorm, rmsNorm } from "../../lib/model/layer-norm.js";
import { maskPaper, maskRows } from "../../lib/model/mask.js";
import { mhAttention, type MhaWeights } from "../../lib/model/mh-attention.js";
import { tokenEmbedding } from "../../lib/model/token-embedding.js";
import { unembedding } from "../../lib/model/unembedding.js";
import { positionalEmbedding } from "../../lib/positional/learned.js";
import { geluExact, geluTanh } from "../../lib/tensor/ops.js";
import { Rng } from "../../lib/tensor/random.js";
import { named } from "../../lib/tensor/typed.js";
import { InputError, ShapeError } from "../../lib/errors.js";
import { expectClose, testBackend, values } from "../helpers/setup.js";

const rnd = (rng: Rng, shape: number[], std = 0.5) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), std), shape);

before(async () => {
  await testBackend();
});

describe("Alg 6 layer_norm", () => {
  const e = tf.tensor1d([1, 2, 3, 4]);
  const g = tf.ones([4]);
  const b = tf.zeros([4]);
  it("no ε gives the paper's values", () => {
    expectClose(layerNorm(named(e, ["d_e"]), g, b, 0), [-1.3416408, -0.4472136, 0.4472136, 1.3416408], { rtol: 1e-6 });
  });
  it("ε = 1e-5 gives PyTorch's values", () => {
    expectClose(layerNorm(named(e, ["d_e"]), g, b, 1e-5), [-1.3416354, -0.44721181, 0.44721181, 1.3416354], { rtol: 1e-6 });
  });
  it("RMSnorm", () => {
    expectClose(rmsNorm(named(e, ["d_e"]), g, 0), [0.36514837, 0.73029674, 1.0954451, 1.4605935], { rtol: 1e-6 });
  });
  it("applies γ and β per feature, per token", () => {
    const X = named(tf.tensor2d([[1, 2, 3, 4], [2, 2, 2, 6]]), ["ℓ", "d_e"]);
    const out = values(layerNorm(X, tf.tensor1d([1, 2, 1, 1]), tf.tensor1d([0, 0, 0, 10]), 0));
    expectClose(out.slice(0, 4), [-1.3416408, -0.8944272, 0.4472136, 11.3416408], { rtol: 1e-6 });
    // second row: mean 3, var 3 → (−1,−1,−1,3)/√3
    const s = Math.sqrt(3);
    expectClose(out.slice(4), [-1 / s, -2 / s, -1 / s, 3 / s + 10], { rtol: 1e-6 });
  });
  it("names the dim in shape errors", () => {
    assert.throws(() => layerNorm(named(tf.zeros([3, 5]), ["ℓ", "d_e"]), tf.ones([4]), tf.zeros([4])), /layerNorm: e has d_e=5 but γ expects d_e=4/);
  });
});

describe("GELU", () => {
  it("exact (erf) and tanh forms match §4.10", () => {
    const x = tf.tensor1d([1, -0.5]);
    expectClose(geluExact(x), [0.84134475, -0.15426877], { rtol: 1e-6 });
    expectClose(geluTanh(x), [0.84119199, -0.15428599], { rtol: 1e-6 });
  });
});

describe("masks (eq. 3)", () => {
  it("paper orientation is upper-triangular, code orientation its transpose", () => {
    assert.deepEqual(maskPaper(4), [[1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]]);
    const r = maskRows(4);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.equal(r[i]![j], maskPaper(4)[j]![i]);
  });
});

describe("Alg 1 token embedding and Alg 2 positional embedding", () => {
  const W = tf.tensor2d([[0, 1], [10, 11], [20, 21]]);
  it("returns rows of W_e (the paper's columns)", () => {
    assert.deepEqual(values(tokenEmbedding(2, W)), [20, 21]);
    assert.deepEqual(tokenEmbedding([2, 0, 2], W).arraySync(), [[20, 21], [0, 1], [20, 21]]);
    assert.deepEqual(tokenEmbedding([[1], [2]], W).shape, [2, 1, 2]);
  });
  it("rejects ids outside [0, N_V), empty and ragged input with the limit named", () => {
    assert.throws(() => tokenEmbedding([0, 3], W), (e: Error) => e instanceof InputError && /x\[1\]=3 .*\[0, N_V\) with N_V=3/.test(e.message));
    assert.throws(() => tokenEmbedding([0, -1], W), /x\[1\]=-1/);
    assert.throws(() => tokenEmbedding([0.5], W), /x\[0\]=0.5/);
    assert.throws(() => tokenEmbedding([], W), /empty \(ℓ=0\)/);
    assert.throws(() => tokenEmbedding([[1, 2], [1]], W), /equal length.*ℓ=2.*ℓ=1/);
  });
  it("Alg 2 returns row t of W_p and refuses t ≥ ℓ_max", () => {
    assert.deepEqual(values(positionalEmbedding(1, W)), [10, 11]);
    assert.throws(() => positionalEmbedding(3, W), /t=3 is outside \[0, ℓ_max\) with ℓ_max=3/);
  });
});

function qkv(rng: Rng, dIn: number, dAttn: number, dOut: number): QkvWeights {
  return { W_q: rnd(rng, [dIn, dAttn]), b_q: rnd(rng, [dAttn]), W_k: rnd(rng, [dIn, dAttn]), b_k: rnd(rng, [dAttn]), W_v: rnd(rng, [dIn, dOut]), b_v: rnd(rng, [dOut]) };
}

describe("Alg 3 and Alg 4 attention", () => {
  it("Alg 4 on a hand-computed example (identity weights)", () => {
    const X = named(tf.tensor2d([[1, 0], [0, 1]]), ["ℓ", "d_e"]);
    const I = tf.eye(2);
    const z = tf.zeros([2]);
    const w = { W_q: I, b_q: z, W_k: I, b_k: z, W_v: I, b_v: z };
    // scores Q·Kᵀ/√2 = I/√2; row 0 softmax = [e^a, 1]/(e^a + 1) with a = 1/√2; output = α·V
    const a = Math.exp(1 / Math.SQRT2);
    const p = a / (a + 1);
    expectClose(attention(X, X, w), [p, 1 - p, 1 - p, p], { rtol: 1e-6 });
    // causal: query 0 sees only key 0
    expectClose(attention(X, X, w, { mask: "causal" }), [1, 0, 1 - p, p], { rtol: 1e-6 });
  });
  it("Alg 3 (single query, written as in the paper) equals each row of Alg 4 with the causal mask", () => {
    const rng = new Rng(3);
    const X = named(rnd(rng, [5, 6]), ["ℓ", "d_e"]);
    const w = qkv(rng, 6, 4, 3);
    const full = attention(X, X, w, { mask: "causal" }).arraySync() as number[][];
    for (let t = 0; t < 5; t++) {
      const e = named(X.slice([t, 0], [1, -1]).reshape([6]), ["d_e"]);
      const ctx = named(X.slice([0, 0], [t + 1, -1]), ["ℓ_z", "d_z"]);
      expectClose(singleQueryAttention(e, ctx, w), full[t]!, { atol: 1e-6, rtol: 1e-5, what: `row ${t}` });
    }
  });
  it("cross-attention with ℓ_x ≠ ℓ_z and an explicit mask", () => {
    const rng = new Rng(4);
    const X = named(rnd(rng, [2, 3]), ["ℓ", "d_x"]);
    const Z = named(rnd(rng, [4, 5]), ["ℓ", "d_z"]);
    const w = qkv(rng, 3, 2, 2);
    w.W_k = rnd(rng, [5, 2]);
    w.W_v = rnd(rng, [5, 2]);
    const y = attention(X, Z, w, { mask: [[1, 1, 0, 0], [1, 1, 1, 1]] });
    assert.deepEqual(y.shape, [2, 2]);
    // row 0 equals attention over the first two context rows only
    const y0 = attention(named(X.slice([0, 0], [1, -1]), ["ℓ", "d_x"]), named(Z.slice([0, 0], [2, -1]), ["ℓ", "d_z"]), w);
    expectClose(values(y).slice(0, 2), y0, { atol: 1e-6 });
    assert.throws(() => attention(X, Z, w, { mask: [[1, 1, 1]] }), /Mask must be \[ℓ_x=2, ℓ_z=4\]/);
  });
});

describe("Alg 5 multi-head attention", () => {
  it("equals W_o·[Y¹; …; Y^H] + b_o with each Y^h from Alg 4", () => {
    const rng = new Rng(5);
    const H = 3, dE = 6, d = 2;
    const X = named(rnd(rng, [4, dE]), ["ℓ", "d_e"]);
    const W: MhaWeights = { ...qkv(rng, dE, H * d, H * d), W_o: rnd(rng, [H * d, dE]), b_o: rnd(rng, [dE]) };
    const heads: tf.Tensor[] = [];
    for (let h = 0; h < H; h++) {
      const cols = (t: tf.Tensor) => (t.rank === 2 ? t.slice([0, h * d], [-1, d]) : t.slice([h * d], [d]));
      heads.push(attention(X, X, { W_q: cols(W.W_q), b_q: cols(W.b_q!), W_k: cols(W.W_k), b_k: cols(W.b_k!), W_v: cols(W.W_v), b_v: cols(W.b_v!) }, { mask: "causal" }));
    }
    const expected = tf.add(tf.matMul(tf.concat(heads, 1), W.W_o), W.b_o!);
    expectClose(mhAttention(X, X, W, { nHeads: H, mask: "causal" }), expected, { atol: 1e-5 });
  });
  it("reports mismatched widths in the paper's notation", () => {
    const rng = new Rng(6);
    const X = named(rnd(rng, [3, 64]), ["ℓ", "d_e"]);
    const W: MhaWeights = { ...qkv(rng, 128, 128, 128), W_o: rnd(rng, [128, 128]), b_o: rnd(rng, [128]) };
    assert.throws(() => mhAttention(X, X, W, { nHeads: 4 }), (e: Error) => e instanceof ShapeError && e.message === "mhAttention: X has d_e=64 but W_q expects d_e=128");
  });
});

describe("Alg 7 unembedding", () => {
  it("softmax(W_u e) sums to 1 and matches a hand computation", () => {
    const W_u = tf.tensor2d([[1, 0, -1], [0, 2, 0]]); // [d_e=2, N_V=3]
    const p = values(unembedding(named(tf.tensor1d([1, 1]), ["d_e"]), W_u));
    const z = [Math.exp(1), Math.exp(2), Math.exp(-1)];
    const s = z[0]! + z[1]! + z[2]!;
    expectClose(p, z.map((v) => v / s), { rtol: 1e-6 });
  });
});
