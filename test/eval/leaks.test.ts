/**
 * Tensor leaks of evaluation: runEval (logit and greedy scorers, perplexity) and a small
 * contextExtension plan leave tf.memory().numTensors where it was. scoreLogits used to keep the
 * tf.tidy-returned slice of the logits alive: one tensor per scored example (hundreds per experiment).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { rope } from "../../lib/positional/index.js";
import { runEval } from "../../lib/eval/index.js";
import { contextExtension } from "../../lib/extend/experiment.js";
import { testBackend } from "../helpers/setup.js";

const tiny = () => DTransformer.create({ nVocab: 256, lMax: 64, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32, positional: rope() }, 5);

before(async () => {
  await testBackend();
});

describe("evaluation leaves no tensors behind", () => {
  it("runEval: passkey (logit and greedy scorers) and perplexity keep the tensor count flat", async () => {
    const m = tiny();
    const n0 = tf.memory().numTensors;
    const pk = await runEval(m, "passkey", { lengths: [32, 48], depths: [0, 1], n: 2, variant: "compact" });
    assert.equal(pk.numRows(), 8);
    assert.equal(tf.memory().numTensors, n0, "logit scorer: 8 examples");
    const gr = await runEval(m, "passkey", { lengths: [32], depths: [0, 1], n: 1, variant: "compact", scorer: "greedy" });
    assert.equal(gr.numRows(), 2);
    assert.equal(tf.memory().numTensors, n0, "greedy scorer");
    const pp = await runEval(m, "perplexity", { lengths: [32, 64], windows: 2 });
    assert.equal(pp.numRows(), 4);
    assert.equal(tf.memory().numTensors, n0, "perplexity");
    m.dispose();
  });

  it("contextExtension (one fine-tune recipe with Table 4 snapshots, one zero-shot) keeps the tensor count flat", async () => {
    const m = tiny();
    const n0 = tf.memory().numTensors;
    const r = await contextExtension({
      bases: { rope: m }, plan: [{ recipe: "pi", base: "rope" }, { recipe: "pi-ft", base: "rope" }], steps: 2, batch: 2,
      lengths: [32, 64], depths: [0, 1], n: 1, windows: 1, snapshots: [0, 2], table4Lengths: [32], table4Depths: [0], table4N: 1,
    });
    assert.equal(r.status, "completed");
    assert.ok(r.passkey.numRows() > 0 && r.table4Rows.numRows() > 0);
    assert.equal(tf.memory().numTensors, n0);
    m.dispose();
  });
});
