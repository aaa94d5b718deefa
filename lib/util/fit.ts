/**
 * Small least-squares fits shared by the figures (lib/viz) and the measurements (lib/eval): plain
 * float64 arithmetic on arrays, no tensors.
 */
import { ConfigError } from "../errors.js";

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Least squares min ‖A x − b‖ by Householder QR (A: [m][n], m ≥ n, as rows). Ill-conditioned
 * columns give large coefficients, as numpy/torch lstsq would: that is what PI's Fig. 2 fit shows.
 */
export function leastSquares(A: readonly ArrayLike<number>[], b: ArrayLike<number>): Float64Array {
  const m = A.length;
  const n = A[0]!.length;
  const Q = Array.from({ length: n }, (_, j) => Float64Array.from({ length: m }, (_, i) => A[i]![j]!)); // columns
  const y = Float64Array.from(b);
  const R = Array.from({ length: n }, () => new Float64Array(n));
  for (let j = 0; j < n; j++) {
    const col = Q[j]!;
    let s = 0;
    for (let i = j; i < m; i++) s += col[i]! ** 2;
    const alpha = -Math.sign(col[j]! || 1) * Math.sqrt(s);
    const v = new Float64Array(m);
    for (let i = j; i < m; i++) v[i] = col[i]!;
    v[j]! -= alpha;
    const vv = dot(v, v);
    const reflect = (x: Float64Array) => {
      if (vv === 0) return;
      const f = (2 * dot(v, x)) / vv;
      for (let i = j; i < m; i++) x[i]! -= f * v[i]!;
    };
    for (let c = j; c < n; c++) reflect(Q[c]!);
    reflect(y);
    for (let c = j; c < n; c++) R[j]![c] = Q[c]![j]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let c = i + 1; c < n; c++) s -= R[i]![c]! * x[c]!;
    x[i] = R[i]![i]! === 0 ? 0 : s / R[i]![i]!;
  }
  return x;
}

/**
 * y ≈ a + b·x + c·x² by least squares with a, b, c ≥ 0 (a time or a byte count has no negative
 * part; on noisy timings a free fit can turn the intercept negative): the best of the unconstrained
 * fits over the subsets of {1, x, x²} whose coefficients are all ≥ 0 — exact non-negative least
 * squares for three terms. Needs ≥ 3 distinct x. quadraticShare: c·x² over the fit at the largest x.
 */
export function quadraticFit(xs: ArrayLike<number>, ys: ArrayLike<number>): { a: number; b: number; c: number; quadraticShare: number } {
  if (xs.length !== ys.length) throw new ConfigError(`quadraticFit: ${xs.length} x values but ${ys.length} y values`);
  if (new Set(Array.from(xs)).size < 3) throw new ConfigError("quadraticFit: needs at least 3 distinct x values");
  const scale = Math.max(...Array.from(xs, Math.abs)) || 1; // conditioning: fit in x/scale
  const cols = [(x: number) => 1, (x: number) => x / scale, (x: number) => (x / scale) ** 2];
  let best: { coef: number[]; rss: number } | null = null;
  for (let mask = 1; mask < 8; mask++) {
    const use = [0, 1, 2].filter((k) => mask & (1 << k));
    const A = Array.from(xs, (x) => use.map((k) => cols[k]!(x)));
    const sol = leastSquares(A, ys);
    if (Array.from(sol).some((v) => v < 0)) continue;
    const coef = [0, 0, 0];
    use.forEach((k, i) => (coef[k] = sol[i]!));
    let rss = 0;
    for (let i = 0; i < xs.length; i++) rss += (ys[i]! - cols.reduce((acc, f, k) => acc + coef[k]! * f(xs[i]!), 0)) ** 2;
    if (!best || rss < best.rss - 1e-12 * Math.max(1, best.rss)) best = { coef, rss };
  }
  const [a, b, c] = best ? best.coef : [0, 0, 0];
  const xMax = Math.max(...Array.from(xs));
  const total = a! + (b! * xMax) / scale + (c! * xMax ** 2) / scale ** 2;
  return { a: a!, b: b! / scale, c: c! / scale ** 2, quadraticShare: total !== 0 ? (c! * xMax ** 2) / scale ** 2 / total : NaN };
}

/**
 * y ≈ k·x^p by least squares on log y = log k + p·log x: the exponent p of a power law (p ≈ 2 for a
 * cost that is quadratic in x, 1 for a linear one; in between where both terms matter). r2 is the
 * coefficient of determination of the log–log fit. Needs ≥ 2 distinct x, every x and y > 0.
 */
export function powerLawFit(xs: ArrayLike<number>, ys: ArrayLike<number>): { exponent: number; coefficient: number; r2: number } {
  if (xs.length !== ys.length) throw new ConfigError(`powerLawFit: ${xs.length} x values but ${ys.length} y values`);
  for (let i = 0; i < xs.length; i++) {
    if (!(xs[i]! > 0) || !(ys[i]! > 0)) throw new ConfigError(`powerLawFit: point ${i} is (x=${xs[i]}, y=${ys[i]}); a log–log fit needs x > 0 and y > 0`);
  }
  if (new Set(Array.from(xs)).size < 2) throw new ConfigError("powerLawFit: needs at least 2 distinct x values");
  const lx = Array.from(xs, Math.log);
  const ly = Array.from(ys, Math.log);
  const [c0, p] = leastSquares(lx.map((x) => [1, x]), ly);
  const mean = ly.reduce((s, v) => s + v, 0) / ly.length;
  const tot = ly.reduce((s, v) => s + (v - mean) ** 2, 0);
  const res = ly.reduce((s, v, i) => s + (v - (c0! + p! * lx[i]!)) ** 2, 0);
  return { exponent: p!, coefficient: Math.exp(c0!), r2: tot > 0 ? 1 - res / tot : 1 };
}
