/**
 * The engine's core: finding a command's definition, and running it as (part of) an execution
 * unit: counters, propagation of its effects, the MONITOR feed, then the clients blocked on keys
 * the unit made ready. Used by the dispatcher (client commands), EXEC, and trusted callers.
 */
import type { CommandDef } from "../commands/types.ts";
import { commandKeys, F_ADMIN, F_SHARED_TIME, F_SKIP_MONITOR, F_WRITE } from "../commands/types.ts";
import type { Client } from "../server/client.ts";
import type { Engine } from "./types.ts";
import { reprArg } from "../server/repr.ts";
import { clip128 } from "../../shared/cstr.ts";
import { unknownCommand } from "../../shared/errors.ts";

const spellingCache = new WeakMap<Map<string, CommandDef>, Map<string, CommandDef>>();

/** Every command under its lower- and upper-case name: one map lookup for most clients. */
let lastTable: Map<string, CommandDef> | null = null;
let lastSpellings: Map<string, CommandDef> | null = null;
/** The last spelling looked up that named a command without subcommands. */
let lastName = "";
let lastPlain: CommandDef | null = null;

function spellings(commands: Map<string, CommandDef>): Map<string, CommandDef> {
  lastTable = commands;
  lastPlain = null;
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
  if (lastPlain !== null && raw === lastName && commands === lastTable) return lastPlain;
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

/** Commands that may expire arbitrary keys: their DELs go out without MULTI/EXEC. */
const TOUCHES_ARBITRARY_KEYS = new Set(["keys", "scan", "randomkey"]);

/** Propagates nothing more for this command: it recorded its effects itself. */
export const PROPAGATED: string[] = [];

/**
 * Runs a command as (part of) an execution unit: statistics, propagation of its effects, the
 * MONITOR feed. Clients blocked on keys the unit made ready are served once the outermost unit
 * has ended, each as a unit of its own, as Redis does.
 */
export function call(s: Engine, c: Client, def: CommandDef, argv: string[]): void | Promise<void> {
  const dirtyBefore = s.dirty;
  const offsetBefore = s.replOffset;
  const db = c.db;
  const p = s.propagation;
  c.failed = false;
  c.forcePropagation = false;
  c.rewrittenArgv = null;
  c.redactedArgv = null;
  // CLIENT LIST shows the running command for the client that runs it, as Redis does.
  c.lastCommand = def.name;
  // Each top-level command sees one instant, as Redis's command time snapshot; a client's
  // batch of pipelined commands shares the one read when the batch started (see processInput).
  if (!p.inUnit && !s.batchTime) s.nowMs = s.clock.nowMs();
  // Cheap commands share their batch's time (Stats.shareTime); the others, and every command run
  // inside another (EXEC), are timed one by one.
  const nested = p.inUnit;
  const t0 = def.bits & F_SHARED_TIME && !nested ? -1 : performance.now();
  if (!nested && t0 >= 0) s.stats.settle(t0);
  // Client-side caching: the table kept under its limit, and who runs this command (NOLOOP,
  // and a client's own invalidations held until its reply).
  const top = !nested;
  const tracking = s.tracking;
  if (tracking.clientsOn !== 0 && top) {
    tracking.limitTableSize();
    tracking.current = c;
  }
  p.enter(TOUCHES_ARBITRARY_KEYS.has(def.name));
  let result: void | Promise<void>;
  try {
    result = def.handler!(s, c, argv);
    if ((s.dirty !== dirtyBefore || c.forcePropagation) && def.bits & F_WRITE) {
      const effect = c.rewrittenArgv ?? argv;
      // A command propagated as its client sent it is copied from the request's bytes.
      if (effect === argv && !nested && c.parser.rawOf(argv)) {
        p.also(db.id, argv, p.targets, c.parser);
      } else if (effect !== PROPAGATED) p.also(db.id, effect);
    }
  } finally {
    p.exit();
  }
  if (c.tracking !== null) trackCommand(s, c, def, argv, top);
  if (top && tracking.current !== null) tracking.commandDone(c);
  // WAIT waits for the replicas to reach the end of this client's last propagated write.
  if (s.replOffset !== offsetBefore) c.woff = s.replOffset;
  const stats = s.stats;
  const stat = stats.of(def);
  stat.calls++;
  // Arguments holding secrets (AUTH's password...) are shown redacted, as Redis does.
  const shown = c.redactedArgv ?? argv;
  if (t0 < 0) {
    stats.shareTime(stat, shown, c);
  } else {
    const t1 = performance.now();
    const us = (t1 - t0) * 1000;
    if (result !== undefined && c.blocked !== null) {
      // As in Redis, a command that blocked enters the slow log once it is served (or woken
      // with an error), as the client sent it; one that times out never does.
      stats.finish(stat, c, shown, us, false);
      c.blockedCall = { stat, argv: shown, us };
    } else stats.finish(stat, c, shown, us);
    // The fast commands after this one share the time from here on.
    if (!nested) stats.settle(t1);
  }
  if (c.failed) stat.failedCalls++;
  stats.totalCommands++;
  if (s.monitors.size > 0 && !(def.bits & (F_SKIP_MONITOR | F_ADMIN))) {
    feedMonitors(s, c, db.id, shown);
  }
  if (!p.inUnit) s.blocking.serveReady();
  return result;
}

const SCRIPT_RO_COMMANDS = new Set(["eval_ro", "evalsha_ro", "fcall_ro"]);

/**
 * After a command of a tracking client: the keys a read-only command read are remembered
 * (default mode), and a CLIENT CACHING choice lasts for one command (a whole transaction),
 * as in Redis: it survives CLIENT commands and commands queued by MULTI.
 */
function trackCommand(s: Engine, c: Client, def: CommandDef, argv: string[], top: boolean): void {
  const t = c.tracking!;
  // The read-only script commands track through the commands their script runs.
  if (!t.bcast && def.flags.includes("readonly") && !SCRIPT_RO_COMMANDS.has(def.name)) {
    s.tracking.remember(c, commandKeys(def, argv).map((i) => argv[i]!));
  }
  if (top && c.multi === null && !def.name.startsWith("client")) t.caching = false;
}

/** Shows a command to the MONITOR clients (scripts feed theirs before the commands they run). */
export function feedMonitors(s: Engine, c: Client, dbId: number, argv: string[]): void {
  const now = s.clock.nowMs();
  const sec = Math.floor(now / 1000), usec = (now % 1000) * 1000;
  let line = `${sec}.${String(usec).padStart(6, "0")} [${dbId} ${c.addr}]`;
  for (const a of argv) line += " " + reprArg(a);
  for (const m of s.monitors) {
    // A monitor sees its own commands too; one that set CLIENT REPLY OFF gets nothing.
    if (m.replyMode === "off") continue;
    m.out.simple(line);
    s.wantsFlush(m);
  }
}
