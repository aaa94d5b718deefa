/**
 * Unit tests of the wire layer (no sockets): HMAC signing, timing-safe verification, replay
 * detection, frame encoding/decoding, connection files.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode, messageFor, newHeader, readConnectionFile, Signer, type Message } from "../../kernel/wire.js";

const msg = (): Message<object> => ({ identities: [Buffer.from("peer")], header: newHeader("execute_request", "s1"), parent_header: {}, metadata: {}, content: { code: "1" }, buffers: [] });

test("encode signs the four JSON frames with HMAC-SHA256 (the spec's digest)", () => {
  const frames = encode(msg(), new Signer("k3y"));
  assert.equal(frames[0]!.toString(), "peer");
  assert.equal(frames[1]!.toString(), "<IDS|MSG>");
  const h = createHmac("sha256", "k3y");
  for (const f of frames.slice(3, 7)) h.update(f);
  assert.equal(frames[2]!.toString(), h.digest("hex"));
});

test("decode round-trips a signed message, identities and buffers included", () => {
  const m = { ...msg(), buffers: [Buffer.from([1, 2, 3])] };
  const r = decode(encode(m, new Signer("k")), new Signer("k"));
  assert.ok(r.ok);
  assert.deepEqual(r.msg.identities.map(String), ["peer"]);
  assert.deepEqual(r.msg.header, m.header);
  assert.deepEqual(r.msg.content, { code: "1" });
  assert.deepEqual([...r.msg.buffers[0]!], [1, 2, 3]);
});

test("a wrong key, a tampered frame, a truncated signature or a replay is rejected", () => {
  const frames = encode(msg(), new Signer("right"));
  assert.deepEqual(decode(frames, new Signer("wrong")), { ok: false, reason: "bad signature" });
  const tampered = frames.slice();
  tampered[6] = Buffer.from(JSON.stringify({ code: "process.exit(1)" }));
  assert.equal(decode(tampered, new Signer("right")).ok, false);
  const short = frames.slice();
  short[2] = Buffer.from(frames[2]!.toString().slice(0, 10));
  assert.equal(decode(short, new Signer("right")).ok, false);
  const s = new Signer("right");
  assert.equal(decode(frames, s).ok, true);
  assert.deepEqual(decode(frames, s), { ok: false, reason: "replayed signature" });
});

test("malformed frames are rejected with a reason, never thrown", () => {
  const s = new Signer("");
  assert.deepEqual(decode([Buffer.from("x")], s), { ok: false, reason: "no <IDS|MSG> delimiter" });
  const frames = encode(msg(), s);
  frames[3] = Buffer.from("{not json");
  assert.equal(decode(frames, s).ok, false);
  assert.match((decode(frames.slice(0, 4), s) as { reason: string }).reason, /too few frames/);
});

test("an empty key disables signing (as Jupyter allows)", () => {
  const frames = encode(msg(), new Signer(""));
  assert.equal(frames[2]!.toString(), "");
  assert.ok(decode(frames, new Signer("")).ok);
});

test("replies carry the parent header and identities", () => {
  const req = { ...msg(), content: {} } as Message;
  const rep = messageFor(req, "execute_reply", { status: "ok" }, "kernel-session");
  assert.equal(rep.parent_header, req.header);
  assert.equal(rep.identities, req.identities);
  assert.equal(rep.header.session, "kernel-session");
  assert.equal(rep.header.version, "5.3");
});

test("readConnectionFile fills defaults and rejects incomplete files", () => {
  const dir = mkdtempSync(join(tmpdir(), "ctxlab-wire-"));
  try {
    const f = join(dir, "c.json");
    writeFileSync(f, JSON.stringify({ ip: "127.0.0.1", key: "k", shell_port: 1, iopub_port: 2, stdin_port: 3, control_port: 4, hb_port: 5 }));
    const info = readConnectionFile(f);
    assert.equal(info.transport, "tcp");
    assert.equal(info.signature_scheme, "hmac-sha256");
    writeFileSync(f, JSON.stringify({ ip: "127.0.0.1", shell_port: 1 }));
    assert.throws(() => readConnectionFile(f), /iopub_port is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
