/**
 * lib/hf/hub.ts end to end against a local imitation of the Hub on 127.0.0.1 (node:http), serving a
 * fixture directory with the Hub's endpoints and headers: /api/models/{id}/revision/{rev};
 * HEAD/GET /{id}/resolve/{rev}/{file} with X-Repo-Commit, ETag (git sha1) for small files and a 302 to
 * a CDN-like /cdn/{sha256} path with X-Linked-Etag / X-Linked-Size for LFS files; Range requests.
 * Faults: a connection dropped mid-file (resumed), a wrong hash (rejected, nothing cached), a 401
 * (message names HF_TOKEN), offline mode. Nothing leaves 127.0.0.1.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { hubCacheDir, hubDownload, HubError, repoFolderName, type HubProgress } from "../../lib/hf/hub.js";
import { loadModel, loadPretrained, pretrainedSource } from "../../lib/hf/pretrained.js";
import { cli } from "../../cli/main.js";
import { testBackend } from "../helpers/setup.js";

const FIX = fileURLToPath(new URL("../../../test/fixtures/hf/gpt2", import.meta.url));
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const LFS_MIN = 1000; // files of at least this size are served as LFS files (sha256 etag, 302 to the CDN)

interface Repo {
  files: Map<string, Buffer>;
  gated?: string; // required token
  corrupt?: string; // file served with a wrong byte
}
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

const fixtureFiles = new Map(readdirSync(FIX).filter((f) => f !== "expected.json").map((f) => [f, readFileSync(join(FIX, f))]));
const repos: Record<string, Repo> = {
  "tiny/gpt2": { files: fixtureFiles },
  "tiny/gated": { files: fixtureFiles, gated: "hf_secret" },
  "tiny/corrupt": { files: fixtureFiles, corrupt: "model-00001-of-00002.safetensors" },
  "tiny/empty": { files: new Map([["empty.txt", Buffer.alloc(0)], ["sub/dir/x.json", Buffer.from("{}")]]) },
};

const log: { method: string; url: string; range?: string; auth?: string }[] = [];
let dropNext = 0; // drop this many CDN GETs halfway
let server: Server;
let endpoint = "";

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = decodeURIComponent(req.url ?? "");
  log.push({ method: req.method ?? "", url, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
  const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(url);
  const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
  const cdn = /^\/cdn\/([^/]+)\/(.+)$/.exec(url);
  const repoOf = (id: string) => repos[id];
  const authorised = (r: Repo) => !r.gated || req.headers.authorization === `Bearer ${r.gated}`;
  if (api) {
    const r = repoOf(api[1]!);
    if (!r) return void res.writeHead(404).end(JSON.stringify({ error: "Repository not found" }));
    if (!authorised(r)) return void res.writeHead(401).end(JSON.stringify({ error: "Access to model is restricted" }));
    if (api[2] !== "main" && api[2] !== COMMIT) return void res.writeHead(404).end(JSON.stringify({ error: "Invalid rev id" }));
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end(JSON.stringify({ id: api[1], sha: COMMIT, siblings: [...r.files.keys()].map((rfilename) => ({ rfilename })) }));
  }
  if (resolve) {
    const r = repoOf(resolve[1]!);
    const body = r?.files.get(resolve[3]!);
    if (!r || !body || (resolve[2] !== "main" && resolve[2] !== COMMIT)) return void res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
    if (!authorised(r)) return void res.writeHead(401, { "x-error-code": "GatedRepo" }).end();
    if (body.length >= LFS_MIN) {
      res.writeHead(302, {
        location: `${endpoint}/cdn/${resolve[1]!.replace("/", "_")}/${resolve[3]}`,
        "x-repo-commit": COMMIT, "x-linked-etag": `"${sha256(body)}"`, "x-linked-size": String(body.length), etag: `W/"${gitSha1(Buffer.from("pointer"))}"`,
      });
      return void res.end();
    }
    res.writeHead(200, { "x-repo-commit": COMMIT, etag: `"${gitSha1(body)}"`, "content-length": String(body.length), "accept-ranges": "bytes" });
    return void res.end(req.method === "HEAD" ? undefined : body);
  }
  if (cdn) {
    const id = cdn[1]!.replace("_", "/");
    const r = repoOf(id);
    let body = r?.files.get(cdn[2]!);
    if (!r || !body) return void res.writeHead(404).end();
    if (r.corrupt === cdn[2]) {
      body = Buffer.from(body);
      body[body.length - 1] ^= 1;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const part = body.subarray(start);
    res.writeHead(m ? 206 : 200, { "content-length": String(part.length), "accept-ranges": "bytes", ...(m ? { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (dropNext > 0 && part.length > 100) {
      dropNext--;
      res.write(part.subarray(0, Math.floor(part.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    return void res.end(part);
  }
  res.writeHead(404).end();
}

const tmp = mkdtempSync(join(tmpdir(), "ctxlab-hub-"));
let n = 0;
const freshCache = () => join(tmp, `cache${++n}`);
before(async () => {
  await testBackend();
  server = createServer(handle);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const a = server.address();
  endpoint = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
  rmSync(tmp, { recursive: true, force: true });
});

const opts = (cacheDir: string, extra: Record<string, unknown> = {}) => ({ endpoint, cacheDir, env: {}, onProgress: () => {}, ...extra });
const big = "model-00001-of-00002.safetensors";

describe("hub cache layout (huggingface_hub's)", () => {
  it("downloads a snapshot: blobs named by etag, relative symlinks, refs/main, progress to the total", async () => {
    const cache = freshCache();
    const seen: HubProgress[] = [];
    log.length = 0;
    const r = await hubDownload("tiny/gpt2", opts(cache, { onProgress: (p: HubProgress) => seen.push(p) }));
    const repo = join(cache, "models--tiny--gpt2");
    assert.equal(repoFolderName("tiny/gpt2"), "models--tiny--gpt2");
    assert.equal(r.commit, COMMIT);
    assert.equal(r.dir, join(repo, "snapshots", COMMIT));
    assert.equal(readFileSync(join(repo, "refs", "main"), "utf8"), COMMIT);
    assert.deepEqual([...r.files].sort(), [...fixtureFiles.keys()].sort());
    for (const [f, body] of fixtureFiles) {
      const p = join(r.dir, f);
      assert.ok(lstatSync(p).isSymbolicLink(), `${f} is a symlink`);
      const etag = body.length >= LFS_MIN ? sha256(body) : gitSha1(body);
      assert.equal(readlinkSync(p), `../../blobs/${etag}`);
      assert.deepEqual(readFileSync(p), body);
    }
    assert.ok(!readdirSync(join(repo, "blobs")).some((f) => f.endsWith(".incomplete")));
    const total = [...fixtureFiles.values()].reduce((a, b) => a + b.length, 0);
    assert.equal(seen.at(-1)!.allDone, total);
    assert.equal(seen.at(-1)!.allTotal, total);
    assert.ok(seen.every((p, i) => i === 0 || p.allDone >= seen[i - 1]!.allDone), "progress never goes back");
    assert.ok(log.some((l) => l.url.startsWith("/cdn/")), "LFS files came through the redirect");
    // a second call fetches nothing but the revision; offline mode needs no server at all
    log.length = 0;
    const again = await hubDownload("tiny/gpt2", { cacheDir: cache, env: { HF_ENDPOINT: endpoint }, onProgress: () => {} }); // the server from HF_ENDPOINT
    assert.equal(again.downloaded, 0);
    assert.deepEqual(log.map((l) => l.url), ["/api/models/tiny/gpt2/revision/main"]);
    log.length = 0;
    const off = await hubDownload("tiny/gpt2", opts(cache, { env: { HF_HUB_OFFLINE: "1" } }));
    assert.equal(off.dir, r.dir);
    assert.equal(log.length, 0);
  });

  it("loadPretrained(hub id) builds the model from the cache; HF_HOME / HF_HUB_CACHE pick the cache", async () => {
    const cache = freshCache();
    const m = await loadPretrained("tiny/gpt2", { endpoint, env: { HF_HUB_CACHE: cache }, onProgress: () => {} });
    const exp = JSON.parse(readFileSync(join(FIX, "expected.json"), "utf8")) as { ids: number[]; logits: number[][] };
    const got = m.logits(exp.ids).arraySync() as number[][];
    let d = 0;
    exp.logits.forEach((row, t) => row.forEach((v, j) => (d = Math.max(d, Math.abs(v - got[t]![j]!)))));
    assert.ok(d < 1e-3, `max |Δlogit| ${d}`);
    assert.equal(pretrainedSource(m)?.commit, COMMIT);
    assert.ok(existsSync(join(cache, "models--tiny--gpt2", "snapshots", COMMIT, "config.json")));
    assert.equal(hubCacheDir({ HF_HOME: "/h" }), join("/h", "hub"));
    assert.equal(hubCacheDir({ HF_HOME: "/h", HF_HUB_CACHE: "/c" }), "/c");
    m.dispose();
  });
});

describe("hub edge cases", () => {
  it("an empty file and a file in a subfolder (deeper relative link)", async () => {
    const cache = freshCache();
    const r = await hubDownload("tiny/empty", opts(cache, { files: ["empty.txt", "sub/dir/x.json"] }));
    assert.equal(readFileSync(join(r.dir, "empty.txt")).length, 0);
    assert.equal(readlinkSync(join(r.dir, "sub/dir/x.json")), `../../../../blobs/${gitSha1(Buffer.from("{}"))}`);
    assert.equal(readFileSync(join(r.dir, "sub/dir/x.json"), "utf8"), "{}");
    await assert.rejects(hubDownload("tiny/empty", opts(cache, { files: ["../x"] })), /must be a relative path inside the repo/);
  });
});

describe("hub faults", () => {
  it("a connection dropped mid-file is resumed with a Range request (in the same call, and in the next)", async () => {
    const cache = freshCache();
    log.length = 0;
    dropNext = 1;
    const r = await hubDownload("tiny/gpt2", opts(cache));
    const ranges = log.filter((l) => l.range && l.url.startsWith("/cdn/"));
    assert.equal(ranges.length, 1, "one resumed request");
    assert.match(ranges[0]!.range!, /^bytes=[1-9]\d*-$/);
    assert.deepEqual(readFileSync(join(r.dir, big)), fixtureFiles.get(big));
    // retries: 0 → the call fails, keeps the .incomplete, exposes nothing; the next call resumes it
    const cache2 = freshCache();
    dropNext = 1;
    await assert.rejects(hubDownload("tiny/gpt2", opts(cache2, { retries: 0 })), (e: Error) => e instanceof HubError && /next call resumes/.test(e.message));
    const blobs = join(cache2, "models--tiny--gpt2", "blobs");
    const partial = readdirSync(blobs).filter((f) => f.endsWith(".incomplete"));
    assert.equal(partial.length, 1);
    assert.ok(!existsSync(join(cache2, "models--tiny--gpt2", "snapshots", COMMIT, big)), "nothing partial in snapshots");
    log.length = 0;
    const r2 = await hubDownload("tiny/gpt2", opts(cache2, { retries: 0 }));
    assert.equal(log.filter((l) => l.range && l.url.startsWith("/cdn/")).length, 1);
    assert.deepEqual(readFileSync(join(r2.dir, big)), fixtureFiles.get(big));
    assert.ok(!readdirSync(blobs).some((f) => f.endsWith(".incomplete")));
  });

  it("a wrong hash is rejected and nothing is cached", async () => {
    const cache = freshCache();
    await assert.rejects(hubDownload("tiny/corrupt", opts(cache)), (e: Error) => e instanceof HubError && /sha256 of the downloaded bytes/.test(e.message) && e.message.includes(big));
    const repo = join(cache, "models--tiny--corrupt");
    assert.ok(!readdirSync(join(repo, "blobs")).some((f) => f === sha256(fixtureFiles.get(big)!) || f.endsWith(".incomplete")));
    assert.ok(!existsSync(join(repo, "snapshots", COMMIT, big)));
  });

  it("401: the message says to set HF_TOKEN; with HF_TOKEN the gated repo downloads", async () => {
    const cache = freshCache();
    await assert.rejects(hubDownload("tiny/gated", opts(cache)), (e: Error) => e instanceof HubError && (e as HubError).status === 401 && /HF_TOKEN/.test(e.message) && /no token was sent/.test(e.message));
    await assert.rejects(hubDownload("tiny/gated", opts(cache, { env: { HF_TOKEN: "wrong" } })), (e: Error) => /HF_TOKEN.*was sent but has no access/.test(e.message));
    log.length = 0;
    const r = await hubDownload("tiny/gated", opts(cache, { env: { HF_TOKEN: "hf_secret" } }));
    assert.ok(existsSync(join(r.dir, "config.json")));
    assert.ok(log.filter((l) => !l.url.startsWith("/cdn/")).every((l) => l.auth === "Bearer hf_secret"));
  });

  it("offline mode: cache only, a clear error when the model is missing; bad ids and revisions named", async () => {
    const cache = freshCache();
    log.length = 0;
    await assert.rejects(hubDownload("tiny/gpt2", opts(cache, { offline: true })), (e: Error) => e instanceof HubError && /offline \(HF_HUB_OFFLINE=1 or \{ offline: true \}\) and revision "main" is not in the cache/.test(e.message));
    await assert.rejects(loadPretrained("tiny/gpt2", opts(cache, { env: { HF_HUB_OFFLINE: "1" } })), /HF_HUB_OFFLINE/);
    assert.equal(log.length, 0);
    await assert.rejects(hubDownload("tiny/gpt2", opts(cache, { revision: "nope" })), (e: Error) => e instanceof HubError && /not found \(HTTP 404\)/.test(e.message) && /"nope"/.test(e.message));
    await assert.rejects(hubDownload("../etc", opts(cache)), /not a valid repo id/);
  });
});

describe("CLI", () => {
  it("ctxlab download <id> --revision main: progress lines, the snapshot directory; loadModel takes the id, the snapshot and a ctxlab checkpoint", async () => {
    const cache = freshCache();
    let text = "";
    const out = { write: (x: string) => void (text += x), isTTY: false };
    const code = await cli(["download", "tiny/gpt2", "--revision", "main", "--cache-dir", cache, "--endpoint", endpoint], out as never, out as never);
    assert.equal(code, 0, text);
    const dir = join(cache, "models--tiny--gpt2", "snapshots", COMMIT);
    assert.match(text, /download tiny\/gpt2: \d+\/\d+/);
    assert.ok(text.includes(`tiny/gpt2 @ ${COMMIT}: 4 files in ${dir}`), text);
    const a = await loadModel(dir);
    assert.equal(a.cfg.nVocab, 61);
    a.dispose();
    text = "";
    assert.equal(await cli(["download", "tiny/gpt2", "--bogus", "1"], out as never, out as never), 2);
    assert.match(text, /unknown flag --bogus/);
  });
});
