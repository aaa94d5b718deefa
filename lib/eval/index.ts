/**
 * lib/eval — the field's evaluations of context length, as arquero tables with one row per example
 * (or per window), ready for lib/viz/curves.ts (columns method, length, depth, correct):
 *
 *   passkey       PI / Landmark Attention passkey retrieval          (tasks.ts, passkey.ts)
 *   lines         LongChat LongEval line retrieval                   (tasks.ts, records.ts)
 *   kv            Lost-in-the-Middle key-value retrieval             (tasks.ts, records.ts)
 *   perplexity    loss and perplexity against evaluation length      (perplexity.ts)
 *   jsonl:<file>  any {"prompt", "answer"} set, exact match          (jsonl.ts)
 *
 * `runEval(model, task, options)` dispatches; long sweeps take an AbortSignal (default: the host's,
 * e.g. the running cell's interrupt), report progress through the host, and on abort return the rows
 * finished so far. Scoring is described in score.ts (default: the teacher-forced "logit" scorer),
 * rollups (accuracy per length/depth, k_max, perplexity per length) in rollup.ts.
 */
import * as aq from "arquero";
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import type { DTransformer } from "../model/dtransformer.js";
import { currentSignal, startProgress } from "../runtime/context.js";
import { forwardMacs, refuseLongRunOnCpu } from "../runtime/long-run.js";
import { checkVocab, defaultTokenizer } from "./common.js";
import { jsonlExamples, readJsonl } from "./jsonl.js";
import { perplexityVsLength, type PerplexityOptions } from "./perplexity.js";
import { positionLimit, positionsNeeded, scoreExample, scoreLogitsBatch, DEFAULT_SCORER, SCORE_BATCH_TOKENS, type ScoreOptions } from "./score.js";
import { FILLER_NAMES, fillerName, type FillerSpec } from "./fillers.js";
import { depthSweep, GENERATORS, type SweepOptions } from "./tasks.js";
import type { EvalExample, EvalRow } from "./types.js";

export * from "./types.js";
export * from "./tasks.js";
export * from "./score.js";
export * from "./perplexity.js";
export * from "./rollup.js";
export * from "./jsonl.js";
export * from "./evalsets.js";
export * from "./fillers.js";
export * from "./intervals.js";
export { defaultTokenizer } from "./common.js";

/** A task name, "perplexity", or "jsonl:<path>". */
export type EvalTask = "passkey" | "lines" | "kv" | "perplexity" | `jsonl:${string}`;

export interface RunEvalOptions extends Omit<SweepOptions, "lengths">, ScoreOptions, Omit<PerplexityOptions, "lengths" | "tokenizer" | "label" | "hooks" | "signal" | "seed"> {
  /** ℓ values: required for generated tasks and perplexity; for jsonl, keeps only rows with these lengths */
  lengths?: readonly number[];
  /** default: by the model's N_V (259 or 256: bytes, 50257: GPT-2 BPE) */
  tokenizer?: Tokenizer;
  /** the method column (default: the model's positional label) */
  label?: string;
  /**
   * passkey only: several haystacks in one run, n examples per (ℓ, depth, filler) cell each, and a
   * `filler` column in the table — e.g. FILLER_NAMES (the PI sentences, held-out Moby Dick, State of the
   * Union addresses), so that a result can be checked for depending on the text. Not with `filler`.
   */
  fillers?: readonly FillerSpec[];
}

export const EVAL_COLUMNS = ["method", "task", "variant", "scorer", "id", "length", "depth", "tokens", "prompt_tokens", "needle_pos", "needle_depth", "correct", "answer", "prediction", "logprob", "error"] as const satisfies readonly (keyof EvalRow)[];

/** Rows as an arquero table with EVAL_COLUMNS (also when empty). */
export function evalTable(rows: readonly EvalRow[]): aq.ColumnTable {
  return aq.table(Object.fromEntries(EVAL_COLUMNS.map((c) => [c, rows.map((r) => r[c])])));
}

/**
 * Scores the examples (progress "eval <label>", accuracy so far): with the logit scorer and no hooks,
 * consecutive examples of equal length go through one batched forward pass (scoreLogitsBatch, up to
 * SCORE_BATCH_TOKENS tokens), otherwise one by one. On abort returns the rows finished so far.
 */
export async function evaluateExamples(model: DTransformer, examples: readonly EvalExample[], tok: Tokenizer, o: ScoreOptions & { label?: string } = {}): Promise<aq.ColumnTable> {
  checkVocab(tok, model.cfg.nVocab);
  const method = o.label ?? model.positional.label;
  const scorer = o.scorer ?? DEFAULT_SCORER;
  const cfg = model.cfg;
  // the positions each example feeds through TF.js (greedy decoding's later steps run in plain JS on wasm/cpu)
  const macs = examples.reduce((n, ex) => n + forwardMacs(cfg, positionsNeeded(ex)), 0);
  await refuseLongRunOnCpu(`evaluation of ${examples.length} examples (${method})`, macs, o.allowCpu);
  const signal = currentSignal(o.signal);
  const progress = startProgress(`eval (${method})`, examples.length);
  const rows: EvalRow[] = [];
  let right = 0;
  let ran = 0;
  const batched = scorer === "logit" && !o.hooks?.length;
  const limit = positionLimit(model);
  for (let i = 0; i < examples.length; ) {
    if (signal?.aborted) break;
    // a run of examples with equal positions shares one forward pass (logit scorer, no hooks)
    const T = positionsNeeded(examples[i]!);
    let j = i + 1;
    if (batched && !(limit !== undefined && T > limit)) {
      const maxB = Math.max(1, Math.floor(SCORE_BATCH_TOKENS / T));
      while (j < examples.length && j - i < maxB && positionsNeeded(examples[j]!) === T) j++;
    }
    const group = examples.slice(i, j);
    const results = group.length > 1 ? scoreLogitsBatch(model, group, tok) : [await scoreExample(model, group[0]!, tok, { ...o, scorer, ...(signal ? { signal } : {}) })];
    if (signal?.aborted) break; // a generation cut short by the abort is not a result
    group.forEach((ex, k) => {
      const r = results[k]!;
      rows.push({
        method, task: ex.task, variant: ex.variant, scorer, id: ex.id, length: ex.length, depth: ex.depth,
        tokens: ex.ids.length + ex.targetIds.length, prompt_tokens: ex.ids.length, needle_pos: ex.needlePos, needle_depth: ex.needleDepth,
        correct: r.correct, answer: ex.answer, prediction: r.prediction, logprob: r.logprob, error: r.error,
      });
      if (r.correct !== null) [ran, right] = [ran + 1, right + r.correct];
    });
    const before = Math.floor(i / 4);
    i = j;
    progress.update(rows.length, { ℓ: group[0]!.length, accuracy: ran ? right / ran : null });
    if (Math.floor(i / 4) !== before) await new Promise((res) => setImmediate(res)); // let an interrupt in
  }
  progress.end(signal?.aborted ? `interrupted after ${rows.length}/${examples.length} examples` : `accuracy ${ran ? (right / ran).toFixed(3) : "—"} over ${ran} examples`);
  return evalTable(rows);
}

/** Keeps jsonl examples whose length / depth are among the given ones (when given). */
function filterExamples(xs: EvalExample[], lengths?: readonly number[], depths?: readonly number[]): EvalExample[] {
  return xs.filter((e) => (!lengths || lengths.includes(e.length)) && (!depths || (e.depth !== null && depths.includes(e.depth))));
}

/**
 * Runs one evaluation: a generated retrieval sweep (lengths × depths × n), perplexity against
 * length, a JSONL set, or a given list of examples.
 * @example
 * const t = await runEval(model, "passkey", { lengths: [64, 128, 256], depths: [0, 0.5, 1], n: 5, variant: "compact" });
 * accuracyVsLength(t, { by: "method" });  kMax(t).objects();
 */
export async function runEval(model: DTransformer, task: EvalTask | readonly EvalExample[], o: RunEvalOptions = {}): Promise<aq.ColumnTable> {
  const tok = o.tokenizer ?? defaultTokenizer(model.cfg.nVocab);
  const signal = currentSignal(o.signal);
  const common = { ...o, ...(signal ? { signal } : {}) };
  if (o.fillers !== undefined) checkFillers(task, o);
  if (Array.isArray(task)) return evaluateExamples(model, task as EvalExample[], tok, common);
  if (typeof task !== "string") throw new ConfigError(`runEval: task must be a name, "jsonl:<file>" or a list of examples, got ${JSON.stringify(task)}`);
  if (task.startsWith("jsonl:")) {
    const items = await readJsonl(task.slice("jsonl:".length));
    return evaluateExamples(model, filterExamples(jsonlExamples(items, tok), o.lengths, o.depths), tok, common);
  }
  if (!o.lengths?.length) throw new ConfigError(`runEval: give lengths (ℓ values) for task "${task}"`);
  if (task === "perplexity") {
    const { scorer: _s, extraTokens: _e, depths: _d, n: _n, variant: _v, header: _h, digits: _g, bos: _b, ...p } = common;
    return perplexityVsLength(model, { ...p, lengths: o.lengths, tokenizer: tok });
  }
  if (!Object.hasOwn(GENERATORS, task)) throw new ConfigError(`runEval: unknown task "${task}"; known: ${[...Object.keys(GENERATORS), "perplexity", "jsonl:<file>"].join(", ")}`);
  if (o.fillers !== undefined) {
    // one sweep per filler, scored as one run (one progress bar); the rows keep the examples' order
    const names = o.fillers.map(fillerName);
    const perFiller = o.fillers.map((filler) => depthSweep(task, tok, { ...sweepOptions(o), filler, lengths: o.lengths! }));
    const fillerOf = perFiller.flatMap((xs, k) => xs.map(() => names[k]!));
    const t = await evaluateExamples(model, perFiller.flat(), tok, common);
    return t.assign(aq.table({ filler: fillerOf.slice(0, t.numRows()) }));
  }
  const examples = depthSweep(task, tok, { ...sweepOptions(o), lengths: o.lengths });
  return evaluateExamples(model, examples, tok, common);
}

/** runEval's `fillers`: a non-empty list of distinct fillers, for the passkey task, not with `filler`. */
function checkFillers(task: EvalTask | readonly EvalExample[], o: RunEvalOptions): void {
  const f = o.fillers;
  if (!Array.isArray(f) || f.length === 0) throw new ConfigError(`runEval: fillers must be a non-empty list of fillers (e.g. FILLER_NAMES: ${FILLER_NAMES.join(", ")}), got ${JSON.stringify(f)?.slice(0, 80)}`);
  if (task !== "passkey") throw new ConfigError(`runEval: fillers applies to the passkey task only, got task ${Array.isArray(task) ? "a list of examples" : JSON.stringify(task)}`);
  if (o.filler !== undefined) throw new ConfigError(`runEval: give either filler (one haystack) or fillers (several), not both (filler=${JSON.stringify(fillerName(o.filler))}, fillers=${JSON.stringify(f.map(fillerName))})`);
  const names = f.map(fillerName);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new ConfigError(`runEval: fillers must be distinct, "${twice}" is given twice in ${JSON.stringify(names)}`);
}

/** The sweep options among runEval's. */
function sweepOptions(o: RunEvalOptions): Omit<SweepOptions, "lengths"> {
  const keys = ["depths", "n", "offset", "seed", "variant", "header", "digits", "bos", "filler"] as const;
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
