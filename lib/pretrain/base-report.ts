/**
 * What a base checkpoint records about itself: the final evaluation (eval.json, eval.csv), its
 * recipe.json (the typed recipe, the command that reproduces it, the data, the results and when
 * retrieval appeared), the atomic write of the whole directory, and the generated tables of
 * data/checkpoints/README.md.
 */
import { access, copyFile, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { byteTokenizer } from "../data/tokenizer.js";
import { evaluateExamples } from "../eval/index.js";
import { jsonlExamples, readJsonl } from "../eval/jsonl.js";
import { depthSweep } from "../eval/tasks.js";
import type { EvalExample } from "../eval/types.js";
import { loadCheckpoint, saveCheckpoint } from "../io/checkpoint.js";
import type { DTransformer } from "../model/dtransformer.js";
import { rowsCsv, trainBase, type TrainBaseOptions, type TrainedBase } from "./base-checkpoint.js";
import { BASE_ENCODINGS, baseArchitecture, phaseSpans, RECIPE_FILE, recipeCommand, type BaseName, type BaseRecipe } from "./recipes.js";

const tok = byteTokenizer({ specials: false });
const exists = (p: string) => access(p).then(() => true, () => false);

type Acc = { accuracy: number | null; n: number };
/** One evaluated set: overall, by ℓ, by ℓ and depth. */
export interface SetEval extends Acc {
  byLength: Record<string, Acc>;
  byLengthDepth: Record<string, Record<string, Acc>>;
}
type Row = { length: number; depth: number; correct: boolean | null };

function accuracy(rows: readonly Row[]): number | null {
  const ran = rows.filter((r) => r.correct !== null && r.correct !== undefined);
  return ran.length ? ran.reduce((s, r) => s + Number(r.correct), 0) / ran.length : null;
}

/** Accuracy by key(row), as { key: { accuracy, n } } with keys in ascending order. */
function accuracyBy(rows: readonly Row[], key: (r: Row) => number): Record<string, Acc> {
  const groups = new Map<number, Row[]>();
  for (const r of rows) (groups.get(key(r)) ?? groups.set(key(r), []).get(key(r))!).push(r);
  return Object.fromEntries([...groups.keys()].sort((a, b) => a - b).map((k) => [k, { accuracy: accuracy(groups.get(k)!), n: groups.get(k)!.length }]));
}

/** The final evaluation: the committed evalsets at ℓ ≤ 128 and a larger generated sweep. */
export async function finalEval(model: DTransformer, name: string, evalsets = "data/evalsets", o: { allowCpu?: boolean } = {}): Promise<{ sets: Record<string, SetEval>; csv: object[] }> {
  const sets: Record<string, SetEval> = {};
  const csv: object[] = [];
  const add = async (label: string, examples: EvalExample[]) => {
    const rows = (await evaluateExamples(model, examples, tok, { label: name, ...(o.allowCpu ? { allowCpu: true } : {}) })).objects() as Row[];
    for (const r of rows) csv.push({ set: label, ...r });
    const byL = new Map<number, Row[]>();
    for (const r of rows) (byL.get(r.length) ?? byL.set(r.length, []).get(r.length)!).push(r);
    sets[label] = { accuracy: accuracy(rows), n: rows.length, byLength: accuracyBy(rows, (r) => r.length), byLengthDepth: Object.fromEntries([...byL].map(([l, rs]) => [l, accuracyBy(rs, (r) => r.depth)])) };
  };
  for (const f of ["passkey-compact", "lines-compact"]) {
    const items = await readJsonl(join(evalsets, `${f}.jsonl`));
    await add(`${f}.jsonl`, jsonlExamples(items, tok).filter((e) => e.length <= 128));
  }
  await add("passkey-compact sweep", depthSweep("passkey", tok, { lengths: [64, 96, 128], depths: Array.from({ length: 11 }, (_, i) => i / 10), n: 10, variant: "compact", seed: "final" }));
  return { sets, csv };
}

/** The recipe.json of a trained base. */
export function recordOf(name: BaseName, R: BaseRecipe, t: TrainedBase, sets: Record<string, SetEval>, wallS: number) {
  const { model, result: r, curve, source } = t;
  const last = r.rows[r.rows.length - 1]!;
  const lastVal = [...r.rows].reverse().find((x) => x.val_loss !== null);
  const firstAt = (key: "passkey_128", thr: number) => curve.find((c) => c[key] !== null && c[key]! >= thr)?.step ?? null;
  return {
    encoding: name, positional: model.positional.toJSON(), command: recipeCommand(name, R),
    recipe: R, data: phaseSpans(R).map((p) => ({ steps: `${p.first}–${p.until}`, ...source.describe(), weights: p.weights })), config: baseArchitecture(R), parameters: model.numParams(),
    steps: r.step, tokens: last.tokens_seen, final_loss: last.loss, final_val_loss: lastVal?.val_loss ?? null, train_time_s: Math.round(last.time_s), wall_s: Math.round(wallS),
    retrieval_appears: { passkey_128_ge_50: firstAt("passkey_128", 0.5), passkey_128_ge_95: firstAt("passkey_128", 0.95), copy_loss_below_1: curve.find((c) => c.copy_loss !== null && c.copy_loss !== undefined && c.copy_loss < 1)?.step ?? null },
    eval: sets, ctxlab: "scripts/make-checkpoints.mjs",
  };
}
export type BaseRecord = ReturnType<typeof recordOf>;

/** Evaluate a trained base and write `out/<name>/` atomically (see the header of base-checkpoint.ts). */
export async function writeBase(name: BaseName, R: BaseRecipe, t: TrainedBase, out: string, wallS: number, o: { allowCpu?: boolean } = {}): Promise<BaseRecord> {
  const ev = await finalEval(t.model, name, undefined, o);
  const record = recordOf(name, R, t, ev.sets, wallS);
  const tmp = resolve(out, `.${name}.tmp-${process.pid}`);
  const dest = resolve(out, name);
  await rm(tmp, { recursive: true, force: true });
  await saveCheckpoint(t.model, tmp, { metadata: { ctxlab_recipe: `make-checkpoints ${name} seed ${R.seed} steps ${t.result.step}` } });
  await copyFile(join(t.work, "metrics.csv"), join(tmp, "metrics.csv"));
  await writeFile(join(tmp, "passkey-curve.csv"), rowsCsv(t.curve));
  await writeFile(join(tmp, "eval.csv"), rowsCsv(ev.csv));
  await writeFile(join(tmp, "eval.json"), JSON.stringify(ev.sets, null, 2) + "\n");
  await writeFile(join(tmp, RECIPE_FILE), JSON.stringify(record, null, 2) + "\n");
  await loadCheckpoint(tmp).then((m) => m.dispose()); // the written directory loads before it replaces the old one
  const old = resolve(out, `.${name}.old-${process.pid}`);
  if (await exists(dest)) await rename(dest, old);
  await rename(tmp, dest);
  await rm(old, { recursive: true, force: true });
  return record;
}

/** Train, evaluate and write one base checkpoint; returns its recipe.json. */
export async function makeBaseCheckpoint(name: BaseName, R: BaseRecipe, o: TrainBaseOptions & { out?: string } = {}): Promise<BaseRecord> {
  const t0 = performance.now();
  const t = await trainBase(name, R, o);
  try {
    return await writeBase(name, R, t, o.out ?? "data/checkpoints", (performance.now() - t0) / 1000, o.allowCpu ? { allowCpu: true } : {});
  } finally {
    t.model.dispose();
  }
}

const BEGIN = "<!-- BEGIN generated by `node scripts/make-checkpoints.mjs --readme` -->";
const END = "<!-- END generated -->";
const cellPct = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${Math.round(100 * x)} %`);

/** The measured tables of data/checkpoints/README.md, from each checkpoint's recipe.json. */
export async function readmeTables(out: string): Promise<string> {
  const recs: BaseRecord[] = [];
  for (const name of Object.keys(BASE_ENCODINGS)) {
    const p = join(out, name, RECIPE_FILE);
    if (await exists(p)) recs.push(JSON.parse(await readFile(p, "utf8")) as BaseRecord);
  }
  const lines = ["| model | steps | tokens | train time | final loss (train / val) | passkey-compact.jsonl ℓ = 64 / 128 | sweep ℓ = 64 / 96 / 128 | lines-compact.jsonl ℓ = 64 / 128 | dev passkey ℓ = 128 ≥ 50 % / ≥ 95 % at step | command |", "|---|---|---|---|---|---|---|---|---|---|"];
  for (const r of recs) {
    const by = (set: string, l: number) => r.eval[set]?.byLength?.[l]?.accuracy;
    const loss = `${r.final_loss.toFixed(3)} / ${r.final_val_loss?.toFixed(3) ?? "—"}`;
    const evalset = (set: string) => `${cellPct(by(set, 64))} / ${cellPct(by(set, 128))}`;
    const sweep = [64, 96, 128].map((l) => cellPct(by("passkey-compact sweep", l))).join(" / ");
    const appears = `${r.retrieval_appears.passkey_128_ge_50 ?? "—"} / ${r.retrieval_appears.passkey_128_ge_95 ?? "—"}`;
    lines.push(`| ${r.encoding} | ${r.steps} | ${r.tokens.toLocaleString("en-US")} | ${Math.round(r.train_time_s / 60)} min | ${loss} | ${evalset("passkey-compact.jsonl")} | ${sweep} | ${evalset("lines-compact.jsonl")} | ${appears} | \`${r.command}\` |`);
  }
  const depths = Array.from({ length: 11 }, (_, i) => i / 10);
  lines.push("", "Passkey (compact) accuracy by needle depth, generated sweep (seed \"final\", 10 examples per cell), ℓ = 64 / 128:", "", `| model | ${depths.join(" | ")} |`, `|---|${depths.map(() => "---").join("|")}|`);
  for (const r of recs) {
    const g = r.eval["passkey-compact sweep"]?.byLengthDepth ?? {};
    lines.push(`| ${r.encoding} | ${depths.map((d) => `${cellPct(g[64]?.[d]?.accuracy)} / ${cellPct(g[128]?.[d]?.accuracy)}`).join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Replaces the generated part of <out>/README.md (between the markers) with the current tables. */
export async function writeReadme(out: string): Promise<string> {
  const p = join(out, "README.md");
  const text = await readFile(p, "utf8");
  const [a, b] = [text.indexOf(BEGIN), text.indexOf(END)];
  if (a < 0 || b < a) throw new Error(`${p}: markers ${BEGIN} … ${END} not found`);
  await writeFile(p, `${text.slice(0, a + BEGIN.length)}\n${await readmeTables(out)}\n${text.slice(b)}`);
  return p;
}
