/**
 * The gradient of Algorithm 13's loss layer by layer, recomputing each layer's forward in the backward
 * pass ("activation recomputation", "gradient checkpointing" at layer granularity), so that a model of
 * real size trains in the wasm heap.
 *
 * Why: tf.variableGrads keeps every tensor of the forward pass and every intermediate gradient until
 * the backward pass ends (docs/performance.md, "Real-model scale"): at SmolLM-135M's shape that is
 * ~24 MB per token, 12 GB at ℓ = 512, three times the 4 GiB wasm heap. Here:
 *   forward   X_0 = embed(x); X_{i+1} = block_i(X_i), each under its own tidy, keeping only the L layer
 *             inputs X_i (L·B·ℓ·d_e floats)
 *   head      the loss over the predicted rows of X_L in chunks of `rows` rows (each [rows, N_V] logits
 *             block is made, differentiated and freed): ∂loss/∂X_L, ∂/∂(γ, β of the final norm, W_u or
 *             the tied W_e); the per-chunk sums add up to the mean over B·(ℓ−1) tokens of loss.ts
 *   backward  for i = L−1 … 0: block_i(X_i) again under a tape, and its vector–Jacobian product with
 *             dX_{i+1} gives dX_i and the layer's parameter gradients; the tape is freed before layer i−1
 *   embed     dX_0 through the embedding gives ∂/∂W_e (added to the head's part when tied) and ∂/∂ of
 *             the positional encoding's parameters
 * The ops are those of dTransformer and _nextTokenLoss, so the gradient equals tf.variableGrads' up to
 * float32 summation order (test/train/recompute.test.ts); the price is one more forward pass per step
 * (≈ +⅓ of the step's arithmetic). dTraining uses it when the whole-tape step does not fit the heap
 * (`recompute: "auto"`) or when asked (`recompute: true`).
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import { headRows } from "../engine/memory-estimate.js";
import { InputError } from "../errors.js";
import { _blockStage, _embedStage, _headStage, _passContext, type DTransformer } from "../model/dtransformer.js";


type Vars = readonly (readonly [string, tf.Variable])[];

/** Gradient accumulator over named tensors (only names in `wanted`). */
class Acc {
  readonly grads = new Map<string, tf.Tensor>();
  constructor(private readonly wanted: ReadonlySet<string>) {}
  add(name: string, g: tf.Tensor | undefined): void {
    if (!g) return;
    if (!this.wanted.has(name)) {
      g.dispose();
      return;
    }
    const old = this.grads.get(name);
    if (!old) {
      this.grads.set(name, g);
      return;
    }
    this.grads.set(name, tf.add(old, g));
    tf.dispose([old, g]);
  }
}

/** ∂/∂ of `f`'s output seeded with dy (or of its scalar value), for tensors xs; the value is returned too. */
function vjp(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] } {
  const r = tf.engine().gradients(f, xs, dy, true);
  return { value: r.value, grads: r.grads as (tf.Tensor | undefined)[] };
}

/** Head: loss·w over the predicted rows of X [B, ℓ, d_e] in row chunks; returns the loss and dX. */
function headGrads(model: DTransformer, X: tf.Tensor, ids: tf.Tensor, w: number, names: string[], acc: Acc, rows: number): { loss: tf.Scalar; dX: tf.Tensor } {
  const [B, l, D] = X.shape as [number, number, number];
  const V = model.cfg.nVocab;
  const M = B * (l - 1);
  const Xp = tf.tidy(() => tf.reshape(tf.slice(X, [0, 0, 0], [B, l - 1, D]), [M, D]));
  const targets = tf.tidy(() => tf.reshape(tf.slice(ids, [0, 1], [B, l - 1]), [M]));
  const vars = names.map((n) => model.params.get(n));
  const dParts: tf.Tensor[] = [];
  let loss: tf.Scalar = tf.scalar(0);
  try {
    for (let r0 = 0; r0 < M; r0 += rows) {
      const n = Math.min(rows, M - r0);
      const xc = tf.slice(Xp, [r0, 0], [n, D]);
      const tc = tf.slice(targets, [r0], [n]);
      const { value, grads } = vjp(() => {
        const logP = tf.logSoftmax(_headStage(xc, model), -1); // [n, N_V]
        const flat = tf.add(tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(V, "int32")), tc);
        return tf.mul(tf.neg(tf.sum(tf.gather(tf.reshape(logP, [n * V]), flat))), w / M);
      }, [xc, ...vars]);
      tf.dispose([xc, tc]);
      const next = tf.add(loss, value) as tf.Scalar;
      tf.dispose([loss, value]);
      loss = next;
      dParts.push(grads[0]!);
      names.forEach((nm, i) => acc.add(nm, grads[i + 1]));
    }
    const dX = tf.tidy(() => tf.pad(tf.reshape(dParts.length === 1 ? dParts[0]! : tf.concat(dParts, 0), [B, l - 1, D]), [[0, 0], [0, 1], [0, 0]]));
    return { loss, dX };
  } finally {
    tf.dispose([Xp, targets, ...dParts]);
  }
}

/**
 * Loss·w and ∇(loss·w) of one checked micro-batch, layer by layer (see the header). Returns tensors the
 * caller disposes: the loss and one gradient per name of `vars` (zeros for a parameter the loss does not reach).
 * `rows`: logits rows per head chunk (default headRows(N_V)).
 */
export function _layerwiseGrads(model: DTransformer, b: Batch, vars: Vars, w = 1, rows = headRows(model.cfg.nVocab)): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const { cfg, params } = model;
  if (b.length < 2) throw new InputError(`layerwise gradient: ℓ=${b.length}; a next-token loss needs ℓ ≥ 2`);
  const wanted = new Set(vars.map(([n]) => n));
  const acc = new Acc(wanted);
  const headNames = [...wanted].filter((n) => n.startsWith("ln_final.") || n === (cfg.tiedEmbeddings ? "W_e" : "W_u"));
  const global = [...wanted].filter((n) => !n.startsWith("blocks.") && !n.startsWith("ln_final.") && n !== "W_e" && n !== "W_u"); // e.g. pos.*
  const ids = tf.tensor2d(b.tokens, [b.batch, b.length], "int32");
  const c = _passContext(ids, model);
  const xs: tf.Tensor[] = [];
  let dX: tf.Tensor | undefined;
  let loss: tf.Scalar | undefined;
  try {
    let X = tf.tidy(() => _embedStage(ids, model, c));
    for (let i = 0; i < cfg.nLayers; i++) {
      xs.push(X);
      const Xin = X;
      X = tf.tidy(() => _blockStage(i, Xin, model, c));
    }
    ({ loss, dX } = headGrads(model, X, ids, w, headNames, acc, rows));
    X.dispose();
    for (let i = cfg.nLayers - 1; i >= 0; i--) {
      const names = [...[...wanted].filter((n) => n.startsWith(`blocks.${i}.`)), ...global];
      const Xin = xs[i]!;
      const { value, grads } = vjp(() => _blockStage(i, Xin, model, c), [Xin, ...names.map((n) => params.get(n))], dX);
      tf.dispose([value, dX, Xin]);
      xs[i] = undefined as unknown as tf.Tensor; // disposed
      dX = grads[0];
      names.forEach((n, j) => acc.add(n, grads[j + 1]));
    }
    const embNames = [...(wanted.has("W_e") ? ["W_e"] : []), ...global];
    if (embNames.length) {
      const { value, grads } = vjp(() => _embedStage(ids, model, c), embNames.map((n) => params.get(n)), dX);
      value.dispose();
      embNames.forEach((n, j) => acc.add(n, grads[j]));
    }
    const out = new Map<string, tf.Tensor>();
    for (const [n, v] of vars) out.set(n, acc.grads.get(n) ?? tf.zerosLike(v));
    const result = { loss: loss!, grads: out };
    loss = undefined;
    return result;
  } catch (e) {
    tf.dispose([...acc.grads.values()]);
    throw e;
  } finally {
    tf.dispose([ids, ...xs.filter(Boolean), ...(dX ? [dX] : []), ...(loss ? [loss] : [])]);
  }
}
