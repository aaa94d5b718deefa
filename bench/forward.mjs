// Forward-pass time of the reference model (L=4, H=4, d_e=128, d_mlp=512, N_V=256) at ℓ=256 on
// wasm and cpu, in one process. Reports the median of N runs after a warm-up, and the ratio.
// Usage: node bench/forward.mjs [ℓ] [runs]
import { tf, useBackend, DTransformer, presets } from "ctxlab";

const l = Number(process.argv[2] ?? 256);
const runs = Number(process.argv[3] ?? 5);
const model = DTransformer.create({ ...presets.ref, lMax: Math.max(256, l) }, 0);
const x = Array.from({ length: l }, (_, i) => (i * 31 + 7) % 256);
const results = {};
for (const backend of ["wasm", "cpu"]) {
  await useBackend(backend);
  model.logits(x).dispose(); // warm-up
  const times = [];
  for (let i = 0; i < (backend === "cpu" ? Math.min(runs, 3) : runs); i++) {
    const t0 = performance.now();
    const y = model.logits(x);
    await y.data();
    times.push(performance.now() - t0);
    y.dispose();
  }
  times.sort((a, b) => a - b);
  results[backend] = times[Math.floor(times.length / 2)];
  console.log(`${backend}: forward ℓ=${l} median ${results[backend].toFixed(1)} ms over ${times.length} runs`);
}
console.log(`cpu/wasm time ratio: ${(results.cpu / results.wasm).toFixed(1)}×`);
console.log(`tensors alive: ${tf.memory().numTensors}`);
