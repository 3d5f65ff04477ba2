/** Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT. */
import { clientTypeName, parseKillFilters } from "../../shared/client_kill.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { parseDbIndexOrReply, replyHelp } from "./define.ts";
import { parseMsTimeout } from "./block.ts";
import { cmd, container, ERR, parseI64, subcommandSyntaxError } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { discardTransaction, unwatchAll } from "../engine/transaction.ts";
import { cstr } from "../../shared/cstr.ts";
import { logDenial } from "../engine/acl_check.ts";

import { REDIS_VERSION } from "../../shared/version.ts";

function ping(_s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 2) {
    c.error("ERR wrong number of arguments for 'ping' command");
    return;
  }
  if (c.inPubSubContext) {
    c.out.array(2);
    c.out.bulk("pong");
    c.out.bulk(argv[1] ?? "");
  } else if (argv.length === 2) {
    c.out.bulk(argv[1]!);
  } else {
    c.out.simple("PONG");
  }
}

/**
 * Authenticates the connection as `user` when the password opens it; otherwise logs the failure
 * (object: the command name as the client typed it) and answers WRONGPASS. True on success.
 */
function login(s: Engine, c: ClientState, user: string, pass: string, via: string): boolean {
  const u = s.acl.authenticate(user, pass);
  if (!u) {
    logDenial(s, c, "auth", via, user);
    c.error(WRONGPASS);
    return false;
  }
  c.authenticated = true;
  c.user = user;
  c.aclUser = u;
  return true;
}

const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";

function auth(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 3) {
    c.error(ERR.syntax);
    return;
  }
  c.redact(argv, 1);
  c.redact(argv, 2);
  if (argv.length === 2 && s.acl.defaultUser.nopass) {
    c.error(
      "ERR AUTH <password> called without any password configured for the default user. " +
        "Are you sure your configuration is correct?",
    );
    return;
  }
  const user = argv.length === 3 ? argv[1]! : "default";
  const pass = argv[argv.length - 1]!;
  if (login(s, c, user, pass, argv[0]!)) c.out.ok();
}

function hello(s: Engine, c: ClientState, argv: string[]): void {
  let proto: 2 | 3 = c.proto;
  let i = 1;
  if (argv.length >= 2) {
    const v = parseI64(argv[1]!);
    if (v === null) {
      c.error("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (v < 2n || v > 3n) {
      c.error("NOPROTO unsupported protocol version");
      return;
    }
    proto = Number(v) as 2 | 3;
    i = 2;
  }
  // As Redis 7.0: options act in order, AUTH authenticating and SETNAME naming the connection on
  // the spot, so an earlier option's error wins over a later one's (and what succeeded stays).
  for (; i < argv.length; i++) {
    const opt = argv[i]!.toLowerCase();
    const more = argv.length - i - 1;
    if (opt === "auth" && more >= 2) {
      c.redact(argv, i + 1);
      c.redact(argv, i + 2);
      const user = argv[i + 1]!, pass = argv[i + 2]!;
      if (!login(s, c, user, pass, argv[0]!)) return;
      i += 2;
    } else if (opt === "setname" && more >= 1) {
      const name = argv[++i]!;
      const bad = badClientName(name);
      if (bad) {
        c.error(bad);
        return;
      }
      c.name = name;
    } else {
      c.error(`ERR Syntax error in HELLO option '${cstr(argv[i]!)}'`);
      return;
    }
  }
  if (!c.authenticated) {
    c.error(
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and " +
        "select the RESP protocol version at the same time",
    );
    return;
  }
  c.proto = proto;
  c.out.map(7);
  c.out.bulk("server");
  c.out.bulk("redis");
  c.out.bulk("version");
  c.out.bulk(REDIS_VERSION);
  c.out.bulk("proto");
  c.out.int(proto);
  c.out.bulk("id");
  c.out.int(c.id);
  c.out.bulk("mode");
  c.out.bulk(s.clusterEnabled ? "cluster" : "standalone");
  c.out.bulk("role");
  c.out.bulk(s.role === "master" ? "master" : "replica");
  c.out.bulk("modules");
  c.out.array(0);
}

function badClientName(name: string): string | null {
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch < 33 || ch > 126) {
      return "ERR Client names cannot contain spaces, newlines or special characters.";
    }
  }
  return null;
}

function select(s: Engine, c: ClientState, argv: string[]): void {
  const id = parseDbIndexOrReply(c, argv[1]!);
  if (id === null) return;
  if (s.clusterEnabled && id !== 0) {
    c.error("ERR SELECT is not allowed in cluster mode");
    return;
  }
  const db = s.dbs[id];
  if (id < 0 || !db) {
    c.error(ERR.dbIndex);
    return;
  }
  c.db = db;
  c.out.ok();
}

function quit(_s: Engine, c: ClientState): void {
  c.out.ok();
  c.closeAfterReply = true;
}

function reset(s: Engine, c: ClientState): void {
  discardTransaction(c);
  unwatchAll(c);
  s.pubsub.removeClient(c);
  s.monitors.delete(c);
  c.monitor = false;
  s.tracking.disable(c);
  c.proto = 2;
  c.db = s.dbs[0]!;
  c.replyMode = "on";
  c.noEvict = false;
  c.name = "";
  // Back to the default user, authenticated only if it needs no password.
  c.authenticated = !s.requiresAuth();
  c.user = "default";
  if (c.aclUser !== null) c.aclUser = s.acl.defaultUser;
  c.out.simple("RESET");
}

// ---- CLIENT ----

function clientList(s: Engine, c: ClientState, argv: string[]): void {
  let filter: ((x: ClientState) => boolean) | null = null;
  if (argv.length === 4 && argv[2]!.toLowerCase() === "type") {
    const t = clientTypeName(argv[3]!);
    if (!t) {
      c.error(`ERR Unknown client type '${argv[3]}'`);
      return;
    }
    filter = (x) => typeOf(x) === t;
  } else if (argv.length >= 4 && argv[2]!.toLowerCase() === "id") {
    // As Redis: one line per argument naming a connected client, in argument order (repeats
    // included); only an argument that is not an integer is an error.
    let out = "";
    for (const a of argv.slice(3)) {
      const id = parseI64(a);
      if (id === null) {
        c.error("ERR Invalid client ID");
        return;
      }
      const x = id > 0n && id <= BigInt(Number.MAX_SAFE_INTEGER)
        ? s.clients.get(Number(id))
        : undefined;
      if (x) out += s.clientInfoLine(x) + "\n";
    }
    c.out.verbatim(out);
    return;
  } else if (argv.length !== 2) {
    c.error(ERR.syntax);
    return;
  }
  let out = "";
  for (const x of s.clients.values()) {
    if (!filter || filter(x)) out += s.clientInfoLine(x) + "\n";
  }
  c.out.verbatim(out);
}

function typeOf(x: ClientState): string {
  if (x.kind === "replica" || x.kind === "master") return x.kind;
  return x.subscriptionCount > 0 ? "pubsub" : "normal";
}

function clientKill(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length === 3) {
    const target = [...s.clients.values()].find((x) => x.addr === argv[2]);
    if (!target) {
      c.error("ERR No such client");
      return;
    }
    killClient(c, target);
    c.out.ok();
    return;
  }
  const f = parseKillFilters<ClientState>(argv, {
    typeOf,
    userTest: (name) => s.acl.users.has(name) ? (x) => x.user === name : null,
  });
  if ("error" in f) return c.error(f.error);
  let killed = 0;
  for (const x of [...s.clients.values()]) {
    if (f.skipMe && x === c) continue;
    if (f.match(x)) {
      killClient(c, x);
      killed++;
    }
  }
  c.out.int(killed);
}

/** Killing yourself closes after this reply is written, as Redis does. */
function killClient(self: ClientState, target: ClientState): void {
  if (target === self) self.closeAfterReply = true;
  else target.close();
}

function clientPause(s: Engine, c: ClientState, argv: string[]): void {
  const t = parseMsTimeout(argv[2]!, s.nowMs);
  if (typeof t === "string") {
    c.error(t);
    return;
  }
  // A deadline past INT64_MAX is in the past for Redis (it wraps): the pause ends at once.
  const ms = t.wraps ? 0 : t.ms;
  let all = true;
  if (argv.length === 4) {
    const mode = argv[3]!.toLowerCase();
    if (mode === "write") all = false;
    else if (mode !== "all") {
      c.error(ERR.syntax);
      return;
    }
  } else if (argv.length > 4) {
    c.error(ERR.syntax);
    return;
  }
  const untilMs = s.nowMs + ms;
  // A new pause extends an existing one and can only widen ALL, as in Redis.
  if (s.pause) {
    s.pause.untilMs = Math.max(s.pause.untilMs, untilMs);
    s.pause.all = s.pause.all || all;
  } else {
    s.pause = { untilMs, all, waiters: [] };
  }
  setTimeout(() => {
    if (s.pause && s.nowMs >= s.pause.untilMs) s.unpause();
  }, ms + 1);
  c.out.ok();
}

/** CLIENT UNBLOCK id [TIMEOUT|ERROR]: as Redis, the reason is checked before the id. */
function clientUnblock(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length > 4) return subcommandSyntaxError(c, argv, "CLIENT");
  let reason: "timeout" | "error" = "timeout";
  if (argv.length === 4) {
    const r = argv[3]!.toLowerCase();
    if (r === "error") reason = "error";
    else if (r !== "timeout") {
      return c.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    }
  }
  const id = parseI64(argv[2]!);
  if (id === null) return c.error(ERR.notInt);
  const target = id > 0n && id <= BigInt(Number.MAX_SAFE_INTEGER)
    ? s.clients.get(Number(id))
    : undefined;
  c.out.int(target && s.blocking.unblock(target, reason) ? 1 : 0);
}

// Client-side caching (CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO): the state and the
// invalidations live in the server's tracking registry (server/tracking.ts).

const SWITCH_BCAST = "ERR You can't switch BCAST mode on/off before disabling tracking for " +
  "this client, and then re-enabling it with a different mode.";
const SWITCH_OPT = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this " +
  "client, and then re-enabling it with a different mode.";

/** True when one string is a prefix of the other (Redis's stringCheckPrefix). */
function overlaps(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/**
 * BCAST prefixes against the client's existing ones and each other. Like Redis 7.0, an overlap
 * between two given prefixes is reported, but when the first of the two is not the first
 * prefix given the check still counts as passed (tracking is then enabled and OK follows the
 * error): "failed" means the command stops here.
 */
function checkPrefixes(c: ClientState, prefixes: string[]): "ok" | "failed" {
  const existing = [...c.tracking?.prefixes ?? []].sort();
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    const clash = existing.find((e) => overlaps(e, p));
    if (clash !== undefined) {
      c.error(
        `ERR Prefix '${cstr(p)}' overlaps with an existing prefix '${cstr(clash)}'. ` +
          "Prefixes for a single client must not overlap.",
      );
      return "failed";
    }
    for (let j = i + 1; j < prefixes.length; j++) {
      if (!overlaps(p, prefixes[j]!)) continue;
      c.error(
        `ERR Prefix '${cstr(p)}' overlaps with another provided prefix '${cstr(prefixes[j]!)}'. ` +
          "Prefixes for a single client must not overlap.",
      );
      return i === 0 ? "failed" : "ok";
    }
  }
  return "ok";
}

/** CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]. */
function clientTracking(s: Engine, c: ClientState, argv: string[]): void {
  let redirect = 0, bcast = false, optin = false, optout = false, noloop = false;
  const prefixes: string[] = [];
  for (let j = 3; j < argv.length; j++) {
    const o = argv[j]!.toLowerCase();
    const more = argv.length - 1 - j;
    if (o === "redirect" && more) {
      j++;
      if (redirect !== 0) return c.error("ERR A client can only redirect to a single other client");
      const id = parseI64(argv[j]!);
      if (id === null) return c.error(ERR.notInt);
      const exists = id > 0n && id <= BigInt(Number.MAX_SAFE_INTEGER) &&
        s.clients.has(Number(id));
      if (!exists) return c.error("ERR The client ID you want redirect to does not exist");
      redirect = Number(id);
    } else if (o === "bcast") bcast = true;
    else if (o === "optin") optin = true;
    else if (o === "optout") optout = true;
    else if (o === "noloop") noloop = true;
    else if (o === "prefix" && more) prefixes.push(argv[++j]!);
    else return c.error(ERR.syntax);
  }
  const mode = argv[2]!.toLowerCase();
  if (mode === "off") {
    s.tracking.disable(c);
    return c.out.ok();
  }
  if (mode !== "on") return c.error(ERR.syntax);
  if (!bcast && prefixes.length) {
    return c.error("ERR PREFIX option requires BCAST mode to be enabled");
  }
  const t = c.tracking;
  if (t !== null && t.bcast !== bcast) return c.error(SWITCH_BCAST);
  if (bcast && (optin || optout)) {
    return c.error("ERR OPTIN and OPTOUT are not compatible with BCAST");
  }
  if (optin && optout) return c.error("ERR You can't specify both OPTIN mode and OPTOUT mode");
  if (t !== null && ((optin && t.optout) || (optout && t.optin))) return c.error(SWITCH_OPT);
  if (bcast && checkPrefixes(c, prefixes) === "failed") return;
  s.tracking.enable(c, redirect, { bcast, optin, optout, noloop }, prefixes);
  c.out.ok();
}

/** CLIENT CACHING YES|NO: whether the next command's reads are tracked (OPTIN / OPTOUT). */
function clientCaching(_s: Engine, c: ClientState, argv: string[]): void {
  const t = c.tracking;
  if (t === null) {
    return c.error(
      "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN " +
        "or OPTOUT mode enabled",
    );
  }
  const opt = argv[2]!.toLowerCase();
  if (opt === "yes") {
    if (!t.optin) {
      return c.error(
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
      );
    }
  } else if (opt === "no") {
    if (!t.optout) {
      return c.error(
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
      );
    }
  } else return c.error(ERR.syntax);
  t.caching = true;
  c.out.ok();
}

function clientTrackingInfo(_s: Engine, c: ClientState): void {
  const t = c.tracking;
  const flags = [t === null ? "off" : "on"];
  if (t !== null) {
    if (t.bcast) flags.push("bcast");
    if (t.optin) flags.push("optin");
    if (t.optin && t.caching) flags.push("caching-yes");
    if (t.optout) flags.push("optout");
    if (t.optout && t.caching) flags.push("caching-no");
    if (t.noloop) flags.push("noloop");
    if (t.brokenRedirect) flags.push("broken_redirect");
  }
  c.out.map(3);
  c.out.bulk("flags");
  c.out.set(flags.length);
  for (const f of flags) c.out.bulk(f);
  c.out.bulk("redirect");
  c.out.int(t === null ? -1 : t.redirect);
  c.out.bulk("prefixes");
  const prefixes = t === null ? [] : [...t.prefixes].sort();
  c.out.array(prefixes.length);
  for (const p of prefixes) c.out.bulk(p);
}

function clientReply(_s: Engine, c: ClientState, argv: string[]): void {
  const mode = argv[2]!.toLowerCase();
  if (mode === "on") {
    c.replyMode = "on";
    c.out.ok();
  } else if (mode === "off" || mode === "skip") {
    c.replyMode = mode;
  } else {
    c.error(ERR.syntax);
  }
}

function clientSetName(_s: Engine, c: ClientState, argv: string[]): void {
  const bad = badClientName(argv[2]!);
  if (bad) {
    c.error(bad);
    return;
  }
  c.name = argv[2]!;
  c.out.ok();
}

function onOff(c: ClientState, v: string, set: (on: boolean) => void): void {
  const l = v.toLowerCase();
  if (l !== "on" && l !== "off") {
    c.error(ERR.syntax);
    return;
  }
  set(l === "on");
  c.out.ok();
}

const CLIENT_HELP = [
  "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CACHING (YES|NO)",
  "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
  "GETREDIR",
  "    Return the client ID we are redirecting to when tracking is enabled.",
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "INFO",
  "    Return information about the current client connection.",
  "KILL <ip:port>",
  "    Kill connection made from <ip:port>.",
  "KILL <option> <value> [<option> <value> [...]]",
  "    Kill connections. Options are:",
  "    * ADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made from the specified address",
  "    * LADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made to specified local address",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Kill connections by type.",
  "    * USER <username>",
  "      Kill connections authenticated by <username>.",
  "    * SKIPME (YES|NO)",
  "      Skip killing current connection (default: yes).",
  "LIST [options ...]",
  "    Return information about client connections. Options:",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Return clients of specified type.",
  "UNPAUSE",
  "    Stop the current client pause, resuming traffic.",
  "PAUSE <timeout> [WRITE|ALL]",
  "    Suspend all, or just write, clients for <timeout> milliseconds.",
  "REPLY (ON|OFF|SKIP)",
  "    Control the replies sent to the current connection.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "UNBLOCK <clientid> [TIMEOUT|ERROR]",
  "    Unblock the specified blocked client.",
  "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
  "         [OPTIN] [OPTOUT] [NOLOOP]",
  "    Control server assisted client side caching.",
  "TRACKINGINFO",
  "    Report tracking status for the current connection.",
  "NO-EVICT (ON|OFF)",
  "    Protect current client connection from eviction.",
  "HELP",
  "    Prints this help.",
];

const sub = (
  name: string,
  arity: number,
  flags: string,
  handler: (s: Engine, c: ClientState, argv: string[]) => void,
  summary = "",
): CommandDef =>
  cmd(`client|${name}`, arity, flags, null, "connection", handler, { summary, since: "2.4.0" });

export const CONNECTION_COMMANDS: CommandDef[] = [
  cmd("ping", -1, "fast", null, "connection", ping, {
    summary: "Returns the server's liveliness response.",
  }),
  cmd("echo", 2, "fast loading stale", null, "connection", (_s, c, a) => c.out.bulk(a[1]!), {
    summary: "Returns the given string.",
  }),
  cmd("quit", -1, "allow_busy noscript loading stale fast no_auth", null, "connection", quit, {
    summary: "Closes the connection.",
  }),
  cmd("reset", 1, "noscript loading stale fast no_auth allow_busy", null, "connection", reset, {
    summary: "Resets the connection.",
    since: "6.2.0",
  }),
  cmd("hello", -1, "noscript loading stale fast no_auth allow_busy", null, "connection", hello, {
    summary: "Handshakes with the Redis server.",
    since: "6.0.0",
  }),
  cmd("auth", -2, "noscript loading stale fast no_auth allow_busy", null, "connection", auth, {
    summary: "Authenticates the connection.",
  }),
  cmd("select", 2, "loading stale fast", null, "connection", select, {
    summary: "Changes the selected database.",
  }),
  container(
    "client",
    "connection",
    [
      sub(
        "id",
        2,
        "noscript loading stale",
        (_s, c) => c.out.int(c.id),
        "Returns the unique client ID of the connection.",
      ),
      sub(
        "getname",
        2,
        "noscript loading stale",
        (_s, c) => c.name ? c.out.bulk(c.name) : c.out.nullBulk(),
        "Returns the name of the connection.",
      ),
      sub("setname", 3, "noscript loading stale", clientSetName, "Sets the connection name."),
      sub("list", -2, "admin noscript loading stale", clientList, "Lists open connections."),
      sub(
        "info",
        2,
        "noscript loading stale",
        (s, c) => c.out.verbatim(s.clientInfoLine(c) + "\n"),
        "Returns information about the connection.",
      ),
      sub("kill", -3, "admin noscript loading stale", clientKill, "Terminates open connections."),
      sub(
        "pause",
        -3,
        "admin noscript loading stale",
        clientPause,
        "Suspends commands processing.",
      ),
      sub("unpause", 2, "admin noscript loading stale", (s, c) => {
        s.unpause();
        c.out.ok();
      }, "Resumes processing commands from paused clients."),
      sub(
        "reply",
        3,
        "noscript loading stale",
        clientReply,
        "Instructs the server whether to reply to commands.",
      ),
      sub(
        "no-evict",
        3,
        "admin noscript loading stale",
        (_s, c, a) => onOff(c, a[2]!, (on) => c.noEvict = on),
        "Sets the client eviction mode of the connection.",
      ),
      sub(
        "unblock",
        -3,
        "admin noscript loading stale",
        clientUnblock,
        "Unblocks a client blocked by a blocking command from a different connection.",
      ),
      cmd("client|tracking", -3, "noscript loading stale", null, "connection", clientTracking, {
        summary: "Controls server-assisted client-side caching for the connection.",
        since: "6.0.0",
      }),
      cmd(
        "client|caching",
        3,
        "noscript loading stale",
        null,
        "connection",
        clientCaching,
        {
          summary: "Instructs the server whether to track the keys in the next request.",
          since: "6.0.0",
        },
      ),
      cmd("client|getredir", 2, "noscript loading stale", null, "connection", (_s, c) => {
        c.out.int(c.tracking === null ? -1 : c.tracking.redirect);
      }, {
        summary: "Returns the client ID to which the connection's tracking notifications are " +
          "redirected.",
        since: "6.0.0",
      }),
      cmd(
        "client|trackinginfo",
        2,
        "noscript loading stale",
        null,
        "connection",
        clientTrackingInfo,
        {
          summary:
            "Returns information about server-assisted client-side caching for the connection.",
          since: "6.2.0",
        },
      ),
      sub(
        "help",
        2,
        "loading stale",
        (_s, c) => replyHelp(c, CLIENT_HELP),
        "Returns helpful text about the different subcommands.",
      ),
    ],
    { summary: "A container for client connection commands." },
  ),
];
