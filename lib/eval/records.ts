/**
 * Record-retrieval tasks: a list of keyed records, one of which is asked for at the end.
 *
 * Line retrieval — LongChat's LongEval "lines" (LMSYS blog, 29 Jun 2023; DachengLi1/LongChat
 * longeval/utils.py, generate_lines_testcases; docs/literature.md, "LongChat and Lost in the Middle"). Standard variant:
 *
 *   [Below is a record of lines I want you to remember. … Now the record start:\n\n]   (header: true)
 *   line bold-otter: REGISTER_CONTENT is <38217>
 *   line dim-kettle: REGISTER_CONTENT is <90412>
 *   …
 *   What is the REGISTER_CONTENT in line dim-kettle? line dim-kettle: REGISTER_CONTENT is <
 *                                                                    → continuation "90412"
 *
 * LongChat asks a chat model "Tell me what is the <REGISTER_CONTENT> in line X? I need the number."
 * For base models the question ends with a completion cue that repeats the line's own prefix (as
 * LongChat's MPT-storywriter path appends "Line <X>: <REGISTER_CONTENT> is"). Names are
 * "<adjective>-<noun>" from lib/eval/words.ts (LongEval's LRT-NL), distinct within a prompt; values
 * have exactly `digits` digits and are distinct within a prompt (LongEval draws randint(1, 50000)
 * with repeats), so the answer occurs exactly once. Compact variant: lines "bold-otter=38217\n", the
 * question "dim-kettle=" on its own line.
 *
 * Key-value retrieval — Lost in the Middle (Liu et al., TACL 2024, arXiv 2307.03172, §3.3;
 * nelson-liu/lost-in-the-middle prompting.py get_kv_retrieval_prompt): a JSON object of random
 * UUID pairs, then "Key: "<uuid>"\nCorresponding value:". The prompt here ends with the opening
 * quote so that the continuation is the value itself. Standard variant only (a UUID pair is ~80
 * bytes); header: true adds the instruction line.
 *
 * The queried record is the one whose start is nearest to depth × (record tokens): index
 * min(N − 1, round(depth·N)). N is the largest number of records that keeps prompt + continuation
 * ≤ ℓ tokens (at least 2).
 */
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import type { Rng } from "../tensor/random.js";
import { checkTaskOptions, countTokens, drawDigits, drawUnique, exampleId, rngOf, type Checked } from "./common.js";
import { encodeExample, type EvalExample, type TaskOptions } from "./types.js";
import { ADJECTIVES, NOUNS } from "./words.js";

export const LINES_HEADER =
  "Below is a record of lines I want you to remember. Each line begins with 'line <line index>' and contains a '<REGISTER_CONTENT>' at the end of the line as a numerical value. " +
  "For each line index, memorize its corresponding <REGISTER_CONTENT>. At the end of the record, I will ask you to retrieve the corresponding <REGISTER_CONTENT> of a certain line index. Now the record start:\n\n";
export const KV_HEADER = "Extract the value corresponding to the specified key in the JSON object below.\n\n";

/** How one record task writes its text. */
export interface RecordFormat {
  task: string;
  head(o: Checked): string;
  record(name: string, value: string): string;
  /** between records */
  joiner: string;
  /** after the last record, ending with the completion cue */
  tail(name: string): string;
  drawName(rng: Rng, used: Set<string>): string;
  drawValue(rng: Rng, used: Set<string>, digits: number): string;
}

const lineName = (rng: Rng, used: Set<string>) => drawUnique(used, () => `${ADJECTIVES[rng.int(0, ADJECTIVES.length)]}-${NOUNS[rng.int(0, NOUNS.length)]}`, "line name");
const lineValue = (rng: Rng, used: Set<string>, digits: number) => drawUnique(used, () => drawDigits(rng, digits), `${digits}-digit value`);

const hex = (rng: Rng, n: number) => Array.from({ length: n }, () => "0123456789abcdef"[rng.int(0, 16)]).join("");
/** A random version-4-shaped UUID string from `rng`. */
export const uuidFrom = (rng: Rng): string => `${hex(rng, 8)}-${hex(rng, 4)}-4${hex(rng, 3)}-${"89ab"[rng.int(0, 4)]}${hex(rng, 3)}-${hex(rng, 12)}`;

export const RECORD_FORMATS: Readonly<Record<string, RecordFormat>> = {
  lines: {
    task: "lines",
    head: (o) => (o.header ? LINES_HEADER : ""),
    record: (n, v) => `line ${n}: REGISTER_CONTENT is <${v}>\n`,
    joiner: "",
    tail: (n) => `What is the REGISTER_CONTENT in line ${n}? line ${n}: REGISTER_CONTENT is <`,
    drawName: lineName,
    drawValue: lineValue,
  },
  "lines-compact": {
    task: "lines",
    head: () => "",
    record: (n, v) => `${n}=${v}\n`,
    joiner: "",
    tail: (n) => `${n}=`,
    drawName: lineName,
    drawValue: lineValue,
  },
  kv: {
    task: "kv",
    head: (o) => `${o.header ? KV_HEADER : ""}JSON data:\n{`,
    record: (k, v) => `"${k}": "${v}"`,
    joiner: ",\n ",
    tail: (k) => `}\n\nKey: "${k}"\nCorresponding value: "`,
    drawName: (rng, used) => drawUnique(used, () => uuidFrom(rng), "UUID"),
    drawValue: (rng, used) => drawUnique(used, () => uuidFrom(rng), "UUID"),
  },
};

/** Index of the queried record among n for a depth. */
export const queriedIndex = (n: number, depth: number): number => Math.min(n - 1, Math.round(depth * n));

interface Drawn {
  names: string[];
  values: string[];
  cost: number[];
}

/** The prompt for the first n records, querying record q; `before` is the text ahead of record q. */
function assemble(f: RecordFormat, o: Checked, d: Drawn, n: number): { prompt: string; before: string; head: string; body: string; q: number } {
  const q = queriedIndex(n, o.depth);
  const recs = d.names.slice(0, n).map((name, i) => f.record(name, d.values[i]!));
  const head = f.head(o);
  const body = recs.join(f.joiner);
  const before = head + recs.slice(0, q).map((r) => r + f.joiner).join("");
  return { prompt: head + body + f.tail(d.names[q]!), before, head, body, q };
}

/** Draws records one by one while the estimated cost (per-record token counts) stays within ℓ. */
function drawRecords(f: RecordFormat, o: Checked, rng: Rng, tok: Tokenizer): { d: Drawn; n: number } {
  const [usedN, usedV] = [new Set<string>(), new Set<string>()];
  const d: Drawn = { names: [], values: [], cost: [] };
  const base = countTokens(tok, f.head(o), o.bos);
  const joinCost = f.joiner ? tok.encode(f.joiner).length : 0;
  let sum = 0;
  for (let n = 1; ; n++) {
    const name = f.drawName(rng, usedN);
    const value = f.drawValue(rng, usedV, o.digits);
    d.names.push(name);
    d.values.push(value);
    sum += tok.encode(f.record(name, value)).length + (n > 1 ? joinCost : 0);
    const q = queriedIndex(n, o.depth);
    const est = base + sum + tok.encode(f.tail(d.names[q]!)).length + tok.encode(d.values[q]!).length;
    if (est > o.length) return { d, n: n - 1 };
    if (n >= ADJECTIVES.length * NOUNS.length) throw new ConfigError(`${f.task}: ℓ=${o.length} needs more than ${n} records, the number of distinct names`);
  }
}

/** One record-retrieval example for `format` ("lines", "lines-compact" or "kv"). */
export function recordTask(format: string, rng: Rng | number | string, tok: Tokenizer, opts: TaskOptions, index = 0): EvalExample {
  const f = Object.hasOwn(RECORD_FORMATS, format) ? RECORD_FORMATS[format] : undefined;
  if (!f) throw new ConfigError(`recordTask: unknown format "${format}"; known: ${Object.keys(RECORD_FORMATS).join(", ")}`);
  const o = checkTaskOptions(f.task, tok, opts);
  const { d, n: estimated } = drawRecords(f, o, rngOf(rng), tok);
  const fits = (n: number) => countTokens(tok, assemble(f, o, d, n).prompt, o.bos) + tok.encode(d.values[queriedIndex(n, o.depth)]!).length <= o.length;
  let n = estimated;
  while (n >= 2 && !fits(n)) n--; // the estimate can exceed by a merge or two (BPE)
  if (n < 2) throw new ConfigError(`${f.task}: ℓ=${o.length} is too short for two ${o.variant} records plus the question and answer${o.variant === "standard" && f.task === "lines" ? '; use a longer ℓ or variant "compact"' : ""}`);
  const a = assemble(f, o, d, n);
  const answer = d.values[a.q]!;
  const { ids, targetIds } = encodeExample(tok, a.prompt, answer, o.bos);
  const start = countTokens(tok, a.head, o.bos);
  const pos = countTokens(tok, a.before, o.bos);
  const hay = countTokens(tok, a.head + a.body, o.bos) - start;
  return {
    id: exampleId(f.task, o.variant, o.length, o.depth, index),
    task: f.task,
    variant: o.variant,
    length: o.length,
    depth: o.depth,
    prompt: a.prompt,
    target: answer,
    answer,
    ids,
    targetIds,
    needlePos: pos,
    needleDepth: hay > 0 ? (pos - start) / hay : o.depth,
  };
}

/** Line retrieval (LongChat); `variant: "compact"` for byte models. */
export function lines(rng: Rng | number | string, tok: Tokenizer, opts: TaskOptions, index = 0): EvalExample {
  return recordTask(opts?.variant === "compact" ? "lines-compact" : "lines", rng, tok, opts, index);
}

/** Key-value retrieval (Lost in the Middle); standard variant only. */
export function kvRetrieval(rng: Rng | number | string, tok: Tokenizer, opts: TaskOptions, index = 0): EvalExample {
  if (opts?.variant === "compact") throw new ConfigError('kv: there is no compact variant (UUID pairs); use "lines" with variant "compact"');
  return recordTask("kv", rng, tok, opts, index);
}
