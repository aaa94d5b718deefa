/**
 * The ctxlab kernel over its real sockets, with a small zeromq client (client.ts): protocol
 * replies, message authentication, socket binding, output attribution, errors, rich results and
 * shutdown. One kernel serves the whole file (start-up builds a TypeScript program: a few seconds).
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dataOf, startKernel, streamText, type KernelClient, type Reply } from "./client.js";

let k: KernelClient;
const ok = (r: Reply): void => assert.equal(r.reply.content.status, "ok", JSON.stringify(r.reply.content));
const ofType = (r: Reply, t: string) => r.outputs.filter((m) => m.header.msg_type === t);

describe("ctxlab kernel protocol", { timeout: 120_000 }, () => {
  before(async () => {
    k = await startKernel();
  });
  after(async () => {
    if (k) await k.close();
  });

  test("kernel_info_reply is complete and tells the real TypeScript version", async () => {
    const r = await k.request("shell", "kernel_info_request", {});
    const c = r.reply.content as Record<string, any>;
    assert.equal(r.reply.header.msg_type, "kernel_info_reply");
    assert.equal(c.status, "ok");
    assert.equal(c.protocol_version, "5.3");
    assert.equal(c.implementation, "ctxlab");
    const ts = createRequire(import.meta.url)("@tslab/typescript-for-tslab") as { version: string };
    assert.deepEqual({ ...c.language_info, codemirror_mode: undefined, pygments_lexer: undefined }, { name: "typescript", version: ts.version, mimetype: "text/typescript", file_extension: ".ts", codemirror_mode: undefined, pygments_lexer: undefined });
    assert.deepEqual(r.all.map((m) => m.content.execution_state), ["busy", "idle"]);
  });

  test("comm_info_reply has the right msg_type; comm_open is closed again", async () => {
    const r = await k.request("shell", "comm_info_request", { target_name: "jupyter.widget" });
    assert.equal(r.reply.header.msg_type, "comm_info_reply");
    assert.deepEqual(r.reply.content, { status: "ok", comms: {} });
    k.send("shell", "comm_open", { comm_id: "c1", target_name: "jupyter.widget", data: {} });
    await k.waitFor(() => k.iopubLog.some((m) => m.header.msg_type === "comm_close" && m.content.comm_id === "c1"), 5000);
  });

  test("history: tail, range and search", async () => {
    const a = await k.execute("const hist1 = 40 + 2;\nhist1");
    ok(a);
    const n = a.reply.content.execution_count as number;
    ok(await k.execute("'hist-marker'"));
    const tail = (await k.request("shell", "history_request", { output: true, raw: true, hist_access_type: "tail", n: 2 })).reply.content.history as unknown[];
    assert.deepEqual(tail, [[1, n, ["const hist1 = 40 + 2;\nhist1", "42"]], [1, n + 1, ["'hist-marker'", "'hist-marker'"]]]);
    const range = (await k.request("shell", "history_request", { output: false, raw: true, hist_access_type: "range", session: 0, start: n, stop: n + 1 })).reply.content.history;
    assert.deepEqual(range, [[1, n, "const hist1 = 40 + 2;\nhist1"]]);
    const search = (await k.request("shell", "history_request", { output: false, raw: true, hist_access_type: "search", pattern: "*hist-marker*" })).reply.content.history;
    assert.deepEqual(search, [[1, n + 1, "'hist-marker'"]]);
  });

  test("interrupt_request on control gets interrupt_reply while idle", async () => {
    const r = await k.request("control", "interrupt_request", {});
    assert.equal(r.reply.header.msg_type, "interrupt_reply");
    assert.equal(r.reply.content.status, "ok");
  });

  test("a forged (bad signature) or replayed execute_request is dropped and the kernel stays alive", async () => {
    const marker = join(tmpdir(), `ctxlab-forged-${process.pid}-${Date.now()}`);
    const code = `import { writeFileSync } from "fs";\nwriteFileSync(${JSON.stringify(marker)}, "x");\n(globalThis as any).forgedRan = true`;
    const forged = k.frames("execute_request", { code, silent: false }, "not-the-key");
    await k.sendRaw(forged.frames);
    const unsigned = k.frames("execute_request", { code, silent: false }, "");
    await k.sendRaw(unsigned.frames);
    const good = k.frames("execute_request", { code: "(globalThis as any).replays = ((globalThis as any).replays ?? 0) + 1", silent: false });
    await k.sendRaw(good.frames);
    await k.collect(good.msgId);
    await k.sendRaw(good.frames); // replay: same signature
    const check = await k.execute("[(globalThis as any).forgedRan ?? 'not run', (globalThis as any).replays]");
    ok(check);
    assert.equal(dataOf(check, "execute_result"), "[ 'not run', 1 ]");
    assert.equal(existsSync(marker), false);
    assert.equal(k.hasReply(forged.msgId) || k.hasReply(unsigned.msgId), false);
    assert.match(k.stderr, /dropped a message on shell: bad signature/);
    assert.match(k.stderr, /dropped a message on shell: replayed signature/);
  });

  test("all five sockets listen on 127.0.0.1 only", { skip: existsSync("/proc/net/tcp") ? false : "needs Linux /proc" }, () => {
    const pid = k.proc.pid!;
    const inodes = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]; } catch { return undefined; } }).filter(Boolean));
    const listening: string[] = [];
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[3] === "0A" && inodes.has(f[9]!)) listening.push(f[1]!);
      }
    }
    const ports = [k.info.shell_port, k.info.iopub_port, k.info.stdin_port, k.info.control_port, k.info.hb_port];
    const want = ports.map((p) => `0100007F:${p.toString(16).toUpperCase().padStart(4, "0")}`).sort();
    assert.deepEqual(listening.sort(), want);
  });

  test("output from a timer started in cell 1 and firing during cell 2 belongs to cell 1", async () => {
    const c1 = await k.execute(`import { display } from "ctxlab/kernel";\nsetTimeout(() => { console.log("late-from-cell-1"); display("display-from-cell-1"); }, 300);\n"cell 1 done"`);
    ok(c1);
    const c2 = await k.execute("await new Promise((r) => setTimeout(r, 900));\nconsole.log('cell-2-output');\n'cell 2 done'");
    ok(c2);
    assert.equal(streamText(c2), "cell-2-output\n");
    assert.equal(ofType(c2, "display_data").length, 0);
    const late = k.iopubLog.filter((m) => m.header.msg_type === "stream" && String(m.content.text).includes("late-from-cell-1"));
    assert.equal(late.length, 1);
    assert.equal(late[0]!.parent_header.msg_id, c1.reply.parent_header.msg_id);
    const disp = k.iopubLog.filter((m) => m.header.msg_type === "display_data" && (m.content.data as Record<string, string>)["text/plain"] === "'display-from-cell-1'");
    assert.equal(disp[0]?.parent_header.msg_id, c1.reply.parent_header.msg_id);
  });

  test("a thrown error becomes an error message and an error reply", async () => {
    const r = await k.execute('const before = 1;\nthrow new RangeError("boom")');
    const c = r.reply.content as Record<string, any>;
    assert.equal(c.status, "error");
    assert.equal(c.ename, "RangeError");
    assert.equal(c.evalue, "boom");
    const e = ofType(r, "error");
    assert.equal(e.length, 1);
    assert.deepEqual({ ename: e[0]!.content.ename, evalue: e[0]!.content.evalue }, { ename: "RangeError", evalue: "boom" });
    assert.ok(Array.isArray(e[0]!.content.traceback) && (e[0]!.content.traceback as string[])[0] === "RangeError: boom");
    ok(await k.execute("1 + 1"));
  });

  test("a type error is a TSError pointing at the cell's line", async () => {
    const r = await k.execute("const a = 1;\nconst b = 2;\nconst c: number = 'three';");
    const c = r.reply.content as Record<string, any>;
    assert.equal(c.ename, "TSError");
    assert.match(c.evalue, /line 3:7: Type 'string' is not assignable to type 'number'/);
    assert.equal(ofType(r, "error")[0]?.content.ename, "TSError");
    assert.equal(streamText(r, "stderr"), "", "diagnostics are not printed to stderr");
    ok(await k.execute("2 + 2"));
  });

  test("an unhandled rejection fails its cell; later async errors go to their cell's stderr", async () => {
    const r = await k.execute('Promise.reject(new Error("nobody caught me"));\n"value"');
    assert.equal(r.reply.content.status, "error");
    assert.equal(r.reply.content.ename, "UnhandledPromiseRejection");
    assert.match(String(r.reply.content.evalue), /nobody caught me/);
    assert.equal(ofType(r, "error").length, 1);
    const t = await k.execute('setTimeout(() => { throw new Error("thrown in a timer"); }, 100);\n"armed"');
    ok(t);
    ok(await k.execute("await new Promise((r) => setTimeout(r, 400)); 3"));
    const late = k.iopubLog.find((m) => m.header.msg_type === "stream" && String(m.content.text).includes("thrown in a timer"));
    assert.equal(late?.parent_header.msg_id, t.reply.parent_header.msg_id);
    assert.equal(late?.content.name, "stderr");
    ok(await k.execute("'still alive'"));
  });

  test("a Plotly-like figure gives the plotly mime + self-contained HTML (plotly.js only in the first)", async () => {
    const fig = '({ data: [{ type: "scatter", x: [1], y: [1] }], layout: {} })';
    const r1 = await k.execute(fig);
    ok(r1);
    const d1 = ofType(r1, "execute_result")[0]!.content.data as Record<string, any>;
    assert.deepEqual(d1["application/vnd.plotly.v1+json"], { data: [{ type: "scatter", x: [1], y: [1] }], layout: {} });
    assert.ok(String(d1["text/html"]).length > 1_000_000, "the first figure inlines plotly.js");
    assert.match(String(d1["text/plain"]), /Plotly figure: 1 trace/);
    const r2 = await k.execute(fig);
    const h2 = String((ofType(r2, "execute_result")[0]!.content.data as Record<string, any>)["text/html"]);
    assert.ok(h2.length < 5_000, `later figures do not repeat plotly.js (${h2.length} chars)`);
    assert.match(h2, /Plotly\.newPlot/);
    assert.match(h2, /Plotly is not loaded/);
  });

  test("a tf tensor and an arquero table give text/html + text/plain; a TF.js allocation failure is just an error", async () => {
    const t = await k.execute('import * as tf from "@tensorflow/tfjs";\ntf.tensor2d([[1, 2], [3, 4]])', 60_000);
    ok(t);
    assert.match(String(dataOf(t, "execute_result")), /tf\.Tensor float32 \[2, 2\] on \S+ +min 1 +mean 2\.5000 +max 4/);
    assert.match(String(dataOf(t, "execute_result", "text/html")), /heatmap/);
    const oom = await k.execute("tf.zeros([200_000, 200_000, 100])"); // 4e12 floats: TF.js cannot allocate it
    assert.equal(oom.reply.content.status, "error");
    assert.equal(oom.outputs.filter((m) => m.header.msg_type === "error").length, 1);
    ok(await k.execute("tf.tensor1d([1, 2]).shape"));
    const a = await k.execute('import * as aq from "arquero";\naq.table({ a: [1, 2], b: ["x", "y"] })');
    ok(a);
    assert.match(String(dataOf(a, "execute_result", "text/html")), /<table>.*<th[^>]*>a<\/th>/s);
    assert.match(String(dataOf(a, "execute_result")), /2 rows × 2 columns/);
  });

  test("a cell that leaves many new tensors alive gets a one-line warning with the count and bytes", async () => {
    const leak = await k.execute('import * as tf from "@tensorflow/tfjs";\n(globalThis as any).kept = Array.from({ length: 150 }, () => tf.ones([1000]));', 60_000);
    ok(leak);
    const err = leak.outputs.filter((m) => m.header.msg_type === "stream" && m.content.name === "stderr").map((m) => String(m.content.text)).join("");
    assert.match(err, /ctxlab: this cell left 150 new tensors alive \(0\.6 MB/);
    const clean = await k.execute("(globalThis as any).kept.forEach((t: any) => t.dispose()); 1");
    assert.equal(clean.outputs.filter((m) => m.header.msg_type === "stream").length, 0);
  });

  test("shutdown_request with restart=true is echoed, then the kernel exits cleanly", async () => {
    const r = await k.request("control", "shutdown_request", { restart: true });
    assert.equal(r.reply.header.msg_type, "shutdown_reply");
    assert.deepEqual(r.reply.content, { status: "ok", restart: true });
    assert.equal(await k.waitExit(), 0);
  });
});
