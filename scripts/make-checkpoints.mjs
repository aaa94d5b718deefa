#!/usr/bin/env node
/**
 * The base checkpoints of data/checkpoints/: four byte-level models, identical but for the
 * positional encoding (learned, RoPE, ALiBi, NoPE), pretrained at ℓ_max = 128 on Moby Dick mixed with
 * compact passkey / lines retrieval and a copy task (lib/eval/retrieval-mix.ts).
 *
 *   npm run build && node scripts/make-checkpoints.mjs                 # all four as committed, one after another
 *   node scripts/make-checkpoints.mjs --only rope --steps 300          # a pilot (= the first 300 steps of the full run)
 *   node scripts/make-checkpoints.mjs --only nope --resume             # continue scratch/checkpoints/nope
 *   node scripts/make-checkpoints.mjs --only rope --decayFrom null      # no final decay of η
 * Each encoding's recipe is RECIPE with ENCODING_RECIPE[name] on top (steps, phase 2's start, decayFrom);
 * flags override both. The script can be imported (its main runs only when it is the program).
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
import { fileURLToPath } from "node:url";
import {
  useBackend, DTransformer, presets, positionalFrom, dTraining, loadTrainingState, saveCheckpoint, loadCheckpoint,
  retrievalMixSource, windowSource, textTokens, byteTokenizer, mobyDick, corpusSplit, depthSweep, scoreLogits,
  evaluateExamples, readJsonl, jsonlExamples, tf,
} from "ctxlab";

export const ENCODINGS = { learned: "learned", rope: "rope", alibi: "alibi", nope: "none", sinusoidal: "sinusoidal", bounded: "bounded" };

/** The recipe (defaults); every field can be overridden by a flag of the same name. */
export const RECIPE = {
  seed: 0,
  steps: 2000,
  batch: 16,
  length: 128,
  nLayers: 4,
  nHeads: 4,
  dE: 64,
  dMlp: 256,
  /**
   * std of the weights' initialisation. GPT-2's 0.02 is scaled for d_e = 768; at d_e = 64 it left the
   * copy loss on its plateau for 1,200 steps, 0.125 (≈ 1/√d_e) shortened the plateau severalfold.
   */
  initStd: 0.125,
  /** "constant" (linear warm-up, then lr: a run of k steps is the prefix of any longer run) or "cosine" (to minLr at `steps`) */
  schedule: "constant",
  lr: 2e-3,
  warmup: 30,
  minLr: 2e-4,
  /**
   * With the "constant" schedule: from this step on, η follows a cosine from lr down to minLr at
   * `steps` (warm-up, stable, decay). null: no decay. The run is the exact prefix of a longer run
   * up to this step.
   */
  decayFrom: null,
  weightDecay: 0.1,
  clip: 1,
  /**
   * Row weights by phase: phase p runs from step `from` + 1 to the next phase's `from` (the last to
   * `steps`). Phase 1 is mostly the copy task (the induction signal retrieval needs), phase 2 shifts
   * rows to text, passkeys and lines once the induction head has formed.
   */
  phases: [
    { from: 0, weights: { text: 0.1, passkey: 0.2, lines: 0, copy: 0.7 } },
    { from: 1500, weights: { text: 0.3, passkey: 0.4, lines: 0.1, copy: 0.2 } },
  ],
  piFiller: 0.5,
  minEpisode: 40,
};

const phasesFrom = (from) => [RECIPE.phases[0], { ...RECIPE.phases[1], from }];

/**
 * What each committed checkpoint used on top of RECIPE (data/checkpoints/README.md): learned W_p and
 * NoPE form their induction head later, so they get a longer phase 1 and twice the steps; all four
 * end with a cosine decay of η. Flags override these too.
 */
export const ENCODING_RECIPE = {
  learned: { steps: 5000, decayFrom: 4000, phases: phasesFrom(2500) },
  rope: { steps: 2500, decayFrom: 2000 },
  alibi: { steps: 2500, decayFrom: 2000 },
  nope: { steps: 5000, decayFrom: 3500, phases: phasesFrom(3000) },
  // the question's own proposals: fixed additive absolute encodings, given learned W_p's
  // budget and phases (the closest committed recipe: same seam, same late induction head)
  sinusoidal: { steps: 5000, decayFrom: 4000, phases: phasesFrom(2500) },
  bounded: { steps: 5000, decayFrom: 4000, phases: phasesFrom(2500) },
};

/** The recipe of one model: RECIPE, its encoding's defaults, then the flags; checked. */
export function recipeFor(name, flags) {
  const R = { ...RECIPE, ...ENCODING_RECIPE[name], ...flags };
  if (!["constant", "cosine"].includes(R.schedule)) throw new Error(`--schedule=${R.schedule} must be "constant" or "cosine"`);
  // a shorter run than the default decay point (a pilot) is the undecayed prefix of the full run
  if (!Object.hasOwn(flags, "decayFrom") && R.decayFrom !== null && (R.schedule === "cosine" || R.decayFrom >= R.steps)) R.decayFrom = null;
  const d = R.decayFrom;
  if (d !== null && (!Number.isInteger(d) || d < R.warmup || d >= R.steps || R.schedule !== "constant")) throw new Error(`${name}: --decayFrom=${d} must be an integer step in [warmup=${R.warmup}, steps=${R.steps}) with the "constant" schedule (--decayFrom null: no decay)`);
  return R;
}

function parseArgs(argv) {
  const o = { only: Object.keys(ENCODINGS), out: "data/checkpoints", work: "scratch/checkpoints", evalEvery: 100, saveEvery: 100, workers: 1, resume: false, flags: {} };
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
    else if (a === "--phases") o.flags.phases = JSON.parse(val());
    else if (a === "--schedule") o.flags.schedule = val();
    else if (a === "--decayFrom") o.flags.decayFrom = argv[i + 1] === "null" ? (i++, null) : num("--decayFrom");
    else if (a.startsWith("--") && Object.hasOwn(RECIPE, a.slice(2)) && typeof RECIPE[a.slice(2)] === "number") o.flags[a.slice(2)] = num(a);
    else throw new Error(`unknown argument ${a}; flags: --only learned,rope,alibi,nope --out --work --eval-every --save-every --workers --resume --phases '[{"from":0,"weights":{…}},…]' ${Object.keys(RECIPE).filter((k) => typeof RECIPE[k] === "number").map((k) => `--${k}`).join(" ")}`);
  }
  for (const n of o.only) if (!Object.hasOwn(ENCODINGS, n)) throw new Error(`--only: unknown encoding "${n}"; known: ${Object.keys(ENCODINGS).join(", ")}`);
  o.recipes = Object.fromEntries(o.only.map((n) => [n, recipeFor(n, o.flags)]));
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

/**
 * The induction probe: 8 fixed copy rows (a random a–z0–9 string of 20 characters repeated with " ",
 * seed-independent), scored teacher-forced. Returns the mean loss (nats) on the positions after the
 * first period, the ones an induction head can predict: ≈ ln 37 without induction, → 0 with it.
 */
function copyProbe(model) {
  const A = "abcdefghijklmnopqrstuvwxyz0123456789";
  let x = 12345;
  const rnd = () => (x = (x * 16807) % 2147483647) / 2147483647;
  let sum = 0;
  let count = 0;
  for (let r = 0; r < 8; r++) {
    let s = "";
    for (let i = 0; i < 20; i++) s += A[Math.floor(rnd() * A.length)];
    const ids = [...`${s} `.repeat(8).slice(0, 129)].map((c) => c.charCodeAt(0));
    const lp = tf.tidy(() => tf.logSoftmax(model.logits(ids.slice(0, 128))).arraySync());
    for (let i = 21; i < 128; i++) {
      sum -= lp[i][ids[i + 1]];
      count++;
    }
  }
  return sum / count;
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

/** A mix's description with the given weights (the rest is shared by both phases). */
const phasesDescribe = (weights, source) => ({ ...source.describe(), weights });

/** The architecture: presets.ref's form (untied W_u, tanh GELU) at the recipe's sizes, byte vocabulary. */
const archOf = (R) => ({ ...presets.ref, nVocab: 256, lMax: R.length, nLayers: R.nLayers, nHeads: R.nHeads, dE: R.dE, dMlp: R.dMlp, initStd: R.initStd ?? 0.02 });

const exists = (p) => access(p).then(() => true, () => false);

async function trainOne(name, o) {
  const R = o.recipes[name];
  const work = join(o.work, name);
  const { train, val } = corpusSplit(mobyDick());
  const mix = (weights) => retrievalMixSource({ batch: R.batch, length: R.length, text: train, weights, piFiller: R.piFiller, minEpisode: R.minEpisode });
  const phases = R.phases.map((p, i) => ({ until: Math.min(R.phases[i + 1]?.from ?? R.steps, R.steps), source: mix(p.weights) }));
  // warm-up, η = lr, and from decayFrom a cosine to minLr (lib/train/schedule.ts); "cosine": decay right after the warm-up
  const schedule = R.schedule === "cosine" || R.decayFrom !== null
    ? { kind: "cosine", lr: R.lr, warmup: R.warmup, minLr: R.minLr, total: R.steps, ...(R.decayFrom !== null ? { decayFrom: R.decayFrom } : {}) }
    : { kind: "linear-warmup-constant", lr: R.lr, warmup: R.warmup };
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
      const rec = { step: row.step, loss: +row.loss.toFixed(4), passkey_64: accuracy(pk.filter((r) => r.length === 64)), passkey_128: accuracy(pk.filter((r) => r.length === 128)), lines_128: accuracy(ln), copy_loss: +copyProbe(model).toFixed(4), wall_s: Math.round((performance.now() - t0) / 1000) };
      curve.push(rec);
      console.log(`${name} step ${row.step}/${R.steps} loss ${row.loss.toFixed(3)} val ${row.val_loss?.toFixed(3) ?? "—"} | dev passkey ℓ64 ${pct(rec.passkey_64)} ℓ128 ${pct(rec.passkey_128)} lines ℓ128 ${pct(rec.lines_128)} copy ${rec.copy_loss.toFixed(2)} | ${Math.round(row.tokens_per_s)} tok/s, ${rec.wall_s} s`);
      writeFile(curvePath, toCsv(curve)).catch(() => {});
    } else if (row.step % 25 === 0) {
      console.log(`${name} step ${row.step}/${R.steps} loss ${row.loss.toFixed(3)} lr ${row.lr.toExponential(2)} ${Math.round(row.tokens_per_s)} tok/s`);
    }
  };
  if (resume && !curve.some((c) => c.step === resume.step)) onStep({ ...resume.log.at(-1), step: resume.step }); // the curve's point at the resumed step
  let r;
  for (const ph of phases) {
    if (r && ph.until <= r.step) continue;
    if (!r && resume && ph.until <= resume.step && ph !== phases.at(-1)) continue; // a resumed run past this phase
    const from = r?.state ?? resume;
    r?.optimizer && from !== r.state && r.optimizer.dispose();
    r = await dTraining(model, {
      source: ph.source, steps: ph.until, valSource, onStep, valEvery: o.evalEvery, valBatches: 8,
      schedule, clip: R.clip,
      checkpointDir: work, checkpointEvery: o.saveEvery, workers: o.workers, ...(from ? { resume: from } : { seed: R.seed, optimizer: { weightDecay: R.weightDecay } }),
      run: { recipe: R, encoding: name, phase: phases.indexOf(ph) + 1 },
    });
    if (r.status !== "completed") throw new Error(`${name}: training ${r.status}: ${r.message}`);
  }
  const source = phases.at(-1).source;
  r.optimizer.dispose();
  await writeFile(curvePath, toCsv(curve));
  return { model, r, curve, work, source };
}

async function writeOut(name, o, { model, r, curve, work, source }, wallS) {
  const R = o.recipes[name];
  const D = recipeFor(name, {}); // this encoding's defaults: the command lists what differs
  const ev = await finalEval(model, name);
  const last = r.rows[r.rows.length - 1];
  const lastVal = [...r.rows].reverse().find((x) => x.val_loss !== null);
  const firstAt = (key, thr) => curve.find((c) => c[key] !== null && c[key] >= thr)?.step ?? null;
  const recipe = {
    encoding: name, positional: model.positional.toJSON?.() ?? ENCODINGS[name], command: `node scripts/make-checkpoints.mjs --only ${name}${Object.entries(R).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(D[k])).map(([k, v]) => ` --${k} ${typeof v === "object" ? `'${JSON.stringify(v)}'` : v}`).join("")}`,
    recipe: R, data: R.phases.filter((p) => p.from < R.steps).map((p, i) => ({ steps: `${p.from + 1}–${Math.min(R.phases[i + 1]?.from ?? R.steps, R.steps)}`, ...phasesDescribe(p.weights, source) })), config: archOf(R), parameters: model.numParams(),
    steps: r.step, tokens: last.tokens_seen, final_loss: last.loss, final_val_loss: lastVal?.val_loss ?? null, train_time_s: Math.round(last.time_s), wall_s: Math.round(wallS),
    retrieval_appears: { passkey_128_ge_50: firstAt("passkey_128", 0.5), passkey_128_ge_95: firstAt("passkey_128", 0.95), copy_loss_below_1: curve.find((c) => c.copy_loss !== null && c.copy_loss !== undefined && c.copy_loss < 1)?.step ?? null },
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

const BEGIN = "<!-- BEGIN generated by `node scripts/make-checkpoints.mjs --readme` -->";
const END = "<!-- END generated -->";
const cellPct = (x) => (x === null || x === undefined ? "—" : `${Math.round(100 * x)} %`);

/** The measured tables of data/checkpoints/README.md, from each checkpoint's recipe.json. */
async function readmeTables(out) {
  const recs = [];
  for (const name of Object.keys(ENCODINGS)) {
    const p = join(out, name, "recipe.json");
    if (await exists(p)) recs.push(JSON.parse(await readFile(p, "utf8")));
  }
  const lines = ["| model | steps | tokens | train time | final loss (train / val) | passkey-compact.jsonl ℓ = 64 / 128 | sweep ℓ = 64 / 96 / 128 | lines-compact.jsonl ℓ = 64 / 128 | dev passkey ℓ = 128 ≥ 50 % / ≥ 95 % at step | command |", "|---|---|---|---|---|---|---|---|---|---|"];
  for (const r of recs) {
    const e = r.eval;
    const by = (set, l) => e[set]?.byLength?.[l]?.accuracy;
    lines.push(`| ${r.encoding} | ${r.steps} | ${r.tokens.toLocaleString("en-US")} | ${Math.round(r.train_time_s / 60)} min | ${r.final_loss.toFixed(3)} / ${r.final_val_loss?.toFixed(3) ?? "—"} | ${cellPct(by("passkey-compact.jsonl", 64))} / ${cellPct(by("passkey-compact.jsonl", 128))} | ${[64, 96, 128].map((l) => cellPct(by("passkey-compact sweep", l))).join(" / ")} | ${cellPct(by("lines-compact.jsonl", 64))} / ${cellPct(by("lines-compact.jsonl", 128))} | ${r.retrieval_appears.passkey_128_ge_50 ?? "—"} / ${r.retrieval_appears.passkey_128_ge_95 ?? "—"} | \`${r.command}\` |`);
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
async function writeReadme(out) {
  const p = join(out, "README.md");
  const text = await readFile(p, "utf8");
  const [a, b] = [text.indexOf(BEGIN), text.indexOf(END)];
  if (a < 0 || b < a) throw new Error(`${p}: markers ${BEGIN} … ${END} not found`);
  await writeFile(p, `${text.slice(0, a + BEGIN.length)}\n${await readmeTables(out)}\n${text.slice(b)}`);
  console.log(`updated ${p}`);
}

async function main() {
  if (process.argv.includes("--readme")) {
    const i = process.argv.indexOf("--out");
    return writeReadme(i > 0 ? process.argv[i + 1] : "data/checkpoints");
  }
  const o = parseArgs(process.argv.slice(2));
  const info = await useBackend();
  console.log(`backend ${info.active}; models ${o.only.join(", ")}`);
  for (const n of o.only) console.log(`${n}: recipe ${JSON.stringify(o.recipes[n])}`);
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

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e?.stack ?? String(e));
    process.exit(1);
  });
}
