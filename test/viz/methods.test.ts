/** One style per context-extension method (lib/viz/methods.ts) under every name it goes by, figures that use it by default, and the Wilson / style options of the accuracy curves. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_PLAN, methodLabel } from "../../lib/extend/experiment.js";
import { wilson } from "../../lib/eval/intervals.js";
import { linesBy } from "../../lib/viz/compare.js";
import { accuracyVsLength } from "../../lib/viz/curves.js";
import { ENCODING_COLORS, groupLines, methodLine, methodScheme, methodStyle, SCALING_COLORS } from "../../lib/viz/methods.js";
import { theme } from "../../lib/viz/figure.js";
import { consecutiveDistance } from "../../lib/viz/geometry.js";
import { rotaryScaleFactors, rotarySpectra } from "../../lib/viz/spectra.js";
import { alibi } from "../../lib/positional/alibi.js";
import { bounded } from "../../lib/positional/bounded.js";
import { learned } from "../../lib/positional/learned.js";
import { none } from "../../lib/positional/none.js";
import { llama3, rope, ropeDynamicNTK, ropeNTK, ropePI, yarn } from "../../lib/positional/rope.js";
import { sinusoidal } from "../../lib/positional/sinusoidal.js";
import type { PositionalEncoding } from "../../lib/positional/types.js";

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

describe("methodStyle recognises every name a method goes by", () => {
  it("the encodings' own labels (lib/eval's default method column) take their scheme's colour", () => {
    const cases: [PositionalEncoding, string][] = [
      [rope(), ENCODING_COLORS.rope!], [learned(), ENCODING_COLORS.learned!], [alibi(), ENCODING_COLORS.alibi!], [none(), ENCODING_COLORS.nope!],
      [sinusoidal(), ENCODING_COLORS.sinusoidal!], [bounded(), ENCODING_COLORS.bounded!], [ropePI(4), SCALING_COLORS.pi!], [ropeNTK(4), SCALING_COLORS.ntk!],
      [ropeDynamicNTK({ factor: 4 }), SCALING_COLORS["dynamic-ntk"]!], [yarn(4), SCALING_COLORS.yarn!], [llama3({ factor: 8 }), SCALING_COLORS.llama3!],
    ];
    for (const [pe, color] of cases) {
      assert.equal(methodScheme(pe.label) !== undefined, true, pe.label);
      assert.deepEqual(methodStyle(pe.label), { color, dash: "solid", symbol: "circle" }, pe.label);
    }
  });

  it("short names, registry names and the report's table names agree with the experiment's labels", () => {
    const same: [string, string][] = [
      ["PI ×4", "pi (rope)"], ["rope:pi:4", "pi (rope)"], ["YaRN ×4", "yarn (rope)"], ["NTK-aware ×4, zero-shot", "ntk (rope)"], ["dynamic NTK", "dynamic-ntk (rope)"],
      ["RoPE (extrapolation)", "extrapolate (rope)"], ["ALiBi, zero-shot extrapolation", "extrapolate (alibi)"], ["NoPE, zero-shot extrapolation", "extrapolate (nope)"],
      ["PI ×4 + fine-tune", "pi-ft (rope)"], ["PI-FT", "pi-ft (rope)"], ["YaRN ×4 + fine-tune", "yarn-ft (rope)"], ['direct fine-tune at 512 (PI\'s "FT")', "ft (rope)"],
      ["FT", "ft (rope)"], ["learned W_p interpolated ×4 + fine-tune", "learned-extend-ft (learned)"], ["length curriculum from scratch (same tokens)", "curriculum (rope)"],
    ];
    for (const [name, label] of same) assert.deepEqual(methodStyle(name), methodStyle(label), `${name} vs ${label}`);
    assert.equal(methodScheme("something else"), undefined);
  });

  it("groupLines: method colours without asking when every group is a distinct method, else the palette", () => {
    const labels = ["RoPE", "PI ×4", "YaRN ×4"];
    assert.deepEqual(labels.map((l, i) => groupLines(labels)(l, i).color), [ENCODING_COLORS.rope, SCALING_COLORS.pi, SCALING_COLORS.yarn]);
    const twoRopes = ["RoPE b=10⁴", "RoPE b=10⁶"]; // one scheme twice: the palette tells them apart
    assert.deepEqual(twoRopes.map((l, i) => groupLines(twoRopes)(l, i).color), [theme.color(0), theme.color(1)]);
    assert.deepEqual(["a", "b"].map((l, i) => groupLines(["a", "b"])(l, i).color), [theme.color(0), theme.color(1)]);
    assert.equal(groupLines(labels, () => ({ color: "#123456" }))("RoPE", 0).color, "#123456", "an explicit style wins");
  });

  it("figures colour methods by methodStyle by default: spectra, scale factors, linesBy, accuracy curves, step lengths", () => {
    const colors = (f: { data: Record<string, unknown>[] }) => f.data.map((t) => (t.line as { color: string }).color);
    const specs = [{ label: rope().label, invFreq: [1, 0.1] }, { label: ropePI(4).label, invFreq: [0.25, 0.025] }, { label: yarn(4).label, invFreq: [1, 0.025] }];
    const want = [ENCODING_COLORS.rope, SCALING_COLORS.pi, SCALING_COLORS.yarn];
    assert.deepEqual(colors(rotarySpectra(specs, { originalLength: 128 })), want);
    assert.deepEqual(colors(rotaryScaleFactors([1, 0.1], specs.slice(1))), want.slice(1));
    const rows = ["RoPE (extrapolation)", "PI ×4", "YaRN ×4"].flatMap((method) => [128, 256].map((length) => ({ method, length, perplexity: 5, correct: 1 })));
    assert.deepEqual(colors(linesBy(rows, { x: "length", y: "perplexity", by: "method" })), want);
    assert.deepEqual(colors(accuracyVsLength(rows, { by: "method" })), want);
    const sets = [{ label: "learned W_p", vectors: [[0, 1], [1, 1]] }, { label: "sinusoidal", vectors: [[0, 1], [1, 0]] }, { label: "bounded", vectors: [[0, 0], [0, 1]] }];
    assert.deepEqual(colors(consecutiveDistance(sets)), [ENCODING_COLORS.learned, ENCODING_COLORS.sinusoidal, ENCODING_COLORS.bounded]);
  });
});
