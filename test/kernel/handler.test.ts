/**
 * The handler against a stub engine and a recording sender (no sockets, no TypeScript): message
 * order, counts, silent cells, errors and stop_on_error, interrupts with the grace period, history,
 * kernel_info, shutdown.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Handler } from "../../kernel/handler.js";
import type { CellEngine, CellOutcome } from "../../kernel/executor.js";
import { rememberTimer, type Execution } from "../../kernel/context.js";
import { newHeader, type Channel, type Message } from "../../kernel/wire.js";

type Run = (code: string, ex: Execution) => Promise<CellOutcome>;

function stubEngine(run: Run): CellEngine & { abandoned: number } {
  const e = {
    tsVersion: "5.0.4",
    abandoned: 0,
    warm() {},
    execute: run,
    complete: (code: string) => ({ matches: ["max"], start: code.length - 2, end: code.length }),
    inspect: () => "(method) Math.max",
    isComplete: () => ({ status: "complete" as const }),
    abandon() {
      e.abandoned++;
    },
    close() {},
  };
  return e;
}

function setup(run: Run, graceMs = 100) {
  const sent: { channel: Channel; msg: Message<object> }[] = [];
  let shutdown: boolean | undefined;
  const engine = stubEngine(run);
  const h = new Handler({ send: async (channel, msg) => void sent.push({ channel, msg }) }, engine, { session: "k", graceMs, onShutdown: (r) => (shutdown = r) });
  const request = (type: string, content: object, channel: "shell" | "control" = "shell"): string => {
    const header = newHeader(type, "client");
    h.receive(channel, { identities: [], header, parent_header: {}, metadata: {}, content: content as Record<string, unknown>, buffers: [] });
    return header.msg_id;
  };
  const of = (id: string) => sent.filter((s) => (s.msg.parent_header as { msg_id?: string }).msg_id === id);
  const replyOf = (id: string) => of(id).find((s) => s.channel !== "iopub")?.msg.content as Record<string, unknown> | undefined;
  const done = async (id: string): Promise<void> => {
    for (let i = 0; i < 200 && !of(id).some((s) => s.channel === "iopub" && (s.msg.content as { execution_state?: string }).execution_state === "idle"); i++) await new Promise((r) => setTimeout(r, 5));
  };
  return { h, engine, sent, request, of, replyOf, done, shutdownArg: () => shutdown };
}

const ok = (value?: unknown): CellOutcome => (value === undefined ? { status: "ok", hasValue: false } : { status: "ok", hasValue: true, value });

test("execute: busy, execute_input, outputs, execute_result, reply, idle — in that order", async () => {
  const s = setup(async (_code, ex) => {
    ex.publish("stream", { name: "stdout", text: "hi\n" });
    return ok(42);
  });
  const id = s.request("execute_request", { code: "6*7" });
  await s.done(id);
  const kinds = s.of(id).map((m) => (m.channel === "iopub" ? m.msg.header.msg_type + ((m.msg.content as { execution_state?: string }).execution_state ?? "") : `${m.channel}:${m.msg.header.msg_type}`));
  assert.deepEqual(kinds, ["statusbusy", "execute_input", "stream", "execute_result", "shell:execute_reply", "statusidle"]);
  const result = s.of(id).find((m) => m.msg.header.msg_type === "execute_result")!.msg.content as Record<string, unknown>;
  assert.deepEqual(result, { execution_count: 1, data: { "text/plain": "42" }, metadata: {} });
  assert.deepEqual(s.replyOf(id), { status: "ok", execution_count: 1, payload: [], user_expressions: {} });
});

test("silent cells publish nothing and do not count", async () => {
  const s = setup(async () => ok(1));
  const a = s.request("execute_request", { code: "1", silent: true });
  await s.done(a);
  assert.deepEqual(s.of(a).filter((m) => m.channel === "iopub").map((m) => m.msg.header.msg_type), ["status", "status"]);
  const b = s.request("execute_request", { code: "2" });
  await s.done(b);
  assert.equal(s.replyOf(b)?.execution_count, 1);
});

test("an error is published and replied; queued cells behind it are aborted (stop_on_error)", async () => {
  const ran: string[] = [];
  const s = setup(async (code) => {
    ran.push(code);
    await new Promise((r) => setTimeout(r, 10));
    return code === "bad" ? { status: "error", error: { ename: "Error", evalue: "boom", traceback: ["Error: boom"] } } : ok();
  });
  const bad = s.request("execute_request", { code: "bad" });
  const next = s.request("execute_request", { code: "next" });
  await s.done(bad);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(ran, ["bad"]);
  assert.deepEqual(s.replyOf(bad), { status: "error", execution_count: 1, ename: "Error", evalue: "boom", traceback: ["Error: boom"] });
  assert.equal(s.of(bad).filter((m) => m.msg.header.msg_type === "error").length, 1);
  assert.equal(s.replyOf(next)?.status, "aborted");
  // the aborted request still gets busy and idle (clients wait for its idle)
  assert.deepEqual(s.of(next).map((m) => (m.channel === "iopub" ? (m.msg.content as { execution_state?: string }).execution_state : m.msg.header.msg_type)), ["busy", "execute_reply", "idle"]);
  const after = s.request("execute_request", { code: "after" });
  await s.done(after);
  assert.equal(s.replyOf(after)?.status, "ok");
});

test("interrupt: a cell that settles at its signal ends Interrupted without waiting for the grace period", async () => {
  const s = setup((_code, ex) => new Promise((resolve) => ex.controller.signal.addEventListener("abort", () => resolve(ok("partial")))), 10_000);
  const id = s.request("execute_request", { code: "loop" });
  await new Promise((r) => setTimeout(r, 20));
  s.h.interrupt("test");
  await s.done(id);
  assert.equal(s.replyOf(id)?.ename, "Interrupted");
  assert.equal(s.engine.abandoned, 0);
  assert.equal(s.of(id).filter((m) => m.msg.header.msg_type === "execute_result").length, 0);
});

test("interrupt: a cell that ignores its signal gets a message after the grace period and is abandoned at a second interrupt", async () => {
  let release!: (o: CellOutcome) => void;
  const s = setup(() => new Promise((r) => (release = r)), 50);
  s.engine.abandon = () => {
    s.engine.abandoned++;
    release({ status: "error", error: { ename: "Interrupted", evalue: "abandoned", traceback: [] } });
  };
  const id = s.request("execute_request", { code: "stubborn" });
  await new Promise((r) => setTimeout(r, 10));
  s.h.interrupt("test");
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(s.engine.abandoned, 0, "waited out, not abandoned, after the grace period");
  const notes = s.of(id).filter((m) => m.msg.header.msg_type === "stream").map((m) => String((m.msg.content as { text: string }).text));
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /still running 0\.1 s after the interrupt.*cannot be broken.*Interrupt again/);
  s.h.interrupt("test again");
  await s.done(id);
  assert.equal(s.engine.abandoned, 1);
  assert.deepEqual([s.replyOf(id)?.ename, s.replyOf(id)?.evalue], ["Interrupted", "abandoned"]);
});

test("interrupt: timers a cell scheduled are cleared, and the execution records how many", async () => {
  let fired = 0;
  let exec: Execution | undefined;
  let started = false;
  const s = setup(async (_code, ex) => {
    exec = ex;
    rememberTimer(ex, setTimeout(() => (fired += 1000), 200), "timeout");
    rememberTimer(ex, setInterval(() => fired++, 10), "interval");
    started = true;
    await new Promise<void>((r) => ex.controller.signal.addEventListener("abort", () => r()));
    return { status: "error", error: { ename: "Interrupted", evalue: "stopped", traceback: [] } };
  });
  const id = s.request("execute_request", { code: "timers" });
  for (let i = 0; i < 100 && !started; i++) await new Promise((r) => setTimeout(r, 5));
  s.h.interrupt("test");
  const atInterrupt = fired;
  await s.done(id);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(fired, atInterrupt, "a cleared timer fired");
  assert.deepEqual(exec?.cleared, { timeout: 1, interval: 1, immediate: 0 });
  assert.equal(s.replyOf(id)?.evalue, "stopped; cleared 1 interval and 1 timeout it had scheduled");
});

test("a cell reported Interrupted without interrupt() (vm's breakOnSigint took the SIGINT) has its signal aborted before the reply", async () => {
  let id = "";
  let abortedBeforeReply: boolean | undefined;
  const s = setup(async (_code, ex) => {
    // async work the cell started (a training loop) keeps this signal
    ex.controller.signal.addEventListener("abort", () => (abortedBeforeReply = s.replyOf(id) === undefined));
    return { status: "error", error: { ename: "Interrupted", evalue: "synchronous code stopped by SIGINT", traceback: [] } };
  });
  id = s.request("execute_request", { code: "sync" });
  await s.done(id);
  assert.equal(s.replyOf(id)?.ename, "Interrupted");
  assert.equal(abortedBeforeReply, true, "the signal must be aborted before the cell is replied Interrupted");
});

test("async errors recorded while the cell ran make it fail", async () => {
  const s = setup(async (_code, ex) => {
    ex.asyncErrors.push({ ename: "UnhandledPromiseRejection", evalue: "Error: x", traceback: [] });
    return ok(1);
  });
  const id = s.request("execute_request", { code: "x" });
  await s.done(id);
  assert.equal(s.replyOf(id)?.ename, "UnhandledPromiseRejection");
});

test("kernel_info, completion (code points), inspection, history, comm_info, shutdown", async () => {
  const s = setup(async () => ok(7));
  const info = s.request("kernel_info_request", {});
  await s.done(info);
  const c = s.replyOf(info)!;
  assert.equal(c.status, "ok");
  assert.deepEqual((c.language_info as Record<string, unknown>).version, "5.0.4");
  const comp = s.request("complete_request", { code: "'😀'; Math.ma", cursor_pos: 12 });
  await s.done(comp);
  assert.deepEqual(s.replyOf(comp), { status: "ok", matches: ["max"], cursor_start: 10, cursor_end: 12, metadata: {} });
  const ins = s.request("inspect_request", { code: "Math.max", cursor_pos: 6 });
  await s.done(ins);
  assert.deepEqual(s.replyOf(ins), { status: "ok", found: true, data: { "text/plain": "(method) Math.max" }, metadata: {} });
  const ex = s.request("execute_request", { code: "7" });
  await s.done(ex);
  const hist = s.request("history_request", { output: true, raw: true, hist_access_type: "tail", n: 5 });
  await s.done(hist);
  assert.deepEqual(s.replyOf(hist), { status: "ok", history: [[1, 1, ["7", "7"]]] });
  const comm = s.request("comm_info_request", {});
  await s.done(comm);
  assert.equal(s.of(comm).find((m) => m.channel === "shell")?.msg.header.msg_type, "comm_info_reply");
  const sd = s.request("shutdown_request", { restart: true }, "control");
  await s.done(sd);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(s.replyOf(sd), { status: "ok", restart: true });
  assert.equal(s.of(sd).find((m) => m.channel === "control")?.msg.header.msg_type, "shutdown_reply");
  assert.equal(s.shutdownArg(), true);
});
