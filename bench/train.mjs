// Training throughput (Algorithm 13) of the reference model (presets.ref: L=4, H=4, d_e=128, d_mlp=512,
// N_V=256, learned positions, untied W_u) at ℓ=256, batch 16, AdamW: tokens/s on wasm with workers 1
// and 2 (data-parallel worker_threads, lib/train/parallel.ts) and on cpu with workers 1.
//
// Each case is a fresh model trained for warm-up + measured steps; warm-up steps (wasm compilation,
// worker start-up) are excluded. Per measured step: tokens/s as dTraining's row reports it (gradient,
// combination, optimizer update), the cores this process used (all its threads) and the cores OTHER
// processes used meanwhile (machine-wide busy time from os.cpus() minus ours). Medians are reported
// over all measured steps and over the "quiet" steps (others < 0.25 cores), because on a shared machine
// a second thread only helps when the second core is free (Linux autogroup scheduling also gives
// every session an equal share, whatever its thread count). wasm cases run interleaved (W1, W2, …);
// --wait-quiet S waits up to S seconds before each case for a quiet machine.
// cpu uses batch --cpu-batch (default 2): the cpu backend's memory grows with B far beyond the tensors
// alive (garbage typed arrays: 7.1 GiB peak RSS at B=8, above 15 GiB at B=16 (stopped); 9 tokens/s at
// B=8 vs 30 at B=2), which a shared 24 GiB machine cannot afford; --cpu-batch 16 measures it anyway.
// Prints JSON, then a markdown table.
// Usage: node bench/train.mjs [--steps 4] [--warmup 1] [--repeats 2] [--cpu-steps 1] [--cpu-batch 2]
//        [--no-cpu] [--batch 16] [--len 256] [--wait-quiet 0]
import os from "node:os";
import { DTransformer, dTraining, presets, Rng, useBackend } from "ctxlab";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const steps = arg("steps", 4);
const warmup = arg("warmup", 1);
const repeats = arg("repeats", 2);
const cpuSteps = arg("cpu-steps", 1);
const batchWasm = arg("batch", 16);
const batchCpu = arg("cpu-batch", 2);
const l = arg("len", 256);
const waitQuiet = arg("wait-quiet", 0);
const withCpu = !process.argv.includes("--no-cpu");
const QUIET = 0.25; // cores used by other processes
if (!(warmup >= 1 && steps >= 1 && cpuSteps >= 1)) throw new Error("bench/train: --warmup, --steps and --cpu-steps must be ≥ 1 (the first step starts the workers)");

const sourceOf = (B) => ({
  name: "uniform-bytes",
  next(rng) {
    const tokens = new Int32Array(B * l);
    for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(0, 256);
    return { tokens, batch: B, length: l };
  },
  describe: () => ({ B, l }),
});
const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r2 = (x) => (x === null ? null : Math.round(x * 100) / 100);
const round = (x) => (x === null ? null : Math.round(x));

/** Wall time (ms), this process's CPU time (ms, all threads), the machine's busy time (ms, all cores), RSS. */
function sample() {
  const busy = os.cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
  const u = process.cpuUsage();
  return { t: performance.now(), own: (u.user + u.system) / 1000, busy, rss: process.memoryUsage().rss };
}

async function quiet(seconds) {
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const a = sample();
    await new Promise((r) => setTimeout(r, 2000));
    const b = sample();
    if ((b.busy - a.busy) / (b.t - a.t) < QUIET) return true;
  }
  return false;
}

async function runCase(backend, workers, measured) {
  const waited = waitQuiet > 0 ? await quiet(waitQuiet) : null;
  await useBackend(backend);
  const B = backend === "cpu" ? batchCpu : batchWasm;
  const model = DTransformer.create({ ...presets.ref }, 0);
  const samples = [sample()];
  const r = await dTraining(model, {
    source: sourceOf(B), steps: warmup + measured, rng: new Rng(0), workers, optimizer: { kind: "adamw" }, schedule: 3e-4,
    onStep: () => samples.push(sample()),
  });
  const stepsOut = r.rows.slice(warmup).map((row, i) => {
    const [a, b] = [samples[warmup + i], samples[warmup + i + 1]];
    const own = (b.own - a.own) / (b.t - a.t);
    return { tokens_per_s: Math.round(row.tokens_per_s), wall_tokens_per_s: Math.round((B * l) / ((b.t - a.t) / 1000)), own_cores: r2(own), other_cores: r2(Math.max(0, (b.busy - a.busy) / (b.t - a.t) - own)) };
  });
  const out = {
    backend, workers, batch: B, status: r.status, waited_quiet: waited, first_step_s: r2((samples[1].t - samples[0].t) / 1000),
    steps: stepsOut, losses: r.rows.map((x) => Number(x.loss.toFixed(5))), load_1min: r2(os.loadavg()[0]),
    peak_rss_mib: Math.round(Math.max(...samples.map((s) => s.rss)) / 2 ** 20), // at step ends, worker threads included
  };
  r.optimizer.dispose();
  model.dispose();
  console.error(`${backend} W=${workers}: ` + stepsOut.map((s) => `${s.tokens_per_s} tok/s (own ${s.own_cores}, others ${s.other_cores} cores)`).join("; "));
  return out;
}

const cases = [];
for (let k = 0; k < repeats; k++) for (const w of [1, 2]) cases.push(await runCase("wasm", w, steps));
if (withCpu) cases.push(await runCase("cpu", 1, cpuSteps));

const summary = [];
for (const [backend, workers] of [["wasm", 1], ["wasm", 2], ...(withCpu ? [["cpu", 1]] : [])]) {
  const cs = cases.filter((c) => c.backend === backend && c.workers === workers);
  const all = cs.flatMap((c) => c.steps);
  const q = all.filter((s) => s.other_cores < QUIET);
  summary.push({
    backend, workers, batch: cs[0].batch, steps_measured: all.length, steps_quiet: q.length,
    tokens_per_s: round(median(all.map((s) => s.tokens_per_s))), tokens_per_s_quiet: round(median(q.map((s) => s.tokens_per_s))),
    wall_tokens_per_s: round(median(all.map((s) => s.wall_tokens_per_s))),
    own_cores: r2(median(all.map((s) => s.own_cores))), other_cores: r2(median(all.map((s) => s.other_cores))),
  });
}
const [w1, w2] = summary;
const ratio = (a, b) => (a && b ? r2(a / b) : null);
const speedup = { all_steps: ratio(w2.tokens_per_s, w1.tokens_per_s), quiet_steps: ratio(w2.tokens_per_s_quiet, w1.tokens_per_s_quiet) };
const sameFirstLoss = cases.filter((c) => c.backend === "wasm").every((c) => Math.abs(c.losses[0] - cases[0].losses[0]) < 1e-4);
const info = { model: "presets.ref", B: batchWasm, cpuB: batchCpu, l, optimizer: "adamw", warmup, steps, repeats, cpus: os.cpus().length, node: process.version };
console.log(JSON.stringify({ info, summary, speedup_wasm_w2_over_w1: speedup, same_first_loss: sameFirstLoss, cases }, null, 2));
console.log(`\n| backend | workers | batch | tokens/s (median, all steps) | tokens/s (median, quiet steps) | steps (quiet) | cores used (ours) | cores used (others) |`);
console.log(`|---|---|---|---|---|---|---|---|`);
for (const s of summary) console.log(`| ${s.backend} | ${s.workers} | ${s.batch} | ${s.tokens_per_s} | ${s.tokens_per_s_quiet ?? "—"} | ${s.steps_measured} (${s.steps_quiet}) | ${s.own_cores} | ${s.other_cores} |`);
console.log(`\nwasm speed-up, workers 2 over 1: ${speedup.all_steps}× over all steps, ${speedup.quiet_steps ?? "—"}× over quiet steps (others < ${QUIET} cores); ℓ=${l}, batch ${batchWasm}, ${os.cpus().length} cores`);
