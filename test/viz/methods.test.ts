/** One style per context-extension method (lib/viz/methods.ts), and the Wilson / style options of the accuracy curves. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_PLAN, methodLabel } from "../../lib/extend/experiment.js";
import { wilson } from "../../lib/eval/intervals.js";
import { linesBy } from "../../lib/viz/compare.js";
import { accuracyVsLength } from "../../lib/viz/curves.js";
import { ENCODING_COLORS, methodLine, methodStyle, SCALING_COLORS } from "../../lib/viz/methods.js";

describe("methodStyle", () => {
  it("every method of the plan has its own (colour, dash); a recipe's zero-shot and fine-tuned forms share the colour", () => {
    const labels = DEFAULT_PLAN.map(methodLabel);
    const keys = labels.map((l) => `${methodStyle(l).color}/${methodStyle(l).dash}`);
    assert.equal(new Set(keys).size, labels.length, keys.join(" "));
    assert.equal(methodStyle("pi (rope)").color, methodStyle("pi-ft (rope)").color);
    assert.deepEqual([methodStyle("pi (rope)").dash, methodStyle("pi-ft (rope)").dash], ["solid", "dash"]);
    assert.equal(methodStyle("extrapolate (bounded)").color, ENCODING_COLORS.bounded);
    assert.equal(methodStyle("ft (bounded)").color, ENCODING_COLORS.bounded);
    assert.equal(methodStyle("ft (rope)").color, ENCODING_COLORS.rope);
    assert.equal(methodStyle("learned-extend-ft (learned)").color, ENCODING_COLORS.learned);
    assert.equal(methodStyle("yarn-ft (rope)").color, SCALING_COLORS.yarn);
    assert.equal(methodStyle("curriculum (rope)").dash, "dot");
    assert.equal(methodStyle("extrapolate (none)").color, ENCODING_COLORS.nope, "the registry's name of NoPE");
    assert.equal(methodStyle("pi-ft (rope) seed 2").color, SCALING_COLORS.pi);
    assert.deepEqual(methodStyle("something else"), methodStyle("something else"), "unknown labels get a stable fallback");
    assert.deepEqual(methodLine("yarn (rope)"), { color: SCALING_COLORS.yarn, dash: "solid", width: 2 });
  });
});

describe("accuracy curves: interval and style options", () => {
  const rows = Array.from({ length: 20 }, (_, i) => ({ method: i < 10 ? "pi-ft (rope)" : "yarn (rope)", length: 128, correct: i % 10 < 5 ? 1 : 0 }));
  it("interval: \"wilson\" draws the asymmetric 95 % Wilson interval; style colours each method", () => {
    const f = accuracyVsLength(rows, { by: "method", interval: "wilson", style: methodLine });
    const e = f.data[0]!.error_y as { array: number[]; arrayminus: number[]; symmetric: boolean };
    const ci = wilson(5, 10)!;
    assert.equal(e.symmetric, false);
    assert.ok(Math.abs(e.array[0]! - (ci.hi - 0.5)) < 1e-12 && Math.abs(e.arrayminus[0]! - (0.5 - ci.lo)) < 1e-12);
    assert.equal((f.data[0]!.line as { color: string }).color, SCALING_COLORS.pi);
    assert.equal((f.data[1]!.line as { dash: string }).dash, "solid");
    const g = linesBy(rows, { x: "length", y: "correct", by: "method", style: methodLine });
    assert.equal((g.data[1]!.line as { color: string }).color, SCALING_COLORS.yarn);
  });
});
