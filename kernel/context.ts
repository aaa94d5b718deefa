/**
 * Which cell owns this output? The execution context of the ctxlab kernel.
 *
 * Every execute_request becomes an `Execution` (its parent header, a fresh AbortController, and a
 * `publish` that sends iopub messages with that parent). The cell's code runs inside
 * `cellContext.run(execution, …)`, so AsyncLocalStorage carries the execution into every timer,
 * promise continuation and callback the cell starts. stdout/stderr writes, `display(…)`, progress
 * bars and unhandled errors look the owner up here.
 *
 * Decision (documented in kernel/README.md): output written after its cell finished still goes to
 * that cell's parent header (as ipykernel does for threads; Jupyter frontends append it to the
 * finished cell), never to whichever cell runs now. Only output with no owner at all (written by
 * code that was never inside a cell) falls back to the running cell, else to the kernel log.
 * Output of `silent` executions is dropped, as the messaging spec asks.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { inspect } from "node:util";
import type { Header } from "./wire.js";

/** ename/evalue/traceback, as in `error` messages and error execute_replies. */
export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

export interface Execution {
  /** the execute_request's msg_id (tests and logs) */
  readonly msgId: string;
  readonly parent: Header;
  readonly count: number;
  readonly silent: boolean;
  /** aborted on interrupt (SIGINT or interrupt_request): the library's loops stop at their next step */
  readonly controller: AbortController;
  /** true once the execute_reply has been sent */
  finished: boolean;
  /** set when an interrupt arrived while the cell ran */
  interrupted: boolean;
  /** unhandled rejections / uncaught exceptions raised by this cell's async work while it ran */
  readonly asyncErrors: CellError[];
  /** send an iopub message whose parent is this cell's request */
  publish(msgType: string, content: object): void;
  /** timers the cell's own code scheduled and that have not fired or been cleared (executor.ts) */
  timers?: Map<unknown, TimerKind>;
  /** how many of each kind an interrupt cleared */
  cleared?: Record<TimerKind, number>;
}

export type TimerKind = "timeout" | "interval" | "immediate";

/** Thrown at the checkpoints of an interrupted cell's code (kernel/instrument.ts). */
export class CellInterrupted extends Error {
  constructor(ex: Execution) {
    super(`cell [${ex.count}] was interrupted`);
    this.name = "Interrupted";
  }
}

export function rememberTimer(ex: Execution, handle: unknown, kind: TimerKind): void {
  (ex.timers ??= new Map()).set(handle, kind);
}

export function forgetTimer(ex: Execution, handle: unknown): void {
  ex.timers?.delete(handle);
}

/** Clear every timer, interval and immediate the execution's code scheduled and that is still pending. */
export function clearTimers(ex: Execution): void {
  if (!ex.timers?.size) return;
  for (const [h, kind] of ex.timers) {
    if ((h as { _destroyed?: boolean })._destroyed === true) continue;
    if (kind === "immediate") clearImmediate(h as NodeJS.Immediate);
    else clearTimeout(h as NodeJS.Timeout);
    const c = (ex.cleared ??= { timeout: 0, interval: 0, immediate: 0 });
    c[kind]++;
  }
  ex.timers.clear();
}

/** "cleared 1 interval and 2 timeouts it had scheduled", or "" */
export function describeCleared(ex: Execution): string {
  const c = ex.cleared;
  if (!c) return "";
  const parts = (["interval", "timeout", "immediate"] as const).filter((k) => c[k] > 0).map((k) => `${c[k]} ${k === "immediate" ? "setImmediate" : k}${c[k] > 1 ? "s" : ""}`);
  return parts.length ? `cleared ${parts.join(" and ")} it had scheduled` : "";
}

/** a cell position for a vm position; undefined: not a cell's file; null: the executor's own wrapper line (dropped) */
type FrameMapper = (file: string, line: number, col: number) => string | null | undefined;
let frameMapper: FrameMapper = () => undefined;
/** executor.ts maps its vm file names and positions to cell lines. */
export function setFrameMapper(f: FrameMapper): void {
  frameMapper = f;
}

function remap(frame: string): string | null {
  let drop = false;
  const out = frame.replace(/(ctxlab-cell-\d+):(\d+):(\d+)/g, (all, file: string, l: string, c: string) => {
    const m = frameMapper(file, Number(l), Number(c));
    if (m === null) drop = true;
    return m ?? all;
  });
  return drop ? null : out.replace(/evalmachine\.<anonymous>/g, "<cell>");
}

export const cellContext = new AsyncLocalStorage<Execution>();
let running: Execution | undefined;

/** The handler marks the execution in progress (or none). */
export function setRunning(e: Execution | undefined): void {
  running = e;
}

export function runningExecution(): Execution | undefined {
  return running;
}

/** The execution that owns the current async context, else the running one. */
export function currentExecution(): Execution | undefined {
  return cellContext.getStore() ?? running;
}

/** An Error (or anything thrown) as ename/evalue/traceback; kernel and tslab frames are dropped. */
export function toCellError(e: unknown, ename?: string): CellError {
  if (e instanceof Error) {
    const frames = (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l) && !/node_modules\/tslab\/|\/dist\/kernel\/|\(node:|at node:/.test(l));
    if (e instanceof CellInterrupted) frames.length = 0;
    const name = ename ?? (e.name || e.constructor?.name || "Error");
    return { ename: name, evalue: e.message, traceback: [`${name}: ${e.message}`, ...frames.map(remap).filter((f): f is string => f !== null)] };
  }
  const text = inspect(e, { depth: 2 });
  return { ename: ename ?? "Error", evalue: text, traceback: [`${ename ?? "Error"}: ${text}`] };
}

type Write = (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;

/** TF.js's "Hi, looks like you are running TensorFlow.js in Node.js … install our node backend" banner (cpu backend, first use) */
const TFJS_BANNER = /\n?=+\nHi,? looks like you are running TensorFlow\.js in Node\.js[^]*?\n=+\n?/;

function routeWrite(name: "stdout" | "stderr", original: Write): Write {
  return (chunk, encoding, cb) => {
    const ex = currentExecution();
    if (!ex) return original(chunk, encoding, cb);
    let text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
    if (TFJS_BANNER.test(text)) {
      // the kernel's first-cell line says which backend runs and how to change it; the banner goes to the log
      original(`[ctxlab-kernel] TF.js: ${text.replace(/\s+/g, " ").trim()}\n`);
      text = text.replace(TFJS_BANNER, "");
    }
    if (!ex.silent && text) ex.publish("stream", { name, text });
    const done = typeof encoding === "function" ? encoding : cb;
    if (typeof done === "function") queueMicrotask(() => (done as () => void)());
    return true;
  };
}

/** Report an error thrown by a cell's async work to its owner (see the header comment). */
function routeAsyncError(kind: string, reason: unknown, log: (...a: unknown[]) => void): void {
  const ex = cellContext.getStore() ?? running;
  if (reason instanceof CellInterrupted) return; // an interrupted cell's callback stopping at a checkpoint: the reply said so
  const err = toCellError(reason);
  const labelled = { ename: kind, evalue: `${err.ename}: ${err.evalue}`, traceback: [`${kind}: ${err.traceback[0]}`, ...err.traceback.slice(1)] };
  if (ex && !ex.finished) {
    ex.asyncErrors.push(labelled);
    return;
  }
  log(`${kind} from ${ex ? `cell [${ex.count}]` : "outside any cell"}:`, reason);
  if (ex && !ex.silent) ex.publish("stream", { name: "stderr", text: `${labelled.traceback.join("\n")}\n` });
}

/**
 * Patch process.stdout/stderr and install the process-level error handlers (once, at start-up).
 * Returns a logger that writes to the real stderr (the Jupyter server's log), never to a cell.
 */
export function installOutputRouting(): (...args: unknown[]) => void {
  const out = process.stdout.write.bind(process.stdout) as Write;
  const err = process.stderr.write.bind(process.stderr) as Write;
  const log = (...args: unknown[]): void => {
    err(`[ctxlab-kernel] ${args.map((a) => (typeof a === "string" ? a : inspect(a, { depth: 3 }))).join(" ")}\n`);
  };
  process.stdout.write = routeWrite("stdout", out) as typeof process.stdout.write;
  process.stderr.write = routeWrite("stderr", err) as typeof process.stderr.write;
  const onRejection = (reason: unknown) => routeAsyncError("UnhandledPromiseRejection", reason, log);
  const onException = (e: unknown) => routeAsyncError("UncaughtException", e, log);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  ours.add(onRejection).add(onException);
  // Emscripten glue (tfjs-backend-wasm) adds process-level listeners that rethrow, which would kill
  // the kernel on the next async error: remove foreign ones after every cell and every 100 ms.
  setInterval(() => pruneForeignErrorHandlers(log), 100).unref();
  return log;
}

const ours = new Set<unknown>();

/** Remove 'uncaughtException' / 'unhandledRejection' listeners that are not the kernel's. */
export function pruneForeignErrorHandlers(log?: (...a: unknown[]) => void): number {
  let n = 0;
  for (const ev of ["uncaughtException", "unhandledRejection"] as const) {
    for (const l of (process as unknown as { listeners(e: string): unknown[] }).listeners(ev)) {
      if (ours.has(l)) continue;
      (process as unknown as { removeListener(e: string, f: unknown): void }).removeListener(ev, l);
      n++;
      log?.(`removed a foreign process.on("${ev}") listener (it would rethrow and kill the kernel)`);
    }
  }
  return n;
}
