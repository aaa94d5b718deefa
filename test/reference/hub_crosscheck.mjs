// Cross-check of lib/hf/hub.ts against Python's huggingface_hub (not part of npm test: it needs
// huggingface_hub, e.g. `pip install --target /tmp/hfh huggingface_hub`, then
// `PYTHONPATH=/tmp/hfh node test/reference/hub_crosscheck.mjs` after `npm run build`).
// A local Hub imitation serves test/fixtures/hf/gpt2 (LFS files redirected to another host name, as the
// real Hub does); then (1) ctxlab downloads into cache A and huggingface_hub reads it offline
// (snapshot_download, scan_cache_dir), (2) huggingface_hub downloads into cache B and ctxlab reads it
// offline; both trees must be the same (apart from huggingface_hub's .locks and CACHEDIR.TAG).
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { hubDownload } from "../../dist/lib/hf/hub.js";

const FIX = new URL("../fixtures/hf/gpt2/", import.meta.url).pathname;
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const files = new Map(readdirSync(FIX).filter((f) => f !== "expected.json").map((f) => [f, readFileSync(join(FIX, f))]));
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const server = createServer((req, res) => {
  const url = decodeURIComponent(req.url.split("?")[0]);
  let m;
  if ((m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url))) {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ id: m[1], sha: COMMIT, siblings: [...files.keys()].map((rfilename) => ({ rfilename })) }));
  }
  if ((m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url))) {
    const body = files.get(m[3]);
    if (!body) return res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
    if (body.length >= 1000) {
      res.writeHead(302, { location: `http://localhost:${server.address().port}/cdn/${m[3]}`, "x-repo-commit": COMMIT, "x-linked-etag": `"${sha256(body)}"`, "x-linked-size": String(body.length), "content-length": "0" });
      return res.end();
    }
    res.writeHead(200, { "x-repo-commit": COMMIT, etag: `"${gitSha1(body)}"`, "content-length": String(body.length) });
    return res.end(req.method === "HEAD" ? undefined : body);
  }
  if ((m = /^\/cdn\/(.+)$/.exec(url))) {
    const body = files.get(m[1]);
    const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = r ? Number(r[1]) : 0;
    res.writeHead(r ? 206 : 200, { "content-length": String(body.length - start), etag: `"${sha256(body)}"` });
    return res.end(req.method === "HEAD" ? undefined : body.subarray(start));
  }
  res.writeHead(404).end();
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const endpoint = `http://127.0.0.1:${server.address().port}`;
const root = mkdtempSync(join(tmpdir(), "ctxlab-hub-x-"));
const [A, B] = [join(root, "A"), join(root, "B")];
const py = (code, env = {}) => {
  const r = spawnSync("/usr/bin/python3", ["-c", code], { encoding: "utf8", env: { ...process.env, HF_HUB_DISABLE_XET: "1", ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
};
/** python run asynchronously: the server in this process must keep answering meanwhile */
const pyAsync = (code, env = {}) => new Promise((ok, fail) => {
  const c = spawn("/usr/bin/python3", ["-c", code], { env: { ...process.env, HF_HUB_DISABLE_XET: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  c.stderr.on("data", (d) => (err += d));
  c.on("close", (code) => (code === 0 ? ok() : fail(new Error(err))));
});
const tree = (d) => {
  const out = [];
  const walk = (p) => { for (const e of readdirSync(p, { withFileTypes: true })) { out.push(relative(d, join(p, e.name))); if (e.isDirectory()) walk(join(p, e.name)); } };
  walk(d);
  return out.filter((p) => !p.startsWith(".locks") && p !== "CACHEDIR.TAG").sort();
};
try {
  await hubDownload("tiny/gpt2", { cacheDir: A, endpoint, env: {}, onProgress: () => {} });
  console.log("huggingface_hub reads ctxlab's cache offline:", py(`import huggingface_hub as h, os
p = h.snapshot_download("tiny/gpt2", cache_dir=${JSON.stringify(A)})
i = h.scan_cache_dir(${JSON.stringify(A)})
print(sorted(os.listdir(p)), "warnings:", i.warnings, [(r.repo_id, r.nb_files, [sorted(x.refs) for x in r.revisions]) for r in i.repos])`, { HF_HUB_OFFLINE: "1" }));
  await pyAsync(`import huggingface_hub as h
for f in ${JSON.stringify([...files.keys()])}: h.hf_hub_download("tiny/gpt2", f, cache_dir=${JSON.stringify(B)})`, { HF_ENDPOINT: endpoint });
  const r = await hubDownload("tiny/gpt2", { cacheDir: B, env: {}, offline: true });
  console.log("ctxlab reads huggingface_hub's cache offline:", r.files.join(", "));
  const [ta, tb] = [tree(A), tree(B)];
  if (JSON.stringify(ta) !== JSON.stringify(tb)) throw new Error(`cache trees differ:\nctxlab ${ta.join("\n")}\nhuggingface_hub ${tb.join("\n")}`);
  console.log(`same cache tree (${ta.length} entries: blobs named by etag, refs/main, relative snapshot links)`);
} finally {
  server.close();
  rmSync(root, { recursive: true, force: true });
}
