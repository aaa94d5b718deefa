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
import { groupLines } from "./methods.js";

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
 * on a log axis, in the order of the forward pass. Exactly equal activations show as 10⁻¹² bars.
 */
export function traceDiffBars(table: TableLike, o: { title?: string } = {}): Figure {
  const rows = rowsOf(table);
  need(rows, ["hook", "rel_diff"], "traceDiffBars");
  const floor = 1e-12;
  const y = rows.map((r) => `${String(r.hook)} (line ${String(r.line ?? "")})`);
  const x = rows.map((r) => Math.max(floor, Number(r.rel_diff)));
  return {
    data: [{
      type: "bar", orientation: "h", x, y, marker: { color: rows.map((r) => (Number(r.non_finite_b) > 0 || Number(r.non_finite_a) > 0 ? theme.palette[3] : theme.palette[0])) },
      customdata: rows.map((r) => [Number(r.max_abs_diff), String(r.symbol ?? "")]),
      hovertemplate: "%{y}<br>%{customdata[1]}<br>‖a − b‖/‖a‖ = %{x:.3g}<br>max |a − b| = %{customdata[0]:.3g}<extra></extra>",
    }],
    layout: theme.layout(o.title ?? "Relative difference per line of Algorithm 10", {
      xaxis: theme.axis("‖a − b‖ / ‖a‖", { type: "log", exponentformat: "power" }),
      yaxis: theme.axis("", { autorange: "reversed", tickfont: { size: 10 } }),
      height: Math.max(400, 18 * rows.length + 120),
      margin: { l: 10, r: 20, t: 60, b: 50 },
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
 * scores 2·B·H·ℓ²·4 — the quadratic term. Log–log axes, so ℓ² is a line of slope 2.
 */
export function costVsLength(table: TableLike, o: CostOptions = {}): Figure {
  const rows = rowsOf(table);
  const by = o.by ?? "method";
  need(rows, ["length", "ms", "peak_bytes", "score_bytes", by], "costVsLength");
  const data: Trace[] = [];
  const MiB = 2 ** 20;
  const gs = groups(rows, by);
  gs.forEach(([g, rs], i) => {
    const pts = [...rs].sort((a, b) => Number(a.length) - Number(b.length));
    const ls = pts.map((r) => Number(r.length));
    const color = theme.color(i);
    data.push({ type: "scatter", mode: "markers", name: `${plotlyText(g)}: time`, x: ls, y: pts.map((r) => Number(r.ms)), marker: { color, size: 8 }, xaxis: "x", yaxis: "y", hovertemplate: "ℓ = %{x}<br>%{y:.1f} ms<extra></extra>" });
    data.push({ type: "scatter", mode: "lines+markers", name: `${plotlyText(g)}: peak memory`, x: ls, y: pts.map((r) => Number(r.peak_bytes) / MiB), line: { color, width: 2 }, xaxis: "x2", yaxis: "y2", hovertemplate: "ℓ = %{x}<br>%{y:.1f} MiB<extra></extra>" });
    if (i === 0 && "estimate_bytes" in pts[0]!) {
      data.push({ type: "scatter", mode: "lines", name: `${plotlyText(g)}: estimate`, x: ls, y: pts.map((r) => Number(r.estimate_bytes) / MiB), line: { color, dash: "dot", width: 1.5 }, xaxis: "x2", yaxis: "y2", hovertemplate: "ℓ = %{x}<br>estimate %{y:.1f} MiB<extra></extra>" });
    }
    if (i === 0) {
      data.push({ type: "scatter", mode: "lines", name: "attention scores 2·B·H·ℓ²·4 B (one layer)", x: ls, y: pts.map((r) => Number(r.score_bytes) / MiB), line: { color: theme.palette[3], dash: "dash", width: 1.5 }, xaxis: "x2", yaxis: "y2", hovertemplate: "ℓ = %{x}<br>%{y:.2f} MiB<extra></extra>" });
      if (new Set(ls).size >= 3) {
        const f = quadraticFit(ls, pts.map((r) => Number(r.ms)));
        const grid = Array.from({ length: 60 }, (_, k) => Math.exp(Math.log(ls[0]!) + ((Math.log(ls[ls.length - 1]!) - Math.log(ls[0]!)) * k) / 59));
        const part = (name: string, fn: (l: number) => number, dash: string, c: string) =>
          data.push({ type: "scatter", mode: "lines", name, x: grid, y: grid.map(fn), line: { color: c, dash, width: 1.5 }, xaxis: "x", yaxis: "y", hoverinfo: "skip" });
        part(`fit ${f.a.toFixed(2)} + ${f.b.toExponential(2)}·ℓ + ${f.c.toExponential(2)}·ℓ² ms`, (l) => f.a + f.b * l + f.c * l * l, "solid", theme.palette[6]);
        part("linear part a + b·ℓ", (l) => f.a + f.b * l, "dot", theme.palette[2]);
        part("quadratic part c·ℓ²", (l) => f.c * l * l, "dash", theme.palette[3]);
      }
    }
  });
  const layout = theme.layout(o.title ?? "One forward pass vs context length ℓ", {
    ...subplotGrid(1, 2, ["time per forward (ms)", "memory (MiB)"], (_r, c) => ({
      x: theme.axis("ℓ", { type: "log" }),
      y: theme.axis(c === 0 ? "ms" : "MiB", { type: "log", exponentformat: "power" }),
    }), { h: 0.1 }),
    height: 520,
    legend: { bgcolor: "rgba(0,0,0,0)", orientation: "h", yanchor: "top", y: -0.18, xanchor: "left", x: 0 },
  });
  return { data, layout };
}
