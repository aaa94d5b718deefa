/**
 * Data-parallel gradients for Algorithm 13 (DTraining, step 2: g = ∇loss) on worker_threads.
 *
 * Why: the wasm backend runs single-threaded in Node 20 (tfjs 4.22 cannot start its own wasm threads,
 * docs/design.md, "Backends: what each can and cannot do"), so one training process uses one core. A GradPool with W participants
 * runs the main thread plus W−1 Node Workers (grad-worker.ts), each with its own tfjs, the SAME backend
 * as the main thread (wasm or cpu) and a replica of the model (same config, positional spec from
 * toJSON / positionalFrom, same parameter names and shapes).
 *
 * One step (`grads`):
 *   1  θ → the shared parameter buffer (a SharedArrayBuffer, all parameters back to back, written only
 *      here, between steps); the workers copy it into their variables before computing
 *   2  every micro-batch is cut into W contiguous row shards (shard.ts: sizes fixed by B and W); each
 *      worker with a non-empty shard gets its rows and N (the step's predicted tokens) by message
 *   3  the main thread computes shard 0 meanwhile; each worker writes its gradient into its own
 *      SharedArrayBuffer and answers with its (weighted) loss
 *   4  g = g_main + g_worker1 + … + g_worker(W−1), the loss likewise: a FIXED order, so a seed gives the
 *      same numbers run after run; each g_s is already weighted by its share of the step's tokens
 *      (shard.ts), so g is the gradient of the mean loss over the whole batch, as with one process
 *      (equal up to float32 rounding of the different summation order).
 * The optimizer, clipping, divergence checks, checkpoints and the log stay on the main thread
 * (dtraining.ts), unchanged.
 *
 * Lifetime: workers start on the first `grads` call and are reused; `close()` terminates them (dTraining
 * calls it in a `finally`: on completion, abort, divergence and errors). A worker that throws, exits or
 * fails to start makes `grads` reject with a WorkerError naming the worker and its message; the pool is
 * then dead (nothing was applied: the caller's state is the last good step).
 * Not for tfjs-node ("tensorflow"): libtensorflow already uses every core, so dTraining keeps one process.
 * Replicas are rebuilt by name: a positional encoding must be in the registry of a fresh process (all
 * built-in ones are; one registered only at run time on the main thread makes the worker fail to start).
 * The model's attention layout (model.layout) is sent to the workers as data at start.
 * Cost per step: ~4 bytes per parameter each way through shared memory (3.6 MB for presets.ref); each
 * worker holds its own wasm heap (activations of its shard only).
 */
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.js";
import type { AttentionLayout } from "../engine/layout-options.js";
import type { DTransformer } from "../model/dtransformer.js";
import { predictedTokens } from "./loss.js";
import { _shardGrads, layoutOf, shardBatches, type Slot } from "./shard.js";

/** A gradient worker failed (threw, exited, or could not start). */
export class WorkerError extends Error {
  override name = "WorkerError";
}

/** The signal given to GradPool.grads was aborted: the step was stopped and nothing was returned. */
export class AbortedStepError extends Error {
  override name = "AbortError";
  constructor() {
    super("dTraining: the step was aborted while its gradient was computed; the gradient workers were terminated");
  }
}

/** What a worker receives as workerData (grad-worker.ts). */
export interface WorkerInit {
  index: number;
  backend: string;
  cfg: Record<string, unknown>;
  layout: AttentionLayout;
  params: Slot[];
  grads: Slot[];
  paramsSab: SharedArrayBuffer;
  gradsSab: SharedArrayBuffer;
}

/** Messages from a worker. */
export type WorkerReply = { type: "ready" } | { type: "done"; id: number; loss: number } | { type: "error"; id: number; message: string };

interface Handle {
  index: number;
  worker: Worker;
  view: Float32Array; // its gradient buffer
  pending?: { id: number; resolve: (loss: number) => void; reject: (e: Error) => void };
  failure?: string;
}

const live = new Set<Worker>();
/** Number of gradient worker threads alive in this process (0 whenever no dTraining is running). */
export const liveGradWorkers = (): number => live.size;
/** Test hook: the live worker threads. */
export const _gradWorkerThreads = (): Worker[] => [...live];

/**
 * The pool dTraining uses for `workers` = W, or undefined for one process: W = 1, or a tfjs-node
 * backend ("tensorflow": libtensorflow already spreads each op over all cores, and a second copy of
 * it per worker would only compete for them).
 */
export function gradPoolFor(model: DTransformer, workers: number, vars: readonly (readonly [string, tf.Variable])[]): GradPool | undefined {
  return workers > 1 && tf.getBackend() !== "tensorflow" ? new GradPool(model, workers, vars) : undefined;
}

/** Main-thread side of data-parallel training with `participants` = W (main thread + W−1 workers). */
export class GradPool {
  private handles: Handle[] = [];
  private starting?: Promise<void>;
  private dead?: WorkerError;
  private nextId = 0;
  /** terminations started by an abort (close() waits for them) */
  private readonly exits: Promise<number>[] = [];
  private readonly params: { slots: Slot[]; length: number };
  private readonly gradSlots: { slots: Slot[]; length: number };
  private readonly paramsView: Float32Array;

  constructor(
    readonly model: DTransformer,
    readonly participants: number,
    readonly vars: readonly (readonly [string, tf.Variable])[],
  ) {
    this.params = layoutOf(model.params.vars);
    this.gradSlots = layoutOf(vars);
    this.paramsView = new Float32Array(new SharedArrayBuffer(4 * this.params.length));
  }

  /**
   * Gradient (of the mean loss over all `batches`, checked) for `vars`, and the loss, combined in fixed order.
   * With `signal`: an abort at any time (worker start-up, the main shard, waiting for the workers)
   * terminates the workers at once and rejects with an AbortError, the signal is checked after every
   * await, and a gradient computed while it was aborted is disposed, never returned. The pool is then
   * closed (a later call throws a WorkerError).
   */
  async grads(batches: readonly Batch[], signal?: AbortSignal): Promise<{ loss: tf.Scalar; grads: Map<string, tf.Tensor> }> {
    if (this.dead) throw this.dead;
    const aborted = () => new AbortedStepError();
    if (signal?.aborted) throw aborted();
    const onAbort = () => this.kill(aborted());
    signal?.addEventListener("abort", onAbort, { once: true });
    let mine: { loss: tf.Scalar; grads: tf.Tensor[] } | undefined;
    try {
      await (this.starting ??= this.start());
      if (signal?.aborted) throw aborted(); // aborted during start-up (the workers are already terminated)
      const slots = this.params.slots;
      const stores = [...this.model.params.vars.values()];
      stores.forEach((v, i) => this.paramsView.set(v.dataSync() as Float32Array, slots[i]!.offset)); // step 1
      const N = batches.reduce((n, b) => n + predictedTokens(b), 0);
      const shards = shardBatches(batches, this.participants, true); // step 2
      const waits = this.handles.map((h) => (shards[h.index]!.length ? this.send(h, shards[h.index]!, N) : null));
      waits.forEach((w) => w?.catch(() => undefined)); // a rejection is seen through Promise.all below
      mine = _shardGrads(this.model, shards[0]!, N, this.vars); // step 3
      const losses = await Promise.all(waits.map((w) => w ?? Promise.resolve(null)));
      if (signal?.aborted) throw aborted(); // the workers answered, but the step was aborted meanwhile
      const main = mine;
      const out = tf.tidy(() => { // step 4: main first, then workers by index
        let loss: tf.Scalar = main.loss;
        let gs = main.grads;
        this.handles.forEach((h, k) => {
          if (losses[k] === null) return;
          loss = tf.add(loss, tf.scalar(losses[k]!, "float32")) as tf.Scalar;
          gs = gs.map((g, i) => tf.add(g, tf.tensor(h.view.slice(this.gradSlots.slots[i]!.offset, this.gradSlots.slots[i]!.offset + g.size), g.shape, "float32")));
        });
        return { loss, grads: gs };
      });
      if (out.loss !== main.loss) tf.dispose([main.loss, ...main.grads]);
      return { loss: out.loss, grads: new Map(this.vars.map(([n], i) => [n, out.grads[i]!])) };
    } catch (e) {
      if (mine) tf.dispose([mine.loss, ...mine.grads]);
      if (signal?.aborted) {
        this.kill(aborted());
        throw e instanceof AbortedStepError ? e : aborted();
      }
      this.dead ??= e instanceof WorkerError ? e : new WorkerError(`gradient workers stopped after an error: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Abort: terminate every worker now (no await), reject what waits on them; the pool is closed. */
  private kill(why: Error): void {
    this.dead ??= new WorkerError(`gradient workers are closed: ${why.message}`);
    for (const h of this.handles) {
      h.failure ??= why.message;
      const p = h.pending;
      h.pending = undefined;
      p?.reject(why);
      this.exits.push(h.worker.terminate().catch(() => 0));
    }
    this.handles = [];
  }

  /** Terminate every worker (idempotent); resolves when all threads have exited. */
  async close(): Promise<void> {
    this.dead ??= new WorkerError("gradient workers are closed");
    await this.starting?.catch(() => undefined);
    const hs = this.handles;
    this.handles = [];
    await Promise.all([...hs.map((h) => h.worker.terminate()), ...this.exits]);
  }

  private send(h: Handle, parts: Batch[], N: number): Promise<number> {
    if (h.failure) return Promise.reject(new WorkerError(h.failure));
    const id = ++this.nextId;
    return new Promise<number>((resolve, reject) => {
      h.pending = { id, resolve, reject };
      h.worker.postMessage({ type: "step", id, N, parts });
    });
  }

  private async start(): Promise<void> {
    const backend = tf.getBackend();
    const cfg = { ...this.model.cfg, positional: this.model.cfg.positional.toJSON() };
    const ready: Promise<number>[] = [];
    for (let index = 1; index < this.participants; index++) {
      const gradsSab = new SharedArrayBuffer(4 * this.gradSlots.length);
      const workerData: WorkerInit = {
        index, backend, cfg, layout: { ...this.model.layout }, params: this.params.slots, grads: this.gradSlots.slots,
        paramsSab: this.paramsView.buffer as SharedArrayBuffer, gradsSab,
      };
      const worker = new Worker(new URL("./grad-worker.js", import.meta.url), { workerData });
      live.add(worker);
      const h: Handle = { index, worker, view: new Float32Array(gradsSab) };
      this.handles.push(h);
      ready.push(new Promise<number>((resolve, reject) => (h.pending = { id: 0, resolve, reject })));
      this.listen(h);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      this.dead ??= e as WorkerError;
      throw e;
    }
  }

  private listen(h: Handle): void {
    const name = `gradient worker ${h.index} of ${this.participants - 1} (thread ${h.worker.threadId})`;
    const fail = (why: string) => {
      h.failure ??= `dTraining: ${name} ${why}`;
      const p = h.pending;
      h.pending = undefined;
      p?.reject(new WorkerError(h.failure));
    };
    h.worker.on("message", (m: WorkerReply) => {
      const p = h.pending;
      if (m.type === "error") return fail(m.id === 0 ? `could not start: ${m.message}` : `failed: ${m.message}`);
      if (!p || (m.type === "done" && m.id !== p.id)) return;
      h.pending = undefined;
      p.resolve(m.type === "done" ? m.loss : 0);
    });
    h.worker.on("error", (e) => fail(`crashed: ${e instanceof Error ? e.message : String(e)}`));
    h.worker.on("messageerror", (e) => fail(`sent an unreadable message: ${e.message}`));
    h.worker.on("exit", (code) => {
      live.delete(h.worker);
      fail(`exited unexpectedly (exit code ${code})`);
    });
  }
}
