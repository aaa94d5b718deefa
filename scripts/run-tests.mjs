// Runs every compiled test file under dist/test with node's test runner.
// Node 20's `node --test` takes no globs, so the files are collected here.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function collect(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}
const only = process.argv.slice(2);
const files = collect("dist/test").filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error("run-tests: no compiled test files found under dist/test (did `npm run build` run?)");
  process.exit(1);
}
// The fault suite's kernel-abuse and timing checks run alone afterwards, so that other test files
// (training workers, long forwards) do not starve the kernel it drives.
const alone = files.filter((f) => f.includes("/faults/"));
const rest = files.filter((f) => !alone.includes(f));
let status = 0;
for (const [group, conc] of [[rest, 2], [alone, 1]]) {
  if (!group.length) continue;
  const r = spawnSync(process.execPath, ["--test", `--test-concurrency=${conc}`, ...group], { stdio: "inherit" });
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
