/**
 * The notebook's folder changes under a running kernel (kernel/watch.ts): an `npm install` creates
 * node_modules/, a local module appears and is edited, Jupyter autosaves. Before the fix, the first
 * such change made every later cell fail with tslab's "Unexpected pending rebuildTimer"; now each
 * cell runs, a new module is found, an edited one is re-read (value and type), and an autosave
 * costs nothing.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { relevantChange } from "../../kernel/watch.js";
import { dataOf, startKernel, type KernelClient } from "./client.js";

test("relevantChange: sources, declarations, JSON and folders count; notebooks, checkpoints and .git do not", () => {
  for (const p of ["/n/foo.ts", "/n/node_modules", "/n/node_modules/@types", "/n/package.json", "/n/lib/x.d.ts", "/n/a.mjs", "/n/newdir"]) assert.equal(relevantChange(p), true, p);
  for (const p of ["/n/Untitled.ipynb", "/n/.ipynb_checkpoints/x-checkpoint.ipynb", "/n/.git/index", "/n/data.csv", "/n/model.safetensors"]) assert.equal(relevantChange(p), false, p);
});

describe("a notebook folder that changes under the kernel", { timeout: 180_000 }, () => {
  let k: KernelClient;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ctxlab-watch-"));
    k = await startKernel({ cwd: dir });
  });
  after(async () => {
    if (k) await k.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const value = async (code: string): Promise<unknown> => {
    const r = await k.execute(code, 60_000);
    assert.equal(r.reply.content.status, "ok", `${code}: ${JSON.stringify(r.reply.content).slice(0, 300)}`);
    return dataOf(r, "execute_result");
  };

  test("node_modules/ created, a module added and edited, a notebook autosaved: every cell runs", async () => {
    assert.equal(await value('import { presets } from "ctxlab";\npresets.tiny.dE'), "64");
    const missing = await k.execute('import * as early from "./helper";\n1', 60_000);
    assert.match(String(missing.reply.content.evalue), /Cannot find module '\.\/helper'/);
    mkdirSync(join(dir, "node_modules"));
    await sleep(1500);
    assert.equal(await value("presets.tiny.dE + 1"), "65");
    writeFileSync(join(dir, "helper.ts"), "export const x: number = 1;\n");
    await sleep(1500);
    assert.equal(await value('import * as h1 from "./helper";\nh1.x'), "1");
    writeFileSync(join(dir, "helper.ts"), "export const x: string = 'two';\n");
    await sleep(2500);
    assert.equal(await value('import * as h2 from "./helper";\nconst s: string = h2.x;\ns'), "'two'");
    writeFileSync(join(dir, "Untitled.ipynb"), "{}\n");
    await sleep(1500);
    assert.equal(await value("s.length"), "3");
  });
});
