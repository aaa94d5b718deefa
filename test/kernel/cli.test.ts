/**
 * `ctxlab kernel install|uninstall` into a temporary prefix: kernel.json contents, valid PNG logos,
 * removal, usage errors. The user's Jupyter directories are never touched.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { test } from "node:test";
import assert from "node:assert/strict";
import { kernelCli } from "../../kernel/main.js";
import { crc32 } from "../../kernel/logo.js";
import { REPO } from "./client.js";

function checkPng(buf: Buffer, size: number): void {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("ascii", off + 4, off + 8);
    const body = buf.subarray(off + 4, off + 8 + len);
    assert.equal(buf.readUInt32BE(off + 8 + len), crc32(body), `CRC of ${type}`);
    if (type === "IHDR") assert.deepEqual([buf.readUInt32BE(off + 8), buf.readUInt32BE(off + 12)], [size, size]);
    if (type === "IDAT") idat.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  assert.equal(inflateSync(Buffer.concat(idat)).length, size * (size * 4 + 1));
}

test("kernel install --prefix writes the kernelspec; uninstall removes it", async () => {
  const prefix = mkdtempSync(join(tmpdir(), "ctxlab-spec-"));
  try {
    assert.equal(await kernelCli(["kernel", "install", "--prefix", prefix, "--name", "ctxlab"]), 0);
    const dir = join(prefix, "share", "jupyter", "kernels", "ctxlab");
    const spec = JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8"));
    assert.deepEqual(spec.argv, [process.execPath, join(REPO, "dist", "kernel", "start.js"), "{connection_file}"]);
    assert.match(spec.display_name, /^ctxlab \(TypeScript\) — \S/); // the checkout's path tells two checkouts apart
    assert.equal(spec.language, "typescript");
    assert.equal(spec.interrupt_mode, "signal");
    assert.equal(spec.metadata.ctxlab.root, REPO);
    checkPng(readFileSync(join(dir, "logo-32x32.png")), 32);
    checkPng(readFileSync(join(dir, "logo-64x64.png")), 64);
    assert.equal(await kernelCli(["kernel", "uninstall", "--prefix", prefix]), 0);
    assert.equal(existsSync(dir), false);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

test("bad usage exits 2", async () => {
  assert.equal(await kernelCli(["kernel", "install", "--prefix"]), 2);
  assert.equal(await kernelCli(["kernel", "frobnicate"]), 2);
  assert.equal(await kernelCli(["kernel", "start"]), 2);
  assert.equal(await kernelCli(["kernel", "install", "--name", "../evil", "--prefix", tmpdir()]), 2);
});
