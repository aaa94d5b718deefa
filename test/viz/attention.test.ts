/**
 * lib/viz/attention.ts on a seeded micro model's trace: pattern reading, mean attention by
 * relative distance, row entropy (closed forms on hand-made patterns), and figure snapshots.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import type { ActivationCache } from "../../lib/hooks/cache.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { attentionByDistance, attentionEntropy, attentionGrid, meanByDistance, patternLayers, readPattern, rowEntropy } from "../../lib/viz/attention.js";
import { expectClose, testBackend } from "../helpers/setup.js";
import { matchSnapshot } from "./snapshot.js";

const TOKENS = ["<s>", "the", "cat", "sat", "on", "the", "mat", "."];
let model: DTransformer;
let cache: ActivationCache;

before(async () => {
  await testBackend();
  model = DTransformer.create({ ...presets.micro }, 11);
  cache = model.trace([0, 3, 1, 4, 1, 5, 9, 2]).cache;
});
after(() => {
  cache.dispose();
  model.dispose();
});

describe("reading patterns", () => {
  it("finds every layer and reads one head's causal rows summing to 1", () => {
    assert.deepEqual(patternLayers(cache), [0, 1]);
    const p = readPattern(cache, 1, 1);
    assert.deepEqual([p.nq, p.nk], [8, 8]);
    expectClose(p.rows.map((r) => r.reduce((s, v) => s + v, 0)), new Array(8).fill(1), { atol: 1e-5 });
    assert.equal(p.rows[0]![1], 0, "future keys get no attention");
  });

  it("meanByDistance and rowEntropy on hand-made patterns", () => {
    const uniform = { rows: [[1, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]], nq: 3, nk: 3 };
    expectClose(meanByDistance(uniform), [(1 + 0.5 + 1 / 3) / 3, (0.5 + 1 / 3) / 2, 1 / 3], { atol: 1e-12 });
    expectClose(rowEntropy(uniform.rows), [0, Math.log(2), Math.log(3)], { atol: 1e-12 });
    const diag = { rows: [[0, 1, 0], [0, 0, 1]], nq: 2, nk: 3 }; // queries at positions 1, 2 (offset 1)
    expectClose(meanByDistance(diag), [1, 0, 0], { atol: 0 });
  });

  it("does not leak tensors", () => {
    const n = tf.memory().numTensors;
    attentionGrid(cache);
    attentionEntropy(cache);
    assert.equal(tf.memory().numTensors, n);
  });
});

describe("attention figures (snapshots)", () => {
  it("attentionGrid: L × H heatmap subplots with token hover text and blank future cells", () => {
    const f = attentionGrid(cache, { tokens: TOKENS });
    assert.equal(f.data.length, 4);
    assert.deepEqual(f.data.map((t) => [t.xaxis, t.yaxis]), [["x", "y"], ["x2", "y2"], ["x3", "y3"], ["x4", "y4"]]);
    const z = f.data[0]!.z as (number | null)[][];
    assert.equal(z[0]![1], null);
    assert.match(String((f.data[0]!.text as string[][])[2]![1]), /query m = 2 "cat".*key n = 1 "the"/);
    assert.equal((f.layout.xaxis as { ticktext: string[] }).ticktext[0], "&lt;s&gt;", "tokens are not read as markup");
    matchSnapshot("attention-grid", f);
  });

  it("attentionGrid selects layers/heads and block-averages long patterns", () => {
    const f = attentionGrid(cache, { layers: [1], heads: [0], cap: 4 });
    assert.equal(f.data.length, 1);
    assert.equal((f.data[0]!.z as number[][]).length, 4);
    assert.match(String((f.layout.title as { text: string }).text), /2×2 blocks/);
  });

  it("attentionByDistance: one line per (layer, head) over m − n = 0…ℓ−1", () => {
    const f = attentionByDistance(cache);
    assert.equal(f.data.length, 4);
    assert.deepEqual(f.data[0]!.x, [0, 1, 2, 3, 4, 5, 6, 7]);
    expectClose(f.data[3]!.y as number[], meanByDistance(readPattern(cache, 1, 1)), { atol: 0 });
    matchSnapshot("attention-by-distance", f);
  });

  it("attentionEntropy: per query position, below the uniform ln(m+1) line", () => {
    const f = attentionEntropy(cache);
    assert.equal(f.data.length, 5);
    const ref = f.data[4]!.y as number[];
    for (const t of f.data.slice(0, 4)) (t.y as number[]).forEach((e, m) => assert.ok(e <= ref[m]! + 1e-5));
    matchSnapshot("attention-entropy", f);
  });
});
