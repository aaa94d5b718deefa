/**
 * Long runs and the slow `cpu` backend. TF.js's plain-JavaScript "cpu" backend is what TF.js computes
 * on when nothing selected a backend; it is far slower than wasm (CPU_SLOWDOWN in lib/tensor/backend.ts)
 * and holds far more memory. Every library entry point that can start a long
 * computation (training, evaluation sweeps, perplexity, generation, the recipes, the experiment,
 * pretraining, timing sweeps) estimates its work in multiply-adds first and calls
 * {@link refuseLongRunOnCpu}: work of at least {@link LONG_RUN_MACS} on a cpu backend nobody asked
 * for, while wasm is available, is refused with the reason and what to do. Small work runs anywhere.
 *
 * The estimate counts the matrix products of Algorithm 10 — projections, attention scores and
 * weighted values (the full ℓ × ℓ square, as the layouts compute it), the MLP and the unembedding —
 * and ignores element-wise work: it is the dominant term, not a prediction of time.
 */
import type { DTransformerConfig } from "../config.js";
import { refuseSlowBackend } from "../tensor/backend.js";

/** Work (multiply-adds) from which an entry point refuses an unrequested cpu backend: ~1e9, a few seconds on cpu, a fraction of a second on wasm. */
export const LONG_RUN_MACS = 1e9;

/** The sizes of a model the estimate needs (a DTransformerConfig has them all). */
export type WorkConfig = Pick<DTransformerConfig, "nVocab" | "nLayers" | "nHeads" | "dE" | "dMlp" | "dAttn" | "dMid"> & Partial<Pick<DTransformerConfig, "nKvHeads" | "mlp">>;

/** Multiply-adds of the matrix products for one token of one layer, not counting attention over the context. */
function perTokenLayer(cfg: WorkConfig): number {
  const H = cfg.nHeads;
  const Hkv = cfg.nKvHeads ?? H;
  const proj = cfg.dE * (H * cfg.dAttn + Hkv * cfg.dAttn + Hkv * cfg.dMid) + H * cfg.dMid * cfg.dE;
  const mlp = (cfg.mlp === "gated-silu" ? 3 : 2) * cfg.dE * cfg.dMlp;
  return proj + mlp;
}

/** Multiply-adds of one token attending over `context` positions in every layer (scores and weighted values). */
function attentionMacs(cfg: WorkConfig, context: number): number {
  return cfg.nLayers * context * cfg.nHeads * (cfg.dAttn + cfg.dMid);
}

/** Multiply-adds of one forward pass over `rows` sequences of `length` tokens (logits at every position). */
export function forwardMacs(cfg: WorkConfig, length: number, rows = 1): number {
  const perToken = cfg.nLayers * perTokenLayer(cfg) + cfg.dE * cfg.nVocab + attentionMacs(cfg, length);
  return rows * length * perToken;
}

/** Multiply-adds of one training step on `rows` sequences of `length` tokens: forward and backward, ≈ 3 forwards. */
export function trainingMacs(cfg: WorkConfig, length: number, rows = 1): number {
  return 3 * forwardMacs(cfg, length, rows);
}

/**
 * Multiply-adds of generating `newTokens` after a prompt of `promptLength` tokens: with a KV cache,
 * the prompt's pass and then one token at a time over the growing context; without, a full forward
 * of the whole sequence for every new token.
 */
export function generationMacs(cfg: WorkConfig, promptLength: number, newTokens: number, cache = true): number {
  if (!cache) {
    let total = 0;
    for (let i = 0; i < newTokens; i++) total += forwardMacs(cfg, promptLength + i);
    return total;
  }
  const step = cfg.nLayers * perTokenLayer(cfg) + cfg.dE * cfg.nVocab;
  // new token i attends over promptLength + i positions: Σ_i (promptLength + i)
  const context = newTokens * promptLength + (newTokens * (newTokens - 1)) / 2;
  return forwardMacs(cfg, promptLength) + newTokens * step + attentionMacs(cfg, 1) * context;
}

/** "3.2·10⁹ multiply-adds" */
export function formatMacs(macs: number): string {
  if (!Number.isFinite(macs)) return `${macs} multiply-adds`;
  if (macs < 1e4) return `${Math.round(macs)} multiply-adds`;
  const e = Math.floor(Math.log10(macs));
  const sup = String(e).replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[Number(d)]!);
  return `${(macs / 10 ** e).toFixed(1)}·10${sup} multiply-adds`;
}

/**
 * Entry points call this once their options are checked, with their work in multiply-adds. Work below
 * LONG_RUN_MACS runs on any backend. Above it, on TF.js's cpu backend while the wasm backend is
 * available, unless cpu was chosen by name (`useBackend("cpu")`, CTXLAB_BACKEND=cpu) or `allowCpu`
 * is true, it throws a BackendError that says why and what to do (refuseSlowBackend).
 *
 * @param what - the call and its size, for the message ("runEval: 840 examples")
 * @param macs - the estimated work, e.g. from forwardMacs / trainingMacs / generationMacs
 * @param allowCpu - the caller's explicit consent to run on cpu (the entry point's option)
 */
export async function refuseLongRunOnCpu(what: string, macs: number, allowCpu = false): Promise<void> {
  if (allowCpu || !(macs >= LONG_RUN_MACS)) return;
  await refuseSlowBackend(`${what} (about ${formatMacs(macs)}; long runs start at ${formatMacs(LONG_RUN_MACS)})`, false);
}

/**
 * Multiply-adds of one training step drawn from a batch source, from its `describe()` record: a
 * fixed { batch, length }, a length mixture ({ mixture: [{ length, weight }], batch | batchTokens }),
 * or a mixed source ({ sources: [{ weight, source }] }), weighted by probability. Undefined when the
 * record does not say (a custom source): then the caller measures a drawn batch.
 */
export function describedStepMacs(cfg: WorkConfig, d: Record<string, unknown> | undefined): number | undefined {
  if (!d || typeof d !== "object") return undefined;
  const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined);
  const batch = num(d.batch);
  const length = num(d.length);
  if (batch !== undefined && length !== undefined) return trainingMacs(cfg, length, batch);
  if (Array.isArray(d.mixture)) {
    const batchTokens = num(d.batchTokens);
    let total = 0;
    for (const c of d.mixture as { length?: unknown; weight?: unknown }[]) {
      const l = num(c?.length);
      const w = num(c?.weight) ?? 0;
      if (l === undefined || (batch === undefined && batchTokens === undefined)) return undefined;
      total += w * trainingMacs(cfg, l, batch ?? Math.max(1, Math.floor(batchTokens! / l)));
    }
    return total;
  }
  if (Array.isArray(d.sources)) {
    let total = 0;
    for (const p of d.sources as { weight?: unknown; source?: unknown }[]) {
      const part = describedStepMacs(cfg, p?.source as Record<string, unknown> | undefined);
      if (part === undefined) return undefined;
      total += (num(p?.weight) ?? 0) * part;
    }
    return total;
  }
  return undefined;
}
