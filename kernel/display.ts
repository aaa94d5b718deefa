/**
 * The mime-bundle registry: how a value becomes a Jupyter output.
 *
 * `toMimeBundle(value)` asks the formatters in order (user-registered ones first, then the
 * built-ins of formatters.ts: explicit bundles, Plotly figures, tf tensors, ActivationCaches,
 * objects with `toHTML()` such as arquero tables) and always adds `text/plain` (util.inspect) when
 * the winning formatter gave none. Used for the last expression of a cell (execute_result) and for
 * `display(x)` (display_data).
 */
import { inspect } from "node:util";

/** mime type → data (strings, or JSON objects for +json types) */
export type MimeData = Record<string, unknown>;

export interface MimeBundle {
  data: MimeData;
  metadata: Record<string, unknown>;
}

export interface FormatContext {
  /** per-kernel-session state a formatter may keep (e.g. "plotly.js already sent") */
  readonly session: Map<string, unknown>;
}

export interface Formatter {
  /** shown in logs when the formatter throws */
  readonly name: string;
  /** a bundle for `value`, or undefined to let the next formatter try */
  format(value: unknown, ctx: FormatContext): MimeBundle | undefined;
}

const BUNDLE = Symbol.for("ctxlab.mimeBundle");

/** A value that displays as exactly this bundle (see `mime`, `html`, `markdown`). */
export interface RawBundle {
  readonly [BUNDLE]: MimeBundle;
}

/** Wrap a ready bundle (`{ "text/html": "<b>hi</b>", "text/plain": "hi" }`) as a displayable value. */
export function mime(data: MimeData, metadata: Record<string, unknown> = {}): RawBundle {
  const full = { "text/plain": `[${Object.keys(data).join(", ")}]`, ...data };
  return { [BUNDLE]: { data: full, metadata }, toString: () => String(full["text/plain"]) } as RawBundle;
}

export function html(s: string): RawBundle {
  return mime({ "text/html": s, "text/plain": s.replace(/<[^>]*>/g, "") });
}

export function markdown(s: string): RawBundle {
  return mime({ "text/markdown": s, "text/plain": s });
}

const rawFormatter: Formatter = {
  name: "raw bundle",
  format: (v) => (v !== null && typeof v === "object" && BUNDLE in v ? (v as RawBundle)[BUNDLE] : undefined),
};

const user: Formatter[] = [];
let builtins: Formatter[] = [];
const session: FormatContext = { session: new Map() };

/** Put a formatter in front of the built-ins (latest registered wins). Returns an unregister function. */
export function registerFormatter(f: Formatter): () => void {
  user.unshift(f);
  return () => {
    const i = user.indexOf(f);
    if (i >= 0) user.splice(i, 1);
  };
}

/** The kernel installs the built-in formatters once (formatters.ts), after the raw-bundle one. */
export function setBuiltinFormatters(fs: Formatter[]): void {
  builtins = [rawFormatter, ...fs];
}

/**
 * util.inspect, the text/plain of everything (`6*7` → "42", short strings quoted like a REPL);
 * a string with a line break, or too long for one line, is shown as its text (inspect would print
 * a JavaScript literal with `+` continuations). Never throws.
 */
export function plainText(value: unknown): string {
  if (typeof value === "string" && (value.includes("\n") || value.length > 96)) return value;
  try {
    return inspect(value, { depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 });
  } catch (e) {
    return `[value that cannot be inspected: ${(e as Error)?.message ?? e}]`;
  }
}

/** Reset per-session formatter state (tests; a kernel restart gets a fresh process anyway). */
export function resetFormatSession(): void {
  session.session.clear();
}

export function toMimeBundle(value: unknown, log: (...a: unknown[]) => void = () => {}): MimeBundle {
  for (const f of [...user, ...(builtins.length ? builtins : [rawFormatter])]) {
    let b: MimeBundle | undefined;
    try {
      b = f.format(value, session);
    } catch (e) {
      log(`formatter "${f.name}" failed:`, e);
      continue;
    }
    if (b) return b.data["text/plain"] === undefined ? { data: { ...b.data, "text/plain": plainText(value) }, metadata: b.metadata } : b;
  }
  return { data: { "text/plain": plainText(value) }, metadata: {} };
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
