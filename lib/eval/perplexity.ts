/**
 * Perplexity against evaluation length: for each ℓ, the mean next-token loss (nats) and perplexity
 * exp(loss) of windows of ℓ tokens of held-out text (default: Moby Dick's validation split,
 * lib/data/corpus.ts, under the tokenizer the model's N_V implies). The measurement of PI Tables 1–3 and ALiBi §4,
 * docs/literature.md, "Position Interpolation (PI)". Modes:
 *
 *   "sequential" (default)  non-overlapping windows at 0, ℓ, 2ℓ, …; each scores its ℓ − 1 predictions
 *   "random"                 window starts drawn uniformly from [0, T − ℓ] with Rng(seed)
 *   "sliding"                YaRN Table 1 (§3.4) / Hugging Face's strided perplexity: windows at 0, S,
 *                            2S, … (stride S < ℓ); the first scores its ℓ − 1 predictions, each later
 *                            one only its last S tokens (new text, each seen with ≥ ℓ − S context)
 *
 * One row per window: method, mode, length, window, start, scored (predicted tokens), loss,
 * perplexity, error. A model with a positional table (learned W_p) and ℓ > ℓ_max gets one row with
 * error "ℓ > ℓ_max" and null loss, so curves stop there instead of the sweep crashing. Text shorter
 * than ℓ gives one row with error "text shorter than ℓ". The rollup (perplexityByLength) weights
 * windows by their scored tokens.
 */
import * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import { corpusSplit, mobyDick } from "../data/corpus.js";
import type { Tokenizer } from "../data/types.js";
import type { HookFilter, HookFn } from "../hooks/context.js";
import type { DTransformer } from "../model/dtransformer.js";
import { currentSignal, startProgress } from "../runtime/context.js";
import { forwardMacs, refuseLongRunOnCpu } from "../runtime/long-run.js";
import { Rng } from "../tensor/random.js";
import { cut2d } from "../engine/attention-chunked.js";
import { checkVocab, defaultTokenizer } from "./common.js";
import { OVER_LMAX } from "./types.js";

export type PerplexityMode = "sequential" | "random" | "sliding";

export interface PerplexityOptions {
  lengths: readonly number[];
  /** windows per ℓ (default 8; fewer when the text is short) */
  windows?: number;
  /** default "sequential" */
  mode?: PerplexityMode;
  /** S for "sliding" (default ℓ/2, rounded down, ≥ 1) */
  stride?: number;
  /** seed of "random" starts (default 0) */
  seed?: number | string;
  /** token ids of the held-out text; else `text` under `tokenizer`; else Moby Dick's validation split */
  tokens?: ArrayLike<number>;
  text?: string;
  /** default: by the model's N_V (259 or 256: bytes, 50257: GPT-2 BPE) */
  tokenizer?: Tokenizer;
  /** method column (default the model's positional label) */
  label?: string;
  hooks?: readonly (readonly [HookFilter, HookFn])[];
  signal?: AbortSignal;
  /** score ≥ LONG_RUN_MACS multiply-adds on TF.js's slow cpu backend although wasm is available (lib/runtime/long-run.ts) */
  allowCpu?: boolean;
}

export interface PerplexityRow {
  method: string;
  mode: PerplexityMode;
  length: number;
  window: number;
  start: number | null;
  scored: number;
  loss: number | null;
  perplexity: number | null;
  error: string | null;
}

/** A window: its start, and the index (within the window) of the first scored prediction target. */
export interface Window {
  start: number;
  scoreFrom: number;
}

/** The windows of one ℓ over T tokens (scoreFrom = 1: all ℓ − 1 predictions are scored). */
export function windowsFor(T: number, length: number, n: number, mode: PerplexityMode, o: { stride?: number; seed?: number | string } = {}): Window[] {
  const room = T - length; // last valid start
  if (room < 0) return [];
  if (mode === "sequential") return Array.from({ length: Math.min(n, Math.floor(T / length)) }, (_, k) => ({ start: k * length, scoreFrom: 1 }));
  if (mode === "random") {
    const rng = new Rng(`${o.seed ?? 0}/${length}`);
    return Array.from({ length: n }, () => ({ start: rng.int(0, room + 1), scoreFrom: 1 }));
  }
  const S = o.stride ?? Math.max(1, Math.floor(length / 2));
  if (!Number.isSafeInteger(S) || S < 1 || S > length) throw new ConfigError(`perplexity: stride S=${S} must be an integer in [1, ℓ=${length}]`);
  const out: Window[] = [];
  for (let k = 0; k < n && k * S <= room; k++) out.push({ start: k * S, scoreFrom: k === 0 ? 1 : length - S });
  return out;
}

/**
 * Floats per temporary of the log-softmax in tokenLosses (4 Mi floats = 16 MiB): it runs over blocks of
 * ⌊LOSS_CHUNK_FLOATS / N_V⌋ rows (at least 1), not over all ℓ − 1 rows at once. Exact (each row's
 * log-softmax is independent; the same kernels per row). Why: at N_V = 50,257 and ℓ = 2,048 the
 * whole-window version held the logits plus a slice, the shifted logits, their exp and the
 * log-softmax, five [ℓ, N_V] tensors of 412 MB, and the wasm heap (capped at 4 GiB, never shrinking)
 * grew to its cap: a few more windows or a larger model ended in "memory access out of bounds".
 */
export const LOSS_CHUNK_FLOATS = 1 << 22;

/**
 * Per-token losses −log P(x[t+1] | x[≤t]) of one window: ℓ − 1 values (float64). The forward is
 * checked against the memory left (checkFits, on wasm); the loss then needs only one block of rows
 * at a time (LOSS_CHUNK_FLOATS; `rowsPerChunk` overrides it, for tests).
 */
export function tokenLosses(model: DTransformer, ids: readonly number[], hooks?: PerplexityOptions["hooks"], o: { rowsPerChunk?: number } = {}): Float64Array {
  const logits = model.logits(ids as number[], hooks?.length ? { hooks } : {}) as tf.Tensor;
  try {
    const n = ids.length - 1;
    const V = logits.shape[1]!;
    const rows = Math.max(1, Math.min(n, o.rowsPerChunk ?? Math.floor(LOSS_CHUNK_FLOATS / V)));
    const out = new Float64Array(Math.max(0, n));
    for (let r0 = 0; r0 < n; r0 += rows) {
      const k = Math.min(rows, n - r0);
      const picked = tf.tidy(() => {
        const logP = tf.logSoftmax(cut2d(logits, r0, k), -1); // not tf.slice: on wasm it copies the whole [ℓ, N_V] input per block
        const flat = tf.add(tf.mul(tf.range(0, k, 1, "int32"), tf.scalar(V, "int32")), tf.tensor1d(ids.slice(r0 + 1, r0 + 1 + k) as number[], "int32"));
        return tf.gather(tf.reshape(logP, [-1]), flat);
      });
      const v = picked.dataSync();
      picked.dispose();
      for (let i = 0; i < k; i++) out[r0 + i] = -v[i]!;
    }
    return out;
  } finally {
    logits.dispose();
  }
}

/** The held-out token stream of the options (default: Moby Dick's validation split under the model's tokenizer). */
export function heldOutTokens(o: Pick<PerplexityOptions, "tokens" | "text" | "tokenizer">, nVocab: number): ArrayLike<number> {
  if (o.tokens) return o.tokens;
  const tok = o.tokenizer ?? defaultTokenizer(nVocab);
  checkVocab(tok, nVocab);
  return tok.encode(o.text ?? corpusSplit(mobyDick()).val);
}

function checkLengths(lengths: readonly number[]): void {
  if (!Array.isArray(lengths) || lengths.length === 0) throw new ConfigError("perplexity: lengths must be a non-empty list of ℓ values");
  for (const l of lengths) if (!Number.isSafeInteger(l) || l < 2) throw new ConfigError(`perplexity: length ℓ=${l} must be an integer ≥ 2`);
}

/**
 * Loss and perplexity per window for each ℓ (rows in ℓ order). Stops at the next window when
 * `signal` aborts and returns the rows so far.
 * @example const t = await perplexityVsLength(model, { lengths: [64, 128, 256, 512], windows: 8 });
 */
export async function perplexityVsLength(model: DTransformer, o: PerplexityOptions): Promise<aq.ColumnTable> {
  checkLengths(o.lengths);
  const n = o.windows ?? 8;
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`perplexity: windows=${n} must be an integer ≥ 1`);
  const mode = o.mode ?? "sequential";
  if (!["sequential", "random", "sliding"].includes(mode)) throw new ConfigError(`perplexity: mode="${mode}" must be "sequential", "random" or "sliding"`);
  const tokens = heldOutTokens(o, model.cfg.nVocab);
  const method = o.label ?? model.positional.label;
  const limit = model.positional.maxPositions?.(model.cfg);
  const signal = currentSignal(o.signal);
  const plan = o.lengths.map((length) => ({ length, windows: limit !== undefined && length > limit ? [] : windowsFor(tokens.length, length, n, mode, o) }));
  const macs = plan.reduce((n, p) => n + p.windows.length * forwardMacs(model.cfg, p.length), 0);
  await refuseLongRunOnCpu(`perplexity of ${plan.reduce((n, p) => n + p.windows.length, 0)} windows (${method})`, macs, o.allowCpu);
  const progress = startProgress(`perplexity (${method})`, plan.reduce((s, p) => s + Math.max(1, p.windows.length), 0));
  const rows: PerplexityRow[] = [];
  const base = { method, mode };
  let done = 0;
  for (const { length, windows } of plan) {
    if (signal?.aborted) break;
    if (windows.length === 0) {
      const error = limit !== undefined && length > limit ? OVER_LMAX : "text shorter than ℓ";
      rows.push({ ...base, length, window: 0, start: null, scored: 0, loss: null, perplexity: null, error });
      progress.update(++done, { ℓ: length });
      continue;
    }
    for (let w = 0; w < windows.length; w++) {
      if (signal?.aborted) break;
      const { start, scoreFrom } = windows[w]!;
      const ids = Array.from({ length }, (_, i) => tokens[start + i]!);
      const losses = tokenLosses(model, ids, o.hooks).subarray(scoreFrom - 1);
      const loss = losses.reduce((s, v) => s + v, 0) / losses.length;
      rows.push({ ...base, length, window: w, start, scored: losses.length, loss, perplexity: Math.exp(loss), error: null });
      progress.update(++done, { ℓ: length, loss });
      await new Promise((r) => setImmediate(r)); // let an interrupt in
    }
  }
  progress.end(signal?.aborted ? `interrupted after ${done} windows` : "done");
  return perplexityTable(rows);
}

export const PERPLEXITY_COLUMNS = ["method", "mode", "length", "window", "start", "scored", "loss", "perplexity", "error"] as const satisfies readonly (keyof PerplexityRow)[];

/** Rows as an arquero table with the columns above (also when empty). */
export function perplexityTable(rows: readonly PerplexityRow[]): aq.ColumnTable {
  return aq.table(Object.fromEntries(PERPLEXITY_COLUMNS.map((c) => [c, rows.map((r) => r[c])])));
}
