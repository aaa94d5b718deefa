/**
 * Every notebook in notebooks/ runs top to bottom in the ctxlab kernel (smoke mode: CTXLAB_SMOKE=1
 * shortens training and sweeps) through Jupyter's nbconvert, exports to offline HTML, and renders in
 * a real browser (headless Debian Chromium via playwright-core): scripts/run-notebooks.mjs --check.
 * Asserts per notebook: no error output, at least one Plotly figure, every figure drawn as an svg,
 * no console or page error, no request outside file://, a screenshot; and that the committed
 * notebooks carry no outputs and no machine-specific paths.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { REPO } from "./client.js";

interface Summary {
  name: string;
  status: number | null;
  cells: number;
  errors: string[];
  figures: number;
  html: string | null;
}
interface Check {
  name: string;
  divs: number;
  rendered: number;
  consoleErrors: string[];
  pageErrors: string[];
  external: string[];
  screenshot: string | null;
  ok: boolean;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: { output_type: string; data?: Record<string, unknown> }[];
  execution_count?: number | null;
}

const NOTEBOOKS = join(REPO, "notebooks");
const names = readdirSync(NOTEBOOKS).filter((f) => f.endsWith(".ipynb")).sort().map((f) => f.replace(/\.ipynb$/, ""));
const text = (t: unknown): string => (Array.isArray(t) ? t.join("") : String(t ?? ""));

test("the committed notebooks are the walkthroughs, the quick start and the synthesis, without outputs or machine paths", () => {
  const expected = ["00-quickstart", "01-algorithm-10", "02-positional-geometry", "03-why-extrapolation-fails", "04-context-extension", "05-lost-in-the-middle", "06-memory-and-compute"];
  for (const n of [...expected, "07-gpt2-beyond-1024", "08-your-own-model", "09-the-answer"]) assert.ok(names.includes(n), `notebooks/${n}.ipynb is missing`);
  for (const n of names) {
    const raw = readFileSync(join(NOTEBOOKS, `${n}.ipynb`), "utf8");
    const nb = JSON.parse(raw) as { cells: Cell[]; metadata: { kernelspec?: { name?: string } } };
    assert.equal(nb.metadata.kernelspec?.name, "ctxlab", `${n}: kernel`);
    for (const c of nb.cells.filter((c) => c.cell_type === "code")) {
      assert.deepEqual(c.outputs, [], `${n}: committed with outputs`);
      assert.equal(c.execution_count ?? null, null, `${n}: committed with execution counts`);
    }
    assert.doesNotMatch(raw, /\/work\/|\/home\/|\/tmp\/|\/root\/|[A-Z]:\\\\/, `${n}: a machine-specific path`);
  }
});

test("every notebook executes headless in smoke mode and its HTML export renders in Chromium", { timeout: 2_700_000 }, () => {
  assert.ok(existsSync("/usr/bin/jupyter-nbconvert"), "jupyter-nbconvert is not installed: run `npm run setup`");
  assert.ok(existsSync("/usr/bin/chromium"), "chromium is not installed: run `npm run setup`");
  const out = mkdtempSync(join(tmpdir(), "ctxlab-notebooks-test-"));
  try {
    const r = spawnSync(process.execPath, [join(REPO, "scripts", "run-notebooks.mjs"), "--smoke", "--check", "--out", out], { cwd: REPO, encoding: "utf8", timeout: 2_650_000, maxBuffer: 64 * 2 ** 20 });
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as Summary[];
    assert.deepEqual(summary.map((s) => s.name), names, "every notebook ran");
    for (const s of summary) {
      assert.deepEqual(s.errors, [], `${s.name} failed:\n${r.stdout.slice(-3000)}`);
      assert.ok(s.figures >= 1, `${s.name}: no Plotly figure`);
      assert.ok(s.html, `${s.name}: no HTML export`);
    }
    const checks = JSON.parse(readFileSync(join(out, "checks.json"), "utf8")) as Check[];
    assert.deepEqual(checks.map((c) => c.name), names, "every export was opened");
    for (const c of checks) {
      const s = summary.find((x) => x.name === c.name)!;
      assert.equal(c.divs, s.figures, `${c.name}: figures in the page vs in the notebook`);
      assert.equal(c.rendered, c.divs, `${c.name}: figures without an svg`);
      assert.deepEqual([c.consoleErrors, c.pageErrors, c.external], [[], [], []], `${c.name}: browser errors or external requests`);
      assert.ok(c.screenshot && statSync(c.screenshot).size > 10_000, `${c.name}: screenshot`);
      assert.ok(c.ok);
    }
    assert.equal(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
    // The quick start shows the trace of Algorithm 10 as an ActivationCache.
    const quick = (JSON.parse(readFileSync(join(out, "00-quickstart.ipynb"), "utf8")) as { cells: Cell[] }).cells;
    assert.ok(quick.some((c) => (c.outputs ?? []).some((o) => /ActivationCache: \d+ activations/.test(text(o.data?.["text/plain"])))), "the trace is displayed");
    // Notebook 01's table puts each pseudo-code line of Algorithm 10 above its values.
    const alg = (JSON.parse(readFileSync(join(out, "01-algorithm-10.ipynb"), "utf8")) as { cells: Cell[] }).cells;
    assert.ok(alg.some((c) => (c.outputs ?? []).some((o) => /X̃\[:, t\] ← layer_norm\(X\[:, t\]/.test(text(o.data?.["text/plain"])) && /blocks\.0\.attn\.hook_q/.test(text(o.data?.["text/plain"])))), "Algorithm 10 table");
    // Notebook 09 shows the refusal at ℓ_max + 1 and reads the committed report back.
    const answer = (JSON.parse(readFileSync(join(out, "09-the-answer.ipynb"), "utf8")) as { cells: Cell[] }).cells;
    assert.ok(answer.some((c) => (c.outputs ?? []).some((o) => /Algorithm 10 on ℓ_max \+ 1 = 129 tokens[\s\S]*exceed ℓ_max=128/.test(text(o.data?.["text/plain"])))), "the refusal past ℓ_max");
    assert.ok(answer.some((c) => (c.outputs ?? []).some((o) => /extrapolate \(alibi\)/.test(text(o.data?.["text/plain"])))), "the report's rows");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
