/**
 * retrievalMixSource (lib/pretrain/retrieval-mix.ts): row formats, seeds, needle depth, the answer
 * never in a haystack or tail, kind weights, option errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../lib/errors.js";
import { PASSKEY_FILLER } from "../../lib/eval/index.js";
import { cleanFillerText, retrievalMixSource, retrievalRows } from "../../lib/pretrain/retrieval-mix.js";
import { corpusSplit, mobyDick } from "../../lib/data/corpus.js";
import { Rng } from "../../lib/tensor/random.js";

const text = corpusSplit(mobyDick()).train.slice(0, 200_000);
const opts = { batch: 8, length: 128, text };
const digitRuns = (s: string) => s.match(/[0-9]+/g) ?? [];

describe("retrievalMixSource", () => {
  it("cleans haystack text: no digits, no '=', ASCII only, single spaces", () => {
    const c = cleanFillerText("Chapter 12.\n\nA=b  café 3rd\tline");
    assert.equal(c, "Chapter . Ab caf rd line");
    assert.doesNotMatch(cleanFillerText(text), /[0-9=]|[^\x20-\x7e]/);
  });

  it("passkey rows: ℓ bytes, compact needle 'key=K. key=K.', question 'key=' right before the answer, key nowhere else", () => {
    const rows = retrievalRows(new Rng(1), "passkey", 200, opts);
    const fillers = new Set<string>();
    for (const r of rows) {
      assert.equal(r.text.length, 128);
      assert.deepEqual(r.ids, Array.from(Buffer.from(r.text, "latin1")));
      const k = r.answer!;
      assert.match(k, /^[1-9][0-9]{4}$/);
      assert.equal(r.text.slice(r.needlePos!, r.needlePos! + 21), `key=${k}. key=${k}.`);
      assert.equal(r.text.slice(r.answerPos! - 4, r.answerPos! + 5), `key=${k}`);
      assert.ok(r.answerPos! + 5 === r.episodeLength && r.episodeLength <= 128 && r.episodeLength >= 40 - 3);
      // the only digits in the row are the key: twice in the needle, once as the answer
      assert.deepEqual(digitRuns(r.text), [k, k, k]);
      assert.equal(r.text.split("=").length - 1, 3);
      assert.doesNotMatch(r.text.slice(0, r.episodeLength), /  /);
      fillers.add(r.filler!);
      if (r.filler === "pi") {
        const hay = r.text.slice(0, r.needlePos!) + r.text.slice(r.needlePos! + 22, r.answerPos! - 4);
        for (const w of hay.split(/[ .]+/).filter((x) => x)) assert.ok(PASSKEY_FILLER.includes(w), `"${w}" is not from the PI filler`);
      }
    }
    assert.deepEqual([...fillers].sort(), ["pi", "text"]);
  });

  it("needle depth follows the drawn depth: the word boundary of the haystack nearest to depth·|haystack|", () => {
    const rows = retrievalRows(new Rng(2), "passkey", 300, opts);
    for (const r of rows) {
      const prefix = r.text.slice(0, r.needlePos!).trimEnd();
      const suffix = r.text.slice(r.needlePos! + 21, r.answerPos! - 4).trim();
      const hay = [prefix, suffix].filter((x) => x).join(" ");
      const b = prefix ? (suffix ? prefix.length + 1 : hay.length) : 0;
      const target = r.depth! * hay.length;
      const bounds = [0, hay.length, ...[...hay].flatMap((c, i) => (c === " " ? [i + 1] : []))];
      for (const c of bounds) assert.ok(Math.abs(c - target) >= Math.abs(b - target), `depth ${r.depth}: boundary ${c} is nearer than ${b} in "${hay}"`);
      if (r.depth === 0) assert.equal(r.needlePos, 0);
      if (r.depth === 1) assert.equal(r.text.slice(r.needlePos! + 22, r.answerPos!), "key=");
      if (hay.length >= 60) assert.ok(Math.abs(b / hay.length - r.depth!) < 0.15);
    }
    const mid = rows.filter((r) => r.depth !== 0 && r.depth !== 1);
    assert.ok(rows.filter((r) => r.depth === 0).length > 10 && rows.filter((r) => r.depth === 1).length > 10 && mid.length > 150);
    const long = rows.map((r) => r.episodeLength);
    assert.ok(Math.min(...long) < 60 && Math.max(...long) > 120, "episode lengths span [40, ℓ]");
  });

  it("lines rows end their episode with 'name=' + the queried value, which occurs once before it", () => {
    for (const r of retrievalRows(new Rng(3), "lines", 50, opts)) {
      const prompt = r.text.slice(0, r.answerPos!);
      const question = prompt.slice(prompt.lastIndexOf("\n") + 1);
      assert.match(question, /^[a-z]+-[a-z]+=$/);
      assert.equal(r.text.slice(r.answerPos!, r.answerPos! + 5), r.answer);
      assert.equal(prompt.split(`${question}${r.answer}\n`).length - 1, 1);
      assert.deepEqual(digitRuns(r.text.slice(r.answerPos! + 5)), []);
    }
  });

  it("copy rows repeat one random string; text rows are windows of the text", () => {
    for (const r of retrievalRows(new Rng(4), "copy", 20, opts)) {
      const s = r.text.slice(0, r.text.indexOf(" "));
      assert.ok(s.length >= 8 && s.length <= 48);
      assert.equal(r.text, `${s} `.repeat(128).slice(0, 128));
    }
    for (const r of retrievalRows(new Rng(5), "text", 5, opts)) assert.ok(Buffer.from(text).includes(Buffer.from(r.ids)));
  });

  it("same seed → same batches; another seed → different; kinds drawn by weight", () => {
    const a = retrievalMixSource(opts);
    const b = retrievalMixSource(opts);
    const [ra, rb, rc] = [new Rng(7), new Rng(7), new Rng(8)];
    for (let i = 0; i < 5; i++) assert.deepEqual(a.next(ra).tokens, b.next(rb).tokens);
    assert.notDeepEqual(a.next(new Rng(7)).tokens, a.next(rc).tokens);
    const s = retrievalMixSource({ ...opts, weights: { text: 1, passkey: 3, lines: 0, copy: 0 } });
    const r = new Rng(9);
    for (let i = 0; i < 50; i++) s.next(r);
    const got = Object.fromEntries(s.realised().map((x) => [x.kind, x.fraction]));
    assert.equal(got.lines, 0);
    assert.equal(got.copy, 0);
    assert.ok(Math.abs(got.passkey! - 0.75) < 0.08, `passkey fraction ${got.passkey}`);
    const batch = s.next(r);
    assert.deepEqual([batch.batch, batch.length, batch.tokens.length], [8, 128, 1024]);
    assert.equal(s.describe().kind, "retrieval-mix");
  });

  it("errors name the option, value and limit", () => {
    assert.throws(() => retrievalMixSource({ ...opts, length: 32 }), (e: Error) => e instanceof ConfigError && /length \(ℓ\)=32 must be an integer ≥ 64/.test(e.message));
    assert.throws(() => retrievalMixSource({ ...opts, minEpisode: 200 }), /minEpisode=200 exceeds length ℓ=128/);
    assert.throws(() => retrievalMixSource({ ...opts, weights: { passkey: -1 } }), /weights.passkey=-1 must be finite and ≥ 0/);
    assert.throws(() => retrievalMixSource({ ...opts, weights: { passkei: 1 } as never }), /unknown weight "passkei"/);
    assert.throws(() => retrievalMixSource({ ...opts, text: "short" }), /text has 5 bytes .* need ≥ 256 for ℓ=128/);
    assert.throws(() => retrievalMixSource({ ...opts, piFiller: 2 }), /piFiller=2 must be in \[0, 1\]/);
  });
});
