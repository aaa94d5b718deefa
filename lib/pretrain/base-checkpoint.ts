/**
 * Making a base checkpoint of data/checkpoints/ from its typed recipe (recipes.ts): train with
 * dTraining in the recipe's phases (resumable snapshots in a work directory), watch retrieval on a
 * dev sweep while training (when it appears), evaluate the final model on the committed evalsets at
 * ℓ ≤ 128 and a larger generated sweep, and write the checkpoint directory atomically (built in a
 * temporary directory, checked to load, then renamed): config.json, model.safetensors, metrics.csv,
 * passkey-curve.csv, eval.json, eval.csv, recipe.json. Same recipe → same weights (single worker;
 * with 2 workers the gradient is summed in a fixed order, equal up to float32 rounding).
 * `scripts/make-checkpoints.mjs` is the command-line front of `makeBaseCheckpoint`.
 */
import { access, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import { textTokens, windowSource } from "../data/batches.js";
import { corpusSplit, mobyDick } from "../data/corpus.js";
import { byteTokenizer } from "../data/tokenizer.js";
import type { BatchSource } from "../data/types.js";
import { scoreLogits } from "../eval/score.js";
import { depthSweep } from "../eval/tasks.js";
import type { EvalExample } from "../eval/types.js";
import { DTransformer } from "../model/dtransformer.js";
import { positionalFrom } from "../positional/registry.js";
import { dTraining, type TrainingResult } from "../train/dtraining.js";
import type { TrainRow } from "../train/log.js";
import { loadTrainingState, type TrainingState } from "../train/state.js";
import { BASE_ENCODINGS, baseArchitecture, baseSchedule, phaseSpans, type BaseName, type BaseRecipe } from "./recipes.js";
import { retrievalMixSource } from "./retrieval-mix.js";
import { makeConfig } from "../config.js";
import { refuseLongRunOnCpu, trainingMacs } from "../runtime/long-run.js";

const tok = byteTokenizer({ specials: false });

export interface TrainBaseOptions {
  /** resumable training snapshots and the passkey curve go here (default scratch/checkpoints/<name>) */
  work?: string;
  /** dev-sweep evaluation (and validation) every this many steps (default 100) */
  evalEvery?: number;
  /** training snapshot every this many steps (default 100) */
  saveEvery?: number;
  /** gradient workers (default 1) */
  workers?: number;
  /** continue the work directory's snapshot when there is one */
  resume?: boolean;
  /** stop after this step (a probe of the first steps; the schedule is still the recipe's) */
  stopAfter?: number;
  /** progress lines (default: none) */
  log?: (line: string) => void;
  /** train (and evaluate) with ≥ LONG_RUN_MACS multiply-adds on TF.js's slow cpu backend although wasm is available (lib/runtime/long-run.ts) */
  allowCpu?: boolean;
}

/** One point of the passkey curve (passkey-curve.csv). */
export interface CurvePoint {
  step: number;
  loss: number;
  passkey_64: number | null;
  passkey_128: number | null;
  lines_128: number | null;
  copy_loss: number;
  wall_s: number;
}

export interface TrainedBase {
  model: DTransformer;
  result: TrainingResult;
  curve: CurvePoint[];
  work: string;
  /** the last phase's data source (its description goes into recipe.json) */
  source: BatchSource;
}

const pct = (x: number | null) => (x === null ? "—" : `${(100 * x).toFixed(1)}%`);
const exists = (p: string) => access(p).then(() => true, () => false);

/** Mean of `correct` over the rows that ran (null when none did). */
function accuracy(rows: readonly { correct?: boolean | number | null }[]): number | null {
  const ran = rows.filter((r) => r.correct !== null && r.correct !== undefined);
  return ran.length ? ran.reduce((s, r) => s + Number(r.correct), 0) / ran.length : null;
}

/** Rows as CSV text with a final newline ("" for no rows). */
export function rowsCsv(rows: readonly object[]): string {
  return rows.length ? `${aq.from(rows as Record<string, unknown>[]).toCSV()}\n` : "";
}

/** The dev sweep watched during training (seed "dev": disjoint from the committed evalsets' seed 0). */
function devExamples(): { pk: EvalExample[]; ln: EvalExample[] } {
  const pk = depthSweep("passkey", tok, { lengths: [64, 128], depths: [0, 0.25, 0.5, 0.75, 1], n: 4, variant: "compact", seed: "dev" });
  const ln = depthSweep("lines", tok, { lengths: [128], depths: [0, 0.5, 1], n: 4, variant: "compact", seed: "dev" });
  return { pk, ln };
}

/**
 * The induction probe: 8 fixed copy rows (a random a–z0–9 string of 20 characters repeated with " ",
 * seed-independent), scored teacher-forced. The mean loss (nats) on the positions after the first
 * period, the ones an induction head can predict: ≈ ln 37 without induction, → 0 with it.
 */
export function copyProbe(model: DTransformer): number {
  const A = "abcdefghijklmnopqrstuvwxyz0123456789";
  let x = 12345;
  const rnd = () => (x = (x * 16807) % 2147483647) / 2147483647;
  let sum = 0;
  let count = 0;
  for (let r = 0; r < 8; r++) {
    let s = "";
    for (let i = 0; i < 20; i++) s += A[Math.floor(rnd() * A.length)];
    const ids = [...`${s} `.repeat(8).slice(0, 129)].map((c) => c.charCodeAt(0));
    const lp = tf.tidy(() => tf.logSoftmax(model.logits(ids.slice(0, 128))).arraySync() as number[][]);
    for (let i = 21; i < 128; i++) {
      sum -= lp[i]![ids[i + 1]!]!;
      count++;
    }
  }
  return sum / count;
}

const quickAccuracy = (model: DTransformer, examples: readonly EvalExample[]) => examples.map((ex) => ({ length: ex.length, correct: scoreLogits(model, ex, tok).correct }));

/** The model to train: a fresh one from the recipe, or the work directory's snapshot with its curve. */
async function startingPoint(name: BaseName, R: BaseRecipe, work: string, o: TrainBaseOptions) {
  const curvePath = join(work, "passkey-curve.csv");
  if (o.resume && (await exists(join(work, "trainer-state.json")))) {
    const resume = await loadTrainingState(work);
    let curve: CurvePoint[] = [];
    if (await exists(curvePath)) {
      const [head, ...lines] = (await readFile(curvePath, "utf8")).trim().split("\n");
      const cols = head!.split(",");
      curve = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v === "" ? null : Number(v)])) as unknown as CurvePoint).filter((r) => r.step <= resume.step);
    }
    o.log?.(`${name}: resuming from step ${resume.step}`);
    return { model: resume.model, resume: resume as TrainingState | undefined, curve };
  }
  await rm(work, { recursive: true, force: true });
  const model = DTransformer.create({ ...baseArchitecture(R), positional: positionalFrom(BASE_ENCODINGS[name]) }, R.seed);
  return { model, resume: undefined as TrainingState | undefined, curve: [] as CurvePoint[] };
}

/** Train base `name` with recipe R (see the header); the model is the caller's to dispose. */
export async function trainBase(name: BaseName, R: BaseRecipe, o: TrainBaseOptions = {}): Promise<TrainedBase> {
  const work = o.work ?? join("scratch/checkpoints", name);
  const evalEvery = o.evalEvery ?? 100;
  const { train, val } = corpusSplit(mobyDick());
  const mix = (weights: BaseRecipe["phases"][number]["weights"]) => retrievalMixSource({ batch: R.batch, length: R.length, text: train, weights, piFiller: R.piFiller, minEpisode: R.minEpisode });
  const stop = Math.min(o.stopAfter ?? R.steps, R.steps);
  const phases = phaseSpans(R).filter((p) => p.first <= stop).map((p) => ({ until: Math.min(p.until, stop), source: mix(p.weights) }));
  const valSource = windowSource(textTokens(val, tok), { batch: 8, length: R.length });
  // before startingPoint, which clears the work directory of a fresh run
  const cfg = makeConfig({ ...baseArchitecture(R), positional: positionalFrom(BASE_ENCODINGS[name]) });
  await refuseLongRunOnCpu(`trainBase("${name}"): ${stop} steps of ${R.batch} × ${R.length} tokens`, stop * trainingMacs(cfg, R.length, R.batch), o.allowCpu);
  const { model, resume, curve } = await startingPoint(name, R, work, o);
  const curvePath = join(work, "passkey-curve.csv");
  await mkdir(work, { recursive: true });
  const dev = devExamples();
  const t0 = performance.now();
  const onStep = (row: TrainRow) => {
    if (row.step % evalEvery === 0 || row.step === R.steps) {
      const pk = quickAccuracy(model, dev.pk);
      const rec: CurvePoint = {
        step: row.step, loss: +row.loss.toFixed(4), passkey_64: accuracy(pk.filter((r) => r.length === 64)), passkey_128: accuracy(pk.filter((r) => r.length === 128)),
        lines_128: accuracy(quickAccuracy(model, dev.ln)), copy_loss: +copyProbe(model).toFixed(4), wall_s: Math.round((performance.now() - t0) / 1000),
      };
      curve.push(rec);
      const dv = `dev passkey ℓ64 ${pct(rec.passkey_64)} ℓ128 ${pct(rec.passkey_128)} lines ℓ128 ${pct(rec.lines_128)} copy ${rec.copy_loss.toFixed(2)}`;
      o.log?.(`${name} step ${row.step}/${R.steps} loss ${row.loss.toFixed(3)} val ${row.val_loss?.toFixed(3) ?? "—"} | ${dv} | ${Math.round(row.tokens_per_s)} tok/s, ${rec.wall_s} s`);
      writeFile(curvePath, rowsCsv(curve)).catch(() => {});
    } else if (row.step % 25 === 0) {
      o.log?.(`${name} step ${row.step}/${R.steps} loss ${row.loss.toFixed(3)} lr ${row.lr.toExponential(2)} ${Math.round(row.tokens_per_s)} tok/s`);
    }
  };
  if (resume && !curve.some((c) => c.step === resume.step)) onStep({ ...resume.log!.at(-1)!, step: resume.step }); // the curve's point at the resumed step
  let r: TrainingResult | undefined;
  for (const [i, ph] of phases.entries()) {
    if (r && ph.until <= r.step) continue;
    if (!r && resume && ph.until <= resume.step && i !== phases.length - 1) continue; // a resumed run past this phase
    const from = r?.state ?? resume;
    r = await dTraining(model, {
      source: ph.source, steps: ph.until, valSource, onStep, valEvery: evalEvery, valBatches: 8,
      schedule: baseSchedule(R), clip: R.clip,
      checkpointDir: work, checkpointEvery: o.saveEvery ?? 100, workers: o.workers ?? 1, ...(o.allowCpu ? { allowCpu: true } : {}),
      ...(from ? { resume: from } : { seed: R.seed, optimizer: { weightDecay: R.weightDecay } }),
      run: { recipe: R, encoding: name, phase: i + 1 },
    });
    if (r.status !== "completed") throw new Error(`${name}: training ${r.status}: ${r.message}`);
  }
  if (!r) throw new Error(`${name}: nothing to train (the work directory is at step ${resume?.step ?? 0} of ${stop})`);
  r.optimizer.dispose();
  await writeFile(curvePath, rowsCsv(curve));
  return { model, result: r, curve, work, source: phases.at(-1)!.source };
}
