/**
 * Memory estimate (lib/model/memory-estimate.ts): within 2× of the measured high-water of tensor
 * bytes (tf.profile's peak of tf.memory().numBytes) for forward passes, unchunked and chunked, and a
 * training step; scaling in ℓ; checkFits refuses an absurd pass without allocating and names the ways out.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { makeConfig, presets } from "../../lib/config.js";
import { InputError } from "../../lib/errors.js";
import { dTransformer, DTransformer } from "../../lib/model/dtransformer.js";
import { checkFits, estimateForwardMemory, forwardMemory, WASM_HEAP_LIMIT } from "../../lib/engine/memory-estimate.js";
import { alibi } from "../../lib/positional/alibi.js";
import { rope } from "../../lib/positional/rope.js";
import { testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

/** Peak tensor bytes of fn above what was live before, plus θ (which the estimate counts). */
async function measuredPeak(model: DTransformer, fn: () => tf.Tensor): Promise<number> {
  const live = tf.memory().numBytes;
  const prof = await tf.profile(() => fn());
  (prof.result as tf.Tensor).dispose();
  return prof.peakBytes - live + 4 * model.numParams();
}

describe("estimateForwardMemory", () => {
  const cases = [
    { what: "unchunked (per-head), B=1, ℓ=512", mode: "per-head", B: 1, l: 512, chunk: 1024, pe: rope() },
    { what: "unchunked (per-head), B=2, ℓ=256, ALiBi", mode: "per-head", B: 2, l: 256, chunk: 1024, pe: alibi() },
    { what: "chunked by 256, B=1, ℓ=1,536", mode: "chunked", B: 1, l: 1536, chunk: 256, pe: rope() },
    { what: "chunked by 128, B=2, ℓ=600, ALiBi", mode: "chunked", B: 2, l: 600, chunk: 128, pe: alibi() },
  ] as const;
  for (const c of cases) {
    it(`is within 2× of the measured high-water: ${c.what}`, async () => {
      const m = DTransformer.create({ ...presets.ref, positional: c.pe }, 1).withAttentionLayout({ mode: c.mode, chunk: c.chunk });
      const ids = tf.tensor2d(Array.from({ length: c.B * c.l }, (_, i) => (i * 31 + 7) % 256), [c.B, c.l], "int32");
      try {
        const measured = await measuredPeak(m, () => m.logits(ids));
        const est = estimateForwardMemory(m.cfg, { batch: c.B, length: c.l, chunked: c.mode === "chunked", chunk: c.chunk });
        const r = est / measured;
        assert.ok(r >= 0.5 && r <= 2, `estimate ${(est / 2 ** 20).toFixed(1)} MiB vs measured ${(measured / 2 ** 20).toFixed(1)} MiB (ratio ${r.toFixed(2)})`);
      } finally {
        ids.dispose();
        m.dispose();
      }
    });
  }

  it("is within 2× for a training step (chunked, ℓ=512): tape and gradients included", async () => {
    const m = DTransformer.create({ ...presets.ref, nLayers: 2, positional: rope() }, 2).withAttentionLayout({ mode: "chunked", chunk: 128 });
    const ids = tf.tensor2d(Array.from({ length: 512 }, (_, i) => (i * 13 + 1) % 256), [1, 512], "int32");
    try {
      const step = () => {
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.neg(tf.mean(tf.logSoftmax(dTransformer(ids, m), -1)))) as tf.Scalar, [...m.params.vars.values()]);
        tf.dispose(Object.values(grads));
        return value;
      };
      const measured = await measuredPeak(m, step);
      const est = estimateForwardMemory(m.cfg, { batch: 1, length: 512, chunked: true, chunk: 128, training: true });
      const r = est / measured;
      assert.ok(r >= 0.5 && r <= 2, `estimate ${(est / 2 ** 20).toFixed(1)} MiB vs measured ${(measured / 2 ** 20).toFixed(1)} MiB (ratio ${r.toFixed(2)})`);
    } finally {
      ids.dispose();
      m.dispose();
    }
  });

  it("grows as ℓ² unchunked and as ℓ chunked; the default follows the dispatch", () => {
    const cfg = makeConfig({ ...presets.ref, positional: rope() });
    const un = (l: number) => forwardMemory(cfg, { batch: 1, length: l, chunked: false }).attention;
    const ch = (l: number) => estimateForwardMemory(cfg, { batch: 1, length: l, chunked: true });
    assert.ok(Math.abs(un(8192) / un(4096) - 4) < 0.01);
    const r = ch(32768) / ch(16384);
    assert.ok(r > 1.5 && r < 2.2, `chunked 32k/16k = ${r}`); // linear in ℓ plus a constant (θ, the block)
    assert.equal(forwardMemory(cfg, { batch: 1, length: 1024 }).chunked, false);
    assert.equal(forwardMemory(cfg, { batch: 1, length: 16384 }).chunked, true);
    // docs/design.md, "Measured before ctxlab": ℓ = 16,384 unchunked needs a 4.3 GB score tensor; chunked fits in well under the 4 GiB heap
    assert.ok(forwardMemory(cfg, { batch: 1, length: 16384, chunked: false }).attention > WASM_HEAP_LIMIT);
    assert.ok(ch(16384) < 1.5 * 2 ** 30);
  });
});

describe("checkFits", () => {
  const cfg = makeConfig({ ...presets.ref, positional: rope() });

  it("throws for ℓ = 10⁶ unchunked, naming the estimate and the options, without allocating", () => {
    const before = tf.memory();
    assert.throws(
      () => checkFits(cfg, { batch: 2, length: 1_000_000, chunked: false, limitBytes: WASM_HEAP_LIMIT }),
      (e: Error) =>
        e instanceof InputError &&
        /B=2, ℓ=1000000 needs an estimated \d+ GiB/.test(e.message) &&
        /attention \d+ GiB \(unchunked/.test(e.message) &&
        /a smaller ℓ \(ℓ ≤ \d+ fits/.test(e.message) &&
        /chunked attention \(layout \{ mode: "chunked" \}, per model or per call: estimate [\d.]+ GiB, still too large\)/.test(e.message) &&
        /a smaller batch \(even B=1 does not fit at this ℓ\)/.test(e.message) &&
        /of the 4\.00 GiB wasm heap/.test(e.message),
    );
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numBytes, before.numBytes);
  });

  it("suggests the chunked layout when it fits, and a batch that fits", () => {
    assert.throws(
      () => checkFits(cfg, { batch: 64, length: 1024, chunked: false, limitBytes: WASM_HEAP_LIMIT, liveBytes: 0 }),
      (e: Error) => /chunked attention .*estimate [\d.]+ [MG]iB, fits\)/.test(e.message) && /a smaller batch \(B ≤ \d+ fits\)/.test(e.message),
    );
  });

  it("passes normal sizes and returns the estimate; respects limit and live bytes", () => {
    const est = checkFits(cfg, { batch: 16, length: 256, limitBytes: WASM_HEAP_LIMIT });
    assert.ok(est.bytes > 0 && est.bytes < 2 ** 30 && !est.chunked);
    assert.ok(checkFits(cfg, { batch: 1, length: 16384, limitBytes: WASM_HEAP_LIMIT, liveBytes: 0 }).chunked);
    assert.throws(() => checkFits(cfg, { batch: 1, length: 16384, limitBytes: WASM_HEAP_LIMIT, liveBytes: 3.5 * 2 ** 30 }), /GiB live/);
    assert.throws(() => checkFits(cfg, { batch: 1, length: 1024, limitBytes: 2 ** 20 }), /of the 1\.0 MiB limit/);
  });
});
