/** Server commands: INFO, CONFIG, DBSIZE, FLUSH*, TIME, MONITOR, DEBUG, SHUTDOWN, SWAPDB... */
import type { ClientState, Engine } from "../engine/types.ts";
import { isLocalPeer } from "../../shared/net.ts";
import { cmd, container, ERR, parseI64 } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { estimateBytes } from "../store/types.ts";
import { parseDbIndexOrReply, replyHelp } from "./define.ts";
import { ConfigSetError } from "../../shared/config/schema.ts";

function info(s: Engine, c: ClientState, argv: string[]): void {
  c.out.verbatim(s.infoText(argv.slice(1)));
}

function configGet(s: Engine, c: ClientState, argv: string[]): void {
  const pairs = s.config.configGet(argv.slice(2));
  c.out.map(pairs.length);
  for (const [k, v] of pairs) {
    c.out.bulk(k);
    c.out.bulk(v);
  }
}

function configSet(s: Engine, c: ClientState, argv: string[]): void {
  if ((argv.length - 2) % 2 !== 0) return c.error(ERR.syntax);
  const pairs: [string, string][] = [];
  for (let i = 2; i < argv.length; i += 2) {
    pairs.push([argv[i]!, argv[i + 1]!]);
    if (s.config.isSensitive(argv[i]!)) c.redact(argv, i + 1);
  }
  const prot = s.config.getString("enable-protected-configs");
  const allowProtected = prot === "yes" || (prot === "local" && isLocalPeer(c.addr));
  try {
    s.config.configSet(pairs, allowProtected, s.loading || s.asyncLoading);
  } catch (e) {
    if (!(e instanceof ConfigSetError)) throw e;
    c.error(e.message);
    return;
  }
  c.out.ok();
}

function configRewrite(s: Engine, c: ClientState): void {
  try {
    s.config.rewrite(s.config.configFile ?? "");
  } catch (e) {
    c.error(
      e instanceof ConfigSetError
        ? e.message
        : `ERR Rewriting config file: ${(e as Error).message}`,
    );
    return;
  }
  c.out.ok();
}

/** ASYNC, SYNC or (none given) per lazyfree-lazy-user-flush; null after a syntax error. */
function flushMode(s: Engine, c: ClientState, argv: string[], at: number): boolean | null {
  if (argv.length === at) return s.config.get<boolean>("lazyfree-lazy-user-flush");
  const m = argv[at]!.toLowerCase();
  if (argv.length === at + 1 && (m === "async" || m === "sync")) return m === "async";
  c.error(ERR.syntax);
  return null;
}

/** Keys emptied asynchronously count as lazily freed objects, as in Redis (emptyDbAsync). */
function flushed(s: Engine, keys: number, async: boolean): number {
  if (async) s.stats.lazyfreedObjects += keys;
  return keys;
}

function flushdb(s: Engine, c: ClientState, argv: string[]): void {
  const async = flushMode(s, c, argv, 1);
  if (async === null) return;
  s.dirty += flushed(s, c.db.clear(), async);
  s.blocking.contentsReplaced(c.db);
  s.tracking.flushed();
  // Propagated even when the database was empty, as Redis forces it.
  c.forcePropagation = true;
  c.out.ok();
}

function flushall(s: Engine, c: ClientState, argv: string[]): void {
  const async = flushMode(s, c, argv, 1);
  if (async === null) return;
  for (const db of s.dbs) {
    s.dirty += flushed(s, db.clear(), async);
    s.blocking.contentsReplaced(db);
  }
  s.tracking.flushed();
  s.replicaKeysWithExpire.clear();
  s.afterFlushAll?.();
  // FLUSHALL always reaches the AOF and the replicas, on empty databases and after the save of
  // the save points (which resets the change counter), as in Redis.
  c.forcePropagation = true;
  c.out.ok();
}

function swapdb(s: Engine, c: ClientState, argv: string[]): void {
  if (s.clusterEnabled) return c.error("ERR SWAPDB is not allowed in cluster mode");
  const a = parseDbIndexOrReply(c, argv[1]!, "ERR invalid first DB index");
  if (a === null) return;
  const b = parseDbIndexOrReply(c, argv[2]!, "ERR invalid second DB index");
  if (b === null) return;
  const da = s.dbs[a], dbb = s.dbs[b];
  if (a < 0 || b < 0 || !da || !dbb) return c.error(ERR.dbIndex);
  if (da !== dbb) {
    da.swapWith(dbb);
    // Clients blocked on a key of either database are retried now.
    s.blocking.contentsReplaced(da);
    s.blocking.contentsReplaced(dbb);
  }
  // The keys remembered per database no longer match their databases (Redis forgets them).
  s.replicaKeysWithExpire.clear();
  s.dirty++;
  c.out.ok();
}

function time(s: Engine, c: ClientState): void {
  const us = BigInt(s.clock.nowMs()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
  c.out.array(2);
  c.out.bulk(String(us / 1000000n));
  c.out.bulk(String(us % 1000000n));
}

function monitor(s: Engine, c: ClientState): void {
  if (c.monitor) return c.out.ok();
  c.monitor = true;
  s.monitors.add(c);
  c.out.ok();
}

function shutdown(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  let save = false, nosave = false, abort = false, now = false, force = false;
  for (const a of argv.slice(1).map((x) => x.toLowerCase())) {
    if (a === "nosave") nosave = true;
    else if (a === "save") save = true;
    else if (a === "now") now = true;
    else if (a === "force") force = true;
    else if (a === "abort") abort = true;
    else return c.error(ERR.syntax);
  }
  // ABORT takes no other flag; SAVE and NOSAVE exclude each other (as in Redis).
  if ((abort && (save || nosave || now || force)) || (save && nosave)) return c.error(ERR.syntax);
  if (abort) {
    if (!s.abortShutdown()) return c.error("ERR No shutdown in progress.");
    return c.out.ok();
  }
  // The client is blocked (INFO's blocked_clients) while the shutdown waits for replicas.
  c.blocked = { unblock: () => {} };
  return s.shutdown(save ? true : nosave ? false : null, now, force).then((ok) => {
    c.blocked = null;
    if (!ok) c.error("ERR Errors trying to SHUTDOWN. Check logs.");
  });
}

const MEMORY_HELP = [
  "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "DOCTOR",
  "    Return memory problems reports.",
  "MALLOC-STATS",
  "    Return internal statistics report from the memory allocator.",
  "PURGE",
  "    Attempt to purge dirty pages for reclamation by the allocator.",
  "STATS",
  "    Return information about the memory usage of the server.",
  "USAGE <key> [SAMPLES <count>]",
  "    Return memory in bytes used by <key> and its value. Nested values are",
  "    sampled up to <count> times (default: 5, 0 means sample all).",
  "HELP",
  "    Prints this help.",
];

/**
 * MEMORY USAGE key [SAMPLES count]: the key's share of the memory estimate (see
 * server/memory.ts). As Redis, options are parsed before the key is looked up; SAMPLES takes a
 * 64-bit integer (negative is a syntax error) and may repeat.
 */
function memoryUsage(_s: Engine, c: ClientState, argv: string[]): void {
  for (let j = 3; j < argv.length; j++) {
    if (argv[j]!.toLowerCase() === "samples" && j + 1 < argv.length) {
      const n = parseI64(argv[++j]!);
      if (n === null) return c.error(ERR.notInt);
      if (n < 0n) return c.error(ERR.syntax);
    } else return c.error(ERR.syntax);
  }
  const e = c.db.lookup(argv[2]!, false);
  if (!e) return c.out.nullBulk();
  c.out.int(Math.round(estimateBytes(argv[2]!, e.value)));
}

/** Below this much used memory Redis's doctor declines to diagnose anything. */
const DOCTOR_MIN_BYTES = 5 * 1024 * 1024;

/**
 * MEMORY DOCTOR: Redis's report texts. This server runs none of Redis's allocator-level checks
 * (fragmentation, peak, buffers), so past the "empty instance" threshold it reports no issue.
 */
function memoryDoctor(s: Engine, c: ClientState): void {
  const used = s.memoryStats().used;
  c.out.verbatim(
    used < DOCTOR_MIN_BYTES
      ? "Hi Sam, this instance is empty or is using very little memory, my issues detector " +
        "can't be used in these conditions. Please, leave for your mission on Earth and fill it " +
        "with some data. The new Sam and I will be back to our programming as soon as I " +
        "finished rebooting.\n"
      : "Hi Sam, I can't find any memory issue in your instance. I can only account for what " +
        "occurs on this base.\n",
  );
}

/** Bytes of a hash table's bucket array: a power of two of at least 4 slots, 8 bytes each. */
function tableSlotsBytes(n: number): number {
  if (n === 0) return 0;
  let slots = 4;
  while (slots < n) slots *= 2;
  return slots * 8;
}

/**
 * MEMORY STATS: Redis 7.0's fields, in its order, filled with this server's estimates (the same
 * figures INFO memory reports; per-db overheads estimated as Redis sizes its dict entries).
 * Ratios are single-precision floats, as Redis computes them.
 */
function memoryStatsCmd(s: Engine, c: ClientState): void {
  const m = s.memoryStats();
  const dbs: [number, number, number][] = [];
  let keys = 0, dbOverhead = 0;
  s.dbs.forEach((db, i) => {
    if (db.size === 0) return;
    keys += db.size;
    const main = db.size * 40 + tableSlotsBytes(db.size);
    const exp = db.expires.size * 24 + tableSlotsBytes(db.expires.size);
    dbOverhead += main + exp;
    dbs.push([i, main, exp]);
  });
  const clients = m.overhead - m.startup;
  const overheadTotal = m.startup + clients + dbOverhead;
  const net = Math.max(0, m.used - m.startup);
  const dataset = Math.max(0, m.used - overheadTotal);
  const f = Math.fround;
  c.out.map(27 + dbs.length);
  const int = (k: string, v: number) => {
    c.out.bulk(k);
    c.out.int(Math.round(v));
  };
  const dbl = (k: string, v: number) => {
    c.out.bulk(k);
    c.out.double(f(v));
  };
  int("peak.allocated", m.peak);
  int("total.allocated", m.used);
  int("startup.allocated", m.startup);
  int("replication.backlog", 0);
  int("clients.slaves", 0);
  int("clients.normal", clients);
  int("cluster.links", 0);
  int("aof.buffer", 0);
  int("lua.caches", 0);
  int("functions.caches", 0);
  for (const [i, main, exp] of dbs) {
    c.out.bulk(`db.${i}`);
    c.out.map(3);
    int("overhead.hashtable.main", main);
    int("overhead.hashtable.expires", exp);
    int("overhead.hashtable.slot-to-keys", 0);
  }
  int("overhead.total", overheadTotal);
  int("keys.count", keys);
  int("keys.bytes-per-key", keys ? Math.floor(net / keys) : 0);
  int("dataset.bytes", dataset);
  dbl("dataset.percentage", net ? f(f(dataset) * 100) / f(net) : 0);
  dbl("peak.percentage", m.peak ? f(f(m.used) * 100) / f(m.peak) : 0);
  int("allocator.allocated", m.used);
  int("allocator.active", m.used);
  int("allocator.resident", m.rss);
  dbl("allocator-fragmentation.ratio", 1);
  int("allocator-fragmentation.bytes", 0);
  dbl("allocator-rss.ratio", m.rss / Math.max(1, m.used));
  int("allocator-rss.bytes", m.rss - m.used);
  dbl("rss-overhead.ratio", 1);
  int("rss-overhead.bytes", 0);
  dbl("fragmentation", m.rss / Math.max(1, m.used));
  int("fragmentation.bytes", m.rss - m.used);
}

/** ROLE: this node is a master with no replicas (replication comes later). */

const CONFIG_HELP = [
  "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value>",
  "    Set the configuration <directive> to <value>.",
  "RESETSTAT",
  "    Reset statistics reported by the INFO command.",
  "REWRITE",
  "    Rewrite the configuration file.",
  "HELP",
  "    Prints this help.",
];

const cfg = (
  name: string,
  arity: number,
  flags: string,
  h: CommandDef["handler"],
  summary: string,
) => cmd(`config|${name}`, arity, flags, null, "server", h ?? null, { summary, since: "2.0.0" });

export const SERVER_COMMANDS: CommandDef[] = [
  cmd("info", -1, "loading stale", null, "server", info, {
    summary: "Returns information and statistics about the server.",
    acl: ["dangerous"],
  }),
  container("config", "server", [
    cfg(
      "get",
      -3,
      "admin noscript loading stale",
      configGet,
      "Returns the effective values of configuration parameters.",
    ),
    cfg(
      "set",
      -4,
      "admin noscript loading stale",
      configSet,
      "Sets configuration parameters in-flight.",
    ),
    cfg(
      "rewrite",
      2,
      "admin noscript loading stale",
      configRewrite,
      "Persists the effective configuration to file.",
    ),
    cfg("resetstat", 2, "admin noscript loading stale", (s, c) => {
      s.stats.reset();
      // total_net_repl_input_bytes / total_net_repl_output_bytes start again too.
      s.replication.replica.replIn = 0;
      s.replication.master.counters.replOut = 0;
      c.out.ok();
    }, "Resets the server's statistics."),
    cfg(
      "help",
      2,
      "loading stale",
      (_s, c) => replyHelp(c, CONFIG_HELP),
      "Returns helpful text about the different subcommands.",
    ),
  ], { summary: "A container for server configuration commands.", since: "2.0.0" }),
  container(
    "memory",
    "server",
    [
      cmd("memory|usage", -3, "readonly", [2, 2, 1], "server", memoryUsage, {
        summary: "Estimates the memory usage of a key.",
        since: "4.0.0",
      }),
      cmd("memory|doctor", 2, "", null, "server", memoryDoctor, {
        summary: "Outputs a memory problems report.",
        since: "4.0.0",
      }),
      cmd("memory|stats", 2, "", null, "server", memoryStatsCmd, {
        summary: "Returns details about memory usage.",
        since: "4.0.0",
      }),
      // No allocator statistics to print: Redis's reply when built without jemalloc.
      cmd(
        "memory|malloc-stats",
        2,
        "",
        null,
        "server",
        (_s, c) => c.out.bulk("Stats not supported for the current allocator"),
        { summary: "Returns the allocator statistics.", since: "4.0.0" },
      ),
      cmd("memory|purge", 2, "", null, "server", (_s, c) => c.out.ok(), {
        summary: "Asks the allocator to release memory.",
        since: "4.0.0",
      }),
      cmd("memory|help", 2, "loading stale", null, "server", (_s, c) => replyHelp(c, MEMORY_HELP), {
        summary: "Returns helpful text about the different subcommands.",
        since: "4.0.0",
      }),
    ],
    { summary: "A container for memory diagnostics commands.", since: "4.0.0" },
  ),
  cmd("dbsize", 1, "readonly fast", null, "server", (_s, c) => c.out.int(c.db.size), {
    summary: "Returns the number of keys in the database.",
    acl: ["keyspace"],
  }),
  cmd("flushdb", -1, "write", null, "server", flushdb, {
    summary: "Removes all keys from the current database.",
    acl: ["keyspace", "dangerous"],
  }),
  cmd("flushall", -1, "write", null, "server", flushall, {
    summary: "Removes all keys from all databases.",
    acl: ["keyspace", "dangerous"],
  }),
  cmd("swapdb", 3, "write fast", null, "server", swapdb, {
    summary: "Swaps two Redis databases.",
    since: "4.0.0",
    acl: ["keyspace", "dangerous"],
  }),
  cmd("time", 1, "loading stale fast", null, "server", time, {
    summary: "Returns the server time.",
    since: "2.6.0",
  }),
  cmd("lastsave", 1, "loading stale fast", null, "server", (s, c) => c.out.int(s.lastSaveSec), {
    summary: "Returns the Unix timestamp of the last successful save to disk.",
    acl: ["admin", "dangerous"],
  }),
  cmd("monitor", 1, "admin noscript loading stale", null, "server", monitor, {
    summary: "Listens for all requests received by the server in real-time.",
  }),
  cmd(
    "shutdown",
    -1,
    "admin noscript loading stale no_multi allow_busy",
    null,
    "server",
    shutdown,
    { summary: "Synchronously saves the database(s) to disk and shuts down the Redis server." },
  ),
];

export { ConfigSetError };
