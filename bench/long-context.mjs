// Long-context forward benchmark: time and peak memory of one forward pass (logits) of the reference
// model (presets.ref: L=4, H=4, d_e=128, d_mlp=512, N_V=256) under rope() (no ℓ_max), batch 1, on wasm.
// Each ℓ runs in a FRESH child process, because the wasm heap only grows (docs/design.md, "Backends: what each can and cannot do"): the
// process RSS high-water (process.resourceUsage().maxRSS) and the final wasm heap size are that ℓ's peak.
// Prints one JSON line per ℓ, then a markdown table. Times are wall-clock medians; cpu_s (process CPU
// time, user + system) is reported too because it is less sensitive to other processes on the machine.
//
// Usage: node bench/long-context.mjs [ℓ,ℓ,…] [--mode auto|chunked|per-head|batched] [--chunk N] [--runs N]
//   default ℓ = 1024,4096,16384,65536; mode auto (chunked above ℓ = 2,048); runs: 3 after a warm-up
//   for ℓ ≤ 4,096, else 1 (after a short warm-up at ℓ = 256).
// PyTorch reference (docs/design.md, "Measured before ctxlab"): ℓ = 16,384 chunked by 1,024 queries: 15.8 s, 1.0 GiB.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const MiB = 2 ** 20;

if (args[0] === "--child") {
  await child(Number(args[1]));
} else {
  parent();
}

function parent() {
  const sizes = (args[0] && !args[0].startsWith("--") ? args[0] : "1024,4096,16384,65536").split(",").map(Number);
  const mode = opt("mode", "auto");
  const chunk = opt("chunk", "1024");
  const runs = opt("runs", "");
  const rows = [];
  for (const l of sizes) {
    const r = spawnSync(process.execPath, ["--max-old-space-size=4096", fileURLToPath(import.meta.url), "--child", String(l), ...(runs ? ["--runs", runs] : [])], {
      env: { ...process.env, CTXLAB_ATTENTION: mode, CTXLAB_ATTENTION_CHUNK: chunk, CTXLAB_BACKEND: "wasm" },
      encoding: "utf8",
      maxBuffer: 16 * MiB,
    });
    const line = r.stdout.split("\n").find((s) => s.startsWith("{"));
    if (r.status !== 0 || !line) {
      const why = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ");
      const row = { l, mode, chunk: Number(chunk), ok: false, exit: r.status ?? r.signal, error: why };
      console.log(JSON.stringify(row));
      rows.push(row);
      continue;
    }
    console.log(line);
    rows.push(JSON.parse(line));
  }
  console.log("\n| ℓ | layout | forward (s) | CPU (s) | tokens/s | peak RSS (MiB) | wasm heap (MiB) | estimate (MiB) |");
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    if (!r.ok) {
      console.log(`| ${r.l} | ${r.mode} | failed: ${r.error} | | | | | |`);
      continue;
    }
    console.log(`| ${r.l} | ${r.path} | ${r.forward_s.toFixed(2)} | ${r.cpu_s.toFixed(2)} | ${Math.round(r.l / r.forward_s)} | ${r.maxRSS_MiB} | ${r.wasmHeap_MiB} | ${r.estimate_MiB} |`);
  }
}

async function child(l) {
  const { tf, useBackend, DTransformer, presets, attentionPath, estimateForwardMemory } = await import("ctxlab");
  const { rope } = await import("../dist/lib/positional/rope.js");
  await useBackend("wasm");
  // this script's own switches (the library reads no environment): CTXLAB_ATTENTION, CTXLAB_ATTENTION_CHUNK
  const mode = ["per-head", "batched", "chunked"].find((m) => m === process.env.CTXLAB_ATTENTION) ?? "auto";
  const chunkEnv = Number(process.env.CTXLAB_ATTENTION_CHUNK);
  const model = DTransformer.create({ ...presets.ref, positional: rope() }, 0).withAttentionLayout({ mode, ...(Number.isSafeInteger(chunkEnv) && chunkEnv > 0 ? { chunk: chunkEnv } : {}) });
  const attentionLayout = model.layout;
  const cfg = model.cfg;
  const x = Array.from({ length: l }, (_, i) => (i * 31 + 7) % 256);
  const cpu = [];
  const forward = (ids) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const y = model.logits(ids);
    y.dataSync();
    y.dispose();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
    return (performance.now() - t0) / 1000;
  };
  const small = l <= 4096;
  const runs = Number(opt("runs", small ? 3 : 1));
  forward(small ? x : x.slice(0, 256)); // warm-up: compiles the kernels, grows the heap for small ℓ
  const times = [];
  cpu.length = 0;
  for (let i = 0; i < runs; i++) times.push(forward(x));
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const heap = tf.backend().wasm?.HEAPU8?.buffer?.byteLength ?? 0;
  const path = attentionPath({ nHeads: cfg.nHeads, pe: cfg.positional }, 1, l, l, attentionLayout, tf.getBackend());
  const chunked = path === "chunked";
  const row = {
    ok: true,
    l,
    batch: 1,
    mode: attentionLayout.mode,
    path: chunked ? `chunked (${attentionLayout.chunk})` : path,
    chunk: attentionLayout.chunk,
    forward_s: times[Math.floor(times.length / 2)],
    times_s: times.map((t) => Number(t.toFixed(3))),
    cpu_s: cpu[Math.floor(cpu.length / 2)], // process CPU time: less sensitive to other load on the machine
    maxRSS_MiB: Math.round((process.resourceUsage().maxRSS * 1024) / MiB),
    wasmHeap_MiB: Math.round(heap / MiB),
    estimate_MiB: Math.round(estimateForwardMemory(cfg, { batch: 1, length: l, chunked, chunk: attentionLayout.chunk }) / MiB),
    tensorsAfter: tf.memory().numTensors,
  };
  console.log(JSON.stringify(row));
  model.dispose();
}
