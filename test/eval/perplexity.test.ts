/**
 * Perplexity against evaluation length (lib/eval/perplexity.ts): a uniform model (hook_logits
 * replaced by zeros) has perplexity exactly N_V; loss equals nextTokenLoss; window plans for the
 * three modes; learned W_p beyond ℓ_max and too-short text give error rows; the per-ℓ rollup.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { learned, none } from "../../lib/positional/index.js";
import { nextTokenLoss } from "../../lib/train/loss.js";
import { OVER_LMAX, PERPLEXITY_COLUMNS, perplexityByLength, perplexityVsLength, runEval, tokenLosses, windowsFor } from "../../lib/eval/index.js";
import { expectClose, testBackend } from "../helpers/setup.js";

const opts = { nVocab: 259, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32 };
const zeros = [["hook_logits", (v: tf.Tensor) => tf.zerosLike(v)]] as const;

before(async () => {
  await testBackend();
});

describe("windows", () => {
  it("sequential: non-overlapping; random: seeded, in range; sliding: stride S, later windows score the last S", () => {
    assert.deepEqual(windowsFor(100, 30, 5, "sequential"), [0, 30, 60].map((start) => ({ start, scoreFrom: 1 })));
    const r = windowsFor(100, 30, 4, "random", { seed: 3 });
    assert.deepEqual(r, windowsFor(100, 30, 4, "random", { seed: 3 }));
    assert.ok(r.every((w) => w.start >= 0 && w.start <= 70));
    assert.deepEqual(windowsFor(100, 30, 9, "sliding", { stride: 20 }), [{ start: 0, scoreFrom: 1 }, { start: 20, scoreFrom: 10 }, { start: 40, scoreFrom: 10 }, { start: 60, scoreFrom: 10 }]);
    assert.deepEqual(windowsFor(20, 30, 4, "sequential"), []);
    assert.throws(() => windowsFor(100, 30, 4, "sliding", { stride: 31 }), /stride S=31/);
  });
});

describe("perplexityVsLength", () => {
  it("a uniform model (logits hooked to zeros) has loss log N_V and perplexity exactly N_V", async () => {
    const m = DTransformer.create({ ...opts, lMax: 64, positional: none() }, 1);
    const t = await perplexityVsLength(m, { lengths: [16, 32], windows: 3, hooks: zeros });
    assert.deepEqual(t.columnNames(), [...PERPLEXITY_COLUMNS]);
    assert.equal(t.numRows(), 6);
    expectClose(t.array("perplexity") as number[], new Array(6).fill(259), { rtol: 1e-5 });
    expectClose(t.array("loss") as number[], new Array(6).fill(Math.log(259)), { rtol: 1e-6 });
    assert.deepEqual(t.array("scored"), [15, 15, 15, 31, 31, 31]);
    const roll = perplexityByLength(t).objects() as { length: number; perplexity: number; windows: number }[];
    expectClose(roll.map((r) => r.perplexity), [259, 259], { rtol: 1e-5 });
    m.dispose();
  });
  it("a window's loss equals nextTokenLoss of the same tokens; sliding scores only new tokens", async () => {
    const m = DTransformer.create({ ...opts, lMax: 64, positional: none() }, 2);
    const text = "Call me Ishmael. Some years ago, never mind how long precisely, having little money in my purse.";
    const ids = Array.from(new TextEncoder().encode(text));
    const t = await perplexityVsLength(m, { lengths: [24], windows: 2, text });
    const ref = nextTokenLoss(m, ids.slice(24, 48));
    expectClose([(t.objects() as { loss: number }[])[1]!.loss], [ref.dataSync()[0]!], { rtol: 1e-5 });
    ref.dispose();
    const s = await perplexityVsLength(m, { lengths: [24], windows: 3, mode: "sliding", stride: 8, text });
    assert.deepEqual(s.array("scored"), [23, 8, 8]);
    const all = tokenLosses(m, ids.slice(8, 32));
    const mean = all.subarray(15).reduce((a, b) => a + b, 0) / 8;
    expectClose([(s.objects() as { loss: number }[])[1]!.loss], [mean], { rtol: 1e-9 });
    m.dispose();
  });
  it("learned W_p: lengths beyond ℓ_max give one error row each (loss null), not a crash; short text too", async () => {
    const m = DTransformer.create({ ...opts, lMax: 32, positional: learned() }, 3);
    const t = await runEval(m, "perplexity", { lengths: [16, 32, 64, 128], windows: 2, label: "learned ℓ_max=32" });
    const rows = t.objects() as { length: number; error: string | null; loss: number | null; method: string }[];
    assert.deepEqual(rows.map((r) => [r.length, r.error]), [[16, null], [16, null], [32, null], [32, null], [64, OVER_LMAX], [128, OVER_LMAX]]);
    assert.ok(rows.every((r) => r.method === "learned ℓ_max=32"));
    assert.ok(rows.slice(0, 4).every((r) => Number.isFinite(r.loss)) && rows[4]!.loss === null);
    const roll = perplexityByLength(t).objects() as { length: number; error: string | null; perplexity: number | null }[];
    assert.deepEqual(roll.map((r) => r.error), [null, null, OVER_LMAX, OVER_LMAX]);
    assert.equal(roll[3]!.perplexity, null);
    const short = await perplexityVsLength(m, { lengths: [16], tokens: [1, 2, 3] });
    assert.equal((short.objects()[0] as { error: string }).error, "text shorter than ℓ");
    await assert.rejects(perplexityVsLength(m, { lengths: [1] }), /ℓ=1 must be an integer ≥ 2/);
    m.dispose();
  });
});
