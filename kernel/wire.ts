/**
 * Layer 1 of the ctxlab kernel: the Jupyter wire protocol (messaging spec 5.3).
 *
 * Reads the connection file, binds the five ZeroMQ sockets (shell ROUTER, control ROUTER, stdin
 * ROUTER, iopub PUB, heartbeat REP) to exactly the `ip` and ports it names, and turns frames into
 * messages and back:
 *
 *   [identities…, "<IDS|MSG>", HMAC, header, parent_header, metadata, content, buffers…]
 *
 * The HMAC (the connection file's `signature_scheme`, normally hmac-sha256, keyed by `key`) covers
 * the four JSON frames. Verification uses a timing-safe compare; a message with a bad signature, a
 * reused signature (replay) or malformed JSON is logged and DROPPED — it never reaches the handler.
 * Nothing here knows what a message means (that is handler.ts).
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import * as zmq from "zeromq";

export interface ConnectionInfo {
  ip: string;
  transport: string;
  key: string;
  signature_scheme: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  kernel_name?: string;
}

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [extra: string]: unknown;
}

export type Content = Record<string, unknown>;

export interface Message<C = Content> {
  /** ZeroMQ routing prefix (ROUTER sockets); replies copy the request's */
  identities: Buffer[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Content;
  content: C;
  buffers: Buffer[];
}

export type Channel = "shell" | "control" | "stdin" | "iopub";

export const PROTOCOL_VERSION = "5.3";
const DELIM = Buffer.from("<IDS|MSG>");

export function readConnectionFile(path: string): ConnectionInfo {
  const info = JSON.parse(readFileSync(path, "utf8")) as Partial<ConnectionInfo>;
  for (const k of ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const) {
    if (!Number.isInteger(info[k])) throw new Error(`connection file ${path}: ${k} is missing`);
  }
  if (typeof info.ip !== "string") throw new Error(`connection file ${path}: ip is missing`);
  return { ...(info as ConnectionInfo), transport: info.transport ?? "tcp", signature_scheme: info.signature_scheme ?? "hmac-sha256", key: info.key ?? "" };
}

/** Signs and verifies the HMAC of a message's four JSON frames. An empty key disables signing. */
export class Signer {
  private readonly algorithm: string;
  /** signatures seen recently: a second message with the same one is a replay */
  private readonly seen = new Set<string>();

  constructor(private readonly key: string, scheme = "hmac-sha256", private readonly historySize = 4096) {
    if (!scheme.startsWith("hmac-")) throw new Error(`unsupported signature_scheme ${scheme}`);
    this.algorithm = scheme.slice("hmac-".length);
  }

  sign(parts: readonly (string | Buffer)[]): string {
    if (!this.key) return "";
    const h = createHmac(this.algorithm, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  /** True when `signature` is right for `parts` (timing-safe) and has not been seen before. */
  verify(signature: string, parts: readonly Buffer[]): { ok: true } | { ok: false; reason: string } {
    if (!this.key) return { ok: true };
    const want = Buffer.from(this.sign(parts), "utf8");
    const got = Buffer.from(signature, "utf8");
    if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: "bad signature" };
    if (this.seen.has(signature)) return { ok: false, reason: "replayed signature" };
    this.seen.add(signature);
    if (this.seen.size > this.historySize) this.seen.delete(this.seen.values().next().value as string);
    return { ok: true };
  }
}

/** Frames → message, or the reason it must be dropped. */
export function decode(frames: readonly Buffer[], signer: Signer): { ok: true; msg: Message } | { ok: false; reason: string } {
  const d = frames.findIndex((f) => f.equals(DELIM));
  if (d < 0) return { ok: false, reason: "no <IDS|MSG> delimiter" };
  if (frames.length < d + 6) return { ok: false, reason: `too few frames (${frames.length})` };
  const parts = frames.slice(d + 2, d + 6);
  const v = signer.verify(frames[d + 1]!.toString("utf8"), parts);
  if (!v.ok) return v;
  try {
    const [header, parent_header, metadata, content] = parts.map((p) => JSON.parse(p.toString("utf8")));
    if (!header || typeof header.msg_type !== "string") return { ok: false, reason: "header without msg_type" };
    return { ok: true, msg: { identities: frames.slice(0, d), header, parent_header: parent_header ?? {}, metadata: metadata ?? {}, content: content ?? {}, buffers: frames.slice(d + 6) } };
  } catch (e) {
    return { ok: false, reason: `malformed JSON: ${(e as Error).message}` };
  }
}

/** Message → frames, signed. */
export function encode(msg: Message<object>, signer: Signer): Buffer[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) => Buffer.from(JSON.stringify(p), "utf8"));
  return [...msg.identities, DELIM, Buffer.from(signer.sign(parts), "utf8"), ...parts, ...msg.buffers];
}

export function newHeader(msgType: string, session: string): Header {
  return { msg_id: randomUUID(), session, username: "ctxlab", date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION };
}

/** A message answering (or published on behalf of) `parent`; replies go back to its identities. */
export function messageFor<C extends object>(parent: Message<unknown> | undefined, msgType: string, content: C, session: string): Message<C> {
  return {
    identities: parent?.identities ?? [],
    header: newHeader(msgType, session),
    parent_header: parent?.header ?? {},
    metadata: {},
    content,
    buffers: [],
  };
}

export type Log = (...args: unknown[]) => void;
type Receiver = (channel: Exclude<Channel, "iopub">, msg: Message) => void;

function address(info: ConnectionInfo, port: number): string {
  return info.transport === "ipc" ? `ipc://${info.ip}-${port}` : `${info.transport}://${info.ip}:${port}`;
}

interface Queued {
  frames: Buffer[];
  done: () => void;
}

const isBusy = (e: unknown): boolean => (e as { code?: string })?.code === "EBUSY";

/**
 * The five sockets of one kernel. A send goes out synchronously when the socket is free — so
 * output printed before a long synchronous computation leaves at once — and is queued in order
 * otherwise (zeromq allows one send in flight per socket).
 */
export class Wire {
  private readonly sockets: Record<Channel, zmq.Router | zmq.Publisher>;
  private readonly hb = new zmq.Reply();
  private readonly queues = new Map<Channel, Queued[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  private constructor(private readonly signer: Signer, private readonly log: Log) {
    this.sockets = { shell: new zmq.Router(), control: new zmq.Router(), stdin: new zmq.Router(), iopub: new zmq.Publisher() };
  }

  /** Bind every socket to the connection file's ip/ports and start receiving. */
  static async open(info: ConnectionInfo, receive: Receiver, log: Log): Promise<Wire> {
    const w = new Wire(new Signer(info.key, info.signature_scheme), log);
    const s = w.sockets;
    await Promise.all([
      s.shell.bind(address(info, info.shell_port)),
      s.control.bind(address(info, info.control_port)),
      s.stdin.bind(address(info, info.stdin_port)),
      s.iopub.bind(address(info, info.iopub_port)),
      w.hb.bind(address(info, info.hb_port)),
    ]);
    for (const ch of ["shell", "control", "stdin"] as const) void w.receiveLoop(ch, s[ch] as zmq.Router, receive);
    void w.heartbeat();
    return w;
  }

  private async receiveLoop(channel: Exclude<Channel, "iopub">, sock: zmq.Router, receive: Receiver): Promise<void> {
    try {
      for await (const frames of sock) {
        const r = decode(frames, this.signer);
        if (!r.ok) {
          this.log(`wire: dropped a message on ${channel}: ${r.reason}`);
          continue;
        }
        try {
          receive(channel, r.msg);
        } catch (e) {
          this.log(`wire: handler failed on ${r.msg.header.msg_type}:`, e);
        }
      }
    } catch (e) {
      if (!this.closed) this.log(`wire: ${channel} receive loop ended:`, e);
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      for await (const frames of this.hb) await this.hb.send(frames);
    } catch (e) {
      if (!this.closed) this.log("wire: heartbeat ended:", e);
    }
  }

  /** Sign and send; resolves when zeromq has taken the frames. Never rejects (failures are logged). */
  send(channel: Channel, msg: Message<object>): Promise<void> {
    if (this.closed) return Promise.resolve();
    const frames = encode(msg, this.signer);
    const queue = this.queues.get(channel) ?? [];
    this.queues.set(channel, queue);
    if (queue.length === 0) {
      try {
        return this.track(this.sockets[channel].send(frames), msg.header.msg_type);
      } catch (e) {
        if (!isBusy(e)) return this.track(Promise.reject(e), msg.header.msg_type);
      }
    }
    const sent = new Promise<void>((done) => queue.push({ frames, done }));
    if (queue.length === 1) void this.drain(channel, queue);
    return this.track(sent, msg.header.msg_type);
  }

  private track(p: Promise<void>, what: string): Promise<void> {
    const t = p.catch((e) => this.log(`wire: send ${what} failed:`, e));
    this.inFlight.add(t);
    void t.finally(() => this.inFlight.delete(t));
    return t;
  }

  private async drain(channel: Channel, queue: Queued[]): Promise<void> {
    while (queue.length && !this.closed) {
      const head = queue[0]!;
      try {
        await this.sockets[channel].send(head.frames);
      } catch (e) {
        if (isBusy(e)) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        this.log(`wire: send on ${channel} failed:`, e);
      }
      queue.shift();
      head.done();
    }
  }

  /** Wait for queued sends, then close every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    const deadline = new Promise((r) => setTimeout(r, 2000).unref());
    await Promise.race([(async () => { while (this.inFlight.size) await Promise.all(this.inFlight); })(), deadline]);
    this.closed = true;
    for (const s of [...Object.values(this.sockets), this.hb]) {
      s.linger = 500;
      s.close();
    }
  }
}
