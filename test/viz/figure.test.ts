/**
 * lib/viz/figure.ts and sample.ts: theme, toHtml, line downsampling and heatmap block averaging.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { subplotGrid, theme, toHtml, type Figure } from "../../lib/viz/figure.js";
import { blockAverage, downsample, sig, strideIndices, strideNote } from "../../lib/viz/sample.js";
import { jsonDiff } from "./snapshot.js";

const fig: Figure = { data: [{ type: "scatter", x: [0, 1], y: [1, 0], name: "</script><b>" }], layout: theme.layout("t <sub>j</sub>") };

describe("theme", () => {
  it("has transparent backgrounds, grey font and a colour-blind-safe cycling palette", () => {
    const l = theme.layout("x");
    assert.equal(l.paper_bgcolor, "rgba(0,0,0,0)");
    assert.equal(l.plot_bgcolor, "rgba(0,0,0,0)");
    assert.equal((l.font as { color: string }).color, theme.fontColor);
    assert.equal(theme.color(0), "#0072B2");
    assert.equal(theme.color(theme.palette.length), theme.color(0));
    assert.deepEqual(theme.marker("v", 5).x0, 5);
  });

  it("subplotGrid lays out non-overlapping domains with anchored axes", () => {
    const g = subplotGrid(2, 3, ["a", "b"], () => ({ x: {}, y: {} }));
    const x1 = (g.xaxis as { domain: number[] }).domain;
    const x2 = (g.xaxis2 as { domain: number[] }).domain;
    assert.ok(x1[1]! < x2[0]!);
    assert.equal((g.yaxis4 as { anchor: string }).anchor, "x4");
    assert.equal((g.annotations as unknown[]).length, 2);
    const y4 = (g.yaxis4 as { domain: number[] }).domain;
    assert.ok(y4[0]! >= 0 && y4[1]! < (g.yaxis as { domain: number[] }).domain[0]!);
  });
});

describe("toHtml", () => {
  it("inline: a whole page with plotly.js and the figure; deterministic", () => {
    const html = toHtml(fig, { plotlyScript: "inline" });
    assert.match(html, /^<!DOCTYPE html>/);
    assert.ok(html.length > 1_000_000, "plotly bundle inlined");
    assert.ok(html.includes("Plotly.newPlot"));
    assert.ok(html.includes("<title>t j</title>"));
    assert.equal(html, toHtml(fig, { plotlyScript: "inline" }));
  });

  it("none: a small fragment that never closes its script early and degrades without Plotly", () => {
    const html = toHtml(fig, { plotlyScript: "none" });
    assert.ok(html.length < 2000);
    assert.ok(!html.includes("<!DOCTYPE"));
    assert.equal(html.match(/<\/script>/g)!.length, 1, "the trace name's </script> is escaped");
    assert.ok(html.includes("\\u003c/script>"));
    assert.ok(html.includes('typeof Plotly==="undefined"'));
    assert.match(html, /id="ctxlab-plot-[0-9a-f]{8}"/);
    assert.ok(toHtml(fig, { plotlyScript: "none", divId: "d1" }).includes('id="d1"'));
  });

  it("the div takes the layout's own height (a taller figure is not cut off), else 500px; an explicit height wins", () => {
    const style = (f: Figure, o = {}) => /style="([^"]*)"/.exec(toHtml(f, { plotlyScript: "none", ...o }))![1];
    assert.equal(style(fig), "width:100%;height:500px;");
    const tall: Figure = { ...fig, layout: { ...fig.layout, height: 750 } };
    assert.equal(style(tall), "width:100%;height:750px;");
    assert.equal(style({ ...fig, layout: { ...fig.layout, height: 520.4, width: 800 } }), "width:800px;height:520px;");
    assert.equal(style(tall, { height: "300px" }), "width:100%;height:300px;");
  });
});

describe("downsample", () => {
  const n = 8192;
  const x = Array.from({ length: n }, (_, i) => i);
  const y = x.map((i) => Math.sin(i));

  it("leaves short lines alone", () => {
    const d = downsample([0, 1, 2], [3, 4, 5]);
    assert.deepEqual(d, { x: [0, 1, 2], y: [3, 4, 5], stride: 1, method: "stride" });
    assert.equal(strideNote(d), "");
  });

  it("stride: keeps both endpoints, ≤ cap points, and reports the stride", () => {
    for (const cap of [2000, 100, 3]) {
      const d = downsample(x, y, { cap });
      assert.ok(d.x.length <= cap, `${d.x.length} ≤ ${cap}`);
      assert.equal(d.x[0], 0);
      assert.equal(d.x.at(-1), n - 1);
      assert.equal(d.y.at(-1), y[n - 1]);
      assert.equal(d.x[1], d.stride);
    }
    assert.equal(downsample(x, y).stride, 5);
    assert.equal(strideNote(downsample(x, y)), " (1 point in 5)");
  });

  it("minmax: keeps endpoints and each bucket's extremes (the envelope)", () => {
    const d = downsample(x, y, { method: "minmax" });
    assert.ok(d.x.length <= 2000);
    assert.equal(d.x[0], 0);
    assert.equal(d.x.at(-1), n - 1);
    assert.ok(Math.max(...d.y) > 0.9999 && Math.min(...d.y) < -0.9999);
    assert.ok(d.x.every((v, i) => i === 0 || v > d.x[i - 1]!), "x stays ordered");
    assert.match(strideNote(d), /min\/max per \d+ points/);
  });

  it("strideIndices is exact at the boundary", () => {
    assert.deepEqual(strideIndices(5, 5), [0, 1, 2, 3, 4]);
    assert.deepEqual(strideIndices(6, 5), [0, 2, 4, 5]);
  });
});

describe("blockAverage", () => {
  it("averages a known 4×6 matrix in 2×3 blocks", () => {
    const m = [
      [1, 2, 3, 4, 5, 6],
      [7, 8, 9, 10, 11, 12],
      [13, 14, 15, 16, 17, 18],
      [19, 20, 21, 22, 23, 24],
    ];
    const b = blockAverage(m, 2);
    assert.deepEqual(b.z, [[5, 8], [17, 20]]);
    assert.deepEqual([b.rowBlock, b.colBlock], [2, 3]);
    assert.deepEqual(b.rowStarts, [0, 2]);
    assert.deepEqual(b.colStarts, [0, 3]);
  });

  it("handles ragged last blocks and skips NaN", () => {
    const b = blockAverage([[1, NaN, 3], [NaN, NaN, 5], [7, 8, 9]], 2);
    assert.deepEqual(b.z, [[1, 4], [7.5, 9]]);
    assert.ok(Number.isNaN(blockAverage([[NaN, NaN], [NaN, NaN]], 1).z[0]![0]));
    // causal: cells right of the diagonal (+ offset) are skipped in place
    assert.deepEqual(blockAverage([[1, 9], [2, 3]], 1, { causalOffset: 0 }).z, [[2]]);
    assert.deepEqual(blockAverage([[1, 9], [2, 3]], 2, { causalOffset: 0 }).z[0]![1], NaN);
  });

  it("caps 8192 rows at 512 (and 2048 columns at 512), leaves small matrices alone", () => {
    const tall = Array.from({ length: 8192 }, (_, i) => new Float32Array(64).fill(i % 2));
    const b = blockAverage(tall, 512);
    assert.deepEqual([b.z.length, b.z[0]!.length, b.rowBlock, b.colBlock], [512, 64, 16, 1]);
    assert.equal(b.z[0]![0], 0.5);
    const wide = blockAverage([Array.from({ length: 2048 }, (_, j) => j)], 512);
    assert.deepEqual(wide.z[0]!.slice(0, 2), [1.5, 5.5]);
    assert.deepEqual(blockAverage([[1, 2], [3, 4]]).z, [[1, 2], [3, 4]]);
  });

  it("sig rounds and maps non-finite values to null", () => {
    assert.equal(sig(0.123456789, 3), 0.123);
    assert.equal(sig(NaN), null);
    assert.equal(sig(0), 0);
  });
});

describe("snapshot comparison", () => {
  it("jsonDiff tolerates float noise, reports the first real difference with its path", () => {
    assert.equal(jsonDiff({ a: [1, 0.33331] }, { a: [1, 0.3333] }), null);
    assert.equal(jsonDiff({ a: [1, 2] }, { a: [1, 2.1] }), "$.a[1]: 2 vs 2.1");
    assert.match(jsonDiff({ a: 1 }, { b: 1 })!, /keys \[a\] vs \[b\]/);
    assert.equal(jsonDiff([null, "x"], [null, "y"]), '$[1]: "x" vs "y"');
    assert.equal(jsonDiff([1], [1, 2]), "$: length 1 vs 2");
  });
});
