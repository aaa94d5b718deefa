/**
 * The loss of Algorithm 13 — next-token cross-entropy — and its gradient over micro-batches.
 *
 * Paper (one sequence x of length ℓ, a SUM over the ℓ−1 predicted positions):
 *   loss(θ) = −Σ_{t=1}^{ℓ−1} log P(θ)[x[t+1], t]
 * Here (a batch [B, ℓ], the MEAN over its B·(ℓ−1) predicted tokens, in nats per token):
 *   loss(θ) = −1/(B·(ℓ−1)) · Σ_b Σ_{t=1}^{ℓ−1} log P(θ)[x_b[t+1], t]
 * For one sequence loss_paper = (ℓ−1)·loss and ∇loss_paper = (ℓ−1)·∇loss, so plain SGD with η
 * here is the paper's SGD with η/(ℓ−1). The mean keeps η and the logged value independent of B and ℓ
 * (ℓ is what ctxlab varies); exp(loss) is the perplexity.
 *
 * log P is computed as logSoftmax of the logits and the target entries are picked with a flat
 * tf.gather (its gradient needs UnsortedSegmentSum, registered for wasm by lib/tensor/wasm-kernels.ts);
 * no one-hot [B·(ℓ−1), N_V] tensor is built.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, InputError } from "../errors.js";
import type { Batch, BatchSource } from "../data/types.js";
import { dTransformer, type DTransformer } from "../model/dtransformer.js";
import { checkFits, type OptimizerMemory } from "../engine/memory-estimate.js";
import { toTokenBatch, type TokenInput } from "../model/token-embedding.js";
import { Rng } from "../tensor/random.js";
import { _layerwiseGrads } from "./recompute.js";

/** Core: ids [B, ℓ] int32 (validated, ℓ ≥ 2) → mean next-token loss (scalar). No tidy, no checks. */
export function _nextTokenLoss(ids: tf.Tensor, model: DTransformer): tf.Scalar {
  const [B, l] = ids.shape as [number, number];
  const logits = dTransformer(ids, model); // [B, ℓ, N_V]
  const V = logits.shape[2]!;
  const M = B * (l - 1); // predicted tokens
  const logP = tf.logSoftmax(tf.reshape(tf.slice(logits, [0, 0, 0], [B, l - 1, V]), [M, V]), -1); // rows t = 1…ℓ−1
  const targets = tf.reshape(tf.slice(ids, [0, 1], [B, l - 1]), [M]); // x[t+1]
  const flat = tf.add(tf.mul(tf.range(0, M, 1, "int32"), tf.scalar(V, "int32")), targets); // row·N_V + target (int32)
  const picked = tf.gather(tf.reshape(logP, [M * V]), flat); // log P[x[t+1], t]   [M]
  return tf.neg(tf.mean(picked)) as tf.Scalar;
}

/**
 * Mean next-token cross-entropy of `tokens` ([B, ℓ] or one sequence [ℓ], ℓ ≥ 2) under `model`.
 *
 * @example
 * const loss = nextTokenLoss(model, [[1, 2, 3, 4]]); // scalar tensor, nats per predicted token
 */
export function nextTokenLoss(model: DTransformer, tokens: TokenInput): tf.Scalar {
  const { ids } = toTokenBatch(tokens, model.cfg.nVocab, "nextTokenLoss: tokens");
  try {
    checkLength(model, ids.shape[1], "nextTokenLoss: tokens");
    checkIndexRange(ids.shape[0] * (ids.shape[1] - 1), model.cfg.nVocab);
    return tf.tidy(() => _nextTokenLoss(ids, model));
  } finally {
    ids.dispose();
  }
}

function checkLength(model: DTransformer, l: number, where: string): void {
  if (l < 2) throw new InputError(`${where}: ℓ=${l}; a next-token loss needs ℓ ≥ 2 tokens (targets are x[t+1])`);
  const max = model.cfg.positional.maxPositions?.(model.cfg);
  if (max !== undefined && l > max) throw new InputError(`${where}: ℓ=${l} exceeds ℓ_max=${max} of the ${model.cfg.positional.label}`);
}

function checkIndexRange(m: number, v: number): void {
  if (m * v > 2 ** 31 - 1) throw new ConfigError(`loss: B·(ℓ−1)·N_V = ${m}·${v} exceeds 2^31−1 (int32 gather index); use smaller micro-batches (accumulate)`);
}

/** Check a batch from a BatchSource: shape, ℓ ≥ 2, ℓ ≤ ℓ_max, ids in [0, N_V). Throws InputError. */
export function checkBatch(model: DTransformer, b: Batch, where = "batch", memory?: { training: boolean; rowsPerPass?: number; recompute?: boolean; optimizer?: OptimizerMemory }): void {
  const { batch: B, length: l, tokens } = b ?? ({} as Batch);
  if (!Number.isSafeInteger(B) || B < 1 || !Number.isSafeInteger(l)) throw new InputError(`${where}: batch=${B}, length=${l} must be positive integers`);
  if (!(tokens instanceof Int32Array) || tokens.length !== B * l) throw new InputError(`${where}: tokens must be an Int32Array of B·ℓ = ${B}·${l} = ${B * l} ids, got ${tokens?.constructor?.name} of ${tokens?.length}`);
  checkLength(model, l, where);
  checkIndexRange(B * (l - 1), model.cfg.nVocab);
  const V = model.cfg.nVocab;
  for (let i = 0; i < tokens.length; i++) {
    const x = tokens[i]!;
    if (x < 0 || x >= V) throw new InputError(`${where}: tokens[${i}] (row ${Math.floor(i / l)}, position ${i % l}) = ${x} is outside [0, N_V) with N_V=${V}`);
  }
  if (memory && tf.getBackend() === "wasm") {
    // Refuse a pass that would exhaust the wasm heap (the process would die mid-step) before any work.
    try {
      checkFits(model.cfg, { batch: Math.min(B, memory.rowsPerPass ?? B), length: l, training: memory.training, layout: model.layout, ...(memory.recompute ? { recompute: true } : {}), ...(memory.optimizer ? { optimizer: memory.optimizer } : {}) });
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`${where}: ${e.message}`);
      throw e;
    }
  }
}

/** Predicted tokens of a batch: B·(ℓ−1). */
export const predictedTokens = (b: Batch): number => b.batch * (b.length - 1);

/**
 * Gradient of the mean loss over the UNION of micro-batches (Σ_i n_i·loss_i / Σ_i n_i with
 * n_i = B_i·(ℓ_i−1)): micro-batch i's gradient is weighted by n_i/N, so with equal shapes this is the
 * average of the micro-batch gradients. Returns the loss and one gradient per variable (tensors the
 * caller disposes). Batches must already be checked (`checkBatch`). With `recompute`, each micro-batch's
 * gradient is computed layer by layer (lib/train/recompute.ts: the memory of one layer's tape instead
 * of the whole pass's, for one more forward pass).
 */
export function _accumulatedGrads(model: DTransformer, batches: readonly Batch[], vars: readonly (readonly [string, tf.Variable])[], o: { recompute?: boolean } = {}): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  if (o.recompute) return layerwiseAccumulated(model, batches, vars);
  const N = batches.reduce((s, b) => s + predictedTokens(b), 0);
  const list = vars.map(([, v]) => v);
  let acc: { loss: tf.Scalar; grads: tf.Tensor[] } | undefined;
  for (const b of batches) {
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
  if (!acc) throw new InputError("accumulatedGrads: no batches");
  return { loss: acc.loss, grads: new Map(vars.map(([n], i) => [n, acc!.grads[i]!])) };
}

function layerwiseAccumulated(model: DTransformer, batches: readonly Batch[], vars: readonly (readonly [string, tf.Variable])[]): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const N = batches.reduce((s, b) => s + predictedTokens(b), 0);
  let acc: { loss: tf.Scalar; grads: Map<string, tf.Tensor> } | undefined;
  for (const b of batches) {
    const next = _layerwiseGrads(model, b, vars, predictedTokens(b) / N);
    if (acc) {
      for (const [n, g] of next.grads) {
        const old = acc.grads.get(n)!;
        acc.grads.set(n, tf.add(old, g));
        tf.dispose([old, g]);
      }
      const loss = tf.add(acc.loss, next.loss) as tf.Scalar;
      tf.dispose([acc.loss, next.loss]);
      acc.loss = loss;
    } else {
      acc = next;
    }
  }
  if (!acc) throw new InputError("accumulatedGrads: no batches");
  return acc;
}

/**
 * Public form of `_accumulatedGrads`: checks the batches; `names` defaults to every parameter.
 *
 * @example
 * const { loss, grads } = accumulatedGrads(model, [b1, b2]); // ∇ of the mean loss over b1 ∪ b2
 */
export function accumulatedGrads(model: DTransformer, batches: readonly Batch[], names: readonly string[] = model.params.names()): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  batches.forEach((b, i) => checkBatch(model, b, `accumulatedGrads: batches[${i}]`));
  return _accumulatedGrads(model, batches, names.map((n) => [n, model.params.get(n)] as const));
}

/**
 * Mean next-token loss of `model` on `batches` batches drawn from `source` with a fresh Rng(seed),
 * so every call sees the same batches (validation curves are comparable across steps). No gradients.
 *
 * @example
 * const val = evaluateLoss(model, valSource, { batches: 8, seed: 1 });
 */
export function evaluateLoss(model: DTransformer, source: BatchSource, opts: { batches?: number; seed?: number | string } = {}): number {
  const n = opts.batches ?? 8;
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`evaluateLoss: batches=${n} must be an integer ≥ 1`);
  const rng = new Rng(opts.seed ?? 0);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const b = source.next(rng);
    checkBatch(model, b, `evaluateLoss: ${source.name} batch ${i}`, { training: false });
    const loss = tf.tidy(() => _nextTokenLoss(tf.tensor2d(b.tokens, [b.batch, b.length], "int32"), model));
    sum += loss.dataSync()[0]! * predictedTokens(b);
    count += predictedTokens(b);
    loss.dispose();
  }
  return sum / count;
}
