// matMul throughput of ctxlab on the wasm backend (GFLOP/s), with the native OpenBLAS kernel when it is
// built (lib/tensor/native-matmul.ts) and, in a child process with CTXLAB_NATIVE=0, wasm's own XNNPACK
// kernel. One JSON line: { native: {…nativeMatMulInfo}, shapes: [{ m, k, n, gflops }] }.
//   node bench/matmul-probe.mjs [--shapes 1024x1024x1024,…] [--wasm-only]
// Shapes are m×k×n (a [m, k] · b [k, n]); the defaults are 1024² and the products of the reference
// model's training (ℓ = 256, batch 16: [4096, 128]·[128, 384] and ·[128, 512], [4096, 512]·[512, 128])
// and of SmolLM-135M's shape at ℓ = 2,048 (d_e 576, d_mlp 1,536, the N_V = 49,152 unembedding).
// Timing: median of ≥ 3 products after 2 warm-ups, the result's data read back each time (dataSync).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { nativeMatMulInfo, useBackend } from "ctxlab";
import * as tf from "@tensorflow/tfjs";
import { median } from "./report.mjs";

const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const SHAPES = "1024x1024x1024,4096x128x384,4096x128x512,4096x512x128,2048x576x576,2048x576x1536,2048x1536x576"; // add 2048x576x49152 for the unembedding (~1 min on wasm)
const shapes = opt("shapes", SHAPES).split(",").map((s) => s.split("x").map(Number));

await useBackend("wasm");
const rows = [];
for (const [m, k, n] of shapes) {
  const a = tf.randomNormal([m, k], 0, 1, "float32", 1);
  const b = tf.randomNormal([k, n], 0, 1, "float32", 2);
  const once = () => {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const dt = performance.now() - t0;
    c.dispose();
    return dt;
  };
  once();
  once();
  const reps = Math.max(3, Math.min(20, Math.round(1.5e9 / (2 * m * n * k))));
  const ts = Array.from({ length: reps }, once);
  rows.push({ m, k, n, ms: Math.round(median(ts) * 100) / 100, gflops: Math.round((2 * m * n * k) / median(ts) / 1e5) / 10 });
  tf.dispose([a, b]);
}
const out = { native: nativeMatMulInfo(), shapes: rows };
if (!args.includes("--wasm-only") && out.native.active) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--wasm-only", "--shapes", opt("shapes", SHAPES)], { encoding: "utf8", env: { ...process.env, CTXLAB_NATIVE: "0" } });
  const w = JSON.parse(r.stdout.trim().split("\n").at(-1));
  rows.forEach((row, i) => (row.wasm_gflops = w.shapes[i]?.gflops ?? null));
}
console.log(JSON.stringify(out));
