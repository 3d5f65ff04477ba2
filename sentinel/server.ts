/**
 * The sentinel's RESP server: what redis-sentinel answers on its port. Clients (ioredis and
 * node-redis in Sentinel mode, redis-cli, other sentinels) get PING, AUTH, HELLO, INFO, ROLE,
 * CLIENT, COMMAND, SENTINEL, SHUTDOWN, and pub/sub on the event channels (`+switch-master`,
 * `+sdown`...); PUBLISH takes only hello messages, as Redis's sentinels do.
 */
import { parseKillFilters } from "../shared/client_kill.ts";
import { getLogger } from "../shared/log.ts";
import { ProtocolError, RequestParser, RespWriter } from "../shared/resp/mod.ts";
import { globMatch } from "../shared/glob.ts";
import { isLocalAddress } from "../shared/net.ts";
import type { Runtime } from "./runtime.ts";
import { sentinelCommand } from "./commands.ts";
import { HELLO_CHANNEL } from "./monitor.ts";
import { REDIS_VERSION } from "../shared/version.ts";
import { AclLog, type User } from "../shared/acl/acl.ts";
import { formatUsers } from "../shared/acl/file.ts";
import {
  aclCommand,
  type AclHost,
  arityOk,
  denialText,
  loadAclFile,
  lookupCall,
  newSentinelAcl,
  SENTINEL_TABLE,
  subscriptionAllowed,
  usersFromLines,
} from "./acl.ts";

/** acllog-max-len's default: redis-sentinel keeps this many ACL LOG entries. */
const ACL_LOG_MAX_LEN = 128;
const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";

/** This process's CPU seconds (user, system), from /proc, as INFO's CPU section shows them. */
function cpuTimes(): { user: number; sys: number } {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
  } catch {
    return { user: 0, sys: 0 };
  }
}

const log = getLogger(["sentinel", "server"]);

/** What INFO reports as maxclients: redis-sentinel's default. */
const MAX_CLIENTS = 10000;

export class SentinelClient {
  readonly parser = new RequestParser({});
  readonly out = new RespWriter();
  name = "";
  authenticated: boolean;
  /** The ACL user the connection runs as: the default user until AUTH or HELLO AUTH. */
  user: User;
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  closing = false;
  closeAfterReply = false;
  readonly createdMs = Date.now();
  lastCmd = "NULL";

  constructor(
    readonly id: number,
    readonly conn: Deno.Conn,
    readonly addr: string,
    readonly laddr: string,
    user: User,
  ) {
    this.user = user;
    // As Redis: a connection starts authenticated when the default user needs no password.
    this.authenticated = user.nopass && user.enabled;
  }

  get proto(): 2 | 3 {
    return this.out.proto;
  }

  get subscriptions(): number {
    return this.channels.size + this.patterns.size;
  }

  error(msg: string): void {
    this.out.error(msg);
  }

  private writing: Promise<void> | null = null;

  flush(): Promise<void> {
    if (this.writing || this.out.len === 0 || this.closing) {
      return this.writing ?? Promise.resolve();
    }
    this.writing = (async () => {
      try {
        while (this.out.len > 0 && !this.closing) {
          const n = await this.conn.write(this.out.buf.subarray(0, this.out.len));
          this.out.consume(n);
        }
      } finally {
        this.writing = null;
      }
    })();
    return this.writing;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    try {
      this.conn.close();
    } catch { /* gone */ }
  }
}

export class SentinelServer implements AclHost {
  readonly acl = newSentinelAcl();
  readonly aclLog = new AclLog();
  readonly clients = new Map<number, SentinelClient>();
  private nextId = 1;
  private listeners: Deno.Listener[] = [];
  readonly startMs = Date.now();
  readonly runId = Array.from(
    crypto.getRandomValues(new Uint8Array(20)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  totalConnections = 0;
  totalCommands = 0;
  boundPort = 0;
  onShutdown: () => void = () => {};

  constructor(readonly rt: Runtime, readonly configFile: string) {
    rt.sink = { publish: (ch, msg) => this.publish(ch, msg) };
    rt.userLines = () => rt.cfg.aclfile ? null : formatUsers(this.acl);
  }

  get aclfile(): string {
    return this.rt.cfg.aclfile;
  }

  /**
   * The users at startup: requirepass as the default user's password, then the `user` lines
   * of sentinel.conf or the ACL file (not both, as Redis). The reason to stop, or null.
   */
  loadUsers(): string | null {
    const cfg = this.rt.cfg;
    if (cfg.requirepass !== "") {
      this.acl.applyRule(this.acl.defaultUser, "resetpass");
      this.acl.applyRule(this.acl.defaultUser, `>${cfg.requirepass}`);
    }
    if (cfg.aclfile && cfg.users.length) {
      return "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.";
    }
    if (cfg.aclfile) return loadAclFile(this, null);
    const users = usersFromLines(this.acl, cfg.users);
    if (typeof users === "string") return users;
    this.installUsers(users, null);
    return null;
  }

  /**
   * Replaces the user table. The default user keeps its identity (its connections stay and see
   * the new rules); connections of every other previous user are closed, as in Redis.
   */
  installUsers(users: Map<string, User>, self: object | null): void {
    const old = [...this.acl.users.values()];
    const def = this.acl.defaultUser;
    const newDef = users.get("default");
    if (newDef) Object.assign(def, newDef);
    this.acl.users.clear();
    this.acl.users.set("default", def);
    for (const [name, u] of users) if (name !== "default") this.acl.users.set(name, u);
    for (const u of old) if (u !== def) this.disconnectUser(u, self);
  }

  disconnectUser(u: User, self: object | null): void {
    for (const c of [...this.clients.values()]) {
      if (c.user !== u) continue;
      if (c === self) c.closeAfterReply = true;
      else c.close();
    }
  }

  disconnectSubscribers(u: User, allowed: string[], self: object | null): void {
    for (const c of [...this.clients.values()]) {
      if (c.user !== u || c.subscriptions === 0) continue;
      const ok = [...c.patterns].every((p) => subscriptionAllowed(allowed, p, true)) &&
        [...c.channels].every((ch) => subscriptionAllowed(allowed, ch, false));
      if (ok) continue;
      if (c === self) c.closeAfterReply = true;
      else c.close();
    }
  }

  private logDenial(
    c: SentinelClient,
    reason: "command" | "channel" | "key" | "auth",
    object: string,
    username: string,
  ): void {
    this.aclLog.add({
      reason,
      context: "toplevel",
      object,
      username,
      createdMs: Date.now(),
      clientInfo: this.clientLine(c),
    }, ACL_LOG_MAX_LEN);
  }

  /** AUTH and HELLO AUTH: true when the pair opens a user; a failure is logged and answered. */
  private login(c: SentinelClient, user: string, pass: string, via: string): boolean {
    const u = this.acl.authenticate(user, pass);
    if (!u) {
      this.logDenial(c, "auth", via, user);
      c.error(WRONGPASS);
      return false;
    }
    c.user = u;
    c.authenticated = true;
    return true;
  }

  listen(): void {
    const cfg = this.rt.cfg;
    const binds = cfg.bind.length > 0 ? cfg.bind : ["0.0.0.0"];
    for (const raw of binds) {
      const optional = raw.startsWith("-");
      const addr = optional ? raw.slice(1) : raw;
      const hostname = addr === "*" ? "0.0.0.0" : addr === "::*" ? "::" : addr;
      try {
        const l = Deno.listen({ hostname, port: this.boundPort || cfg.port, transport: "tcp" });
        this.boundPort = (l.addr as Deno.NetAddr).port;
        this.listeners.push(l);
        void this.acceptLoop(l);
      } catch (e) {
        if (!optional) {
          for (const l of this.listeners) l.close();
          throw new Error(
            `Could not create server TCP listening socket ${addr}:${cfg.port}: ${
              (e as Error).message
            }`,
          );
        }
      }
    }
  }

  close(): void {
    for (const l of this.listeners) {
      try {
        l.close();
      } catch { /* closed */ }
    }
    for (const c of this.clients.values()) c.close();
  }

  private async acceptLoop(l: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await l.accept();
      } catch {
        return;
      }
      const r = conn.remoteAddr as Deno.NetAddr, lo = conn.localAddr as Deno.NetAddr;
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
      } catch { /* not TCP */ }
      const cfg = this.rt.cfg;
      if (
        cfg.protectedMode && this.acl.defaultUser.nopass && cfg.bind.length === 0 &&
        !isLocalAddress(r.hostname)
      ) {
        void conn.write(
          new TextEncoder().encode("-DENIED Sentinel is running in protected mode\r\n"),
        )
          .finally(() => conn.close());
        continue;
      }
      this.totalConnections++;
      const c = new SentinelClient(
        this.nextId++,
        conn,
        `${r.hostname}:${r.port}`,
        `${lo.hostname}:${lo.port}`,
        this.acl.defaultUser,
      );
      this.clients.set(c.id, c);
      void this.serve(c);
    }
  }

  private async serve(c: SentinelClient): Promise<void> {
    try {
      while (!c.closing) {
        const n = await c.conn.read(c.parser.readTarget());
        if (n === null) break;
        c.parser.commit(n);
        for (;;) {
          let argv: string[] | null;
          try {
            argv = c.parser.next(c.authenticated);
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
            c.error(`ERR ${e.message}`);
            c.closeAfterReply = true;
            break;
          }
          if (argv === null) break;
          if (argv.length === 0) continue;
          this.totalCommands++;
          try {
            this.dispatch(c, argv);
          } catch (e) {
            log.error("command {cmd} failed: {err}", { cmd: argv[0]!, err: String(e) });
            c.error(`ERR internal error: ${(e as Error).message}`);
          }
          if (c.closeAfterReply) break;
        }
        c.parser.trim();
        if (c.closeAfterReply) {
          await c.flush();
          break;
        }
        // Reading goes on while replies are written (a long pipeline sent before any reply is
        // read must not stall on its own replies).
        c.flush().catch(() => c.close());
      }
    } catch {
      // connection reset
    } finally {
      c.close();
      this.clients.delete(c.id);
    }
  }

  /** Publishes an event to the subscribers of its channel and of matching patterns. */
  publish(channel: string, message: string): number {
    let n = 0;
    for (const c of this.clients.values()) {
      if (c.channels.has(channel)) {
        this.pushMessage(c, ["message", channel, message]);
        n++;
      }
      for (const p of c.patterns) {
        if (globMatch(p, channel)) {
          this.pushMessage(c, ["pmessage", p, channel, message]);
          n++;
        }
      }
    }
    return n;
  }

  private pushMessage(c: SentinelClient, parts: string[]): void {
    if (c.proto === 3) c.out.push(parts.length);
    else c.out.array(parts.length);
    for (const p of parts) c.out.bulk(p);
    void c.flush();
  }

  private subscribeReply(c: SentinelClient, kind: string, name: string | null): void {
    if (c.proto === 3) c.out.push(3);
    else c.out.array(3);
    c.out.bulk(kind);
    if (name === null) c.out.nullBulk();
    else c.out.bulk(name);
    c.out.int(c.subscriptions);
  }

  private dispatch(c: SentinelClient, argv: string[]): void {
    const cmd = argv[0]!.toLowerCase();
    c.lastCmd = cmd;
    const n = argv.length;
    const arity = (min: number, exact = false) => {
      if (exact ? n !== min : n < min) {
        c.error(`ERR wrong number of arguments for '${cmd}' command`);
        return false;
      }
      return true;
    };
    // Redis's order: an unknown command or subcommand, then a wrong argument count, are answered
    // before authentication is asked for; then the user's ACL rules are checked.
    const def = lookupCall(argv);
    if (!c.authenticated && cmd !== "auth" && cmd !== "hello" && cmd !== "quit") {
      if (def === undefined && cmd !== "reset") return this.unknownCommand(c, argv);
      if (def === null) {
        c.error(`ERR unknown subcommand '${argv[1]}'. Try ${cmd.toUpperCase()} HELP.`);
      } else if (def && !arityOk(def, n)) {
        c.error(`ERR wrong number of arguments for '${def.name}' command`);
      } else c.error("NOAUTH Authentication required.");
      return;
    }
    if (def) {
      c.lastCmd = def.name;
      if (!arityOk(def, n)) {
        c.error(`ERR wrong number of arguments for '${def.name}' command`);
        return;
      }
      if (!c.user.unrestricted) {
        const denied = this.acl.check(c.user, def, argv);
        if (denied) {
          const object = denied.denial === "command" ? def.name : argv[denied.index]!;
          this.logDenial(c, denied.denial, object, c.user.name);
          c.error(
            denied.denial === "command"
              ? `NOPERM this user has ${denialText("command", def.name, object)}`
              : `NOPERM this user has no permissions to access one of the ${denied.denial}s used as arguments`,
          );
          return;
        }
      }
    }
    if (
      c.proto === 2 && c.subscriptions > 0 &&
      !["subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ping", "quit", "reset"].includes(
        cmd,
      )
    ) {
      c.error(
        `ERR Can't execute '${cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      );
      return;
    }
    switch (cmd) {
      case "ping":
        if (n > 2) return void arity(99);
        if (c.proto === 2 && c.subscriptions > 0) {
          c.out.array(2);
          c.out.bulk("pong");
          c.out.bulk(argv[1] ?? "");
        } else if (n === 2) c.out.bulk(argv[1]!);
        else c.out.simple("PONG");
        return;
      case "quit":
        c.out.ok();
        c.closeAfterReply = true;
        return;
      case "auth":
        if (!arity(2) || n > 3) return void (n > 3 && c.error("ERR syntax error"));
        return this.auth(c, argv);
      case "hello":
        return this.hello(c, argv);
      case "info": {
        c.out.bulk(this.info(argv.slice(1)));
        return;
      }
      case "role": {
        if (!arity(1, true)) return;
        const names = [...this.rt.monitor.masters.keys()];
        c.out.array(2);
        c.out.bulk("sentinel");
        c.out.array(names.length);
        for (const x of names) c.out.bulk(x);
        return;
      }
      case "sentinel":
        if (!arity(2)) return;
        return sentinelCommand(this, c, argv);
      case "subscribe":
      case "psubscribe":
        if (!arity(2)) return;
        for (const ch of argv.slice(1)) {
          (cmd === "subscribe" ? c.channels : c.patterns).add(ch);
          this.subscribeReply(c, cmd, ch);
        }
        return;
      case "unsubscribe":
      case "punsubscribe": {
        const set = cmd === "unsubscribe" ? c.channels : c.patterns;
        const names = n > 1 ? argv.slice(1) : [...set];
        if (names.length === 0) this.subscribeReply(c, cmd, null);
        for (const ch of names) {
          set.delete(ch);
          this.subscribeReply(c, cmd, ch);
        }
        return;
      }
      case "publish":
        if (!arity(3, true)) return;
        if (argv[1] !== HELLO_CHANNEL) {
          c.error("ERR Only HELLO messages are accepted by Sentinel instances.");
          return;
        }
        this.rt.monitor.processHello(argv[2]!);
        c.out.int(1);
        return;
      case "client":
        return this.client(c, argv);
      case "command":
        if (n >= 2 && argv[1]!.toLowerCase() === "count") c.out.int(SENTINEL_TABLE.size);
        else if (n >= 2 && argv[1]!.toLowerCase() === "docs") c.out.map(0);
        else {
          // As redis-sentinel 7.0 lists them: every command and every `command|subcommand`.
          const names: string[] = [];
          for (const [name, d] of SENTINEL_TABLE) {
            names.push(name);
            for (const sub of d.subcommands ?? []) names.push(sub.name);
          }
          c.out.array(names.length);
          for (const name of names) c.out.bulk(name);
        }
        return;
      case "shutdown":
        log.warn("User requested shutdown...");
        c.out.ok();
        void c.flush().finally(() => this.onShutdown());
        return;
      case "reset":
        c.channels.clear();
        c.patterns.clear();
        c.name = "";
        c.out.proto = 2;
        c.out.simple("RESET");
        return;
      case "acl":
        if (!arity(2)) return;
        return aclCommand(this, c, argv, Date.now());
      default:
        this.unknownCommand(c, argv);
    }
  }

  private unknownCommand(c: SentinelClient, argv: string[]): void {
    const args = argv.slice(1, 11).map((a) => `'${a}' `).join("");
    c.error(`ERR unknown command '${argv[0]}', with args beginning with: ${args}`);
  }

  private auth(c: SentinelClient, argv: string[]): void {
    if (argv.length === 2 && this.acl.defaultUser.nopass) {
      c.error(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
      );
      return;
    }
    const user = argv.length === 3 ? argv[1]! : "default";
    if (this.login(c, user, argv[argv.length - 1]!, argv[0]!)) c.out.ok();
  }

  private hello(c: SentinelClient, argv: string[]): void {
    let proto = c.proto as number;
    let i = 1;
    if (argv.length > 1) {
      const v = Number(argv[1]);
      if (!Number.isInteger(v)) {
        c.error("ERR Protocol version is not an integer or out of range");
        return;
      }
      if (v < 2 || v > 3) {
        c.error("NOPROTO unsupported protocol version");
        return;
      }
      proto = v;
      i = 2;
    }
    for (; i < argv.length; i++) {
      const opt = argv[i]!.toLowerCase();
      if (opt === "auth" && i + 2 < argv.length) {
        if (!this.login(c, argv[i + 1]!, argv[i + 2]!, argv[0]!)) return;
        i += 2;
      } else if (opt === "setname" && i + 1 < argv.length) {
        c.name = argv[++i]!;
      } else {
        c.error(`ERR Syntax error in HELLO option '${argv[i]}'`);
        return;
      }
    }
    if (!c.authenticated) {
      c.error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
      );
      return;
    }
    c.out.proto = proto as 2 | 3;
    const fields: [string, string | number][] = [
      ["server", "redis"],
      ["version", REDIS_VERSION],
      ["proto", proto],
      ["id", c.id],
      ["mode", "sentinel"],
    ];
    c.out.map(fields.length + 1);
    for (const [k, v] of fields) {
      c.out.bulk(k);
      if (typeof v === "number") c.out.int(v);
      else c.out.bulk(v);
    }
    c.out.bulk("modules");
    c.out.array(0);
  }

  private client(c: SentinelClient, argv: string[]): void {
    const sub = (argv[1] ?? "").toLowerCase();
    switch (sub) {
      case "setname":
        if (argv.length !== 3) break;
        if (/[\s]/.test(argv[2]!)) {
          c.error("ERR Client names cannot contain spaces, newlines or special characters.");
          return;
        }
        c.name = argv[2]!;
        c.out.ok();
        return;
      case "getname":
        if (c.name) c.out.bulk(c.name);
        else c.out.nullBulk();
        return;
      case "id":
        c.out.int(c.id);
        return;
      case "info":
        c.out.bulk(this.clientLine(c) + "\n");
        return;
      case "list":
        c.out.bulk([...this.clients.values()].map((x) => this.clientLine(x) + "\n").join(""));
        return;
      case "kill": {
        if (argv.length === 3) {
          const t = [...this.clients.values()].find((x) => x.addr === argv[2]);
          if (!t) {
            c.error("ERR No such client");
            return;
          }
          if (t === c) c.closeAfterReply = true;
          else t.close();
          c.out.ok();
          return;
        }
        // The filter form: every given filter must match (Redis's AND); SKIPME defaults to yes.
        const f = parseKillFilters<SentinelClient>(argv, {
          // A sentinel has no replication clients: those types match nobody.
          typeOf: (x) => x.subscriptions > 0 ? "pubsub" : "normal",
          userTest: (name) => {
            const u = this.acl.users.get(name);
            return u ? (x) => x.user === u : null;
          },
        });
        if ("error" in f) {
          c.error(f.error);
          return;
        }
        let killed = 0;
        for (const x of [...this.clients.values()]) {
          if ((x === c && f.skipMe) || !f.match(x)) continue;
          // The caller itself gets its reply first.
          if (x === c) c.closeAfterReply = true;
          else x.close();
          killed++;
        }
        c.out.int(killed);
        return;
      }
      case "setinfo":
        c.out.ok();
        return;
    }
    c.error(
      `ERR unknown subcommand or wrong number of arguments for '${
        argv[1] ?? ""
      }'. Try CLIENT HELP.`,
    );
  }

  clientLine(c: SentinelClient): string {
    const age = Math.floor((Date.now() - c.createdMs) / 1000);
    return `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=0 name=${c.name} age=${age} idle=0 flags=${
      c.subscriptions > 0 ? "P" : "N"
    } db=0 sub=${c.channels.size} psub=${c.patterns.size} ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=${c.lastCmd} user=${c.user.name} redir=-1 resp=${c.proto}`;
  }

  /** INFO: server, clients, stats and sentinel sections, as redis-sentinel's. */
  info(args: string[]): string {
    const want = new Set(args.map((a) => a.toLowerCase()));
    const all = want.size === 0 || want.has("all") || want.has("default") ||
      want.has("everything");
    const sections: [string, [string, string | number][]][] = [];
    const cfg = this.rt.cfg;
    const mon = this.rt.monitor;
    if (all || want.has("server")) {
      sections.push(["Server", [
        ["redis_version", REDIS_VERSION],
        ["redis_git_sha1", "00000000"],
        ["redis_git_dirty", 0],
        ["redis_build_id", "0"],
        ["redis_mode", "sentinel"],
        ["os", `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`],
        ["arch_bits", 64],
        ["monotonic_clock", "POSIX clock_gettime"],
        ["multiplexing_api", "epoll"],
        ["atomicvar_api", "c11-builtin"],
        ["gcc_version", "0.0.0"],
        ["process_id", Deno.pid],
        ["process_supervised", "no"],
        ["run_id", this.runId],
        ["tcp_port", this.boundPort],
        ["server_time_usec", Date.now() * 1000],
        ["uptime_in_seconds", Math.floor((Date.now() - this.startMs) / 1000)],
        ["uptime_in_days", Math.floor((Date.now() - this.startMs) / 86_400_000)],
        ["hz", 10],
        ["configured_hz", 10],
        ["lru_clock", Math.floor(Date.now() / 1000) & 0xffffff],
        ["executable", Deno.execPath()],
        ["config_file", this.configFile],
        ["io_threads_active", 0],
      ]]);
    }
    if (all || want.has("clients")) {
      // The fields of redis-sentinel's section; a sentinel blocks and tracks no client.
      sections.push(["Clients", [
        ["connected_clients", this.clients.size],
        ["cluster_connections", 0],
        ["maxclients", MAX_CLIENTS],
        ["client_recent_max_input_buffer", 0],
        ["client_recent_max_output_buffer", 0],
        ["blocked_clients", 0],
        ["tracking_clients", 0],
        ["clients_in_timeout_table", 0],
      ]]);
    }
    if (all || want.has("stats")) {
      // Counted: connections, commands and subscriptions; the rest (keyspace, replication,
      // forks...) has nothing to count on a sentinel, as on redis-sentinel.
      let channels = 0, patterns = 0;
      for (const c of this.clients.values()) {
        channels += c.channels.size;
        patterns += c.patterns.size;
      }
      const zero = (names: string[]) => names.map((n): [string, number] => [n, 0]);
      sections.push(["Stats", [
        ["total_connections_received", this.totalConnections],
        ["total_commands_processed", this.totalCommands],
        ["instantaneous_ops_per_sec", 0],
        ...zero([
          "total_net_input_bytes",
          "total_net_output_bytes",
          "total_net_repl_input_bytes",
          "total_net_repl_output_bytes",
        ]),
        ["instantaneous_input_kbps", "0.00"],
        ["instantaneous_output_kbps", "0.00"],
        ["instantaneous_input_repl_kbps", "0.00"],
        ["instantaneous_output_repl_kbps", "0.00"],
        ...zero([
          "rejected_connections",
          "sync_full",
          "sync_partial_ok",
          "sync_partial_err",
          "expired_keys",
        ]),
        ["expired_stale_perc", "0.00"],
        ...zero([
          "expired_time_cap_reached_count",
          "expire_cycle_cpu_milliseconds",
          "evicted_keys",
          "evicted_clients",
          "total_eviction_exceeded_time",
          "current_eviction_exceeded_time",
          "keyspace_hits",
          "keyspace_misses",
        ]),
        ["pubsub_channels", channels],
        ["pubsub_patterns", patterns],
        ...zero([
          "pubsubshard_channels",
          "latest_fork_usec",
          "total_forks",
          "migrate_cached_sockets",
          "slave_expires_tracked_keys",
          "active_defrag_hits",
          "active_defrag_misses",
          "active_defrag_key_hits",
          "active_defrag_key_misses",
          "total_active_defrag_time",
          "current_active_defrag_time",
          "tracking_total_keys",
          "tracking_total_items",
          "tracking_total_prefixes",
          "unexpected_error_replies",
          "total_error_replies",
          "dump_payload_sanitizations",
          "total_reads_processed",
          "total_writes_processed",
          "io_threaded_reads_processed",
          "io_threaded_writes_processed",
          "reply_buffer_shrinks",
          "reply_buffer_expands",
        ]),
      ]]);
    }
    if (all || want.has("cpu")) {
      const t = cpuTimes();
      sections.push(["CPU", [
        ["used_cpu_sys", t.sys.toFixed(6)],
        ["used_cpu_user", t.user.toFixed(6)],
        ["used_cpu_sys_children", "0.000000"],
        ["used_cpu_user_children", "0.000000"],
        ["used_cpu_sys_main_thread", t.sys.toFixed(6)],
        ["used_cpu_user_main_thread", t.user.toFixed(6)],
      ]]);
    }
    if (all || want.has("sentinel")) {
      const fields: [string, string | number][] = [
        ["sentinel_masters", mon.masters.size],
        ["sentinel_tilt", mon.tilt ? 1 : 0],
        [
          "sentinel_tilt_since_seconds",
          mon.tilt ? Math.floor((Date.now() - mon.tiltStart) / 1000) : -1,
        ],
        ["sentinel_running_scripts", this.rt.runningScripts],
        ["sentinel_scripts_queue_length", this.rt.scriptQueue.length],
        [
          "sentinel_simulate_failure_flags",
          (mon.simFailure.crashAfterElection ? 1 : 0) |
          (mon.simFailure.crashAfterPromotion ? 2 : 0),
        ],
      ];
      let i = 0;
      for (const m of mon.masters.values()) {
        const status = m.odown ? "odown" : m.sdown ? "sdown" : "ok";
        fields.push([
          `master${i++}`,
          `name=${m.name},status=${status},address=${
            mon.addr(m)
          }:${m.port},slaves=${m.replicas.size},sentinels=${m.sentinels.size + 1}`,
        ]);
      }
      sections.push(["Sentinel", fields]);
    }
    void cfg;
    return sections.map(([title, f]) =>
      `# ${title}\r\n` + f.map(([k, v]) => `${k}:${v}\r\n`).join("")
    ).join("\r\n");
  }
}
