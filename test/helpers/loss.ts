/**
 * An independent next-token loss for tests of the model and the encodings (one-hot formulation,
 * deliberately not lib/train's gather-based loss, so the two check each other).
 */
import * as tf from "@tensorflow/tfjs";
import { dTransformer, type DTransformer } from "../../lib/model/dtransformer.js";

/** Mean next-token cross-entropy of ids [B, ℓ] (targets = ids shifted by one). */
export function lossOf(model: DTransformer, ids: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logits = dTransformer(ids, model); // [B, ℓ, N_V]
    const [B, l] = ids.shape;
    const lp = tf.logSoftmax(logits.slice([0, 0, 0], [B, l - 1, -1]), -1);
    const tgt = tf.oneHot(ids.slice([0, 1], [B, l - 1]), model.cfg.nVocab).cast("float32");
    return tf.neg(tf.mean(tf.sum(tf.mul(lp, tgt), -1))) as tf.Scalar;
  });
}
