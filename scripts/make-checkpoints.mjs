#!/usr/bin/env node
/**
 * The base checkpoints of data/checkpoints/: byte-level models identical but for the positional
 * encoding, pretrained at ℓ_max = 128 from the typed recipes of lib/pretrain/recipes.ts by
 * makeBaseCheckpoint (lib/pretrain/base-report.ts). This script only reads flags and calls it.
 *
 *   npm run build && node scripts/make-checkpoints.mjs                 # every base as committed, one after another
 *   node scripts/make-checkpoints.mjs --only rope --steps 300          # a pilot (= the first 300 steps of the full run)
 *   node scripts/make-checkpoints.mjs --only nope --resume             # continue scratch/checkpoints/nope
 *   node scripts/make-checkpoints.mjs --only rope --decayFrom null      # no final decay of η
 *   node scripts/make-checkpoints.mjs --readme                          # regenerate data/checkpoints/README.md's tables
 * Each base's recipe is baseRecipe(name, flags): the shared defaults, the encoding's own, then the
 * flags (every numeric field of the recipe is a flag of the same name; --phases takes JSON).
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { useBackend, makeBaseCheckpoint, writeReadme, baseRecipe, BASE_ENCODINGS, BASE_RECIPE, ENCODING_RECIPE, tf } from "ctxlab";

/** Kept for importers of this script: the bases, the shared recipe, each encoding's, and the recipe of one base. */
export const ENCODINGS = BASE_ENCODINGS;
export const RECIPE = BASE_RECIPE;
export { ENCODING_RECIPE };
export const recipeFor = (name, flags) => baseRecipe(name, flags);

export function parseArgs(argv) {
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
    else {
      const numeric = Object.keys(RECIPE).filter((k) => typeof RECIPE[k] === "number").map((k) => `--${k}`).join(" ");
      throw new Error(`unknown argument ${a}; flags: --only ${Object.keys(ENCODINGS).join(",")} --out --work --eval-every --save-every --workers --resume --readme --phases '[{"from":0,"weights":{…}},…]' ${numeric}`);
    }
  }
  for (const n of o.only) if (!Object.hasOwn(ENCODINGS, n)) throw new Error(`--only: unknown encoding "${n}"; known: ${Object.keys(ENCODINGS).join(", ")}`);
  o.recipes = Object.fromEntries(o.only.map((n) => [n, recipeFor(n, o.flags)]));
  return o;
}

const pct = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)}%`);

async function main() {
  if (process.argv.includes("--readme")) {
    const i = process.argv.indexOf("--out");
    console.log(`updated ${await writeReadme(i > 0 ? process.argv[i + 1] : "data/checkpoints")}`);
    return;
  }
  const o = parseArgs(process.argv.slice(2));
  // the committed bases were trained with wasm's own matMul: keep the native OpenBLAS kernel (another
  // summation order) off so the same command gives the same weights, unless CTXLAB_NATIVE asks for it
  process.env.CTXLAB_NATIVE ??= "0";
  const info = await useBackend();
  console.log(`backend ${info.active}; models ${o.only.join(", ")}`);
  for (const n of o.only) console.log(`${n}: recipe ${JSON.stringify(o.recipes[n])}`);
  await mkdir(o.out, { recursive: true });
  for (const name of o.only) {
    const opts = { out: o.out, work: join(o.work, name), evalEvery: o.evalEvery, saveEvery: o.saveEvery, workers: o.workers, resume: o.resume, log: (line) => console.log(line) };
    const r = await makeBaseCheckpoint(name, o.recipes[name], opts);
    const s = r.eval;
    const acc = `passkey-compact.jsonl ℓ≤128 ${pct(s["passkey-compact.jsonl"].accuracy)}, sweep ${pct(s["passkey-compact sweep"].accuracy)}, lines ${pct(s["lines-compact.jsonl"].accuracy)}`;
    console.log(`${name}: wrote ${join(o.out, name)} — ${r.steps} steps, ${r.tokens} tokens, loss ${r.final_loss.toFixed(3)}, val ${r.final_val_loss?.toFixed(3)}, ${r.train_time_s} s | ${acc}`);
  }
  console.log(`live tensors ${tf.memory().numTensors}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e?.stack ?? String(e));
    process.exit(1);
  });
}
