/**
 * Optimisers for Algorithm 13. The paper's update is plain SGD, θ ← θ − η·∇loss(θ); its §7–8 note
 * that Adam is what is used in practice. TF.js has no AdamW, so both are written here with tf ops
 * (one tf.tidy per update), on named parameter groups:
 *
 *   AdamW (Loshchilov & Hutter 2019, in PyTorch's form where decay is scaled by the scheduled η):
 *     t ← t + 1;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1ᵗ);  v̂ = v/(1−β2ᵗ)
 *     θ ← θ − η·(m̂/(√v̂ + ε) + λ·θ)        (λ·θ only for parameters in the decay group)
 *   SGD (the paper's rule; optional heavy-ball momentum μ and decoupled decay):
 *     b ← μ·b + g (only if μ > 0, else b = g);  θ ← θ − η·(b + λ·θ)
 *
 * Groups. Decay: by default every parameter decays except biases (b_*), layer-norm gains and shifts
 * (gamma, beta) and embeddings (W_e, pos.*) — minGPT's choice; W_u (untied unembedding) decays.
 * Trainable: by default all; frozen parameters get no update and no optimiser state (m, v).
 * Groups are given as a predicate or as patterns: "blocks.0" (a dotted prefix: blocks.0.*, not
 * blocks.10.*), "pos." or a glob such as "blocks.*.attn.W_*". The resolved name lists are what a
 * checkpoint stores. The state (t and the m, v slots, F32) is serialisable: `toState`/`optimizerFromState`.
 * Where the slots live (`moments`): "heap" keeps m and v as tf.Variables (the wasm heap); "host" keeps
 * them in JavaScript Float32Arrays outside the heap and applies the update tensor by tensor in JS with
 * float32 rounding after every operation (lib/train/host-update.ts: the same arithmetic as the tf ops,
 * equal within float32 tolerance, tested), so a 135M-parameter model's 1.1 GB of moments do not
 * compete with its activations for the 4 GiB heap; "auto" (default) picks "host" on wasm when the
 * slots would exceed HOST_MOMENTS_BYTES. Either way the update runs one parameter at a time (one
 * tf.tidy each), so its temporaries are those of the largest tensor, not of θ.
 * Defaults follow the PI recipe (docs/literature.md, "Position Interpolation (PI)"): β = (0.9, 0.95), ε = 1e-8; λ = 0.1 (GPT-3).
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import type { SafeTensor } from "../io/safetensors.js";
import type { ParamStore } from "../model/params.js";
import { hostUpdate } from "./host-update.js";

import { HOST_MOMENTS_BYTES } from "../engine/memory-estimate.js";
export { HOST_MOMENTS_BYTES };

/** Where the optimiser's slots (m, v) live: tf.Variables in the backend's memory, or Float32Arrays in JS. */
export type MomentsPlace = "heap" | "host";

/** A group of parameter names: a predicate, one pattern or a list of patterns (prefixes or globs). */
export type Selector = ((name: string) => boolean) | string | readonly string[];

export interface GroupOptions {
  /** parameters that get weight decay (default: all but biases, norms and embeddings) */
  decay?: Selector;
  /** parameters to train (default all) */
  trainable?: Selector;
  /** parameters to freeze (subtracted from `trainable`) */
  freeze?: Selector;
  /** where m and v live (default "auto"; see the header); not part of the stored state */
  moments?: MomentsPlace | "auto";
}
export interface AdamWOptions extends GroupOptions {
  kind?: "adamw";
  betas?: readonly [number, number];
  eps?: number;
  /** λ (decoupled) */
  weightDecay?: number;
}
export interface SGDOptions extends GroupOptions {
  kind: "sgd";
  momentum?: number;
  weightDecay?: number;
}
export type OptimizerOptions = AdamWOptions | SGDOptions;

/** Resolved hyperparameters and groups (JSON; stored in trainer-state.json). */
export interface OptimizerHyper {
  kind: "adamw" | "sgd";
  betas: [number, number];
  eps: number;
  momentum: number;
  weightDecay: number;
  trainable: string[];
  decay: string[];
}

/** Serialisable optimiser state: hyperparameters, update count t and the slots ("m.<name>", "v.<name>"). */
export interface OptimizerState {
  hyper: OptimizerHyper;
  t: number;
  slots: Map<string, SafeTensor>;
}

export const optimizerDefaults = { betas: [0.9, 0.95] as [number, number], eps: 1e-8, weightDecay: 0.1, momentum: 0 };

/** True for the parameters that do not decay by default: biases, norm gains/shifts, embeddings. */
export function isNoDecay(name: string): boolean {
  const leaf = name.slice(name.lastIndexOf(".") + 1);
  return leaf.startsWith("b_") || leaf === "gamma" || leaf === "beta" || name === "W_e" || name.startsWith("pos.");
}

function globRegex(p: string): RegExp {
  return new RegExp(`^${p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** A Selector as a predicate; `undefined` gives `dflt`. */
export function selector(sel: Selector | undefined, dflt: (name: string) => boolean): (name: string) => boolean {
  if (sel === undefined) return dflt;
  if (typeof sel === "function") return sel;
  const pats = typeof sel === "string" ? [sel] : sel;
  const tests = pats.map((p): ((n: string) => boolean) => {
    if (typeof p !== "string" || p === "") throw new ConfigError(`parameter pattern ${JSON.stringify(p)} must be a non-empty string`);
    if (p.includes("*")) return (n) => globRegex(p).test(n);
    const pre = p.endsWith(".") ? p : `${p}.`;
    return (n) => n === p || n.startsWith(pre);
  });
  return (n) => tests.some((t) => t(n));
}

/** Resolve hyperparameters and the groups against the names of θ. Throws ConfigError. */
export function resolveOptimizer(names: readonly string[], o: OptimizerOptions = {}): OptimizerHyper {
  const kind = o.kind ?? "adamw";
  if (kind !== "adamw" && kind !== "sgd") throw new ConfigError(`optimizer: kind must be "adamw" or "sgd", got ${JSON.stringify(kind)}`);
  const a = o as AdamWOptions;
  const betas: [number, number] = [...(a.betas ?? optimizerDefaults.betas)] as [number, number];
  if (kind === "adamw" && (betas.length !== 2 || !betas.every((b) => b >= 0 && b < 1))) throw new ConfigError(`optimizer: betas must be two numbers in [0, 1), got ${JSON.stringify(a.betas)}`);
  const eps = a.eps ?? optimizerDefaults.eps;
  if (!(eps > 0 && Number.isFinite(eps))) throw new ConfigError(`optimizer: eps must be a finite number > 0, got ${eps}`);
  const weightDecay = o.weightDecay ?? (kind === "sgd" ? 0 : optimizerDefaults.weightDecay);
  if (!(weightDecay >= 0 && Number.isFinite(weightDecay))) throw new ConfigError(`optimizer: weightDecay must be a finite number ≥ 0, got ${weightDecay}`);
  const momentum = kind === "sgd" ? ((o as SGDOptions).momentum ?? 0) : 0;
  if (!(momentum >= 0 && momentum < 1)) throw new ConfigError(`optimizer: momentum must be in [0, 1), got ${momentum}`);
  const train = selector(o.trainable, () => true);
  const frozen = selector(o.freeze, () => false);
  const decays = selector(o.decay, (n) => !isNoDecay(n));
  const trainable = names.filter((n) => train(n) && !frozen(n));
  if (trainable.length === 0) throw new ConfigError(`optimizer: no parameter is trainable (trainable/freeze select none of ${names.length} parameters: ${names.slice(0, 4).join(", ")}, …)`);
  return { kind, betas, eps, momentum, weightDecay, trainable, decay: trainable.filter(decays) };
}

export const slotNames = (h: OptimizerHyper): string[] => (h.kind === "adamw" ? ["m", "v"] : h.momentum > 0 ? ["m"] : []);

/** AdamW or SGD over named parameters of a ParamStore. */
export class Optimizer {
  /** number of updates applied (Adam's t) */
  t = 0;
  /** slot variables, "m.<name>" / "v.<name>", for trainable parameters only (moments "heap") */
  readonly slots = new Map<string, tf.Variable>();
  /** the same slots as Float32Arrays outside the tensor memory (moments "host") */
  readonly hostSlots = new Map<string, Float32Array>();
  /** where the slots live */
  readonly moments: MomentsPlace;
  private readonly decaySet: Set<string>;

  constructor(
    readonly params: ParamStore,
    readonly hyper: OptimizerHyper,
    moments: MomentsPlace | "auto" = "auto",
  ) {
    for (const n of hyper.trainable) params.get(n); // throws for an unknown name
    this.decaySet = new Set(hyper.decay);
    this.moments = resolveMoments(moments, params, hyper);
    for (const n of hyper.trainable) {
      for (const s of slotNames(hyper)) {
        if (this.moments === "host") {
          this.hostSlots.set(`${s}.${n}`, new Float32Array(params.get(n).size));
          continue;
        }
        const zero = tf.zerosLike(params.get(n));
        this.slots.set(`${s}.${n}`, tf.variable(zero, false));
        zero.dispose(); // the variable keeps its own reference to the data
      }
    }
  }

  get kind(): "adamw" | "sgd" {
    return this.hyper.kind;
  }

  /** Trainable parameter names, in order. */
  get trainable(): readonly string[] {
    return this.hyper.trainable;
  }

  /** [name, variable] of the trainable parameters. */
  variables(): [string, tf.Variable][] {
    return this.hyper.trainable.map((n) => [n, this.params.get(n)]);
  }

  /**
   * One update with learning rate η = lr; `grads` holds a gradient for every trainable name. Each
   * gradient is multiplied by `o.scale` first (clipping; default 1). With `o.release`, each gradient is
   * disposed as soon as its parameter is updated (the map then holds disposed tensors).
   */
  apply(grads: Map<string, tf.Tensor>, lr: number, o: { scale?: number; release?: boolean } = {}): void {
    for (const n of this.hyper.trainable) if (!grads.has(n)) throw new ConfigError(`optimizer.apply: no gradient for trainable parameter ${n}`);
    const scale = o.scale ?? 1;
    this.t += 1;
    for (const n of this.hyper.trainable) {
      const g = grads.get(n)!;
      if (this.moments === "host") {
        const slot = (s: string) => this.hostSlots.get(`${s}.${n}`);
        hostUpdate(this.params.get(n), g, { hyper: this.hyper, t: this.t, lr, scale, decay: this.decaySet.has(n), m: slot("m"), v: slot("v") });
      } else {
        tf.tidy(() => this.update(n, scale === 1 ? g : tf.mul(g, scale), lr));
      }
      if (o.release) g.dispose();
    }
  }

  private update(n: string, g: tf.Tensor, lr: number): void {
    const p = this.params.get(n);
    const { betas: [b1, b2], eps, momentum, weightDecay } = this.hyper;
    let step: tf.Tensor;
    if (this.kind === "adamw") {
      const m = this.slots.get(`m.${n}`)!;
      const v = this.slots.get(`v.${n}`)!;
      const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
      const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
      const mHat = tf.div(m1, 1 - b1 ** this.t);
      const vHat = tf.div(v1, 1 - b2 ** this.t);
      step = tf.div(mHat, tf.add(tf.sqrt(vHat), eps));
      m.assign(m1);
      v.assign(v1);
    } else if (momentum > 0) {
      const b = this.slots.get(`m.${n}`)!;
      step = tf.add(tf.mul(b, momentum), g);
      b.assign(step);
    } else {
      step = g;
    }
    if (weightDecay > 0 && this.decaySet.has(n)) step = tf.add(step, tf.mul(p, weightDecay));
    p.assign(tf.sub(p, tf.mul(step, lr)));
  }

  /** A copy of the state (slots read to F32 arrays). */
  toState(): OptimizerState {
    const slots = new Map<string, SafeTensor>();
    for (const [k, v] of this.slots) slots.set(k, { dtype: "F32", shape: [...v.shape], data: new Float32Array(v.dataSync() as Float32Array) });
    for (const [k, a] of this.hostSlots) slots.set(k, { dtype: "F32", shape: [...this.params.get(k.slice(2)).shape], data: new Float32Array(a) });
    return { hyper: structuredClone(this.hyper), t: this.t, slots };
  }

  /** Free the slot variables (the parameters belong to the model). */
  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
    this.hostSlots.clear();
  }
}

/**
 * A new optimiser for θ = `params`.
 *
 * @example
 * const opt = createOptimizer(model.params, { kind: "adamw", weightDecay: 0, freeze: ["W_e", "pos."] });
 */
export function createOptimizer(params: ParamStore, opts: OptimizerOptions = {}): Optimizer {
  return new Optimizer(params, resolveOptimizer(params.names(), opts), opts.moments ?? "auto");
}

/** Bytes of the slots an optimiser with `hyper` keeps for `params` (4 per float). */
export function slotBytes(params: ParamStore, hyper: OptimizerHyper): number {
  return 4 * slotNames(hyper).length * hyper.trainable.reduce((s, n) => s + params.get(n).size, 0);
}

function resolveMoments(m: MomentsPlace | "auto", params: ParamStore, hyper: OptimizerHyper): MomentsPlace {
  if (m === "heap" || m === "host") return m;
  if (m !== "auto") throw new ConfigError(`optimizer: moments must be "heap", "host" or "auto", got ${JSON.stringify(m)}`);
  return tf.getBackend() === "wasm" && slotBytes(params, hyper) > HOST_MOMENTS_BYTES ? "host" : "heap";
}

/** Rebuild an optimiser on `params` from a saved state; shapes are checked. Throws ConfigError. */
export function optimizerFromState(params: ParamStore, state: OptimizerState, moments: MomentsPlace | "auto" = "auto"): Optimizer {
  const h = state.hyper;
  const names = new Set(params.names());
  const unknown = [...h.trainable, ...h.decay].filter((n) => !names.has(n));
  if (unknown.length) throw new ConfigError(`optimizer state names parameter(s) the model lacks: ${unknown.slice(0, 4).join(", ")}`);
  if (!Number.isSafeInteger(state.t) || state.t < 0) throw new ConfigError(`optimizer state: t=${state.t} must be an integer ≥ 0`);
  const opt = new Optimizer(params, resolveOptimizer(params.names(), { ...h, trainable: h.trainable, decay: h.decay }), moments);
  try {
    for (const [k, a] of opt.hostSlots) {
      const s = state.slots.get(k);
      const n = params.get(k.slice(2));
      if (!s) throw new ConfigError(`optimizer state: slot ${k} is missing`);
      if (s.dtype !== "F32" || s.shape.join() !== n.shape.join()) throw new ConfigError(`optimizer state: slot ${k} is ${s.dtype} [${s.shape}], expected F32 [${n.shape}]`);
      a.set(s.data as Float32Array);
    }
    for (const [k, v] of opt.slots) {
      const s = state.slots.get(k);
      if (!s) throw new ConfigError(`optimizer state: slot ${k} is missing`);
      if (s.dtype !== "F32" || s.shape.join() !== v.shape.join()) throw new ConfigError(`optimizer state: slot ${k} is ${s.dtype} [${s.shape}], expected F32 [${v.shape}]`);
      tf.tidy(() => v.assign(tf.tensor(s.data as Float32Array, v.shape, "float32")));
    }
    opt.t = state.t;
    return opt;
  } catch (e) {
    opt.dispose();
    throw e;
  }
}
