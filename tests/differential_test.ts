/**
 * Random operation sequences (seeded, replayable) run on our node and a real redis-server,
 * reply by reply. Orders Redis leaves unspecified (set members, hash fields) are sorted.
 *
 * Two suites: the core types (strings, lists, hashes, sets, sorted sets, keys), and the other
 * families (streams, GEO, HyperLogLog, SORT, scripts and functions) mixed with the core commands.
 * Stream IDs generated from the clock (`*`) differ between the servers: they are only added to
 * one stream key (`sx`), and each reply's clock IDs are replaced by their order of first
 * appearance on that server, so that the same behaviour gives the same tokens. Millisecond times
 * (idle, seen and delivery times) are replaced by a placeholder.
 *
 * `DIFF_SEEDS=n` runs seeds 1..n per suite instead of the fixed set (`DIFF_SEEDS=a-b`: a..b),
 * `DIFF_SEED=s` runs only seed s,
 * `DIFF_OPS=n` sets the operations per seed, `DIFF_DIGEST_EVERY=n` how often the datasets are
 * compared. A failing seed prints its command sequence.
 */
import { createHash } from "node:crypto";
import { deepStrictEqual } from "node:assert/strict";
import { encodeValue, RespMap, RespSet, type RespValue, SimpleString } from "../shared/resp/mod.ts";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { seededRandom } from "./helpers/random.ts";

if (!hasRedis) console.log("SKIP: redis-server not installed: differential tests");

type R = () => number;
type Gen = (r: R) => string[];

function pick<T>(r: R, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}
const chance = (r: R, p: number): boolean => r() < p;
const upTo = (r: R, n: number): number => Math.floor(r() * (n + 1));

const key = (r: R) => pick(r, ["a", "b", "c", "d", "e"]);
const member = (r: R) => pick(r, ["x", "y", "z", "1", "2", "10", "-3", "é", "\u0000"]);
const int = (r: R) => String(Math.floor(r() * 21) - 10);
const score = (r: R) => pick(r, ["1", "2.5", "-1", "0", "1e3", "inf", "-inf", "0.1", "3"]);

const CORE_GENS: Gen[] = [
  (r) => ["SET", key(r), member(r)],
  (r) => ["GET", key(r)],
  (r) => ["APPEND", key(r), member(r)],
  (r) => ["INCRBY", key(r), int(r)],
  (r) => ["INCRBYFLOAT", key(r), pick(r, ["0.1", "1.5", "-2", "1e2"])],
  (r) => ["GETRANGE", key(r), int(r), int(r)],
  (r) => ["SETRANGE", key(r), String(Math.floor(r() * 5)), member(r)],
  (r) => ["STRLEN", key(r)],
  (r) => ["DEL", key(r)],
  (r) => ["EXISTS", key(r), key(r)],
  (r) => ["TYPE", key(r)],
  (r) => ["RENAME", key(r), key(r)],
  (r) => ["LPUSH", key(r), member(r), member(r)],
  (r) => ["RPUSH", key(r), member(r)],
  (r) => ["LPOP", key(r)],
  (r) => ["RPOP", key(r), String(Math.floor(r() * 3))],
  (r) => ["LRANGE", key(r), int(r), int(r)],
  (r) => ["LINDEX", key(r), int(r)],
  (r) => ["LREM", key(r), int(r), member(r)],
  (r) => ["LINSERT", key(r), pick(r, ["BEFORE", "AFTER"]), member(r), member(r)],
  (r) => ["LTRIM", key(r), int(r), int(r)],
  (r) => ["LPOS", key(r), member(r)],
  (r) => ["LMOVE", key(r), key(r), pick(r, ["LEFT", "RIGHT"]), pick(r, ["LEFT", "RIGHT"])],
  (r) => ["HSET", key(r), member(r), member(r)],
  (r) => ["HGET", key(r), member(r)],
  (r) => ["HDEL", key(r), member(r)],
  (r) => ["HINCRBY", key(r), member(r), int(r)],
  (r) => ["HKEYS", key(r)],
  (r) => ["HLEN", key(r)],
  (r) => ["SADD", key(r), member(r), member(r)],
  (r) => ["SREM", key(r), member(r)],
  (r) => ["SISMEMBER", key(r), member(r)],
  (r) => ["SMEMBERS", key(r)],
  (r) => ["SINTER", key(r), key(r)],
  (r) => ["SUNION", key(r), key(r)],
  (r) => ["SDIFF", key(r), key(r)],
  (r) => ["SINTERSTORE", key(r), key(r), key(r)],
  (r) => ["SMOVE", key(r), key(r), member(r)],
  (r) => ["SCARD", key(r)],
  (r) => ["ZADD", key(r), score(r), member(r)],
  (r) => ["ZINCRBY", key(r), score(r), member(r)],
  (r) => ["ZREM", key(r), member(r)],
  (r) => ["ZRANGE", key(r), "0", "-1", "WITHSCORES"],
  (
    r,
  ) => ["ZRANGE", key(r), pick(r, ["-inf", "(0", "1"]), pick(r, ["+inf", "2.5", "(3"]), "BYSCORE"],
  (r) => ["ZRANK", key(r), member(r)],
  (r) => ["ZCOUNT", key(r), "-inf", pick(r, ["+inf", "1", "(2.5"])],
  (r) => ["ZPOPMIN", key(r)],
  (r) => ["ZUNIONSTORE", key(r), "2", key(r), key(r)],
  (r) => ["ZINTER", "2", key(r), key(r), "WITHSCORES"],
  (r) => ["ZSCORE", key(r), member(r)],
  (r) => ["EXPIRE", key(r), String(100 + Math.floor(r() * 100))],
  (r) => ["PERSIST", key(r)],
  (r) => ["OBJECT", "ENCODING", key(r)],
  (r) => ["COPY", key(r), key(r), "REPLACE"],
  (r) => ["SETBIT", key(r), String(Math.floor(r() * 40)), pick(r, ["0", "1"])],
  (r) => ["GETBIT", key(r), String(Math.floor(r() * 40))],
  (r) => ["BITCOUNT", key(r)],
  (r) => ["BITPOS", key(r), pick(r, ["0", "1"])],
  (r) => ["BITOP", pick(r, ["AND", "OR", "XOR"]), key(r), key(r), key(r)],
  (
    r,
  ) => [
    "BITFIELD",
    key(r),
    "INCRBY",
    pick(r, ["u4", "i5", "u8"]),
    String(Math.floor(r() * 20)),
    int(r),
  ],
];

// ---- streams -------------------------------------------------------------------------------

/** Stream keys; `sx` is the only one that takes clock IDs (`*`), `a` is some other type. */
const skey = (r: R) => pick(r, ["s1", "s1", "s2", "s2", "sx", "a"]);
const sid = (r: R) => `${upTo(r, 12)}-${upTo(r, 3)}`;
/** A range bound: an ID, a partial ID, exclusive or not, or an end of the stream. */
const sbound = (r: R, end: "-" | "+") =>
  pick(r, [end, end, sid(r), `(${sid(r)}`, String(upTo(r, 12)), `(${upTo(r, 12)}`]);
const group = (r: R) => pick(r, ["g1", "g1", "g2", "g3"]);
const consumer = (r: R) => pick(r, ["c1", "c1", "c2", "c3"]);
const count = (r: R): string[] => chance(r, 0.5) ? ["COUNT", String(upTo(r, 4))] : [];
const fields = (r: R): string[] => {
  const out = [member(r), member(r)];
  if (chance(r, 0.3)) out.push(pick(r, ["f", "g", "x"]), String(upTo(r, 1000)));
  return out;
};

function trim(r: R): string[] {
  const out: string[] = [];
  const approx = pick(r, ["", "", "=", "~"]);
  if (chance(r, 0.5)) out.push("MAXLEN", ...(approx ? [approx] : []), String(upTo(r, 8)));
  else out.push("MINID", ...(approx ? [approx] : []), sid(r));
  if (chance(r, 0.25)) out.push("LIMIT", String(upTo(r, 6)));
  return out;
}

function xaddId(r: R, k: string): string {
  if (k === "sx") return chance(r, 0.9) ? "*" : sid(r);
  return pick(r, [sid(r), sid(r), sid(r), `${upTo(r, 12)}-*`, String(upTo(r, 12))]);
}

const STREAM_GENS: Gen[] = [
  (r) => {
    const k = skey(r);
    return ["XADD", k, ...(chance(r, 0.1) ? ["NOMKSTREAM"] : []), xaddId(r, k), ...fields(r)];
  },
  (r) => {
    const k = skey(r);
    return [
      "XADD",
      k,
      ...(chance(r, 0.1) ? ["NOMKSTREAM"] : []),
      ...trim(r),
      xaddId(r, k),
      "f",
      "v",
    ];
  },
  (r) => ["XRANGE", skey(r), sbound(r, "-"), sbound(r, "+"), ...count(r)],
  (r) => ["XREVRANGE", skey(r), sbound(r, "+"), sbound(r, "-"), ...count(r)],
  (r) => ["XLEN", skey(r)],
  (r) => ["XDEL", skey(r), sid(r), ...(chance(r, 0.5) ? [sid(r)] : [])],
  (r) => ["XTRIM", skey(r), ...trim(r)],
  (r) => {
    const out = ["XSETID", skey(r), sid(r)];
    if (chance(r, 0.3)) out.push("ENTRIESADDED", String(upTo(r, 20)));
    if (chance(r, 0.3)) out.push("MAXDELETEDID", sid(r));
    return out;
  },
  (r) => {
    const out = ["XGROUP", "CREATE", skey(r), group(r), pick(r, ["$", "0", sid(r)])];
    if (chance(r, 0.3)) out.push("MKSTREAM");
    if (chance(r, 0.2)) out.push("ENTRIESREAD", String(upTo(r, 10)));
    return out;
  },
  (r) => {
    const out = ["XGROUP", "SETID", skey(r), group(r), pick(r, ["$", "0", sid(r)])];
    if (chance(r, 0.3)) out.push("ENTRIESREAD", String(upTo(r, 10)));
    return out;
  },
  (r) => ["XGROUP", "DESTROY", skey(r), group(r)],
  (r) => ["XGROUP", "CREATECONSUMER", skey(r), group(r), consumer(r)],
  (r) => ["XGROUP", "DELCONSUMER", skey(r), group(r), consumer(r)],
  (r) => {
    const out = ["XREADGROUP", "GROUP", group(r), consumer(r), ...count(r)];
    if (chance(r, 0.2)) out.push("NOACK");
    const keys = chance(r, 0.3) ? [skey(r), skey(r)] : [skey(r)];
    out.push("STREAMS", ...keys, ...keys.map(() => pick(r, [">", ">", ">", "0", sid(r)])));
    return out;
  },
  (r) => ["XREAD", ...count(r), "STREAMS", skey(r), pick(r, ["0", sid(r), "$"])],
  (r) => ["XACK", skey(r), group(r), sid(r), ...(chance(r, 0.5) ? [sid(r)] : [])],
  (r) => ["XPENDING", skey(r), group(r)],
  (r) => {
    const out = ["XPENDING", skey(r), group(r)];
    if (chance(r, 0.3)) out.push("IDLE", pick(r, ["0", "100000000"]));
    out.push(sbound(r, "-"), sbound(r, "+"), String(upTo(r, 5)));
    if (chance(r, 0.3)) out.push(consumer(r));
    return out;
  },
  (r) => {
    const out = ["XCLAIM", skey(r), group(r), consumer(r), pick(r, ["0", "0", "100000000"])];
    out.push(sid(r));
    if (chance(r, 0.5)) out.push(sid(r));
    if (chance(r, 0.2)) out.push("IDLE", "0");
    if (chance(r, 0.2)) out.push("RETRYCOUNT", String(upTo(r, 5)));
    if (chance(r, 0.3)) out.push("FORCE");
    if (chance(r, 0.3)) out.push("JUSTID");
    if (chance(r, 0.2)) out.push("LASTID", sid(r));
    return out;
  },
  (r) => {
    const out = ["XAUTOCLAIM", skey(r), group(r), consumer(r), pick(r, ["0", "0", "100000000"])];
    out.push(pick(r, ["0", "-", sid(r)]));
    if (chance(r, 0.5)) out.push("COUNT", String(1 + upTo(r, 4)));
    if (chance(r, 0.3)) out.push("JUSTID");
    return out;
  },
  (r) => ["XINFO", "STREAM", skey(r)],
  (
    r,
  ) => [
    "XINFO",
    "STREAM",
    skey(r),
    "FULL",
    ...(chance(r, 0.5) ? ["COUNT", String(upTo(r, 3))] : []),
  ],
  (r) => ["XINFO", "GROUPS", skey(r)],
  (r) => ["XINFO", "CONSUMERS", skey(r), group(r)],
];

// ---- GEO -----------------------------------------------------------------------------------

const gkey = (r: R) => pick(r, ["g1", "g1", "g2", "g3", "a"]);
const place = (r: R) => pick(r, ["Palermo", "Catania", "p1", "p2", "p3", "x", "é"]);
const lon = (r: R) =>
  chance(r, 0.05)
    ? pick(r, ["180", "-180", "181", "abc"])
    : (r() * 40 - 5).toFixed(pick(r, [0, 2, 6, 9]));
const lat = (r: R) =>
  chance(r, 0.05)
    ? pick(r, ["85.05112878", "-85.05112878", "86", "nan"])
    : (r() * 30 + 30).toFixed(pick(r, [0, 2, 6, 9]));
const unit = (r: R) => pick(r, ["m", "km", "mi", "ft", "KM", "yd"]);
const radius = (r: R) => pick(r, ["0", "100", "500", "2000", "1e4", String(upTo(r, 3000))]);

function geoWith(r: R): string[] {
  const out: string[] = [];
  if (chance(r, 0.4)) out.push("WITHCOORD");
  if (chance(r, 0.4)) out.push("WITHDIST");
  if (chance(r, 0.3)) out.push("WITHHASH");
  return out;
}
function geoOrderCount(r: R): string[] {
  const out: string[] = [];
  if (chance(r, 0.6)) out.push(pick(r, ["ASC", "DESC"]));
  if (chance(r, 0.4)) {
    out.push("COUNT", String(upTo(r, 4)));
    if (chance(r, 0.3)) out.push("ANY");
  }
  return out;
}
function geoFromBy(r: R): string[] {
  const from = chance(r, 0.5) ? ["FROMMEMBER", place(r)] : ["FROMLONLAT", lon(r), lat(r)];
  const by = chance(r, 0.5)
    ? ["BYRADIUS", radius(r), unit(r)]
    : ["BYBOX", radius(r), radius(r), unit(r)];
  return chance(r, 0.5) ? [...from, ...by] : [...by, ...from];
}

const GEO_GENS: Gen[] = [
  (r) => {
    const out = ["GEOADD", gkey(r)];
    if (chance(r, 0.2)) out.push(pick(r, ["NX", "XX"]));
    if (chance(r, 0.2)) out.push("CH");
    out.push(lon(r), lat(r), place(r));
    if (chance(r, 0.4)) out.push(lon(r), lat(r), place(r));
    return out;
  },
  (r) => ["GEODIST", gkey(r), place(r), place(r), ...(chance(r, 0.6) ? [unit(r)] : [])],
  (r) => ["GEOPOS", gkey(r), place(r), place(r)],
  (r) => ["GEOHASH", gkey(r), place(r), place(r)],
  (r) => ["GEOSEARCH", gkey(r), ...geoFromBy(r), ...geoOrderCount(r), ...geoWith(r)],
  (r) => {
    const out = ["GEOSEARCHSTORE", gkey(r), gkey(r), ...geoFromBy(r), ...geoOrderCount(r)];
    if (chance(r, 0.4)) out.push("STOREDIST");
    return out;
  },
  (r) => {
    const byMember = chance(r, 0.5);
    const ro = chance(r, 0.3);
    const out = byMember
      ? [ro ? "GEORADIUSBYMEMBER_RO" : "GEORADIUSBYMEMBER", gkey(r), place(r)]
      : [ro ? "GEORADIUS_RO" : "GEORADIUS", gkey(r), lon(r), lat(r)];
    out.push(radius(r), unit(r), ...geoWith(r), ...geoOrderCount(r));
    if (!ro && chance(r, 0.3)) out.push(pick(r, ["STORE", "STOREDIST"]), gkey(r));
    return out;
  },
  (r) => ["ZRANGE", gkey(r), "0", "-1", "WITHSCORES"],
  (r) => ["ZREM", gkey(r), place(r)],
];

// ---- HyperLogLog ---------------------------------------------------------------------------

const hkey = (r: R) => pick(r, ["h1", "h1", "h2", "h3", "a"]);
const elements = (r: R): string[] => {
  const n = chance(r, 0.2) ? 20 + upTo(r, 60) : 1 + upTo(r, 3);
  return Array.from({ length: n }, () => `e${upTo(r, chance(r, 0.5) ? 50 : 5000)}`);
};
const junk = (r: R) =>
  pick(r, ["\u0000", "\u00ff", "x", "\u0000\u0000\u0000", "HYLL", "\u0001", "\u007f\u0080"]);

const HLL_GENS: Gen[] = [
  (r) => ["PFADD", hkey(r), ...elements(r)],
  (r) => ["PFADD", hkey(r), ...elements(r)],
  (r) => ["PFADD", hkey(r)],
  (r) => ["PFCOUNT", hkey(r)],
  (r) => ["PFCOUNT", hkey(r), hkey(r), ...(chance(r, 0.5) ? [hkey(r)] : [])],
  (
    r,
  ) => [
    "PFMERGE",
    hkey(r),
    ...(chance(r, 0.8) ? [hkey(r)] : []),
    ...(chance(r, 0.4) ? [hkey(r)] : []),
  ],
  (r) => ["GET", hkey(r)],
  (r) => ["STRLEN", hkey(r)],
  (r) =>
    chance(r, 0.3) ? ["SETRANGE", hkey(r), String(upTo(r, 20)), junk(r)] : ["PFCOUNT", hkey(r)],
  (r) => chance(r, 0.3) ? ["APPEND", hkey(r), junk(r)] : ["PFADD", hkey(r), ...elements(r)],
  (r) => ["COPY", hkey(r), hkey(r), "REPLACE"],
];

// ---- SORT ----------------------------------------------------------------------------------

const sortPattern = (r: R) => pick(r, ["w_*", "hw_*->f", "nosuch_*", "hw_*->nof", "w_*->f", "#"]);

function sortArgs(r: R, ro: boolean): string[] {
  const out = [ro ? "SORT_RO" : "SORT", key(r)];
  if (chance(r, 0.4)) out.push("BY", pick(r, ["w_*", "hw_*->f", "nosuch_*", "nosort", "w_*->f"]));
  if (chance(r, 0.3)) out.push("LIMIT", String(upTo(r, 4) - 1), String(upTo(r, 5) - 1));
  const gets = chance(r, 0.4) ? 1 + upTo(r, 2) : 0;
  for (let i = 0; i < gets; i++) out.push("GET", sortPattern(r));
  if (chance(r, 0.3)) out.push(pick(r, ["ASC", "DESC"]));
  const store = !ro && chance(r, 0.3);
  // ALPHA by weights keeps ties in the order of the input, which for a set is the set's own
  // (unspecified) order: not stored, so that the datasets stay comparable.
  const byWeights = out.includes("BY") && !out.includes("nosort");
  if (chance(r, 0.4) && !(store && byWeights)) out.push("ALPHA");
  if (store) out.push("STORE", key(r));
  return out;
}

const SORT_GENS: Gen[] = [
  (r) => sortArgs(r, false),
  (r) => sortArgs(r, false),
  (r) => sortArgs(r, true),
  (r) => ["SET", `w_${member(r)}`, pick(r, [score(r), int(r), "abc", ""])],
  (r) => ["HSET", `hw_${member(r)}`, "f", pick(r, [score(r), int(r), "abc"])],
];

// ---- scripts and functions -----------------------------------------------------------------

/** Scripts run on random commands (given as ARGV) or on random values. */
const SCRIPTS = [
  "return redis.call(unpack(ARGV))",
  "return redis.pcall(unpack(ARGV))",
  "local r = redis.pcall(unpack(ARGV))\n" +
  "if type(r) == 'table' and r.err then return {'err', r.err} end\n" +
  "if type(r) == 'table' and r.ok then return {'ok', r.ok} end\n" +
  "return {type(r), r}",
  "redis.setresp(3)\nreturn redis.call(unpack(ARGV))",
  "#!lua flags=no-writes\nreturn redis.call(unpack(ARGV))",
  "return {1, 2.9, -3.5, true, false, 'str', {ok = 'fine'}, {1, {2, nil, 3}}, nil, 7}",
  "return redis.error_reply(ARGV[1])",
  "return redis.status_reply(ARGV[1])",
  "return tonumber(ARGV[1])",
  "return ARGV[1] + 1",
  "return redis.call('INCRBY', KEYS[1], ARGV[1])",
  "local t = {}\nfor i, k in ipairs(KEYS) do t[i] = redis.call('TYPE', k) end\nreturn t",
  "return cjson.encode(redis.pcall(unpack(ARGV)))",
  "return cmsgpack.pack(redis.pcall(unpack(ARGV)))",
] as const;
/** SCRIPTS[i] runs a command given as its arguments. */
const RUNS_COMMAND = new Set([0, 1, 2, 3, 4, 12, 13]);
/** SCRIPTS[i] encodes the reply to one string: nothing in it can be normalised afterwards. */
const ENCODES_REPLY = new Set([12, 13]);
const sha1 = (s: string): string => createHash("sha1").update(s).digest("hex");
const SHAS = SCRIPTS.map(sha1);

const LIBRARY = "#!lua name=difflib\n" +
  "redis.register_function('dcall', function(keys, args) return redis.call(unpack(args)) end)\n" +
  "redis.register_function{function_name = 'dpcall', flags = {'no-writes'},\n" +
  "  callback = function(keys, args) return redis.pcall(unpack(args)) end}\n";

const scriptValue = (r: R) =>
  pick(r, [
    "3.99",
    "-2.5",
    "12",
    "1e20",
    "0x10",
    "abc",
    "",
    "ERR bad",
    "-X y",
    "inf",
    "nan",
    "  7 ",
  ]);

/** A command for a script to run: any generator's but the scripts'. */
function innerCommand(r: R): string[] {
  return pick(r, [...FAMILY_GENS, ...CORE_GENS])(r);
}

/** Commands whose replies hold times or orders Redis leaves unspecified. */
const NEEDS_NORMALISING = /^(XINFO|XPENDING|SMEMBERS|SINTER|SUNION|SDIFF|HKEYS|HVALS|KEYS|SORT)/i;

function scriptArgs(r: R, i: number): string[] {
  if (ENCODES_REPLY.has(i)) {
    for (;;) {
      const cmd = innerCommand(r);
      if (!NEEDS_NORMALISING.test(cmd[0]!)) return ["0", ...cmd];
    }
  }
  if (RUNS_COMMAND.has(i)) return ["0", ...innerCommand(r)];
  if (i === 10) return ["1", key(r), int(r)];
  if (i === 11) return ["3", key(r), key(r), skey(r)];
  return ["0", scriptValue(r)];
}

const SCRIPT_GENS: Gen[] = [
  (r) => {
    const i = upTo(r, SCRIPTS.length - 1);
    return [chance(r, 0.2) ? "EVAL_RO" : "EVAL", SCRIPTS[i]!, ...scriptArgs(r, i)];
  },
  (r) => {
    const i = upTo(r, SCRIPTS.length - 1);
    return [chance(r, 0.2) ? "EVALSHA_RO" : "EVALSHA", SHAS[i]!, ...scriptArgs(r, i)];
  },
  (r) => ["SCRIPT", "LOAD", pick(r, SCRIPTS)],
  (r) => ["SCRIPT", "EXISTS", pick(r, SHAS), pick(r, SHAS), "0000"],
  (r) => chance(r, 0.1) ? ["SCRIPT", "FLUSH"] : ["SCRIPT", "EXISTS", pick(r, SHAS)],
  (r) => ["FCALL", "dcall", "0", ...innerCommand(r)],
  (r) => ["FCALL_RO", pick(r, ["dpcall", "dcall"]), "0", ...innerCommand(r)],
];

const FAMILY_GENS: Gen[] = [
  ...STREAM_GENS,
  ...STREAM_GENS,
  ...GEO_GENS,
  ...HLL_GENS,
  ...SORT_GENS,
];
const ALL_FAMILY_GENS: Gen[] = [...FAMILY_GENS, ...SCRIPT_GENS, ...SCRIPT_GENS, ...CORE_GENS];

// ---- comparison ----------------------------------------------------------------------------

const UNORDERED = new Set([
  "SMEMBERS",
  "SINTER",
  "SUNION",
  "SDIFF",
  "HKEYS",
  "HVALS",
  "KEYS",
]);

/** Fields holding a time in milliseconds, in XINFO replies. */
const TIME_FIELDS = new Set(["idle", "seen-time", "active-time", "inactive"]);
const MS = "<ms>";
const name = (v: RespValue): string | null =>
  typeof v === "string" ? v : v instanceof SimpleString ? v.value : null;

/** Replaces the millisecond times of stream replies (XPENDING, XINFO) by a placeholder. */
function maskTimes(cmd: string[], v: RespValue): RespValue {
  const c0 = cmd[0]!.toUpperCase();
  if (c0 === "XPENDING" && cmd.length > 3 && Array.isArray(v)) {
    return v.map((e) => Array.isArray(e) && e.length === 4 ? [e[0]!, e[1]!, MS, e[3]!] : e);
  }
  if (c0 !== "XINFO") return v;
  const walk = (x: RespValue, parent: string | null): RespValue => {
    if (x instanceof RespMap) {
      return new RespMap(
        x.entries.map(([k, val]) => {
          const n = name(k);
          return [k, n !== null && TIME_FIELDS.has(n) ? MS : walk(val, n)];
        }),
      );
    }
    if (!Array.isArray(x)) return x;
    if (parent === "pending") {
      // Group PEL entries [id, consumer, time, count]; consumer PEL entries [id, time, count].
      return x.map((e) =>
        Array.isArray(e) && e.length === 4
          ? [e[0]!, e[1]!, MS, e[3]!]
          : Array.isArray(e) && e.length === 3
          ? [e[0]!, MS, e[2]!]
          : e
      );
    }
    const isFlatMap = x.length % 2 === 0 && x.every((e, i) => i % 2 === 1 || name(e) !== null);
    return x.map((e, i) => {
      if (isFlatMap && i % 2 === 1) {
        const n = name(x[i - 1]!)!;
        return TIME_FIELDS.has(n) ? MS : walk(e, n);
      }
      return walk(e, null);
    });
  };
  return walk(v, null);
}

/** Clock-generated stream IDs (13-digit milliseconds) in the text of a reply. */
const CLOCK_ID = /\b1\d{12}-\d+\b/g;

/** Per server: the clock IDs seen so far, each named by its order of first appearance. */
class ClockIds {
  private readonly names = new Map<string, string>();
  replace(text: string): string {
    return text.replace(CLOCK_ID, (id) => {
      let n = this.names.get(id);
      if (n === undefined) this.names.set(id, n = `<id${this.names.size}>`);
      return n;
    });
  }
}

const latin1 = new TextDecoder("latin1");
const text = (v: RespValue): string => latin1.decode(encodeValue(v));

/**
 * True when SORT replies in the order of a hash table, which Redis leaves unspecified: BY
 * nosort of a set (sorted anyway when stored or run by a script), or ALPHA by weights of a set
 * or a sorted set (read from its dict), whose ties keep the order of the input.
 */
function unorderedSort(cmd: string[], type: string | null, inScript: boolean): boolean {
  const c0 = cmd[0]!.toUpperCase();
  if (c0 !== "SORT" && c0 !== "SORT_RO") return false;
  const upper = cmd.map((a) => a.toUpperCase());
  const by = upper.indexOf("BY");
  if ((type !== "set" && type !== "zset") || by < 0) return false;
  if (upper[by + 1] === "NOSORT") {
    return type === "set" && !upper.includes("STORE") && !inScript;
  }
  return upper.includes("ALPHA");
}

/** The command a script runs, for the scripts given one as their arguments. */
function innerOf(cmd: string[]): { inner: string[]; script: number } | null {
  const c0 = cmd[0]!.toUpperCase();
  if (c0 === "FCALL" || c0 === "FCALL_RO") return { inner: cmd.slice(3), script: -1 };
  if (!c0.startsWith("EVAL")) return null;
  const i = c0.startsWith("EVALSHA") ? SHAS.indexOf(cmd[1]!) : SCRIPTS.indexOf(cmd[1] as never);
  return RUNS_COMMAND.has(i) ? { inner: cmd.slice(3), script: i } : null;
}

/** Map entries sorted (nested maps too): the order of a Lua table's keys is Lua's own. */
function sortMaps(v: RespValue, flat: boolean): RespValue {
  if (v instanceof RespMap) {
    const entries = v.entries.map(([k, x]) => [k, sortMaps(x, flat)] as [RespValue, RespValue]);
    return new RespMap(entries.sort((p, q) => text(p[0]) < text(q[0]) ? -1 : 1));
  }
  if (!Array.isArray(v)) return v;
  const items = v.map((x) => sortMaps(x, flat));
  // In RESP2 a map arrives flattened: every array is compared as a multiset.
  return flat ? items.sort((p, q) => text(p) < text(q) ? -1 : text(p) > text(q) ? 1 : 0) : items;
}

function normalize(
  cmd: string[],
  v: RespValue,
  ids: ClockIds,
  unorderedSet: boolean,
  proto: 2 | 3,
): string {
  const run = innerOf(cmd);
  if (run !== null) {
    const [inner, script] = [run.inner, run.script];
    if (inner.length === 0) return text(v);
    // Script 2 replies {type, reply}; script 3 turns RESP3 maps into Lua tables and back.
    if (script === 2 && Array.isArray(v) && v.length === 2 && typeof v[0] === "string") {
      return `${v[0]}: ${normalize(inner, v[1]!, ids, unorderedSet, proto)}`;
    }
    v = maskTimes(inner, v);
    if (script === 3) v = sortMaps(v, proto === 2 && /^X(INFO|READ)/i.test(inner[0]!));
    return normalize(inner, v, ids, unorderedSet, proto);
  }
  const c0 = cmd[0]!.toUpperCase();
  if ((UNORDERED.has(c0) || unorderedSet) && Array.isArray(v)) {
    // With LIMIT, even which members is unspecified: only the count is compared.
    if (unorderedSet && cmd.some((a) => a.toUpperCase() === "LIMIT")) return `${v.length} items`;
    return JSON.stringify(v.map(text).sort());
  }
  if (v instanceof RespSet) return JSON.stringify(v.items.map(text).sort());
  return ids.replace(text(maskTimes(cmd, v)));
}

/** Every key but `sx` (whose IDs come from each server's clock), with each key's digest. */
async function datasetDigest(conn: RawConn): Promise<string> {
  const keys = (await conn.call("KEYS", "*")) as string[];
  const rest = keys.filter((k) => k !== "sx").sort();
  if (rest.length === 0) return "(empty)";
  const digests = await conn.call("DEBUG", "DIGEST-VALUE", ...rest);
  return JSON.stringify([rest, digests]);
}

/** Two long replies from where they start to differ (with a little context). */
function firstDifference(ours: string, redis: string): { ours: string; redis: string } {
  if (ours.length + redis.length < 400) return { ours, redis };
  let at = 0;
  while (at < ours.length && ours[at] === redis[at]) at++;
  const from = Math.max(0, at - 60);
  const cut = (s: string) => (from > 0 ? "…" : "") + s.slice(from, at + 200);
  return { ours: cut(ours), redis: cut(redis) };
}

interface Suite {
  name: string;
  gens: Gen[];
  seeds: number[];
  /** Server arguments for a seed (both servers). */
  config: (seed: number) => string[];
  setup: string[][];
  /** Compare the dataset with DEBUG DIGEST (all keys) or per key (all but `sx`). */
  digest: "all" | "keys";
  proto: (seed: number) => 2 | 3;
}

const envInt = (name: string): number | null => {
  const v = Deno.env.get(name);
  return v === undefined ? null : Number(v);
};
const OPS = envInt("DIFF_OPS") ?? 1000;
const ONLY_SEED = envInt("DIFF_SEED");
/** `DIFF_DIGEST_EVERY=1` compares the datasets after every command (to find where they part). */
const DIGEST_EVERY = envInt("DIFF_DIGEST_EVERY") ?? 50;
const SEEDS = (Deno.env.get("DIFF_SEEDS") ?? "").split("-").filter((x) => x !== "").map(Number);
const [seedFrom, seedTo] = SEEDS.length === 2 ? [SEEDS[0]!, SEEDS[1]!] : [1, SEEDS[0] ?? 0];
const seedsOr = (fixed: number[]): number[] =>
  ONLY_SEED !== null
    ? [ONLY_SEED]
    : SEEDS.length > 0
    ? Array.from({ length: Math.max(0, seedTo - seedFrom + 1) }, (_, i) => seedFrom + i)
    : fixed;

const SUITES: Suite[] = [
  {
    name: "core types",
    gens: CORE_GENS,
    seeds: seedsOr([1, 2, 3, 4, 5, 6]),
    config: () => [],
    setup: [],
    digest: "all",
    proto: () => 2,
  },
  {
    name: "streams, GEO, HLL, SORT, scripts",
    gens: ALL_FAMILY_GENS,
    seeds: seedsOr([1, 2, 3, 4, 5, 6]),
    // Small encodings on odd seeds: stream nodes split (by entries or by bytes), HLLs turn
    // dense, sorted sets become skiplists, sets leave the intset encoding.
    config: (seed) =>
      seed % 4 === 1
        ? [
          "--stream-node-max-entries",
          "3",
          "--hll-sparse-max-bytes",
          "60",
          "--zset-max-listpack-entries",
          "4",
          "--set-max-intset-entries",
          "3",
        ]
        : seed % 4 === 3
        ? [
          "--stream-node-max-entries",
          "0",
          "--stream-node-max-bytes",
          "90",
          "--hll-sparse-max-bytes",
          "200",
          "--zset-max-listpack-value",
          "4",
        ]
        : [],
    setup: [["FUNCTION", "LOAD", LIBRARY]],
    digest: "keys",
    proto: (seed) => seed % 4 === 0 ? 3 : 2,
  },
];

for (const suite of SUITES) {
  for (const seed of suite.seeds) {
    Deno.test({
      name:
        `random operations on ${suite.name} (seed ${seed}, ${OPS} ops) reply exactly as redis-server does and leave the same dataset`,
      ignore: !hasRedis,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const args = ["--enable-debug-command", "yes", ...suite.config(seed)];
        await using ours = await startDataNode(args);
        await using redis = await startRedisServer(args);
        using a = await RawConn.connect(ours.port);
        using b = await RawConn.connect(redis.port);
        const proto = suite.proto(seed);
        const setup = proto === 3 ? [["HELLO", "3"], ...suite.setup] : suite.setup;
        for (const cmd of setup) {
          const [va, vb] = [await a.call(...cmd), await b.call(...cmd)];
          // HELLO's reply holds the connection id, which differs.
          if (cmd[0] !== "HELLO" && text(va) !== text(vb)) {
            throw new Error(`setup ${cmd[0]}: ${text(va)} / ${text(vb)}`);
          }
        }
        const [idsA, idsB] = [new ClockIds(), new ClockIds()];
        const r = seededRandom(seed);
        const mismatches: unknown[] = [];
        const log: string[][] = [];
        const step = async (i: number) => {
          const cmd = pick(r, suite.gens)(r);
          log.push(cmd);
          let unorderedSet = false;
          const run = innerOf(cmd);
          const [sortCmd, inScript] = run ? [run.inner, true] : [cmd, false];
          if (
            sortCmd.length > 1 && unorderedSort(sortCmd, "zset", inScript) ||
            unorderedSort(sortCmd, "set", inScript)
          ) {
            const t = await b.call("TYPE", sortCmd[1]!);
            const type = t instanceof SimpleString ? t.value : String(t);
            unorderedSet = unorderedSort(sortCmd, type, inScript);
          }
          const [va, vb] = [await a.call(...cmd), await b.call(...cmd)];
          const [na, nb] = [
            normalize(cmd, va, idsA, unorderedSet, proto),
            normalize(cmd, vb, idsB, unorderedSet, proto),
          ];
          if (na !== nb) mismatches.push({ i, cmd, ...firstDifference(na, nb) });
          // The whole dataset, not only the replies: the digests must agree along the way.
          if (i % DIGEST_EVERY === DIGEST_EVERY - 1 || i === OPS - 1) {
            const [da, db] = suite.digest === "all"
              ? [text(await a.call("DEBUG", "DIGEST")), text(await b.call("DEBUG", "DIGEST"))]
              : [await datasetDigest(a), await datasetDigest(b)];
            if (da !== db) mismatches.push({ i, digest: { ours: da, redis: db } });
          }
        };
        for (let i = 0; i < OPS && mismatches.length < 5; i++) {
          try {
            await step(i);
          } catch (e) {
            // A server that closes the connection (or stops answering) ends the run.
            mismatches.push({ i, cmd: log[i], error: String(e) });
            break;
          }
        }
        if (mismatches.length > 0) {
          const upTo = (mismatches[0] as { i: number }).i;
          console.log(
            `seed ${seed} (${suite.name}, RESP${proto}, config ${
              JSON.stringify(suite.config(seed))
            }): commands 0..${upTo}, replay with DIFF_SEED=${seed}:\n` +
              log.slice(0, upTo + 1).map((c, i) => `${i} ${JSON.stringify(c)}`).join("\n"),
          );
          for (const m of mismatches) console.log(`mismatch ${JSON.stringify(m)}`);
        }
        deepStrictEqual(mismatches, []);
      },
    });
  }
}
