#!/usr/bin/env node
// Round-trip time of a trivial cell (`1`): execute_request sent → execute_reply and the idle status
// received, median over N runs (after warm-up), for the ctxlab kernel and for plain tslab 1.0.22
// (node_modules/tslab/bin/tslab kernel --config-path <connection file>). Needs `npm run build`.
//   node scripts/kernel-roundtrip.mjs [N=50]
import { join } from "node:path";
import { REPO, startKernel } from "../dist/test/kernel/client.js";

const N = Number(process.argv[2] ?? 50);
const WARMUP = 5;

async function measure(label, args) {
  const t0 = performance.now();
  const k = await startKernel({ cwd: join(REPO, "notebooks"), args });
  const startup = performance.now() - t0;
  const times = [];
  try {
    for (let i = 0; i < WARMUP + N; i++) {
      const t = performance.now();
      const r = await k.execute("1");
      const dt = performance.now() - t;
      if (r.reply.content.status !== "ok") throw new Error(`${label}: ${JSON.stringify(r.reply.content)}`);
      if (i >= WARMUP) times.push(dt);
    }
  } finally {
    await k.close();
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { kernel: label, runs: N, median_ms: +q(0.5).toFixed(1), p10_ms: +q(0.1).toFixed(1), p90_ms: +q(0.9).toFixed(1), startup_ms: Math.round(startup) };
}

const rows = [
  await measure("ctxlab", undefined),
  await measure("tslab 1.0.22", (file) => [join(REPO, "node_modules", "tslab", "bin", "tslab"), "kernel", "--config-path", file]),
];
console.table(rows);
console.log(JSON.stringify(rows));
