/**
 * An AOF rewrite with `aof-use-rdb-preamble no`: the base file is `<name>.<seq>.base.aof`, written
 * as commands (not an RDB), and a restart from it rebuilds every type (strings with a TTL, lists
 * longer than one 64-element command, sets, sorted sets, hashes, a stream with deleted entries,
 * consumer groups, pending entries and an idle consumer, an empty stream, a function library,
 * two databases). The same steps run against redis-server 7.0, whose base must use the same
 * commands.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  hasRedis,
  type ManagedProcess,
  startDataNode,
  startRedisServer,
  withTempDir,
} from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { RequestParser, RespError, type RespValue } from "../shared/resp/mod.ts";

if (!hasRedis) {
  console.log("SKIP: redis-server not installed: the redis-server variants of this file");
}

const opts = { sanitizeOps: false, sanitizeResources: false };
type Impl = "ours" | "redis";

const ARGS = ["--appendonly", "yes", "--aof-use-rdb-preamble", "no"];

function start(impl: Impl, dir: string): Promise<ManagedProcess> {
  return impl === "ours" ? startDataNode(ARGS, { dir }) : startRedisServer(ARGS, { dir });
}

const LIB = "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)";

async function populate(c: RawConn): Promise<void> {
  const run = async (...a: string[]) => {
    const r = await c.call(...a);
    if (r instanceof RespError) throw new Error(`${a.join(" ")}: ${r.message}`);
  };
  await run("SET", "s", "v\x00\xff");
  await run("SET", "t", "ttl");
  await run("PEXPIREAT", "t", String(Date.now() + 3_600_000));
  await run("RPUSH", "l", ...Array.from({ length: 150 }, (_, i) => `e${i}`));
  await run("SADD", "set", "a", "b", "c", "1", "2");
  await run("ZADD", "z", "1.5", "a", "-2", "b", "3e10", "c", "inf", "d");
  await run("HSET", "h", "f1", "v1", "f2", "v2");
  await run("XADD", "x", "1-1", "f", "v");
  await run("XADD", "x", "2-1", "f", "v", "g", "w");
  await run("XADD", "x", "3-1", "f", "v");
  await run("XDEL", "x", "2-1");
  await run("XGROUP", "CREATE", "x", "g1", "0");
  await run("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", "x", ">");
  await run("XGROUP", "CREATECONSUMER", "x", "g1", "bob");
  await run("XGROUP", "CREATE", "x", "g2", "$");
  await run("XADD", "empty", "1-1", "f", "v");
  await run("XDEL", "empty", "1-1");
  await run("FUNCTION", "LOAD", LIB);
  await run("SELECT", "3");
  await run("SET", "db3", "x");
  await run("SELECT", "0");
}

/** What a client sees of the dataset (orders normalised where Redis's own are unspecified). */
async function state(c: RawConn): Promise<unknown> {
  const sorted = (v: RespValue) => (v as RespValue[]).map(String).sort();
  const out: unknown[] = [
    await c.call("DBSIZE"),
    await c.call("GET", "s"),
    Number(await c.call("PEXPIRETIME", "t")) > Date.now(),
    await c.call("LRANGE", "l", "0", "-1"),
    sorted(await c.call("SMEMBERS", "set")),
    await c.call("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    sorted(await c.call("HGETALL", "h")),
    await c.call("XRANGE", "x", "-", "+"),
    await c.call("XINFO", "STREAM", "x"),
    await c.call("XINFO", "GROUPS", "x"),
    (await c.call("XINFO", "CONSUMERS", "x", "g1") as RespValue[][]).map((f) => f.slice(0, 4)),
    (await c.call("XPENDING", "x", "g1", "-", "+", "10") as RespValue[][]).map((
      e,
    ) => [e[0], e[1], e[3]]),
    await c.call("XINFO", "STREAM", "empty"),
    await c.call("FUNCTION", "LIST"),
  ];
  await c.call("SELECT", "3");
  out.push(await c.call("GET", "db3"));
  await c.call("SELECT", "0");
  return JSON.parse(JSON.stringify(out, (_, v) => (v instanceof Uint8Array ? [...v] : v)));
}

/** The command names of a RESP file, in order. */
function commandNames(bytes: Uint8Array): string[] {
  const p = new RequestParser({ maxBulkLen: Number.MAX_SAFE_INTEGER });
  p.feed(bytes);
  const names: string[] = [];
  for (let a = p.next(); a !== null; a = p.next()) {
    names.push(a[0]!.toUpperCase() + (a[0]!.toUpperCase() === "XGROUP" ? ` ${a[1]}` : ""));
  }
  return names;
}

async function rewriteAndRestart(impl: Impl): Promise<string[]> {
  let names: string[] = [];
  await withTempDir(async (dir) => {
    let before: unknown;
    {
      await using node = await start(impl, dir);
      using c = await RawConn.connect(node.port);
      await populate(c);
      before = await state(c);
      const rewrites = async () => {
        const info = String(await c.call("INFO", "persistence"));
        const n = Number(/aof_rewrites:(\d+)/.exec(info)?.[1]);
        return info.includes("aof_rewrite_in_progress:0") ? n : -1;
      };
      const n0 = await rewrites();
      equal(String(await c.call("BGREWRITEAOF")), "Background append only file rewriting started");
      await eventually(async () => (await rewrites()) === n0 + 1, "the rewrite", 10_000);
    }
    const files = [...Deno.readDirSync(`${dir}/appendonlydir`)].map((e) => e.name);
    const base = files.find((f) => f.includes(".base."));
    ok(base?.endsWith(".base.aof"), `base file ${base} among ${files}`);
    const bytes = Deno.readFileSync(`${dir}/appendonlydir/${base}`);
    equal(bytes[0], 0x2a, "the base starts with a command");
    names = commandNames(bytes);
    await using node = await start(impl, dir);
    using c = await RawConn.connect(node.port);
    deepStrictEqual(await state(c), before);
  });
  return names;
}

const seen = new Map<Impl, string[]>();
for (const impl of ["ours", "redis"] as const) {
  Deno.test({
    name: `AOF base as commands with aof-use-rdb-preamble no (${impl})`,
    ignore: impl === "redis" && !hasRedis,
    ...opts,
    fn: async () => {
      const names = await rewriteAndRestart(impl);
      seen.set(impl, names);
      const other = seen.get(impl === "ours" ? "redis" : "ours");
      // The same commands, in the same number (keys come in each server's own order).
      if (other) deepStrictEqual([...names].sort(), [...other].sort());
    },
  });
}
