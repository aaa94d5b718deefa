/**
 * `ctxlab download <id> [--revision r] [--cache-dir d] [--files a,b]`: a hub model into the Hugging
 * Face cache (HF_HOME / HF_HUB_CACHE, shared with Python), with a progress bar; prints the snapshot
 * directory, which --checkpoint / --from accept as they accept the hub id itself.
 */
import { ConfigError } from "../lib/errors.js";
import { hubDownload, type DownloadResult } from "../lib/hf/hub.js";
import { terminalProgress, type Out } from "./progress.js";

export const DOWNLOAD_FLAGS = ["revision", "cache-dir", "files", "endpoint"] as const;

export async function downloadCommand(id: string | undefined, flags: Record<string, string | boolean>, out: Out, signal?: AbortSignal): Promise<DownloadResult> {
  for (const k of Object.keys(flags)) if (!(DOWNLOAD_FLAGS as readonly string[]).includes(k)) throw new ConfigError(`ctxlab download: unknown flag --${k}; known: ${DOWNLOAD_FLAGS.map((n) => `--${n}`).join(", ")}`);
  if (!id) throw new ConfigError(`ctxlab download: give a hub id, e.g. ctxlab download HuggingFaceTB/SmolLM-135M`);
  const s = (k: string) => (typeof flags[k] === "string" ? (flags[k] as string) : undefined);
  const MB = 1024 * 1024;
  let bar: ReturnType<typeof terminalProgress> | undefined;
  const r = await hubDownload(id, {
    ...(s("revision") ? { revision: s("revision")! } : {}),
    ...(s("cache-dir") ? { cacheDir: s("cache-dir")! } : {}),
    ...(s("endpoint") ? { endpoint: s("endpoint")! } : {}),
    ...(s("files") ? { files: s("files")!.split(",").map((f) => f.trim()).filter(Boolean) } : {}),
    ...(signal ? { signal } : {}),
    onProgress: (p) => {
      bar ??= terminalProgress(out, `download ${id}`, Math.max(1, Math.ceil(p.allTotal / MB)));
      bar.update(Math.floor(p.allDone / MB), { MB: +(p.allDone / MB).toFixed(1), file: p.file });
    },
  });
  bar?.end(`${(r.downloaded / MB).toFixed(1)} MB downloaded`);
  out.write(`${id} @ ${r.commit}: ${r.files.length} files in ${r.dir}\n`);
  return r;
}
