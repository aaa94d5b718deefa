// Summary and markdown table of bench/run.mjs: medians over repetitions, ctxlab ÷ reference ratios,
// the performance issue's targets and whether each is met.

/** Median of a non-empty list. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const TARGETS = {
  // speed ratios (ctxlab speed ÷ reference speed; for times, reference time ÷ ctxlab time) in
  // the same run against the best reference available here (Debian's PyTorch 1.13, OpenBLAS variables
  // unset, the blocked baddbmm formulation of bench/pytorch_ref.py) …
  vsReference: 1.0,
  // … and against the modern-PyTorch anchors below (measured by someone else), at least this
  vsAnchor: 0.5,
  forward16kMiB: 1536, // ctxlab peak memory ≤ 1.5 GiB at ℓ = 16,384
  // "per-token time flat in the position (O(ℓ) per token, not O(ℓ²))": with a KV cache each token reads
  // all ℓ cached keys, so its time may grow at most in proportion to ℓ: end/start ≤ position_end/position_start
  flat: "linear",
};

/**
 * Modern-PyTorch anchor figures quoted from an outside measurement (not measured by this bench): PyTorch 2.x CPU wheel,
 * fused scaled_dot_product_attention with is_causal=True, OpenBLAS variables unset, same model, on a
 * machine of this project's kind, measured by the issue's author in one hour. Higher is better for
 * tokens/s, lower for seconds.
 */
export const ANCHORS = {
  source: "PyTorch 2.x (CPU wheel, fused SDPA is_causal=True), outside figures, measured by someone else",
  train256: { value: 14594, unit: "tokens/s" },
  train1024: { value: 10449, unit: "tokens/s" },
  forward4k: { value: 0.37, unit: "s" },
  forward16k: { value: 3.3, unit: "s" },
  decode: { value: 1088, unit: "tokens/s" },
};

/** Speed ratio ctxlab ÷ other: for rates a/b, for times (unit "s") b/a; > 1 means ctxlab is faster. */
export const speedRatio = (ctx, other, unit) => (ctx == null || other == null ? null : unit === "s" ? other / ctx : ctx / other);

const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);

import os from "node:os";

/** Cores other processes may use, beyond those the run leaves free, for it to count as quiet. */
export const QUIET = 0.25;
/** Cores a subject uses: ctxlab's forward, decode and workers-1 training run on one thread. */
export const coresNeeded = (impl) => (impl === "ctxlab-wasm" || impl === "ctxlab-w1-wasm" ? 1 : 2); // ctxlab's native matMul uses both cores
/** Most cores others may use while `impl` runs, for the run to count as quiet. */
export const quietLimit = (impl, cpus = os.cpus().length) => Math.max(0, cpus - coresNeeded(impl)) + QUIET;
/** Whether a run was quiet: the other processes left it the cores it uses. */
export const isQuiet = (r) => r.other_cores != null && r.other_cores < quietLimit(r.impl);

/**
 * Median and range of metric `key` over the ok runs of one case and implementation: over the quiet
 * runs (isQuiet) when there are any, else over all of them, marked `loaded`.
 */
export function stat(runs, caseId, impl, key) {
  const ok = runs.filter((r) => r.case === caseId && r.impl === impl && r.ok && r.result[key] != null);
  if (!ok.length) {
    const failed = runs.find((r) => r.case === caseId && r.impl === impl && !r.ok);
    return failed ? { error: failed.skipped ?? failed.error } : null;
  }
  const quiet = ok.filter(isQuiet);
  const xs = (quiet.length ? quiet : ok).map((r) => r.result[key]);
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, runs: ok.length, loaded: !quiet.length, values: ok.map((r) => [r2(r.result[key]), r.other_cores]) };
}

/** Median cores other processes used during this case's runs (all implementations). */
function othersOf(runs, caseId) {
  const xs = runs.filter((r) => r.case === caseId && r.other_cores != null).map((r) => r.other_cores);
  return xs.length ? { median: r2(median(xs)), max: r2(Math.max(...xs)) } : null;
}

/** Rows of the summary: { case, what, unit, ctxlab, ref, refName, ratio, anchor, anchorRatio, target, met, others }. */
export function summarize(runs, cases) {
  const rows = [];
  const has = (id) => cases.some((c) => c.id === id);
  const row = (caseId, what, unit, c, ref, o = {}) => {
    const speed = o.memory ? null : speedRatio(c?.median, ref?.median, unit);
    const memRatio = o.memory && c?.median != null && ref?.median != null ? c.median / ref.median : null;
    const unfair = o.byRatio && (c?.loaded || ref?.loaded); // a ratio from loaded runs judges nothing
    const anchor = o.anchor ? ANCHORS[o.anchor] : null;
    const anchorRatio = anchor ? speedRatio(c?.median, anchor.value, unit) : null;
    const metRef = o.byRatio && !unfair && speed != null ? speed >= TARGETS.vsReference : null;
    const metAnchor = anchorRatio != null ? anchorRatio >= TARGETS.vsAnchor : null;
    rows.push({ case: caseId, what, unit, ctxlab: c, ref, refName: o.refName ?? "PyTorch", ratio: r2(speed ?? memRatio), ratioKind: o.memory ? "memory" : "speed",
      anchor: anchor?.value ?? null, anchorRatio: r2(anchorRatio), target: o.target ?? "—",
      met: o.met ? (unfair ? null : o.met(c, speed)) : metRef, metAnchor, unfair: !!unfair, others: othersOf(runs, caseId) });
  };
  const speedTarget = (anchor) => ({ target: `≥ ${TARGETS.vsReference}× reference, ≥ ${TARGETS.vsAnchor}× anchor`, byRatio: true, anchor });
  for (const [id, l, B] of [["train256", 256, 16], ["train1024", 1024, 4]]) {
    if (!has(id)) continue;
    const pt = stat(runs, id, "pytorch", "tokens_per_s");
    for (const w of [1, 2]) row(id, `training tokens/s, ℓ = ${l}, batch ${B}, workers ${w}`, "tokens/s", stat(runs, id, `ctxlab-w${w}`, "tokens_per_s"), pt, speedTarget(id));
    const off = stat(runs, id, "ctxlab-w1-wasm", "tokens_per_s");
    if (off) row(id, `training tokens/s, ℓ = ${l}, batch ${B}, workers 1, native matMul off (wasm only)`, "tokens/s", off, pt);
  }
  for (const l of [1024, 4096, 16384, 65536]) {
    const id = `forward${l / 1024}k`;
    if (!has(id)) continue;
    const timeOpt = l === 4096 || l === 16384 ? speedTarget(id) : l === 65536 ? { target: "completes", met: (c) => c?.median != null } : {};
    row(id, `forward ℓ = ${l.toLocaleString("en")}, batch 1, RoPE: time`, "s", stat(runs, id, "ctxlab", "forward_s"), stat(runs, id, "pytorch", "forward_s"), timeOpt);
    const off = stat(runs, id, "ctxlab-wasm", "forward_s");
    if (off) row(id, `forward ℓ = ${l.toLocaleString("en")}: time with the native matMul off (wasm only)`, "s", off, stat(runs, id, "pytorch", "forward_s"));
    const memOpt = l === 16384 ? { target: "≤ 1.5 GiB (1,536 MiB)", memory: true, met: (c) => (c?.median == null ? null : c.median <= TARGETS.forward16kMiB) } : { memory: true };
    row(id, `forward ℓ = ${l.toLocaleString("en")}: peak memory (process RSS)`, "MiB", stat(runs, id, "ctxlab", "peak_rss_mib"), stat(runs, id, "pytorch", "peak_rss_mib"), memOpt);
  }
  if (has("decode")) {
    row("decode", "greedy decode, KV cache, after a 1,024-token prompt", "tokens/s", stat(runs, "decode", "ctxlab", "tokens_per_s"), stat(runs, "decode", "pytorch", "tokens_per_s"), speedTarget("decode"));
    const flat = (impl) => flatness(runs, impl);
    rows.push({ case: "decode", what: "decode per-token time near the prompt's end → near the last token", unit: "ms", ctxlab: flat("ctxlab"), ref: flat("pytorch"), refName: "PyTorch",
      ratio: null, target: "O(ℓ) per token: end ÷ start ≤ position_end ÷ position_start (ctxlab)", met: flat("ctxlab")?.growth == null || !flat("ctxlab").positionStart ? null : flat("ctxlab").growth <= flat("ctxlab").positionEnd / flat("ctxlab").positionStart, others: othersOf(runs, "decode") });
  }
  if (has("kernel")) {
    row("kernel", "kernel round trip of a trivial cell (`1`), median", "ms", stat(runs, "kernel", "kernel", "ctxlab_ms"), stat(runs, "kernel", "kernel", "tslab_ms"), { refName: "tslab 1.0.22", memory: true });
  }
  return rows;
}

function flatness(runs, impl) {
  const s = stat(runs, "decode", impl, "per_token_ms_start");
  const e = stat(runs, "decode", impl, "per_token_ms_end");
  if (s?.median == null || e?.median == null) return s?.error || e?.error ? { error: s?.error ?? e?.error } : null;
  const pos = runs.find((r) => r.case === "decode" && r.impl === impl && r.ok)?.result ?? {};
  return { start: s.median, end: e.median, growth: e.median / s.median, positionStart: pos.position_start, positionEnd: pos.position_end, median: null, loaded: s.loaded, n: s.n, runs: s.runs };
}

const num = (x, unit) => {
  if (x == null) return "—";
  const d = unit === "tokens/s" || unit === "MiB" ? 0 : x < 1 ? 3 : x < 10 ? 2 : 1;
  return x.toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d });
};

function cell(s, unit, refName, isRef) {
  if (s == null) return "—";
  if (s.error) return isRef ? `skipped (${s.error})` : `failed: ${String(s.error).slice(0, 80)}`;
  if (s.growth != null) return `${num(s.start, "ms")} → ${num(s.end, "ms")} (×${s.growth.toFixed(2)}; positions ${s.positionStart}→${s.positionEnd})${s.loaded ? " ⚠" : s.n < s.runs ? ` (${s.n}/${s.runs})` : ""}`;
  const range = s.n > 1 ? ` [${num(s.min, unit)}–${num(s.max, unit)}]` : "";
  const load = s.loaded ? " ⚠" : s.n < s.runs ? ` (${s.n}/${s.runs})` : "";
  return `${isRef && refName !== "PyTorch" ? `${refName}: ` : ""}${num(s.median, unit)}${range}${load}`;
}

/** Footnote of the table: how cells are chosen and marked. */
export const TABLE_NOTE = "Cells: median [min–max] over the quiet runs: those during which other processes left the run the cores it uses " +
  `(others < ${QUIET} cores for PyTorch, ctxlab workers 2 and the kernel; < ${1 + QUIET} cores for ctxlab's single-threaded forward, decode and workers 1, on 2 cores); ` +
  "(q/n): only q of the n runs were quiet; ⚠: no run was quiet, so the median is over loaded runs and the ratio is not a fair comparison. " +
  "Speed ratios: ctxlab's speed ÷ the other's (tokens/s ÷ tokens/s, or the other's time ÷ ctxlab's time): above 1 ctxlab is faster. " +
  "Memory and kernel rows: ctxlab's figure ÷ the other's (below 1 ctxlab uses less). " +
  `Anchor: ${ANCHORS.source}; not from this run. ` +
  "The load column: median (max) cores other processes used during this case's runs, all of them.";

/**
 * The markdown table (case, ctxlab, PyTorch 1.13 reference, ratio vs reference, anchor, ratio vs anchor, target, met?, load).
 * `refused`: a reason not to print reference ratios (the reference ran far below the machine's matMul speed).
 */
export function markdownTable(rows, refused = null) {
  const out = ["| case | ctxlab | reference: PyTorch 1.13 (this run) | ctxlab ÷ reference | anchor: PyTorch 2.x SDPA (someone else's) | ctxlab ÷ anchor | target | met? | others' load (cores) |", "|---|---:|---:|---:|---:|---:|---|---|---:|"];
  const yn = (x) => (x == null ? null : x ? "**yes**" : "no");
  for (const r of rows) {
    const refusedHere = refused && r.ref?.median != null && r.ratioKind === "speed" && r.refName === "PyTorch";
    const ratio = refusedHere ? "refused ¹" : r.ratio == null ? "—" : `${r.ratio}×${r.ratioKind === "memory" ? " (memory)" : ""}`;
    const metRef = refusedHere ? "n/a (refused)" : r.met == null ? (r.target === "—" ? null : r.unfair ? "n/a (loaded)" : "n/a") : yn(r.met);
    const metA = r.metAnchor == null ? null : `anchor ${yn(r.metAnchor)}`;
    const met = [metRef && r.anchor != null ? `ref ${metRef}` : metRef, metA].filter(Boolean).join("; ");
    const load = r.others ? `${r.others.median} (max ${r.others.max})` : "—";
    const anchor = r.anchor == null ? "—" : num(r.anchor, r.unit);
    out.push(`| ${r.what} (${r.unit}) | ${cell(r.ctxlab, r.unit, r.refName, false)} | ${cell(r.ref, r.unit, r.refName, true)} | ${ratio} | ${anchor} | ${r.anchorRatio == null ? "—" : `${r.anchorRatio}×`} | ${r.target} | ${met} | ${load} |`);
  }
  if (refused) out.push("", `¹ ${refused}`);
  return out.join("\n");
}

/** Points of the scaling plot (medians per ℓ and implementation). */
export function scalingPoints(runs) {
  const pts = [];
  for (const l of [1024, 4096, 16384, 65536]) {
    const id = `forward${l / 1024}k`;
    for (const [impl, label] of [["ctxlab", "ctxlab (TF.js wasm)"], ["pytorch", "PyTorch 1.13 (2 threads)"]]) {
      const t = stat(runs, id, impl, "forward_s");
      const m = stat(runs, id, impl, "peak_rss_mib");
      if (t?.median != null) pts.push({ impl: label, l, forward_s: t.median, peak_mib: m?.median ?? null });
    }
  }
  return pts;
}
