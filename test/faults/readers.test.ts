/**
 * Fast part of the fault suite: ~500 generated malformed inputs per reader of outside data (100 for
 * the disk-based ones). Each must end in the reader's error class with a short message, or be
 * accepted consistently, allocating at most a small multiple of its size (fuzz.ts; the 1-s limit per
 * input is judged in the full run only, since tests do not assert wall-clock times). The full run
 * (10,000 per reader) is `node scripts/faults.mjs`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { testBackend } from "../helpers/setup.js";
import { badSummary, fuzz } from "./fuzz.js";
import { diskFixture, loadCheckpointSpec, memorySpecs, readJsonlSpec, type DiskFixture } from "./readers.js";
import type { ReaderSpec } from "./fuzz.js";

const N = Number(process.env.CTXLAB_FUZZ_N ?? 500);
const untimed = { judgeTime: false }; // time per input is judged by `npm run faults`, not by npm test

describe("fuzzing the readers of outside data", { timeout: 300_000 }, () => {
  for (const spec of memorySpecs()) {
    it(`${spec.name}: ${N} inputs, no BAD outcome`, async () => {
      const rep = await fuzz(spec, N, 20240601, untimed);
      assert.equal(rep.tried, N);
      assert.equal(rep.bad, 0, `${rep.bad} BAD outcomes:\n${badSummary(rep)}`);
    });
  }

  let fx: DiskFixture | undefined;
  before(async () => {
    await testBackend();
    fx = await diskFixture();
  });
  after(() => fx?.close());
  it(`loadCheckpoint and readJsonl on disk: ${Math.ceil(N / 5)} inputs each, no BAD outcome, no leaked tensors`, async () => {
    for (const spec of [loadCheckpointSpec(fx!), readJsonlSpec(fx!)] as ReaderSpec<any, any>[]) {
      const rep = await fuzz(spec, Math.ceil(N / 5), 7, untimed);
      assert.equal(rep.bad, 0, `${spec.name}: ${rep.bad} BAD outcomes:\n${badSummary(rep)}`);
      assert.ok(rep.clean > 0, `${spec.name}: no malformed input was generated`);
    }
  });
});
