/**
 * Crash safety of training checkpoints under SIGKILL. A child process saves a training state over
 * and over (step 1, 2, 3, …; before each save W_e is filled with the step number, so a snapshot that
 * mixed two saves would show it); the parent kills it with SIGKILL at a random moment inside a save
 * (a random delay of 0…2 save-durations after the k-th save reported), then loads the directory:
 *   old   the last save the child reported (trainer-state.json not yet replaced)
 *   new   the save that was in flight (committed before the kill, not yet reported)
 *   lost  anything else: no loadable state, another step, or weights that disagree with the step
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCheckpoint } from "../../lib/io/checkpoint.js";
import { loadTrainingState } from "../../lib/train/state.js";
import { FuzzRng } from "./fuzz.js";

const LIB = fileURLToPath(new URL("../../lib/index.js", import.meta.url));

const CHILD = `
import { useBackend, DTransformer, presets, createOptimizer, saveTrainingState, Rng, tf } from ${JSON.stringify(LIB)};
await useBackend("cpu");
const model = DTransformer.create({ ...presets.micro, dE: 32, dMlp: 64, nVocab: 64 }, 1);
const optimizer = createOptimizer(model.params, {});
const rng = new Rng(1);
const dir = process.argv[1];
const W = model.params.get("W_e");
for (let step = 1; ; step++) {
  const f = tf.fill(W.shape, step); W.assign(f); f.dispose();
  const t0 = performance.now();
  await saveTrainingState(dir, { model, optimizer, rng, step, schedule: 1e-3 });
  process.stdout.write(step + " " + (performance.now() - t0).toFixed(2) + "\\n");
}`;

export interface CrashTrial {
  trial: number;
  reported: number;
  loaded: number | null;
  outcome: "old" | "new" | "lost";
  delayMs: number;
  why?: string;
}

export interface CrashReport {
  trials: number;
  old: number;
  new: number;
  lost: number;
  /** mean duration of one save in the children (ms) */
  saveMs: number;
  details: CrashTrial[];
  seconds: number;
}

/** Start the saving child, kill it with SIGKILL `delay(saveMs)` ms after its `afterSaves`-th save. */
function runAndKill(dir: string, afterSaves: number, delay: (saveMs: number) => number): Promise<{ saved: number; delayMs: number; saveMs: number }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", CHILD, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    let saved = 0;
    let err = "";
    let delayMs = -1;
    const times: number[] = [];
    p.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        saved++;
        times.push(Number(l.split(" ")[1]));
      }
      if (saved >= afterSaves && delayMs < 0) {
        const mean = times.reduce((a, b) => a + b, 0) / times.length;
        delayMs = delay(mean);
        setTimeout(() => p.kill("SIGKILL"), delayMs);
      }
    });
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("exit", (code, signal) => {
      if (signal === "SIGKILL") res({ saved, delayMs, saveMs: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length) });
      else rej(new Error(`crash child exited with ${code}: ${err}`));
    });
  });
}

async function verify(dir: string, reported: number): Promise<{ loaded: number | null; outcome: CrashTrial["outcome"]; why?: string }> {
  let state;
  try {
    state = await loadTrainingState(dir);
  } catch (e) {
    return { loaded: null, outcome: "lost", why: `loadTrainingState: ${(e as Error).message}` };
  }
  try {
    const step = state.step;
    const w = state.model.params.get("W_e").dataSync();
    if (!w.every((v) => v === step)) return { loaded: step, outcome: "lost", why: `W_e does not hold the step ${step} it was saved with` };
    const m = await loadCheckpoint(dir); // the model-only path follows trainer-state.json too
    const w2 = m.params.get("W_e").dataSync();
    m.dispose();
    if (!w2.every((v) => v === step)) return { loaded: step, outcome: "lost", why: "loadCheckpoint(dir) gives other weights than loadTrainingState" };
    if (step === reported) return { loaded: step, outcome: "old" };
    if (step === reported + 1) return { loaded: step, outcome: "new" };
    return { loaded: step, outcome: "lost", why: `loaded step ${step} after ${reported} reported saves` };
  } finally {
    state.model.dispose();
    state.optimizer.dispose();
  }
}

/** Runs `trials` SIGKILL trials (seeded) and classifies each. */
export async function crashTrials(trials: number, seed = 7, onTrial?: (t: CrashTrial) => void): Promise<CrashReport> {
  const tmp = mkdtempSync(join(tmpdir(), "ctxlab-crash-"));
  const r = new FuzzRng(seed);
  const t0 = performance.now();
  const details: CrashTrial[] = [];
  let saveMs = 0;
  try {
    for (let i = 0; i < trials; i++) {
      const dir = join(tmp, `run${i}`);
      const after = 1 + r.int(0, 3);
      const u = r.float();
      const run = await runAndKill(dir, after, (ms) => u * 2 * ms);
      saveMs += run.saveMs;
      const v = await verify(dir, run.saved);
      const t: CrashTrial = { trial: i, reported: run.saved, delayMs: Math.round(run.delayMs * 100) / 100, ...v };
      details.push(t);
      onTrial?.(t);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const count = (o: CrashTrial["outcome"]) => details.filter((d) => d.outcome === o).length;
  return { trials, old: count("old"), new: count("new"), lost: count("lost"), saveMs: saveMs / Math.max(1, trials), details, seconds: (performance.now() - t0) / 1000 };
}
