/**
 * The ctxlab kernel's command line and start-up wiring.
 *
 *   ctxlab kernel install [--user | --sys-prefix | --prefix P] [--name ctxlab]
 *   ctxlab kernel uninstall [--user | --sys-prefix | --prefix P] [--name ctxlab]
 *   ctxlab kernel start <connection_file>      (what kernel.json runs, via dist/kernel/start.js)
 *
 * `startKernel` assembles the layers: output routing (context.ts) → the tslab engine
 * (executor.ts, rooted at the cwd = the notebook's directory) → the host seam of
 * lib/runtime/context.ts (the current cell's AbortSignal and live progress) → the handler → the
 * wire. SIGINT interrupts (never kills; sigint.ts); SIGTERM and shutdown_request close the sockets and exit.
 */
import { randomUUID } from "node:crypto";
import { setHost, type Progress } from "../lib/runtime/context.js";
import { useBackend, type BackendInfo } from "../lib/tensor/backend.js";
import { currentExecution, installOutputRouting } from "./context.js";
import { createTslabEngine } from "./executor.js";
import { Handler } from "./handler.js";
import { installKernelspec, packageVersion, uninstallKernelspec, type Scope } from "./kernelspec.js";
import { createProgress } from "./progress.js";
import { watchSigint } from "./sigint.js";
import { readConnectionFile, Wire } from "./wire.js";

const USAGE = `usage:
  ctxlab kernel install   [--user | --sys-prefix | --prefix P] [--name ctxlab]
  ctxlab kernel uninstall [--user | --sys-prefix | --prefix P] [--name ctxlab]
  ctxlab kernel start <connection_file>`;

const silentProgress: Progress = { update() {}, end() {} };

export interface StartOptions {
  /** ms an interrupted cell may take to settle (default $CTXLAB_INTERRUPT_GRACE_MS or 3000) */
  graceMs?: number;
}

let settled: string | undefined;

/** useBackend() at start-up; never rejects (a failure is logged and the first cell says so). */
function selectBackend(log: (...a: unknown[]) => void): Promise<BackendInfo | undefined> {
  return useBackend().then(
    (info) => {
      settled = info.summary;
      log(info.summary);
      return info;
    },
    (e: unknown) => {
      settled = `ctxlab backend: not selected at start-up (${(e as Error)?.message ?? e})`;
      log(settled);
      return undefined;
    },
  );
}

/** The first cell's line: "ctxlab backend: wasm (tfjs "wasm"), requested auto (default) — SIMD on, …; change it with await useBackend(…)" */
export function backendLine(info: BackendInfo): string {
  const chosen = info.attempts.find((a) => a.ok && a.name === info.active);
  return `${info.summary.split("\n")[0]}${chosen ? ` — ${chosen.reason}` : ""}. Change it in a cell with await useBackend("node" | "wasm" | "cpu").\n`;
}

/** Run a kernel on `connectionFile`; resolves after a shutdown_request (or SIGTERM) has been served. */
export async function startKernel(connectionFile: string, o: StartOptions = {}): Promise<void> {
  const log = installOutputRouting();
  const info = readConnectionFile(connectionFile);
  const graceMs = o.graceMs ?? (Number(process.env.CTXLAB_INTERRUPT_GRACE_MS) || 3000);
  const engine = createTslabEngine(process.cwd(), { settleMs: graceMs });
  setHost({
    signal: () => currentExecution()?.controller.signal,
    progress: (label, total) => {
      const ex = currentExecution();
      return ex && !ex.silent ? createProgress(ex.publish, label, total) : silentProgress;
    },
  });
  let wire: Wire | undefined;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const stop = async (why: string): Promise<void> => {
    log(`shutting down (${why})`);
    engine.close();
    await wire?.close();
    done();
  };
  // The best available backend before the first cell (useBackend's order: tfjs-node-gpu, tfjs-node,
  // wasm, cpu; CTXLAB_BACKEND overrides), so a notebook that never calls useBackend() does not
  // compute on TF.js's slow cpu backend. A cell can still switch with `await useBackend("…")`.
  const backend = selectBackend(log);
  const handler = new Handler({ send: (ch, m) => wire?.send(ch, m) ?? Promise.resolve() }, engine, {
    session: randomUUID(),
    beforeFirstCell: () => backend.then((b) => (b ? backendLine(b) : undefined)),
    banner: () => (settled ? settled.split("\n")[0] : undefined),
    implementationVersion: packageVersion(),
    log,
    graceMs,
    onShutdown: (restart) => void stop(`shutdown_request, restart=${restart}`),
  });
  const sigint = watchSigint(() => handler.interrupt("SIGINT"));
  if (sigint === "listener") log("SIGINT: Node's SIGINT watchdog binding is missing; using process.on(\"SIGINT\") (an interrupt racing a cell's start can be delayed or fatal: kernel/sigint.ts)");
  process.on("SIGTERM", () => void stop("SIGTERM"));
  wire = await Wire.open(info, (ch, m) => handler.receive(ch, m), log);
  log(`listening on ${info.transport}://${info.ip} (shell ${info.shell_port}), cwd ${process.cwd()}, pid ${process.pid}`);
  setImmediate(() => engine.warm()); // the TypeScript program takes a few seconds; build it before the first cell
  await finished;
}

function parseScope(args: string[]): { scope: Scope; name: string } | string {
  let scope: Scope = { kind: "user" };
  let name = "ctxlab";
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--user") scope = { kind: "user" };
    else if (a === "--sys-prefix") scope = { kind: "sys-prefix" };
    else if (a === "--prefix" || a === "--name") {
      const v = args[++i];
      if (!v) return `${a} needs a value`;
      if (a === "--prefix") scope = { kind: "prefix", prefix: v };
      else name = v;
    } else if (a.startsWith("--prefix=")) scope = { kind: "prefix", prefix: a.slice(9) };
    else if (a.startsWith("--name=")) name = a.slice(7);
    else return `unknown option ${a}`;
  }
  return { scope, name };
}

/** The CLI; resolves to the process exit code. */
export async function kernelCli(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group !== "kernel" || !command || command === "--help" || command === "-h") {
    process.stderr.write(`${USAGE}\n`);
    return group === "kernel" || group === "--help" || group === "-h" ? 0 : 2;
  }
  if (command === "start") {
    if (rest.length !== 1) return fail(`kernel start takes one connection file, got ${rest.length} arguments`);
    await startKernel(rest[0]!);
    return 0;
  }
  if (command !== "install" && command !== "uninstall") return fail(`unknown command "kernel ${command}"`);
  const parsed = parseScope(rest);
  if (typeof parsed === "string") return fail(parsed);
  try {
    if (command === "install") {
      const dir = installKernelspec(parsed.scope, parsed.name);
      process.stdout.write(`installed kernelspec ${parsed.name} in ${dir}\n`);
    } else {
      const dir = uninstallKernelspec(parsed.scope, parsed.name);
      process.stdout.write(dir ? `removed kernelspec ${parsed.name} from ${dir}\n` : `no kernelspec ${parsed.name} to remove\n`);
    }
    return 0;
  } catch (e) {
    return fail((e as Error).message);
  }
}

function fail(message: string): number {
  process.stderr.write(`ctxlab: ${message}\n${USAGE}\n`);
  return 2;
}
