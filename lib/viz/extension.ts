/**
 * Figures that tie the rotary spectra to what a trained model does past ℓ_max (notebook 03):
 *
 *   scoreZoom          PI Fig. 2 as the paper zooms it: |a(s)| on a log axis (inside [0, L] the
 *                      fitted score stays ≲ 1, past L it explodes) and a(x) between integer x
 *   offsetMass         A[m, m − k] per query m of one head (k = 1: the previous-token head)
 *   strongestOffsetHead  the head with the largest mean offset-k mass below a position
 *   positionBins       per-position values binned, averaged per unit (window) and then over units:
 *                      mean ± 1.96·sd/√n over the n units (a normal 95 % interval)
 *   positionCurve      those bins as lines with shaded 95 % bands, one colour per method
 *   styleByMethod      recolour a figure's traces by lib/viz/methods.ts (one colour per method)
 */
import { InputError } from "../errors.js";
import { Z95 } from "../eval/intervals.js";
import type { ActivationCache } from "../hooks/cache.js";
import { patternLayers, readPattern } from "./attention.js";
import { rowsOf, type TableLike } from "./curves.js";
import { axisNames, plotlyText, subplotGrid, theme, type Figure, type Trace } from "./figure.js";
import { methodStyle } from "./methods.js";
import { fitScoreCoefficients, rotaryScoreCurve, type ExtrapolationOptions } from "./relative.js";
import { downsample, range } from "./sample.js";
import { ropeTheta } from "./spectra.js";

export interface ScoreZoomOptions extends ExtrapolationOptions {
  /** the right panel shows x ∈ [0, zoom] on a fine grid (default 8) */
  zoom?: number;
}

/**
 * PI Fig. 2 zoomed where its prose points. Left: |a(s)| for s = 0…L′ on a log axis, extrapolated
 * (a(s)) and interpolated (a(s·L/L′)), with |a| = 1 and s = L marked. Right: a(x) on a fine grid
 * x ∈ [0, zoom] with the positions PI actually uses (multiples of L/L′) as dots: between integers the
 * fitted function is smooth, so interpolated positions get scores like those of their neighbours.
 * Colours: extrapolation is RoPE's, interpolation PI's (lib/viz/methods.ts).
 */
export function scoreZoom(opts: ScoreZoomOptions = {}): Figure {
  const d = opts.d ?? 128;
  const L = opts.originalLength ?? 2048;
  const Lp = opts.extendedLength ?? 2 * L;
  const zoom = opts.zoom ?? 8;
  if (!(zoom > 0 && zoom <= L)) throw new InputError(`scoreZoom: zoom=${zoom} must be in (0, L=${L}]`);
  const theta = opts.invFreq ?? ropeTheta(d, opts.base ?? 10000);
  const h = opts.h ?? fitScoreCoefficients(theta, L, { seed: opts.seed ?? 0, ridge: opts.ridge }).h;
  const s = range(Lp + 1);
  const abs = (a: Float64Array) => Array.from(a, (v) => Math.max(Math.abs(v), 1e-6));
  const [ex, pi] = [methodStyle("extrapolate (rope)").color, methodStyle("pi (rope)").color];
  const magnitude = (y: number[], name: string, color: string): Trace => {
    const ds = downsample(s, y, { method: "minmax" });
    return { type: "scatter", mode: "lines", name, x: ds.x, y: ds.y, xaxis: "x", yaxis: "y", line: { color, width: 1.2 }, hovertemplate: `s = %{x}<br>|a| = %{y:.4g}<extra>${name}</extra>` };
  };
  const fine = range(Math.round(zoom * 100) + 1).map((i) => i / 100);
  const used = range(Math.floor((zoom * Lp) / L) + 1).map((i) => (i * L) / Lp);
  const ax = axisNames(1);
  const data: Trace[] = [
    magnitude(abs(rotaryScoreCurve(h, theta, s)), "extrapolation |a(s)|", ex),
    magnitude(abs(rotaryScoreCurve(h, theta, s.map((x) => (x * L) / Lp))), "interpolation |a(s·L/L′)|", pi),
    { type: "scatter", mode: "lines", name: "a(x), x continuous", x: fine, y: Array.from(rotaryScoreCurve(h, theta, fine)), xaxis: ax.x, yaxis: ax.y, line: { color: theme.fontColor, width: 1.2 }, hovertemplate: "x = %{x}<br>a = %{y:.4g}<extra></extra>" },
    { type: "scatter", mode: "markers", name: `positions PI uses (step L/L′ = ${L}/${Lp})`, x: used, y: Array.from(rotaryScoreCurve(h, theta, used)), xaxis: ax.x, yaxis: ax.y, marker: { color: pi, size: 7 }, hovertemplate: "x = %{x}<br>a = %{y:.4g}<extra></extra>" },
  ];
  const grid = subplotGrid(1, 2, [`|a(s)| over [0, L′], log axis`, `a(x) between integer positions, x ∈ [0, ${zoom}]`], (_, c) => ({
    x: theme.axis(c === 0 ? "relative distance s = m − n" : "relative distance x (fine grid)", c === 1 ? { dtick: 1 } : {}),
    y: theme.axis(c === 0 ? "|attention score| (log)" : "attention score a(x)", c === 0 ? { type: "log", exponentformat: "power" } : {}),
  }), { h: 0.1 });
  return {
    data,
    layout: theme.layout(opts.title ?? `PI Fig. 2 zoomed: d = ${d}, L = ${L}, L′ = ${Lp}`, {
      ...grid,
      shapes: [theme.marker("v", L), theme.marker("h", 1)],
      annotations: [...(grid.annotations as unknown[]), theme.note(`L = ${L}`, { xref: "x", x: L, yref: "y domain", y: 0.98, xanchor: "right" }), theme.note("|a| = 1", { xref: "x domain", x: 0.01, xanchor: "left", yref: "y", y: 0, yanchor: "bottom" })],
      legend: { bgcolor: "rgba(0,0,0,0)", orientation: "h", yanchor: "top", y: -0.2, xanchor: "left", x: 0 },
      height: 480,
    }),
  };
}

/**
 * A[m, m − offset] for every query m of one head that has a key `offset` back: the attention mass on
 * the token `offset` positions earlier. Positions are absolute (the trace's `start` plus the row).
 */
export function offsetMass(cache: ActivationCache, o: { layer: number; head: number; offset?: number; batch?: number; start?: number }): { position: number[]; mass: number[] } {
  const k = o.offset ?? 1;
  if (!Number.isSafeInteger(k) || k < 0) throw new InputError(`offsetMass: offset=${k} must be an integer ≥ 0`);
  const p = readPattern(cache, o.layer, o.head, o.batch ?? 0);
  const shift = p.nk - p.nq;
  const position: number[] = [];
  const mass: number[] = [];
  for (let m = 0; m < p.nq; m++) {
    const key = shift + m - k;
    if (key < 0) continue;
    position.push((o.start ?? 0) + shift + m);
    mass.push(p.rows[m]![key]!);
  }
  return { position, mass };
}

/** The (layer, head) whose mean offset-k mass over queries at positions < `below` (default all) is largest. */
export function strongestOffsetHead(cache: ActivationCache, o: { offset?: number; below?: number } = {}): { layer: number; head: number; mass: number } {
  let best = { layer: -1, head: -1, mass: -Infinity };
  for (const layer of patternLayers(cache)) {
    const H = cache.get(`blocks.${layer}.attn.hook_pattern`).shape[1]!;
    for (let head = 0; head < H; head++) {
      const r = offsetMass(cache, { layer, head, offset: o.offset ?? 1 });
      const vs = r.mass.filter((_, i) => o.below === undefined || r.position[i]! < o.below);
      if (!vs.length) throw new InputError(`strongestOffsetHead: no query below position ${o.below}`);
      const mean = vs.reduce((s, v) => s + v, 0) / vs.length;
      if (mean > best.mass) best = { layer, head, mass: mean };
    }
  }
  return best;
}

export interface PositionBinOptions {
  /** the value column */
  y: string;
  /** position column (default "position") */
  x?: string;
  /** one curve per value of this column (default "method") */
  by?: string;
  /** the column naming the independent unit (default "window"): bins average within a unit first */
  unit?: string;
  /** bin width in positions (default 32); bin b holds positions [b·bin, (b+1)·bin) */
  bin?: number;
}

export interface PositionBin {
  group: string;
  /** the bin's first position and its centre */
  from: number;
  x: number;
  mean: number;
  /** 95 % interval: mean ± 1.96·sd/√n over the n units' bin means (null when n < 2) */
  lo: number | null;
  hi: number | null;
  n: number;
}

/** Per group and bin: each unit's mean, then the mean over units ± 1.96·sd/√n (n units). Non-finite values are skipped. */
export function positionBins(table: TableLike, o: PositionBinOptions): PositionBin[] {
  const rows = rowsOf(table);
  const [x, by, unit, bin] = [o.x ?? "position", o.by ?? "method", o.unit ?? "window", o.bin ?? 32];
  if (!Number.isSafeInteger(bin) || bin < 1) throw new InputError(`positionBins: bin=${bin} must be an integer ≥ 1`);
  if (rows.length) for (const c of [x, by, unit, o.y]) if (!(c in rows[0]!)) throw new InputError(`positionBins: no column "${c}"; columns are ${Object.keys(rows[0]!).join(", ")}`);
  const acc = new Map<string, Map<number, Map<string, [number, number]>>>();
  for (const r of rows) {
    const [pos, v] = [Number(r[x]), Number(r[o.y])];
    if (!Number.isFinite(pos) || !Number.isFinite(v) || r[o.y] === null) continue;
    const g = String(r[by]);
    const b = Math.floor(pos / bin);
    const gm = acc.get(g) ?? acc.set(g, new Map()).get(g)!;
    const bm = gm.get(b) ?? gm.set(b, new Map()).get(b)!;
    const u = bm.get(String(r[unit])) ?? [0, 0];
    bm.set(String(r[unit]), [u[0] + v, u[1] + 1]);
  }
  const out: PositionBin[] = [];
  for (const [group, gm] of acc) {
    for (const b of [...gm.keys()].sort((p, q) => p - q)) {
      const means = [...gm.get(b)!.values()].map(([s, c]) => s / c);
      const n = means.length;
      const mean = means.reduce((s, v) => s + v, 0) / n;
      const half = n > 1 ? (Z95 * Math.sqrt(means.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1))) / Math.sqrt(n) : null;
      out.push({ group, from: b * bin, x: b * bin + (bin - 1) / 2, mean, lo: half === null ? null : mean - half, hi: half === null ? null : mean + half, n });
    }
  }
  return out;
}

export interface PositionCurveOptions extends PositionBinOptions {
  /** vertical markers, e.g. [{ x: 128, label: "ℓ_max" }] */
  marks?: readonly { x: number; label: string }[];
  /** a horizontal reference line, e.g. chance */
  hline?: { y: number; label: string };
  logY?: boolean;
  xTitle?: string;
  yTitle?: string;
  title?: string;
  /** a line style per group (default methodStyle: one colour per method) */
  style?: (group: string) => { color: string; dash?: string; width?: number };
}

/** An "rgba" of a "#rrggbb" colour. */
function alpha(hex: string, a: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  return m ? `rgba(${parseInt(m[1]!, 16)},${parseInt(m[2]!, 16)},${parseInt(m[3]!, 16)},${a})` : hex;
}

/**
 * positionBins as one line per group with a shaded 95 % band (mean ± 1.96·sd/√n over the units,
 * the legend says n), markers at ℓ_max and the like.
 * @example positionCurve(rows, { y: "loss", bin: 32, marks: [{ x: 128, label: "ℓ_max" }] })
 */
export function positionCurve(table: TableLike, o: PositionCurveOptions): Figure {
  const bins = positionBins(table, o);
  if (!bins.length) throw new InputError("positionCurve: no finite values to draw");
  const style = o.style ?? ((g: string) => { const s = methodStyle(g); return { color: s.color, dash: s.dash, width: 2 }; });
  const data: Trace[] = [];
  for (const group of [...new Set(bins.map((b) => b.group))]) {
    const bs = bins.filter((b) => b.group === group);
    const line = { width: 2, ...style(group) };
    const n = Math.min(...bs.map((b) => b.n));
    const band = bs.filter((b) => b.lo !== null);
    if (band.length) {
      const lo = band.map((b) => (o.logY ? Math.max(b.lo!, 1e-9) : b.lo!));
      data.push({
        type: "scatter", mode: "lines", x: [...band.map((b) => b.x), ...band.map((b) => b.x).reverse()], y: [...lo, ...band.map((b) => b.hi!).reverse()],
        fill: "toself", fillcolor: alpha(line.color, 0.18), line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: group,
      });
    }
    data.push({
      type: "scatter", mode: "lines", name: `${plotlyText(group)} (n = ${n})`, legendgroup: group, x: bs.map((b) => b.x), y: bs.map((b) => b.mean), line,
      customdata: bs.map((b) => [b.from, b.from + (o.bin ?? 32) - 1, b.lo ?? NaN, b.hi ?? NaN]),
      hovertemplate: `positions %{customdata[0]}–%{customdata[1]}<br>${o.y} = %{y:.4g} [%{customdata[2]:.3g}, %{customdata[3]:.3g}]<extra>${plotlyText(group)}</extra>`,
    });
  }
  const marks = o.marks ?? [];
  const shapes = [...marks.map((m) => theme.marker("v", m.x)), ...(o.hline ? [theme.marker("h", o.hline.y)] : [])];
  const annotations = [
    ...marks.map((m) => theme.note(m.label, { xref: "x", x: m.x, yref: "y domain", y: 1, xanchor: "left", yanchor: "bottom" })),
    ...(o.hline ? [theme.note(o.hline.label, { xref: "x domain", x: 0.99, xanchor: "right", yref: "y", y: o.logY ? Math.log10(o.hline.y) : o.hline.y, yanchor: "bottom" })] : []),
  ];
  return {
    data,
    layout: theme.layout(o.title ?? `${o.y} vs position (bins of ${o.bin ?? 32}; bands: 95 % over ${o.unit ?? "window"}s)`, {
      xaxis: theme.axis(o.xTitle ?? "position in the window"),
      yaxis: theme.axis(o.yTitle ?? o.y, o.logY ? { type: "log" } : {}),
      shapes, annotations,
      legend: { bgcolor: "rgba(0,0,0,0)", orientation: "h", yanchor: "top", y: -0.18, xanchor: "left", x: 0 },
      height: 520,
    }),
  };
}

/**
 * The figure with each trace's line and marker coloured by methodStyle(label), where `label` maps a
 * trace name to a method label ("pi (rope)", …; default: the name itself). Returns a new figure.
 * @example styleByMethod(rotarySpectra(spectra, o), (name) => ({ "PI ×4": "pi (rope)" })[name] ?? name)
 */
export function styleByMethod(fig: Figure, label: (traceName: string) => string = (n) => n): Figure {
  const data = fig.data.map((t) => {
    const name = typeof t.name === "string" ? t.name : "";
    if (!name) return t;
    const s = methodStyle(label(name));
    const line = (t.line ?? {}) as Record<string, unknown>;
    const marker = (t.marker ?? {}) as Record<string, unknown>;
    return { ...t, line: { ...line, color: s.color, dash: s.dash }, marker: { ...marker, color: s.color } };
  });
  return { ...fig, data };
}

/**
 * The figure with a dashed horizontal reference line at y (e.g. chance) labelled at the right end of
 * the first x axis. Returns a new figure; the input's shapes and annotations are kept.
 * @example withReferenceLine(linesBy(t, o), { y: 5 * Math.log(0.1), label: "chance: 5·ln(1/10)" })
 */
export function withReferenceLine(fig: Figure, o: { y: number; label: string; logY?: boolean }): Figure {
  if (!Number.isFinite(o.y)) throw new InputError(`withReferenceLine: y=${o.y} must be a finite number`);
  const shapes = [...((fig.layout.shapes as unknown[] | undefined) ?? []), theme.marker("h", o.y)];
  const note = theme.note(o.label, { xref: "x domain", x: 0.99, xanchor: "right", yref: "y", y: o.logY ? Math.log10(o.y) : o.y, yanchor: "bottom" });
  const annotations = [...((fig.layout.annotations as unknown[] | undefined) ?? []), note];
  return { data: fig.data, layout: { ...fig.layout, shapes, annotations } };
}
