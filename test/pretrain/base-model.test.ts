/**
 * lib/pretrain/base-model.ts: a base checkpoint that exists is loaded as it is (same logits); one that is
 * absent is replaced by a tiny model of the same encoding trained here, and the note says so.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { loadBase } from "../../lib/pretrain/base-model.js";
import { saveCheckpoint } from "../../lib/io/checkpoint.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { rope } from "../../lib/positional/rope.js";
import { maxAbsDiff, testBackend } from "../helpers/setup.js";

let dir: string;
before(async () => {
  await testBackend();
  dir = mkdtempSync(join(tmpdir(), "ctxlab-base-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("loadBase", () => {
  it("loads dir/rope when it holds a checkpoint", async () => {
    const m = DTransformer.create({ ...presets.micro, positional: rope() }, 5);
    await saveCheckpoint(m, join(dir, "rope"));
    const b = await loadBase("rope", { dir });
    assert.equal(b.fromCheckpoint, true);
    assert.match(b.note, /^loaded .*rope \(RoPE/);
    const x = [1, 2, 3, 4];
    assert.equal(maxAbsDiff(b.model.logits(x), m.logits(x)), 0);
  });

  it("trains a stand-in of the same encoding when the checkpoint is absent, and says so", async () => {
    const b = await loadBase("alibi", { dir, steps: 2, batch: 2, length: 32 });
    assert.equal(b.fromCheckpoint, false);
    assert.equal(b.model.positional.name, "alibi");
    assert.equal(b.model.cfg.lMax, 128);
    assert.equal(b.log!.numRows(), 2);
    assert.match(b.note, /alibi not found: trained a tiny .* \(2 steps at ℓ = 32, last loss \d\.\d{3}\)/);
    const init = await loadBase("nope", { dir, steps: 0 });
    assert.equal(init.model.positional.name, "none");
    assert.match(init.note, /nope not found: using a tiny .* at its initialisation/);
    await assert.rejects(loadBase("gpt5" as never, { dir }), ConfigError);
  });
});
