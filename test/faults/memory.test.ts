/**
 * Memory (memory.ts): a pass that would not fit the wasm heap is refused before anything is
 * allocated, naming the estimate and the options; a typical cell repeated leaves the live tensor
 * count flat. The training-step and evaluation refusals run in child processes that fill ~5 GB when
 * nothing refuses, so they run only in the full suite (scripts/faults.mjs).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { useBackend } from "../../lib/tensor/backend.js";
import { cellRepetition, forwardRefusals } from "./memory.js";

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
  it("a training step or loss evaluation that would not fit is refused (full suite only)", { todo: "dTraining/evaluateLoss do not call checkFits yet: at B=1, ℓ=30,000 unchunked they die with 'RuntimeError: table index is out of bounds' after ~8 s and ~5 GB (see scripts/faults.mjs)" }, () => {
    assert.fail("not run in the fast suite");
  });
});
