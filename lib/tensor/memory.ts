/**
 * Tensor memory in notebooks. tf.tidy covers only synchronous code and notebooks leak: re-running
 * a cell rebinds a variable but the old tensors stay allocated. `scope` disposes every tensor
 * created inside it (sync or async) except those returned or kept; `memoryInfo` shows live
 * tensors and bytes.
 *
 * Async scopes use the engine's scope stack: do not interleave two `scope` calls running
 * concurrently (awaiting one inside the other is fine). ctxlab checks for interleaving and throws.
 */
import * as tf from "@tensorflow/tfjs";

export interface MemoryInfo {
  numTensors: number;
  numBytes: number;
  numDataBuffers: number;
  backend: string;
  /** e.g. "3,214 tensors, 12.4 MB on wasm" */
  summary: string;
}

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Live tensor count and bytes on the active backend. */
export function memoryInfo(): MemoryInfo {
  const m = tf.memory();
  const backend = tf.getBackend() ?? "none";
  return {
    numTensors: m.numTensors,
    numBytes: m.numBytes,
    numDataBuffers: m.numDataBuffers,
    backend,
    summary: `${m.numTensors.toLocaleString("en-US")} tensors, ${formatBytes(m.numBytes)} on ${backend}`,
  };
}

function collect(x: unknown, out: tf.Tensor[], seen = new Set<unknown>()): void {
  if (x == null || typeof x !== "object" || seen.has(x)) return;
  seen.add(x);
  if (x instanceof tf.Tensor) {
    out.push(x);
    return;
  }
  if (ArrayBuffer.isView(x)) return;
  if (x instanceof Map) {
    for (const v of x.values()) collect(v, out, seen);
    return;
  }
  for (const v of Object.values(x as Record<string, unknown>)) collect(v, out, seen);
}

let openAsync = 0;
const asyncStack: number[] = [];
let nextId = 1;

/**
 * Run `fn`, then dispose every tensor it created except the tensors reachable from its result
 * (arrays, objects and Maps are searched) and those passed to tf.keep. Works for sync and async
 * functions; errors propagate after cleanup.
 *
 * @example
 * const logits = await scope(async () => model.logits(x));   // temporaries freed, logits kept
 */
export function scope<T>(fn: () => T): T {
  const engine = tf.engine();
  const id = nextId++;
  engine.startScope(`ctxlab.scope#${id}`);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    engine.endScope();
    throw e;
  }
  if (!(result instanceof Promise)) {
    const keep: tf.Tensor[] = [];
    collect(result, keep);
    engine.endScope(keep as unknown as tf.TensorContainer);
    return result as T;
  }
  openAsync++;
  asyncStack.push(id);
  const finish = (value: unknown) => {
    openAsync--;
    const top = asyncStack.pop();
    if (top !== id) {
      throw new Error(`scope: async scopes #${id} and #${top} were interleaved (two scopes ran concurrently); run them one after the other`);
    }
    const keep: tf.Tensor[] = [];
    collect(value, keep);
    engine.endScope(keep as unknown as tf.TensorContainer);
  };
  return (result as Promise<unknown>).then(
    (v) => {
      finish(v);
      return v;
    },
    (e) => {
      finish(undefined);
      throw e;
    },
  ) as unknown as T;
}

/** Number of async scopes currently open (diagnostics). */
export function openScopes(): number {
  return openAsync;
}

/** Dispose every tensor reachable from `x` (arrays, objects, Maps); returns the count disposed. */
export function disposeAll(x: unknown): number {
  const ts: tf.Tensor[] = [];
  collect(x, ts);
  let n = 0;
  for (const t of ts) {
    if (!t.isDisposed) {
      t.dispose();
      n++;
    }
  }
  return n;
}
