// ctxlab's side of bench/run.mjs: one case per process, one JSON line on stdout (the last line).
//
//   node bench/ctxlab-cases.mjs train  --len 256 --batch 16 --workers 1 [--steps 4 --warmup 1]
//   node bench/ctxlab-cases.mjs decode [--prompt 1024 --tokens 1024]
//
// train: the reference model (presets.ref, learned W_p with ℓ_max = ℓ, untied W_u) trained by dTraining
//   (Alg 13: AdamW, clip 1) on uniform random bytes, as bench/train.mjs; tokens/s per measured step is
//   dTraining's row (B·ℓ / step time: gradient, combination, update), median over the steps after the
//   warm-up (which compiles the kernels and starts the worker threads).
// decode: greedy dInference (Alg 14) with the KV cache after a prompt (its default decoder: JsDecoder on wasm;
//   --decoder tfjs for the tensor path), as bench/generate.mjs; learned
//   W_p with ℓ_max = prompt + tokens. Per-token times are the gaps between onToken calls; tokens/s is
//   over the first 128 generated tokens (the prompt pass excluded), per-token medians over the first
//   and the last 64 tokens (positions ≈ prompt and ≈ prompt + tokens). Same definitions as
//   bench/pytorch_ref.py.
// Forward passes are measured by bench/long-context.mjs (a fresh process per ℓ).
import os from "node:os";
import { DTransformer, dInference, dTraining, presets, Rng, useBackend } from "ctxlab";
import { median } from "./report.mjs";

const args = process.argv.slice(2);
const num = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(args[i + 1]);
};
const peakRssMiB = () => Math.round((process.resourceUsage().maxRSS * 1024) / 2 ** 20);

function uniformBytes(B, l) {
  return {
    name: "uniform-bytes",
    next(rng) {
      const tokens = new Int32Array(B * l);
      for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(0, 256);
      return { tokens, batch: B, length: l };
    },
    describe: () => ({ B, l }),
  };
}

async function train() {
  const [l, B, workers, steps, warmup] = [num("len", 256), num("batch", 16), num("workers", 1), num("steps", 4), num("warmup", 1)];
  await useBackend("wasm");
  const model = DTransformer.create({ ...presets.ref, lMax: l }, 0);
  const r = await dTraining(model, { source: uniformBytes(B, l), steps: warmup + steps, rng: new Rng(0), workers, optimizer: { kind: "adamw" }, schedule: 3e-4 });
  const rates = r.rows.slice(warmup).map((row) => row.tokens_per_s);
  r.optimizer.dispose();
  model.dispose();
  return { case: "train", l, batch: B, workers, status: r.status, steps, tokens_per_s: median(rates), steps_tokens_per_s: rates.map(Math.round), peak_rss_mib: peakRssMiB() };
}

async function decode() {
  const [P, n] = [num("prompt", 1024), num("tokens", 1024)];
  await useBackend("wasm");
  const model = DTransformer.create({ ...presets.ref, lMax: P + n }, 0);
  const prompt = Array.from({ length: P }, (_, i) => (i * 31 + 7) % 256);
  await dInference(model, prompt, { maxTokens: 4, temperature: 0, decoder: args.includes("--decoder") ? args[args.indexOf("--decoder") + 1] : "auto" }); // warm-up: kernels, prompt-pass heap
  const stamps = [];
  const t0 = performance.now();
  const decoder = args.includes("--decoder") ? args[args.indexOf("--decoder") + 1] : "auto";
  const r = await dInference(model, prompt, { maxTokens: n, temperature: 0, decoder, onToken: () => void stamps.push(performance.now()) });
  if (r.tokens.length !== n) throw new Error(`decode: ${r.tokens.length} of ${n} tokens (${r.stopReason})`);
  const per = stamps.slice(1).map((t, i) => t - stamps[i]); // ms per token after the first
  const first = per.slice(0, 127);
  model.dispose();
  return {
    case: "decode", prompt: P, tokens: n, positions: "learned", decoder: r.decoder, prompt_pass_s: (stamps[0] - t0) / 1000,
    tokens_per_s: first.length / (first.reduce((a, b) => a + b, 0) / 1000),
    per_token_ms_start: median(per.slice(0, 64)), per_token_ms_end: median(per.slice(-64)),
    position_start: P + 1, position_end: P + n - 32, peak_rss_mib: peakRssMiB(),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const run = { train, decode }[args[0]];
  if (!run) throw new Error(`bench/ctxlab-cases.mjs: unknown case ${args[0]} (train, decode)`);
  const out = await run();
  console.log(JSON.stringify({ ...out, load_1min: Math.round(os.loadavg()[0] * 100) / 100 }));
}
