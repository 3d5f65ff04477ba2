/**
 * The data node's directives: Redis 7's names, defaults and ranges. Features that a later part
 * of the project builds are in the schema already, so an existing redis.conf loads; a value
 * asking for one that is not built yet stops startup with a "not supported yet" reason.
 */
import type { ParamDef, ParseContext } from "../shared/config/schema.ts";
import type { ConfigLine } from "../shared/config/parse.ts";
import { notifyFlagsType } from "./engine/notify.ts";

const bool = { kind: "bool" } as const;
const str = { kind: "string" } as const;
const mem = { kind: "memory" } as const;
const int = (min: number, max: number) => ({ kind: "int", min, max }) as const;
const oneOf = (...values: string[]) => ({ kind: "enum", values }) as const;
const INT_MAX = 2147483647;
const INT_MIN = -2147483648;
const LONG_MAX = Number.MAX_SAFE_INTEGER;

/**
 * The `user` lines of a loaded configuration (each line's words after `user`): kept outside the
 * schema, applied to the ACL when the server starts.
 */
export const CONFIG_USERS = new WeakMap<object, string[][]>();

/** The `rename-command` lines of a loaded configuration, applied to the command table. */
export const CONFIG_RENAMES = new WeakMap<object, ConfigLine[]>();

const notYet = (what: string) => `${what} is not supported yet`;

/** `save <seconds> <changes> [<seconds> <changes> ...]`, or "" to disable. */
export type SaveRule = { seconds: number; changes: number };

function parseSave(args: string[]): SaveRule[] | Error {
  const words = args.flatMap((a) => a.split(" ")).filter((w) => w !== "");
  if (words.length % 2 !== 0) return new Error("Invalid save parameters");
  const rules: SaveRule[] = [];
  for (let i = 0; i < words.length; i += 2) {
    const seconds = Number(words[i]), changes = Number(words[i + 1]);
    if (!Number.isInteger(seconds) || !Number.isInteger(changes) || seconds < 0 || changes < 0) {
      return new Error("Invalid save parameters");
    }
    rules.push({ seconds, changes });
  }
  return rules;
}

const saveType = {
  kind: "custom",
  // Several `save` lines in one file add up; `save ""` clears; CONFIG SET replaces.
  parse: (args: string[], ctx: ParseContext) => {
    const rules = parseSave(args);
    if (rules instanceof Error || !ctx.repeated || rules.length === 0) return rules;
    return [...(ctx.current as SaveRule[]), ...rules];
  },
  format: (v: unknown) => {
    const rules = v as SaveRule[];
    return rules.length === 0 ? ['""'] : rules.map((r) => `${r.seconds} ${r.changes}`);
  },
  show: (v: unknown) => (v as SaveRule[]).map((r) => `${r.seconds} ${r.changes}`).join(" "),
} as const;

/** A file mode written in octal (`unixsocketperm 700`), shown in octal as Redis shows it. */
const octalMode = {
  kind: "custom",
  parse: (args: string[]): number | Error => {
    const v = args.join(" ");
    if (!/^[0-7]+$/.test(v)) return new Error("argument couldn't be parsed into an integer");
    const n = parseInt(v, 8);
    if (n > 0o777) return new Error("argument must be between 0 and 511 inclusive");
    return n;
  },
  format: (v: unknown) => [(v as number).toString(8)],
  show: (v: unknown) => (v as number).toString(8),
} as const;

/**
 * `latency-tracking-info-percentiles`: numbers between 0 and 100, kept as text the way Redis
 * prints them back (fixed six decimals with the trailing zeros dropped: "50.0" reads "50").
 */
const percentilesType = {
  kind: "custom",
  parse: (args: string[]): string | Error => {
    const words = args.flatMap((a) => a.split(" ")).filter(Boolean);
    const shown: string[] = [];
    for (const w of words) {
      const p = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(w) ? Number(w) : NaN;
      if (Number.isNaN(p)) return new Error("Invalid latency-tracking-info-percentiles parameters");
      if (p < 0 || p > 100) {
        return new Error(
          "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
        );
      }
      shown.push(p.toFixed(6).replace(/\.?0+$/, ""));
    }
    return shown.join(" ");
  },
  format: (v: unknown) => [v === "" ? '""' : v as string],
  show: (v: unknown) => v as string,
} as const;

/**
 * `shutdown-on-sigint` / `shutdown-on-sigterm`: flags among default, save, nosave, now, force;
 * shown in that order, whatever order they were given in (Redis's multi-flag enum).
 */
const SHUTDOWN_FLAGS = ["default", "save", "nosave", "now", "force"];
const shutdownFlagsType = {
  kind: "custom",
  parse: (args: string[]): string | Error => {
    const words = args.flatMap((a) => a.split(" ")).filter(Boolean).map((w) => w.toLowerCase());
    if (words.length === 0 || words.some((w) => !SHUTDOWN_FLAGS.includes(w))) {
      return new Error(`argument(s) must be one of the following: ${SHUTDOWN_FLAGS.join(", ")}`);
    }
    if (words.includes("save") && words.includes("nosave")) {
      return new Error("shutdown options SAVE and NOSAVE can't be used simultaneously");
    }
    const set = SHUTDOWN_FLAGS.slice(1).filter((f) => words.includes(f));
    return set.length === 0 ? "default" : set.join(" ");
  },
  format: (v: unknown) => [v as string],
  show: (v: unknown) => v as string,
} as const;

/** `oom-score-adj-values <master> <replica> <bgchild>`: three integers within -2000..2000. */
const oomValuesType = {
  kind: "custom",
  parse: (args: string[]): number[] | Error => {
    const words = args.flatMap((a) => a.split(" ")).filter(Boolean);
    if (words.length !== 3) return new Error("wrong number of arguments");
    const out: number[] = [];
    for (const w of words) {
      const n = /^[+-]?\d+$/.test(w) ? Number(w) : NaN;
      if (!(n >= -2000 && n <= 2000)) {
        return new Error(
          "Invalid oom-score-adj-values, elements must be between -2000 and 2000.",
        );
      }
      out.push(n);
    }
    return out;
  },
  format: (v: unknown) => [(v as number[]).join(" ")],
  show: (v: unknown) => (v as number[]).join(" "),
} as const;

/** `replicaof <host> <port>` or `replicaof no one`. */
export type ReplicaOf = { host: string; port: number } | null;

const replicaOfType = {
  kind: "custom",
  parse: (args: string[]): ReplicaOf | Error => {
    const words = args.length === 1 ? args[0]!.split(" ").filter(Boolean) : args;
    if (words.length === 0) return null;
    if (words.length !== 2) return new Error("wrong number of arguments");
    if (words[0]!.toLowerCase() === "no" && words[1]!.toLowerCase() === "one") return null;
    const port = Number(words[1]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return new Error("Invalid master port");
    }
    return { host: words[0]!, port };
  },
  format: (v: unknown) => {
    const r = v as ReplicaOf;
    return r ? [`${r.host} ${r.port}`] : [];
  },
  show: (v: unknown) => {
    const r = v as ReplicaOf;
    return r ? `${r.host} ${r.port}` : "";
  },
} as const;

export interface OutputLimit {
  hard: number;
  soft: number;
  softSeconds: number;
}
export type OutputLimits = Record<"normal" | "replica" | "pubsub", OutputLimit>;

const CLASS_ALIASES: Record<string, keyof OutputLimits> = {
  normal: "normal",
  slave: "replica",
  replica: "replica",
  pubsub: "pubsub",
};

export const DEFAULT_OUTPUT_LIMITS = "normal 0 0 0 slave 268435456 67108864 60 " +
  "pubsub 33554432 8388608 60";

function parseBytes(s: string): number | null {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(s);
  if (!m) return null;
  const unit = (m[2] ?? "b").toLowerCase();
  const mult: Record<string, number> = {
    b: 1,
    k: 1000,
    kb: 1024,
    m: 1e6,
    mb: 1024 ** 2,
    g: 1e9,
    gb: 1024 ** 3,
  };
  return Number(m[1]) * mult[unit]!;
}

function parseOutputLimits(args: string[], base?: OutputLimits): OutputLimits | Error {
  const words = args.flatMap((a) => a.split(" ")).filter(Boolean);
  if (words.length % 4 !== 0) {
    return new Error("Wrong number of arguments in buffer limit configuration.");
  }
  const out: OutputLimits = base ? structuredClone(base) : {
    normal: { hard: 0, soft: 0, softSeconds: 0 },
    replica: { hard: 268435456, soft: 67108864, softSeconds: 60 },
    pubsub: { hard: 33554432, soft: 8388608, softSeconds: 60 },
  };
  for (let i = 0; i < words.length; i += 4) {
    const cls = CLASS_ALIASES[words[i]!.toLowerCase()];
    const hard = parseBytes(words[i + 1]!), soft = parseBytes(words[i + 2]!);
    const secs = Number(words[i + 3]);
    if (!cls) return new Error("Invalid client class specified in buffer limit configuration.");
    if (hard === null || soft === null || !Number.isInteger(secs) || secs < 0) {
      return new Error(
        "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
      );
    }
    out[cls] = { hard, soft, softSeconds: secs };
  }
  return out;
}

const outputLimitType = {
  kind: "custom",
  parse: (args: string[], ctx: ParseContext) =>
    parseOutputLimits(args, ctx.current as OutputLimits | undefined),
  format: (v: unknown) => {
    const l = v as OutputLimits;
    return (["normal", "replica", "pubsub"] as const).map((k) =>
      `${k} ${l[k].hard} ${l[k].soft} ${l[k].softSeconds}`
    );
  },
  show: (v: unknown) => {
    const l = v as OutputLimits;
    return (["normal", "slave", "pubsub"] as const).map((k) => {
      const x = l[CLASS_ALIASES[k]!];
      return `${k} ${x.hard} ${x.soft} ${x.softSeconds}`;
    }).join(" ");
  },
} as const;

export const EVICTION_POLICIES = [
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "noeviction",
] as const;

export const DATA_NODE_PARAMS: ParamDef[] = [
  // Network
  { name: "bind", type: str, default: "* -::*", mutable: true, multiArg: true },
  { name: "port", type: int(0, 65535), default: "6379" },
  { name: "tcp-backlog", type: int(0, INT_MAX), default: "511", mutable: false },
  { name: "unixsocket", type: str, default: "", mutable: false },
  { name: "unixsocketperm", type: octalMode, default: "0", mutable: false },
  { name: "timeout", type: int(0, INT_MAX), default: "0" },
  { name: "tcp-keepalive", type: int(0, INT_MAX), default: "300" },
  { name: "protected-mode", type: bool, default: "yes" },
  { name: "maxclients", type: int(1, INT_MAX), default: "10000" },
  // General
  {
    name: "daemonize",
    type: bool,
    default: "no",
    mutable: false,
    notSupported: (v) => (v ? notYet("daemonize yes (run under a supervisor instead)") : undefined),
  },
  {
    name: "supervised",
    type: oneOf("no", "upstart", "systemd", "auto"),
    default: "no",
    mutable: false,
  },
  { name: "pidfile", type: str, default: "", mutable: false },
  {
    name: "loglevel",
    type: oneOf("debug", "verbose", "notice", "warning", "nothing"),
    default: "notice",
  },
  { name: "logfile", type: str, default: "", mutable: false },
  { name: "syslog-enabled", type: bool, default: "no", mutable: false },
  { name: "syslog-ident", type: str, default: "redis", mutable: false },
  { name: "databases", type: int(1, INT_MAX), default: "16", mutable: false },
  { name: "always-show-logo", type: bool, default: "no", mutable: false },
  { name: "set-proc-title", type: bool, default: "yes", mutable: false },
  { name: "proc-title-template", type: str, default: "{title} {listen-addr} {server-mode}" },
  { name: "hz", type: int(1, 500), default: "10" },
  { name: "dynamic-hz", type: bool, default: "yes" },
  {
    name: "enable-debug-command",
    type: oneOf("no", "yes", "local"),
    default: "no",
    mutable: false,
  },
  {
    name: "enable-protected-configs",
    type: oneOf("no", "yes", "local"),
    default: "no",
    mutable: false,
  },
  {
    name: "enable-module-command",
    type: oneOf("no", "yes", "local"),
    default: "no",
    mutable: false,
  },
  { name: "shutdown-timeout", type: int(0, INT_MAX), default: "10" },
  { name: "io-threads", type: int(1, 128), default: "1", mutable: false },
  { name: "io-threads-do-reads", type: bool, default: "no", mutable: false },
  { name: "latency-tracking", type: bool, default: "yes" },
  { name: "crash-log-enabled", type: bool, default: "yes" },
  { name: "crash-memcheck-enabled", type: bool, default: "yes" },
  // Redis's hidden configs (for its own tests): CONFIG GET by name shows them, a pattern does
  // not. Accepted and kept; key-load-delay and the loading interval pace the startup RDB load.
  { name: "use-exit-on-panic", type: bool, default: "no", hidden: true },
  { name: "rdb-key-save-delay", type: int(INT_MIN, INT_MAX), default: "0", hidden: true },
  { name: "key-load-delay", type: int(INT_MIN, INT_MAX), default: "0", hidden: true },
  { name: "watchdog-period", type: int(0, INT_MAX), default: "0", hidden: true },
  {
    name: "loading-process-events-interval-bytes",
    type: int(1024, INT_MAX),
    default: "2097152",
    hidden: true,
  },
  // Security
  { name: "requirepass", type: str, default: "", sensitive: true },
  { name: "masterauth", type: str, default: "", sensitive: true },
  { name: "masteruser", type: str, default: "" },
  { name: "acllog-max-len", type: int(0, LONG_MAX), default: "128" },
  { name: "aclfile", type: str, default: "", mutable: false },
  // Snapshotting
  { name: "save", type: saveType, default: "3600 1 300 100 60 10000", multiArg: true },
  { name: "stop-writes-on-bgsave-error", type: bool, default: "yes" },
  { name: "rdbcompression", type: bool, default: "yes" },
  { name: "rdbchecksum", type: bool, default: "yes", mutable: false },
  { name: "dbfilename", type: str, default: "dump.rdb", protected: true },
  { name: "rdb-del-sync-files", type: bool, default: "no" },
  { name: "dir", type: str, default: "./", protected: true, denyLoading: true },
  { name: "rdb-save-incremental-fsync", type: bool, default: "yes" },
  // Replication
  {
    name: "replicaof",
    aliases: ["slaveof"],
    type: replicaOfType,
    default: "",
    mutable: false,
    multiArg: true,
  },
  {
    name: "replica-serve-stale-data",
    aliases: ["slave-serve-stale-data"],
    type: bool,
    default: "yes",
  },
  { name: "replica-read-only", aliases: ["slave-read-only"], type: bool, default: "yes" },
  { name: "repl-diskless-sync", type: bool, default: "yes" },
  { name: "repl-diskless-sync-delay", type: int(0, INT_MAX), default: "5" },
  { name: "repl-diskless-sync-max-replicas", type: int(0, INT_MAX), default: "0" },
  {
    name: "repl-diskless-load",
    type: oneOf("disabled", "on-empty-db", "swapdb"),
    default: "disabled",
    denyLoading: true,
  },
  // Ours (Redis 8 has the same idea, off by default too): a full sync's RDB on a second
  // connection while the stream goes to the replica, when both ends announce it. Off, a full
  // sync is Redis 7.0's: the master buffers the stream for the replica until its RDB is loaded.
  { name: "repl-rdb-channel", type: bool, default: "no" },
  {
    name: "repl-ping-replica-period",
    aliases: ["repl-ping-slave-period"],
    type: int(1, INT_MAX),
    default: "10",
  },
  { name: "repl-timeout", type: int(1, INT_MAX), default: "60" },
  { name: "repl-disable-tcp-nodelay", type: bool, default: "no" },
  { name: "repl-backlog-size", type: { kind: "memory", min: 1 }, default: "1048576" },
  { name: "repl-backlog-ttl", type: int(0, LONG_MAX), default: "3600" },
  { name: "replica-priority", aliases: ["slave-priority"], type: int(0, INT_MAX), default: "100" },
  { name: "replica-announced", type: bool, default: "yes" },
  { name: "replica-announce-ip", aliases: ["slave-announce-ip"], type: str, default: "" },
  {
    name: "replica-announce-port",
    aliases: ["slave-announce-port"],
    type: int(0, 65535),
    default: "0",
  },
  { name: "replica-lazy-flush", aliases: ["slave-lazy-flush"], type: bool, default: "no" },
  {
    name: "min-replicas-to-write",
    aliases: ["min-slaves-to-write"],
    type: int(0, INT_MAX),
    default: "0",
  },
  {
    name: "min-replicas-max-lag",
    aliases: ["min-slaves-max-lag"],
    type: int(0, INT_MAX),
    default: "10",
  },
  // Limits and memory
  { name: "maxmemory", type: mem, default: "0" },
  { name: "maxmemory-policy", type: oneOf(...EVICTION_POLICIES), default: "noeviction" },
  { name: "maxmemory-samples", type: int(1, 64), default: "5" },
  { name: "maxmemory-eviction-tenacity", type: int(0, 100), default: "10" },
  { name: "maxmemory-clients", type: { kind: "memory", percent: true }, default: "0" },
  { name: "proto-max-bulk-len", type: { kind: "memory", min: 1024 * 1024 }, default: "536870912" },
  {
    name: "client-query-buffer-limit",
    type: { kind: "memory", min: 1024 * 1024 },
    default: "1073741824",
  },
  {
    name: "client-output-buffer-limit",
    type: outputLimitType,
    default: DEFAULT_OUTPUT_LIMITS,
    multiArg: true,
  },
  { name: "lazyfree-lazy-eviction", type: bool, default: "no" },
  { name: "lazyfree-lazy-expire", type: bool, default: "no" },
  { name: "lazyfree-lazy-server-del", type: bool, default: "no" },
  { name: "lazyfree-lazy-user-del", type: bool, default: "no" },
  { name: "lazyfree-lazy-user-flush", type: bool, default: "no" },
  { name: "active-expire-effort", type: int(1, 10), default: "1" },
  { name: "activerehashing", type: bool, default: "yes" },
  { name: "activedefrag", type: bool, default: "no" },
  { name: "lfu-log-factor", type: int(0, INT_MAX), default: "10" },
  { name: "lfu-decay-time", type: int(0, INT_MAX), default: "1" },
  // Append only file
  { name: "appendonly", type: bool, default: "no", denyLoading: true },
  { name: "appendfilename", type: str, default: "appendonly.aof", mutable: false },
  { name: "appenddirname", type: str, default: "appendonlydir", mutable: false },
  { name: "appendfsync", type: oneOf("always", "everysec", "no"), default: "everysec" },
  { name: "no-appendfsync-on-rewrite", type: bool, default: "no" },
  { name: "auto-aof-rewrite-percentage", type: int(0, INT_MAX), default: "100" },
  { name: "auto-aof-rewrite-min-size", type: mem, default: "67108864" },
  { name: "aof-load-truncated", type: bool, default: "yes" },
  { name: "aof-use-rdb-preamble", type: bool, default: "yes" },
  { name: "aof-timestamp-enabled", type: bool, default: "no" },
  { name: "aof-rewrite-incremental-fsync", type: bool, default: "yes" },
  // Cluster
  {
    name: "cluster-enabled",
    type: bool,
    default: "no",
    mutable: false,
  },
  { name: "cluster-config-file", type: str, default: "nodes.conf", mutable: false },
  { name: "cluster-node-timeout", type: int(0, LONG_MAX), default: "15000" },
  { name: "cluster-port", type: int(0, 65535), default: "0", mutable: false },
  {
    name: "cluster-replica-validity-factor",
    aliases: ["cluster-slave-validity-factor"],
    type: int(0, INT_MAX),
    default: "10",
  },
  { name: "cluster-migration-barrier", type: int(0, INT_MAX), default: "1" },
  { name: "cluster-allow-replica-migration", type: bool, default: "yes" },
  { name: "cluster-require-full-coverage", type: bool, default: "yes" },
  {
    name: "cluster-replica-no-failover",
    aliases: ["cluster-slave-no-failover"],
    type: bool,
    default: "no",
  },
  { name: "cluster-allow-reads-when-down", type: bool, default: "no" },
  { name: "cluster-allow-pubsubshard-when-down", type: bool, default: "yes" },
  { name: "cluster-announce-ip", type: str, default: "" },
  { name: "cluster-announce-port", type: int(0, 65535), default: "0" },
  { name: "cluster-announce-bus-port", type: int(0, 65535), default: "0" },
  {
    name: "cluster-announce-hostname",
    type: str,
    default: "",
    check: (v) => announcedHostnameProblem(String(v)),
  },
  {
    name: "cluster-preferred-endpoint-type",
    type: oneOf("ip", "hostname", "unknown-endpoint"),
    default: "ip",
  },
  { name: "cluster-link-sendbuf-limit", type: mem, default: "0" },
  // Diagnostics and encodings (accepted for compatibility)
  { name: "slowlog-log-slower-than", type: int(-1, LONG_MAX), default: "10000" },
  { name: "slowlog-max-len", type: int(0, LONG_MAX), default: "128" },
  { name: "latency-monitor-threshold", type: int(0, LONG_MAX), default: "0" },
  { name: "notify-keyspace-events", type: notifyFlagsType, default: "" },
  {
    name: "hash-max-listpack-entries",
    aliases: ["hash-max-ziplist-entries"],
    type: int(0, LONG_MAX),
    default: "512",
  },
  {
    name: "hash-max-listpack-value",
    aliases: ["hash-max-ziplist-value"],
    type: { kind: "memory", min: 0, max: LONG_MAX },
    default: "64",
  },
  {
    name: "list-max-listpack-size",
    aliases: ["list-max-ziplist-size"],
    type: int(-5, INT_MAX),
    default: "-2",
  },
  { name: "list-compress-depth", type: int(0, INT_MAX), default: "0" },
  { name: "set-max-intset-entries", type: int(0, LONG_MAX), default: "512" },
  {
    name: "zset-max-listpack-entries",
    aliases: ["zset-max-ziplist-entries"],
    type: int(0, LONG_MAX),
    default: "128",
  },
  {
    name: "zset-max-listpack-value",
    aliases: ["zset-max-ziplist-value"],
    type: { kind: "memory", min: 0, max: LONG_MAX },
    default: "64",
  },
  { name: "hll-sparse-max-bytes", type: mem, default: "3000" },
  { name: "stream-node-max-bytes", type: mem, default: "4096" },
  { name: "stream-node-max-entries", type: int(0, LONG_MAX), default: "100" },
  {
    name: "lua-time-limit",
    aliases: ["busy-reply-threshold"],
    type: int(0, LONG_MAX),
    default: "5000",
  },
  { name: "tracking-table-max-keys", type: int(0, LONG_MAX), default: "1000000" },
  { name: "jemalloc-bg-thread", type: bool, default: "yes" },
  { name: "oom-score-adj", type: oneOf("no", "yes", "relative", "absolute"), default: "no" },
  { name: "disable-thp", type: bool, default: "yes", mutable: false },
  // Accepted for compatibility: they tune Redis internals that have no counterpart here.
  {
    name: "acl-pubsub-default",
    type: oneOf("allchannels", "resetchannels"),
    default: "resetchannels",
  },
  { name: "active-defrag-cycle-max", type: int(1, 99), default: "25" },
  { name: "active-defrag-cycle-min", type: int(1, 99), default: "1" },
  {
    name: "active-defrag-ignore-bytes",
    type: { kind: "memory", min: 1 },
    default: "104857600",
  },
  { name: "active-defrag-max-scan-fields", type: int(1, LONG_MAX), default: "1000" },
  { name: "active-defrag-threshold-lower", type: int(0, 1000), default: "10" },
  { name: "active-defrag-threshold-upper", type: int(0, 1000), default: "100" },
  { name: "aof-disable-auto-gc", type: bool, default: "no" },
  { name: "aof_rewrite_cpulist", type: str, default: "", mutable: false },
  { name: "bgsave_cpulist", type: str, default: "", mutable: false },
  { name: "bio_cpulist", type: str, default: "", mutable: false },
  { name: "server_cpulist", type: str, default: "", mutable: false },
  { name: "bind-source-addr", type: str, default: "" },
  { name: "cluster-announce-tls-port", type: int(0, 65535), default: "0" },
  { name: "ignore-warnings", type: str, default: "" },
  {
    name: "latency-tracking-info-percentiles",
    type: percentilesType,
    default: "50 99 99.9",
    multiArg: true,
  },
  { name: "oom-score-adj-values", type: oomValuesType, default: "0 200 800", multiArg: true },
  {
    name: "propagation-error-behavior",
    type: oneOf("ignore", "panic", "panic-on-replicas"),
    default: "ignore",
  },
  { name: "replica-ignore-disk-write-errors", type: bool, default: "no" },
  {
    name: "replica-ignore-maxmemory",
    aliases: ["slave-ignore-maxmemory"],
    type: bool,
    default: "yes",
  },
  { name: "sanitize-dump-payload", type: oneOf("no", "yes", "clients"), default: "no" },
  { name: "shutdown-on-sigint", type: shutdownFlagsType, default: "default", multiArg: true },
  { name: "shutdown-on-sigterm", type: shutdownFlagsType, default: "default", multiArg: true },
  { name: "socket-mark-id", type: int(0, INT_MAX), default: "0", mutable: false },
  { name: "syslog-facility", type: str, default: "local0", mutable: false },
  {
    name: "tls-port",
    type: int(0, 65535),
    default: "0",
    notSupported: (v) => (v ? notYet("TLS (tls-port)") : undefined),
  },
  ...[
    "tls-ca-cert-dir",
    "tls-ca-cert-file",
    "tls-cert-file",
    "tls-ciphers",
    "tls-ciphersuites",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-dh-params-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-protocols",
  ].map((name): ParamDef => ({ name, type: str, default: "" })),
  { name: "tls-auth-clients", type: oneOf("no", "yes", "optional"), default: "yes" },
  { name: "tls-cluster", type: bool, default: "no" },
  { name: "tls-replication", type: bool, default: "no" },
  { name: "tls-prefer-server-ciphers", type: bool, default: "no" },
  { name: "tls-session-cache-size", type: int(0, INT_MAX), default: "20480" },
  { name: "tls-session-cache-timeout", type: int(0, INT_MAX), default: "300" },
  { name: "tls-session-caching", type: bool, default: "yes" },
  // Ours: the HTTP admin API
  { name: "admin-port", type: int(-1, 65535), default: "0" },
  { name: "admin-bind", type: str, default: "127.0.0.1" },
  { name: "admin-token", type: str, default: "", sensitive: true },
];

export { parseBytes, parseOutputLimits };

/** Redis's longest hostname (NET_HOST_STR_LEN), its terminating byte included. */
const HOSTNAME_MAX = 256;

/**
 * Why a cluster-announce-hostname is refused (Redis 7.0's rules: shorter than 256 bytes, and
 * only letters, digits, hyphens and dots), or undefined when it is fine.
 */
export function announcedHostnameProblem(name: string): string | undefined {
  if (new TextEncoder().encode(name).length >= HOSTNAME_MAX) {
    return `Hostnames must be less than ${HOSTNAME_MAX} characters`;
  }
  if (!/^[A-Za-z0-9.-]*$/.test(name)) {
    return "Hostnames may only contain alphanumeric characters, hyphens or dots";
  }
  return undefined;
}
