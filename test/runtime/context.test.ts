/**
 * The host seam: long-running library calls use the host's AbortSignal and progress display when the
 * caller passes none (what the Jupyter kernel relies on for interrupts and live progress).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { presets } from "../../lib/config.js";
import { dInference } from "../../lib/infer/dinference.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { setHost, type Progress } from "../../lib/runtime/context.js";
import { dTraining } from "../../lib/train/dtraining.js";
import type { BatchSource } from "../../lib/data/types.js";
import { testBackend } from "../helpers/setup.js";

const source: BatchSource = {
  name: "counting",
  next: (rng) => ({ tokens: Int32Array.from({ length: 2 * 6 }, () => rng.int(0, 11)), batch: 2, length: 6 }),
  describe: () => ({ name: "counting" }),
};

before(async () => {
  await testBackend();
});

describe("host seam", () => {
  it("dTraining stops at the next step boundary when the host's signal aborts, and reports progress", async () => {
    const ac = new AbortController();
    const updates: number[] = [];
    const ends: string[] = [];
    const progress = (): Progress => ({ update: (done) => { updates.push(done); if (done === 3) ac.abort(); }, end: (o) => void ends.push(o ?? "") });
    const prev = setHost({ signal: () => ac.signal, progress });
    try {
      const m = DTransformer.create(presets.micro, 1);
      const r = await dTraining(m, { source, steps: 50 });
      assert.equal(r.status, "interrupted");
      assert.equal(r.stepsDone, 3);
      assert.match(r.message, /interrupted at step 3/);
      assert.deepEqual(updates, [1, 2, 3]);
      assert.equal(ends.length, 1);
      assert.match(ends[0]!, /interrupted at step 3/);
      r.optimizer.dispose();
      m.dispose();
    } finally {
      setHost(prev);
    }
  });

  it("dInference stops when the host's signal aborts; an explicit signal wins over the host's", async () => {
    const ac = new AbortController();
    const prev = setHost({ signal: () => ac.signal });
    try {
      const m = DTransformer.create({ ...presets.micro, lMax: 64 }, 2);
      const r = await dInference(m, [1], { maxTokens: 40, temperature: 0, onToken: (_, i) => void (i === 4 && ac.abort()) });
      assert.equal(r.stopReason, "aborted");
      assert.equal(r.tokens.length, 5);
      const own = new AbortController();
      const r2 = await dInference(m, [1], { maxTokens: 10, temperature: 0, signal: own.signal });
      assert.equal(r2.tokens.length, 10, "the aborted host signal must not apply when the caller passes its own");
      m.dispose();
    } finally {
      setHost(prev);
    }
  });
});
