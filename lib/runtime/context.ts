/**
 * The runtime seam between the library and its host (the ctxlab Jupyter kernel, the CLI, a script).
 *
 * Long-running library functions (training, evaluation sweeps, generation) take an AbortSignal and
 * report progress. When the caller passes none, they use the host's: the kernel installs a provider
 * that returns the current cell's AbortSignal (aborted on interrupt) and a progress reporter that
 * draws one live-updating output; the CLI installs a terminal progress bar. Without a host, the
 * defaults are "never aborted" and "no progress output".
 */

/** One live progress display. */
export interface Progress {
  /** Update to `done` of `total` units, with metrics shown next to the bar (loss, tokens/s, …). */
  update(done: number, metrics?: Record<string, number | string | null>): void;
  /** Finish: show the final state with an outcome line ("completed", "interrupted at step 12", …). */
  end(outcome?: string): void;
}

export interface Host {
  /** The signal of the current unit of work (the running cell), if any. */
  signal?(): AbortSignal | undefined;
  /** Start a progress display titled `label` for `total` units. */
  progress?(label: string, total: number): Progress;
}

const KEY = Symbol.for("ctxlab.host");
type G = typeof globalThis & { [KEY]?: Host };

/** Install the host (the kernel does this once at start-up); returns the previous one. */
export function setHost(host: Host | undefined): Host | undefined {
  const g = globalThis as G;
  const prev = g[KEY];
  g[KEY] = host;
  return prev;
}

/** The caller's signal if given, else the host's current one (a cell's interrupt), else undefined. */
export function currentSignal(explicit?: AbortSignal): AbortSignal | undefined {
  return explicit ?? (globalThis as G)[KEY]?.signal?.();
}

const silent: Progress = { update() {}, end() {} };

/** A progress display from the host, or a silent one. */
export function startProgress(label: string, total: number): Progress {
  return (globalThis as G)[KEY]?.progress?.(label, total) ?? silent;
}
