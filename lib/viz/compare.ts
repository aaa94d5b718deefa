/**
 * Figures for the notebooks' comparisons: a grouped line plot of any two columns (perplexity vs ℓ
 * per method, loss vs step per run), the per-hook difference of two traces (lib/hooks/walkthrough.ts
 * `traceDiff`), and the time / memory of a forward pass against ℓ (lib/eval/cost.ts `forwardCost`)
 * with the fitted a + b·ℓ + c·ℓ² split into its linear and quadratic parts.
 */
import { InputError } from "../errors.js";
import { quadraticFit } from "../util/fit.js";
import { plotlyText, subplotGrid, theme, type Figure, type Trace } from "./figure.js";
import { meanBy, rowsOf, type TableLike } from "./curves.js";
import { groupLines, methodStyle } from "./methods.js";

type Row = Record<string, unknown>;

function need(rows: Row[], cols: (string | undefined)[], where: string): void {
  if (!rows.length) throw new InputError(`${where}: the table is empty`);
  for (const c of cols) if (c !== undefined && !(c in rows[0]!)) throw new InputError(`${where}: no column "${c}"; columns are ${Object.keys(rows[0]!).join(", ")}`);
}

function groups(rows: Row[], by: string | undefined): [string, Row[]][] {
  const m = new Map<string, Row[]>();
  for (const r of rows) {
    const k = by === undefined ? "" : String(r[by]);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(r);
  }
  return [...m.entries()];
}

export interface LinesByOptions {
  x: string;
  y: string;
  /** one line per value of this column */
  by?: string;
  logX?: boolean;
  logY?: boolean;
  xTitle?: string;
  yTitle?: string;
  title?: string;
  /** a vertical dashed line, e.g. at ℓ_max */
  vline?: { x: number; label: string };
  /** a line style per group; default: methodLine when every group is a method (lib/viz/methods.ts groupLines), else the theme's palette by order */
  style?: (group: string) => { color: string; dash?: string; width?: number };
}

/**
 * Mean of `y` per `x`, one line per `by` group (error bars: standard error when a point averages
 * several rows). Missing and non-finite values are skipped.
 * @example linesBy(ppl, { x: "length", y: "perplexity", by: "method", logY: true, vline: { x: 128, label: "ℓ_max" } })
 */
export function linesBy(table: TableLike, o: LinesByOptions): Figure {
  const rows = rowsOf(table);
  need(rows, [o.x, o.y, o.by], "linesBy");
  const gs = groups(rows, o.by);
  const lineOf = groupLines(gs.map(([g]) => g), o.style);
  const data: Trace[] = gs.map(([g, rs], i) => {
    const pts = meanBy(rs, o.x, o.y).filter((p) => Number.isFinite(p.mean));
    const line = lineOf(g, i);
    return {
      type: "scatter", mode: "lines+markers", name: o.by === undefined ? o.y : plotlyText(g),
      x: pts.map((p) => p.x), y: pts.map((p) => p.mean),
      error_y: { type: "data", array: pts.map((p) => p.se), visible: pts.some((p) => p.n > 1), thickness: 1, width: 3 },
      line,
      marker: { color: line.color },
      hovertemplate: `${o.x} = %{x}<br>${o.y} = %{y:.4g}<extra>${plotlyText(g)}</extra>`,
    };
  });
  const shapes = o.vline ? [{ type: "line", xref: "x", yref: "paper", x0: o.vline.x, x1: o.vline.x, y0: 0, y1: 1, line: { color: theme.fontColor, dash: "dash", width: 1 } }] : [];
  const annotations = o.vline ? [{ xref: "x", yref: "paper", x: o.vline.x, y: 1, text: o.vline.label, showarrow: false, yanchor: "bottom", font: { color: theme.fontColor } }] : [];
  // many series: the legend goes below the plot, where it cannot cover the title or the ℓ_max label
  const below = data.length > 4 ? { legend: { bgcolor: "rgba(0,0,0,0)", orientation: "h", yanchor: "top", y: -0.2, xanchor: "left", x: 0 }, height: 520 } : {};
  return {
    data,
    layout: theme.layout(o.title ?? `${o.y} vs ${o.x}`, {
      ...below,
      xaxis: theme.axis(o.xTitle ?? o.x, o.logX ? { type: "log" } : {}),
      yaxis: theme.axis(o.yTitle ?? o.y, o.logY ? { type: "log" } : {}),
      shapes, annotations,
    }),
  };
}

/**
 * Relative difference ‖a − b‖/‖a‖ per hook of two traces (a `traceDiff` table), as horizontal bars
 * on a log axis, in the order of the forward pass, every hook labelled. A log axis has no zero, so
 * an exactly equal hook gets no bar: a marker "= 0" at the axis' left edge says so. Hooks with a
 * non-finite value in either trace are a second, differently coloured bar series.
 */
export function traceDiffBars(table: TableLike, o: { title?: string } = {}): Figure {
  const rows = rowsOf(table);
  need(rows, ["hook", "rel_diff"], "traceDiffBars");
  const labels = rows.map((r) => `${String(r.hook)} (line ${String(r.line ?? "")})`);
  const rel = rows.map((r) => Number(r.rel_diff));
  const bad = rows.map((r) => Number(r.non_finite_b) > 0 || Number(r.non_finite_a) > 0);
  const positive = rel.filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.floor(Math.log10(positive.length ? Math.min(...positive) : 1e-8)) - 1; // one decade of room for the "= 0" markers
  const hi = Math.ceil(Math.log10(positive.length ? Math.max(...positive) : 1)) + 0.3;
  const custom = rows.map((r) => [Number(r.max_abs_diff), String(r.symbol ?? "")]);
  const bars = (name: string, color: string, pick: (i: number) => boolean): Trace => ({
    type: "bar", orientation: "h", name, marker: { color },
    x: rel.map((v, i) => (pick(i) && v > 0 ? v : null)), y: labels, customdata: custom,
    hovertemplate: "%{y}<br>%{customdata[1]}<br>‖a − b‖/‖a‖ = %{x:.3g}<br>max |a − b| = %{customdata[0]:.3g}<extra></extra>",
  });
  const zeros = rel.map((v, i) => (v === 0 && !bad[i] ? i : -1)).filter((i) => i >= 0);
  const data: Trace[] = [bars("‖a − b‖ / ‖a‖", theme.palette[0]!, (i) => !bad[i])];
  if (bad.some(Boolean)) data.push(bars("a NaN or ±∞ in either trace", theme.palette[3]!, (i) => bad[i]!));
  if (zeros.length) {
    data.push({
      type: "scatter", mode: "markers+text", name: "exactly 0 (identical values)", x: zeros.map(() => 10 ** (lo + 0.15)), y: zeros.map((i) => labels[i]!),
      text: zeros.map(() => "= 0"), textposition: "middle right", textfont: { color: theme.fontColor, size: 10 },
      marker: { symbol: "line-ns-open", size: 12, color: theme.fontColor }, hovertemplate: "%{y}<br>a and b are identical (‖a − b‖ = 0)<extra></extra>",
    });
  }
  return {
    data,
    layout: theme.layout(o.title ?? "Relative difference per line of Algorithm 10", {
      barmode: "overlay",
      xaxis: theme.axis("‖a − b‖ / ‖a‖", { type: "log", exponentformat: "power", range: [lo, hi] }),
      // every hook gets its label (Plotly thins crowded category ticks otherwise)
      yaxis: theme.axis("", { autorange: "reversed", tickfont: { size: 10 }, type: "category", categoryorder: "array", categoryarray: labels, tickmode: "array", tickvals: labels, ticktext: labels, automargin: true }),
      height: Math.max(400, 20 * rows.length + 160),
      margin: { l: 10, r: 20, t: 60, b: 50 },
      legend: { bgcolor: "rgba(0,0,0,0)", orientation: "h", yanchor: "bottom", y: 1.0, xanchor: "left", x: 0 },
      showlegend: data.length > 1,
    }),
  };
}

export interface CostOptions {
  /** one line per value of this column (default "method") */
  by?: string;
  title?: string;
}

/**
 * Two panels from a `forwardCost` table. Left: measured time per forward vs ℓ (points) with the
 * least-squares a + b·ℓ + c·ℓ² of the first group, drawn whole and as its linear (a + b·ℓ) and
 * quadratic (c·ℓ²) parts. Right: measured peak bytes vs ℓ, the estimate, and one layer's attention
 * scores S and pattern softmax(S), 2·B·H·ℓ²·4 bytes — the quadratic term. Log–log axes, so ℓ² is a
 * line of slope 2. Every legend entry has its own look (colour, dash, marker), and the legend is
 * grouped by panel.
 */
export function costVsLength(table: TableLike, o: CostOptions = {}): Figure {
  const rows = rowsOf(table);
  const by = o.by ?? "method";
  need(rows, ["length", "ms", "peak_bytes", "score_bytes", by], "costVsLength");
  const data: Trace[] = [];
  const MiB = 2 ** 20;
  const time = { legendgroup: "time", legendgrouptitle: { text: "left: time" }, xaxis: "x", yaxis: "y" };
  const mem = { legendgroup: "memory", legendgrouptitle: { text: "right: memory" }, xaxis: "x2", yaxis: "y2" };
  const gs = groups(rows, by);
  gs.forEach(([g, rs], i) => {
    const pts = [...rs].sort((a, b) => Number(a.length) - Number(b.length));
    const ls = pts.map((r) => Number(r.length));
    const color = theme.color(i);
    const symbol = ["circle", "square", "diamond", "triangle-up"][i % 4];
    data.push({ type: "scatter", mode: "markers", name: `${plotlyText(g)}: measured time`, x: ls, y: pts.map((r) => Number(r.ms)), marker: { color, size: 8, symbol }, ...time, hovertemplate: "ℓ = %{x}<br>%{y:.1f} ms<extra></extra>" });
    data.push({ type: "scatter", mode: "lines+markers", name: `${plotlyText(g)}: measured peak`, x: ls, y: pts.map((r) => Number(r.peak_bytes) / MiB), line: { color, width: 2 }, marker: { color, symbol }, ...mem, hovertemplate: "ℓ = %{x}<br>%{y:.1f} MiB<extra></extra>" });
    if ("estimate_bytes" in pts[0]!) {
      data.push({ type: "scatter", mode: "lines", name: `${plotlyText(g)}: estimate (forwardMemory)`, x: ls, y: pts.map((r) => Number(r.estimate_bytes) / MiB), line: { color, dash: "dot", width: 1.5 }, ...mem, hovertemplate: "ℓ = %{x}<br>estimate %{y:.1f} MiB<extra></extra>" });
    }
    if (i > 0) return;
    data.push({ type: "scatter", mode: "lines", name: "S and softmax(S) of one layer, 2·B·H·ℓ²·4 B", x: ls, y: pts.map((r) => Number(r.score_bytes) / MiB), line: { color: theme.palette[4], dash: "longdash", width: 1.5 }, ...mem, hovertemplate: "ℓ = %{x}<br>%{y:.2f} MiB<extra></extra>" });
    if (new Set(ls).size < 3) return;
    const f = quadraticFit(ls, pts.map((r) => Number(r.ms)));
    const grid = Array.from({ length: 60 }, (_, k) => Math.exp(Math.log(ls[0]!) + ((Math.log(ls[ls.length - 1]!) - Math.log(ls[0]!)) * k) / 59));
    const part = (name: string, fn: (l: number) => number, dash: string, c: string) =>
      data.push({ type: "scatter", mode: "lines", name, x: grid, y: grid.map(fn), line: { color: c, dash, width: 1.5 }, ...time, hoverinfo: "skip" });
    part(`fit ${f.a.toPrecision(3)} + ${f.b.toExponential(2)}·ℓ + ${f.c.toExponential(2)}·ℓ² ms`, (l) => f.a + f.b * l + f.c * l * l, "solid", theme.palette[6]);
    part("its linear part a + b·ℓ", (l) => f.a + f.b * l, "dot", theme.palette[2]);
    part("its quadratic part c·ℓ²", (l) => f.c * l * l, "dash", theme.palette[3]);
  });
  const layout = theme.layout(o.title ?? "One forward pass vs context length ℓ", {
    ...subplotGrid(1, 2, ["time per forward (ms)", "memory (MiB)"], (_r, c) => ({
      x: theme.axis("ℓ", { type: "log" }),
      y: theme.axis(c === 0 ? "ms" : "MiB", { type: "log", exponentformat: "power" }),
    }), { h: 0.1 }),
    height: 720,
    margin: { l: 70, r: 30, t: 80, b: 250 },
    legend: { bgcolor: "rgba(0,0,0,0)", orientation: "h", yanchor: "top", y: -0.17, xanchor: "left", x: 0, groupclick: "toggleitem" },
  });
  return { data, layout };
}

export interface AccuracyPerplexityOptions {
  /** the context length ℓ whose columns acc_ℓ, ppl_ℓ (and their _lo, _hi) are drawn */
  length: number;
  /** which methods, in this order (default: every row); at most 6 — one panel stays readable */
  methods?: readonly string[];
  title?: string;
}

const finite = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * Passkey accuracy against perplexity at one ℓ, one point per method, from a summary table (one row
 * per method with acc_ℓ, acc_ℓ_lo, acc_ℓ_hi, ppl_ℓ, ppl_ℓ_lo, ppl_ℓ_hi: lib/extend's summaryTable).
 * Bars are the table's intervals (there: 95 % Wilson for accuracy, 95 % bootstrap over windows for
 * perplexity); colour and marker per method (methodStyle). A method without both numbers at ℓ
 * (e.g. a learned W_p past ℓ_max) is left out and named in the subtitle. Perplexity is log-scaled.
 * @example accuracyVsPerplexity(summaryTable(readReport(dir)), { length: 512 })
 */
export function accuracyVsPerplexity(table: TableLike, o: AccuracyPerplexityOptions): Figure {
  const rows = rowsOf(table);
  const [a, p] = [`acc_${o.length}`, `ppl_${o.length}`];
  need(rows, ["method", a, p], "accuracyVsPerplexity");
  const names = o.methods ?? rows.map((r) => String(r.method));
  if (names.length > 6) throw new InputError(`accuracyVsPerplexity: ${names.length} methods in one panel; pass methods with at most 6 (one figure per group)`);
  const missing: string[] = [];
  const data: Trace[] = [];
  for (const m of names) {
    const r = rows.find((x) => x.method === m);
    if (!r) throw new InputError(`accuracyVsPerplexity: no row for method "${m}"; methods are ${rows.map((x) => x.method).join(", ")}`);
    const [y, x] = [finite(r[a]), finite(r[p])];
    if (y === null || x === null) {
      missing.push(m);
      continue;
    }
    const [ylo, yhi, xlo, xhi] = [finite(r[`${a}_lo`]) ?? y, finite(r[`${a}_hi`]) ?? y, finite(r[`${p}_lo`]) ?? x, finite(r[`${p}_hi`]) ?? x];
    const st = methodStyle(m);
    data.push({
      type: "scatter", mode: "markers", name: plotlyText(m), x: [x], y: [y],
      marker: { color: st.color, symbol: st.symbol, size: 12 },
      error_y: { type: "data", symmetric: false, array: [yhi - y], arrayminus: [y - ylo], visible: true, thickness: 1.5, width: 4, color: st.color },
      error_x: { type: "data", symmetric: false, array: [xhi - x], arrayminus: [x - xlo], visible: true, thickness: 1.5, width: 4, color: st.color },
      hovertemplate: `${plotlyText(m)}<br>perplexity %{x:.2f} (${xlo.toFixed(2)}–${xhi.toFixed(2)})<br>accuracy %{y:.0%} (${Math.round(100 * ylo)}–${Math.round(100 * yhi)} %)<extra></extra>`,
    });
  }
  const note = missing.length ? ` — no value at ℓ = ${o.length}: ${missing.map(plotlyText).join(", ")}` : "";
  return {
    data,
    layout: theme.layout(o.title ?? `Passkey accuracy against perplexity at ℓ = ${o.length}${note}`, {
      xaxis: theme.axis(`perplexity at ℓ = ${o.length} (log scale)`, { type: "log" }),
      yaxis: theme.axis(`passkey accuracy at ℓ = ${o.length}`, { range: [-0.03, 1.05] }),
    }),
  };
}

