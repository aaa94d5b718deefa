/**
 * What a cell leaves behind and where its errors point, on the real kernel: the backend is selected
 * before the first cell (which says which), a cell that throws keeps
 * the declarations it completed (values and types, imports included) and leaves what it did not
 * reach as it was; runtime stack frames name cell lines; a notebook in a folder without
 * node_modules imports ctxlab, TF.js and arquero (with their types) from the kernel's installation.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dataOf, startKernel, type KernelClient } from "./client.js";

async function value(k: KernelClient, code: string): Promise<unknown> {
  const r = await k.execute(code, 120_000);
  assert.equal(r.reply.content.status, "ok", JSON.stringify(r.reply.content));
  return dataOf(r, "execute_result");
}

describe("cells that throw, stack traces", { timeout: 180_000 }, () => {
  let k: KernelClient;
  before(async () => {
    k = await startKernel();
  });
  after(async () => {
    if (k) await k.close();
  });

  test("the kernel selects the best backend before the first cell and says so in its output", async () => {
    const r = await k.execute('import * as tf from "@tensorflow/tfjs";\ntf.getBackend()', 120_000);
    assert.equal(dataOf(r, "execute_result"), "'wasm'");
    const out = r.outputs.filter((m) => m.header.msg_type === "stream").map((m) => String(m.content.text)).join("");
    assert.match(out, /^ctxlab backend: wasm \(tfjs "wasm"\), requested auto \(default\) — WebAssembly backend ready.*useBackend/);
    const second = await k.execute("1 + 1");
    assert.equal(second.outputs.filter((m) => m.header.msg_type === "stream").length, 0, "only the first cell says it");
    // a cell can still switch; TF.js's "install tfjs-node" banner never reaches a cell
    const cpu = await k.execute('import { useBackend } from "ctxlab";\nawait useBackend("cpu");\ntf.tensor([1, 2]).sum().dataSync()[0]');
    assert.equal(dataOf(cpu, "execute_result"), "3");
    assert.doesNotMatch(cpu.outputs.map((m) => String(m.content.text ?? "")).join(""), /looks like you are running TensorFlow/);
    assert.equal(dataOf(await k.execute('await useBackend("wasm"); tf.getBackend()'), "execute_result"), "'wasm'");
  });

  test("a cell that throws keeps what it declared before the throw, imports included", async () => {
    const r = await k.execute('import * as path from "node:path";\nconst keepMe = 42;\nfunction twice(x: number) { return 2 * x; }\nthrow new Error("x");\nconst never = 1;');
    assert.equal(r.reply.content.status, "error");
    assert.equal(r.reply.content.evalue, "x");
    assert.equal(await value(k, "twice(keepMe) + path.sep.length"), "85");
    const missing = await k.execute("never");
    assert.equal(missing.reply.content.ename, "TSError", "a declaration after the throw must not exist");
  });

  test("a failed cell's import line that also imports a type (`type T`) is kept with its values", async () => {
    const r = await k.execute('import { presets, type BatchSource } from "ctxlab";\nconst rows: BatchSource["name"] = "x";\nthrow new Error("after the import");');
    assert.equal(r.reply.content.evalue, "after the import");
    assert.equal(await value(k, "presets.micro.dE + rows.length"), "9");
  });

  test("a name the failed cell redeclares after its throw keeps its earlier value and type", async () => {
    await value(k, "let x = 1; x");
    const r = await k.execute('throw new RangeError("early");\nlet x = "text";');
    assert.equal(r.reply.content.ename, "RangeError");
    assert.equal(await value(k, "const y: number = x + 1; y"), "2");
  });

  test("runtime stack frames point at the cell's own lines", async () => {
    const r = await k.execute('const a = 1;\nfunction f(n: number): number {\n  if (n > 2) throw new RangeError("big");\n  return n;\n}\nf(a + 4);');
    const tb = (r.reply.content.traceback as string[]).join("\n");
    assert.match(tb, /at f \(<cell \[\d+\]>:3:\d+\)/, tb);
    assert.match(tb, /<cell \[\d+\]>:6:\d+/, tb);
    assert.doesNotMatch(tb, /ctxlab-cell-|evalmachine/, tb);
  });

  test("a string result is shown as its text", async () => {
    assert.equal(await value(k, '"line one\\nline two " + "and a long tail ".repeat(8)'), `line one\nline two ${"and a long tail ".repeat(8)}`);
  });
});

describe("a notebook outside the checkout", { timeout: 180_000 }, () => {
  let k: KernelClient;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ctxlab-outside-"));
    k = await startKernel({ cwd: dir });
  });
  after(async () => {
    if (k) await k.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("imports ctxlab, TF.js and arquero with their types from the kernel's installation", async () => {
    const code = [
      'import { presets } from "ctxlab";',
      'import * as tf from "@tensorflow/tfjs";',
      'import * as aq from "arquero";',
      "const d: number = presets.micro.dE;",
      "[d > 0, typeof tf.tensor, typeof aq.table]",
    ].join("\n");
    assert.equal(await value(k, code), "[ true, 'function', 'function' ]");
  });
});
