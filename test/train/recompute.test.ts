/**
 * Training at real-model scale (lib/train/recompute.ts, the "host" moments of lib/train/optim.ts, the
 * training terms of lib/engine/memory-estimate.ts): the layer-by-layer gradient equals tf.variableGrads'
 * on every architecture variant, the new path (recompute + moments in JS memory + per-tensor updates)
 * trains exactly as the old one for a few steps, and the estimate counts gradients and the optimiser.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { makeConfig } from "../../lib/config.js";
import { checkFits, forwardMemory, HOST_MOMENTS_BYTES } from "../../lib/engine/memory-estimate.js";
import { ConfigError, InputError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { paramShapes } from "../../lib/model/params.js";
import { dTraining } from "../../lib/train/dtraining.js";
import { _accumulatedGrads } from "../../lib/train/loss.js";
import { createOptimizer } from "../../lib/train/optim.js";
import { _layerwiseGrads } from "../../lib/train/recompute.js";
import { testBackend } from "../helpers/setup.js";
import { ARCH_BASE, SEQS, VARIANTS } from "../model/arch-variants.js";
import { randomSource } from "./sources.js";

before(async () => {
  await testBackend();
});

const batchOf = (rows: readonly (readonly number[])[]) => ({ tokens: Int32Array.from(rows.flat()), batch: rows.length, length: rows[0]!.length });
const varsOf = (m: DTransformer) => m.params.names().map((n) => [n, m.params.get(n)] as const);

/** max |a − b| / (max |b| + 1e-6) over every parameter's gradient. */
function relDiff(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): { worst: number; name: string } {
  let worst = 0;
  let name = "";
  for (const [n, gb] of b) {
    const x = a.get(n)!.dataSync();
    const y = gb.dataSync();
    let d = 0;
    let s = 0;
    for (let i = 0; i < y.length; i++) {
      d = Math.max(d, Math.abs(x[i]! - y[i]!));
      s = Math.max(s, Math.abs(y[i]!));
    }
    if (d / (s + 1e-6) > worst) [worst, name] = [d / (s + 1e-6), n];
  }
  return { worst, name };
}

describe("layer-by-layer gradient (recompute)", () => {
  const cases = [{ name: "Algorithm 10 (learned positions, LayerNorm, GELU)", opts: ARCH_BASE }, ...VARIANTS];
  for (const { name, opts } of cases) {
    it(`equals tf.variableGrads: ${name}`, () => {
      const m = DTransformer.create(opts, 5);
      const b = batchOf(SEQS);
      const full = _accumulatedGrads(m, [b], varsOf(m));
      const lw = _layerwiseGrads(m, b, varsOf(m));
      try {
        assert.ok(Math.abs(full.loss.dataSync()[0]! - lw.loss.dataSync()[0]!) < 1e-5, "same loss");
        const { worst, name: at } = relDiff(lw.grads, full.grads);
        assert.ok(worst < 1e-4, `largest relative gradient difference ${worst} at ${at}`);
      } finally {
        tf.dispose([full.loss, lw.loss, ...full.grads.values(), ...lw.grads.values()]);
        m.dispose();
      }
    });
  }

  it("with micro-batches of unequal ℓ, head chunks and a frozen group", () => {
    const m = DTransformer.create({ ...VARIANTS.find((v) => v.name === "llama-like")!.opts, nVocab: 64 }, 6);
    const vars = varsOf(m).filter(([n]) => !n.startsWith("blocks.0."));
    const rows = Array.from({ length: 260 }, (_, i) => (i * 37) % 64);
    const bs = [batchOf([rows.slice(0, 16), rows.slice(16, 32)]), batchOf([rows.slice(0, 12)])];
    const full = _accumulatedGrads(m, bs, vars);
    const lw = _accumulatedGrads(m, bs, vars, { recompute: true });
    const one = _accumulatedGrads(m, [bs[0]!], vars);
    const chunked = _layerwiseGrads(m, bs[0]!, vars, 1, 7); // 30 predicted rows in head chunks of 7
    try {
      assert.deepEqual([...lw.grads.keys()], vars.map(([n]) => n));
      assert.ok(relDiff(lw.grads, full.grads).worst < 1e-4);
      assert.ok(relDiff(chunked.grads, one.grads).worst < 1e-4);
      assert.ok(Math.abs(chunked.loss.dataSync()[0]! - one.loss.dataSync()[0]!) < 1e-5);
    } finally {
      tf.dispose([full.loss, lw.loss, one.loss, chunked.loss, ...full.grads.values(), ...lw.grads.values(), ...one.grads.values(), ...chunked.grads.values()]);
      m.dispose();
    }
  });
});

describe("the new training path equals the old one (tiny model, 4 steps)", () => {
  const run = async (recompute: boolean, moments: "heap" | "host") => {
    const m = DTransformer.create({ ...VARIANTS.find((v) => v.name === "llama-like")!.opts, nVocab: 40 }, 11);
    const opt = createOptimizer(m.params, { moments, weightDecay: 0.1 });
    const r = await dTraining(m, { source: randomSource(40, 2, 12), steps: 4, optimizer: opt, schedule: 3e-3, clip: 0.5, recompute });
    const theta = new Map(m.params.names().map((n) => [n, m.params.get(n).clone()]));
    const state = opt.toState();
    opt.dispose();
    m.dispose();
    return { losses: r.rows.map((x) => x.loss), theta, state, r };
  };

  it("recompute + moments in JS memory ≈ whole tape + moments in the heap; moments alone are exact", async () => {
    const old = await run(false, "heap");
    const host = await run(false, "host");
    const both = await run(true, "host");
    try {
      assert.equal(old.r.status, "completed");
      assert.ok(old.r.rows.some((x) => x.grad_norm > 0.5), "clipping was applied in some step");
      assert.deepEqual(host.losses, old.losses, "moments in JS memory: same losses");
      const dh = relDiff(host.theta, old.theta);
      assert.ok(dh.worst <= 1e-6, `moments in JS memory: θ within 1e-6 (got ${dh.worst} at ${dh.name})`);
      for (const [k, s] of old.state.slots) {
        const h = host.state.slots.get(k)!.data as Float32Array;
        const o = s.data as Float32Array;
        assert.ok(o.every((x, i) => Math.abs(x - h[i]!) <= 1e-6 * (Math.abs(x) + 1e-6) + 1e-12), `slot ${k}`);
      }
      both.losses.forEach((l, i) => assert.ok(Math.abs(l - old.losses[i]!) < 1e-4, `step ${i + 1}: loss ${l} vs ${old.losses[i]}`));
      const db = relDiff(both.theta, old.theta);
      assert.ok(db.worst < 1e-4, `recompute + host: θ within 1e-4 (got ${db.worst} at ${db.name})`);
      assert.notDeepEqual(old.losses[0], old.losses[3]);
    } finally {
      for (const x of [old, host, both]) tf.dispose([...x.theta.values()]);
    }
  });

  it("recompute: true needs workers 1; a bad value is a ConfigError", async () => {
    const m = DTransformer.create(ARCH_BASE, 1);
    await assert.rejects(dTraining(m, { source: randomSource(13, 2, 8), steps: 1, recompute: true, workers: 2 }), (e: unknown) => e instanceof ConfigError && /workers: 1/.test((e as Error).message));
    await assert.rejects(dTraining(m, { source: randomSource(13, 2, 8), steps: 1, recompute: "yes" as unknown as boolean }), ConfigError);
    m.dispose();
  });
});

describe("training memory estimate: gradients and the optimiser", () => {
  const cfg = makeConfig({ ...ARCH_BASE });
  const sizes = [...paramShapes(cfg).values()].map((s) => s.reduce((a, b) => a * b, 1));
  const n = sizes.reduce((a, b) => a + b, 0);
  const largest = Math.max(...sizes);

  it("the optimiser term: slots in the heap + 17 copies of the largest parameter; in JS memory, 2 copies", () => {
    const base = { batch: 1, length: 8, training: true } as const;
    const heap = forwardMemory(cfg, { ...base, optimizer: { slots: 2, host: false } });
    const host = forwardMemory(cfg, { ...base, optimizer: { slots: 2, host: true } });
    const sgd = forwardMemory(cfg, { ...base, optimizer: { slots: 0 } });
    assert.equal(heap.optimizer, 4 * 2 * n + 17 * 4 * largest);
    assert.equal(host.optimizer, 2 * 4 * largest);
    assert.equal(sgd.optimizer, 17 * 4 * largest);
    assert.equal(heap.grads, 4 * n);
    assert.equal(heap.params, 4 * n);
    assert.equal(heap.bytes - host.bytes, 4 * 2 * n + 15 * 4 * largest);
    assert.equal(forwardMemory(cfg, { ...base, training: false }).optimizer, 0);
    assert.equal(forwardMemory(cfg, base).slotsHost, false, `a tiny model keeps its slots in the heap (below ${HOST_MOMENTS_BYTES} bytes)`);
  });

  it("recomputation shrinks the estimate at long ℓ; an unfittable step names ℓ, the estimate, the optimiser and the limit", () => {
    const big = makeConfig({ ...ARCH_BASE, nLayers: 12, dE: 64, dMlp: 256, nVocab: 5000, lMax: 4096 });
    const o = { batch: 1, length: 2048, training: true, optimizer: { slots: 2, host: false } } as const;
    assert.ok(forwardMemory(big, { ...o, recompute: true }).bytes < 0.5 * forwardMemory(big, o).bytes);
    assert.throws(() => checkFits(big, { ...o, limitBytes: 64 * 2 ** 20, liveBytes: 0 }), (e: unknown) => {
      const msg = (e as Error).message;
      return e instanceof InputError && /ℓ=2048/.test(msg) && /optimizer \d/.test(msg) && /64\.0 MiB/.test(msg) && /layer-by-layer recomputation/.test(msg);
    });
    const est = forwardMemory(big, { ...o, recompute: true });
    assert.doesNotThrow(() => checkFits(big, { ...o, recompute: true, limitBytes: est.bytes + 1, liveBytes: est.params }));
  });
});
