/**
 * Experiment curves from arquero tables (or plain row arrays): training loss, accuracy against
 * context length and against needle depth (passkey / lost-in-the-middle sweeps), and the
 * depth × length accuracy heatmap. Rows are read with `table.objects()`; means and standard
 * errors are computed here, so any table with the named columns works.
 */
import type { ColumnTable } from "arquero";
import { InputError } from "../errors.js";
import { axisNames, plotlyText, subplotGrid, theme, type Figure, type Trace } from "./figure.js";
import { wilson } from "../eval/intervals.js";
import { downsample, strideNote } from "./sample.js";
import { groupLines } from "./methods.js";

/** An arquero table or an array of row objects. */
export type TableLike = ColumnTable | readonly Record<string, unknown>[];

type Row = Record<string, unknown>;

/** The rows of a table as plain objects. */
export function rowsOf(table: TableLike): Row[] {
  return Array.isArray(table) ? [...(table as Row[])] : ((table as ColumnTable).objects() as Row[]);
}

function need(rows: Row[], cols: (string | undefined)[], where: string): void {
  if (!rows.length) return;
  for (const c of cols) if (c !== undefined && !(c in rows[0]!)) throw new InputError(`${where}: no column "${c}"; columns are ${Object.keys(rows[0]!).join(", ")}`);
}

const num = (v: unknown): number => (typeof v === "boolean" ? Number(v) : v === null || v === undefined || v === "" ? NaN : Number(v));

/** Group keys in first-seen order (stable, deterministic). */
function groups(rows: Row[], by: string | undefined): [string, Row[]][] {
  const m = new Map<string, Row[]>();
  for (const r of rows) {
    const k = by === undefined ? "" : String(r[by]);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(r);
  }
  return [...m.entries()];
}

export interface MeanPoint {
  x: number;
  mean: number;
  n: number;
  /** standard error √(p(1−p)/n) for 0/1 outcomes, else sample sd/√n */
  se: number;
}

/** Mean of `value` per distinct `x` (ascending x), skipping missing values. */
export function meanBy(rows: readonly Row[], x: string, value: string): MeanPoint[] {
  const acc = new Map<number, number[]>();
  for (const r of rows) {
    const [xv, v] = [num(r[x]), num(r[value])];
    if (Number.isNaN(xv) || Number.isNaN(v)) continue;
    if (!acc.has(xv)) acc.set(xv, []);
    acc.get(xv)!.push(v);
  }
  return [...acc.entries()].sort((a, b) => a[0] - b[0]).map(([xv, vs]) => {
    const n = vs.length;
    const mean = vs.reduce((s, v) => s + v, 0) / n;
    const binary = vs.every((v) => v === 0 || v === 1);
    const variance = binary ? mean * (1 - mean) : n > 1 ? vs.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
    return { x: xv, mean, n, se: Math.sqrt(variance / n) };
  });
}

export interface LossCurveOptions {
  /** x column (default "step") */
  x?: string;
  /** y columns (default ["loss"]); rows where a column is missing are skipped for that line */
  y?: string | readonly string[];
  logY?: boolean;
  title?: string;
}

/** Axis titles with units for the training log's columns (lib/train/log.ts). */
const LOG_AXES: Readonly<Record<string, string>> = {
  loss: "loss (nats/token)",
  val_loss: "validation loss (nats/token)",
  lr: "learning rate η",
  grad_norm: "gradient norm ‖g‖ (before clipping)",
  tokens_per_s: "throughput (tokens/s)",
  tokens_seen: "tokens seen",
  seq_len: "sequence length ℓ (tokens)",
  time_s: "time (s)",
};

/**
 * Loss against step, one line per y column (e.g. train and validation), thinned above ~2,000 points.
 * @example lossCurve(aq.from(log), { x: "step", y: ["loss", "val_loss"] })
 */
export function lossCurve(table: TableLike, opts: LossCurveOptions = {}): Figure {
  const rows = rowsOf(table);
  const x = opts.x ?? "step";
  const ys = typeof opts.y === "string" ? [opts.y] : [...(opts.y ?? ["loss"])];
  need(rows, [x], "lossCurve");
  const data: Trace[] = ys.map((col, i) => {
    const pts = rows.map((r) => [num(r[x]), num(r[col])] as const).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
    const d = downsample(pts.map((p) => p[0]), pts.map((p) => p[1]));
    return { type: "scatter", mode: pts.length < 30 ? "lines+markers" : "lines", name: `${col}${strideNote(d)}`, x: d.x, y: d.y, line: { color: theme.color(i), width: 2 }, hovertemplate: `${x} = %{x}<br>${col} = %{y:.4g}<extra></extra>` };
  });
  return {
    data,
    layout: theme.layout(opts.title ?? "Training loss", {
      xaxis: theme.axis(x === "step" ? "training step" : x),
      yaxis: theme.axis(ys.length === 1 ? (LOG_AXES[ys[0]!] ?? ys[0]!) : ys.every((c) => /loss/.test(c)) ? "loss (nats/token)" : ys.join(", "), opts.logY ? { type: "log" } : {}),
    }),
  };
}

export interface AccuracyOptions {
  /** 0/1 (or boolean, or fraction) outcome column (default "correct") */
  correct?: string;
  /** one line per value of this column (e.g. "method") */
  by?: string;
  title?: string;
  /**
   * error bars: "se" (default) ±√(p(1−p)/n), or "wilson", the 95 % Wilson score interval of 0/1
   * outcomes (asymmetric, inside [0, 1]; lib/eval/intervals.ts)
   */
  interval?: "se" | "wilson";
  /** a line style per group; default: methodLine when every group is a method (lib/viz/methods.ts groupLines), else the theme's palette by order */
  style?: (group: string) => { color: string; dash?: string; width?: number };
}

function accuracyLines(rows: Row[], x: string, o: AccuracyOptions, xLabel: string): Trace[] {
  const correct = o.correct ?? "correct";
  need(rows, [x, correct, o.by], "accuracy plot");
  const gs = groups(rows, o.by);
  const lineOf = groupLines(gs.map(([g]) => g), o.style);
  return gs.map(([g, rs], i) => {
    const pts = meanBy(rs, x, correct);
    const name = o.by === undefined ? "accuracy" : plotlyText(g);
    const ci = pts.map((p) => (o.interval === "wilson" ? wilson(Math.round(p.mean * p.n), p.n) : null));
    const line = lineOf(g, i);
    return {
      type: "scatter",
      mode: "lines+markers",
      name,
      x: pts.map((p) => p.x),
      y: pts.map((p) => p.mean),
      customdata: pts.map((p) => p.n),
      error_y: o.interval === "wilson"
        ? { type: "data", symmetric: false, array: pts.map((p, k) => (ci[k] ? ci[k]!.hi - p.mean : 0)), arrayminus: pts.map((p, k) => (ci[k] ? p.mean - ci[k]!.lo : 0)), visible: true, thickness: 1, width: 3 }
        : { type: "data", array: pts.map((p) => p.se), visible: true, thickness: 1, width: 3 },
      line,
      ...(o.style ? { marker: { color: line.color } } : {}),
      hovertemplate: `${name}<br>${xLabel} = %{x}<br>accuracy = %{y:.3f} (n = %{customdata})<extra></extra>`,
    };
  });
}

/**
 * Mean accuracy (± standard error) per context length ℓ, one line per `by` group; ℓ_max marked if given.
 * @example accuracyVsLength(results, { length: "length", correct: "correct", by: "method", lMax: 256 })
 */
export function accuracyVsLength(table: TableLike, opts: AccuracyOptions & { length?: string; lMax?: number; logX?: boolean } = {}): Figure {
  const data = accuracyLines(rowsOf(table), opts.length ?? "length", opts, "ℓ");
  const marks = opts.lMax ? { shapes: [theme.marker("v", opts.lMax)], annotations: [theme.note(`ℓ<sub>max</sub> = ${opts.lMax}`, { x: opts.logX ? Math.log10(opts.lMax) : opts.lMax, xanchor: "left", yref: "y domain", y: 0.02 })] } : {};
  return {
    data,
    layout: theme.layout(opts.title ?? "Accuracy against context length", {
      xaxis: theme.axis("context length ℓ (tokens)", opts.logX ? { type: "log", tickmode: "array", tickvals: xsOf(data), ticktext: xsOf(data).map(String) } : {}),
      yaxis: theme.axis("accuracy", { range: [-0.02, 1.05] }),
      ...marks,
    }),
  };
}

/** Mean accuracy (± standard error) against needle depth (0 = start of the context, 1 or 100 = end). */
export function accuracyVsDepth(table: TableLike, opts: AccuracyOptions & { depth?: string } = {}): Figure {
  const data = accuracyLines(rowsOf(table), opts.depth ?? "depth", opts, "depth");
  return {
    data,
    layout: theme.layout(opts.title ?? "Accuracy against needle depth", {
      xaxis: theme.axis(depthLabel(opts.depth)),
      yaxis: theme.axis("accuracy", { range: [-0.02, 1.05] }),
    }),
  };
}

/** The distinct x values of all traces, ascending (tick positions on a log length axis). */
const xsOf = (data: Trace[]) => [...new Set(data.flatMap((t) => t.x as number[]))].sort((a, b) => a - b);

const depthLabel = (col = "depth") => (col === "depth" ? "needle depth" : `needle depth (${col})`);

/** z[depth][length] of mean accuracy over `rows` (NaN where a cell has no rows). */
function accuracyMatrix(rows: Row[], lengths: number[], depths: number[], L: string, D: string, C: string): number[][] {
  const sum = depths.map(() => lengths.map(() => 0));
  const cnt = depths.map(() => lengths.map(() => 0));
  for (const r of rows) {
    const [i, j, v] = [depths.indexOf(num(r[D])), lengths.indexOf(num(r[L])), num(r[C])];
    if (i < 0 || j < 0 || Number.isNaN(v)) continue;
    sum[i]![j]! += v;
    cnt[i]![j]! += 1;
  }
  return sum.map((row, i) => row.map((s, j) => (cnt[i]![j] ? s / cnt[i]![j]! : NaN)));
}

/**
 * Mean accuracy per (depth, length) cell, Viridis 0…1 with the value printed in each cell (the
 * needle-in-a-haystack picture); one panel per `by` group. Lengths and depths are categories.
 */
export function depthLengthHeatmap(table: TableLike, opts: AccuracyOptions & { length?: string; depth?: string } = {}): Figure {
  const rows = rowsOf(table);
  const [L, D, C] = [opts.length ?? "length", opts.depth ?? "depth", opts.correct ?? "correct"];
  need(rows, [L, D, C, opts.by], "depthLengthHeatmap");
  const uniq = (c: string) => [...new Set(rows.map((r) => num(r[c])).filter((v) => !Number.isNaN(v)))].sort((a, b) => a - b);
  const [lengths, depths] = [uniq(L), uniq(D)];
  const gs = groups(rows, opts.by);
  const data: Trace[] = gs.map(([g, rs], k) => {
    const z = accuracyMatrix(rs, lengths, depths, L, D, C).map((r) => r.map((v) => (Number.isNaN(v) ? null : Number(v.toFixed(4)))));
    const ax = axisNames(k);
    return { type: "heatmap", name: plotlyText(g), x: lengths.map(String), y: depths.map(String), z, coloraxis: "coloraxis", xaxis: ax.x, yaxis: ax.y, texttemplate: "%{z:.2f}", hovertemplate: `${g ? `${plotlyText(g)}<br>` : ""}ℓ = %{x}<br>depth = %{y}<br>accuracy = %{z:.3f}<extra></extra>` };
  });
  const grid = subplotGrid(1, gs.length, opts.by === undefined ? [] : gs.map(([g]) => plotlyText(g)), (_, c) => ({
    x: theme.axis("context length ℓ", { type: "category" }),
    y: theme.axis(c === 0 ? depthLabel(D) : "", { type: "category" }),
  }));
  return {
    data,
    layout: theme.layout(opts.title ?? "Accuracy by needle depth and context length", {
      ...grid,
      coloraxis: { colorscale: theme.sequential, cmin: 0, cmax: 1, colorbar: { title: { text: "accuracy" }, outlinewidth: 0 } },
    }),
  };
}
