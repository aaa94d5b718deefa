/** accuracyPanels (lib/viz/accuracy-panels.ts): one row of small multiples, Wilson bars, one style per method. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../../lib/errors.js";
import { wilson } from "../../lib/eval/intervals.js";
import { accuracyPanels, perplexityPanels } from "../../lib/viz/accuracy-panels.js";
import { methodStyle } from "../../lib/viz/methods.js";

// extrapolate: 3/4 at 128, 1/4 at 512; pi: 0/4 at both, one row not run (correct = null)
const rows = [
  ...[1, 1, 1, 0].map((c) => ({ method: "extrapolate (rope)", length: 128, correct: c })),
  ...[1, 0, 0, 0].map((c) => ({ method: "extrapolate (rope)", length: 512, correct: c })),
  ...[0, 0, 0, 0].map((c) => ({ method: "pi (rope)", length: 128, correct: c })),
  ...[0, 0, 0, 0, null].map((c) => ({ method: "pi (rope)", length: 512, correct: c })),
];

describe("accuracyPanels", () => {
  it("draws a method in every panel that lists it, legend once, on that panel's axes, with Wilson bars", () => {
    const f = accuracyPanels(rows, { panels: [{ title: "zero-shot", methods: ["extrapolate (rope)", "pi (rope)"] }, { title: "base", methods: ["extrapolate (rope)"] }], lMax: 128 });
    assert.equal(f.data.length, 3);
    assert.deepEqual(f.data.map((t) => [t.xaxis, t.yaxis, t.showlegend]), [["x", "y", true], ["x", "y", true], ["x2", "y2", false]]);
    const ex = f.data[0]!;
    assert.deepEqual(ex.y, [0.75, 0.25]);
    const w = wilson(3, 4)!;
    const bars = ex.error_y as { array: number[]; arrayminus: number[] };
    assert.ok(Math.abs(bars.array[0]! - (w.hi - 0.75)) < 1e-12 && Math.abs(bars.arrayminus[0]! - (0.75 - w.lo)) < 1e-12);
    assert.equal((ex.line as { color: string }).color, methodStyle("extrapolate (rope)").color);
    assert.deepEqual((f.data[1]!.customdata as unknown[][]).map((c) => c[3]), [4, 4], "the null row is not counted");
    assert.equal((f.layout.shapes as unknown[]).length, 2, "ℓ_max in each panel");
    assert.ok(Number(f.layout.height) <= 500, "fits a notebook output");
  });

  it("refuses empty or crowded panels and methods without rows, naming them", () => {
    assert.throws(() => accuracyPanels(rows, { panels: [] }), InputError);
    const seven = ["a", "b", "c", "d", "e", "f", "g"];
    assert.throws(() => accuracyPanels(rows, { panels: [{ title: "crowded", methods: seven }] }), /panel "crowded" has 7 methods; it must have 1 to 6/);
    assert.throws(() => accuracyPanels(rows, { panels: [{ title: "p", methods: ["yarn (rope)"] }] }), /no rows for yarn \(rope\)/);
  });

  it("perplexityPanels: the token-weighted perplexity per (method, ℓ) on a log axis, bootstrap bars around it", () => {
    const win = [
      { method: "yarn (rope)", length: 128, window: 0, scored: 100, loss: Math.log(4) },
      { method: "yarn (rope)", length: 128, window: 1, scored: 300, loss: Math.log(8) },
      { method: "yarn (rope)", length: 512, window: 0, scored: 100, loss: Math.log(6) },
    ];
    const f = perplexityPanels(win, { panels: [{ title: "p", methods: ["yarn (rope)"] }] });
    const y = f.data[0]!.y as number[];
    assert.ok(Math.abs(y[0]! - Math.exp((Math.log(4) + 3 * Math.log(8)) / 4)) < 1e-9 && Math.abs(y[1]! - 6) < 1e-9, String(y));
    const bars = f.data[0]!.error_y as { array: number[]; arrayminus: number[] };
    assert.ok(bars.array[0]! >= 0 && bars.arrayminus[0]! >= 0 && bars.array[0]! + bars.arrayminus[0]! > 0, "two windows: a non-empty interval");
    assert.equal((f.layout.yaxis as { type?: string }).type, "log");
    assert.throws(() => perplexityPanels(win, { panels: [{ title: "p", methods: ["pi (rope)"] }] }), /perplexityPanels: no rows for pi \(rope\)/);
  });
});
