/**
 * `loadTokenizer(idOrDir)`: a Hugging Face tokenizer (tokenizer.json through @huggingface/tokenizers,
 * special tokens from tokenizer_config.json) behind ctxlab's TextTokenizer interface.
 *
 *   encode(text)                 the text's tokens only (no BOS/EOS), like every ctxlab tokenizer
 *   encode(text, { bos, eos })   with the model's bos_token / eos_token
 *   tok.addBos                   whether the model's own tokenizer prepends BOS by default
 *                                (tokenizer_config add_bos_token, else a TemplateProcessing post-processor
 *                                that starts with bos_token): evaluations of Llama-family models should
 *                                pass { bos: tok.addBos }
 *   decode(ids)                  drops special tokens; decode(ids, { specials: true }) keeps them
 * As in Hugging Face (and unlike ctxlab's GPT-2 tokenizer), a special token written in the text
 * ("<|endoftext|>", "</s>") is recognised as that token.
 * The chat template is ignored. GPT-2 directories (model_type gpt2 with N_V = 50,257) keep ctxlab's
 * GPT-2 tokenizer (gpt-tokenizer, r50k_base), which test/hf/tokenizer.test.ts checks against a GPT-2
 * tokenizer.json built from the same ranks.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { ConfigError } from "../errors.js";
import { checkIds, gpt2Tokenizer, GPT2_VOCAB_SIZE, type DecodeOptions, type EncodeOptions, type TextTokenizer } from "../data/tokenizer.js";
import { hubDownload, isHubId, resolveCommit, type HubOptions } from "./hub.js";

export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json"];

export interface HfTextTokenizer extends TextTokenizer {
  /** the model's tokenizer prepends BOS by default (pass { bos: tok.addBos } to encode as it does) */
  readonly addBos: boolean;
  /** the model's tokenizer appends EOS by default */
  readonly addEos: boolean;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const tokenText = (v: unknown): string | undefined => (typeof v === "string" ? v : isObj(v) && typeof v.content === "string" ? v.content : undefined);

async function readJson(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
}

/** A ctxlab tokenizer from tokenizer.json and tokenizer_config.json values (`source` names them in errors). */
export function hfTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown = {}, source = "tokenizer.json"): HfTextTokenizer {
  if (!isObj(tokenizerJson) || !isObj(tokenizerJson.model)) throw new ConfigError(`${source}: expected a tokenizer.json object with a "model"`);
  const cfg = isObj(tokenizerConfig) ? tokenizerConfig : {};
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(tokenizerJson, cfg);
  } catch (e) {
    throw new ConfigError(`${source}: @huggingface/tokenizers cannot build this tokenizer: ${(e as Error).message}`);
  }
  const vocab = tok.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) maxId = Math.max(maxId, id);
  const vocabSize = maxId + 1;
  const special: Record<string, number> = {};
  for (const k of ["bos", "eos", "unk", "pad"] as const) {
    const text = tokenText(cfg[`${k}_token`]);
    if (text === undefined) continue;
    const id = tok.token_to_id(text);
    if (id === undefined) throw new ConfigError(`${source}: tokenizer_config ${k}_token ${JSON.stringify(text)} is not in the vocabulary`);
    special[k] = id;
  }
  Object.freeze(special);
  const pp = tokenizerJson.post_processor;
  const templateBos = isObj(pp) && pp.type === "TemplateProcessing" && Array.isArray(pp.single) && isObj(pp.single[0]) && isObj(pp.single[0].SpecialToken) && special.bos !== undefined && tok.token_to_id(String(pp.single[0].SpecialToken.id)) === special.bos;
  const addBos = typeof cfg.add_bos_token === "boolean" ? cfg.add_bos_token : templateBos;
  const addEos = typeof cfg.add_eos_token === "boolean" ? cfg.add_eos_token : false;
  const name = typeof cfg.tokenizer_class === "string" ? `hf:${cfg.tokenizer_class}` : "hf";
  return {
    name,
    vocabSize,
    special,
    addBos,
    addEos,
    encode(text: string, eo?: EncodeOptions): number[] {
      if (typeof text !== "string") throw new ConfigError(`${name}.encode: text must be a string, got ${typeof text}`);
      const ids = tok.encode(text, { add_special_tokens: false }).ids;
      for (const k of ["bos", "eos"] as const) if (eo?.[k] && special[k] === undefined) throw new ConfigError(`${name}.encode: ${k}=true but tokenizer_config.json names no ${k}_token`);
      return [...(eo?.bos ? [special.bos!] : []), ...ids, ...(eo?.eos ? [special.eos!] : [])];
    },
    decode(ids: readonly number[], d?: DecodeOptions): string {
      checkIds(ids, vocabSize, `${name}.decode`);
      if (ids.length === 0) return "";
      return tok.decode([...ids], { skip_special_tokens: !d?.specials, clean_up_tokenization_spaces: false });
    },
    toJSON: () => ({ name, vocabSize, special: { ...special }, addBos }),
  };
}

/**
 * The tokenizer of a Hugging Face model directory or hub id (only the tokenizer files are fetched).
 * GPT-2 (model_type gpt2, vocab_size 50,257) returns ctxlab's gpt2Tokenizer.
 */
export async function loadTokenizer(idOrDir: string, o: HubOptions = {}): Promise<TextTokenizer> {
  let dir = idOrDir;
  const isDir = await stat(idOrDir).then((s) => s.isDirectory(), () => false);
  if (!isDir) {
    if (!isHubId(idOrDir)) throw new ConfigError(`loadTokenizer: ${idOrDir} is not a directory and not a hub id ("owner/name")`);
    const { files } = await resolveCommit(idOrDir, o);
    const want = files ? TOKENIZER_FILES.filter((f) => files.includes(f)) : TOKENIZER_FILES;
    dir = (await hubDownload(idOrDir, { ...o, files: want })).dir;
  }
  const config = await readJson(join(dir, "config.json"));
  const tj = await readJson(join(dir, "tokenizer.json"));
  if (isObj(config) && config.model_type === "gpt2" && (config.vocab_size === GPT2_VOCAB_SIZE || tj === undefined)) {
    if (config.vocab_size !== GPT2_VOCAB_SIZE) throw new ConfigError(`${dir}: a gpt2 model with vocab_size=${config.vocab_size} and no tokenizer.json; ctxlab's GPT-2 tokenizer has N_V=${GPT2_VOCAB_SIZE}`);
    return gpt2Tokenizer();
  }
  if (tj === undefined) throw new ConfigError(`${dir}: no tokenizer.json (slow sentencepiece/vocab.txt tokenizers are not read; save the tokenizer with a fast tokenizer to get tokenizer.json)`);
  const tc = (await readJson(join(dir, "tokenizer_config.json"))) ?? {};
  const stm = await readJson(join(dir, "special_tokens_map.json"));
  // special_tokens_map.json fills what tokenizer_config.json does not say
  const merged = { ...(isObj(stm) ? stm : {}), ...(isObj(tc) ? tc : {}) };
  return hfTokenizer(tj, merged, join(dir, "tokenizer.json"));
}
