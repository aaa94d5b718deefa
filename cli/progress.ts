/**
 * Progress for the command line: a bar redrawn in place on a terminal, plain lines otherwise (logs,
 * CI). Installed as the runtime host's progress display, so dTraining shows it without knowing.
 */
import type { Progress } from "../lib/runtime/context.js";

export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

function fmt(v: number | string | null | undefined): string {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4);
}

function clock(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const m = Math.floor(s / 60);
  return `${m >= 60 ? `${Math.floor(m / 60)}:` : ""}${String(m % 60).padStart(2, "0")}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
}

/** A progress display writing to `out` (a bar on a TTY, a line every ~5% otherwise). */
export function terminalProgress(out: Out, label: string, total: number, now = () => performance.now()): Progress {
  const t0 = now();
  let first = -1;
  let lastLine = -1;
  const every = Math.max(1, Math.round(total / 20));
  const line = (done: number, metrics: Record<string, number | string | null>) => {
    if (first < 0) first = done - 1;
    const elapsed = (now() - t0) / 1000;
    const rate = (done - first) / Math.max(elapsed, 1e-9);
    const eta = (total - done) / rate;
    const m = Object.entries(metrics).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k} ${fmt(v)}`).join("  ");
    return { text: `${done}/${total}  ${m}  elapsed ${clock(elapsed)}  ETA ${clock(eta)}`, frac: done / Math.max(total, 1) };
  };
  return {
    update(done, metrics = {}) {
      const { text, frac } = line(done, metrics);
      if (out.isTTY) {
        const width = 24;
        const fill = Math.round(frac * width);
        out.write(`\r\x1b[2K${label} [${"█".repeat(fill)}${"░".repeat(width - fill)}] ${text}`);
      } else if (done === total || done - lastLine >= every) {
        lastLine = done;
        out.write(`${label}: ${text}\n`);
      }
    },
    end(outcome) {
      out.write(`${out.isTTY ? "\n" : ""}${label}: ${outcome ?? "done"}\n`);
    },
  };
}
