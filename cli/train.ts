/**
 * `ctxlab train --config run.json --out runs/x` and `ctxlab train --resume runs/x`: a reproducible
 * training or fine-tuning run from one JSON file. Writes the training checkpoint (lib/train/state.ts),
 * metrics.csv and the fully resolved run-config.json into --out. Ctrl-C stops at the next step
 * boundary and saves; `--resume` continues exactly (same batches, same losses).
 */
import type { ResolvedSchedule } from "../lib/train/schedule.js";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "../lib/errors.js";
import { corpusSplit, loadTextFiles, mobyDick } from "../lib/data/corpus.js";
import { lengthMixtureSource, textTokens, windowSource } from "../lib/data/batches.js";
import { tokenizerFrom } from "../lib/data/tokenizer.js";
import type { BatchSource, Tokenizer } from "../lib/data/types.js";
import { loadCheckpoint } from "../lib/io/checkpoint.js";
import { writeFileAtomic } from "../lib/io/safetensors.js";
import { DTransformer } from "../lib/model/dtransformer.js";
import { positionalFrom } from "../lib/positional/index.js";
import { setHost } from "../lib/runtime/context.js";
import { useBackend } from "../lib/tensor/backend.js";
import { dTraining, type TrainingResult } from "../lib/train/dtraining.js";
import { loadTrainingState, TRAINER_STATE_FILE } from "../lib/train/state.js";
import type { OptimizerOptions } from "../lib/train/optim.js";
import type { ScheduleSpec } from "../lib/train/schedule.js";
import { terminalProgress, type Out } from "./progress.js";
import { resolveRunConfig, type RunConfig } from "./run-config.js";

export const RUN_CONFIG_FILE = "run-config.json";

/** Token streams for training and validation, from the config's corpus and tokenizer. */
function corpusTokens(cfg: RunConfig, tok: Tokenizer): { train: Int32Array; val: Int32Array } {
  const text = cfg.data.corpus === "moby-dick" ? mobyDick() : loadTextFiles(cfg.data.corpus);
  const { train, val } = corpusSplit(text, { valFraction: cfg.data.valFraction });
  return { train: textTokens(train, tok), val: textTokens(val, tok) };
}

/** The batch sources a config describes (a length mixture when `data.mixture` is set). */
export function sourcesFor(cfg: RunConfig, lMax: number, tok: Tokenizer): { source: BatchSource; val: BatchSource } {
  const { train, val } = corpusTokens(cfg, tok);
  const length = cfg.data.length ?? lMax;
  const size = cfg.data.batch !== null ? { batch: cfg.data.batch } : { batchTokens: cfg.data.batchTokens! };
  const source = cfg.data.mixture
    ? lengthMixtureSource(train, { mixture: cfg.data.mixture, lMax, ...(cfg.data.maxLength ? { maxLength: cfg.data.maxLength } : {}), jitter: cfg.data.jitter, ...size })
    : windowSource(train, { batch: cfg.data.batch ?? Math.max(1, Math.floor(cfg.data.batchTokens! / length)), length });
  const valSource = windowSource(val, { batch: Math.min(cfg.data.batch ?? 8, 8), length: Math.min(length, val.length - 1) });
  return { source, val: valSource };
}

/** The model a config describes: fresh from `model`, or loaded from `init` (fine-tuning), with its positional encoding. */
export async function modelFor(cfg: RunConfig, json: Record<string, unknown>, tok: Tokenizer): Promise<DTransformer> {
  const peGiven = "positional" in json;
  if (cfg.init) {
    const base = await loadCheckpoint(cfg.init);
    if (base.cfg.nVocab !== tok.vocabSize) throw new ConfigError(`run config: init checkpoint has N_V=${base.cfg.nVocab} but tokenizer "${tok.name}" has N_V=${tok.vocabSize}`);
    return peGiven ? base.withPositional(positionalFrom(cfg.positional as string), cfg.seed) : base;
  }
  const nVocab = cfg.model.nVocab ?? tok.vocabSize;
  if (nVocab < tok.vocabSize) throw new ConfigError(`run config: model.nVocab = ${nVocab} is smaller than the tokenizer's N_V = ${tok.vocabSize}`);
  const { dMlp, ...rest } = cfg.model;
  return DTransformer.create({ ...rest, nVocab, ...(dMlp !== null ? { dMlp } : {}), positional: positionalFrom(cfg.positional as string) }, cfg.seed);
}

function optimizerOptions(cfg: RunConfig): OptimizerOptions {
  const o = cfg.optimizer;
  const freeze = o.freeze.length ? { freeze: o.freeze } : {};
  return o.kind === "sgd" ? { kind: "sgd", momentum: o.momentum, weightDecay: o.weightDecay, ...freeze } : { kind: "adamw", betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, ...freeze };
}

function scheduleSpec(cfg: RunConfig): ScheduleSpec {
  const s = cfg.schedule;
  if (s.kind === "constant") return { kind: "constant", lr: s.lr };
  if (s.kind === "linear-warmup-constant") return { kind: s.kind, lr: s.lr, warmup: s.warmup, warmupFrom: s.warmupFrom };
  return { kind: "cosine", lr: s.lr, warmup: s.warmup, warmupFrom: s.warmupFrom, ...(s.minLr !== null ? { minLr: s.minLr } : {}), ...(s.decayFrom !== null ? { decayFrom: s.decayFrom } : {}) };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export interface TrainArgs {
  config?: string;
  out?: string;
  resume?: string;
  /** override the config's `steps` (the step to train up to), e.g. to extend a resumed run */
  steps?: number | undefined;
}

/**
 * A resumed cosine run continued past the end of its decay trains every further step at the floor
 * minLr (the schedule is the original run's, so the run resumes exactly): say so, with the way out.
 */
export function resumedAtFloor(schedule: ResolvedSchedule, step: number, steps: number): string | undefined {
  if (schedule.kind !== "cosine" || steps <= schedule.total) return undefined;
  const from = Math.max(step, schedule.total);
  return `this run's cosine schedule ended at step ${schedule.total} (η = minLr = ${Number(schedule.minLr.toPrecision(6))}); steps ${from + 1}–${steps} train at that floor. To decay over a longer run, start it with a larger "steps" in its config (or fine-tune from this checkpoint: ctxlab finetune --from <dir>)`;
}

/** Run `ctxlab train`; returns the training result. */
export async function trainCommand(args: TrainArgs, out: Out, signal?: AbortSignal): Promise<TrainingResult> {
  if (!args.config && !args.resume) throw new ConfigError("ctxlab train: give --config <file.json> (a new run) or --resume <dir>");
  const outDir = args.out ?? args.resume;
  if (!outDir) throw new ConfigError("ctxlab train: give --out <dir> for the checkpoint, metrics.csv and the resolved config");
  const json = args.resume ? await readJson(join(args.resume, RUN_CONFIG_FILE)) : await readJson(args.config!);
  const cfg = resolveRunConfig(args.steps !== undefined ? { ...json, steps: args.steps } : json);
  const info = await useBackend(cfg.backend);
  out.write(`${info.summary}\n`);
  const tok = tokenizerFrom(cfg.tokenizer);
  const prev = setHost({ progress: (label, total) => terminalProgress(out, label, total) });
  try {
    const resume = args.resume ? await loadTrainingState(args.resume) : undefined;
    if (resume) {
      const warn = resumedAtFloor(resume.schedule, resume.step, cfg.steps);
      if (warn) out.write(`warning: ${warn}\n`);
    }
    const model = resume ? resume.model : await modelFor(cfg, json, tok);
    const { source, val } = sourcesFor(cfg, model.cfg.lMax, tok);
    await mkdir(outDir, { recursive: true });
    await writeFileAtomic(join(outDir, RUN_CONFIG_FILE), JSON.stringify({ ...cfg, positional: model.positional.toJSON() }, null, 2) + "\n");
    out.write(`model: ${model.numParams().toLocaleString("en-US")} parameters, ${model.positional.label}, ℓ_max=${model.cfg.lMax}; data: ${JSON.stringify(source.describe())}\n`);
    const result = await dTraining(model, {
      source, steps: cfg.steps, valSource: val, valEvery: cfg.valEvery, valBatches: cfg.valBatches,
      checkpointDir: outDir, checkpointEvery: cfg.checkpointEvery, workers: cfg.workers, ...(signal ? { signal } : {}),
      ...(resume ? { resume } : { seed: cfg.seed, optimizer: optimizerOptions(cfg), schedule: scheduleSpec(cfg), clip: cfg.clip, accumulate: cfg.accumulate }),
      run: { config: cfg },
    });
    if (result.lengths.length > 1) out.write(`realised length mixture (ℓ: share of steps): ${result.lengths.map((r) => `${r.length}: ${(100 * r.fraction).toFixed(1)}%`).join(", ")}\n`);
    out.write(`${result.status}: ${result.message}\ncheckpoint: ${outDir}/${TRAINER_STATE_FILE} (and metrics.csv, ${RUN_CONFIG_FILE})\n`);
    result.optimizer.dispose();
    return result;
  } finally {
    setHost(prev);
  }
}
