// Where the time goes: per-kernel wall time of ctxlab on wasm (tf.profile; wasm kernels are synchronous,
// so each kernel's time is its own), grouped by kernel name, for the benchmark's cases:
//   decode    one KV-cache decode step at position ≈ 1,024 (presets.ref, learned W_p, ℓ_max 2,048)
//   train     one gradient of the mean next-token loss, ℓ = 256, batch 16 (no optimizer update)
//   forward   one forward pass, ℓ = 4,096, batch 1, RoPE (chunked attention)
// Prints a JSON object per case and a markdown table of the top kernels. Profiling adds overhead per
// kernel (a timer and bookkeeping): totals are above the benchmark's, shares are what to read. The
// unprofiled time of the same call (mean of a few) is printed beside it.
//   prefill135m  one forward pass at ℓ = 2,048 of the SmolLM-135M-shape directory (bench/llama-shape.mjs)
//   decode135m   one decode step of that model after a 2,048-token prompt: the tfjs path (dTransformer with a
//             KVCache) by kernel, and the JsDecoder step (dInference's default on wasm) timed as a whole
// Usage: node bench/profile.mjs [decode,train,forward,prefill135m,decode135m]
import { accumulatedGrads, DTransformer, dTransformer, JsDecoder, KVCache, loadPretrained, presets, rope, tf, useBackend } from "ctxlab";
import { DEFAULT_DIR, writeLlamaShape } from "./llama-shape.mjs";

const which = (process.argv[2] ?? "decode,train,forward").split(",");
await useBackend("wasm");

async function profileOf(fn, reps = 1) {
  fn(); // warm-up: compile, grow the heap
  let t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  const plain = (performance.now() - t0) / reps;
  t0 = performance.now();
  const info = await tf.profile(fn);
  const wall = performance.now() - t0;
  const by = new Map();
  // "unnamed scope" entries wrap other kernels (customGrad ops, e.g. chunked attention): their time
  // includes the kernels inside, which are listed too, so they are left out of the totals.
  const scopes = info.kernels.filter((k) => k.name.includes("scope")).length;
  for (const k of info.kernels.filter((x) => !x.name.includes("scope"))) {
    const ms = Number(await k.kernelTimeMs) || 0;
    const e = by.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
    e.calls++;
    e.ms += ms;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  const rows = [...by.values()].sort((a, b) => b.ms - a.ms).map((e) => ({ ...e, ms: Math.round(e.ms * 100) / 100, share: Math.round((1000 * e.ms) / total) / 10 }));
  return { kernels: info.kernels.length - scopes, scopes, kernel_ms: Math.round(total * 10) / 10, profiled_wall_ms: Math.round(wall * 10) / 10, plain_ms: Math.round(plain * 10) / 10, top: rows.slice(0, 12) };
}

const cases = {
  async decode() {
    const model = DTransformer.create({ ...presets.ref, lMax: 2048 }, 0);
    const prompt = Array.from({ length: 1024 }, (_, i) => (i * 31 + 7) % 256);
    const kv = new KVCache(model.cfg.nLayers);
    tf.tidy(() => dTransformer(tf.tensor2d(prompt, [1, 1024], "int32"), model, { kv }).dataSync());
    const step = () => tf.tidy(() => dTransformer(tf.tensor2d([7], [1, 1], "int32"), model, { kv }).dataSync());
    for (let i = 0; i < 8; i++) step();
    return profileOf(step, 50);
  },
  async train() {
    const model = DTransformer.create({ ...presets.ref }, 0);
    const tokens = Int32Array.from({ length: 16 * 256 }, (_, i) => (i * 31 + 7) % 256);
    const grad = () => {
      const { loss, grads } = accumulatedGrads(model, [{ tokens, batch: 16, length: 256 }]);
      loss.dataSync();
      tf.dispose([loss, ...grads.values()]);
    };
    return profileOf(grad);
  },
  async forward() {
    const model = DTransformer.create({ ...presets.ref, positional: rope() }, 0);
    const x = Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) % 256);
    return profileOf(() => tf.tidy(() => model.logits(x).dataSync()));
  },
  async prefill135m() {
    await writeLlamaShape();
    const model = await loadPretrained(DEFAULT_DIR);
    const x = Array.from({ length: 2048 }, (_, i) => (i * 7919 + 7) % model.cfg.nVocab);
    return profileOf(() => tf.tidy(() => void model.logits(x).dataSync()[0]));
  },
  async decode135m() {
    await writeLlamaShape();
    const model = await loadPretrained(DEFAULT_DIR);
    const prompt = Array.from({ length: 2048 }, (_, i) => (i * 7919 + 7) % model.cfg.nVocab);
    const kv = new KVCache(model.cfg.nLayers);
    tf.tidy(() => void dTransformer(tf.tensor2d(prompt, [1, 2048], "int32"), model, { kv }).dataSync()[0]);
    const js = new JsDecoder(model, kv, 2048 + 64);
    let t0 = performance.now();
    for (let i = 0; i < 8; i++) js.step(7 + i);
    const jsMs = (performance.now() - t0) / 8;
    const step = () => tf.tidy(() => void dTransformer(tf.tensor2d([7], [1, 1], "int32"), model, { kv }).dataSync()[0]);
    step();
    const r = await profileOf(step, 4);
    const weightBytes = 4 * model.numParams();
    const cacheBytes = 4 * 2 * model.cfg.nLayers * model.cfg.nKvHeads * model.cfg.dAttn * 2048;
    return { ...r, jsdecoder_step_ms: Math.round(jsMs * 10) / 10, jsdecoder_kind: js.kind, weight_mib: Math.round(weightBytes / 2 ** 20), kv_cache_mib: Math.round(cacheBytes / 2 ** 20), jsdecoder_gb_per_s: Math.round(((weightBytes + cacheBytes) / (jsMs / 1000) / 1e9) * 10) / 10 };
  },
};

const out = {};
for (const c of which) out[c] = await cases[c]();
console.log(JSON.stringify(out));
for (const [c, r] of Object.entries(out)) {
  console.log(`\n${c}: ${r.kernels} kernels (+ ${r.scopes} wrapping scopes), ${r.kernel_ms} ms in kernels; ${r.plain_ms} ms unprofiled, ${r.profiled_wall_ms} ms profiled\n\n| kernel | calls | ms | share |\n|---|---:|---:|---:|`);
  for (const k of r.top) console.log(`| ${k.kernel} | ${k.calls} | ${k.ms} | ${k.share} % |`);
}
