/**
 * Executes test/kernel/fixtures/display-kinds.ipynb headless through Jupyter (nbconvert --execute
 * with the ctxlab kernel from a kernelspec in a temporary prefix) and checks each cell's output
 * kinds and mime types: execute_result, stream, display_data (html/markdown), Plotly (twice),
 * tensor, arquero table, a progress bar updated in place, clearOutput, tslab's display API, and a
 * type error.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { kernelCli } from "../../kernel/main.js";
import { REPO } from "./client.js";

const NBCONVERT = "/usr/bin/jupyter-nbconvert";

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  text?: string | string[];
  ename?: string;
}
interface Cell {
  cell_type: string;
  metadata: { tags?: string[] };
  outputs?: Output[];
}

const text = (t: string | string[] | unknown): string => (Array.isArray(t) ? t.join("") : String(t ?? ""));

test("a notebook using every display kind executes headless through nbconvert", { timeout: 120_000 }, async () => {
  assert.ok(existsSync(NBCONVERT), "jupyter-nbconvert is not installed: run `npm run setup` (apt install jupyter-nbconvert python3-nbclient)");
  const prefix = mkdtempSync(join(tmpdir(), "ctxlab-nb-"));
  try {
    assert.equal(await kernelCli(["kernel", "install", "--prefix", prefix]), 0);
    const fixture = join(REPO, "test", "kernel", "fixtures", "display-kinds.ipynb");
    const r = spawnSync(NBCONVERT, ["--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=ctxlab", "--ExecutePreprocessor.timeout=60", "--output-dir", prefix, "--output", "out", fixture], {
      env: { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter"), JUPYTER_RUNTIME_DIR: join(prefix, "runtime") },
      encoding: "utf8",
      timeout: 110_000,
    });
    assert.equal(r.status, 0, `nbconvert failed:\n${r.stdout}\n${r.stderr}`);
    const nb = JSON.parse(readFileSync(join(prefix, "out.ipynb"), "utf8")) as { cells: Cell[] };
    const byTag = new Map(nb.cells.filter((c) => c.cell_type === "code").map((c) => [c.metadata.tags![0]!, c.outputs ?? []]));
    const kinds = (tag: string): string[] => byTag.get(tag)!.filter((o) => !(o.output_type === "stream" && /TensorFlow\.js in Node|====|^ctxlab backend: /.test(text(o.text)))).map((o) => `${o.output_type}:${Object.keys(o.data ?? {}).sort().join(",")}`);
    assert.deepEqual(kinds("result"), ["execute_result:text/plain"]);
    assert.deepEqual(kinds("stream"), ["stream:"]);
    assert.deepEqual(kinds("html"), ["display_data:text/html,text/plain", "display_data:text/markdown,text/plain"]);
    assert.deepEqual(kinds("plotly"), ["execute_result:application/vnd.plotly.v1+json,text/html,text/plain"]);
    assert.deepEqual(kinds("plotly2"), ["execute_result:application/vnd.plotly.v1+json,text/html,text/plain"]);
    const html1 = text(byTag.get("plotly")![0]!.data!["text/html"]);
    const html2 = text(byTag.get("plotly2")![0]!.data!["text/html"]);
    assert.ok(html1.length > 1e6 && html2.length < 5000, "plotly.js only in the first figure");
    assert.deepEqual(kinds("tensor"), ["execute_result:text/html,text/plain"]);
    assert.deepEqual(kinds("table"), ["execute_result:text/html,text/plain"]);
    assert.deepEqual(kinds("progress"), ["display_data:text/html,text/plain"]);
    assert.match(text(byTag.get("progress")![0]!.data!["text/plain"]), /demo .* 3\/3 \(100%\).*completed/);
    assert.deepEqual(byTag.get("clear")!.map((o) => text(o.text)), ["this stays\n"]);
    assert.deepEqual(kinds("tslab"), ["display_data:text/html"]);
    assert.deepEqual(byTag.get("error")!.map((o) => [o.output_type, o.ename]), [["error", "TSError"]]);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

// The notebooks in notebooks/ (the quick start included) run in test/kernel/notebooks.test.ts.
