/** splitRows / concatRows: values and gradients equal tf.unstack / tf.concat (the wasm kernel and the fallback). */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { concatRows, splitRows } from "../../lib/tensor/split-rows.js";
import { expectClose, testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

describe("splitRows / concatRows", () => {
  it("values equal tf.unstack, and concatRows inverts splitRows", () => {
    const x = tf.randomNormal([4 * 5, 3], 0, 1, "float32", 1);
    const parts = splitRows(x, 4);
    const ref = tf.unstack(x.reshape([4, 5, 3]));
    assert.equal(parts.length, 4);
    parts.forEach((p, i) => expectClose(p, ref[i]!, { atol: 0 }));
    expectClose(concatRows(parts), x, { atol: 0 });
    tf.dispose([x, ...parts, ...ref]);
  });
  it("gradients equal those through tf.unstack and tf.concat, unused blocks get zeros", () => {
    const x = tf.randomNormal([3 * 4, 2], 0, 1, "float32", 2);
    const w = [0, 1, 2].map((i) => tf.randomNormal([4, 2], 0, 1, "float32", 10 + i));
    const f = (parts: tf.Tensor[]) => tf.addN(parts.map((p, i) => tf.sum(tf.mul(tf.square(p), w[i]!))));
    expectClose(tf.grad((t) => f(splitRows(t, 3)))(x), tf.grad((t) => f(tf.unstack(t.reshape([3, 4, 2]))))(x), { atol: 1e-6 });
    const g = tf.grad((t) => tf.sum(tf.mul(splitRows(t, 3)[1]!, 2)))(x).arraySync() as number[][];
    assert.deepEqual(g.map((r) => r[0]), [0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0]);
    const gc = tf.grad((t) => tf.sum(tf.mul(concatRows([t, tf.mul(t, 3)]), tf.range(0, 16).reshape([8, 2]))))(tf.ones([4, 2]));
    expectClose(gc, tf.add(tf.range(0, 8).reshape([4, 2]), tf.mul(tf.range(8, 16).reshape([4, 2]), 3)), { atol: 1e-5 });
  });
  it("names the shape when the rows do not divide", () => {
    assert.throws(() => splitRows(tf.zeros([5, 2]), 2), /n=2.*\[5, 2\]/);
    assert.throws(() => concatRows([tf.zeros([2, 2]), tf.zeros([3, 2])]), /\[2, 2\], \[3, 2\]/);
  });
});
