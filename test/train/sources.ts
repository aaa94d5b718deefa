/**
 * Tiny deterministic BatchSources for the training tests (the real ones live in lib/data/).
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, BatchSource } from "../../lib/data/types.js";
import type { DTransformer } from "../../lib/model/dtransformer.js";
import type { Rng } from "../../lib/tensor/random.js";

/** Uniform random ids in [0, nVocab), B × ℓ, drawn from the trainer's Rng. */
export function randomSource(nVocab: number, B: number, l: number, name = "random"): BatchSource {
  return {
    name,
    next(rng: Rng): Batch {
      const tokens = new Int32Array(B * l);
      for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(0, nVocab);
      return { tokens, batch: B, length: l };
    },
    describe: () => ({ nVocab, B, l }),
  };
}

/** The same sequence in every row of every batch (a fixed task to overfit). */
export function fixedSource(seq: readonly number[], B: number): BatchSource {
  const row = Int32Array.from(seq);
  return {
    name: "fixed",
    next(): Batch {
      const tokens = new Int32Array(B * row.length);
      for (let b = 0; b < B; b++) tokens.set(row, b * row.length);
      return { tokens, batch: B, length: row.length };
    },
    describe: () => ({ seq: [...seq], B }),
  };
}

/** A batch from explicit rows. */
export function batchOf(rows: number[][]): Batch {
  return { tokens: Int32Array.from(rows.flat()), batch: rows.length, length: rows[0]!.length };
}

/** Copies of every parameter's values (name → Float32Array). */
export function snapshot(model: DTransformer): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [n, v] of model.params.vars) out.set(n, new Float32Array(v.dataSync() as Float32Array));
  return out;
}

/** Names of the parameters whose values differ between two snapshots (bitwise). */
export function changed(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  return [...a.keys()].filter((n) => {
    const x = a.get(n)!;
    const y = b.get(n)!;
    return x.length !== y.length || x.some((v, i) => !Object.is(v, y[i]));
  });
}

export const liveTensors = () => tf.memory().numTensors;
