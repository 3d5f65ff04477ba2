/**
 * AOF replay runs as the trusted loader client: a node with `requirepass` (or a maxmemory the
 * data exceeds) reloads its own writes after a kill -9, across a rewrite too; a replayed command
 * that fails stops the load with the file and offset; a transaction cut off before its EXEC is
 * dropped as Redis does.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { encodeCommand } from "../shared/resp/mod.ts";
import { runDataNode, startDataNode, withTempDir as withDir } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** An AOF node in `dir` that runs `cmds` and stops without saving: its AOF holds them. */
async function writeAof(dir: string, cmds: string[][]): Promise<void> {
  await using n = await startDataNode(["--appendonly", "yes"], { dir });
  using c = await RawConn.connect(n.port);
  for (const argv of cmds) await c.call(...argv);
  await c.call("SHUTDOWN", "NOSAVE").catch(() => {});
}

async function authed(port: number, password: string): Promise<RawConn> {
  const c = await RawConn.connect(port);
  equal(String(await c.call("AUTH", password)), "OK");
  return c;
}

/** The incr file the manifest names. */
function incrPath(dir: string): string {
  const manifest = Deno.readTextFileSync(`${dir}/appendonlydir/appendonly.aof.manifest`);
  const name = manifest.split("\n").map((l) => l.split(" ")).find((f) => f[5] === "i")![1]!;
  return `${dir}/appendonlydir/${name}`;
}

function appendCommands(path: string, cmds: string[][]): void {
  const f = Deno.openSync(path, { append: true });
  try {
    for (const argv of cmds) f.writeSync(encodeCommand(argv));
  } finally {
    f.close();
  }
}

Deno.test({
  name: "AOF with requirepass: kill -9, restart, every acknowledged write is back",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      const args = ["--appendonly", "yes", "--requirepass", "secret", "--appendfsync", "always"];
      {
        await using n = await startDataNode(args, { dir });
        using c = await authed(n.port, "secret");
        // Writes of several kinds, in two databases, with a transaction and TTLs.
        for (let i = 0; i < 2000; i++) await c.write(encodeCommand(["SET", `k${i}`, String(i)]));
        for (let i = 0; i < 2000; i++) await c.read();
        await c.call("SELECT", "3");
        await c.call("RPUSH", "list", "a", "b", "c");
        await c.call("MULTI");
        await c.call("HSET", "h", "f", "v");
        await c.call("INCRBY", "n", "7");
        await c.call("EXEC");
        await c.call("SET", "ttl", "v", "EX", "1000");
        await n.kill9();
      }
      await using n = await startDataNode(args, { dir });
      using c = await authed(n.port, "secret");
      equal(await c.call("DBSIZE"), 2000);
      equal(await c.call("GET", "k1999"), "1999");
      await c.call("SELECT", "3");
      deepStrictEqual(await c.call("LRANGE", "list", "0", "-1"), ["a", "b", "c"]);
      equal(await c.call("HGET", "h", "f"), "v");
      equal(await c.call("GET", "n"), "7");
      const ttl = Number(await c.call("TTL", "ttl"));
      ok(ttl > 990 && ttl <= 1000, `TTL after restart: ${ttl}`);
      // Unauthenticated clients are still refused after the load.
      using anon = await RawConn.connect(n.port);
      match(String(await anon.call("GET", "k1")), /NOAUTH/);
    }),
});

Deno.test({
  name: "AOF replay ignores maxmemory: a dataset over the limit loads whole",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      {
        await using n = await startDataNode(["--appendonly", "yes"], { dir });
        using c = await RawConn.connect(n.port);
        for (let i = 0; i < 500; i++) await c.call("SET", `k${i}`, "x".repeat(1000));
        await c.call("SHUTDOWN", "NOSAVE").catch(() => {});
      }
      await using n = await startDataNode(
        ["--appendonly", "yes", "--maxmemory", "100kb", "--maxmemory-policy", "noeviction"],
        { dir },
      );
      using c = await RawConn.connect(n.port);
      equal(await c.call("DBSIZE"), 500);
    }),
});

Deno.test({
  name: "AOF replay: a command that fails stops startup, naming the file and offset",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await writeAof(dir, [["RPUSH", "l", "a"]]);
      const incr = incrPath(dir);
      const before = Deno.statSync(incr).size;
      appendCommands(incr, [["INCR", "l"]]);
      const r = await runDataNode(["--appendonly", "yes", "--dir", dir]);
      ok(!r.success, "startup must fail");
      match(
        r.stderr,
        /Error replaying 'INCR' from the append only file appendonly\.aof\.\d+\.incr\.aof at offset \d+: WRONGTYPE/,
      );
      ok(r.stderr.includes(`at offset ${before}`), r.stderr);
      // The file is left as it was for inspection.
      equal(Deno.statSync(incr).size, before + encodeCommand(["INCR", "l"]).length);
    }),
});

Deno.test({
  name: "AOF replay: an unknown command stops startup with Redis's message",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await writeAof(dir, [["SET", "a", "1"]]);
      appendCommands(incrPath(dir), [["NOSUCHCMD", "x"]]);
      const r = await runDataNode(["--appendonly", "yes", "--dir", dir]);
      ok(!r.success, "startup must fail");
      match(r.stderr, /Unknown command 'NOSUCHCMD' reading the append only file/);
    }),
});

Deno.test({
  name: "AOF replay: a MULTI without its EXEC at the end is dropped (aof-load-truncated)",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await writeAof(dir, [["SET", "a", "1"]]);
      const incr = incrPath(dir);
      const before = Deno.statSync(incr).size;
      appendCommands(incr, [["MULTI"], ["SET", "a", "2"], ["SET", "b", "2"]]);
      {
        await using n = await startDataNode(["--appendonly", "yes"], { dir });
        using c = await RawConn.connect(n.port);
        equal(await c.call("GET", "a"), "1");
        equal(await c.call("EXISTS", "b"), 0);
      }
      // The incomplete transaction was cut off the file.
      equal(Deno.statSync(incr).size, before);
    }),
});

Deno.test({
  name: "AOF with requirepass and a rewrite in between: compact and large values survive kill -9",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      const args = ["--appendonly", "yes", "--requirepass", "secret", "--appendfsync", "always"];
      const big = Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`]).flat();
      {
        await using n = await startDataNode(args, { dir });
        using c = await authed(n.port, "secret");
        await c.call("HSET", "small-hash", "a", "1", "b", "2");
        await c.call("ZADD", "zset", "1", "one", "2", "two");
        await c.call("RPUSH", "list", "x", "y");
        await c.call("SADD", "ints", "1", "2", "3");
        await c.call("SADD", "words", "p", "q");
        await c.call("HSET", "big-hash", ...big);
        // The base written now holds the values in their compact and hash-table forms.
        equal(
          String(await c.call("BGREWRITEAOF")),
          "Background append only file rewriting started",
        );
        for (let i = 0; i < 200; i++) {
          const info = String(await c.call("INFO", "persistence"));
          if (info.includes("aof_rewrite_in_progress:0")) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        // And changes after the rewrite go to the new incr file.
        await c.call("HSET", "small-hash", "c", "3");
        await c.call("ZINCRBY", "zset", "5", "one");
        await c.call("LPUSH", "list", "w");
        await c.call("SREM", "ints", "2");
        await c.call("HDEL", "big-hash", "f0");
        await n.kill9();
      }
      await using n = await startDataNode(args, { dir });
      using c = await authed(n.port, "secret");
      equal(await c.call("HGET", "small-hash", "c"), "3");
      equal(String(await c.call("OBJECT", "ENCODING", "small-hash")), "listpack");
      deepStrictEqual(await c.call("ZRANGE", "zset", "0", "-1", "WITHSCORES"), [
        "two",
        "2",
        "one",
        "6",
      ]);
      deepStrictEqual(await c.call("LRANGE", "list", "0", "-1"), ["w", "x", "y"]);
      deepStrictEqual((await c.call("SMEMBERS", "ints") as string[]).sort(), ["1", "3"]);
      equal(String(await c.call("OBJECT", "ENCODING", "ints")), "intset");
      deepStrictEqual((await c.call("SMEMBERS", "words") as string[]).sort(), ["p", "q"]);
      equal(await c.call("HLEN", "big-hash"), 599);
      equal(String(await c.call("OBJECT", "ENCODING", "big-hash")), "hashtable");
    }),
});

Deno.test({
  name: "AOF manifest: the lines Redis refuses stop startup with Redis's reasons",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await writeAof(dir, [["SET", "a", "1"]]);
      const path = `${dir}/appendonlydir/appendonly.aof.manifest`;
      const good = await Deno.readTextFile(path);
      const base = "file appendonly.aof.1.base.rdb seq 1 type b\n";
      const incr = (seq: number) => `file appendonly.aof.1.incr.aof seq ${seq} type i\n`;
      const cases: [string, RegExp][] = [
        ["", /Found an empty AOF manifest/],
        [base + "\n" + incr(1), /Invalid AOF manifest file format/],
        [base + base + incr(1), /Found duplicate base file information/],
        [base + incr(2) + incr(1), /Found a non-monotonic sequence number/],
        [base + "file appendonly.aof.1.incr.aof seq 1 type x\n", /Unknown AOF file type/],
        [base + "file appendonly.aof.1.incr.aof seq 1\n", /Invalid AOF manifest file format/],
        [base + "file appendonly.aof.1.incr.aof seq 1 type i x\n", /Invalid AOF manifest/],
        [base + "file a seq 1 type i " + "x ".repeat(600) + "\n", /too long line/],
        [base + incr(1).trimEnd(), /too long line/],
        [base + "file ../x seq 1 type i\n", /File can't be a path, just a filename/],
        [
          base + "file appendonly.aof.9.incr.aof seq 9 type i\n",
          /appendonly\.aof\.9\.incr\.aof doesn't exist: No such file or directory/,
        ],
      ];
      for (const [text, why] of cases) {
        await Deno.writeTextFile(path, text);
        const r = await runDataNode(["--appendonly", "yes", "--dir", dir]);
        ok(!r.success, `startup must fail for ${JSON.stringify(text.slice(0, 80))}`);
        match(r.stderr, why);
      }
      // Comments and unknown keys (of later versions) are fine.
      await Deno.writeTextFile(path, "# note\n" + good.replace(/\n/, " newkey newvalue\n"));
      await using n = await startDataNode(["--appendonly", "yes"], { dir });
      using c = await RawConn.connect(n.port);
      equal(String(await c.call("GET", "a")), "1");
    }),
});

Deno.test({
  name: "AOF replay: an expiry time already past is kept as a TTL, not a delete, while loading",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      await writeAof(dir, [["RPUSH", "list", "foo"]]);
      // Replayed, PEXPIREAT in the past must not delete the list (the next RPUSH would then make
      // a new list without a TTL): the list keeps both elements and expires once loaded.
      appendCommands(incrPath(dir), [["PEXPIREAT", "list", "1000"], ["RPUSH", "list", "bar"]]);
      await using n = await startDataNode(["--appendonly", "yes"], { dir });
      using c = await RawConn.connect(n.port);
      equal(Number(await c.call("LLEN", "list")), 0);
      equal(Number(await c.call("EXISTS", "list")), 0);
    }),
});

Deno.test({
  name: "AOF: aof-timestamp-enabled writes #TS lines, replay skips them, other stray bytes stop it",
  ...opts,
  fn: () =>
    withDir(async (dir) => {
      {
        await using n = await startDataNode(["--appendonly", "yes"], { dir });
        using c = await RawConn.connect(n.port);
        await c.call("CONFIG", "SET", "aof-timestamp-enabled", "yes");
        await c.call("SET", "a", "1");
        await c.call("SET", "b", "2");
        await c.call("SHUTDOWN", "NOSAVE").catch(() => {});
      }
      const text = await Deno.readTextFile(incrPath(dir));
      match(text, /^#TS:\d+\r\n\*2\r\n\$6\r\nSELECT/);
      // Annotations anywhere between commands are skipped on load.
      const f = Deno.openSync(incrPath(dir), { append: true });
      f.writeSync(new TextEncoder().encode("#TS:1628217470\r\n"));
      f.close();
      appendCommands(incrPath(dir), [["SET", "c", "3"]]);
      {
        await using n = await startDataNode(["--appendonly", "yes"], { dir });
        using c = await RawConn.connect(n.port);
        deepStrictEqual(await c.call("MGET", "a", "b", "c"), ["1", "2", "3"]);
        await c.call("SHUTDOWN", "NOSAVE").catch(() => {});
      }
      const g = Deno.openSync(incrPath(dir), { append: true });
      g.writeSync(new TextEncoder().encode("!!!\r\n"));
      g.close();
      appendCommands(incrPath(dir), [["SET", "d", "4"]]);
      const r = await runDataNode([
        "--appendonly",
        "yes",
        "--dir",
        dir,
        "--aof-load-truncated",
        "yes",
      ]);
      ok(!r.success, "startup must fail");
      match(r.stderr, /Bad file format reading the append only file/);
    }),
});
