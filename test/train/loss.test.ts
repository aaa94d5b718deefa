/**
 * Algorithm 13's loss and gradient plumbing: next-token cross-entropy against a plain-JS
 * computation and the paper's per-sequence sum, global-norm clipping arithmetic, and gradient
 * accumulation (= the gradient of the mean loss over the union of the micro-batches).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { InputError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { clipByGlobalNorm, clipScale, globalNorm } from "../../lib/train/clip.js";
import { _nextTokenLoss, accumulatedGrads, checkBatch, evaluateLoss, nextTokenLoss } from "../../lib/train/loss.js";
import { expectClose, testBackend, values } from "../helpers/setup.js";
import { batchOf, randomSource } from "./sources.js";

before(async () => {
  await testBackend();
});

const micro = { ...presets.micro };

describe("next-token loss", () => {
  it("is the mean of −log P[x[t+1], t] over B·(ℓ−1) tokens; the paper's sum is (ℓ−1)·mean per sequence", () => {
    const m = DTransformer.create(micro, 3);
    const xs = [[1, 2, 3, 4, 5, 6], [7, 0, 10, 3, 3, 9]];
    const logits = m.logits(xs);
    const L = logits.arraySync() as number[][][];
    const nll = (row: number[], tgt: number) => {
      const mx = Math.max(...row);
      return Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) + mx - row[tgt]!;
    };
    const sums = xs.map((x, b) => x.slice(1).reduce((s, tgt, t) => s + nll(L[b]![t]!, tgt), 0)); // paper: per-sequence sums
    const loss = nextTokenLoss(m, xs);
    expectClose([loss.dataSync()[0]!], [(sums[0]! + sums[1]!) / 10], { rtol: 1e-6, what: "mean over 2·5 tokens" });
    const one = nextTokenLoss(m, xs[0]!);
    expectClose([5 * one.dataSync()[0]!], [sums[0]!], { rtol: 1e-6, what: "loss_paper = (ℓ−1)·mean" });
    assert.throws(() => nextTokenLoss(m, [[1]]), (e: Error) => e instanceof InputError && /ℓ ≥ 2/.test(e.message));
    assert.throws(() => checkBatch(m, batchOf([[1, 2, 11]])), /tokens\[2\] .* = 11 is outside \[0, N_V\) with N_V=11/);
    assert.throws(() => checkBatch(m, batchOf([new Array(9).fill(1)])), /ℓ=9 exceeds ℓ_max=8/);
    tf.dispose([logits, loss, one]);
    m.dispose();
  });

  it("evaluateLoss averages over the tokens of fresh-seeded batches (the same batches on every call)", () => {
    const m = DTransformer.create(micro, 4);
    const src = randomSource(11, 2, 5);
    const a = evaluateLoss(m, src, { batches: 3, seed: 9 });
    assert.equal(evaluateLoss(m, src, { batches: 3, seed: 9 }), a);
    assert.ok(Math.abs(a - Math.log(11)) < 0.2, `an untrained model is near ln N_V: ${a}`);
    m.dispose();
  });
});

describe("clipping", () => {
  it("‖g‖ over all tensors; scaled by maxNorm/‖g‖ only when above; the pre-clip norm is reported", () => {
    const g = new Map<string, tf.Tensor>([["a", tf.tensor1d([3, 4])], ["b", tf.tensor1d([12])]]);
    assert.equal(globalNorm(g), 13);
    const c = clipByGlobalNorm(g, 6.5);
    assert.equal(c.norm, 13);
    assert.equal(c.scale, 0.5);
    assert.deepEqual(values(c.grads.get("a")!), [1.5, 2]);
    assert.deepEqual(values(c.grads.get("b")!), [6]);
    const u = clipByGlobalNorm(g, 20);
    assert.equal(u.scale, 1);
    assert.deepEqual(values(u.grads.get("a")!), [3, 4]);
    assert.equal(clipScale(13, null), 1);
    assert.equal(clipScale(NaN, 1), 1, "a NaN norm is not scaled (the trainer stops on it)");
    assert.throws(() => clipByGlobalNorm(g, 0), /must be a number > 0/);
    tf.dispose([...g.values(), ...c.grads.values(), ...u.grads.values()]);
  });
});

describe("gradient accumulation", () => {
  const grad = (m: DTransformer, fn: () => tf.Scalar) => {
    const vars = m.params.names().map((n) => m.params.get(n));
    const { value, grads } = tf.variableGrads(fn, vars);
    const out = new Map(m.params.names().map((n, i) => [n, grads[vars[i]!.name]!]));
    return { value, grads: out };
  };

  it("the average over equal micro-batches equals the gradient of the whole batch", () => {
    const m = DTransformer.create(micro, 5);
    const rows = [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [0, 10, 0, 10, 0], [7, 7, 8, 8, 9]];
    const acc = accumulatedGrads(m, [batchOf(rows.slice(0, 2)), batchOf(rows.slice(2))]);
    const ids = tf.tensor2d(rows, undefined, "int32");
    const whole = grad(m, () => _nextTokenLoss(ids, m));
    expectClose([acc.loss.dataSync()[0]!], [whole.value.dataSync()[0]!], { rtol: 1e-6, what: "loss" });
    for (const [n, g] of whole.grads) expectClose(acc.grads.get(n)!, g, { atol: 1e-7, rtol: 1e-5, what: n });
    tf.dispose([ids, acc.loss, whole.value, ...acc.grads.values(), ...whole.grads.values()]);
    m.dispose();
  });

  it("micro-batches of different B and ℓ are weighted by their token counts (mean over the union)", () => {
    const m = DTransformer.create(micro, 6);
    const b1 = batchOf([[1, 2, 3, 4], [4, 3, 2, 1]]); // 2·3 = 6 predicted tokens
    const b2 = batchOf([[9, 8, 7, 6, 5, 4, 3, 2], [0, 1, 0, 2, 0, 3, 0, 4]]); // 2·7 = 14 (B = 1 hits a tfjs Unpack-gradient bug in attention)
    const acc = accumulatedGrads(m, [b1, b2]);
    const [i1, i2] = [tf.tensor2d(b1.tokens, [2, 4], "int32"), tf.tensor2d(b2.tokens, [2, 8], "int32")];
    const union = grad(m, () => tf.div(tf.add(tf.mul(_nextTokenLoss(i1, m), 6), tf.mul(_nextTokenLoss(i2, m), 14)), 20) as tf.Scalar);
    expectClose([acc.loss.dataSync()[0]!], [union.value.dataSync()[0]!], { rtol: 1e-6, what: "loss" });
    for (const [n, g] of union.grads) expectClose(acc.grads.get(n)!, g, { atol: 1e-7, rtol: 1e-5, what: n });
    tf.dispose([i1, i2, acc.loss, union.value, ...acc.grads.values(), ...union.grads.values()]);
    m.dispose();
  });
});
