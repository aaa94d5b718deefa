/**
 * Hooks for one forward call. There is no global hook state (TransformerLens's documented footgun):
 * hooks live in a HookContext passed down the call, so they are gone when the call returns or
 * throws. With no context, a hook point costs one branch.
 */
import type * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";

/** A hook reads an activation and may return a replacement of the same shape (or nothing). */
export type HookFn = (value: tf.Tensor, name: string) => tf.Tensor | void;

/** A name, a list of names, or a predicate selecting hook points. */
export type HookFilter = string | readonly string[] | ((name: string) => boolean);

export interface HookSpec {
  filter: HookFilter;
  fn: HookFn;
}

function matches(f: HookFilter, name: string): boolean {
  if (typeof f === "string") return f === name;
  if (typeof f === "function") return f(name);
  return f.includes(name);
}

/** Per-call hook state: the hooks to run, and which names were visited. */
export class HookContext {
  readonly visited: string[] = [];
  constructor(readonly hooks: readonly HookSpec[]) {}

  /** Run the hooks registered for `name` on `value`; returns the (possibly replaced) value. */
  run(name: string, value: tf.Tensor): tf.Tensor {
    this.visited.push(name);
    let v = value;
    for (const h of this.hooks) {
      if (!matches(h.filter, name)) continue;
      const r = h.fn(v, name);
      if (r != null) {
        if (r.shape.length !== v.shape.length || r.shape.some((d, i) => d !== v.shape[i])) {
          throw new ShapeError(`hook on ${name} returned shape [${r.shape.join(", ")}] but the activation has shape [${v.shape.join(", ")}]`);
        }
        v = r;
      }
    }
    return v;
  }
}

/** Identity hook point: `hp(ctx, "blocks.0.hook_resid_pre", X)`. */
export function hp(ctx: HookContext | undefined, name: string, value: tf.Tensor): tf.Tensor {
  return ctx === undefined ? value : ctx.run(name, value);
}
