/**
 * Relative step length of a position encoding: ‖p(t+1) − p(t)‖ / ‖p(t)‖ against t. Raw step
 * lengths of encodings whose vectors have different norms (a learned table of ‖p‖ ≈ 0.1…0.5, a
 * sinusoid of ‖p‖ = √(d/2), a bounded encoding inside the unit ball) are not comparable; the ratio
 * is the angle-like quantity that is: how far, relative to its own size, the vector moves per
 * position. The training context ℓ_max is marked, since a model has only seen steps left of it.
 *
 *   stepRatio([{ label: "sinusoidal", method: "sinusoidal", vectors }], { lMax: 128, logY: true })
 */
import { InputError } from "../errors.js";
import { theme, type Figure, type Trace } from "./figure.js";
import { norm } from "./linalg.js";
import { methodStyle } from "./methods.js";
import { downsample, range, strideNote } from "./sample.js";
import type { VectorSet } from "./geometry.js";

/**
 * ‖p(t+1) − p(t)‖ / ‖p(t)‖ for t = 0…n−2; NaN where ‖p(t)‖ = 0 (no size to compare with).
 * @example stepRatios([[1, 0], [0, 1]])  // [√2]
 */
export function stepRatios(vectors: readonly ArrayLike<number>[]): number[] {
  const out: number[] = [];
  for (let t = 0; t + 1 < vectors.length; t++) {
    const a = vectors[t]!;
    const b = vectors[t + 1]!;
    if (b.length !== a.length) throw new InputError(`stepRatios: p(${t}) has ${a.length} entries but p(${t + 1}) has ${b.length}; every vector must have the same length`);
    let s = 0;
    for (let i = 0; i < a.length; i++) s += (b[i]! - a[i]!) ** 2;
    const n = norm(a);
    out.push(n === 0 ? NaN : Math.sqrt(s) / n);
  }
  return out;
}

export interface StepRatioOptions {
  /** ℓ_max: the training context, drawn as a dashed vertical line */
  lMax?: number;
  title?: string;
  /** log y axis (default true: the ratios of different encodings span decades) */
  logY?: boolean;
}

/**
 * ‖p(t+1) − p(t)‖ / ‖p(t)‖ against t, one line per set, coloured by its `method` (lib/viz/methods.ts;
 * default: by the label), with ℓ_max marked. Points where ‖p(t)‖ = 0 are left out.
 * @example stepRatio(sets, { lMax: 128 })
 */
export function stepRatio(sets: readonly VectorSet[], o: StepRatioOptions = {}): Figure {
  if (!sets.length) throw new InputError("stepRatio: no vector sets given; pass at least one { label, vectors }");
  if (o.lMax !== undefined && !(o.lMax > 0)) throw new InputError(`stepRatio: lMax must be a positive number of positions, got ${o.lMax}`);
  const data: Trace[] = sets.map((s) => {
    if (s.vectors.length < 2) throw new InputError(`stepRatio: "${s.label}" has ${s.vectors.length} vector(s); a step needs at least 2`);
    const pos = s.positions ? [...s.positions] : range(s.vectors.length);
    const r = stepRatios(s.vectors);
    const keep = r.map((v, t) => [pos[t]!, v] as const).filter(([, v]) => Number.isFinite(v));
    const d = downsample(keep.map(([t]) => t), keep.map(([, v]) => v));
    return {
      type: "scatter", mode: "lines", name: `${s.label}${strideNote(d)}`, x: d.x, y: d.y,
      line: { color: methodStyle(s.method ?? s.label).color, width: 2 },
      hovertemplate: `${s.label}<br>t = %{x}<br>‖Δp‖/‖p‖ = %{y:.4g}<extra></extra>`,
    };
  });
  const mark = o.lMax === undefined ? {} : {
    shapes: [theme.marker("v", o.lMax)],
    annotations: [theme.note(`ℓ_max = ${o.lMax}`, { xref: "x", x: o.lMax, yref: "paper", y: 1, xanchor: "left", yanchor: "bottom" })],
  };
  return {
    data,
    layout: theme.layout(o.title ?? "Relative step ‖p(t+1) − p(t)‖ / ‖p(t)‖", {
      xaxis: theme.axis("position t"),
      yaxis: theme.axis("‖p(t+1) − p(t)‖ / ‖p(t)‖", o.logY ?? true ? { type: "log", exponentformat: "power", dtick: 1 } : { rangemode: "tozero" }),
      showlegend: data.length > 1,
      ...mark,
    }),
  };
}
