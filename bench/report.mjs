// Summary and markdown table of bench/run.mjs: medians over repetitions, ctxlab ÷ reference ratios,
// the performance issue's targets and whether each is met.

/** Median of a non-empty list. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const TARGETS = {
  train256: 0.5, // ctxlab tokens/s ≥ 0.5 × PyTorch at ℓ = 256, batch 16 (ctxlab's best: workers 2)
  forward16kTime: 2, // ctxlab time ≤ 2 × PyTorch's chunked attention at ℓ = 16,384
  forward16kMiB: 1536, // ctxlab peak memory ≤ 1.5 GiB at ℓ = 16,384
  decode: 0.5, // ctxlab tokens/s ≥ 0.5 × PyTorch after a 1,024-token prompt
  // "per-token time flat in the position (O(ℓ) per token, not O(ℓ²))": with a KV cache each token reads
  // all ℓ cached keys, so its time may grow at most in proportion to ℓ: end/start ≤ position_end/position_start
  flat: "linear",
};

const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);

import os from "node:os";

/** Cores other processes may use, beyond those the run leaves free, for it to count as quiet. */
export const QUIET = 0.25;
/** Cores a subject uses: ctxlab's forward, decode and workers-1 training run on one thread. */
export const coresNeeded = (impl) => (impl === "ctxlab" || impl === "ctxlab-w1" ? 1 : 2);
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

/** Rows of the summary: { case, what, unit, ctxlab, ref, refName, ratio, target, met, others }. */
export function summarize(runs, cases) {
  const rows = [];
  const has = (id) => cases.some((c) => c.id === id);
  const row = (caseId, what, unit, c, ref, o = {}) => {
    const ratio = c?.median != null && ref?.median != null ? c.median / ref.median : null;
    const unfair = o.byRatio && (c?.loaded || ref?.loaded); // a ratio from loaded runs judges nothing
    rows.push({ case: caseId, what, unit, ctxlab: c, ref, refName: o.refName ?? "PyTorch", ratio: r2(ratio), target: o.target ?? "—", met: o.met && !unfair ? o.met(c, ratio) : null, unfair: !!unfair, others: othersOf(runs, caseId) });
  };
  for (const [id, l, B] of [["train256", 256, 16], ["train1024", 1024, 4]]) {
    if (!has(id)) continue;
    const pt = stat(runs, id, "pytorch", "tokens_per_s");
    for (const w of [1, 2]) {
      const t = id === "train256" && w === 2 ? TARGETS.train256 : null;
      row(id, `training tokens/s, ℓ = ${l}, batch ${B}, workers ${w}`, "tokens/s", stat(runs, id, `ctxlab-w${w}`, "tokens_per_s"), pt,
        t ? { target: `≥ ${t}× PyTorch`, byRatio: true, met: (_, r) => (r == null ? null : r >= t) } : {});
    }
  }
  for (const l of [1024, 4096, 16384, 65536]) {
    const id = `forward${l / 1024}k`;
    if (!has(id)) continue;
    const big = l === 16384;
    const timeOpt = big ? { target: `≤ ${TARGETS.forward16kTime}× PyTorch`, byRatio: true, met: (_, r) => (r == null ? null : r <= TARGETS.forward16kTime) } : l === 65536 ? { target: "completes", met: (c) => c?.median != null } : {};
    row(id, `forward ℓ = ${l.toLocaleString("en")}, batch 1, RoPE: time`, "s", stat(runs, id, "ctxlab", "forward_s"), stat(runs, id, "pytorch", "forward_s"), timeOpt);
    const memOpt = big ? { target: "≤ 1.5 GiB (1,536 MiB)", met: (c) => (c?.median == null ? null : c.median <= TARGETS.forward16kMiB) } : {};
    row(id, `forward ℓ = ${l.toLocaleString("en")}: peak memory (process RSS)`, "MiB", stat(runs, id, "ctxlab", "peak_rss_mib"), stat(runs, id, "pytorch", "peak_rss_mib"), memOpt);
  }
  if (has("decode")) {
    row("decode", "greedy decode, KV cache, after a 1,024-token prompt", "tokens/s", stat(runs, "decode", "ctxlab", "tokens_per_s"), stat(runs, "decode", "pytorch", "tokens_per_s"),
      { target: `≥ ${TARGETS.decode}× PyTorch`, byRatio: true, met: (_, r) => (r == null ? null : r >= TARGETS.decode) });
    const flat = (impl) => flatness(runs, impl);
    rows.push({ case: "decode", what: "decode per-token time near the prompt's end → near the last token", unit: "ms", ctxlab: flat("ctxlab"), ref: flat("pytorch"), refName: "PyTorch",
      ratio: null, target: "O(ℓ) per token: end ÷ start ≤ position_end ÷ position_start (ctxlab)", met: flat("ctxlab")?.growth == null || !flat("ctxlab").positionStart ? null : flat("ctxlab").growth <= flat("ctxlab").positionEnd / flat("ctxlab").positionStart, others: othersOf(runs, "decode") });
  }
  if (has("kernel")) {
    row("kernel", "kernel round trip of a trivial cell (`1`), median", "ms", stat(runs, "kernel", "kernel", "ctxlab_ms"), stat(runs, "kernel", "kernel", "tslab_ms"), { refName: "tslab 1.0.22" });
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
  "The load column: median (max) cores other processes used during this case's runs, all of them.";

/** The markdown table (case, ctxlab, PyTorch, ratio, target, met?, load). */
export function markdownTable(rows) {
  const out = ["| case | ctxlab | PyTorch | ratio ctxlab ÷ PyTorch | target | met? | others' load (cores) |", "|---|---:|---:|---:|---|---|---:|"];
  for (const r of rows) {
    const met = r.met == null ? (r.target === "—" ? "" : r.unfair ? "n/a (loaded)" : "n/a") : r.met ? "**yes**" : "no";
    const load = r.others ? `${r.others.median} (max ${r.others.max})` : "—";
    out.push(`| ${r.what} (${r.unit}) | ${cell(r.ctxlab, r.unit, r.refName, false)} | ${cell(r.ref, r.unit, r.refName, true)} | ${r.ratio == null ? "—" : `${r.ratio}×`} | ${r.target} | ${met} | ${load} |`);
  }
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
