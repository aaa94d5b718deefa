/**
 * Entry point of one gradient worker thread (Algorithm 13, step 2, for one row shard); started by
 * GradPool (parallel.ts) as dist/lib/train/grad-worker.js. Not a module to import.
 *
 * Start-up: select the main thread's backend (wasm or cpu), take the model's attention layout (data), and
 * build a replica DTransformer: the same config with the positional encoding rebuilt from its JSON
 * spec (positionalFrom), one variable per parameter of the main model (same names, shapes, order).
 * Then answer { type: "ready" }.
 *
 * Each { type: "step", id, N, parts } message: copy θ from the shared parameter buffer into the
 * variables (the main thread writes it only between steps, before sending), compute this shard's
 * Σ_parts (n_part/N)·∇loss_part (shard.ts) for the trainable parameters, write it into this worker's
 * shared gradient buffer and answer { type: "done", id, loss }. Errors are answered as
 * { type: "error", id, message } (id 0: start-up); the main thread names the worker.
 * The computation is the main thread's own code on the same backend, so it is deterministic.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { makeConfig, type DTransformerOptions } from "../config.js";
import { DTransformer } from "../model/dtransformer.js";
import { newVariable, ParamStore } from "../model/params.js";
import { positionalFrom, type PositionalSpec } from "../positional/index.js";
import { useBackend, type BackendName } from "../tensor/backend.js";
import type { Batch } from "../data/types.js";
import type { WorkerInit, WorkerReply } from "./parallel.js";
import { _shardGrads } from "./shard.js";

const port = parentPort!;
const init = workerData as WorkerInit;
const reply = (m: WorkerReply) => port.postMessage(m);
const messageOf = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function build(): Promise<{ model: DTransformer; vars: [string, tf.Variable][] }> {
  await useBackend(init.backend as BackendName);
  const { positional, ...rest } = init.cfg;
  const cfg = makeConfig({ ...(rest as unknown as DTransformerOptions), positional: positionalFrom(positional as PositionalSpec) });
  const theta = new Float32Array(init.paramsSab);
  const vars = new Map<string, tf.Variable>();
  for (const s of init.params) vars.set(s.name, newVariable(s.name, theta.slice(s.offset, s.offset + s.size), s.shape));
  const model = new DTransformer(cfg, new ParamStore(vars), init.layout);
  return { model, vars: init.grads.map((s) => [s.name, model.params.get(s.name)]) };
}

function step(r: { model: DTransformer; vars: [string, tf.Variable][] }, N: number, parts: Batch[]): number {
  const theta = new Float32Array(init.paramsSab);
  tf.tidy(() => {
    for (const s of init.params) r.model.params.get(s.name).assign(tf.tensor(theta.slice(s.offset, s.offset + s.size), s.shape, "float32"));
  });
  const { loss, grads } = _shardGrads(r.model, parts, N, r.vars);
  try {
    const out = new Float32Array(init.gradsSab);
    grads.forEach((g, i) => out.set(g.dataSync() as Float32Array, init.grads[i]!.offset));
    return loss.dataSync()[0]!;
  } finally {
    tf.dispose([loss, ...grads]);
  }
}

const ready = build();
ready.then(
  () => reply({ type: "ready" }),
  (e) => reply({ type: "error", id: 0, message: messageOf(e) }),
);
port.on("message", (m: { type: string; id: number; N: number; parts: Batch[] }) => {
  ready.then((r) => {
    if (m.type !== "step") throw new Error(`unknown message type ${JSON.stringify(m.type)}`);
    reply({ type: "done", id: m.id, loss: step(r, m.N, m.parts) });
  }).catch((e) => reply({ type: "error", id: m.id, message: messageOf(e) }));
});
