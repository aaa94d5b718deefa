/**
 * Training faults: dTraining must stop cleanly, keep the parameters of the last good step, say why,
 * and leave the previous checkpoint loadable.
 *
 *   NaN / +∞ in a gradient     a positional encoding whose backward multiplies by NaN or ∞ from step 3
 *                              (the loss stays finite): status "diverged", nothing applied
 *   NaN in the forward         the same encoding adds NaN to the embeddings from step 3 (a poisoned
 *                              batch: token ids are int32 and cannot hold NaN): "diverged"
 *   corrupt batches            a token id = N_V, a wrong-length batch, a source that throws: the error
 *                              names the step; parameters of step 2; the step-2 checkpoint loads
 *   unwritable output          checkpointDir under a regular file (ENOTDIR); the directory remounted
 *                              read-only between steps (EROFS, a bind mount: root ignores chmod); a
 *                              tmpfs with room for one snapshot only (ENOSPC on the second)
 *   abort at every phase       before the run, in the batch source, in the forward/backward, in
 *                              onStep, in validation, in onCheckpoint, while the checkpoint is being
 *                              written, and (full run) with gradient worker threads: "interrupted"
 *                              at the step that was running, its parameters kept and checkpointed
 * Every case also checks that no tensors leaked and no gradient worker is left running.
 */
import * as tf from "@tensorflow/tfjs";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { presets } from "../../lib/config.js";
import { CheckpointError, InputError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { learned } from "../../lib/positional/index.js";
import type { PeContext, PositionalEncoding, PositionRange } from "../../lib/positional/types.js";
import type { Batch, BatchSource } from "../../lib/data/types.js";
import { Rng } from "../../lib/tensor/random.js";
import { dTraining, type TrainingOptions, type TrainingResult } from "../../lib/train/dtraining.js";
import { liveGradWorkers } from "../../lib/train/parallel.js";
import { loadTrainingState, saveTrainingState } from "../../lib/train/state.js";
import { createOptimizer } from "../../lib/train/optim.js";
import type { TrainRow } from "../../lib/train/log.js";

export interface FaultResult {
  fault: string;
  /** what happened: a status and message, or the error thrown */
  outcome: string;
  ok: boolean;
  /** a previous checkpoint or the last good parameters were lost */
  dataLost: boolean;
  problems: string[];
  skipped?: string;
}

/** What the injecting encoding does (set from onStep, read at the next forward). */
interface Injection {
  gradFactor?: number;
  forwardAdd?: number;
  onForward?: () => void;
}

/** learned() with hooks: multiply the gradient of the positional rows, add to the forward, run a callback. */
function faultyLearned(inj: Injection): PositionalEncoding {
  const base = learned();
  const pe = Object.create(base) as PositionalEncoding & { embed(pos: PositionRange, ctx: PeContext): tf.Tensor };
  pe.embed = (pos, ctx) => {
    inj.onForward?.();
    const e = base.embed!(pos, ctx);
    if (inj.forwardAdd !== undefined) return tf.add(e, inj.forwardAdd);
    if (inj.gradFactor !== undefined) {
      const k = inj.gradFactor;
      const op = tf.customGrad(((x: tf.Tensor) => ({ value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.mul(dy, k) })) as unknown as Parameters<typeof tf.customGrad>[0]);
      return op(e);
    }
    return e;
  };
  return pe;
}

const B = 2;
const L = 8;
/** Random tokens for presets.micro (N_V = 11); `fault(step)` may replace a batch or throw. */
function source(name: string, onNext?: (n: number) => Batch | void): BatchSource {
  let n = 0;
  return {
    name,
    describe: () => ({}),
    next(rng: Rng): Batch {
      n++;
      const b: Batch = { tokens: Int32Array.from({ length: B * L }, () => rng.int(0, 11)), batch: B, length: L };
      return onNext?.(n) ?? b;
    },
  };
}

type Snap = Map<string, Float32Array>;
const snapshot = (m: DTransformer): Snap => new Map([...m.params.vars].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
function diff(m: DTransformer, s: Snap | undefined, what: string): string | undefined {
  if (!s) return `${what}: no snapshot to compare with`;
  for (const [k, want] of s) {
    const got = m.params.vars.get(k)?.dataSync();
    if (!got || got.length !== want.length || got.some((v, i) => !Object.is(v, want[i]))) return `${what}: parameter ${k} differs from the snapshot`;
  }
  return undefined;
}

interface Case {
  fault: string;
  /** "diverged" | "interrupted" | an error class that must be thrown */
  expect: "diverged" | "interrupted" | typeof InputError | typeof CheckpointError | typeof Error;
  /** the message must match */
  message: RegExp;
  /** the step whose parameters the model must hold afterwards */
  lastGood: number;
  /** the step the checkpoint directory must load as (null: no checkpoint expected) */
  checkpointAt: number | null;
  /** a loaded checkpoint's weights must equal the snapshot of checkpointAt (false when the case itself deleted it) */
  opts: (ctx: CaseCtx) => Partial<TrainingOptions>;
  pe?: (inj: Injection) => PositionalEncoding;
  setup?: (ctx: CaseCtx) => string | undefined;
  teardown?: (ctx: CaseCtx) => void;
}

interface CaseCtx {
  dir: string;
  inj: Injection;
  ac: AbortController;
  snaps: Map<number, Snap>;
  model: DTransformer;
  state: Record<string, unknown>;
}

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: "utf8" });
let mountWorks: boolean | undefined;
/** Whether this process may mount (root in a container that allows it). */
export function canMount(): boolean {
  if (mountWorks === undefined) {
    const d = mkdtempSync(join(tmpdir(), "ctxlab-mnt-"));
    mountWorks = sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", d]).status === 0;
    if (mountWorks) sh("umount", [d]);
    rmSync(d, { recursive: true, force: true });
  }
  return mountWorks;
}

/** Bytes one snapshot of `model` takes on disk (files rounded up to 4 KiB pages). */
async function snapshotBytes(model: DTransformer): Promise<number> {
  const d = mkdtempSync(join(tmpdir(), "ctxlab-size-"));
  try {
    const opt = createOptimizer(model.params, {});
    await saveTrainingState(d, { model, optimizer: opt, rng: new Rng(0), step: 1, schedule: 1e-3, log: [] });
    opt.dispose();
    let total = 0;
    const walk = (p: string) => {
      for (const n of readdirSync(p)) {
        const q = join(p, n);
        const st = statSync(q);
        if (st.isDirectory()) walk(q);
        else total += Math.ceil(st.size / 4096) * 4096;
      }
    };
    walk(d);
    return total;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

const abortAt = (ctx: CaseCtx, step: number) => (row: TrainRow) => {
  if (row.step === step) ctx.ac.abort();
};

function cases(full: boolean): Case[] {
  const base: Case[] = [
    {
      fault: "NaN in a gradient (step 3)", expect: "diverged", message: /diverged at step 3: gradient norm is NaN; the update was not applied \(parameters are those after step 2\)/,
      lastGood: 2, checkpointAt: 2, pe: faultyLearned,
      opts: (c) => ({ checkpointEvery: 5, onStep: (r) => void (r.step === 2 && (c.inj.gradFactor = NaN)) }),
    },
    {
      fault: "+Inf in a gradient (step 3)", expect: "diverged", message: /diverged at step 3: gradient norm is (Infinity|NaN)/,
      lastGood: 2, checkpointAt: 2, pe: faultyLearned,
      opts: (c) => ({ checkpointEvery: 2, onStep: (r) => void (r.step === 2 && (c.inj.gradFactor = Infinity)) }),
    },
    {
      fault: "NaN in the forward / poisoned batch (step 3)", expect: "diverged", message: /diverged at step 3: loss is NaN/,
      lastGood: 2, checkpointAt: 2, pe: faultyLearned,
      opts: (c) => ({ checkpointEvery: 5, onStep: (r) => void (r.step === 2 && (c.inj.forwardAdd = NaN)) }),
    },
    {
      fault: "token id = N_V in a batch (step 3)", expect: InputError, message: /dTraining: step 3, bad micro-batch 0: tokens\[5\] \(row 0, position 5\) = 11 is outside \[0, N_V\) with N_V=11/,
      lastGood: 2, checkpointAt: 2,
      opts: () => ({ checkpointEvery: 2, source: source("bad", (n) => (n === 3 ? { tokens: Int32Array.from({ length: B * L }, (_, i) => (i === 5 ? 11 : 1)), batch: B, length: L } : undefined)) }),
    },
    {
      fault: "wrong-length batch (step 3)", expect: InputError, message: /dTraining: step 3, bad micro-batch 0: tokens must be an Int32Array of B·ℓ = 2·8 = 16 ids, got Int32Array of 15/,
      lastGood: 2, checkpointAt: 2,
      opts: () => ({ checkpointEvery: 2, source: source("bad", (n) => (n === 3 ? { tokens: new Int32Array(15), batch: B, length: L } : undefined)) }),
    },
    {
      fault: "batch source throws (step 3)", expect: Error, message: /corpus unreadable at batch 3/,
      lastGood: 2, checkpointAt: 2,
      opts: () => ({ checkpointEvery: 2, source: source("bad", (n) => { if (n === 3) throw new Error("corpus unreadable at batch 3"); }) }),
    },
    {
      fault: "checkpointDir under a regular file (ENOTDIR)", expect: CheckpointError, message: /saveTrainingState\(.*plain-file\/ckpt\): .*(ENOTDIR|EEXIST|not a directory)/,
      lastGood: 2, checkpointAt: null,
      setup: (c) => { writeFileSync(join(c.dir, "plain-file"), "x"); c.state.ckpt = join(c.dir, "plain-file", "ckpt"); return undefined; },
      opts: (c) => ({ checkpointEvery: 2, checkpointDir: c.state.ckpt as string }),
    },
    {
      fault: "output directory read-only from step 3 (EROFS)", expect: CheckpointError, message: /EROFS|read-only file system/,
      lastGood: 4, checkpointAt: 2,
      setup: () => (canMount() ? undefined : "mount is not permitted here"),
      opts: (c) => ({
        checkpointEvery: 2,
        onStep: (r) => {
          if (r.step !== 3) return;
          if (sh("mount", ["--bind", c.dir, c.dir]).status !== 0 || sh("mount", ["-o", "remount,bind,ro", c.dir]).status !== 0) throw new Error("could not remount read-only");
          c.state.mounted = true;
        },
      }),
      teardown: (c) => void (c.state.mounted && sh("umount", [c.dir])),
    },
    {
      fault: "disk full on the second checkpoint (ENOSPC)", expect: CheckpointError, message: /ENOSPC|no space left/,
      lastGood: 4, checkpointAt: 2,
      setup: (c) => {
        if (!canMount()) return "mount is not permitted here";
        const size = c.state.snapshotBytes as number;
        if (sh("mount", ["-t", "tmpfs", "-o", `size=${Math.ceil((1.5 * size) / 4096) * 4}k`, "tmpfs", c.dir]).status !== 0) return "tmpfs mount failed";
        c.state.mounted = true;
        return undefined;
      },
      opts: () => ({ checkpointEvery: 2 }),
      teardown: (c) => void (c.state.mounted && sh("umount", [c.dir])),
    },
    {
      fault: "abort before the first step", expect: "interrupted", message: /interrupted at step 0/, lastGood: 0, checkpointAt: null,
      setup: (c) => void c.ac.abort(), opts: () => ({ checkpointEvery: 2 }),
    },
    {
      fault: "abort inside the batch source (step 3)", expect: "interrupted", message: /interrupted at step 3: the signal was aborted; parameters are those after step 3/,
      lastGood: 3, checkpointAt: 3, opts: (c) => ({ checkpointEvery: 2, source: source("src", (n) => void (n === 3 && c.ac.abort())) }),
    },
    {
      fault: "abort during the forward/backward (step 3)", expect: "interrupted", message: /interrupted at step 3/, lastGood: 3, checkpointAt: 3, pe: faultyLearned,
      opts: (c) => ({ checkpointEvery: 2, onStep: (r) => void (r.step === 2 && (c.inj.onForward = () => c.ac.abort())) }),
    },
    { fault: "abort in onStep (step 3)", expect: "interrupted", message: /interrupted at step 3/, lastGood: 3, checkpointAt: 3, opts: (c) => ({ checkpointEvery: 2, onStep: abortAt(c, 3) }) },
    {
      fault: "abort during validation (step 4)", expect: "interrupted", message: /interrupted at step 4/, lastGood: 4, checkpointAt: 4,
      opts: (c) => {
        let val = 0;
        return { checkpointEvery: 3, valEvery: 2, valBatches: 2, valSource: source("val", () => void (++val === 3 && c.ac.abort())) }; // validation batches 3-4 belong to step 4
      },
    },
    { fault: "abort in onCheckpoint (step 4)", expect: "interrupted", message: /interrupted at step 4/, lastGood: 4, checkpointAt: 4, opts: (c) => ({ checkpointEvery: 2, onCheckpoint: (e) => void (e.step === 4 && c.ac.abort()) }) },
    {
      fault: "abort while the checkpoint is written (step 4)", expect: "interrupted", message: /interrupted at step 4/, lastGood: 4, checkpointAt: 4,
      opts: (c) => ({ checkpointEvery: 2, onStep: (r) => void (r.step === 4 && setImmediate(() => c.ac.abort())) }),
    },
  ];
  if (full) {
    base.push({
      // with workers the step awaits other threads: an abort seen before or after the gradient drops the update
      fault: "abort inside the batch source, 2 gradient workers (step 3)", expect: "interrupted", message: /interrupted at step 2: the signal was aborted during step 3 \(gradient workers\); that update was not applied/, lastGood: 2, checkpointAt: 2,
      opts: (c) => ({ checkpointEvery: 2, workers: 2, source: source("src", (n) => void (n === 3 && c.ac.abort())) }),
    });
  }
  return base;
}

async function runCase(c: Case, root: string, i: number, snapBytes: number): Promise<FaultResult> {
  const dir = join(root, `case${i}`);
  mkdirSync(dir, { recursive: true });
  const tensors0 = tf.memory().numTensors;
  const inj: Injection = {};
  const model = DTransformer.create({ ...presets.micro, positional: c.pe ? c.pe(inj) : learned() }, 1);
  const ctx: CaseCtx = { dir, inj, ac: new AbortController(), snaps: new Map([[0, snapshot(model)]]), model, state: { snapshotBytes: snapBytes } };
  const res: FaultResult = { fault: c.fault, outcome: "", ok: false, dataLost: false, problems: [] };
  try {
    const skip = c.setup?.(ctx);
    if (skip) return { ...res, ok: true, outcome: "skipped", skipped: skip };
    const o = c.opts(ctx);
    const userOnStep = o.onStep;
    let result: TrainingResult | undefined;
    let error: unknown;
    try {
      result = await dTraining(model, {
        source: source("train"), steps: 10, schedule: 1e-2, checkpointDir: dir, signal: ctx.ac.signal, ...o,
        onStep: (row) => {
          ctx.snaps.set(row.step, snapshot(model));
          userOnStep?.(row);
        },
      });
    } catch (e) {
      error = e;
    }
    if (result) {
      res.outcome = `${result.status}: ${result.message}`;
      result.optimizer.dispose();
      if (c.expect !== result.status) res.problems.push(`expected ${typeof c.expect === "string" ? c.expect : `a ${c.expect.name}`}, got status ${result.status}`);
      else if (!c.message.test(result.message)) res.problems.push(`message ${JSON.stringify(result.message)} does not match ${c.message}`);
      if (result.step !== c.lastGood) res.problems.push(`result.step ${result.step}, expected ${c.lastGood}`);
    } else {
      const e = error as Error;
      res.outcome = `threw ${e?.constructor?.name}: ${e?.message}`;
      if (typeof c.expect === "string" || !(e instanceof c.expect)) res.problems.push(`expected ${typeof c.expect === "string" ? `status ${c.expect}` : c.expect.name}, got ${res.outcome}`);
      else if (!c.message.test(e.message)) res.problems.push(`error message does not match ${c.message}: ${e.message}`);
    }
    const paramsDiff = diff(model, ctx.snaps.get(c.lastGood), `model after the run vs step ${c.lastGood}`);
    if (paramsDiff) {
      res.problems.push(paramsDiff);
      res.dataLost = true;
    }
    if (c.checkpointAt === null) {
      if (existsSync(join(dir, "trainer-state.json"))) res.problems.push("a checkpoint was written although none was expected");
    } else {
      try {
        const st = await loadTrainingState(dir);
        if (st.step !== c.checkpointAt) res.problems.push(`checkpoint loads as step ${st.step}, expected ${c.checkpointAt}`);
        const d = diff(st.model, ctx.snaps.get(st.step), `checkpoint of step ${st.step}`);
        if (d) res.problems.push(d);
        st.model.dispose();
        st.optimizer.dispose();
        if (st.step !== c.checkpointAt || d) res.dataLost = true;
      } catch (e) {
        res.problems.push(`the previous checkpoint does not load: ${(e as Error).message}`);
        res.dataLost = true;
      }
    }
  } finally {
    c.teardown?.(ctx); // after the checkpoint was checked: a tmpfs takes its files with it
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  if (tf.memory().numTensors !== tensors0) res.problems.push(`tensors leaked: ${tensors0} → ${tf.memory().numTensors}`);
  if (liveGradWorkers() !== 0) res.problems.push(`${liveGradWorkers()} gradient workers still running`);
  res.ok = res.problems.length === 0;
  return res;
}

/** Runs every training-fault case (the worker case only when `full`). */
export async function trainingFaults(full = false, onCase?: (r: FaultResult) => void): Promise<FaultResult[]> {
  const root = mkdtempSync(join(tmpdir(), "ctxlab-trainfault-"));
  const probe = DTransformer.create({ ...presets.micro }, 1);
  const snapBytes = await snapshotBytes(probe);
  probe.dispose();
  const out: FaultResult[] = [];
  try {
    for (const [i, c] of cases(full).entries()) {
      const r = await runCase(c, root, i, snapBytes);
      out.push(r);
      onCase?.(r);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return out;
}
