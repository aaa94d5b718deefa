/**
 * The registry of positional encodings by name, for configs, checkpoints and the CLI. Each scheme's
 * module registers itself on import (lib/positional/index.ts imports them all). Names may carry
 * colon-separated arguments: "rope:pi:4" is {name: "rope", args: ["pi", "4"]}.
 */
import { ConfigError } from "../errors.js";
import type { PositionalEncoding, PositionalSpec } from "./types.js";

type Factory = (spec: PositionalSpec) => PositionalEncoding;
const registry = new Map<string, { factory: Factory; help: string }>();

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
