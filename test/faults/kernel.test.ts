/**
 * Kernel abuse, fast sizes (kernel.ts): 2 fine-tunes × 10 SIGINTs, interrupts between cells, a burst
 * of 200 queued executions, 2 MB outputs, forged/replayed/malformed messages, nothing left running,
 * and a cell that throws inside a timer (last, since it can take the kernel down).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { kernelAbuse, kernelCheckNames, type KernelCheck, type KernelOptions } from "./kernel.js";

const KNOWN: Record<string, string> = {};
const OPTIONS: KernelOptions = { rounds: 2, sigintsPerRound: 10, burst: 200, idleInterrupts: 5, bigOutputBytes: 2_000_000 };

describe("kernel abuse", { timeout: 180_000 }, () => {
  let checks: KernelCheck[] = [];
  before(async () => {
    checks = await kernelAbuse(OPTIONS);
  });
  const names = kernelCheckNames(OPTIONS);
  for (const name of names) {
    it(name, KNOWN[name] ? { todo: KNOWN[name] } : {}, () => {
      const c = checks.find((x) => x.check === name);
      assert.ok(c, `not run; checks: ${checks.map((x) => x.check).join(", ")}`);
      assert.ok(c.ok, c.detail);
    });
  }
});
