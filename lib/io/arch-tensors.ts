/**
 * ctxlab's own checkpoint layout for models with architecture options that the GPT-2 layout cannot
 * hold (RMSNorm, the gated MLP, H_kv < H, biases turned off, the parallel residual): config.json keeps
 * the GPT-2 size fields, says model_type "ctxlab" (so no GPT-2 reader mistakes it for GPT-2) and records
 * the options under "ctxlab" ({ norm, mlp, n_kv_heads, bias, residual, tensors: "ctxlab" });
 * model.safetensors holds θ under ctxlab's own parameter names (lib/config.ts, paramShapes), F32.
 * A model with every option at its default is written in the GPT-2 layout exactly as before, and a file
 * without these fields loads with the defaults.
 */
import * as tf from "@tensorflow/tfjs";
import { defaults, paramShapes, type DTransformerConfig, type DTransformerOptions } from "../config.js";
import { CheckpointError } from "../errors.js";
import type { DTransformer } from "../model/dtransformer.js";
import { ParamStore } from "../model/params.js";
import { toFloat32, type SafeTensor } from "./safetensors.js";

/** The "ctxlab.tensors" value of a checkpoint whose tensors carry ctxlab's parameter names. */
export const CTXLAB_TENSORS = "ctxlab";

/** Whether every architecture option is at its default (the GPT-2 layout holds the model). */
export function isGpt2Architecture(cfg: DTransformerConfig): boolean {
  const b = cfg.bias;
  return cfg.norm === defaults.norm && cfg.mlp === defaults.mlp && cfg.residual === defaults.residual && cfg.nKvHeads === cfg.nHeads && b.q && b.k && b.v && b.o && b.mlp;
}

/** The "ctxlab" config fields recording the architecture options (empty for the GPT-2 architecture). */
export function archJson(cfg: DTransformerConfig): Record<string, unknown> {
  if (isGpt2Architecture(cfg)) return {};
  return { norm: cfg.norm, mlp: cfg.mlp, n_kv_heads: cfg.nKvHeads, bias: { ...cfg.bias }, residual: cfg.residual, tensors: CTXLAB_TENSORS };
}

/** Options from the "ctxlab" fields (absent fields: defaults; makeConfig validates the values). */
export function archFromJson(c: Record<string, unknown>): Partial<DTransformerOptions> {
  const o: Partial<DTransformerOptions> = {};
  if (c.norm !== undefined) o.norm = c.norm as DTransformerOptions["norm"] & string;
  if (c.mlp !== undefined) o.mlp = c.mlp as DTransformerOptions["mlp"] & string;
  if (c.n_kv_heads !== undefined) o.nKvHeads = c.n_kv_heads as number;
  if (c.bias !== undefined) o.bias = c.bias as DTransformerOptions["bias"] & object;
  if (c.residual !== undefined) o.residual = c.residual as DTransformerOptions["residual"] & string;
  return o;
}

/** θ of `model` under its own names, F32 copies, in paramShapes order. */
export function toCtxlabTensors(model: DTransformer): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, shape] of paramShapes(model.cfg)) {
    out.set(name, { dtype: "F32", shape, data: new Float32Array(model.params.get(name).dataSync() as Float32Array) });
  }
  return out;
}

/** θ for `cfg` from tensors named as ctxlab's parameters; every name and shape is checked before any is converted. */
export function fromCtxlabTensors(cfg: DTransformerConfig, tensors: Map<string, SafeTensor>, src: string): ParamStore {
  const shapes = paramShapes(cfg);
  const missing = [...shapes.keys()].filter((n) => !tensors.has(n));
  if (missing.length) throw new CheckpointError(`${src}: missing tensor${missing.length > 1 ? "s" : ""} ${missing.slice(0, 4).map((n) => `"${n}" [${shapes.get(n)!.join(", ")}]`).join(", ")}${missing.length > 4 ? ", …" : ""} (ctxlab layout: tensors are named as the parameters)`);
  const extra = [...tensors.keys()].filter((n) => !shapes.has(n));
  if (extra.length) throw new CheckpointError(`${src}: tensor "${extra[0]}" is not a parameter of this config (${extra.length} unknown in all; e.g. a bias the config turns off)`);
  for (const [name, shape] of shapes) {
    const t = tensors.get(name)!;
    if (t.shape.join() !== shape.join()) throw new CheckpointError(`${src}: tensor "${name}" has shape [${t.shape.join(", ")}] but the config implies [${shape.join(", ")}]`);
  }
  const vars = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of shapes) {
      const init = tf.tensor(toFloat32(tensors.get(name)!, name), shape, "float32");
      vars.set(name, tf.variable(init, true));
      init.dispose();
    }
  } catch (e) {
    for (const v of vars.values()) v.dispose();
    throw new CheckpointError(`${src}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return new ParamStore(vars);
}
