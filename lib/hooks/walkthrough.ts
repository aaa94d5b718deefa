/**
 * Algorithm 10 as a table: each pseudo-code line of Phuong & Hutter next to the value it computed
 * in one traced forward pass (shape, mean, std, min, max, the first few numbers), and the
 * difference between two traces of the same input (e.g. ε = 1e-5 vs 0, tanh vs exact GELU).
 * For notebooks/01-algorithm-10.ipynb; the cache comes from `model.trace(x)`.
 *
 *   const { cache } = model.trace(x);
 *   algorithm10Table(cache, { layer: 0 })          // arquero table, one row per line / hook
 *   traceDiff(cache, other.trace(x).cache)         // max |a − b| and ‖a − b‖/‖a‖ per hook
 */
import * as aq from "arquero";
import { ConfigError } from "../errors.js";
import type { ActivationCache } from "./cache.js";
import { hookInfo } from "./names.js";

/** One line of Algorithm 10 (with Alg 4/5 sub-lines "6 (4:n)", "6 (5)" as the hooks name them). */
export interface PseudoLine {
  line: string;
  code: string;
}

/**
 * Algorithm 10 (P ← DTransformer(x | θ)) in the paper's notation, with the lines of Algorithm 4
 * (one head of attention) and 5 (multi-head) that line 6 calls. Orientation as in the paper:
 * X ∈ ℝ^{d_e×ℓ}, one column per token.
 */
export const ALGORITHM_10: readonly PseudoLine[] = [
  { line: "1", code: "ℓ ← length(x)" },
  { line: "2", code: "for t ∈ [ℓ]: e_t ← W_e[:, x[t]] + W_p[:, t]" },
  { line: "3", code: "X ← [e_1, e_2, …, e_ℓ]" },
  { line: "4", code: "for l = 1, 2, …, L do" },
  { line: "5", code: "  for t ∈ [ℓ]: X̃[:, t] ← layer_norm(X[:, t] | γ¹_l, β¹_l)" },
  { line: "6", code: "  X ← X + MHAttention(X̃ | W_l, Mask[t, t′] = [[t ≤ t′]])" },
  { line: "6 (4:1)", code: "    Q ← W_q X̃ + b_q 1ᵀ" },
  { line: "6 (4:2)", code: "    K ← W_k X̃ + b_k 1ᵀ" },
  { line: "6 (4:3)", code: "    V ← W_v X̃ + b_v 1ᵀ" },
  { line: "6 (4:4–5)", code: "    S ← KᵀQ; S[t_z, t_x] ← −∞ where ¬Mask[t_z, t_x]" },
  { line: "6 (4:6)", code: "    Ṽ = V · softmax(S/√d_attn)" },
  { line: "6 (5)", code: "    Y = [Y¹; Y²; …; Y^H]; return W_o Y + b_o 1ᵀ" },
  { line: "7", code: "  for t ∈ [ℓ]: X̃[:, t] ← layer_norm(X[:, t] | γ²_l, β²_l)" },
  { line: "8", code: "  X ← X + W^l_mlp2 GELU(W^l_mlp1 X̃ + b^l_mlp1 1ᵀ) + b^l_mlp2 1ᵀ" },
  { line: "9", code: "end" },
  { line: "10", code: "for t ∈ [ℓ]: X[:, t] ← layer_norm(X[:, t] | γ, β)" },
  { line: "11", code: "return P = softmax(W_u X)" },
];

/** Scores at or below this are masked entries (MASK_VALUE = −1e9) and left out of the statistics. */
const MASKED = -1e8;

export interface WalkthroughOptions {
  /** which layer's lines 5–8 to show (default 0); "all" shows every layer */
  layer?: number | "all";
  /** how many leading numbers of each value to show (default 4) */
  preview?: number;
  /** ℓ, for line 1 (default: read from the trace) */
  length?: number;
}

/** Summary statistics of a value, masked scores excluded. */
export interface ValueStats {
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  nonFinite: number;
}

/** mean, std, min, max over the finite, unmasked entries; nonFinite counts NaN and ±∞. */
export function valueStats(values: ArrayLike<number>): ValueStats {
  let count = 0;
  let sum = 0;
  let sq = 0;
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v <= MASKED) continue;
    count++;
    sum += v;
    sq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = count ? sum / count : NaN;
  return { count, mean, std: count ? Math.sqrt(Math.max(0, sq / count - mean * mean)) : NaN, min: count ? min : NaN, max: count ? max : NaN, nonFinite };
}

const fmt = (v: number): string => (Number.isNaN(v) ? "NaN" : !Number.isFinite(v) ? (v > 0 ? "∞" : "−∞") : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(4));

/** The hooks of the cache that belong to `layer` (plus the layer-free ones), in visiting order. */
function hooksOf(cache: ActivationCache, layer: number | "all"): string[] {
  return cache.names().filter((n) => {
    const info = hookInfo(n);
    return info?.layer === undefined || layer === "all" || info.layer === layer;
  });
}

/**
 * One row per line of Algorithm 10, each followed by the traced values computed at that line: the
 * hook name, the paper's symbol, the shape as stored (row-major: [B, ℓ, d_e] is the paper's
 * d_e×ℓ per sequence), mean / std / min / max (masked scores excluded), non-finite count and the
 * first `preview` numbers. Lines with no value (1, 4, 9) show ℓ, L or nothing.
 */
export function algorithm10Table(cache: ActivationCache, o: WalkthroughOptions = {}): aq.ColumnTable {
  const layer = o.layer ?? 0;
  const preview = o.preview ?? 4;
  if (layer !== "all" && !(Number.isInteger(layer) && layer >= 0)) throw new ConfigError(`algorithm10Table: layer must be an integer ≥ 0 or "all", got ${JSON.stringify(layer)}`);
  const hooks = hooksOf(cache, layer);
  const layers = new Set(cache.names().map((n) => hookInfo(n)?.layer).filter((l): l is number => l !== undefined));
  if (layer !== "all" && !layers.has(layer)) throw new ConfigError(`algorithm10Table: the trace has layers ${[...layers].join(", ")}, not ${layer}`);
  const embed = cache.has("hook_embed") ? cache.get("hook_embed").shape : [];
  const ell = o.length ?? embed[embed.length - 2] ?? NaN;
  const rows: Record<string, unknown>[] = [];
  const pushLine = (p: PseudoLine, value = "") => rows.push({ line: p.line, pseudocode: p.code, hook: "", symbol: "", shape: "", value, mean: null, std: null, min: null, max: null, non_finite: null });
  const used = new Set<string>();
  const pushHooks = (names: string[]) => {
    for (const name of names) {
      used.add(name);
      const t = cache.get(name);
      const data = t.dataSync();
      const s = valueStats(data);
      const first = Array.from(data.subarray(0, preview), fmt).join(", ");
      rows.push({
        line: "", pseudocode: "", hook: name, symbol: hookInfo(name)?.symbol ?? "", shape: `[${t.shape.join(", ")}]`,
        value: `[${first}${data.length > preview ? ", …" : ""}]`,
        mean: s.mean, std: s.std, min: s.min, max: s.max, non_finite: s.nonFinite,
      });
    }
  };
  const inLoop = (line: string) => /^[5-8]/.test(line);
  const at = (line: string, l?: number) => hooks.filter((n) => hookInfo(n)?.line === line && (l === undefined || hookInfo(n)?.layer === l));
  const loopLayers = layer === "all" ? [...layers].sort((a, b) => a - b) : [layer];
  for (const p of ALGORITHM_10) {
    if (inLoop(p.line)) continue;
    if (p.line === "1") pushLine(p, `ℓ = ${ell}`);
    else if (p.line === "4") pushLine(p, `L = ${layers.size}${layer === "all" ? "" : `; showing l = ${layer + 1} (blocks.${layer})`}`);
    else pushLine(p);
    if (p.line !== "4") pushHooks(at(p.line));
    if (p.line !== "4") continue;
    // the loop body, once per shown layer; line 6's own results (W_o Y + b_o, the new X) come
    // after the Alg 4/5 lines it calls
    for (const l of loopLayers) {
      for (const q of ALGORITHM_10.filter((r) => inLoop(r.line))) {
        pushLine(q, layer === "all" && q.line === "5" ? `l = ${l + 1} (blocks.${l})` : "");
        if (q.line !== "6") pushHooks(at(q.line, l));
        if (q.line === "6 (5)") pushHooks(at("6", l));
      }
    }
  }
  const rest = hooks.filter((n) => !used.has(n));
  if (rest.length) throw new ConfigError(`algorithm10Table: hooks without an Algorithm 10 line: ${rest.join(", ")}`);
  return aq.from(rows);
}

/**
 * Per hook present in both traces: max |a − b| and ‖a − b‖/‖a‖ (relative), and how many entries are
 * non-finite in each. Scores masked in both traces (−1e9) are left out, so they do not swamp ‖a‖.
 */
export function traceDiff(a: ActivationCache, b: ActivationCache, o: { layer?: number | "all" } = {}): aq.ColumnTable {
  const names = hooksOf(a, o.layer ?? "all").filter((n) => b.has(n));
  if (!names.length) throw new ConfigError("traceDiff: the two traces share no activation");
  const rows = names.map((name) => {
    const [x, y] = [a.get(name), b.get(name)];
    if (x.shape.join() !== y.shape.join()) throw new ConfigError(`traceDiff: ${name} has shape [${x.shape}] in one trace and [${y.shape}] in the other`);
    const [u, v] = [x.dataSync(), y.dataSync()];
    let maxAbs = 0;
    let diff2 = 0;
    let norm2 = 0;
    let nonA = 0;
    let nonB = 0;
    for (let i = 0; i < u.length; i++) {
      const [p, q] = [u[i]!, v[i]!];
      if (!Number.isFinite(p)) nonA++;
      if (!Number.isFinite(q)) nonB++;
      if (!Number.isFinite(p) || !Number.isFinite(q)) continue;
      if (p <= MASKED && q <= MASKED) continue; // masked scores in both traces
      const d = Math.abs(p - q);
      if (d > maxAbs) maxAbs = d;
      diff2 += d * d;
      norm2 += p * p;
    }
    const info = hookInfo(name);
    return { hook: name, line: info?.line ?? "", symbol: info?.symbol ?? "", max_abs_diff: maxAbs, rel_diff: norm2 > 0 ? Math.sqrt(diff2 / norm2) : diff2 > 0 ? Infinity : 0, non_finite_a: nonA, non_finite_b: nonB };
  });
  return aq.from(rows);
}
