/**
 * Relative-position behaviour of RoPE (docs/literature.md, "RoPE", "Position Interpolation (PI)").
 *
 *   RoFormer §3.4.3 "long-term decay": (1/(d/2))·Σ_{j=1}^{d/2} |S_j(s)|,  S_j = Σ_{k<j} e^{i s θ_k}
 *   PI Fig. 2 (Chen et al. §2.2, App. C.1): a(s) = Re Σ_j h_j e^{i s θ_j}, h fitted by least squares
 *   to seeded random targets in [−1, 1] at s = 0…L and scaled to |a| ≤ 1 there. It explodes beyond L
 *   (extrapolation); evaluated at s·L/L′ (position interpolation) it stays in [0, L] and bounded.
 */
import { Rng } from "../tensor/random.js";
import { axisNames, subplotGrid, theme, type Figure, type Trace } from "./figure.js";
import { leastSquares } from "./linalg.js";
import { downsample, range, strideNote } from "./sample.js";
import { ropeTheta } from "./spectra.js";

/** RoFormer's relative upper bound (1/(d/2))·Σ_{j=1}^{d/2} |S_j(s)| at relative distance s. */
export function ropeRelativeBound(s: number, d: number, base = 10000): number {
  const theta = ropeTheta(d, base);
  let re = 0;
  let im = 0;
  let total = 0;
  for (let j = 0; j < theta.length; j++) {
    re += Math.cos(s * theta[j]!);
    im += Math.sin(s * theta[j]!);
    total += Math.hypot(re, im); // |S_{j+1}|
  }
  return total / theta.length;
}

/**
 * The RoFormer decay curve (its Fig. 2): the relative upper bound against s = 0…maxDistance, one
 * line per head dimension d.
 * @example ropeDecayCurve(128, 1e4, 256)
 */
export function ropeDecayCurve(d: number | readonly number[], base = 10000, maxDistance = 256, opts: { title?: string } = {}): Figure {
  const ds = typeof d === "number" ? [d] : [...d];
  const s = range(Math.floor(maxDistance) + 1);
  const data: Trace[] = ds.map((dd, i) => {
    const ds_ = downsample(s, s.map((x) => ropeRelativeBound(x, dd, base)), { method: "minmax" });
    return {
      type: "scatter",
      mode: "lines",
      name: `d = ${dd}${strideNote(ds_)}`,
      x: ds_.x,
      y: ds_.y,
      line: { color: theme.color(i), width: 2 },
      hovertemplate: `d = ${dd}<br>s = %{x}<br>bound = %{y:.4g}<extra></extra>`,
    };
  });
  return {
    data,
    layout: theme.layout(opts.title ?? `RoPE long-term decay (RoFormer §3.4.3), b = ${base}`, {
      xaxis: theme.axis("relative distance s = m − n"),
      yaxis: theme.axis("(1/(d/2))·Σ<sub>j</sub> |S<sub>j</sub>(s)|", { rangemode: "tozero" }),
      showlegend: ds.length > 1,
    }),
  };
}

/** Complex coefficients h_j = re_j + i·im_j (one per rotary pair). */
export interface ScoreCoefficients {
  re: Float64Array;
  im: Float64Array;
}

/** a(s) = Re Σ_j h_j e^{i s θ_j} = Σ_j (re_j cos sθ_j − im_j sin sθ_j) at each s. */
export function rotaryScoreCurve(h: ScoreCoefficients, invFreq: ArrayLike<number>, s: ArrayLike<number>): Float64Array {
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) {
    let a = 0;
    for (let j = 0; j < invFreq.length; j++) {
      const x = s[i]! * invFreq[j]!;
      a += h.re[j]! * Math.cos(x) - h.im[j]! * Math.sin(x);
    }
    out[i] = a;
  }
  return out;
}

/**
 * PI App. C.1: h fitted by least squares so that a(s) matches seeded random targets in [−1, 1]
 * at s = 0, 1, …, L, then scaled so max |a(s)| = 1 on those points. The low-frequency columns are
 * nearly collinear on [0, L], so the fit needs large, cancelling h_j. PI solves float32 normal
 * equations, whose rounding regularises; here a small ridge (λ = ridge·(L+1), default 1e-10)
 * does that deterministically in float64 and gives the paper's 10³–10⁴ growth past L at d = 128.
 */
export function fitScoreCoefficients(invFreq: ArrayLike<number>, L: number, opts: { seed?: number; ridge?: number } = {}): { h: ScoreCoefficients; targets: Float64Array } {
  const rng = new Rng(opts.seed ?? 0);
  const s = range(L + 1);
  const targets = Float64Array.from(s, () => 2 * rng.uniform() - 1);
  const n = invFreq.length;
  const A = s.map((x) => {
    const row = new Float64Array(2 * n);
    for (let j = 0; j < n; j++) {
      row[j] = Math.cos(x * invFreq[j]!);
      row[n + j] = -Math.sin(x * invFreq[j]!);
    }
    return row;
  });
  const lam = Math.sqrt((opts.ridge ?? 1e-10) * (L + 1));
  const penalty = range(2 * n).map((k) => Float64Array.from({ length: 2 * n }, (_, c) => (c === k ? lam : 0)));
  const x = leastSquares([...A, ...penalty], [...targets, ...new Array<number>(2 * n).fill(0)]);
  const fitted = rotaryScoreCurve({ re: x.subarray(0, n), im: x.subarray(n) }, invFreq, s);
  const scale = fitted.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
  return { h: { re: x.slice(0, n).map((v) => v / scale), im: x.slice(n).map((v) => v / scale) }, targets };
}

export interface ExtrapolationOptions {
  /** rotated head dimension d (θ_j = b^{−2j/d}); default 128 as in PI Fig. 2 */
  d?: number;
  base?: number;
  /** L = ℓ_max, the original context; default 2048 */
  originalLength?: number;
  /** L′, the extended context (2L–4L); default 2L */
  extendedLength?: number;
  /** seed of the random targets (default 0) */
  seed?: number;
  /** ridge of the fit (default 1e-10; see fitScoreCoefficients) */
  ridge?: number;
  /** coefficients to use instead of the PI-style fit */
  h?: ScoreCoefficients;
  /** θ_j to use instead of plain RoPE */
  invFreq?: ArrayLike<number>;
  title?: string;
}

/**
 * PI Fig. 2 as two panels over s = 0…L′: (left) extrapolation, a(s) itself, which leaves [−1, 1]
 * as soon as s > L; (right) position interpolation, a(s·L/L′), which only visits [0, L]. ℓ_max = L
 * is marked in both. Curves are thinned by min/max per bucket (the envelope is what matters).
 * @example extrapolationVsInterpolation({ d: 128, originalLength: 2048, extendedLength: 8192 })
 */
export function extrapolationVsInterpolation(opts: ExtrapolationOptions = {}): Figure {
  const d = opts.d ?? 128;
  const L = opts.originalLength ?? 2048;
  const Lp = opts.extendedLength ?? 2 * L;
  const theta = opts.invFreq ?? ropeTheta(d, opts.base ?? 10000);
  const h = opts.h ?? fitScoreCoefficients(theta, L, { seed: opts.seed ?? 0, ridge: opts.ridge }).h;
  const s = range(Lp + 1);
  const extra = rotaryScoreCurve(h, theta, s);
  const inter = rotaryScoreCurve(h, theta, s.map((x) => (x * L) / Lp));
  const panel = (k: number, y: Float64Array, name: string, color: string): Trace => {
    const ds = downsample(s, y, { method: "minmax" });
    const ax = axisNames(k);
    return { type: "scatter", mode: "lines", name: `${name}${strideNote(ds)}`, x: ds.x, y: ds.y, xaxis: ax.x, yaxis: ax.y, line: { color, width: 1.5 }, hovertemplate: `s = %{x}<br>a = %{y:.4g}<extra>${name}</extra>` };
  };
  const grid = subplotGrid(1, 2, ["extrapolation: a(s)", `interpolation: a(s·L/L′), L/L′ = ${L}/${Lp}`], (_, c) => ({
    x: theme.axis("relative distance s = m − n"),
    y: theme.axis(c === 0 ? "attention score a(s)" : ""),
  }), { h: 0.08 });
  const marks = [0, 1].map((k) => theme.marker("v", L, { xref: axisNames(k).x, yref: axisNames(k).y }));
  const labels = [0, 1].map((k) => theme.note(`ℓ<sub>max</sub> = L = ${L}`, { xref: axisNames(k).x, x: L, yref: `${axisNames(k).y} domain`, y: 0.98, xanchor: "right" }));
  return {
    data: [panel(0, extra, "extrapolation", theme.color(3)), panel(1, inter, "interpolation", theme.color(0))],
    layout: theme.layout(opts.title ?? `Extrapolation vs position interpolation (PI Fig. 2), d = ${d}`, {
      ...grid,
      annotations: [...(grid.annotations as unknown[]), ...labels],
      shapes: marks,
      showlegend: false,
    }),
  };
}
