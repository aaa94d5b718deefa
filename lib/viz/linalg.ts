/**
 * Float64 linear algebra for the figures (no tensors): PCA by subspace iteration on the covariance
 * with a Rayleigh–Ritz step, cosine similarity (exactly block-averaged), norms and distances, and
 * least squares by Householder QR. Small, deterministic and dependency-free.
 */
import { InputError } from "../errors.js";
import { Rng } from "../tensor/random.js";

/** Dot product of two equal-length vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Euclidean norm ‖a‖. */
export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** cos(a, b) = a·b / (‖a‖‖b‖); 0 if either vector is zero (no direction to compare). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = norm(a) * norm(b);
  return n === 0 ? 0 : dot(a, b) / n;
}

/** ‖v(t+1) − v(t)‖ for t = 0…n−2. */
export function consecutiveDistances(vectors: readonly ArrayLike<number>[]): number[] {
  const out: number[] = [];
  for (let t = 0; t + 1 < vectors.length; t++) {
    const a = vectors[t]!;
    const b = vectors[t + 1]!;
    let s = 0;
    for (let i = 0; i < a.length; i++) s += (b[i]! - a[i]!) ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

/**
 * Cosine similarity averaged over blocks of k consecutive rows and columns: since
 * cos(a, b) = â·b̂, the mean over a block pair is (mean â)·(mean b̂). Exact, and O(n·d + m²·d)
 * instead of O(n²·d), so 8k positions are cheap. k = 1 gives the plain cosine matrix.
 */
export function blockCosine(vectors: readonly ArrayLike<number>[], k = 1): number[][] {
  const n = vectors.length;
  const d = n ? vectors[0]!.length : 0;
  const m = Math.ceil(n / k);
  const means = Array.from({ length: m }, () => new Float64Array(d));
  for (let t = 0; t < n; t++) {
    const v = vectors[t]!;
    const len = norm(v);
    if (len === 0) continue;
    const b = (t / k) | 0;
    const size = Math.min(k, n - b * k);
    const row = means[b]!;
    for (let i = 0; i < d; i++) row[i]! += v[i]! / len / size;
  }
  return means.map((a) => means.map((b) => dot(a, b)));
}

export interface Pca {
  /** mean of the rows */
  mean: number[];
  /** k unit principal directions, largest variance first, sign fixed so the largest |entry| is > 0 */
  components: number[][];
  /** variance along each component */
  variances: number[];
  /** variance along each component / total variance */
  explained: number[];
  /** rows projected: [n][k] */
  scores: number[][];
}

/** Covariance (1/(n−1))·Σ (x−μ)(x−μ)ᵀ of the rows at `idx`, as d×d. */
function covariance(rows: readonly ArrayLike<number>[], idx: number[], mean: Float64Array): Float64Array[] {
  const d = mean.length;
  const C = Array.from({ length: d }, () => new Float64Array(d));
  const x = new Float64Array(d);
  for (const t of idx) {
    const r = rows[t]!;
    for (let i = 0; i < d; i++) x[i] = r[i]! - mean[i]!;
    for (let i = 0; i < d; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      const Ci = C[i]!;
      for (let j = i; j < d; j++) Ci[j]! += xi * x[j]!;
    }
  }
  const denom = Math.max(1, idx.length - 1);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) C[j]![i] = C[i]![j] = C[i]![j]! / denom;
  return C;
}

/**
 * Gram–Schmidt on k vectors, in place. A vector that vanishes (C has rank < k) is replaced by the
 * basis vector e_i with the largest part outside the others' span, so the result is orthonormal.
 */
function orthonormalise(V: Float64Array[]): void {
  const project = (x: Float64Array, a: number) => {
    for (let b = 0; b < a; b++) {
      const p = dot(x, V[b]!);
      for (let i = 0; i < x.length; i++) x[i]! -= p * V[b]![i]!;
    }
    return norm(x);
  };
  for (let a = 0; a < V.length; a++) {
    const before = norm(V[a]!);
    let len = project(V[a]!, a);
    if (!(len > 1e-10 * before)) {
      // the basis vector with the largest part outside span(V[0..a−1])
      const basis = (e: number) => Float64Array.from({ length: V[a]!.length }, (_, i) => (i === e ? 1 : 0));
      const cands = Array.from({ length: V[a]!.length }, (_, e) => { const x = basis(e); return { x, len: project(x, a) }; });
      const best = cands.reduce((m, c) => (c.len > m.len ? c : m));
      [V[a], len] = [best.x, best.len];
    }
    for (let i = 0; i < V[a]!.length; i++) V[a]![i]! /= len;
  }
}

const matVec = (C: Float64Array[], v: Float64Array) => Float64Array.from(C, (row) => dot(row, v));

/** Eigen-decomposition of a small symmetric matrix by cyclic Jacobi: values and vectors (columns). */
export function jacobiEigen(A0: readonly ArrayLike<number>[]): { values: number[]; vectors: number[][] } {
  const k = A0.length;
  const A = A0.map((r) => Float64Array.from(r));
  const V = Array.from({ length: k }, (_, i) => Float64Array.from({ length: k }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += A[p]![q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        if (Math.abs(A[p]![q]!) < 1e-300) continue;
        const th = (A[q]![q]! - A[p]![p]!) / (2 * A[p]![q]!);
        const t = Math.sign(th || 1) / (Math.abs(th) + Math.sqrt(th * th + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const [arp, arq] = [A[r]![p]!, A[r]![q]!];
          A[r]![p] = c * arp - s * arq;
          A[r]![q] = s * arp + c * arq;
        }
        for (let r = 0; r < k; r++) {
          const [apr, aqr] = [A[p]![r]!, A[q]![r]!];
          A[p]![r] = c * apr - s * aqr;
          A[q]![r] = s * apr + c * aqr;
          const [vrp, vrq] = [V[r]![p]!, V[r]![q]!];
          V[r]![p] = c * vrp - s * vrq;
          V[r]![q] = s * vrp + c * vrq;
        }
      }
    }
  }
  return { values: A.map((r, i) => r[i]!), vectors: V.map((r) => Array.from(r)) };
}

/**
 * The top-k principal components of `rows` ([n][d]): subspace iteration on the float64
 * covariance from a seeded start, then Rayleigh–Ritz (Jacobi on the k×k projection) to sort and
 * separate the directions. The covariance is fitted on ≤ `fitRows` evenly strided rows (all
 * rows are projected), which keeps 8k × 768 inputs to about a second.
 * @example pca(vectors, 2).scores  // [n][2]
 */
export function pca(rows: readonly ArrayLike<number>[], k: number, opts: { fitRows?: number; iterations?: number } = {}): Pca {
  const n = rows.length;
  const d = n ? rows[0]!.length : 0;
  k = Math.max(1, Math.min(k, d));
  const step = Math.max(1, Math.ceil(n / (opts.fitRows ?? 2048)));
  const idx = Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);
  const mean = new Float64Array(d);
  for (const t of idx) for (let i = 0; i < d; i++) mean[i]! += rows[t]![i]! / idx.length;
  const C = covariance(rows, idx, mean);
  const rng = new Rng(12345);
  let V = Array.from({ length: k }, () => Float64Array.from({ length: d }, () => rng.normal()));
  orthonormalise(V);
  let total = 0;
  for (let i = 0; i < d; i++) total += C[i]![i]!;
  for (let it = 0; it < (opts.iterations ?? 300); it++) {
    const W = V.map((v) => matVec(C, v));
    for (const w of W) if (norm(w) <= 1e-13 * total) w.fill(0); // null space: rounding noise, not a direction
    orthonormalise(W);
    const change = W.reduce((m, w, a) => Math.max(m, 1 - Math.abs(dot(w, V[a]!))), 0);
    V = W;
    if (change < 1e-14) break;
  }
  const CV = V.map((v) => matVec(C, v));
  const small = V.map((a) => CV.map((cb) => dot(a, cb)));
  const eig = jacobiEigen(small);
  const order = eig.values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const components = order.map(([, c]) => fixSign(Array.from({ length: d }, (_, i) => V.reduce((s, v, a) => s + v[i]! * eig.vectors[a]![c]!, 0))));
  const variances = order.map(([v]) => Math.max(0, v));
  const scores = rows.map((r) => components.map((c) => { let s = 0; for (let i = 0; i < d; i++) s += (r[i]! - mean[i]!) * c[i]!; return s; }));
  return { mean: Array.from(mean), components, variances, explained: variances.map((v) => (total > 0 ? v / total : 0)), scores };
}

/** One principal component of interleaved rotary/sinusoidal coordinates, read by pair. */
export interface PairLoading {
  /** 1-based component number */
  component: number;
  /** its share of the total variance */
  explained: number;
  /** the pairs j (coordinates 2j, 2j+1) that together hold ≥ `cover` of the component's squared norm, ascending */
  pairs: number[];
  /** the share of the component those pairs hold */
  loading: number;
}

/**
 * Which coordinate pairs (2j, 2j+1) each of the top k principal components of `rows` loads on:
 * the fewest pairs, largest first, whose squared loadings c[2j]² + c[2j+1]² sum to ≥ `cover`
 * (default 0.9) of the unit component. Meaningful for interleaved sin/cos layouts (sinusoidal p(t),
 * R(t)·q), where pair j is the frequency ω_j.
 * @example pcaPairs(positionVectors(sinusoidal(), 1024, { cfg }), 2)  // [{ component: 1, explained: 0.128, pairs: [16, …], … }, …]
 */
export function pcaPairs(rows: readonly ArrayLike<number>[], k: number, opts: { cover?: number } = {}): PairLoading[] {
  const cover = opts.cover ?? 0.9;
  if (!(cover > 0 && cover <= 1)) throw new InputError(`pcaPairs: cover must be in (0, 1], got ${cover}`);
  const d = rows.length ? rows[0]!.length : 0;
  if (d < 2 || d % 2) throw new InputError(`pcaPairs: vectors need an even number ≥ 2 of coordinates (pairs 2j, 2j+1), got ${d}`);
  const p = pca(rows, k);
  return p.components.map((c, i) => {
    const w = Array.from({ length: d / 2 }, (_, j) => [j, c[2 * j]! ** 2 + c[2 * j + 1]! ** 2] as const).sort((a, b) => b[1] - a[1]);
    const pairs: number[] = [];
    let loading = 0;
    for (const [j, v] of w) {
      if (loading >= cover) break;
      pairs.push(j);
      loading += v;
    }
    return { component: i + 1, explained: p.explained[i] ?? 0, pairs: pairs.sort((a, b) => a - b), loading };
  });
}

/** Flip a direction so its largest-magnitude entry is positive (deterministic signs). */
function fixSign(v: number[]): number[] {
  let m = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]!) > Math.abs(v[m]!) + 1e-12) m = i;
  return v[m]! < 0 ? v.map((x) => -x) : v;
}

export { leastSquares } from "../util/fit.js";
