/**
 * The base checkpoints of data/checkpoints/ (learned, rope, alibi, nope: byte-level, ℓ_max = 128),
 * or — where one is absent, e.g. a clean clone before they are trained — a tiny model of the same
 * kind trained here for a few steps on Moby Dick, with a note that says so. For the notebooks, which
 * must run top to bottom either way.
 *
 *   const base = await loadBase("rope", { dir: "../data/checkpoints", steps: 40 });
 *   base.note    // "loaded ../data/checkpoints/rope (…)" or "… not found: trained …"
 *   base.model   // a DTransformer
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as aq from "arquero";
import { presets } from "../config.js";
import { ConfigError } from "../errors.js";
import { corpusSplit, mobyDick } from "../data/corpus.js";
import { textTokens, windowSource } from "../data/batches.js";
import { byteTokenizer } from "../data/tokenizer.js";
import { DTransformer } from "../model/dtransformer.js";
import { positionalFrom } from "../positional/registry.js";
import { dTraining } from "../train/dtraining.js";
import { refuseLongRunOnCpu, trainingMacs } from "../runtime/long-run.js";
import { CONFIG_FILE, loadCheckpoint } from "../io/checkpoint.js";
import { BASE_ENCODINGS, type BaseName } from "./recipes.js";

export { BASE_ENCODINGS, type BaseName };

export interface LoadBaseOptions {
  /** the folder holding learned/, rope/, alibi/, nope/, sinusoidal/, bounded/ (default "data/checkpoints") */
  dir?: string;
  /** fallback training steps when the checkpoint is absent (default 40) */
  steps?: number;
  /** fallback: ℓ of the training windows (default 128 = ℓ_max) */
  length?: number;
  /** fallback: batch size (default 8) */
  batch?: number;
  /** fallback: seed of the weights and batches (default 0) */
  seed?: number;
  signal?: AbortSignal;
  /** fallback: train the stand-in with ≥ LONG_RUN_MACS multiply-adds on TF.js's slow cpu backend although wasm is available (lib/runtime/long-run.ts) */
  allowCpu?: boolean;
}

export interface BaseModel {
  model: DTransformer;
  /** true when loaded from `dir/name` */
  fromCheckpoint: boolean;
  /** where the model came from, in one sentence */
  note: string;
  /** the fallback's training log (absent for a checkpoint) */
  log?: aq.ColumnTable;
}

/**
 * Loads `dir/name` when it holds a checkpoint; otherwise trains a presets.tiny byte-level model
 * (N_V = 256 bytes without special tokens like the base checkpoints, ℓ_max = 128, same encoding) for `steps` steps on Moby Dick's training split.
 */
export async function loadBase(name: BaseName, o: LoadBaseOptions = {}): Promise<BaseModel> {
  if (!Object.hasOwn(BASE_ENCODINGS, name)) throw new ConfigError(`loadBase: unknown base "${name}"; known: ${Object.keys(BASE_ENCODINGS).join(", ")}`);
  const dir = join(o.dir ?? "data/checkpoints", name);
  if (existsSync(join(dir, CONFIG_FILE)) || existsSync(join(dir, "trainer-state.json"))) {
    const model = await loadCheckpoint(dir);
    return { model, fromCheckpoint: true, note: `loaded ${dir} (${model.positional.label}, ℓ_max = ${model.cfg.lMax}, ${model.numParams().toLocaleString("en-US")} parameters)` };
  }
  const steps = o.steps ?? 40;
  if (!Number.isSafeInteger(steps) || steps < 0) throw new ConfigError(`loadBase: steps must be an integer ≥ 0, got ${steps}`);
  const tok = byteTokenizer({ specials: false }); // N_V = 256, as the base checkpoints
  const model = DTransformer.create({ ...presets.tiny, nVocab: tok.vocabSize, positional: positionalFrom(BASE_ENCODINGS[name]) }, o.seed ?? 0);
  if (steps === 0) return { model, fromCheckpoint: false, note: `${dir} not found: using a tiny ${model.positional.label} byte model at its initialisation instead (not trained).` };
  const length = o.length ?? model.cfg.lMax;
  const batch = o.batch ?? 8;
  try {
    await refuseLongRunOnCpu(`loadBase("${name}"): ${dir} not found; training a stand-in for ${steps} steps`, steps * trainingMacs(model.cfg, length, batch), o.allowCpu);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const { train } = corpusSplit(mobyDick());
  const r = await dTraining(model, {
    source: windowSource(textTokens(train, tok), { batch, length }), ...(o.allowCpu ? { allowCpu: true } : {}),
    steps, schedule: { kind: "cosine", lr: 3e-3, warmup: Math.min(10, steps) }, seed: o.seed ?? 0,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  r.optimizer.dispose();
  const last = r.rows.at(-1)?.loss;
  return {
    model, fromCheckpoint: false, log: r.log,
    note: `${dir} not found: trained a tiny ${model.positional.label} byte model here instead (${r.stepsDone} steps at ℓ = ${length}${last !== undefined ? `, last loss ${last.toFixed(3)}` : ""}). It is a stand-in: expect far weaker text and retrieval than the real base checkpoint.`,
  };
}
