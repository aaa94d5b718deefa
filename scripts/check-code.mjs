#!/usr/bin/env node
/**
 * The repository's code checks, run by `npm test` (and so by CI) before the test files:
 *
 *   size     file length, function length and line width within the budgets below; the few
 *            justified exceptions are listed in ALLOW with their reason;
 *   lint     no tab indentation, trailing whitespace, CR line ends or missing final newline; no
 *            `as never` casts and no `console.log` in lib/; no `.only` tests and no unconditional
 *            `.skip` / `.todo`; no reference to a document outside the repository (a cited docs/…
 *            path must exist);
 *   imports  no import cycles between the modules of lib/, cli/ and kernel/, and no arrow from a
 *            lower layer to a higher one (LAYERS, lowest first; the hosts cli/ and kernel/ on top);
 *            `import type` is ignored (erased at run time).
 *
 *   node scripts/check-code.mjs [size|lint|imports …]     # all three by default; exit 1 on a finding
 */
import { existsSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: root, encoding: "utf8" }).split("\n").filter((f) => f && existsSync(join(root, f)));
const code = files.filter((f) => /\.(ts|mjs|js)$/.test(f) && !f.startsWith("node_modules/") && !f.startsWith("dist/") && !f.endsWith(".d.ts"));
const text = files.filter((f) => /\.(ts|mjs|js|md|json|py|sh|j2)$/.test(f) && !/^(data|docs\/experiments|test\/fixtures)\//.test(f) && f !== "package-lock.json");

/** Budgets. Tests and fault drivers list many cases in one file, hence their larger file budget. */
export const BUDGET = { fileLines: 400, testFileLines: 700, functionLines: 80, lineWidth: 300 };

/** Justified exceptions: path → { check: reason }. Keep this short. */
export const ALLOW = {
  "lib/index.ts": { lineWidth: "the public export list: one line per module by design" },
  "lib/io/checkpoint.ts": { fileLines: "the whole GPT-2 ↔ ctxlab parameter mapping in one place, read and write side by side" },
  "lib/io/safetensors.ts": { fileLines: "the safetensors format (header checks, dtypes, shards) read and written in one file" },
  "lib/hf/config.ts": { functionLines: "parseHfConfig checks config.json key by key, in the order of the format; split it when the architecture options land" },
  "lib/extend/report.ts": { lineWidth: "HTML template lines of the report", fileLines: "the report grew tables per filler and seed (robustness work); split it into tables and figures next" },
  "lib/extend/experiment.ts": { functionLines: "contextExtension's plan loop gained seeds, fillers and a cache; split it next" },
  "lib/extend/index.ts": { lineWidth: "the module's export list" },
  "lib/eval/rollup.ts": { lineWidth: "one perplexity row object literal" },
  "kernel/executor.ts": { fileLines: "the cell runner that replaced tslab's executor (interrupt checkpoints, kept declarations, source maps)", functionLines: "runCell reads as the order of a cell's life; split it next" },
  "kernel/handler.ts": { lineWidth: "one user-facing message" },
  "cli/main.ts": { lineWidth: "usage lines of the help text (one per command)" },
  "cli/experiment.ts": { lineWidth: "the options object and the summary message" },
  "cli/train.ts": { lineWidth: "one user-facing warning" },
  "lib/viz/compare.ts": { lineWidth: "one Plotly hovertemplate string" },
  "bench/run.mjs": { lineWidth: "table rows of the benchmark report", functionLines: "the benchmark driver reads top to bottom as the report it writes" },
  "bench/report.mjs": { lineWidth: "table rows of the benchmark report" },
  "test/faults/kernel.ts": { lineWidth: "a literal Jupyter message" },
  "test/faults/training.ts": { functionLines: "the table of training faults: one entry per fault, read in order" },
};

/**
 * Layers (folders of lib/, then the hosts of the library; lowest first). A module may import from
 * its own layer or lower ones; lib/ never imports a host.
 */
export const LAYERS = [
  ["errors.ts", "notation.ts", "util"],
  ["tensor"],
  ["config.ts", "positional"],
  ["hooks", "runtime"],
  ["engine"],
  ["model"],
  ["data", "io", "hf", "train", "infer"],
  ["eval", "viz"],
  ["pretrain"],
  ["extend"],
  ["index.ts"],
  ["../cli", "../kernel"],
];

const findings = [];
const allowed = (f, check) => ALLOW[f]?.[check] !== undefined;
const isTest = (f) => f.startsWith("test/");

function checkSize() {
  for (const f of code) {
    const src = readFileSync(join(root, f), "utf8");
    const lines = src.split("\n");
    const maxLines = isTest(f) ? BUDGET.testFileLines : BUDGET.fileLines;
    if (lines.length - 1 > maxLines && !allowed(f, "fileLines")) findings.push(`${f}: ${lines.length - 1} lines (budget ${maxLines})`);
    if (!allowed(f, "lineWidth")) lines.forEach((l, i) => l.length > BUDGET.lineWidth && findings.push(`${f}:${i + 1}: line of ${l.length} characters (budget ${BUDGET.lineWidth})`));
    if (allowed(f, "functionLines")) continue;
    const sf = ts.createSourceFile(f, src, ts.ScriptTarget.Latest, true);
    const visit = (n) => {
      if (ts.isFunctionLike(n) && "body" in n && n.body) {
        const a = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
        const b = sf.getLineAndCharacterOfPosition(n.end).line;
        // a describe()/it() callback of a test is a list of cases, not a function to read as one
        const testBlock = isTest(f) && ts.isCallExpression(n.parent) && /^(describe|it|before|after|beforeEach|afterEach)$/.test(n.parent.expression.getText(sf));
        if (b - a + 1 > BUDGET.functionLines && !testBlock) findings.push(`${f}:${a + 1}: function of ${b - a + 1} lines (budget ${BUDGET.functionLines})`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
}

const MISSING_DOCS = /\b(REFERENCE\.md|PERF-NOTES\.md|PEERS\.md|STYLE\.md)\b|\.\.\/shared\//;
function checkLint() {
  for (const f of text) {
    const src = readFileSync(join(root, f), "utf8");
    if (src.includes("\r")) findings.push(`${f}: CR line ends`);
    if (src.length && !src.endsWith("\n")) findings.push(`${f}: no final newline`);
    src.split("\n").forEach((l, i) => {
      const at = `${f}:${i + 1}`;
      if (/[ \t]+$/.test(l) && !f.endsWith(".md")) findings.push(`${at}: trailing whitespace`);
      if (/^\t/.test(l) && !f.endsWith(".py")) findings.push(`${at}: tab indentation`);
      if (MISSING_DOCS.test(l) && f !== "scripts/check-code.mjs") findings.push(`${at}: refers to a document that is not in the repository`);
      for (const m of l.matchAll(/(?<![\w./-])(docs\/[\w./-]+\.(?:md|json|csv|png|html))\b/g)) {
        if (!existsSync(join(root, m[1])) && !/\/[A-Z]+\./.test(m[1])) findings.push(`${at}: cites ${m[1]}, which does not exist`);
      }
      if (f.startsWith("lib/") && /\bas never\b/.test(l)) findings.push(`${at}: \`as never\` cast (type the value instead)`);
      if (f.startsWith("lib/") && /\bconsole\.log\(/.test(l)) findings.push(`${at}: console.log in the library (report through a callback or the runtime host)`);
      if (isTest(f) && /\b(it|describe|test)\.(only|skip|todo)\(|\{ only: true/.test(l)) findings.push(`${at}: skipped, todo or exclusive test (a conditional { skip: reason } is fine)`);
    });
  }
}

/** Static imports of a module that survive compilation (not `import type`, not type-only re-exports). */
function importsOf(f) {
  const sf = ts.createSourceFile(f, readFileSync(join(root, f), "utf8"), ts.ScriptTarget.Latest, false);
  const out = [];
  for (const s of sf.statements) {
    if ((ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier)) {
      if (ts.isImportDeclaration(s) && s.importClause?.isTypeOnly) continue;
      if (ts.isExportDeclaration(s) && s.isTypeOnly) continue;
      if (ts.isImportDeclaration(s) && s.importClause && !s.importClause.name && s.importClause.namedBindings && ts.isNamedImports(s.importClause.namedBindings) && s.importClause.namedBindings.elements.length > 0 && s.importClause.namedBindings.elements.every((e) => e.isTypeOnly)) continue;
      const spec = s.moduleSpecifier.text;
      if (spec.startsWith(".")) out.push(normalize(join(dirname(f), spec)).replace(/\.js$/, ".ts"));
    }
  }
  return out;
}

function layerOf(f) {
  const rest = relative("lib", f);
  const top = rest.startsWith("../") ? rest.split("/").slice(0, 2).join("/") : rest.includes("/") ? rest.split("/")[0] : rest;
  return LAYERS.findIndex((l) => l.includes(top));
}

function checkImports() {
  const hosts = /^(lib|cli|kernel)\//;
  const mods = code.filter((f) => hosts.test(f) && f.endsWith(".ts"));
  const graph = new Map(mods.map((f) => [f, importsOf(f).filter((g) => hosts.test(g))]));
  for (const [f, deps] of graph) {
    const lf = layerOf(f);
    if (lf < 0) findings.push(`${f}: its folder is in no layer of LAYERS (scripts/check-code.mjs)`);
    for (const g of deps) {
      if (!graph.has(g)) findings.push(`${f}: imports ${g}, which does not exist`);
      else if (lf >= 0 && layerOf(g) > lf) findings.push(`${f}: imports ${g} from a higher layer (${LAYERS[layerOf(g)].join(", ")} above ${LAYERS[lf].join(", ")})`);
    }
  }
  const state = new Map();
  const stack = [];
  const dfs = (f) => {
    state.set(f, 1);
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 1) findings.push(`import cycle: ${[...stack.slice(stack.indexOf(g)), g].join(" → ")}`);
      else if (!state.has(g) && graph.has(g)) dfs(g);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of graph.keys()) if (!state.has(f)) dfs(f);
}

const CHECKS = { size: checkSize, lint: checkLint, imports: checkImports };
const asked = process.argv.slice(2);
for (const a of asked) if (!CHECKS[a]) throw new Error(`check-code: unknown check "${a}"; known: ${Object.keys(CHECKS).join(", ")}`);
for (const name of asked.length ? asked : Object.keys(CHECKS)) CHECKS[name]();
if (findings.length) {
  console.error(`check-code: ${findings.length} finding(s)\n${findings.join("\n")}`);
  process.exit(1);
}
console.log(`check-code: ${(asked.length ? asked : Object.keys(CHECKS)).join(", ")} clean (${code.length} code files, ${text.length} text files)`);
