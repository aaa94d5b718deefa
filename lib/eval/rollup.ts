/**
 * Rollups of per-example tables: mean accuracy per length, per depth, per length × depth (one group
 * per method), k_max in the sense of PI Table 4 (docs/literature.md, "Position Interpolation (PI)"), perplexity per length, and a
 * plain-text table printer for the CLI.
 *
 * Accuracy means skip rows with correct = null (not run, see the error column); `n` counts the rows
 * that ran and `errors` the rest. k_max is the largest tested length ℓ such that the accuracy is
 * ≥ threshold (default 0.2) at ℓ and at every shorter tested length; a length where nothing ran
 * counts as a failure. No passing length gives null.
 */
import * as aq from "arquero";
import { ConfigError } from "../errors.js";
import type { TableLike } from "../viz/curves.js";
import { bootstrapInterval, wilson } from "./intervals.js";

type Row = Record<string, unknown>;
/** An arquero table or plain rows (lib/viz's TableLike). */
type Rows = TableLike;

const rowsOf = (t: Rows): Row[] => (Array.isArray(t) ? [...(t as Row[])] : ((t as aq.ColumnTable).objects() as Row[]));
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Groups in first-seen order of the key values. */
function groupRows(rows: Row[], keys: readonly string[]): Row[][] {
  const m = new Map<string, Row[]>();
  for (const r of rows) {
    const k = JSON.stringify(keys.map((c) => r[c] ?? null));
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(r);
  }
  return [...m.values()];
}

/** Sorts rows by the given keys (numbers ascending, strings in first-seen order kept stable). */
function sortBy(rows: Row[], keys: readonly string[]): Row[] {
  const seen = new Map<unknown, number>();
  for (const r of rows) for (const k of keys) if (!isNum(r[k]) && r[k] != null && !seen.has(r[k])) seen.set(r[k], seen.size);
  const rank = (v: unknown) => (isNum(v) ? v : v === null || v === undefined ? -Infinity : seen.get(v)!);
  return rows.sort((a, b) => {
    for (const k of keys) {
      const [x, y] = [rank(a[k]), rank(b[k])];
      if (x !== y) return x - y;
    }
    return 0;
  });
}

/**
 * Mean accuracy per group of `keys` (method is added when the table has it): columns keys…, n,
 * errors, accuracy (null if nothing ran), se = √(p(1−p)/n), and the 95 % Wilson interval lo, hi
 * (lib/eval/intervals.ts).
 */
export function accuracyBy(table: Rows, keys: readonly string[], correct = "correct"): aq.ColumnTable {
  const rows = rowsOf(table);
  const ks = rows.length && "method" in rows[0]! && !keys.includes("method") ? ["method", ...keys] : [...keys];
  for (const k of [...ks, correct]) if (rows.length && !(k in rows[0]!)) throw new ConfigError(`accuracyBy: no column "${k}"; columns are ${Object.keys(rows[0]!).join(", ")}`);
  const out = groupRows(rows, ks).map((g) => {
    const vals = g.map((r) => r[correct]).filter((v) => v !== null && v !== undefined).map(Number);
    const n = vals.length;
    const acc = n ? vals.reduce((s, v) => s + v, 0) / n : null;
    const ci = n && vals.every((v) => v === 0 || v === 1) ? wilson(vals.reduce((s: number, v) => s + v, 0), n) : null;
    return { ...Object.fromEntries(ks.map((k) => [k, g[0]![k] ?? null])), n, errors: g.length - n, accuracy: acc, se: acc === null ? null : Math.sqrt((acc * (1 - acc)) / n), lo: ci?.lo ?? null, hi: ci?.hi ?? null };
  });
  return aq.from(sortBy(out, ks));
}

export const accuracyByLength = (t: Rows): aq.ColumnTable => accuracyBy(t, ["length"]);
export const accuracyByDepth = (t: Rows): aq.ColumnTable => accuracyBy(t, ["depth"]);
export const accuracyByLengthDepth = (t: Rows): aq.ColumnTable => accuracyBy(t, ["length", "depth"]);

/** k_max from (length, accuracy) points: the PI Table 4 rule (see the header). */
export function kMaxOf(points: readonly { length: number; accuracy: number | null }[], threshold = 0.2): number | null {
  let best: number | null = null;
  for (const p of [...points].sort((a, b) => a.length - b.length)) {
    if (p.accuracy === null || !(p.accuracy >= threshold)) break;
    best = p.length;
  }
  return best;
}

/**
 * k_max per method from a per-example table: a table with columns method, k_max (or, with
 * `{ by: null }`, all rows pooled into one method "all").
 * @example kMax(results).objects() // [{ method: "RoPE", k_max: 256 }, …]
 */
export function kMax(table: Rows, opts: { threshold?: number; by?: string | null } = {}): aq.ColumnTable {
  const threshold = opts.threshold ?? 0.2;
  if (!(threshold >= 0 && threshold <= 1)) throw new ConfigError(`kMax: threshold=${threshold} must be in [0, 1]`);
  const rows = rowsOf(table);
  const by = opts.by === undefined ? (rows.length && "method" in rows[0]! ? "method" : null) : opts.by;
  const groups = by === null ? [rows] : groupRows(rows, [by]);
  return aq.from(
    groups.filter((g) => g.length).map((g) => {
      const pts = accuracyBy(g.map((r) => ({ length: r.length, correct: r.correct })), ["length"]).objects() as { length: number; accuracy: number | null }[];
      return { method: by === null ? "all" : String(g[0]![by]), k_max: kMaxOf(pts, threshold) };
    }),
  );
}

/**
 * Perplexity per (method, length) from perplexityVsLength rows: windows, scored tokens, the
 * token-weighted mean loss, perplexity = exp(loss), the error when no window ran, and lo, hi: a 95 %
 * percentile bootstrap interval of the perplexity over windows (2,000 resamples, seeded by
 * `seed`, default 0; lib/eval/intervals.ts). `keys` adds grouping columns (e.g. ["seed"]).
 */
export function perplexityByLength(table: Rows, o: { seed?: number | string; reps?: number; keys?: readonly string[] } = {}): aq.ColumnTable {
  const rows = rowsOf(table);
  const keys = ["method", ...(o.keys ?? []), "length"];
  const out = groupRows(rows, keys).map((g) => {
    const ok = g.filter((r) => isNum(r.loss));
    const scored = ok.reduce((s, r) => s + Number(r.scored), 0);
    const loss = scored ? ok.reduce((s, r) => s + Number(r.loss) * Number(r.scored), 0) / scored : null;
    const ci = ok.length ? bootstrapInterval(ok.map((r) => Number(r.loss)), { weights: ok.map((r) => Number(r.scored)), transform: Math.exp, seed: `${o.seed ?? 0}/${g[0]!.method}/${g[0]!.length}`, ...(o.reps ? { reps: o.reps } : {}) }) : null;
    return { ...Object.fromEntries(keys.slice(0, -1).map((k) => [k, g[0]![k] ?? null])), length: g[0]!.length, windows: ok.length, scored, loss, perplexity: loss === null ? null : Math.exp(loss), error: ok.length ? null : (g.find((r) => r.error)?.error ?? null), lo: ci?.lo ?? null, hi: ci?.hi ?? null };
  });
  return aq.from(sortBy(out, ["length"]));
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4);
  return String(v);
}

/** A fixed-width text rendering (header, rule, rows) of a table, for terminals and logs. */
export function formatTable(table: Rows, columns?: readonly string[]): string {
  const rows = rowsOf(table);
  const cols = columns ?? (rows.length ? Object.keys(rows[0]!) : []);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (xs: readonly string[]) => xs.map((x, i) => x.padStart(width[i]!)).join("  ");
  return [line(cols), width.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/**
 * Accuracy as a grid for printing: one row per (method, length), one column per depth ("d=0.5")
 * and "all". Values are accuracies in [0, 1] or null.
 */
export function accuracyGrid(table: Rows): aq.ColumnTable {
  const rows = rowsOf(table);
  const depths = [...new Set(rows.map((r) => r.depth).filter(isNum))].sort((a, b) => a - b);
  const perCell = accuracyByLengthDepth(rows).objects() as Row[];
  const perLen = accuracyByLength(rows).objects() as Row[];
  return aq.from(
    perLen.map((L) => {
      const at = (d: number) => perCell.find((c) => c.length === L.length && c.depth === d && (c.method ?? null) === (L.method ?? null))?.accuracy ?? null;
      return { ...("method" in L ? { method: L.method } : {}), length: L.length, n: L.n, ...Object.fromEntries(depths.map((d) => [`d=${d}`, at(d)])), all: L.accuracy, errors: L.errors };
    }),
  );
}
