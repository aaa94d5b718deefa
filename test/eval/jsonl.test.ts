/** JSONL evaluation sets (lib/eval/jsonl.ts): parsing, errors with line numbers, the size limit, round trips. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { byteTokenizer } from "../../lib/data/tokenizer.js";
import { InputError } from "../../lib/errors.js";
import { depthSweep, jsonlExamples, parseJsonl, readJsonl, toJsonl } from "../../lib/eval/index.js";

const tmp = mkdtempSync(join(tmpdir(), "ctxlab-jsonl-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const tok = byteTokenizer();

describe("parseJsonl", () => {
  it("reads prompt/answer and carries id, length, depth, target; skips blank lines", () => {
    const items = parseJsonl('{"prompt": "a=1\\na=", "answer": "1"}\n\n{"prompt": "p", "answer": " 7 ", "id": "x", "length": 9, "depth": 0.5, "target": " 7", "extra": true}\n');
    assert.equal(items.length, 2);
    assert.deepEqual(items[1], { prompt: "p", answer: " 7 ", id: "x", length: 9, depth: 0.5, target: " 7", line: 3 });
    const [a, b] = jsonlExamples(items, tok);
    assert.deepEqual([a!.id, a!.length, a!.depth, a!.target, a!.targetIds], ["line 1", 7, null, "1", [49]]);
    assert.deepEqual([b!.id, b!.length, b!.depth, b!.answer, b!.targetIds], ["x", 9, 0.5, "7", [32, 55]]);
  });
  it("names the line number of bad JSON, missing or non-string fields, and bad optional fields", () => {
    const bad = (text: string, re: RegExp) => assert.throws(() => parseJsonl(text, "set.jsonl"), (e: Error) => e instanceof InputError && re.test(e.message));
    bad('{"prompt": "p", "answer": "1"}\n{"prompt": "p", "answer": 1}', /^set\.jsonl:2: field "answer" must be a string, got 1$/);
    bad('{"prompt": "p", "answer": "1"}\n\n{"prompt": "p"', /^set\.jsonl:3: invalid JSON/);
    bad('{"answer": "1"}', /^set\.jsonl:1: missing field "prompt"/);
    bad('[1, 2]', /^set\.jsonl:1: expected a JSON object .* got an array/);
    bad('{"prompt": "p", "answer": "1", "depth": 2}', /^set\.jsonl:1: field "depth" must be in \[0, 1\]/);
    bad('{"prompt": "p", "answer": "1", "length": "long"}', /^set\.jsonl:1: field "length" must be a number/);
    bad('{"prompt": "p", "answer": "  "}', /^set\.jsonl:1: field "answer" is empty/);
    bad("\n\n", /no examples/);
  });
  it("readJsonl refuses files over the limit and missing files; toJsonl round-trips generated examples", async () => {
    const exs = depthSweep("passkey", tok, { lengths: [64], depths: [0, 1], n: 2, variant: "compact" });
    const path = join(tmp, "set.jsonl");
    writeFileSync(path, toJsonl(exs));
    const back = jsonlExamples(await readJsonl(path), tok);
    assert.deepEqual(back.map((e) => [e.id, e.length, e.depth, e.prompt, e.answer, e.target, e.ids, e.targetIds, e.needlePos]), exs.map((e) => [e.id, e.length, e.depth, e.prompt, e.answer, e.target, e.ids, e.targetIds, e.needlePos]));
    await assert.rejects(readJsonl(path, 100), /bytes, over the 100-byte limit \(100 MB\)/);
    await assert.rejects(readJsonl(join(tmp, "missing.jsonl")), /cannot read/);
  });
});
