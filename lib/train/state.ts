/**
 * Training checkpoints for Algorithm 13: everything needed to continue a run exactly (same batches,
 * same updates, same losses) — the model, the optimiser state, the RNG, the step and the schedule.
 *
 * A directory holds, written in this order, each file atomically (temp file + rename, writeFileAtomic):
 *   1. model.safetensors, config.json   the model, by saveCheckpoint (HF GPT-2 layout: loadCheckpoint reads it)
 *   2. optimizer.safetensors            the slots "m.<name>", "v.<name>" (F32) of the trainable parameters
 *   3. metrics.csv                      the log rows, for people and plotting tools
 *   4. trainer-state.json               step, RNG state, optimiser hyperparameters and t, schedule, run
 *                                       description, log rows, ctxlab version, and the byte size and
 *                                       SHA-256 of config.json, model.safetensors and optimizer.safetensors
 * trainer-state.json is the commit record: it is written last and names the exact bytes of the files
 * it belongs to. A crash before its rename leaves the files of the new save next to the state of the
 * previous one; load compares sizes and hashes and rejects the mix with a CheckpointError
 * ("checkpoint in <dir> is incomplete: … (a save was interrupted?)") instead of resuming from a
 * model of one step and an optimiser of another. A save that crashes before step 1 renames anything
 * leaves the previous checkpoint intact. (The files are replaced in place, so once a rename has
 * happened the previous step cannot be recovered from this directory: keep two directories to
 * survive that window.)
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CheckpointError } from "../errors.js";
import { CONFIG_FILE, WEIGHTS_FILE, loadCheckpoint, saveCheckpoint } from "../io/checkpoint.js";
import { readSafetensorsFile, serializeSafetensors, writeFileAtomic } from "../io/safetensors.js";
import type { DTransformer } from "../model/dtransformer.js";
import { Rng, type RngState } from "../tensor/random.js";
import { isTrainRow, logCsv, type TrainRow } from "./log.js";
import { optimizerFromState, type Optimizer, type OptimizerHyper } from "./optim.js";
import { resolveSchedule, type ResolvedSchedule, type ScheduleSpec } from "./schedule.js";

export const TRAINER_STATE_FILE = "trainer-state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const METRICS_FILE = "metrics.csv";
const FORMAT = 1;
const HASHED = [CONFIG_FILE, WEIGHTS_FILE, OPTIMIZER_FILE] as const;

/** A run at a step boundary: what `saveTrainingState` writes and `loadTrainingState` returns. */
export interface TrainingState {
  model: DTransformer;
  optimizer: Optimizer;
  /** the batch RNG, positioned for step `step + 1` */
  rng: Rng;
  /** updates done (the schedule continues at step + 1) */
  step: number;
  schedule: ResolvedSchedule | ScheduleSpec | number;
  /** tokens consumed and seconds trained so far (the log continues from them) */
  tokensSeen?: number;
  timeS?: number;
  /** description of the run (steps, accumulate, clip, source, user config …): JSON values */
  run?: Record<string, unknown>;
  log?: TrainRow[];
}

/** A loaded state: every field present, the schedule resolved. */
export interface LoadedTrainingState extends Required<TrainingState> {
  schedule: ResolvedSchedule;
  /** ctxlab version that wrote the checkpoint */
  version: string;
}

interface FileStamp {
  bytes: number;
  sha256: string;
}

/** ctxlab's version from its package.json (or "unknown"). */
export const CTXLAB_VERSION: string = (() => {
  for (const rel of ["../../../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "ctxlab" && pkg.version) return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return "unknown";
})();

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function stamp(path: string): Promise<FileStamp> {
  const b = await readFile(path);
  return { bytes: b.length, sha256: sha256(b) };
}

/**
 * Write a training checkpoint to `dir` (created if needed), in the order given in the header.
 *
 * @example
 * await saveTrainingState("runs/pi", { model, optimizer, rng, step: 200, schedule, log: rows });
 */
export async function saveTrainingState(dir: string, s: TrainingState): Promise<void> {
  const step = s.step;
  if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError(`saveTrainingState: step=${step} must be an integer ≥ 0`);
  if (s.optimizer.params !== s.model.params) throw new CheckpointError(`saveTrainingState: the optimizer belongs to another model's parameters`);
  const schedule = resolveSchedule(s.schedule);
  try {
    await mkdir(dir, { recursive: true });
    await saveCheckpoint(s.model, dir, { metadata: { ctxlab_step: String(step) } });
    const o = s.optimizer.toState();
    const optBytes = serializeSafetensors(o.slots, { kind: o.hyper.kind, t: String(o.t), ctxlab_step: String(step) });
    await writeFileAtomic(join(dir, OPTIMIZER_FILE), optBytes);
    await writeFileAtomic(join(dir, METRICS_FILE), logCsv(s.log ?? []));
    const files: Record<string, FileStamp> = {
      [CONFIG_FILE]: await stamp(join(dir, CONFIG_FILE)),
      [WEIGHTS_FILE]: await stamp(join(dir, WEIGHTS_FILE)),
      [OPTIMIZER_FILE]: { bytes: optBytes.length, sha256: sha256(optBytes) },
    };
    const json = {
      format: FORMAT,
      ctxlab_version: CTXLAB_VERSION,
      step,
      tokens_seen: s.tokensSeen ?? 0,
      time_s: s.timeS ?? 0,
      rng: s.rng.state(),
      optimizer: { ...o.hyper, t: o.t },
      schedule,
      run: s.run ?? {},
      files,
      log: s.log ?? [],
    };
    await writeFileAtomic(join(dir, TRAINER_STATE_FILE), JSON.stringify(json, null, 1) + "\n");
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`saveTrainingState(${dir}): ${msg(e)}`, { cause: e });
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Read and validate trainer-state.json; a missing file means an incomplete checkpoint. */
async function readStateJson(dir: string): Promise<Record<string, unknown>> {
  const path = join(dir, TRAINER_STATE_FILE);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new CheckpointError(`training checkpoint ${dir} does not exist or is not a directory`);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new CheckpointError(`checkpoint in ${dir} is incomplete: ${TRAINER_STATE_FILE} is missing (a save was interrupted? A model-only checkpoint loads with loadCheckpoint)`);
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`checkpoint in ${dir} is incomplete: ${TRAINER_STATE_FILE} is not valid JSON (${msg(e)}; a save was interrupted?)`);
  }
  const bad = (m: string): never => {
    throw new CheckpointError(`${path}: ${m}`);
  };
  if (!isObj(j)) return bad("expected a JSON object");
  if (j.format !== FORMAT) bad(`format is ${JSON.stringify(j.format)}; this ctxlab (${CTXLAB_VERSION}) reads format ${FORMAT}`);
  if (!isCount(j.step)) bad(`step must be an integer ≥ 0, got ${JSON.stringify(j.step)}`);
  const files = j.files;
  if (!isObj(files) || !HASHED.every((f) => isObj(files[f]))) bad(`files must record ${HASHED.join(", ")}`);
  if (!isObj(j.optimizer) || !isCount(j.optimizer.t)) bad(`optimizer must hold the hyperparameters and t`);
  if (!isObj(j.rng)) bad(`rng state is missing`);
  if (!Array.isArray(j.log) || !j.log.every(isTrainRow)) bad(`log must be an array of rows with the columns of the training log`);
  return j;
}

/** Compare each file's size and SHA-256 with those recorded in trainer-state.json. */
async function verifyFiles(dir: string, files: Record<string, unknown>): Promise<void> {
  const incomplete = (m: string): never => {
    throw new CheckpointError(`checkpoint in ${dir} is incomplete: ${m} (a save was interrupted?)`);
  };
  for (const f of HASHED) {
    const want = files[f] as Partial<FileStamp>;
    const got = await stamp(join(dir, f)).catch(() => undefined);
    if (!got) incomplete(`${f} is missing`);
    else if (got.bytes !== want.bytes) incomplete(`${f} has ${got.bytes} bytes but ${TRAINER_STATE_FILE} records ${want.bytes}`);
    else if (got.sha256 !== want.sha256) incomplete(`${f} is not the file ${TRAINER_STATE_FILE} was saved with (SHA-256 differs: it belongs to another save)`);
  }
}

/**
 * Load a training checkpoint written by saveTrainingState (or by dTraining's `checkpointDir`).
 * Throws CheckpointError when a file is missing, truncated or from another save.
 *
 * @example
 * const state = await loadTrainingState("runs/pi");
 * await dTraining(state.model, { source, steps: 1000, resume: state });
 */
export async function loadTrainingState(dir: string): Promise<LoadedTrainingState> {
  const j = await readStateJson(dir);
  await verifyFiles(dir, j.files as Record<string, unknown>);
  const path = join(dir, TRAINER_STATE_FILE);
  const model = await loadCheckpoint(dir);
  try {
    const { t, ...hyper } = j.optimizer as OptimizerHyper & { t: number };
    const slots = (await readSafetensorsFile(join(dir, OPTIMIZER_FILE))).tensors;
    const optimizer = optimizerFromState(model.params, { hyper, t, slots });
    let rng: Rng;
    let schedule: ResolvedSchedule;
    try {
      rng = Rng.fromState(j.rng as unknown as RngState);
      schedule = resolveSchedule(j.schedule as ScheduleSpec);
    } catch (e) {
      optimizer.dispose();
      throw e;
    }
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
    return {
      model, optimizer, rng, schedule,
      step: j.step as number,
      tokensSeen: num(j.tokens_seen),
      timeS: num(j.time_s),
      run: isObj(j.run) ? j.run : {},
      log: j.log as TrainRow[],
      version: typeof j.ctxlab_version === "string" ? j.ctxlab_version : "unknown",
    };
  } catch (e) {
    model.dispose();
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${path}: ${msg(e)}`, { cause: e });
  }
}
