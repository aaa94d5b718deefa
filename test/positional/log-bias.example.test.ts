/**
 * The worked example of docs/adding-an-encoding.md, kept compiling and passing: a new encoding in one
 * file (here inline), its registry name, its checks against a closed form and the reference
 * attention, and its plot. If this file changes, update the document with it.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { alibiSlopes } from "../../lib/positional/alibi.js";
import { positionalFrom, registerPositional } from "../../lib/positional/registry.js";
import type { PeContext, PositionalEncoding, PositionRange } from "../../lib/positional/types.js";
import { linesBy } from "../../lib/viz/compare.js";
import { expectClose, testBackend } from "../helpers/setup.js";

// ---- the encoding (docs/adding-an-encoding.md, step 1) ----
/** Logarithmic distance bias: head h adds −m_h·ln(1 + |i − j|) to the score of query i and key j. */
export function logBias(): PositionalEncoding {
  return {
    name: "log-bias",
    label: "log-distance bias −m_h·ln(1+|i−j|)",
    maxPositions: () => undefined,
    scoreBias(q: PositionRange, k: PositionRange, ctx: PeContext): tf.Tensor {
      const H = ctx.cfg.nHeads;
      return tf.tidy(() => {
        const i = tf.range(q.start, q.start + q.length, 1, "float32").reshape([q.length, 1]);
        const j = tf.range(k.start, k.start + k.length, 1, "float32").reshape([1, k.length]);
        const m = tf.tensor3d(alibiSlopes(H), [H, 1, 1]);
        return tf.neg(tf.mul(m, tf.log1p(tf.abs(tf.sub(i, j)))));
      });
    },
    toJSON: () => ({ name: "log-bias" }),
  };
}
registerPositional("log-bias", () => logBias(), "log-bias"); // step 2: the registry name

before(async () => {
  await testBackend();
});

describe("worked example: log-bias (docs/adding-an-encoding.md)", () => {
  it("its bias equals the closed form, for ranges that start past 0 (a KV cache)", () => {
    const cfg = DTransformer.create({ ...presets.micro }, 0).cfg;
    const b = logBias().scoreBias!({ start: 3, length: 2 }, { start: 0, length: 5 }, { cfg, param: () => { throw new Error("no params"); } });
    const m = alibiSlopes(cfg.nHeads);
    const want = m.flatMap((mh) => [3, 4].flatMap((i) => [0, 1, 2, 3, 4].map((j) => -mh * Math.log(1 + Math.abs(i - j)))));
    expectClose(b, tf.tensor3d(want, [cfg.nHeads, 2, 5]), { atol: 1e-6 });
  });
  it("runs in a model by name, on every layout, with the same logits", () => {
    const m = DTransformer.create({ ...presets.micro, positional: positionalFrom("log-bias") }, 1);
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2];
    const ref = m.logits(x, { layout: { mode: "batched" } });
    for (const mode of ["per-head", "chunked"] as const) expectClose(m.logits(x, { layout: { mode, chunk: 5 } }), ref, { atol: 1e-5, what: mode });
    assert.deepEqual(m.positional.toJSON(), { name: "log-bias" });
    m.dispose();
  });
  it("its plot: the bias of each head against the distance", () => {
    const m = alibiSlopes(4);
    const rows = m.flatMap((mh, h) => Array.from({ length: 64 }, (_, d) => ({ distance: d, bias: -mh * Math.log1p(d), head: `h${h}` })));
    const fig = linesBy(rows, { x: "distance", y: "bias", by: "head", title: "log-bias: score bias vs distance" });
    assert.equal(fig.data.length, 4);
  });
});
