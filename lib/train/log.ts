/**
 * The training log of Algorithm 13 (dTraining): one row per step, as arquero tables and CSV.
 * Columns (in this order): step, loss, lr, grad_norm, tokens_per_s, tokens_seen, seq_len, batch,
 * val_loss (null unless computed at that step), time_s.
 */
import * as aq from "arquero";

/** One step of training. */
export interface TrainRow {
  /** 1-based update number (continues across a resume) */
  step: number;
  /** mean next-token loss of the step's batch(es), before the update (nats/token) */
  loss: number;
  /** η used for the update */
  lr: number;
  /** ‖g‖ over the trainable parameters, before clipping */
  grad_norm: number;
  /** tokens (B·ℓ, all micro-batches) per second of this step's compute */
  tokens_per_s: number;
  /** tokens consumed since step 1 */
  tokens_seen: number;
  /** ℓ of the step's batch (the longest, if micro-batches differ) */
  seq_len: number;
  /** sequences in the step (B summed over micro-batches) */
  batch: number;
  /** mean loss on the validation source after this step's update, or null */
  val_loss: number | null;
  /** seconds since step 1 of the run (continues across a resume) */
  time_s: number;
}

export const LOG_COLUMNS = ["step", "loss", "lr", "grad_norm", "tokens_per_s", "tokens_seen", "seq_len", "batch", "val_loss", "time_s"] as const satisfies readonly (keyof TrainRow)[];

/** Rows as an arquero table with the columns above (also when there are no rows). */
export function logTable(rows: readonly TrainRow[]): aq.ColumnTable {
  return aq.table(Object.fromEntries(LOG_COLUMNS.map((c) => [c, rows.map((r) => r[c])])));
}

/** Rows as CSV text (header line, then one line per row, no trailing newline, which arquero would read as an empty row; null val_loss is an empty field). */
export function logCsv(rows: readonly TrainRow[]): string {
  return logTable(rows).toCSV();
}

/** Check a row read from a checkpoint (every column a number, val_loss a number or null). */
export function isTrainRow(r: unknown): r is TrainRow {
  if (r === null || typeof r !== "object") return false;
  const o = r as Record<string, unknown>;
  return LOG_COLUMNS.every((c) => typeof o[c] === "number" || (c === "val_loss" && o[c] === null));
}
