/**
 * Compile-time checks of typed tensors. This file is compiled by `tsc` during `npm test`:
 * each `@ts-expect-error` line MUST fail to type-check (else tsc reports an unused directive),
 * and every other line must compile. test/types/types.test.ts also compiles wrong wirings without
 * the directive and asserts that tsc reports them.
 */
import * as tf from "@tensorflow/tfjs";
import { layerNorm, mhAttention, named, tokenEmbedding, unembedding, type MhaWeights, type Seq } from "../../lib/index.js";

export function wiring(W_e: tf.Tensor, W: MhaWeights, gamma: tf.Tensor, beta: tf.Tensor, W_u: tf.Tensor, W_mlp1: tf.Tensor): void {
  const X = tokenEmbedding([1, 2, 3], W_e); // Seq<"d_e">
  const Xn = layerNorm(X, gamma, beta); // Seq<"d_e">
  const A: Seq<"d_e"> = mhAttention(Xn, Xn, W, { nHeads: 2, mask: "causal" });
  const P: Seq<"N_V"> = unembedding(A, W_u);
  const Hm = named(tf.matMul(Xn, W_mlp1), ["ℓ", "d_mlp"]);

  // @ts-expect-error — an MLP activation [ℓ, d_mlp] is not a residual stream [ℓ, d_e]
  mhAttention(Hm, Hm, W, { nHeads: 2 });
  // @ts-expect-error — probabilities [ℓ, N_V] cannot be layer-normed as d_e rows
  layerNorm(P, gamma, beta);
  // @ts-expect-error — unembedding returns N_V rows, not d_e rows
  const wrong: Seq<"d_e"> = unembedding(A, W_u);
  // @ts-expect-error — a batch [B, ℓ, d_e] is not a single sequence
  const single: Seq<"d_e"> = tokenEmbedding([[1, 2]], W_e);
  void wrong;
  void single;
}
