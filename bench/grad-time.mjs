// Wall and process CPU time of one training gradient of the reference model on wasm (ℓ = 256, batch 16,
// the same gradient as `node bench/profile.mjs train`, no optimizer update): one warm-up, then the median
// of --reps (default 4). CPU time is what to compare on a loaded machine; run two trees alternately in
// fresh processes for an A/B. Prints one JSON line.
// Usage: node bench/grad-time.mjs [--reps 4]
import { accumulatedGrads, DTransformer, presets, tf, useBackend } from "ctxlab";

const args = process.argv.slice(2);
const reps = args.includes("--reps") ? Number(args[args.indexOf("--reps") + 1]) : 4;
await useBackend("wasm");
const model = DTransformer.create({ ...presets.ref }, 0);
const tokens = Int32Array.from({ length: 16 * 256 }, (_, i) => (i * 31 + 7) % 256);
const grad = () => {
  const { loss, grads } = accumulatedGrads(model, [{ tokens, batch: 16, length: 256 }]);
  loss.dataSync();
  tf.dispose([loss, ...grads.values()]);
};
grad();
const walls = [];
const cpus = [];
for (let i = 0; i < reps; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  grad();
  const c = process.cpuUsage(c0);
  walls.push(performance.now() - t0);
  cpus.push((c.user + c.system) / 1000);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(JSON.stringify({ wall_ms: Math.round(med(walls)), cpu_ms: Math.round(med(cpus)), tokens_per_cpu_s: Math.round((4096 / med(cpus)) * 1000), tokens_per_wall_s: Math.round((4096 / med(walls)) * 1000) }));
