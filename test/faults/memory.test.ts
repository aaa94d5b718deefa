/**
 * Memory (memory.ts): a pass that would not fit the wasm heap is refused before anything is
 * allocated, naming the estimate and the options; a typical cell repeated leaves the live tensor
 * count flat. The training-step and evaluation refusals run in child processes (without the refusal they
 * would fill ~5 GB of the wasm heap and die).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { useBackend } from "../../lib/tensor/backend.js";
import { cellRepetition, childRefusal, forwardRefusals } from "./memory.js";

describe("memory faults on wasm", { timeout: 120_000 }, () => {
  it("forward passes that would not fit are refused with the estimate and the options", async () => {
    await useBackend("wasm");
    for (const c of forwardRefusals()) assert.ok(c.ok, `${c.check}: ${c.detail}`);
  });
  it("a typical cell repeated 200 times leaves tf.memory() flat", async () => {
    await useBackend("wasm");
    const c = await cellRepetition(200);
    assert.ok(c.ok, c.detail);
  });
  it("a training step and a loss evaluation that would not fit are refused before any work (child processes)", async () => {
    const [train, evaluate] = await Promise.all([childRefusal("train", 60_000), childRefusal("eval", 60_000)]);
    assert.ok(train.ok, `${train.check}: ${train.detail}`);
    assert.match(train.detail, /dTraining: step 1, long micro-batch 0: DTransformer: a training step at B=1, ℓ=30000/);
    assert.ok(evaluate.ok, `${evaluate.check}: ${evaluate.detail}`);
    assert.match(evaluate.detail, /evaluateLoss: long batch 0: DTransformer: a forward pass at B=1, ℓ=30000/);
  });
});
