/**
 * File-system changes seen by the cells' TypeScript program, made safe.
 *
 * tslab's converter is a TypeScript watch program whose timer is faked: it holds one pending
 * "timer" and runs it when the next cell is converted, and throws "Unexpected pending
 * rebuildTimer" when TypeScript asks for a second one. TypeScript asks for a second one as soon as
 * the real file system changes where it looks: a `node_modules` folder or `package.json` appearing
 * in the notebook's folder (an `npm install` beside an open notebook), a local `.ts` module edited,
 * a package's `.d.ts` rebuilt. The real watchers call TypeScript from an fs event, TypeScript
 * schedules a resolution-cache invalidation beside its program update, and from then on every cell
 * of the session failed with that error (measured: creating `node_modules/` in the notebook's folder
 * broke every later cell; the same error failed a notebook in CI once).
 *
 * What we do instead: before tslab builds a converter, the TypeScript instance it uses gets
 * watchers that only *record* a change (the real fs watchers underneath, with TypeScript's own
 * filter for directory events: source, declaration and JSON files and folders; not `.ipynb`
 * autosaves). `changedSince()` tells the executor, which then builds a fresh converter before the
 * next cell (a few seconds, once per change) instead of letting the old one update itself.
 */
import { createRequire } from "node:module";

interface FileWatcher {
  close(): void;
}
interface TsSys {
  watchFile?: (path: string, cb: (fileName: string, kind: number) => void, pollingInterval?: number, options?: unknown) => FileWatcher;
  watchDirectory?: (path: string, cb: (fileName: string) => void, recursive?: boolean, options?: unknown) => FileWatcher;
}

let changes = 0;
let installed = false;

/** Paths whose change can alter how a cell type-checks (what TypeScript itself would react to). */
export function relevantChange(path: string): boolean {
  const p = path.replace(/\\/g, "/");
  if (/\/(\.git|\.ipynb_checkpoints)(\/|$)/.test(p)) return false;
  const base = p.slice(p.lastIndexOf("/") + 1);
  if (!base.includes(".") || base === "node_modules") return true; // a folder (node_modules, @types, a package)
  return /\.(d\.)?[mc]?[tj]sx?$|\.json$/.test(base);
}

/**
 * Give tslab's TypeScript instance (resolved from tslab's own location, the one its converter
 * uses) recording watchers. Idempotent.
 */
export function installRecordingWatchers(): void {
  if (installed) return;
  installed = true;
  const fromTslab = createRequire(createRequire(import.meta.url).resolve("tslab/dist/converter.js"));
  const ts = fromTslab("@tslab/typescript-for-tslab") as { sys: TsSys };
  const sys = ts.sys;
  const record = (path: string): void => {
    if (!relevantChange(path)) return;
    changes++;
  };
  const realFile = sys.watchFile?.bind(sys);
  const realDir = sys.watchDirectory?.bind(sys);
  if (realFile) sys.watchFile = (path, _cb, interval, options) => realFile(path, (fileName) => record(fileName), interval, options);
  if (realDir) sys.watchDirectory = (path, _cb, recursive, options) => realDir(path, (fileName) => record(fileName), recursive, options);
}

/** The number of relevant changes recorded so far, and whether it differs from an earlier value. */
export function changedSince(count: number): { count: number; changed: boolean } {
  return { count: changes, changed: changes !== count };
}
