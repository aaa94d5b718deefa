/**
 * Passkey accuracy and perplexity against ℓ as small multiples in one row, sized to fit a notebook
 * output (500 px):
 *
 *   accuracyPanels(passkeyRows, { panels: [{ title: "zero-shot", methods: ["extrapolate (rope)", "pi (rope)"] }, …] })
 *   perplexityPanels(windowRows, { panels: … })
 *
 * One panel per group of methods (at most 6 lines each), a method drawn in every panel that lists it
 * (e.g. the unextended base as the reference in each), one colour, dash and marker per method
 * (lib/viz/methods.ts). Bars: for accuracy the 95 % Wilson interval of the examples that ran
 * (lib/eval/rollup.ts accuracyBy: rows with correct = null, i.e. not run, are skipped); for
 * perplexity the 95 % bootstrap interval over windows (perplexityByLength, on per-window rows). ℓ on
 * a log axis with the tested lengths as ticks; ℓ_max marked when given.
 */
import { InputError } from "../errors.js";
import { accuracyBy, perplexityByLength } from "../eval/rollup.js";
import { rowsOf, type TableLike } from "./curves.js";
import { axisNames, plotlyText, subplotGrid, theme, type Figure, type Trace } from "./figure.js";
import { methodLine, methodStyle } from "./methods.js";

export interface AccuracyPanelsOptions {
  /** the panels, left to right: a title and the method labels drawn in it (1–6 each) */
  panels: readonly { title: string; methods: readonly string[] }[];
  /** the length column (default "length") */
  length?: string;
  /** ℓ_max, marked in every panel */
  lMax?: number;
  title?: string;
  /** figure height in px (default 460: a notebook output is 500 px high) */
  height?: number;
}

const MAX_SERIES = 6;

type Stat = { method: string; x: number; accuracy: number | null; lo: number | null; hi: number | null; n: number };
type Row = Record<string, unknown>;

/** The rows of the panels' methods, after checking the panels (who: the caller's name for errors). */
function panelRows(who: string, table: TableLike, o: AccuracyPanelsOptions): Row[] {
  if (!o.panels.length) throw new InputError(`${who}: panels is empty; give at least one { title, methods }`);
  for (const p of o.panels) {
    if (p.methods.length < 1 || p.methods.length > MAX_SERIES) throw new InputError(`${who}: panel "${p.title}" has ${p.methods.length} methods; it must have 1 to ${MAX_SERIES}`);
  }
  const wanted = new Set(o.panels.flatMap((p) => p.methods));
  const rows = rowsOf(table).filter((r) => wanted.has(String(r.method)));
  const missing = [...wanted].filter((m) => !rows.some((r) => String(r.method) === m));
  if (missing.length) throw new InputError(`${who}: no rows for ${missing.join(", ")}`);
  return rows;
}

/** Small multiples of passkey accuracy vs ℓ (Wilson bars), one row of panels; see the header. */
export function accuracyPanels(table: TableLike, o: AccuracyPanelsOptions): Figure {
  const lengthCol = o.length ?? "length";
  const stats: Stat[] = (accuracyBy(panelRows("accuracyPanels", table, o), [lengthCol]).objects() as Row[]).map((a) => ({
    method: String(a.method), x: Number(a[lengthCol]), accuracy: a.accuracy as number | null, lo: a.lo as number | null, hi: a.hi as number | null, n: Number(a.n),
  }));
  return panelsFigure(stats, o, { yTitle: "passkey accuracy", yFmt: ".0%", title: "Passkey accuracy against ℓ (bars: 95 % Wilson interval)" });
}

/** Small multiples of perplexity vs ℓ from per-window rows (bootstrap bars, log y), one row of panels; see the header. */
export function perplexityPanels(table: TableLike, o: AccuracyPanelsOptions): Figure {
  const stats: Stat[] = (perplexityByLength(panelRows("perplexityPanels", table, o)).objects() as Row[]).map((a) => ({
    method: String(a.method), x: Number(a.length), accuracy: a.perplexity as number | null, lo: a.lo as number | null, hi: a.hi as number | null, n: Number(a.windows),
  }));
  return panelsFigure(stats, o, { yTitle: "perplexity (bytes)", yFmt: ".2f", log: true, title: "Perplexity against ℓ (bars: 95 % bootstrap interval over windows)" });
}

function panelsFigure(stats: Stat[], o: AccuracyPanelsOptions, y: { yTitle: string; yFmt: string; log?: boolean; title: string }): Figure {
  const xs = [...new Set(stats.map((s) => s.x))].sort((a, b) => a - b);
  const seen = new Set<string>();
  const data: Trace[] = o.panels.flatMap((p, k) => p.methods.map((m, j) => {
    const ax = axisNames(k);
    const dodge = 10 ** (0.014 * (j - (p.methods.length - 1) / 2)); // the bars of one panel side by side
    const pts = stats.filter((s) => s.method === m && s.accuracy !== null);
    const st = methodStyle(m);
    const tr: Trace = {
      type: "scatter", mode: "lines+markers", name: plotlyText(m), legendgroup: m, showlegend: !seen.has(m), xaxis: ax.x, yaxis: ax.y,
      x: pts.map((s) => Number((s.x * dodge).toPrecision(6))), y: pts.map((s) => s.accuracy),
      error_y: { type: "data", symmetric: false, array: pts.map((s) => (s.hi ?? s.accuracy!) - s.accuracy!), arrayminus: pts.map((s) => s.accuracy! - (s.lo ?? s.accuracy!)), visible: true, thickness: 1.2, width: 3, color: st.color },
      line: methodLine(m), marker: { color: st.color, symbol: st.symbol, size: 7 },
      customdata: pts.map((s) => [s.x, s.lo, s.hi, s.n]),
      hovertemplate: `${plotlyText(m)}<br>ℓ = %{customdata[0]}: %{y:${y.yFmt}} [%{customdata[1]:${y.yFmt}}, %{customdata[2]:${y.yFmt}}] of %{customdata[3]}<extra></extra>`,
    };
    seen.add(m);
    return tr;
  }));
  const range = xs.length ? [Math.log10(xs[0]!) - 0.1, Math.log10(xs.at(-1)!) + 0.1] : undefined;
  const grid = subplotGrid(1, o.panels.length, o.panels.map((p) => p.title), (_, c) => ({
    x: theme.axis("context length ℓ (tokens)", { type: "log", tickmode: "array", tickvals: xs, ticktext: xs.map(String), ...(range ? { range } : {}) }),
    y: theme.axis(c === 0 ? y.yTitle : "", y.log ? { type: "log" } : { range: [-0.03, 1.05], tickformat: y.yFmt }),
  }));
  const shapes = o.lMax ? o.panels.map((_, k) => theme.marker("v", o.lMax!, { xref: axisNames(k).x, yref: axisNames(k).y })) : [];
  return {
    data,
    layout: theme.layout(o.title ?? y.title, {
      ...grid, shapes, height: o.height ?? 460,
      legend: { orientation: "h", x: 0, xanchor: "left", y: -0.2, yanchor: "top", bgcolor: "rgba(0,0,0,0)" },
      margin: { l: 70, r: 30, t: 80, b: 120 },
    }),
  };
}
