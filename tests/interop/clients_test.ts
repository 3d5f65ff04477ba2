/**
 * Real clients against our data node: ioredis (RESP2: ioredis 5 does not speak RESP3),
 * node-redis in RESP2 and RESP3, redis-cli and redis-benchmark. Every process is stopped by
 * `await using`, even when a step fails; every client is closed in `finally`.
 */
import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import { createClient, RESP_TYPES, WatchError } from "redis";
import { requireBinary, startDataNode } from "../helpers/process.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function waitFor<T>(p: Promise<T>, ms = 5000, what = "event"): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)),
  ]).finally(() => clearTimeout(t));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "ioredis (RESP2): strings, errors, pipelines, transactions with WATCH",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const r = new Redis({ port: node.port, host: "127.0.0.1", lazyConnect: true });
    const other = new Redis({ port: node.port, host: "127.0.0.1", lazyConnect: true });
    try {
      await r.connect();
      await other.connect();
      equal(await r.set("k", "v"), "OK");
      equal(await r.get("k"), "v");
      equal(await r.set("k", "w", "EX", 100, "GET"), "v");
      ok((await r.ttl("k")) > 90);
      equal(await r.set("k", "x", "NX"), null);
      deepStrictEqual(await r.mget("k", "none"), ["w", null]);
      equal(await r.append("k", "yz"), 3);
      equal(await r.getrange("k", 1, -1), "yz");
      equal(await r.incrby("n", 5), 5);
      equal(await r.incrbyfloat("f", "0.1"), "0.1");
      equal(await r.incrbyfloat("f", "0.2"), "0.3");
      equal(await r.strlen("k"), 3);
      await rejects(r.lpush("k", "x"), /^ReplyError: WRONGTYPE Operation against a key/);
      await rejects(r.incr("k"), /ERR value is not an integer or out of range/);
      await r.rpush("l", "a", "b");
      deepStrictEqual(await r.lrange("l", 0, -1), ["a", "b"]);
      await r.hset("h", { f1: "1", f2: "2" });
      deepStrictEqual(await r.hgetall("h"), { f1: "1", f2: "2" });
      await r.zadd("z", 1, "one", 2, "two");
      deepStrictEqual(await r.zrange("z", 0, -1, "WITHSCORES"), ["one", "1", "two", "2"]);

      // A pipeline with an error in the middle: each command gets its own result.
      const pipe = await r.pipeline().set("p1", "1").incr("p1").lpush("p1", "x").get("p1").exec();
      equal(pipe?.length, 4);
      deepStrictEqual(pipe?.[0], [null, "OK"]);
      deepStrictEqual(pipe?.[1], [null, 2]);
      ok(String(pipe?.[2]?.[0]).includes("WRONGTYPE"));
      deepStrictEqual(pipe?.[3], [null, "2"]);
      // A long pipeline arrives complete and in order.
      const long = r.pipeline();
      for (let i = 0; i < 1000; i++) long.incr("counter");
      const counts = (await long.exec())!.map(([, v]) => v);
      deepStrictEqual(counts, Array.from({ length: 1000 }, (_, i) => i + 1));

      const tx = await r.multi().set("t", "1").incr("t").get("t").exec();
      deepStrictEqual(tx, [[null, "OK"], [null, 2], [null, "2"]]);

      // WATCH: untouched, the transaction runs; touched by another client, EXEC is null.
      await r.watch("w");
      deepStrictEqual(await r.multi().set("w", "1").exec(), [[null, "OK"]]);
      await r.watch("w");
      await other.set("w", "from-other");
      equal(await r.multi().set("w", "mine").exec(), null);
      equal(await r.get("w"), "from-other");

      // A queueing error aborts the whole transaction.
      await rejects(
        r.multi().set("a", "1").call("NOSUCHCOMMAND").exec(),
        /EXECABORT Transaction discarded because of previous errors/,
      );
      equal(await r.exists("a"), 0);
    } finally {
      r.disconnect();
      other.disconnect();
    }
  },
});

Deno.test({
  name: "ioredis (RESP2): pub/sub, blocking pops and binary-safe values",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const r = new Redis({ port: node.port, host: "127.0.0.1", lazyConnect: true });
    const sub = new Redis({ port: node.port, host: "127.0.0.1", lazyConnect: true });
    try {
      await r.connect();
      await sub.connect();
      await r.set(ALL_BYTES, ALL_BYTES);
      const back = await r.getBuffer(ALL_BYTES);
      ok(back && Buffer.compare(back, ALL_BYTES) === 0);
      await r.hset("bh", ALL_BYTES, ALL_BYTES);
      const field = await r.hgetBuffer("bh", ALL_BYTES);
      ok(field && Buffer.compare(field, ALL_BYTES) === 0);
      const piped = await r.pipeline().getBuffer(ALL_BYTES).strlen(ALL_BYTES).exec();
      ok(Buffer.compare(piped?.[0]?.[1] as Buffer, ALL_BYTES) === 0);
      equal(piped?.[1]?.[1], 256);
      // Every single byte as its own value.
      const multi = r.pipeline();
      for (let i = 0; i < 256; i++) multi.set(`byte:${i}`, Buffer.from([i]));
      await multi.exec();
      const bytes = await r.mgetBuffer(...Array.from({ length: 256 }, (_, i) => `byte:${i}`));
      ok(bytes.every((b, i) => b !== null && b.length === 1 && b[0] === i));

      const got: string[] = [];
      const two = new Promise<void>((res) => {
        const push = (s: string) => {
          got.push(s);
          if (got.length === 2) res();
        };
        sub.on("message", (ch: string, m: string) => push(`message ${ch} ${m}`));
        sub.on("pmessage", (p: string, ch: string, m: string) => push(`pmessage ${p} ${ch} ${m}`));
      });
      equal(await sub.subscribe("news", "other"), 2);
      equal(await sub.psubscribe("n*"), 3);
      equal(await r.publish("news", "hello"), 2);
      await waitFor(two, 5000, "ioredis messages");
      deepStrictEqual(got.sort(), ["message news hello", "pmessage n* news hello"]);
      deepStrictEqual(await r.pubsub("NUMSUB", "news"), ["news", 1]);
      equal(await r.pubsub("NUMPAT"), 1);
      // (ioredis waits forever on a bare UNSUBSCRIBE while patterns remain: name them.)
      equal(await sub.unsubscribe("news", "other"), 1);
      equal(await sub.punsubscribe("n*"), 0);

      // A blocking pop is woken by a push from another client.
      const popped = r.blpop("q", 5);
      await sleep(50);
      await sub.rpush("q", "job");
      deepStrictEqual(await waitFor(popped, 5000, "blpop"), ["q", "job"]);
    } finally {
      r.disconnect();
      sub.disconnect();
    }
  },
});

for (const RESP of [2, 3] as const) {
  Deno.test({
    name: `node-redis RESP${RESP}: commands, pipelines, multi, WATCH, pub/sub, binary values`,
    ...opts,
    fn: async () => {
      await using node = await startDataNode();
      const c = createClient({ socket: { host: "127.0.0.1", port: node.port }, RESP });
      const other = c.duplicate();
      const sub = c.duplicate();
      for (const x of [c, other, sub]) x.on("error", () => {});
      try {
        await c.connect();
        await other.connect();
        await sub.connect();
        // The protocol really is the one asked for.
        const info = String(await c.sendCommand(["CLIENT", "INFO"]));
        equal(/ resp=(\d)/.exec(info)?.[1], String(RESP), info);

        equal(await c.set("k", "v"), "OK");
        equal(await c.get("k"), "v");
        equal(await c.set("k", "w", { GET: true }), "v");
        equal(await c.get("none"), null);
        deepStrictEqual(await c.mGet(["k", "none"]), ["w", null]);
        equal(await c.incr("n"), 1);
        equal(await c.incrByFloat("f", 1.5), "1.5");
        await rejects(c.lPush("k", "x"), /WRONGTYPE/);
        await c.hSet("h", { a: "1", b: "2" });
        deepStrictEqual({ ...(await c.hGetAll("h")) }, { a: "1", b: "2" });
        await c.sAdd("s", ["x", "y"]);
        deepStrictEqual((await c.sMembers("s")).sort(), ["x", "y"]);
        await c.zAdd("z", [{ score: 1.5, value: "m" }]);
        equal(await c.zScore("z", "m"), 1.5);

        const res = await c.multi().set("m", "1").incr("m").get("m").exec();
        deepStrictEqual(res, ["OK", 2, "2"]);
        const piped = await c.multi().set("p", "1").incr("p").execAsPipeline();
        deepStrictEqual(piped, ["OK", 2]);
        const many = await Promise.all(Array.from({ length: 500 }, () => c.incr("auto")));
        deepStrictEqual(many, Array.from({ length: 500 }, (_, i) => i + 1));

        // WATCH: a write by another client makes EXEC fail with a WatchError.
        await c.watch("w");
        await other.set("w", "from-other");
        await rejects(c.multi().set("w", "mine").exec(), WatchError);
        equal(await c.get("w"), "from-other");
        await c.watch("w");
        deepStrictEqual(await c.multi().set("w", "mine").exec(), ["OK"]);

        await c.set(ALL_BYTES, ALL_BYTES);
        const back = await c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(ALL_BYTES);
        ok(Buffer.compare(back as unknown as Buffer, ALL_BYTES) === 0);

        const got = new Promise<string>((res) => {
          void sub.subscribe("chan", (m: string) => res(m));
        });
        const pgot = new Promise<string>((res) => {
          void sub.pSubscribe("ch*", (m: string, ch: string) => res(`${ch}:${m}`));
        });
        await sleep(100);
        equal(await c.publish("chan", "hi"), 2);
        equal(await waitFor(got, 5000, "node-redis message"), "hi");
        equal(await waitFor(pgot, 5000, "node-redis pmessage"), "chan:hi");
        const bin = new Promise<Buffer>((res) => {
          void sub.subscribe("bin", (m: Buffer) => res(m), true);
        });
        await sleep(100);
        equal(await c.publish("bin", ALL_BYTES), 1);
        ok(Buffer.compare(await waitFor(bin, 5000, "binary message"), ALL_BYTES) === 0);
      } finally {
        for (const x of [c, other, sub]) await x.quit().catch(() => {});
      }
    },
  });
}

/** Runs a client tool to completion; killed after 30 s so that a hang fails instead. */
async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, 30_000);
  try {
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "redis-cli works against the data node, one-shot and from stdin",
  ignore: !requireBinary("redis-cli", "redis-cli interop"),
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const p = ["-p", String(node.port)];
    equal((await run("redis-cli", [...p, "set", "k", "v"])).trim(), "OK");
    equal((await run("redis-cli", [...p, "get", "k"])).trim(), "v");
    equal((await run("redis-cli", [...p, "--no-raw", "get", "k"])).trim(), '"v"');
    equal((await run("redis-cli", [...p, "--no-raw", "get", "none"])).trim(), "(nil)");
    equal((await run("redis-cli", [...p, "--no-raw", "incr", "n"])).trim(), "(integer) 1");
    const server = await run("redis-cli", [...p, "info", "server"]);
    ok(server.includes("redis_version:7.0.15"), server);
    ok(server.includes(`tcp_port:${node.port}`), server);
    equal(
      (await run("redis-cli", [...p, "nosuch", "x"])).trim(),
      "ERR unknown command 'nosuch', with args beginning with: 'x'",
    );
    // RESP3 through redis-cli: a map reply.
    await run("redis-cli", [...p, "hset", "h", "f", "v"]);
    equal(
      (await run("redis-cli", [...p, "-3", "--no-raw", "hgetall", "h"])).trim(),
      '1# "f" => "v"',
    );

    const piped = await run("redis-cli", p, "PING\nSET a 1\nGET a\nLPUSH l x y\nLRANGE l 0 -1\n");
    deepStrictEqual(piped.trim().split("\n"), ["PONG", "OK", "1", "2", "y", "x"]);
    ok(!piped.includes("ERR"), piped);
    // Quoted arguments as redis-cli's interactive mode parses them.
    const quoted = await run("redis-cli", p, 'SET "a b" "c\\td"\nGET "a b"\nSTRLEN "a b"\n');
    deepStrictEqual(quoted.trim().split("\n"), ["OK", "c\td", "3"]);
    ok(!quoted.includes("ERR"), quoted);
  },
});

Deno.test({
  name: "redis-cli's mass insertion and keyspace tools work against the data node",
  ignore: !requireBinary("redis-cli", "redis-cli tools interop"),
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const p = ["-p", String(node.port)];
    // --pipe: raw RESP from stdin, with its ECHO marker to know when all replies are in.
    let proto = "";
    for (let i = 0; i < 500; i++) {
      const [k, v] = [`user:${i}`, `v${i}`];
      proto += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
    }
    proto += "*4\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n$1\r\na\r\n$1\r\nb\r\n";
    proto += "*4\r\n$4\r\nHSET\r\n$4\r\nhash\r\n$1\r\nf\r\n$1\r\nv\r\n";
    const piped = await run("redis-cli", [...p, "--pipe"], proto);
    ok(/errors: 0, replies: 502/.test(piped), piped);
    equal((await run("redis-cli", [...p, "dbsize"])).trim(), "502");
    // --scan with a pattern walks the keyspace with SCAN.
    const scanned = (await run("redis-cli", [...p, "--scan", "--pattern", "user:1*"]))
      .trim().split("\n").sort();
    equal(scanned.length, 111);
    ok(scanned.every((k) => k.startsWith("user:1")), scanned.join(","));
    // --bigkeys and --memkeys use SCAN, TYPE, STRLEN/LLEN/HLEN... and MEMORY USAGE.
    const big = await run("redis-cli", [...p, "--bigkeys"]);
    ok(/Biggest\s+list found '"list"' has 2 items/.test(big), big);
    ok(/500 strings with/.test(big), big);
    const mem = await run("redis-cli", [...p, "--memkeys"]);
    ok(/Biggest\s+hash found '"hash"' has \d+ bytes/.test(mem), mem);
  },
});

Deno.test({
  name: "redis-benchmark completes against the data node without errors",
  ignore: !requireBinary("redis-benchmark", "redis-benchmark interop"),
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const base = ["-p", String(node.port), "-q", "-n", "2000"];
    const out = await run("redis-benchmark", [...base, "-t", "set,get,incr,mset"]);
    ok(!/error|ERR/i.test(out), out);
    for (const t of ["SET", "GET", "INCR", "MSET"]) {
      ok(new RegExp(`^${t}.*requests per second`, "m").test(out), `no ${t} result in ${out}`);
    }
    // Pipelined, and the other data types.
    const more = await run("redis-benchmark", [
      ...base,
      "-P",
      "16",
      "-t",
      "lpush,lpop,sadd,hset,zadd,lrange",
    ]);
    ok(!/error|ERR/i.test(more), more);
    for (const t of ["LPUSH", "LPOP", "SADD", "HSET", "ZADD", "LRANGE_100"]) {
      ok(more.includes(t), `no ${t} result in ${more}`);
    }
  },
});
