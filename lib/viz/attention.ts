/**
 * Attention patterns from a trace (`model.trace(x).cache`): the recorded softmax(S/√d_attn) of
 * Alg 4 line 6, "blocks.{l}.attn.hook_pattern" [B, H, ℓ, ℓ_z], rows = queries, columns = keys.
 *
 *   attentionGrid        heatmaps, one per layer (rows) and head (columns), token labels on hover
 *   attentionByDistance  mean attention on the key at relative distance m − n (query − key)
 *   attentionEntropy     −Σ_n A[m, n] ln A[m, n] per query position m, against ln(m+1) (uniform)
 *
 * Queries sit at the last ℓ of the ℓ_z key positions (offset ℓ_z − ℓ), as in the causal model.
 * Patterns are read one head at a time; at 8k tokens heatmaps are block-averaged (masked cells skipped).
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import type { ActivationCache } from "../hooks/cache.js";
import { axisNames, plotlyText, subplotGrid, theme, type Figure, type Trace } from "./figure.js";
import { blockAverage, downsample, HEATMAP_CAP, range, sigMatrix, strideNote } from "./sample.js";

export interface AttentionOptions {
  /** layers to show (default all recorded) */
  layers?: readonly number[];
  /** heads to show (default all) */
  heads?: readonly number[];
  /** batch row (default 0) */
  batch?: number;
  /** position of the first query token (the `start` passed to trace; default 0) */
  start?: number;
  title?: string;
}

/** One head's pattern as rows: A[m][n] (queries m, keys n). */
interface Pattern {
  rows: Float32Array[];
  nq: number;
  nk: number;
}

/** Layers with a recorded pattern, ascending. */
export function patternLayers(cache: ActivationCache): number[] {
  const ls = cache.names().map((n) => /^blocks\.(\d+)\.attn\.hook_pattern$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]));
  if (!ls.length) throw new ConfigError('attention plots: the cache has no "blocks.{l}.attn.hook_pattern"; make it with model.trace(x)');
  return ls.sort((a, b) => a - b);
}

/** Read A for layer l, head h, batch row b (one head at a time: 8k × 8k floats is 256 MB). */
export function readPattern(cache: ActivationCache, l: number, h: number, b = 0): Pattern {
  const t = cache.get(`blocks.${l}.attn.hook_pattern`);
  if (t.rank !== 4) throw new ConfigError(`attention plots: blocks.${l}.attn.hook_pattern has shape [${t.shape}], expected [B, H, ℓ, ℓ_z]`);
  const [B, H, nq, nk] = t.shape as [number, number, number, number];
  if (b < 0 || b >= B || h < 0 || h >= H) throw new ConfigError(`attention plots: batch ${b} / head ${h} out of range for pattern [${t.shape}]`);
  const head = tf.slice(t, [b, h, 0, 0], [1, 1, nq, nk]);
  const flat = head.dataSync() as Float32Array;
  head.dispose();
  return { rows: range(nq).map((m) => flat.subarray(m * nk, (m + 1) * nk)), nq, nk };
}

function selection(cache: ActivationCache, o: AttentionOptions): { layers: number[]; heads: number[] } {
  const layers = o.layers ? [...o.layers] : patternLayers(cache);
  const H = cache.get(`blocks.${layers[0]}.attn.hook_pattern`).shape[1]!;
  return { layers, heads: o.heads ? [...o.heads] : range(H) };
}

function hoverText(tokens: readonly string[] | undefined, p: Pattern, start: number): string[][] | undefined {
  if (!tokens || p.nq > 128) return undefined;
  const off = p.nk - p.nq;
  const tok = (i: number) => plotlyText(JSON.stringify(tokens[i] ?? ""));
  return range(p.nq).map((m) => range(p.nk).map((n) => `query m = ${start + off + m} ${tok(off + m)}<br>key n = ${start + n} ${tok(n)}`));
}

/**
 * Heatmaps of A per layer (rows) and head (columns), Viridis on a shared 0…1 scale, future keys
 * blank. With `tokens`, hover names both tokens and axes show them when ℓ ≤ 32. Each panel is
 * capped at max(64, 512/max(rows, cols)) cells a side by block averaging.
 * @example attentionGrid(model.trace(ids).cache, { tokens: ids.map(decode) })
 */
export function attentionGrid(cache: ActivationCache, opts: AttentionOptions & { tokens?: readonly string[]; cap?: number } = {}): Figure {
  const { layers, heads } = selection(cache, opts);
  const start = opts.start ?? 0;
  const cap = opts.cap ?? Math.max(64, Math.floor(HEATMAP_CAP / Math.max(layers.length, heads.length)));
  const data: Trace[] = [];
  let blockNote = "";
  let nkSeen = 0;
  layers.forEach((l, r) => heads.forEach((h, c) => {
    const p = readPattern(cache, l, h, opts.batch ?? 0);
    const blk = blockAverage(p.rows, cap, { causalOffset: p.nk - p.nq }); // future keys → NaN → blank
    const ax = axisNames(r * heads.length + c);
    nkSeen = p.nk;
    if (blk.rowBlock > 1 || blk.colBlock > 1) blockNote = ` (mean over ${blk.rowBlock}×${blk.colBlock} blocks)`;
    const text = blk.rowBlock === 1 && blk.colBlock === 1 ? hoverText(opts.tokens, p, start) : undefined;
    data.push({
      type: "heatmap",
      x: blk.colStarts.map((n) => start + n),
      y: blk.rowStarts.map((m) => start + p.nk - p.nq + m),
      z: sigMatrix(blk.z, 4),
      coloraxis: "coloraxis",
      xaxis: ax.x,
      yaxis: ax.y,
      name: `layer ${l}, head ${h}`,
      ...(text ? { text, hovertemplate: `%{text}<br>A = %{z:.3f}<extra>layer ${l}, head ${h}</extra>` } : { hovertemplate: `query m = %{y}<br>key n = %{x}<br>A = %{z:.3f}<extra>layer ${l}, head ${h}</extra>` }),
    });
  }));
  // token tick labels only where they fit (≥ ~12 px each): ≤ 64 labels across the grid's width
  const tokenTicks = (n: number) => ({ tickmode: "array", tickvals: range(n).map((k) => start + k), ticktext: range(n).map((k) => plotlyText(opts.tokens![k] ?? "")), tickfont: { size: 10 }, tickangle: 0 });
  const xTicks = opts.tokens && nkSeen * heads.length <= 64 ? tokenTicks(nkSeen) : {};
  const yTicks = opts.tokens && nkSeen * layers.length <= 64 ? tokenTicks(nkSeen) : {};
  const titles = layers.flatMap((l) => heads.map((h) => `layer ${l}, head ${h}`));
  const grid = subplotGrid(layers.length, heads.length, titles, (r, c) => ({
    x: theme.axis(r === layers.length - 1 ? "key n" : "", { ...xTicks, showgrid: false }),
    y: theme.axis(c === 0 ? "query m" : "", { ...yTicks, autorange: "reversed", showgrid: false }),
  }));
  return {
    data,
    layout: theme.layout(`${opts.title ?? "Attention patterns A = softmax(S/√d<sub>attn</sub>)"}${blockNote}`, {
      ...grid,
      coloraxis: { colorscale: theme.sequential, cmin: 0, cmax: 1, colorbar: { title: { text: "A" }, outlinewidth: 0 } },
      height: Math.max(400, 220 * layers.length + 120),
    }),
  };
}

/** Mean of A[m, m − δ] over the queries m that have a key at distance δ, for δ = 0…ℓ_z−1. */
export function meanByDistance(p: { rows: ArrayLike<number>[]; nq: number; nk: number }): number[] {
  const off = p.nk - p.nq;
  const sum = new Float64Array(p.nk);
  const cnt = new Float64Array(p.nk);
  p.rows.forEach((row, m) => {
    const q = m + off;
    for (let n = 0; n <= q && n < p.nk; n++) {
      sum[q - n]! += row[n]!;
      cnt[q - n]! += 1;
    }
  });
  return Array.from(sum, (s, d) => (cnt[d] ? s / cnt[d]! : 0));
}

/** Entropy −Σ_n A[m, n] ln A[m, n] (nats) of each query row. */
export function rowEntropy(rows: readonly ArrayLike<number>[]): number[] {
  return rows.map((row) => {
    let e = 0;
    for (let n = 0; n < row.length; n++) if (row[n]! > 0) e -= row[n]! * Math.log(row[n]!);
    return e;
  });
}

/** One line per selected (layer, head): colour by head, dash by layer. */
function headLines(cache: ActivationCache, o: AttentionOptions, f: (p: Pattern) => { x: number[]; y: number[] }, yName: string, xName: string): Trace[] {
  const { layers, heads } = selection(cache, o);
  return layers.flatMap((l, li) =>
    heads.map((h) => {
      const { x, y } = f(readPattern(cache, l, h, o.batch ?? 0));
      const d = downsample(x, y);
      const name = `layer ${l}, head ${h}`;
      return {
        type: "scatter",
        mode: "lines",
        name: `${name}${strideNote(d)}`,
        legendgroup: `layer ${l}`,
        x: d.x,
        y: d.y,
        line: { color: theme.color(h), dash: theme.dashes[li % theme.dashes.length], width: 2 },
        hovertemplate: `${xName} = %{x}<br>${yName} = %{y:.4g}<extra>${name}</extra>`,
      };
    }),
  );
}

/**
 * Mean attention mass on the key at relative distance m − n (0 = the query's own position),
 * averaged over queries, per layer and head. Pure RoPE/ALiBi heads show their locality here.
 */
export function attentionByDistance(cache: ActivationCache, opts: AttentionOptions & { logY?: boolean } = {}): Figure {
  const data = headLines(cache, opts, (p) => { const y = meanByDistance(p); return { x: range(y.length), y }; }, "mean A", "m − n");
  return {
    data,
    layout: theme.layout(opts.title ?? "Attention by relative distance", {
      xaxis: theme.axis("relative distance m − n (query − key)"),
      yaxis: theme.axis("mean attention A[m, n]", opts.logY ? { type: "log", exponentformat: "power", range: logRange(data, 1e-8) } : { rangemode: "tozero" }),
    }),
  };
}

/** A log10 axis range from the largest y down to at most `span` below it (underflowed zeros are not plotted). */
function logRange(data: Trace[], span: number): [number, number] {
  const ys = data.flatMap((t) => (t.y as number[]).filter((v) => v > 0));
  const hi = ys.length ? Math.max(...ys) : 1;
  const lo = Math.max(ys.length ? Math.min(...ys) : hi * span, hi * span);
  return [Math.log10(lo) - 0.1, Math.log10(hi) + 0.1];
}

/**
 * Entropy of each query's attention row against its position m, per layer and head; the dotted
 * line ln(m+1) is uniform attention over every visible key (the maximum).
 */
export function attentionEntropy(cache: ActivationCache, opts: AttentionOptions = {}): Figure {
  const start = opts.start ?? 0;
  let nk = 0;
  const data = headLines(cache, opts, (p) => { nk = p.nk; return { x: range(p.nq).map((m) => start + p.nk - p.nq + m), y: rowEntropy(p.rows) }; }, "entropy", "m");
  const ref = downsample(range(nk).map((n) => start + n), range(nk).map((n) => Math.log(n + 1)));
  data.push({ type: "scatter", mode: "lines", name: `uniform: ln(m+1)${strideNote(ref)}`, x: ref.x, y: ref.y, line: { color: theme.fontColor, dash: "dot", width: 1.5 }, hovertemplate: "m = %{x}<br>ln(m+1) = %{y:.4g}<extra>uniform</extra>" });
  return {
    data,
    layout: theme.layout(opts.title ?? "Attention entropy per query position", {
      xaxis: theme.axis("query position m"),
      yaxis: theme.axis("entropy −Σ<sub>n</sub> A ln A (nats)", { rangemode: "tozero" }),
    }),
  };
}
