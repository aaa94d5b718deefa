/**
 * Live progress in a notebook: ONE output, drawn with display_data and then updated in place with
 * update_display_data (same transient display_id), so a 10,000-step loop leaves one bar, not 10,000
 * lines. Shows a bar, step/total, the caller's metrics (loss, tokens/s, …), the rate and an ETA.
 *
 * It implements the `Progress` of lib/runtime/context.ts; the kernel's host hands one out for
 * `startProgress(label, total)`, bound to the cell that asked (updates from its async work land in
 * that cell's output). Updates are throttled (at most one message per `minIntervalMs`), except the
 * first, the last step and `end()`.
 */
import { randomUUID } from "node:crypto";
import type { Progress } from "../lib/runtime/context.js";
import { escapeHtml } from "./display.js";

export type Publish = (msgType: string, content: object) => void;
export type Metrics = Record<string, number | string | null>;

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  metrics: Metrics;
  elapsedS: number;
  outcome?: string;
}

function clock(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function metricText(m: Metrics): string {
  return Object.entries(m)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "number" ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`)
    .join("  ");
}

/** Both renderings of one state (pure; tested directly). */
export function renderProgress(s: ProgressState): { text: string; html: string } {
  const frac = s.total > 0 ? Math.min(s.done / s.total, 1) : 0;
  const rate = s.elapsedS > 0 ? s.done / s.elapsedS : 0;
  const eta = s.outcome ? `elapsed ${clock(s.elapsedS)}` : rate > 0 ? `ETA ${clock((s.total - s.done) / rate)}` : "ETA ?";
  const rateText = rate > 0 ? `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)} it/s` : "";
  const bar = "█".repeat(Math.round(frac * 30)).padEnd(30, "·");
  const tail = [rateText, eta, metricText(s.metrics), s.outcome ?? ""].filter(Boolean).join("  ");
  const text = `${s.label} ${bar} ${s.done}/${s.total} (${Math.round(frac * 100)}%)  ${tail}`;
  const color = s.outcome && !/^(completed|done)/.test(s.outcome) ? "#D55E00" : "#0072B2";
  const html =
    `<div class="ctxlab-progress" style="font-family:monospace;font-size:13px">` +
    `<span>${escapeHtml(s.label)}</span> ` +
    `<span style="display:inline-block;width:240px;height:10px;border:1px solid #888;vertical-align:middle">` +
    `<span style="display:block;width:${(frac * 100).toFixed(1)}%;height:100%;background:${color}"></span></span> ` +
    `<span>${s.done}/${s.total}</span> <span style="color:#808080">${escapeHtml(tail)}</span></div>`;
  return { text, html };
}

export interface ProgressOptions {
  minIntervalMs?: number;
  now?: () => number;
}

/** A live progress display that publishes through `publish` (a cell's iopub sender). */
export function createProgress(publish: Publish, label: string, total: number, o: ProgressOptions = {}): Progress {
  const now = o.now ?? (() => performance.now());
  const minInterval = o.minIntervalMs ?? 100;
  const id = randomUUID();
  const t0 = now();
  const state: ProgressState = { label, done: 0, total, metrics: {}, elapsedS: 0 };
  let shown = false;
  let lastSent = -Infinity;
  let ended = false;

  const send = (): void => {
    state.elapsedS = (now() - t0) / 1000;
    const r = renderProgress(state);
    publish(shown ? "update_display_data" : "display_data", { data: { "text/plain": r.text, "text/html": r.html }, metadata: {}, transient: { display_id: id } });
    shown = true;
    lastSent = now();
  };

  return {
    update(done, metrics) {
      if (ended) return;
      state.done = done;
      if (metrics) Object.assign(state.metrics, metrics);
      if (!shown || done >= total || now() - lastSent >= minInterval) send();
    },
    end(outcome = "completed") {
      if (ended) return;
      ended = true;
      state.outcome = outcome;
      send();
    },
  };
}
