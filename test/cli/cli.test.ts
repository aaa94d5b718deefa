/** The ctxlab command line: run-config validation, train → resume equivalence, interrupts, generate. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, parseFlags } from "../../cli/main.js";
import { resolveRunConfig } from "../../cli/run-config.js";
import { trainCommand } from "../../cli/train.js";
import { ConfigError } from "../../lib/errors.js";
import { testBackend } from "../helpers/setup.js";

let tmp = "";
const sink = () => {
  let text = "";
  return { out: { write: (s: string) => (text += s), isTTY: false }, text: () => text };
};
const tiny = {
  seed: 3, backend: "wasm",
  model: { lMax: 16, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32 },
  positional: "rope", tokenizer: "byte",
  data: { corpus: "moby-dick", batch: 2 },
  schedule: { kind: "cosine", lr: 0.003, warmup: 2 },
  steps: 8, valEvery: 4, valBatches: 1, checkpointEvery: 4,
};

before(async () => {
  await testBackend();
  tmp = mkdtempSync(join(tmpdir(), "ctxlab-cli-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const lossesOf = (dir: string) => readFileSync(join(dir, "metrics.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(",").slice(0, 2).join(","));

describe("run config", () => {
  it("suggests the nearest key for a typo, and names wrong types and impossible sizes", () => {
    assert.throws(() => resolveRunConfig({ optimzer: {} }), /unknown key optimzer — did you mean optimizer\?/);
    assert.throws(() => resolveRunConfig({ model: { nHead: 4 } }), /unknown key model.nHead — did you mean model.nHeads\?/);
    assert.throws(() => resolveRunConfig({ steps: "ten" }), (e: Error) => e instanceof ConfigError && /steps = "ten" is invalid: expected an integer ≥ 1/.test(e.message));
    assert.throws(() => resolveRunConfig({ model: { dE: 30, nHeads: 4 } }), /model.dE = 30 is not divisible by model.nHeads = 4/);
    assert.throws(() => resolveRunConfig({ tokenizer: "bpe" }), /tokenizer = "bpe" is invalid: expected one of "byte", "gpt2"/);
    assert.throws(() => resolveRunConfig({ schedule: { warmup: 500 }, steps: 100 }), /warmup = 500 must be smaller than steps = 100/);
    assert.equal(resolveRunConfig({}).optimizer.kind, "adamw");
    assert.equal(resolveRunConfig({ schedule: { decayFrom: 80 }, steps: 100 }).schedule.decayFrom, 80, "warm-up–stable–decay: a cosine held at lr until step 80");
    assert.throws(() => resolveRunConfig({ schedule: { decayFrom: 100 }, steps: 100 }), /schedule.decayFrom = 100 needs kind "cosine" and warmup = 20 ≤ decayFrom < steps = 100/);
    assert.throws(() => resolveRunConfig({ schedule: { kind: "constant", decayFrom: 50 }, steps: 100 }), /schedule.decayFrom = 50 needs kind "cosine"/);
  });
  it("parses flags", () => {
    assert.deepEqual(parseFlags(["--a", "1", "--b=2", "--no-cache", "w"], ["no-cache"]), { flags: { a: "1", b: "2", "no-cache": true }, words: ["w"] });
    assert.throws(() => parseFlags(["--a"]), /--a needs a value/);
  });
});

describe("ctxlab train / generate", () => {
  it("training 8 steps equals 4 steps, an interrupt, and a resume to 8 (same losses)", async () => {
    const cfgPath = join(tmp, "tiny.json");
    writeFileSync(cfgPath, JSON.stringify(tiny));
    const s1 = sink();
    assert.equal(await cli(["train", "--config", cfgPath, "--out", join(tmp, "straight")], s1.out as never, s1.out as never), 0);
    for (const f of ["trainer-state.json", "metrics.csv", "run-config.json"]) assert.ok(existsSync(join(tmp, "straight", f)), f);
    // a run interrupted after 4 steps (the host signal aborts), then resumed
    const ac = new AbortController();
    const s2 = sink();
    const r = await trainCommand({ config: cfgPath, out: join(tmp, "split") }, { write: (t: string) => { s2.out.write(t); if (/^training to step 8: 4\/8/m.test(t)) ac.abort(); return true; }, isTTY: false }, ac.signal);
    assert.equal(r.status, "interrupted");
    assert.equal(r.step, 4);
    const s3 = sink();
    assert.equal(await cli(["train", "--resume", join(tmp, "split")], s3.out as never, s3.out as never), 0);
    assert.deepEqual(lossesOf(join(tmp, "split")), lossesOf(join(tmp, "straight")));
    const resolved = JSON.parse(readFileSync(join(tmp, "straight", "run-config.json"), "utf8"));
    assert.equal(resolved.positional.name, "rope");
    assert.equal(resolved.optimizer.kind, "adamw");
  });

  it("schedule.decayFrom: η holds at lr after the warm-up until decayFrom, then follows the cosine to minLr", async () => {
    const cfgPath = join(tmp, "wsd.json");
    writeFileSync(cfgPath, JSON.stringify({ ...tiny, schedule: { kind: "cosine", lr: 0.003, warmup: 2, decayFrom: 5, minLr: 0.0003 } }));
    const s = sink();
    assert.equal(await cli(["train", "--config", cfgPath, "--out", join(tmp, "wsd")], s.out as never, s.out as never), 0, s.text());
    const [head, ...rows] = readFileSync(join(tmp, "wsd", "metrics.csv"), "utf8").trim().split("\n");
    const col = head!.split(",").indexOf("lr");
    const lr = rows.map((r) => Number(r.split(",")[col]));
    assert.deepEqual(lr.slice(2, 5), [0.003, 0.003, 0.003]);
    assert.ok(lr[5]! < 0.003 && lr[6]! < lr[5]!, `decaying after step 5: ${lr.join(", ")}`);
    assert.ok(Math.abs(lr[7]! - 0.0003) < 1e-9, `η(8) = minLr, got ${lr[7]}`);
  });
  it("generate streams text from a checkpoint, reproducibly for a seed; bad input is one clear line", async () => {
    const a = sink();
    const b = sink();
    const args = ["generate", "--checkpoint", join(tmp, "straight"), "--prompt", "Call me", "--tokens", "12", "--seed", "4"];
    assert.equal(await cli(args, a.out as never, a.out as never), 0);
    assert.equal(await cli(args, b.out as never, b.out as never), 0);
    assert.match(a.text(), /^Call me/);
    assert.match(a.text(), /\[12 tokens, .* tokens\/s, stop: length\]/);
    assert.equal(a.text().replace(/\[.*\]/, ""), b.text().replace(/\[.*\]/, ""));
    const e = sink();
    assert.equal(await cli(["generate", "--checkpoint", join(tmp, "nope"), "--prompt", "x"], e.out as never, e.out as never), 2);
    assert.match(e.text(), /CheckpointError: checkpoint directory .*nope does not exist/);
    const f = sink();
    assert.equal(await cli(["generate", "--checkpoint", join(tmp, "straight"), "--prompt", "x", "--tokens", "1.5"], f.out as never, f.out as never), 2);
    assert.match(f.text(), /--tokens 1.5 is not an integer/);
    const g = sink();
    assert.equal(await cli(["frobnicate"], g.out as never, g.out as never), 2);
    assert.match(g.text(), /unknown command "frobnicate"/);
    for (const flag of ["--help", "-h", "help"]) {
      const h = sink();
      const e2 = sink();
      assert.equal(await cli([flag], h.out as never, e2.out as never), 0, flag);
      assert.match(h.text(), /^usage:\n {2}ctxlab --help/);
      assert.match(h.text(), /ctxlab eval --checkpoint/);
      assert.equal(e2.text(), "");
    }
  });
});

it("a resumed cosine run past its schedule's end is warned about the lr floor", async () => {
  const { resumedAtFloor } = await import("../../cli/train.js");
  const cosine = { kind: "cosine" as const, lr: 1e-3, warmup: 10, warmupFrom: 0, total: 200, minLr: 1e-4, decayFrom: 10 };
  assert.equal(resumedAtFloor(cosine, 200, 200), undefined);
  assert.equal(resumedAtFloor(cosine, 100, 150), undefined);
  assert.match(resumedAtFloor(cosine, 200, 400)!, /ended at step 200 \(η = minLr = 0\.0001\); steps 201–400 train at that floor/);
  assert.match(resumedAtFloor(cosine, 120, 300)!, /steps 201–300/);
  assert.equal(resumedAtFloor({ kind: "constant", lr: 1e-3 }, 200, 400), undefined);
});
