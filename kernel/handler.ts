/**
 * Layer 2 of the ctxlab kernel: requests → replies (Jupyter messaging spec 5.3).
 *
 * Owns the execution queue (one cell at a time, in arrival order), the execution count, busy/idle
 * status with the right parent headers, execute_input, execute_result (mime bundles from
 * display.ts), `error` messages, the in-memory history, and interrupts. Completion, inspection and
 * is_complete are answered at once, even while a cell awaits. It talks to the sockets only through
 * `Sender` and to TypeScript only through `CellEngine`, so tests can stub both.
 *
 * Interrupts (SIGINT — the kernelspec's interrupt_mode is "signal" — or interrupt_request): the
 * running cell's AbortController (and those of earlier cells whose background work may still run)
 * is aborted and the timers their code scheduled are cleared. The cell's own code stops at its next
 * checkpoint (a loop step, an await, a `.then` callback: executor.ts), library loops at their next
 * step, and the cell ends with an error reply (ename "Interrupted") that says what was stopped.
 * Synchronous code at a cell's top level is broken by SIGINT itself (vm's breakOnSigint). Code that
 * cannot be broken (a long synchronous kernel) is waited out: after `graceMs` the cell gets a
 * message saying so; a second interrupt stops waiting at once.
 */
import { History, type HistoryRequest } from "./history.js";
import { clearTimers, describeCleared, pruneForeignErrorHandlers, runningExecution, setRunning, toCellError, type CellError, type Execution } from "./context.js";
import { toMimeBundle } from "./display.js";
import { drainSigint } from "./sigint.js";
import { codePointsToUtf16, utf16ToCodePoints, type CellEngine, type CellOutcome } from "./executor.js";
import { messageFor, PROTOCOL_VERSION, type Channel, type Log, type Message } from "./wire.js";

export interface Sender {
  send(channel: Channel, msg: Message<object>): Promise<void>;
}

export interface HandlerOptions {
  /** this kernel's session id (header.session of the messages it sends) */
  session: string;
  implementationVersion?: string;
  log?: Log;
  /** how long an interrupted cell may take to settle before the kernel stops waiting (ms) */
  graceMs?: number;
  /** called once the shutdown_reply is sent */
  onShutdown?: (restart: boolean) => void;
  /** awaited before the first cell runs; its text (the backend the kernel selected) goes to that cell's stdout */
  beforeFirstCell?: () => Promise<string | undefined>;
  /** an extra line for kernel_info's banner, once known */
  banner?: () => string | undefined;
}

type Request = Message<Record<string, unknown>>;

interface TensorMemory {
  numTensors: number;
  numBytes: number;
}
/** Thresholds of the leak warning (CTXLAB_LEAK_WARN_TENSORS, default 100 new tensors, or 256 MB). */
const LEAK_WARN_TENSORS = Number(process.env.CTXLAB_LEAK_WARN_TENSORS ?? 100);
const LEAK_WARN_BYTES = 256e6;

/** Live tensors of the TF.js engine the cells use (tfjs keeps it on globalThis._tfengine), if loaded. */
function tensorMemory(): TensorMemory | undefined {
  const engine = (globalThis as { _tfengine?: { memory?: () => TensorMemory } })._tfengine;
  try {
    return engine?.memory?.();
  } catch {
    return undefined;
  }
}
type ReqChannel = Exclude<Channel, "iopub">;

const KEEP_EXECUTIONS = 64;

export class Handler {
  private count = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly pending: Request[] = [];
  private readonly history = new History();
  private readonly recent: Execution[] = [];
  private forceTimer: NodeJS.Timeout | undefined;
  private shuttingDown = false;
  private firstCell = true;
  private readonly log: Log;
  private readonly graceMs: number;

  constructor(private readonly wire: Sender, private readonly engine: CellEngine, private readonly o: HandlerOptions) {
    this.log = o.log ?? (() => {});
    this.graceMs = o.graceMs ?? 3000;
  }

  /** Entry point for every verified message. */
  receive(channel: ReqChannel, msg: Request): void {
    if (this.shuttingDown) return;
    const type = msg.header.msg_type;
    if (channel === "stdin") return; // input_reply: we never send input_request (no stdin support)
    if (msg.content === null || typeof msg.content !== "object" || Array.isArray(msg.content)) msg.content = {}; // signed but odd content: treat as empty
    if (type === "execute_request") return this.enqueue(msg);
    void this.withStatus(msg, () => this.dispatch(channel, msg)).then(() => {
      if (type === "shutdown_request") this.o.onShutdown?.(Boolean(msg.content.restart));
    });
  }

  /** Abort the running cell (and lingering work of earlier cells), clear their timers; see the header comment. */
  interrupt(source: string): void {
    this.log(`interrupt (${source})`);
    const reason = new DOMException(`interrupted by the user (${source})`, "AbortError");
    const cur = runningExecution();
    for (const e of this.recent) {
      if (!e.controller.signal.aborted) e.controller.abort(reason);
      if (e !== cur) clearTimers(e); // the running cell's when it ends (its awaits may be waiting for one)
    }
    if (!cur) return;
    cur.interrupted = true;
    if (this.forceTimer) return this.engine.abandon();
    this.forceTimer = setTimeout(() => {
      if (runningExecution() !== cur || cur.silent) return;
      const s = (this.graceMs / 1000).toFixed(1);
      cur.publish("stream", { name: "stderr", text: `ctxlab: the cell is still running ${s} s after the interrupt: it is inside code that cannot be broken (a long synchronous TF.js kernel, or a library call that ignores the signal); waiting for it to reach its next loop step or await. Interrupt again to stop waiting.\n` });
    }, this.graceMs);
  }

  // ------------------------------------------------------------------ plumbing

  private send(channel: ReqChannel, req: Request, type: string, content: object): Promise<void> {
    return this.wire.send(channel, messageFor(req, type, content, this.o.session));
  }

  private publish(req: Request, type: string, content: object): void {
    const msg = messageFor(req, type, content, this.o.session);
    msg.identities = [Buffer.from(`kernel.${this.o.session}.${type}`)];
    void this.wire.send("iopub", msg);
  }

  private async withStatus(req: Request, work: () => Promise<void> | void): Promise<void> {
    this.publish(req, "status", { execution_state: "busy" });
    try {
      await work();
    } catch (e) {
      this.log(`${req.header.msg_type} failed:`, e);
    } finally {
      this.publish(req, "status", { execution_state: "idle" });
    }
  }

  private async dispatch(channel: ReqChannel, req: Request): Promise<void> {
    const c = req.content;
    const type = req.header.msg_type;
    const reply = (content: object): Promise<void> => this.send(channel, req, type.replace(/_request$/, "_reply"), content);
    switch (type) {
      case "kernel_info_request":
        return reply(this.kernelInfo());
      case "complete_request":
        return reply(this.complete(String(c.code ?? ""), c.cursor_pos as number | undefined));
      case "inspect_request":
        return reply(this.inspect(String(c.code ?? ""), c.cursor_pos as number | undefined));
      case "is_complete_request":
        return reply(this.engine.isComplete(String(c.code ?? "")));
      case "history_request":
        return reply({ status: "ok", history: this.history.query(c as HistoryRequest) });
      case "comm_info_request":
        return reply({ status: "ok", comms: {} });
      case "comm_open": // no comm targets: close it again, as ipykernel does for unknown targets
        return this.publish(req, "comm_close", { comm_id: c.comm_id, data: {} });
      case "comm_msg":
      case "comm_close":
        return;
      case "interrupt_request":
        this.interrupt("interrupt_request");
        return reply({ status: "ok" });
      case "shutdown_request":
        return this.shutdown(req, reply);
      default:
        this.log(`unsupported msg_type ${type} on ${channel}`);
    }
  }

  private kernelInfo(): object {
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "ctxlab",
      implementation_version: this.o.implementationVersion ?? "0.0.0",
      language_info: {
        name: "typescript",
        version: this.engine.tsVersion,
        mimetype: "text/typescript",
        file_extension: ".ts",
        pygments_lexer: "typescript",
        codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
      },
      banner: `ctxlab ${this.o.implementationVersion ?? ""} — TypeScript ${this.engine.tsVersion} on Node ${process.version}\n${this.o.banner?.() ? `${this.o.banner()}\n` : ""}import { display, signal, progress } from "ctxlab/kernel"`,
      debugger: false,
    };
  }

  private complete(code: string, cursorCp: number | undefined): object {
    const cursor = cursorCp === undefined ? code.length : codePointsToUtf16(code, cursorCp);
    const r = this.engine.complete(code, cursor);
    return { status: "ok", matches: r.matches, cursor_start: utf16ToCodePoints(code, r.start), cursor_end: utf16ToCodePoints(code, r.end), metadata: {} };
  }

  private inspect(code: string, cursorCp: number | undefined): object {
    const text = this.engine.inspect(code, cursorCp === undefined ? code.length : codePointsToUtf16(code, cursorCp));
    return { status: "ok", found: text !== undefined, data: text === undefined ? {} : { "text/plain": text }, metadata: {} };
  }

  private async shutdown(req: Request, reply: (c: object) => Promise<void>): Promise<void> {
    const content = { status: "ok", restart: Boolean(req.content.restart) };
    this.shuttingDown = true;
    for (const e of this.recent) e.controller.abort(new DOMException("kernel shutdown", "AbortError"));
    this.publish(req, "shutdown_reply", content);
    await reply(content);
  }

  // ------------------------------------------------------------------ execution

  private enqueue(req: Request): void {
    this.pending.push(req);
    this.queue = this.queue
      .then(async () => {
        const i = this.pending.indexOf(req);
        if (i < 0) return; // aborted after an earlier error
        this.pending.splice(i, 1);
        await this.execute(req);
      })
      .catch((e) => this.log("execute failed:", e));
  }

  private newExecution(req: Request, count: number, silent: boolean): Execution {
    const ex: Execution = {
      msgId: req.header.msg_id,
      parent: req.header,
      count,
      silent,
      controller: new AbortController(),
      finished: false,
      interrupted: false,
      asyncErrors: [],
      publish: (type, content) => this.publish(req, type, content),
    };
    this.recent.push(ex);
    if (this.recent.length > KEEP_EXECUTIONS) this.recent.shift();
    return ex;
  }

  private async execute(req: Request): Promise<void> {
    // A SIGINT that arrived before this request (sigint.ts delivers them by polling) belongs to the
    // idle kernel or the previous cell, not to this one: take it now, while no cell runs.
    drainSigint();
    const code = String(req.content.code ?? "");
    const silent = Boolean(req.content.silent);
    const store = !silent && req.content.store_history !== false;
    this.publish(req, "status", { execution_state: "busy" });
    if (store) this.count++;
    const count = this.count;
    if (!silent) this.publish(req, "execute_input", { code, execution_count: count });
    const ex = this.newExecution(req, count, silent);
    if (this.firstCell && this.o.beforeFirstCell) {
      this.firstCell = false;
      const text = await this.o.beforeFirstCell().catch((e: unknown) => `ctxlab: ${(e as Error)?.message ?? e}\n`);
      if (text && !silent) ex.publish("stream", { name: "stdout", text });
    }
    setRunning(ex);
    const memBefore = tensorMemory();
    let outcome: CellOutcome;
    try {
      outcome = await this.engine.execute(code, ex);
    } catch (e) {
      outcome = { status: "error", error: toCellError(e) };
    }
    drainSigint(); // one that arrived while this cell ran is this cell's, not the next one's
    if (ex.controller.signal.aborted) clearTimers(ex); // at once: an interval could fire in the wait below
    pruneForeignErrorHandlers(this.log);
    await new Promise((r) => setImmediate(r)); // let this cell's pending unhandled rejections surface
    clearTimeout(this.forceTimer);
    this.forceTimer = undefined;
    if (ex.controller.signal.aborted) clearTimers(ex);
    outcome = this.finalOutcome(ex, outcome);
    // A cell reported Interrupted must not go on changing state: abort its signal before the reply even
    // when no interrupt() ran (SIGINT taken by vm's breakOnSigint while the cell's synchronous part ran
    // can leave async work it already started, e.g. a training loop, running with a live signal).
    if (outcome.status === "error" && outcome.error.ename === "Interrupted" && !ex.controller.signal.aborted) {
      ex.controller.abort(new DOMException("interrupted by the user (synchronous code stopped by SIGINT)", "AbortError"));
    }
    ex.finished = true;
    setRunning(undefined);
    const output = this.publishOutcome(ex, outcome);
    if (!silent) this.warnLeaks(ex, memBefore, tensorMemory());
    if (store) this.history.add(count, code, output);
    const content = outcome.status === "ok" ? { status: "ok", execution_count: count, payload: [], user_expressions: {} } : { status: "error", execution_count: count, ...outcome.error };
    await this.send("shell", req, "execute_reply", content);
    this.publish(req, "status", { execution_state: "idle" });
    if (outcome.status === "error" && req.content.stop_on_error !== false) this.abortPending();
  }

  /** Fold interrupts and async errors into the cell's outcome. */
  private finalOutcome(ex: Execution, outcome: CellOutcome): CellOutcome {
    const extra: CellError[] = [...ex.asyncErrors];
    let result = outcome;
    if (ex.interrupted && !(outcome.status === "error" && outcome.error.ename === "Interrupted")) {
      const why = outcome.status === "error" ? `; the cell then failed with ${outcome.error.ename}: ${outcome.error.evalue}` : "; its awaited work stopped at the cell's AbortSignal";
      const evalue = `interrupted by the user${why}`;
      result = { status: "error", error: { ename: "Interrupted", evalue, traceback: [`Interrupted: ${evalue}`] } };
    } else if (outcome.status === "ok" && extra.length) {
      result = { status: "error", error: extra.shift()! };
    }
    const cleared = describeCleared(ex);
    if (cleared && result.status === "error" && result.error.ename === "Interrupted") {
      const evalue = `${result.error.evalue}; ${cleared}`;
      result = { status: "error", error: { ...result.error, evalue, traceback: [`Interrupted: ${evalue}`] } };
    }
    if (!ex.silent) for (const e of extra) ex.publish("stream", { name: "stderr", text: `${e.traceback.join("\n")}\n` });
    return result;
  }

  /** execute_result or error on iopub; returns the text/plain output for the history. */
  private publishOutcome(ex: Execution, outcome: CellOutcome): string | null {
    if (outcome.status === "error") {
      if (!ex.silent) ex.publish("error", outcome.error);
      return null;
    }
    if (!outcome.hasValue) return null;
    const bundle = toMimeBundle(outcome.value, this.log);
    if (!ex.silent) ex.publish("execute_result", { execution_count: ex.count, ...bundle });
    return String(bundle.data["text/plain"] ?? "");
  }

  /** One stderr line when a cell leaves many new tensors alive (notebooks leak: rebinding keeps the old ones). */
  private warnLeaks(ex: Execution, before: TensorMemory | undefined, after: TensorMemory | undefined): void {
    if (!before || !after) return;
    const n = after.numTensors - before.numTensors;
    const bytes = after.numBytes - before.numBytes;
    if (n < LEAK_WARN_TENSORS && bytes < LEAK_WARN_BYTES) return;
    const mb = (bytes / 1e6).toFixed(1);
    ex.publish("stream", { name: "stderr", text: `ctxlab: this cell left ${n.toLocaleString("en-US")} new tensors alive (${mb} MB, ${after.numTensors.toLocaleString("en-US")} in all); dispose what you no longer need or wrap the work in scope(() => …)\n` });
  }

  /**
   * After a failed cell (stop_on_error), requests queued behind it are answered "aborted", not run,
   * each between its own busy and idle status (as ipykernel does): a client waits for the idle of
   * every request it sent.
   */
  private abortPending(): void {
    for (const req of this.pending.splice(0)) {
      this.publish(req, "status", { execution_state: "busy" });
      void this.send("shell", req, "execute_reply", { status: "aborted", execution_count: null });
      this.publish(req, "status", { execution_state: "idle" });
    }
  }
}
