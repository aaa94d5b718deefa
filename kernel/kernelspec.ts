/**
 * The ctxlab kernelspec: `kernels/ctxlab/{kernel.json, logo-32x32.png, logo-64x64.png}` in a
 * Jupyter data directory, with the same placement semantics as `jupyter kernelspec install`:
 *   --user (the default here)  $JUPYTER_DATA_DIR, else ~/.local/share/jupyter ($XDG_DATA_HOME),
 *                              ~/Library/Jupyter on macOS, %APPDATA%\jupyter on Windows
 *   --sys-prefix               {sys.prefix}/share/jupyter of the Python that runs `jupyter`
 *   --prefix P                 P/share/jupyter
 * kernel.json runs this Node (absolute path) on the built dist/kernel/start.js (absolute path)
 * with "{connection_file}"; interrupt_mode "signal" (Jupyter sends SIGINT, see handler.ts).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { logoPng } from "./logo.js";

export type Scope = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; prefix: string };

export interface KernelJson {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal" | "message";
  env: Record<string, string>;
  metadata: Record<string, unknown>;
}

/** The package root (dist/kernel/ → ../..). */
export function packageRoot(): string {
  return fileURLToPath(new URL("../../", import.meta.url));
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return join(env.APPDATA ?? join(homedir(), "AppData", "Roaming"), "jupyter");
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "jupyter");
}

/** The Python behind `jupyter` (its shebang), asked for sys.prefix. */
function sysPrefix(): string {
  const which = spawnSync("sh", ["-c", "command -v jupyter || echo /usr/bin/jupyter"], { encoding: "utf8" }).stdout.trim();
  const shebang = existsSync(which) ? (readFileSync(which, "utf8").split("\n")[0] ?? "") : "";
  const python = /^#!\s*(\S+)/.exec(shebang)?.[1] ?? "python3";
  const r = spawnSync(python, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`--sys-prefix: could not run ${python} to find sys.prefix: ${r.stderr || r.error}`);
  return r.stdout.trim();
}

export function kernelsDir(scope: Scope): string {
  switch (scope.kind) {
    case "user":
      return join(userDataDir(), "kernels");
    case "sys-prefix":
      return join(sysPrefix(), "share", "jupyter", "kernels");
    case "prefix":
      return join(scope.prefix, "share", "jupyter", "kernels");
  }
}

/** "ctxlab (TypeScript) — ~/src/ctxlab": two checkouts' kernels can be told apart in Jupyter's menu. */
export function displayName(root: string): string {
  const home = homedir();
  const shown = root.replace(/\/+$/, "");
  return `ctxlab (TypeScript) — ${home && shown.startsWith(`${home}/`) ? `~${shown.slice(home.length)}` : shown}`;
}

export function kernelJson(): KernelJson {
  const start = fileURLToPath(new URL("./start.js", import.meta.url));
  const root = dirname(dirname(dirname(start)));
  return {
    argv: [process.execPath, start, "{connection_file}"],
    display_name: displayName(root),
    language: "typescript",
    interrupt_mode: "signal",
    env: {},
    metadata: {
      debugger: false,
      ctxlab: { version: packageVersion(), root, node: process.version },
    },
  };
}

/** Write the kernelspec directory `kernels/<name>` under `scope`; returns its path. */
export function installKernelspec(scope: Scope, name = "ctxlab"): string {
  if (!/^[a-z0-9._-]+$/i.test(name)) throw new Error(`kernel name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-"`);
  const dir = join(kernelsDir(scope), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kernel.json"), `${JSON.stringify(kernelJson(), null, 2)}\n`);
  writeFileSync(join(dir, "logo-32x32.png"), logoPng(32));
  writeFileSync(join(dir, "logo-64x64.png"), logoPng(64));
  return dir;
}

/** Remove `kernels/<name>` under `scope`; returns its path, or undefined when there was none. */
export function uninstallKernelspec(scope: Scope, name = "ctxlab"): string | undefined {
  const dir = join(kernelsDir(scope), name);
  if (!existsSync(join(dir, "kernel.json"))) return undefined;
  rmSync(dir, { recursive: true, force: true });
  return dir;
}
