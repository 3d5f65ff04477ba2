/**
 * The propagation stream, compared with Redis 7.0's: the same seeded random write streams run
 * on our node and a real redis-server, both with `appendonly yes`, and the incr AOF files must
 * hold the same commands in the same order (SELECTs, MULTI/EXEC wrapping, rewrites such as
 * SET ... PXAT, SREM for SPOP, LPOP for BLPOP). Absolute times are normalised: any integer
 * argument of 13 digits or more is an absolute time in ms and compares equal within a window.
 */
import { deepStrictEqual } from "node:assert/strict";
import { encodeCommand, RequestParser } from "../shared/resp/mod.ts";
import {
  hasRedis,
  type ManagedProcess,
  startDataNode,
  startRedisServer,
} from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { seededRandom } from "./helpers/random.ts";

const SKIP = hasRedis ? null : "redis-server not installed";
if (SKIP) console.log(`SKIP: AOF differential tests: ${SKIP}`);

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const key = (r: R) => pick(r, ["a", "b", "c", "d", "{t}x", "{t}y"]);
const member = (r: R) => pick(r, ["x", "y", "z", "1", "10", "-3", "é", "a\u0000b"]);
const int = (r: R) => String(Math.floor(r() * 11) - 5);
const score = (r: R) => pick(r, ["1", "2.5", "-1", "0", "inf", "3"]);
/**
 * A TTL that cannot pass during the test (so active expiry never races the comparison): 1000 to
 * 2000 seconds; the millisecond forms get it with "000" appended.
 */
const ttl = (r: R) => String(1000 + Math.floor(r() * 1000));

/** Deterministic writes: no command here picks randomly or depends on the wall clock's ms. */
const WRITES: ((r: R) => string[])[] = [
  (r) => ["SET", key(r), member(r)],
  (r) =>
    ["set", key(r), member(r), pick(r, ["EX", "px", "NX", "XX", "KEEPTTL", "GET"]), ttl(r)]
      .filter((_, i, all) => i < 4 || ["EX", "px"].includes(all[3]!))
      .map((a, i, all) => i === 4 && all[3] === "px" ? a + "000" : a),
  (r) => ["SET", key(r), member(r), "GET", "EX", ttl(r)],
  (r) => ["SET", key(r), member(r), "EXAT", "9999999999"],
  (r) => ["SETEX", key(r), ttl(r), member(r)],
  (r) => ["PSETEX", key(r), ttl(r) + "000", member(r)],
  (r) => ["GETSET", key(r), member(r)],
  (r) => ["GETDEL", key(r)],
  (r) =>
    ["GETEX", key(r), pick(r, ["EX", "PX", "PERSIST"]), ttl(r)].slice(0, 3 + Number(r() > 0.3))
      .map((a, i, all) => i === 3 && all[2] === "PX" ? a + "000" : a),
  (r) => ["APPEND", key(r), member(r)],
  (r) => ["INCRBY", key(r), int(r)],
  (r) => ["INCRBYFLOAT", key(r), pick(r, ["0.5", "1.5", "-2"])],
  (r) => ["SETRANGE", key(r), String(Math.floor(r() * 4)), member(r)],
  (r) => ["SETBIT", key(r), String(Math.floor(r() * 16)), pick(r, ["0", "1"])],
  (r) => ["BITFIELD", key(r), "SET", "u4", String(Math.floor(r() * 4) * 4), int(r)],
  (r) => ["MSET", key(r), member(r), key(r), member(r)],
  (r) => ["DEL", key(r), key(r)],
  (r) => ["UNLINK", key(r)],
  (r) => ["EXPIRE", key(r), ttl(r)],
  (r) => ["PEXPIRE", key(r), ttl(r) + "000"],
  (r) => ["EXPIREAT", key(r), "9999999999"],
  (r) => ["EXPIRE", key(r), pick(r, ["-1", "0"])],
  (r) => ["PERSIST", key(r)],
  (r) => ["RENAME", key(r), key(r)],
  (r) => ["COPY", key(r), key(r), "REPLACE"],
  (r) => ["LPUSH", key(r), member(r), member(r)],
  (r) => ["RPUSH", key(r), member(r)],
  (r) => ["LPOP", key(r)],
  (r) => ["RPOP", key(r), String(1 + Math.floor(r() * 2))],
  (r) => ["LREM", key(r), int(r), member(r)],
  (r) => ["LTRIM", key(r), int(r), int(r)],
  (r) => ["LMOVE", key(r), key(r), pick(r, ["LEFT", "right"]), pick(r, ["left", "RIGHT"])],
  (r) => ["BLPOP", key(r), key(r), "0.01"],
  (r) => ["BLMOVE", key(r), key(r), pick(r, ["LEFT", "right"]), "left", "0.01"],
  (r) => ["BRPOPLPUSH", key(r), key(r), "0.01"],
  (r) => ["LMPOP", "2", key(r), key(r), "LEFT", "COUNT", "2"],
  (r) => ["HSET", key(r), member(r), member(r)],
  (r) => ["HINCRBYFLOAT", key(r), member(r), "1.5"],
  (r) => ["HDEL", key(r), member(r)],
  (r) => ["SADD", key(r), member(r), member(r)],
  (r) => ["SREM", key(r), member(r)],
  (r) => ["SMOVE", key(r), key(r), member(r)],
  (r) => ["SPOP", key(r), "100"],
  (r) => ["SINTERSTORE", key(r), key(r), key(r)],
  (r) => ["ZADD", key(r), score(r), member(r)],
  (r) => ["ZINCRBY", key(r), score(r), member(r)],
  (r) => ["ZPOPMIN", key(r)],
  (r) => ["BZPOPMAX", key(r), "0.01"],
  (r) => ["ZREMRANGEBYSCORE", key(r), "-inf", score(r)],
  (r) => ["ZUNIONSTORE", key(r), "2", key(r), key(r)],
  (r) => ["ZMPOP", "2", key(r), key(r), pick(r, ["MIN", "max"]), "COUNT", "2"],
  (r) => ["BZMPOP", "0.01", "1", key(r), "MIN"],
  (r) => ["PEXPIREAT", key(r), "99999999999999"],
  (r) => ["LSET", key(r), "0", member(r)],
  (r) => ["LINSERT", key(r), "BEFORE", member(r), member(r)],
  (r) => ["HSETNX", key(r), member(r), member(r)],
  (r) => ["HINCRBY", key(r), member(r), int(r)],
  (r) => ["SETNX", key(r), member(r)],
  (r) => ["MSETNX", key(r), member(r), key(r), member(r)],
  (r) => ["DECR", key(r)],
  (r) => ["MOVE", key(r), "1"],
  (r) => ["RENAMENX", key(r), key(r)],
  (r) => ["SDIFFSTORE", key(r), key(r), key(r)],
  (r) => ["ZRANGESTORE", key(r), key(r), "0", "-1"],
  (r) => ["ZREM", key(r), member(r)],
  (r) => ["EXPIRE", key(r), ttl(r), pick(r, ["NX", "XX", "GT", "LT"])],
  (r) => ["PEXPIRE", key(r), ttl(r) + "000", pick(r, ["nx", "xx", "gt", "lt"])],
  (r) => ["GETEX", key(r), pick(r, ["PXAT", "EXAT"]), pick(r, ["99999999999999", "9999999999"])],
  (r) => ["SET", key(r), member(r), "PXAT", "99999999999999"],
  // Even a PXAT as given is rewritten (command and option names as Redis spells them).
  (r) => ["set", key(r), member(r), "pxat", "99999999999999", pick(r, ["XX", "GET", "NX"])],
  (r) => ["SET", key(r), member(r), "NX", "GET"],
  (r) => ["LPUSHX", key(r), member(r)],
  (r) => ["RPOPLPUSH", key(r), key(r)],
  (r) => ["ZREMRANGEBYRANK", key(r), "0", int(r)],
  (r) => ["ZRANGESTORE", key(r), key(r), "-inf", "+inf", "BYSCORE"],
  (r) => ["SUNIONSTORE", key(r), key(r), key(r)],
  (r) => ["BITOP", pick(r, ["AND", "OR", "XOR"]), key(r), key(r), key(r)],
  (r) => ["COPY", key(r), key(r), "DB", "1"],
  (r) => ["HDEL", key(r), member(r), member(r)],
  (r) => ["SETNX", key(r), member(r)],
  (r) => ["INCRBYFLOAT", key(r), "1e2"],
  (r) => ["LINSERT", key(r), "AFTER", member(r), member(r)],
  (r) => ["ZADD", key(r), pick(r, ["NX", "XX", "GT", "LT", "CH"]), score(r), member(r)],
  (r) => ["ZADD", key(r), "INCR", score(r), member(r)],
  // Replicates as ZADD with integer scores (its options as given).
  (r) => [
    "GEOADD",
    key(r),
    ...pick(r, [[], ["NX"], ["XX"], ["CH"], ["xx", "ch"]]),
    pick(r, ["13.361389", "-0.5", "180", "2."]),
    pick(r, ["38.115556", "0", "-85.05112878"]),
    member(r),
  ],
  (r) => (r() < 0.2 ? ["FLUSHDB"] : ["DBSIZE"]),
  (r) => ["HMSET", key(r), member(r), member(r), member(r), member(r)],
  (r) => ["ZPOPMAX", key(r), pick(r, ["1", "2", "5"])],
  (r) => ["ZINTERSTORE", key(r), "2", key(r), key(r), "WEIGHTS", "2", "1"],
  (r) => ["ZDIFFSTORE", key(r), "2", key(r), key(r)],
  (r) => ["ZUNIONSTORE", key(r), "2", key(r), key(r), "AGGREGATE", pick(r, ["MIN", "MAX"])],
  (r) => ["LSET", key(r), int(r), member(r)],
  (r) => ["BRPOP", key(r), key(r), "0.01"],
  (r) => ["BLMPOP", "0.01", "2", key(r), key(r), "RIGHT", "COUNT", "3"],
  (r) => ["DECRBY", key(r), int(r)],
  (r) => ["EXPIREAT", key(r), "1"],
  (r) => ["PSETEX", key(r), "100000", member(r)],
  (r) => ["SETRANGE", key(r), "10", member(r)],
  (r) => ["DEL", key(r), key(r), key(r)],
  (r) => ["RENAME", key(r), key(r)],
  (r) => ["HSETNX", key(r), member(r), member(r)],
  (r) => ["SMOVE", key(r), key(r), member(r)],
  () => ["SWAPDB", "0", "1"],
  (r) => ["SELECT", pick(r, ["0", "1"])],
  (r) => ["PUBLISH", "ch", member(r)],
  () => ["MULTI"],
  () => ["EXEC"],
  (r) => ["GET", key(r)],
];

/** The commands of an AOF file, with absolute times (13+ digit integers) rounded. */
function aofCommands(bytes: Uint8Array): string[][] {
  const p = new RequestParser({ maxBulkLen: 1 << 30 });
  p.feed(bytes);
  const out: string[][] = [];
  for (let argv = p.next(); argv !== null; argv = p.next()) out.push(argv);
  return out;
}

/** Absolute times (13+ digit integers) of the two logs match within this many ms. */
const TIME_SLACK_MS = 5_000;

function normalise(cmds: string[][]): string[] {
  return cmds.map((argv) => argv.join(" "));
}

/** The two logs, with times that agree within the slack replaced by the first log's. */
function alignTimes(ours: string[], redis: string[]): string[] {
  return ours.map((line, i) => {
    const other = redis[i];
    if (other === undefined) return line;
    const a = line.split(" "), b = other.split(" ");
    if (a.length !== b.length) return line;
    return a.map((tok, j) => {
      const t = b[j]!;
      const close = /^\d{13,}$/.test(tok) && /^\d{13,}$/.test(t) &&
        Math.abs(Number(tok) - Number(t)) <= TIME_SLACK_MS;
      return close ? t : tok;
    }).join(" ");
  });
}

async function readIncr(dir: string): Promise<Uint8Array> {
  const manifest = await Deno.readTextFile(`${dir}/appendonlydir/appendonly.aof.manifest`);
  const incr = manifest.split("\n").map((l) => l.split(" ")).find((f) => f[5] === "i")?.[1];
  if (!incr) throw new Error(`no incr file in manifest:\n${manifest}`);
  return await Deno.readFile(`${dir}/appendonlydir/${incr}`);
}

/** Every key of databases 0-1 with its value digest and whether it has a TTL (sorted). */
async function dataset(c: RawConn): Promise<string[]> {
  const out: string[] = [];
  for (const db of ["0", "1"]) {
    await c.call("SELECT", db);
    const keys = (await c.call("KEYS", "*") as string[]).sort();
    for (const k of keys) {
      const digest = String(await c.call("DEBUG", "DIGEST-VALUE", k));
      const ttl = Number(await c.call("PTTL", k));
      out.push(`${db} ${k} ${digest} ${ttl > 0 ? "ttl" : ttl}`);
    }
  }
  await c.call("SELECT", "0");
  return out;
}

/** Starts a server of each kind on the other's AOF directory and reads their datasets. */
async function crossLoad(
  dirs: string[],
): Promise<{ oursFromRedis: string[]; redisFromOurs: string[] }> {
  const args = ["--appendonly", "yes", "--enable-debug-command", "yes"];
  await using ours = await startDataNode(args, { dir: dirs[1]! });
  await using redis = await startRedisServer(args, { dir: dirs[0]! });
  using a = await RawConn.connect(ours.port);
  using b = await RawConn.connect(redis.port);
  return { oursFromRedis: await dataset(a), redisFromOurs: await dataset(b) };
}

async function withPair(
  fn: (ours: RawConn, redis: RawConn, ports: number[]) => Promise<void>,
  crossCheck = false,
): Promise<{ ours: string[]; redis: string[] }> {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const args = ["--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes"];
  const procs: ManagedProcess[] = [];
  try {
    procs.push(await startDataNode(args, { dir: dirs[0]! }));
    procs.push(
      await startRedisServer([...args, "--enable-debug-command", "yes"], { dir: dirs[1]! }),
    );
    const conns = await Promise.all(procs.map((p) => RawConn.connect(p.port)));
    try {
      for (const c of conns) {
        deepStrictEqual(String(await c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")), "OK");
      }
      await fn(conns[0]!, conns[1]!, procs.map((p) => p.port));
      if (crossCheck) {
        // The two datasets agree; then each server loads the other's AOF directory (ours
        // replays redis-server's file as its trusted loader) and ends with the same dataset.
        const live = await dataset(conns[1]!);
        if (live.length < 3) throw new Error(`the stream left too few keys: ${live.join(", ")}`);
        deepStrictEqual(await dataset(conns[0]!), live);
        for (const p of procs) await p.stop();
        const { oursFromRedis, redisFromOurs } = await crossLoad(dirs);
        deepStrictEqual(oursFromRedis, live);
        deepStrictEqual(redisFromOurs, live);
      }
    } finally {
      for (const c of conns) c.close();
    }
    const [ours, redis] = await Promise.all(dirs.map(readIncr));
    const r = normalise(aofCommands(redis!));
    return { ours: alignTimes(normalise(aofCommands(ours!)), r), redis: r };
  } finally {
    for (const p of procs) await p.stop();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
}

/** Runs one command on both; the replies are not compared here (the conformance suite does). */
async function both(ours: RawConn, redis: RawConn, argv: string[]): Promise<void> {
  await Promise.all([ours.call(...argv), redis.call(...argv)]);
}

/** Sends a pipeline and reads all its replies. */
async function pipeline(c: RawConn, cmds: string[][]): Promise<void> {
  for (const argv of cmds) await c.write(encodeCommand(argv));
  for (const _ of cmds) await c.read();
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
  Deno.test({
    name:
      `AOF differential: random write stream (seed ${seed}) logs as redis-server does, and each loads the other's AOF`,
    ignore: SKIP !== null,
    async fn() {
      const r = seededRandom(seed);
      const { ours, redis } = await withPair(async (a, b) => {
        let inMulti = false;
        for (let i = 0; i < 400; i++) {
          const argv = pick(r, WRITES)(r);
          const name = argv[0]!.toUpperCase();
          // Blocking commands inside MULTI do not block; outside, only a missing key would.
          if (name === "MULTI" && inMulti) continue;
          if (name === "EXEC" && !inMulti) continue;
          if (name === "MULTI") inMulti = true;
          if (name === "EXEC") inMulti = false;
          await both(a, b, argv);
        }
        if (inMulti) await both(a, b, ["EXEC"]);
      }, true);
      deepStrictEqual(ours, redis);
    },
  });
}

Deno.test({
  name: "AOF differential: lazy expiry, served blocked clients and transactions",
  ignore: SKIP !== null,
  async fn() {
    const { ours, redis } = await withPair(async (a, b, ports) => {
      const pair = [a, b];
      const run = (argv: string[]) => both(a, b, argv);
      // Keys that expire while active expiry is off: the next access deletes them.
      await run(["SET", "e1", "v", "PX", "30"]);
      await run(["SET", "e2", "v", "PX", "30"]);
      await run(["SET", "e3", "v", "PX", "30"]);
      await new Promise((r) => setTimeout(r, 80));
      await run(["SET", "e1", "new"]); // DEL + SET in one unit: MULTI/EXEC
      await run(["MGET", "e2", "e3"]); // two DELs from a read: wrapped
      await run(["SET", "e4", "v", "PX", "30"]);
      await new Promise((r) => setTimeout(r, 80));
      await run(["SCAN", "0", "COUNT", "100"]); // SCAN's expiry is its own effect
      // RANDOMKEY in a database whose only key has expired.
      await run(["SELECT", "5"]);
      await run(["SET", "e5", "v", "PX", "30"]);
      await new Promise((r) => setTimeout(r, 80));
      await run(["RANDOMKEY"]);
      await run(["SELECT", "0"]);
      await run(["SET", "e6", "v", "PX", "30"]);
      await new Promise((r) => setTimeout(r, 80));
      for (const c of pair) {
        await pipeline(c, [["MULTI"], ["SET", "x", "1"], ["GET", "e6"], ["EXEC"]]);
      }
      // A transaction with one write goes out bare.
      for (const c of pair) {
        await pipeline(c, [["MULTI"], ["SET", "y", "1"], ["GET", "y"], ["EXEC"]]);
      }
      // Served blocked clients: each is a unit of its own, rewritten to the non-blocking form.
      const blocked = await Promise.all(ports.map(async (port) => {
        const conns = await Promise.all([0, 1, 2, 3].map(() => RawConn.connect(port)));
        const cmds = [
          ["BLPOP", "q", "0"],
          ["BLMOVE", "q", "d", "right", "LEFT", "0"],
          ["BRPOPLPUSH", "q", "d", "0"],
          ["BZPOPMIN", "z", "0"],
        ];
        // One at a time, so both servers queue them in the same order.
        for (const [i, c] of conns.entries()) {
          await c.write(encodeCommand(cmds[i]!));
          await new Promise((r) => setTimeout(r, 20));
        }
        return conns;
      }));
      await new Promise((r) => setTimeout(r, 100));
      await run(["RPUSH", "q", "1", "2", "3"]);
      await run(["ZADD", "z", "1", "m"]);
      for (const conns of blocked) {
        for (const c of conns) {
          await c.read();
          c.close();
        }
      }
      await run(["SADD", "s", "a", "b", "c"]);
      await run(["SPOP", "s", "3"]); // the whole set: DEL
      await run(["SADD", "s1", "only"]);
      await run(["SPOP", "s1"]); // SREM of the one member
      // RESTORE with a relative TTL is logged with the absolute time.
      await run(["SET", "src", "payload"]);
      const dump = String(await a.call("DUMP", "src"));
      await run(["RESTORE", "r1", "600000", dump]);
      await run(["restore", "r2", "600000", dump, "REPLACE", "IDLETIME", "5"]);
      await run(["RESTORE", "r3", "0", dump]);
      await run(["RESTORE", "r4", "99999999999999", dump, "absttl"]);
    });
    deepStrictEqual(ours, redis);
  },
});
