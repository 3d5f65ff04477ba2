/**
 * A small RESP client for our own processes (replica links, sentinels, the proxy) and tests.
 * Arguments and replies are binary strings (one char per byte; see resp/bytes.ts for UTF-8).
 * pipelining (every command issued in one tick leaves in one write), RESP2 or RESP3 (HELLO 3),
 * pub/sub in either protocol, connect and command timeouts, and reconnect with capped,
 * jittered exponential backoff that restores the session (auth, db, name, subscriptions).
 */
import {
  encodeCommand,
  NEED_MORE,
  RespDecoder,
  RespError,
  RespPush,
  type RespValue,
  SimpleString,
} from "./resp/mod.ts";
import { binaryToUtf8 } from "./resp/bytes.ts";

export interface ReconnectOptions {
  enabled: boolean;
  minDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}

export interface ClientOptions {
  host?: string;
  port: number;
  connectTimeoutMs?: number;
  /** 0 = none. */
  commandTimeoutMs?: number;
  protocol?: 2 | 3;
  username?: string;
  password?: string;
  clientName?: string;
  db?: number;
  reconnect?: Partial<ReconnectOptions>;
  /** Commands queued or in flight before `call` rejects at once. */
  maxPending?: number;
  /** RESP3 pushes that are not pub/sub traffic (e.g. client tracking). */
  onPush?: (push: RespValue[]) => void;
}

/** An error reply from the server. */
export class ReplyError extends Error {
  constructor(readonly reply: RespError) {
    super(reply.message);
  }
}

export class TimeoutError extends Error {}
export class ConnectionClosedError extends Error {}

type Arg = string | number | Uint8Array;
type Event = "connect" | "reconnecting" | "error" | "close";

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Subscribe-family commands are answered by one push per channel. */
  confirmations: number;
}

/** Backoff before reconnect attempt n (0-based): doubling, capped, with jitter in [50%, 100%]. */
export function backoffDelay(attempt: number, o: ReconnectOptions, rand = Math.random): number {
  const base = Math.min(o.maxDelayMs, o.minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * rand());
}

const SUBSCRIBE_KINDS = new Set(["subscribe", "psubscribe", "unsubscribe", "punsubscribe"]);

export class RedisClient {
  private conn: Deno.Conn | null = null;
  private decoder = new RespDecoder();
  private readonly queue: Pending[] = [];
  private outgoing: Uint8Array[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly listeners = new Map<Event, ((arg?: unknown) => void)[]>();
  private readonly channels = new Map<string, (channel: string, message: string) => void>();
  private readonly patterns = new Map<
    string,
    (pattern: string, channel: string, message: string) => void
  >();
  private readonly reconnectOpts: ReconnectOptions;
  private connecting: Promise<void> | null = null;
  private generation = 0;

  private constructor(private readonly opts: ClientOptions) {
    this.reconnectOpts = {
      enabled: true,
      minDelayMs: 50,
      maxDelayMs: 2000,
      maxAttempts: Infinity,
      ...opts.reconnect,
    };
  }

  static async connect(opts: ClientOptions): Promise<RedisClient> {
    const c = new RedisClient(opts);
    await c.open();
    return c;
  }

  get connected(): boolean {
    return this.conn !== null && this.connecting === null;
  }

  on(event: Event, fn: (arg?: unknown) => void): void {
    const l = this.listeners.get(event) ?? [];
    l.push(fn);
    this.listeners.set(event, l);
  }

  private emit(event: Event, arg?: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) fn(arg);
  }

  private get subscribed(): boolean {
    return this.channels.size + this.patterns.size > 0;
  }

  /** Connects and restores the session; commands issued meanwhile wait in the queue. */
  private async open(): Promise<void> {
    const host = this.opts.host ?? "127.0.0.1";
    const timeout = this.opts.connectTimeoutMs ?? 2000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const conn = await Promise.race([
      Deno.connect({ hostname: host, port: this.opts.port }),
      new Promise<never>((_, rej) => {
        timer = setTimeout(
          () => rej(new TimeoutError(`connect timeout to ${host}:${this.opts.port}`)),
          timeout,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* not TCP */ }
    this.conn = conn;
    this.decoder = new RespDecoder();
    const gen = ++this.generation;
    void this.readLoop(conn, gen);
    await this.handshake();
    this.emit("connect");
  }

  private async handshake(): Promise<void> {
    const o = this.opts;
    const first: Promise<RespValue>[] = [];
    if (o.protocol === 3) {
      const hello: Arg[] = ["HELLO", "3"];
      if (o.password !== undefined) hello.push("AUTH", o.username ?? "default", o.password);
      if (o.clientName) hello.push("SETNAME", o.clientName);
      first.push(this.send(hello, true));
    } else {
      if (o.password !== undefined) {
        first.push(
          this.send(o.username ? ["AUTH", o.username, o.password] : ["AUTH", o.password], true),
        );
      }
      if (o.clientName) first.push(this.send(["CLIENT", "SETNAME", o.clientName], true));
    }
    if (o.db) first.push(this.send(["SELECT", o.db], true));
    if (this.channels.size) {
      first.push(this.send(["SUBSCRIBE", ...this.channels.keys()], true, this.channels.size));
    }
    if (this.patterns.size) {
      first.push(this.send(["PSUBSCRIBE", ...this.patterns.keys()], true, this.patterns.size));
    }
    await Promise.all(first);
  }

  private async readLoop(conn: Deno.Conn, gen: number): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        this.decoder.push(buf.subarray(0, n));
        for (let v = this.decoder.next(); v !== NEED_MORE; v = this.decoder.next()) this.onReply(v);
      }
    } catch (e) {
      if (gen === this.generation) this.emit("error", e);
    }
    if (gen === this.generation) this.onDisconnect(new ConnectionClosedError("connection closed"));
  }

  private onReply(v: RespValue): void {
    if (
      v instanceof RespPush || (this.subscribed && this.opts.protocol !== 3 && isPubSubArray(v))
    ) {
      const items = v instanceof RespPush ? v.items : v as RespValue[];
      if (this.routePubSub(items)) return;
      if (v instanceof RespPush) {
        this.opts.onPush?.(items);
        return;
      }
    }
    this.settle(v);
  }

  /** Delivers messages; a subscribe-family confirmation settles its command. */
  private routePubSub(items: RespValue[]): boolean {
    // Channel names and messages stay binary strings: pub/sub is binary-safe.
    const kind = text(items[0]);
    if (kind === "message" && items.length === 3) {
      const ch = raw(items[1]);
      this.channels.get(ch)?.(ch, raw(items[2]));
      return true;
    }
    if (kind === "pmessage" && items.length === 4) {
      const p = raw(items[1]);
      this.patterns.get(p)?.(p, raw(items[2]), raw(items[3]));
      return true;
    }
    if (SUBSCRIBE_KINDS.has(kind)) {
      const head = this.queue[0];
      if (head && --head.confirmations <= 0) this.settle(items);
      return true;
    }
    return false;
  }

  private settle(v: RespValue): void {
    const p = this.queue.shift();
    if (!p) return;
    clearTimeout(p.timer);
    if (v instanceof RespError) p.reject(new ReplyError(v));
    else p.resolve(v);
  }

  private onDisconnect(err: Error): void {
    const conn = this.conn;
    this.conn = null;
    try {
      conn?.close();
    } catch { /* already closed */ }
    this.failAll(err);
    this.emit("close");
    if (!this.closed && this.reconnectOpts.enabled) void this.reconnect();
  }

  private failAll(err: Error): void {
    this.outgoing = [];
    for (const p of this.queue.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private reconnect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      for (let attempt = 0; attempt < this.reconnectOpts.maxAttempts && !this.closed; attempt++) {
        const delay = backoffDelay(attempt, this.reconnectOpts);
        this.emit("reconnecting", { attempt, delay });
        await new Promise((r) => setTimeout(r, delay));
        if (this.closed) return;
        try {
          await this.open();
          return;
        } catch (e) {
          this.emit("error", e);
          const conn = this.conn;
          this.conn = null;
          try {
            conn?.close();
          } catch { /* gone */ }
        }
      }
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** Queues a command. `internal` commands bypass the reconnect wait (they are the handshake). */
  private send(args: Arg[], internal = false, confirmations = 1): Promise<RespValue> {
    if (this.closed) return Promise.reject(new ConnectionClosedError("client closed"));
    const max = this.opts.maxPending ?? 10000;
    if (this.queue.length >= max) {
      return Promise.reject(new Error(`too many pending commands (maxPending ${max})`));
    }
    if (!this.conn || (this.connecting && !internal)) {
      return Promise.reject(new ConnectionClosedError("not connected"));
    }
    return new Promise<RespValue>((resolve, reject) => {
      const p: Pending = { resolve, reject, timer: undefined, confirmations };
      const t = this.opts.commandTimeoutMs ?? 5000;
      if (t > 0) {
        p.timer = setTimeout(() => {
          reject(new TimeoutError(`command timed out after ${t} ms: ${String(args[0])}`));
          // The reply stream is now misaligned: drop the connection and start over.
          const i = this.queue.indexOf(p);
          if (i >= 0) this.queue.splice(i, 1);
          this.generation++;
          this.onDisconnect(new ConnectionClosedError("connection reset after a timeout"));
        }, t);
      }
      this.queue.push(p);
      this.outgoing.push(encodeCommand(args));
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const conn = this.conn;
    if (!conn || this.outgoing.length === 0) return;
    const parts = this.outgoing;
    this.outgoing = [];
    const total = parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    try {
      for (let w = 0; w < data.length;) w += await conn.write(data.subarray(w));
    } catch (e) {
      this.emit("error", e);
    }
  }

  /** Runs a command; an error reply rejects with ReplyError. */
  call(...args: Arg[]): Promise<RespValue> {
    return this.send(args);
  }

  /** Like call, with bulk and simple strings decoded as UTF-8 text. */
  async callText(...args: Arg[]): Promise<string | null> {
    const v = await this.call(...args);
    return v === null ? null : text(v);
  }

  /** Sends all commands in one write; errors come back as values, not rejections. */
  pipeline(cmds: Arg[][]): Promise<(RespValue | RespError)[]> {
    return Promise.all(
      cmds.map((c) =>
        this.send(c).catch((e) => {
          if (e instanceof ReplyError) return e.reply;
          throw e;
        })
      ),
    );
  }

  async subscribe(
    channels: string[],
    handler: (channel: string, message: string) => void,
  ): Promise<void> {
    for (const ch of channels) this.channels.set(ch, handler);
    await this.send(["SUBSCRIBE", ...channels], false, channels.length);
  }

  async psubscribe(
    patterns: string[],
    handler: (pattern: string, channel: string, message: string) => void,
  ): Promise<void> {
    for (const p of patterns) this.patterns.set(p, handler);
    await this.send(["PSUBSCRIBE", ...patterns], false, patterns.length);
  }

  async unsubscribe(...channels: string[]): Promise<void> {
    const list = channels.length ? channels : [...this.channels.keys()];
    if (list.length === 0) return;
    await this.send(["UNSUBSCRIBE", ...list], false, list.length);
    for (const ch of list) this.channels.delete(ch);
  }

  async punsubscribe(...patterns: string[]): Promise<void> {
    const list = patterns.length ? patterns : [...this.patterns.keys()];
    if (list.length === 0) return;
    await this.send(["PUNSUBSCRIBE", ...list], false, list.length);
    for (const p of list) this.patterns.delete(p);
  }

  /** Closes for good: no reconnect; pending commands reject. */
  close(): Promise<void> {
    this.closed = true;
    this.generation++;
    const conn = this.conn;
    this.conn = null;
    try {
      conn?.close();
    } catch { /* already closed */ }
    this.failAll(new ConnectionClosedError("client closed"));
    return Promise.resolve();
  }
}

function isPubSubArray(v: RespValue): boolean {
  return Array.isArray(v) && v.length >= 3 && typeof v[0] === "string" &&
    (v[0] === "message" || v[0] === "pmessage" || SUBSCRIBE_KINDS.has(v[0]));
}

function raw(v: RespValue | undefined): string {
  return typeof v === "string" ? v : text(v);
}

/** A reply as text: bulk strings are binary strings, decoded as UTF-8 here. */
export function text(v: RespValue | undefined): string {
  if (typeof v === "string") return binaryToUtf8(v);
  if (v instanceof SimpleString) return v.value;
  return String(v);
}
