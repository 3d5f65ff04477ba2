/** SAVE, BGSAVE, DUMP, RESTORE, and DEBUG RELOAD. */
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
import { RedisClient } from "../../shared/client.ts";
import { RespError } from "../../shared/resp/mod.ts";

const log = getLogger(["data-node", "persistence"]);

const IN_PROGRESS = "ERR Background save already in progress";

function save(s: Engine, c: ClientState): void {
  const p = s.persistence;
  if (!p) return c.error("ERR persistence is not available");
  if (p.bgsave) return c.error(IN_PROGRESS);
  if (p.saveSync()) c.out.ok();
  else c.error("ERR");
}

function bgsave(s: Engine, c: ClientState, argv: string[]): void {
  const p = s.persistence;
  if (!p) return c.error("ERR persistence is not available");
  const schedule = argv.length === 2 && argv[1]!.toLowerCase() === "schedule";
  if (argv.length > 2 || (argv.length === 2 && !schedule)) return c.error(ERR.syntax);
  if (p.bgsave) {
    if (!schedule) return c.error(IN_PROGRESS);
    p.bgsaveScheduled = true;
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
 * MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
 * [KEYS key ...]: each key goes to the target as RESTORE (RESTORE-ASKING in cluster mode, so a
 * node importing the slot takes it), then is deleted here unless COPY. The client waits for the
 * target's replies; meanwhile other clients' writes to the keys wait too (Redis serves no one
 * during a MIGRATE), and a key that expired meanwhile is left alone.
 */
function migrate(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  let copy = false, replace = false;
  let auth: { user?: string; pass: string } | null = null;
  let firstKey = 3, numKeys = 1;
  for (let j = 6; j < argv.length; j++) {
    const o = argv[j]!.toLowerCase();
    const more = argv.length - j - 1;
    if (o === "copy") copy = true;
    else if (o === "replace") replace = true;
    else if (o === "auth" && more >= 1) {
      c.redact(argv, j + 1);
      auth = { pass: argv[++j]! };
    } else if (o === "auth2" && more >= 2) {
      c.redact(argv, j + 1);
      c.redact(argv, j + 2);
      auth = { user: argv[j + 1]!, pass: argv[j + 2]! };
      j += 2;
    } else if (o === "keys") {
      if (argv[3] !== "") {
        return c.error(
          "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
        );
      }
      firstKey = j + 1;
      numKeys = argv.length - j - 1;
      break;
    } else return c.error(ERR.syntax);
  }
  const port = parseIndex(argv[2]!);
  const db = parseIndex(argv[4]!);
  let timeout = parseIndex(argv[5]!);
  if (port === null || db === null || timeout === null) return c.error(ERR.notInt);
  if (timeout <= 0) timeout = 1000;
  const keys: string[] = [];
  const payloads: { key: string; entry: unknown; ttl: number; payload: Uint8Array }[] = [];
  for (let i = 0; i < numKeys; i++) keys.push(argv[firstKey + i]!);
  for (const key of keys) {
    const e = c.db.lookup(key);
    if (!e) continue;
    const exp = c.db.getExpire(key);
    let ttl = 0;
    if (exp !== undefined) {
      ttl = exp - s.nowMs;
      if (ttl < 1) ttl = 1;
    }
    const payload = dumpPayload(e.value, {
      compress: s.config.get<boolean>("rdbcompression"),
      listFill: s.config.get<number>("list-max-listpack-size"),
    });
    payloads.push({ key, entry: e, ttl, payload });
  }
  if (payloads.length === 0) return c.out.simple("NOKEY");
  const restoreCmd = s.clusterEnabled ? "RESTORE-ASKING" : "RESTORE";
  const db0 = c.db;
  // Writes to these keys wait until the target has answered and the keys are gone here.
  const locked = payloads.map((p) => p.key);
  s.migrating.lock(locked);
  return (async () => {
    let target: RedisClient;
    try {
      target = await RedisClient.connect({
        host: argv[1]!,
        port,
        connectTimeoutMs: timeout,
        commandTimeoutMs: timeout,
        reconnect: { enabled: false },
        ...(auth ? { password: auth.pass, ...(auth.user ? { username: auth.user } : {}) } : {}),
      });
    } catch {
      return c.error("IOERR error or timeout connecting to the client");
    }
    try {
      const cmds: (string | Uint8Array)[][] = [["SELECT", String(db)]];
      for (const p of payloads) {
        cmds.push([restoreCmd, p.key, String(p.ttl), p.payload, ...(replace ? ["REPLACE"] : [])]);
      }
      let replies;
      try {
        replies = await target.pipeline(cmds);
      } catch {
        return c.error("IOERR error or timeout reading to target instance");
      }
      const failed = replies.find((r) => r instanceof RespError) as RespError | undefined;
      // Keys restored before a failure are still deleted here, as Redis does.
      if (!copy) {
        const deleted: string[] = [];
        replies.slice(1).forEach((r, i) => {
          const p = payloads[i]!;
          if (r instanceof RespError) return;
          if (db0.lookup(p.key, false) === p.entry && db0.delete(p.key)) {
            s.notify(NOTIFY.GENERIC, "del", p.key, db0.id);
            deleted.push(p.key);
          }
        });
        if (deleted.length > 0) {
          s.dirty += deleted.length;
          s.propagation.also(db0.id, ["DEL", ...deleted]);
        }
      }
      if (failed) return c.error(`ERR Target instance replied with error: ${failed.message}`);
      c.out.ok();
    } finally {
      await target.close();
    }
  })().finally(() => s.migrating.unlock(locked));
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
  const ttlArg = parseI64(argv[2]!);
  if (ttlArg === null) return c.error(ERR.notInt);
  if (ttlArg < 0n) return c.error("ERR Invalid TTL value, must be >= 0");
  const restored = restorePayload(binaryToBytes(argv[3]!));
  if ("error" in restored) return c.error(restored.error);
  const value = restored.value;
  applyEncodingLimits(value, s.config);
  // A relative TTL is added in 64-bit arithmetic, as Redis does: an overflow wraps negative,
  // which makes the key already expired.
  let at = ttlArg;
  if (at > 0n && !absttl) at = BigInt.asIntN(64, at + BigInt(s.nowMs));
  const expireAt = Number(at);
  if (at !== 0n && expireAt <= s.nowMs) {
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

function bgrewriteaof(s: Engine, c: ClientState): void {
  const aof = s.aof;
  if (!aof) return c.error("ERR persistence is not available");
  if (aof.rewriting) {
    return c.error("ERR Background append only file rewriting already in progress");
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
