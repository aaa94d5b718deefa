/**
 * Tests for lib/tensor/wasm-kernels.ts: the UnsortedSegmentSum kernel added to the wasm backend,
 * checked directly and through the gradient of tf.gather against the cpu backend and hand-computed
 * values.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, useBackend } from "../../lib/tensor/backend.js";
import { registerWasmKernels, unsortedSegmentSumInto, WASM_EXTRA_KERNELS } from "../../lib/tensor/wasm-kernels.js";
import { ShapeError } from "../../lib/errors.js";

type Tensor = ReturnType<typeof tf.tensor>;

/** Deterministic values in [-1, 1). */
function pseudo(n: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    out.push((s / 2147483647) * 2 - 1);
  }
  return out;
}

/** Runs `fn` on the given backend and returns the result's dtype, shape and values. */
async function on(backend: "wasm" | "cpu", fn: () => Tensor) {
  await useBackend(backend);
  assert.equal(tf.getBackend(), backend);
  const t = tf.tidy(fn);
  const out = { dtype: t.dtype, shape: t.shape, values: Array.from(t.dataSync()) };
  t.dispose();
  return out;
}

function assertClose(actual: number[], expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length, "length");
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tol, `index ${i}: ${v} vs ${expected[i]}`));
}

/**
 * Hand-computed d/dtable of Σ gather(table, idx, axis=0) ⊙ w: row v of the gradient is the sum of
 * the rows of w at the positions p where idx[p] = v.
 */
function gatherGradByHand(V: number, d: number, idx: number[], w: number[]): number[] {
  const g = new Array<number>(V * d).fill(0);
  idx.forEach((v, p) => {
    for (let j = 0; j < d; j++) g[v * d + j]! += w[p * d + j]!;
  });
  return g;
}

test("the module registers UnsortedSegmentSum for wasm once", () => {
  assert.deepEqual([...WASM_EXTRA_KERNELS], ["UnsortedSegmentSum"]);
  assert.ok(tf.getKernel("UnsortedSegmentSum", "wasm") !== undefined);
  assert.deepEqual(registerWasmKernels(), ["UnsortedSegmentSum"], "reports what the first call registered");
  assert.ok(tf.getKernel("UnsortedSegmentSum", "cpu") !== undefined, "cpu keeps its own kernel");
});

test("gather gradient with repeated indices (1-D, 2-D and 3-D index tensors) matches cpu and by hand", async () => {
  const V = 5;
  const d = 3;
  const table = pseudo(V * d, 7);
  for (const [idxShape, idx] of [
    [[6], [0, 2, 2, 4, 0, 0]],
    [[2, 3], [1, 1, 3, 0, 1, 4]],
    [[2, 2, 2], [4, 4, 4, 2, 0, 2, 3, 4]],
  ] as Array<[number[], number[]]>) {
    const w = pseudo(idx.length * d, 11 + idx.length);
    const grad = () =>
      tf.grad((t: Tensor) =>
        tf.gather(t, tf.tensor(idx, idxShape, "int32")).mul(tf.tensor(w, [...idxShape, d])).sum(),
      )(tf.tensor2d(table, [V, d]));
    const cpu = await on("cpu", grad);
    const wasm = await on("wasm", grad);
    assert.deepEqual(wasm.shape, [V, d]);
    assert.equal(wasm.dtype, "float32");
    assertClose(wasm.values, cpu.values);
    assertClose(wasm.values, gatherGradByHand(V, d, idx, w));
  }
});

test("gather gradient along axis 1 with a 2-D index tensor matches cpu", async () => {
  const x = pseudo(2 * 4 * 3, 3);
  const w = pseudo(2 * 2 * 3 * 3, 5);
  const grad = () =>
    tf.grad((t: Tensor) =>
      tf.gather(t, tf.tensor2d([[3, 0, 3], [1, 3, 3]], [2, 3], "int32"), 1).mul(tf.tensor(w, [2, 2, 3, 3])).sum(),
    )(tf.tensor3d(x, [2, 4, 3]));
  const cpu = await on("cpu", grad);
  const wasm = await on("wasm", grad);
  assert.deepEqual(wasm.shape, [2, 4, 3]);
  assertClose(wasm.values, cpu.values);
});

test("embedding-style [V, d] table: gradient of a token lookup equals cpu and by hand", async () => {
  const V = 257;
  const d = 16;
  const L = 300;
  const tokens = pseudo(L, 99).map((u) => Math.floor(((u + 1) / 2) * 40)); // many repeats among 40 ids
  const w = pseudo(L * d, 42);
  const table = pseudo(V * d, 1);
  const grad = () =>
    tf.grad((E: Tensor) => tf.gather(E, tf.tensor1d(tokens, "int32")).mul(tf.tensor2d(w, [L, d])).sum())(
      tf.tensor2d(table, [V, d]),
    );
  const cpu = await on("cpu", grad);
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  const wasm = await on("wasm", grad);
  assert.equal(tf.memory().numTensors, before, "no tensors leak");
  assertClose(wasm.values, cpu.values, 1e-4);
  assertClose(wasm.values, gatherGradByHand(V, d, tokens, w), 1e-4);
});

test("UnsortedSegmentSum called directly matches cpu, dropping out-of-range ids", async () => {
  const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const ids = [0, 2, -1, 7, 2];
  const f = () => tf.unsortedSegmentSum(tf.tensor2d(x, [5, 3]), tf.tensor1d(ids, "int32"), 4);
  const cpu = await on("cpu", f);
  const wasm = await on("wasm", f);
  assert.deepEqual(wasm.shape, [4, 3]);
  assert.deepEqual(wasm.values, cpu.values);
  assert.deepEqual(wasm.values, [1, 2, 3, 0, 0, 0, 4 + 13, 5 + 14, 6 + 15, 0, 0, 0]);
});

test("UnsortedSegmentSum on int32 x keeps int32 (TF semantics) with the values cpu gives", async () => {
  const f = () =>
    tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]], [4, 2], "int32"), tf.tensor1d([1, 1, 5, 0], "int32"), 3);
  const cpu = await on("cpu", f); // tfjs-backend-cpu returns float32 here; values agree
  const wasm = await on("wasm", f);
  assert.equal(wasm.dtype, "int32");
  assert.deepEqual(wasm.shape, [3, 2]);
  assert.deepEqual(wasm.values, cpu.values);
  assert.deepEqual(wasm.values, [7, 8, 4, 6, 0, 0]);
});

test("UnsortedSegmentSum with 1-D x, empty segments and numSegments 0", async () => {
  const a = await on("wasm", () => tf.unsortedSegmentSum(tf.tensor1d([1.5, 2.5, -1]), tf.tensor1d([2, 2, 0], "int32"), 4));
  assert.deepEqual(a.shape, [4]);
  assert.deepEqual(a.values, [-1, 0, 4, 0]);
  const b = await on("wasm", () => tf.unsortedSegmentSum(tf.tensor1d([1, 2]), tf.tensor1d([0, 1], "int32"), 0));
  assert.deepEqual(b.shape, [0]);
});

test("UnsortedSegmentSum with rank-2 segmentIds sums over both leading dims (TF semantics)", async () => {
  const x = Array.from({ length: 12 }, (_, i) => i); // [2, 3, 2]
  const ids = [0, 1, 0, 2, 0, 5];
  // tfjs types segmentIds as Tensor1D; the kernel (like TF) accepts any prefix of x's shape.
  const ids2d = () => tf.tensor2d(ids, [2, 3], "int32") as unknown as ReturnType<typeof tf.tensor1d>;
  const r = await on("wasm", () => tf.unsortedSegmentSum(tf.tensor3d(x, [2, 3, 2]), ids2d(), 3));
  assert.deepEqual(r.shape, [3, 2]);
  // rows: 0→[0,1], 1→[2,3], 2→[4,5], 3→[6,7], 4→[8,9], 5→[10,11]; ids 0,1,0,2,0,(5 dropped)
  assert.deepEqual(r.values, [0 + 4 + 8, 1 + 5 + 9, 2, 3, 6, 7]);
});

test("UnsortedSegmentSum rejects segmentIds that do not match x's leading dims", async () => {
  await useBackend("wasm");
  assert.throws(
    () => tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor1d([0, 1, 1], "int32"), 2),
    (e: unknown) => e instanceof ShapeError && /segmentIds has shape \[3\]/.test(e.message),
  );
});

test("unsortedSegmentSumInto overwrites its output and drops out-of-range ids", () => {
  const out = new Float32Array([9, 9, 9, 9]);
  unsortedSegmentSumInto([1, 2, 3, 4, 5, 6], [1, 2, 1], 2, 2, out);
  assert.deepEqual(Array.from(out), [0, 0, 1 + 5, 2 + 6]);
});
