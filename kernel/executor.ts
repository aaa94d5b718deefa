/**
 * Layer 3 of the ctxlab kernel: running TypeScript cells, through tslab's converter and executor.
 *
 * tslab's `createConverter` (a TypeScript watch program over the current cell plus a .d.ts of all
 * earlier cells' declarations) type-checks and transpiles each cell; its `createExecutor` runs the
 * result with vm.runInThisContext (breakOnSigint) in one persistent context, with top-level await.
 * We drive both through their interfaces and give the executor our own ConsoleInterface, which is
 * how results come back structured instead of printed (docs/design.md, "The Jupyter kernel"):
 *   - `log(value)`: called once per cell with the raw last-expression value (non-null) → execute_result;
 *   - `error("%s%d:%d - %s", file, line, col, message)`: one call per TypeScript diagnostic, lines
 *     already relative to the cell → one `TSError`;
 *   - `error(err)`: a runtime exception, SIGINT during synchronous code, or tslab's "Interrupted
 *     asynchronously" → ename/evalue/traceback ("Interrupted" for the last two).
 * Completion and inspection use the converter's language-service APIs; `require("ctxlab/kernel")`
 * from a cell is answered with the kernel's own api.ts module.
 */
import { createRequire } from "node:module";
import type { ConsoleInterface, ConverterSet, Executor } from "tslab/dist/executor.js";
import type { Converter } from "tslab/dist/converter.js";
import { cellContext, currentExecution, toCellError, type CellError, type Execution } from "./context.js";
import * as api from "./api.js";

const require = createRequire(import.meta.url);
const tslabExecutor = require("tslab/dist/executor.js") as typeof import("tslab/dist/executor.js");
const tslabConverter = require("tslab/dist/converter.js") as typeof import("tslab/dist/converter.js");
const tslabInspect = require("tslab/dist/inspect.js") as typeof import("tslab/dist/inspect.js");
const tsForTslab = require("@tslab/typescript-for-tslab") as typeof import("@tslab/typescript-for-tslab");

export type CellOutcome = { status: "ok"; hasValue: boolean; value?: unknown } | { status: "error"; error: CellError };

/** What the handler needs from a cell runner (a stub in handler tests). */
export interface CellEngine {
  /** the TypeScript version that checks cells (tslab's bundled fork) */
  readonly tsVersion: string;
  /** build the TypeScript program now (a few seconds), instead of at the first cell */
  warm(): void;
  /** type-check and run one cell inside `ex`'s async context */
  execute(code: string, ex: Execution): Promise<CellOutcome>;
  /** completions at a UTF-16 offset */
  complete(code: string, cursor: number): { matches: string[]; start: number; end: number };
  /** quick info (type + docs) at a UTF-16 offset, or undefined */
  inspect(code: string, cursor: number): string | undefined;
  isComplete(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string };
  /** stop waiting for the running cell's promise: it finishes as "Interrupted" (tslab's interrupt) */
  abandon(): void;
  close(): void;
}

const DIAGNOSTIC_FORMAT = "%s%d:%d - %s";

/** The console tslab's executor reports to, collecting one cell's value and errors. */
class CellConsole implements ConsoleInterface {
  value: unknown;
  hasValue = false;
  diagnostics: string[] = [];
  errors: unknown[] = [];

  reset(): void {
    this.value = undefined;
    this.hasValue = false;
    this.diagnostics = [];
    this.errors = [];
  }

  log(value?: unknown): void {
    this.value = value;
    this.hasValue = true;
  }

  error(first?: unknown, ...rest: unknown[]): void {
    if (first === DIAGNOSTIC_FORMAT) {
      const [file, line, col, message] = rest as [string, number, number, string];
      this.diagnostics.push(`${file ? file.trim() : "cell"} line ${line}:${col} - ${message}`);
    } else this.errors.push(first);
  }

  /** The cell's error, if any. */
  failure(): CellError | undefined {
    if (this.diagnostics.length) {
      const first = this.diagnostics[0]!.replace(/^.*? - /, "");
      const more = this.diagnostics.length > 1 ? ` (and ${this.diagnostics.length - 1} more)` : "";
      return { ename: "TSError", evalue: `${this.diagnostics[0]!.replace(/ - .*$/, "")}: ${first}${more}`, traceback: [...this.diagnostics] };
    }
    if (!this.errors.length) return undefined;
    const e = this.errors[0];
    return isInterrupt(e) ? interruptError(e) : toCellError(e);
  }
}

function isInterrupt(e: unknown): boolean {
  return e instanceof Error && ((e as NodeJS.ErrnoException).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || e.message === "Interrupted asynchronously");
}

function interruptError(e: unknown): CellError {
  const sync = (e as NodeJS.ErrnoException).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
  const evalue = sync ? "synchronous code stopped by SIGINT" : "stopped waiting for the cell (it did not settle within the grace period after the interrupt)";
  return { ename: "Interrupted", evalue, traceback: [`Interrupted: ${evalue}`] };
}

/**
 * tslab's isCompleteCode catches "… expected." at the end; we add an unterminated template literal
 * (more lines expected) and call any other syntax error before the end "invalid".
 */
function classify(code: string): "complete" | "incomplete" | "invalid" {
  const ts = tsForTslab;
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TSX) as unknown as { parseDiagnostics?: { start: number; code: number }[] };
  const diags = sf.parseDiagnostics ?? [];
  if (diags.some((d) => d.code === 1160)) return "incomplete"; // Unterminated template literal
  return diags.some((d) => d.start < code.length) ? "invalid" : "complete";
}

/**
 * The tslab-backed engine. `rootDir` is the notebook's directory (the kernel's cwd): it is where
 * `import … from "ctxlab"` and local .ts files resolve from.
 */
export function createTslabEngine(rootDir: string = process.cwd()): CellEngine {
  let node: Converter | undefined;
  const convs: ConverterSet = {
    get node() {
      return (node ??= tslabConverter.createConverter({ isJS: false, isBrowser: false }));
    },
    get browser(): Converter {
      throw new Error("ctxlab kernel: @browser cells are not supported");
    },
    close: () => node?.close(),
  };
  const cons = new CellConsole();
  const executor: Executor = tslabExecutor.createExecutor(rootDir, convs, cons);
  interceptRequire({ "ctxlab/kernel": { __esModule: true, ...api, default: api } });
  routeTslabDisplay();

  return {
    tsVersion: tsForTslab.version,
    warm: () => void convs.node,
    async execute(code, ex) {
      cons.reset();
      await cellContext.run(ex, () => executor.execute(code));
      const error = cons.failure();
      if (error) return { status: "error", error };
      return { status: "ok", hasValue: cons.hasValue, value: cons.value };
    },
    complete(code, cursor) {
      const info = executor.complete(code, cursor);
      return { matches: info.candidates, start: info.start, end: info.end };
    },
    inspect(code, cursor) {
      const info = executor.inspect(code, cursor);
      return info ? tslabInspect.printQuickInfo(info) : undefined;
    },
    isComplete(code) {
      const r = tslabConverter.isCompleteCode(code);
      if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
      const status = classify(code);
      return status === "incomplete" ? { status, indent: "" } : { status };
    },
    abandon: () => executor.interrupt(),
    close: () => executor.close(),
  };
}

/** Answer some `require(id)` calls from cells with kernel-side modules (tslab does this for "tslab"). */
function interceptRequire(modules: Record<string, unknown>): void {
  const holder = (globalThis as { __tslab__?: { require: NodeJS.Require } }).__tslab__;
  if (!holder) throw new Error("ctxlab kernel: tslab's executor did not install globalThis.__tslab__");
  const inner = holder.require;
  holder.require = new Proxy(inner, {
    apply: (target, self, args: unknown[]) => (args.length === 1 && typeof args[0] === "string" && args[0] in modules ? modules[args[0]] : Reflect.apply(target, self, args)),
  });
}

/** Keep `import * as tslab from "tslab"; tslab.display.html(…)` working: route its writer to the owning cell. */
function routeTslabDisplay(): void {
  const jupyter = require("tslab/dist/jupyter.js") as { lastWriteDisplayData: unknown };
  jupyter.lastWriteDisplayData = (data: object, update: boolean): void => {
    const ex = currentExecution();
    if (ex && !ex.silent) ex.publish(update ? "update_display_data" : "display_data", data);
  };
}

/** Jupyter counts cursor positions in Unicode code points; JS strings in UTF-16 units. */
export function codePointsToUtf16(s: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) i += (s.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  return i;
}

export function utf16ToCodePoints(s: string, u: number): number {
  return [...s.slice(0, u)].length;
}
