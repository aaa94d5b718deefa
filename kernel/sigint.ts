/**
 * SIGINT for the kernel, without the two races of Node's `breakOnSigint`.
 *
 * Jupyter interrupts a kernel whose interrupt_mode is "signal" with SIGINT. The kernel needs it in
 * two forms: while a cell's synchronous part runs, vm's `breakOnSigint` stops that code (Node's
 * "SIGINT watchdog": a helper thread that terminates the running script); the rest of the time, an
 * ordinary handler aborts the cell's AbortSignal (handler.ts). Done the obvious way —
 * `process.on("SIGINT")` plus `vm.runInThisContext(…, { breakOnSigint: true })` — Node 20 switches
 * between the two around every vm run: it removes the JS listeners (libuv resets SIGINT to its
 * default action), starts the watchdog's helper thread, runs, stops the thread (SIGINT reset to
 * "exit"), and adds the listeners back. Measured here (`node scripts/sigint-race.mjs`):
 *   1. a SIGINT that lands in one of those few-microsecond gaps **kills the process** (a plain Node
 *      script running short vm scripts died after 4–193 of 500 SIGINTs in six tries);
 *   2. a SIGINT that lands while the helper thread is being stopped stays posted on its semaphore
 *      and is delivered when the next vm run starts the thread again: **a later cell is
 *      interrupted** by an interrupt sent seconds earlier (3 of 150 races in the kernel; it made
 *      the kernel fault test flaky).
 *
 * What we do instead: the watchdog is started once, at kernel start, and held (its start/stop is
 * reference-counted, so the helper thread and its signal handler then live as long as the
 * kernel), and no JS SIGINT listener is installed (so vm never swaps handlers). A SIGINT during a
 * vm run reaches the run's own watchdog and breaks the code, as before; one at any other time is
 * recorded by the helper as "pending", which a timer polls every `pollMs` and turns into
 * `onSigint()` — and which `drainSigint()` polls right before each vm run, so that a run's own
 * watchdog bookkeeping cannot swallow it. The cost: an interrupt reaches async code up to
 * `pollMs` later, and one that lands within microseconds of a vm run's start or end can be lost
 * (never delayed to a later cell, never fatal); interrupting again works.
 *
 * The watchdog is Node's internal `contextify` binding (the one Node's own REPL uses for the
 * same purpose). Where it is missing (another runtime or a future Node), `watchSigint` falls back
 * to `process.on("SIGINT")` and says so in the kernel log.
 */

import { EventEmitter } from "node:events";

interface WatchdogBinding {
  startSigintWatchdog(): void;
  /** true when a SIGINT arrived while no vm run was watching; clears it (while the count stays > 0) */
  stopSigintWatchdog(): boolean;
}

let binding: WatchdogBinding | undefined;
let deliver: (() => void) | undefined;

function contextifyBinding(): WatchdogBinding | undefined {
  try {
    const b = (process as unknown as { binding(name: string): Partial<WatchdogBinding> }).binding("contextify");
    if (typeof b.startSigintWatchdog === "function" && typeof b.stopSigintWatchdog === "function") return b as WatchdogBinding;
  } catch {
    // not available: fall back below
  }
  return undefined;
}

/**
 * Hand a SIGINT that arrived since the last poll to the kernel now. Called before every vm run
 * (executor.ts) and by the poll timer; a no-op before `watchSigint` or in the fallback mode.
 */
export function drainSigint(): void {
  if (!binding || !deliver) return;
  const pending = binding.stopSigintWatchdog(); // the count goes 2 → 1: the helper thread keeps running
  binding.startSigintWatchdog();
  if (pending) deliver();
}

/**
 * A cell's own `process.on("SIGINT", f)` would make Node install its signal handler again (taking
 * SIGINT from the watchdog: interrupts then stop nothing, also after the listener is removed).
 * Such listeners are kept on a private emitter instead and called after the kernel's own interrupt,
 * so they still run on Interrupt. (process.listenerCount("SIGINT") stays 0: vm's breakOnSigint
 * decides by it whether to swap listeners.)
 */
function keepUserListenersOffTheSignal(onSigint: () => void): void {
  const users = new EventEmitter();
  const p = process as unknown as Record<string, (event: string | symbol, ...rest: unknown[]) => unknown>;
  for (const method of ["on", "addListener", "once", "prependListener", "prependOnceListener", "off", "removeListener", "removeAllListeners"]) {
    const original = p[method]!.bind(process);
    p[method] = (event, ...rest) => {
      if (event !== "SIGINT") return original(event, ...rest);
      (users as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!("SIGINT", ...rest);
      return process;
    };
  }
  deliver = () => {
    onSigint();
    // on a later turn: a listener that throws is then an uncaught error of its cell (context.ts),
    // not an exception inside the kernel's own request handling
    if (users.listenerCount("SIGINT")) setImmediate(() => users.emit("SIGINT", "SIGINT"));
  };
}

/**
 * Route SIGINT to `onSigint` for as long as the kernel lives. Returns how: "watchdog" (the
 * race-free form above) or "listener" (the fallback).
 */
export function watchSigint(onSigint: () => void, pollMs = 25): "watchdog" | "listener" {
  if (deliver) throw new Error("watchSigint: already watching");
  const b = process.listenerCount("SIGINT") === 0 ? contextifyBinding() : undefined;
  deliver = onSigint;
  if (!b) {
    process.on("SIGINT", onSigint);
    return "listener";
  }
  binding = b;
  keepUserListenersOffTheSignal(onSigint);
  // Two holds: drainSigint's stop/start then moves the count between 2 and 1 and never to 0, where
  // Node would stop the thread (and reset SIGINT's action to "exit").
  b.startSigintWatchdog();
  b.startSigintWatchdog();
  setInterval(drainSigint, pollMs).unref();
  return "watchdog";
}
