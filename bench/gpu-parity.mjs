#!/usr/bin/env node
// Parity and benchmark rows of ctxlab on another backend (the GPU ones: tfjs-node-gpu's "tensorflow",
// or "webgpu" through the `webgpu` package's Dawn bindings) against the wasm backend, on the reference
// model (presets.ref, seed 0). Run by bench/gpu.sh; usable alone once the backend's packages are installed.
//
//   node bench/gpu-parity.mjs --backend node-gpu|webgpu|node|cpu|wasm [--quick] [--no-bench]
//                             [--tol-logits 5e-3] [--tol-loss 1e-3] [--tol-params 5e-3] [--out FILE]
//
// Parity (the same on both backends, computed first on wasm, then on --backend, from fresh models):
//   logits   model.logits of a fixed batch [2, 128] (learned positions) and of a RoPE model at ℓ = 512:
//            max |Δ| ≤ tol-logits × max |wasm logits|
//   training one dTraining step (SGD lr 0.1, clip 1) on a fixed batch [4, 128]: the step's loss
//            |Δ| ≤ tol-loss × |loss|, and every parameter after the update max |Δ| ≤ tol-params × max |Δ(wasm update)|
//            of that parameter (the update, not the weight, so that the test is not hidden by the weights' size)
// Tolerances are loose enough for TF32 matMuls (libtensorflow enables TF32 on Ampere+ GPUs by default) and
// tight enough to catch a wrong kernel (a wrong mask, a transposed operand, a missing bias: errors of O(1)).
// Bench rows on --backend (wasm's are in docs/performance.md): training tokens/s at ℓ = 256 (batch 16) and
// ℓ = 1,024 (batch 4), forward time at ℓ = 4,096 and 16,384 (RoPE, batch 1), decode tokens/s after a
// 1,024-token prompt (decoder "auto": the tensor path with a KV cache off wasm/cpu).
// Exit status: 0 parity holds, 1 parity fails, 2 the backend could not be selected.
import { writeFileSync } from "node:fs";
import { DTransformer, dInference, dTraining, presets, Rng, tf, useBackend } from "ctxlab";

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const backend = opt("backend", "node-gpu");
const quick = args.includes("--quick");
const tol = { logits: Number(opt("tol-logits", 5e-3)), loss: Number(opt("tol-loss", 1e-3)), params: Number(opt("tol-params", 5e-3)) };
const log = (...a) => console.error("gpu-parity:", ...a);

/** Selects `name`: ctxlab's own backends through useBackend, "webgpu" through the `webgpu` package. */
async function select(name) {
  if (name === "webgpu") {
    const { create, globals } = await import("webgpu"); // Dawn's Node bindings, prebuilt in the npm package
    Object.assign(globalThis, globals);
    if (!globalThis.navigator) globalThis.navigator = {};
    globalThis.navigator.gpu = create([]);
    await import("@tensorflow/tfjs-backend-webgpu");
    const adapter = await globalThis.navigator.gpu.requestAdapter();
    if (!adapter) throw new Error("webgpu: Dawn found no GPU adapter (no Vulkan driver for the GPU?)");
    if (!(await tf.setBackend("webgpu"))) throw new Error('tf.setBackend("webgpu") failed');
    await tf.ready();
    return `webgpu (${adapter.info?.vendor ?? "?"} ${adapter.info?.architecture ?? ""} ${adapter.info?.description ?? ""})`.trim();
  }
  const info = await useBackend(name);
  return info.summary.split("\n")[0];
}

const fixedSource = (B, l, seed) => ({
  name: "fixed",
  next() {
    const rng = new Rng(seed);
    const tokens = new Int32Array(B * l);
    for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(0, 256);
    return { tokens, batch: B, length: l };
  },
  describe: () => ({ B, l, seed }),
});

/** Everything parity compares, on the current backend, from fresh seed-0 models. */
async function measure() {
  const out = {};
  const m = DTransformer.create({ ...presets.ref, lMax: 128 }, 0);
  const ids = Array.from({ length: 2 }, (_, b) => Array.from({ length: 128 }, (_, i) => (i * 31 + 7 * b + 3) % 256));
  const y = m.logits(ids);
  out.logits = Float32Array.from(y.dataSync());
  y.dispose();
  const before = new Map(m.params.names().map((n) => [n, Float32Array.from(m.params.get(n).dataSync())]));
  // SGD: the update is -lr × the clipped gradient, linear in it (AdamW's first step is ≈ lr·sign(g), which
  // turns float noise in near-zero gradient entries into full-size differences)
  const r = await dTraining(m, { source: fixedSource(4, 128, 1), steps: 1, rng: new Rng(0), workers: 1, optimizer: { kind: "sgd" }, schedule: 0.1 });
  r.optimizer.dispose();
  out.loss = r.rows[0].loss;
  out.update = new Map(m.params.names().map((n) => [n, Float32Array.from(m.params.get(n).dataSync()).map((v, i) => v - before.get(n)[i])]));
  m.dispose();
  const { rope } = await import("../dist/lib/positional/rope.js");
  const mr = DTransformer.create({ ...presets.ref, positional: rope() }, 0);
  const yr = mr.logits([Array.from({ length: 512 }, (_, i) => (i * 31 + 7) % 256)]);
  out.ropeLogits = Float32Array.from(yr.dataSync());
  yr.dispose();
  mr.dispose();
  return out;
}

const maxAbs = (a) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
const maxDiff = (a, b) => a.reduce((s, v, i) => Math.max(s, Math.abs(v - b[i])), 0);

function compare(ref, got) {
  const checks = [];
  const add = (what, diff, limit) => checks.push({ what, diff, limit, ok: Number.isFinite(diff) && diff <= limit });
  add("logits [2, 128], learned positions: max |Δ|", maxDiff(ref.logits, got.logits), tol.logits * maxAbs(ref.logits));
  add("logits [1, 512], RoPE: max |Δ|", maxDiff(ref.ropeLogits, got.ropeLogits), tol.logits * maxAbs(ref.ropeLogits));
  add("training step loss: |Δ|", Math.abs(ref.loss - got.loss), tol.loss * Math.abs(ref.loss));
  let worst = { what: "", diff: 0, limit: 1, ok: true };
  // floor: 1e-4 of the largest update of any parameter (b_k's gradient is exactly 0 in exact arithmetic:
  // a bias on every key adds the same q·b_k to every score of a row, which the softmax cancels)
  const floor = 1e-4 * Math.max(...[...ref.update.values()].map(maxAbs));
  for (const [name, u] of ref.update) {
    const g = got.update.get(name);
    const c = { what: `update of ${name}: max |Δ|`, diff: g ? maxDiff(u, g) : Infinity, limit: tol.params * Math.max(maxAbs(u), floor) };
    c.ok = Number.isFinite(c.diff) && c.diff <= c.limit;
    if (!c.ok || c.diff / c.limit > worst.diff / worst.limit) worst = c;
  }
  checks.push({ ...worst, what: `parameters after one SGD step, worst of ${ref.update.size}: ${worst.what}` });
  return checks;
}

async function benchRows() {
  const rows = [];
  const time = (f) => {
    const t0 = performance.now();
    f();
    return (performance.now() - t0) / 1000;
  };
  for (const [l, B] of quick ? [[128, 2]] : [[256, 16], [1024, 4]]) {
    const m = DTransformer.create({ ...presets.ref, lMax: l }, 0);
    const steps = quick ? 1 : 4;
    const r = await dTraining(m, { source: fixedSource(B, l, 2), steps: 1 + steps, rng: new Rng(0), workers: 1, optimizer: { kind: "adamw" }, schedule: 3e-4 });
    r.optimizer.dispose();
    m.dispose();
    const rates = r.rows.slice(1).map((x) => x.tokens_per_s).sort((a, b) => a - b);
    rows.push({ case: `train${l}`, what: `training tokens/s, ℓ = ${l}, batch ${B}`, value: Math.round(rates[rates.length >> 1]), unit: "tokens/s" });
  }
  const { rope } = await import("../dist/lib/positional/rope.js");
  for (const l of quick ? [512] : [4096, 16384]) {
    const m = DTransformer.create({ ...presets.ref, positional: rope() }, 0);
    const x = Array.from({ length: l }, (_, i) => (i * 31 + 7) % 256);
    const run = () => time(() => tf.tidy(() => m.logits([x]).dataSync()));
    run(); // warm-up (kernel compilation, autotuning)
    const ts = [run(), run(), run()].sort((a, b) => a - b);
    m.dispose();
    rows.push({ case: `forward${l / 1024}k`, what: `forward ℓ = ${l.toLocaleString("en")}, batch 1, RoPE: time`, value: Math.round(ts[1] * 1000) / 1000, unit: "s" });
  }
  const P = quick ? 64 : 1024;
  const n = quick ? 16 : 256;
  const m = DTransformer.create({ ...presets.ref, lMax: P + n }, 0);
  const prompt = Array.from({ length: P }, (_, i) => (i * 31 + 7) % 256);
  await dInference(m, prompt, { maxTokens: 4, temperature: 0 });
  const stamps = [];
  const r = await dInference(m, prompt, { maxTokens: n, temperature: 0, onToken: () => void stamps.push(performance.now()) });
  m.dispose();
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]);
  rows.push({ case: "decode", what: `greedy decode, KV cache, after a ${P.toLocaleString("en")}-token prompt (decoder ${r.decoder ?? "?"})`, value: Math.round(gaps.length / (gaps.reduce((a, b) => a + b, 0) / 1000)), unit: "tokens/s" });
  return rows;
}

let ref;
try {
  log(`reference: ${await select("wasm")}`);
  ref = await measure();
} catch (e) {
  log(`the wasm reference failed: ${e.message}`);
  process.exit(2);
}
let label;
try {
  label = await select(backend);
  log(`backend under test: ${label}`);
} catch (e) {
  log(`could not select backend ${backend}: ${e.message}`);
  process.exit(2);
}
const got = await measure();
const checks = compare(ref, got);
const ok = checks.every((c) => c.ok);
console.log(`\n## Parity: ${label} vs wasm (reference model presets.ref, seed 0)\n`);
console.log("| check | max |Δ| | limit | ok? |\n|---|---:|---:|---|");
for (const c of checks) console.log(`| ${c.what} | ${c.diff.toExponential(2)} | ${c.limit.toExponential(2)} | ${c.ok ? "yes" : "**NO**"} |`);
const result = { backend, label, ok, tolerances: tol, checks, rows: null, when: new Date().toISOString() };
if (ok && !args.includes("--no-bench")) {
  result.rows = await benchRows();
  console.log(`\n## Benchmark rows on ${label}${quick ? " (--quick: small sizes)" : ""}\n`);
  console.log("| case | value |\n|---|---:|");
  for (const r of result.rows) console.log(`| ${r.what} (${r.unit}) | ${r.value.toLocaleString("en")} |`);
}
if (opt("out", null)) writeFileSync(opt("out"), JSON.stringify(result, null, 2) + "\n");
if (!ok) {
  log(`PARITY FAILED on ${label}: ${checks.filter((c) => !c.ok).map((c) => c.what).join("; ")}`);
  process.exit(1);
}
log(`parity holds on ${label}`);
