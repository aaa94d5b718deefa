/**
 * Interrupts, the way Jupyter's interrupt_mode "signal" does them: SIGINT to the kernel process.
 * An awaited loop that checks the cell's signal stops and the cell ends "Interrupted" (nothing keeps
 * running afterwards); a library call (dInference, which checks the host signal) stops likewise;
 * an awaited loop that ignores the signal is abandoned after the grace period; synchronous
 * `while (true) {}` is broken by vm's breakOnSigint. The kernel keeps working after each.
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

describe("interrupting the ctxlab kernel with SIGINT", { timeout: 150_000 }, () => {
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
      "const out = await dInference(model, [1, 2, 3], { maxTokens: 100_000, onToken: () => { (globalThis as any).tokens++; } });",
      "(globalThis as any).stopReason = out.stopReason;",
    ].join("\n");
    const { r } = await interruptAfter(code, "generating", 1000, 90_000);
    assertInterrupted(r);
    assert.equal(await value("(globalThis as any).stopReason"), "'aborted'");
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
      "const res = await dTraining(ft, { source: src, steps: 1_000_000, schedule: 1e-2, onStep: (row) => { g.steps = row.step; g.sums.push(checksum()); } });",
      "g.status = res.status; g.message = res.message; g.stepsDone = res.stepsDone;",
      "g.final = checksum();",
    ].join("\n");
    const { r } = await interruptAfter(code, "training", 1500, 90_000);
    assertInterrupted(r);
    assert.equal(await value("(globalThis as any).status"), "'interrupted'");
    const steps = Number(await value("(globalThis as any).stepsDone"));
    assert.ok(steps > 0, "no step completed before the interrupt");
    assert.match(String(await value("(globalThis as any).message")), new RegExp(`interrupted at step ${steps}`));
    // the parameters are those after the last completed step
    assert.equal(await value("(globalThis as any).final === (globalThis as any).sums.at(-1)"), "true");
    await assertStopped("steps");
    assert.equal(await value("1 + 1"), "2");
  });

  test("an awaited loop that ignores the signal is abandoned after the grace period", async () => {
    const code = 'console.log("stubborn");\nwhile (true) await new Promise((r) => setTimeout(r, 20));';
    const { r } = await interruptAfter(code, "stubborn", 300);
    assertInterrupted(r);
    assert.match(String(r.reply.content.evalue), /grace period/);
    assert.equal(await value("1 + 1"), "2");
  });

  test("synchronous while (true) {} is broken by SIGINT and the kernel survives", async () => {
    const { r } = await interruptAfter('console.log("spinning");\nwhile (true) {}', "spinning", 1000);
    assertInterrupted(r);
    assert.match(String(r.reply.content.evalue), /synchronous code stopped by SIGINT/);
    assert.equal(await value("'alive'"), "'alive'");
  });

  test("each execution gets a fresh AbortController", async () => {
    assert.equal(await value('import { signal } from "ctxlab/kernel";\nsignal().aborted'), "false");
  });
});
