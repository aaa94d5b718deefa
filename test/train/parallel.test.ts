/**
 * Data-parallel training (lib/train/parallel.ts, grad-worker.ts, shard.ts): the W-worker gradient is
 * the one-process gradient of the same batch (token-weighted shards, fixed combination order); a run
 * with workers: 2 is deterministic, matches workers: 1 to float32 rounding and resumes exactly;
 * workers never outlive dTraining (completion, abort, divergence, a crashed worker); B = 1 works.
 * Worker threads do not show in process.getActiveResourcesInfo(), so liveGradWorkers() counts them.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import type { PositionalEncoding } from "../../lib/positional/types.js";
import { Rng } from "../../lib/tensor/random.js";
import { dTraining, type TrainingOptions } from "../../lib/train/dtraining.js";
import { _accumulatedGrads } from "../../lib/train/loss.js";
import { _gradWorkerThreads, GradPool, liveGradWorkers, WorkerError } from "../../lib/train/parallel.js";
import { shardBatches, shardSizes } from "../../lib/train/shard.js";
import { loadTrainingState } from "../../lib/train/state.js";
import { testBackend } from "../helpers/setup.js";
import { changed, randomSource, snapshot } from "./sources.js";

const micro = { ...presets.micro };
let tmp: string;
before(async () => {
  await testBackend();
  tmp = await mkdtemp(join(tmpdir(), "ctxlab-parallel-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const opts = (steps: number, over: Partial<TrainingOptions> = {}): TrainingOptions => ({
  source: randomSource(11, 3, 7, "uniform"), steps, seed: 4, accumulate: 2, clip: 0.5,
  optimizer: { weightDecay: 0.1 }, schedule: { kind: "cosine", lr: 1e-2, warmup: 2, total: 6 }, ...over,
});

/** ‖a − b‖ / ‖b‖ per parameter (atol 1e-9 for gradients that are 0 analytically: b_k, ~1e-12 here). */
function worstRelative(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  let worst = 0;
  for (const [n, t] of b) {
    const x = a.get(n)!.dataSync();
    const y = t.dataSync();
    let d = 0;
    let s = 0;
    for (let i = 0; i < y.length; i++) [d, s] = [d + (x[i]! - y[i]!) ** 2, s + y[i]! ** 2];
    worst = Math.max(worst, Math.sqrt(d) / (Math.sqrt(s) + 1e-4)); // < 1e-5 ⟺ ‖a − b‖ < 1e-5·‖b‖ + 1e-9
  }
  return worst;
}

describe("data-parallel training (workers)", () => {
  it("shards: contiguous rows, sizes fixed by B and W, empty shards dropped", () => {
    assert.deepEqual(shardSizes(16, 2), [8, 8]);
    assert.deepEqual(shardSizes(5, 2), [3, 2]);
    assert.deepEqual(shardSizes(7, 3), [3, 2, 2]);
    assert.deepEqual(shardSizes(1, 2), [1, 0]);
    const b = { tokens: Int32Array.from([0, 1, 2, 3, 4, 5]), batch: 3, length: 2 };
    const s = shardBatches([b, { ...b, batch: 1, tokens: b.tokens.slice(0, 2) }], 2);
    assert.deepEqual(s.map((p) => p.map((x) => [x.batch, [...x.tokens]])), [[[2, [0, 1, 2, 3]], [1, [0, 1]]], [[1, [4, 5]]]]);
  });

  it("W = 2 and 3: the gradient of the mean loss over the whole batch, = one process within 1e-5; same bits every call", async () => {
    const m = DTransformer.create(micro, 3);
    const rng = new Rng(1);
    const mk = (B: number, l: number) => ({ tokens: Int32Array.from({ length: B * l }, () => rng.int(0, 11)), batch: B, length: l });
    const batches = [mk(5, 8), mk(3, 6)]; // accumulation with unequal B and ℓ: token weights differ
    const vars = m.params.names().map((n) => [n, m.params.get(n)] as [string, tf.Variable]);
    const ref = _accumulatedGrads(m, batches, vars);
    for (const W of [2, 3]) {
      const pool = new GradPool(m, W, vars);
      try {
        const g1 = await pool.grads(batches);
        const g2 = await pool.grads(batches);
        assert.equal(liveGradWorkers(), W - 1);
        assert.ok(Math.abs(g1.loss.dataSync()[0]! - ref.loss.dataSync()[0]!) < 1e-5 * ref.loss.dataSync()[0]!);
        const rel = worstRelative(g1.grads, ref.grads);
        assert.ok(rel < 1e-5, `W=${W}: worst relative gradient error ${rel}`);
        assert.deepEqual(changed(new Map([...g1.grads].map(([n, t]) => [n, t.dataSync() as Float32Array])), new Map([...g2.grads].map(([n, t]) => [n, t.dataSync() as Float32Array]))), []);
        tf.dispose([g1.loss, g2.loss, ...g1.grads.values(), ...g2.grads.values()]);
      } finally {
        await pool.close();
      }
      assert.equal(liveGradWorkers(), 0);
    }
    tf.dispose([ref.loss, ...ref.grads.values()]);
    m.dispose();
  });

  it("6 steps with workers: 2 are deterministic, match workers: 1 within 1e-5, leave no worker and no tensor behind", async () => {
    const run = async (workers: number) => {
      const n0 = tf.memory().numTensors;
      const m = DTransformer.create(micro, 5);
      const r = await dTraining(m, opts(6, { workers }));
      assert.equal(liveGradWorkers(), 0);
      const out = { losses: r.rows.map((x) => x.loss), theta: snapshot(m) };
      r.optimizer.dispose();
      m.dispose();
      assert.equal(tf.memory().numTensors, n0, "no tensor leaks on the main thread");
      return out;
    };
    const [a, b, one] = [await run(2), await run(2), await run(1)];
    assert.deepEqual(a.losses, b.losses);
    assert.deepEqual(changed(a.theta, b.theta), [], "bitwise equal parameters");
    a.losses.forEach((l, i) => assert.ok(Math.abs(l - one.losses[i]!) <= 1e-5 * one.losses[i]!, `step ${i + 1}: ${l} vs ${one.losses[i]}`));
  });

  it("resume equivalence with workers: 2: 6 steps straight = 3, save, load, 3 more (exact)", async () => {
    const a = DTransformer.create(micro, 6);
    const straight = await dTraining(a, opts(6, { workers: 2 }));
    const b = DTransformer.create(micro, 6);
    const dir = join(tmp, "resume");
    const first = await dTraining(b, opts(3, { workers: 2, checkpointDir: dir }));
    first.optimizer.dispose();
    b.dispose();
    const state = await loadTrainingState(dir);
    const second = await dTraining(state.model, { source: opts(0).source, steps: 6, resume: state, workers: 2 });
    assert.deepEqual(second.rows.map((r) => r.loss), straight.rows.map((r) => r.loss));
    assert.deepEqual(second.rows.map((r) => r.grad_norm), straight.rows.map((r) => r.grad_norm));
    assert.deepEqual(changed(snapshot(a), snapshot(state.model)), []);
    assert.equal(liveGradWorkers(), 0);
    [straight.optimizer, second.optimizer, a, state.model].forEach((x) => x.dispose());
  });

  it("abort and divergence end the run as with one process and terminate the workers", async () => {
    const m = DTransformer.create(micro, 7);
    const ac = new AbortController();
    let during = 0;
    const r = await dTraining(m, opts(6, { workers: 2, signal: ac.signal, onStep: (row) => row.step === 2 && ((during = liveGradWorkers()), ac.abort()) }));
    assert.equal(during, 1, "one worker thread while training");
    assert.equal(r.status, "interrupted");
    assert.equal(r.stepsDone, 2);
    assert.equal(liveGradWorkers(), 0);
    const d = await dTraining(m, { source: opts(0).source, steps: 6, resume: r.state, workers: 2, onStep: (row) => {
      if (row.step === 3) m.params.get("blocks.1.mlp.b_mlp2").assign(tf.fill([8], NaN)); // the workers read θ every step
    } });
    assert.equal(d.status, "diverged");
    assert.match(d.message, /^diverged at step 4: loss is NaN/);
    assert.equal(liveGradWorkers(), 0);
    [d.optimizer, m].forEach((x) => x.dispose());
  });

  it("an abort during the workers' start-up terminates them at once: no step is sent, nothing applied, no thread left", async () => {
    const m = DTransformer.create(micro, 12);
    const before = snapshot(m);
    const ac = new AbortController();
    const seen: string[] = [];
    const run = dTraining(m, opts(6, { workers: 2, signal: ac.signal }));
    // the pool starts its worker on the first step; abort as soon as the thread exists, before it is ready
    for (let i = 0; i < 10_000 && _gradWorkerThreads().length === 0; i++) await new Promise((r) => setImmediate(r));
    const threads = _gradWorkerThreads();
    assert.equal(threads.length, 1, "the worker thread was started");
    threads[0]!.on("message", (msg: { type: string }) => seen.push(msg.type));
    ac.abort();
    const r = await run;
    assert.equal(r.status, "interrupted");
    assert.equal(r.stepsDone, 0);
    assert.deepEqual(changed(before, snapshot(m)), [], "no update after the abort");
    assert.deepEqual(seen.filter((t) => t === "done"), [], "no gradient was computed by the worker after the abort");
    assert.match(r.message, /^interrupted at step 0: the signal was aborted during step 1\b.*not applied/);
    assert.equal(liveGradWorkers(), 0);
    r.optimizer.dispose();
    m.dispose();
  });

  it("an abort while the workers compute rejects GradPool.grads with an AbortError and terminates them; the gradient is never returned", async () => {
    const m = DTransformer.create(micro, 13);
    const vars = m.params.names().map((n) => [n, m.params.get(n)] as [string, tf.Variable]);
    const rng = new Rng(2);
    const batch = { tokens: Int32Array.from({ length: 4 * 8 }, () => rng.int(0, 11)), batch: 4, length: 8 };
    const pool = new GradPool(m, 2, vars);
    const tensors = tf.memory().numTensors;
    try {
      const ok = await pool.grads([batch]); // started and warm
      tf.dispose([ok.loss, ...ok.grads.values()]);
      const ac = new AbortController();
      const p = pool.grads([batch], ac.signal);
      ac.abort(); // while grads waits (its first await): the worker is terminated, nothing is computed or returned
      await assert.rejects(p, (e: Error) => e.name === "AbortError" && /aborted/.test(e.message));
      assert.equal(tf.memory().numTensors, tensors, "the main shard's gradient was disposed");
      await assert.rejects(pool.grads([batch]), WorkerError, "the pool is closed after an abort");
      const pre = new AbortController();
      pre.abort();
      await assert.rejects(new GradPool(m, 2, vars).grads([batch], pre.signal), (e: Error) => e.name === "AbortError");
    } finally {
      await pool.close();
    }
    assert.equal(liveGradWorkers(), 0);
    m.dispose();
  });

  it("B = 1 with workers: 2: the worker's shard is empty and skipped (= workers: 1, bit for bit)", async () => {
    const run = async (workers: number) => {
      const m = DTransformer.create(micro, 8);
      const r = await dTraining(m, opts(3, { workers, accumulate: 1, source: randomSource(11, 1, 8) }));
      const out = { losses: r.rows.map((x) => x.loss), theta: snapshot(m) };
      r.optimizer.dispose();
      m.dispose();
      return out;
    };
    const [two, one] = [await run(2), await run(1)];
    assert.deepEqual(two.losses, one.losses);
    assert.deepEqual(changed(two.theta, one.theta), []);
    assert.equal(liveGradWorkers(), 0);
  });

  it("a crashed worker is a WorkerError naming it; parameters stay at the last good step; no thread is left", async () => {
    const m = DTransformer.create(micro, 9);
    let good = new Map<string, Float32Array>();
    const run = dTraining(m, opts(6, { workers: 2, onStep: (row) => {
      if (row.step !== 2) return;
      good = snapshot(m);
      void _gradWorkerThreads()[0]!.terminate(); // the worker dies between steps
    } }));
    await assert.rejects(run, (e: Error) => e instanceof WorkerError && /^dTraining: gradient worker 1 of 1 \(thread \d+\) exited unexpectedly/.test(e.message));
    assert.deepEqual(changed(good, snapshot(m)), [], "step 3 applied nothing");
    assert.equal(liveGradWorkers(), 0);
    await assert.rejects(dTraining(m, opts(1, { workers: 0 })), ConfigError);
    m.dispose();
  });

  it("a worker that cannot start (an encoding registered only on the main thread) is a WorkerError with its message", async () => {
    const pe: PositionalEncoding = { name: "main-only", label: "registered nowhere", toJSON: () => ({ name: "main-only" }) };
    const m = DTransformer.create({ ...micro, positional: pe }, 10);
    const before = snapshot(m);
    await assert.rejects(dTraining(m, opts(2, { workers: 2 })), (e: Error) => e instanceof WorkerError && /gradient worker 1 of 1 \(thread \d+\) could not start: ConfigError: positionalFrom: unknown positional encoding "main-only"/.test(e.message));
    assert.deepEqual(changed(before, snapshot(m)), []);
    assert.equal(liveGradWorkers(), 0);
    m.dispose();
  });
});
