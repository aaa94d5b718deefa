/**
 * Algorithm 13 (dTraining): a tiny model overfits a fixed sequence, interrupts stop at a step
 * boundary, a non-finite loss or gradient stops the run without applying the update, frozen groups
 * stay fixed, the log has its columns and metrics.csv parses back, no tensor leaks per step.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { dTraining, type TrainingOptions } from "../../lib/train/dtraining.js";
import { LOG_COLUMNS } from "../../lib/train/log.js";
import { nextTokenLoss } from "../../lib/train/loss.js";
import { testBackend } from "../helpers/setup.js";
import { changed, fixedSource, liveTensors, randomSource, snapshot } from "./sources.js";

const micro = { ...presets.micro };
let tmp: string;

before(async () => {
  await testBackend();
  tmp = await mkdtemp(join(tmpdir(), "ctxlab-dtraining-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const base = (over: Partial<TrainingOptions> = {}): TrainingOptions => ({
  source: randomSource(11, 3, 6), steps: 3, seed: 5, schedule: { kind: "cosine", lr: 1e-2, warmup: 1 }, ...over,
});

describe("dTraining", () => {
  it("overfits a fixed repeated sequence: mean loss < 0.1 within 300 steps (N_V=16, ℓ=16, L=2, H=2, d_e=32)", async () => {
    const m = DTransformer.create({ nVocab: 16, lMax: 16, nLayers: 2, nHeads: 2, dE: 32 }, 1);
    const seq = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3];
    const ac = new AbortController();
    const r = await dTraining(m, {
      source: fixedSource(seq, 4), steps: 300, signal: ac.signal, optimizer: { weightDecay: 0 },
      schedule: { kind: "cosine", lr: 1e-2, warmup: 10 }, onStep: (row) => row.loss < 0.1 && ac.abort(),
    });
    const after = nextTokenLoss(m, [seq]);
    const final = after.dataSync()[0]!;
    assert.ok(r.rows.at(-1)!.loss < 0.1 && final < 0.1, `loss after ${r.step} steps: ${r.rows.at(-1)!.loss} (now ${final}); first ${r.rows[0]!.loss}`);
    assert.ok(r.rows[0]!.loss > 2, "starts near ln 16");
    assert.equal(r.status, r.step < 300 ? "interrupted" : "completed");
    after.dispose();
    r.optimizer.dispose();
    m.dispose();
  });

  it("an AbortSignal stops at the next step boundary: status interrupted, parameters = a 3-step run", async () => {
    const a = DTransformer.create(micro, 2);
    const ra = await dTraining(a, base());
    assert.equal(ra.status, "completed");
    const b = DTransformer.create(micro, 2);
    const ac = new AbortController();
    const rb = await dTraining(b, base({ steps: 10, schedule: { kind: "cosine", lr: 1e-2, warmup: 1, total: 3 }, signal: ac.signal, onStep: (row) => row.step === 3 && ac.abort() }));
    assert.equal(rb.status, "interrupted");
    assert.equal(rb.stepsDone, 3);
    assert.match(rb.message, /^interrupted at step 3/);
    assert.deepEqual(changed(snapshot(a), snapshot(b)), [], "bitwise equal parameters");
    assert.deepEqual(rb.rows.map((r) => r.loss), ra.rows.map((r) => r.loss));
    const pre = new AbortController();
    pre.abort();
    const rc = await dTraining(b, base({ optimizer: rb.optimizer, signal: pre.signal }));
    assert.equal(rc.stepsDone, 0);
    [ra.optimizer, rb.optimizer, a, b].forEach((x) => x.dispose());
  });

  it("a NaN loss stops with 'diverged' before the update: parameters, optimiser and Rng stay at the last good step", async () => {
    const good = DTransformer.create(micro, 3);
    const ref = await dTraining(good, base({ steps: 2 }));
    const m = DTransformer.create(micro, 3);
    let poisoned = new Map<string, Float32Array>();
    const r = await dTraining(m, base({
      steps: 5,
      schedule: { kind: "cosine", lr: 1e-2, warmup: 1, total: 3 },
      onStep: (row) => {
        if (row.step !== 2) return;
        const b = m.params.get("blocks.1.mlp.b_mlp2");
        b.assign(tf.fill(b.shape, NaN)); // a parameter gone bad: the next forward pass is NaN
        poisoned = snapshot(m);
      },
    }));
    assert.equal(r.status, "diverged");
    assert.equal(r.stepsDone, 2);
    assert.match(r.message, /diverged at step 3: loss is NaN/);
    assert.deepEqual(changed(poisoned, snapshot(m)), [], "step 3 applied nothing");
    assert.equal(r.optimizer.t, 2);
    assert.deepEqual(r.state.rng.state(), ref.state.rng.state(), "the Rng is rewound to after step 2");
    assert.deepEqual(r.rows.map((x) => x.step), [1, 2]);
    [ref.optimizer, r.optimizer, good, m].forEach((x) => x.dispose());
  });

  it("a huge parameter (finite loss, overflowing gradient) also stops as 'diverged', naming what was non-finite", async () => {
    const m = DTransformer.create(micro, 4);
    let before = new Map<string, Float32Array>();
    const r = await dTraining(m, base({
      steps: 4,
      onStep: (row) => {
        if (row.step !== 1) return;
        const g = m.params.get("ln_final.gamma");
        g.assign(tf.fill(g.shape, 1e20)); // logits ~1e19: the loss stays finite, Σ g² overflows float32
        before = snapshot(m);
      },
    }));
    assert.equal(r.status, "diverged");
    assert.match(r.message, /^diverged at step 2: gradient norm is Infinity;/);
    assert.match(r.message, /not applied \(parameters are those after step 1\)/);
    assert.deepEqual(changed(before, snapshot(m)), []);
    r.optimizer.dispose();
    m.dispose();
  });

  it("frozen groups do not change; the others do", async () => {
    const m = DTransformer.create(micro, 5);
    const s0 = snapshot(m);
    const r = await dTraining(m, base({ optimizer: { freeze: ["blocks.0", "pos."] } }));
    const moved = changed(s0, snapshot(m));
    assert.ok(moved.length > 0);
    assert.deepEqual(moved.filter((n) => n.startsWith("blocks.0.") || n.startsWith("pos.")), []);
    assert.ok(moved.includes("blocks.1.attn.W_q") && moved.includes("W_e"));
    assert.ok([...r.optimizer.slots.keys()].every((k) => !k.includes("blocks.0.") && !k.includes("pos.")), "no state for frozen parameters");
    r.optimizer.dispose();
    m.dispose();
  });

  it("the log has the documented columns; val_loss only where computed; metrics.csv parses back", async () => {
    const m = DTransformer.create(micro, 6);
    const seen: number[] = [];
    const dir = join(tmp, "log");
    const r = await dTraining(m, base({ steps: 4, accumulate: 2, valSource: randomSource(11, 2, 8, "val"), valEvery: 3, valBatches: 2, checkpointDir: dir, onStep: (row) => seen.push(row.step) }));
    assert.deepEqual(seen, [1, 2, 3, 4]);
    assert.deepEqual(r.log.columnNames(), [...LOG_COLUMNS]);
    assert.equal(r.log.numRows(), 4);
    const rows = r.log.objects() as Record<string, number | null>[];
    assert.deepEqual(rows.map((x) => x.val_loss === null), [true, true, false, false], "every 3 steps and at the last");
    assert.deepEqual(rows.map((x) => x.tokens_seen), [36, 72, 108, 144], "2 micro-batches of 3×6 tokens per step");
    assert.ok(rows.every((x) => x.batch === 6 && x.seq_len === 6 && x.tokens_per_s! > 0 && x.grad_norm! > 0 && x.lr! > 0));
    assert.ok(rows.every((x, i) => i === 0 || x.time_s! >= rows[i - 1]!.time_s!));
    const csv = aq.fromCSV(await readFile(join(dir, "metrics.csv"), "utf8"));
    assert.deepEqual(csv.columnNames(), [...LOG_COLUMNS]);
    assert.deepEqual(csv.objects(), rows, "CSV round trip (null val_loss as an empty field)");
    r.optimizer.dispose();
    m.dispose();
  });

  it("live tensors return to baseline + the optimiser's m and v (no leak per step)", async () => {
    const m = DTransformer.create(micro, 7);
    const baseline = liveTensors();
    const r = await dTraining(m, base({ steps: 6, accumulate: 2, clip: 0.01, valSource: randomSource(11, 2, 4), valEvery: 2, valBatches: 1 }));
    assert.equal(r.rows[0]!.grad_norm > 0.01, true, "clipping was exercised");
    assert.equal(liveTensors(), baseline + r.optimizer.slots.size);
    assert.equal(r.optimizer.slots.size, 2 * m.params.names().length);
    r.optimizer.dispose();
    assert.equal(liveTensors(), baseline);
    m.dispose();
  });

  it("continues in memory from result.state exactly like one longer run", async () => {
    const sched = { kind: "cosine", lr: 1e-2, warmup: 2, total: 6 } as const;
    const a = DTransformer.create(micro, 8);
    const ra = await dTraining(a, base({ steps: 6, schedule: sched }));
    const b = DTransformer.create(micro, 8);
    const r1 = await dTraining(b, base({ steps: 3, schedule: sched }));
    const r2 = await dTraining(b, { source: base().source, steps: 6, resume: r1.state });
    assert.deepEqual(r2.rows.map((r) => r.loss), ra.rows.map((r) => r.loss));
    assert.deepEqual(changed(snapshot(a), snapshot(b)), []);
    await assert.rejects(dTraining(b, { source: base().source, steps: 6, resume: r1.state, seed: 1 }), ConfigError);
    [ra.optimizer, r1.optimizer, a, b].forEach((x) => x.dispose());
  });

  it("rejects bad options with ConfigError", async () => {
    const m = DTransformer.create(micro, 9);
    await assert.rejects(dTraining(m, base({ steps: -1 })), /steps=-1 must be an integer ≥ 0/);
    await assert.rejects(dTraining(m, base({ accumulate: 0 })), /accumulate=0/);
    await assert.rejects(dTraining(m, base({ clip: -1 })), /clip: the maximum gradient norm must be a number > 0/);
    await assert.rejects(dTraining(m, base({ valSource: randomSource(11, 1, 4) })), /valEvery/);
    await assert.rejects(dTraining(m, base({ source: randomSource(12, 2, 4) })), /outside \[0, N_V\) with N_V=11/);
    m.dispose();
  });
});
