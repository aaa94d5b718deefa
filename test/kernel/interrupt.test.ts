/**
 * Interrupts, the way Jupyter's interrupt_mode "signal" does them: SIGINT to the kernel process.
 * The cell's own code stops at its next checkpoint (loop step, await, `.then` callback) and the cell
 * ends "Interrupted" with nothing left running: a loop that ignores the signal, a `.then` chain, an
 * interval; a library call (dInference, dTraining, which check the host signal) returns at its next
 * step; synchronous `while (true) {}` is broken by vm's breakOnSigint; what the cell assigned stays
 * readable. The kernel keeps working after each.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dataOf, startKernel, type KernelClient, type Reply } from "./client.js";

let k: KernelClient;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Start `code`, wait until it prints `marker`, wait `ms`, send SIGINT; returns the reply. */
async function interruptAfter(code: string, marker: string, ms: number, timeout = 60_000): Promise<{ r: Reply; sentAt: number }> {
  const id = k.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
  await k.waitFor(() => k.iopubLog.some((m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && String(m.content.text).includes(marker)), timeout);
  await sleep(ms);
  const sentAt = Date.now();
  k.proc.kill("SIGINT");
  return { r: await k.collect(id, timeout), sentAt };
}

async function value(code: string): Promise<unknown> {
  const r = await k.execute(code);
  assert.equal(r.reply.content.status, "ok", JSON.stringify(r.reply.content));
  return dataOf(r, "execute_result");
}

function assertInterrupted(r: Reply): void {
  assert.equal(r.reply.content.status, "error", JSON.stringify(r.reply.content));
  assert.equal(r.reply.content.ename, "Interrupted");
  assert.equal(r.outputs.filter((m) => m.header.msg_type === "error").length, 1);
}

/** The global counter `name` does not move over 500 ms. */
async function assertStopped(name: string): Promise<void> {
  const a = await value(`(globalThis as any).${name}`);
  await sleep(500);
  const b = await value(`(globalThis as any).${name}`);
  assert.equal(b, a, `${name} kept increasing after the interrupt`);
  assert.ok(Number(a) > 0, `${name} never ran`);
}

describe("interrupting the ctxlab kernel with SIGINT", { timeout: 240_000 }, () => {
  before(async () => {
    k = await startKernel({ env: { CTXLAB_INTERRUPT_GRACE_MS: "2500" } });
  });
  after(async () => {
    if (k) await k.close();
  });

  test("an awaited loop that checks signal() stops, the cell is Interrupted, the next cell runs", async () => {
    const code = [
      'import { signal } from "ctxlab/kernel";',
      "(globalThis as any).loops = 0;",
      'console.log("loop started");',
      "while (!signal().aborted) {",
      "  (globalThis as any).loops++;",
      "  await new Promise((r) => setImmediate(r));",
      "}",
      '"loop ended"',
    ].join("\n");
    const { r } = await interruptAfter(code, "loop started", 1000);
    assertInterrupted(r);
    assert.doesNotMatch(String(r.reply.content.evalue ?? ""), /grace period/, "the cell ended at the signal, not by being abandoned after the grace period");
    await assertStopped("loops");
    assert.equal(await value("6 * 7"), "42");
  });

  test("dInference on a tiny model honours the cell's signal through the host seam", async () => {
    const code = [
      'import { DTransformer, presets, none, dInference, currentSignal, useBackend } from "ctxlab";',
      'import { signal } from "ctxlab/kernel";',
      'await useBackend("cpu");',
      "const model = DTransformer.create({ ...presets.micro, positional: none() }, 0);",
      "(globalThis as any).tokens = 0;",
      "(globalThis as any).sameSignal = currentSignal() === signal();",
      'console.log("generating");',
      "(globalThis as any).run = dInference(model, [1, 2, 3], { maxTokens: 100_000, onToken: () => { (globalThis as any).tokens++; } });",
      "const out = await (globalThis as any).run;",
      "(globalThis as any).after = 'ran';",
    ].join("\n");
    const { r } = await interruptAfter(code, "generating", 1000, 90_000);
    assertInterrupted(r);
    // the cell stopped at its await; the library call returned at its next step, with its own result
    assert.equal(await value("(await (globalThis as any).run).stopReason"), "'aborted'");
    assert.equal(await value("(globalThis as any).after"), undefined);
    assert.equal(await value("(globalThis as any).sameSignal"), "true");
    await assertStopped("tokens");
  });

  test("a running fine-tune (dTraining) stops at a step boundary, keeps the last completed step, and the next cell runs", async () => {
    const code = [
      'import { DTransformer, presets, rope, dTraining, useBackend, type BatchSource } from "ctxlab";',
      'await useBackend("wasm");',
      "const ft = DTransformer.create({ ...presets.micro, positional: rope() }, 0);",
      "const src: BatchSource = { name: 'rand', describe: () => ({}), next: (rng) => ({ tokens: Int32Array.from({ length: 4 * 8 }, () => rng.int(0, 11)), batch: 4, length: 8 }) };",
      "const g = globalThis as any;",
      "g.steps = 0; g.sums = [];",
      "const checksum = () => Array.from(ft.params.get('blocks.0.mlp.W_mlp1').dataSync()).reduce((a, b) => a + b, 0);",
      'console.log("training");',
      "g.run = dTraining(ft, { source: src, steps: 1_000_000, schedule: 1e-2, onStep: (row) => { g.steps = row.step; g.sums.push(checksum()); } });",
      "const res = await g.run;",
    ].join("\n");
    const { r } = await interruptAfter(code, "training", 1500, 90_000);
    assertInterrupted(r);
    // the reply came after dTraining returned at its step boundary: nothing changes afterwards
    const atReply = await value("(globalThis as any).sums.length");
    const done = await k.execute("const g = globalThis as any;\nconst res = await g.run;\ng.status = res.status; g.message = res.message; g.stepsDone = res.stepsDone;\ng.final = checksum();");
    assert.equal(done.reply.content.status, "ok", JSON.stringify(done.reply.content));
    assert.equal(await value("(globalThis as any).sums.length"), atReply, "an update was applied after the cell was reported Interrupted");
    assert.equal(await value("(globalThis as any).status"), "'interrupted'");
    const steps = Number(await value("(globalThis as any).stepsDone"));
    assert.ok(steps > 0, "no step completed before the interrupt");
    assert.match(String(await value("(globalThis as any).message")), new RegExp(`interrupted at step ${steps}`));
    // the parameters are those after the last completed step
    assert.equal(await value("(globalThis as any).final === (globalThis as any).sums.at(-1)"), "true");
    await assertStopped("steps");
    assert.equal(await value("1 + 1"), "2");
  });

  test("`const r = await runRecipe(…)` interrupted mid-training: the statement completes, r holds the interrupted result", async () => {
    const code = [
      'import { DTransformer, presets, rope, runRecipe, type BatchSource } from "ctxlab";',
      "const base = DTransformer.create({ ...presets.micro, positional: rope() }, 0);",
      "const rows: BatchSource = { name: 'rows', describe: () => ({ batch: 2, length: 32 }), next: (rng) => ({ tokens: Int32Array.from({ length: 64 }, () => rng.int(0, 11)), batch: 2, length: 32 }) };",
      'const r = await runRecipe(base, "pi-ft", { targetLength: 32, steps: 1_000_000, source: rows });',
      "(globalThis as any).afterRecipe = true;",
    ].join("\n");
    const id = k.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
    // the live progress bar has moved: training runs inside the awaited call
    await k.waitFor(() => k.iopubLog.some((m) => m.parent_header.msg_id === id && m.header.msg_type === "update_display_data"), 90_000);
    await sleep(300);
    k.proc.kill("SIGINT");
    const r = await k.collect(id, 90_000);
    assertInterrupted(r);
    assert.doesNotMatch(String(r.reply.content.evalue), /not assigned/);
    assert.equal(await value("r.status"), "'interrupted'");
    assert.ok(Number(await value("r.steps")) > 0, "no step completed");
    assert.match(String(await value("r.message")), /^'interrupted at step \d+/);
    assert.equal(await value("r.model.cfg.lMax === base.cfg.lMax && r.model !== base"), "true");
    assert.equal(await value("(globalThis as any).afterRecipe"), undefined, "the cell went on after the interrupted statement");
  });

  test("an await that never settles: the reply names what the cell could not assign, and later cells say it does not exist", async () => {
    const { r } = await interruptAfter('console.log("waiting");\nconst q: number = await new Promise<number>(() => {});', "waiting", 300);
    assertInterrupted(r);
    assert.match(String(r.reply.content.evalue), /not assigned, so later cells do not have them: q$/);
    const later = await k.execute("q");
    assert.equal(later.reply.content.ename, "TSError");
    assert.match(String(later.reply.content.evalue), /Cannot find name 'q'/);
  });

  test("the plain async loop (an endless await loop) stops at once, and `i` stays readable and typed", async () => {
    const code = 'console.log("looping");\nlet i = 0; for (;;) { i++; await new Promise(r => setTimeout(r, 10)); }';
    const { r } = await interruptAfter(code, "looping", 800);
    assertInterrupted(r);
    assert.match(String(r.reply.content.evalue), /stopped the cell's code at its next loop step or await/);
    assert.doesNotMatch(String(r.reply.content.evalue), /grace period|waiting/);
    const a = Number(await value("i"));
    assert.ok(a > 0, `i = ${a}`);
    await sleep(500);
    assert.equal(Number(await value("i")), a, "the loop went on after the interrupt");
    assert.equal(await value("const next: number = i + 1; next === " + (a + 1)), "true");
  });

  test("a synchronous loop is broken by SIGINT; what it assigned stays readable", async () => {
    const { r } = await interruptAfter('console.log("spinning");\nlet n = 0;\nfor (;;) { n++; }', "spinning", 1000);
    assertInterrupted(r);
    assert.match(String(r.reply.content.evalue), /synchronous code stopped by SIGINT/);
    assert.ok(Number(await value("n")) > 0);
  });

  test("an interval and a .then chain the cell started stop with it; the reply says what was cleared", async () => {
    const code = [
      "const g = globalThis as any; g.ticks = 0; g.chain = 0;",
      "setInterval(() => g.ticks++, 5);",
      "const step = (): Promise<void> => new Promise<void>((r) => setImmediate(r)).then(() => { g.chain++; return step(); });",
      "void step();",
      'console.log("started");',
      "await new Promise(() => {});",
    ].join("\n");
    const { r } = await interruptAfter(code, "started", 800);
    assertInterrupted(r);
    assert.match(String(r.reply.content.evalue), /cleared 1 interval/);
    await assertStopped("ticks");
    await assertStopped("chain");
  });

  test("a cell's own process.on(\"SIGINT\") listener runs on Interrupt and does not take SIGINT from the kernel, also once removed", async () => {
    assert.equal(await value('const g = globalThis as any; g.userHits = 0; g.onInt = () => g.userHits++; process.on("SIGINT", g.onInt); process.listenerCount("SIGINT")'), "0");
    const wait = 'console.log("waiting");\nawait new Promise((r) => setTimeout(r, 20_000));';
    const first = await interruptAfter(wait, "waiting", 300);
    assertInterrupted(first.r);
    await sleep(50); // the listener runs on the turn after the interrupt
    assert.equal(await value("(globalThis as any).userHits"), "1");
    assert.equal(await value('process.off("SIGINT", (globalThis as any).onInt); 1'), "1");
    const second = await interruptAfter(wait, "waiting", 300);
    assertInterrupted(second.r);
    assert.equal(await value("(globalThis as any).userHits"), "1");
  });

  test("each execution gets a fresh AbortController", async () => {
    assert.equal(await value('import { signal } from "ctxlab/kernel";\nsignal().aborted'), "false");
  });
});
