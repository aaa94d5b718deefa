/**
 * Training checkpoints for Algorithm 13: everything needed to continue a run exactly (same batches,
 * same updates, same losses) — the model, the optimiser state, the RNG, the step and the schedule.
 *
 * A training directory holds a pointer and versioned snapshots:
 *   trainer-state.json        the commit record: step, RNG state, optimiser hyperparameters and t,
 *                             schedule, run description, log rows, ctxlab version, the snapshot it
 *                             belongs to ("checkpoint": "step-00000200"), and the byte size and SHA-256
 *                             of that snapshot's config.json, model.safetensors and optimizer.safetensors
 *   step-00000200/            config.json + model.safetensors (HF GPT-2 layout, loadCheckpoint reads
 *                             it), optimizer.safetensors (slots "m.<name>", "v.<name>"), metrics.csv
 *   metrics.csv               the log so far, for people and plotting tools
 * A save writes the new snapshot directory completely (each file atomically), then replaces
 * trainer-state.json atomically (temp file + rename), and only then deletes older snapshots. So at
 * every instant trainer-state.json names a complete snapshot: a crash (even SIGKILL) anywhere in a
 * save leaves either the previous checkpoint or the new one loadable, never a mix. Load checks sizes
 * and hashes and refuses a tampered or truncated snapshot with a CheckpointError.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
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
    const snapshot = await freshSnapshotName(dir, step);
    const snap = join(dir, snapshot);
    await saveCheckpoint(s.model, snap, { metadata: { ctxlab_step: String(step) } });
    const o = s.optimizer.toState();
    const optBytes = serializeSafetensors(o.slots, { kind: o.hyper.kind, t: String(o.t), ctxlab_step: String(step) });
    await writeFileAtomic(join(snap, OPTIMIZER_FILE), optBytes);
    const csv = logCsv(s.log ?? []);
    await writeFileAtomic(join(snap, METRICS_FILE), csv);
    const files: Record<string, FileStamp> = {
      [CONFIG_FILE]: await stamp(join(snap, CONFIG_FILE)),
      [WEIGHTS_FILE]: await stamp(join(snap, WEIGHTS_FILE)),
      [OPTIMIZER_FILE]: { bytes: optBytes.length, sha256: sha256(optBytes) },
    };
    const json = {
      format: FORMAT,
      ctxlab_version: CTXLAB_VERSION,
      step,
      checkpoint: snapshot,
      tokens_seen: s.tokensSeen ?? 0,
      time_s: s.timeS ?? 0,
      rng: s.rng.state(),
      optimizer: { ...o.hyper, t: o.t },
      schedule,
      run: s.run ?? {},
      files,
      log: s.log ?? [],
    };
    await writeFileAtomic(join(dir, TRAINER_STATE_FILE), JSON.stringify(json, null, 1) + "\n"); // the commit
    await writeFileAtomic(join(dir, METRICS_FILE), csv);
    await removeOtherSnapshots(dir, snapshot);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`saveTrainingState(${dir}): ${msg(e)}`, { cause: e });
  }
}

const SNAPSHOT = /^step-\d{8}(-[0-9a-z]+)?$/;

/** "step-00000200", or with a suffix if a snapshot of that step already exists (a re-save). */
async function freshSnapshotName(dir: string, step: number): Promise<string> {
  const base = `step-${String(step).padStart(8, "0")}`;
  const taken = new Set(await readdir(dir).catch(() => [] as string[]));
  if (!taken.has(base)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}-${i.toString(36)}`)) return `${base}-${i.toString(36)}`;
}

/** After the commit: delete snapshots other than `keep` (best effort; a leftover is harmless). */
async function removeOtherSnapshots(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name !== keep && SNAPSHOT.test(name)) await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
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
  if (j.checkpoint !== undefined && (typeof j.checkpoint !== "string" || !SNAPSHOT.test(j.checkpoint))) bad(`checkpoint must name a snapshot directory like "step-00000200", got ${JSON.stringify(j.checkpoint)}`);
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
  const snap = typeof j.checkpoint === "string" ? join(dir, j.checkpoint) : dir; // format without snapshots: flat
  await verifyFiles(snap, j.files as Record<string, unknown>);
  const path = join(dir, TRAINER_STATE_FILE);
  const model = await loadCheckpoint(snap);
  try {
    const { t, ...hyper } = j.optimizer as OptimizerHyper & { t: number };
    const slots = (await readSafetensorsFile(join(snap, OPTIMIZER_FILE))).tensors;
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
