/**
 * Fast part of the SIGKILL crash test (crash.ts): 8 trials, each must load either the last reported
 * checkpoint or the one that was being written, with weights that match its step.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crashTrials } from "./crash.js";

describe("SIGKILL while saving a training checkpoint", { timeout: 120_000 }, () => {
  it("8 trials: always the old or the new checkpoint, never a broken one", async () => {
    const rep = await crashTrials(8, 11);
    assert.equal(rep.lost, 0, JSON.stringify(rep.details.filter((d) => d.outcome === "lost")));
    assert.equal(rep.old + rep.new, 8);
  });
});
