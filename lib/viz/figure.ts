/**
 * The figure type every lib/viz builder returns, the shared theme, and `toHtml`.
 *
 * A `Figure` is a plain Plotly spec `{ data, layout }`: JSON-serialisable (plain arrays, no typed
 * arrays, no functions), deterministic (no timestamps, no random ids), so it can be snapshotted,
 * sent as the `application/vnd.plotly.v1+json` MIME bundle, or embedded with `toHtml`.
 *
 * Theme: transparent paper and plot backgrounds, mid-grey text and gridlines (readable on light and
 * dark notebook themes), the Okabe–Ito colour-blind-safe palette, and the Viridis (sequential) and
 * RdBu (diverging) colorscales.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** One Plotly trace (scatter, heatmap, scatter3d, …). */
export type Trace = Record<string, unknown>;
/** A Plotly layout object. */
export type Layout = Record<string, unknown>;

/** A Plotly figure spec: what every lib/viz builder returns. */
export interface Figure {
  data: Trace[];
  layout: Layout;
}

const GREY = "#808080"; // mid-grey: contrast ≈ 3.9:1 on white and ≈ 4.5:1 on #1e1e1e
const GRID = "rgba(128,128,128,0.25)";

/** Shared look: palette, colorscales and layout/axis builders. */
export const theme = {
  /** Okabe–Ito, reordered so the first colours work on white and black; yellow last. */
  palette: ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999", "#F0E442"] as const,
  /** line dashes to tell apart series that share a colour */
  dashes: ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"] as const,
  sequential: "Viridis",
  diverging: "RdBu",
  fontColor: GREY,
  gridColor: GRID,
  font: { family: "Inter, Helvetica, Arial, sans-serif", size: 13, color: GREY },

  /** Colour of series i (cycles). */
  color(i: number): string {
    return theme.palette[i % theme.palette.length]!;
  },

  /** An axis with a title in the paper's notation. */
  axis(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { title: { text: title }, gridcolor: GRID, zerolinecolor: "rgba(128,128,128,0.5)", linecolor: GREY, color: GREY, automargin: true, ...extra };
  },

  /** The base layout: transparent backgrounds, grey text, a title, the legend right of the plot. */
  layout(title: string, extra: Layout = {}): Layout {
    return {
      title: { text: title, x: 0.02, xanchor: "left" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: theme.font,
      colorway: [...theme.palette],
      hovermode: "closest",
      // to the right of the plot, top-aligned: a legend above the plot ran into long titles
      legend: { bgcolor: "rgba(0,0,0,0)", orientation: "v", yanchor: "top", y: 1, xanchor: "left", x: 1.02 },
      margin: { l: 70, r: 30, t: 80, b: 60 },
      ...extra,
    };
  },

  /** A dashed horizontal (y = v) or vertical (x = v) marker line across the plot area. */
  marker(dir: "h" | "v", v: number, axes: { xref?: string; yref?: string } = {}): Record<string, unknown> {
    const line = { color: GREY, width: 1.5, dash: "dash" };
    const xref = axes.xref ?? "x";
    const yref = axes.yref ?? "y";
    return dir === "h"
      ? { type: "line", xref: `${xref} domain`, x0: 0, x1: 1, yref, y0: v, y1: v, line }
      : { type: "line", yref: `${yref} domain`, y0: 0, y1: 1, xref, x0: v, x1: v, line };
  },

  /** A small grey annotation (labels markers and subplot titles). */
  note(text: string, pos: Record<string, unknown>): Record<string, unknown> {
    return { text, showarrow: false, font: { color: GREY, size: 12 }, ...pos };
  },
};

/** Text shown as-is in Plotly labels/hover (Plotly reads "<…>" as markup: "<s>" would strike through). */
export function plotlyText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Axis pair of subplot k (0-based): Plotly names them x/y, x2/y2, … */
export function axisNames(k: number): { x: string; y: string; xKey: string; yKey: string } {
  const s = k === 0 ? "" : String(k + 1);
  return { x: `x${s}`, y: `y${s}`, xKey: `xaxis${s}`, yKey: `yaxis${s}` };
}

/**
 * Domains of a rows × cols grid of subplots (row 0 at the top), Plotly's make_subplots without
 * Python: layout entries xaxis{k}/yaxis{k} with anchors, and a title annotation above each cell.
 */
export function subplotGrid(
  rows: number,
  cols: number,
  titles: string[],
  axes: (r: number, c: number) => { x: Record<string, unknown>; y: Record<string, unknown> },
  gaps: { h?: number; v?: number } = {},
): Layout {
  const hgap = cols > 1 ? (gaps.h ?? Math.min(0.06, 0.3 / (cols - 1))) : 0;
  const vgap = rows > 1 ? (gaps.v ?? Math.min(0.12, 0.4 / (rows - 1))) : 0;
  const w = (1 - hgap * (cols - 1)) / cols;
  const h = (1 - vgap * (rows - 1)) / rows;
  const out: Layout = {};
  const annotations: Record<string, unknown>[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = r * cols + c;
      const n = axisNames(k);
      const x0 = c * (w + hgap);
      const y1 = 1 - r * (h + vgap);
      const a = axes(r, c);
      out[n.xKey] = { ...a.x, domain: [clamp01(x0), clamp01(x0 + w)], anchor: n.y };
      out[n.yKey] = { ...a.y, domain: [clamp01(y1 - h), clamp01(y1)], anchor: n.x };
      if (titles[k]) annotations.push(theme.note(titles[k]!, { x: x0 + w / 2, y: y1, xref: "paper", yref: "paper", xanchor: "center", yanchor: "bottom" }));
    }
  }
  out.annotations = annotations;
  return out;
}

/** Round a domain end to 1e-9 inside [0, 1] (float noise would make Plotly reject −5e−17). */
const clamp01 = (v: number) => Math.min(1, Math.max(0, Math.round(v * 1e9) / 1e9));

export interface HtmlOptions {
  /** "inline": embed plotly.js-dist-min (self-contained, ~4.8 MB); "none": assume `Plotly` is loaded */
  plotlyScript?: "inline" | "none";
  /** a whole page (default for "inline") or a <div> + <script> fragment */
  fullPage?: boolean;
  /** element id (default: derived from a hash of the figure, so output is deterministic) */
  divId?: string;
  /** CSS size of the div (defaults: 100%, or the layout's width in px; the layout's height in px, else 500px) */
  width?: string;
  height?: string;
  /** page background (full page only; default transparent) */
  background?: string;
  /** Plotly config (default: responsive, no logo) */
  config?: Record<string, unknown>;
}

let bundle: string | undefined;

/** The plotly.js-dist-min bundle's source, read once from node_modules. */
export function plotlyBundle(): string {
  if (bundle === undefined) {
    const path = createRequire(import.meta.url).resolve("plotly.js-dist-min");
    bundle = readFileSync(path, "utf8").replace(/<\/script/gi, "<\\/script");
  }
  return bundle;
}

/**
 * The paper's notation as Plotly text: `x^{…}` → superscript, `x_{…}` and a one-letter symbol's
 * short subscript (`λ_j`, `θ′_j`, `ℓ_max`, `d_e`, `W_p`) → subscript. Plotly shows text as a small
 * HTML subset, so `b·s^{d/(d−2)}` would otherwise appear literally. Identifiers (`hook_q`,
 * `GELU_tanh`, `n_positions`) are left alone.
 * @example notation("λ_j = 2π/θ′_j") // "λ<sub>j</sub> = 2π/θ′<sub>j</sub>"
 */
export function notation(s: string): string {
  return s
    .replace(/\^\{([^{}]*)\}/g, "<sup>$1</sup>")
    .replace(/_\{([^{}]*)\}/g, "<sub>$1</sub>")
    .replace(/(^|[^\p{L}_])(\p{L}′?)_(\p{L}[\p{L}\p{N}]{0,2}|\p{N}{1,2})(?![\p{L}\p{N}_])/gu, "$1$2<sub>$3</sub>");
}

/**
 * A copy of `fig` as it is shown (toHtml, the kernel's Plotly output): `notation` applied to its
 * titles, axis titles, annotations and trace names, and a legend of long entries moved below the plot.
 */
export function withNotation(fig: Figure): Figure {
  const text = (t: unknown): unknown => {
    if (typeof t === "string") return notation(t);
    if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") return { ...(t as object), text: notation((t as { text: string }).text) };
    return t;
  };
  const layout: Layout = { ...fig.layout };
  for (const [k, v] of Object.entries(layout)) {
    if (k === "title") layout[k] = text(v);
    else if (/^[xy]axis\d*$/.test(k) && v && typeof v === "object") layout[k] = { ...(v as object), title: text((v as { title?: unknown }).title) };
    else if (k === "annotations" && Array.isArray(v)) layout[k] = v.map((a: unknown) => (a && typeof a === "object" ? { ...(a as object), text: text((a as { text?: unknown }).text) } : a));
    else if (k === "legend" && v && typeof v === "object" && (v as { title?: unknown }).title !== undefined) layout[k] = { ...(v as object), title: text((v as { title?: unknown }).title) };
  }
  // Long legend entries (full encoding labels) would squeeze the plot beside them: below it instead
  const legend = layout.legend as { orientation?: string; x?: number } | undefined;
  const longest = Math.max(0, ...fig.data.map((t) => (typeof t.name === "string" && t.showlegend !== false ? t.name.length : 0)));
  if (legend?.orientation === "v" && legend.x === 1.02 && longest > LONG_LEGEND) {
    layout.legend = { ...legend, orientation: "h", x: 0, xanchor: "left", y: -0.18, yanchor: "top" };
  }
  return { ...fig, data: fig.data.map((t) => (typeof t.name === "string" ? { ...t, name: notation(t.name) } : t)), layout };
}

/** Legend entries longer than this (characters) go below the plot instead of beside it. */
const LONG_LEGEND = 28;

/** FNV-1a hash of a string, as 8 hex digits (deterministic element ids). */
export function hashString(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** JSON safe inside a <script> element: "<" escaped so no "</script>" or "<!--" can occur. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * The figure as HTML: a self-contained page with plotly.js inlined, or a fragment for a page (or
 * notebook output) that has loaded Plotly already; the fragment says so if Plotly is missing.
 * @example writeFileSync("fig.html", toHtml(ropeDecayCurve(128, 1e4, 256), { plotlyScript: "inline" }))
 */
export function toHtml(figure: Figure, opts: HtmlOptions = {}): string {
  const fig = withNotation(figure);
  const inline = (opts.plotlyScript ?? "inline") === "inline";
  const json = scriptJson(fig);
  const id = opts.divId ?? `ctxlab-plot-${hashString(json)}`;
  const config = scriptJson(opts.config ?? { responsive: true, displaylogo: false });
  // a layout with its own height (subplot grids, long bar lists) is drawn that tall: the div must be too,
  // or the page cuts the figure off (and what follows overlaps it)
  const px = (v: unknown): string | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? `${Math.round(v)}px` : undefined);
  const style = `width:${opts.width ?? px(fig.layout.width) ?? "100%"};height:${opts.height ?? px(fig.layout.height) ?? "500px"};`;
  const call =
    `(function(){var el=document.getElementById(${JSON.stringify(id)});var fig=${json};` +
    `if(typeof Plotly==="undefined"){el.textContent="Plotly is not loaded: display one figure with plotlyScript \\"inline\\" first.";return;}` +
    `Plotly.newPlot(el,fig.data,fig.layout,${config});})();`;
  const lib = inline ? `<script type="text/javascript">${plotlyBundle()}</script>\n` : "";
  const fragment = `<div id="${id}" class="ctxlab-plot" style="${style}"></div>\n<script type="text/javascript">${call}</script>`;
  if (!(opts.fullPage ?? inline)) return lib + fragment;
  const title = htmlEscape(String((fig.layout.title as { text?: string } | undefined)?.text ?? "ctxlab figure").replace(/<[^>]*>/g, ""));
  const bg = opts.background ?? "transparent";
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title>\n${lib}</head>\n<body style="margin:0;background:${bg}">\n${fragment}\n</body></html>\n`;
}

function htmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
