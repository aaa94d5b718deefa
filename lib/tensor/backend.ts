/**
 * Numeric backend selection for ctxlab: one TensorFlow.js instance (`tf`) shared by the whole
 * library, and the choice of the backend it computes on.
 *
 * Automatic order: node-gpu (@tensorflow/tfjs-node-gpu, tfjs backend "tensorflow") → node
 * (@tensorflow/tfjs-node, also "tensorflow") → wasm (@tensorflow/tfjs-backend-wasm, "wasm") → cpu
 * ("cpu"). The two native packages are optional peer dependencies whose install scripts download
 * libtensorflow, so they are often absent or half-installed; each one is loaded with a dynamic
 * `import()` inside try/catch and every failure becomes a reason a user can act on. Nothing here
 * throws while importing the module or during automatic selection; only an explicit request
 * (argument or CTXLAB_BACKEND) for an unavailable or unknown backend throws a BackendError.
 */

import * as tfjs from "@tensorflow/tfjs";
import { BackendError } from "../errors.js";
import "./wasm-kernels.js"; // registers kernels the wasm backend lacks before it is ever used
import { installNativeMatMul } from "./native-matmul.js"; // OpenBLAS for large matMuls on wasm

/** The single TensorFlow.js instance every ctxlab module computes with. */
export const tf: typeof import("@tensorflow/tfjs") = tfjs;

/** A backend ctxlab can run on, fastest first: CUDA build of libtensorflow, CPU build, WebAssembly, plain JS. */
export type BackendName = "node-gpu" | "node" | "wasm" | "cpu";

/** One try at a backend during selection. */
export interface BackendAttempt {
  /** The backend tried. */
  name: BackendName;
  /** Whether it loaded and initialised. */
  ok: boolean;
  /** What happened, in words a user can act on (what to install or fix when it failed). */
  reason: string;
}

/** The outcome of a backend selection. */
export interface BackendInfo {
  /** The backend now in use. */
  active: BackendName;
  /** The tfjs backend name behind it ("tensorflow", "wasm" or "cpu"), as `tf.getBackend()` reports. */
  tfBackend: string;
  /** What was asked for. */
  requested: BackendName | "auto";
  /** Where the request came from: a `useBackend` argument, the CTXLAB_BACKEND variable, or the default "auto". */
  source: "argument" | "env" | "default";
  /** Every backend tried, in order. */
  attempts: BackendAttempt[];
  /** A multi-line, human-readable account of the above. */
  summary: string;
}

const NAMES: readonly BackendName[] = ["node-gpu", "node", "wasm", "cpu"];
const VALID = `"auto", ${NAMES.map((n) => `"${n}"`).join(", ")}`;
const ENV_VAR = "CTXLAB_BACKEND";

const PACKAGE: Record<Exclude<BackendName, "cpu">, string> = {
  "node-gpu": "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
};
const TF_BACKEND: Record<BackendName, string> = { "node-gpu": "tensorflow", node: "tensorflow", wasm: "wasm", cpu: "cpu" };
const INSTALL_HINT: Record<Exclude<BackendName, "cpu">, string> = {
  "node-gpu":
    "npm install @tensorflow/tfjs-node-gpu (its install script downloads libtensorflow 2.9.1; needs CUDA 11.2 and cuDNN 8.1)",
  node: "npm install @tensorflow/tfjs-node (its install script downloads libtensorflow 2.9.1, CPU build)",
  wasm: "npm install @tensorflow/tfjs-backend-wasm@4.22.0 (a dependency of ctxlab; reinstall it)",
};

type Loader = (pkg: string) => Promise<unknown>;
const defaultLoader: Loader = (pkg) => import(pkg);
let loader: Loader = defaultLoader;
let current: BackendInfo | undefined;
let ensuring: Promise<BackendInfo> | undefined;
let queue: Promise<unknown> = Promise.resolve();
/** Which of node-gpu/node provided the "tensorflow" backend in this process (only one can). */
let tensorflowProvider: "node-gpu" | "node" | undefined;

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split("\n").find((l) => l.trim() !== "") ?? msg).trim();
}

/** Turns a failure to load `name`'s package into a reason a user can act on. */
function classifyLoadError(name: Exclude<BackendName, "cpu">, err: unknown): string {
  const pkg = PACKAGE[name];
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const cuda = /\b(lib(?:cudart|cudnn|cublas(?:Lt)?|cufft|curand|cusolver|cusparse|nvinfer)\.so(?:\.[\d.]*\d)?)/.exec(msg);
  if (cuda !== null || /\bCUDA\b|cuDNN/.test(msg)) {
    const lib = cuda?.[1] ?? "a CUDA library";
    return (
      `${pkg} is installed but ${lib} not found — tfjs-node-gpu 4.x needs CUDA 11.2 and cuDNN 8.1 ` +
      `(put their lib64 folders on LD_LIBRARY_PATH), or use ${ENV_VAR}=node for the CPU build`
    );
  }
  if (/tfjs_binding\.node|libtensorflow|node-pre-gyp|install script/i.test(msg)) {
    return (
      `${pkg} is installed but its native part is missing — the install script did not run (npm 11 skips ` +
      `dependency install scripts unless approved: \`npm approve-builds\`/allowScripts) or could not download ` +
      `libtensorflow; fix that and run \`npm rebuild ${pkg}\``
    );
  }
  const namesPkg = msg.includes(`'${pkg}'`) || msg.includes(`"${pkg}"`) || msg.includes(` ${pkg} `);
  if (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND" || /Cannot find (?:package|module)/.test(msg)) &&
    namesPkg
  ) {
    return `${pkg} is not installed — ${INSTALL_HINT[name]}`;
  }
  return `${pkg} failed to load: ${firstLine(err)}`;
}

/** Sets tfjs's backend without letting a failure escape; returns an error reason or undefined. */
async function switchTo(tfName: string): Promise<string | undefined> {
  try {
    if (tf.findBackendFactory(tfName) == null) {
      return `no tfjs backend "${tfName}" is registered`;
    }
    if (!(await tf.setBackend(tfName))) return `tf.setBackend("${tfName}") failed (see the warning printed above)`;
    await tf.ready();
    return tf.getBackend() === tfName ? undefined : `tf.setBackend("${tfName}") left tfjs on "${tf.getBackend()}"`;
  } catch (err) {
    return `tf.setBackend("${tfName}") threw: ${firstLine(err)}`;
  }
}

/** Tries one backend: load its package, initialise it, make it current. Never throws. */
async function attempt(name: BackendName): Promise<BackendAttempt> {
  const fail = (reason: string): BackendAttempt => ({ name, ok: false, reason });
  if (name === "cpu") {
    const why = await switchTo("cpu");
    if (why !== undefined) return fail(why);
    // The cpu backend prints an "install tfjs-node" banner on first use; our summary says it better.
    const be = tf.backend() as unknown as { firstUse?: boolean };
    if (typeof be.firstUse === "boolean") be.firstUse = false;
    return { name, ok: true, reason: "plain-JavaScript reference backend — always available, slowest" };
  }
  if ((name === "node-gpu" || name === "node") && tensorflowProvider !== undefined && tensorflowProvider !== name) {
    return fail(
      `the "tensorflow" backend in this process already comes from ${PACKAGE[tensorflowProvider]}; ` +
        `a process can load only one of tfjs-node / tfjs-node-gpu — restart and choose one`,
    );
  }
  try {
    await loader(PACKAGE[name]);
  } catch (err) {
    return fail(classifyLoadError(name, err));
  }
  const matMul = name === "wasm" ? `; matMul: ${installNativeMatMul().reason}` : "";
  const tfName = TF_BACKEND[name];
  if (tf.findBackendFactory(tfName) == null) {
    return fail(
      `${PACKAGE[name]} loaded but registered no "${tfName}" backend with ctxlab's @tensorflow/tfjs — ` +
        "there are probably two copies of @tensorflow/tfjs-core; run `npm ls @tensorflow/tfjs-core` and align all @tensorflow packages on 4.22.0",
    );
  }
  if (name !== "wasm" && tensorflowProvider === undefined) tensorflowProvider = name;
  const why = await switchTo(tfName);
  if (why !== undefined) return fail(`${PACKAGE[name]} loaded but ${why}`);
  if (name === "wasm") {
    try {
      const simd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
      const threads = Boolean(await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"));
      return {
        name,
        ok: true,
        reason:
          `WebAssembly backend ready — SIMD ${simd ? "on" : "off (this runtime lacks wasm SIMD; expect ~2-4x slower)"}, ` +
          (threads ? "multi-threaded" : "single-threaded (tfjs-backend-wasm does not use threads in Node)") +
          matMul,
      };
    } catch {
      return { name, ok: true, reason: "WebAssembly backend ready" + matMul };
    }
  }
  return {
    name,
    ok: true,
    reason: `libtensorflow via ${PACKAGE[name]}` + (name === "node-gpu" ? " (runs on the GPU when CUDA sees one)" : ""),
  };
}

function summarize(info: Omit<BackendInfo, "summary">): string {
  const from = info.source === "env" ? `${ENV_VAR}=${info.requested}` : info.source === "argument" ? "argument" : "default";
  const lines = [`ctxlab backend: ${info.active} (tfjs "${info.tfBackend}"), requested ${info.requested} (${from})`];
  for (const a of info.attempts) lines.push(`  ${a.ok ? "✓" : "✗"} ${a.name.padEnd(8)} ${a.reason}`);
  return lines.join("\n");
}

function parseName(value: string, where: string): BackendName | "auto" {
  const v = value.trim().toLowerCase();
  if (v === "auto" || (NAMES as readonly string[]).includes(v)) return v as BackendName | "auto";
  throw new BackendError(`${where}: "${value}" is not a backend; valid names are ${VALID}`);
}

async function select(name: BackendName | "auto" | undefined): Promise<BackendInfo> {
  let requested: BackendName | "auto";
  let source: BackendInfo["source"];
  if (name !== undefined) {
    requested = parseName(String(name), `useBackend(${JSON.stringify(name)})`);
    source = "argument";
  } else {
    const env = process.env[ENV_VAR];
    if (env !== undefined && env.trim() !== "") {
      requested = parseName(env, `useBackend(): ${ENV_VAR}`);
      source = "env";
    } else {
      requested = "auto";
      source = "default";
    }
  }
  // Same request as the current selection, still in effect: nothing to do.
  if (
    current !== undefined &&
    tf.getBackend() === current.tfBackend &&
    (requested === "auto" ? current.requested === "auto" : current.active === requested)
  ) {
    return current;
  }
  const previousTf = current?.tfBackend;
  const attempts: BackendAttempt[] = [];
  for (const candidate of requested === "auto" ? NAMES : [requested]) {
    const a = await attempt(candidate);
    attempts.push(a);
    if (!a.ok) continue;
    const base = { active: candidate, tfBackend: tf.getBackend(), requested, source, attempts };
    current = Object.freeze({ ...base, summary: summarize(base) });
    return current;
  }
  // Failed: put tfjs back where it was if an attempt moved it.
  if (previousTf !== undefined && tf.getBackend() !== previousTf) await switchTo(previousTf);
  const label = source === "env" ? `useBackend(): ${ENV_VAR}="${requested}"` : `useBackend(${JSON.stringify(requested)})`;
  const why = attempts.map((a) => `${a.name}: ${a.reason}`).join("; ");
  throw new BackendError(requested === "auto" ? `${label}: no backend could be initialised — ${why}` : `${label}: ${attempts[0]!.reason}`);
}

/**
 * Selects the backend ctxlab computes on. `name` undefined means the CTXLAB_BACKEND environment
 * variable, or "auto" when that is unset; "auto" tries node-gpu → node → wasm → cpu and keeps the
 * first that works. Calling it again with the same request is a no-op. Switching after tensors
 * exist is fine: tfjs moves their data to the new backend lazily.
 *
 * @param name - a backend name, "auto", or undefined for CTXLAB_BACKEND / "auto".
 * @returns what was selected, with every attempt and its reason.
 * @throws BackendError when the name (argument or CTXLAB_BACKEND) is not a backend, listing the
 *   valid names, or when an explicitly requested backend is unavailable, saying why and what to do.
 */
export function useBackend(name?: BackendName | "auto"): Promise<BackendInfo> {
  const run = queue.then(() => select(name));
  queue = run.catch(() => undefined);
  return run;
}

/**
 * Makes sure a backend is selected: the first call selects one (CTXLAB_BACKEND or "auto"), later
 * calls return the same result; if `useBackend` already selected one, that is returned.
 *
 * @throws BackendError as {@link useBackend} does (a bad CTXLAB_BACKEND, or an unavailable backend
 *   it names); a failed call is not remembered, so a later one tries again.
 */
export function ensureBackend(): Promise<BackendInfo> {
  if (current !== undefined) return Promise.resolve(current);
  if (ensuring === undefined) {
    ensuring = useBackend().finally(() => {
      ensuring = undefined;
    });
  }
  return ensuring;
}

/**
 * How much slower TF.js's plain-JavaScript cpu backend is than wasm, measured on presets.tiny (2 cores,
 * loaded): a forward pass at ℓ = 128 1.14 s vs 0.15 s; a training step of 2 × 64 tokens 6.1 s vs 0.36 s;
 * one of 16 × 128 tokens (the README's example) did not finish in 20 minutes vs 2.2 s.
 */
export const CPU_SLOWDOWN = "8× (a forward pass) to over 100× (a training step of 16 × 128 tokens)";

/**
 * Entry points that start a long computation call this first (through lib/runtime/long-run.ts, which
 * decides "long" by the work's multiply-adds). On TF.js's plain-JavaScript `cpu` backend — because
 * nothing selected a backend (TF.js's default) or "auto" fell back to it — while the wasm backend can
 * be loaded, it throws a BackendError saying why (cpu is CPU_SLOWDOWN slower and holds far more
 * memory) and what to do. Running on cpu anyway is a choice: `useBackend("cpu")` (or
 * CTXLAB_BACKEND=cpu), or `allowCpu` (the entry point's option).
 *
 * @param what - the computation, for the message ("dTraining: 400 steps")
 * @param allowCpu - the caller's explicit consent to run on cpu
 */
export async function refuseSlowBackend(what: string, allowCpu = false): Promise<void> {
  if (allowCpu) return;
  if (tf.getBackend() === undefined) await tf.ready(); // nothing computed yet: the backend the first op would get
  if (tf.getBackend() !== "cpu") return;
  if (current?.active === "cpu" && current.requested === "cpu") return; // asked for by name
  if (current === undefined && process.env[ENV_VAR]?.trim().toLowerCase() === "cpu") return; // CTXLAB_BACKEND=cpu, never passed to useBackend
  const wasm = await loader(PACKAGE.wasm).then(
    () => tf.findBackendFactory("wasm") != null,
    () => false,
  );
  if (!wasm) return;
  throw new BackendError(
    `${what} would run on TF.js's plain-JavaScript "cpu" backend (${current ? `selected by ${current.requested}` : "nothing selected a backend"}), ` +
      `${CPU_SLOWDOWN} slower than wasm and far hungrier for memory, and wasm is available: call \`await useBackend()\` first ` +
      `(it picks the fastest: tfjs-node, else wasm), or choose cpu explicitly with useBackend("cpu"), CTXLAB_BACKEND=cpu or the option allowCpu: true`,
  );
}

/** The current selection, or undefined before the first `useBackend`/`ensureBackend`. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/**
 * Test hook: replaces how optional packages are imported (`null` restores the real dynamic
 * `import()`), and forgets the current selection so the next call selects again. tfjs's active
 * backend is left as it is.
 */
export function _setOptionalLoaderForTests(fn: ((pkg: string) => Promise<unknown>) | null): void {
  loader = fn ?? defaultLoader;
  current = undefined;
}
