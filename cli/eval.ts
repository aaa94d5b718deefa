/**
 * `ctxlab eval --checkpoint <dir> --task passkey|lines|kv|perplexity|jsonl:<file> [--lengths 64,128,256]
 * [--depths 0,0.5,1] [--n 5] [--seed 0] [--out results.csv] [--variant standard|compact] [--header]
 * [--filler pi|moby-dick|sotu, or a list: --filler pi,moby-dick,sotu] (passkey haystacks, lib/eval/fillers.ts;
 *   with a list, --n examples per (ℓ, depth, filler), a filler column and accuracy per filler)
 * [--scorer logit|greedy] [--windows 8] [--mode sequential|random|sliding] [--stride S]
 * [--tokenizer byte|gpt2] [--label name] [--backend …]`: runs lib/eval's runEval on a checkpoint, prints
 * a rollup (accuracy per length × depth and k_max, or perplexity per length) and writes the
 * per-example table as CSV (atomically). Ctrl-C stops at the next example and writes what ran.
 */
import type * as aq from "arquero";
import { ConfigError } from "../lib/errors.js";
import type { Tokenizer } from "../lib/data/types.js";
import { accuracyBy, accuracyGrid, formatTable, FILLER_NAMES, kMax, perplexityByLength, runEval, type EvalTask, type FillerName, type PerplexityMode, type RunEvalOptions, type ScorerName } from "../lib/eval/index.js";
import { loadModel } from "../lib/hf/pretrained.js";
import { writeFileAtomic } from "../lib/io/safetensors.js";
import { setHost } from "../lib/runtime/context.js";
import { useBackend, type BackendName } from "../lib/tensor/backend.js";
import { terminalProgress, type Out } from "./progress.js";
import { checkpointTokenizer } from "./generate.js";

export interface EvalArgs {
  checkpoint: string;
  task: string;
  lengths?: number[];
  depths?: number[];
  n?: number;
  seed?: number;
  out?: string;
  variant?: "standard" | "compact";
  header?: boolean;
  /** passkey haystack: "pi" (default), "moby-dick" or "sotu" */
  filler?: FillerName;
  /** several passkey haystacks in one run (runEval's `fillers`) */
  fillers?: FillerName[];
  scorer?: ScorerName;
  windows?: number;
  mode?: PerplexityMode;
  stride?: number;
  tokenizer?: string;
  label?: string;
  backend?: BackendName | "auto";
}

/** Flags `ctxlab eval` accepts (--header is boolean). */
export const EVAL_FLAGS = ["checkpoint", "task", "lengths", "depths", "n", "seed", "out", "variant", "header", "filler", "scorer", "windows", "mode", "stride", "tokenizer", "label", "backend"] as const;

/** Default ℓ values when --lengths is not given (generated tasks and perplexity). */
export const DEFAULT_EVAL_LENGTHS = [64, 128, 256, 512];

function list(v: string | boolean | undefined, name: string, integer: boolean): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : [];
  const xs = parts.map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || (integer && !Number.isInteger(x)))) throw new ConfigError(`--${name} ${String(v)} must be a comma-separated list of ${integer ? "integers" : "numbers"}, e.g. --${name} ${integer ? "64,128,256" : "0,0.5,1"}`);
  return xs;
}

function int(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isInteger(n)) throw new ConfigError(`--${name} ${String(v)} is not an integer`);
  return n;
}

/** EvalArgs from parsed flags (cli/main.ts parseFlags with ["header"] as booleans); unknown flags are errors. */
export function evalArgsFromFlags(flags: Record<string, string | boolean>): EvalArgs {
  for (const k of Object.keys(flags)) if (!(EVAL_FLAGS as readonly string[]).includes(k)) throw new ConfigError(`ctxlab eval: unknown flag --${k}; known: ${EVAL_FLAGS.map((n) => `--${n}`).join(", ")}`);
  const s = (k: string) => (typeof flags[k] === "string" ? (flags[k] as string) : undefined);
  const a: EvalArgs = { checkpoint: s("checkpoint") ?? "", task: s("task") ?? "" };
  const opt = { lengths: list(flags.lengths, "lengths", true), depths: list(flags.depths, "depths", false), n: int(flags.n, "n"), seed: int(flags.seed, "seed"), windows: int(flags.windows, "windows"), stride: int(flags.stride, "stride") };
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) (a as unknown as Record<string, unknown>)[k] = v;
  for (const k of ["out", "variant", "scorer", "mode", "tokenizer", "label", "backend"] as const) if (s(k) !== undefined) (a as unknown as Record<string, unknown>)[k] = s(k);
  if (flags.header) a.header = true;
  if (flags.filler !== undefined) {
    const names = typeof flags.filler === "string" ? flags.filler.split(",") : [];
    const bad = names.find((f) => !(FILLER_NAMES as readonly string[]).includes(f));
    if (!names.length || bad !== undefined) throw new ConfigError(`--filler ${String(flags.filler)}: use one of ${FILLER_NAMES.join(", ")}, or a comma-separated list of them${bad !== undefined && names.length > 1 ? ` ("${bad}" is none)` : ""}`);
    if (new Set(names).size !== names.length) throw new ConfigError(`--filler ${flags.filler}: each filler once`);
    if (names.length === 1) a.filler = names[0] as FillerName;
    else a.fillers = names as FillerName[];
  }
  return a;
}

/** The checkpoint's tokenizer: --tokenizer, else the run config beside it, else by N_V. */
export function evalTokenizer(dir: string, nVocab: number, explicit?: string): Promise<Tokenizer> {
  return checkpointTokenizer(dir, nVocab, explicit, "eval");
}

/** The rollup printed after a run. */
export function evalSummary(table: aq.ColumnTable, task: string): string {
  if (task === "perplexity") return formatTable(perplexityByLength(table));
  const k = (kMax(table).objects() as { method: string; k_max: number | null }[]).map((r) => `${r.method}: ${r.k_max ?? "none"}`).join("; ");
  const perFiller = table.columnNames().includes("filler") ? `\naccuracy per filler (95 % Wilson):\n${formatTable(accuracyBy(table, ["filler", "length"]).select("method", "filler", "length", "n", "accuracy", "lo", "hi"))}` : "";
  return `${formatTable(accuracyGrid(table))}\nk_max (accuracy ≥ 0.2 at ℓ and every shorter ℓ): ${k}${perFiller}`;
}

/** Run `ctxlab eval`; returns the per-example (or per-window) table. */
export async function evalCommand(a: EvalArgs, out: Out, signal?: AbortSignal): Promise<aq.ColumnTable> {
  if (!a.checkpoint) throw new ConfigError("ctxlab eval: give --checkpoint <dir>");
  if (!a.task) throw new ConfigError("ctxlab eval: give --task passkey|lines|kv|perplexity|jsonl:<file>");
  const info = await useBackend(a.backend ?? "auto");
  out.write(`${info.summary}\n`);
  const model = await loadModel(a.checkpoint); // ctxlab checkpoint, HF directory or hub id
  const prev = setHost({ progress: (label, total) => terminalProgress(out, label, total) });
  try {
    const tok = await evalTokenizer(a.checkpoint, model.cfg.nVocab, a.tokenizer);
    const generated = !a.task.startsWith("jsonl:");
    const { checkpoint: _c, task: _t, out: _o, backend: _b, tokenizer: _k, ...rest } = a;
    const opts: RunEvalOptions = { ...rest, tokenizer: tok, ...(generated && !a.lengths ? { lengths: DEFAULT_EVAL_LENGTHS } : {}), ...(signal ? { signal } : {}) };
    out.write(`model: ${model.positional.label}, ℓ_max=${model.cfg.lMax}, tokenizer ${tok.name}; task ${a.task}\n`);
    const table = await runEval(model, a.task as EvalTask, opts);
    out.write(`${evalSummary(table, a.task)}\n`);
    if (a.out) {
      await writeFileAtomic(a.out, table.toCSV()); // no trailing newline: arquero would read it as an empty row
      out.write(`wrote ${table.numRows()} rows to ${a.out}\n`);
    }
    return table;
  } finally {
    setHost(prev);
    model.dispose();
  }
}
