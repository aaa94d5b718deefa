/**
 * An independent GPT-2 forward pass for tests: plain loops over Float64 numbers, no tfjs, reading
 * Hugging Face GPT-2 tensor names and Conv1D orientation ([in, out], y = x·W + b) directly.
 *
 *   x_t = wte[ids[t]] + wpe[t]
 *   per layer i:  a = attn(ln(x, ln_1)) with causal mask, x += a;  x += mlp(ln(x, ln_2))
 *   logits_t = ln(x_t, ln_f) · wteᵀ   (lm_head.weight instead of wte if the record has one)
 *
 * Deliberately written without sharing code with lib/ so it can check it.
 */

export interface RefTensor {
  shape: number[];
  data: Float32Array;
}

export interface RefHyper {
  nLayers: number;
  nHeads: number;
  eps: number;
  gelu: "tanh" | "exact";
}

type Vec = number[];

/** erf in double precision: Taylor series for |x| < 3, erfc continued fraction beyond (both ~1e-14). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 3) {
    let k = ax;
    for (let n = 80; n >= 1; n--) k = ax + n / 2 / k;
    return Math.sign(x) * (1 - Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * k));
  }
  let sum = 0;
  let term = ax; // (-1)^n x^(2n+1) / n!
  for (let n = 0; n < 100; n++) {
    sum += term / (2 * n + 1);
    term *= (-ax * ax) / (n + 1);
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
}

function gelu(x: number, form: "tanh" | "exact"): number {
  if (form === "exact") return 0.5 * x * (1 + erf(x / Math.SQRT2));
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

function layerNorm(x: Vec, g: RefTensor, b: RefTensor, eps: number): Vec {
  const n = x.length;
  const mean = x.reduce((s, v) => s + v, 0) / n;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g.data[i]! + b.data[i]!);
}

/** Conv1D: y = x·W + b with W [in, out]. */
function conv1d(x: Vec, W: RefTensor, b: RefTensor): Vec {
  const [nIn, nOut] = W.shape as [number, number];
  const y: Vec = Array.from(b.data);
  for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) y[o]! += x[i]! * W.data[i * nOut + o]!;
  return y;
}

/** Logits [ℓ][N_V] of a GPT-2 checkpoint (names with or without "transformer.") for token ids. */
export function referenceGpt2Logits(tensors: Record<string, RefTensor>, hp: RefHyper, ids: number[]): number[][] {
  const get = (n: string): RefTensor => {
    const t = tensors[n] ?? tensors[`transformer.${n}`];
    if (!t) throw new Error(`reference: missing tensor ${n}`);
    return t;
  };
  const wte = get("wte.weight");
  const wpe = get("wpe.weight");
  const [V, d] = wte.shape as [number, number];
  const H = hp.nHeads;
  const dh = d / H;
  let x: Vec[] = ids.map((id, t) => Array.from({ length: d }, (_, j) => wte.data[id * d + j]! + wpe.data[t * d + j]!));
  for (let l = 0; l < hp.nLayers; l++) {
    const p = (n: string) => get(`h.${l}.${n}`);
    const qkv = x.map((xt) => conv1d(layerNorm(xt, p("ln_1.weight"), p("ln_1.bias"), hp.eps), p("attn.c_attn.weight"), p("attn.c_attn.bias")));
    const merged: Vec[] = x.map(() => new Array<number>(d).fill(0));
    for (let h = 0; h < H; h++) {
      const q = (t: number, j: number) => qkv[t]![h * dh + j]!;
      const k = (t: number, j: number) => qkv[t]![d + h * dh + j]!;
      const v = (t: number, j: number) => qkv[t]![2 * d + h * dh + j]!;
      for (let t = 0; t < x.length; t++) {
        const s: number[] = [];
        for (let u = 0; u <= t; u++) {
          let dot = 0;
          for (let j = 0; j < dh; j++) dot += q(t, j) * k(u, j);
          s.push(dot / Math.sqrt(dh));
        }
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let u = 0; u <= t; u++) for (let j = 0; j < dh; j++) merged[t]![h * dh + j]! += (e[u]! / z) * v(u, j);
      }
    }
    x = x.map((xt, t) => {
      const a = conv1d(merged[t]!, p("attn.c_proj.weight"), p("attn.c_proj.bias"));
      const r = xt.map((v, j) => v + a[j]!);
      const hid = conv1d(layerNorm(r, p("ln_2.weight"), p("ln_2.bias"), hp.eps), p("mlp.c_fc.weight"), p("mlp.c_fc.bias")).map((z) => gelu(z, hp.gelu));
      const m = conv1d(hid, p("mlp.c_proj.weight"), p("mlp.c_proj.bias"));
      return r.map((v, j) => v + m[j]!);
    });
  }
  const head = tensors["lm_head.weight"] ?? wte; // [N_V, d_e]
  return x.map((xt) => {
    const y = layerNorm(xt, get("ln_f.weight"), get("ln_f.bias"), hp.eps);
    return Array.from({ length: V }, (_, v) => y.reduce((s, yj, j) => s + yj * head.data[v * d + j]!, 0));
  });
}
