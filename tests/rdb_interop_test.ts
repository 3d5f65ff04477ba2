/**
 * RDB in both directions with a real redis-server 7.0: a file our node saves loads in Redis
 * with the same contents, and a file Redis saves (with every compact encoding it uses) loads
 * in ours. Also DUMP/RESTORE payloads across the two, and redis-check-rdb on our file.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  hasRedis,
  runDataNode,
  startDataNode,
  startRedisServer,
  which,
} from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { encodeCommand, type RespValue } from "../shared/resp/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !hasRedis };
if (!hasRedis) console.log("SKIP: redis-server not installed: RDB interop tests");
const BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

const startOurs = (dir: string, extra: string[] = []) => startDataNode(extra, { dir });
const startRedis = (dir: string, extra: string[] = []) => startRedisServer(extra, { dir });

/** A dataset with every type, small (compact encodings) and large, binary, with TTLs. */
export async function populate(c: RawConn): Promise<void> {
  const big = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
  await c.call("SET", "s:small", "hello");
  await c.call("SET", "s:int", "12345");
  await c.call("SET", "s:neg", "-7");
  await c.call("SET", "s:bigint", "9223372036854775807");
  await c.call("SET", "s:bin", BYTES);
  await c.call("SET", "s:long", "abc".repeat(1000));
  await c.call("SET", "s:ttl", "v", "PX", "3600000");
  await c.call("RPUSH", "l:small", "a", "1", "-2", "300000", BYTES);
  await c.call("RPUSH", "l:big", ...big(500, (i) => `item-${i}-${"x".repeat(i % 80)}`));
  await c.call("SADD", "set:int", "1", "2", "3", "-100", "99999999999");
  await c.call("SADD", "set:str", "a", "b", BYTES);
  await c.call("SADD", "set:big", ...big(600, (i) => String(i)));
  await c.call("HSET", "h:small", "f1", "v1", "n", "10", BYTES, BYTES);
  await c.call("HSET", "h:big", ...big(600, (i) => (i % 2 ? `val${i}` : `field${i}`)));
  await c.call("HSET", "h:longval", "f", "y".repeat(100));
  await c.call("ZADD", "z:small", "1", "a", "2.5", "b", "-inf", "c", "1e20", BYTES);
  await c.call("ZADD", "z:big", ...big(300, (i) => (i % 2 ? `m${i}` : String(i * 1.5))));
  // A listpack sorted set stores its scores as text: infinities included.
  await c.call("ZADD", "z:inf", "-inf", "a", "1", "b", "inf", "c", "0.1", "d");
  await c.call("SELECT", "3");
  await c.call("SET", "db3key", "in db 3");
  await c.call("EXPIRE", "db3key", "3600");
  await c.call("SELECT", "0");
}

export const READS: [string, ...string[]][] = [
  ["GET", "s:small"],
  ["GET", "s:int"],
  ["GET", "s:neg"],
  ["GET", "s:bigint"],
  ["GET", "s:bin"],
  ["GET", "s:long"],
  ["GET", "s:ttl"],
  ["LRANGE", "l:small", "0", "-1"],
  ["LRANGE", "l:big", "0", "-1"],
  ["SMEMBERS", "set:int"],
  ["SMEMBERS", "set:str"],
  ["SMEMBERS", "set:big"],
  ["HGETALL", "h:small"],
  ["HGETALL", "h:big"],
  ["HGETALL", "h:longval"],
  ["ZRANGE", "z:small", "0", "-1", "WITHSCORES"],
  ["ZRANGE", "z:big", "0", "-1", "WITHSCORES"],
  ["ZRANGE", "z:inf", "0", "-1", "WITHSCORES"],
  ["DBSIZE"],
];

/** Reads the dataset back in a comparable form (set and hash orders are unspecified). */
async function snapshot(c: RawConn): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const [cmd, ...args] of READS) {
    let v: RespValue = await c.call(cmd, ...args);
    if (cmd === "SMEMBERS" && Array.isArray(v)) v = [...v].sort();
    if (cmd === "HGETALL" && Array.isArray(v)) {
      const pairs: string[] = [];
      for (let i = 0; i < v.length; i += 2) pairs.push(`${v[i]}=${v[i + 1]}`);
      v = pairs.sort();
    }
    out.push(v);
  }
  const ttl = await c.call("TTL", "s:ttl");
  out.push(typeof ttl === "number" && ttl > 3500 && ttl <= 3600);
  await c.call("SELECT", "3");
  out.push(await c.call("GET", "db3key"));
  await c.call("SELECT", "0");
  return out;
}

Deno.test({
  name: "a file our node saves loads in real redis-server with the same contents",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      let expected: unknown[];
      {
        await using ours = await startOurs(dir);
        using c = await RawConn.connect(ours.port);
        await populate(c);
        expected = await snapshot(c);
        equal(String(await c.call("SAVE")), "OK");
      }
      if (which("redis-check-rdb")) {
        const chk = await new Deno.Command("redis-check-rdb", {
          args: [`${dir}/dump.rdb`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        ok(chk.success, new TextDecoder().decode(chk.stdout));
      }
      await using redis = await startRedis(dir);
      using r = await RawConn.connect(redis.port);
      deepStrictEqual(await snapshot(r), expected);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a file real redis-server saves (every compact encoding) loads in our node",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      let expected: unknown[];
      {
        await using redis = await startRedis(dir);
        using r = await RawConn.connect(redis.port);
        await populate(r);
        // The encodings Redis chose, so the test knows it covered them.
        const encs = new Set<string>();
        for (
          const k of [
            "s:int",
            "s:small",
            "s:long",
            "l:small",
            "set:int",
            "set:big",
            "h:small",
            "h:big",
            "z:small",
            "z:big",
          ]
        ) {
          encs.add(String(await r.call("OBJECT", "ENCODING", k)));
        }
        deepStrictEqual([...encs].sort(), [
          "embstr",
          "hashtable",
          "int",
          "intset",
          "listpack",
          "quicklist",
          "raw",
          "skiplist",
        ]);
        expected = await snapshot(r);
        equal(String(await r.call("SAVE")), "OK");
      }
      await using ours = await startOurs(dir);
      using c = await RawConn.connect(ours.port);
      deepStrictEqual(await snapshot(c), expected);
      const info = String(await c.call("INFO", "persistence"));
      ok(/rdb_last_load_keys_loaded:19/.test(info), info);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "DUMP payloads restore across our node and real redis-server in both directions",
  ...opts,
  fn: async () => {
    const d1 = await Deno.makeTempDir(), d2 = await Deno.makeTempDir();
    try {
      await using ours = await startOurs(d1);
      await using redis = await startRedis(d2);
      using c = await RawConn.connect(ours.port);
      using r = await RawConn.connect(redis.port);
      await populate(c);
      await populate(r);
      for (
        const key of [
          "s:int",
          "s:bin",
          "s:long",
          "l:small",
          "l:big",
          "set:int",
          "set:big",
          "h:small",
          "h:big",
          "z:small",
          "z:big",
          "z:inf",
        ]
      ) {
        const fromOurs = await c.call("DUMP", key) as string;
        const fromRedis = await r.call("DUMP", key) as string;
        equal(
          String(await r.call("RESTORE", `copy:${key}`, "0", fromOurs)),
          "OK",
          `redis restores our ${key}`,
        );
        equal(
          String(await c.call("RESTORE", `copy:${key}`, "0", fromRedis)),
          "OK",
          `we restore redis's ${key}`,
        );
        const type = String(await c.call("TYPE", key));
        const read = type === "string"
          ? ["GET"]
          : type === "list"
          ? ["LRANGE"]
          : type === "set"
          ? ["SCARD"]
          : type === "hash"
          ? ["HLEN"]
          : ["ZRANGE"];
        const extra = type === "list"
          ? ["0", "-1"]
          : type === "zset"
          ? ["0", "-1", "WITHSCORES"]
          : [];
        deepStrictEqual(
          await c.call(read[0]!, `copy:${key}`, ...extra),
          await c.call(read[0]!, key, ...extra),
        );
        deepStrictEqual(
          await r.call(read[0]!, `copy:${key}`, ...extra),
          await r.call(read[0]!, key, ...extra),
        );
      }
      equal(
        String(await c.call("RESTORE", "x", "0", "garbage")),
        "ERR DUMP payload version or checksum are wrong",
      );
      equal(
        String(await c.call("RESTORE", "s:int", "0", await c.call("DUMP", "s:int") as string)),
        "BUSYKEY Target key name already exists.",
      );
    } finally {
      await Deno.remove(d1, { recursive: true });
      await Deno.remove(d2, { recursive: true });
    }
  },
});

/** A command that may take long (a large SAVE): waits up to a minute for the reply. */
async function slowCall(c: RawConn, ...args: string[]): Promise<RespValue> {
  await c.write(encodeCommand(args));
  return await c.read(60_000);
}

Deno.test({
  name: "a million-key dump redis-server wrote (DEBUG POPULATE) loads at startup",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const keys = 1_000_000;
    try {
      {
        await using redis = await startRedis(dir, ["--enable-debug-command", "yes"]);
        using r = await RawConn.connect(redis.port);
        equal(String(await slowCall(r, "DEBUG", "POPULATE", String(keys))), "OK");
        equal(String(await slowCall(r, "SAVE")), "OK");
      }
      // Hundreds of the reader's 64 KiB chunks.
      const size = (await Deno.stat(`${dir}/dump.rdb`)).size;
      ok(size > 20 * 1024 * 1024, `dump.rdb is ${size} bytes`);
      await using ours = await startDataNode([], { dir, readyTimeoutMs: 300_000 });
      using c = await RawConn.connect(ours.port);
      // The node listens while it loads, answering -LOADING until the file is in.
      await eventually(
        async () => String(await c.call("INFO", "persistence")).includes("\r\nloading:0\r\n"),
        "the load to finish",
        300_000,
      );
      equal(await c.call("DBSIZE"), keys);
      for (const i of [0, 1, 65_536, 500_000, keys - 1]) {
        equal(await c.call("GET", `key:${i}`), `value:${i}`);
      }
      const info = String(await c.call("INFO", "persistence"));
      ok(info.includes(`rdb_last_load_keys_loaded:${keys}\r\n`), info);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a corrupt or truncated dump stops startup and is left untouched",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      {
        await using ours = await startOurs(dir);
        using c = await RawConn.connect(ours.port);
        await populate(c);
        await c.call("SAVE");
      }
      const good = await Deno.readFile(`${dir}/dump.rdb`);
      for (
        const bad of [
          good.slice(0, good.length - 20),
          (() => {
            const b = good.slice();
            b[Math.floor(b.length / 2)]! ^= 0xff;
            return b;
          })(),
        ]
      ) {
        await Deno.writeFile(`${dir}/dump.rdb`, bad);
        const out = await runDataNode(["--dir", dir]);
        equal(out.success, false);
        ok(/Fatal error loading the DB/.test(out.stderr));
        deepStrictEqual(await Deno.readFile(`${dir}/dump.rdb`), bad, "file untouched");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "BGSAVE keeps serving and saves the dataset as of its start; SHUTDOWN saves",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      {
        await using ours = await startOurs(dir, ["--save", "3600 1"]);
        using c = await RawConn.connect(ours.port);
        for (let i = 0; i < 50; i++) {
          await c.call(
            "HSET",
            `h${i}`,
            ...Array.from({ length: 200 }, (_, j) => [`f${j}`, `v${j}`]).flat(),
          );
        }
        await c.call("RPUSH", "list", "a", "b");
        equal(String(await c.call("BGSAVE")), "Background saving started");
        // Changes made during the save must not leak into it.
        await c.call("RPUSH", "list", "c");
        await c.call("DEL", "h0");
        for (let i = 0; i < 100; i++) {
          const info = String(await c.call("INFO", "persistence"));
          if (info.includes("rdb_bgsave_in_progress:0")) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await using redis = await startRedis(dir);
        using r = await RawConn.connect(redis.port);
        deepStrictEqual(await r.call("LRANGE", "list", "0", "-1"), ["a", "b"]);
        equal(await r.call("HLEN", "h0"), 200);
        await c.call("SET", "last", "write");
        await c.write(new TextEncoder().encode("*1\r\n$8\r\nSHUTDOWN\r\n"));
        await ours.status;
      }
      await using again = await startOurs(dir);
      using c2 = await RawConn.connect(again.port);
      equal(await c2.call("GET", "last"), "write");
      deepStrictEqual(await c2.call("LRANGE", "list", "0", "-1"), ["a", "b", "c"]);
      equal(await c2.call("EXISTS", "h0"), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * A stream with several nodes (stream-node-max-entries 4), entries with the master entry's
 * fields and with others, deleted and trimmed entries, binary values, and two consumer groups
 * with pending entries, consumers (one without pending entries) and Redis 7.0's counters.
 */
async function populateStream(c: RawConn, key: string): Promise<void> {
  await c.call("CONFIG", "SET", "stream-node-max-entries", "4");
  for (let i = 1; i <= 20; i++) {
    const fields = i % 3 === 0
      ? ["other", String(i), "bin", BYTES]
      : ["a", String(i), "b", `v${i}`];
    await c.call("XADD", key, `${1000 + i}-${i % 2}`, ...fields);
  }
  await c.call("XDEL", key, "1003-1", "1010-0", "1011-1");
  await c.call("XTRIM", key, "MAXLEN", "16");
  await c.call("XGROUP", "CREATE", key, "g1", "0");
  await c.call("XGROUP", "CREATE", key, "g2", "$", "ENTRIESREAD", "3");
  await c.call("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "5", "STREAMS", key, ">");
  await c.call("XREADGROUP", "GROUP", "g1", "c2", "COUNT", "3", "STREAMS", key, ">");
  await c.call("XACK", key, "g1", "1006-0");
  await c.call("XGROUP", "CREATECONSUMER", key, "g1", "idle");
  await c.call("XCLAIM", key, "g1", "c2", "0", "1007-1", "RETRYCOUNT", "7", "TIME", "1234");
  await c.call("CONFIG", "SET", "stream-node-max-entries", "100");
}

/** What both servers must agree on for a stream: entries, metadata, groups, PELs. */
async function streamView(c: RawConn, key: string): Promise<unknown[]> {
  return [
    await c.call("XRANGE", key, "-", "+"),
    await c.call("XINFO", "STREAM", key, "FULL", "COUNT", "0"),
    await c.call("XINFO", "GROUPS", key),
    await c.call("TYPE", key),
  ];
}

Deno.test({
  name: "streams with groups and PELs cross RDB files both ways with real redis-server",
  ...opts,
  fn: async () => {
    for (const from of ["ours", "redis"] as const) {
      const dir = await Deno.makeTempDir();
      try {
        let expected: unknown[];
        {
          await using src = from === "ours" ? await startOurs(dir) : await startRedis(dir);
          using c = await RawConn.connect(src.port);
          await populateStream(c, "st");
          await c.call("XADD", "empty", "5-5", "f", "v");
          await c.call("XDEL", "empty", "5-5");
          expected = [await streamView(c, "st"), await streamView(c, "empty")];
          equal(String(await c.call("SAVE")), "OK");
        }
        if (from === "ours" && which("redis-check-rdb")) {
          const chk = await new Deno.Command("redis-check-rdb", {
            args: [`${dir}/dump.rdb`],
            stdout: "piped",
            stderr: "piped",
          }).output();
          ok(chk.success, new TextDecoder().decode(chk.stdout));
        }
        await using dst = from === "ours" ? await startRedis(dir) : await startOurs(dir);
        using d = await RawConn.connect(dst.port);
        deepStrictEqual([await streamView(d, "st"), await streamView(d, "empty")], expected);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test({
  name: "stream DUMP payloads (groups, PEL, consumers) restore across both servers",
  ...opts,
  fn: async () => {
    const d1 = await Deno.makeTempDir(), d2 = await Deno.makeTempDir();
    try {
      await using ours = await startOurs(d1);
      await using redis = await startRedis(d2);
      using c = await RawConn.connect(ours.port);
      using r = await RawConn.connect(redis.port);
      await populateStream(c, "st");
      await populateStream(r, "st");
      const fromOurs = await c.call("DUMP", "st") as string;
      const fromRedis = await r.call("DUMP", "st") as string;
      equal(String(await r.call("RESTORE", "copy", "0", fromOurs)), "OK");
      equal(String(await c.call("RESTORE", "copy", "0", fromRedis)), "OK");
      // Each copy holds exactly what the other server had (times included).
      deepStrictEqual(await streamView(r, "copy"), await streamView(c, "st"));
      deepStrictEqual(await streamView(c, "copy"), await streamView(r, "st"));
      // And ours round-trips through its own payload.
      equal(String(await c.call("RESTORE", "again", "0", fromOurs)), "OK");
      deepStrictEqual(await streamView(c, "again"), await streamView(c, "st"));
    } finally {
      await Deno.remove(d1, { recursive: true });
      await Deno.remove(d2, { recursive: true });
    }
  },
});
