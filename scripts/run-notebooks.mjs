// Executes the notebooks in notebooks/ headless through Jupyter and exports each to HTML (`npm run notebooks`).
//
//   node scripts/run-notebooks.mjs [--smoke] [--out DIR] [--timeout S] [--check] [--figures DIR] [NAME …]
//
//   --smoke        CTXLAB_SMOKE=1: the notebooks shorten their training runs and sweeps (CI)
//   --out DIR      where the executed notebooks (NAME.ipynb), the HTML exports (NAME.html) and
//                  summary.json go (default notebooks/out, ignored by git)
//   --timeout S    per-cell timeout (default 900 s; smoke 300 s)
//   --check        afterwards, open every export in headless Chromium (scripts/check-notebook-html.mjs;
//                  also after a failed notebook, for the exports that exist)
//   --figures DIR  with --check: save the figure of each notebook's cell tagged "figure" as DIR/NAME.png
//   NAME …         only notebooks whose file name contains one of these
//
// The `ctxlab` kernelspec is installed into a temporary Jupyter prefix (JUPYTER_PATH), so a run
// never depends on, or changes, the user's installed kernels. Each notebook runs with the
// notebooks/ folder as its working directory, through /usr/bin/jupyter-nbconvert (Debian's
// Jupyter; the `python3` first on PATH may be another interpreter). The HTML export uses
// scripts/notebook-offline.html.j2: JupyterLab's template without the require.js and MathJax CDN
// scripts, so the pages render offline (the figures carry plotly.js inline).
// summary.json: per notebook, seconds, code cells, error outputs and Plotly figures. Exit status 1
// when a notebook failed or an output is an error.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const NBCONVERT = "/usr/bin/jupyter-nbconvert";
const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const value = (f, d) => (args.includes(f) ? args[args.indexOf(f) + 1] : d);
const valued = new Set(["--out", "--timeout", "--figures"]);
const names = args.filter((a, i) => !a.startsWith("--") && !valued.has(args[i - 1]));
const smoke = flag("--smoke");
const out = resolve(value("--out", join(root, "notebooks", "out")));
const timeout = Number(value("--timeout", smoke ? 300 : 900));

if (!existsSync(NBCONVERT)) {
  console.error("run-notebooks: /usr/bin/jupyter-nbconvert is missing: run `npm run setup` (apt-get install jupyter-nbconvert python3-nbclient)");
  process.exit(1);
}
const kernelMain = join(root, "dist", "kernel", "main.js");
if (!existsSync(kernelMain)) {
  console.error("run-notebooks: dist/ is not built: run `npm run build`");
  process.exit(1);
}
const notebooks = readdirSync(join(root, "notebooks"))
  .filter((f) => f.endsWith(".ipynb") && (names.length === 0 || names.some((n) => f.includes(n))))
  .sort();
if (notebooks.length === 0) {
  console.error(`run-notebooks: no notebook matches ${names.join(", ")}`);
  process.exit(1);
}

mkdirSync(out, { recursive: true });
const prefix = mkdtempSync(join(tmpdir(), "ctxlab-notebooks-"));
const text = (t) => (Array.isArray(t) ? t.join("") : String(t ?? ""));
const summary = [];
let failed = false;
try {
  const { kernelCli } = await import(pathToFileURL(kernelMain).href);
  if ((await kernelCli(["kernel", "install", "--prefix", prefix])) !== 0) throw new Error("could not install the ctxlab kernelspec");
  const env = {
    ...process.env,
    JUPYTER_PATH: join(prefix, "share", "jupyter"),
    JUPYTER_RUNTIME_DIR: join(prefix, "runtime"),
    ...(smoke ? { CTXLAB_SMOKE: "1" } : {}),
  };
  if (!smoke) delete env.CTXLAB_SMOKE;
  for (const file of notebooks) {
    const name = file.replace(/\.ipynb$/, "");
    const t0 = performance.now();
    process.stdout.write(`${name}: executing${smoke ? " (smoke)" : ""} … `);
    const r = spawnSync(NBCONVERT, ["--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=ctxlab", `--ExecutePreprocessor.timeout=${timeout}`, "--output-dir", out, "--output", name, join(root, "notebooks", file)], {
      env, cwd: join(root, "notebooks"), encoding: "utf8", maxBuffer: 64 * 2 ** 20,
    });
    const seconds = (performance.now() - t0) / 1000;
    const executed = join(out, `${name}.ipynb`);
    const entry = { name, seconds: Math.round(seconds * 10) / 10, smoke, status: r.status, cells: 0, errors: [], figures: 0, html: null };
    if (existsSync(executed) && r.status === 0) {
      const cells = JSON.parse(readFileSync(executed, "utf8")).cells.filter((c) => c.cell_type === "code");
      entry.cells = cells.length;
      for (const [i, c] of cells.entries()) {
        for (const o of c.outputs ?? []) {
          if (o.output_type === "error") entry.errors.push(`code cell ${i + 1}: ${o.ename}: ${text(o.evalue).slice(0, 300)}`);
          if (o.data?.["application/vnd.plotly.v1+json"]) entry.figures++;
        }
      }
      const h = spawnSync(NBCONVERT, ["--to", "html", "--template-file", join(root, "scripts", "notebook-offline.html.j2"), "--output-dir", out, "--output", name, executed], { env, encoding: "utf8" });
      if (h.status === 0) entry.html = `${name}.html`;
      else entry.errors.push(`HTML export failed: ${h.stderr.slice(-1000)}`);
    } else {
      entry.errors.push(`nbconvert exited with ${r.status ?? r.signal}: ${(r.stderr ?? "").slice(-3000)}`);
    }
    if (entry.errors.length) failed = true;
    console.log(`${entry.errors.length ? "FAILED" : "ok"} in ${entry.seconds} s (${entry.cells} code cells, ${entry.figures} figures)`);
    for (const e of entry.errors) console.log(`  ${e}`);
    summary.push(entry);
  }
} finally {
  rmSync(prefix, { recursive: true, force: true });
}
writeFileSync(join(out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
console.log(`summary: ${join(out, "summary.json")}`);

if (flag("--check") && summary.some((e) => e.html)) {
  const check = ["scripts/check-notebook-html.mjs", "--out", out, ...(value("--figures") ? ["--figures", resolve(value("--figures"))] : [])];
  const c = spawnSync(process.execPath, check, { cwd: root, stdio: "inherit" });
  if (c.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
