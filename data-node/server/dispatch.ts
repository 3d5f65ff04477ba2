/**
 * processCommand: from a parsed argv to a reply, with the checks Redis makes in its order:
 * lookup, arity, authentication, pub/sub context, MULTI queueing, CLIENT PAUSE; then the call
 * with statistics, propagation of writes and the MONITOR feed.
 */
import {
  type CommandDef,
  F_ADMIN,
  F_DENYOOM,
  F_MAY_REPLICATE,
  F_NO_AUTH,
  F_NO_MULTI,
  F_SKIP_MONITOR,
  F_WRITE,
} from "../commands/types.ts";
import type { Client } from "./client.ts";
import type { Server } from "./server.ts";
import { reprArg } from "./repr.ts";
import { discardTransaction, unwatchAll } from "../commands/transactions.ts";
import { clip128 } from "../../shared/cstr.ts";
import { ERR, MISCONF, unknownCommand, wrongArity } from "../../shared/errors.ts";

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

const spellingCache = new WeakMap<Map<string, CommandDef>, Map<string, CommandDef>>();

/** Every command under its lower- and upper-case name: one map lookup for most clients. */
let lastTable: Map<string, CommandDef> | null = null;
let lastSpellings: Map<string, CommandDef> | null = null;
/** The last spelling looked up that named a command without subcommands. */
let lastName = "";
let lastPlain: CommandDef | null = null;

function spellings(commands: Map<string, CommandDef>): Map<string, CommandDef> {
  lastTable = commands;
  lastName = "";
  let m = spellingCache.get(commands);
  if (!m) {
    m = new Map();
    for (const [name, def] of commands) {
      m.set(name, def);
      m.set(name.toUpperCase(), def);
    }
    spellingCache.set(commands, m);
  }
  lastSpellings = m;
  return m;
}

/** Finds the command or subcommand definition; an error text when there is none. */
export function lookupCommand(
  commands: Map<string, CommandDef>,
  argv: string[],
): CommandDef | string {
  const raw = argv[0]!;
  // Pipelines repeat a command: comparing a short name beats hashing it for a map lookup.
  if (raw === lastName && commands === lastTable) return lastPlain!;
  let def = (commands === lastTable ? lastSpellings! : spellings(commands)).get(raw);
  if (def !== undefined && !def.subcommands) {
    lastName = raw;
    lastPlain = def;
  }
  const name = def ? def.name : raw.toLowerCase();
  def ??= commands.get(name);
  if (!def) return unknownCommand(argv);
  if (!def.subcommands || argv.length < 2) return def;
  const subName = `${name}|${argv[1]!.toLowerCase()}`;
  const sub = def.subcommands.find((s) => s.name === subName);
  if (sub) return sub;
  return `ERR unknown subcommand '${clip128(argv[1]!)}'. Try ${name.toUpperCase()} HELP.`;
}

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
  // The AOF loader and a master link are obeyed: no auth, pub/sub, OOM, MISCONF or pause checks.
  if (!c.trusted) {
    const refused = clientCheck(s, c, def);
    if (refused !== null) return reject(s, c, def, refused);
  }
  if (c.multi && !MULTI_IMMEDIATE.has(def.name)) {
    if (def.bits & F_NO_MULTI) {
      return reject(s, c, def, ERR.notInMulti);
    }
    c.multi.push({ argv });
    if (def.bits & F_DENYOOM) c.multiDenyOom = true;
    c.out.simple("QUEUED");
    return;
  }
  if (s.pause && !c.trusted && isPaused(s, def)) {
    // A client that disconnected during the pause is gone: its command is dropped.
    return new Promise<void>((resolve) => s.pause!.waiters.push(resolve)).then(() =>
      c.closing ? undefined : processCommand(s, c, argv)
    );
  }
  return call(s, c, def, argv);
}

/** The checks a normal client's command passes before it runs; the refusal, or null. */
function clientCheck(s: Server, c: Client, def: CommandDef): string | null {
  if (!c.authenticated && !(def.bits & F_NO_AUTH)) return ERR.noAuth;
  if (c.inPubSubContext && !PUBSUB_ALLOWED.has(def.name)) {
    return `ERR Can't execute '${def.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
  }
  // Over maxmemory: evict first; commands that may grow memory are refused if that fails.
  if (s.maxmemory > 0 && !s.performEvictions() && isDenyOom(def, c)) {
    return ERR.oom;
  }
  if (def.bits & F_WRITE && s.persistence?.writesRefused()) return MISCONF;
  return null;
}

/** denyoom commands, and EXEC of a transaction that queued one. */
function isDenyOom(def: CommandDef, c: Client): boolean {
  if (def.bits & F_DENYOOM) return true;
  return def.name === "exec" && c.multi !== null && c.multiDenyOom;
}

function isPaused(s: Server, def: CommandDef): boolean {
  if (s.pause!.all) return true;
  return (def.bits & (F_WRITE | F_MAY_REPLICATE)) !== 0;
}

/** Commands that may expire arbitrary keys: their DELs go out without MULTI/EXEC. */
const TOUCHES_ARBITRARY_KEYS = new Set(["keys", "scan", "randomkey"]);

/** Propagates nothing more for this command: it recorded its effects itself. */
export const PROPAGATED: string[] = [];

/**
 * Runs a command as (part of) an execution unit: statistics, propagation of its effects, the
 * MONITOR feed. Clients blocked on keys the unit made ready are served once the outermost unit
 * has ended, each as a unit of its own, as Redis does.
 */
export function call(s: Server, c: Client, def: CommandDef, argv: string[]): void | Promise<void> {
  const dirtyBefore = s.dirty;
  const db = c.db;
  const p = s.propagation;
  c.failed = false;
  c.rewrittenArgv = null;
  // CLIENT LIST shows the running command for the client that runs it, as Redis does.
  c.lastCommand = def.name;
  // Each top-level command sees one instant, as Redis's command time snapshot.
  if (!p.inUnit) s.nowMs = s.clock.nowMs();
  p.enter(TOUCHES_ARBITRARY_KEYS.has(def.name));
  let result: void | Promise<void>;
  try {
    result = def.handler!(s, c, argv);
    if (s.dirty !== dirtyBefore && def.bits & F_WRITE) {
      const effect = c.rewrittenArgv ?? argv;
      if (effect !== PROPAGATED) p.also(db.id, effect);
    }
  } finally {
    p.exit();
  }
  const stat = s.stats.of(def);
  stat.calls++;
  s.stats.timed.push(stat);
  if (c.failed) stat.failedCalls++;
  s.stats.totalCommands++;
  if (s.monitors.size > 0 && !(def.bits & (F_SKIP_MONITOR | F_ADMIN))) {
    feedMonitors(s, c, db.id, argv);
  }
  if (!p.inUnit) s.blocking.serveReady();
  return result;
}

function feedMonitors(s: Server, c: Client, dbId: number, argv: string[]): void {
  const now = Date.now();
  const sec = Math.floor(now / 1000), usec = (now % 1000) * 1000;
  let line = `${sec}.${String(usec).padStart(6, "0")} [${dbId} ${c.addr}]`;
  for (const a of argv) line += " " + reprArg(a);
  for (const m of s.monitors) {
    if (m === c) continue;
    m.out.simple(line);
    s.wantsFlush(m);
  }
}
