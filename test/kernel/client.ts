/**
 * A small Jupyter client for the kernel tests: starts `node dist/kernel/start.js <connection file>`
 * on 127.0.0.1 with fresh ports and key, talks to it with zeromq Dealer/Subscriber sockets and
 * HMAC-signed messages (the kernel's own wire.ts encoder), and collects iopub messages by parent.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { decode, encode, newHeader, Signer, type ConnectionInfo, type Message } from "../../kernel/wire.js";

export const REPO = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
export const START_JS = join(REPO, "dist", "kernel", "start.js");

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export interface Reply {
  reply: Message;
  /** iopub messages with this request as parent, status excluded, in arrival order */
  outputs: Message[];
  /** every iopub message with this parent, status included */
  all: Message[];
}

export class KernelClient {
  readonly iopubLog: Message[] = [];
  stderr = "";
  private readonly waiters = new Set<() => void>();
  private readonly replies = new Map<string, Message>();
  private readonly shell = new zmq.Dealer({ routingId: `shell-${randomUUID()}` });
  private readonly control = new zmq.Dealer({ routingId: `control-${randomUUID()}` });
  private readonly iopub = new zmq.Subscriber();
  private readonly signer: Signer;
  private readonly session = randomUUID();
  private exited: Promise<number | null>;

  constructor(readonly info: ConnectionInfo, readonly proc: ChildProcess, readonly dir: string) {
    this.signer = new Signer(info.key);
    this.exited = new Promise((ok) => proc.once("exit", (code) => ok(code)));
    proc.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    proc.stdout?.on("data", (d: Buffer) => (this.stderr += d.toString()));
  }

  async connect(): Promise<void> {
    const at = (port: number): string => `tcp://127.0.0.1:${port}`;
    this.shell.connect(at(this.info.shell_port));
    this.control.connect(at(this.info.control_port));
    this.iopub.connect(at(this.info.iopub_port));
    this.iopub.subscribe();
    void this.pump(this.shell);
    void this.pump(this.control);
    void this.pump(this.iopub, true);
    // the PUB socket drops messages until our subscription has arrived: retry kernel_info until iopub talks
    for (let i = 0; i < 100; i++) {
      const id = this.send("shell", "kernel_info_request", {});
      const got = await this.waitFor(() => this.iopubLog.some((m) => m.parent_header.msg_id === id), 300).then(() => true, () => false);
      if (got) return;
    }
    throw new Error(`kernel did not answer on iopub; stderr:\n${this.stderr}`);
  }

  private async pump(sock: zmq.Dealer | zmq.Subscriber, isIopub = false): Promise<void> {
    try {
      for await (const frames of sock) {
        const r = decode(frames, this.signer);
        if (!r.ok) throw new Error(`client: kernel sent a bad message: ${r.reason}`);
        if (isIopub) this.iopubLog.push(r.msg);
        else this.replies.set(String(r.msg.parent_header.msg_id), r.msg);
        for (const w of [...this.waiters]) w();
      }
    } catch {
      /* socket closed */
    }
  }

  /** Resolves when `pred()` holds (checked on every incoming message), rejects after `ms`. */
  waitFor(pred: () => boolean, ms: number): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((ok, fail) => {
      const check = (): void => {
        if (!pred()) return;
        clearTimeout(t);
        this.waiters.delete(check);
        ok();
      };
      const t = setTimeout(() => {
        this.waiters.delete(check);
        fail(new Error(`timed out after ${ms} ms; kernel stderr:\n${this.stderr.slice(-3000)}`));
      }, ms);
      this.waiters.add(check);
    });
  }

  /** Send a signed request; returns its msg_id. */
  send(channel: "shell" | "control", type: string, content: object): string {
    const header = newHeader(type, this.session);
    const msg: Message<object> = { identities: [], header, parent_header: {}, metadata: {}, content, buffers: [] };
    void (channel === "shell" ? this.shell : this.control).send(encode(msg, this.signer));
    return header.msg_id;
  }

  /** Send frames as they are (forged or replayed messages). */
  sendRaw(frames: Buffer[]): Promise<void> {
    return this.shell.send(frames);
  }

  /** Frames of a message signed with `key` (the right one by default), and its msg_id. */
  frames(type: string, content: object, key = this.info.key): { frames: Buffer[]; msgId: string } {
    const msg: Message<object> = { identities: [], header: newHeader(type, this.session), parent_header: {}, metadata: {}, content, buffers: [] };
    return { frames: encode(msg, new Signer(key)), msgId: msg.header.msg_id };
  }

  /** True when a reply to `msgId` has arrived. */
  hasReply(msgId: string): boolean {
    return this.replies.has(msgId);
  }

  /** The reply to `msgId` plus its iopub traffic up to the idle status. */
  async collect(msgId: string, ms = 30_000): Promise<Reply> {
    const mine = (): Message[] => this.iopubLog.filter((m) => m.parent_header.msg_id === msgId);
    const idle = (): boolean => mine().some((m) => m.header.msg_type === "status" && m.content.execution_state === "idle");
    await this.waitFor(() => this.replies.has(msgId) && idle(), ms);
    return { reply: this.replies.get(msgId)!, outputs: mine().filter((m) => m.header.msg_type !== "status"), all: mine() };
  }

  async request(channel: "shell" | "control", type: string, content: object, ms?: number): Promise<Reply> {
    return this.collect(this.send(channel, type, content), ms);
  }

  execute(code: string, ms?: number, extra: object = {}): Promise<Reply> {
    return this.request("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false, ...extra }, ms);
  }

  /** Shut down politely (falls back to SIGKILL) and clean up. */
  async close(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.send("control", "shutdown_request", { restart: false });
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(t);
    }
    for (const s of [this.shell, this.control, this.iopub]) {
      s.linger = 0;
      s.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
    return this.proc.exitCode;
  }

  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** node arguments for a connection file (default: dist/kernel/start.js <file>) */
  args?: (connectionFile: string) => string[];
}

/** Start a kernel process on 127.0.0.1 and connect to it. */
export async function startKernel(o: StartOptions = {}): Promise<KernelClient> {
  const dir = mkdtempSync(join(tmpdir(), "ctxlab-kernel-"));
  const [shell, iopub, stdin, control, hb] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const info: ConnectionInfo = { ip: "127.0.0.1", transport: "tcp", key: randomBytes(16).toString("hex"), signature_scheme: "hmac-sha256", shell_port: shell, iopub_port: iopub, stdin_port: stdin, control_port: control, hb_port: hb };
  const file = join(dir, "connection.json");
  writeFileSync(file, JSON.stringify(info));
  const proc = spawn(process.execPath, o.args ? o.args(file) : [START_JS, file], { cwd: o.cwd ?? join(REPO, "notebooks"), env: { ...process.env, ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
  const client = new KernelClient(info, proc, dir);
  await client.connect();
  return client;
}

/** text/plain (or another mime) of the first message of `type` in `r.outputs`. */
export function dataOf(r: Reply, type: string, mime = "text/plain"): unknown {
  return (r.outputs.find((m) => m.header.msg_type === type)?.content.data as Record<string, unknown> | undefined)?.[mime];
}

export function streamText(r: Reply, name: "stdout" | "stderr" = "stdout"): string {
  return r.outputs.filter((m) => m.header.msg_type === "stream" && m.content.name === name).map((m) => String(m.content.text)).join("");
}
