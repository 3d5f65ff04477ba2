/**
 * Random operation sequences (seeded, replayable) run on our node and a real redis-server,
 * reply by reply. Orders Redis leaves unspecified (set members, hash fields) are sorted.
 */
import { deepStrictEqual } from "node:assert/strict";
import { encodeValue, type RespValue } from "../shared/resp/mod.ts";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { seededRandom } from "./helpers/random.ts";

if (!hasRedis) console.log("SKIP: redis-server not installed: differential tests");

const UNORDERED = new Set([
  "SMEMBERS",
  "SINTER",
  "SUNION",
  "SDIFF",
  "HKEYS",
  "HVALS",
  "KEYS",
]);

type Gen = (r: () => number) => string[];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

const key = (r: () => number) => pick(r, ["a", "b", "c", "d", "e"]);
const member = (r: () => number) => pick(r, ["x", "y", "z", "1", "2", "10", "-3", "é", "\u0000"]);
const int = (r: () => number) => String(Math.floor(r() * 21) - 10);
const score = (r: () => number) =>
  pick(r, ["1", "2.5", "-1", "0", "1e3", "inf", "-inf", "0.1", "3"]);

const GENS: Gen[] = [
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

function normalize(cmd: string, v: RespValue): string {
  if (UNORDERED.has(cmd) && Array.isArray(v)) {
    return JSON.stringify(v.map((x) => new TextDecoder("latin1").decode(encodeValue(x))).sort());
  }
  return new TextDecoder("latin1").decode(encodeValue(v));
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  Deno.test({
    name:
      `random operations (seed ${seed}, 1000 ops) reply exactly as redis-server does and leave the same dataset`,
    ignore: !hasRedis,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const debug = ["--enable-debug-command", "yes"];
      await using ours = await startDataNode(debug);
      await using redis = await startRedisServer(debug);
      using a = await RawConn.connect(ours.port);
      using b = await RawConn.connect(redis.port);
      const r = seededRandom(seed);
      const mismatches: unknown[] = [];
      for (let i = 0; i < 1000 && mismatches.length < 5; i++) {
        const cmd = pick(r, GENS)(r);
        const [va, vb] = [await a.call(...cmd), await b.call(...cmd)];
        const [na, nb] = [normalize(cmd[0]!, va), normalize(cmd[0]!, vb)];
        if (na !== nb) mismatches.push({ i, cmd, ours: na, redis: nb });
        // The whole dataset, not only the replies: DEBUG DIGEST must agree along the way.
        if (i % 50 === 49) {
          const [da, db] = [await a.call("DEBUG", "DIGEST"), await b.call("DEBUG", "DIGEST")];
          if (String(da) !== String(db)) mismatches.push({ i, digest: { ours: da, redis: db } });
        }
      }
      deepStrictEqual(mismatches, []);
    },
  });
}
