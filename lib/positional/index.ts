/**
 * Positional encodings: the strategy interface, the schemes, and a registry by name for configs,
 * checkpoints and the CLI ("learned", "none", …).
 */
import { ConfigError } from "../errors.js";
import { learned } from "./learned.js";
import { none } from "./none.js";
import type { PositionalEncoding, PositionalSpec } from "./types.js";

export type { PositionalEncoding, PositionalSpec, PositionRange, PeContext } from "./types.js";
export { learned, positionalEmbedding, W_P } from "./learned.js";
export { none } from "./none.js";

type Factory = (spec: PositionalSpec) => PositionalEncoding;
const registry = new Map<string, Factory>();

/** Register a scheme under a name (used by `positionalFrom`). */
export function registerPositional(name: string, factory: Factory): void {
  registry.set(name, factory);
}

/** Names of all registered schemes. */
export function positionalNames(): string[] {
  return [...registry.keys()].sort();
}

/**
 * Build an encoding from its JSON spec (as stored in checkpoints) or a name with colon-separated
 * arguments ("learned", "none", "rope", "rope:pi:4", "yarn:8"): "a:b:c" becomes
 * {name: "a", args: ["b", "c"]} and each scheme's factory reads its args.
 */
export function positionalFrom(spec: PositionalSpec | string): PositionalEncoding {
  const s: PositionalSpec = typeof spec === "string" ? parseName(spec) : spec;
  if (s == null || typeof s !== "object" || typeof s.name !== "string") {
    throw new ConfigError(`positionalFrom: expected a name or {name, …}, got ${JSON.stringify(spec)}`);
  }
  const f = registry.get(s.name);
  if (!f) throw new ConfigError(`positionalFrom: unknown positional encoding "${s.name}"; known: ${positionalNames().join(", ")}`);
  return f(s);
}

function parseName(text: string): PositionalSpec {
  const [name, ...args] = text.trim().split(":").map((p) => p.trim());
  return args.length ? { name: name!, args } : { name: name! };
}

registerPositional("learned", (s) => learned(typeof s.initStd === "number" ? { initStd: s.initStd } : {}));
registerPositional("none", () => none());
