#!/usr/bin/env node
/**
 * SIGINT against short vm runs with breakOnSigint — the measurement behind kernel/sigint.ts.
 *
 *   node scripts/sigint-race.mjs [--signals 500] [--mode watchdog|listener|both] [--busy]
 *
 * A child process runs a tiny script with vm's breakOnSigint every millisecond (the kernel runs one
 * per cell; this makes the gaps between runs easy to hit), while this process sends it SIGINTs at
 * random 2–8 ms intervals. Then it stops sending, lets the child run 2,000 more scripts, and asks
 * for its counts. Per mode: whether the child survived, how many SIGINTs reached its handler or
 * broke a run, and how many runs were broken after the last SIGINT (a delayed interrupt).
 *   listener  process.on("SIGINT") (what Node's documentation suggests): dies or delays
 *   watchdog  kernel/sigint.ts's watchSigint (the kernel's way): survives, nothing delayed
 * Needs `npm run build` (imports dist/kernel/sigint.js). The child form: `--child MODE`.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);

async function child(mode) {
  const { watchSigint, drainSigint } = await import("../dist/kernel/sigint.js");
  let handled = 0, broke = 0, runs = 0, lateBroke = 0, late = false;
  const onSigint = () => handled++;
  const how = mode === "watchdog" ? watchSigint(onSigint, 5) : (process.on("SIGINT", onSigint), "listener");
  const script = new vm.Script(args.includes("--busy") ? "{ let s = 0; for (let i = 0; i < 20000; i++) s += i; }" : "1");
  const run = () => {
    runs++;
    if (how === "watchdog") drainSigint();
    try {
      script.runInThisContext({ breakOnSigint: true });
    } catch (e) {
      if (e?.code !== "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw e;
      broke++;
      if (late) lateBroke++;
    }
  };
  process.on("SIGUSR1", () => {
    // the sender is done: 2,000 more runs, none of which may be interrupted
    late = true;
    setTimeout(function more(n = 0) {
      for (let i = 0; i < 100; i++) run();
      if (n < 19) setTimeout(() => more(n + 1), 1);
      else {
        process.stdout.write(JSON.stringify({ how, handled, broke, runs, lateBroke }) + "\n");
        process.exit(0);
      }
    }, 50);
  });
  process.stdout.write("ready\n");
  (function tick() {
    if (late) return;
    run();
    setTimeout(tick, 1);
  })();
}

/** Runs one child in `mode`, sends `n` SIGINTs; resolves with its counts or how it died. */
export async function race(mode, n, busy = false) {
  const p = spawn(process.execPath, [fileURLToPath(import.meta.url), "--child", mode, ...(busy ? ["--busy"] : [])], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const exited = new Promise((r) => p.on("exit", (code, signal) => r({ code, signal })));
  while (!out.includes("ready")) await sleep(10);
  let sent = 0;
  for (; sent < n && p.exitCode === null && p.signalCode === null; sent++) {
    p.kill("SIGINT");
    await sleep(2 + Math.floor(Math.random() * 7));
  }
  if (p.exitCode === null && p.signalCode === null) {
    await sleep(100);
    p.kill("SIGUSR1");
  }
  const { code, signal } = await exited;
  if (code !== 0) return { mode, sent, died: signal ?? `exit ${code}` };
  const counts = JSON.parse(out.trim().split("\n").at(-1));
  return { mode, sent, died: null, ...counts, reached: counts.handled + counts.broke };
}

if (args[0] === "--child") await child(args[1]);
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = Number(opt("--signals", "500"));
  const mode = opt("--mode", "both");
  for (const m of mode === "both" ? ["listener", "watchdog"] : [mode]) {
    const r = await race(m, n, args.includes("--busy"));
    console.log(
      r.died
        ? `${m.padEnd(8)}  died (${r.died}) after ${r.sent} of ${n} SIGINTs`
        : `${m.padEnd(8)}  survived ${r.sent} SIGINTs: ${r.reached} reached the handler or broke a run (${r.handled} + ${r.broke}), ${r.lateBroke} runs broken after the last one, ${r.runs} runs`,
    );
  }
}
