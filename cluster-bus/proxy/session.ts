/**
 * One client connection to the proxy: parses requests, plans each (router.ts), runs the plan on
 * the cluster, and writes replies in request order however many nodes answered them
 * (pipelining preserved). Holds the session state the proxy answers itself: protocol (HELLO),
 * AUTH, client name, MULTI queue. SUBSCRIBE turns the session into a tunnel to one node.
 */
import { RedisClient } from "../../shared/client.ts";
import {
  encodeCommand,
  NEED_MORE,
  ProtocolError,
  RequestParser,
  RespDecoder,
  RespError,
  RespMap,
  type RespValue,
  RespWriter,
  SimpleString,
  writeValue,
} from "../../shared/resp/mod.ts";
import { ERR } from "../../shared/errors.ts";
import { REDIS_VERSION } from "../../shared/version.ts";
import type { Cluster } from "./cluster.ts";
import { getLogger } from "../../shared/log.ts";
import { CROSSSLOT, mergeReplies, type Plan, plan } from "./router.ts";
import { type Addr, mastersOf, splitAddr } from "./slot_map.ts";

const log = getLogger(["cluster-bus", "proxy"]);

/** Replies owed to one client before the proxy stops reading its requests. */
export const MAX_PENDING_PER_CLIENT = 1024;
/** A client's unparsed input (a request still arriving) beyond which it is closed. */
export const MAX_QUERY_BUFFER = 64 * 1024 * 1024;
/** Replies buffered for a client that does not read them, beyond which it is closed. */
export const MAX_OUTPUT_BUFFER = 256 * 1024 * 1024;
/** Commands queued in one MULTI. */
export const MAX_MULTI_QUEUE = 10000;

export interface SessionOptions {
  requirepass?: string;
  id: number;
}

const NO_AUTH_NEEDED = new Set(["auth", "hello", "quit"]);

interface Slot {
  value: RespValue | undefined;
}

interface Multi {
  cmds: string[][];
  slot: number | null;
  dirty: boolean;
}

export class Session {
  proto: 2 | 3 = 2;
  name = "";
  private authed: boolean;
  private readonly parser = new RequestParser();
  private readonly replies: Slot[] = [];
  private readonly out = new RespWriter(16 * 1024);
  private writing = false;
  private closing = false;
  private multi: Multi | null = null;
  private wake: (() => void) | null = null;
  /** Dedicated connections for blocking commands, by node. */
  private readonly dedicated = new Map<Addr, Promise<RedisClient>>();

  constructor(
    private readonly conn: Deno.TcpConn,
    private readonly cluster: Cluster,
    private readonly opts: SessionOptions,
  ) {
    this.authed = !opts.requirepass;
  }

  async run(): Promise<void> {
    try {
      await this.readLoop();
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.out.error(`ERR ${e.message}`);
        await this.flushNow().catch(() => {});
      } else if (
        !(e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe)
      ) {
        log.warn("client {id} closed on an internal error: {err}", {
          id: this.opts.id,
          err: (e as Error)?.stack ?? String(e),
        });
      }
    } finally {
      this.closing = true;
      try {
        this.conn.close();
      } catch { /* already closed */ }
      for (const p of this.dedicated.values()) void p.then((c) => c.close(), () => {});
    }
  }

  private async readLoop(): Promise<void> {
    for (;;) {
      const target = this.parser.readTarget();
      const n = await this.conn.read(target);
      if (n === null) return;
      this.parser.commit(n);
      for (;;) {
        const argv = this.parser.next(this.authed);
        if (argv === null) break;
        if (argv.length === 0) continue;
        const sub = this.dispatch(argv);
        if (sub) return await this.tunnel(sub);
        if (this.closing) return await this.drained();
        while (this.replies.length >= MAX_PENDING_PER_CLIENT) {
          await new Promise<void>((r) => (this.wake = r));
        }
      }
      if (this.parser.pending > MAX_QUERY_BUFFER) {
        this.out.error("ERR Protocol error: query buffer limit reached");
        return;
      }
      this.parser.trim();
    }
  }

  /** Queues a reply slot for argv; a subscribe plan is returned for the caller to tunnel. */
  private dispatch(argv: string[]): (Plan & { kind: "subscribe" }) | null {
    const slot: Slot = { value: undefined };
    this.replies.push(slot);
    const r = this.handle(argv);
    if (r !== null && typeof r === "object" && "kind" in r && r.kind === "subscribe") {
      this.replies.pop();
      return r;
    }
    if (r instanceof Promise) {
      r.then((v) => this.settle(slot, v), (e) => this.settle(slot, internal(e)));
    } else this.settle(slot, r as RespValue);
    return null;
  }

  private settle(slot: Slot, v: RespValue): void {
    slot.value = v;
    let n = 0;
    while (n < this.replies.length && this.replies[n]!.value !== undefined) {
      writeValue(this.out, this.replies[n]!.value!);
      n++;
    }
    if (n > 0) this.replies.splice(0, n);
    if (this.wake && this.replies.length < MAX_PENDING_PER_CLIENT) {
      const w = this.wake;
      this.wake = null;
      w();
    }
    if (this.out.size > MAX_OUTPUT_BUFFER) {
      this.closing = true;
      try {
        this.conn.close();
      } catch { /* closed */ }
      return;
    }
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.writing || this.out.size === 0) return;
    this.writing = true;
    try {
      while (this.out.size > 0) {
        const bytes = this.out.take();
        let off = 0;
        while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
      }
    } catch {
      this.closing = true;
    } finally {
      this.writing = false;
    }
  }

  private async flushNow(): Promise<void> {
    while (this.writing) await new Promise((r) => setTimeout(r, 1));
    await this.flush();
  }

  /** Waits until every owed reply is written (QUIT, tunnel switch). */
  private async drained(): Promise<void> {
    while (this.replies.length > 0 || this.writing || this.out.size > 0) {
      if (!this.writing && this.out.size > 0) await this.flush();
      else await new Promise((r) => setTimeout(r, 1));
    }
  }

  // ---- commands ----

  private handle(argv: string[]): RespValue | Promise<RespValue> | Plan {
    const name = argv[0]!.toLowerCase();
    if (!this.authed && !NO_AUTH_NEEDED.has(name)) return new RespError(ERR.noAuth);
    if (this.multi && !["exec", "discard", "multi", "watch", "quit"].includes(name)) {
      return this.queue(argv);
    }
    switch (name) {
      case "quit":
        this.closing = true;
        return new SimpleString("OK");
      case "auth":
        return this.auth(argv);
      case "hello":
        return this.hello(argv);
      case "select":
        if (argv.length !== 2) {
          return new RespError("ERR wrong number of arguments for 'select' command");
        }
        return argv[1] === "0"
          ? new SimpleString("OK")
          : new RespError("ERR SELECT is not allowed in cluster mode");
      case "client":
        return this.client(argv);
      case "multi":
        if (this.multi) return new RespError("ERR MULTI calls can not be nested");
        this.multi = { cmds: [], slot: null, dirty: false };
        return new SimpleString("OK");
      case "exec":
        return this.exec();
      case "discard":
        if (!this.multi) return new RespError("ERR DISCARD without MULTI");
        this.multi = null;
        return new SimpleString("OK");
      case "reset":
        this.multi = null;
        this.proto = 2;
        this.out.proto = 2;
        this.authed = !this.opts.requirepass;
        return new SimpleString("RESET");
    }
    const p = plan(this.cluster.table, argv);
    if (p.kind === "subscribe") return p;
    return this.runPlan(p);
  }

  private async runPlan(p: Plan): Promise<RespValue> {
    const c = this.cluster;
    switch (p.kind) {
      case "reply":
        return p.value;
      case "forward":
        return await c.execute({ slot: p.slot }, p.argv, this.proto);
      case "blocking":
        return await c.execute({ slot: p.slot }, p.argv, this.proto, (a) => this.blockingConn(a));
      case "split": {
        const replies = await Promise.all(
          p.parts.map((part) => c.execute({ slot: part.slot }, part.argv, this.proto)),
        );
        return mergeReplies(p.merge, replies, p.parts, p.total);
      }
      case "fanout": {
        const masters = mastersOf(c.map);
        if (masters.length === 0) return new RespError("CLUSTERDOWN The cluster is down");
        const replies = await Promise.all(
          masters.map((addr) => c.execute({ addr }, p.argv, this.proto)),
        );
        return mergeReplies(p.merge, replies);
      }
      case "getkeys": {
        const keys = await c.execute({ slot: null }, ["COMMAND", "GETKEYS", ...p.argv], 2);
        const next = Array.isArray(keys) && keys.every((k) => typeof k === "string")
          ? plan(c.table, p.argv, keys as string[])
          : { kind: "forward" as const, slot: null, argv: p.argv };
        if (next.kind === "getkeys" || next.kind === "subscribe") {
          return new RespError("ERR proxy: cannot route this command");
        }
        return await this.runPlan(next);
      }
      case "subscribe":
        return new RespError("ERR proxy: subscribe inside a transaction is not supported");
    }
  }

  private blockingConn(addr: Addr): Promise<RedisClient> {
    let p = this.dedicated.get(addr);
    if (!p) {
      p = this.cluster.connect(addr, this.proto, false);
      this.dedicated.set(addr, p);
      p.then((c) => c.on("close", () => this.dedicated.delete(addr)), () => {
        this.dedicated.delete(addr);
      });
    }
    return p;
  }

  private auth(argv: string[]): RespValue {
    if (argv.length < 2 || argv.length > 3) {
      return new RespError("ERR wrong number of arguments for 'auth' command");
    }
    if (!this.opts.requirepass) {
      return new RespError(
        "ERR AUTH <password> called without any password configured for the default user. " +
          "Are you sure your configuration is correct?",
      );
    }
    const user = argv.length === 3 ? argv[1]! : "default";
    if (user !== "default" || argv[argv.length - 1] !== this.opts.requirepass) {
      return new RespError("WRONGPASS invalid username-password pair or user is disabled.");
    }
    this.authed = true;
    return new SimpleString("OK");
  }

  private hello(argv: string[]): RespValue {
    let proto = this.proto;
    let i = 1;
    if (argv.length > 1) {
      const v = Number(argv[1]);
      if (!Number.isInteger(v)) {
        return new RespError("ERR Protocol version is not an integer or out of range");
      }
      if (v !== 2 && v !== 3) return new RespError("NOPROTO unsupported protocol version");
      proto = v;
      i = 2;
    }
    for (; i < argv.length; i++) {
      const opt = argv[i]!.toLowerCase();
      if (opt === "auth" && i + 2 < argv.length) {
        const r = this.auth(["AUTH", argv[i + 1]!, argv[i + 2]!]);
        if (r instanceof RespError) return r;
        i += 2;
      } else if (opt === "setname" && i + 1 < argv.length) {
        this.name = argv[++i]!;
      } else {
        return new RespError(`ERR Syntax error in HELLO option '${argv[i]}'`);
      }
    }
    if (!this.authed) {
      return new RespError(
        "NOAUTH HELLO must be called with the client already authenticated, " +
          "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the " +
          "client and select the RESP protocol version at the same time",
      );
    }
    this.proto = proto;
    this.out.proto = proto;
    return new RespMap([
      ["server", "redis"],
      ["version", REDIS_VERSION],
      ["proto", proto],
      ["id", this.opts.id],
      ["mode", "standalone"],
      ["role", "master"],
      ["modules", []],
    ]);
  }

  private client(argv: string[]): RespValue {
    const sub = (argv[1] ?? "").toLowerCase();
    switch (sub) {
      case "setname":
        if (argv.length !== 3) {
          return new RespError("ERR wrong number of arguments for 'client|setname' command");
        }
        this.name = argv[2]!;
        return new SimpleString("OK");
      case "getname":
        return this.name === "" ? null : this.name;
      case "id":
        return this.opts.id;
      case "setinfo":
        return new SimpleString("OK");
      default:
        return new RespError(`ERR CLIENT ${argv[1] ?? ""} is not supported by the proxy`);
    }
  }

  // ---- MULTI/EXEC: every key of the transaction in one slot, run on that slot's node ----

  private queue(argv: string[]): RespValue {
    const m = this.multi!;
    const p = plan(this.cluster.table, argv);
    let slot: number | null | undefined;
    if (p.kind === "reply" && p.value instanceof RespError) {
      m.dirty = true;
      return p.value;
    }
    if (p.kind === "forward" || p.kind === "blocking") slot = p.slot;
    else if (p.kind === "reply") slot = null;
    else if (p.kind === "split") {
      m.dirty = true;
      return new RespError(CROSSSLOT);
    } else {
      m.dirty = true;
      return new RespError(`ERR proxy: '${argv[0]}' cannot be queued in a transaction`);
    }
    if (slot !== null && m.slot !== null && slot !== m.slot) {
      m.dirty = true;
      return new RespError(
        "CROSSSLOT Keys in request don't hash to the same slot (a transaction through the " +
          "proxy must keep to one slot)",
      );
    }
    if (m.cmds.length >= MAX_MULTI_QUEUE) {
      m.dirty = true;
      return new RespError("ERR proxy: too many commands in one transaction");
    }
    if (slot !== null) m.slot = slot;
    m.cmds.push(argv);
    return new SimpleString("QUEUED");
  }

  private async exec(): Promise<RespValue> {
    const m = this.multi;
    if (!m) return new RespError("ERR EXEC without MULTI");
    this.multi = null;
    if (m.dirty) {
      return new RespError("EXECABORT Transaction discarded because of previous errors.");
    }
    if (m.cmds.length === 0) return [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const addr = m.slot === null ? this.cluster.anyNode() : this.cluster.map.owners[m.slot];
      if (!addr) return new RespError("CLUSTERDOWN Hash slot not served");
      let replies: RespValue[];
      try {
        const c = await this.cluster.connect(addr, this.proto, true);
        try {
          replies = await c.pipeline([["MULTI"], ...m.cmds, ["EXEC"]]);
        } finally {
          void c.close();
        }
      } catch (e) {
        await this.cluster.refresh();
        if (attempt === 1) return internal(e);
        continue;
      }
      const moved = replies.some((r) =>
        r instanceof RespError && (r.code === "MOVED" || r.code === "ASK")
      );
      if (!moved) return replies[replies.length - 1] ?? null;
      await this.cluster.refresh();
    }
    return new RespError("TRYAGAIN the transaction's slot moved while it ran; retry it");
  }

  // ---- pub/sub: a byte tunnel to one node for the rest of the session ----

  private async tunnel(p: Plan & { kind: "subscribe" }): Promise<void> {
    await this.drained();
    const addr = p.slot === null ? this.cluster.anyNode() : this.cluster.map.owners[p.slot];
    const a = addr ? splitAddr(addr) : null;
    if (!a) {
      this.out.error("CLUSTERDOWN The cluster is down");
      await this.flushNow();
      return;
    }
    let node: Deno.TcpConn;
    try {
      node = await Deno.connect({ hostname: a.host, port: a.port });
      await this.preamble(node);
    } catch (e) {
      this.out.error(`ERR proxy: node ${addr} unreachable: ${(e as Error).message}`);
      await this.flushNow();
      return;
    }
    // The subscribe command, then whatever the client already sent after it.
    await writeAll(node, encodeCommand(p.argv));
    const rest = this.parser.buf.slice(this.parser.start, this.parser.end);
    if (rest.length > 0) await writeAll(node, rest);
    await Promise.race([pipe(this.conn, node), pipe(node, this.conn)]);
    try {
      node.close();
    } catch { /* closed */ }
  }

  /** AUTH and HELLO on a fresh node connection, their replies read and dropped. */
  private async preamble(node: Deno.TcpConn): Promise<void> {
    const cmds: string[][] = [];
    const pass = this.cluster.opts.password;
    if (pass) cmds.push(["AUTH", pass]);
    if (this.proto === 3) cmds.push(["HELLO", "3"]);
    if (cmds.length === 0) return;
    for (const c of cmds) await writeAll(node, encodeCommand(c));
    const dec = new RespDecoder();
    const buf = new Uint8Array(4096);
    let got = 0;
    while (got < cmds.length) {
      const n = await node.read(buf);
      if (n === null) throw new Error("connection closed");
      dec.push(buf.subarray(0, n));
      for (let v = dec.next(); v !== NEED_MORE; v = dec.next()) {
        if (v instanceof RespError) throw new Error(v.message);
        got++;
      }
    }
  }
}

function internal(e: unknown): RespError {
  return new RespError(`ERR proxy: ${(e as Error)?.message ?? String(e)}`);
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

async function pipe(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) return;
      await writeAll(to, buf.subarray(0, n));
    }
  } catch { /* either side closed */ }
}
