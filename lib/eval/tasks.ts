/**
 * The retrieval generators and the depth × length sweep.
 *
 *   passkey      PI / Landmark Attention passkey (lib/eval/passkey.ts; docs/literature.md, "Position Interpolation (PI)")
 *   lines        LongChat LongEval line retrieval (lib/eval/records.ts; §3.2)
 *   kv           Lost-in-the-Middle key-value retrieval (lib/eval/records.ts; §3.3)
 *
 * Every generator is a pure function of (Rng or seed, tokenizer, options): the same inputs give the
 * same example. A sweep seeds each example from (seed, task, variant, ℓ, depth, index), so adding or
 * removing cells never changes the other examples.
 */
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import { Rng } from "../tensor/random.js";
import { fillerName } from "./fillers.js";
import { passkey } from "./passkey.js";
import { kvRetrieval, lines } from "./records.js";
import type { EvalExample, TaskOptions } from "./types.js";

export { passkey, PASSKEY_FILLER, PASSKEY_HEADER, PASSKEY_FORMATS, fillerWindow, sentenceBoundaries, wordBoundaries } from "./passkey.js";
export { lines, kvRetrieval, recordTask, queriedIndex, uuidFrom, LINES_HEADER, KV_HEADER, RECORD_FORMATS } from "./records.js";
export { ADJECTIVES, NOUNS } from "./words.js";

/** A generator: (rng or seed, tokenizer, options, index within its cell) → example. */
export type Generator = (rng: Rng | number | string, tok: Tokenizer, opts: TaskOptions, index?: number) => EvalExample;

/** The retrieval tasks by name. */
export const GENERATORS: Readonly<Record<string, Generator>> = { passkey, lines, kv: kvRetrieval };

export type TaskName = "passkey" | "lines" | "kv";

/** Depths 0, 0.1, …, 1 (the needle-in-a-haystack grid). */
export const DEFAULT_DEPTHS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10);

/** Options of a depth × length sweep: the cells, examples per cell, seed, and the task's own options. */
export interface SweepOptions extends Omit<TaskOptions, "length" | "depth"> {
  lengths: readonly number[];
  /** default 0, 0.1, …, 1 */
  depths?: readonly number[];
  /** examples per (ℓ, depth) cell (default 5) */
  n?: number;
  /**
   * index of the first example of each cell (default 0): a sweep with offset k·n draws other examples
   * than one with offset 0 (e.g. one disjoint set per fine-tuning seed), the same as indices k·n … of a larger n
   */
  offset?: number;
  /** default 0 */
  seed?: number | string;
}

/** The generator of a task name; the error lists the known ones. */
export function generatorOf(task: string): Generator {
  const g = Object.hasOwn(GENERATORS, task) ? GENERATORS[task] : undefined;
  if (!g) throw new ConfigError(`unknown evaluation task "${task}"; known: ${Object.keys(GENERATORS).join(", ")}`);
  return g;
}

/** The seed of one example of a sweep (a filler other than the default "pi" is part of it). */
export const exampleSeed = (seed: number | string, task: string, variant: string, length: number, depth: number, i: number, filler = "pi"): string => `${seed}/${task}/${variant}/${length}/${depth}/${i}${filler === "pi" ? "" : `/${filler}`}`;

/**
 * n examples per (ℓ, depth) cell of `task`, ordered by ℓ, then depth, then index.
 * @example depthSweep("passkey", byteTokenizer(), { lengths: [128, 256], depths: [0, 0.5, 1], n: 5, variant: "compact" })
 */
export function depthSweep(task: string, tok: Tokenizer, o: SweepOptions): EvalExample[] {
  const gen = generatorOf(task);
  const { lengths, depths = DEFAULT_DEPTHS, n = 5, seed = 0, offset = 0, ...taskOpts } = o;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ConfigError(`${task}: offset=${offset} must be an integer ≥ 0`);
  const filler = fillerName(taskOpts.filler);
  if (filler !== "pi" && task !== "passkey") throw new ConfigError(`${task}: filler "${filler}" applies to the passkey task only`);
  if (!Array.isArray(lengths) || lengths.length === 0) throw new ConfigError(`${task}: lengths must be a non-empty list of ℓ values`);
  if (!Array.isArray(depths) || depths.length === 0) throw new ConfigError(`${task}: depths must be a non-empty list in [0, 1]`);
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`${task}: n=${n} examples per cell must be an integer ≥ 1`);
  const out: EvalExample[] = [];
  for (const length of lengths) {
    for (const depth of depths) {
      for (let i = offset; i < offset + n; i++) {
        const rng = new Rng(exampleSeed(seed, task, taskOpts.variant ?? "standard", length, depth, i, filler));
        out.push(gen(rng, tok, { ...taskOpts, length, depth }, i));
      }
    }
  }
  return out;
}
