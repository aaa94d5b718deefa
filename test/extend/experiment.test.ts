/** The context-extension experiment (lib/extend/experiment.ts, report.ts, cli/experiment.ts) as a smoke run on tiny bases. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as aq from "arquero";
import { experimentArgs, experimentCommand, pretraining } from "../../cli/experiment.js";
import { contextExtension, experimentSettings, summaryTable, table4, writeReport, type ExperimentResult } from "../../lib/extend/index.js";
import { saveCheckpoint } from "../../lib/io/checkpoint.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { positionalFrom } from "../../lib/positional/index.js";
import { testBackend } from "../helpers/setup.js";

const tiny = { nVocab: 256, lMax: 64, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32 };
const text = "It was the best of times, it was the worst of times, it was the age of wisdom. ".repeat(60);
const bases: Record<string, DTransformer> = {};
let tmp = "";
let result: ExperimentResult;

before(async () => {
  await testBackend();
  tmp = mkdtempSync(join(tmpdir(), "ctxlab-experiment-"));
  for (const [k, pe] of [["rope", "rope"], ["learned", "learned"], ["alibi", "alibi"], ["nope", "none"]] as const) {
    bases[k] = DTransformer.create({ ...tiny, positional: positionalFrom(pe) }, 1);
    await saveCheckpoint(bases[k]!, join(tmp, k));
  }
  result = await contextExtension({ bases, text, scale: 2, steps: 2, batch: 2, n: 1, depths: [0, 1], windows: 1, snapshots: [0, 2], table4N: 1, table4Depths: [1], curriculumBatchTokens: 256, seed: 3 });
});
after(() => {
  for (const m of Object.values(bases)) m.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe("contextExtension (smoke: every recipe of the plan on tiny bases)", () => {
  it("runs the whole plan: 13 methods, each evaluated at ℓ_max·{1, 2, 4, 8}", () => {
    assert.equal(result.status, "completed");
    const methods = result.runs.array("method") as string[];
    assert.equal(methods.length, 13);
    assert.ok(methods.includes("pi-ft (rope)") && methods.includes("learned-extend-ft (learned)") && methods.includes("curriculum (rope)") && methods.includes("extrapolate (alibi)"));
    assert.equal(result.passkey.numRows(), 13 * 4 * 2);
    assert.deepEqual([...new Set(result.passkey.array("length") as number[])], [64, 128, 256, 512]);
    const trained = result.runs.objects().filter((r) => (r as { training: string }).training !== "none") as { steps: number }[];
    assert.equal(trained.length, 5);
    assert.ok(trained.every((r) => r.steps >= 1));
  });
  it("learned positions: zero-shot rows past ℓ_max are errors; the extended table runs to ℓ' only", () => {
    const rows = result.passkey.objects() as { method: string; length: number; error: string | null }[];
    const err = (m: string, l: number) => rows.filter((r) => r.method === m && r.length === l).map((r) => r.error);
    assert.deepEqual(err("extrapolate (learned)", 64), [null, null]);
    assert.deepEqual(err("extrapolate (learned)", 128), ["ℓ > ℓ_max", "ℓ > ℓ_max"]);
    assert.deepEqual(err("learned-extend-ft (learned)", 128), [null, null]);
    assert.deepEqual(err("learned-extend-ft (learned)", 256), ["ℓ > ℓ_max", "ℓ > ℓ_max"]);
  });
  it("summary and Table 4 have PI's shape: k_max after each snapshot for pi-ft and ft", () => {
    const s = summaryTable(result);
    assert.deepEqual(s.columnNames(), ["method", "recipe", "base", "steps", "acc_64", "acc_128", "acc_256", "acc_512", "ppl_64", "ppl_128", "ppl_256", "ppl_512", "k_max"]);
    assert.equal(s.numRows(), 13);
    const ppl = s.objects() as Record<string, number | null>[];
    assert.ok(ppl.every((r) => r.ppl_64 !== null && r.ppl_64! > 1), "every method has a perplexity at ℓ_max");
    const t = table4(result);
    assert.deepEqual(t.array("method"), ["pi-ft (rope)", "ft (rope)"]);
    assert.deepEqual(t.columnNames(), ["method", "target_length", "k_max@0", "acc_128@0", "k_max@2", "acc_128@2"]);
  });
  it("writes the report folder: index.html with every figure, CSVs that parse back, env.json", async () => {
    const dir = join(tmp, "report");
    const files = await writeReport(result, dir, { env: { note: "test" } });
    assert.equal(files.length, 9);
    const html = readFileSync(join(dir, "index.html"), "utf8");
    for (const id of ["accuracy-length", "accuracy-depth-target", "perplexity-length", "table4", "training", "depth-length"]) assert.match(html, new RegExp(`id="${id}"`));
    assert.match(html, /<script src="[^"]*node_modules\/plotly\.js-dist-min\/plotly\.min\.js"><\/script>/);
    assert.ok(html.length < 2e6, "plotly.js is not inlined");
    assert.equal(aq.fromCSV(readFileSync(join(dir, "passkey.csv"), "utf8")).numRows(), result.passkey.numRows());
    assert.equal(aq.fromCSV(readFileSync(join(dir, "summary.csv"), "utf8")).numRows(), 13);
    const env = JSON.parse(readFileSync(join(dir, "env.json"), "utf8"));
    assert.equal(env.note, "test");
    assert.equal(env.settings.targetLength, 128);
    assert.ok(!existsSync(`${dir}.tmp-${process.pid}`));
    // writing again keeps a README.md written beside the report and replaces everything else
    writeFileSync(join(dir, "README.md"), "# my write-up\n");
    writeFileSync(join(dir, "stale.png"), "x");
    await writeReport(result, dir, { env: { note: "again" } });
    assert.equal(readFileSync(join(dir, "README.md"), "utf8"), "# my write-up\n");
    assert.ok(!existsSync(join(dir, "stale.png")));
    assert.equal(JSON.parse(readFileSync(join(dir, "env.json"), "utf8")).note, "again");
  });
  it("settings: a plan naming a missing base or a wrong recipe is refused; bases must share ℓ_max", () => {
    assert.throws(() => experimentSettings({ bases: { rope: bases.rope! }, plan: [{ recipe: "pi", base: "alibi" }] }), /run pi \(alibi\) needs a base "alibi"; given: rope/);
    assert.throws(() => experimentSettings({ bases: { alibi: bases.alibi! }, plan: [{ recipe: "pi", base: "alibi" }] }), /recipe "pi" does not apply to base "alibi"/);
    const other = DTransformer.create({ ...tiny, lMax: 32, positional: positionalFrom("rope") }, 0);
    assert.throws(() => experimentSettings({ bases: { rope: bases.rope!, other } }), /base "other" has ℓ_max=32 but "rope" has 64/);
    other.dispose();
    assert.throws(() => experimentSettings({ bases: {} }), /give at least one base model/);
  });
});

describe("ctxlab experiment", () => {
  it("pretraining(dir): the base's token budget and optimiser from its recipe.json, with the final decay", async () => {
    const d = mkdtempSync(join(tmpdir(), "ctxlab-pretraining-"));
    try {
      const recipe = { seed: 0, steps: 2500, batch: 16, length: 128, lr: 2e-3, warmup: 30, minLr: 2e-4, decayFrom: 2000 };
      writeFileSync(join(d, "recipe.json"), JSON.stringify({ encoding: "rope", recipe }));
      assert.deepEqual(await pretraining(d), { tokens: 2500 * 16 * 128, batchTokens: 2048, lr: 2e-3, warmup: 30, decaySteps: 500, minLr: 2e-4 });
      writeFileSync(join(d, "recipe.json"), JSON.stringify({ encoding: "rope", recipe: { ...recipe, decayFrom: null } }));
      assert.deepEqual(await pretraining(d), { tokens: 2500 * 16 * 128, batchTokens: 2048, lr: 2e-3, warmup: 30 }, "no decay recorded: none passed on");
      const committed = await pretraining(join(import.meta.dirname, "../../../data/checkpoints/rope"));
      assert.ok(committed && committed.tokens > 0 && committed.batchTokens === 2048, `the committed RoPE base's recipe.json reads: ${JSON.stringify(committed)}`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it("arguments: the experiment name, flags and --bases are checked", () => {
    assert.deepEqual(experimentArgs(["context-extension"], { quick: true, bases: "rope=a,alibi=b", steps: "5", "curriculum-tokens": "base" }), { name: "context-extension", quick: true, bases: { rope: "a", alibi: "b" }, steps: 5, curriculumTokens: "base" });
    assert.throws(() => experimentArgs([], {}), /give one experiment name \(context-extension\), got none/);
    assert.throws(() => experimentArgs(["context-extention"], {}), /got "context-extention"/);
    assert.throws(() => experimentArgs(["context-extension"], { stepz: "3" }), /unknown flag --stepz; known: --quick/);
    assert.throws(() => experimentArgs(["context-extension"], { bases: "rope" }), /each entry must be name=dir/);
    assert.throws(() => experimentArgs(["context-extension"], { scale: "1" }), /--scale 1 must be an integer ≥ 2/);
  });
  it("--quick on two bases and two recipes writes a report", async () => {
    let text = "";
    const out = join(tmp, "cli-report");
    const r = await experimentCommand({ name: "context-extension", quick: true, out, bases: { rope: join(tmp, "rope"), learned: join(tmp, "learned") }, recipes: ["extrapolate", "pi", "curriculum"], curriculum: join(tmp, "alibi"), backend: "wasm" }, { write: (s: string) => (text += s) });
    assert.equal(r.status, "completed");
    assert.match(text, /\| extrapolate \(rope\) \| extrapolate \| rope \|/);
    assert.match(text, /\| pi \(rope\) \| pi \| rope \|/);
    const env = JSON.parse(readFileSync(join(out, "env.json"), "utf8"));
    assert.equal(env.bases.rope.sha256.length, 64);
    assert.deepEqual(env.settings.plan, ["extrapolate (rope)", "extrapolate (learned)", "pi (rope)", "curriculum (rope)"]);
    assert.match(text, /curriculum: the checkpoint .*alibi .* is evaluated, not retrained/);
    assert.equal(env.bases.curriculum.given, true);
    assert.deepEqual(env.runs.find((x: { recipe: string }) => x.recipe === "curriculum").status, "given");
    await assert.rejects(experimentCommand({ name: "context-extension", out, bases: { rope: join(tmp, "rope") }, recipes: ["learned-extend-ft"], backend: "wasm" }, { write: () => {} }), /--recipes learned-extend-ft: no run of the plan matches/);
  });
});
