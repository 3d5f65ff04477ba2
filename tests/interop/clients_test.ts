/**
 * Real clients against our data node: ioredis and node-redis (RESP2 and RESP3), redis-cli and
 * redis-benchmark. Every process is stopped by `await using`, even when a step fails.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import { createClient, RESP_TYPES } from "redis";
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

Deno.test({
  name: "ioredis: commands, pipelines, transactions, pub/sub and binary values",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const r = new Redis({ port: node.port, host: "127.0.0.1", lazyConnect: true });
    const sub = new Redis({ port: node.port, host: "127.0.0.1", lazyConnect: true });
    try {
      await r.connect();
      await sub.connect();
      equal(await r.set("k", "v"), "OK");
      equal(await r.get("k"), "v");
      equal(await r.incrby("n", 5), 5);
      await r.rpush("l", "a", "b");
      deepStrictEqual(await r.lrange("l", 0, -1), ["a", "b"]);
      await r.hset("h", { f1: "1", f2: "2" });
      deepStrictEqual(await r.hgetall("h"), { f1: "1", f2: "2" });
      await r.zadd("z", 1, "one", 2, "two");
      deepStrictEqual(await r.zrange("z", 0, -1, "WITHSCORES"), ["one", "1", "two", "2"]);

      const pipe = await r.pipeline().set("p1", "1").incr("p1").get("p1").exec();
      deepStrictEqual(pipe, [[null, "OK"], [null, 2], [null, "2"]]);

      await r.watch("w");
      const tx = await r.multi().set("w", "1").incr("w").exec();
      deepStrictEqual(tx, [[null, "OK"], [null, 2]]);

      await r.set(ALL_BYTES, ALL_BYTES);
      const back = await r.getBuffer(ALL_BYTES);
      ok(back && Buffer.compare(back, ALL_BYTES) === 0);

      const got = new Promise<[string, string]>((res) =>
        sub.on("message", (ch: string, m: string) => res([ch, m]))
      );
      await sub.subscribe("news");
      equal(await r.publish("news", "hello"), 1);
      deepStrictEqual(await waitFor(got, 5000, "ioredis message"), ["news", "hello"]);

      // A blocking pop is woken by a push from another client.
      const popped = r.blpop("q", 5);
      await new Promise((res) => setTimeout(res, 50));
      await sub.unsubscribe();
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
    name: `node-redis RESP${RESP}: commands, multi, pub/sub, binary values`,
    ...opts,
    fn: async () => {
      await using node = await startDataNode();
      const url = `redis://127.0.0.1:${node.port}`;
      const c = createClient({ url, RESP });
      const sub = c.duplicate();
      c.on("error", () => {});
      sub.on("error", () => {});
      await c.connect();
      await sub.connect();
      try {
        equal(await c.set("k", "v"), "OK");
        equal(await c.get("k"), "v");
        equal(await c.incr("n"), 1);
        await c.hSet("h", { a: "1" });
        equal(await c.hGet("h", "a"), "1");
        await c.sAdd("s", ["x", "y"]);
        deepStrictEqual((await c.sMembers("s")).sort(), ["x", "y"]);
        const res = await c.multi().set("m", "1").incr("m").get("m").exec();
        deepStrictEqual(res, ["OK", 2, "2"]);
        await c.set(ALL_BYTES, ALL_BYTES);
        const back = await c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(ALL_BYTES);
        ok(Buffer.compare(back as unknown as Buffer, ALL_BYTES) === 0);

        const got = new Promise<string>((res) => {
          void sub.subscribe("chan", (m: string) => res(m));
        });
        // Publish once the subscription is registered on the server.
        let receivers = 0;
        for (let i = 0; i < 500 && receivers === 0; i++) {
          receivers = await c.publish("chan", "hi");
          if (receivers === 0) await new Promise((r) => setTimeout(r, 10));
        }
        equal(receivers, 1);
        equal(await waitFor(got, 5000, "node-redis message"), "hi");
      } finally {
        await c.quit().catch(() => {});
        await sub.quit().catch(() => {});
      }
    },
  });
}

async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
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
    ok((await run("redis-cli", [...p, "info", "server"])).includes("redis_version:7.0.15"));
    const piped = await run("redis-cli", p, "PING\nSET a 1\nGET a\nLPUSH l x y\nLRANGE l 0 -1\n");
    deepStrictEqual(piped.trim().split("\n"), ["PONG", "OK", "1", "2", "y", "x"]);
    ok(!piped.includes("ERR"));
  },
});

Deno.test({
  name: "redis-benchmark completes against the data node without errors",
  ignore: !requireBinary("redis-benchmark", "redis-benchmark interop"),
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const out = await run("redis-benchmark", [
      "-p",
      String(node.port),
      "-q",
      "-n",
      "2000",
      "-t",
      "set,get,incr,mset,lpush,lpop,sadd,hset,zadd,lrange",
    ]);
    ok(!/error|ERR/i.test(out), out);
    for (const t of ["SET", "GET", "INCR", "MSET", "LPUSH", "SADD", "HSET", "ZADD"]) {
      ok(out.includes(`${t}`), `missing ${t} in ${out}`);
    }
  },
});
