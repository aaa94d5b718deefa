/**
 * The registry of positional encodings by name, for configs, checkpoints and the CLI. The built-in
 * schemes are listed here (each module exports its entry; importing this module is enough, nothing
 * relies on another module having been imported first); `registerPositional` adds one at run time.
 * Names may carry colon-separated arguments: "rope:pi:4" is {name: "rope", args: ["pi", "4"]}.
 */
import { ConfigError } from "../errors.js";
import { ALIBI_ENTRY } from "./alibi.js";
import { BOUNDED_ENTRY } from "./bounded.js";
import { LEARNED_ENTRY } from "./learned.js";
import { NONE_ENTRY } from "./none.js";
import { ROTARY_ENTRIES } from "./rope.js";
import { SINUSOIDAL_ENTRY } from "./sinusoidal.js";
import type { PositionalEncoding, PositionalEntry, PositionalSpec } from "./types.js";

type Factory = (spec: PositionalSpec) => PositionalEncoding;
const registry = new Map<string, { factory: Factory; help: string }>();
for (const e of [LEARNED_ENTRY, NONE_ENTRY, ...ROTARY_ENTRIES, SINUSOIDAL_ENTRY, BOUNDED_ENTRY, ALIBI_ENTRY] satisfies PositionalEntry[]) registry.set(e.name, e);

/** Register a scheme under a name (used by `positionalFrom`); `help` shows the accepted forms. */
export function registerPositional(name: string, factory: Factory, help = name): void {
  registry.set(name, { factory, help });
}

/** Names of all registered schemes. */
export function positionalNames(): string[] {
  return [...registry.keys()].sort();
}

/** Accepted forms of every registered scheme, e.g. ["learned", "rope[:layout]", "yarn:<s>"]. */
export function positionalForms(): string[] {
  return [...registry.values()].map((r) => r.help).sort();
}

function parseName(text: string): PositionalSpec {
  const [name, ...args] = text.trim().split(":").map((p) => p.trim());
  return args.length ? { name: name!, args } : { name: name! };
}

/**
 * Build an encoding from its JSON spec (as stored in checkpoints) or a name with colon-separated
 * arguments ("learned", "none", "rope", "rope:pi:4", "yarn:8").
 */
export function positionalFrom(spec: PositionalSpec | string): PositionalEncoding {
  const s: PositionalSpec = typeof spec === "string" ? parseName(spec) : spec;
  if (s == null || typeof s !== "object" || typeof s.name !== "string") {
    throw new ConfigError(`positionalFrom: expected a name or {name, …}, got ${JSON.stringify(spec)}`);
  }
  const r = registry.get(s.name);
  if (!r) throw new ConfigError(`positionalFrom: unknown positional encoding "${s.name}"; known: ${positionalForms().join(", ")}`);
  return r.factory(s);
}
