/**
 * The context-extension report: the experiment's tables rolled up with their uncertainty, its Plotly
 * figures, and a folder with index.html, the CSVs, tables.md and env.json (writeReport).
 *
 *   summaryTable      one row per method: passkey accuracy at each ℓ pooled over fillers and seeds
 *                     with its 95 % Wilson interval, perplexity at each ℓ with a bootstrap interval
 *                     over windows, k_max
 *   fillerTable       the same accuracies per filler (does a result depend on the haystack text?)
 *   seedTable         per fine-tuning seed: accuracy at each ℓ (pooled over fillers), perplexity at ℓ'
 *   spreadTable       per trained method and ℓ: mean, sd, min and max over its seeds
 *   comparisons       pairs of fine-tunes at each ℓ: is the difference larger than the seed spread
 *                     (every seed of one above every seed of the other) and than the intervals?
 *   table4            PI Table 4's shape: k_max after N fine-tuning steps, PI vs direct fine-tuning
 *   reportFigures     small multiples with intervals drawn, one style per method (lib/viz/methods.ts)
 *
 * index.html loads plotly.js from the repository's node_modules by a relative path (the committed
 * report stays small; it renders offline after `npm run setup`), or inlines it (selfContained).
 */
import * as aq from "arquero";
import { createRequire } from "node:module";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { wilson, spread } from "../eval/intervals.js";
import { accuracyBy, kMaxOf, perplexityByLength } from "../eval/rollup.js";
import { writeFileAtomic } from "../io/safetensors.js";
import { depthLengthHeatmap } from "../viz/curves.js";
import { axisNames, plotlyText, subplotGrid, theme, toHtml, type Figure, type Trace } from "../viz/figure.js";
import { methodLine, methodStyle } from "../viz/methods.js";
import type { ExperimentResult } from "./experiment.js";

type Row = Record<string, unknown>;
const rows = (t: aq.ColumnTable): Row[] => t.objects() as Row[];
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const methodsOf = (r: ExperimentResult): string[] => [...new Set(rows(r.runs).map((x) => String(x.method)))];
const lengthsOf = (r: ExperimentResult): number[] => r.settings.lengths as number[];
const fillersOf = (r: ExperimentResult): string[] => (r.settings.fillers as string[] | undefined) ?? [...new Set(rows(r.passkey).map((x) => String(x.filler)))];
const isTrained = (r: ExperimentResult, m: string) => rows(r.runs).some((x) => x.method === m && x.training === "finetune");
const seedsOf = (r: ExperimentResult, m: string): number[] => [...new Set(rows(r.runs).filter((x) => x.method === m && num(x.seed) !== null).map((x) => Number(x.seed)))].sort((a, b) => a - b);

interface Acc {
  n: number;
  k: number;
  accuracy: number | null;
  lo: number | null;
  hi: number | null;
}

/** Accuracy with its Wilson interval over the rows that ran (correct ≠ null). */
function acc(rs: Row[]): Acc {
  const ran = rs.filter((x) => x.correct === 0 || x.correct === 1);
  const k = ran.reduce((s, x) => s + Number(x.correct), 0);
  const ci = wilson(k, ran.length);
  return { n: ran.length, k, accuracy: ran.length ? k / ran.length : null, lo: ci?.lo ?? null, hi: ci?.hi ?? null };
}

/** Rows of one method (and optionally one filler / seed / length). */
function pick(t: Row[], m: string, f: { filler?: string; seed?: number; length?: number; step?: number } = {}): Row[] {
  return t.filter((x) => x.method === m && (f.filler === undefined || x.filler === f.filler) && (f.seed === undefined || x.seed === f.seed) && (f.length === undefined || x.length === f.length) && (f.step === undefined || Number(x.step) === f.step));
}

/** k_max (PI's rule) of per-example rows. */
function kmaxOf(rs: Row[]): number | null {
  const pts = rows(accuracyBy(rs.map((x) => ({ length: x.length, correct: x.correct })), ["length"])) as { length: number; accuracy: number | null }[];
  return kMaxOf(pts);
}

/** Perplexity per (method, length) pooled over seeds, with its bootstrap interval. */
function pplRows(r: ExperimentResult, keys: string[] = []): Row[] {
  return rows(perplexityByLength(r.perplexity, { keys }));
}

/**
 * One row per method: recipe, base, seeds, steps; acc_ℓ, acc_ℓ_lo, acc_ℓ_hi and n_ℓ per ℓ (pooled over
 * fillers and seeds); ppl_ℓ, ppl_ℓ_lo, ppl_ℓ_hi (bootstrap over windows of every seed); k_max.
 */
export function summaryTable(r: ExperimentResult): aq.ColumnTable {
  const pk = rows(r.passkey);
  const ppl = pplRows(r);
  return aq.from(methodsOf(r).map((m) => {
    const run = rows(r.runs).find((x) => x.method === m)!;
    const out: Row = { method: m, recipe: run.recipe, base: run.base, seeds: seedsOf(r, m).length || null, steps: run.steps };
    for (const l of lengthsOf(r)) {
      const a = acc(pick(pk, m, { length: l }));
      Object.assign(out, { [`acc_${l}`]: a.accuracy, [`acc_${l}_lo`]: a.lo, [`acc_${l}_hi`]: a.hi, [`n_${l}`]: a.n });
    }
    for (const l of lengthsOf(r)) {
      const p = ppl.find((x) => x.method === m && x.length === l);
      Object.assign(out, { [`ppl_${l}`]: num(p?.perplexity), [`ppl_${l}_lo`]: num(p?.lo), [`ppl_${l}_hi`]: num(p?.hi) });
    }
    out.k_max = kmaxOf(pick(pk, m));
    return out;
  }));
}

/** One row per (method, filler): acc_ℓ, acc_ℓ_lo, acc_ℓ_hi, n_ℓ per ℓ (pooled over seeds), k_max. */
export function fillerTable(r: ExperimentResult): aq.ColumnTable {
  const pk = rows(r.passkey);
  return aq.from(methodsOf(r).flatMap((m) => fillersOf(r).map((filler) => {
    const out: Row = { method: m, filler };
    for (const l of lengthsOf(r)) {
      const a = acc(pick(pk, m, { filler, length: l }));
      Object.assign(out, { [`acc_${l}`]: a.accuracy, [`acc_${l}_lo`]: a.lo, [`acc_${l}_hi`]: a.hi, [`n_${l}`]: a.n });
    }
    out.k_max = kmaxOf(pick(pk, m, { filler }));
    return out;
  })));
}

/** One row per (trained method, seed): acc_ℓ (+ lo, hi, n) pooled over fillers, ppl at ℓ', k_max, final training loss. */
export function seedTable(r: ExperimentResult): aq.ColumnTable {
  const pk = rows(r.passkey);
  const ppl = pplRows(r, ["seed"]);
  const target = r.settings.targetLength as number;
  const log = rows(r.training);
  return aq.from(methodsOf(r).filter((m) => isTrained(r, m)).flatMap((m) => seedsOf(r, m).map((seed) => {
    const out: Row = { method: m, seed };
    for (const l of lengthsOf(r)) {
      const a = acc(pick(pk, m, { seed, length: l }));
      Object.assign(out, { [`acc_${l}`]: a.accuracy, [`acc_${l}_lo`]: a.lo, [`acc_${l}_hi`]: a.hi, [`n_${l}`]: a.n });
    }
    out[`ppl_${target}`] = num(ppl.find((x) => x.method === m && x.seed === seed && x.length === target)?.perplexity);
    out.k_max = kmaxOf(pick(pk, m, { seed }));
    const last = log.filter((x) => x.method === m && x.seed === seed).at(-1);
    out.final_loss = num(last?.loss);
    return out;
  })));
}

/** One row per (trained method, ℓ): mean, sd, min, max of the per-seed accuracies (seedTable). */
export function spreadTable(r: ExperimentResult): aq.ColumnTable {
  const st = rows(seedTable(r));
  return aq.from([...new Set(st.map((x) => String(x.method)))].flatMap((m) => lengthsOf(r).map((l) => {
    const sp = spread(st.filter((x) => x.method === m).map((x) => num(x[`acc_${l}`])));
    return { method: m, length: l, seeds: sp.n, mean: sp.mean, sd: sp.sd, min: sp.min, max: sp.max };
  })));
}

/**
 * Every pair of trained methods at every ℓ where both ran: mean accuracy over seeds of each, the
 * difference, `beyond_seeds` (every seed of one is above every seed of the other: the difference is
 * larger than the seed spread) and `beyond_intervals` (the pooled Wilson intervals do not overlap).
 */
export function comparisons(r: ExperimentResult): aq.ColumnTable {
  const sp = rows(spreadTable(r));
  const sum = rows(summaryTable(r));
  const ms = [...new Set(sp.map((x) => String(x.method)))];
  const out: Row[] = [];
  for (let i = 0; i < ms.length; i++) {
    for (let j = i + 1; j < ms.length; j++) {
      for (const l of lengthsOf(r)) {
        const [a, b] = [sp.find((x) => x.method === ms[i] && x.length === l)!, sp.find((x) => x.method === ms[j] && x.length === l)!];
        if (num(a.mean) === null || num(b.mean) === null) continue;
        const [sa, sb] = [sum.find((x) => x.method === ms[i])!, sum.find((x) => x.method === ms[j])!];
        const beyondSeeds = Number(a.min) > Number(b.max) || Number(b.min) > Number(a.max);
        const beyondIntervals = Number(sa[`acc_${l}_lo`]) > Number(sb[`acc_${l}_hi`]) || Number(sb[`acc_${l}_lo`]) > Number(sa[`acc_${l}_hi`]);
        out.push({ a: ms[i], b: ms[j], length: l, mean_a: a.mean, mean_b: b.mean, diff: Number(a.mean) - Number(b.mean), beyond_seeds: beyondSeeds, beyond_intervals: beyondIntervals });
      }
    }
  }
  return out.length ? aq.from(out) : aq.table(Object.fromEntries(["a", "b", "length", "mean_a", "mean_b", "diff", "beyond_seeds", "beyond_intervals"].map((c) => [c, []])));
}

/** PI Table 4's shape: one row per (method, step): k_max and accuracy at ℓ' (pooled over seeds and fillers, Wilson), k_max of each seed. */
export function table4(r: ExperimentResult): aq.ColumnTable {
  const all = rows(r.table4Rows);
  const steps = [...new Set(all.map((x) => Number(x.step)))].sort((a, b) => a - b);
  const target = r.settings.targetLength as number;
  const out = [...new Set(all.map((x) => String(x.method)))].flatMap((method) => steps.map((step) => {
    const rs = pick(all, method, { step });
    const a = acc(rs.filter((x) => x.length === target));
    const seeds = [...new Set(rs.map((x) => x.seed))].sort();
    return { method, step, k_max: kmaxOf(rs), [`acc_${target}`]: a.accuracy, [`acc_${target}_lo`]: a.lo, [`acc_${target}_hi`]: a.hi, [`n_${target}`]: a.n, k_max_by_seed: seeds.map((s) => kmaxOf(rs.filter((x) => x.seed === s)) ?? "—").join(" / ") };
  }));
  return aq.from(out);
}

// ---------------------------------------------------------------------------------------------
// figures

/** The panels of the length figures: which methods each shows (≤ 6 each). */
export function methodPanels(methods: readonly string[]): { title: string; methods: string[] }[] {
  const rec = (m: string) => m.replace(/\s*\(.*$/, "");
  const base = (m: string) => /\(([^)]*)\)/.exec(m)?.[1] ?? "";
  const panels = [
    { title: "zero-shot: every base as trained", methods: methods.filter((m) => rec(m) === "extrapolate") },
    { title: "RoPE: zero-shot scalings", methods: methods.filter((m) => (rec(m) === "extrapolate" && base(m) === "rope") || ["pi", "ntk", "dynamic-ntk", "yarn"].includes(rec(m))) },
    { title: "RoPE: trained for ℓ′", methods: methods.filter((m) => ["pi-ft", "yarn-ft", "curriculum"].includes(rec(m)) || (rec(m) === "ft" && base(m) === "rope")) },
    { title: "absolute positions: trained for ℓ′", methods: methods.filter((m) => rec(m) === "learned-extend-ft" || (rec(m) === "ft" && base(m) !== "rope")) },
  ];
  const placed = new Set(panels.flatMap((p) => p.methods));
  const rest = methods.filter((m) => !placed.has(m));
  for (let i = 0; i < rest.length; i += 6) panels.push({ title: "other methods", methods: rest.slice(i, i + 6) });
  return panels.filter((p) => p.methods.length).flatMap((p) => (p.methods.length <= 6 ? [p] : Array.from({ length: Math.ceil(p.methods.length / 6) }, (_, i) => ({ title: `${p.title} (${i + 1})`, methods: p.methods.slice(i * 6, i * 6 + 6) }))));
}

interface Pt {
  x: number | string;
  y: number | null;
  lo: number | null;
  hi: number | null;
  n?: number;
}

/**
 * One method's line with asymmetric error bars (the interval), styled by methodStyle; `shift` moves
 * it sideways (a factor on a log axis, an offset on a linear one) so the bars of a panel's methods do
 * not hide each other. The hover shows the true x.
 */
function intervalTrace(m: string, pts: Pt[], axes: { x: string; y: string }, showlegend: boolean, yFmt = ".0%", shift: (x: number) => number = (x) => x): Trace {
  const ok = pts.filter((p) => p.y !== null);
  const st = methodStyle(m);
  return {
    type: "scatter", mode: "lines+markers", name: plotlyText(m), legendgroup: m, showlegend, xaxis: axes.x, yaxis: axes.y,
    x: ok.map((p) => (typeof p.x === "number" ? Number(shift(p.x).toPrecision(6)) : p.x)), y: ok.map((p) => p.y),
    error_y: { type: "data", symmetric: false, array: ok.map((p) => (p.hi ?? p.y!) - p.y!), arrayminus: ok.map((p) => p.y! - (p.lo ?? p.y!)), visible: true, thickness: 1.2, width: 3, color: st.color },
    line: methodLine(m), marker: { color: st.color, symbol: st.symbol, size: 7 },
    customdata: ok.map((p) => [p.lo, p.hi, p.n ?? null, p.x]),
    hovertemplate: `${plotlyText(m)}<br>%{customdata[3]}: %{y:${yFmt}} [%{customdata[0]:${yFmt}}, %{customdata[1]:${yFmt}}]<extra></extra>`,
  };
}

/** A grid of panels (≤ 2 columns), one per group, each with its methods' interval lines. */
function panelFigure(title: string, panels: { title: string; methods: string[] }[], pointsOf: (m: string) => Pt[], o: { xTitle: string; yTitle: string; logX?: boolean; logY?: boolean; yRange?: number[]; xs?: number[]; lMax?: number; yFmt?: string; height?: number }): Figure {
  const cols = panels.length > 1 ? 2 : 1;
  const nrows = Math.ceil(panels.length / cols);
  const seen = new Set<string>();
  const data: Trace[] = panels.flatMap((p, k) => p.methods.map((m, j) => {
    const ax = axisNames(k);
    const off = j - (p.methods.length - 1) / 2; // dodge: the bars of one panel side by side
    const tr = intervalTrace(m, pointsOf(m), { x: ax.x, y: ax.y }, !seen.has(m), o.yFmt, o.logX ? (x) => x * 10 ** (0.014 * off) : (x) => x + 0.012 * off);
    seen.add(m);
    return tr;
  }));
  const xr = o.xs && o.logX ? { range: [Math.log10(o.xs[0]!) - 0.1, Math.log10(o.xs.at(-1)!) + 0.1] } : {};
  const grid = subplotGrid(nrows, cols, panels.map((p) => p.title), (row, c) => ({
    x: theme.axis(row === nrows - 1 ? o.xTitle : "", { ...(o.logX ? { type: "log" } : {}), ...(o.xs ? { tickmode: "array", tickvals: o.xs, ticktext: o.xs.map(String) } : {}), ...xr }),
    y: theme.axis(c === 0 ? o.yTitle : "", { ...(o.logY ? { type: "log" } : {}), ...(o.yRange ? { range: o.yRange } : {}), ...(o.yFmt === ".0%" ? { tickformat: ".0%" } : {}) }),
  }), { v: 0.14 });
  const shapes = o.lMax ? panels.map((_, k) => theme.marker("v", o.lMax!, { xref: axisNames(k).x, yref: axisNames(k).y })) : [];
  return {
    data,
    layout: theme.layout(title, {
      ...grid, shapes, height: o.height ?? 300 * nrows + 120,
      legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top", bgcolor: "rgba(0,0,0,0)", tracegroupgap: 2 },
      margin: { l: 70, r: 230, t: 80, b: 60 },
    }),
  };
}

/** Passkey accuracy (pooled over fillers and seeds, Wilson interval) against ℓ, one panel per group of methods. */
export function accuracyLengthFigure(r: ExperimentResult): Figure {
  const pk = rows(r.passkey);
  const xs = lengthsOf(r);
  const pts = (m: string): Pt[] => xs.map((l) => {
    const a = acc(pick(pk, m, { length: l }));
    return { x: l, y: a.accuracy, lo: a.lo, hi: a.hi, n: a.n };
  });
  const seeds = (r.settings.seeds as number[] | undefined)?.length ?? 1;
  return panelFigure(`Passkey accuracy against ℓ (${fillersOf(r).length > 1 ? `${fillersOf(r).length} fillers pooled` : "one filler"}${seeds > 1 ? `, fine-tunes: ${seeds} seeds pooled` : ""}; bars: 95 % Wilson interval)`, methodPanels(methodsOf(r)), pts, { xTitle: "context length ℓ (tokens)", yTitle: "accuracy", logX: true, xs, yRange: [-0.03, 1.05], lMax: r.settings.lMax as number });
}

/** Perplexity against ℓ with its bootstrap interval, the same panels. */
export function perplexityFigure(r: ExperimentResult): Figure {
  const ppl = pplRows(r);
  const xs = lengthsOf(r);
  const pts = (m: string): Pt[] => xs.map((l) => {
    const p = ppl.find((x) => x.method === m && x.length === l);
    return { x: l, y: num(p?.perplexity), lo: num(p?.lo), hi: num(p?.hi) };
  });
  return panelFigure("Perplexity against ℓ (held-out Moby Dick; bars: 95 % bootstrap interval over windows)", methodPanels(methodsOf(r)), pts, { xTitle: "context length ℓ (tokens)", yTitle: "perplexity (bytes)", logX: true, logY: true, xs, lMax: r.settings.lMax as number, yFmt: ".2f" });
}

/** Accuracy against needle depth at one ℓ, the same panels. */
export function depthFigure(r: ExperimentResult, length: number): Figure {
  const pk = rows(r.passkey).filter((x) => x.length === length);
  const depths = r.settings.depths as number[];
  const ms = methodsOf(r).filter((m) => pk.some((x) => x.method === m && (x.correct === 0 || x.correct === 1)));
  const pts = (m: string): Pt[] => depths.map((d) => {
    const a = acc(pk.filter((x) => x.method === m && x.depth === d));
    return { x: d, y: a.accuracy, lo: a.lo, hi: a.hi, n: a.n };
  });
  return panelFigure(`Passkey accuracy against needle depth at ℓ = ${length} (fillers and seeds pooled; 95 % Wilson)`, methodPanels(ms), pts, { xTitle: "needle depth (0 = start of the context)", yTitle: "accuracy", yRange: [-0.03, 1.05] });
}

/** Accuracy per method × ℓ as heatmaps, one panel per filler (the value printed in each cell). */
export function fillerFigure(r: ExperimentResult): Figure {
  const ft = rows(fillerTable(r));
  const fillers = fillersOf(r);
  const ms = methodsOf(r);
  const xs = lengthsOf(r).map(String);
  const data: Trace[] = fillers.map((f, k) => {
    const ax = axisNames(k);
    const z = ms.map((m) => lengthsOf(r).map((l) => num(ft.find((x) => x.method === m && x.filler === f)?.[`acc_${l}`])));
    const text = ms.map((m) => lengthsOf(r).map((l) => {
      const row = ft.find((x) => x.method === m && x.filler === f);
      const a = num(row?.[`acc_${l}`]);
      return a === null ? "—" : `${Math.round(100 * a)}`;
    }));
    return { type: "heatmap", x: xs, y: ms.map(plotlyText), z, text, texttemplate: "%{text}", coloraxis: "coloraxis", xaxis: ax.x, yaxis: ax.y, hovertemplate: `${plotlyText(f)}<br>%{y}<br>ℓ = %{x}: %{z:.0%}<extra></extra>` };
  });
  const grid = subplotGrid(1, fillers.length, fillers, (_, c) => ({ x: theme.axis("ℓ", { type: "category" }), y: theme.axis("", { type: "category", autorange: "reversed", showticklabels: c === 0 }) }), { h: 0.02 });
  return {
    data,
    layout: theme.layout("Passkey accuracy (%) per filler: does a result depend on the haystack text?", {
      ...grid, height: 120 + 26 * ms.length, margin: { l: 200, r: 30, t: 80, b: 60 },
      coloraxis: { colorscale: theme.sequential, cmin: 0, cmax: 1, colorbar: { title: { text: "accuracy" }, outlinewidth: 0, tickformat: ".0%" } },
    }),
  };
}

/** Per-seed accuracy of each fine-tune (markers) and the seed mean (a bar), one panel per ℓ. */
export function seedFigure(r: ExperimentResult): Figure {
  const st = rows(seedTable(r));
  const ms = [...new Set(st.map((x) => String(x.method)))];
  const ls = lengthsOf(r);
  const cols = Math.min(2, ls.length);
  const nrows = Math.ceil(ls.length / cols);
  const seen = new Set<string>();
  const data: Trace[] = ls.flatMap((l, k) => {
    const ax = axisNames(k);
    return ms.flatMap((m, i) => {
      const ys = st.filter((x) => x.method === m).map((x) => ({ seed: x.seed, y: num(x[`acc_${l}`]), lo: num(x[`acc_${l}_lo`]), hi: num(x[`acc_${l}_hi`]) })).filter((p) => p.y !== null);
      if (!ys.length) return [];
      const st1 = methodStyle(m);
      const mean = ys.reduce((s, p) => s + p.y!, 0) / ys.length;
      const show = !seen.has(m);
      seen.add(m);
      return [
        { type: "scatter", mode: "markers", name: plotlyText(m), legendgroup: m, showlegend: show, xaxis: ax.x, yaxis: ax.y, x: ys.map((_, j) => i + 0.14 * (j - (ys.length - 1) / 2)), y: ys.map((p) => p.y), marker: { color: st1.color, symbol: st1.symbol, size: 8, opacity: 0.85 }, customdata: ys.map((p) => [p.seed, p.lo, p.hi]), error_y: { type: "data", symmetric: false, array: ys.map((p) => (p.hi ?? p.y!) - p.y!), arrayminus: ys.map((p) => p.y! - (p.lo ?? p.y!)), thickness: 0.8, width: 2, color: st1.color }, hovertemplate: `${plotlyText(m)} seed %{customdata[0]}<br>ℓ = ${l}: %{y:.0%} [%{customdata[1]:.0%}, %{customdata[2]:.0%}]<extra></extra>` },
        { type: "scatter", mode: "lines", name: `${plotlyText(m)} mean`, legendgroup: m, showlegend: false, xaxis: ax.x, yaxis: ax.y, x: [i - 0.32, i + 0.32], y: [mean, mean], line: { color: st1.color, width: 3 }, hovertemplate: `${plotlyText(m)}: mean of ${ys.length} seeds ${(100 * mean).toFixed(0)} %<extra></extra>` },
      ];
    });
  });
  const ticks = { tickmode: "array", tickvals: ms.map((_, i) => i), ticktext: ms.map((m) => plotlyText(m.replace(/ \(.*\)$/, ""))), range: [-0.6, ms.length - 0.4] };
  const grid = subplotGrid(nrows, cols, ls.map((l) => `ℓ = ${l}`), (row, c) => ({ x: theme.axis("", { ...ticks, showticklabels: row === nrows - 1, zeroline: false }), y: theme.axis(c === 0 ? "accuracy" : "", { range: [-0.03, 1.05], tickformat: ".0%" }) }), { v: 0.12 });
  return {
    data,
    layout: theme.layout("Fine-tunes: accuracy of each seed (markers, 95 % Wilson bars) and the seed mean (bar)", {
      ...grid, height: 280 * nrows + 120, legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top", bgcolor: "rgba(0,0,0,0)" }, margin: { l: 70, r: 230, t: 80, b: 40 },
    }),
  };
}

/** Table 4 as curves: k_max and accuracy at ℓ' (Wilson) against fine-tuning steps. */
export function table4Figure(r: ExperimentResult): Figure {
  const t = rows(table4(r));
  const target = r.settings.targetLength as number;
  const ms = [...new Set(t.map((x) => String(x.method)))];
  const seen = new Set<string>();
  const data: Trace[] = ms.flatMap((m) => {
    const rs = t.filter((x) => x.method === m);
    const show = !seen.has(m);
    seen.add(m);
    const st = methodStyle(m);
    return [
      { type: "scatter", mode: "lines+markers", name: plotlyText(m), legendgroup: m, showlegend: show, xaxis: "x", yaxis: "y", x: rs.map((x) => x.step), y: rs.map((x) => x.k_max ?? 0), line: methodLine(m), marker: { color: st.color, symbol: st.symbol, size: 7 }, hovertemplate: `${plotlyText(m)}<br>after %{x} steps: k_max = %{y}<extra></extra>` },
      intervalTrace(m, rs.map((x) => ({ x: Number(x.step), y: num(x[`acc_${target}`]), lo: num(x[`acc_${target}_lo`]), hi: num(x[`acc_${target}_hi`]) })), { x: "x2", y: "y2" }, false),
    ];
  });
  const grid = subplotGrid(1, 2, ["k<sub>max</sub> (seeds and fillers pooled)", `accuracy at ℓ′ = ${target} (95 % Wilson)`], (_, c) => ({ x: theme.axis("fine-tuning steps"), y: theme.axis(c === 0 ? "k_max (tokens; 0 = none)" : "accuracy", c === 1 ? { range: [-0.03, 1.05], tickformat: ".0%" } : {}) }), { h: 0.1 });
  return { data, layout: theme.layout(`PI Table 4: the effective context window after N fine-tuning steps at ℓ′ = ${target}`, { ...grid, legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top", bgcolor: "rgba(0,0,0,0)" }, margin: { l: 70, r: 230, t: 80, b: 60 } }) };
}

/** Training loss of every trained run, one panel per method, one line per seed. */
export function trainingFigure(r: ExperimentResult): Figure {
  const log = rows(r.training);
  const ms = [...new Set(log.map((x) => String(x.method)))];
  const cols = Math.min(3, Math.max(1, ms.length));
  const nrows = Math.max(1, Math.ceil(ms.length / cols));
  const seen = new Set<string>();
  const data: Trace[] = ms.flatMap((m, k) => {
    const ax = axisNames(k);
    const seeds = [...new Set(log.filter((x) => x.method === m).map((x) => x.seed))];
    return seeds.map((seed, j) => {
      const pts = log.filter((x) => x.method === m && x.seed === seed);
      const show = !seen.has(m);
      seen.add(m);
      return { type: "scatter", mode: "lines", name: plotlyText(m), legendgroup: m, showlegend: show, xaxis: ax.x, yaxis: ax.y, x: pts.map((x) => x.step), y: pts.map((x) => x.loss), line: { color: methodStyle(m).color, width: 1.5, dash: ["solid", "dot", "dash"][j % 3] }, opacity: 0.85, hovertemplate: `${plotlyText(m)} seed ${seed}<br>step %{x}: loss %{y:.3f}<extra></extra>` };
    });
  });
  const grid = subplotGrid(nrows, cols, ms.map(plotlyText), (row, c) => ({ x: theme.axis(row === nrows - 1 ? "step" : ""), y: theme.axis(c === 0 ? "loss (nats/token)" : "") }), { v: 0.16 });
  return { data, layout: theme.layout("Training loss of the fine-tunes (one line per seed: solid, dotted, dashed)", { ...grid, height: 260 * nrows + 120, legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top", bgcolor: "rgba(0,0,0,0)" }, margin: { l: 70, r: 230, t: 80, b: 60 } }) };
}

/** Every figure of the report, by id. */
export function reportFigures(r: ExperimentResult): { id: string; title: string; fig: Figure }[] {
  const lMax = r.settings.lMax as number;
  const target = r.settings.targetLength as number;
  const pk = rows(r.passkey);
  const zeroShot = pk.filter((x) => x.recipe === "extrapolate");
  const figs = [
    { id: "accuracy-length", title: "Passkey accuracy against context length", fig: accuracyLengthFigure(r) },
    { id: "accuracy-filler", title: "Passkey accuracy per filler", fig: fillerFigure(r) },
    { id: "seeds", title: "Fine-tunes: the spread over seeds", fig: seedFigure(r) },
    { id: "perplexity-length", title: "Perplexity against evaluation length", fig: perplexityFigure(r) },
    { id: "accuracy-depth-target", title: `Accuracy against needle depth at ℓ' = ${target}`, fig: depthFigure(r, target) },
    { id: "accuracy-depth-lmax", title: `Accuracy against needle depth at ℓ_max = ${lMax}`, fig: depthFigure(r, lMax) },
    { id: "table4", title: "k_max after N fine-tuning steps", fig: table4Figure(r) },
    { id: "training", title: "Training loss", fig: trainingFigure(r) },
    { id: "depth-length", title: "Zero-shot accuracy by depth and length", fig: depthLengthHeatmap(zeroShot, { by: "method", title: "Zero-shot passkey accuracy by needle depth and ℓ (fillers pooled)" }) },
  ];
  return figs;
}

// ---------------------------------------------------------------------------------------------
// text renderings

const esc = (s: unknown) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toExponential(2) : v.toFixed(3)) : String(v));

/** "92 % (86–96)": an accuracy with its interval, in percent. */
export function pctCell(a: unknown, lo: unknown, hi: unknown): string {
  const [x, l, h] = [num(a), num(lo), num(hi)];
  if (x === null) return "—";
  const p = (v: number) => String(Math.round(100 * v));
  return l === null || h === null ? `${p(x)} %` : `${p(x)} % (${p(l)}–${p(h)})`;
}

/** "5.32 (5.10–5.55)": a perplexity with its interval. */
export function pplCell(a: unknown, lo: unknown, hi: unknown): string {
  const [x, l, h] = [num(a), num(lo), num(hi)];
  if (x === null) return "—";
  return l === null || h === null ? x.toFixed(2) : `${x.toFixed(2)} (${l.toFixed(2)}–${h.toFixed(2)})`;
}

/** An HTML <table> of a table. */
export function htmlTable(t: aq.ColumnTable): string {
  const cols = t.columnNames();
  const body = rows(t).map((r) => `<tr>${cols.map((c) => `<td>${esc(fmt(r[c]))}</td>`).join("")}</tr>`).join("\n");
  return `<table>\n<thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

/** A markdown table (for the README / closing note). */
export function markdownTable(t: aq.ColumnTable): string {
  const cols = t.columnNames();
  return [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`, ...rows(t).map((r) => `| ${cols.map((c) => fmt(r[c])).join(" | ")} |`)].join("\n");
}

/** Rows of strings as a markdown table (first column left-aligned, the others right). */
function mdRows(head: string[], body: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i ? "---:" : "---")).join("|")}|`, ...body.map((b) => `| ${b.join(" | ")} |`)].join("\n");
}

const thousands = (n: number) => n.toLocaleString("en-US");

/**
 * The report's tables as markdown with intervals: results (accuracy per ℓ, perplexity at ℓ_max and
 * ℓ', k_max), per filler, per seed and spread, the comparisons beyond the seed spread, Table 4.
 */
export function reportMarkdown(r: ExperimentResult): Record<"summary" | "fillers" | "seeds" | "comparisons" | "table4", string> {
  const ls = lengthsOf(r);
  const lMax = r.settings.lMax as number;
  const target = r.settings.targetLength as number;
  const sum = rows(summaryTable(r));
  const summary = mdRows(
    ["method", "steps", "seeds", ...ls.map((l) => `passkey ℓ = ${thousands(l)}`), `perplexity ℓ = ${lMax}`, `perplexity ℓ = ${target}`, "k_max"],
    sum.map((x) => [String(x.method), x.steps ? thousands(Number(x.steps)) : "0", x.seeds ? String(x.seeds) : "—", ...ls.map((l) => pctCell(x[`acc_${l}`], x[`acc_${l}_lo`], x[`acc_${l}_hi`])), pplCell(x[`ppl_${lMax}`], x[`ppl_${lMax}_lo`], x[`ppl_${lMax}_hi`]), pplCell(x[`ppl_${target}`], x[`ppl_${target}_lo`], x[`ppl_${target}_hi`]), x.k_max === null ? "—" : thousands(Number(x.k_max))]),
  );
  const ft = rows(fillerTable(r));
  const fillers = mdRows(
    ["method", "filler", ...ls.map((l) => `ℓ = ${thousands(l)}`), "k_max"],
    ft.map((x) => [String(x.method), String(x.filler), ...ls.map((l) => pctCell(x[`acc_${l}`], x[`acc_${l}_lo`], x[`acc_${l}_hi`])), x.k_max === null ? "—" : thousands(Number(x.k_max))]),
  );
  const sp = rows(spreadTable(r));
  const st = rows(seedTable(r));
  const seeds = mdRows(
    ["method", ...ls.map((l) => `ℓ = ${thousands(l)}: seeds → mean ± sd`), `perplexity ℓ = ${target} by seed`],
    [...new Set(st.map((x) => String(x.method)))].map((m) => [m, ...ls.map((l) => {
      const per = st.filter((x) => x.method === m).map((x) => num(x[`acc_${l}`]));
      if (per.every((v) => v === null)) return "—";
      const s = sp.find((x) => x.method === m && x.length === l)!;
      return `${per.map((v) => (v === null ? "—" : Math.round(100 * v))).join(" / ")} → ${Math.round(100 * Number(s.mean))} ± ${s.sd === null ? "—" : Math.round(100 * Number(s.sd))}`;
    }), st.filter((x) => x.method === m).map((x) => (num(x[`ppl_${target}`]) === null ? "—" : Number(x[`ppl_${target}`]).toFixed(2))).join(" / ")]),
  );
  const cmp = rows(comparisons(r)).filter((x) => Number(x.length) > lMax || Math.abs(Number(x.diff)) >= 0.1);
  const comparisonsMd = mdRows(
    ["pair", "ℓ", "means (seeds)", "difference", "beyond the seed spread", "beyond the 95 % intervals"],
    cmp.map((x) => [`${x.a} vs ${x.b}`, thousands(Number(x.length)), `${Math.round(100 * Number(x.mean_a))} % vs ${Math.round(100 * Number(x.mean_b))} %`, `${Number(x.diff) >= 0 ? "+" : "−"}${Math.round(100 * Math.abs(Number(x.diff)))} pts`, x.beyond_seeds ? "yes" : "no", x.beyond_intervals ? "yes" : "no"]),
  );
  const t4 = rows(table4(r));
  const table4Md = mdRows(
    ["method", "steps", "k_max (pooled)", "k_max by seed", `accuracy at ℓ′ = ${target}`],
    t4.map((x) => [String(x.method), String(x.step), x.k_max === null ? "—" : String(x.k_max), String(x.k_max_by_seed), pctCell(x[`acc_${target}`], x[`acc_${target}_lo`], x[`acc_${target}_hi`])]),
  );
  return { summary, fillers, seeds, comparisons: comparisonsMd, table4: table4Md };
}

/** tables.md: every markdown table of reportMarkdown under a heading. */
export function tablesMarkdown(r: ExperimentResult): string {
  const md = reportMarkdown(r);
  const n = r.settings.n as number;
  const depths = (r.settings.depths as number[]).length;
  const fillers = fillersOf(r);
  return `# Tables of the run (generated by \`ctxlab experiment\`; do not edit)

Accuracy: compact passkeys, teacher-forced exact match; % with the 95 % Wilson interval in brackets.
Each model is scored on ${n} examples per (ℓ, depth, filler) × ${depths} depths × ${fillers.length} fillers (${fillers.join(", ")}) = ${n * depths * fillers.length} per ℓ; a fine-tune's seeds see disjoint examples, so a fine-tune row pools ${n * depths * fillers.length} × seeds.
Perplexity: held-out Moby Dick, ${r.settings.windows} windows per ℓ (× seeds), 95 % percentile bootstrap over windows.

## Results (fillers and seeds pooled)

${md.summary}

## Per filler (seeds pooled)

${md.fillers}

## Fine-tunes: accuracy per seed (fillers pooled) and spread

${md.seeds}

## Differences between fine-tunes: beyond the seed spread? (ℓ > ℓ_max, or ≥ 10 points)

"Beyond the seed spread": every seed of one recipe scored above every seed of the other.

${md.comparisons}

## Table 4: k_max after N fine-tuning steps

${md.table4}
`;
}

export interface ReportOptions {
  /** inline plotly.js (~4.8 MB) instead of loading it from node_modules by a relative path */
  selfContained?: boolean;
  /** free text placed under the title (e.g. the findings) */
  notes?: string;
  /** extra entries of env.json (command, base checkpoints, machine) */
  env?: Record<string, unknown>;
}

/** Writes the report folder (atomically: a temporary sibling, then a rename). Returns the files written. */
export async function writeReport(r: ExperimentResult, dir: string, o: ReportOptions = {}): Promise<string[]> {
  const out = resolve(dir);
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const summary = summaryTable(r);
  const t4 = table4(r);
  const csv: Record<string, aq.ColumnTable> = {
    "summary.csv": summary, "fillers.csv": fillerTable(r), "seeds.csv": seedTable(r), "spread.csv": spreadTable(r), "comparisons.csv": comparisons(r), "table4.csv": t4,
    "runs.csv": r.runs, "passkey.csv": r.passkey, "perplexity.csv": r.perplexity, "table4-examples.csv": r.table4Rows, "training.csv": r.training,
  };
  for (const [name, t] of Object.entries(csv)) await writeFileAtomic(join(tmp, name), t.toCSV());
  await writeFileAtomic(join(tmp, "tables.md"), tablesMarkdown(r));
  const env = { ...o.env, status: r.status, wall_s: Number(r.wallS.toFixed(1)), settings: r.settings };
  await writeFileAtomic(join(tmp, "env.json"), JSON.stringify(env, null, 2) + "\n");
  const plotly = createRequire(import.meta.url).resolve("plotly.js-dist-min");
  const script = o.selfContained ? "" : `<script src="${esc(relative(out, plotly).split("\\").join("/"))}"></script>\n`;
  const figs = reportFigures(r).map((f, i) => `<h3 id="${f.id}">${esc(f.title)}</h3>\n${toHtml(f.fig, { plotlyScript: o.selfContained && i === 0 ? "inline" : "none", fullPage: false, height: `${Number(f.fig.layout.height ?? 480)}px` })}`);
  const md = reportMarkdown(r);
  const mdToHtml = (m: string) => {
    const [head, , ...body] = m.split("\n");
    const cells = (l: string) => l.replace(/^\| | \|$/g, "").split(" | ");
    return `<table>\n<thead><tr>${cells(head!).map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>\n<tbody>\n${body.map((l) => `<tr>${cells(l).map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n")}\n</tbody></table>`;
  };
  const html = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ctxlab — context extension</title>
${script}<style>body{font-family:Inter,Helvetica,Arial,sans-serif;max-width:1280px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}th{background:#f3f3f3}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}</style>
</head><body>
<h1>Context extension: ${esc(r.settings.lMax)} → ${esc(r.settings.targetLength)} tokens</h1>
<p>Status: ${esc(r.status)}; wall time ${(r.wallS / 60).toFixed(1)} min. Method labels are "recipe (base)"; passkey = compact format, logit scorer, ${esc(r.settings.n)} examples per (ℓ, depth, filler) cell and model, fillers ${esc(fillersOf(r).join(", "))}; fine-tunes: seeds ${esc(((r.settings.seeds as number[] | undefined) ?? []).join(", "))}. Accuracies: % (95 % Wilson interval); perplexity: (95 % bootstrap interval over windows). Files: ${[...Object.keys(csv), "tables.md"].map((n) => `<a href="${n}">${n}</a>`).join(", ")}, <a href="env.json">env.json</a>.</p>
${o.notes ? `<div class="notes">${o.notes}</div>` : ""}
<h2>Results (fillers and seeds pooled)</h2>
${mdToHtml(md.summary)}
<h2>Per filler</h2>
${mdToHtml(md.fillers)}
<h2>Fine-tunes per seed</h2>
${mdToHtml(md.seeds)}
<h2>Differences between fine-tunes</h2>
${mdToHtml(md.comparisons)}
<h2>Table 4: effective context window after N fine-tuning steps</h2>
${mdToHtml(md.table4)}
<h2>Figures</h2>
${figs.join("\n")}
<h2>Environment</h2>
<pre>${esc(JSON.stringify(env, null, 2))}</pre>
</body></html>
`;
  await writeFileAtomic(join(tmp, "index.html"), html);
  await mkdir(dirname(out), { recursive: true });
  // a README.md the user wrote beside an earlier report (the write-up) is kept; everything else is replaced
  await copyFile(join(out, "README.md"), join(tmp, "README.md")).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  return [...Object.keys(csv), "tables.md", "env.json", "index.html"].map((f) => join(out, f));
}
