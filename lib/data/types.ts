/**
 * The data interfaces shared by training, evaluation and the CLI: tokenizers and batch sources.
 * A batch source draws from the trainer's seeded Rng, so a run's batches are reproduced exactly on
 * resume (the Rng state is saved in the checkpoint).
 */
import type { Rng } from "../tensor/random.js";

/** A tokenizer: text ↔ token ids in [0, vocabSize). */
export interface Tokenizer {
  /** e.g. "byte", "gpt2-bpe" */
  readonly name: string;
  /** N_V */
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** named special tokens, e.g. { bos: 256, eos: 257, pad: 258 } */
  readonly special: Readonly<Record<string, number>>;
  toJSON(): { name: string; [k: string]: unknown };
}

/** One mini-batch: B sequences of ℓ tokens, row-major [B, ℓ]. Next-token targets are tokens shifted by one inside each row. */
export interface Batch {
  tokens: Int32Array;
  /** B */
  batch: number;
  /** ℓ */
  length: number;
}

/** A seeded source of mini-batches. `next` must draw all its randomness from `rng`. */
export interface BatchSource {
  readonly name: string;
  next(rng: Rng): Batch;
  /** Description for the run log, e.g. the length mixture. */
  describe(): Record<string, unknown>;
}
