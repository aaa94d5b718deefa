/**
 * Data-parallel sharding for Algorithm 13 (DTraining): the maths shared by the main thread
 * (parallel.ts) and the gradient workers (grad-worker.ts).
 *
 * Step 2 of Alg 13 here is g = ∇ loss with loss the MEAN next-token loss over all N = Σ_i B_i·(ℓ_i−1)
 * predicted tokens of a step's micro-batches i (loss.ts). With W participants, every micro-batch's
 * rows are cut into W contiguous shards whose sizes depend only on B_i and W (`shardSizes`: the first
 * B mod W shards get ⌈B/W⌉ rows, the rest ⌊B/W⌋). Shard s of micro-batch i holds n_is = B_is·(ℓ_i−1)
 * predicted tokens and, with loss_is its own mean loss,
 *
 *     loss = Σ_i Σ_s (n_is / N)·loss_is       so      g = Σ_s [ Σ_i (n_is / N)·∇loss_is ]
 *
 * Participant s computes the bracket (`_shardGrads`: its parts, each weighted by its share of the
 * WHOLE step's tokens, not of its own); the main thread adds the W brackets in a fixed order
 * (main first, then the workers by index). That is `_accumulatedGrads` over the union, in another
 * (fixed) summation order: equal up to float32 rounding, and identical run after run.
 * Empty shards (B < W) have n_is = 0 and are skipped.
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import type { DTransformer } from "../model/dtransformer.js";
import { _nextTokenLoss, predictedTokens } from "./loss.js";

/** Rows per shard for B rows over W participants: contiguous, the first B mod W get one more. */
export function shardSizes(B: number, W: number): number[] {
  const base = Math.floor(B / W);
  const rem = B % W;
  return Array.from({ length: W }, (_, s) => base + (s < rem ? 1 : 0));
}

/**
 * Cut every micro-batch into W contiguous row shards: out[s] lists shard s's parts (one per
 * micro-batch, empty parts dropped). `copy` gives parts their own buffers (for postMessage).
 */
export function shardBatches(batches: readonly Batch[], W: number, copy = false): Batch[][] {
  const out: Batch[][] = Array.from({ length: W }, () => []);
  for (const b of batches) {
    let row = 0;
    shardSizes(b.batch, W).forEach((rows, s) => {
      if (rows > 0) {
        const view = b.tokens.subarray(row * b.length, (row + rows) * b.length);
        out[s]!.push({ tokens: copy ? view.slice() : view, batch: rows, length: b.length });
      }
      row += rows;
    });
  }
  return out;
}

/**
 * One participant's bracket: Σ_parts (n_part / N)·∇loss_part for `vars` (in their order), and the
 * matching Σ (n_part / N)·loss_part. Parts must be checked batches; the caller disposes the tensors.
 */
export function _shardGrads(model: DTransformer, parts: readonly Batch[], N: number, vars: readonly (readonly [string, tf.Variable])[]): { loss: tf.Scalar; grads: tf.Tensor[] } {
  const list = vars.map(([, v]) => v);
  let acc: { loss: tf.Scalar; grads: tf.Tensor[] } | undefined;
  for (const b of parts) {
    if (b.batch === 0) continue;
    const w = predictedTokens(b) / N;
    const next = tf.tidy(() => {
      const ids = tf.tensor2d(b.tokens, [b.batch, b.length], "int32");
      const { value, grads } = tf.variableGrads(() => (w === 1 ? _nextTokenLoss(ids, model) : tf.mul(_nextTokenLoss(ids, model), w)) as tf.Scalar, list);
      const gs = list.map((v) => grads[v.name]!);
      if (!acc) return { loss: value, grads: gs };
      return { loss: tf.add(acc.loss, value) as tf.Scalar, grads: gs.map((g, i) => tf.add(acc!.grads[i]!, g)) };
    });
    if (acc) tf.dispose([acc.loss, ...acc.grads]);
    acc = next;
  }
  if (!acc) throw new Error("shardGrads: every part is empty");
  return acc;
}

/** Where each named tensor lives in one flat Float32 buffer (row-major, back to back). */
export interface Slot {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** Slots for [name, tensor] pairs in the given order, and the total length in floats. */
export function layoutOf(entries: Iterable<readonly [string, tf.Tensor]>): { slots: Slot[]; length: number } {
  const slots: Slot[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    slots.push({ name, shape: [...t.shape], offset, size: t.size });
    offset += t.size;
  }
  return { slots, length: offset };
}
