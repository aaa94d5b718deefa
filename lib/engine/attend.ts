/**
 * The engine's entry: multi-head attention (Alg 5 before W_o) in the layout the options choose
 * (layout-options.ts). X [B, ℓ_x, d_x] attends to Z [B, ℓ_z, d_z] (plus the cached keys);
 * returns Y with heads side by side: [B, ℓ_x, H·d_mid].
 */
import * as tf from "@tensorflow/tfjs";
import { attendBatched } from "./attention-batched.js";
import { attendChunked } from "./attention-chunked.js";
import { attendFused, attendPerHead, fusedApplies } from "./attention-per-head.js";
import { attentionPath, resolveLayout } from "./layout-options.js";
import { mergeHeads, type AttendOptions, type QkvWeights } from "./seams.js";

export function attendHeads(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions): tf.Tensor {
  const lk = Z.shape[1]! + (o.kv?.k?.shape[2] ?? 0);
  const path = attentionPath(o, X.shape[0]!, X.shape[1]!, lk, o.layout, tf.getBackend());
  if (path === "chunked") return attendChunked(X, Z, w, o, { chunk: resolveLayout(o.layout).chunk });
  if (path === "per-head") return fusedApplies(o) ? attendFused(X, Z, w, o) : attendPerHead(X, Z, w, o);
  return mergeHeads(attendBatched(X, Z, w, o));
}
