#!/usr/bin/env node
/**
 * The base checkpoints of data/checkpoints/ (issue 7): four byte-level models, identical but for the
 * positional encoding (learned, RoPE, ALiBi, NoPE), pretrained at ℓ_max = 128 on Moby Dick mixed with
 * compact passkey / lines retrieval and a copy task (lib/eval/retrieval-mix.ts).
 *
 *   npm run build && node scripts/make-checkpoints.mjs                 # all four, one after another
 *   node scripts/make-checkpoints.mjs --only rope --steps 300          # a pilot
 *   node scripts/make-checkpoints.mjs --only nope --resume             # continue scratch/checkpoints/nope
 *
 * Per model: trains with dTraining (resumable snapshots in --work/<name>/, every --save-every steps),
 * prints progress, measures compact-passkey accuracy on a dev sweep every --eval-every steps
 * (passkey-curve.csv: when retrieval appears), then evaluates the final model on
 * data/evalsets/passkey-compact.jsonl and lines-compact.jsonl at ℓ ≤ 128 and on a larger generated
 * sweep (ℓ 64, 96, 128 × depths 0, 0.1, …, 1 × 10), and writes --out/<name>/ atomically (built in a
 * temporary directory, then renamed): config.json, model.safetensors, metrics.csv, passkey-curve.csv,
 * eval.json, eval.csv, recipe.json. Same seed and options → same weights (single worker; with
 * --workers 2 the gradient is summed in a fixed order, equal up to float32 rounding).
 */
import { mkdir, readFile, rename, rm, writeFile, copyFile, access } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  useBackend, DTransformer, presets, positionalFrom, dTraining, loadTrainingState, saveCheckpoint, loadCheckpoint,
  retrievalMixSource, windowSource, textTokens, byteTokenizer, mobyDick, corpusSplit, depthSweep, scoreLogits,
  evaluateExamples, readJsonl, jsonlExamples, tf,
} from "ctxlab";

export const ENCODINGS = { learned: "learned", rope: "rope", alibi: "alibi", nope: "none" };

/** The recipe (defaults); every field can be overridden by a flag of the same name. */
export const RECIPE = {
  seed: 0,
  steps: 800,
  batch: 8,
  length: 128,
  nLayers: 4,
  nHeads: 4,
  dE: 64,
  dMlp: 256,
  /** "constant" (linear warm-up, then lr: a run of k steps is the prefix of any longer run) or "cosine" (to minLr at `steps`) */
  schedule: "constant",
  lr: 2e-3,
  warmup: 30,
  minLr: 2e-4,
  weightDecay: 0.1,
  clip: 1,
  weights: { text: 0.3, passkey: 0.45, lines: 0.1, copy: 0.15 },
  piFiller: 0.5,
  minEpisode: 40,
};

function parseArgs(argv) {
  const o = { only: Object.keys(ENCODINGS), out: "data/checkpoints", work: "scratch/checkpoints", evalEvery: 100, saveEvery: 100, workers: 1, resume: false, recipe: { ...RECIPE } };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = (what) => {
      const v = Number(val());
      if (!Number.isFinite(v)) throw new Error(`${what}=${argv[i]} must be a number`);
      return v;
    };
    if (a === "--only") o.only = val().split(",");
    else if (a === "--out") o.out = val();
    else if (a === "--work") o.work = val();
    else if (a === "--eval-every") o.evalEvery = num("--eval-every");
    else if (a === "--save-every") o.saveEvery = num("--save-every");
    else if (a === "--workers") o.workers = num("--workers");
    else if (a === "--resume") o.resume = true;
    else if (a === "--weights") o.recipe.weights = JSON.parse(val());
    else if (a === "--schedule") o.recipe.schedule = val();
    else if (a.startsWith("--") && Object.hasOwn(RECIPE, a.slice(2)) && typeof RECIPE[a.slice(2)] === "number") o.recipe[a.slice(2)] = num(a);
    else throw new Error(`unknown argument ${a}; flags: --only learned,rope,alibi,nope --out --work --eval-every --save-every --workers --resume --weights '{json}' ${Object.keys(RECIPE).filter((k) => typeof RECIPE[k] === "number").map((k) => `--${k}`).join(" ")}`);
  }
  if (!["constant", "cosine"].includes(o.recipe.schedule)) throw new Error(`--schedule=${o.recipe.schedule} must be "constant" or "cosine"`);
  for (const n of o.only) if (!Object.hasOwn(ENCODINGS, n)) throw new Error(`--only: unknown encoding "${n}"; known: ${Object.keys(ENCODINGS).join(", ")}`);
  return o;
}

const tok = byteTokenizer({ specials: false });
const pct = (x) => (x === null ? "—" : `${(100 * x).toFixed(1)}%`);

/** Accuracy of a list of rows { correct } (null rows ignored). */
function accuracy(rows) {
  const ran = rows.filter((r) => r.correct !== null && r.correct !== undefined);
  return ran.length ? ran.reduce((s, r) => s + r.correct, 0) / ran.length : null;
}

/** Accuracy by key(row), as { key: { accuracy, n } } with sorted keys. */
function accuracyBy(rows, key) {
  const groups = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  return Object.fromEntries([...groups.keys()].sort((a, b) => a - b).map((k) => [k, { accuracy: accuracy(groups.get(k)), n: groups.get(k).length }]));
}

/** The dev sweep watched during training (seed "dev": disjoint from the committed evalsets' seed 0). */
function devExamples() {
  const pk = depthSweep("passkey", tok, { lengths: [64, 128], depths: [0, 0.25, 0.5, 0.75, 1], n: 4, variant: "compact", seed: "dev" });
  const ln = depthSweep("lines", tok, { lengths: [128], depths: [0, 0.5, 1], n: 4, variant: "compact", seed: "dev" });
  return { pk, ln };
}

/** Synchronous teacher-forced accuracy (runs inside onStep). */
function quickAccuracy(model, examples) {
  return examples.map((ex) => ({ length: ex.length, correct: scoreLogits(model, ex, tok).correct }));
}

/** The final evaluation: committed evalsets at ℓ ≤ 128 and a larger generated sweep. */
async function finalEval(model, name) {
  const sets = {};
  const csv = [];
  const add = async (label, examples) => {
    const t = await evaluateExamples(model, examples, tok, { label: name });
    const rows = t.objects();
    for (const r of rows) csv.push({ set: label, ...r });
    sets[label] = { accuracy: accuracy(rows), n: rows.length, byLength: accuracyBy(rows, (r) => r.length), byLengthDepth: Object.fromEntries(Object.entries(groupByLength(rows)).map(([l, rs]) => [l, accuracyBy(rs, (r) => r.depth)])) };
  };
  for (const f of ["passkey-compact", "lines-compact"]) {
    const items = await readJsonl(`data/evalsets/${f}.jsonl`);
    await add(`${f}.jsonl`, jsonlExamples(items, tok).filter((e) => e.length <= 128));
  }
  await add("passkey-compact sweep", depthSweep("passkey", tok, { lengths: [64, 96, 128], depths: Array.from({ length: 11 }, (_, i) => i / 10), n: 10, variant: "compact", seed: "final" }));
  return { sets, csv };
}

function groupByLength(rows) {
  const g = {};
  for (const r of rows) (g[r.length] ??= []).push(r);
  return g;
}

function toCsv(rows) {
  if (!rows.length) return "";
  const cols = Object.keys(rows[0]);
  const cell = (v) => (v === null || v === undefined ? "" : typeof v === "string" && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

/** The architecture: presets.ref's form (untied W_u, tanh GELU) at the recipe's sizes, byte vocabulary. */
const archOf = (R) => ({ ...presets.ref, nVocab: 256, lMax: R.length, nLayers: R.nLayers, nHeads: R.nHeads, dE: R.dE, dMlp: R.dMlp });

const exists = (p) => access(p).then(() => true, () => false);

async function trainOne(name, o) {
  const R = o.recipe;
  const work = join(o.work, name);
  const { train, val } = corpusSplit(mobyDick());
  const source = retrievalMixSource({ batch: R.batch, length: R.length, text: train, weights: R.weights, piFiller: R.piFiller, minEpisode: R.minEpisode });
  const valSource = windowSource(textTokens(val, tok), { batch: 8, length: R.length });
  const cfg = { ...archOf(R), positional: positionalFrom(ENCODINGS[name]) };
  const curvePath = join(work, "passkey-curve.csv");
  let resume;
  let model;
  let curve = [];
  if (o.resume && (await exists(join(work, "trainer-state.json")))) {
    resume = await loadTrainingState(work);
    model = resume.model;
    if (await exists(curvePath)) {
      const [head, ...lines] = (await readFile(curvePath, "utf8")).trim().split("\n");
      const cols = head.split(",");
      curve = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v === "" ? null : Number(v)]))).filter((r) => r.step <= resume.step);
    }
    console.log(`${name}: resuming from step ${resume.step}`);
  } else {
    await rm(work, { recursive: true, force: true });
    model = DTransformer.create(cfg, R.seed);
  }
  await mkdir(work, { recursive: true });
  const dev = devExamples();
  const t0 = performance.now();
  const onStep = (row) => {
    if (row.step % o.evalEvery === 0 || row.step === R.steps) {
      const pk = quickAccuracy(model, dev.pk);
      const ln = quickAccuracy(model, dev.ln);
      const rec = { step: row.step, loss: +row.loss.toFixed(4), passkey_64: accuracy(pk.filter((r) => r.length === 64)), passkey_128: accuracy(pk.filter((r) => r.length === 128)), lines_128: accuracy(ln), wall_s: Math.round((performance.now() - t0) / 1000) };
      curve.push(rec);
      console.log(`${name} step ${row.step}/${R.steps} loss ${row.loss.toFixed(3)} val ${row.val_loss?.toFixed(3) ?? "—"} | dev passkey ℓ64 ${pct(rec.passkey_64)} ℓ128 ${pct(rec.passkey_128)} lines ℓ128 ${pct(rec.lines_128)} | ${Math.round(row.tokens_per_s)} tok/s, ${rec.wall_s} s`);
      writeFile(curvePath, toCsv(curve)).catch(() => {});
    } else if (row.step % 25 === 0) {
      console.log(`${name} step ${row.step}/${R.steps} loss ${row.loss.toFixed(3)} lr ${row.lr.toExponential(2)} ${Math.round(row.tokens_per_s)} tok/s`);
    }
  };
  const r = await dTraining(model, {
    source, steps: R.steps, seed: R.seed, valSource, valEvery: o.evalEvery, valBatches: 8,
    schedule: R.schedule === "cosine" ? { kind: "cosine", lr: R.lr, warmup: R.warmup, minLr: R.minLr } : { kind: "linear-warmup-constant", lr: R.lr, warmup: R.warmup }, optimizer: { weightDecay: R.weightDecay }, clip: R.clip,
    checkpointDir: work, checkpointEvery: o.saveEvery, workers: o.workers, ...(resume ? { resume } : {}),
    run: { recipe: R, encoding: name },
  });
  r.optimizer.dispose();
  await writeFile(curvePath, toCsv(curve));
  if (r.status !== "completed") throw new Error(`${name}: training ${r.status}: ${r.message}`);
  return { model, r, curve, work, source };
}

async function writeOut(name, o, { model, r, curve, work, source }, wallS) {
  const R = o.recipe;
  const ev = await finalEval(model, name);
  const last = r.rows[r.rows.length - 1];
  const lastVal = [...r.rows].reverse().find((x) => x.val_loss !== null);
  const firstAt = (key, thr) => curve.find((c) => c[key] !== null && c[key] >= thr)?.step ?? null;
  const recipe = {
    encoding: name, positional: model.positional.toJSON?.() ?? ENCODINGS[name], command: `node scripts/make-checkpoints.mjs --only ${name}${Object.entries(R).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(RECIPE[k])).map(([k, v]) => ` --${k} ${typeof v === "object" ? `'${JSON.stringify(v)}'` : v}`).join("")}`,
    recipe: R, data: source.describe(), config: archOf(R), parameters: model.numParams(),
    steps: r.step, tokens: last.tokens_seen, final_loss: last.loss, final_val_loss: lastVal?.val_loss ?? null, train_time_s: Math.round(last.time_s), wall_s: Math.round(wallS),
    retrieval_appears: { passkey_128_ge_50: firstAt("passkey_128", 0.5), passkey_128_ge_95: firstAt("passkey_128", 0.95) },
    eval: ev.sets, ctxlab: "scripts/make-checkpoints.mjs",
  };
  const tmp = resolve(o.out, `.${name}.tmp-${process.pid}`);
  const dest = resolve(o.out, name);
  await rm(tmp, { recursive: true, force: true });
  await saveCheckpoint(model, tmp, { metadata: { ctxlab_recipe: `make-checkpoints ${name} seed ${R.seed} steps ${r.step}` } });
  await copyFile(join(work, "metrics.csv"), join(tmp, "metrics.csv"));
  await writeFile(join(tmp, "passkey-curve.csv"), toCsv(curve));
  await writeFile(join(tmp, "eval.csv"), toCsv(ev.csv));
  await writeFile(join(tmp, "eval.json"), JSON.stringify(ev.sets, null, 2) + "\n");
  await writeFile(join(tmp, "recipe.json"), JSON.stringify(recipe, null, 2) + "\n");
  await loadCheckpoint(tmp); // the written directory loads before it replaces the old one
  const old = resolve(o.out, `.${name}.old-${process.pid}`);
  if (await exists(dest)) await rename(dest, old);
  await rename(tmp, dest);
  await rm(old, { recursive: true, force: true });
  return recipe;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const info = await useBackend();
  console.log(`backend ${info.active}; models ${o.only.join(", ")}; recipe ${JSON.stringify(o.recipe)}`);
  await mkdir(o.out, { recursive: true });
  for (const name of o.only) {
    const t0 = performance.now();
    const trained = await trainOne(name, o);
    const recipe = await writeOut(name, o, trained, (performance.now() - t0) / 1000);
    trained.model.dispose?.();
    const s = recipe.eval;
    console.log(`${name}: wrote ${join(o.out, name)} — ${recipe.steps} steps, ${recipe.tokens} tokens, loss ${recipe.final_loss.toFixed(3)}, val ${recipe.final_val_loss?.toFixed(3)}, ${recipe.train_time_s} s | passkey-compact.jsonl ℓ≤128 ${pct(s["passkey-compact.jsonl"].accuracy)}, sweep ${pct(s["passkey-compact sweep"].accuracy)}, lines ${pct(s["lines-compact.jsonl"].accuracy)}`);
  }
  console.log(`live tensors ${tf.memory().numTensors}`);
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
