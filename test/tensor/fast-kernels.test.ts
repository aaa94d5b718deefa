/**
 * lib/tensor/fast-kernels.ts and the fast training ops built on it (affine2d, geluTanh): values and
 * gradients equal the plain TF.js ops (wasm kernels and the other backends' fallbacks).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { mergeGrid, splitGrid, sumRows, transpose2d } from "../../lib/tensor/fast-kernels.js";
import { affine2d, geluTanh, geluTanhOps, linear } from "../../lib/tensor/ops.js";
import { expectClose, testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

describe("transpose2d / sumRows", () => {
  it("transpose2d equals tf.transpose exactly for shapes that are and are not multiples of the tile", () => {
    for (const [m, n] of [[1, 1], [3, 70], [64, 32], [100, 37], [256, 33]] as const) {
      const x = tf.randomNormal([m, n], 0, 1, "float32", m + n);
      expectClose(transpose2d(x), tf.transpose(x), { atol: 0, rtol: 0 });
      assert.deepEqual(transpose2d(x).shape, [n, m]);
    }
    const xi = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], "int32");
    assert.deepEqual(transpose2d(xi).arraySync(), [[1, 4], [2, 5], [3, 6]]);
    assert.equal(transpose2d(xi).dtype, "int32");
    assert.throws(() => transpose2d(tf.zeros([2, 2, 2])), /2-D/);
  });
  it("transpose2d's gradient is the transposed upstream gradient", () => {
    const x = tf.randomNormal([5, 7], 0, 1, "float32", 3);
    const w = tf.randomNormal([7, 5], 0, 1, "float32", 4);
    expectClose(tf.grad((t) => tf.sum(tf.mul(transpose2d(t), w)))(x), tf.transpose(w), { atol: 0 });
  });
  it("sumRows equals tf.sum over axis 0", () => {
    const x = tf.randomNormal([300, 9], 0, 1, "float32", 5);
    expectClose(sumRows(x), tf.sum(x, 0), { atol: 1e-5 });
  });
});

describe("splitGrid / mergeGrid", () => {
  it("block g·B + b is rows b·r… and columns g·c… of x; mergeGrid inverts it", () => {
    const [B, G, r, c] = [3, 4, 5, 2];
    const x = tf.randomNormal([B * r, G * c], 0, 1, "float32", 6);
    const blocks = splitGrid(x, B, G);
    assert.equal(blocks.length, B * G);
    for (let g = 0; g < G; g++) for (let b = 0; b < B; b++) expectClose(blocks[g * B + b]!, tf.slice(x, [b * r, g * c], [r, c]), { atol: 0, rtol: 0 });
    expectClose(mergeGrid(blocks, B, G), x, { atol: 0, rtol: 0 });
  });
  it("gradients: through splitGrid (unused blocks get zeros) and through mergeGrid", () => {
    const [B, G, r, c] = [2, 3, 4, 2];
    const x = tf.randomNormal([B * r, G * c], 0, 1, "float32", 7);
    const w = Array.from({ length: B * G }, (_, k) => tf.randomNormal([r, c], 0, 1, "float32", 20 + k));
    const f = (parts: tf.Tensor[]) => tf.addN(parts.map((p, k) => (k === 4 ? tf.scalar(0) : tf.sum(tf.mul(tf.square(p), w[k]!)))));
    const ref = (t: tf.Tensor) => Array.from({ length: B * G }, (_, k) => tf.slice(t, [(k % B) * r, Math.floor(k / B) * c], [r, c]));
    expectClose(tf.grad((t) => f(splitGrid(t, B, G)))(x), tf.grad((t) => f(ref(t)))(x), { atol: 1e-6 });
    const parts = ref(x);
    const W = tf.randomNormal([B * r, G * c], 0, 1, "float32", 8);
    const gs = tf.grads((...ps: tf.Tensor[]) => tf.sum(tf.mul(mergeGrid(ps, B, G), W)))(parts);
    gs.forEach((g, k) => expectClose(g, ref(W)[k]!, { atol: 0 }));
  });
  it("names the shape when B or G does not divide", () => {
    assert.throws(() => splitGrid(tf.zeros([5, 4]), 2, 2), /B=2 and G=2.*\[5, 4\]/);
    assert.throws(() => mergeGrid([tf.zeros([2, 2])], 1, 2), /B·G=2/);
  });
});

describe("affine2d and geluTanh equal the op-by-op forms", () => {
  it("affine2d: X·W + b and its gradients with respect to X, W and b", () => {
    const X = tf.randomNormal([37, 6], 0, 1, "float32", 9);
    const W = tf.randomNormal([6, 5], 0, 1, "float32", 10);
    const b = tf.randomNormal([5], 0, 1, "float32", 11);
    const G = tf.randomNormal([37, 5], 0, 1, "float32", 12);
    const plain = (x: tf.Tensor, w: tf.Tensor, bb: tf.Tensor) => tf.add(tf.matMul(x, w), bb);
    expectClose(affine2d(X, W, b), plain(X, W, b), { atol: 1e-5 });
    const loss = (fn: typeof plain) => (x: tf.Tensor, w: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(fn(x, w, bb), G));
    const a = tf.grads(loss(affine2d))([X, W, b]);
    const e = tf.grads(loss(plain))([X, W, b]);
    a.forEach((g, i) => expectClose(g, e[i]!, { atol: 1e-4, what: ["dX", "dW", "db"][i] }));
    expectClose(linear(X.reshape([1, 37, 6]), W, b).reshape([37, 5]), plain(X, W, b), { atol: 1e-5 });
  });
  it("geluTanh (x·σ(2u), hand-written gradient) equals 0.5·x·(1 + tanh(u)) in value and gradient", () => {
    const x = tf.concat([tf.linspace(-12, 12, 241), tf.randomNormal([500], 0, 2, "float32", 13)]);
    expectClose(geluTanh(x), geluTanhOps(x), { atol: 2e-6, rtol: 1e-5 });
    const w = tf.randomNormal(x.shape, 0, 1, "float32", 14);
    expectClose(tf.grad((t) => tf.sum(tf.mul(geluTanh(t), w)))(x), tf.grad((t) => tf.sum(tf.mul(geluTanhOps(t), w)))(x), { atol: 2e-6, rtol: 1e-5 });
  });
});

describe("layer norm with the hand-written gradient", () => {
  it("equals the op-by-op Algorithm 6 in value and in the gradients for e, γ and β (ε = 1e-5 and 0, ranks 1–3)", async () => {
    const { _layerNorm, _layerNormOps } = await import("../../lib/model/layer-norm.js");
    for (const [shape, eps] of [[[2, 5, 8], 1e-5], [[7, 8], 0], [[8], 1e-5]] as const) {
      const e = tf.add(tf.mul(tf.randomNormal([...shape], 0, 1, "float32", 30), 3), 1);
      const gamma = tf.randomNormal([8], 1, 0.5, "float32", 31);
      const beta = tf.randomNormal([8], 0, 1, "float32", 32);
      const G = tf.randomNormal([...shape], 0, 1, "float32", 33);
      expectClose(_layerNorm(e, gamma, beta, eps), _layerNormOps(e, gamma, beta, eps), { atol: 1e-5 });
      const loss = (fn: typeof _layerNorm) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fn(x, g, b, eps), G));
      const a = tf.grads(loss(_layerNorm))([e, gamma, beta]);
      const r = tf.grads(loss(_layerNormOps))([e, gamma, beta]);
      a.forEach((g, i) => expectClose(g, r[i]!, { atol: 1e-4, rtol: 1e-4, what: `${["de", "dγ", "dβ"][i]} ${JSON.stringify(shape)}` }));
    }
  });
});
