/**
 * The append-only file: Redis 7's multi-part layout, restarts, BGREWRITEAOF, kill -9 durability
 * under appendfsync always and everysec, truncated tails, and a real redis-server loading ours.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  hasRedis,
  requireBinary,
  runDataNode,
  startDataNode,
  startRedisServer,
  withTempDir as withDir,
} from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { incrCommands, listAof } from "./helpers/aof.ts";
import { RequestParser, RespError } from "../shared/resp/mod.ts";

if (!hasRedis) {
  console.log("SKIP: redis-server not installed: the redis-server variants of this file");
}

const opts = { sanitizeOps: false, sanitizeResources: false };

const startOurs = (dir: string, extra: string[] = []) =>
  startDataNode(["--appendonly", "yes", ...extra], { dir });

async function waitRewrite(c: RawConn): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (String(await c.call("INFO", "persistence")).includes("aof_rewrite_in_progress:0")) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("rewrite did not finish");
}

Deno.test({
  name: "AOF: multi-part layout, restart, BGREWRITEAOF replaces the base and keeps the data",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      {
        await using n = await startOurs(dir);
        using c = await RawConn.connect(n.port);
        await waitRewrite(c);
        deepStrictEqual(listAof(dir), [
          "appendonly.aof.1.base.rdb",
          "appendonly.aof.1.incr.aof",
          "appendonly.aof.manifest",
        ]);
        await c.call("SET", "a", "1");
        await c.call("INCR", "a");
        await c.call("RPUSH", "l", "x", "y");
        await c.call("SELECT", "2");
        await c.call("SET", "b", "in db2", "EX", "1000");
        await c.call("MULTI");
        await c.call("INCR", "n");
        await c.call("INCR", "n");
        await c.call("EXEC");
      }
      {
        await using n = await startOurs(dir);
        using c = await RawConn.connect(n.port);
        equal(await c.call("GET", "a"), "2");
        deepStrictEqual(await c.call("LRANGE", "l", "0", "-1"), ["x", "y"]);
        await c.call("SELECT", "2");
        equal(await c.call("GET", "n"), "2");
        ok((await c.call("TTL", "b") as number) > 990);
        equal(
          String(await c.call("BGREWRITEAOF")),
          "Background append only file rewriting started",
        );
        await waitRewrite(c);
        deepStrictEqual(listAof(dir), [
          "appendonly.aof.2.base.rdb",
          "appendonly.aof.2.incr.aof",
          "appendonly.aof.manifest",
        ]);
        await c.call("SET", "after", "rewrite");
      }
      await using n = await startOurs(dir);
      using c = await RawConn.connect(n.port);
      equal(await c.call("GET", "a"), "2");
      await c.call("SELECT", "2");
      equal(await c.call("GET", "after"), "rewrite");
      equal(await c.call("GET", "n"), "2");
    }),
});

for (const fsync of ["always", "everysec"]) {
  Deno.test({
    name: `AOF: kill -9 loses no acknowledged write under appendfsync ${fsync}`,
    ...opts,
    fn: () =>
      withDir(async (dir) => {
        {
          const n = await startOurs(dir, ["--appendfsync", fsync]);
          using c = await RawConn.connect(n.port);
          await waitRewrite(c);
          for (let i = 0; i < 300; i++) await c.call("SET", `k${i}`, String(i));
          await c.call("INCRBY", "counter", "300");
          await n.kill9();
          await n.stop();
        }
        await using n = await startOurs(dir);
        using c = await RawConn.connect(n.port);
        equal(await c.call("DBSIZE"), 301);
        equal(await c.call("GET", "k299"), "299");
        equal(await c.call("GET", "counter"), "300");
      }),
  });
}

Deno.test({
  name: "AOF: a truncated tail loads per aof-load-truncated",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      {
        await using n = await startOurs(dir);
        using c = await RawConn.connect(n.port);
        await waitRewrite(c);
        await c.call("SET", "whole", "1");
      }
      const incr = `${dir}/appendonlydir/appendonly.aof.1.incr.aof`;
      const f = await Deno.open(incr, { append: true });
      await f.write(new TextEncoder().encode("*3\r\n$3\r\nSET\r\n$4\r\nhalf"));
      f.close();
      const refused = await runDataNode([
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--aof-load-truncated",
        "no",
      ]);
      equal(refused.success, false);
      await using n = await startOurs(dir);
      using c = await RawConn.connect(n.port);
      equal(await c.call("GET", "whole"), "1");
      equal(await c.call("EXISTS", "half"), 0);
    }),
});

Deno.test({
  name: "AOF: real redis-server 7.0 loads the AOF our node wrote",
  ...opts,
  ignore: !hasRedis,
  fn: () =>
    withDir(async (dir) => {
      {
        await using n = await startOurs(dir);
        using c = await RawConn.connect(n.port);
        await waitRewrite(c);
        await c.call("SET", "before", "base");
        await c.call("BGREWRITEAOF");
        await waitRewrite(c);
        await c.call("HSET", "h", "f", "v");
        await c.call("ZADD", "z", "1.5", "m");
      }
      await using redis = await startRedisServer(["--appendonly", "yes"], { dir });
      const port = redis.port;
      using c = await RawConn.connect(port);
      for (let i = 0; i < 100 && String(await c.call("PING")) !== "PONG"; i++) {
        await new Promise((res) => setTimeout(res, 20));
      }
      equal(await c.call("GET", "before"), "base");
      equal(await c.call("HGET", "h", "f"), "v");
      equal(await c.call("ZSCORE", "z", "m"), "1.5");
    }),
});

Deno.test({
  name: "AOF: CONFIG SET appendonly yes at runtime writes a base of the current data",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      {
        await using n = await startDataNode([], { dir });
        using c = await RawConn.connect(n.port);
        await c.call("SET", "before", "switch");
        equal(String(await c.call("CONFIG", "SET", "appendonly", "yes")), "OK");
        await waitRewrite(c);
        await c.call("SET", "after", "switch");
        equal(await c.call("CONFIG", "GET", "appendonly").then((v) => (v as string[])[1]), "yes");
      }
      await using n = await startOurs(dir);
      using c = await RawConn.connect(n.port);
      equal(await c.call("GET", "before"), "switch");
      equal(await c.call("GET", "after"), "switch");
    }),
});

Deno.test({
  name: "AOF: BGREWRITEAOF with appendonly off, DEBUG LOADAOF, and turning the AOF on again",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await using n = await startDataNode(["--enable-debug-command", "yes"], { dir });
      using c = await RawConn.connect(n.port);
      // No AOF on disk yet: nothing to load, and the dataset is left alone.
      await c.call("SET", "kept", "1");
      ok(String(await c.call("DEBUG", "LOADAOF")).startsWith("ERR "));
      equal(await c.call("GET", "kept"), "1");
      // A rewrite with the AOF off creates the directory and writes a base alone.
      await c.call("SET", "a", "1");
      await c.call("SET", "t", "x", "EX", "1000");
      equal(String(await c.call("BGREWRITEAOF")), "Background append only file rewriting started");
      await waitRewrite(c);
      deepStrictEqual(listAof(dir), ["appendonly.aof.1.base.rdb", "appendonly.aof.manifest"]);
      // Writes since are in no file: LOADAOF brings back what the files hold.
      await c.call("SET", "later", "1");
      equal(String(await c.call("DEBUG", "LOADAOF")), "OK");
      deepStrictEqual(((await c.call("KEYS", "*")) as string[]).sort(), ["a", "kept", "t"]);
      ok((await c.call("TTL", "t") as number) > 990);
      // Turned on, the AOF starts from a new base (a write made while it was off is in it).
      await c.call("SET", "off", "1");
      equal(String(await c.call("CONFIG", "SET", "appendonly", "yes")), "OK");
      await waitRewrite(c);
      await c.call("SET", "on", "1");
      await c.call(
        "FUNCTION",
        "LOAD",
        "#!lua name=l\nredis.register_function('f', function() return 7 end)",
      );
      equal(String(await c.call("DEBUG", "LOADAOF")), "OK");
      deepStrictEqual(((await c.call("KEYS", "*")) as string[]).sort(), [
        "a",
        "kept",
        "off",
        "on",
        "t",
      ]);
      equal(await c.call("FCALL", "f", "0"), 7);
    }),
});

/** The commands of the incr file, SELECTs left out, each as its words joined by spaces. */

/** Bit writes that leave every bit as it was are no change: they are not written. */
const NO_CHANGE_SCRIPT = [
  ["SET", "k", "a"],
  ["SETBIT", "k", "1", "1"],
  ["SETBIT", "k", "0", "0"],
  ["BITFIELD", "k", "SET", "u8", "0", "97"],
  ["BITFIELD", "k", "INCRBY", "u8", "0", "0"],
  ["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "200"],
  ["SETBIT", "k", "0", "1"],
  ["BITFIELD", "k", "SET", "u8", "0", "98"],
  ["SADD", "src", "m"],
  ["SADD", "dst", "m"],
  ["SMOVE", "src", "dst", "m"],
];
const NO_CHANGE_WRITTEN = [
  "SET k a",
  "SETBIT k 0 1",
  "BITFIELD k SET u8 0 98",
  "SADD src m",
  "SADD dst m",
  "SMOVE src dst m",
];

for (const server of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `AOF: commands that change nothing are not written (${server})`,
    ...opts,
    ignore: server === "redis-server" && !requireBinary("redis-server", "AOF of no-op writes"),
    fn: () =>
      withDir(async (dir) => {
        const args = ["--appendonly", "yes", "--appendfsync", "always"];
        await using n = server === "data-node"
          ? await startDataNode(args, { dir })
          : await startRedisServer(args, { dir });
        using c = await RawConn.connect(n.port);
        await waitRewrite(c);
        for (const cmd of NO_CHANGE_SCRIPT) await c.call(...cmd);
        deepStrictEqual(incrCommands(dir), NO_CHANGE_WRITTEN);
      }),
  });
}

Deno.test({
  name: "DEBUG AOF-FLUSH-SLEEP holds each AOF write (and so the reply) for that many microseconds",
  ...opts,
  fn: async () => {
    await using p = await startDataNode(["--appendonly", "yes", "--enable-debug-command", "yes"]);
    using c = await RawConn.connect(p.port);
    const timed = async () => {
      const t0 = performance.now();
      equal(String(await c.call("SET", "k", "v")), "OK");
      return performance.now() - t0;
    };
    equal(String(await c.call("DEBUG", "AOF-FLUSH-SLEEP", "300000")), "OK");
    ok(await timed() >= 290, "the write waited");
    equal(String(await c.call("DEBUG", "AOF-FLUSH-SLEEP", "0")), "OK");
    ok(await timed() < 250, "no wait once reset");
  },
});

Deno.test({
  name: "FLUSHDB and FLUSHALL reach the AOF every time, on empty databases and with save points",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await using n = await startDataNode(["--appendonly", "yes", "--save", "3600 1"], { dir });
      using c = await RawConn.connect(n.port);
      for (const cmd of ["FLUSHDB", "FLUSHDB", "FLUSHALL", "FLUSHALL", "FLUSHALL"]) {
        equal(String(await c.call(cmd)), "OK");
      }
      const name = listAof(dir).find((f) => f.endsWith(".incr.aof"))!;
      const parser = new RequestParser({ maxBulkLen: 1 << 20 });
      parser.feed(Deno.readFileSync(`${dir}/appendonlydir/${name}`));
      const names: string[] = [];
      for (let argv = parser.next(); argv !== null; argv = parser.next()) {
        names.push(argv[0]!.toUpperCase());
      }
      deepStrictEqual(names.filter((x) => x !== "SELECT"), [
        "FLUSHDB",
        "FLUSHDB",
        "FLUSHALL",
        "FLUSHALL",
        "FLUSHALL",
      ]);
    }),
});

Deno.test({
  name:
    "a single-file appendonly.aof of Redis before 7.0 is moved into the AOF directory and loaded",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      const cmds = [["SET", "k1", "v1"], ["SET", "k2", "v2"]];
      const enc = new TextEncoder();
      await Deno.writeFile(
        `${dir}/appendonly.aof`,
        enc.encode(
          cmds.map((a) => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join("")}`)
            .join(""),
        ),
      );
      await using n = await startDataNode(["--appendonly", "yes"], { dir });
      using c = await RawConn.connect(n.port);
      deepStrictEqual(await c.call("MGET", "k1", "k2"), ["v1", "v2"]);
      const manifest = () => Deno.readTextFileSync(`${dir}/appendonlydir/appendonly.aof.manifest`);
      equal(
        manifest(),
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
      );
      ok(![...Deno.readDirSync(dir)].some((e) => e.name === "appendonly.aof"), "the file moved");
      equal(String(await c.call("SET", "k3", "v3")), "OK");
      await c.call("BGREWRITEAOF");
      await waitRewrite(c);
      equal(
        manifest(),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
      );
    }),
});

Deno.test({
  name: "an old single-file AOF with an RDB preamble followed by commands loads both parts",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      // An RDB (SAVE of one key), then commands appended after it, as Redis 4-6 wrote AOFs.
      {
        await using n = await startDataNode([], { dir });
        using c = await RawConn.connect(n.port);
        await c.call("SET", "k1", "v1");
        equal(String(await c.call("SAVE")), "OK");
      }
      const rdb = await Deno.readFile(`${dir}/dump.rdb`);
      await Deno.remove(`${dir}/dump.rdb`);
      const tail = new TextEncoder().encode("*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$2\r\nv2\r\n");
      const file = new Uint8Array(rdb.length + tail.length);
      file.set(rdb);
      file.set(tail, rdb.length);
      await Deno.writeFile(`${dir}/appendonly.aof`, file);
      await using n = await startDataNode(["--appendonly", "yes"], { dir });
      using c = await RawConn.connect(n.port);
      deepStrictEqual(await c.call("MGET", "k1", "k2"), ["v1", "v2"]);
    }),
});

Deno.test({
  name: "an AOF upgrade stopped before the move is finished; a base missing everywhere is named",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await Deno.mkdir(`${dir}/appendonlydir`);
      const manifest = `${dir}/appendonlydir/appendonly.aof.manifest`;
      await Deno.writeTextFile(manifest, "file appendonly.aof seq 1 type b\n");
      const miss = await runDataNode(["--appendonly", "yes", "--dir", dir]);
      ok(!miss.success, "startup must fail");
      ok(/appendonly\.aof doesn't exist: No such file or directory/.test(miss.stderr), miss.stderr);
      await Deno.writeTextFile(
        `${dir}/appendonly.aof`,
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
      );
      await using n = await startDataNode(["--appendonly", "yes"], { dir });
      using c = await RawConn.connect(n.port);
      equal(String(await c.call("GET", "k")), "v");
      ok(listAof(dir).includes("appendonly.aof"), "the file moved into the AOF directory");
      equal(
        await Deno.readTextFile(manifest),
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
      );
    }),
});

Deno.test({
  name: "an appendfilename with spaces is written quoted in the manifest and read back",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      const args = ["--appendonly", "yes", "--appendfilename", "my aof"];
      {
        await using n = await startDataNode(args, { dir });
        using c = await RawConn.connect(n.port);
        await c.call("SET", "k", "v");
      }
      const manifest = await Deno.readTextFile(`${dir}/appendonlydir/my aof.manifest`);
      ok(manifest.includes('file "my aof.1.incr.aof" seq 1 type i\n'), manifest);
      await using n = await startDataNode(args, { dir });
      using c = await RawConn.connect(n.port);
      equal(String(await c.call("GET", "k")), "v");
    }),
});

for (const impl of ["ours", "redis"] as const) {
  Deno.test({
    name: `${impl}: a slow script replayed by DEBUG LOADAOF lets clients in, who are told -LOADING`,
    ignore: impl === "redis" && !requireBinary("redis-server", "DEBUG LOADAOF of a slow script"),
    ...opts,
    fn: () =>
      withDir(async (dir) => {
        const args = [
          "--appendonly",
          "yes",
          "--aof-use-rdb-preamble",
          "no",
          "--lua-time-limit",
          "1",
          "--enable-debug-command",
          "yes",
        ];
        await using n = impl === "ours"
          ? await startDataNode(args, { dir })
          : await startRedisServer(args, { dir });
        using c = await RawConn.connect(n.port);
        await waitRewrite(c);
        // The file: a script that writes, then keeps the server busy well past the 1 ms limit.
        const manifest = Deno.readTextFileSync(`${dir}/appendonlydir/appendonly.aof.manifest`);
        const incr = /file (\S+) seq \d+ type i/.exec(manifest)![1]!;
        const script = "redis.call('set',KEYS[1],'y') for i=1,300000 do redis.call('ping') end " +
          "return 'ok'";
        const resp = (...a: string[]) =>
          `*${a.length}\r\n` + a.map((x) => `$${new TextEncoder().encode(x).length}\r\n${x}\r\n`)
            .join("");
        Deno.writeTextFileSync(
          `${dir}/appendonlydir/${incr}`,
          resp("SELECT", "9") + resp("EVAL", script, "1", "x"),
        );
        using loader = await RawConn.connect(n.port);
        await loader.write(new TextEncoder().encode(resp("DEBUG", "LOADAOF")));
        let seen = "";
        for (let i = 0; i < 200 && !seen.startsWith("LOADING"); i++) {
          const r = await c.call("PING");
          seen = r instanceof RespError ? r.message : String(r);
          if (seen === "PONG") await new Promise((r) => setTimeout(r, 5));
        }
        equal(seen, "LOADING Redis is loading the dataset in memory");
        equal(String(await loader.read(30_000)), "OK");
        equal(String(await c.call("PING")), "PONG");
        await c.call("SELECT", "9");
        equal(await c.call("GET", "x"), "y");
      }),
  });
}

for (const server of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `AOF: with aof-timestamp-enabled a rewritten command base starts with #TS (${server})`,
    ...opts,
    ignore: server === "redis-server" && !requireBinary("redis-server", "AOF #TS annotations"),
    fn: () =>
      withDir(async (dir) => {
        const args = ["--appendonly", "yes", "--aof-use-rdb-preamble", "no"];
        await using n = server === "data-node"
          ? await startDataNode(args, { dir })
          : await startRedisServer(args, { dir });
        using c = await RawConn.connect(n.port);
        await waitRewrite(c);
        equal(String(await c.call("CONFIG", "SET", "aof-timestamp-enabled", "yes")), "OK");
        equal(String(await c.call("SET", "foo", "bar")), "OK");
        await c.call("BGREWRITEAOF");
        await new Promise((r) => setTimeout(r, 100));
        await waitRewrite(c);
        const base = listAof(dir).find((f) => f.endsWith(".base.aof"))!;
        const first = Deno.readTextFileSync(`${dir}/appendonlydir/${base}`).split("\r\n")[0]!;
        ok(/^#TS:\d{10}$/.test(first), first);
      }),
  });
}

for (const impl of ["ours", "redis"] as const) {
  Deno.test({
    name: `AOF (${impl}): appendonly no stops a rewrite under way, as Redis kills its child`,
    ignore: impl === "redis" && !requireBinary("redis-server", "appendonly no during a rewrite"),
    ...opts,
    fn: () =>
      withDir(async (dir) => {
        const args = ["--appendonly", "yes"];
        await using n = impl === "ours"
          ? await startDataNode(args, { dir })
          : await startRedisServer(args, { dir });
        using c = await RawConn.connect(n.port);
        await waitRewrite(c);
        await c.call("SET", "k", "v");
        // Ten seconds a key: the rewrite would outlast the test.
        await c.call("CONFIG", "SET", "rdb-key-save-delay", "10000000");
        ok(String(await c.call("BGREWRITEAOF")).startsWith("Background append only file"));
        equal(String(await c.call("CONFIG", "SET", "appendonly", "no")), "OK");
        await waitRewrite(c);
        ok(/Killing running AOF rewrite child/.test(n.output()), n.output());
        const info = String(await c.call("INFO", "persistence"));
        ok(info.includes("aof_enabled:0"), info);
        ok(info.includes("aof_last_bgrewrite_status:ok"), info);
        await c.call("CONFIG", "SET", "rdb-key-save-delay", "0");
        equal(await c.call("GET", "k"), "v");
      }),
  });
}
