/** scope() frees temporaries in sync and async code; memoryInfo reports live tensors. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { disposeAll, memoryInfo, scope } from "../../lib/tensor/memory.js";
import { testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

describe("scope", () => {
  it("sync: disposes temporaries, keeps what is returned (also inside objects and Maps)", () => {
    const n0 = tf.memory().numTensors;
    const out = scope(() => {
      const a = tf.ones([3]);
      const b = tf.add(a, 1);
      tf.mul(b, 2);
      return { b, m: new Map([["c", tf.sub(b, 1)]]) };
    });
    assert.equal(tf.memory().numTensors, n0 + 2);
    assert.deepEqual(Array.from(out.b.dataSync()), [2, 2, 2]);
    assert.equal(disposeAll(out), 2);
    assert.equal(tf.memory().numTensors, n0);
  });

  it("async: disposes tensors created across awaits, keeps the result", async () => {
    const n0 = tf.memory().numTensors;
    const r = await scope(async () => {
      const a = tf.ones([4]);
      await new Promise((res) => setTimeout(res, 5));
      const b = tf.add(a, a);
      await Promise.resolve();
      tf.square(b);
      return b;
    });
    assert.equal(tf.memory().numTensors, n0 + 1);
    r.dispose();
  });

  it("cleans up when the function throws (sync and async)", async () => {
    const n0 = tf.memory().numTensors;
    assert.throws(() => scope(() => { tf.ones([2]); throw new Error("x"); }), /x/);
    await assert.rejects(scope(async () => { tf.ones([2]); await Promise.resolve(); throw new Error("y"); }), /y/);
    assert.equal(tf.memory().numTensors, n0);
  });

  it("memoryInfo counts live tensors and bytes", () => {
    const m0 = memoryInfo();
    const t = tf.zeros([1000]);
    const m1 = memoryInfo();
    assert.equal(m1.numTensors, m0.numTensors + 1);
    assert.equal(m1.numBytes, m0.numBytes + 4000);
    assert.match(m1.summary, /tensors, .* on (wasm|cpu)/);
    t.dispose();
  });
});
