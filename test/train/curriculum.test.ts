/** A length curriculum through dTraining: the realised mixture is reported with the run. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { presets } from "../../lib/config.js";
import { lengthMixtureSource } from "../../lib/data/batches.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { none } from "../../lib/positional/none.js";
import { dTraining } from "../../lib/train/dtraining.js";
import { testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

describe("length curriculum", () => {
  it("the question's doubling mixture (ℓ_max, 2ℓ_max, 4ℓ_max …) is realised and reported per step", async () => {
    const tokens = Int32Array.from({ length: 5000 }, (_, i) => (i * 7) % 11);
    const source = lengthMixtureSource(tokens, { mixture: "doubling", lMax: 4, maxLength: 16, batchTokens: 32 });
    const m = DTransformer.create({ ...presets.micro, positional: none() }, 1);
    const r = await dTraining(m, { source, steps: 40, seed: 3 });
    assert.equal(r.lengths.reduce((a, b) => a + b.steps, 0), 40);
    assert.deepEqual(r.lengths.map((x) => x.length), [4, 8, 16]);
    // every step's row carries its ℓ, and the table's counts agree with the summary
    const fromRows = new Map<number, number>();
    for (const row of r.rows) fromRows.set(row.seq_len, (fromRows.get(row.seq_len) ?? 0) + 1);
    for (const x of r.lengths) assert.equal(fromRows.get(x.length), x.steps);
    assert.ok(r.lengths[0]!.steps > r.lengths[2]!.steps, "ℓ_max is drawn more often than 4ℓ_max");
    r.optimizer.dispose();
    m.dispose();
  });
});
