/**
 * ActivationCache: every hooked activation of one forward pass, by canonical name, with the
 * Algorithm 10 line, symbol and shape it belongs to (what TransformerLens's run_with_cache returns).
 * The cache owns its tensors: call `dispose()` (or let a `scope` do it).
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import { hookInfo } from "./names.js";

export interface TraceRow {
  name: string;
  layer: number | null;
  line: string;
  symbol: string;
  shape: string;
  description: string;
}

export class ActivationCache {
  private readonly acts = new Map<string, tf.Tensor>();

  /** @internal used by the tracing hook */
  _set(name: string, t: tf.Tensor): void {
    this.acts.get(name)?.dispose();
    this.acts.set(name, t);
  }

  /** The activation recorded under `name` (e.g. "blocks.0.attn.hook_pattern"). */
  get(name: string): tf.Tensor {
    const t = this.acts.get(name);
    if (!t) throw new ConfigError(`ActivationCache: no activation "${name}"; recorded: ${this.names().slice(0, 5).join(", ")}, … (${this.acts.size} in all; see HOOK_POINTS)`);
    return t;
  }

  has(name: string): boolean {
    return this.acts.has(name);
  }

  /** Names in the order the forward pass visited them. */
  names(): string[] {
    return [...this.acts.keys()];
  }

  get size(): number {
    return this.acts.size;
  }

  /** One row per activation: name, layer, Alg 10 line, paper symbol, actual shape, description. */
  rows(): TraceRow[] {
    return this.names().map((name) => {
      const info = hookInfo(name);
      return {
        name,
        layer: info?.layer ?? null,
        line: info?.line ?? "",
        symbol: info?.symbol ?? "",
        shape: `[${this.acts.get(name)!.shape.join(", ")}]`,
        description: info?.description ?? "",
      };
    });
  }

  /** Stack one activation across layers, e.g. stack("hook_resid_post") → [L, …]. */
  stack(suffix: string): tf.Tensor {
    const ts = this.names().filter((n) => /^blocks\.\d+\./.test(n) && n.endsWith(`.${suffix}`)).map((n) => this.acts.get(n)!);
    if (!ts.length) throw new ConfigError(`ActivationCache.stack: no per-layer activation ends with "${suffix}"`);
    return tf.stack(ts);
  }

  dispose(): void {
    for (const t of this.acts.values()) t.dispose();
    this.acts.clear();
  }
}
