/**
 * The `ctxlab` command: `train`, `generate`, `finetune`, `experiment` and `eval` (this module, one
 * file per command beside it) and `kernel …` (kernel/main.ts, dispatched by bin/ctxlab.mjs). Flags
 * are `--name value` or `--name=value`; errors print one clear line and exit 2.
 */
import { ConfigError } from "../lib/errors.js";
import { downloadCommand } from "./download.js";
import { evalArgsFromFlags, evalCommand } from "./eval.js";
import { experimentArgs, experimentCommand } from "./experiment.js";
import { finetuneArgsFromFlags, finetuneCommand } from "./finetune.js";
import { generateCommand, type GenerateArgs } from "./generate.js";
import { trainCommand } from "./train.js";

export const USAGE = `usage:
  ctxlab --help                                      this text
  ctxlab train --config <run.json> --out <dir>      train or fine-tune (writes checkpoint, metrics.csv, run-config.json)
  ctxlab train --resume <dir> [--out <dir>] [--steps N]   continue a run exactly (to step N)
  ctxlab generate --checkpoint <dir> --prompt <text> [--tokens N] [--temperature τ] [--top-k K] [--top-p p] [--seed s] [--tokenizer byte|gpt2] [--no-cache]
  ctxlab finetune --from <ckpt> --length <ℓ'> --out <dir> [--pe keep|extend-learned|<spec, e.g. pi:4> | --recipe pi-ft|yarn-ft|ft|learned-extend-ft|curriculum]
      [--steps 100] [--batch 4] [--lr 3e-4] [--warmup 10] [--decay-from S [--min-lr η]] [--tokens N] [--batch-tokens N] [--seed 0] [--workers 1]
      [--checkpoint-every 50] [--mix text=0.3,passkey=0.45,lines=0.1,copy=0.15]
  ctxlab finetune --resume <dir> [--steps N]        continue an interrupted fine-tune exactly
  ctxlab experiment context-extension [--quick] [--out report] [--bases rope=dir,learned=dir,alibi=dir,nope=dir,sinusoidal=dir,bounded=dir] [--steps 100] [--batch 4] [--n 7] [--windows 24] [--scale 4] [--seeds 0,1,2] [--fillers pi,moby-dick,sotu] [--cache dir] [--readme README.md,…] [--curriculum-tokens N|base | --curriculum <ckpt>] [--recipes pi-ft,ft,…] [--workers 1] [--seed 0] [--self-contained]
  ctxlab eval --checkpoint <dir> --task passkey|lines|kv|perplexity|jsonl:<file> [--lengths 64,128,256] [--depths 0,0.5,1] [--n 5] [--seed 0] [--out results.csv] [--variant standard|compact] [--header] [--filler pi|moby-dick|sotu] [--scorer logit|greedy] [--windows N] [--mode sequential|random|sliding] [--stride S] [--tokenizer byte|gpt2] [--label name]
  ctxlab download <hub id> [--revision main] [--cache-dir dir] [--files a,b]   into the Hugging Face cache; --checkpoint/--from accept hub ids and HF directories
  ctxlab kernel install [--user | --sys-prefix | --prefix P] | uninstall | start <connection_file>`;

/** Parse `--a b --c=d --flag` into a map; positional words are returned apart. */
export function parseFlags(argv: readonly string[], booleans: readonly string[] = []): { flags: Record<string, string | boolean>; words: string[] } {
  const flags: Record<string, string | boolean> = {};
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) {
      words.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq > 0) flags[name] = a.slice(eq + 1);
    else if (booleans.includes(name)) flags[name] = true;
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) flags[name] = argv[++i]!;
    else throw new ConfigError(`flag --${name} needs a value`);
  }
  return { flags, words };
}

function numberFlag(flags: Record<string, string | boolean>, name: string, integer = false): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new ConfigError(`--${name} ${String(v)} is not ${integer ? "an integer" : "a number"}`);
  return n;
}

function known(flags: Record<string, unknown>, names: readonly string[], cmd: string): void {
  for (const k of Object.keys(flags)) if (!names.includes(k)) throw new ConfigError(`ctxlab ${cmd}: unknown flag --${k}; known: ${names.map((n) => `--${n}`).join(", ")}`);
}

/** `o` without its undefined fields (optional flags that were not given). */
function given<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Run one command line (train, generate, finetune, experiment, eval); returns the exit code. */
export async function cli(argv: readonly string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    out.write(`${USAGE}\n`);
    return 0;
  }
  const ac = new AbortController();
  const onInt = () => (ac.signal.aborted ? process.exit(130) : (err.write("\ninterrupt: stopping at the next step boundary (Ctrl-C again to quit now)\n"), ac.abort()));
  process.on("SIGINT", onInt);
  try {
    if (cmd === "train") {
      const { flags } = parseFlags(rest);
      known(flags, ["config", "out", "resume", "steps"], "train");
      const r = await trainCommand({ config: flags.config as string, out: flags.out as string, resume: flags.resume as string, steps: numberFlag(flags, "steps", true) }, out, ac.signal);
      return r.status === "diverged" ? 1 : 0;
    }
    if (cmd === "generate") {
      const { flags } = parseFlags(rest, ["no-cache"]);
      known(flags, ["checkpoint", "prompt", "tokens", "temperature", "top-k", "top-p", "seed", "tokenizer", "no-cache", "backend"], "generate");
      const args = given<GenerateArgs>({
        checkpoint: flags.checkpoint as string, prompt: flags.prompt as string,
        tokens: numberFlag(flags, "tokens", true), temperature: numberFlag(flags, "temperature"), topK: numberFlag(flags, "top-k", true),
        topP: numberFlag(flags, "top-p"), seed: numberFlag(flags, "seed", true), tokenizer: flags.tokenizer as string | undefined,
        cache: !flags["no-cache"], backend: flags.backend as GenerateArgs["backend"], // useBackend refuses an unknown name
      });
      await generateCommand(args, out, ac.signal);
      return 0;
    }
    if (cmd === "finetune") {
      const { flags } = parseFlags(rest);
      const r = await finetuneCommand(finetuneArgsFromFlags(flags), out, ac.signal); // rejects unknown flags
      return r.status === "diverged" ? 1 : 0;
    }
    if (cmd === "experiment") {
      const { flags, words } = parseFlags(rest, ["quick", "self-contained"]);
      const r = await experimentCommand(experimentArgs(words, flags), out, ac.signal);
      return r.status === "completed" ? 0 : 130;
    }
    if (cmd === "download") {
      const { flags, words } = parseFlags(rest);
      await downloadCommand(words[0], flags, out, ac.signal);
      return 0;
    }
    if (cmd === "eval") {
      const { flags } = parseFlags(rest, ["header"]);
      await evalCommand(evalArgsFromFlags(flags), out, ac.signal); // rejects unknown flags
      return 0;
    }
    err.write(`${cmd ? `unknown command "${cmd}"\n` : ""}${USAGE}\n`);
    return 2;
  } catch (e) {
    err.write(`ctxlab ${cmd}: ${(e as Error).name === "Error" ? "" : `${(e as Error).name}: `}${(e as Error).message}\n`);
    return 2;
  } finally {
    process.off("SIGINT", onInt);
  }
}
