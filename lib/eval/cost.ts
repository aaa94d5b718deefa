/**
 * Memory and compute of one forward pass against ℓ (the question's worry A): for each ℓ, the
 * fastest wall time of `repeats` forwards (the one least disturbed by other load on the machine) and the peak bytes of tensors alive during one of them
 * (tf.profile's peakBytes, measured on the backend in use), next to the model's estimate
 * (lib/model/memory-estimate.ts) and the size of one layer's attention scores, B·H·ℓ²·4 bytes —
 * the term that makes unchunked attention quadratic in ℓ.
 *
 *   const t = await forwardCost(model, { lengths: [128, 256, 512, 1024], attention: "per-head" });
 *   quadraticFit(t.array("length"), t.array("ms"))   // ms ≈ a + b·ℓ + c·ℓ²
 *   costVsLength(t)                                   // lib/viz/compare.ts
 *
 * Times are measurements of this machine (they vary run to run); the byte counts are deterministic.
 */
import * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import type { DTransformer } from "../model/dtransformer.js";
import type { AttentionMode } from "../engine/layout-options.js";
import { forwardMemory } from "../engine/memory-estimate.js";
import { currentSignal, startProgress } from "../runtime/context.js";

export type { AttentionMode };

export interface ForwardCostOptions {
  /** ℓ values (each ≤ ℓ_max under a learned W_p) */
  lengths: readonly number[];
  /** B sequences per pass (default 1) */
  batch?: number;
  /** timed forwards per ℓ after one untimed warm-up (default 3) */
  repeats?: number;
  /** attention layout mode for the run (default "auto"; the model itself is not changed) */
  attention?: AttentionMode;
  /** the method column (default the attention mode) */
  label?: string;
  signal?: AbortSignal;
}

export interface ForwardCostRow {
  method: string;
  length: number;
  batch: number;
  /** fastest wall time of one forward over the repeats (ms) */
  ms: number;
  /** peak bytes of live tensors during one forward (tf.profile) */
  peak_bytes: number;
  /** bytes held by the model's parameters (excluded from peak_bytes' new allocations) */
  param_bytes: number;
  /** lib/model/memory-estimate.ts's estimate of the pass (activations + attention + logits + parameters) */
  estimate_bytes: number;
  /** one layer's attention scores and pattern: 2·B·H·ℓ²·4 bytes */
  score_bytes: number;
  chunked: boolean;
}

export const COST_COLUMNS = ["method", "length", "batch", "ms", "peak_bytes", "param_bytes", "estimate_bytes", "score_bytes", "chunked"] as const satisfies readonly (keyof ForwardCostRow)[];


/** Deterministic tokens for a pass: B rows of ℓ ids in [0, N_V). */
function tokens(nVocab: number, batch: number, length: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length }, (_, t) => (t * 31 + b * 7 + 1) % nVocab));
}

/**
 * Times and measures one forward pass per ℓ (see the header). Stops at the next ℓ on abort and
 * returns the rows measured so far.
 */
export async function forwardCost(model: DTransformer, o: ForwardCostOptions): Promise<aq.ColumnTable> {
  const { lengths, batch = 1, repeats = 3, attention = "auto" } = o;
  if (!Array.isArray(lengths) || !lengths.length || !lengths.every((l) => Number.isSafeInteger(l) && l >= 1)) throw new ConfigError(`forwardCost: lengths must be a non-empty list of integers ≥ 1, got ${JSON.stringify(lengths)}`);
  if (!Number.isSafeInteger(batch) || batch < 1) throw new ConfigError(`forwardCost: batch must be an integer ≥ 1, got ${batch}`);
  if (!Number.isSafeInteger(repeats) || repeats < 1) throw new ConfigError(`forwardCost: repeats must be an integer ≥ 1, got ${repeats}`);
  if (!["auto", "per-head", "batched", "chunked"].includes(attention)) throw new ConfigError(`forwardCost: attention must be auto, per-head, batched or chunked, got ${JSON.stringify(attention)}`);
  const signal = currentSignal(o.signal);
  const method = o.label ?? attention;
  const cfg = model.cfg;
  const m = model.withAttentionLayout({ mode: attention });
  const progress = startProgress(`forward cost (${method})`, lengths.length);
  const rows: ForwardCostRow[] = [];
  {
    for (const length of lengths) {
      if (signal?.aborted) break;
      const x = tokens(cfg.nVocab, batch, length);
      const once = () => tf.tidy(() => m.logits(x)).dispose();
      once(); // warm-up: kernel compilation, buffers
      const times: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        tf.tidy(() => m.logits(x).dataSync()); // dataSync: wait for the backend to finish
        times.push(performance.now() - t0);
      }
      const info = await tf.profile(once);
      const est = forwardMemory(cfg, { batch, length, layout: m.layout });
      rows.push({
        method, length, batch, ms: Math.min(...times), peak_bytes: info.peakBytes, param_bytes: est.params,
        estimate_bytes: est.bytes, score_bytes: 2 * batch * cfg.nHeads * length * length * 4, chunked: est.chunked,
      });
      progress.update(rows.length, { ℓ: length, ms: Math.round(Math.min(...times)) });
      await new Promise((res) => setImmediate(res)); // let an interrupt in
    }
  }
  progress.end(signal?.aborted ? `interrupted after ${rows.length}/${lengths.length} lengths` : `${rows.length} lengths measured`);
  return aq.table(Object.fromEntries(COST_COLUMNS.map((c) => [c, rows.map((r) => r[c])])));
}

export { quadraticFit, powerLawFit } from "../util/fit.js";
