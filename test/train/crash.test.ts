/**
 * Crash safety of training checkpoints: a process killed with SIGKILL at random moments while it
 * saves leaves a checkpoint that loads (the previous one or the new one), never a broken one.
 * CTXLAB_CRASH_TRIALS sets the number of trials (default 8 here; the fault suite runs more).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadTrainingState } from "../../lib/train/state.js";
import { Rng } from "../../lib/tensor/random.js";
import { testBackend } from "../helpers/setup.js";

const lib = resolve("dist/lib/index.js");
// The child saves a training state over and over, step 1, 2, 3, …, until it is killed.
const child = `
import { useBackend, DTransformer, presets, createOptimizer, saveTrainingState, Rng } from ${JSON.stringify(lib)};
await useBackend("cpu");
const model = DTransformer.create({ ...presets.micro, dE: 32, dMlp: 64, nVocab: 64 }, 1);
const optimizer = createOptimizer(model.params, {});
const rng = new Rng(1);
const dir = process.argv[1];
for (let step = 1; ; step++) {
  await saveTrainingState(dir, { model, optimizer, rng, step, schedule: 1e-3 });
  process.stdout.write(step + "\\n");
}`;

let tmp = "";
before(async () => {
  await testBackend();
  tmp = mkdtempSync(join(tmpdir(), "ctxlab-crash-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function runAndKill(dir: string, afterSaves: number, delayMs: number): Promise<number> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", child, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let saved = 0;
    let err = "";
    p.stdout.on("data", (d: Buffer) => {
      saved += d.toString().trim().split("\n").length;
      if (saved >= afterSaves) setTimeout(() => p.kill("SIGKILL"), delayMs);
    });
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("exit", (code, signal) => (signal === "SIGKILL" ? res(saved) : rej(new Error(`child exited ${code}: ${err}`))));
  });
}

describe("training checkpoints under SIGKILL", () => {
  it("always leave a loadable checkpoint (the last committed step or the one being written)", async () => {
    const trials = Number(process.env.CTXLAB_CRASH_TRIALS ?? 8);
    const rng = new Rng(7);
    for (let i = 0; i < trials; i++) {
      const dir = join(tmp, `run${i}`);
      const saved = await runAndKill(dir, 1 + rng.int(0, 3), rng.int(0, 40));
      const state = await loadTrainingState(dir);
      assert.ok(state.step >= saved && state.step <= saved + 2, `trial ${i}: loaded step ${state.step} after ${saved} completed saves`);
      state.model.dispose();
      state.optimizer.dispose();
    }
  });
});
