/**
 * The Hugging Face Hub and its local cache, with plain `fetch` (no client library): hub ids
 * ("HuggingFaceTB/SmolLM-135M", with a revision) are resolved into the cache layout that
 * huggingface_hub writes, so models a Python user downloaded are found here and the other way round:
 *
 *   $HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface)
 *     models--{owner}--{name}/
 *       blobs/{etag}                          file contents, named by the Hub's ETag (sha256 for LFS files,
 *                                             git blob sha1 for small ones)
 *       refs/{revision}                       the commit a branch or tag pointed to (text, no newline)
 *       snapshots/{commit}/{path}             relative symlink → ../../blobs/{etag}
 *
 * Protocol (as huggingface_hub's hf_hub_download / snapshot_download):
 *   GET  {endpoint}/api/models/{id}/revision/{rev}  → {sha, siblings: [{rfilename}]}
 *   HEAD {endpoint}/{id}/resolve/{commit}/{file}    (redirects not followed) → X-Repo-Commit,
 *        X-Linked-Etag / ETag, X-Linked-Size / Content-Length
 *   GET  the same URL (redirects followed, e.g. to a CDN) with `Range: bytes=n-` to resume
 *        blobs/{etag}.incomplete; then size and hash checked, renamed to blobs/{etag} (atomic), and only
 *        then linked into snapshots/ — a partial or corrupt file is never visible there.
 * Environment: HF_TOKEN (Authorization: Bearer), HF_ENDPOINT, HF_HUB_OFFLINE=1 (cache only),
 * HF_HOME / HF_HUB_CACHE. Options override each.
 *
 * Why not @huggingface/hub: its cache download does not resume a `.incomplete` file with Range
 * requests nor check the sha256/sha1 of what it wrote, and progress and offline behaviour are needed
 * here exactly as described above; the protocol is four requests, so owning it is simpler to verify.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, readlink, rename, rm, stat, symlink, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { startProgress } from "../runtime/context.js";
import { writeFileAtomic } from "../io/safetensors.js";

/** A Hub or cache failure: the message names the repo, file, revision and what to do. */
export class HubError extends Error {
  override name = "HubError";
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export interface HubProgress {
  file: string;
  /** bytes of this file done / total */
  done: number;
  total: number;
  /** bytes of the whole download done / total (all files of the call) */
  allDone: number;
  allTotal: number;
}

export interface HubOptions {
  /** branch, tag or commit (default "main") */
  revision?: string;
  /** the cache root (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) */
  cacheDir?: string;
  /** access token (default $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN) */
  token?: string;
  /** server (default $HF_ENDPOINT, else https://huggingface.co) */
  endpoint?: string;
  /** cache only, no network (default: $HF_HUB_OFFLINE is "1"/"true"/"yes"/"on") */
  offline?: boolean;
  /** called as bytes arrive; without it the runtime host's progress bar (cell or CLI) is used */
  onProgress?: (p: HubProgress) => void;
  /** retries of a dropped download, each resuming where it stopped (default 3) */
  retries?: number;
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
const COMMIT = /^[0-9a-f]{40}$/;
const truthy = (v: string | undefined) => v !== undefined && ["1", "true", "yes", "on"].includes(v.trim().toLowerCase());

/** True for strings shaped like a hub id ("owner/name" or "name"), not a path. */
export function isHubId(s: string): boolean {
  return REPO_ID.test(s) && !s.includes("..") && !s.startsWith(".");
}

/** The cache root from the environment (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). */
export function hubCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "huggingface", "hub");
}

/** "owner/name" → "models--owner--name" (huggingface_hub's repo_folder_name). */
export function repoFolderName(id: string): string {
  return `models--${id.split("/").join("--")}`;
}

interface Resolved {
  cache: string;
  token?: string;
  endpoint: string;
  offline: boolean;
  revision: string;
  env: Record<string, string | undefined>;
}

function resolveOpts(id: string, o: HubOptions): Resolved {
  if (typeof id !== "string" || !isHubId(id)) throw new HubError(`hub id ${JSON.stringify(id)} is not a valid repo id ("owner/name", letters, digits, . _ -)`);
  const env = o.env ?? process.env;
  const revision = o.revision ?? "main";
  if (typeof revision !== "string" || revision === "" || revision.includes("..") || revision.startsWith("/")) throw new HubError(`revision ${JSON.stringify(revision)} is not a branch, tag or commit`);
  const token = o.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  return {
    cache: o.cacheDir ?? hubCacheDir(env),
    ...(token ? { token } : {}),
    endpoint: (o.endpoint ?? env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, ""),
    offline: o.offline ?? truthy(env.HF_HUB_OFFLINE),
    revision,
    env,
  };
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/** An etag as huggingface_hub normalises it: no W/ prefix, no quotes. */
function normEtag(e: string | null): string | undefined {
  if (!e) return undefined;
  return e.replace(/^W\//, "").replace(/^"|"$/g, "");
}

function authFailure(id: string, what: string, status: number, r: Resolved): HubError {
  const tok = r.token
    ? "the token in HF_TOKEN (or options.token) was sent but has no access: accept the model's licence on its Hub page and use a token of that account"
    : "no token was sent: set HF_TOKEN to an access token (Hub settings → Access Tokens) after accepting the model's licence, or pass { token }";
  return new HubError(`${id}: ${what}: HTTP ${status} — the repo is gated or private; ${tok}`, status);
}

async function hubFetch(url: string, init: RequestInit, id: string, what: string, r: Resolved): Promise<Response> {
  const headers: Record<string, string> = { "user-agent": "ctxlab", ...(init.headers as Record<string, string>) };
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers });
  } catch (e) {
    throw new HubError(`${id}: ${what}: cannot reach ${r.endpoint} (${(e as Error).message}${(e as { cause?: Error }).cause ? `: ${(e as { cause: Error }).cause.message}` : ""}); set HF_HUB_OFFLINE=1 to use the cache only`);
  }
  if (res.status === 401 || res.status === 403) throw authFailure(id, what, res.status, r);
  if (res.status === 404) throw new HubError(`${id}: ${what}: not found (HTTP 404) at ${url} — check the repo id, the revision "${r.revision}" and the file name`, 404);
  return res;
}

/** The commit of `revision`: from the Hub, or in offline mode from refs/ (a 40-hex commit is itself). */
export async function resolveCommit(id: string, o: HubOptions = {}): Promise<{ commit: string; files?: string[] }> {
  const r = resolveOpts(id, o);
  const repo = join(r.cache, repoFolderName(id));
  if (r.offline) {
    if (COMMIT.test(r.revision)) return { commit: r.revision };
    const ref = join(repo, "refs", r.revision);
    const commit = await readFile(ref, "utf8").then((s) => s.trim(), () => undefined);
    if (!commit) throw new HubError(`${id}: offline (HF_HUB_OFFLINE=1 or { offline: true }) and revision "${r.revision}" is not in the cache (${ref} is missing); download it once online (ctxlab download ${id}) or pass a commit hash`);
    return { commit };
  }
  const url = `${r.endpoint}/api/models/${id}/revision/${encodeURIComponent(r.revision)}`;
  const res = await hubFetch(url, { signal: o.signal ?? null }, id, `revision "${r.revision}"`, r);
  if (!res.ok) throw new HubError(`${id}: revision "${r.revision}": HTTP ${res.status} from ${url}`, res.status);
  const info = (await res.json()) as { sha?: unknown; siblings?: { rfilename?: unknown }[] };
  if (typeof info.sha !== "string" || !COMMIT.test(info.sha)) throw new HubError(`${id}: ${url} returned no commit sha (got ${JSON.stringify(info.sha)})`);
  const files = Array.isArray(info.siblings) ? info.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === "string") : undefined;
  if (r.revision !== info.sha) {
    await mkdir(join(repo, "refs", dirname(r.revision)), { recursive: true });
    await writeFileAtomic(join(repo, "refs", r.revision), info.sha);
  }
  return { commit: info.sha, ...(files ? { files } : {}) };
}

interface FileMeta {
  etag: string;
  size: number;
  commit: string;
  /** true when the etag is a sha256 (LFS), false for a git blob sha1 */
  lfs: boolean;
}

async function headFile(id: string, file: string, commit: string, r: Resolved, signal?: AbortSignal): Promise<FileMeta> {
  let url = `${r.endpoint}/${id}/resolve/${commit}/${file.split("/").map(encodeURIComponent).join("/")}`;
  for (let hop = 0; hop < 5; hop++) {
    const res = await hubFetch(url, { method: "HEAD", redirect: "manual", headers: { "accept-encoding": "identity" }, signal: signal ?? null }, id, `file "${file}"`, r);
    const h = res.headers;
    const linked = normEtag(h.get("x-linked-etag"));
    const etag = linked ?? normEtag(h.get("etag"));
    const loc = h.get("location");
    // a relative redirect without metadata (renamed repo) is followed; an absolute one (CDN) carries the metadata
    if (res.status >= 300 && res.status < 400 && loc && !h.get("x-repo-commit") && loc.startsWith("/")) {
      url = new URL(loc, url).toString();
      continue;
    }
    if (!(res.ok || (res.status >= 300 && res.status < 400))) throw new HubError(`${id}: file "${file}": HTTP ${res.status} from HEAD ${url}`, res.status);
    const size = Number(h.get("x-linked-size") ?? h.get("content-length"));
    const c = h.get("x-repo-commit") ?? commit;
    if (!etag) throw new HubError(`${id}: file "${file}": the server sent no ETag / X-Linked-Etag, so the download cannot be checked or cached`);
    if (!Number.isSafeInteger(size) || size < 0) throw new HubError(`${id}: file "${file}": the server sent no valid size (X-Linked-Size / Content-Length)`);
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag)) throw new HubError(`${id}: file "${file}": ETag ${JSON.stringify(etag)} is neither a git sha1 nor a sha256`);
    return { etag, size, commit: c, lfs: linked !== undefined || etag.length === 64 };
  }
  throw new HubError(`${id}: file "${file}": too many redirects`);
}

/** sha256 (LFS) or git blob sha1 ("blob <size>\0" + bytes) of a file's first `size` bytes, hashed from `state`. */
function newHasher(lfs: boolean, size: number) {
  const h = createHash(lfs ? "sha256" : "sha1");
  if (!lfs) h.update(`blob ${size}\0`);
  return h;
}

interface Tally {
  allDone: number;
  allTotal: number;
  report: (p: HubProgress) => void;
}

/** Download one blob to blobs/{etag} (resuming blobs/{etag}.incomplete), checking size and hash. */
async function fetchBlob(id: string, file: string, meta: FileMeta, blob: string, r: Resolved, o: HubOptions, t: Tally): Promise<void> {
  const part = `${blob}.incomplete`;
  const url = `${r.endpoint}/${id}/resolve/${meta.commit}/${file.split("/").map(encodeURIComponent).join("/")}`;
  const retries = o.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    let have = await stat(part).then((s) => s.size, () => 0);
    if (have > meta.size) {
      await rm(part, { force: true });
      have = 0;
    }
    const base = t.allDone;
    try {
      const hasher = newHasher(meta.lfs, meta.size);
      if (have > 0) {
        for await (const chunk of createReadStream(part, { end: have - 1 })) hasher.update(chunk as Buffer);
      }
      let done = have;
      if (have < meta.size) {
        const res = await hubFetch(url, { headers: { ...(have > 0 ? { range: `bytes=${have}-` } : {}), "accept-encoding": "identity" }, signal: o.signal ?? null }, id, `file "${file}"`, r);
        if (res.status !== 200 && res.status !== 206) throw new HubError(`${id}: file "${file}": HTTP ${res.status} from GET ${url}`, res.status);
        const fh = await open(part, res.status === 206 ? "a" : "w");
        if (res.status === 200 && have > 0) {
          // the server ignored the Range header: start again
          done = 0;
        }
        const h2 = res.status === 200 && have > 0 ? newHasher(meta.lfs, meta.size) : hasher;
        try {
          if (!res.body) throw new HubError(`${id}: file "${file}": empty response body`);
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            await fh.write(chunk);
            h2.update(chunk);
            done += chunk.length;
            t.report({ file, done, total: meta.size, allDone: base + done, allTotal: t.allTotal });
            if (done > meta.size) throw new HubError(`${id}: file "${file}": the server sent more than the announced ${meta.size} bytes`);
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
        if (done < meta.size) throw new HubError(`${id}: file "${file}": the connection ended after ${done} of ${meta.size} bytes`);
        finishHash(h2.digest("hex"), meta, id, file);
      } else {
        finishHash(hasher.digest("hex"), meta, id, file);
        if (meta.size === 0) await (await open(part, "w")).close(); // an empty file has nothing to fetch
      }
      await rename(part, blob); // atomic: the blob appears whole or not at all
      t.allDone = base + meta.size;
      return;
    } catch (e) {
      if (e instanceof HashMismatch) {
        await rm(part, { force: true });
        throw new HubError(e.message);
      }
      const dropped = !(e instanceof HubError) || /connection ended/.test(e.message);
      t.allDone = base;
      if (!dropped || attempt >= retries || o.signal?.aborted) {
        if (e instanceof HubError) throw e;
        throw new HubError(`${id}: file "${file}": download interrupted (${(e as Error).message}); ${await stat(part).then((s) => `${s.size} bytes are kept in ${part} and the next call resumes from there`, () => "nothing was kept")}`);
      }
    }
  }
}

class HashMismatch extends Error {}

function finishHash(got: string, meta: FileMeta, id: string, file: string): void {
  if (got !== meta.etag) {
    throw new HashMismatch(`${id}: file "${file}": ${meta.lfs ? "sha256" : "git sha1"} of the downloaded bytes is ${got} but the Hub announced ${meta.etag}; the file was deleted and nothing was cached`);
  }
}

async function linkPointer(pointer: string, blob: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const target = relative(dirname(pointer), blob);
  const cur = await readlink(pointer).catch(() => undefined);
  if (cur === target) return;
  if (cur !== undefined || (await exists(pointer))) await unlink(pointer);
  const tmp = `${pointer}.tmp-${process.pid}-${Date.now()}`;
  await symlink(target, tmp);
  await rename(tmp, pointer);
}

export interface DownloadResult {
  /** snapshots/{commit} — a model directory (config.json, *.safetensors, tokenizer files) */
  dir: string;
  commit: string;
  /** paths inside dir */
  files: string[];
  /** sizes of the files that were not yet in the cache (a resumed file counts whole) */
  downloaded: number;
}

/** The default selection of a model repo's files: top-level JSON and safetensors files (config, tokenizer, weights). */
export function defaultModelFiles(all: readonly string[]): string[] {
  return all.filter((f) => !f.includes("/") && /\.(json|safetensors)$/.test(f) && f !== ".gitattributes");
}

/**
 * Make `files` of hub repo `id` at `revision` present in the cache and return the snapshot
 * directory. Files already cached are not fetched again. `files` defaults to defaultModelFiles of
 * the repo's listing. Offline, every file must already be in the snapshot (the error names the first missing one).
 */
export async function hubDownload(id: string, o: HubOptions & { files?: string[] } = {}): Promise<DownloadResult> {
  const r = resolveOpts(id, o);
  const repo = join(r.cache, repoFolderName(id));
  const { commit, files: listing } = await resolveCommit(id, o);
  const dir = join(repo, "snapshots", commit);
  const wanted = o.files ?? (listing ? defaultModelFiles(listing) : undefined);
  for (const f of wanted ?? []) {
    if (f.split("/").some((s) => s === ".." || s === "") || f.startsWith("/")) throw new HubError(`${id}: file name ${JSON.stringify(f)} must be a relative path inside the repo`);
  }
  if (r.offline) {
    const files = wanted ?? (await listSnapshot(dir));
    if (!files.length) throw new HubError(`${id}: offline (HF_HUB_OFFLINE=1 or { offline: true }) and ${dir} holds no files; download it once online`);
    for (const f of files) {
      if (!(await exists(join(dir, f)))) throw new HubError(`${id}: offline (HF_HUB_OFFLINE=1 or { offline: true }) and "${f}" of revision ${r.revision} (commit ${commit}) is not in the cache (${join(dir, f)}); download it once online (ctxlab download ${id})`);
    }
    return { dir, commit, files, downloaded: 0 };
  }
  if (!wanted) throw new HubError(`${id}: the Hub sent no file listing; pass { files }`);
  const metas: [string, FileMeta][] = [];
  for (const f of wanted) {
    if (await exists(join(dir, f))) continue;
    metas.push([f, await headFile(id, f, commit, r, o.signal)]);
  }
  const allTotal = metas.reduce((a, [, m]) => a + m.size, 0);
  let bar: ReturnType<typeof startProgress> | undefined;
  const MB = 1024 * 1024;
  const t: Tally = {
    allDone: 0,
    allTotal,
    report: o.onProgress ?? ((p) => {
      bar ??= startProgress(`download ${id}`, Math.max(1, Math.ceil(allTotal / MB)));
      bar.update(Math.floor(p.allDone / MB), { file: p.file, MB: +(p.allDone / MB).toFixed(1) });
    }),
  };
  let downloaded = 0;
  try {
    await mkdir(join(repo, "blobs"), { recursive: true });
    for (const [f, meta] of metas) {
      const blob = join(repo, "blobs", meta.etag);
      if (!(await exists(blob))) {
        const before = t.allDone;
        await fetchBlob(id, f, meta, blob, r, o, t);
        downloaded += t.allDone - before;
      } else t.allDone += meta.size;
      await linkPointer(join(dir, f), blob);
    }
  } catch (e) {
    bar?.end(`failed: ${(e as Error).message.slice(0, 200)}`);
    throw e;
  }
  bar?.end(`${(downloaded / MB).toFixed(1)} MB`);
  return { dir, commit, files: wanted, downloaded };
}

async function listSnapshot(dir: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  return readdir(dir).catch(() => []);
}
