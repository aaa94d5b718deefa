/**
 * Layer 3 of the ctxlab kernel: running TypeScript cells.
 *
 * tslab's `createConverter` (a TypeScript watch program over the current cell plus a .d.ts of all
 * earlier cells' declarations) type-checks and transpiles each cell. We run the result ourselves
 * (tslab's executor is not used): vm.runInThisContext with breakOnSigint (SIGINT routing: sigint.ts) in one persistent context,
 * top-level await, after instrument.ts has added interrupt checkpoints (loops, awaits, `.then`
 * callbacks), kept earlier values from being reset, and made source maps. So:
 *   - an interrupted cell's own code stops (CellInterrupted at its next checkpoint), its timers are
 *     cleared (context.ts), and the reply says what was stopped;
 *   - a cell that throws keeps the declarations it completed (values and, for later cells, types);
 *   - stack frames name cell lines (`<cell [3]>:2:7`).
 * Design notes: docs/design.md, "The Jupyter kernel".
 * A cell's last expression value (tslab's `tsLastExpr` export) → execute_result; TypeScript
 * diagnostics → one `TSError`. Completion and inspection use the converter's language-service APIs.
 * `require` from a cell resolves from the notebook's folder first and then from the kernel's own
 * installation (ctxlab, TF.js, arquero, Plotly in a notebook anywhere); `require("ctxlab/kernel")`
 * is answered with the kernel's own api.ts module.
 */
import Module, { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, extname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import vm from "node:vm";
import type { Converter } from "tslab/dist/converter.js";
import { CellInterrupted, cellContext, currentExecution, forgetTimer, rememberTimer, setFrameMapper, toCellError, type CellError, type Execution, type TimerKind } from "./context.js";
import { CellMap, cellNames, checkpoints, hasTopLevelAwait, HOOK, keepEarlierValues, keptDeclarations, takeInlineMap } from "./instrument.js";
import * as api from "./api.js";
import { drainSigint } from "./sigint.js";
import { changedSince, installRecordingWatchers } from "./watch.js";

const require = createRequire(import.meta.url);
const tslabMetadata = require("tslab/dist/metadata.js") as { getCodeMetadata(src: string): unknown };
/** The package root (dist/kernel/ → ../..): where the kernel's own node_modules are. */
const packageRootDir = (): string => fileURLToPath(new URL("../../", import.meta.url));
const tsForTslab = patchedTypeScript();
const tslabConverter = require("tslab/dist/converter.js") as typeof import("tslab/dist/converter.js");
const tslabInspect = require("tslab/dist/inspect.js") as typeof import("tslab/dist/inspect.js");

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
  /** stop waiting for the running cell's promise: it finishes as "Interrupted" */
  abandon(): void;
  close(): void;
}

/** A TypeScript diagnostic of tslab's converter (lines relative to the cell). */
interface Diagnostic {
  fileName?: string;
  start: { line: number; character: number };
  messageText: string;
}

function diagnosticsError(diags: Diagnostic[]): CellError {
  const lines = diags.map((d) => `${d.fileName ? d.fileName.trim() : "cell"} line ${d.start.line + 1}:${d.start.character + 1} - ${d.messageText}`);
  const first = lines[0]!.replace(/^.*? - /, "");
  const more = lines.length > 1 ? ` (and ${lines.length - 1} more)` : "";
  return { ename: "TSError", evalue: `${lines[0]!.replace(/ - .*$/, "")}: ${first}${more}`, traceback: lines };
}

/**
 * The error of an interrupted cell (ename "Interrupted"), or undefined for any other error. `missed`:
 * the names the cell declares but never assigned (its await had not returned within the grace
 * period), which later cells do not have.
 */
function interruptError(e: unknown, missed: readonly string[] = []): CellError | undefined {
  let evalue: string;
  if (e instanceof Error && (e as NodeJS.ErrnoException).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") evalue = "synchronous code stopped by SIGINT";
  else if (e instanceof CellInterrupted) evalue = "stopped the cell's code at its next loop step or await";
  else if (e instanceof Abandoned) evalue = "stopped waiting for the cell after a second interrupt (code it runs outside any loop step or await may go on)";
  else return undefined;
  if (missed.length) evalue += `; not assigned, so later cells do not have them: ${missed.join(", ")}`;
  return { ename: "Interrupted", evalue, traceback: [`Interrupted: ${evalue}`] };
}

class Abandoned extends Error {
  constructor() {
    super("stopped waiting for the cell");
  }
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
 * tslab's converter, with source maps and checkpoints: its TypeScript program emits an inline map
 * (first emit), and its ES-module → CommonJS step (`ts.transpileModule(js, {fileName: "custom.js"})`,
 * looked up on the module object at call time) gets our transformers and a map (second emit).
 */
let capture: { first?: object; second?: object } | undefined;
function patchedTypeScript(): typeof import("@tslab/typescript-for-tslab") {
  // The module's exports are read-only getters: tslab's modules get a copy with two functions
  // replaced, through the require cache, before they are loaded.
  const id = require.resolve("@tslab/typescript-for-tslab");
  const original = require(id) as Record<string, unknown>;
  if (original.__ctxlabPatched) return original as never;
  const ts: Record<string, unknown> = { ...original, __ctxlabPatched: true };
  const host = original.createWatchCompilerHost as (...a: unknown[]) => unknown;
  ts.createWatchCompilerHost = (files: unknown, options: Record<string, unknown>, ...rest: unknown[]) => host(files, { ...options, inlineSourceMap: true }, ...rest);
  type Transpile = (js: string, o: { fileName?: string; compilerOptions?: object; transformers?: object }) => { outputText: string; sourceMapText?: string };
  const transpile = original.transpileModule as Transpile;
  const ours: Transpile = (js, o) => {
    if (o.fileName !== "custom.js") return transpile(js, o);
    const { code, map } = takeInlineMap(js);
    const out = transpile(code, { ...o, compilerOptions: { ...o.compilerOptions, sourceMap: true }, transformers: { before: [checkpoints], after: [keepEarlierValues] } });
    if (capture) {
      capture.first = map;
      capture.second = out.sourceMapText ? (JSON.parse(out.sourceMapText) as object) : undefined;
    }
    return { ...out, outputText: out.outputText.replace(/\n?\/\/# sourceMappingURL=.*\s*$/, "\n") };
  };
  ts.transpileModule = ours;
  kernelPackagesForTypes(original.sys as Record<string, unknown>);
  require.cache[id]!.exports = ts;
  return ts as never;
}

/**
 * Types from the kernel's own installation for notebooks anywhere: TypeScript's module resolution
 * walks up from the notebook's folder through every `node_modules`; the last one it tries,
 * `/node_modules`, is answered from the kernel's `node_modules` where it has no such file. So a
 * project's own packages (anywhere above the notebook) still win, and `ctxlab`, TF.js, arquero,
 * Plotly and @types/node resolve with their types everywhere else (the runtime side: moduleRequire).
 */
function kernelPackagesForTypes(sys: Record<string, unknown>): void {
  const own = join(packageRootDir(), "node_modules");
  const forward = (p: unknown): string | undefined => {
    if (typeof p !== "string" || !(p === "/node_modules" || p.startsWith("/node_modules/"))) return undefined;
    return own + p.slice("/node_modules".length);
  };
  for (const name of ["fileExists", "directoryExists"]) {
    const real = sys[name] as (p: string) => boolean;
    sys[name] = (p: string) => real(p) || (forward(p) !== undefined && real(forward(p)!));
  }
  for (const name of ["readFile", "realpath", "getDirectories", "readDirectory"]) {
    const real = sys[name] as ((p: string, ...a: unknown[]) => unknown) | undefined;
    if (!real) continue;
    const exists = sys.directoryExists as (p: string) => boolean;
    const fileExists = sys.fileExists as (p: string) => boolean;
    sys[name] = (p: string, ...a: unknown[]) => {
      const f = forward(p);
      if (f !== undefined && !existsSync(p) && (fileExists(f) || exists(f))) return real(f, ...a);
      return real(p, ...a);
    };
  }
}

/** Cell source maps by vm filename (the last 256 cells), for stack traces. */
const cellMaps = new Map<string, { map: CellMap; label: string }>();
let cellSeq = 0;

function remapFrame(file: string, line: number, col: number): string | null | undefined {
  const m = cellMaps.get(file);
  if (!m) return undefined;
  const at = m.map.locate(line, col);
  if (at === "wrapper") return null;
  return at ? `${m.label}:${at.line}:${at.column}` : m.label;
}

/** The timer functions a cell's own code calls (wrapper parameters): tracked per execution (context.ts). */
const TRACKED_TIMERS = ["setTimeout", "setInterval", "setImmediate"] as const;

/**
 * The engine: tslab's converter (type-check, transpile; rooted at the kernel's cwd = the notebook's
 * directory) and our runner (instrument.ts; vm.runInThisContext with breakOnSigint).
 */
export function createTslabEngine(rootDir: string = process.cwd(), o: { settleMs?: number } = {}): CellEngine {
  setFrameMapper(remapFrame);
  // A converter that saw a file change is replaced, not updated (watch.ts); `%module` cells are replayed.
  let node: Converter | undefined;
  let builtAt = 0;
  const modules = new Map<string, [string, object]>();
  const conv = (): Converter => {
    const now = changedSince(builtAt);
    if (node && now.changed) {
      node.close();
      node = undefined;
    }
    if (!node) {
      installRecordingWatchers();
      builtAt = now.count;
      node = tslabConverter.createConverter({ isJS: false, isBrowser: false });
      for (const [name, [code, meta]] of modules) node.addModule(name, code, meta as never);
    }
    return node;
  };
  let prevDecl = "";
  const values: Record<string | symbol, unknown> = {};
  const completed = new Set<string>();
  const exportsProxy = new Proxy(values, {
    // TypeScript's CommonJS emit defines imports with defineProperty; keep them rewritable (as tslab does)
    defineProperty: (_t, prop, attrs) => {
      if (prop === "__esModule") return true;
      values[prop] = attrs.get ? attrs.get() : attrs.value;
      if (typeof prop === "string") completed.add(prop);
      return true;
    },
  });
  const sideOutputs = new Map<string, string>();
  const sideModules = new Map<string, NodeModule>();
  const cellRequire = moduleRequire(rootDir, sideOutputs, sideModules, { "ctxlab/kernel": { __esModule: true, ...api, default: api } });
  (globalThis as Record<string, unknown>)[HOOK] = { ...checkpointHooks(o.settleMs ?? 3000), exports: exportsProxy, require: cellRequire, timers: trackedTimers() };
  routeTslabDisplay();
  let abandon: ((e: Error) => void) | undefined;

  async function run(code: string, ex: Execution): Promise<CellOutcome> {
    const meta = tslabMetadata.getCodeMetadata(code) as { module?: string; mode?: string };
    if (meta.mode === "browser") return { status: "error", error: { ename: "Error", evalue: "@browser cells are not supported by the ctxlab kernel", traceback: ["Error: @browser cells are not supported by the ctxlab kernel"] } };
    if (meta.module) {
      const diags = conv().addModule(meta.module, code, meta as never) as unknown as Diagnostic[];
      if (!diags.length) modules.set(meta.module, [code, meta]);
      return diags.length ? { status: "error", error: diagnosticsError(diags) } : { status: "ok", hasValue: false };
    }
    const maps: { first?: object; second?: object } = {};
    capture = maps;
    let converted: ReturnType<Converter["convert"]>;
    try {
      converted = conv().convert(prevDecl, code);
    } finally {
      capture = undefined;
    }
    for (const out of converted.sideOutputs ?? []) {
      sideModules.delete(out.path);
      sideOutputs.set(out.path, out.data);
    }
    if (converted.diagnostics.length) return { status: "error", error: diagnosticsError(converted.diagnostics as unknown as Diagnostic[]) };
    if (!converted.output) {
      prevDecl = converted.declOutput ?? "";
      return { status: "ok", hasValue: false };
    }
    const declared = cellNames(code);
    const file = `ctxlab-cell-${++cellSeq}`;
    cellMaps.set(file, { map: new CellMap(maps.first, maps.second, 1, code.split("\n").length, converted.output.split("\n").length), label: ex.silent ? "<cell>" : `<cell [${ex.count}]>` });
    if (cellMaps.size > 256) cellMaps.delete(cellMaps.keys().next().value!);
    const isAsync = converted.hasToplevelAwait || hasTopLevelAwait(converted.output);
    const params = ["exports", "require", ...TRACKED_TIMERS.filter((t) => !declared.has(t))];
    const args = params.map((p) => (p === "exports" || p === "require" ? `${HOOK}.${p}` : `${HOOK}.timers.${p}`));
    const wrapped = `(${isAsync ? "async " : ""}function(${params.join(", ")}) {\n${converted.output}\n})(${args.join(", ")})`;
    const last = converted.lastExpressionVar;
    completed.clear();
    try {
      drainSigint(); // a SIGINT that came before the run interrupts now, not inside the run's watchdog bookkeeping
      const ret = vm.runInThisContext(wrapped, { filename: file, breakOnSigint: true }) as unknown;
      if (isAsync) {
        const abandoned = new Promise<never>((_, reject) => (abandon = reject));
        abandoned.catch(() => {});
        await Promise.race([ret, abandoned]);
      }
    } catch (e) {
      // keep what the cell completed: values stay in `values`, and later cells see their declarations
      prevDecl = keptDeclarations(prevDecl, converted.declOutput ?? "", declared, completed);
      if (last) delete values[last];
      const missed = [...declared].filter((n) => !completed.has(n));
      return { status: "error", error: interruptError(e, missed) ?? toCellError(e) };
    } finally {
      abandon = undefined;
    }
    prevDecl = converted.declOutput ?? "";
    if (last && values[last] != null) {
      const value = values[last];
      delete values[last];
      return { status: "ok", hasValue: true, value };
    }
    if (last) delete values[last];
    return { status: "ok", hasValue: false };
  }

  return {
    tsVersion: tsForTslab.version,
    warm: () => void conv(),
    execute: (code, ex) => cellContext.run(ex, () => run(code, ex)),
    complete(code, cursor) {
      const info = conv().complete(prevDecl, code, cursor);
      return { matches: info.candidates, start: info.start, end: info.end };
    },
    inspect(code, cursor) {
      const info = conv().inspect(prevDecl, code, cursor);
      return info ? tslabInspect.printQuickInfo(info) : undefined;
    },
    isComplete(code) {
      const r = tslabConverter.isCompleteCode(code);
      if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
      const status = classify(code);
      return status === "incomplete" ? { status, indent: "" } : { status };
    },
    abandon: () => abandon?.(new Abandoned()),
    close: () => node?.close(),
  };
}

/** The functions the instrumented code calls (instrument.ts). */
function checkpointHooks(settleMs: number): { loop(): void; race(x: unknown): unknown; after<T>(v: T): T; cb(f: unknown): unknown } {
  let n = 0;
  const check = (): void => {
    const ex = cellContext.getStore();
    if (ex !== undefined && ex.controller.signal.aborted) throw new CellInterrupted(ex);
  };
  return {
    // a back-edge: the signal can only have changed if the event loop ran, so look every 256 steps
    loop(): void {
      if ((++n & 255) === 0) check();
    },
    race(x: unknown): unknown {
      const ex = cellContext.getStore();
      if (ex === undefined) return x;
      if (ex.controller.signal.aborted) throw new CellInterrupted(ex);
      if (x === null || (typeof x !== "object" && typeof x !== "function") || typeof (x as { then?: unknown }).then !== "function") return x;
      // After the interrupt, the awaited work gets `settleMs` to settle (a library call that honours the
      // signal returns at its next step, so nothing it does goes on after the reply); then the cell stops
      // waiting for it. Either way `after` then throws at once.
      const signal = ex.controller.signal;
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = (): void => {
          timer = setTimeout(() => reject(new CellInterrupted(ex)), settleMs);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        const done = (): void => {
          signal.removeEventListener("abort", onAbort);
          clearTimeout(timer);
        };
        Promise.resolve(x).then(
          (v) => {
            done();
            resolve(v);
          },
          (e: unknown) => {
            done();
            reject(e);
          },
        );
      });
    },
    after<T>(v: T): T {
      check();
      return v;
    },
    cb(f: unknown): unknown {
      if (typeof f !== "function") return f;
      return function (this: unknown, ...a: unknown[]): unknown {
        check();
        return (f as (...x: unknown[]) => unknown).apply(this, a);
      };
    },
  };
}

/** setTimeout/setInterval/setImmediate as cells see them: recorded on the execution that calls them. */
function trackedTimers(): Record<(typeof TRACKED_TIMERS)[number], (...a: unknown[]) => unknown> {
  const make = (name: (typeof TRACKED_TIMERS)[number], kind: TimerKind) => {
    const real = globalThis[name] as unknown as (...a: unknown[]) => unknown;
    const tracked = (cb: unknown, ...rest: unknown[]): unknown => {
      const ex = cellContext.getStore();
      if (ex === undefined || typeof cb !== "function") return real(cb, ...rest);
      let handle: unknown;
      const fire = (...a: unknown[]): unknown => {
        if (kind !== "interval") forgetTimer(ex, handle);
        return (cb as (...x: unknown[]) => unknown)(...a);
      };
      handle = real(fire, ...rest);
      rememberTimer(ex, handle, kind);
      return handle;
    };
    const custom = (real as unknown as Record<symbol, unknown>)[promisify.custom];
    if (custom) Object.defineProperty(tracked, promisify.custom, { value: custom });
    return tracked;
  };
  return { setTimeout: make("setTimeout", "timeout"), setInterval: make("setInterval", "interval"), setImmediate: make("setImmediate", "immediate") };
}

/** `require` for cells: tslab's hooks (side outputs of local .ts modules, "tslab"), kernel-side modules, and the kernel's own installation as the fallback. */
function moduleRequire(rootDir: string, sideOutputs: Map<string, string>, sideModules: Map<string, NodeModule>, kernelSide: Record<string, unknown>): NodeJS.Require {
  const fromKernel = createRequire(join(packageRootDir(), "package.json"));
  const wrap = (inner: NodeJS.Require, dir: string): NodeJS.Require =>
    new Proxy(inner, {
      apply: (_t, self, args: unknown[]) => {
        if (args.length !== 1 || typeof args[0] !== "string") return Reflect.apply(inner, self, args);
        const id = args[0];
        if (id in kernelSide) return kernelSide[id];
        if (id === "tslab") return require("tslab");
        let file = join(dir, id);
        if (extname(file) === "") file += ".js";
        const cached = sideModules.get(file);
        if (cached) return cached.exports;
        const src = sideOutputs.get(file);
        if (src !== undefined) {
          const mod = new Module(file) as NodeModule & { _compile(src: string, file: string): void; paths: string[] };
          mod.filename = file;
          mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(dirname(file));
          mod.require = wrap(mod.require as NodeJS.Require, dirname(file)) as typeof mod.require;
          mod._compile(src, file);
          sideModules.set(file, mod);
          return mod.exports;
        }
        try {
          return Reflect.apply(inner, self, args);
        } catch (e) {
          // a package the notebook's folder does not have: the kernel's own (ctxlab, TF.js, arquero, Plotly, …)
          if ((e as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && !id.startsWith(".") && !isAbsolute(id)) return fromKernel(id);
          throw e;
        }
      },
    });
  return wrap(createRequire(join(rootDir, "src.js")), rootDir);
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
