#!/usr/bin/env node
// The fault suite at full size, from the built dist (run `npm run build` first):
//   readers   10,000 generated malformed inputs per reader of outside data (safetensors, config.json,
//             run configs, JSONL, tokenizer input; 500 each for loadCheckpoint and readJsonl on disk);
//             each must end within 1 s of CPU time (process.cpuUsage, so load from other processes
//             does not count) and a small multiple of its size
//   crash     50 SIGKILLs while a training checkpoint is saved
//   training  NaN/∞ gradients and forwards, corrupt batches, unwritable/read-only/full output
//             directories, an abort at every phase of a step (and with gradient workers)
//   memory    refusals of passes that would not fit the wasm heap; a typical cell × 1,000
//   kernel    10 fine-tunes × 10 SIGINTs, idle interrupts, 1,000 queued executions, 20 MB outputs,
//             forged/replayed/malformed messages, background activity, a throw inside a timer
//   api       the table of bad API inputs
// Prints a summary table, writes bench/out/faults.json, exits 1 if anything is BAD or data was lost.
//
//   node scripts/faults.mjs [--only=readers,crash,…] [--n=10000] [--quick]
//   CTXLAB_CRASH_TRIALS=50  CTXLAB_BACKEND=wasm
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => join(root, "dist", p);
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const quick = process.argv.includes("--quick");
const only = arg("only")?.split(",");
const N = Number(arg("n") ?? (quick ? 500 : 10_000));
const want = (s) => !only || only.includes(s);

const { useBackend } = await import(dist("lib/index.js"));
const { fuzz, table } = await import(dist("test/faults/fuzz.js"));
const readers = await import(dist("test/faults/readers.js"));
const backend = (await useBackend(process.env.CTXLAB_BACKEND ?? "wasm")).active;

const t0 = performance.now();
const rows = [];
const details = {};
const bads = [];
const row = (area, name, tried, clean, accepted, bad, lost, maxMs = "", note = "") => rows.push({ area, name, tried, clean, accepted, bad, lost, maxMs, note: note.length > 70 ? `${note.slice(0, 69)}…` : note });
const log = (s) => process.stderr.write(`${s}\n`);
const secs = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

if (want("readers")) {
  details.readers = [];
  const fx = await readers.diskFixture();
  const specs = [...readers.memorySpecs().map((s) => [s, N]), [readers.loadCheckpointSpec(fx), quick ? 100 : 500], [readers.readJsonlSpec(fx), quick ? 100 : 500]];
  try {
    for (const [spec, n] of specs) {
      const rep = await fuzz(spec, n, 20240601, { keepBad: 50 });
      details.readers.push(rep);
      row("reader", spec.name, rep.tried, rep.clean, rep.ok, rep.bad, 0, rep.maxMs.toFixed(0), `${rep.seconds.toFixed(0)} s, max alloc ${(rep.maxAllocBytes / 2 ** 20).toFixed(1)} MB`);
      for (const b of rep.badCases) bads.push(`${spec.name} #${b.i} [${b.how}]: ${b.reason}${b.message ? ` — ${b.message}` : ""}`);
      log(`[${secs()}] ${spec.name}: ${rep.tried} tried, ${rep.clean} clean errors, ${rep.ok} accepted, ${rep.bad} BAD (max ${rep.maxMs.toFixed(0)} CPU ms)`);
    }
  } finally {
    fx.close();
  }
}

if (want("crash")) {
  const { crashTrials } = await import(dist("test/faults/crash.js"));
  const trials = Number(process.env.CTXLAB_CRASH_TRIALS ?? (quick ? 8 : 50));
  const rep = await crashTrials(trials, 7);
  details.crash = rep;
  row("crash", "SIGKILL while saving a checkpoint", rep.trials, rep.old + rep.new, "", rep.lost, rep.lost, "", `old ${rep.old}, new ${rep.new}; save ≈ ${rep.saveMs.toFixed(0)} ms`);
  for (const d of rep.details.filter((x) => x.outcome === "lost")) bads.push(`crash trial ${d.trial}: ${d.why}`);
  log(`[${secs()}] crash: ${rep.trials} trials, old ${rep.old}, new ${rep.new}, lost ${rep.lost}`);
}

if (want("training")) {
  const { trainingFaults } = await import(dist("test/faults/training.js"));
  const rs = await trainingFaults(!quick);
  details.training = rs;
  for (const r of rs) {
    row("training", r.fault, r.skipped ? 0 : 1, r.ok && !r.skipped ? 1 : 0, "", r.ok ? 0 : 1, r.dataLost ? 1 : 0, "", r.skipped ? `skipped: ${r.skipped}` : r.outcome.slice(0, 90));
    if (!r.ok) bads.push(`training / ${r.fault}: ${r.problems.join("; ")}`);
  }
  log(`[${secs()}] training: ${rs.filter((r) => r.ok).length}/${rs.length} ok`);
}

if (want("memory")) {
  const mem = await import(dist("test/faults/memory.js"));
  await useBackend("wasm");
  const cs = [...mem.forwardRefusals(), await mem.cellRepetition(quick ? 200 : 1000)];
  if (!quick) for (const w of ["train", "eval"]) cs.push(await mem.childRefusal(w));
  if (backend !== "wasm") await useBackend(backend);
  details.memory = cs;
  for (const c of cs) {
    row("memory", c.check, 1, c.ok ? 1 : 0, "", c.ok ? 0 : 1, 0, "", c.detail.replace(/^InputError: /, "").slice(0, 90));
    if (!c.ok) bads.push(`memory / ${c.check}: ${c.detail}`);
  }
  log(`[${secs()}] memory: ${cs.filter((c) => c.ok).length}/${cs.length} ok`);
}

if (want("kernel")) {
  const { kernelAbuse } = await import(dist("test/faults/kernel.js"));
  const o = quick ? { rounds: 2, sigintsPerRound: 10, burst: 200, idleInterrupts: 5, bigOutputBytes: 2e6 } : { rounds: 10, sigintsPerRound: 10, burst: 1000, idleInterrupts: 20, bigOutputBytes: 20e6, workers: true };
  const cs = await kernelAbuse(o, (c) => log(`[${secs()}] kernel: ${c.ok ? "ok " : "BAD"} ${c.check}`));
  details.kernel = cs;
  for (const c of cs) {
    const lost = !c.ok && /parameters after the run|not those of step/.test(c.detail) ? 1 : 0;
    row("kernel", c.check, c.tried, c.ok ? c.tried : 0, "", c.ok ? 0 : 1, lost, "", c.detail.slice(0, 90));
    if (!c.ok) bads.push(`kernel / ${c.check}: ${c.detail}`);
  }
}

if (want("api")) {
  const { apiFaults } = await import(dist("test/faults/api.js"));
  const rs = await apiFaults();
  details.api = rs;
  const bad = rs.filter((r) => !r.ok);
  row("api", "bad inputs at the API (table)", rs.length, rs.length - bad.length, "", bad.length, 0, "", bad.map((r) => `${r.api}: ${r.input}`).join("; ").slice(0, 90));
  for (const r of bad) bads.push(`api / ${r.api} | ${r.input}: ${r.got}`);
  log(`[${secs()}] api: ${rs.length - bad.length}/${rs.length} ok`);
}

const total = rows.reduce((a, r) => ({ tried: a.tried + r.tried, clean: a.clean + r.clean, accepted: a.accepted + (Number(r.accepted) || 0), bad: a.bad + r.bad, lost: a.lost + r.lost }), { tried: 0, clean: 0, accepted: 0, bad: 0, lost: 0 });
const header = ["area", "reader / fault", "tried", "clean errors / survived", "accepted", "BAD", "data lost", "max CPU ms", "note"];
const body = rows.map((r) => [r.area, r.name, r.tried, r.clean, r.accepted, r.bad, r.lost, r.maxMs, r.note]);
body.push(["total", "", total.tried, total.clean, total.accepted, total.bad, total.lost, "", `${secs()}, backend ${backend}`]);
console.log(table([header, ...body]));
if (bads.length) console.log(`\nBAD outcomes (${bads.length}${bads.length > 60 ? ", first 60" : ""}):\n${bads.slice(0, 60).map((b) => `  - ${b.slice(0, 400)}`).join("\n")}`);

const outDir = join(root, "bench", "out");
mkdirSync(outDir, { recursive: true });
const json = { date: new Date().toISOString(), node: process.version, backend, quick, perReader: N, seconds: (performance.now() - t0) / 1000, total, rows, bad: bads, details };
writeFileSync(join(outDir, "faults.json"), JSON.stringify(json, (_k, v) => (typeof v === "bigint" ? String(v) : v), 1) + "\n");
console.log(`\nwrote bench/out/faults.json (${secs()})`);
process.exit(total.bad > 0 || total.lost > 0 ? 1 : 0);
