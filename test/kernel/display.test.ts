/**
 * The display layer without a kernel: toMimeBundle with the built-in formatters (Plotly figures,
 * tensors, arquero tables, ActivationCache, raw bundles), user formatters, progress rendering, and
 * the history's glob search.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as aq from "arquero";
import { html, markdown, mime, registerFormatter, resetFormatSession, setBuiltinFormatters, toMimeBundle } from "../../kernel/display.js";
import { builtinFormatters } from "../../kernel/formatters.js";
import { createProgress, renderProgress } from "../../kernel/progress.js";
import { globToRegExp, History } from "../../kernel/history.js";
import { ActivationCache } from "../../lib/hooks/cache.js";

setBuiltinFormatters(builtinFormatters);

test("everything gets text/plain, REPL style", () => {
  assert.deepEqual(toMimeBundle(42), { data: { "text/plain": "42" }, metadata: {} });
  assert.equal(toMimeBundle("ab").data["text/plain"], "'ab'");
  assert.equal(toMimeBundle([1, 2]).data["text/plain"], "[ 1, 2 ]");
});

test("raw bundles: mime(), html(), markdown()", () => {
  assert.deepEqual(toMimeBundle(html("<b>hi</b>")).data, { "text/html": "<b>hi</b>", "text/plain": "hi" });
  assert.deepEqual(toMimeBundle(markdown("# T")).data, { "text/markdown": "# T", "text/plain": "# T" });
  assert.deepEqual(toMimeBundle(mime({ "image/svg+xml": "<svg/>" })).data, { "image/svg+xml": "<svg/>", "text/plain": "[image/svg+xml]" });
});

test("Plotly figures: plotly mime + HTML; plotly.js inlined once per session; typed arrays become arrays", () => {
  resetFormatSession();
  const fig = { data: [{ type: "scatter", x: new Float32Array([1, 2]), y: [3, 4] }], layout: { title: { text: "T" } } };
  const a = toMimeBundle(fig).data;
  assert.deepEqual((a["application/vnd.plotly.v1+json"] as { data: { x: number[] }[] }).data[0]!.x, [1, 2]);
  assert.ok(String(a["text/html"]).includes("window.Plotly") && String(a["text/html"]).length > 1e6);
  assert.equal(a["text/plain"], 'Plotly figure: 1 trace(s) [scatter] "T"');
  const b = toMimeBundle(fig).data;
  assert.ok(String(b["text/html"]).length < 5000);
  assert.notEqual(/id="([^"]+)"/.exec(String(a["text/html"]))?.[1], /id="([^"]+)"/.exec(String(b["text/html"]))?.[1], "each figure gets its own div id");
});

test("tensors: shape, dtype, backend, stats, preview, heatmap for 2-D", async () => {
  await tf.setBackend("cpu");
  const t = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  const d = toMimeBundle(t).data;
  assert.match(String(d["text/plain"]), /^tf\.Tensor float32 \[2, 3\] on cpu {2}min 1 {2}mean 3\.5000 {2}max 6\n1  2  3\n4  5  6$/);
  assert.match(String(d["text/html"]), /heatmap 1 … 6/);
  const v = tf.tensor1d([1, 2], "int32");
  assert.doesNotMatch(String(toMimeBundle(v).data["text/html"]), /heatmap/);
  t.dispose();
  assert.match(String(toMimeBundle(t).data["text/plain"]), /\(disposed\)/);
  assert.match(String(toMimeBundle(tf.scalar(3)).data["text/plain"]), /tf\.Tensor float32 \[\] .* min 3/);
  v.dispose();
});

test("arquero tables and ActivationCache render as tables", () => {
  const d = toMimeBundle(aq.table({ a: [1, 2, 3], b: ["x", "y", "z"] })).data;
  assert.match(String(d["text/html"]), /3 rows × 2 columns.*<table>/s);
  assert.match(String(d["text/plain"]), /\|a\|b\|/);
  const cache = new ActivationCache();
  cache._set("hook_embed", tf.zeros([3, 4]));
  const c = toMimeBundle(cache).data;
  assert.match(String(c["text/plain"]), /ActivationCache: 1 activations\n {2}hook_embed .*\[3, 4\]/);
  assert.match(String(c["text/html"]), /<td style="text-align:left">hook_embed<\/td>/);
  cache.dispose();
});

test("long arquero tables are paged (50 rows a page, at most 2,000 rows embedded)", () => {
  const long = aq.table({ step: Array.from({ length: 120 }, (_, i) => i) });
  const h = String(toMimeBundle(long).data["text/html"]);
  assert.match(h, /120 rows × 1 columns/);
  assert.match(h, /page 1 of 3/);
  assert.equal((h.match(/class="ctxlab-page"/g) ?? []).length, 3);
  assert.match(h, />119</); // the last row is on the last page
  const huge = String(toMimeBundle(aq.table({ x: Array.from({ length: 5000 }, (_, i) => i) })).data["text/html"]);
  assert.match(huge, /page 1 of 40/);
  assert.match(huge, /first 2,000 of 5,000 rows embedded/);
});

test("user formatters come first and can be removed; a failing formatter is skipped", () => {
  const off = registerFormatter({ name: "dates", format: (v) => (v instanceof Date ? { data: { "text/plain": "a date" }, metadata: {} } : undefined) });
  const boom = registerFormatter({ name: "boom", format: () => { throw new Error("x"); } });
  assert.equal(toMimeBundle(new Date(0)).data["text/plain"], "a date");
  off();
  boom();
  assert.notEqual(toMimeBundle(new Date(0)).data["text/plain"], "a date");
});

test("progress: one display, then updates in place with the same display_id (throttled), then the outcome", () => {
  const sent: [string, any][] = [];
  let now = 0;
  const p = createProgress((t, c) => sent.push([t, c]), "train", 10, { now: () => now, minIntervalMs: 100 });
  p.update(1, { loss: 2.5 });
  now = 50;
  p.update(2, { loss: 2.4 }); // throttled
  now = 1000;
  p.update(5, { loss: 1.25 });
  p.end("interrupted at step 5");
  assert.deepEqual(sent.map(([t]) => t), ["display_data", "update_display_data", "update_display_data"]);
  assert.equal(new Set(sent.map(([, c]) => c.transient.display_id)).size, 1);
  assert.match(sent[1]![1].data["text/plain"], /^train █{15}·{15} 5\/10 \(50%\) {2}5\.00 it\/s {2}ETA 0:01 {2}loss=1\.250$/);
  assert.match(sent[2]![1].data["text/plain"], /elapsed 0:01 {2}loss=1\.250 {2}interrupted at step 5$/);
  assert.match(renderProgress({ label: "x", done: 0, total: 0, metrics: {}, elapsedS: 0 }).html, /width:0\.0%/);
});

test("history globs and queries", () => {
  assert.ok(globToRegExp("6*7").test("6*7"));
  assert.ok(globToRegExp("a?c").test("abc"));
  assert.ok(!globToRegExp("a[!b]c").test("abc"));
  const h = new History();
  ["6*7", "x", "6*7", "6*7"].forEach((code, i) => h.add(i + 1, code, code === "x" ? null : "42"));
  assert.deepEqual(h.query({ hist_access_type: "search", pattern: "6*7", unique: true }), [[1, 4, "6*7"]]);
  assert.equal(h.query({ hist_access_type: "search", pattern: "6*7", n: 2 }).length, 2);
  assert.deepEqual(h.query({ hist_access_type: "range", session: 0, start: 2, stop: 3, output: true }), [[1, 2, ["x", null]]]);
  assert.deepEqual(h.query({ hist_access_type: "range", session: 7, start: 1, stop: 9 }), []);
});
