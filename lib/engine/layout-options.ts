/**
 * Which arrangement of attention's arithmetic runs: an explicit option, per model
 * (`model.withAttentionLayout(...)`) or per call (`model.logits(x, { layout })`), never a global.
 * Training workers receive their model's layout as data. Every layout computes the same values
 * (test/model/fused-attention.test.ts, chunked.test.ts); only speed and memory differ.
 *
 *   "auto"      hooks → batched; long inputs → chunked; with a KV cache → batched; otherwise
 *               per-head 2-D products on wasm (fused when the encoding has no rotation or bias), batched elsewhere;
 *   "per-head"  one (batch, head) block at a time as 2-D products (XNNPACK's fast path on wasm);
 *   "batched"   one 4-D product over a head axis (what hooks see; large kernels win on tfjs-node);
 *   "chunked"   blocks of `chunk` query rows: attention memory O(ℓ·chunk) instead of O(B·H·ℓ²).
 */
import { ConfigError } from "../errors.js";
import type { AttendOptions } from "./seams.js";

export type AttentionMode = "auto" | "per-head" | "batched" | "chunked";
export const ATTENTION_MODES: readonly AttentionMode[] = ["auto", "per-head", "batched", "chunked"];

/** Default number of query rows per block of the chunked layout. */
export const DEFAULT_CHUNK = 1024;

export interface AttentionLayout {
  mode: AttentionMode;
  /** query rows per block of the chunked layout */
  chunk: number;
  /** "auto" chunks when ℓ_q is above this */
  chunkAbove: number;
  /** "auto" chunks when one layer's unchunked score tensors would exceed this many bytes */
  scoreBudgetBytes: number;
}

/** The defaults: automatic choice, 1,024 rows per block, chunk above ℓ_q = 2,048 or 256 MiB of scores. */
export const DEFAULT_LAYOUT: Readonly<AttentionLayout> = Object.freeze({ mode: "auto", chunk: DEFAULT_CHUNK, chunkAbove: 2048, scoreBudgetBytes: 256 * 2 ** 20 });

/** A full layout from a partial one, checked (ConfigError naming the field, the value and the rule). */
export function resolveLayout(l: Partial<AttentionLayout> | undefined, where = "attention layout"): AttentionLayout {
  if (l === undefined) return DEFAULT_LAYOUT;
  const r = { ...DEFAULT_LAYOUT, ...l };
  if (!ATTENTION_MODES.includes(r.mode)) throw new ConfigError(`${where}: mode=${JSON.stringify(r.mode)} must be one of ${ATTENTION_MODES.join(", ")}`);
  for (const k of ["chunk", "chunkAbove", "scoreBudgetBytes"] as const) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 1) throw new ConfigError(`${where}: ${k}=${r[k]} must be an integer ≥ 1`);
  }
  return r;
}

/**
 * Bytes of the score tensors the unchunked layouts keep alive for one layer: ~4 [ℓ_q, ℓ_k] tensors
 * per (batch, head) (scores, scaled, masked, softmax) plus the shared mask, and 3 per head more with
 * a per-head score bias. The automatic choice compares this with its budget; memory-estimate.ts uses it too.
 */
export function unchunkedScoreBytes(B: number, H: number, lq: number, lk: number, perHeadBias = false): number {
  return 4 * lq * lk * (4 * B * H + 1 + (perHeadBias ? 3 * H : 0));
}

/**
 * Which layout runs B sequences of ℓ_q queries over ℓ_k keys on `backend`. Hooks need the batched
 * [B, H, ℓ, d] tensors. Otherwise long inputs are chunked (ℓ_q > chunkAbove, or the unchunked
 * scores of one layer over scoreBudgetBytes; e.g. B = 4, H = 4, ℓ = 1,024). With a KV cache, a long
 * prompt pass is chunked (the cache still receives the full keys and values), other steps are
 * batched. Short inputs: per-head 2-D products on wasm, batched elsewhere. A forced mode wins where hooks allow.
 */
export function attentionPath(o: Pick<AttendOptions, "hooks" | "kv" | "nHeads" | "pe"> & Partial<AttendOptions>, B: number, lq: number, lk: number, layout: Partial<AttentionLayout> | undefined, backend: string): "per-head" | "batched" | "chunked" {
  if (o.hooks) return "batched";
  const L = resolveLayout(layout);
  const long = lq > L.chunkAbove || unchunkedScoreBytes(B, o.nHeads, lq, lk, !!o.pe?.scoreBias) > L.scoreBudgetBytes;
  if (L.mode === "chunked" || (L.mode === "auto" && long)) return "chunked";
  if (o.kv) return "batched";
  if (L.mode !== "auto") return L.mode;
  return backend === "wasm" ? "per-head" : "batched";
}
