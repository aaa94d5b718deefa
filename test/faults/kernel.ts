/**
 * Kernel abuse over the real sockets (test/kernel/client.ts):
 *   interrupts during a fine-tune   `rounds` cells each run dTraining (steps = 10⁶, tiny model, some
 *                                   rounds with 2 gradient workers) and get a burst of SIGINTs at random
 *                                   0–30 ms intervals after a random delay: each cell ends "Interrupted",
 *                                   dTraining reports "interrupted at step n" with the parameters of
 *                                   step n (checksum after the run = checksum recorded at step n), the
 *                                   step counter stays still, no worker thread is left
 *   interrupts between cells        SIGINTs and interrupt_requests while idle, and SIGINTs racing the
 *                                   start of a short cell: the next cell runs normally
 *   a burst of queued executions    `burst` execute_requests sent at once: every one answered "ok", in
 *                                   order, execution counts consecutive, the shared counter = burst
 *   very large outputs              a `bigOutputBytes` console.log and result
 *   throws inside timers            a timer that throws and one that rejects: the cell that armed them
 *                                   gets the error on stderr, the kernel goes on
 *   forged and replayed messages    wrong key, no signature, a replay, frames without a delimiter or
 *                                   with too few frames, signed garbage JSON, a header without msg_type,
 *                                   signed requests with nonsense content: nothing forged runs, the kernel
 *                                   answers kernel_info after every batch
 *   afterwards                      the step counter does not move, no gradient workers, no new timers,
 *                                   and the idle kernel uses < 5 % of a core over one second (in one
 *                                   of up to three: a lone garbage collection is not background work)
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createHmac, randomBytes } from "node:crypto";
import { dataOf, startKernel, streamText, type KernelClient, type Reply } from "../kernel/client.js";
import { FuzzRng } from "./fuzz.js";

export interface KernelCheck {
  check: string;
  /** inputs tried (signals, messages, cells) */
  tried: number;
  ok: boolean;
  detail: string;
}

export interface KernelOptions {
  rounds: number;
  sigintsPerRound: number;
  burst: number;
  idleInterrupts: number;
  bigOutputBytes: number;
  /** use 2 gradient workers in every third round */
  workers?: boolean;
  seed?: number;
}

const exec = (k: KernelClient, code: string): string =>
  k.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });

async function value(k: KernelClient, code: string, ms = 30_000): Promise<unknown> {
  const r = await k.execute(code, ms);
  if (r.reply.content.status !== "ok") throw new Error(`cell failed: ${JSON.stringify(r.reply.content).slice(0, 500)}`);
  const v = dataOf(r, "execute_result");
  return typeof v === "string" ? v : undefined;
}
/** A JSON value computed in the kernel (printed on stdout, so no display formatting gets in the way). */
async function json<T>(k: KernelClient, expr: string, ms?: number): Promise<T> {
  const r = await k.execute(`console.log(JSON.stringify(${expr}))`, ms);
  if (r.reply.content.status !== "ok") throw new Error(`cell failed: ${JSON.stringify(r.reply.content).slice(0, 500)}`);
  return JSON.parse(streamText(r)) as T;
}

const SETUP = `
import { DTransformer, presets, rope, dTraining, useBackend, liveGradWorkers, type BatchSource } from "ctxlab";
await useBackend("wasm");
const g = globalThis as any;
g.ft = DTransformer.create({ ...presets.micro, positional: rope() }, 0);
g.src = { name: "rand", describe: () => ({}), next: (rng: any) => ({ tokens: Int32Array.from({ length: 4 * 8 }, () => rng.int(0, 11)), batch: 4, length: 8 }) } as BatchSource;
// no loop syntax: onStep calls it after an interrupt too, where the cell's loop checkpoints would stop it
g.checksum = () => [...g.ft.params.vars.values()].reduce((s: number, v: any) => v.dataSync().reduce((a: number, x: number) => a + x, s), 0);
g.dTraining = dTraining; g.liveGradWorkers = liveGradWorkers; g.steps = 0;
g.timers = () => (process as any).getActiveResourcesInfo().filter((x: string) => x === "Timeout").length;
"ready"`;

const fineTune = (round: number, workers: number) => `
const g = globalThis as any;
g.status = undefined; g.sums = []; g.before = g.checksum();
console.log("training ${round}");
g.run = g.dTraining(g.ft, { source: g.src, steps: 1_000_000, schedule: 1e-2, workers: ${workers}, onStep: (row: any) => { g.steps = row.step; g.sums.push(g.checksum()); } });
await g.run;`;

/** After the interrupted cell: what its dTraining returned (the cell itself stopped at its await). */
const fineTuneResult = `
const g = globalThis as any;
const res = await g.run;
g.final = g.checksum(); g.stepsDone = res.stepsDone; g.message = res.message; res.optimizer.dispose();
g.status = res.status;`;

function interrupted(r: Reply): string | undefined {
  if (r.reply.content.status !== "error" || r.reply.content.ename !== "Interrupted") return `reply ${JSON.stringify(r.reply.content).slice(0, 300)}`;
  const errors = r.outputs.filter((m) => m.header.msg_type === "error").length;
  return errors === 1 ? undefined : `${errors} error messages`;
}

async function stillCounter(k: KernelClient, name: string): Promise<string | undefined> {
  const a = await value(k, `(globalThis as any).${name}`);
  await sleep(300);
  const b = await value(k, `(globalThis as any).${name}`);
  return a === b ? undefined : `${name} moved ${a} → ${b} after the cell ended`;
}

async function fineTuneInterrupts(k: KernelClient, o: KernelOptions, r: FuzzRng): Promise<KernelCheck> {
  const problems: string[] = [];
  let sent = 0;
  const stepsSeen: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const workers = o.workers && round % 3 === 2 ? 2 : 1;
    const id = exec(k, fineTune(round, workers));
    await k.waitFor(() => k.iopubLog.some((m) => m.parent_header.msg_id === id && m.header.msg_type === "stream" && String(m.content.text).includes(`training ${round}`)), 60_000);
    await sleep(r.int(20, 400));
    for (let s = 0; s < o.sigintsPerRound; s++) {
      k.proc.kill("SIGINT");
      sent++;
      const gap = r.int(0, 31);
      if (gap) await sleep(gap);
    }
    const rep = await k.collect(id, 60_000);
    const why = interrupted(rep);
    if (why) problems.push(`round ${round}: ${why}`);
    // the state the user sees as soon as the cell is reported Interrupted
    const atReply = await json<{ n: number; sum: number }>(k, "{ n: (globalThis as any).sums.length, sum: (globalThis as any).checksum() }");
    // what its dTraining returned (a second SIGINT could end the cell before it did: wait for it)
    const res = await k.execute(fineTuneResult, 60_000);
    if (res.reply.content.status !== "ok") problems.push(`round ${round}: reading dTraining's result: ${JSON.stringify(res.reply.content).slice(0, 300)}`);
    const st = await json<{ status: string; message: string; done: number; n: number; consistent: boolean; workers: number }>(
      k,
      "{ status: (globalThis as any).status, message: (globalThis as any).message, done: (globalThis as any).stepsDone, n: (globalThis as any).sums.length, consistent: (globalThis as any).final === ((globalThis as any).sums.at(-1) ?? (globalThis as any).before), workers: (globalThis as any).liveGradWorkers() }",
    );
    stepsSeen.push(st.done);
    if (st.status !== "interrupted") problems.push(`round ${round}: dTraining status ${st.status}`);
    if (!new RegExp(`interrupted at step ${st.done}\\b`).test(st.message ?? "")) problems.push(`round ${round}: message ${JSON.stringify(st.message)} vs ${st.done} steps`);
    if (st.n !== st.done) problems.push(`round ${round}: ${st.n} onStep calls for ${st.done} steps`);
    if (!st.consistent) problems.push(`round ${round}: parameters after the run are not those of step ${st.done}`);
    if (st.n !== atReply.n) problems.push(`round ${round}${workers > 1 ? " (2 workers)" : ""}: ${st.n - atReply.n} update(s) applied after the cell was reported Interrupted (steps ${atReply.n} → ${st.n} in the background)`);
    if (st.workers !== 0) problems.push(`round ${round}: ${st.workers} gradient workers alive`);
    const moving = await stillCounter(k, "steps");
    if (moving) problems.push(`round ${round}: ${moving}`);
  }
  return {
    check: `${o.rounds} fine-tunes × ${o.sigintsPerRound} SIGINTs`, tried: sent, ok: problems.length === 0,
    detail: problems.length ? problems.slice(0, 5).join("; ") : `every cell Interrupted with consistent parameters (steps done per round: ${stepsSeen.join(", ")})`,
  };
}

async function idleInterrupts(k: KernelClient, o: KernelOptions, r: FuzzRng): Promise<KernelCheck> {
  const problems: string[] = [];
  let tried = 0;
  for (let i = 0; i < o.idleInterrupts; i++) {
    k.proc.kill("SIGINT");
    tried++;
    await sleep(r.int(0, 20));
  }
  for (let i = 0; i < 3; i++) {
    const rep = await k.request("control", "interrupt_request", {});
    tried++;
    if (rep.reply.content.status !== "ok") problems.push(`interrupt_request: ${JSON.stringify(rep.reply.content)}`);
  }
  const after = await k.execute("await new Promise((r) => setTimeout(r, 200)); 6 * 7");
  if (after.reply.content.status !== "ok" || dataOf(after, "execute_result") !== "42") problems.push(`the next cell: ${JSON.stringify(after.reply.content).slice(0, 200)}`);
  // SIGINTs racing the start of a short cell: it may be interrupted or finish, and the next one is normal
  for (let i = 0; i < 5; i++) {
    const id = exec(k, "await new Promise((r) => setTimeout(r, 50)); 7");
    await sleep(r.int(0, 60));
    const seen = k.stderr.split("interrupt (SIGINT)").length;
    k.proc.kill("SIGINT");
    tried++;
    const rep = await k.collect(id);
    if (rep.reply.content.status !== "ok" && interrupted(rep)) problems.push(`racing cell: ${JSON.stringify(rep.reply.content).slice(0, 200)}`);
    // A SIGINT sent just before the racing cell ended reaches the kernel a little later (the signal
    // thread, then the kernel's poll: kernel/sigint.ts); wait until the kernel has logged it, so the
    // next request is not sent while the signal is still in flight (vm's breakOnSigint takes it
    // silently while a cell's synchronous part runs, and one within microseconds of a run can be
    // lost: give up waiting after a while). The burst that follows fails if one is delivered late.
    for (let t = 0; t < 100 && k.stderr.split("interrupt (SIGINT)").length === seen && !/synchronous code stopped/.test(String(rep.reply.content.evalue)); t++) await sleep(20);
    const next = await k.execute("8");
    if (next.reply.content.status !== "ok") problems.push(`cell after a race was ${next.reply.content.ename}`);
  }
  return { check: "interrupts between cells (SIGINT, interrupt_request, racing a cell start)", tried, ok: problems.length === 0, detail: problems.join("; ") || "the next cells ran normally" };
}

async function burst(k: KernelClient, n: number): Promise<KernelCheck> {
  await value(k, "(globalThis as any).q = 0");
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    // queued without waiting for replies; each send awaited (a zeromq socket takes one send at a time)
    const f = k.frames("execute_request", { code: "(globalThis as any).q += 1", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
    await k.sendRaw(f.frames);
    ids.push(f.msgId);
  }
  const problems: string[] = [];
  let prev = -1;
  for (const [i, id] of ids.entries()) {
    const rep = await k.collect(id, 120_000);
    const c = rep.reply.content;
    if (c.status !== "ok") problems.push(`#${i}: ${c.status} ${c.ename ?? ""}`);
    const count = c.execution_count as number;
    if (prev >= 0 && count !== prev + 1) problems.push(`#${i}: execution_count ${count} after ${prev}`);
    prev = count;
    if (dataOf(rep, "execute_result") !== String(i + 1)) problems.push(`#${i}: result ${String(dataOf(rep, "execute_result"))}, expected ${i + 1}`);
    if (problems.length > 5) break;
  }
  const q = await value(k, "(globalThis as any).q");
  if (q !== String(n)) problems.push(`counter ${q}, expected ${n}`);
  const s = (performance.now() - t0) / 1000;
  return { check: `burst of ${n} queued execute_requests`, tried: n, ok: problems.length === 0, detail: problems.slice(0, 5).join("; ") || `all answered in order in ${s.toFixed(1)} s` };
}

async function bigOutputs(k: KernelClient, bytes: number): Promise<KernelCheck> {
  const problems: string[] = [];
  const log = await k.execute(`console.log("y".repeat(${bytes})); "logged"`, 120_000);
  const streamed = log.outputs.filter((m) => m.header.msg_type === "stream").reduce((n, m) => n + String(m.content.text).length, 0);
  if (log.reply.content.status !== "ok" || streamed < bytes) problems.push(`console.log: ${log.reply.content.status}, ${streamed} characters arrived`);
  const res = await k.execute(`"x".repeat(${bytes})`, 120_000);
  const shown = String(dataOf(res, "execute_result") ?? "").length;
  if (res.reply.content.status !== "ok" || shown === 0) problems.push(`result: ${res.reply.content.status}, ${shown} characters shown`);
  const arr = await k.execute(`new Float32Array(${Math.floor(bytes / 4)})`, 120_000);
  if (arr.reply.content.status !== "ok") problems.push(`typed array result: ${arr.reply.content.status}`);
  if ((await value(k, "1 + 1")) !== "2") problems.push("the kernel did not answer afterwards");
  return { check: `very large outputs (${(bytes / 1e6).toFixed(0)} MB log, result, typed array)`, tried: 3, ok: problems.length === 0, detail: problems.join("; ") || `log of ${streamed} characters delivered; result shown as ${shown} characters` };
}

/** The kernel exits with the wasm backend loaded (tfjs-backend-wasm's Emscripten glue rethrows from process.on("uncaughtException")). */
async function timerThrows(k: KernelClient): Promise<KernelCheck> {
  const problems: string[] = [];
  const armed = await k.execute('setTimeout(() => { throw new Error("thrown in a timer"); }, 50);\nsetTimeout(() => { Promise.reject(new Error("rejected in a timer")); }, 80);\n"armed"');
  if (armed.reply.content.status !== "ok") problems.push(`arming cell: ${armed.reply.content.status}`);
  let exit: number | null | undefined;
  void k.waitExit().then((code) => (exit = code));
  const nextId = exec(k, "await new Promise((r) => setTimeout(r, 400)); 3");
  for (let t = 0; t < 300 && exit === undefined && !k.hasReply(nextId); t++) await sleep(100); // no client timer left behind if the kernel dies
  if (exit !== undefined) {
    const why = /\n(\/[^\n]*:\d+)\n[^\n]*\n[^\n]*\^\n\nError: thrown in a timer/.exec(k.stderr)?.[1] ?? k.stderr.slice(-300);
    return { check: "a cell that throws (and rejects) inside a timer", tried: 1, ok: false, detail: `the kernel exited with code ${exit} (an uncaughtException listener rethrew at ${why})` };
  }
  const next = await k.collect(nextId);
  if (next.reply.content.status !== "ok") problems.push(`the next cell: ${next.reply.content.ename} ${next.reply.content.evalue}`);
  for (const text of ["thrown in a timer", "rejected in a timer"]) {
    const m = k.iopubLog.find((x) => x.header.msg_type === "stream" && String(x.content.text).includes(text));
    if (!m) problems.push(`"${text}" was not reported`);
    else if (m.parent_header.msg_id !== armed.reply.parent_header.msg_id) problems.push(`"${text}" was attributed to another cell`);
  }
  if ((await value(k, "'alive'")) !== "'alive'") problems.push("the kernel did not answer");
  return { check: "a cell that throws (and rejects) inside a timer", tried: 2, ok: problems.length === 0, detail: problems.join("; ") || "errors on the arming cell's stderr; later cells fine" };
}

const DELIM = Buffer.from("<IDS|MSG>");
function signedFrames(key: string, parts: (string | Buffer)[]): Buffer[] {
  const bufs = parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p));
  const h = createHmac("sha256", key);
  for (const b of bufs) h.update(b);
  return [DELIM, Buffer.from(h.digest("hex")), ...bufs];
}

/** Hang guard of the forged-messages check: generous (a loaded 2-core machine once took > 30 s here), and a timeout names its step. */
const FORGED_MS = 120_000;
const step = <T>(what: string, p: Promise<T>): Promise<T> => p.catch((e: Error) => Promise.reject(new Error(`${what}: ${e.message}`)));

async function forged(k: KernelClient, r: FuzzRng): Promise<KernelCheck> {
  const problems: string[] = [];
  const key = k.info.key;
  await step("resetting the counters", value(k, "(globalThis as any).forged = 0; (globalThis as any).replays = 0", FORGED_MS));
  const bump = "(globalThis as any).forged += 1";
  const frames: { what: string; frames: Buffer[] }[] = [];
  const hdr = (type: string) => JSON.stringify({ msg_id: `m-${r.u32()}`, session: "s", username: "u", date: new Date().toISOString(), msg_type: type, version: "5.3" });
  for (let i = 0; i < 5; i++) frames.push({ what: "wrong key", frames: k.frames("execute_request", { code: bump, silent: false }, randomBytes(16).toString("hex")).frames });
  frames.push({ what: "no signature", frames: k.frames("execute_request", { code: bump, silent: false }, "").frames });
  const good = k.frames("execute_request", { code: "(globalThis as any).replays += 1", silent: false });
  frames.push({ what: "tampered content, old signature", frames: [...good.frames.slice(0, 5), Buffer.from(JSON.stringify({ code: bump }))] });
  frames.push({ what: "no delimiter", frames: [Buffer.from("x"), Buffer.from(hdr("execute_request"))] });
  frames.push({ what: "too few frames", frames: [DELIM, Buffer.from("sig")] });
  frames.push({ what: "random frames", frames: Array.from({ length: r.int(1, 8) }, () => randomBytes(r.int(0, 200))) });
  frames.push({ what: "signed garbage JSON", frames: signedFrames(key, ["{not json", "{}", "{}", "{}"]) });
  frames.push({ what: "signed header without msg_type", frames: signedFrames(key, ["{}", "{}", "{}", JSON.stringify({ code: bump })]) });
  frames.push({ what: "signed lone surrogate / deep JSON", frames: signedFrames(key, [hdr("kernel_info_request"), "{}", "{}", JSON.stringify({ x: "\ud800" }) + "[".repeat(10)]) });
  const weird: [string, unknown][] = [
    ["unknown_request", {}], ["complete_request", { code: "Math.", cursor_pos: -5 }], ["complete_request", { code: "Math.", cursor_pos: 1e12 }],
    ["complete_request", { code: 42, cursor_pos: "x" }], ["inspect_request", { code: null, cursor_pos: 3.5 }], ["is_complete_request", { code: {} }],
    ["history_request", { hist_access_type: "tail", n: -1 }], ["history_request", { hist_access_type: "tail", n: 1e9 }], ["history_request", { hist_access_type: "range", start: "a", stop: null }],
    ["history_request", { hist_access_type: 5 }], ["history_request", { hist_access_type: "search", pattern: "[" }], ["comm_msg", { comm_id: "none", data: {} }], ["comm_open", { comm_id: null }],
    ["execute_request", null], ["execute_request", { code: 12345 }], ["execute_request", { code: ["a"] }], ["kernel_info_request", []],
  ];
  for (const [type, content] of weird) frames.push({ what: `signed ${type} ${JSON.stringify(content)}`, frames: signedFrames(key, [hdr(type), "{}", "{}", JSON.stringify(content)]) });
  await k.sendRaw(good.frames);
  await step("the genuine request", k.collect(good.msgId, FORGED_MS));
  let tried = 0;
  for (const [i, f] of frames.entries()) {
    await k.sendRaw(f.frames);
    tried++;
    if (i % 4 === 3) {
      await k.sendRaw(good.frames); // a replay now and then
      tried++;
    }
    if (i % 8 === 7) {
      const info = await k.request("shell", "kernel_info_request", {}, FORGED_MS).catch(() => undefined);
      if (!info) problems.push(`no kernel_info_reply after "${f.what}"`);
    }
  }
  await sleep(300);
  // A signed execute_request with odd code (`["a"]` → a TypeScript error) fails, and with the default
  // stop_on_error the kernel answers requests queued behind it "aborted" (as Jupyter kernels do):
  // a read that got queued behind it is asked again.
  const read = async (): Promise<{ forged: number; replays: number }> => {
    for (let t = 0; ; t++) {
      const r = await k.execute("console.log(JSON.stringify({ forged: (globalThis as any).forged, replays: (globalThis as any).replays }))", FORGED_MS);
      if (r.reply.content.status === "aborted" && t < 5) continue;
      if (r.reply.content.status !== "ok") throw new Error(`cell failed: ${JSON.stringify(r.reply.content).slice(0, 500)}`);
      return JSON.parse(streamText(r)) as { forged: number; replays: number };
    }
  };
  const st = await step("reading the counters", read());
  if (st.forged !== 0) problems.push(`${st.forged} forged executions ran`);
  if (st.replays !== 1) problems.push(`the replayed request ran ${st.replays} times`);
  for (const reason of ["bad signature", "replayed signature"]) if (!k.stderr.includes(`dropped a message on shell: ${reason}`)) problems.push(`no "${reason}" in the kernel log`);
  const alive = await k.request("control", "kernel_info_request", {}, FORGED_MS).then(() => true, () => false);
  if (!alive) problems.push("no kernel_info_reply on control at the end");
  return { check: "forged, replayed and malformed messages", tried, ok: problems.length === 0, detail: problems.join("; ") || `nothing forged ran (replayed request ran once); kernel answered throughout` };
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

async function quiet(k: KernelClient, timers0: number): Promise<KernelCheck> {
  const problems: string[] = [];
  const moving = await stillCounter(k, "steps");
  if (moving) problems.push(moving);
  const workers = await value(k, "(globalThis as any).liveGradWorkers()");
  if (workers !== "0") problems.push(`${workers} gradient workers alive`);
  const timers = Number(await value(k, "(globalThis as any).timers()"));
  if (timers > timers0) problems.push(`${timers - timers0} more active timers than after setup`);
  let cpu = "";
  try {
    // Up to three 1-s windows: work that keeps running shows in every one; a single garbage
    // collection of the big outputs above (a few ticks on a loaded machine) only in one.
    await sleep(200);
    const windows: number[] = [];
    for (let w = 0; w < 3 && (windows.length === 0 || Math.min(...windows) > 0.05); w++) {
      const a = cpuTicks(k.proc.pid!);
      await sleep(1000);
      windows.push((cpuTicks(k.proc.pid!) - a) / 100); // clock ticks (USER_HZ = 100) → s
    }
    const shown = windows.map((u) => `${(u * 100).toFixed(0)} %`).join(", ");
    cpu = `, idle CPU ${shown} of a core`;
    if (Math.min(...windows) > 0.05) problems.push(`the idle kernel used ${shown} of a core in three 1-s windows`);
  } catch {
    cpu = ", CPU not measured (no /proc)";
  }
  return { check: "afterwards: nothing runs in the background", tried: 1, ok: problems.length === 0, detail: problems.join("; ") || `counter still, no workers, timers ${timers} (after setup ${timers0})${cpu}` };
}

/** The checks' names, in the order kernelAbuse runs them (each step reports under its own name, also when it throws). */
export function kernelCheckNames(o: KernelOptions): string[] {
  return [
    `${o.rounds} fine-tunes × ${o.sigintsPerRound} SIGINTs`,
    "interrupts between cells (SIGINT, interrupt_request, racing a cell start)",
    `burst of ${o.burst} queued execute_requests`,
    `very large outputs (${(o.bigOutputBytes / 1e6).toFixed(0)} MB log, result, typed array)`,
    "forged, replayed and malformed messages",
    "afterwards: nothing runs in the background",
    "a cell that throws (and rejects) inside a timer",
  ];
}

/** Runs every kernel check on one kernel; the kernel is shut down at the end. */
export async function kernelAbuse(o: KernelOptions, onCheck?: (c: KernelCheck) => void): Promise<KernelCheck[]> {
  const r = new FuzzRng(o.seed ?? 3);
  const k = await startKernel({ env: { CTXLAB_INTERRUPT_GRACE_MS: "2500" } });
  const out: KernelCheck[] = [];
  const add = (c: KernelCheck) => {
    out.push(c);
    onCheck?.(c);
  };
  try {
    if ((await value(k, SETUP, 60_000)) !== "'ready'") throw new Error(`kernel setup failed; stderr: ${k.stderr.slice(-2000)}`);
    const timers0 = Number(await value(k, "(globalThis as any).timers()"));
    const names = kernelCheckNames(o);
    const steps: [string, () => Promise<KernelCheck>][] = [
      [names[0]!, () => fineTuneInterrupts(k, o, r)],
      [names[1]!, () => idleInterrupts(k, o, r)],
      [names[2]!, () => burst(k, o.burst)],
      [names[3]!, () => bigOutputs(k, o.bigOutputBytes)],
      [names[4]!, () => forged(k, r)],
      [names[5]!, () => quiet(k, timers0)],
      [names[6]!, () => timerThrows(k)], // last: it can take the kernel down
    ];
    for (const [name, run] of steps) {
      if (k.proc.exitCode !== null || k.proc.signalCode !== null) {
        add({ check: name, tried: 0, ok: false, detail: `not run: the kernel exited (${k.proc.exitCode ?? k.proc.signalCode})` });
        continue;
      }
      try {
        add(await run());
      } catch (e) {
        // the step's own check name (the one the test looks up), with the real error and where it came from
        const err = e as Error;
        add({ check: name, tried: 0, ok: false, detail: `failed: ${String(err?.stack ?? err).slice(0, 1500)}; kernel stderr (tail): ${k.stderr.slice(-1500)}` });
      }
    }
  } finally {
    await k.close();
  }
  return out;
}
