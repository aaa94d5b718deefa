// The first hour, as a newcomer lives it: Jupyter Notebook in headless Chromium, a *new* notebook
// (File > New > ctxlab) in a folder outside the checkout, the README's training example, Kernel >
// Interrupt on a fine-tune and on plain loops, a cell that throws, then (optionally) one walkthrough
// run top to bottom with a screenshot of each figure. A manual check made repeatable; not part of
// `npm test` (it takes minutes and drives a real browser).
//
//   node scripts/newcomer-check.mjs [--out DIR] [--notebook NAME] [--port N]
//
//   --out DIR        screenshots and newcomer.json (default: a new folder under the OS temp dir)
//   --notebook NAME  also open notebooks/NAME (e.g. 03-why-extrapolation-fails.ipynb), Run All, and
//                    save every figure as DIR/NAME-figK.png
//
// Needs `npm run setup` (dist/; the script registers the `ctxlab` kernel for this user itself), /usr/bin/jupyter-notebook
// and /usr/bin/chromium (driven by playwright-core; never a downloaded browser). Exit status 1 when a
// check failed; every measurement is printed and written to newcomer.json.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);
const value = (f, d) => (args.includes(f) ? args[args.indexOf(f) + 1] : d);
const out = resolve(value("--out", mkdtempSync(join(tmpdir(), "ctxlab-newcomer-"))));
const walkthrough = value("--notebook");
const port = Number(value("--port", 8899));
mkdirSync(out, { recursive: true });
const userDir = mkdtempSync(join(tmpdir(), "my-research-")); // the user's own folder, outside the checkout
const results = { out, userDir, checks: [] };
const check = (name, ok, detail) => {
  results.checks.push({ name, ok, detail });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`);
};

const reg = spawnSync(process.execPath, [join(root, "bin", "ctxlab.mjs"), "kernel", "install", "--user"], { encoding: "utf8" });
console.log(reg.stdout.trim());
// Jupyter serves from / so that the new notebook lives in the user's folder and a walkthrough runs in
// place (its data/ paths are relative to notebooks/); autosave is turned off for the walkthrough.
const server = spawn("/usr/bin/jupyter-notebook", ["--no-browser", "--allow-root", `--port=${port}`,
  "--NotebookApp.token=", "--NotebookApp.password=", "--notebook-dir=/"], { stdio: ["ignore", "pipe", "pipe"] });
let serverLog = "";
server.stdout.on("data", (d) => (serverLog += d));
server.stderr.on("data", (d) => (serverLog += d));
const base = `http://127.0.0.1:${port}`;
for (let t = 0; t < 100 && !serverLog.includes(`:${port}/`); t++) await new Promise((r) => setTimeout(r, 200));

const { chromium } = await import("playwright-core");
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  // --- a new notebook through the tree page's New menu --------------------------------------------
  const tree = await context.newPage();
  await tree.goto(`${base}/tree${userDir}`);
  await tree.click("#new-dropdown-button");
  const [nb] = await Promise.all([context.waitForEvent("page"), tree.click("#kernel-ctxlab a")]);
  await nb.waitForFunction(() => globalThis.Jupyter?.notebook?.kernel?.is_connected?.(), null, { timeout: 60_000 });
  const kernelName = await nb.evaluate(() => globalThis.Jupyter.notebook.kernel.name);
  check("new notebook opens on the ctxlab kernel", kernelName === "ctxlab", `kernel ${kernelName}, folder ${userDir}`);

  // Put `src` into a new cell at the end and run it with Shift+Enter; returns the cell's index.
  const add = async (src) => {
    const idx = await nb.evaluate((s) => {
      const J = globalThis.Jupyter.notebook;
      const last = J.get_cells().length - 1;
      const empty = J.get_cell(last).get_text() === "" && J.get_cell(last).input_prompt_number === undefined;
      const cell = empty ? J.get_cell(last) : J.insert_cell_at_bottom("code");
      cell.set_text(s);
      const i = J.find_cell_index(cell);
      J.select(i);
      J.edit_mode();
      return i;
    }, src);
    await nb.keyboard.press("Shift+Enter");
    return idx;
  };
  const running = (i) => nb.evaluate((k) => globalThis.Jupyter.notebook.get_cell(k).element.find(".input_prompt").text().includes("*"), i);
  // the text of a cell's outputs, without the "Out[n]:" prompt
  const outputText = async (i) => (await nb.evaluate((k) => globalThis.Jupyter.notebook.get_cell(k).element.find(".output_area").text(), i)).replace(/^\s*Out\[\d+\]:\s*/, "");
  const waitDone = async (i, limitMs) => {
    const t0 = Date.now();
    await sleep(300);
    while ((await running(i)) && Date.now() - t0 < limitMs) await sleep(50);
    return Date.now() - t0;
  };
  const interrupt = async (i) => {
    const t0 = Date.now();
    await nb.click("button[data-jupyter-action='jupyter-notebook:interrupt-kernel']");
    while ((await running(i)) && Date.now() - t0 < 30_000) await sleep(20);
    return Date.now() - t0;
  };

  // --- the README's training example, unchanged ------------------------------------------------------
  const example = `import { DTransformer, presets, rope, dTraining, dInference, windowSource, textTokens, byteTokenizer, mobyDick, corpusSplit } from "ctxlab";

const tok = byteTokenizer();
const { train, val } = corpusSplit(mobyDick());
const model = DTransformer.create({ ...presets.tiny, nVocab: tok.vocabSize, positional: rope() }, 0);
const r = await dTraining(model, {
  source: windowSource(textTokens(train, tok), { batch: 16, length: 128 }),
  valSource: windowSource(textTokens(val, tok), { batch: 8, length: 128 }), valEvery: 50,
  steps: 200, schedule: { kind: "cosine", lr: 1e-3, warmup: 20 }, optimizer: { weightDecay: 0.1 }, clip: 1,
  checkpointDir: "runs/tiny", checkpointEvery: 100,
});
r.log;                                                              // arquero table: step, loss, lr, grad_norm, tokens/s, …
const { tokens } = await dInference(model, tok.encode("Call me"), { maxTokens: 50, temperature: 0.8, topK: 40, seed: 1 });`;
  let i = await add(example);
  const trainMs = await waitDone(i, 600_000);
  const text = await outputText(i);
  const backend = (text.match(/ctxlab backend: [^\n]*/) ?? ["(no backend line)"])[0];
  await nb.screenshot({ path: join(out, "training.png"), fullPage: true });
  i = await add(`JSON.stringify({ status: r.status, step: r.step, last: r.rows[r.rows.length - 1] })`);
  await waitDone(i, 30_000);
  const lastRow = (await outputText(i)).trim();
  results.training = { ms: trainMs, backend, lastRow };
  check("README example trains on wasm", /backend: wasm/.test(backend) && !/tfjs "cpu"/.test(text), `${backend}; cell ${(trainMs / 1000).toFixed(1)} s for 200 steps; ${lastRow}`);

  // --- Interrupt a fine-tune ---------------------------------------------------------------------------
  i = await add(`const r2 = await dTraining(model, { source: windowSource(textTokens(train, tok), { batch: 16, length: 128 }), steps: 100000, schedule: { kind: "constant", lr: 1e-4 } });`);
  await sleep(8000);
  const ftMs = await interrupt(i);
  const ftText = await outputText(i);
  check("Interrupt stops a fine-tune within a second", ftMs < 1000, `${ftMs} ms; output: ${ftText.trim().split("\n").slice(-2).join(" | ")}`);
  i = await add(`[r2.status, r2.step, r2.message]`);
  await waitDone(i, 30_000);
  check("the interrupted run's result stays readable", /interrupted/.test(await outputText(i)), (await outputText(i)).trim());

  // --- Interrupt plain loops -------------------------------------------------------------------------
  // Runs `src` in a new cell and returns its output text once it has finished.
  const cellValue = async (src) => {
    const k = await add(src);
    await waitDone(k, 30_000);
    return (await outputText(k)).trim();
  };
  // Starts `src`, interrupts it after `ms`, and returns how long the interrupt took and the cell's index.
  const interruptAfter = async (src, ms) => {
    const k = await add(src);
    await sleep(ms);
    return [await interrupt(k), k];
  };
  const [asyncMs, k0] = await interruptAfter(`let i = 0; for (;;) { i++; await new Promise(r => setTimeout(r, 10)); }`, 3000);
  check("Interrupt stops an async loop", asyncMs < 1000, `${asyncMs} ms; ${(await outputText(k0)).trim().split("\n")[0]}`);
  const i1 = await cellValue(`i`);
  await sleep(2000);
  const i2 = await cellValue(`i`);
  check("`i` is readable and the loop has stopped", /^\d+$/.test(i1) && i1 === i2, `i = ${i1}, 2 s later ${i2}`);
  const [syncMs] = await interruptAfter(`let j = 0; while (true) { j++; }`, 2000);
  check("Interrupt stops a synchronous loop", syncMs < 1000, `${syncMs} ms; j = ${await cellValue(`j`)}`);
  const [intMs] = await interruptAfter(`let ticks = 0; setInterval(() => { ticks++; }, 10); await new Promise(() => {});`, 2000);
  const t1 = await cellValue(`ticks`);
  await sleep(1000);
  const t2 = await cellValue(`ticks`);
  // awaiting a promise that never settles: the kernel waits out its grace period (3 s), says so, then stops the cell
  check("Interrupt clears the cell's intervals", intMs < 5000 && t1 === t2, `${intMs} ms; ticks ${t1} then ${t2} a second later`);

  // --- A cell that throws keeps what it declared --------------------------------------------------
  const errText = await cellValue(`const keepMe = 42;\nthrow new Error("x");`);
  const kept = await cellValue(`keepMe`);
  check("a cell that throws keeps its declarations", kept === "42", `error output: ${errText.split("\n").slice(0, 2).join(" | ")}; keepMe → ${kept}`);
  await nb.screenshot({ path: join(out, "newcomer.png"), fullPage: true });

  // --- A walkthrough, Run All, every figure ---------------------------------------------------------
  if (walkthrough) {
    const page = await context.newPage();
    await page.goto(`${base}/notebooks${root}/notebooks/${walkthrough}`);
    await page.waitForFunction(() => globalThis.Jupyter?.notebook?.kernel?.is_connected?.(), null, { timeout: 60_000 });
    await page.evaluate(() => globalThis.Jupyter.notebook.set_autosave_interval(0));
    const t0 = Date.now();
    await page.evaluate(() => globalThis.Jupyter.notebook.execute_all_cells());
    await page.waitForFunction(() => {
      const cells = globalThis.Jupyter.notebook.get_cells().filter((c) => c.cell_type === "code");
      return cells.every((c) => c.input_prompt_number !== "*" && c.input_prompt_number !== undefined && c.input_prompt_number !== null)
        || cells.some((c) => c.output_area.outputs.some((o) => o.output_type === "error"));
    }, null, { timeout: 1_800_000, polling: 1000 });
    const errors = await page.evaluate(() => globalThis.Jupyter.notebook.get_cells().flatMap((c) => (c.output_area?.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue}`)));
    const figs = await page.$$(".output_area .js-plotly-plot");
    for (const [k, fig] of figs.entries()) {
      await fig.scrollIntoViewIfNeeded();
      await fig.screenshot({ path: join(out, `${walkthrough.replace(/\.ipynb$/, "")}-fig${k + 1}.png`) });
    }
    results.walkthrough = { name: walkthrough, seconds: (Date.now() - t0) / 1000, figures: figs.length, errors };
    check(`${walkthrough} runs top to bottom`, errors.length === 0 && figs.length > 0, `${figs.length} figures in ${((Date.now() - t0) / 1000).toFixed(0)} s; errors: ${errors.join("; ") || "none"}`);
    await page.screenshot({ path: join(out, `${walkthrough.replace(/\.ipynb$/, "")}.png`), fullPage: true });
  }
} finally {
  await browser.close();
  server.kill("SIGINT");
  await sleep(500);
  server.kill("SIGKILL");
  writeFileSync(join(out, "newcomer.json"), JSON.stringify(results, null, 2));
  console.log(`screenshots and newcomer.json in ${out}`);
}
process.exit(results.checks.every((c) => c.ok) ? 0 : 1);
