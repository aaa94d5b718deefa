/** The context-extension experiment (lib/extend/experiment.ts, report.ts, cli/experiment.ts) as a smoke run on tiny bases. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as aq from "arquero";
import { experimentArgs, experimentCommand, pretraining, replaceGenerated } from "../../cli/experiment.js";
import { comparisons, contextExtension, experimentSettings, fillerTable, readReport, reportFigures, seedTable, spreadTable, summaryTable, table4, writeReport, type ExperimentResult } from "../../lib/extend/index.js";
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
  for (const [k, pe] of [["rope", "rope"], ["learned", "learned"], ["alibi", "alibi"], ["nope", "none"], ["sinusoidal", "sinusoidal"], ["bounded", "bounded"]] as const) {
    bases[k] = DTransformer.create({ ...tiny, positional: positionalFrom(pe) }, 1);
    await saveCheckpoint(bases[k]!, join(tmp, k));
  }
  result = await contextExtension({ ...SMALL, bases });
});
/** The smoke settings: ℓ' = 2·ℓ_max, two fine-tuning steps, two seeds, one example per (ℓ, depth, filler). */
const SMALL = { text, scale: 2, steps: 2, batch: 2, n: 1, depths: [0, 1], windows: 2, snapshots: [0, 2], table4N: 1, table4Depths: [1], curriculumBatchTokens: 256, seed: 3, seeds: [0, 1] };
after(() => {
  for (const m of Object.values(bases)) m.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe("contextExtension (smoke: every recipe of the plan on tiny bases)", () => {
  it("runs the whole plan: 17 methods, fine-tunes once per seed, each evaluated at ℓ_max·{1, 2, 4, 8} on three fillers", () => {
    assert.equal(result.status, "completed");
    const runs = result.runs.objects() as { method: string; seed: number | null; training: string; steps: number }[];
    const methods = [...new Set(runs.map((r) => r.method))];
    assert.equal(methods.length, 17);
    for (const m of ["pi-ft (rope)", "learned-extend-ft (learned)", "curriculum (rope)", "extrapolate (alibi)", "extrapolate (sinusoidal)", "extrapolate (bounded)", "ft (sinusoidal)", "ft (bounded)"]) assert.ok(methods.includes(m), m);
    const trained = runs.filter((r) => r.training === "finetune");
    assert.equal(trained.length, 6 * 2, "six fine-tune recipes × two seeds");
    assert.deepEqual([...new Set(trained.map((r) => r.seed))], [0, 1]);
    assert.ok(runs.filter((r) => r.training === "none").every((r) => r.seed === null));
    assert.ok(trained.every((r) => r.steps >= 1));
    assert.equal(result.passkey.numRows(), runs.length * 4 * 2 * 3);
    assert.deepEqual([...new Set(result.passkey.array("length") as number[])], [64, 128, 256, 512]);
    assert.deepEqual([...new Set(result.passkey.array("filler") as string[])], ["pi", "moby-dick", "sotu"]);
  });
  it("seeds: a fine-tune's seeds train on other batches and are scored on disjoint examples; the same seed gives the same numbers", async () => {
    const log = result.training.objects() as { method: string; seed: number; step: number; loss: number }[];
    const loss = (seed: number) => log.filter((r) => r.method === "pi-ft (rope)" && r.seed === seed).map((r) => r.loss);
    assert.equal(loss(0).length, 2);
    assert.notDeepEqual(loss(0), loss(1), "seed 1 draws other training batches");
    const pk = result.passkey.objects() as { method: string; seed: number | null; id: string; logprob: number | null; correct: number | null }[];
    const ids = (seed: number) => new Set(pk.filter((r) => r.method === "pi-ft (rope)" && r.seed === seed).map((r) => r.id));
    assert.equal([...ids(0)].filter((id) => ids(1).has(id)).length, 0, "seed 1 sees other examples (offset n)");
    const again = await contextExtension({ ...SMALL, bases, plan: [{ recipe: "pi-ft", base: "rope" }], seeds: [0] });
    const again0 = again.passkey.objects() as typeof pk;
    const first0 = pk.filter((r) => r.method === "pi-ft (rope)" && r.seed === 0);
    assert.deepEqual(again0.map((r) => [r.id, r.logprob, r.correct]), first0.map((r) => [r.id, r.logprob, r.correct]), "seed 0 alone reproduces seed 0 of the full run");
    assert.deepEqual((again.training.objects() as typeof log).map((r) => r.loss), loss(0));
  });
  it("cacheDir: a rerun reads every finished (run, seed) back and gives the same tables", async () => {
    const dir = join(tmp, "cache");
    const plan = [{ recipe: "extrapolate", base: "rope" }, { recipe: "ft", base: "bounded" }];
    const first = await contextExtension({ ...SMALL, bases, plan, cacheDir: dir });
    const lines: string[] = [];
    const second = await contextExtension({ ...SMALL, bases, plan, cacheDir: dir, log: (l) => lines.push(l) });
    assert.equal(lines.filter((l) => /read from/.test(l)).length, 3, "one zero-shot run and two seeds");
    assert.deepEqual((second.runs.objects() as { cached: boolean }[]).map((r) => r.cached), [true, true, true]);
    assert.equal(second.passkey.toCSV(), first.passkey.toCSV());
    assert.equal(second.perplexity.toCSV(), first.perplexity.toCSV());
    // another seed list is another key for the fine-tune, not for the zero-shot run… no: the settings are part of every key
    const third = await contextExtension({ ...SMALL, bases, plan, cacheDir: dir, n: 2 });
    assert.ok((third.runs.objects() as { cached: boolean }[]).every((r) => !r.cached), "other settings are not read from the cache");
  });
  it("learned positions: zero-shot rows past ℓ_max are errors; the extended table runs to ℓ' only", () => {
    const rows = result.passkey.objects() as { method: string; length: number; filler: string; seed: number | null; error: string | null }[];
    const err = (m: string, l: number) => rows.filter((r) => r.method === m && r.length === l && r.filler === "pi" && (r.seed ?? 0) === 0).map((r) => r.error);
    assert.deepEqual(err("extrapolate (learned)", 64), [null, null]);
    assert.deepEqual(err("extrapolate (learned)", 128), ["ℓ > ℓ_max", "ℓ > ℓ_max"]);
    assert.deepEqual(err("learned-extend-ft (learned)", 128), [null, null]);
    assert.deepEqual(err("learned-extend-ft (learned)", 256), ["ℓ > ℓ_max", "ℓ > ℓ_max"]);
    assert.deepEqual(err("extrapolate (bounded)", 512), [null, null], "bounded positions run past ℓ_max as they are");
  });
  it("summary, per-filler, per-seed, spread, comparisons and Table 4 tables, with intervals", () => {
    const s = summaryTable(result);
    assert.equal(s.numRows(), 17);
    const cols = s.columnNames();
    for (const c of ["method", "recipe", "base", "seeds", "steps", "acc_64", "acc_64_lo", "acc_64_hi", "n_64", "ppl_512", "ppl_512_lo", "ppl_512_hi", "k_max"]) assert.ok(cols.includes(c), c);
    const rows = s.objects() as Record<string, number | null>[];
    assert.ok(rows.every((r) => r.ppl_64 !== null && r.ppl_64! > 1 && r.ppl_64_lo! <= r.ppl_64! && r.ppl_64! <= r.ppl_64_hi!), "every method has a perplexity at ℓ_max inside its interval");
    assert.ok(rows.every((r) => r.acc_64 === null || (r.acc_64_lo! <= r.acc_64! && r.acc_64! <= r.acc_64_hi!)));
    const piFt = rows.find((r) => (r.method as unknown) === "pi-ft (rope)")!;
    assert.equal(piFt.n_64, 2 * 3 * 2, "depths × fillers × seeds examples per ℓ");
    assert.equal(piFt.seeds, 2);
    assert.equal(fillerTable(result).numRows(), 17 * 3);
    const st = seedTable(result);
    assert.equal(st.numRows(), 6 * 2);
    assert.equal((st.objects() as { n_64: number }[])[0]!.n_64, 2 * 3);
    const sp = spreadTable(result).objects() as { method: string; seeds: number; min: number; max: number; mean: number }[];
    assert.ok(sp.every((r) => (r.seeds === 2 && r.min <= r.mean && r.mean <= r.max) || (r.seeds === 0 && r.method === "learned-extend-ft (learned)")));
    const c = comparisons(result).objects() as { a: string; b: string; beyond_seeds: boolean }[];
    assert.equal(c.length, ((6 * 5) / 2) * 4 - 5 * 2, "every pair at every ℓ where both ran (learned-extend-ft runs to ℓ' = 128 only)");
    const t = table4(result);
    assert.deepEqual([...new Set(t.array("method"))], ["pi-ft (rope)", "ft (rope)"]);
    assert.deepEqual(t.columnNames(), ["method", "step", "k_max", "acc_128", "acc_128_lo", "acc_128_hi", "n_128", "k_max_by_seed"]);
    assert.equal((t.objects() as { n_128: number }[])[0]!.n_128, 1 * 3 * 2, "Table 4: depths × fillers × seeds");
  });
  it("figures: small multiples of ≤ 6 methods each, one style per method in every figure, intervals drawn", () => {
    const figs = reportFigures(result);
    const styles = new Map<string, string>();
    for (const f of figs) {
      for (const tr of f.fig.data as { name?: string; legendgroup?: string; line?: { color: string; dash: string }; xaxis?: string; error_y?: { array: number[] } }[]) {
        if (!tr.legendgroup || !tr.line) continue;
        const key = `${tr.line.color}`;
        if (styles.has(tr.legendgroup)) assert.equal(styles.get(tr.legendgroup), key, `${f.id}: ${tr.legendgroup} keeps its colour`);
        styles.set(tr.legendgroup, key);
      }
    }
    const acc = figs.find((f) => f.id === "accuracy-length")!.fig.data as { legendgroup: string; xaxis: string; error_y: { array: number[]; arrayminus: number[] } }[];
    const perPanel = new Map<string, number>();
    for (const tr of acc) perPanel.set(tr.xaxis, (perPanel.get(tr.xaxis) ?? 0) + 1);
    assert.ok([...perPanel.values()].every((n) => n <= 6), `series per panel: ${[...perPanel.values()]}`);
    assert.ok(perPanel.size >= 4);
    assert.ok(acc.every((tr) => tr.error_y.array.length > 0 && tr.error_y.array.every((v) => v >= 0)), "every line has its interval");
  });
  it("writes the report folder: index.html with every figure, CSVs that parse back, tables.md, env.json", async () => {
    const dir = join(tmp, "report");
    const files = await writeReport(result, dir, { env: { note: "test" } });
    assert.equal(files.length, 14);
    const html = readFileSync(join(dir, "index.html"), "utf8");
    for (const id of ["accuracy-length", "accuracy-filler", "seeds", "accuracy-depth-target", "perplexity-length", "table4", "training", "depth-length"]) assert.match(html, new RegExp(`id="${id}"`));
    assert.match(html, /<script src="[^"]*node_modules\/plotly\.js-dist-min\/plotly\.min\.js"><\/script>/);
    assert.ok(html.length < 2e6, "plotly.js is not inlined");
    assert.equal(aq.fromCSV(readFileSync(join(dir, "passkey.csv"), "utf8")).numRows(), result.passkey.numRows());
    assert.equal(aq.fromCSV(readFileSync(join(dir, "summary.csv"), "utf8")).numRows(), 17);
    assert.match(readFileSync(join(dir, "tables.md"), "utf8"), /\| pi-ft \(rope\) \| 2 \| 2 \| \d+ % \(\d+–\d+\) \|/);
    const env = JSON.parse(readFileSync(join(dir, "env.json"), "utf8"));
    assert.equal(env.note, "test");
    assert.equal(env.settings.targetLength, 128);
    assert.deepEqual(env.settings.fillers, ["pi", "moby-dick", "sotu"]);
    assert.ok(!existsSync(`${dir}.tmp-${process.pid}`));
    // readReport reads the folder back: the same summary, intervals and all, and the same settings
    const back = readReport(dir);
    assert.deepEqual(summaryTable(back).objects(), summaryTable(result).objects());
    assert.deepEqual(back.settings.lengths, result.settings.lengths);
    assert.equal(back.passkey.numRows(), result.passkey.numRows());
    assert.throws(() => readReport(join(tmp, "no-such-report")), /no-such-report\/env\.json is missing/);
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
    assert.throws(() => experimentSettings({ bases: { rope: bases.rope! }, seeds: [0, 0] }), /seeds=\[0,0\] must be distinct integers ≥ 0/);
    assert.throws(() => experimentSettings({ bases: { rope: bases.rope! }, fillers: ["pi", "bible"] as never }), /unknown filler "bible"; known: pi, moby-dick, sotu/);
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
    assert.deepEqual(experimentArgs(["context-extension"], { seeds: "0,1,2", fillers: "pi,sotu", cache: "c", readme: "README.md,x.md" }), { name: "context-extension", seeds: [0, 1, 2], fillers: ["pi", "sotu"], cache: "c", readme: ["README.md", "x.md"] });
    assert.throws(() => experimentArgs(["context-extension"], { seeds: "0,-1" }), /--seeds -1 must be an integer ≥ 0/);
  });
  it("--quick on two bases and two recipes writes a report", async () => {
    let text = "";
    const out = join(tmp, "cli-report");
    const r = await experimentCommand({ name: "context-extension", quick: true, out, bases: { rope: join(tmp, "rope"), learned: join(tmp, "learned") }, recipes: ["extrapolate", "pi", "curriculum"], curriculum: join(tmp, "alibi"), backend: "wasm" }, { write: (s: string) => (text += s) });
    assert.equal(r.status, "completed");
    assert.match(text, /\| extrapolate \(rope\) \| 0 \| — \| 0 % \(0–\d+\) \|/);
    assert.match(text, /\| pi \(rope\) \| 0 \| — \|/);
    const env = JSON.parse(readFileSync(join(out, "env.json"), "utf8"));
    assert.equal(env.bases.rope.sha256.length, 64);
    assert.deepEqual(env.settings.plan, ["extrapolate (rope)", "extrapolate (learned)", "pi (rope)", "curriculum (rope)"]);
    assert.match(text, /curriculum: the checkpoint .*alibi .* is evaluated, not retrained/);
    assert.equal(env.bases.curriculum.given, true);
    assert.deepEqual(env.runs.find((x: { recipe: string }) => x.recipe === "curriculum").status, "given");
    await assert.rejects(experimentCommand({ name: "context-extension", out, bases: { rope: join(tmp, "rope") }, recipes: ["learned-extend-ft"], backend: "wasm" }, { write: () => {} }), /--recipes learned-extend-ft: no run of the plan matches/);
    assert.deepEqual(env.fillers.map((f: { name: string }) => f.name), ["pi", "moby-dick", "sotu"]);
    assert.ok(env.fillers[2].chars > 100_000, "the State of the Union text is loaded");
  });
  it("--readme: replaces the generated block between its markers, and names a file without them", async () => {
    const f = join(tmp, "README.md");
    writeFileSync(f, "# x\n\n<!-- BEGIN generated: cli-report summary -->\nold\n<!-- END generated: cli-report summary -->\n\nafter\n");
    await replaceGenerated(f, "cli-report", "| a | b |");
    assert.equal(readFileSync(f, "utf8"), "# x\n\n<!-- BEGIN generated: cli-report summary -->\n| a | b |\n<!-- END generated: cli-report summary -->\n\nafter\n");
    writeFileSync(f, "# nothing here\n");
    await assert.rejects(replaceGenerated(f, "cli-report", "t"), /--readme .*README\.md: no block "<!-- BEGIN generated: cli-report summary -->"/);
  });
});
