/**
 * Algorithm 13 — θ̂ ← DTraining(x_{1:N_data}, θ), with modern optimisation.
 *
 * The paper: for each epoch, for each sequence x_n: loss(θ) = −Σ_{t=1}^{ℓ−1} log P(θ)[x_n[t+1], t],
 * θ ← θ − η·∇loss(θ). Here, one step s = 1…steps:
 *   1  draw `accumulate` micro-batches [B, ℓ] from the BatchSource with the run's seeded Rng
 *   2  loss = mean next-token cross-entropy over their B·(ℓ−1) predicted tokens, g = ∇loss (loss.ts)
 *   3  if loss or ‖g‖ is NaN/±∞: stop ("diverged"), applying nothing
 *   4  clip g to global norm `clip` (clip.ts); η = schedule(s) (schedule.ts)
 *   5  θ ← AdamW or SGD update of the trainable parameter groups (optim.ts)
 *   6  log a row, maybe evaluate on `valSource`, call onStep, maybe save a checkpoint (state.ts)
 * Deviations from the paper: mini-batches instead of single sequences, a mean instead of a sum
 * (η differs by the factor ℓ−1, see loss.ts), a sampled stream of batches instead of epochs over a
 * fixed list (the source decides), AdamW by default, warm-up + cosine η, clipping, accumulation.
 *
 * A generic evented loop (docs/design.md, "Training loop"): it knows nothing of tasks or plots; it yields to the event
 * loop between steps so a notebook interrupt (AbortSignal) is seen at the next step boundary.
 */
import type * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import type { Batch, BatchSource } from "../data/types.js";
import { ConfigError, InputError } from "../errors.js";
import type { DTransformer } from "../model/dtransformer.js";
import { Rng } from "../tensor/random.js";
import { _globalNorm, checkMaxNorm, clipScale } from "./clip.js";
import { checkFits } from "../engine/memory-estimate.js";
import { logTable, type TrainRow } from "./log.js";
import { _accumulatedGrads, checkBatch, evaluateLoss } from "./loss.js";
import { createOptimizer, Optimizer, slotNames, type OptimizerOptions } from "./optim.js";
import { gradPoolFor, type GradPool } from "./parallel.js";
import { lrAt, resolveSchedule, type ResolvedSchedule, type ScheduleSpec } from "./schedule.js";
import { saveTrainingState, type TrainingState } from "./state.js";
import { currentSignal, startProgress } from "../runtime/context.js";
import { describedStepMacs, refuseLongRunOnCpu, trainingMacs } from "../runtime/long-run.js";

export interface TrainingOptions {
  /** where batches come from; `next(rng)` must draw only from the given Rng */
  source: BatchSource;
  /** the step to train up to (a resumed run at step k does steps − k more) */
  steps: number;
  /** AdamW (default) or SGD options, or an existing Optimizer on this model */
  optimizer?: OptimizerOptions | Optimizer;
  /** η: a number (constant) or a schedule (default constant 3e-4); a cosine's T defaults to `steps` */
  schedule?: ScheduleSpec | number;
  /** maximum global gradient norm (default 1; null = no clipping; with `resume`, the saved run's) */
  clip?: number | null;
  /** micro-batches per step (default 1; with `resume`, the saved run's) */
  accumulate?: number;
  /** seed of the batch Rng (default 0), or the Rng itself */
  seed?: number | string;
  rng?: Rng;
  /** abort to stop at the next step boundary */
  signal?: AbortSignal;
  /** validation: every `valEvery` steps (and at the last step), the mean loss on `valBatches` (default 8) batches from Rng(valSeed) */
  valSource?: BatchSource;
  valEvery?: number;
  valBatches?: number;
  valSeed?: number | string;
  /** called after every step with its row (live progress) */
  onStep?: (row: TrainRow) => void;
  /** run a long training (≥ LONG_RUN_MACS multiply-adds, lib/runtime/long-run.ts) on TF.js's slow cpu backend although wasm is available */
  allowCpu?: boolean;
  /** called after each checkpoint save */
  onCheckpoint?: (e: { step: number; dir: string }) => void;
  /** keep every logEvery-th row in the log (default 1; rows with val_loss and the last row are always kept) */
  logEvery?: number;
  /** save a training checkpoint (and metrics.csv) here every `checkpointEvery` steps and when the run stops */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** continue a saved or returned state exactly (its optimizer, Rng, step, schedule and log) */
  resume?: TrainingState;
  /** a description of the run stored in checkpoints (JSON values) */
  run?: Record<string, unknown>;
  /**
   * W: compute each step's gradient data-parallel on the main thread + W−1 worker threads (default 1:
   * one process). Rows are split into W fixed shards and combined token-weighted in a fixed order
   * (parallel.ts): deterministic, equal to W = 1 up to float32 rounding. Not stored in checkpoints;
   * ignored (1) on tfjs-node, which already uses every core.
   */
  workers?: number;
  /**
   * compute each micro-batch's gradient layer by layer, recomputing each layer's forward in the
   * backward pass (lib/train/recompute.ts): one layer's tape in memory instead of the whole pass's, for
   * one more forward pass. "auto" (default): on wasm, when the whole-tape step's memory estimate does
   * not fit the heap. Not with workers > 1.
   */
  recompute?: boolean | "auto";
}

export type TrainingStatus = "completed" | "interrupted" | "diverged";

export interface TrainingResult {
  /** the log rows as an arquero table (columns: LOG_COLUMNS) */
  log: aq.ColumnTable;
  rows: TrainRow[];
  status: TrainingStatus;
  message: string;
  /** updates applied by this call */
  stepsDone: number;
  /** the realised sequence lengths of this call's steps (a length curriculum's mixture): ℓ, steps, fraction */
  lengths: { length: number; steps: number; fraction: number }[];
  /** the step reached (resume.step + stepsDone) */
  step: number;
  /** the optimiser (its m, v stay allocated for a resume: dispose() it when done) */
  optimizer: Optimizer;
  /** the state at the end, for `resume` or saveTrainingState */
  state: TrainingState;
}

/** Everything the loop needs, resolved and validated. */
interface Run {
  model: DTransformer;
  opts: TrainingOptions;
  optimizer: Optimizer;
  ownsOptimizer: boolean;
  rng: Rng;
  schedule: ResolvedSchedule;
  clip: number | null;
  accumulate: number;
  logEvery: number;
  vars: [string, tf.Variable][];
  step: number;
  rows: TrainRow[];
  tokensSeen: number;
  timeS: number;
  pool: GradPool | undefined;
  signal?: AbortSignal | undefined;
  /** set when the source's description gives no batch shape: the long-run check then measures step 1's batches */
  checkFirstBatch?: (batches: readonly Batch[]) => Promise<void>;
}

function count(v: number | undefined, dflt: number, name: string, min = 1): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < min) throw new ConfigError(`dTraining: ${name}=${v} must be an integer ≥ ${min}`);
  return x;
}

function pickOptimizer(model: DTransformer, o: TrainingOptions): { optimizer: Optimizer; owns: boolean } {
  const r = o.resume;
  if (r && (o.optimizer || o.rng || o.seed !== undefined)) throw new ConfigError("dTraining: with `resume`, the optimizer and the Rng come from the state; drop `optimizer`, `rng` and `seed`");
  if (r && r.model.params !== model.params) throw new ConfigError("dTraining: `resume` belongs to another model; call dTraining(state.model, { resume: state, … })");
  const given = r?.optimizer ?? (o.optimizer instanceof Optimizer ? o.optimizer : undefined);
  if (given && given.params !== model.params) throw new ConfigError("dTraining: the optimizer was made for another model's parameters");
  return given ? { optimizer: given, owns: false } : { optimizer: createOptimizer(model.params, o.optimizer as OptimizerOptions | undefined), owns: true };
}

function prepare(model: DTransformer, o: TrainingOptions): Run {
  if (!o?.source || typeof o.source.next !== "function") throw new ConfigError("dTraining: `source` must be a BatchSource (an object with next(rng))");
  const r = o.resume;
  const step = r?.step ?? 0;
  count(o.steps, NaN, "steps", 0);
  if (o.steps < step) throw new ConfigError(`dTraining: steps=${o.steps} is below the resumed step ${step}; steps is the step to train up to`);
  if (o.valSource) count(o.valEvery, NaN, "valEvery");
  if (o.checkpointEvery !== undefined) count(o.checkpointEvery, 1, "checkpointEvery");
  const saved = r?.run ?? {}; // a resumed run keeps its accumulation and clipping unless overridden
  const accumulate = count(o.accumulate ?? (saved.accumulate as number | undefined), 1, "accumulate");
  const logEvery = count(o.logEvery, 1, "logEvery");
  const clip = checkMaxNorm(o.clip !== undefined ? o.clip : "clip" in saved ? saved.clip : 1, "dTraining: clip");
  const schedule = resolveSchedule(o.schedule ?? r?.schedule, o.steps);
  const workers = count(o.workers, 1, "workers");
  if (o.recompute !== undefined && o.recompute !== "auto" && typeof o.recompute !== "boolean") throw new ConfigError(`dTraining: recompute=${JSON.stringify(o.recompute)} must be true, false or "auto"`);
  if (o.recompute === true && workers > 1) throw new ConfigError(`dTraining: recompute: true runs on the main thread only; use workers: 1 (got workers=${workers})`);
  const { optimizer, owns } = pickOptimizer(model, o);
  const vars = optimizer.variables();
  return {
    model, opts: o, optimizer, ownsOptimizer: owns, schedule, clip, accumulate, logEvery, step,
    rng: r?.rng ?? o.rng ?? new Rng(o.seed ?? 0),
    vars,
    pool: gradPoolFor(model, workers, vars),
    rows: [...(r?.log ?? [])],
    tokensSeen: r?.tokensSeen ?? 0,
    timeS: r?.timeS ?? 0,
  };
}

/** recompute "auto": on wasm, when the whole-tape step of batch b does not fit the heap (checkBatch then checks the layer-by-layer one). */
function wantsRecompute(run: Run, b: Batch, optimizer: { slots: number; host: boolean; live: boolean }): boolean {
  const r = run.opts.recompute ?? "auto";
  if (r !== "auto") return r;
  if (tf.getBackend() !== "wasm" || !(b?.batch > 0 && b?.length >= 2)) return false;
  try {
    checkFits(run.model.cfg, { batch: b.batch, length: b.length, training: true, layout: run.model.layout, optimizer });
    return false;
  } catch (e) {
    if (e instanceof InputError) return true;
    throw e;
  }
}

const describeNonFinite = (loss: number, norm: number) => [!Number.isFinite(loss) ? `loss is ${loss}` : "", !Number.isFinite(norm) ? `gradient norm is ${norm}` : ""].filter(Boolean).join(" and ");

/**
 * Refuses a long run on an unrequested cpu backend (lib/runtime/long-run.ts): the work of `steps`
 * steps from the source's described batch shape, the validation passes included; a source that does
 * not describe its shape is measured on the first step's batches instead (before any computation).
 */
async function refuseLongTraining(run: Run, steps: number): Promise<void> {
  const o = run.opts;
  const what = `dTraining: ${steps} steps`;
  const vals = o.valSource && o.valEvery ? Math.ceil(steps / o.valEvery) * (o.valBatches ?? 8) : 0;
  const valMacs = vals && o.valSource ? (describedStepMacs(run.model.cfg, o.valSource.describe()) ?? 0) / 3 : 0;
  const perStep = describedStepMacs(run.model.cfg, o.source.describe());
  if (perStep !== undefined) return refuseLongRunOnCpu(what, steps * run.accumulate * perStep + vals * valMacs, o.allowCpu);
  run.checkFirstBatch = (batches) => {
    const macs = batches.reduce((n, b) => n + trainingMacs(run.model.cfg, b.length, b.batch), 0);
    return refuseLongRunOnCpu(what, steps * macs + vals * valMacs, o.allowCpu);
  };
}

/** The long-run check on step 1's batches (refuseLongTraining); a refusal rewinds the Rng. */
async function checkFirstBatch(run: Run, batches: readonly Batch[], rngBefore: ReturnType<Rng["state"]>): Promise<void> {
  const check = run.checkFirstBatch!;
  run.checkFirstBatch = undefined;
  try {
    await check(batches);
  } catch (e) {
    run.rng.setState(rngBefore); // nothing drawn, nothing applied
    throw e;
  }
}

/** Steps 1–5 of the header for update s; returns the row, or why it diverged (nothing applied, Rng rewound). */
async function trainStep(run: Run, s: number): Promise<{ row: TrainRow } | { diverged: string } | { interrupted: string }> {
  const rngBefore = run.rng.state();
  const batches: Batch[] = [];
  let recompute = false;
  const optimizer = { slots: slotNames(run.optimizer.hyper).length, host: run.optimizer.moments === "host", live: true };
  for (let i = 0; i < run.accumulate; i++) {
    const b = run.opts.source.next(run.rng);
    const rowsPerPass = Math.ceil(b?.batch / (run.pool?.participants ?? 1)); // with workers, each participant holds about B/W rows at a time
    recompute ||= !run.pool && wantsRecompute(run, b, optimizer);
    checkBatch(run.model, b, `dTraining: step ${s}, ${run.opts.source.name} micro-batch ${i}`, { training: true, rowsPerPass, recompute, optimizer });
    batches.push(b);
  }
  if (run.checkFirstBatch) await checkFirstBatch(run, batches, rngBefore);
  const lr = lrAt(run.schedule, s);
  const t0 = performance.now();
  // With gradient workers the step awaits other threads (their start-up, their shards), so an interrupt
  // can arrive mid-step, and the host (a notebook cell) may report the cell interrupted before the step
  // ends: applying this update afterwards would change the parameters behind the user's back. The
  // signal is checked before the gradient, passed to the pool (which terminates its workers as soon as
  // it is aborted) and checked again after it; an aborted step applies nothing and the state stays
  // that of step s − 1.
  const dropped = (): { interrupted: string } => {
    run.rng.setState(rngBefore);
    return { interrupted: `interrupted at step ${s - 1}: the signal was aborted during step ${s} (gradient workers); that update was not applied (parameters are those after step ${s - 1})` };
  };
  if (run.pool && run.signal?.aborted) return dropped();
  let got: { loss: tf.Scalar; grads: Map<string, tf.Tensor> };
  if (run.pool) {
    try {
      got = await run.pool.grads(batches, run.signal);
    } catch (e) {
      if (run.signal?.aborted) return dropped();
      run.rng.setState(rngBefore); // nothing applied
      throw e;
    }
  } else {
    got = _accumulatedGrads(run.model, batches, run.vars, { recompute });
  }
  const { loss, grads } = got;
  if (run.pool && run.signal?.aborted) {
    tf.dispose([loss, ...grads.values()]);
    return dropped();
  }
  let lossV: number;
  let norm: number;
  try {
    const pair = tf.tidy(() => tf.stack([loss, _globalNorm(grads.values())]));
    [lossV, norm] = pair.dataSync() as unknown as [number, number];
    pair.dispose();
    if (!Number.isFinite(lossV) || !Number.isFinite(norm)) {
      run.rng.setState(rngBefore); // the state stays that of step s − 1
      return { diverged: `diverged at step ${s}: ${describeNonFinite(lossV, norm)}; the update was not applied (parameters are those after step ${s - 1})` };
    }
    // one parameter at a time, each gradient freed once applied (its update's temporaries are those of one tensor)
    run.optimizer.apply(grads, lr, { scale: clipScale(norm, run.clip), release: true });
  } finally {
    tf.dispose([loss, ...grads.values()]);
  }
  const dt = (performance.now() - t0) / 1000;
  const tokens = batches.reduce((n, b) => n + b.batch * b.length, 0);
  run.tokensSeen += tokens;
  run.timeS += dt;
  return {
    row: {
      step: s, loss: lossV, lr, grad_norm: norm,
      tokens_per_s: dt > 0 ? tokens / dt : 0,
      tokens_seen: run.tokensSeen,
      seq_len: Math.max(...batches.map((b) => b.length)),
      batch: batches.reduce((n, b) => n + b.batch, 0),
      val_loss: null,
      time_s: run.timeS,
    },
  };
}

function stateOf(run: Run): TrainingState {
  const o = run.opts;
  const source = { name: o.source.name, ...o.source.describe() };
  const val = o.valSource ? { source: { name: o.valSource.name, ...o.valSource.describe() }, every: o.valEvery, batches: o.valBatches ?? 8, seed: o.valSeed ?? 0 } : null;
  return {
    model: run.model, optimizer: run.optimizer, rng: run.rng, step: run.step, schedule: run.schedule,
    tokensSeen: run.tokensSeen, timeS: run.timeS, log: run.rows,
    run: { ...(o.resume?.run ?? {}), steps: o.steps, accumulate: run.accumulate, clip: run.clip, source, val, ...(o.run ? { user: o.run } : {}) },
  };
}

async function checkpoint(run: Run): Promise<void> {
  const dir = run.opts.checkpointDir!;
  await saveTrainingState(dir, stateOf(run));
  run.opts.onCheckpoint?.({ step: run.step, dir });
}

/** After a good step: validation, the log, onStep, a periodic checkpoint. Returns whether it saved. */
async function afterStep(run: Run, row: TrainRow): Promise<boolean> {
  const o = run.opts;
  const last = row.step === o.steps;
  if (o.valSource && (row.step % o.valEvery! === 0 || last)) {
    row.val_loss = evaluateLoss(run.model, o.valSource, { batches: o.valBatches ?? 8, seed: o.valSeed ?? 0 });
  }
  if (row.step % run.logEvery === 0 || row.val_loss !== null || last) run.rows.push(row);
  o.onStep?.(row);
  if (o.checkpointDir && o.checkpointEvery && row.step % o.checkpointEvery === 0) {
    await checkpoint(run);
    return true;
  }
  return false;
}

/**
 * Train `model` in place (Algorithm 13) and return the log and how the run ended. Never throws for
 * divergence or an interrupt: those end the run with status "diverged" / "interrupted" and the
 * parameters of the last completed step.
 *
 * @example
 * const ac = new AbortController();
 * const r = await dTraining(model, { source, steps: 2000, schedule: { kind: "cosine", lr: 1e-3, warmup: 100 },
 *   optimizer: { weightDecay: 0.1 }, signal: ac.signal, onStep: (row) => progress(row) });
 * r.status; r.log.filter((d) => d.step % 100 === 0).print();
 */
export async function dTraining(model: DTransformer, opts: TrainingOptions): Promise<TrainingResult> {
  const run = prepare(model, opts);
  const start = run.step;
  try {
    await refuseLongTraining(run, opts.steps - start);
  } catch (e) {
    if (run.ownsOptimizer) run.optimizer.dispose();
    await run.pool?.close();
    throw e;
  }
  const signal = currentSignal(opts.signal); // default: the host's (a notebook cell's interrupt)
  run.signal = signal;
  const progress = startProgress(`training to step ${opts.steps}`, opts.steps);
  const userOnStep = run.opts.onStep;
  run.opts = { ...run.opts, onStep: (row) => {
    userOnStep?.(row);
    progress.update(row.step, { loss: row.loss, lr: row.lr, "tokens/s": Math.round(row.tokens_per_s), ...(row.val_loss !== null ? { val_loss: row.val_loss } : {}) });
  } };
  let status: TrainingStatus = "completed";
  let message = "";
  let savedAt = -1;
  let lastRow: TrainRow | undefined;
  const lengthCounts = new Map<number, number>();
  try {
    while (run.step < opts.steps) {
      await new Promise<void>((resolve) => setImmediate(resolve)); // let an interrupt be delivered
      if (signal?.aborted) {
        [status, message] = ["interrupted", `interrupted at step ${run.step}: the signal was aborted; parameters are those after step ${run.step}`];
        break;
      }
      const out = await trainStep(run, run.step + 1);
      if ("interrupted" in out) {
        [status, message] = ["interrupted", out.interrupted];
        break;
      }
      if ("diverged" in out) {
        [status, message] = ["diverged", out.diverged];
        break;
      }
      run.step += 1;
      lastRow = out.row;
      lengthCounts.set(out.row.seq_len, (lengthCounts.get(out.row.seq_len) ?? 0) + 1);
      if (await afterStep(run, out.row)) savedAt = run.step;
    }
    if (lastRow && run.rows[run.rows.length - 1] !== lastRow) run.rows.push(lastRow); // the last step is always logged
    if (opts.checkpointDir && run.step > start && savedAt !== run.step) await checkpoint(run);
  } catch (e) {
    if (run.ownsOptimizer) run.optimizer.dispose();
    progress.end(`failed: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  } finally {
    await run.pool?.close(); // worker threads never outlive the call
  }
  if (status === "completed") message = `completed ${run.step - start} steps (step ${run.step})${run.rows.length ? `, last loss ${run.rows[run.rows.length - 1]!.loss.toFixed(4)}` : ""}`;
  progress.end(message);
  const done = run.step - start;
  const lengths = [...lengthCounts].sort((a, b) => a[0] - b[0]).map(([length, steps]) => ({ length, steps, fraction: steps / Math.max(done, 1) }));
  return { log: logTable(run.rows), rows: run.rows, status, message, stepsDone: done, step: run.step, lengths, optimizer: run.optimizer, state: stateOf(run) };
}
