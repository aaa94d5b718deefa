/**
 * The cell-facing API of the ctxlab kernel, imported in notebooks as
 *
 *   import { display, clearOutput, signal, progress } from "ctxlab/kernel";
 *
 * It is a module, not injected globals (STYLE principle 14): the kernel's executor intercepts
 * `require("ctxlab/kernel")` and hands cells this very module instance, and tslab's TypeScript finds
 * its types through kernel/package.json ("types" → dist/kernel/api.d.ts), so cells type-check.
 * Every call finds its cell through AsyncLocalStorage (context.ts), so `display` in a timer started
 * by cell 1 still lands in cell 1. Outside a kernel (a plain Node script) `display` prints the
 * text/plain rendering, `signal()` is never aborted, and `progress` is silent.
 */
import { randomUUID } from "node:crypto";
import { startProgress, type Progress } from "../lib/runtime/context.js";
import { currentExecution } from "./context.js";
import { setBuiltinFormatters, toMimeBundle } from "./display.js";
import { builtinFormatters } from "./formatters.js";

export { mime, html, markdown, registerFormatter, toMimeBundle, type Formatter, type MimeBundle, type MimeData, type RawBundle } from "./display.js";
export type { Progress } from "../lib/runtime/context.js";

setBuiltinFormatters(builtinFormatters);

export interface DisplayOptions {
  /** give the output an id (`true`: a fresh one) and get a handle to redraw it in place */
  displayId?: string | true;
  /** redraw the output with `displayId` instead of adding one */
  update?: boolean;
}

/** A shown output that can be redrawn in place. */
export interface DisplayHandle {
  readonly displayId: string;
  update(value: unknown): void;
}

function show(value: unknown, displayId: string | undefined, update: boolean): void {
  const ex = currentExecution();
  const bundle = toMimeBundle(value);
  if (!ex) {
    process.stdout.write(`${String(bundle.data["text/plain"])}\n`);
    return;
  }
  if (ex.silent) return;
  ex.publish(update ? "update_display_data" : "display_data", { ...bundle, transient: displayId ? { display_id: displayId } : {} });
}

/**
 * Show `value` as an output of the current cell: a Plotly figure, a tensor, an arquero table, an
 * ActivationCache, `html("<b>…</b>")`, or anything (text/plain). Returns nothing (so a cell ending
 * in `display(x)` has no execute_result), unless a `displayId` asks for a handle.
 * @example const h = display(lossCurve(rows), { displayId: true }); … h.update(lossCurve(moreRows));
 */
export function display(value: unknown): void;
export function display(value: unknown, o: DisplayOptions & { displayId: string | true }): DisplayHandle;
export function display(value: unknown, o?: DisplayOptions): DisplayHandle | undefined;
export function display(value: unknown, o: DisplayOptions = {}): DisplayHandle | undefined {
  const displayId = o.displayId === true ? randomUUID() : o.displayId;
  show(value, displayId, Boolean(o.update && displayId));
  return displayId ? { displayId, update: (v) => show(v, displayId, true) } : undefined;
}

/** Redraw the output shown with `displayId`. */
export function updateDisplay(displayId: string, value: unknown): void {
  show(value, displayId, true);
}

/** Clear the current cell's output (`wait`: when the next output arrives, to avoid flicker). */
export function clearOutput(wait = false): void {
  const ex = currentExecution();
  if (ex && !ex.silent) ex.publish("clear_output", { wait });
}

const never = new AbortController().signal;

/**
 * The AbortSignal of the cell this code belongs to: aborted when the user interrupts the kernel.
 * A function, not a constant, so that a cell never holds on to an earlier cell's signal.
 * @example while (!signal().aborted) { await step(); }
 */
export function signal(): AbortSignal {
  return currentExecution()?.controller.signal ?? never;
}

/** One live progress bar in the current cell's output (see kernel/progress.ts). */
export function progress(label: string, total: number): Progress {
  return startProgress(label, total);
}

/** Throw the interrupt's reason if the current cell was interrupted (for tight loops). */
export function checkInterrupt(): void {
  signal().throwIfAborted();
}
