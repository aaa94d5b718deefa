/**
 * lib/viz/curves.ts on small arquero tables: loss curves, mean accuracy (± standard error) by
 * length and depth per method, the depth × length heatmap, and figure snapshots.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as aq from "arquero";
import { InputError } from "../../lib/errors.js";
import { accuracyVsDepth, accuracyVsLength, depthLengthHeatmap, lossCurve, meanBy } from "../../lib/viz/curves.js";
import { expectClose } from "../helpers/setup.js";
import { matchSnapshot } from "./snapshot.js";
import type { Figure } from "../../lib/viz/figure.js";

const log = aq.from(
  Array.from({ length: 20 }, (_, i) => ({ step: i * 10, loss: 5 / (1 + i), val_loss: i % 5 === 4 ? 5.5 / (1 + i) : null })),
);

/** A deterministic passkey-style sweep: 2 methods × 3 lengths × 3 depths × 4 trials. */
function sweep() {
  const rows: { method: string; length: number; depth: number; correct: boolean }[] = [];
  for (const method of ["RoPE", "PI (s = 4)"]) {
    for (const length of [64, 128, 256]) {
      for (const depth of [0, 0.5, 1]) {
        for (let trial = 0; trial < 4; trial++) {
          const ok = method === "PI (s = 4)" ? trial < 3 : length <= 64 || (length === 128 && depth !== 0.5 && trial < 2);
          rows.push({ method, length, depth, correct: ok });
        }
      }
    }
  }
  return aq.from(rows);
}

describe("meanBy", () => {
  it("means and standard errors per x, ascending, skipping missing values", () => {
    const pts = meanBy([{ x: 2, v: 1 }, { x: 1, v: 0 }, { x: 2, v: 0 }, { x: 1, v: null }, { x: 2, v: true }], "x", "v");
    assert.deepEqual(pts.map((p) => [p.x, p.n]), [[1, 1], [2, 3]]);
    expectClose(pts.map((p) => p.mean), [0, 2 / 3], { atol: 1e-15 });
    expectClose([pts[1]!.se], [Math.sqrt((2 / 3) * (1 / 3) / 3)], { atol: 1e-15 });
    expectClose(meanBy([{ x: 0, v: 1 }, { x: 0, v: 3 }], "x", "v").map((p) => p.se), [1], { atol: 1e-15 });
  });
});

describe("curve figures (snapshots)", () => {
  it("lossCurve: one line per column, validation points only where logged", () => {
    const f = lossCurve(log, { x: "step", y: ["loss", "val_loss"] });
    assert.equal(f.data.length, 2);
    assert.equal((f.data[0]!.x as number[]).length, 20);
    assert.deepEqual(f.data[1]!.x, [40, 90, 140, 190]);
    matchSnapshot("loss-curve", f);
  });

  it("lossCurve: axes with units (nats/token for losses, the log's columns by what they measure)", () => {
    const title = (f: Figure, k: string) => ((f.layout[k] as { title: { text: string } }).title.text);
    assert.equal(title(lossCurve(log), "yaxis"), "loss (nats/token)");
    assert.equal(title(lossCurve(log), "xaxis"), "training step");
    assert.equal(title(lossCurve(log, { y: ["loss", "val_loss"] }), "yaxis"), "loss (nats/token)");
    assert.equal(title(lossCurve(log, { y: "lr" }), "yaxis"), "learning rate η");
  });

  it("lossCurve accepts plain rows and thins long logs", () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ step: i, loss: 1 / (1 + i) }));
    const f = lossCurve(rows);
    assert.ok((f.data[0]!.x as number[]).length <= 2000);
    assert.equal((f.data[0]!.x as number[]).at(-1), 9999);
    assert.throws(() => lossCurve(rows, { x: "epoch" }), InputError);
  });

  it("accuracyVsLength: mean accuracy per length per method, ℓ_max marked", () => {
    const f = accuracyVsLength(sweep(), { length: "length", correct: "correct", by: "method", lMax: 128 });
    assert.deepEqual(f.data.map((t) => t.name), ["RoPE", "PI (s = 4)"]);
    expectClose(f.data[0]!.y as number[], [1, 4 / 12, 0], { atol: 1e-12 });
    expectClose(f.data[1]!.y as number[], [0.75, 0.75, 0.75], { atol: 1e-12 });
    matchSnapshot("accuracy-vs-length", f);
  });

  it("accuracyVsDepth: mean accuracy per depth per method", () => {
    const f = accuracyVsDepth(sweep(), { depth: "depth", by: "method" });
    expectClose(f.data[0]!.y as number[], [6 / 12, 4 / 12, 6 / 12], { atol: 1e-12 });
    matchSnapshot("accuracy-vs-depth", f);
  });

  it("depthLengthHeatmap: one panel per method, cells = mean accuracy", () => {
    const f = depthLengthHeatmap(sweep(), { by: "method" });
    assert.equal(f.data.length, 2);
    assert.deepEqual(f.data[0]!.x, ["64", "128", "256"]);
    assert.deepEqual(f.data[0]!.z, [[1, 0.5, 0], [1, 0, 0], [1, 0.5, 0]]);
    matchSnapshot("depth-length-heatmap", f);
    assert.equal(depthLengthHeatmap(sweep().filter((d: { method: string }) => d.method === "RoPE")).data.length, 1);
  });
});
