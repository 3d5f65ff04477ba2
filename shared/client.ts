/**
 * A small RESP client for our own processes (replica links, sentinels, the proxy) and tests.
 *
 * Arguments and replies are binary strings (one char per byte; resp/bytes.ts converts UTF-8).
 * Every command issued in one tick leaves in one socket write, so pipelining needs no API.
 * RESP2 or RESP3 (HELLO 3), pub/sub in either, connect and command timeouts, and reconnect with
 * capped, jittered exponential backoff that restores the session (auth, name, db, subscriptions).
 * Commands issued while reconnecting wait (bounded by maxPending) and go out once it succeeds;
 * commands already sent when a connection dies are rejected, as they may or may not have run.
 */
import {
  binaryToUtf8,
  bytesToBinary,
  NEED_MORE,
  ProtocolError,
  RespDecoder,
  RespError,
  RespPush,
  type RespValue,
  RespVerbatim,
  RespWriter,
  SimpleString,
  writeCommand,
} from "./resp/mod.ts";

export type Arg = string | number | Uint8Array;

export interface ReconnectOptions {
  enabled: boolean;
  minDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}

export interface ClientOptions {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
  /** TCP connect plus handshake (HELLO/AUTH/SELECT/...). Default 2000. */
  connectTimeoutMs?: number;
  /** Per command, from the call; 0 = none. Default 5000. */
  commandTimeoutMs?: number;
  /** 3 sends HELLO 3 first (with AUTH and SETNAME folded in). Default 2. */
  protocol?: 2 | 3;
  username?: string;
  password?: string;
  clientName?: string;
  db?: number;
  reconnect?: Partial<ReconnectOptions>;
  /** Commands queued or in flight before `call` rejects at once. Default 10000. */
  maxPending?: number;
  /** RESP3 pushes that are not pub/sub traffic (e.g. client-side caching invalidations). */
  onPush?: (push: RespPush) => void;
}

/** Listener arguments per event. */
export interface ClientEvents {
  /** A connection is up and its session restored. */
  connect: void;
  /** A reconnect attempt is scheduled after `delayMs`. */
  reconnecting: { attempt: number; delayMs: number };
  /** Failed reconnect attempts, protocol errors, exceptions thrown by message handlers. */
  error: Error;
  /** A connection ended, for the given reason. */
  close: Error;
}

export type ClientEvent = keyof ClientEvents;
type Listener<E extends ClientEvent> = (arg: ClientEvents[E]) => void;

export type MessageHandler = (channel: string, message: string) => void;
export type PatternHandler = (pattern: string, channel: string, message: string) => void;

/** An error reply from the server; `message` is its text, e.g. `WRONGTYPE Operation ...`. */
export class ReplyError extends Error {
  constructor(readonly reply: RespError) {
    super(reply.message);
    this.name = "ReplyError";
  }

  /** The error code: `ERR`, `WRONGTYPE`, `MOVED`, ... */
  get code(): string {
    return this.reply.code;
  }
}

export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimeoutError";
  }
}

/** The connection went away (or the client was closed) before the reply arrived. */
export class ConnectionClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionClosedError";
  }
}

/** More than maxPending commands would be waiting. */
export class QueueFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueueFullError";
  }
}

/** A command this client cannot run in its current state, or at all. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Backoff before reconnect attempt n (0-based): doubling, capped, with jitter in [50%, 100%]. */
export function backoffDelay(
  attempt: number,
  o: Pick<ReconnectOptions, "minDelayMs" | "maxDelayMs">,
  rand: () => number = Math.random,
): number {
  const base = Math.min(o.maxDelayMs, o.minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (base / 2) * rand());
}

/** A reply as text: bulk, simple and verbatim strings decoded as UTF-8, integers printed. */
export function replyText(v: RespValue): string | null {
  if (v === null) return null;
  if (typeof v === "string") return binaryToUtf8(v);
  if (v instanceof SimpleString) return binaryToUtf8(v.value);
  if (v instanceof RespVerbatim) return binaryToUtf8(v.text);
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  throw new TypeError(`reply is not a string: ${Array.isArray(v) ? "array" : typeof v}`);
}

type SubKind = "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe";

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  /** Epoch ms; Infinity when the command has no timeout. */
  deadline: number;
  timeoutMs: number;
  /** The command name, for error messages. */
  name: string;
  /** Held only while the command waits for a connection; null once encoded. */
  args: readonly Arg[] | null;
  /** Subscribe-family commands are answered by one confirmation per channel. */
  sub: SubKind | null;
  confirms: number;
}

/** A FIFO with O(1) shift: a pipeline of 10,000 replies must not cost 10,000 array shifts. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    this.items.push(x);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) this.drain();
    else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

/** Commands whose replies do not fit one-reply-per-command, or that reset the session. */
const UNSUPPORTED: Record<string, string> = {
  SUBSCRIBE: "use subscribe()",
  PSUBSCRIBE: "use psubscribe()",
  UNSUBSCRIBE: "use unsubscribe()",
  PUNSUBSCRIBE: "use punsubscribe()",
  SSUBSCRIBE: "sharded pub/sub is not supported by this client",
  SUNSUBSCRIBE: "sharded pub/sub is not supported by this client",
  MONITOR: "MONITOR streams replies; use a raw connection",
  RESET: "RESET would silently undo the session this client restores; close and reconnect",
};

/** What a RESP2 connection in subscribed mode still accepts. */
const SUBSCRIBED_MODE_OK = new Set(["PING", "QUIT"]);

/** Chars above 255: the string is text, not a binary string. */
const NOT_BINARY = /[\u0100-\uffff]/;

type State = "connecting" | "ready" | "backoff" | "closed" | "failed";

export class RedisClient {
  private state: State = "connecting";
  private conn: Deno.TcpConn | null = null;
  /** Identifies the current connection: readers, writers and timers of older ones stand down. */
  private gen = 0;
  private decoder = new RespDecoder();
  /** One read buffer for the client's lifetime; the decoder copies what it keeps. */
  private readonly readBuf = new Uint8Array(64 * 1024);
  private readDone: Promise<void> = Promise.resolve();
  /** Commands are encoded into `out`; the writer swaps it with `spare` while a write runs. */
  private out = new RespWriter(16 * 1024);
  private spare = new RespWriter(16 * 1024);
  private flushQueued = false;
  private writing = false;
  /** Sent (or encoded for the current connection), in reply order. */
  private readonly inflight = new Fifo<Pending>();
  /** Issued while there was no usable connection; sent after the next handshake. */
  private readonly waiting = new Fifo<Pending>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | null = null;
  private dialAbort: AbortController | null = null;
  private dialing: Promise<unknown> = Promise.resolve();
  /** The server's subscription count, from the latest confirmation. */
  private serverSubs = 0;
  private readonly channels = new Map<string, MessageHandler>();
  private readonly patterns = new Map<string, PatternHandler>();
  private readonly listeners: { [E in ClientEvent]: Set<Listener<E>> } = {
    connect: new Set(),
    reconnecting: new Set(),
    error: new Set(),
    close: new Set(),
  };
  private readonly reconnectOpts: ReconnectOptions;
  private readonly commandTimeoutMs: number;
  private readonly maxPending: number;

  private constructor(private readonly opts: ClientOptions) {
    this.reconnectOpts = {
      enabled: true,
      minDelayMs: 50,
      maxDelayMs: 2000,
      maxAttempts: Infinity,
      ...opts.reconnect,
    };
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 5000;
    this.maxPending = opts.maxPending ?? 10000;
  }

  /** Connects once (no retry) and runs the handshake; rejects if either fails. */
  static async connect(opts: ClientOptions): Promise<RedisClient> {
    const c = new RedisClient(opts);
    try {
      await c.establish();
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** True while a connection is up and its session restored. */
  get connected(): boolean {
    return this.state === "ready";
  }

  /** A method, not a field test: TypeScript would keep narrowing `state` across awaits. */
  private isClosed(): boolean {
    return this.state === "closed";
  }

  /** This side's address of the current connection ("" when there is none). */
  get localAddress(): string {
    return (this.conn?.localAddr as Deno.NetAddr | undefined)?.hostname ?? "";
  }

  /** The peer's IP address of the current connection ("" when there is none). */
  get remoteAddress(): string {
    return (this.conn?.remoteAddr as Deno.NetAddr | undefined)?.hostname ?? "";
  }

  /** Commands waiting for a connection or for their reply. */
  get pending(): number {
    return this.inflight.length + this.waiting.length;
  }

  /** Adds a listener; returns a function that removes it. */
  on<E extends ClientEvent>(event: E, fn: Listener<E>): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  private emit<E extends ClientEvent>(event: E, arg: ClientEvents[E]): void {
    for (const fn of this.listeners[event]) {
      try {
        fn(arg);
      } catch (e) {
        // A throwing listener must not break the read loop; an error listener gets no second go.
        if (event !== "error") this.emit("error", asError(e));
      }
    }
  }

  // ---- commands ----

  /** Runs a command; an error reply rejects with ReplyError. */
  call(...args: Arg[]): Promise<RespValue> {
    const err = this.admit(1) ?? this.misuse(args);
    if (err) return Promise.reject(err);
    return this.submit(args, null, 0);
  }

  /** Like call, with the reply as text (see replyText). */
  async callText(...args: Arg[]): Promise<string | null> {
    return replyText(await this.call(...args));
  }

  /** Sends all commands together; error replies come back as values, not rejections. */
  pipeline(cmds: readonly (readonly Arg[])[]): Promise<(RespValue | RespError)[]> {
    let err = this.admit(cmds.length);
    for (let i = 0; !err && i < cmds.length; i++) err = this.misuse(cmds[i]!);
    if (err) return Promise.reject(err);
    return Promise.all(cmds.map((c) => this.submit(c, null, 0).catch(replyAsValue)));
  }

  /** Why no further command is accepted now, or null. */
  private admit(n: number): Error | null {
    if (this.isClosed()) return new ConnectionClosedError("client closed");
    if (this.state === "failed") {
      return new ConnectionClosedError("client gave up reconnecting");
    }
    if (this.pending + n > this.maxPending) {
      return new QueueFullError(`too many pending commands (maxPending ${this.maxPending})`);
    }
    return null;
  }

  /** Commands that would desynchronise replies, or that RESP2 subscribed mode refuses. */
  private misuse(args: readonly Arg[]): Error | null {
    if (args.length === 0) return new UsageError("empty command");
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (typeof a === "string" && NOT_BINARY.test(a)) {
        return new UsageError(`argument ${i} is not a binary string; convert it (utf8ToBinary)`);
      }
    }
    const name = commandName(args[0]!).toUpperCase();
    const why = UNSUPPORTED[name] ??
      (name === "CLIENT" && commandName(args[1] ?? "").toUpperCase() === "REPLY"
        ? "CLIENT REPLY would desynchronise replies"
        : undefined);
    if (why) return new UsageError(`${name}: ${why}`);
    if (this.opts.protocol !== 3 && this.subscribedLocally() && !SUBSCRIBED_MODE_OK.has(name)) {
      return new UsageError(
        `${name}: a RESP2 connection in subscribed mode only accepts ` +
          "(P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT",
      );
    }
    return null;
  }

  /** Queues a command: written now when connected, else held until the next handshake. */
  private submit(args: readonly Arg[], sub: SubKind | null, confirms: number): Promise<RespValue> {
    return new Promise<RespValue>((resolve, reject) => {
      const t = this.commandTimeoutMs;
      const p: Pending = {
        resolve,
        reject,
        deadline: t > 0 ? Date.now() + t : Infinity,
        timeoutMs: t,
        name: commandName(args[0] ?? ""),
        args: null,
        sub,
        confirms,
      };
      if (this.state === "ready") this.write(p, args);
      else {
        p.args = args;
        this.waiting.push(p);
      }
      this.armTimer(p.deadline);
    });
  }

  private write(p: Pending, args: readonly Arg[]): void {
    writeCommand(this.out, args);
    this.inflight.push(p);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => void this.flush());
  }

  /** One writer at a time; everything encoded while a write runs leaves in the next one. */
  private async flush(): Promise<void> {
    this.flushQueued = false;
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.conn && this.out.size > 0) {
        const conn = this.conn;
        const gen = this.gen;
        const batch = this.out;
        this.out = this.spare;
        this.spare = batch;
        try {
          const bytes = batch.view();
          for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        } catch (e) {
          if (gen === this.gen) this.dropConnection(asError(e));
        } finally {
          batch.reset();
        }
      }
    } finally {
      this.writing = false;
    }
  }

  // ---- timeouts ----

  /** One timer for all commands: deadlines grow in queue order, so only heads can expire. */
  private armTimer(deadline: number): void {
    if (deadline === Infinity || deadline >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, deadline - Date.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    // Unsent commands expire alone: the connection is not to blame.
    for (let p = this.waiting.peek(); p && p.deadline <= now; p = this.waiting.peek()) {
      this.waiting.shift();
      p.reject(timeoutError(p));
    }
    const head = this.inflight.peek();
    if (head && head.deadline <= now) {
      this.inflight.shift();
      head.reject(timeoutError(head));
      // Its reply may still come and would be taken for the next command's: start afresh.
      this.dropConnection(new ConnectionClosedError("connection reset after a command timeout"));
    }
    this.armTimer(Math.min(
      this.inflight.peek()?.deadline ?? Infinity,
      this.waiting.peek()?.deadline ?? Infinity,
    ));
  }

  // ---- connection lifecycle ----

  /** Connects and runs the handshake; commands that waited for it go out right after. */
  private async establish(): Promise<void> {
    this.state = "connecting";
    // The previous reader must be done with the shared read buffer.
    await this.readDone;
    if (this.isClosed()) throw new ConnectionClosedError("client closed");
    const timeoutMs = this.opts.connectTimeoutMs ?? 2000;
    const deadline = Date.now() + timeoutMs;
    const conn = await this.dial(timeoutMs);
    try {
      conn.setNoDelay(true);
      conn.setKeepAlive(true);
    } catch { /* best effort */ }
    this.conn = conn;
    const gen = ++this.gen;
    this.decoder = new RespDecoder();
    this.serverSubs = 0;
    this.readDone = this.readLoop(conn, gen);
    try {
      await Promise.all(this.handshake(deadline));
    } catch (e) {
      if (gen === this.gen) this.dropConnection(asError(e));
      throw e;
    }
    if (gen !== this.gen || this.state !== "connecting") {
      throw new ConnectionClosedError("connection lost during the handshake");
    }
    this.state = "ready";
    for (const p of this.waiting.drain()) {
      const args = p.args!;
      p.args = null;
      this.write(p, args);
    }
    this.emit("connect", undefined);
  }

  private async dial(timeoutMs: number): Promise<Deno.TcpConn> {
    const host = this.opts.host ?? "127.0.0.1";
    const abort = new AbortController();
    this.dialAbort = abort;
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const dialing = Deno.connect({ hostname: host, port: this.opts.port, signal: abort.signal });
    // close() waits for this, so a connection that completes after it is closed at once.
    this.dialing = dialing.then((c) => this.state === "closed" && closeQuietly(c), () => {});
    try {
      const conn = await dialing;
      if (!this.isClosed()) return conn;
      closeQuietly(conn);
      throw new ConnectionClosedError("client closed");
    } catch (e) {
      if (this.isClosed()) throw new ConnectionClosedError("client closed");
      if (abort.signal.aborted) {
        throw new TimeoutError(
          `connect to ${host}:${this.opts.port} timed out after ${timeoutMs} ms`,
        );
      }
      throw e;
    } finally {
      clearTimeout(timer);
      this.dialAbort = null;
    }
  }

  /** HELLO/AUTH, SETNAME, SELECT, then subscriptions (last: RESP2 subscribed mode refuses more). */
  private handshake(deadline: number): Promise<RespValue>[] {
    const o = this.opts;
    const cmds: [Arg[], SubKind | null, number][] = [];
    if (o.protocol === 3) {
      const hello: Arg[] = ["HELLO", "3"];
      if (o.password !== undefined) hello.push("AUTH", o.username ?? "default", o.password);
      if (o.clientName) hello.push("SETNAME", o.clientName);
      cmds.push([hello, null, 0]);
    } else {
      if (o.password !== undefined) {
        const auth = o.username === undefined ? [o.password] : [o.username, o.password];
        cmds.push([["AUTH", ...auth], null, 0]);
      }
      if (o.clientName) cmds.push([["CLIENT", "SETNAME", o.clientName], null, 0]);
    }
    if (o.db) cmds.push([["SELECT", o.db], null, 0]);
    const channels = [...this.channels.keys()];
    const patterns = [...this.patterns.keys()];
    if (channels.length) cmds.push([["SUBSCRIBE", ...channels], "subscribe", channels.length]);
    if (patterns.length) cmds.push([["PSUBSCRIBE", ...patterns], "psubscribe", patterns.length]);
    return cmds.map(([args, sub, confirms]) =>
      new Promise<RespValue>((resolve, reject) => {
        const name = commandName(args[0]!);
        const timeoutMs = this.opts.connectTimeoutMs ?? 2000;
        const p = { resolve, reject, deadline, timeoutMs, name, args: null, sub, confirms };
        this.write(p, args);
        this.armTimer(deadline);
      })
    );
  }

  private async readLoop(conn: Deno.TcpConn, gen: number): Promise<void> {
    let reason: Error = new ConnectionClosedError("connection closed by the server");
    try {
      for (;;) {
        const n = await conn.read(this.readBuf);
        if (n === null || gen !== this.gen) break;
        this.decoder.push(this.readBuf.subarray(0, n));
        for (let v = this.decoder.next(); v !== NEED_MORE; v = this.decoder.next()) {
          this.onValue(v);
          // A handler or the reply itself may have replaced the connection.
          if (gen !== this.gen) return;
        }
      }
    } catch (e) {
      if (gen !== this.gen) return;
      reason = asError(e);
      // I/O errors are just a lost connection (the close event); bad bytes are a real fault.
      if (e instanceof ProtocolError) this.emit("error", reason);
    }
    if (gen === this.gen) this.dropConnection(reason);
  }

  /** Ends the current connection: what was sent is lost, and a lost ready link reconnects. */
  private dropConnection(reason: Error): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = null;
    this.gen++;
    closeQuietly(conn);
    // Bytes not yet written were meant for the dead connection; their commands fail below.
    this.out.reset();
    this.serverSubs = 0;
    const err = reason instanceof ConnectionClosedError
      ? reason
      : new ConnectionClosedError(`connection lost: ${reason.message}`);
    for (const p of this.inflight.drain()) p.reject(err);
    this.emit("close", reason);
    // While connecting, the handshake's rejection tells establish() instead.
    if (this.state !== "ready") return;
    if (this.reconnectOpts.enabled) void this.reconnect();
    else this.fail(err);
  }

  private async reconnect(): Promise<void> {
    const o = this.reconnectOpts;
    let last: Error | null = null;
    for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
      const delayMs = backoffDelay(attempt - 1, o);
      this.state = "backoff";
      this.emit("reconnecting", { attempt, delayMs });
      await this.sleep(delayMs);
      if (this.isClosed()) return;
      try {
        await this.establish();
        return;
      } catch (e) {
        if (this.isClosed()) return;
        last = asError(e);
        this.emit("error", last);
      }
    }
    const why = last ? `: ${last.message}` : "";
    this.fail(new ConnectionClosedError(`gave up after ${o.maxAttempts} reconnect attempts${why}`));
    this.emit("error", new ConnectionClosedError(`gave up reconnecting${why}`));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
    });
  }

  /** No more connections: commands still waiting fail, later ones are refused. */
  private fail(err: Error): void {
    this.state = "failed";
    for (const p of this.waiting.drain()) p.reject(err);
  }

  /**
   * Closes for good: no reconnect; waiting and in-flight commands reject. Settles without a
   * trip through the event loop (unless a connect is under way), so a caller can still attach
   * handlers to commands it issued just before.
   */
  async close(): Promise<void> {
    if (!this.isClosed()) {
      this.state = "closed";
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      clearTimeout(this.sleepTimer);
      this.wake?.();
      this.wake = null;
      this.dialAbort?.abort();
      const err = new ConnectionClosedError("client closed");
      for (const p of this.waiting.drain()) p.reject(err);
      this.dropConnection(err);
    }
    await this.dialing;
  }

  /** `await using c = await RedisClient.connect(...)` closes the client at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- replies and pub/sub ----

  private onValue(v: RespValue): void {
    if (v instanceof RespPush) {
      if (!this.routePubSub(v.items)) this.deliver(() => this.opts.onPush?.(v));
      return;
    }
    // RESP2 has no pushes: pub/sub traffic looks like replies, and only in subscribed mode.
    if (Array.isArray(v) && this.resp2PubSubPossible() && this.routePubSub(v)) return;
    this.settle(v);
  }

  private resp2PubSubPossible(): boolean {
    if (this.opts.protocol === 3) return false;
    return this.serverSubs > 0 || (this.inflight.peek()?.sub ?? null) !== null;
  }

  /** Delivers messages and takes confirmations; false when `items` is not pub/sub traffic. */
  private routePubSub(items: RespValue[]): boolean {
    const kind = kindOf(items[0]);
    if (kind === "message" && items.length === 3) {
      const [, ch, msg] = items;
      if (typeof ch !== "string" || typeof msg !== "string") return false;
      const h = this.channels.get(ch);
      if (h) this.deliver(() => h(ch, msg));
      return true;
    }
    if (kind === "pmessage" && items.length === 4) {
      const [, pat, ch, msg] = items;
      if (typeof pat !== "string" || typeof ch !== "string" || typeof msg !== "string") {
        return false;
      }
      const h = this.patterns.get(pat);
      if (h) this.deliver(() => h(pat, ch, msg));
      return true;
    }
    if (isSubKind(kind) && items.length === 3) return this.confirm(kind, items);
    return false;
  }

  private confirm(kind: SubKind, items: RespValue[]): boolean {
    const count = items[2];
    if (typeof count === "number") this.serverSubs = count;
    const head = this.inflight.peek();
    if (head?.sub === kind) {
      if (--head.confirms <= 0) this.settle(items);
      return true;
    }
    // Unasked for: RESP3 hands it to onPush; in RESP2 it can only be dropped.
    return this.opts.protocol !== 3;
  }

  private settle(v: RespValue): void {
    const p = this.inflight.shift();
    if (!p) {
      this.emit("error", new Error("reply without a pending command"));
      this.dropConnection(new ConnectionClosedError("replies out of step; connection reset"));
      return;
    }
    if (v instanceof RespError) p.reject(new ReplyError(v));
    else p.resolve(v);
  }

  /** Runs a user callback; an exception goes to the error event, not into the read loop. */
  private deliver(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.emit("error", asError(e));
    }
  }

  private subscribedLocally(): boolean {
    return this.channels.size + this.patterns.size > 0;
  }

  /** Subscribes to channels (binary strings); one handler per channel, the latest wins. */
  subscribe(channels: readonly string[], handler: MessageHandler): Promise<void> {
    return this.addSubs("subscribe", this.channels, channels, handler);
  }

  /** Subscribes to glob patterns; the handler gets (pattern, channel, message). */
  psubscribe(patterns: readonly string[], handler: PatternHandler): Promise<void> {
    return this.addSubs("psubscribe", this.patterns, patterns, handler);
  }

  /** Unsubscribes from the channels, or from all when none are given. */
  unsubscribe(...channels: string[]): Promise<void> {
    return this.dropSubs("unsubscribe", this.channels, channels);
  }

  /** Unsubscribes from the patterns, or from all when none are given. */
  punsubscribe(...patterns: string[]): Promise<void> {
    return this.dropSubs("punsubscribe", this.patterns, patterns);
  }

  private async addSubs<H>(
    kind: "subscribe" | "psubscribe",
    map: Map<string, H>,
    names: readonly string[],
    handler: H,
  ): Promise<void> {
    if (names.length === 0) return;
    const err = this.admit(1) ?? this.misuseNames(names);
    if (err) throw err;
    // Recorded first, so that a reconnect meanwhile resubscribes and RESP2 mode is known now.
    const added = names.filter((n) => !map.has(n));
    for (const n of names) map.set(n, handler);
    try {
      await this.submit([kind.toUpperCase(), ...names], kind, names.length);
    } catch (e) {
      for (const n of added) if (map.get(n) === handler) map.delete(n);
      throw e;
    }
  }

  /** The local state changes at once: a reconnect meanwhile does not resubscribe these. */
  private async dropSubs<H>(
    kind: "unsubscribe" | "punsubscribe",
    map: Map<string, H>,
    names: string[],
  ): Promise<void> {
    const list = names.length ? names : [...map.keys()];
    if (list.length === 0) return;
    const err = this.admit(1) ?? this.misuseNames(list);
    if (err) throw err;
    for (const n of list) map.delete(n);
    await this.submit([kind.toUpperCase(), ...list], kind, list.length);
  }

  private misuseNames(names: readonly string[]): Error | null {
    const bad = names.find((n) => NOT_BINARY.test(n));
    return bad === undefined ? null : new UsageError(`channel ${bad} is not a binary string`);
  }
}

function commandName(a: Arg): string {
  if (typeof a === "string") return a.length > 64 ? a.slice(0, 64) : a;
  if (typeof a === "number") return String(a);
  return bytesToBinary(a, 0, Math.min(a.length, 64));
}

function kindOf(v: RespValue | undefined): string | null {
  if (typeof v === "string") return v;
  if (v instanceof SimpleString) return v.value;
  return null;
}

function isSubKind(kind: string | null): kind is SubKind {
  return kind === "subscribe" || kind === "psubscribe" || kind === "unsubscribe" ||
    kind === "punsubscribe";
}

function timeoutError(p: Pending): TimeoutError {
  return new TimeoutError(`${p.name} timed out after ${p.timeoutMs} ms`);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

function replyAsValue(e: unknown): RespError {
  if (e instanceof ReplyError) return e.reply;
  throw e;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
