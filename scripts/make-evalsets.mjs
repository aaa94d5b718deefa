// Writes the fixed evaluation sets data/evalsets/*.jsonl and their README (provenance) from lib/eval.
// Run from the repository root after a build:  npm run build && node scripts/make-evalsets.mjs
// The output is deterministic (seeded generators); test/eval/evalsets.test.ts checks the committed files.
import { writeEvalSets } from "../dist/lib/eval/index.js";

const dir = process.argv[2] ?? "data/evalsets";
const files = await writeEvalSets(dir, "node scripts/make-evalsets.mjs");
let total = 0;
for (const f of files) {
  total += f.bytes;
  console.log(`${dir}/${f.file}: ${f.examples} examples, ${f.bytes} bytes${f.skipped.length ? `, ℓ left out: ${f.skipped.join(", ")}` : ""}`);
}
console.log(`total ${total} bytes; ${dir}/README.md`);
