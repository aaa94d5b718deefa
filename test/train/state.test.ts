/**
 * Training checkpoints (lib/train/state.ts) and resuming Algorithm 13: six steps straight equal three
 * steps, a save, a load into fresh objects and three more — bit for bit; incomplete or mixed
 * checkpoints are refused with a CheckpointError.
 */
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { presets } from "../../lib/config.js";
import { CheckpointError } from "../../lib/errors.js";
import { loadCheckpoint } from "../../lib/io/checkpoint.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { dTraining, type TrainingOptions } from "../../lib/train/dtraining.js";
import { CTXLAB_VERSION, loadTrainingState, saveTrainingState } from "../../lib/train/state.js";
import { testBackend } from "../helpers/setup.js";
import { changed, liveTensors, randomSource, snapshot } from "./sources.js";

let tmp: string;
before(async () => {
  await testBackend();
  tmp = await mkdtemp(join(tmpdir(), "ctxlab-state-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const micro = { ...presets.micro };
const opts = (steps: number, over: Partial<TrainingOptions> = {}): TrainingOptions => ({
  source: randomSource(11, 4, 7, "uniform"),
  steps,
  seed: 11,
  accumulate: 2,
  clip: 0.5,
  optimizer: { betas: [0.9, 0.95], weightDecay: 0.1, freeze: "blocks.0.ln1" },
  schedule: { kind: "cosine", lr: 5e-3, warmup: 2, total: 6, minLr: 5e-4 },
  ...over,
});

describe("training checkpoints", () => {
  it("resume equivalence: 6 steps straight = 3 steps, save, load into fresh objects, 3 more (exact)", async () => {
    const a = DTransformer.create(micro, 21);
    const straight = await dTraining(a, opts(6));
    const b = DTransformer.create(micro, 21);
    const dir = join(tmp, "resume");
    const first = await dTraining(b, opts(3, { checkpointDir: dir }));
    const bAfter3 = snapshot(b);
    first.optimizer.dispose();
    b.dispose();

    const state = await loadTrainingState(dir);
    assert.equal(state.step, 3);
    assert.deepEqual(changed(bAfter3, snapshot(state.model)), [], "the saved parameters");
    const second = await dTraining(state.model, { source: randomSource(11, 4, 7, "uniform"), steps: 6, resume: state });
    assert.equal(second.status, "completed");
    assert.equal(second.stepsDone, 3);
    assert.deepEqual(second.rows.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(second.rows.map((r) => r.loss), straight.rows.map((r) => r.loss), "identical per-step losses");
    assert.deepEqual(second.rows.map((r) => r.grad_norm), straight.rows.map((r) => r.grad_norm));
    assert.deepEqual(second.rows.map((r) => r.tokens_seen), straight.rows.map((r) => r.tokens_seen));
    assert.deepEqual(changed(snapshot(a), snapshot(state.model)), [], "identical final parameters");
    assert.equal(second.optimizer.t, 6);
    [straight.optimizer, second.optimizer, a, state.model].forEach((x) => x.dispose());
  });

  it("trainer-state.json records step, Rng, optimiser, schedule, source, version and the files; the model loads alone", async () => {
    const m = DTransformer.create(micro, 22);
    const dir = join(tmp, "contents");
    const r = await dTraining(m, opts(2, { checkpointDir: dir, run: { note: "test" } }));
    const j = JSON.parse(await readFile(join(dir, "trainer-state.json"), "utf8"));
    assert.equal(j.step, 2);
    assert.equal(j.ctxlab_version, CTXLAB_VERSION);
    assert.notEqual(CTXLAB_VERSION, "unknown");
    assert.deepEqual(j.rng, r.state.rng.state());
    assert.equal(j.optimizer.kind, "adamw");
    assert.equal(j.optimizer.t, 2);
    assert.deepEqual(j.optimizer.betas, [0.9, 0.95]);
    assert.ok(!j.optimizer.trainable.includes("blocks.0.ln1.gamma"));
    assert.deepEqual(j.schedule, { kind: "cosine", lr: 5e-3, warmup: 2, warmupFrom: 0, total: 6, minLr: 5e-4, decayFrom: 2 });
    assert.deepEqual(j.run.source, { name: "uniform", nVocab: 11, B: 4, l: 7 });
    assert.deepEqual(j.run.user, { note: "test" });
    assert.equal(j.log.length, 2);
    for (const f of ["config.json", "model.safetensors", "optimizer.safetensors"]) assert.match(j.files[f].sha256, /^[0-9a-f]{64}$/);
    const plain = await loadCheckpoint(dir);
    assert.deepEqual(changed(snapshot(m), snapshot(plain)), []);
    [plain, r.optimizer, m].forEach((x) => x.dispose());
  });

  it("an interrupted save is refused: truncated optimizer.safetensors, missing trainer-state.json, files of another save", async () => {
    const m = DTransformer.create(micro, 23);
    const r = await dTraining(m, opts(2));
    const dirs = ["trunc", "nostate", "mixed", "later"].map((d) => join(tmp, d));
    for (const d of dirs) await saveTrainingState(d, r.state);
    const n0 = liveTensors();
    const incomplete = (re: RegExp) => (e: Error) => e instanceof CheckpointError && /^checkpoint in .* is incomplete: /.test(e.message) && /a save was interrupted\?/.test(e.message) && re.test(e.message);

    const opt = join(await snapshotOf(dirs[0]!), "optimizer.safetensors");
    await truncate(opt, (await readFile(opt)).length - 10);
    await assert.rejects(loadTrainingState(dirs[0]!), incomplete(/optimizer\.safetensors has \d+ bytes but trainer-state\.json records \d+/));

    await unlink(join(dirs[1]!, "trainer-state.json"));
    await assert.rejects(loadTrainingState(dirs[1]!), incomplete(/trainer-state\.json is missing/));

    // a crash after the next save renamed model.safetensors but before its trainer-state.json: same size, other bytes
    const more = await dTraining(m, { source: opts(0).source, steps: 3, resume: r.state });
    await saveTrainingState(dirs[3]!, more.state);
    await copyFile(join(await snapshotOf(dirs[3]!), "model.safetensors"), join(await snapshotOf(dirs[2]!), "model.safetensors"));
    await assert.rejects(loadTrainingState(dirs[2]!), incomplete(/model\.safetensors is not the file trainer-state\.json was saved with/));

    await writeFile(join(dirs[1]!, "trainer-state.json"), "{\"format\": 1, \"st");
    await assert.rejects(loadTrainingState(dirs[1]!), incomplete(/not valid JSON/));
    await assert.rejects(loadTrainingState(join(tmp, "absent")), /does not exist/);
    assert.equal(liveTensors(), n0, "failed loads leave no tensors behind");

    const ok = await loadTrainingState(dirs[3]!);
    assert.equal(ok.step, 3);
    [ok.optimizer, ok.model, r.optimizer, m].forEach((x) => x.dispose());
  });
});

/** The snapshot directory a training checkpoint's trainer-state.json points to. */
async function snapshotOf(dir: string): Promise<string> {
  return join(dir, (JSON.parse(await readFile(join(dir, "trainer-state.json"), "utf8")) as { checkpoint: string }).checkpoint);
}
