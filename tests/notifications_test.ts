/**
 * Keyspace notifications, differentially: one script of commands covering every family runs on
 * our node and on a real redis-server, each watched by a PSUBSCRIBE '__key*__:*' connection,
 * under several notify-keyspace-events settings. After each command a marker message closes its
 * events, so the events of every command are compared exactly (names, keys, channels, order).
 */
import { deepStrictEqual } from "node:assert/strict";
import { encodeCommand, encodeValue, type RespValue } from "../shared/resp/mod.ts";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";

if (!hasRedis) console.log("SKIP: redis-server not installed: keyspace notification tests");

/**
 * A step: a command, or a pause (ms) so that short TTLs pass. `RESTORE-FROM src dst ttl ...`
 * stands for RESTORE dst ttl <DUMP of src> ... (each server restores its own dump).
 */
type Step = string[] | number;

const FAR = String(Math.floor(Date.now() / 1000) + 86_400);

const STRINGS: Step[] = [
  ["SET", "s1", "v"],
  ["SET", "s1", "v", "EX", "100"],
  ["SET", "s1", "w", "KEEPTTL"],
  ["SET", "s1", "w", "NX"],
  ["SET", "s1", "x", "XX", "GET"],
  ["SET", "s7", "v", "EXAT", FAR],
  ["SETNX", "s1", "x"],
  ["SETNX", "s2", "x"],
  ["SETEX", "s3", "100", "v"],
  ["PSETEX", "s3", "100000", "v"],
  ["GETSET", "s1", "a"],
  ["GETDEL", "s1"],
  ["GETDEL", "s1"],
  ["GETEX", "s2", "EX", "100"],
  ["GETEX", "s2", "PERSIST"],
  ["GETEX", "s2"],
  ["GETEX", "s2", "PXAT", "1"],
  ["SET", "s2", "hello"],
  ["MSET", "m1", "1", "m2", "2"],
  ["MSETNX", "m3", "1", "m4", "2"],
  ["MSETNX", "m3", "1", "m5", "2"],
  ["INCR", "n"],
  ["INCRBY", "n", "5"],
  ["DECR", "n"],
  ["DECRBY", "n", "2"],
  ["INCRBYFLOAT", "f", "1.5"],
  ["INCR", "s2"],
  ["APPEND", "s2", "xx"],
  ["APPEND", "s4", "new"],
  ["SETRANGE", "s2", "1", "zz"],
  ["SETRANGE", "s5", "0", ""],
  ["SETRANGE", "s6", "3", "a"],
  ["GET", "s2"],
  ["GET", "nokey"],
  ["GETEX", "nokey", "EX", "10"],
  ["GETSET", "gs1", "v"],
  ["SET", "gs2", "v", "GET"],
  ["SETRANGE", "nokey", "0", ""],
  ["INCR", "ni"],
  ["SINTERCARD", "1", "nokey"],
  ["SMOVE", "nokey", "nokey2", "m"],
  ["LMOVE", "nokey", "nokey2", "LEFT", "LEFT"],
  ["OBJECT", "ENCODING", "nokey"],
  ["TTL", "nokey"],
  ["TYPE", "nokey"],
  ["HGETALL", "nokey"],
  ["ZSCORE", "nokey", "m"],
  ["SRANDMEMBER", "nokey"],
  ["STRLEN", "nokey"],
  ["GETBIT", "nokey", "1"],
  ["BITCOUNT", "nokey"],
  ["COPY", "nokey", "nokey2"],
  ["MGET", "s2", "nokey"],
  ["LCS", "s2", "nokey"],
  ["DUMP", "nokey"],
  ["STRLEN", "s2"],
  ["GETRANGE", "s2", "0", "1"],
  ["SETBIT", "b", "7", "1"],
  ["SETBIT", "b", "7", "1"],
  ["BITOP", "AND", "bd", "b", "b"],
  ["BITOP", "OR", "bd", "nokey"],
  ["BITFIELD", "bf", "SET", "u8", "0", "255"],
  ["BITFIELD", "bf", "INCRBY", "u8", "0", "1", "GET", "u8", "0"],
  ["BITFIELD", "bf2", "GET", "u8", "0"],
  ["BITFIELD_RO", "bf", "GET", "u8", "0"],
];

const KEYS: Step[] = [
  ["DEL", "m1", "m2", "nokey"],
  ["UNLINK", "m3"],
  ["EXPIRE", "m4", "100"],
  ["EXPIRE", "m4", "100", "NX"],
  ["PEXPIRE", "m4", "100000"],
  ["EXPIREAT", "m4", FAR],
  ["PEXPIREAT", "m4", FAR + "000"],
  ["PERSIST", "m4"],
  ["PERSIST", "m4"],
  ["EXPIRE", "m4", "0"],
  ["EXPIRE", "nokey", "10"],
  ["SET", "r1", "v"],
  ["RENAME", "r1", "r2"],
  ["RENAME", "r2", "r2"],
  ["SET", "r3", "v"],
  ["RENAME", "r2", "r3"],
  ["RENAMENX", "r3", "s2"],
  ["RENAMENX", "r3", "r4"],
  ["COPY", "r4", "r5"],
  ["COPY", "r4", "r5"],
  ["COPY", "r4", "r5", "REPLACE"],
  ["COPY", "r4", "r6", "DB", "1"],
  ["MOVE", "r5", "1"],
  ["MOVE", "r4", "1"],
  ["SELECT", "1"],
  ["DEL", "r6", "r5"],
  ["SELECT", "0"],
  ["RESTORE-FROM", "s2", "rs1", "0"],
  ["RESTORE-FROM", "s2", "rs1", "0"],
  ["RESTORE-FROM", "s2", "rs1", "100000", "REPLACE"],
  ["RESTORE-FROM", "s2", "rs1", "1", "REPLACE", "ABSTTL"],
  ["RESTORE-FROM", "s2", "rs2", "1", "ABSTTL"],
  ["TOUCH", "r4", "s2"],
  ["EXISTS", "s2"],
  ["TYPE", "s2"],
  ["SWAPDB", "0", "1"],
  ["SWAPDB", "0", "1"],
  ["PSETEX", "e1", "1", "v"],
  ["PSETEX", "e2", "1", "v"],
  ["PSETEX", "e3", "1", "v"],
  20,
  ["GET", "e1"],
  ["SET", "e2", "again"],
  ["EXISTS", "e3"],
  ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
  // Long enough that the active cycle cannot expire it before the step's events are collected
  // (a busy machine can take milliseconds between two commands), short enough for the wait.
  ["PSETEX", "e4", "150", "v"],
  700,
  ["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
];

const LISTS: Step[] = [
  ["LPUSH", "l", "a", "b", "c"],
  ["RPUSH", "l", "d"],
  ["LPUSHX", "l", "e"],
  ["RPUSHX", "l", "f"],
  ["LPUSHX", "nol", "x"],
  ["LINSERT", "l", "BEFORE", "a", "z"],
  ["LINSERT", "l", "AFTER", "nothere", "z"],
  ["LSET", "l", "0", "q"],
  ["LREM", "l", "1", "q"],
  ["LREM", "l", "1", "nothere"],
  ["LTRIM", "l", "0", "4"],
  ["LTRIM", "l", "0", "-1"],
  ["LPOP", "l"],
  ["RPOP", "l", "2"],
  ["RPOPLPUSH", "l", "l2"],
  ["LMOVE", "l2", "l", "LEFT", "RIGHT"],
  ["LMOVE", "l", "l", "LEFT", "LEFT"],
  ["LMPOP", "1", "l", "LEFT", "COUNT", "1"],
  ["LRANGE", "l", "0", "-1"],
  ["BLPOP", "l", "0.01"],
  ["BLMOVE", "l", "l3", "RIGHT", "LEFT", "0.01"],
  ["BRPOPLPUSH", "l3", "l4", "0.01"],
  ["LPUSH", "l5", "a"],
  ["LTRIM", "l5", "1", "0"],
  ["RPUSH", "l6", "a", "b"],
  ["LMPOP", "1", "l6", "RIGHT", "COUNT", "5"],
  ["RPUSH", "l7", "a"],
  ["LREM", "l7", "0", "a"],
  ["RPUSH", "l8", "a"],
  ["BLMPOP", "0.01", "1", "l8", "LEFT"],
  ["RPUSH", "l9", "a"],
  ["BRPOP", "l9", "0.01"],
];

const HASHES: Step[] = [
  ["HSET", "h", "f", "v", "f2", "v2"],
  ["HSET", "h", "f", "v"],
  ["HSETNX", "h", "f", "x"],
  ["HSETNX", "h", "f3", "x"],
  ["HMSET", "h", "f4", "v"],
  ["HINCRBY", "h", "n", "1"],
  ["HINCRBYFLOAT", "h", "fl", "1.5"],
  ["HDEL", "h", "f", "f2", "nothere"],
  ["HDEL", "h", "nothere"],
  ["HGET", "h", "f3"],
  ["HGETALL", "h"],
  ["HDEL", "h", "f3", "f4", "n", "fl"],
  ["HSETNX", "h2", "a", "b"],
];

const SETS: Step[] = [
  ["SADD", "st", "a", "b", "c", "d"],
  ["SADD", "st", "a"],
  ["SREM", "st", "a"],
  ["SREM", "st", "nothere"],
  ["SADD", "st2", "b", "x"],
  ["SMOVE", "st", "st2", "b"],
  ["SMOVE", "st", "st3", "c"],
  ["SMOVE", "st", "st3", "nothere"],
  ["SINTERSTORE", "sd", "st2", "st3"],
  ["SINTERSTORE", "sd2", "st2", "st3"],
  ["SUNIONSTORE", "sd", "st2", "st3"],
  ["SDIFFSTORE", "sd", "st2", "st3"],
  ["SDIFFSTORE", "sd", "st2", "st2"],
  ["SINTERSTORE", "sd", "nokey"],
  ["SUNIONSTORE", "sd3", "st2", "nokey"],
  ["SDIFFSTORE", "sd3", "st2", "nokey"],
  ["SADD", "sp", "a", "b", "c"],
  ["SPOP", "sp"],
  ["SPOP", "sp", "0"],
  ["SPOP", "sp", "5"],
  ["SADD", "sp", "a"],
  ["SPOP", "sp"],
  ["SADD", "sp2", "a"],
  ["SREM", "sp2", "a"],
  ["SADD", "sp3", "a"],
  ["SMOVE", "sp3", "sp4", "a"],
  ["SMEMBERS", "st2"],
];

const ZSETS: Step[] = [
  ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"],
  ["ZADD", "z", "1", "a"],
  ["ZADD", "z", "INCR", "5", "a"],
  ["ZADD", "z", "NX", "INCR", "5", "a"],
  ["ZADD", "z", "XX", "CH", "9", "a", "1", "nothere"],
  ["ZINCRBY", "z", "1", "b"],
  ["ZREM", "z", "a", "nothere"],
  ["ZREM", "z", "nothere"],
  ["ZREMRANGEBYSCORE", "z", "0", "2"],
  ["ZREMRANGEBYSCORE", "z", "100", "200"],
  ["ZREMRANGEBYRANK", "z", "0", "0"],
  ["ZADD", "zl", "0", "a", "0", "b", "0", "c"],
  ["ZREMRANGEBYLEX", "zl", "[a", "[a"],
  ["ZPOPMIN", "z"],
  ["ZPOPMAX", "z", "1"],
  ["ZADD", "z2", "1", "a", "2", "b"],
  ["ZUNIONSTORE", "zu", "2", "z", "z2"],
  ["ZINTERSTORE", "zi", "2", "z", "z2"],
  ["ZINTERSTORE", "zi", "2", "zu", "z2"],
  ["ZDIFFSTORE", "zd", "2", "zu", "z2"],
  ["ZDIFFSTORE", "zd", "2", "z2", "z2"],
  ["ZUNIONSTORE", "zu2", "2", "z2", "nokey"],
  ["ZRANGESTORE", "zr2", "nokey", "0", "-1"],
  ["ZINTERCARD", "2", "z2", "nokey"],
  ["ZRANGESTORE", "zr", "z2", "0", "-1"],
  ["ZRANGESTORE", "zr", "z2", "5", "6"],
  ["ZMPOP", "1", "z2", "MIN", "COUNT", "1"],
  ["BZPOPMIN", "z2", "0.01"],
  ["BZPOPMAX", "zl", "0.01"],
  ["BZMPOP", "0.01", "1", "zl", "MAX", "COUNT", "5"],
  ["ZREMRANGEBYRANK", "zr", "0", "-1"],
  ["ZRANGE", "zu", "0", "-1"],
];

const STREAMS: Step[] = [
  ["XADD", "x", "1-1", "f", "v"],
  ["XADD", "x", "NOMKSTREAM", "2-1", "f", "v"],
  ["XADD", "nox", "NOMKSTREAM", "*", "f", "v"],
  ["XADD", "x", "MAXLEN", "2", "3-1", "f", "v"],
  ["XADD", "x", "MAXLEN", "5", "4-1", "f", "v"],
  ["XADD", "x", "MAXLEN", "~", "1", "5-1", "f", "v"],
  ["XADD", "x", "1-0", "f", "v"],
  ["XADD", "x", "MINID", "9-0", "6-1", "f", "v"],
  ["XADD", "x2", "MAXLEN", "0", "1-1", "f", "v"],
  ["XADD", "x2", "0-0", "f", "v"],
  ["XTRIM", "x", "MAXLEN", "10"],
  ["XADD", "x", "7-1", "f", "v"],
  ["XADD", "x", "8-1", "f", "v"],
  ["XADD", "x", "9-1", "f", "v"],
  ["XTRIM", "x", "MAXLEN", "2"],
  ["XTRIM", "x", "MINID", "9-1"],
  ["XTRIM", "x", "MAXLEN", "~", "0"],
  ["XTRIM", "nox", "MAXLEN", "0"],
  ["XDEL", "x", "99-9"],
  ["XDEL", "x", "9-1", "99-9"],
  ["XDEL", "nox", "1-1"],
  ["XSETID", "x", "10-0"],
  ["XSETID", "x", "10-0", "ENTRIESADDED", "20", "MAXDELETEDID", "9-1"],
  ["XSETID", "nox", "10-0"],
  ["XSETID", "x", "1-0"],
  ["XADD", "x", "11-1", "a", "1"],
  ["XADD", "x", "12-1", "a", "2"],
  ["XADD", "x", "13-1", "a", "3"],
  ["XGROUP", "CREATE", "x", "g", "0"],
  ["XGROUP", "CREATE", "x", "g", "0"],
  ["XGROUP", "CREATE", "x", "g2", "$", "ENTRIESREAD", "3"],
  ["XGROUP", "CREATE", "x3", "g", "$", "MKSTREAM"],
  ["XGROUP", "CREATE", "nox", "g", "$"],
  ["XGROUP", "CREATECONSUMER", "x", "g", "c1"],
  ["XGROUP", "CREATECONSUMER", "x", "g", "c1"],
  ["XGROUP", "CREATECONSUMER", "x", "nogroup", "c1"],
  ["XREADGROUP", "GROUP", "g", "c2", "COUNT", "1", "STREAMS", "x", ">"],
  ["XREADGROUP", "GROUP", "g", "c2", "COUNT", "1", "STREAMS", "x", ">"],
  ["XREADGROUP", "GROUP", "g2", "c3", "STREAMS", "x", ">"],
  ["XREADGROUP", "GROUP", "g", "c4", "NOACK", "STREAMS", "x", ">"],
  ["XREADGROUP", "GROUP", "g", "c5", "STREAMS", "x", "0"],
  ["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "x", "0"],
  ["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "x", "x3", ">", ">"],
  ["XACK", "x", "g", "11-1"],
  ["XACK", "x", "g", "99-1"],
  ["XACK", "nox", "g", "1-1"],
  ["XCLAIM", "x", "g", "c6", "0", "12-1"],
  ["XCLAIM", "x", "g", "c7", "0", "99-1"],
  ["XCLAIM", "x", "g", "c7", "0", "99-1", "LASTID", "20-0"],
  ["XCLAIM", "x", "g", "c6", "0", "12-1", "JUSTID"],
  ["XAUTOCLAIM", "x", "g", "c8", "0", "0"],
  ["XAUTOCLAIM", "x", "g", "c9", "0", "99-0"],
  ["XAUTOCLAIM", "x", "g", "c8", "0", "0", "JUSTID"],
  ["XPENDING", "x", "g"],
  ["XPENDING", "nox", "g"],
  ["XRANGE", "x", "-", "+"],
  ["XRANGE", "nox", "-", "+"],
  ["XREVRANGE", "x", "+", "-", "COUNT", "1"],
  ["XLEN", "x"],
  ["XLEN", "nox"],
  ["XREAD", "COUNT", "1", "STREAMS", "x", "0"],
  ["XREAD", "STREAMS", "nox", "0"],
  ["XINFO", "STREAM", "nox"],
  ["XGROUP", "SETID", "x", "g", "0"],
  ["XGROUP", "SETID", "x", "g", "$", "ENTRIESREAD", "3"],
  ["XGROUP", "DELCONSUMER", "x", "g", "c1"],
  ["XGROUP", "DELCONSUMER", "x", "g", "c6"],
  ["XGROUP", "DELCONSUMER", "x", "g", "nobody"],
  ["XGROUP", "DESTROY", "x", "g"],
  ["XGROUP", "DESTROY", "x", "g"],
  ["XGROUP", "DESTROY", "nox", "g"],
  ["XDEL", "x", "11-1", "12-1", "13-1"],
  ["XLEN", "x"],
  ["SET", "notstream", "v"],
  ["XADD", "notstream", "1-1", "f", "v"],
  ["XRANGE", "notstream", "-", "+"],
];

const HLL: Step[] = [
  ["PFADD", "hll1", "a", "b", "c"],
  ["PFADD", "hll1", "a"],
  ["PFADD", "hll1"],
  ["PFADD", "hll2"],
  ["PFADD", "hll2", "z"],
  ["PFCOUNT", "hll1"],
  ["PFCOUNT", "hll1"],
  ["PFCOUNT", "hll1", "hll2", "nohll"],
  ["PFCOUNT", "nohll"],
  ["PFCOUNT", "nohll", "nohll2"],
  ["PFMERGE", "hll3", "hll1", "hll2"],
  ["PFMERGE", "hll3"],
  ["PFMERGE", "hll4", "nohll"],
  ["PFADD", "notstream", "a"],
  ["PFCOUNT", "notstream"],
  ["PFMERGE", "hll5", "notstream"],
  ["PFDEBUG", "TODENSE", "hll1"],
  ["PFDEBUG", "ENCODING", "hll1"],
  ["PFADD", "hll1", "d", "e"],
  ["PFMERGE", "hll2", "hll1"],
  ["PFCOUNT", "hll2"],
];

const GEO: Step[] = [
  ["GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
  ["GEOADD", "geo", "13.361389", "38.115556", "Palermo"],
  ["GEOADD", "geo", "XX", "CH", "13.5", "38.1", "Palermo", "1", "1", "Nowhere"],
  ["GEOADD", "geo", "NX", "13.6", "38.1", "Palermo"],
  ["GEOADD", "geo", "NX", "13.6", "38.1", "Agrigento"],
  ["GEOADD", "nogeo", "XX", "13.5", "38.1", "P"],
  ["GEOADD", "geo", "200", "100", "Bad"],
  ["GEOPOS", "geo", "Palermo", "none"],
  ["GEOPOS", "nogeo", "Palermo"],
  ["GEODIST", "geo", "Palermo", "Catania", "km"],
  ["GEODIST", "nogeo", "a", "b"],
  ["GEOHASH", "geo", "Catania"],
  ["GEOHASH", "nogeo", "Catania"],
  ["GEOSEARCH", "geo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"],
  ["GEOSEARCH", "nogeo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
  ["GEORADIUS_RO", "geo", "15", "37", "200", "km", "ASC"],
  ["GEORADIUS", "geo", "15", "37", "200", "km", "STORE", "gst"],
  ["GEORADIUS", "geo", "15", "37", "200", "km", "STOREDIST", "gst"],
  ["GEORADIUSBYMEMBER", "geo", "Palermo", "1", "km", "STORE", "gst2"],
  ["GEORADIUSBYMEMBER", "geo", "Palermo", "1", "km"],
  ["GEOSEARCHSTORE", "gst3", "geo", "FROMMEMBER", "Palermo", "BYBOX", "400", "400", "km"],
  ["GEOSEARCHSTORE", "gst3", "geo", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km", "STOREDIST"],
  ["GEOSEARCHSTORE", "gst3", "geo", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
  ["GEOSEARCHSTORE", "gst", "nogeo", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
  ["GEOSEARCHSTORE", "gst", "nogeo", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
  ["GEORADIUS", "nogeo", "0", "0", "1", "km", "STORE", "gst2"],
  ["GEORADIUS", "geo", "0", "0", "1", "km", "STORE", "gst4"],
  ["ZREM", "geo", "Palermo", "Catania", "Agrigento"],
];

const SORT: Step[] = [
  ["RPUSH", "sl", "3", "1", "2"],
  ["SORT", "sl"],
  ["SORT", "nolist"],
  ["SORT_RO", "sl", "DESC"],
  ["SORT", "sl", "STORE", "sdst"],
  ["SORT", "sl", "DESC", "STORE", "sdst"],
  ["SORT", "nolist", "STORE", "sdst"],
  ["SORT", "nolist", "STORE", "sdst"],
  ["SORT", "sl", "BY", "nosort", "GET", "#", "GET", "w_*", "STORE", "sdst2"],
  ["SORT", "sl", "LIMIT", "5", "5", "STORE", "sdst2"],
  ["SADD", "sset", "b", "a"],
  ["SORT", "sset", "ALPHA", "STORE", "sdst3"],
  ["SORT", "sset", "STORE", "sdst3"],
  ["SORT", "sset", "BY", "nosort", "STORE", "sdst4"],
  ["SET", "w_1", "3"],
  ["HSET", "h_2", "f", "two"],
  ["SORT", "sl", "BY", "w_*", "GET", "h_*->f", "GET", "#"],
  ["SORT", "sl", "BY", "w_*", "GET", "h_*->f", "STORE", "sdst5"],
];

const SCRIPT: Step[] = [
  ["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
  ...STRINGS,
  ...KEYS,
  ...LISTS,
  ...HASHES,
  ...SETS,
  ...ZSETS,
  ...STREAMS,
  ...HLL,
  ...GEO,
  ...SORT,
  ["MULTI"],
  ["SET", "t1", "v"],
  ["LPUSH", "t2", "v"],
  ["DEL", "t1"],
  ["EXEC"],
  ["FLUSHDB"],
];

const MARK = "__keymark__:end";
const RANDOM_REPLY = new Set(["SPOP", "SMEMBERS"]);

function text(v: RespValue): string {
  return new TextDecoder("latin1").decode(encodeValue(v));
}

/** Runs the script under `flags`; per step, the events seen (each as channel + message). */
async function run(port: number, flags: string): Promise<string[][]> {
  using cmd = await RawConn.connect(port);
  using sub = await RawConn.connect(port);
  const subId = String(await sub.call("CLIENT", "ID"));
  await sub.call("PSUBSCRIBE", "__key*__:*");
  await cmd.call("FLUSHALL");
  // Every key a command touches (Redis's signalModifiedKey, which WATCH sees too) is reported
  // to the subscriber: BCAST tracking of all keys, redirected to its invalidation channel.
  await sub.call("SUBSCRIBE", "__redis__:invalidate");
  await cmd.call("CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", subId);
  await cmd.call("CONFIG", "SET", "notify-keyspace-events", flags);
  const out: string[][] = [];
  let inMulti = false;
  for (let i = 0; i < SCRIPT.length; i++) {
    const step = SCRIPT[i]!;
    if (typeof step === "number") {
      await new Promise((r) => setTimeout(r, step));
      continue;
    }
    const args = step[0] === "RESTORE-FROM"
      ? ["RESTORE", step[2]!, step[3]!, String(await cmd.call("DUMP", step[1]!)), ...step.slice(4)]
      : step;
    const reply = await cmd.call(...args).catch((e) => {
      throw new Error(`${step.join(" ")} under ${flags} on port ${port}: ${e}`);
    });
    // SPOP picks members at random and set order is unspecified: those replies are left out.
    const shown = RANDOM_REPLY.has(step[0]!) ? "(random)" : text(reply).slice(0, 60);
    const events = [`${step.join(" ")} -> ${shown}`];
    // Inside MULTI the marker would be queued too: the events come with EXEC.
    const name = step[0]!.toUpperCase();
    if (name === "MULTI") inMulti = true;
    if (name === "EXEC") inMulti = false;
    if (inMulti) {
      out.push(events);
      continue;
    }
    await cmd.call("PUBLISH", MARK, String(i));
    for (;;) {
      const m = await sub.read().catch((e) => {
        throw new Error(`events of ${step.join(" ")} under ${flags} on port ${port}: ${e}`);
      }) as RespValue[];
      if (m[2] === MARK) break;
      if (m[0] === "message") events.push(`invalidate ${JSON.stringify(m[2])}`);
      else events.push(`${m[2]} ${m[3]}`);
    }
    out.push(events);
  }
  await cmd.call("CONFIG", "SET", "notify-keyspace-events", "");
  await cmd.call("CLIENT", "TRACKING", "OFF");
  return out;
}

const FLAG_SETS = [
  "KEA",
  "Em",
  "KEAmn",
  "KEAn",
  "Eg$",
  "Kx",
  "En",
  "Kl",
  "Ehs",
  "KzE",
  "KEgxe",
  "KEtd",
  "E",
];

Deno.test({
  name: "keyspace events of every family match redis-server's, for several flag sets",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const debug = ["--enable-debug-command", "yes"];
    await using ours = await startDataNode(debug);
    await using redis = await startRedisServer(debug);
    for (const flags of FLAG_SETS) {
      const [a, b] = [await run(ours.port, flags), await run(redis.port, flags)];
      const diffs = a.map((x, i) => ({ ours: x, redis: b[i]! }))
        .filter((d) => JSON.stringify(d.ours) !== JSON.stringify(d.redis));
      deepStrictEqual({ flags, diffs: diffs.slice(0, 30) }, { flags, diffs: [] });
    }
  },
});

Deno.test({
  name: "notify-keyspace-events is normalised and validated as redis-server does",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    using a = await RawConn.connect(ours.port);
    using b = await RawConn.connect(redis.port);
    const values = ["KEA", "AKEmn", "Kx", "En", "Eg$", "g$lshzxetd", "KEg$lshzxetdmn", "nd", ""];
    for (const v of [...values, "Z", "KEq", "a"]) {
      const set = [text(await a.call("CONFIG", "SET", "notify-keyspace-events", v))];
      const setR = [text(await b.call("CONFIG", "SET", "notify-keyspace-events", v))];
      set.push(text(await a.call("CONFIG", "GET", "notify-keyspace-events")));
      setR.push(text(await b.call("CONFIG", "GET", "notify-keyspace-events")));
      deepStrictEqual({ v, reply: set }, { v, reply: setR });
    }
  },
});

Deno.test({
  name: "an evicted key raises 'evicted' as in redis-server",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seen: string[][] = [];
    for (const start of [startDataNode, startRedisServer]) {
      await using node = await start(["--maxmemory-policy", "allkeys-lru"]);
      using cmd = await RawConn.connect(node.port);
      using sub = await RawConn.connect(node.port);
      await sub.call("PSUBSCRIBE", "__key*__:*");
      await cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEe");
      await cmd.call("SET", "victim", "v".repeat(1000));
      await cmd.call("CONFIG", "SET", "maxmemory", "1");
      await cmd.call("SET", "other", "v");
      await cmd.call("CONFIG", "SET", "maxmemory", "0");
      await cmd.call("PUBLISH", MARK, "x");
      const events: string[] = [];
      for (;;) {
        const m = await sub.read() as RespValue[];
        if (m[2] === MARK) break;
        events.push(`${m[2]} ${m[3]}`);
      }
      seen.push(events);
    }
    deepStrictEqual(seen[0], seen[1]);
    deepStrictEqual(seen[1]!.length > 0, true);
  },
});

/** Events a replica's subscriber sees while its master runs `steps`. */
async function replicaEvents(
  start: typeof startDataNode,
  steps: Step[],
): Promise<string[]> {
  await using master = await start(["--enable-debug-command", "yes"]);
  await using replica = await start(["--replicaof", "127.0.0.1", String(master.port)]);
  using m = await RawConn.connect(master.port);
  using r = await RawConn.connect(replica.port);
  using sub = await RawConn.connect(replica.port);
  await eventually(
    async () => {
      const info = text(await r.call("INFO", "replication"));
      return info.includes("master_link_status:up");
    },
    "replica link up",
    15_000,
  );
  // Both ends notify: a master's own events must not reach the replica's subscribers.
  await m.call("CONFIG", "SET", "notify-keyspace-events", "KEA");
  await r.call("CONFIG", "SET", "notify-keyspace-events", "KEA");
  await sub.call("PSUBSCRIBE", "__key*__:*");
  for (const step of steps) {
    if (typeof step === "number") await new Promise((res) => setTimeout(res, step));
    else await m.call(...step);
  }
  await m.call("WAIT", "1", "5000");
  await r.call("PUBLISH", MARK, "x");
  const events: string[] = [];
  for (;;) {
    const msg = await sub.read() as RespValue[];
    if (msg[2] === MARK) break;
    events.push(`${msg[2]} ${msg[3]}`);
  }
  return events;
}

Deno.test({
  name: "a replica raises the events of the stream it applies, as a redis-server replica does",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const steps: Step[] = [
      ["SET", "a", "1"],
      ["LPUSH", "l", "x", "y"],
      ["EXPIRE", "a", "100"],
      ["INCRBYFLOAT", "f", "1.5"],
      ["HSET", "h", "f", "v"],
      ["RPOP", "l"],
      ["DEL", "a", "l"],
      ["SADD", "s", "m"],
      ["SPOP", "s"],
      ["PSETEX", "e", "1", "v"],
      300,
      ["ZADD", "z", "1", "a"],
      ["ZPOPMIN", "z"],
      ["XADD", "x", "MAXLEN", "1", "1-1", "f", "v"],
      ["XADD", "x", "MAXLEN", "~", "1", "2-1", "f", "v"],
      ["XGROUP", "CREATE", "x", "g", "0"],
      ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">"],
      ["XREADGROUP", "GROUP", "g", "c2", "NOACK", "STREAMS", "x", "0"],
      ["XCLAIM", "x", "g", "c3", "0", "2-1"],
      ["XAUTOCLAIM", "x", "g", "c4", "0", "0"],
      ["XACK", "x", "g", "2-1"],
      ["XGROUP", "DELCONSUMER", "x", "g", "c"],
      ["XGROUP", "DESTROY", "x", "g"],
      ["XSETID", "x", "9-0"],
      ["XDEL", "x", "2-1"],
      ["PFADD", "h", "a", "b"],
      ["PFCOUNT", "h"],
      ["PFMERGE", "h2", "h"],
      ["GEOADD", "geo", "13.361389", "38.115556", "Palermo"],
      ["GEOSEARCHSTORE", "gd", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"],
      ["GEORADIUS", "geo", "0", "0", "1", "km", "STORE", "gd"],
      ["RPUSH", "sl", "2", "1"],
      ["SORT", "sl", "STORE", "sd"],
      ["SORT", "nolist", "STORE", "sd"],
    ];
    const ours = await replicaEvents(startDataNode, steps);
    const redis = await replicaEvents(startRedisServer, steps);
    deepStrictEqual(ours, redis);
    deepStrictEqual(ours.length > 20, true);
  },
});

/** Events seen while a blocked XREADGROUP is served by an XADD, then one woken by DESTROY. */
async function blockedGroupReadEvents(start: typeof startDataNode): Promise<string[]> {
  await using node = await start();
  using cmd = await RawConn.connect(node.port);
  using reader = await RawConn.connect(node.port);
  using sub = await RawConn.connect(node.port);
  await cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEA");
  await sub.call("PSUBSCRIBE", "__key*__:*");
  const seen: string[] = [];
  const block = async (consumer: string, wake: string[]) => {
    await reader.write(
      encodeCommand(["XREADGROUP", "GROUP", "g", consumer, "BLOCK", "0", "STREAMS", "x", ">"]),
    );
    await eventually(
      async () => text(await cmd.call("INFO", "clients")).includes("blocked_clients:1\r\n"),
      "reader blocked",
      5_000,
    );
    seen.push(`${wake.join(" ")} -> ${text(await cmd.call(...wake))}`);
    seen.push(`reader got ${text(await reader.read())}`);
  };
  seen.push(text(await cmd.call("XGROUP", "CREATE", "x", "g", "$", "MKSTREAM")));
  await block("c1", ["XADD", "x", "1-1", "f", "v"]);
  await block("c2", ["XGROUP", "DESTROY", "x", "g"]);
  await cmd.call("PUBLISH", MARK, "x");
  for (;;) {
    const m = await sub.read() as RespValue[];
    if (m[2] === MARK) break;
    seen.push(`${m[2]} ${m[3]}`);
  }
  return seen;
}

Deno.test({
  name: "a blocked XREADGROUP served later creates its consumer with the event redis-server raises",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const ours = await blockedGroupReadEvents(startDataNode);
    const redis = await blockedGroupReadEvents(startRedisServer);
    deepStrictEqual(ours, redis);
    deepStrictEqual(ours.some((e) => e.endsWith("xgroup-createconsumer")), true);
  },
});
