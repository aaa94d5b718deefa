/**
 * Encoding geometry: what a positional encoding puts at positions t = 0…n−1, as vectors.
 *
 *   additive (learned W_p, Alg 2; sinusoidal; …)  p(t) = the row added at Alg 10 line 2 (`table`/`embed`)
 *   rotary (RoPE and its scalings, Alg 4 seam)     p(t) = R(t)·q with q = 1/√d (all ones), from `angles`
 *
 * and four views of them: a PCA trajectory coloured by t, the cosine-similarity matrix, the step
 * length ‖p(t+1) − p(t)‖ and the norm ‖p(t)‖. Learned, sinusoidal, bounded and rotary encodings
 * can then be compared in the same plots.
 */
import type { DTransformerConfig } from "../config.js";
import { InputError } from "../errors.js";
import type { PeContext, PositionalEncoding } from "../positional/types.js";
import { theme, type Figure, type Trace } from "./figure.js";
import { groupLines, methodLine } from "./methods.js";
import { blockCosine, consecutiveDistances, norm, pca } from "./linalg.js";
import { downsample, HEATMAP_CAP, range, sigMatrix, strideIndices, strideNote, LINE_CAP } from "./sample.js";

/** What positionVectors may read: the model's config, and its parameters for learned tables. */
export type VectorContext = { cfg: DTransformerConfig; param?: PeContext["param"] };

/** A labelled set of position vectors, for plots that compare encodings. */
export interface VectorSet {
  label: string;
  vectors: readonly ArrayLike<number>[];
  /** the positions of the rows (default 0…n−1) */
  positions?: readonly number[];
  /** the method whose colour the set's line takes (lib/viz/methods.ts: "learned", "sinusoidal", "rope", …); default: the palette by order */
  method?: string;
}

/**
 * The vector each position gets from `pe`: table rows for additive encodings (learned needs the
 * model's parameters: pass `{ cfg: model.cfg, param: (n) => model.params.get(n) }`), or R(t)·q
 * with q = (1, …, 1)/√d_attn for rotary ones (interleaved pairs: (cos α − sin α, sin α + cos α)/√d
 * with α = t·θ'_j; a half-split layout is a fixed permutation of these coordinates, so norms,
 * distances, cosines and PCA are the same). Throws for encodings that add no vectors (NoPE, ALiBi).
 * @example positionVectors(learned(), 64, modelContext(model))  // [64][d_e]
 */
export function positionVectors(pe: PositionalEncoding, positions: number | readonly number[], ctx: VectorContext, opts: { seqLen?: number } = {}): number[][] {
  const pos = typeof positions === "number" ? range(positions) : [...positions];
  const pctx: PeContext = { cfg: ctx.cfg, param: ctx.param ?? ((n) => { throw new InputError(`positionVectors: ${pe.name} needs parameter "${n}"; pass param: (n) => model.params.get(n)`); }) };
  if (pe.table) return pe.table(pos, pctx);
  if (pe.angles) return pe.angles(pos, ctx.cfg, opts.seqLen).map(rotatedOnes);
  if (pe.embed && ctx.param) return embedRows(pe, pos, pctx);
  throw new InputError(
    `positionVectors: the ${pe.label} adds no per-position vectors (no table, angles or embed seam${pe.embed ? " usable without the model's parameters" : ""}). ` +
      `Plot its attention instead (attentionByDistance), or its bias slopes.`,
  );
}

/** A PeContext for a model (what positionVectors needs for learned W_p). */
export function modelContext(model: { cfg: DTransformerConfig; params: { get(name: string): unknown } }): VectorContext {
  return { cfg: model.cfg, param: (n) => model.params.get(n) as ReturnType<PeContext["param"]> };
}

/** R(t)·q for q = 1/√d: each pair (1, 1)/√d rotated by its angle. */
function rotatedOnes(angles: readonly number[]): number[] {
  const c = 1 / Math.sqrt(2 * angles.length);
  const out: number[] = [];
  for (const a of angles) out.push(c * (Math.cos(a) - Math.sin(a)), c * (Math.sin(a) + Math.cos(a)));
  return out;
}

/** Rows from the `embed` seam over [0, max(pos)], picked at `pos`. */
function embedRows(pe: PositionalEncoding, pos: number[], ctx: PeContext): number[][] {
  const t = pe.embed!({ start: 0, length: Math.max(...pos) + 1 }, ctx);
  try {
    const all = t.arraySync() as number[][];
    return pos.map((p) => all[p]!);
  } finally {
    t.dispose();
  }
}

/** Smaller markers for longer trajectories, so the path stays visible. */
const markerSize = (n: number, dims: number) => (dims === 3 ? 3 : n <= 100 ? 7 : n <= 600 ? 4 : 2.5);

const positionsOf = (set: { vectors: readonly unknown[]; positions?: readonly number[] }) => (set.positions ? [...set.positions] : range(set.vectors.length));

function asSets(input: readonly ArrayLike<number>[] | readonly VectorSet[]): VectorSet[] {
  if (input.length && typeof (input[0] as VectorSet).label === "string") return [...(input as readonly VectorSet[])];
  return [{ label: "p(t)", vectors: input as readonly ArrayLike<number>[] }];
}

export interface PcaOptions {
  dims?: 2 | 3;
  title?: string;
  positions?: readonly number[];
}

/**
 * The trajectory t ↦ p(t) projected on its top 2 or 3 principal components (float64 covariance,
 * fitted on ≤ 2,048 rows), markers coloured by position t (Viridis), points thinned above ~2,000.
 * @example pcaTrajectory(positionVectors(pe, 512, ctx), { dims: 3, title: "RoPE" })
 */
export function pcaTrajectory(vectors: readonly ArrayLike<number>[], opts: PcaOptions = {}): Figure {
  const dims = opts.dims ?? 2;
  const p = pca(vectors, dims);
  const pos = opts.positions ? [...opts.positions] : range(vectors.length);
  const keep = strideIndices(vectors.length, LINE_CAP);
  const comp = (c: number) => keep.map((i) => p.scores[i]![c] ?? 0);
  const note = keep.length < vectors.length ? ` (1 point in ${Math.ceil((vectors.length - 1) / (LINE_CAP - 1))})` : "";
  const pct = (c: number) => `PC${c + 1} (${(100 * (p.explained[c] ?? 0)).toFixed(1)}% var)`;
  const t = keep.map((i) => pos[i]!);
  const trace: Trace = {
    type: dims === 3 ? "scatter3d" : "scatter",
    mode: "lines+markers",
    name: `p(t)${note}`,
    x: comp(0),
    y: comp(1),
    ...(dims === 3 ? { z: comp(2) } : {}),
    line: { color: "rgba(128,128,128,0.5)", width: 1 },
    marker: { size: markerSize(keep.length, dims), color: t, colorscale: theme.sequential, colorbar: { title: { text: "t" }, outlinewidth: 0 }, showscale: true },
    hovertemplate: `t = %{marker.color}<br>PC1 = %{x:.3g}<br>PC2 = %{y:.3g}${dims === 3 ? "<br>PC3 = %{z:.3g}" : ""}<extra></extra>`,
  };
  const title = `${opts.title ?? "Position trajectory"}: PCA of p(t), t = ${pos[0]}…${pos[pos.length - 1]}`;
  const layout =
    dims === 3
      ? theme.layout(title, { scene: { xaxis: theme.axis(pct(0)), yaxis: theme.axis(pct(1)), zaxis: theme.axis(pct(2)), bgcolor: "rgba(0,0,0,0)" }, showlegend: false })
      : theme.layout(title, { xaxis: theme.axis(pct(0)), yaxis: theme.axis(pct(1), { scaleanchor: "x", scaleratio: 1 }), showlegend: false });
  return { data: [trace], layout };
}

/**
 * cos(p(t), p(t′)) for all pairs (RdBu, −1…1). Above 512 positions, the exactly block-averaged
 * matrix (mean cosine over k×k blocks of positions; the title says k). Zero vectors count as cos 0.
 */
export function similarityHeatmap(vectors: readonly ArrayLike<number>[], opts: { title?: string; positions?: readonly number[]; cap?: number } = {}): Figure {
  const n = vectors.length;
  const k = Math.max(1, Math.ceil(n / (opts.cap ?? HEATMAP_CAP)));
  const z = blockCosine(vectors, k);
  const pos = opts.positions ? [...opts.positions] : range(n);
  const axis = z.map((_, b) => pos[b * k]!);
  const block = k > 1 ? ` (mean over ${k}×${k} blocks)` : "";
  const trace: Trace = {
    type: "heatmap",
    x: axis,
    y: axis,
    z: sigMatrix(z),
    zmin: -1,
    zmax: 1,
    zmid: 0,
    colorscale: theme.diverging,
    colorbar: { title: { text: "cos" }, outlinewidth: 0 },
    hovertemplate: `t = %{y}, t′ = %{x}${k > 1 ? ` (blocks of ${k})` : ""}<br>cos = %{z:.3f}<extra></extra>`,
  };
  return {
    data: [trace],
    layout: theme.layout(`${opts.title ?? "Position similarity"}: cos(p(t), p(t′))${block}`, {
      xaxis: theme.axis("position t′"),
      yaxis: theme.axis("position t", { autorange: "reversed" }),
    }),
  };
}

/** One line per set: `f(set)` against position, thinned above ~2,000 points. */
function lineSets(sets: VectorSet[], f: (s: VectorSet) => { x: number[]; y: number[] }, yName: string): Trace[] {
  const lineOf = groupLines(sets.map((s) => s.label));
  return sets.map((s, i) => {
    const { x, y } = f(s);
    const d = downsample(x, y);
    return {
      type: "scatter",
      mode: "lines",
      name: `${s.label}${strideNote(d)}`,
      x: d.x,
      y: d.y,
      line: s.method ? methodLine(s.method) : lineOf(s.label, i),
      hovertemplate: `${s.label}<br>t = %{x}<br>${yName} = %{y:.4g}<extra></extra>`,
    };
  });
}

/**
 * Step length ‖p(t+1) − p(t)‖ against t: constant for sinusoidal/RoPE (a fixed rotation per step),
 * noisy for learned W_p. Pass one matrix, or several labelled sets to compare encodings.
 */
export function consecutiveDistance(input: readonly ArrayLike<number>[] | readonly VectorSet[], opts: { title?: string; logY?: boolean } = {}): Figure {
  const data = lineSets(asSets(input), (s) => ({ x: positionsOf(s).slice(0, -1), y: consecutiveDistances(s.vectors) }), "‖p(t+1) − p(t)‖");
  return {
    data,
    layout: theme.layout(opts.title ?? "Step length between neighbouring positions", {
      xaxis: theme.axis("position t"),
      yaxis: theme.axis("‖p(t+1) − p(t)‖", opts.logY ? { type: "log", exponentformat: "power", dtick: 1 } : { rangemode: "tozero" }),
      showlegend: data.length > 1,
    }),
  };
}

/** ‖p(t)‖ against t (one matrix or several labelled sets). */
export function normCurve(input: readonly ArrayLike<number>[] | readonly VectorSet[], opts: { title?: string; logY?: boolean } = {}): Figure {
  const data = lineSets(asSets(input), (s) => ({ x: positionsOf(s), y: s.vectors.map((v) => norm(v)) }), "‖p(t)‖");
  return {
    data,
    layout: theme.layout(opts.title ?? "Norm of the position vector", {
      xaxis: theme.axis("position t"),
      yaxis: theme.axis("‖p(t)‖", opts.logY ? { type: "log", exponentformat: "power" } : { rangemode: "tozero" }),
      showlegend: data.length > 1,
    }),
  };
}
