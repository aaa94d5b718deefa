/**
 * Generic exact-match evaluation sets in JSONL: one JSON object per line,
 *
 *   {"prompt": "…", "answer": "12345"}                                  required, strings
 *   {"id": "…", "length": 128, "depth": 0.5, "target": " 12345", "task": "passkey", "variant": "standard",
 *    "needle_pos": 40}                                                  optional
 *
 * `id`, `length`, `depth` and `needle_pos` are carried into the results table (defaults: "line <n>", the token
 * count of prompt + target, null). `target` is the exact continuation the logit scorer teacher-forces
 * (default: the answer); the greedy scorer only needs `answer`. Other keys are ignored. Blank lines
 * are skipped. Errors name the file and the 1-based line number; files over 100 MB are refused.
 * data/evalsets/*.jsonl are written in this format by scripts/make-evalsets.mjs.
 */
import { show } from "../util/show.js";
import { readFile, stat } from "node:fs/promises";
import { InputError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import type { EvalExample } from "./types.js";

export const MAX_JSONL_BYTES = 100 * 1024 * 1024;

/** One parsed line. */
export interface JsonlItem {
  prompt: string;
  answer: string;
  id?: string;
  length?: number;
  depth?: number;
  target?: string;
  task?: string;
  variant?: string;
  /** token index of the needle under the tokenizer the set was made with (informational) */
  needle_pos?: number;
  /** 1-based line number in the file */
  line: number;
}

const OPTIONAL: Record<string, "string" | "number"> = { id: "string", length: "number", depth: "number", target: "string", task: "string", variant: "string", needle_pos: "number" };


/** Checks one decoded line; `where` is "<source>:<line>". */
function checkItem(v: unknown, where: string, line: number): JsonlItem {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new InputError(`${where}: expected a JSON object {"prompt": …, "answer": …}, got ${Array.isArray(v) ? "an array" : show(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of ["prompt", "answer"]) {
    if (!(k in o)) throw new InputError(`${where}: missing field "${k}" (each line needs "prompt" and "answer" strings)`);
    if (typeof o[k] !== "string") throw new InputError(`${where}: field "${k}" must be a string, got ${show(o[k])}`);
  }
  if ((o.answer as string).trim() === "") throw new InputError(`${where}: field "answer" is empty`);
  const item: JsonlItem = { prompt: o.prompt as string, answer: o.answer as string, line };
  for (const [k, type] of Object.entries(OPTIONAL)) {
    if (o[k] === undefined || o[k] === null) continue;
    if (typeof o[k] !== type || (type === "number" && !Number.isFinite(o[k]))) throw new InputError(`${where}: field "${k}" must be a ${type}, got ${show(o[k])}`);
    (item as unknown as Record<string, unknown>)[k] = o[k];
  }
  if (item.depth !== undefined && !(item.depth >= 0 && item.depth <= 1)) throw new InputError(`${where}: field "depth" must be in [0, 1], got ${item.depth}`);
  if (item.length !== undefined && !(Number.isSafeInteger(item.length) && item.length > 0)) throw new InputError(`${where}: field "length" must be a positive integer, got ${item.length}`);
  return item;
}

/** Parses JSONL text; errors name `source` and the line number. */
export function parseJsonl(text: string, source = "<jsonl>"): JsonlItem[] {
  const out: JsonlItem[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i]!.trim();
    if (s === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw new InputError(`${source}:${i + 1}: invalid JSON: ${(e as Error).message}`);
    }
    out.push(checkItem(v, `${source}:${i + 1}`, i + 1));
  }
  if (out.length === 0) throw new InputError(`${source}: no examples (the file is empty or has only blank lines)`);
  return out;
}

/** Reads and parses a JSONL file, refusing files over 100 MB. */
export async function readJsonl(path: string, maxBytes = MAX_JSONL_BYTES): Promise<JsonlItem[]> {
  const st = await stat(path).catch((e: Error) => {
    throw new InputError(`cannot read ${path}: ${e.message}`);
  });
  if (!st.isFile()) throw new InputError(`${path} is not a file`);
  if (st.size > maxBytes) throw new InputError(`${path} is ${st.size} bytes, over the ${maxBytes}-byte limit (100 MB); split it into smaller files`);
  return parseJsonl(await readFile(path, "utf8"), path);
}

/** Examples from parsed items, tokenized with `tok` (task "jsonl" unless the item names one). */
export function jsonlExamples(items: readonly JsonlItem[], tok: Tokenizer): EvalExample[] {
  return items.map((it) => {
    const target = it.target ?? it.answer;
    const ids = tok.encode(it.prompt);
    const targetIds = tok.encode(target);
    return {
      id: it.id ?? `line ${it.line}`,
      task: it.task ?? "jsonl",
      variant: it.variant ?? "standard",
      length: it.length ?? ids.length + targetIds.length,
      depth: it.depth ?? null,
      prompt: it.prompt,
      target,
      answer: it.answer.trim(),
      ids,
      targetIds,
      needlePos: it.needle_pos ?? null,
      needleDepth: null,
    };
  });
}

/** Examples as JSONL text (one object per line, trailing newline): id, task, variant, length, depth, prompt, answer, target, needle_pos. */
export function toJsonl(examples: readonly EvalExample[]): string {
  return examples
    .map((e) => JSON.stringify({ id: e.id, task: e.task, variant: e.variant, length: e.length, depth: e.depth, prompt: e.prompt, answer: e.answer, target: e.target, needle_pos: e.needlePos }) + "\n")
    .join("");
}
