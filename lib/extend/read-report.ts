/**
 * readReport(dir): a report folder written by writeReport (the committed
 * docs/experiments/context-extension/ included) read back as an ExperimentResult, so the report's
 * tables and figures (summaryTable, accuracyLengthFigure, depthFigure, …) can be rebuilt from the
 * committed CSVs without rerunning anything — a notebook then reads the numbers at run time instead
 * of pasting them.
 *
 *   passkey.csv → passkey, perplexity.csv → perplexity, table4-examples.csv → table4Rows,
 *   training.csv → training, runs.csv → runs, env.json → settings, status, wallS
 *
 * passkey.csv, perplexity.csv, runs.csv and env.json are required (the error names the missing
 * file); the other two are empty tables when absent. Text columns that look like numbers (answer,
 * prediction, id, error) stay text, so a key "01234" keeps its leading zero.
 */
import * as aq from "arquero";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import type { ExperimentResult } from "./experiment.js";

const TEXT_COLUMNS = ["id", "answer", "prediction", "error", "method", "recipe", "base", "filler", "status", "training", "positional"];

function readCsv(dir: string, file: string, required: boolean): aq.ColumnTable {
  const path = join(dir, file);
  if (!existsSync(path)) {
    if (required) throw new ConfigError(`readReport: ${path} is missing; a report folder (writeReport) has passkey.csv, perplexity.csv, runs.csv and env.json`);
    return aq.table({});
  }
  const text = readFileSync(path, "utf8");
  const header = text.slice(0, text.indexOf("\n") >= 0 ? text.indexOf("\n") : text.length).split(",");
  const asText = (v: string) => (v === "" ? null : v);
  const parse = Object.fromEntries(TEXT_COLUMNS.filter((c) => header.includes(c)).map((c) => [c, asText]));
  return aq.fromCSV(text, { parse });
}

/** The report in `dir` as an ExperimentResult (see the header). */
export function readReport(dir: string): ExperimentResult {
  const envPath = join(dir, "env.json");
  if (!existsSync(envPath)) throw new ConfigError(`readReport: ${envPath} is missing; a report folder (writeReport) has passkey.csv, perplexity.csv, runs.csv and env.json`);
  const env = JSON.parse(readFileSync(envPath, "utf8")) as { settings?: Record<string, unknown>; status?: string; wall_s?: number };
  if (!env.settings || !Array.isArray(env.settings.lengths)) throw new ConfigError(`readReport: ${envPath} has no settings.lengths; is it a context-extension report?`);
  return {
    passkey: readCsv(dir, "passkey.csv", true),
    perplexity: readCsv(dir, "perplexity.csv", true),
    table4Rows: readCsv(dir, "table4-examples.csv", false),
    training: readCsv(dir, "training.csv", false),
    runs: readCsv(dir, "runs.csv", true),
    settings: env.settings,
    status: env.status === "interrupted" ? "interrupted" : "completed",
    wallS: Number(env.wall_s ?? 0),
  };
}
