/**
 * lib/tensor/native-matmul.ts: wasm's BatchMatMul through OpenBLAS for large products equals the
 * plain TF.js product (the cpu backend's kernel) in value and gradient, for every layout the kernel
 * takes (transposes, batches, broadcast batches); the addon refuses out-of-range strides; where the
 * addon is not built or disabled, the reason is reported and wasm's own kernel keeps working.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { NATIVE_MIN_MACS, _nativeAddon, nativeMatMulInfo } from "../../lib/tensor/native-matmul.js";
import { expectClose, onBackend, testBackend } from "../helpers/setup.js";

let wasm = false;
before(async () => {
  wasm = (await testBackend()) === "wasm";
});

/** Values of f() on the cpu backend (TF.js's plain-JavaScript kernels), as plain arrays. */
async function onCpu(f: () => tf.Tensor | tf.Tensor[]): Promise<number[][]> {
  return onBackend("cpu", () => tf.tidy(() => [f()].flat().map((t) => Array.from(t.dataSync()))));
}

const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed + 1); // seed 0 means unseeded in TF.js

// shapes [a, b, transposeA, transposeB], each ≥ NATIVE_MIN_MACS multiply-adds (2^23)
const CASES: [number[], number[], boolean, boolean][] = [
  [[256, 256], [256, 128], false, false],
  [[300, 200], [200, 150], false, false],
  [[200, 300], [200, 150], true, false],
  [[300, 200], [150, 200], false, true],
  [[200, 300], [150, 200], true, true],
  [[4, 64, 96], [4, 96, 400], false, false], // batched
  [[2, 3, 64, 96], [2, 3, 240, 96], false, true], // two batch dims
  [[64, 96], [5, 96, 300], false, false], // a broadcast over b's batch
  [[5, 64, 96], [96, 300], false, false], // b broadcast over a's batch
  [[256, 512], [512, 256], false, false], // ≥ NATIVE_PARALLEL_MACS: all OpenBLAS threads
  [[2, 128, 96], [2, 96, 400], false, false], // one thread again after a parallel call
];

describe("native matMul (OpenBLAS) on wasm", () => {
  it("reports whether it is active and why", () => {
    const info = nativeMatMulInfo();
    assert.equal(typeof info.reason, "string");
    assert.ok(info.reason.length > 10, info.reason);
    assert.equal(info.minMacs, NATIVE_MIN_MACS);
    if (info.active) {
      assert.match(info.reason, /OpenBLAS/);
      assert.ok(_nativeAddon() !== undefined);
      assert.ok(info.corename && info.corename.length > 0);
    } else {
      assert.match(info.reason, /wasm/);
    }
  });

  it("equals the cpu backend's product for transposes, batches and broadcast batches", async () => {
    const before = nativeMatMulInfo().calls.native;
    for (const [i, [sa, sb, ta, tb]] of CASES.entries()) {
      const want = await onCpu(() => tf.matMul(rnd(sa, i), rnd(sb, 100 + i), ta, tb));
      const a = rnd(sa, i);
      const b = rnd(sb, 100 + i);
      const got = tf.matMul(a, b, ta, tb);
      assert.equal(got.size, want[0]!.length, `case ${i}: size`);
      expectClose(got.reshape([-1]), want[0]!, { atol: 2e-4, rtol: 1e-4, what: `case ${i} ${JSON.stringify([sa, sb, ta, tb])}` });
      tf.dispose([a, b, got]);
    }
    if (wasm && nativeMatMulInfo().active) assert.equal(nativeMatMulInfo().calls.native - before, CASES.length, "every case ran natively");
  });

  it("keeps wasm's kernel for small products and gives the same values", async () => {
    const before = nativeMatMulInfo().calls;
    const want = await onCpu(() => tf.matMul(rnd([8, 16], 1), rnd([16, 4], 2)));
    expectClose(tf.matMul(rnd([8, 16], 1), rnd([16, 4], 2)), want[0]!, { atol: 1e-5 });
    const after = nativeMatMulInfo().calls;
    assert.equal(after.native, before.native);
    if (wasm && nativeMatMulInfo().active) assert.equal(after.wasm, before.wasm + 1);
  });

  it("gradients of a product (dA = dY·Bᵀ, dB = Aᵀ·dY) equal the cpu backend's", async () => {
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b), rnd([3, 200, 140], 9)));
    const grads = () => tf.grads(f)([rnd([3, 200, 130], 7), rnd([3, 130, 140], 8)]);
    const want = await onCpu(grads);
    const before = nativeMatMulInfo().calls.native;
    const got = grads();
    expectClose(got[0]!, want[0]!, { atol: 5e-4, rtol: 1e-4, what: "dA" });
    expectClose(got[1]!, want[1]!, { atol: 5e-4, rtol: 1e-4, what: "dB" });
    if (wasm && nativeMatMulInfo().active) assert.ok(nativeMatMulInfo().calls.native - before >= 3, "forward and both gradient products ran natively");
  });

  it("wrong inner dimensions still fail with TF.js's error", () => {
    assert.throws(() => tf.matMul(rnd([300, 200], 1), rnd([100, 300], 2)), /inner|shape|match/i);
  });

  it("the addon refuses strides that would overrun its arrays, naming the sizes", () => {
    const addon = _nativeAddon();
    if (addon === undefined) {
      assert.equal(nativeMatMulInfo().active, false);
      return;
    }
    const a = new Float32Array(6);
    const c = new Float32Array(4);
    assert.throws(() => addon.sgemmBatch(1, false, false, 3, 2, 3, a, 9, 3, a, 6, 2, c, 6, 2), /overrun.*6, 6, 4 elements/);
    assert.throws(() => addon.sgemmBatch(2, false, false, 2, 2, 3, a, 6, 3, a, 6, 2, c, 4, 2), /overrun/);
    assert.throws(() => (addon.sgemmBatch as unknown as (...x: unknown[]) => void)(1, false), /15 arguments/);
    addon.sgemmBatch(1, false, false, 2, 2, 1, new Float32Array([1, 2]), 2, 1, new Float32Array([3, 4]), 2, 2, c, 4, 2);
    assert.deepEqual(Array.from(c), [3, 4, 6, 8]);
  });
});
