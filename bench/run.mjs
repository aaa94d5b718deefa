#!/usr/bin/env node
// The benchmark suite (`npm run bench`): ctxlab against a PyTorch reference of the same model
// (bench/pytorch_ref.py on Debian's python3-torch, /usr/bin/python3), in the same run, alternating.
//
//   node bench/run.mjs [--quick] [--only train,forward16k,decode,…] [--reps 3] [--reps-64k 1]
//                      [--out bench/out] [--png docs/figures/scaling.png] [--no-pytorch] [--kernel-runs 50]
//                      [--wait-quiet 60] [--wait-budget 900] [--retry-loaded 1] [--keep-openblas-env] [--keep-malloc] [--ref-min-share 0.6] [--ctxlab-wasm] [--probe-shapes m×k×n,…]
//   node bench/run.mjs --from bench/out/results.json [--png …]   (table and plot again from saved runs)
//
// Cases (--only takes ids or groups: train, forward, decode, kernel):
//   train256, train1024  training tokens/s, ℓ = 256 batch 16 and ℓ = 1,024 batch 4; ctxlab with
//                        workers 1 and 2 (bench/ctxlab-cases.mjs), PyTorch 2 threads
//   forward1k … forward64k  one forward pass, batch 1, RoPE: time and peak RSS (ctxlab: bench/long-context.mjs,
//                        which runs each ℓ in a fresh process; PyTorch: one process per ℓ, chunked attention)
//   decode               greedy decode with a KV cache after a 1,024-token prompt: tokens/s, per-token time
//                        near positions 1,024 and 2,048
//   kernel               trivial-cell round trip, ctxlab kernel vs plain tslab (scripts/kernel-roundtrip.mjs)
//   scale135m            optional (--scale135m after the suite, or --only scale135m alone): bench/scale-135m.mjs,
//                        the SmolLM-135M-shape rows beside PyTorch, its own table <out>/scale-135m.md
// Every measurement is a fresh child process. Each repetition runs every case's implementations back to
// back, ctxlab first in odd repetitions and PyTorch first in even ones; medians over repetitions. ℓ = 64k
// runs --reps-64k times (default 1: ~4 min per implementation). --quick: 1 repetition, 2 training steps,
// no ℓ = 64k, 256 decoded tokens, 20 kernel round trips, PNG to bench/out/ (unless --png).
// Around each child the machine's busy time (os.cpus()) minus the child's CPU time (/proc/self/stat)
// gives the cores OTHER processes used meanwhile: the load column. Before each child it waits up to
// --wait-quiet seconds (default 60; 0: never) for a 2-s window in which others use < 0.25 cores: PyTorch's
// two OpenMP threads slow down many-fold (decode 40×) when another process holds one of the 2 cores.
// --wait-budget caps the waiting over the whole run (default 900 s); then runs start at once. A run
// during which others used ≥ 0.25 cores is repeated --retry-loaded times (default 1; not ℓ = 64k); the
// table's medians are over the quiet runs when there are any (bench/report.mjs).
// Writes <out>/results.json, <out>/results.md, <out>/scaling.html and the PNG. Needs `npm run build`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, relative, resolve } from "node:path";
import { isQuiet, markdownTable, quietLimit, scalingPoints, summarize, TABLE_NOTE } from "./report.mjs";
import { scalingFigure, writeScaling } from "./scaling-plot.mjs";
import { envNote, measuredEnv, OPENBLAS_VARS } from "./env.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const PY = "/usr/bin/python3";
const args = process.argv.slice(2);
const flag = (n) => args.includes(`--${n}`);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const quick = flag("quick");
const reps = Number(opt("reps", quick ? 1 : 3));
const reps64k = Number(opt("reps-64k", 1));
const outDir = resolve(opt("out", join(ROOT, "bench", "out")));
const png = resolve(opt("png", quick ? join(outDir, "scaling.png") : join(ROOT, "docs", "figures", "scaling.png")));
const kernelRuns = opt("kernel-runs", quick ? "20" : "50");
const steps = quick ? "2" : "4";
const decodeTokens = quick ? "256" : "1024";
const waitQuiet = Number(opt("wait-quiet", 60));
let waitBudget = Number(opt("wait-budget", 900)); // seconds of waiting for quiet in the whole run
let waitBudgetAll = waitBudget;
const retryLoaded = Number(opt("retry-loaded", 1)); // extra runs of a subject whose run was loaded

/** The OpenBLAS variables (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) are unset in every measured child (bench/env.mjs); --keep-openblas-env keeps them. */
const keepBlasEnv = flag("keep-openblas-env");
/** glibc's malloc runs without mmap in every measured child (bench/env.mjs); --keep-malloc keeps its defaults. */
const keepMalloc = flag("keep-malloc");
/** The environment of every measured child process. */
const childEnv = (extra = {}) => measuredEnv({ keep: keepBlasEnv, keepMalloc, extra });
/** The reference's matMul must reach this share of the machine's best measured matMul, or no ratio is printed. */
const REF_MIN_SHARE = Number(opt("ref-min-share", 0.6));

/**
 * matMul probes, in this run, before the cases: PyTorch's 1024² product in the reference's environment
 * (the OpenBLAS core it runs, its config) and, for the record, in the environment as given; ctxlab's
 * product through its native OpenBLAS kernel and through wasm (bench/matmul-probe.mjs, 1024² and the
 * model's shapes). Each twice, alternating; the best of each. The machine's capability is the best of
 * all of them: the reference is refused (no ratios) when its matMul is below REF_MIN_SHARE of it (a
 * handicapped BLAS, the reference libblas, a core held by another process).
 */
function probes(skipTorch) {
  const py1 = (env) => {
    const r = spawnSync(PY, [join(ROOT, "bench", "pytorch_ref.py"), "probe"], { encoding: "utf8", env });
    try {
      return JSON.parse(lastJson(r.stdout));
    } catch {
      return null;
    }
  };
  const ctx1 = () => {
    const r = spawnSync(process.execPath, [join(ROOT, "bench", "matmul-probe.mjs"), "--shapes", opt("probe-shapes", "1024x1024x1024,4096x128x384,2048x576x1536")], { cwd: ROOT, encoding: "utf8", env: childEnv() });
    try {
      return JSON.parse(lastJson(r.stdout));
    } catch {
      return { error: (r.stderr || "").trim().split("\n").slice(-2).join(" | ") };
    }
  };
  const handicapped = !keepBlasEnv && OPENBLAS_VARS.some((k) => process.env[k] != null);
  const out = { ref: [], asGiven: [], ctxlab: [] };
  for (let i = 0; i < 2; i++) {
    if (!skipTorch) out.ref.push(py1(childEnv()));
    out.ctxlab.push(ctx1());
    if (!skipTorch && handicapped) out.asGiven.push(py1({ ...process.env }));
  }
  const best = (xs, f) => Math.max(0, ...xs.filter(Boolean).map(f).filter(Number.isFinite));
  const ref = out.ref.filter(Boolean).sort((a, b) => b.matmul_1024_gflops - a.matmul_1024_gflops)[0] ?? null;
  const ctxBest = out.ctxlab.filter((c) => c?.shapes).sort((a, b) => b.shapes[0].gflops - a.shapes[0].gflops)[0] ?? out.ctxlab[0];
  const refG = ref?.matmul_1024_gflops ?? null;
  const asGivenG = best(out.asGiven, (x) => x.matmul_1024_gflops) || null;
  const ctxG = best(out.ctxlab, (x) => x.shapes?.[0]?.gflops);
  const capability = Math.max(refG ?? 0, asGivenG ?? 0, ctxG);
  const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
  const info = {
    reference_env: envNote({ keep: keepBlasEnv, keepMalloc }),
    reference_matmul_gflops: r1(refG), reference_blas: ref ? { blas: ref.blas, corename: ref.corename, config: ref.config, threads: ref.blas_threads, torch_config: ref.torch_config } : null,
    as_given_matmul_gflops: r1(asGivenG), as_given_env: Object.fromEntries(OPENBLAS_VARS.map((k) => [k, process.env[k] ?? null])),
    ctxlab_matmul: ctxBest, machine_matmul_gflops: r1(capability), ref_min_share: REF_MIN_SHARE,
  };
  info.reference_refused = skipTorch || refG == null ? null : refG < REF_MIN_SHARE * capability
    ? `Ratios against the reference refused: its 1024² matMul ran at ${r1(refG)} GFLOP/s, below ${REF_MIN_SHARE} × the ${r1(capability)} GFLOP/s this machine reached in the same run (${ref?.corename ?? "?"} core; a handicapped or reference BLAS, or a loaded core). Fix the reference, or rerun when the machine is quiet.`
    : null;
  if (ref && ref.blas !== "OpenBLAS") console.error(`bench: WARNING PyTorch's matMul runs at ${refG?.toFixed(1)} GFLOP/s on ${ref.blas}: install OpenBLAS (apt-get install -y libopenblas0-pthread)`);
  if (info.reference_refused) console.error(`bench: ${info.reference_refused}`);
  return info;
}

/** Why the PyTorch column is empty, or null when /usr/bin/python3 imports torch. */
function torchMissing() {
  if (flag("no-pytorch")) return "--no-pytorch";
  const r = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" });
  return r.status === 0 ? null : r.error ? `${PY} not found` : "python3-torch not installed";
}

const node = (script, ...a) => [process.execPath, [join(ROOT, script), ...a]];
const py = (...a) => [PY, [join(ROOT, "bench", "pytorch_ref.py"), ...a]];
const lastJson = (stdout, open = "{") => stdout.split("\n").filter((s) => s.startsWith(open)).at(-1);

const parseLong = (out) => {
  const row = JSON.parse(lastJson(out));
  return row.ok ? { ...row, peak_rss_mib: row.maxRSS_MiB } : { error: row.error };
};
/** --ctxlab-wasm: also run ctxlab with its native matMul off (CTXLAB_NATIVE=0), training workers 1 and forwards. */
const withWasm = flag("ctxlab-wasm");

/** All cases (with ℓ = 64k even under --quick when `all`); each subject is [impl, command, parse?, env?]. */
function allCases(all = false) {
  const cases = [];
  for (const [l, B] of [[256, 16], [1024, 4]]) {
    const a = ["--len", String(l), "--batch", String(B), "--steps", steps];
    cases.push({ id: `train${l}`, group: "train", reps, subjects: [
      ["ctxlab-w1", node("bench/ctxlab-cases.mjs", "train", ...a, "--workers", "1")],
      ["ctxlab-w2", node("bench/ctxlab-cases.mjs", "train", ...a, "--workers", "2")],
      ...(withWasm ? [["ctxlab-w1-wasm", node("bench/ctxlab-cases.mjs", "train", ...a, "--workers", "1"), null, { CTXLAB_NATIVE: "0" }]] : []),
      ["pytorch", py("train", ...a)],
    ] });
  }
  for (const l of quick && !all ? [1024, 4096, 16384] : [1024, 4096, 16384, 65536]) {
    cases.push({ id: `forward${l / 1024}k`, group: "forward", reps: l === 65536 ? reps64k : reps, timeout: l === 65536 ? 1800 : 600, subjects: [
      ["ctxlab", node("bench/long-context.mjs", String(l)), parseLong],
      ...(withWasm ? [["ctxlab-wasm", node("bench/long-context.mjs", String(l)), parseLong, { CTXLAB_NATIVE: "0" }]] : []),
      ["pytorch", py("forward", "--len", String(l))],
    ] });
  }
  cases.push({ id: "decode", group: "decode", reps, subjects: [
    ["ctxlab", node("bench/ctxlab-cases.mjs", "decode", "--tokens", decodeTokens)],
    ["pytorch", py("decode", "--tokens", decodeTokens)],
  ] });
  cases.push({ id: "kernel", group: "kernel", reps, subjects: [
    ["kernel", node("scripts/kernel-roundtrip.mjs", kernelRuns), (out) => {
      const [c, t] = JSON.parse(lastJson(out, "["));
      return { ctxlab_ms: c.median_ms, tslab_ms: t.median_ms, ctxlab_startup_ms: c.startup_ms, tslab_startup_ms: t.startup_ms, detail: [c, t] };
    }],
  ] });
  const only = opt("only", null)?.split(",");
  return only ? cases.filter((c) => only.includes(c.id) || only.includes(c.group)) : cases;
}

/** CPU time (s) of this process's waited-for children, from /proc/self/stat (clock ticks of 1/100 s). */
function childrenCpu() {
  try {
    const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return (Number(f[13]) + Number(f[14])) / 100; // cutime, cstime (fields 16 and 17)
  } catch {
    return null;
  }
}
const busy = () => os.cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0) / 1000;

/** Wait (up to waitQuiet s) until other processes leave `impl` its cores for 2 s; returns the wait and the load seen. */
async function quietWindow(impl) {
  const limit = quietLimit(impl);
  const t0 = performance.now();
  let load = null;
  do {
    const b0 = busy();
    const s0 = performance.now();
    await new Promise((r) => setTimeout(r, 2000));
    load = (busy() - b0) / ((performance.now() - s0) / 1000);
    if (load < limit) break;
  } while (performance.now() - t0 < Math.min(waitQuiet, waitBudget) * 1000);
  waitBudget -= (performance.now() - t0) / 1000;
  return { waited_s: Math.round((performance.now() - t0) / 100) / 10, quiet_before: load < limit, load_before: Math.round(load * 100) / 100 };
}

/** Run one subject in a child process; parse its last JSON line. */
function runOne(c, [impl, [cmd, argv], parse, env], rep, skipTorch) {
  if (impl === "pytorch" && skipTorch) return { case: c.id, impl, rep, ok: false, skipped: skipTorch };
  const [t0, b0, c0, load] = [performance.now(), busy(), childrenCpu(), os.loadavg()[0]];
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 2 ** 20, timeout: (c.timeout ?? 600) * 1000, env: childEnv(env ?? {}) });
  const wall = (performance.now() - t0) / 1000;
  const cpu = c0 == null ? null : childrenCpu() - c0;
  const others = cpu == null ? null : Math.max(0, (busy() - b0 - cpu) / wall);
  const base = { case: c.id, impl, rep, wall_s: Math.round(wall * 10) / 10, child_cores: cpu == null ? null : Math.round((cpu / wall) * 100) / 100, other_cores: others == null ? null : Math.round(others * 100) / 100, load_1min_before: Math.round(load * 100) / 100 };
  try {
    if (r.status !== 0) throw new Error(r.error?.message ?? (r.signal ? `killed by ${r.signal}` : (r.stderr || r.stdout).trim().split("\n").slice(-2).join(" | ")));
    const result = parse ? parse(r.stdout) : JSON.parse(lastJson(r.stdout));
    if (result.skipped) return { ...base, ok: false, skipped: result.skipped };
    if (result.error) throw new Error(result.error);
    return { ...base, ok: true, result };
  } catch (e) {
    return { ...base, ok: false, error: String(e.message ?? e).slice(0, 400) };
  }
}

/** The real-model-scale rows (bench/scale-135m.mjs, its own table in <out>/scale-135m.md): --scale135m, or --only scale135m alone. */
function scale135m() {
  const r = spawnSync(process.execPath, [join(ROOT, "bench", "scale-135m.mjs"), "--out", outDir, ...(flag("no-pytorch") ? ["--no-pytorch"] : [])], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) console.error(`bench: bench/scale-135m.mjs failed (status ${r.status})`);
}

async function main() {
  if (opt("from", null)) return fromFile(opt("from"));
  if (opt("only", null) === "scale135m") return scale135m();
  const skipTorch = torchMissing();
  const started = new Date();
  const loadStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const probe = probes(skipTorch);
  console.error(`bench: load average ${loadStart.join(" ")}; reference matMul ${probe.reference_matmul_gflops} GFLOP/s (${probe.reference_blas?.corename ?? "?"}, ${probe.reference_env}), as given ${probe.as_given_matmul_gflops ?? "-"}; ctxlab ${probe.ctxlab_matmul?.shapes?.[0]?.gflops ?? "?"} (wasm ${probe.ctxlab_matmul?.shapes?.[0]?.wasm_gflops ?? "?"}); machine ${probe.machine_matmul_gflops}`);
  const cases = allCases();
  const runs = [];
  const maxReps = Math.max(...cases.map((c) => c.reps));
  for (let rep = 0; rep < maxReps; rep++) {
    for (const c of cases.filter((x) => rep < x.reps)) {
      const subjects = rep % 2 === 0 ? c.subjects : [...c.subjects].reverse(); // alternate who goes first
      for (const s of subjects) {
        for (let attempt = 0; attempt <= (c.id === "forward64k" ? 0 : retryLoaded); attempt++) {
          const q = waitQuiet > 0 && !(s[0] === "pytorch" && skipTorch) ? await quietWindow(s[0]) : {};
          const r = { ...runOne(c, s, rep, skipTorch), ...q, attempt };
          runs.push(r);
          const what = r.ok ? JSON.stringify(r.result).slice(0, 160) : `${r.skipped ? "skipped" : "FAILED"}: ${r.skipped ?? r.error}`;
          console.error(`[rep ${rep + 1}/${c.reps}${attempt ? `, retry ${attempt}` : ""}] ${c.id} ${r.impl}: ${r.wall_s} s wall, others ${r.other_cores} cores — ${what}`);
          if (!r.ok || r.other_cores == null || isQuiet(r)) break; // quiet (or failed): no retry
        }
      }
    }
  }
  await writeOutputs(cases, runs, started, skipTorch, null, null, { ...probe, load_average_start: loadStart });
  if (flag("scale135m")) scale135m();
}

/** --from a.json[,b.json…]: summarize the runs of saved results again (table, plot), measuring nothing. */
async function fromFile(files) {
  const olds = files.split(",").map((f) => JSON.parse(readFileSync(resolve(f), "utf8")));
  const runs = olds.flatMap((o, i) => o.runs.map((r) => ({ ...r, source: i })));
  const ids = new Set(runs.map((r) => r.case));
  const cases = allCases(true).filter((c) => ids.has(c.id));
  waitBudgetAll = olds[0].info.wait_budget_s ?? null;
  const probe = olds.map((o) => o.info).find((i) => i.reference_matmul_gflops !== undefined) ?? {};
  await writeOutputs(cases, runs, new Date(olds[0].info.started), olds[0].info.pytorch_skipped, olds.reduce((a, o) => a + o.info.wall_s, 0), olds.map((o) => o.info), probe);
}

async function writeOutputs(cases, runs, started, skipTorch, wallS = null, sources = null, probe = {}) {
  const rows = summarize(runs, cases);
  const table = markdownTable(rows, probe.reference_refused ?? null);
  const wall = wallS ?? Math.round((Date.now() - started.getTime()) / 1000);
  const torch = runs.find((r) => r.impl === "pytorch" && r.ok)?.result.torch ?? null;
  const info = { ...(sources ? { merged_from: sources.map((s) => ({ started: s.started, wall_s: s.wall_s, quick: s.quick, reps: s.reps, only: s.only })) } : {}), started: started.toISOString(), wall_s: wall, quick, reps, reps_64k: reps64k, node: process.version, torch, pytorch_skipped: skipTorch, ...probe, load_average_end: os.loadavg().map((x) => Math.round(x * 100) / 100),
    cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30), load_1min_end: Math.round(os.loadavg()[0] * 100) / 100, only: opt("only", null),
    wait_quiet_s: waitQuiet, wait_budget_s: waitBudgetAll, retry_loaded: retryLoaded };
  mkdirSync(outDir, { recursive: true });
  const html = join(outDir, "scaling.html");
  // A run without forward cases (e.g. --only decode) has nothing to plot: keep the last figure.
  const points = scalingPoints(runs);
  const notes = points.length ? await writeScaling(scalingFigure(points), html, png) : [`(not rewritten: no forward runs in this run)`];
  writeFileSync(join(outDir, "results.json"), JSON.stringify({ info, summary: rows, runs }, null, 2) + "\n");
  const others = runs.filter((r) => r.other_cores != null).map((r) => r.other_cores);
  const waited = runs.filter((r) => r.waited_s != null);
  const quietNote = waitQuiet > 0 ? ` ${waited.filter((r) => r.quiet_before).length} of ${waited.length} runs started after a quiet 2-s window (waited ${Math.round(waited.reduce((a, r) => a + r.waited_s, 0))} s in all, at most ${waitQuiet} s per run${waitBudgetAll == null ? "" : `, ${waitBudgetAll} s in all`}).` : "";
  const when = (d) => d.slice(0, 16).replace("T", " ");
  const mins = (w) => `${Math.floor(w / 60)} min ${w % 60} s`;
  const kind = (i) => `${i.quick ? "--quick" : "full"}${i.only ? ` --only ${i.only}` : ""}, ${i.reps} repetition(s)`;
  const runsLine = sources
    ? `Merged from ${sources.length} runs (\`--from\`): ${sources.map((i) => `${when(i.started)} UTC (${kind(i)}, ${mins(i.wall_s)})`).join("; ")}. `
    : `Medians over ${reps} repetition(s) (ℓ = 64k: ${reps64k}); run time ${mins(wall)}. `;
  const md = [
    `# ctxlab benchmark (${sources ? "merged" : quick ? "--quick" : "full"} run, ${when(started.toISOString())} UTC)`, "",
    `Reference model presets.ref (L = 4, H = 4, d_e = 128, d_mlp = 512, N_V = 256). ctxlab: TF.js 4.22 wasm, Node ${process.version}, matMul: ${probe.ctxlab_matmul?.native?.reason ?? "?"}. ` +
      `Reference: ${skipTorch ? `skipped (${skipTorch})` : `PyTorch ${torch} on ${PY}, 2 threads, blocked baddbmm attention (bench/pytorch_ref.py), ${probe.reference_env ?? "?"}: OpenBLAS core ${probe.reference_blas?.corename ?? "?"}, matMul 1024² ${probe.reference_matmul_gflops ?? "?"} GFLOP/s` +
        (probe.as_given_matmul_gflops ? ` (${probe.as_given_matmul_gflops} with the environment as given: ${Object.entries(probe.as_given_env ?? {}).map(([k, v]) => `${k}=${v}`).join(", ")})` : "")}. ` +
      `ctxlab's matMul 1024²: ${probe.ctxlab_matmul?.shapes?.[0]?.gflops ?? "?"} GFLOP/s (wasm alone ${probe.ctxlab_matmul?.shapes?.[0]?.wasm_gflops ?? "?"}); the machine's best in this run ${probe.machine_matmul_gflops ?? "?"}. ` +
      `${os.cpus().length} cores, load average ${(probe.load_average_start ?? []).join(" ")} at the start, ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} at the end. ` + runsLine +
      "Implementations alternate (ctxlab first in odd repetitions), each run a fresh process.", "",
    table, "", TABLE_NOTE, "",
    `Load: other processes used a median of ${others.length ? (others.sort((a, b) => a - b)[others.length >> 1]).toFixed(2) : "?"} cores (max ${others.length ? Math.max(...others).toFixed(2) : "?"}) of ${os.cpus().length} while the runs ran.${quietNote}`, "",
    `Plot: ${relative(outDir, html)} and ${relative(outDir, png)}.${notes.length ? ` ${notes.join(" ")}` : ""}`, "",
  ].join("\n");
  writeFileSync(join(outDir, "results.md"), md);
  console.log(md);
}

await main();
