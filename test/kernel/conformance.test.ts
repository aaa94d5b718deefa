/**
 * Runs the jupyter_kernel_test conformance suite (test/kernel/conformance.py) against the ctxlab
 * kernel through real Jupyter machinery (jupyter_client starts it from its kernelspec). The
 * kernelspec is installed into a temporary prefix and found through JUPYTER_PATH, and the runtime
 * dir is temporary too, so the user's Jupyter directories are never read or written.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { kernelCli } from "../../kernel/main.js";
import { REPO } from "./client.js";

const PYTHON = "/usr/bin/python3";

function hasKernelTest(): boolean {
  return spawnSync(PYTHON, ["-c", "import jupyter_kernel_test, jupyter_client"], { encoding: "utf8" }).status === 0;
}

test("jupyter_kernel_test conformance suite passes", { timeout: 180_000 }, async (t) => {
  // Not skipped when missing: `npm run setup` installs Jupyter's kernel test suite (Debian python3-jupyter-kernel-test).
  assert.ok(hasKernelTest(), "jupyter_kernel_test is not installed for /usr/bin/python3: run `npm run setup` (apt install python3-jupyter-kernel-test)");
  const prefix = mkdtempSync(join(tmpdir(), "ctxlab-jupyter-"));
  try {
    assert.equal(await kernelCli(["kernel", "install", "--prefix", prefix]), 0);
    // The kernel's stderr goes to its own file (conformance.py), so that its log lines cannot split
    // unittest's "test_x (…) ... ok" lines; the file is shown with any failure.
    const kernelLog = join(prefix, "kernel.log");
    const r = spawnSync(PYTHON, ["-m", "unittest", "-v", "conformance"], {
      cwd: join(REPO, "test", "kernel"),
      env: { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter"), JUPYTER_RUNTIME_DIR: join(prefix, "runtime"), PYTHONDONTWRITEBYTECODE: "1", CTXLAB_KERNEL_LOG: kernelLog },
      encoding: "utf8",
      timeout: 170_000,
    });
    const log = existsSync(kernelLog) ? readFileSync(kernelLog, "utf8") : "(no kernel log)";
    const out = `${r.stdout}\n${r.stderr}\n--- kernel log ---\n${log}`;
    const lines = out.split("\n");
    const passed = lines.filter((l) => /^test_\w+ .* \.\.\. ok$/.test(l));
    const skipped = lines.filter((l) => / \.\.\. skipped/.test(l));
    const failed = lines.filter((l) => / \.\.\. (FAIL|ERROR)$/.test(l) || /^(FAIL|ERROR): /.test(l));
    const ran = Number(/Ran (\d+) tests?/.exec(out)?.[1] ?? 0);
    t.diagnostic(`conformance: ran ${ran}, passed ${passed.length}, skipped ${skipped.length} (${skipped.map((l) => l.split(" ")[0]).join(", ")})`);
    assert.equal(failed.length, 0, `failures:\n${out}`);
    assert.equal(r.status, 0, `unittest exited with ${r.status} (${r.error ?? ""}):\n${out}`);
    assert.ok(ran >= 12 && passed.length >= 11, `expected ≥ 11 passing tests:\n${out}`);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});
