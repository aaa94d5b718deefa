/**
 * lib/viz/compare.ts: grouped lines (means per x, one trace per group, the ℓ_max marker), trace
 * difference bars (order, every label, exact zeros marked rather than drawn, non-finite in its own
 * series) and the cost figure (the fitted quadratic split into parts that add up to the fit; no two
 * legend entries alike).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as aq from "arquero";
import { InputError } from "../../lib/errors.js";
import { accuracyVsPerplexity, costVsLength, linesBy, traceDiffBars } from "../../lib/viz/compare.js";
import { methodStyle } from "../../lib/viz/methods.js";

describe("linesBy", () => {
  it("draws the mean of y per x, one line per group, and a dashed line at ℓ_max", () => {
    const t = aq.from([
      { method: "a", length: 64, perplexity: 2 }, { method: "a", length: 64, perplexity: 4 }, { method: "a", length: 128, perplexity: 5 },
      { method: "b", length: 64, perplexity: 1 }, { method: "b", length: 128, perplexity: NaN },
    ]);
    const f = linesBy(t, { x: "length", y: "perplexity", by: "method", vline: { x: 128, label: "ℓ_max" } });
    assert.equal(f.data.length, 2);
    assert.deepEqual([f.data[0]!.x, f.data[0]!.y], [[64, 128], [3, 5]]);
    assert.deepEqual([f.data[1]!.x, f.data[1]!.y], [[64], [1]], "NaN skipped");
    assert.equal(((f.layout.shapes as Record<string, unknown>[])[0]!).x0, 128);
    assert.throws(() => linesBy(t, { x: "length", y: "loss" }), InputError);
    assert.equal((f.layout.legend as { x: number }).x, 1.02, "few series: legend beside the plot (never over the title)");
    const many = linesBy(aq.from(["a", "b", "c", "d", "e"].map((m) => ({ method: m, length: 1, perplexity: 1 }))), { x: "length", y: "perplexity", by: "method" });
    assert.ok((many.layout.legend as { y: number }).y < 0, "many series: legend below the plot");
  });
});

describe("traceDiffBars", () => {
  const rows = [
    { hook: "hook_embed", line: "2", symbol: "", rel_diff: 0, max_abs_diff: 0, non_finite_a: 0, non_finite_b: 0 },
    { hook: "blocks.0.ln1.hook_normalized", line: "5", symbol: "X̃", rel_diff: 0.5, max_abs_diff: 1, non_finite_a: 0, non_finite_b: 3 },
    { hook: "blocks.0.hook_mlp_out", line: "8", symbol: "", rel_diff: 2e-4, max_abs_diff: 1e-3, non_finite_a: 0, non_finite_b: 0 },
  ];

  it("keeps the forward order, draws no bar for an exact zero and marks it as = 0 instead", () => {
    const f = traceDiffBars(rows);
    const [finite, nonFinite, zero] = f.data;
    const labels = ["hook_embed (line 2)", "blocks.0.ln1.hook_normalized (line 5)", "blocks.0.hook_mlp_out (line 8)"];
    assert.deepEqual(finite!.y, labels);
    assert.deepEqual(finite!.x, [null, null, 2e-4], "no 10⁻¹² stand-in bar for the zero; the non-finite hook is in its own series");
    assert.deepEqual(nonFinite!.x, [null, 0.5, null]);
    assert.equal(nonFinite!.name, "a NaN or ±∞ in either trace");
    assert.notEqual((finite!.marker as { color: string }).color, (nonFinite!.marker as { color: string }).color);
    assert.deepEqual(zero!.y, ["hook_embed (line 2)"]);
    assert.deepEqual(zero!.text, ["= 0"]);
    const xaxis = f.layout.xaxis as { range: number[] };
    assert.ok((zero!.x as number[])[0]! > 10 ** xaxis.range[0]! && (zero!.x as number[])[0]! < 2e-4, "the = 0 marker sits inside the axis, left of every bar");
  });

  it("labels every hook (no thinned category ticks)", () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ hook: `h${i}`, line: String(i), rel_diff: (i + 1) * 1e-3, max_abs_diff: 0, non_finite_a: 0, non_finite_b: 0 }));
    const f = traceDiffBars(many);
    const y = f.layout.yaxis as { tickmode: string; tickvals: string[] };
    assert.equal(y.tickmode, "array");
    assert.equal(y.tickvals.length, 40);
    assert.equal(f.data.length, 1, "no zero and no non-finite hook: one series");
    assert.ok((f.layout.height as number) >= 20 * 40);
  });
});

describe("costVsLength", () => {
  it("plots time and memory per ℓ, the ℓ² score term, and a quadratic fit whose parts sum to it", () => {
    const ls = [128, 256, 512, 1024];
    const rows = ls.map((l) => ({ method: "per-head", length: l, ms: 1 + 0.01 * l + 2e-5 * l * l, peak_bytes: 1e5 * l, estimate_bytes: 1.1e5 * l, score_bytes: 2 * 4 * l * l * 4 }));
    const f = costVsLength(rows);
    const names = f.data.map((d) => String(d.name));
    assert.ok(names.includes("per-head: measured time") && names.includes("per-head: measured peak") && names.includes("per-head: estimate (forwardMemory)"));
    const score = f.data.find((d) => String(d.name).startsWith("S and softmax(S)"))!;
    assert.deepEqual(score.y, ls.map((l) => (2 * 4 * l * l * 4) / 2 ** 20));
    const [fit, lin, quad] = ["fit", "its linear part", "its quadratic part"].map((p) => f.data.find((d) => String(d.name).startsWith(p))!);
    const [y, yl, yq] = [fit, lin, quad].map((d) => d!.y as number[]);
    for (let i = 0; i < y!.length; i++) assert.ok(Math.abs(y![i]! - yl![i]! - yq![i]!) < 1e-9);
    const xs = fit!.x as number[];
    const last = xs.length - 1;
    assert.ok(Math.abs(y![last]! - (1 + 0.01 * 1024 + 2e-5 * 1024 ** 2)) < 1e-6, "the fit passes through exact data");
    assert.equal(f.data.find((d) => d.name === "per-head: measured peak")!.yaxis, "y2");
  });

  it("gives every legend entry its own name and look, with two methods", () => {
    const ls = [128, 256, 512, 1024];
    const rows = ["unchunked", "chunked"].flatMap((m, k) => ls.map((l) => ({ method: m, length: l, ms: (1 + k) * (1 + 0.01 * l + 2e-5 * l * l), peak_bytes: 1e5 * l, estimate_bytes: 1.1e5 * l, score_bytes: 32 * l * l })));
    const f = costVsLength(rows);
    const names = f.data.map((d) => String(d.name));
    assert.equal(new Set(names).size, names.length, `duplicate names: ${names.join(" | ")}`);
    const look = (d: (typeof f.data)[number]) => {
      const line = (d.line ?? {}) as { color?: string; dash?: string };
      const marker = (d.marker ?? {}) as { color?: string; symbol?: string };
      return JSON.stringify([d.mode, line.color ?? marker.color, line.dash ?? "solid", marker.symbol ?? ""]);
    };
    const looks = f.data.map(look);
    assert.equal(new Set(looks).size, looks.length, `two entries look alike: ${looks.join(" | ")}`);
    for (const panel of ["y", "y2"]) assert.ok(f.data.filter((d) => d.yaxis === panel).length <= 6, `≤ 6 series in panel ${panel}`);
  });
});

describe("accuracyVsPerplexity", () => {
  const summary = [
    { method: "yarn (rope)", acc_512: 0.84, acc_512_lo: 0.76, acc_512_hi: 0.9, ppl_512: 5.79, ppl_512_lo: 5.55, ppl_512_hi: 6.08 },
    { method: "ft (rope)", acc_512: 0, acc_512_lo: 0, acc_512_hi: 0.04, ppl_512: 5.42, ppl_512_lo: 5.2, ppl_512_hi: 5.6 },
    { method: "extrapolate (learned)", acc_512: null, acc_512_lo: null, acc_512_hi: null, ppl_512: null, ppl_512_lo: null, ppl_512_hi: null },
  ];
  it("draws one point per method with both intervals as asymmetric bars, in the method's colour; names what has no value", () => {
    const f = accuracyVsPerplexity(summary, { length: 512 });
    const tr = f.data as { name: string; x: number[]; y: number[]; marker: { color: string }; error_x: { array: number[]; arrayminus: number[] }; error_y: { array: number[]; arrayminus: number[] } }[];
    assert.deepEqual(tr.map((t) => t.name), ["yarn (rope)", "ft (rope)"]);
    assert.deepEqual([tr[0]!.x[0], tr[0]!.y[0]], [5.79, 0.84]);
    assert.ok(Math.abs(tr[0]!.error_y.array[0]! - 0.06) < 1e-12 && Math.abs(tr[0]!.error_y.arrayminus[0]! - 0.08) < 1e-12);
    assert.ok(Math.abs(tr[0]!.error_x.array[0]! - 0.29) < 1e-12 && Math.abs(tr[0]!.error_x.arrayminus[0]! - 0.24) < 1e-12);
    assert.equal(tr[1]!.marker.color, methodStyle("ft (rope)").color);
    assert.match(JSON.stringify(f.layout.title), /no value at ℓ = 512: extrapolate \(learned\)/);
    assert.equal((f.layout.xaxis as { type: string }).type, "log");
  });
  it("selects and orders methods, refuses more than six, an unknown method or a missing column", () => {
    assert.deepEqual(accuracyVsPerplexity(summary, { length: 512, methods: ["ft (rope)"] }).data.map((t) => t.name), ["ft (rope)"]);
    assert.throws(() => accuracyVsPerplexity(summary, { length: 512, methods: Array(7).fill("ft (rope)") }), /7 methods in one panel/);
    assert.throws(() => accuracyVsPerplexity(summary, { length: 512, methods: ["pi (rope)"] }), /no row for method "pi \(rope\)"/);
    assert.throws(() => accuracyVsPerplexity(summary, { length: 256 }), InputError);
  });
});

