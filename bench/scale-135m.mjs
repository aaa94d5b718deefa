#!/usr/bin/env node
// Real-model scale: ctxlab and the PyTorch reference on a Hugging Face Llama directory of SmolLM-135M's
// shape (bench/llama-shape.mjs writes it: random weights, 134,515,008 parameters).
//
//   nice -n 5 node bench/scale-135m.mjs [--dir bench/out/smollm-135m-shape] [--only load,prefill512,prefill2048,decode,train,parity]
//                                       [--no-pytorch] [--tokens 32] [--steps 3] [--out bench/out]
//   nice -n 5 node bench/scale-135m.mjs --check     assertions only (ctxlab): load, forward at ℓ = 2,048
//                                                   (through the memory checks), greedy generation with the
//                                                   KV cache = without it, fine-tune steps at ℓ = 512 finite
//                                                   with the loss decreasing on a repeated batch
//
// Rows (each case a fresh child process: the wasm heap never shrinks, so peak memory is per case; ctxlab and
// PyTorch one after the other, never at the same time):
//   load         seconds to a model in memory (ctxlab: loadPretrained; PyTorch: the reference's reader)
//   prefill512, prefill2048   one forward pass (all ℓ logits, batch 1) over seeded random ids; tokens/s = ℓ / s,
//                the best of 2 after a warm-up at ℓ = 64
//   decode       greedy generation after a 2,048-token prompt with the KV cache: tokens/s over the generated
//                tokens after the first (the prompt pass excluded)
//   train        fine-tuning steps at ℓ = 512 (batch 1, one repeated sequence), AdamW (0.9, 0.95, 1e-8,
//                decay 0.1 on the projection matrices), clip 1, lr 1e-3; step seconds = the best step after the first
//   parity       logits of the last 64 rows at ℓ = 2,048 (--parity-len), ctxlab (float32) vs the reference in float64
// Peak memory = each process's RSS high-water; ctxlab also reports its wasm heap. The 1-min load average
// before each run is recorded (the machine is shared). Environment of the measured children: as bench/run.mjs
// (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset; ctxlab's native matMul uses the same OpenBLAS; --keep-openblas-env keeps them;
// glibc's malloc without mmap, bench/env.mjs; --keep-malloc keeps its defaults).
// Writes <out>/scale-135m.json and <out>/scale-135m.md. Needs `npm run build`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { DEFAULT_DIR, EXPECTED_PARAMS, writeLlamaShape } from "./llama-shape.mjs";
import { envNote, measuredEnv } from "./env.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);
const flag = (n) => args.includes(`--${n}`);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const dir = resolve(opt("dir", DEFAULT_DIR));
const outDir = resolve(opt("out", join(ROOT, "bench", "out")));
const TOKENS = Number(opt("tokens", 32));
const STEPS = Number(opt("steps", 3));
const LR = 1e-3;
const load1 = () => Math.round(os.loadavg()[0] * 100) / 100;
const MiB = 2 ** 20;

/** Seeded ids (LCG), the same in every process. */
export function seededIds(n, vocab, seed = 0) {
  let s = (seed * 2654435761 + 12345) >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

// ---------------------------------------------------------------- ctxlab's side (one case per child)

async function ctxCase(name) {
  const lib = await import("ctxlab");
  const { loadPretrained, useBackend, tf, dInference, dTraining, nativeMatMulInfo } = lib;
  await useBackend("wasm");
  const heap = () => Math.round((tf.backend().wasm?.HEAPU8?.buffer?.byteLength ?? 0) / MiB);
  const t0 = performance.now();
  const model = await loadPretrained(dir);
  const loadS = (performance.now() - t0) / 1000;
  const V = model.cfg.nVocab;
  const base = { impl: "ctxlab", native_matmul: nativeMatMulInfo().active ?? null, params: model.numParams() };
  const forward = (ids) => {
    const t = performance.now();
    const out = model.logits(ids);
    const s = (performance.now() - t) / 1000;
    return { out, s };
  };
  if (name === "load") return { ...base, case: "load", seconds: loadS, heap_mib: heap() };
  if (name.startsWith("prefill")) {
    const l = Number(name.slice(7));
    const ids = seededIds(l, V);
    forward(ids.slice(0, 64)).out.dispose();
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const { out, s } = forward(ids);
      if (out.shape.join() !== `${l},${V}`) throw new Error(`prefill: logits shape [${out.shape}]`);
      if (i === 0 && !Number.isFinite(out.max().dataSync()[0])) throw new Error("prefill: non-finite logits");
      out.dispose();
      runs.push(s);
    }
    const best = Math.min(...runs);
    return { ...base, case: name, len: l, seconds: best, runs_s: runs, tokens_per_s: l / best, heap_mib: heap(), load_s: loadS };
  }
  if (name === "decode") {
    const prompt = seededIds(2048, V);
    const stamps = [];
    const t1 = performance.now();
    const r = await dInference(model, prompt, { maxTokens: TOKENS, temperature: 0, onToken: () => void stamps.push(performance.now()) });
    const gen = (stamps.at(-1) - stamps[0]) / 1000;
    return { ...base, case: "decode", prompt: 2048, tokens: r.tokens.length, decoder: r.decoder, prompt_pass_s: (stamps[0] - t1) / 1000, seconds: gen, tokens_per_s: (r.tokens.length - 1) / gen, first_tokens: r.tokens.slice(0, 8), heap_mib: heap() };
  }
  if (name === "kv") return kvCase(lib, model, base);
  if (name === "train") {
    const seq = Int32Array.from(seededIds(512, V));
    const source = { name: "repeated", next: () => ({ tokens: seq, batch: 1, length: 512 }), describe: () => ({ l: 512 }) };
    const r = await dTraining(model, { source, steps: STEPS, schedule: LR, clip: 1, optimizer: { kind: "adamw" } });
    const stepS = r.rows.map((row) => 512 / row.tokens_per_s);
    const out = { ...base, case: "train", len: 512, status: r.status, message: r.message, steps: r.rows.length, losses: r.rows.map((x) => x.loss), steps_s: stepS, step_s: Math.min(...stepS.slice(stepS.length > 1 ? 1 : 0)), moments: r.optimizer.moments, heap_mib: heap() };
    out.tokens_per_s = 512 / out.step_s;
    r.optimizer.dispose();
    return out;
  }
  if (name === "parity") return parityCase(lib, model, base, forward);
  throw new Error(`scale-135m: unknown case ${name}`);
}

/** Greedy generation with the KV cache (JsDecoder, tfjs) = without it, and one cached step's logits = recomputation. */
async function kvCase({ tf, dInference, KVCache, JsDecoder, dTransformer }, model, base) {
  const V = model.cfg.nVocab;
  const prompt = seededIds(24, V, 1);
  const runs = {};
  for (const [k, o] of [["js", { decoder: "js" }], ["tfjs", { decoder: "tfjs" }], ["none", { cache: false }]]) runs[k] = (await dInference(model, prompt, { maxTokens: 4, temperature: 0, ...o })).tokens;
  // and the logits: one cached step (JsDecoder after a tfjs prompt pass) against recomputing the whole sequence
  const kv = new KVCache(model.cfg.nLayers);
  tf.tidy(() => void dTransformer(tf.tensor2d(prompt, [1, prompt.length], "int32"), model, { kv }).dataSync()[0]);
  const step = new JsDecoder(model, kv, prompt.length + 4).step(runs.none[0]);
  kv.dispose?.();
  const full = tf.tidy(() => model.logits([...prompt, runs.none[0]]).slice([prompt.length, 0], [1, V]).dataSync());
  let d = 0;
  for (let i = 0; i < V; i++) d = Math.max(d, Math.abs(step[i] - full[i]));
  const equal = runs.js.join() === runs.none.join() && runs.tfjs.join() === runs.none.join() && d < 1e-3;
  return { ...base, case: "kv", tokens: runs, step_logits_max_abs_diff: d, equal };
}

/** ctxlab's logits (last 64 rows at ℓ = 2,048) against the reference's float64 ones. */
function parityCase({ tf }, model, base, forward) {
  const V = model.cfg.nVocab;
  const ids = JSON.parse(readFileSync(join(outDir, "scale-ids.json"), "utf8"));
  const { out } = forward(ids);
  const rows = tf.tidy(() => out.slice([ids.length - 64, 0], [64, V]).dataSync());
  out.dispose();
  const refBuf = readFileSync(join(outDir, "scale-ref-logits.f32"));
  const ref = new Float32Array(refBuf.buffer, refBuf.byteOffset, refBuf.byteLength / 4);
  if (ref.length !== rows.length) throw new Error(`parity: reference has ${ref.length} floats, ctxlab ${rows.length}`);
  let [abs, scale, rel] = [0, 0, 0];
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(rows[i] - ref[i]);
    abs = Math.max(abs, d);
    scale = Math.max(scale, Math.abs(ref[i]));
    rel = Math.max(rel, d / (Math.abs(ref[i]) + 1e-3));
  }
  return { ...base, case: "parity", len: ids.length, rows: 64, max_abs: abs, max_abs_logit: scale, max_abs_over_max_logit: abs / scale, max_rel_elementwise: rel };
}

// ---------------------------------------------------------------- the parent: children in turn

/** The measured children's environment (bench/env.mjs): --keep-openblas-env, --keep-malloc. */
const ENV_FLAGS = { keep: flag("keep-openblas-env"), keepMalloc: flag("keep-malloc") };
const lastJson = (s) => s.split("\n").filter((x) => x.startsWith("{")).at(-1);

function child(impl, cmd, argv) {
  const load = load1();
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * MiB, timeout: 1800e3, env: measuredEnv(ENV_FLAGS) });
  const wall = (performance.now() - t0) / 1000;
  try {
    if (r.status !== 0) throw new Error((r.stderr || r.stdout || String(r.error)).trim().split("\n").slice(-3).join(" | "));
    return { ...JSON.parse(lastJson(r.stdout)), impl, load_1min_before: load, wall_s: wall };
  } catch (e) {
    return { impl, ok: false, error: String(e.message ?? e).slice(0, 500), load_1min_before: load, wall_s: wall };
  }
}
const ctx = (c) => child("ctxlab", process.execPath, [join(ROOT, "bench", "scale-135m.mjs"), "--case", c, "--dir", dir, "--out", outDir, "--tokens", String(TOKENS), "--steps", String(STEPS)]);
const PY = "/usr/bin/python3";
const py = (...a) => child("pytorch", PY, [join(ROOT, "bench", "pytorch_llama.py"), ...a]);
const pyCases = {
  load: () => py("load", dir),
  prefill512: () => py("prefill", dir, "--len", "512"),
  prefill2048: () => py("prefill", dir, "--len", "2048"),
  decode: () => py("decode", dir, "--prompt", "2048", "--tokens", String(TOKENS)),
  train: () => py("train", dir, "--len", "512", "--steps", String(STEPS), "--lr", String(LR)),
};

function check(results) {
  const fail = [];
  const by = Object.fromEntries(results.map((r) => [r.case ?? r.error, r]));
  if (by.load?.params !== EXPECTED_PARAMS) fail.push(`load: ${JSON.stringify(by.load)}`);
  if (!(by.prefill2048?.tokens_per_s > 0)) fail.push(`forward at ℓ = 2,048: ${JSON.stringify(by.prefill2048)}`);
  if (by.kv?.equal !== true) fail.push(`KV cache = recompute: ${JSON.stringify(by.kv)}`);
  const t = by.train;
  const ok = t?.status === "completed" && t.losses.length === STEPS && t.losses.every(Number.isFinite) && t.losses.at(-1) < t.losses[0];
  if (!ok) fail.push(`fine-tune at ℓ = 512: ${JSON.stringify(t)}`);
  for (const r of results.filter((x) => x.error)) fail.push(`${r.impl}: ${r.error}`);
  return fail;
}

const f = (x, d = 1) => (x == null ? "–" : Number(x).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
function table(rows) {
  const get = (impl, c) => rows.find((r) => r.impl === impl && r.case === c);
  const line = (label, c, key, unit, higherBetter, d = 1) => {
    const [a, b] = [get("ctxlab", c), get("pytorch", c)];
    const [x, y] = [a?.[key], b?.[key]];
    const ratio = x != null && y != null ? (higherBetter ? x / y : y / x) : null;
    const mem = (r) => (r ? `${f(r.peak_rss_mib, 0)}${r.heap_mib ? ` (heap ${f(r.heap_mib, 0)})` : ""}` : "–");
    return `| ${label} | ${f(x, d)} | ${f(y, d)} | ${ratio == null ? "–" : `${f(ratio, 2)}×`} | ${mem(a)} | ${mem(b)} | ${f(a?.load_1min_before, 1)} / ${f(b?.load_1min_before, 1)} |`;
  };
  return [
    `| row | ctxlab | PyTorch 1.13 | ratio (ctxlab/PyTorch speed) | ctxlab peak RSS MiB | PyTorch peak RSS MiB | load avg before (ctxlab / PyTorch) |`,
    `|---|---|---|---|---|---|---|`,
    line("load (s)", "load", "seconds", "s", false, 2),
    line("prefill ℓ = 512 (tokens/s)", "prefill512", "tokens_per_s", "", true, 0),
    line("prefill ℓ = 2,048 (tokens/s)", "prefill2048", "tokens_per_s", "", true, 0),
    line(`decode after 2,048 (tokens/s, ${TOKENS} tokens)`, "decode", "tokens_per_s", "", true, 2),
    line("fine-tuning step ℓ = 512 (s)", "train", "step_s", "s", false, 1),
  ].join("\n");
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const shape = await writeLlamaShape({ dir });
  const started = new Date().toISOString();
  const results = [];
  const run = (r) => {
    results.push(r);
    console.error(`[${r.impl}] ${r.case ?? "?"}: ${r.error ? `FAILED ${r.error}` : JSON.stringify(r).slice(0, 220)}`);
  };
  if (flag("check")) {
    for (const c of ["load", "prefill2048", "kv", "train"]) run(ctx(c));
    const fail = check(results);
    if (fail.length) {
      console.error(`scale-135m --check: FAILED\n  ${fail.join("\n  ")}`);
      process.exit(1);
    }
    console.log(JSON.stringify({ check: "ok", losses: results.find((r) => r.case === "train").losses, load_1min: load1() }));
    return;
  }
  const only = opt("only", "load,prefill512,prefill2048,decode,train,parity").split(",");
  const torch = !flag("no-pytorch") && spawnSync(PY, ["-c", "import torch"]).status === 0;
  for (const c of only.filter((x) => x !== "parity")) {
    run(ctx(c));
    if (torch && pyCases[c]) run({ ...pyCases[c](), case: c });
  }
  if (only.includes("parity") && torch) {
    writeFileSync(join(outDir, "scale-ids.json"), JSON.stringify(seededIds(Number(opt("parity-len", 2048)), 49152, 7)));
    run(py("logits", dir, "--ids-file", join(outDir, "scale-ids.json"), "--out", join(outDir, "scale-ref-logits.f32"), "--rows", "64", "--dtype", "float64"));
    run(ctx("parity"));
  }
  const note = envNote(ENV_FLAGS);
  const md = `${table(results)}\n\nMachine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), shared with other jobs; started ${started}. Measured children's environment: ${note}. Shape directory ${shape.dir} (${shape.params.toLocaleString("en-US")} parameters).\n`;
  writeFileSync(join(outDir, "scale-135m.json"), JSON.stringify({ started, dir, tokens: TOKENS, steps: STEPS, results }, null, 1));
  writeFileSync(join(outDir, "scale-135m.md"), md);
  console.log(md);
  const p = results.find((r) => r.case === "parity" && r.impl === "ctxlab");
  if (p) console.log(`parity (ℓ = ${p.len}, last 64 rows, vs float64): max |Δ| ${p.max_abs?.toExponential(2)} (max |logit| ${p.max_abs_logit?.toFixed(3)}), max |Δ|/max|logit| ${p.max_abs_over_max_logit?.toExponential(2)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (flag("case")) console.log(JSON.stringify({ ...(await ctxCase(opt("case"))), peak_rss_mib: Math.round((process.resourceUsage().maxRSS * 1024) / MiB), load_1min: load1() }));
  else await main();
}
