/**
 * Training faults (training.ts): NaN/∞ in a gradient or the forward, corrupt batches, an unwritable,
 * read-only or full output directory, an abort at every phase of a step. Each must stop cleanly with
 * the last good parameters, say why, and leave the previous checkpoint loadable.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { testBackend } from "../helpers/setup.js";
import { trainingFaults } from "./training.js";

describe("training faults", { timeout: 120_000 }, () => {
  before(async () => {
    await testBackend();
  });
  it("every fault stops cleanly with the last good parameters and a loadable checkpoint", async () => {
    const rs = await trainingFaults(false);
    assert.ok(rs.length >= 16);
    const bad = rs.filter((r) => !r.ok);
    assert.deepEqual(bad.map((r) => `${r.fault}: ${r.problems.join("; ")} (${r.outcome})`), []);
  });
});
