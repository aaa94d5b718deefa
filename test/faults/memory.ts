/**
 * Memory faults on wasm (one 4 GiB heap that never shrinks):
 *   refusals     a pass that would not fit is refused before anything is allocated, with the estimate
 *                by part and the ways out (smaller ℓ, chunked attention, smaller batch): unchunked
 *                per-head and batched layouts, the chunked path at ℓ = 8M, a traced (hooked) pass;
 *                a training step and a loss evaluation (run in a child process: without a refusal
 *                they fill the heap and die inside a kernel)
 *   repetition   a typical notebook cell (logits, trace, forward inside scope(), a short dInference,
 *                disposal) repeated n times leaves tf.memory().numTensors and numBytes flat
 */
import * as tf from "@tensorflow/tfjs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { presets } from "../../lib/config.js";
import { InputError } from "../../lib/errors.js";
import { dInference } from "../../lib/infer/dinference.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { none, rope } from "../../lib/positional/index.js";
import { scope } from "../../lib/tensor/memory.js";

export interface MemoryCheck {
  check: string;
  ok: boolean;
  detail: string;
}

const REFUSAL = /needs an estimated [\d.]+ (GiB|MiB) of tensors \(parameters [\d.]+ (GiB|MiB), activations [\d.]+ (GiB|MiB), attention [\d.]+ (GiB|MiB) \(.*\), logits [\d.]+ (GiB|MiB)\) but only [\d.]+ (GiB|MiB) is left of the 4\.00 GiB wasm heap .*Options: a smaller ℓ \(ℓ ≤ \d+ fits/;

function refused(check: string, fn: () => unknown, more: RegExp[] = []): MemoryCheck {
  const n0 = tf.memory().numTensors;
  const t0 = performance.now();
  let detail: string;
  let ok = false;
  try {
    const y = fn();
    tf.dispose(y as tf.Tensor);
    detail = "ran instead of being refused";
  } catch (e) {
    const m = (e as Error).message;
    detail = `${(e as Error).constructor.name}: ${m}`;
    ok = e instanceof InputError && REFUSAL.test(m) && more.every((r) => r.test(m));
    if (!ok) detail = `unexpected error: ${detail}`;
  }
  detail = `${detail} (refused after ${(performance.now() - t0).toFixed(0)} ms, input conversion included; reported, not judged)`;
  if (tf.memory().numTensors !== n0) [ok, detail] = [false, `tensors ${n0} → ${tf.memory().numTensors} after the refusal: ${detail}`];
  return { check, ok, detail };
}

/** In-process refusals (the backend must be wasm). */
export function forwardRefusals(): MemoryCheck[] {
  if (tf.getBackend() !== "wasm") return [{ check: "forward refusals", ok: false, detail: `backend is ${tf.getBackend()}, not wasm` }];
  const model = DTransformer.create({ ...presets.micro, positional: none() }, 0);
  const roped = DTransformer.create({ ...presets.micro, positional: rope() }, 0);
  const out: MemoryCheck[] = [];
  try {
    const perHead = { layout: { mode: "per-head" as const } };
    out.push(refused("unchunked per-head forward, ℓ = 30,000", () => model.logits(new Array(30_000).fill(1), perHead), [/chunked attention \(layout \{ mode: "chunked" \}, per model or per call: estimate [\d.]+ (GiB|MiB), fits\)/, /B is already 1/]));
    out.push(refused("unchunked batched forward, B = 16, ℓ = 8,000 (RoPE)", () => roped.logits(Array.from({ length: 16 }, () => new Array(8_000).fill(2)), { layout: { mode: "batched" } }), [/a smaller batch \(B ≤ \d+ fits\)/]));
    out.push(refused("traced forward (hooks force unchunked), ℓ = 30,000", () => model.trace(new Array(30_000).fill(3)).logits, [/unchunked/]));
    out.push(refused("chunked forward, ℓ = 8,000,000", () => tf.tidy(() => model.logits(tf.zeros([1, 8_000_000], "int32"))), [/chunked\)/]));
    const ok = tf.tidy(() => model.logits(new Array(512).fill(1)).shape.join());
    out.push({ check: "a forward that fits still runs (ℓ = 512)", ok: ok === "512,11", detail: `logits [${ok}]` });
  } finally {
    model.dispose();
    roped.dispose();
  }
  return out;
}

const LIB = fileURLToPath(new URL("../../lib/index.js", import.meta.url));
const CHILD = `
import { useBackend, DTransformer, presets, none, dTraining, evaluateLoss } from ${JSON.stringify(LIB)};
await useBackend("wasm");
const what = process.argv[1], l = 30000;
const model = DTransformer.create({ ...presets.micro, positional: none() }, 0).withAttentionLayout({ mode: "per-head" });
const src = { name: "long", describe: () => ({}), next: () => ({ tokens: new Int32Array(l), batch: 1, length: l }) };
const t0 = performance.now();
try {
  if (what === "train") { const r = await dTraining(model, { source: src, steps: 1 }); console.log("RESULT ran: " + r.status + " " + r.message); }
  else { const v = evaluateLoss(model, src, { batches: 1 }); console.log("RESULT ran: loss " + v); }
} catch (e) { console.log("RESULT " + e.constructor.name + ": " + e.message.replace(/\\n/g, " ")); }
console.log("SECONDS " + ((performance.now() - t0) / 1000).toFixed(1));`;

/** A training step or loss evaluation at B = 1, ℓ = 30,000 with unchunked scores (~30 GiB) must be refused. */
export function childRefusal(what: "train" | "eval", timeoutMs = 120_000): Promise<MemoryCheck> {
  const check = what === "train" ? "dTraining step, unchunked, ℓ = 30,000 (child)" : "evaluateLoss, unchunked, ℓ = 30,000 (child)";
  return new Promise((res) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", CHILD, what], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code, signal) => {
      clearTimeout(t);
      const result = /RESULT (.*)/.exec(out)?.[1] ?? `no result (exit ${code ?? signal}): ${out.slice(-300)}`;
      const secs = /SECONDS (.*)/.exec(out)?.[1];
      // refused before any work: an InputError with the estimate (seconds are reported, not judged)
      const ok = /^InputError: /.test(result) && /needs an estimated/.test(result) && /Options: a smaller ℓ/.test(result);
      res({ check, ok, detail: `${result.slice(0, 400)}${secs ? ` (after ${secs} s)` : ""}` });
    });
  });
}

/** A typical cell repeated `n` times: tf.memory() must be flat (measured after a warm-up of 10). */
export async function cellRepetition(n: number): Promise<MemoryCheck> {
  const model = DTransformer.create({ ...presets.micro, positional: rope() }, 0);
  const x = [1, 2, 3, 4, 5, 6, 7];
  const cell = async () => {
    const y = model.logits(x);
    y.dataSync();
    y.dispose();
    const t = model.trace(x);
    t.cache.get("blocks.0.attn.hook_pattern")?.dataSync();
    t.logits.dispose();
    t.cache.dispose();
    const p = scope(() => model.forward([x, x]).max());
    p.dispose();
    await dInference(model, [1, 2], { maxTokens: 2 });
  };
  try {
    for (let i = 0; i < 10; i++) await cell();
    const m0 = tf.memory();
    const t0 = performance.now();
    const counts: number[] = [];
    for (let i = 0; i < n; i++) {
      await cell();
      if (i % Math.max(1, Math.floor(n / 10)) === 0) counts.push(tf.memory().numTensors);
    }
    const m1 = tf.memory();
    const ok = m1.numTensors === m0.numTensors && m1.numBytes === m0.numBytes && counts.every((c) => c === m0.numTensors);
    return { check: `typical cell × ${n} (logits, trace, scope(forward), dInference)`, ok, detail: `numTensors ${m0.numTensors} → ${m1.numTensors} (samples ${[...new Set(counts)].join("/")}), numBytes ${m0.numBytes} → ${m1.numBytes}, ${((performance.now() - t0) / n).toFixed(1)} ms per cell` };
  } finally {
    model.dispose();
  }
}
