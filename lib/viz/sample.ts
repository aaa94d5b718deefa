/**
 * Making long inputs plottable at 8k positions: line traces are thinned to ≤ ~2,000 points
 * (endpoints always kept, the stride reported so figures can say what they show), and matrices are
 * block-averaged to ≤ ~512 × 512 cells before they become heatmaps.
 */

/** Default caps: points per line trace, cells per heatmap side. */
export const LINE_CAP = 2000;
export const HEATMAP_CAP = 512;

export interface Downsampled {
  x: number[];
  y: number[];
  /** 1 if nothing was dropped; else every stride-th point ("stride") or one bucket per stride ("minmax") */
  stride: number;
  method: "stride" | "minmax";
}

/**
 * Thin a line to ≤ `cap` points, keeping the first and last. "stride" keeps every k-th point;
 * "minmax" keeps each bucket's minimum and maximum (in x order), so oscillating curves keep their
 * envelope instead of aliasing.
 * @example downsample(xs, ys).stride  // 5 for 8192 points → 1639 points
 */
export function downsample(x: ArrayLike<number>, y: ArrayLike<number>, opts: { cap?: number; method?: "stride" | "minmax" } = {}): Downsampled {
  const n = Math.min(x.length, y.length);
  const cap = Math.max(3, Math.floor(opts.cap ?? LINE_CAP));
  const method = opts.method ?? "stride";
  if (n <= cap) return { x: Array.from(x).slice(0, n), y: Array.from(y).slice(0, n), stride: 1, method };
  const idx = method === "minmax" ? minmaxIndices(y, n, cap) : strideIndices(n, cap);
  const stride = method === "minmax" ? Math.ceil((n - 2) / Math.floor((cap - 2) / 2)) : Math.ceil((n - 1) / (cap - 1));
  return { x: idx.map((i) => x[i]!), y: idx.map((i) => y[i]!), stride, method };
}

/** Indices 0, k, 2k, … and n−1 with k = ⌈(n−1)/(cap−1)⌉, so at most cap of them. */
export function strideIndices(n: number, cap: number): number[] {
  if (n <= cap) return Array.from({ length: n }, (_, i) => i);
  const k = Math.ceil((n - 1) / (cap - 1));
  const out: number[] = [];
  for (let i = 0; i < n - 1; i += k) out.push(i);
  out.push(n - 1);
  return out;
}

function minmaxIndices(y: ArrayLike<number>, n: number, cap: number): number[] {
  const buckets = Math.max(1, Math.floor((cap - 2) / 2));
  const k = Math.ceil((n - 2) / buckets);
  const out = [0];
  for (let b = 1; b < n - 1; b += k) {
    const e = Math.min(b + k, n - 1);
    let lo = b;
    let hi = b;
    for (let i = b + 1; i < e; i++) {
      if (y[i]! < y[lo]!) lo = i;
      if (y[i]! > y[hi]!) hi = i;
    }
    out.push(Math.min(lo, hi));
    if (lo !== hi) out.push(Math.max(lo, hi));
  }
  out.push(n - 1);
  return out;
}

/** A suffix for trace names that says how a line was thinned ("" when it was not). */
export function strideNote(d: Pick<Downsampled, "stride" | "method">): string {
  if (d.stride <= 1) return "";
  return d.method === "minmax" ? ` (min/max per ${d.stride} points)` : ` (1 point in ${d.stride})`;
}

export interface Blocked {
  z: number[][];
  /** rows/cols of the input averaged into one cell */
  rowBlock: number;
  colBlock: number;
  /** first input index of each output row/col */
  rowStarts: number[];
  colStarts: number[];
}

/**
 * Average a matrix over blocks so that it has ≤ cap rows and ≤ cap columns. Block b covers input
 * indices [b·k, min((b+1)·k, n)); NaN entries are skipped, and so are the cells with
 * j > i + causalOffset when that is given (future keys of a causal pattern, read in place without a
 * masked copy). A block with no valid cell is NaN.
 */
export function blockAverage(m: readonly (ArrayLike<number>)[], cap = HEATMAP_CAP, opts: { causalOffset?: number } = {}): Blocked {
  const rows = m.length;
  const cols = rows ? m[0]!.length : 0;
  const rk = Math.max(1, Math.ceil(rows / cap));
  const ck = Math.max(1, Math.ceil(cols / cap));
  const R = Math.ceil(rows / rk);
  const C = Math.ceil(cols / ck);
  const sum = Array.from({ length: R }, () => new Float64Array(C));
  const cnt = Array.from({ length: R }, () => new Float64Array(C));
  for (let i = 0; i < rows; i++) {
    const row = m[i]!;
    const s = sum[(i / rk) | 0]!;
    const c = cnt[(i / rk) | 0]!;
    const end = opts.causalOffset === undefined ? cols : Math.min(cols, i + opts.causalOffset + 1);
    for (let j = 0; j < end; j++) {
      const v = row[j]!;
      if (Number.isNaN(v)) continue;
      s[(j / ck) | 0]! += v;
      c[(j / ck) | 0]! += 1;
    }
  }
  const z = sum.map((s, i) => Array.from(s, (v, j) => (cnt[i]![j]! ? v / cnt[i]![j]! : NaN)));
  const starts = (n: number, k: number) => Array.from({ length: Math.ceil(n / k) }, (_, b) => b * k);
  return { z, rowBlock: rk, colBlock: ck, rowStarts: starts(rows, rk), colStarts: starts(cols, ck) };
}

/** Round to `digits` significant digits (smaller JSON for heatmaps; NaN → null for Plotly gaps). */
export function sig(v: number, digits = 5): number | null {
  if (!Number.isFinite(v)) return null;
  if (v === 0) return 0;
  return Number(v.toPrecision(digits));
}

/** `sig` over a matrix. */
export function sigMatrix(z: readonly (ArrayLike<number>)[], digits = 5): (number | null)[][] {
  return z.map((row) => Array.from(row, (v) => sig(v, digits)));
}

/** Integers 0, 1, …, n−1. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
