/**
 * processCommand: from a parsed argv to a reply, with the checks Redis makes in its order:
 * lookup, arity, authentication, pub/sub context, MULTI queueing, CLIENT PAUSE; then the call
 * with statistics, propagation of writes and the MONITOR feed.
 */
import {
  type CommandDef,
  commandKeys,
  F_DENYOOM,
  F_MAY_REPLICATE,
  F_NO_AUTH,
  F_NO_MULTI,
  F_STALE,
  F_WRITE,
} from "../commands/types.ts";
import type { Client } from "./client.ts";
import type { Server } from "./server.ts";
import { discardTransaction, unwatchAll } from "../engine/transaction.ts";
import { call, lookupCommand } from "../engine/call.ts";
import { ERR, MISCONF, wrongArity } from "../../shared/errors.ts";
import { aclDenied } from "../engine/acl_check.ts";
import { effectiveCommandBits } from "../commands/scripting.ts";
import { isLocalPeer } from "../../shared/net.ts";

const MULTI_IMMEDIATE = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);
const PUBSUB_ALLOWED = new Set([
  "ping",
  "subscribe",
  "ssubscribe",
  "unsubscribe",
  "sunsubscribe",
  "psubscribe",
  "punsubscribe",
  "quit",
  "reset",
]);

function arityOk(def: CommandDef, argc: number): boolean {
  return def.arity > 0 ? argc === def.arity : argc >= -def.arity;
}

/**
 * Rejects a command before running it: counted as rejected, and it aborts a MULTI. A rejected
 * EXEC always answers EXECABORT with the reason (and ends any transaction), as Redis does.
 */
function reject(s: Server, c: Client, def: CommandDef | null, message: string): void {
  if (def) s.stats.of(def).rejectedCalls++;
  if (def?.name === "exec") {
    discardTransaction(c);
    unwatchAll(c);
    c.error(`EXECABORT Transaction discarded because of: ${message.replace(/^ERR /, "")}`);
    return;
  }
  if (c.multi) c.multiError = true;
  c.error(message);
}

export function processCommand(s: Server, c: Client, argv: string[]): void | Promise<void> {
  // ASKING holds for the next command only (or the transaction it starts), as in Redis.
  if (c.asking && s.cluster) {
    const r = dispatchWithReply(s, c, argv);
    if (!c.multi && argv[0]!.toLowerCase() !== "asking") c.asking = false;
    return r;
  }
  return dispatchWithReply(s, c, argv);
}

function dispatchWithReply(s: Server, c: Client, argv: string[]): void | Promise<void> {
  if (c.replyMode === "on" || isClientReply(argv)) return dispatch(s, c, argv);
  // CLIENT REPLY OFF / SKIP: every reply of this command, errors included, is dropped, also
  // one sent later (a blocked or paused command): the sink stays until the command is done.
  c.mute();
  const restore = () => {
    c.unmute();
    if (c.replyMode === "skip") c.replyMode = "on";
  };
  let result: void | Promise<void>;
  try {
    result = dispatch(s, c, argv);
  } catch (e) {
    restore();
    throw e;
  }
  if (result) return result.finally(restore);
  restore();
}

function isClientReply(argv: string[]): boolean {
  return argv.length >= 2 && argv[0]!.toLowerCase() === "client" &&
    argv[1]!.toLowerCase() === "reply";
}

function dispatch(s: Server, c: Client, argv: string[]): void | Promise<void> {
  const found = lookupCommand(s.commands, argv);
  if (typeof found === "string") return reject(s, c, null, found);
  const def = found;
  if (!arityOk(def, argv.length) || (def.subcommands && !def.handler)) {
    return reject(s, c, def, wrongArity(def.name));
  }
  // DEBUG and MODULE LOAD/LOADEX/UNLOAD are refused here, before authentication and before MULTI
  // queues them, unless enable-debug-command / enable-module-command allow them, as in Redis.
  if (def.protectedBy !== undefined && !c.trusted) {
    const refused = protectedRefusal(s, c, def.protectedBy);
    if (refused !== null) return reject(s, c, def, refused);
  }
  // The AOF loader and a master link are obeyed: no auth, pub/sub, OOM, MISCONF or pause checks.
  if (!c.trusted) {
    const refused = accessCheck(s, c, def, argv);
    if (refused !== null) return reject(s, c, def, refused);
  }
  // Cluster mode: a command with keys runs on the node that serves their slot (MOVED, ASK...),
  // checked after authentication and before the other refusals, as in Redis.
  if (s.cluster && !c.trusted) {
    const queued = def.name === "exec" && c.multi ? c.multi.map((q) => q.argv) : undefined;
    const redirect = s.cluster.route(c, def, argv, queued);
    if (redirect !== null) {
      s.stats.of(def).rejectedCalls++;
      if (def.name === "exec") discardTransaction(c);
      else if (c.multi) c.multiError = true;
      c.error(redirect);
      return;
    }
  }
  if (!c.trusted) {
    const refused = clientCheck(s, c, def);
    if (refused !== null) return reject(s, c, def, refused);
  }
  // A script past busy-reply-threshold: only what may run meanwhile (SCRIPT KILL...) runs.
  const running = s.scripting.running;
  if (
    running?.timedOut && !c.trusted &&
    (!def.flags.includes("allow_busy") ||
      (def.name === "shutdown" && !argv.some((a) => a.toLowerCase() === "nosave")))
  ) {
    const kind = running.isFunction ? "FUNCTION" : "SCRIPT";
    return reject(
      s,
      c,
      def,
      `BUSY Redis is busy running a script. You can only call ${kind} KILL or SHUTDOWN NOSAVE.`,
    );
  }
  // CLIENT PAUSE holds a command before it is queued or run (a write queued in MULTI waits too),
  // as Redis does.
  if (s.pause && !c.trusted && isPaused(s, c, def, argv)) {
    // A client that disconnected during the pause is gone: its command is dropped.
    c.postponed = true;
    return new Promise<void>((resolve) => s.pause!.waiters.push(resolve)).then(() => {
      c.postponed = false;
      return c.closing ? undefined : processCommand(s, c, argv);
    });
  }
  if (c.multi && !MULTI_IMMEDIATE.has(def.name)) {
    // A queued command keeps the tracking table under its limit too, as every command does.
    if (s.tracking.clientsOn !== 0) s.tracking.limitTableSize();
    if (def.bits & F_NO_MULTI) {
      return reject(s, c, def, ERR.notInMulti);
    }
    // A script is judged by the flags it declares, as the server will judge it at EXEC.
    const bits = effectiveCommandBits(s, def, argv);
    c.multi.push({ argv, writes: (bits & F_WRITE) !== 0 });
    if (bits & F_DENYOOM) c.multiDenyOom = true;
    if (def.flags.includes("no_async_loading")) c.multiDenyAsyncLoading = true;
    if (!(bits & F_STALE)) c.multiDenyStale = true;
    if (bits & (F_WRITE | F_MAY_REPLICATE)) c.multiMayReplicate = true;
    c.out.simple("QUEUED");
    return;
  }
  if (s.migrating.keys.size > 0 && !c.trusted && writesMigrating(s, c, def, argv)) {
    return s.migrating.wait().then(() => c.closing ? undefined : processCommand(s, c, argv));
  }
  return call(s, c, def, argv);
}

/** A write (or EXEC of one) to a key that a MIGRATE is moving: it waits for the MIGRATE. */
function writesMigrating(s: Server, c: Client, def: CommandDef, argv: string[]): boolean {
  const locked = s.migrating.keys;
  if (def.name === "exec") {
    if (c.multi === null) return false;
    return c.multi.some((q) => {
      const d = lookupCommand(s.commands, q.argv);
      return typeof d !== "string" && writesMigrating(s, c, d, q.argv);
    });
  }
  if (!(def.bits & (F_WRITE | F_MAY_REPLICATE))) return false;
  for (const i of commandKeys(def, argv)) if (locked.has(argv[i]!)) return true;
  return false;
}

/**
 * Authentication, ACL permissions and the pub/sub context: the first refusals, before cluster
 * redirects. A user allowed everything (the default user, usually) skips the ACL check.
 */
function accessCheck(s: Server, c: Client, def: CommandDef, argv: string[]): string | null {
  if (!c.authenticated && !(def.bits & F_NO_AUTH)) return ERR.noAuth;
  const user = c.aclUser;
  if (user !== null && !user.unrestricted) {
    const refused = aclRefusal(s, c, def, argv);
    if (refused !== null) return refused;
  }
  if (c.inPubSubContext && !PUBSUB_ALLOWED.has(def.name)) {
    return `ERR Can't execute '${def.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
  }
  return null;
}

/** The NOPERM refusal of a command the client's user may not run (logged), or null. */
function aclRefusal(s: Server, c: Client, def: CommandDef, argv: string[]): string | null {
  const denied = aclDenied(s, c, def, argv);
  if (denied === null) return null;
  if (denied === "command") {
    return `NOPERM this user has no permissions to run the '${def.name}' command`;
  }
  return `NOPERM this user has no permissions to access one of the ${
    denied === "key" ? "keys" : "channels"
  } used as arguments`;
}

/** The checks a normal client's command passes before it runs; the refusal, or null. */
function clientCheck(s: Server, c: Client, def: CommandDef): string | null {
  // A replica's link carries acknowledgements, never reads or writes of data (as in Redis).
  if (
    c.kind === "replica" &&
    (isWrite(def, c) || (def.bits & F_MAY_REPLICATE) !== 0 || def.flags.includes("readonly"))
  ) return "ERR Replica can't interact with the keyspace";
  // Over maxmemory: evict first; commands that may grow memory are refused if that fails.
  if (s.maxmemory > 0 && !s.performEvictions() && isDenyOom(def, c)) {
    return ERR.oom;
  }
  const writes = isWrite(def, c);
  // PING too, as Redis refuses it, so that a monitor (Sentinel) sees the node as failing.
  if ((writes || def.name === "ping") && s.persistence?.writesRefused()) return MISCONF;
  const repl = s.replication;
  if (writes && s.minReplicasOn && !repl.replica.active && !repl.master.enoughGoodReplicas()) {
    return "NOREPLICAS Not enough good replicas to write.";
  }
  if (writes && repl.replica.active && s.config.get<boolean>("replica-read-only")) {
    return "READONLY You can't write against a read only replica.";
  }
  // A replica whose link is down answers only what may run on stale data, if so configured.
  if (
    repl.replica.active && repl.replica.state !== "connected" && isDenyStale(def, c) &&
    !s.config.get<boolean>("replica-serve-stale-data")
  ) {
    return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
  }
  if (s.loading && !def.flags.includes("loading")) {
    return "LOADING Redis is loading the dataset in memory";
  }
  if (s.asyncLoading && isDenyAsyncLoading(def, c)) {
    return "LOADING Redis is loading the dataset in memory";
  }
  return null;
}

/**
 * A protected command (DEBUG, MODULE LOAD...) that its directive does not allow for this client:
 * `yes` allows it, `local` from a loopback or Unix socket connection only. The refusal, or null.
 */
function protectedRefusal(
  s: Server,
  c: Client,
  directive: "enable-debug-command" | "enable-module-command",
): string | null {
  const mode = s.config.getString(directive);
  if (mode === "yes" || (mode === "local" && isLocalPeer(c.addr))) return null;
  const what = directive === "enable-debug-command" ? "DEBUG" : "MODULE";
  return `ERR ${what} command not allowed. If the ${directive} option is set to "local", you ` +
    "can run it from a local connection, otherwise you need to set this option in the " +
    "configuration file, and then restart the server.";
}

/** Commands refused during an async load, and EXEC of a transaction that queued one. */
function isDenyAsyncLoading(def: CommandDef, c: Client): boolean {
  if (def.flags.includes("no_async_loading")) return true;
  return def.name === "exec" && c.multi !== null && c.multiDenyAsyncLoading;
}

/** A write command, or EXEC of a transaction that queued one. */
function isWrite(def: CommandDef, c: Client): boolean {
  if (def.bits & F_WRITE) return true;
  return def.name === "exec" && c.multi !== null && c.multi.some((q) => q.writes);
}

/** Commands that may not run on stale data, and EXEC of a transaction that queued one. */
function isDenyStale(def: CommandDef, c: Client): boolean {
  if (!(def.bits & F_STALE)) return true;
  return def.name === "exec" && c.multi !== null && c.multiDenyStale;
}

/** denyoom commands, and EXEC of a transaction that queued one. */
function isDenyOom(def: CommandDef, c: Client): boolean {
  if (def.bits & F_DENYOOM) return true;
  return def.name === "exec" && c.multi !== null && c.multiDenyOom;
}

/**
 * Would CLIENT PAUSE hold argv from `c` now? For a master link, which the pause holds as Redis
 * holds its master client (replicas' own links are never paused): the link's commands wait.
 */
export function pausedFor(s: Server, c: Client, argv: string[]): boolean {
  if (!s.pause) return false;
  const def = lookupCommand(s.commands, argv);
  return typeof def !== "string" && isPaused(s, c, def, argv);
}

/**
 * CLIENT PAUSE WRITE holds writes and what may replicate (PUBLISH, PFCOUNT, scripts that may
 * write, EXEC of a transaction that queued any of these); ALL holds everything.
 */
function isPaused(s: Server, c: Client, def: CommandDef, argv: string[]): boolean {
  if (s.pause!.all) return true;
  if (def.name === "exec") return c.multi !== null && c.multiMayReplicate;
  return (effectiveCommandBits(s, def, argv) & (F_WRITE | F_MAY_REPLICATE)) !== 0;
}
