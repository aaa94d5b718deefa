/**
 * Shared test helpers: backend selection (CTXLAB_BACKEND or wasm), closeness checks, tensor reads.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend, type BackendName } from "../../lib/tensor/backend.js";

/** Select the test backend: CTXLAB_BACKEND if set, else wasm. */
export async function testBackend(): Promise<BackendName> {
  const env = process.env.CTXLAB_BACKEND?.trim().toLowerCase();
  const info = await useBackend(env ? (env as BackendName) : "wasm");
  return info.active;
}

/** Run `fn` with backend `name`, then restore the previous one. */
export async function onBackend<T>(name: BackendName, fn: () => T | Promise<T>): Promise<T> {
  const prev = tf.getBackend();
  await useBackend(name);
  try {
    return await fn();
  } finally {
    await useBackend(prev === "wasm" ? "wasm" : prev === "cpu" ? "cpu" : "wasm");
  }
}

/** Flat values of a tensor as a plain number array. */
export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Assert |a − b| ≤ atol + rtol·|b| elementwise, with a message naming the first bad index. */
export function expectClose(actual: ArrayLike<number> | tf.Tensor, expected: ArrayLike<number> | tf.Tensor, opts: { atol?: number; rtol?: number; what?: string } = {}): void {
  const a = actual instanceof tf.Tensor ? values(actual) : Array.from(actual);
  const b = expected instanceof tf.Tensor ? values(expected) : Array.from(expected);
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  assert.equal(a.length, b.length, `${opts.what ?? "values"}: length ${a.length} ≠ ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i]! - b[i]!) <= atol + rtol * Math.abs(b[i]!);
    if (!ok) assert.fail(`${opts.what ?? "values"}[${i}]: ${a[i]} vs expected ${b[i]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Largest |a − b| over all elements. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}
