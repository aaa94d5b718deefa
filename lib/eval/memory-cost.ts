/**
 * Memory beyond one forward pass (notebook 06): what the unchunked attention of a forward keeps of
 * size ℓ × ℓ (a census of tf.profile's kernel outputs), the peak of a training step, and the KV
 * cache of generation (Alg 14) against ℓ — each measured next to the library's estimate
 * (lib/engine/memory-estimate.ts: forwardMemory with `training`, kvCacheMemory).
 *
 *   scoreBuffers(model, { length: 512 })                  // kernel, tensors, bytes of the [ℓ, ℓ] outputs
 *   await trainingCost(model, { lengths: [128, 256] })    // peak of loss + gradients vs the estimate
 *   await kvCacheCost(model, { lengths: [256, 512] })     // cache bytes and one decode step's peak
 *
 * Byte counts are tf.memory()'s (tf.profile's high-water of live tensors, parameters included),
 * deterministic for a backend; nothing here times anything.
 */
import * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import { dTransformer, KVCache, type DTransformer } from "../model/dtransformer.js";
import { forwardMemory, kvCacheMemory } from "../engine/memory-estimate.js";
import { _nextTokenLoss } from "../train/loss.js";
import type { AttentionMode } from "../engine/layout-options.js";

function ids(nVocab: number, batch: number, length: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: batch * length }, (_, i) => (i * 31 + 1) % nVocab), [batch, length], "int32");
}

function checkLengths(where: string, lengths: readonly number[], min: number): void {
  if (!Array.isArray(lengths) || !lengths.length || !lengths.every((l) => Number.isSafeInteger(l) && l >= min)) throw new ConfigError(`${where}: lengths must be a non-empty list of integers ≥ ${min}, got ${JSON.stringify(lengths)}`);
}

/**
 * The tensors of size ℓ × ℓ (last two dimensions [ℓ, ℓ]) that one forward pass at ℓ creates, by
 * kernel: how many and their bytes (a scope that only wraps the kernel before it is not counted
 * twice). Choose ℓ unlike d_e, d_mlp and N_V, or [ℓ, d_mlp] outputs count too. With the whole
 * layer in one tf.tidy, one layer's worth of them is alive at once: this is what the unchunked
 * attention holds beyond S and softmax(S).
 */
export async function scoreBuffers(model: DTransformer, o: { length: number; attention?: AttentionMode }): Promise<aq.ColumnTable> {
  checkLengths("scoreBuffers", [o.length], 2);
  const l = o.length;
  const m = model.withAttentionLayout({ mode: o.attention ?? "per-head" });
  const x = ids(model.cfg.nVocab, 1, l);
  try {
    const info = await tf.profile(() => tf.tidy(() => m.logits(x)).dispose());
    const by = new Map<string, { tensors: number; bytes: number }>();
    let prev = -1;
    for (const k of info.kernels) {
      const same = k.totalBytesSnapshot === prev; // a scope around the kernel before it (e.g. a custom op): its output, not a new tensor
      prev = k.totalBytesSnapshot;
      if (same) continue;
      for (const s of k.outputShapes ?? []) {
        if (!s || s.length < 2 || s[s.length - 1] !== l || s[s.length - 2] !== l) continue;
        const e = by.get(k.name) ?? { tensors: 0, bytes: 0 };
        e.tensors += s.slice(0, -2).reduce((a, b) => a * b, 1);
        e.bytes += 4 * s.reduce((a, b) => a * b, 1);
        by.set(k.name, e);
      }
    }
    const rows = [...by.entries()].map(([kernel, e]) => ({ kernel, tensors: e.tensors, bytes: e.bytes })).sort((a, b) => b.bytes - a.bytes);
    return aq.from(rows.length ? rows : [{ kernel: "(none)", tensors: 0, bytes: 0 }]);
  } finally {
    x.dispose();
  }
}

/**
 * Peak bytes of one training step (forward, next-token loss, gradients of every parameter) per ℓ,
 * and forwardMemory's training estimate. Rows: method, length, batch, peak_bytes, estimate_bytes, chunked.
 */
export async function trainingCost(model: DTransformer, o: { lengths: readonly number[]; batch?: number; attention?: AttentionMode; label?: string }): Promise<aq.ColumnTable> {
  checkLengths("trainingCost", o.lengths, 2);
  const batch = o.batch ?? 1;
  const m = model.withAttentionLayout({ mode: o.attention ?? "auto" });
  const vars = [...model.params.vars.values()];
  const rows = [];
  for (const length of o.lengths) {
    const x = ids(model.cfg.nVocab, batch, length);
    try {
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => _nextTokenLoss(x, m)), vars);
        tf.dispose(Object.values(grads));
        value.dispose();
      });
      const est = forwardMemory(model.cfg, { batch, length, training: true, layout: m.layout });
      rows.push({ method: o.label ?? "training step", length, batch, peak_bytes: info.peakBytes, estimate_bytes: est.bytes, chunked: est.chunked });
    } finally {
      x.dispose();
    }
    await new Promise((res) => setImmediate(res)); // let an interrupt in
  }
  return aq.from(rows);
}

/**
 * Generation with a KV cache: per ℓ, the bytes the cache holds after a prompt of ℓ tokens
 * (KVCache.bytes(), measured) beside kvCacheMemory's estimate, and the peak bytes of the next
 * decode step (one new token against ℓ cached keys: its scores are 1 × ℓ per head, not ℓ × ℓ).
 */
export async function kvCacheCost(model: DTransformer, o: { lengths: readonly number[] }): Promise<aq.ColumnTable> {
  checkLengths("kvCacheCost", o.lengths, 1);
  const rows = [];
  for (const length of o.lengths) {
    const kv = new KVCache(model.cfg.nLayers);
    const x = ids(model.cfg.nVocab, 1, length);
    const next = tf.tensor2d([[7]], [1, 1], "int32");
    try {
      tf.tidy(() => dTransformer(x, model, { kv })).dispose();
      const cacheBytes = kv.bytes();
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => tf.tidy(() => dTransformer(next, model, { kv })).dispose());
      rows.push({ length, cache_bytes: cacheBytes, estimate_bytes: kvCacheMemory(model.cfg, { batch: 1, length }), step_peak_bytes: info.peakBytes, step_extra_bytes: info.peakBytes - before });
    } finally {
      kv.dispose();
      x.dispose();
      next.dispose();
    }
    await new Promise((res) => setImmediate(res));
  }
  return aq.from(rows);
}
