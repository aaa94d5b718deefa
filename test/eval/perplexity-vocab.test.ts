/**
 * Perplexity with a GPT-2-sized vocabulary (N_V = 50,257) on a small random GPT-2-layout model
 * (L = 1, d_e = 64): at ℓ = 2,048 it completes and its whole evaluation (forward + loss) stays within
 * the forward's memory estimate (the log-softmax runs over blocks of rows, LOSS_CHUNK_FLOATS; the
 * whole-window version held five [ℓ, N_V] tensors and pushed the wasm heap to its 4 GiB cap, then
 * "memory access out of bounds"); a pass beyond the wasm heap is refused with an InputError naming ℓ,
 * N_V and the options, before anything is allocated. Blocks of rows give the losses of one block.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { InputError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { forwardMemory } from "../../lib/engine/memory-estimate.js";
import { none, rope } from "../../lib/positional/index.js";
import { perplexityVsLength, tokenLosses } from "../../lib/eval/index.js";
import { LOSS_CHUNK_FLOATS } from "../../lib/eval/perplexity.js";
import { expectClose, testBackend } from "../helpers/setup.js";

const V = 50_257;
let backend = "";
before(async () => {
  backend = await testBackend();
});

describe("perplexity at N_V = 50,257", () => {
  it("blocks of rows give the same losses as one block (float32 rounding)", () => {
    const m = DTransformer.create({ nVocab: 259, lMax: 64, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32, positional: none() }, 4);
    const ids = Array.from({ length: 40 }, (_, i) => (i * 37) % 259);
    const n0 = tf.memory().numTensors;
    const whole = tokenLosses(m, ids, undefined, { rowsPerChunk: 39 });
    for (const rows of [1, 5, 16]) expectClose([...tokenLosses(m, ids, undefined, { rowsPerChunk: rows })], [...whole], { rtol: 1e-6 });
    assert.equal(tf.memory().numTensors, n0);
    assert.ok(Math.floor(LOSS_CHUNK_FLOATS / V) >= 1);
    m.dispose();
  });

  it("ℓ = 2,048 completes within the forward's estimate; ℓ beyond the wasm heap is refused cleanly", { timeout: 600_000 }, async () => {
    const m = DTransformer.create({ nVocab: V, lMax: 1024, nLayers: 1, nHeads: 2, dE: 64, dMlp: 256, positional: rope() }, 0);
    const l = 2048;
    const tokens = Int32Array.from({ length: l }, (_, i) => (i * 7919) % V);
    const ids = Array.from(tokens);
    const heap = () => (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length;
    const heap0 = heap();
    const prof = await tf.profile(() => void tokenLosses(m, ids));
    const est = forwardMemory(m.cfg, { batch: 1, length: l }).bytes;
    // numBytes counts a reshape as a new tensor (~20 % over the real use, memory-estimate.ts); the
    // whole-window loss peaked at ~2.2× the estimate
    const extra = prof.peakBytes - tf.memory().numBytes;
    assert.ok(extra <= 1.5 * est, `tensors peaked ${(extra / 2 ** 20).toFixed(0)} MiB above the live ones: over 1.5× the forward's estimate ${(est / 2 ** 20).toFixed(0)} MiB`);
    const h1 = heap();
    if (heap0 !== undefined && h1 !== undefined) {
      // the wasm heap never shrinks: its size is the high-water mark (plus Emscripten's growth step)
      assert.ok(h1 - heap0 <= 1.25 * est, `the wasm heap grew by ${((h1 - heap0) / 2 ** 20).toFixed(0)} MiB, over 1.25× the forward's estimate ${(est / 2 ** 20).toFixed(0)} MiB`);
    }
    const t = await perplexityVsLength(m, { lengths: [l], windows: 1, tokens });
    const row = t.objects()[0] as { loss: number; error: string | null; scored: number };
    assert.equal(row.error, null);
    assert.equal(row.scored, l - 1);
    assert.ok(Math.abs(row.loss - Math.log(V)) < 0.5, `a random model's loss ${row.loss} ≈ log N_V`);
    if (backend === "wasm") {
      const big = 16_384; // logits alone: 2 × 3.1 GiB
      await assert.rejects(
        perplexityVsLength(m, { lengths: [big], windows: 1, tokens: new Int32Array(big) }),
        (e: Error) => e instanceof InputError && new RegExp(`ℓ=${big} needs an estimated`).test(e.message) && /Options: a smaller ℓ \(ℓ ≤ \d+ fits/.test(e.message) && new RegExp(`${big}×${V} floats`).test(e.message),
      );
    }
    m.dispose();
  });
});
