/**
 * `ctxlab generate --checkpoint <dir> --prompt <text> [--tokens N] [--temperature τ] [--top-k K]
 * [--top-p p] [--seed s] [--tokenizer byte|gpt2] [--no-cache]`: Algorithm 14 from the command line,
 * streaming tokens as they are sampled.
 */
import { readFile, stat } from "node:fs/promises";
import { isHubId } from "../lib/hf/hub.js";
import { loadTokenizer } from "../lib/hf/tokenizer.js";
import { join } from "node:path";
import { ConfigError } from "../lib/errors.js";
import { GPT2_VOCAB_SIZE, streamDecoder, tokenizerFrom } from "../lib/data/tokenizer.js";
import type { Tokenizer } from "../lib/data/types.js";
import { dInference, type GenerateResult } from "../lib/infer/dinference.js";
import { loadModel } from "../lib/hf/pretrained.js";
import { useBackend, type BackendName } from "../lib/tensor/backend.js";
import type { Out } from "./progress.js";
import { RUN_CONFIG_FILE } from "./train.js";

export interface GenerateArgs {
  checkpoint: string;
  prompt: string;
  tokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  tokenizer?: string;
  cache?: boolean;
  backend?: BackendName | "auto";
}

/** The tokenizer of a checkpoint: --tokenizer, else the run config next to it, else by N_V (256/259 bytes, 50257 GPT-2). */
export async function checkpointTokenizer(dir: string, nVocab: number, explicit?: string, cmd = "generate"): Promise<Tokenizer> {
  if (explicit) return tokenizerFrom(explicit);
  // a Hugging Face directory with tokenizer.json, or a hub id: the model's own tokenizer
  const local = await stat(dir).then((s) => s.isDirectory(), () => false);
  if ((local && (await stat(join(dir, "tokenizer.json")).then(() => true, () => false))) || (!local && isHubId(dir))) return loadTokenizer(dir);
  try {
    const j = JSON.parse(await readFile(join(dir, RUN_CONFIG_FILE), "utf8")) as { tokenizer?: string };
    if (j.tokenizer) return tokenizerFrom(j.tokenizer);
  } catch {
    /* no run config: infer */
  }
  // a `ctxlab finetune` output (its finetune-config.json, cli/finetune.ts): the tokenizer of the model it started --from
  const from = await readFile(join(dir, "finetune-config.json"), "utf8").then((t) => (JSON.parse(t) as { from?: unknown }).from, () => undefined);
  if (typeof from === "string" && from !== dir && (nVocab < 256 || nVocab > 259)) return checkpointTokenizer(from, nVocab, undefined, cmd);
  if (nVocab === GPT2_VOCAB_SIZE) return tokenizerFrom("gpt2");
  if (nVocab === 256 || nVocab === 259) return tokenizerFrom(nVocab === 256 ? { name: "byte", specials: false } : "byte");
  throw new ConfigError(`ctxlab ${cmd}: cannot tell the tokenizer of a model with N_V=${nVocab}; pass --tokenizer byte|gpt2`);
}

export async function generateCommand(a: GenerateArgs, out: Out, signal?: AbortSignal): Promise<GenerateResult> {
  if (!a.checkpoint) throw new ConfigError("ctxlab generate: give --checkpoint <dir>");
  if (typeof a.prompt !== "string" || a.prompt.length === 0) throw new ConfigError("ctxlab generate: give a non-empty --prompt <text>");
  await useBackend(a.backend ?? "auto");
  const model = await loadModel(a.checkpoint); // ctxlab checkpoint, HF directory or hub id
  const tok = await checkpointTokenizer(a.checkpoint, model.cfg.nVocab, a.tokenizer);
  const prompt = tok.encode(a.prompt);
  out.write(a.prompt);
  const text = streamDecoder(tok); // a character split over tokens is written once it is complete
  const r = await dInference(model, prompt, {
    maxTokens: a.tokens ?? 100,
    temperature: a.temperature ?? 1,
    topK: a.topK ?? 0,
    topP: a.topP ?? 1,
    seed: a.seed ?? 0,
    cache: a.cache ?? true,
    ...(signal ? { signal } : {}),
    onToken: (id) => void out.write(text.push(id)),
  });
  out.write(text.end());
  out.write(`\n[${r.tokens.length} tokens, ${r.tokensPerSecond.toFixed(1)} tokens/s, stop: ${r.stopReason}]\n`);
  model.dispose();
  return r;
}
