/** SAVE, BGSAVE, DUMP, RESTORE, MIGRATE (migrate.ts), and DEBUG RELOAD. */
import { NOTIFY } from "../engine/notify.ts";
import { keyMiss } from "./access.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { flushLibraries } from "../scripting/functions.ts";
import { getLogger } from "../../shared/log.ts";
import { binaryToBytes, bytesToBinary } from "../../shared/resp/bytes.ts";
import { dumpPayload, restorePayload } from "../persistence/rdb.ts";
import { cmd, ERR, parseI64, parseIndex, subcommandSyntaxError } from "./define.ts";
import type { CommandDef } from "./types.ts";
import {
  applyEncodingLimits,
  idleSeconds,
  lfuClock,
  lruClock,
  stringEncoding,
} from "../store/types.ts";
import { ListValue } from "../store/list.ts";
import { migrate } from "./migrate.ts";

const log = getLogger(["data-node", "persistence"]);

const IN_PROGRESS = "ERR Background save already in progress";

function save(s: Engine, c: ClientState): void {
  const p = s.persistence;
  if (!p) return c.error("ERR persistence is not available");
  if (p.bgsave) return c.error(IN_PROGRESS);
  // rdb_saves counts SAVE and background saves, as Redis: not the save of FLUSHALL, SHUTDOWN or
  // DEBUG RELOAD.
  p.saves++;
  if (p.saveSync()) c.out.ok();
  else c.error("ERR");
}

function bgsave(s: Engine, c: ClientState, argv: string[]): void {
  const p = s.persistence;
  if (!p) return c.error("ERR persistence is not available");
  const schedule = argv.length === 2 && argv[1]!.toLowerCase() === "schedule";
  if (argv.length > 2 || (argv.length === 2 && !schedule)) return c.error(ERR.syntax);
  // As Redis 7.0: an RDB being written (a BGSAVE, a full sync's) refuses another; another
  // background write (an AOF rewrite) or a running EXEC schedules it, with SCHEDULE or in EXEC.
  if (p.bgsave || p.rdbWrites > 0) return c.error(IN_PROGRESS);
  if (p.busy || s.inExec) {
    if (!schedule && !s.inExec) {
      return c.error(
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
      );
    }
    p.scheduleBgsave();
    return c.out.simple("Background saving scheduled");
  }
  void p.startBgsave();
  c.out.simple("Background saving started");
}

function dump(s: Engine, c: ClientState, argv: string[]): void {
  const e = c.db.lookup(argv[1]!);
  if (!e) {
    keyMiss(s, c, argv[1]!);
    return c.out.nullBulk();
  }
  const b = dumpPayload(e.value, {
    compress: s.config.get<boolean>("rdbcompression"),
    listFill: s.config.get<number>("list-max-listpack-size"),
  });
  c.out.bulk(bytesToBinary(b, 0, b.length));
}

/**
 * The bytes of a DUMP payload. A string value's payload (type 0) is decoded into a new string,
 * so it is copied into one reused buffer rather than a new one per RESTORE (MIGRATE sends a
 * RESTORE per key); other types may keep parts of the bytes, so they get their own.
 */
const SCRATCH_BYTES = 4096;
const scratch = new Uint8Array(SCRATCH_BYTES);

function payloadBytes(s: string): Uint8Array {
  if (s.length > SCRATCH_BYTES || s.length === 0 || s.charCodeAt(0) !== 0) return binaryToBytes(s);
  for (let i = 0; i < s.length; i++) scratch[i] = s.charCodeAt(i);
  return scratch.subarray(0, s.length);
}

/**
 * When a restored key expires (0: never). A relative TTL is added in 64-bit arithmetic, as
 * Redis does: an overflow wraps negative, which makes the key already expired. (MIGRATE sends
 * TTL 0 for most keys: that case makes no BigInt.)
 */
function restoreExpireAt(ttl: bigint, absttl: boolean, nowMs: number): number {
  if (ttl === 0n) return 0;
  if (absttl) return Number(ttl);
  return Number(BigInt.asIntN(64, ttl + BigInt(nowMs)));
}

/**
 * sanitize-dump-payload: whether a RESTORE payload gets Redis's deep integrity checks. With
 * "clients", a normal client's does; the master link's, the AOF loader's and those of a user
 * with skip-sanitize-payload do not.
 */
function deepSanitize(s: Engine, c: ClientState): boolean {
  const mode = s.config.getString("sanitize-dump-payload");
  if (mode === "yes") return true;
  if (mode !== "clients") return false;
  if (c.kind === "master" || c.trusted) return false;
  return c.aclUser?.sanitize !== "skip-sanitize-payload";
}

function restore(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!;
  // As Redis: the options first, then BUSYKEY, then the TTL, then the payload.
  let replace = false, absttl = false, idle = -1, freq = -1;
  for (let i = 4; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    const more = i + 1 < argv.length;
    if (o === "replace") replace = true;
    else if (o === "absttl") absttl = true;
    else if (o === "idletime" && more && freq === -1) {
      const n = parseIndex(argv[++i]!);
      if (n === null) return c.error(ERR.notInt);
      if (n < 0) return c.error("ERR Invalid IDLETIME value, must be >= 0");
      idle = n;
    } else if (o === "freq" && more && idle === -1) {
      const n = parseIndex(argv[++i]!);
      if (n === null) return c.error(ERR.notInt);
      if (n < 0 || n > 255) return c.error("ERR Invalid FREQ value, must be >= 0 and <= 255");
      freq = n;
    } else return c.error(ERR.syntax);
  }
  if (!replace && c.db.lookup(key)) {
    return c.error("BUSYKEY Target key name already exists.");
  }
  const ttlArg = argv[2] === "0" ? 0n : parseI64(argv[2]!);
  if (ttlArg === null) return c.error(ERR.notInt);
  if (ttlArg < 0n) return c.error("ERR Invalid TTL value, must be >= 0");
  const restored = restorePayload(payloadBytes(argv[3]!), { deep: deepSanitize(s, c) });
  if ("error" in restored) {
    // As Redis: a payload refused for its contents is logged (verbose), the reply says no more.
    if (restored.reason) log.info("RESTORE payload refused: {reason}", { reason: restored.reason });
    return c.error(restored.error);
  }
  const value = restored.value;
  applyEncodingLimits(value, s.config);
  const expireAt = restoreExpireAt(ttlArg, absttl, s.nowMs);
  if (expireAt !== 0 && expireAt <= s.nowMs) {
    // Already expired: the key ends up deleted, as Redis does.
    if (c.db.delete(key)) {
      s.notify(NOTIFY.GENERIC, "del", key, c.db.id);
      s.dirty++;
    }
    c.rewrittenArgv = ["DEL", key];
    return c.out.ok();
  }
  c.db.delete(key);
  c.db.set(key, value);
  const e = c.db.lookup(key, false)!;
  // As Redis: IDLETIME applies under an LRU policy, FREQ under an LFU one.
  const nowSec = Math.floor(s.nowMs / 1000);
  if (idle >= 0 && !s.lfuMode) e.clock = lruClock(nowSec - idle);
  if (freq >= 0 && s.lfuMode) e.clock = lfuClock(nowSec, freq);
  if (expireAt > 0) c.db.setExpire(key, expireAt);
  s.notify(NOTIFY.GENERIC, "restore", key, c.db.id);
  s.dirty++;
  // A relative TTL replicates as the absolute time, so a replay later keeps the same deadline.
  if (expireAt > 0 && !absttl && s.propagation.wanted) {
    const prop = [...argv];
    prop[2] = String(expireAt);
    prop.push("ABSTTL");
    c.rewrittenArgv = prop;
  }
  c.out.ok();
}

/**
 * DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save (unless NOSAVE), empty the dataset (unless
 * NOFLUSH), load the file back; with MERGE the file's keys replace existing ones, without it a
 * key that already exists fails the load.
 */
export function debugReload(s: Engine, c: ClientState, argv: string[]): void {
  let merge = false, flush = true, save = true;
  for (const opt of argv.slice(2)) {
    const o = opt.toLowerCase();
    if (o === "merge") merge = true;
    else if (o === "noflush") flush = false;
    else if (o === "nosave") save = false;
    else return c.error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
  }
  const p = s.persistence;
  if (!p) return c.error("ERR persistence is not available");
  if (save && !p.saveSync()) return c.error("ERR");
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(p.file);
  } catch (e) {
    log.warn("DEBUG RELOAD: cannot read {file}: {err}", { file: p.file, err: String(e) });
    return c.error("ERR Error trying to load the RDB dump, check server logs.");
  }
  if (flush) {
    for (const db of s.dbs) db.clear();
    s.tracking.flushed();
    // Redis empties the functions with the data: the file's libraries come back with it.
    flushLibraries(s.scripting);
  }
  try {
    p.loadFrom(f, merge);
  } catch (e) {
    log.warn("DEBUG RELOAD: {err}", { err: (e as Error).message });
    return c.error("ERR Error trying to load the RDB dump");
  } finally {
    f.close();
  }
  log.info("DB reloaded by DEBUG RELOAD");
  c.out.ok();
}

/**
 * DEBUG LOADAOF: flush the AOF, empty the dataset and load it back from the AOF on disk (Redis
 * exits when that fails; here the error is answered: the dataset is left alone when there is no
 * AOF on disk, and holds what loaded before the error otherwise).
 */
export function debugLoadAof(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  if (argv.length !== 2) return subcommandSyntaxError(c, argv, "DEBUG");
  const aof = s.aof;
  if (!aof) return c.error("ERR persistence is not available");
  const failed = (e: unknown) => {
    log.warn("DEBUG LOADAOF: {err}", { err: (e as Error).message });
    c.error("ERR Error trying to load the AOF files, check server logs.");
  };
  let loading: Promise<void>;
  try {
    loading = aof.reload();
  } catch (e) {
    return failed(e);
  }
  return loading.then(() => {
    log.warn("Append Only File loaded by DEBUG LOADAOF");
    c.out.ok();
  }, failed);
}

function bgrewriteaof(s: Engine, c: ClientState): void {
  const aof = s.aof;
  if (!aof) return c.error("ERR persistence is not available");
  if (aof.rewriting && !aof.rewriteWaiting) {
    return c.error("ERR Background append only file rewriting already in progress");
  }
  // Another background write (a BGSAVE, a full sync's RDB) or a running EXEC: it starts later.
  if (aof.rewriting || s.persistence?.busy || s.inExec) {
    aof.scheduleRewrite();
    return c.out.simple("Background append only file rewriting scheduled");
  }
  void aof.rewrite();
  c.out.simple("Background append only file rewriting started");
}

const m = (summary: string, since = "1.0.0", complexity = "O(N)") => ({
  summary,
  since,
  complexity,
});

export const PERSISTENCE_COMMANDS: CommandDef[] = [
  cmd(
    "save",
    1,
    "admin noscript no_async_loading no_multi",
    null,
    "server",
    save,
    m("Synchronously saves the database(s) to disk."),
  ),
  cmd(
    "bgsave",
    -1,
    "admin noscript no_async_loading",
    null,
    "server",
    bgsave,
    m("Asynchronously saves the database(s) to disk."),
  ),
  cmd(
    "bgrewriteaof",
    1,
    "admin noscript no_async_loading",
    null,
    "server",
    bgrewriteaof,
    m("Asynchronously rewrites the append-only file to disk."),
  ),
  cmd(
    "dump",
    2,
    "readonly",
    [1, 1, 1],
    "generic",
    dump,
    m("Returns a serialized representation of the value stored at a key.", "2.6.0"),
  ),
  cmd(
    "restore",
    -4,
    "write denyoom",
    [1, 1, 1],
    "generic",
    restore,
    {
      ...m("Creates a key from the serialized representation of a value.", "2.6.0"),
      acl: ["dangerous"],
    },
  ),
  cmd("restore-asking", -4, "write denyoom asking", [1, 1, 1], "server", restore, {
    ...m("An internal command for migrating keys in a cluster.", "3.0.0"),
    acl: ["keyspace", "dangerous"],
  }),
  cmd("migrate", -6, "write movablekeys", [3, 3, 1], "generic", migrate, {
    ...m("Atomically transfers a key from one Redis instance to another.", "2.6.0"),
    acl: ["dangerous"],
  }),
];

/** A stable fake address for DEBUG OBJECT's "Value at:" (there are no pointers here). */
const addresses = new WeakMap<object, number>();
let nextAddress = 0x7f0000000000;

/** Quicklist figures of a list as Redis would pack it under list-max-listpack-size. */
function quicklistStats(s: Engine, items: Iterable<string>): string {
  const fill = s.config.get<number>("list-max-listpack-size");
  const maxBytes = fill < 0 ? 4096 * 2 ** (Math.min(-fill, 5) - 1) : Infinity;
  const maxCount = fill > 0 ? fill : Infinity;
  // Listpack header and end byte, and per entry: encoding, data and back-length.
  let nodes = 0, count = 0, bytes = 0, total = 0, entries = 0;
  for (const x of items) {
    const entry = x.length + (x.length < 64 ? 1 : x.length < 4096 ? 2 : 5) +
      (x.length < 127 ? 1 : 2);
    if (nodes === 0 || count >= maxCount || bytes + entry > maxBytes) {
      nodes++;
      total += bytes;
      bytes = 7;
      count = 0;
    }
    bytes += entry;
    count++;
    entries++;
  }
  total += bytes;
  const compressed = s.config.get<number>("list-compress-depth") > 0 ? 1 : 0;
  return ` ql_nodes:${nodes} ql_avg_node:${(entries / Math.max(1, nodes)).toFixed(2)}` +
    ` ql_listpack_max:${fill} ql_compressed:${compressed} ql_uncompressed_size:${total}`;
}

/**
 * DEBUG OBJECT key: Redis's one-line summary. serializedlength is the RDB body length as this
 * server writes it (the same encodings as Redis).
 */
export function debugObject(s: Engine, c: ClientState, argv: string[]): void {
  if (argv.length !== 3) {
    return subcommandSyntaxError(c, argv, "DEBUG");
  }
  // As Redis, the key as stored: an expired key not yet deleted is still shown.
  const e = c.db.peek(argv[2]!);
  if (!e) return c.error("ERR no such key");
  const v = e.value;
  let addr = addresses.get(e);
  if (addr === undefined) addresses.set(e, addr = nextAddress += 0x40);
  const encoding = typeof v === "string" ? (e.enc ?? stringEncoding(v)) : v.encoding();
  // The DUMP payload is type byte + body + 2 version bytes + 8 CRC bytes.
  const serialized = dumpPayload(v).length - 11;
  const now = Math.floor(s.nowMs / 1000);
  const extra = v instanceof ListValue ? quicklistStats(s, v.range()) : "";
  c.out.simple(
    `Value at:0x${addr.toString(16)} refcount:1 encoding:${encoding} ` +
      `serializedlength:${serialized} lru:${e.clock} ` +
      `lru_seconds_idle:${idleSeconds(e.clock, now)}${extra}`,
  );
}
