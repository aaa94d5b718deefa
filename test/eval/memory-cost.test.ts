/**
 * lib/eval/memory-cost.ts: the census of [ℓ, ℓ] tensors of a forward (four per head per layer in
 * the per-head layout: S, its scaling, the mask added, softmax), the training step's peak against
 * a forward's, and the KV cache's bytes against kvCacheMemory, with nothing left allocated.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { makeConfig, presets } from "../../lib/config.js";
import { kvCacheMemory } from "../../lib/engine/memory-estimate.js";
import { forwardCost } from "../../lib/eval/cost.js";
import { kvCacheCost, scoreBuffers, trainingCost } from "../../lib/eval/memory-cost.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { rope } from "../../lib/positional/rope.js";
import { testBackend } from "../helpers/setup.js";

describe("memory cost", () => {
  before(async () => {
    await testBackend();
  });
  const opts = { ...presets.tiny, nLayers: 2, nHeads: 2, dE: 16, dMlp: 32, nVocab: 40, lMax: 64, positional: rope() };

  it("counts the [ℓ, ℓ] tensors of a forward by kernel: one softmax and one product per head and layer", async () => {
    const m = DTransformer.create(opts, 0);
    const t = await scoreBuffers(m, { length: 24 });
    const rows = Object.fromEntries((t.objects() as { kernel: string; tensors: number; bytes: number }[]).map((r) => [r.kernel, r]));
    assert.equal(rows.Softmax?.tensors, 2 * 2, JSON.stringify(rows));
    assert.equal(rows.BatchMatMul?.tensors, 2 * 2, "the scope around the product is not counted again");
    assert.equal(rows.Softmax!.bytes, 4 * 4 * 24 * 24);
    m.dispose();
  });

  it("measures a training step above a forward, and a KV cache exactly as estimated", async () => {
    const m = DTransformer.create(opts, 0);
    const live = tf.memory().numTensors;
    const tr = (await trainingCost(m, { lengths: [32] })).objects()[0] as { peak_bytes: number; estimate_bytes: number };
    const fw = (await forwardCost(m, { lengths: [32], repeats: 1 })).objects()[0] as { peak_bytes: number };
    assert.ok(tr.peak_bytes > fw.peak_bytes, `training ${tr.peak_bytes} vs forward ${fw.peak_bytes}`);
    assert.ok(tr.estimate_bytes > 0);
    const kv = (await kvCacheCost(m, { lengths: [8, 16] })).objects() as { length: number; cache_bytes: number; estimate_bytes: number }[];
    for (const r of kv) assert.equal(r.cache_bytes, r.estimate_bytes);
    assert.equal(kv[1]!.cache_bytes, 2 * kv[0]!.cache_bytes, "linear in ℓ");
    assert.equal(kvCacheMemory(makeConfig(opts), { batch: 1, length: 16 }), 4 * 2 * 2 * 16 * (8 + 8));
    assert.equal(tf.memory().numTensors, live, "nothing left allocated");
    assert.throws(() => kvCacheMemory(makeConfig(opts), { batch: 0, length: 1 }), /batch must be an integer ≥ 1/);
    await assert.rejects(trainingCost(m, { lengths: [1] }), /integers ≥ 2/);
    m.dispose();
  });
});
