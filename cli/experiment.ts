/**
 * `ctxlab experiment context-extension [--quick] [--out report] [--bases rope=dir,learned=dir,…] …`
 * (also `npm run experiment`): lib/extend's headline experiment on the base checkpoints
 * (default: those of data/checkpoints/{rope,learned,alibi,nope} that exist), written as a report
 * folder: index.html (figures, results table, Table 4, environment), the CSV tables and env.json.
 * --quick is a smoke run (a few steps, one example per cell). Ctrl-C stops after the current step or
 * example and writes the report of what finished (status "interrupted").
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { cpus, totalmem, type as osType, release } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../lib/errors.js";
import { contextExtension, DEFAULT_PLAN, type ExperimentOptions } from "../lib/extend/experiment.js";
import { markdownTable, summaryTable, table4, writeReport } from "../lib/extend/report.js";
import { loadCheckpoint } from "../lib/io/checkpoint.js";
import type { DTransformer } from "../lib/model/dtransformer.js";
import { readBaseRecipe, RECIPE_FILE } from "../lib/pretrain/recipes.js";
import { setHost } from "../lib/runtime/context.js";
import { useBackend, type BackendName } from "../lib/tensor/backend.js";
import { CTXLAB_VERSION, TRAINER_STATE_FILE } from "../lib/train/state.js";
import { terminalProgress, type Out } from "./progress.js";

export const EXPERIMENT_FLAGS = ["quick", "out", "bases", "steps", "batch", "lr", "n", "windows", "scale", "curriculum-tokens", "workers", "seed", "self-contained", "recipes", "curriculum", "backend"] as const;
export const EXPERIMENTS = ["context-extension"] as const;
export const DEFAULT_BASE_DIRS: Record<string, string> = { rope: "data/checkpoints/rope", learned: "data/checkpoints/learned", alibi: "data/checkpoints/alibi", nope: "data/checkpoints/nope" };

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
  for (const k of ["out", "backend", "curriculum"] as const) if (typeof flags[k] === "string") (a as unknown as Record<string, unknown>)[k] = flags[k];
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
const QUICK: Partial<ExperimentOptions> = { steps: 4, batch: 2, n: 1, depths: [0, 0.5, 1], windows: 2, snapshots: [0, 2, 4], table4N: 1, table4Depths: [0.5] };

/** Run `ctxlab experiment context-extension`; returns the report's files. */
export async function experimentCommand(a: ExperimentArgs, out: Out, signal?: AbortSignal): Promise<{ files: string[]; status: string }> {
  const dirs = a.bases ?? Object.fromEntries(await Promise.all(Object.entries(DEFAULT_BASE_DIRS).map(async ([k, d]) => [k, (await exists(d)) ? d : null] as const)).then((xs) => xs.filter(([, d]) => d !== null) as [string, string][]));
  if (!Object.keys(dirs).length) throw new ConfigError(`ctxlab experiment: no base checkpoints under data/checkpoints/ (${Object.keys(DEFAULT_BASE_DIRS).join(", ")}); give --bases name=dir,…`);
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
    const r = await contextExtension({
      ...(pretrained ? { pretrained } : {}),
      bases, ...(a.quick ? QUICK : {}), ...(plan ? { plan } : {}),
      ...(pre?.lr ? { curriculumLr: pre.lr } : {}), ...(pre?.warmup !== undefined ? { curriculumWarmup: pre.warmup } : {}), ...(pre?.batchTokens ? { curriculumBatchTokens: pre.batchTokens } : {}),
      ...(pre?.decaySteps ? { curriculumDecaySteps: pre.decaySteps, ...(pre.minLr !== undefined ? { curriculumMinLr: pre.minLr } : {}) } : {}),
      ...Object.fromEntries(Object.entries({ steps: a.steps, batch: a.batch, lr: a.lr, n: a.n, windows: a.windows, scale: a.scale, curriculumTokens, workers: a.workers, seed: a.seed }).filter(([, v]) => v !== undefined)),
      ...(signal ? { signal } : {}), log: (line) => out.write(`${line}\n`),
    });
    const env = {
      experiment: a.name, command: `ctxlab experiment ${process.argv.slice(3).join(" ")}`.trim(), quick: !!a.quick, started, finished: new Date().toISOString(),
      ctxlab: CTXLAB_VERSION, node: process.version, tfjs: tf.version.tfjs, backend: { active: info.active, tf: info.tfBackend, summary: info.summary },
      machine: { os: `${osType()} ${release()}`, cpus: cpus().length, cpu: cpus()[0]?.model ?? null, memory_gib: Number((totalmem() / 2 ** 30).toFixed(1)) },
      bases: provenance, runs: r.runs.objects(),
    };
    const outDir = a.out ?? "report";
    const files = await writeReport(r, outDir, { env, ...(a.selfContained ? { selfContained: true } : {}) });
    out.write(`\n${markdownTable(summaryTable(r))}\n\nTable 4 (k_max after N steps):\n${markdownTable(table4(r))}\n\n${r.status}: wall time ${(r.wallS / 60).toFixed(1)} min; report: ${outDir}/index.html (${files.length} files)\n`);
    return { files, status: r.status };
  } finally {
    setHost(prev);
    for (const m of [...Object.values(bases), ...extra]) m.dispose();
  }
}
