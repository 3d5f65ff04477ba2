/** shared/client.ts against our data node and, where installed, a real redis-server. */
import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import {
  backoffDelay,
  RedisClient,
  ReplyError,
  TimeoutError,
  UsageError,
} from "../shared/client.ts";
import { RespMap } from "../shared/resp/mod.ts";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ALL = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => {
      if (cond()) return res();
      if (Date.now() > end) return rej(new Error("condition not met in time"));
      setTimeout(tick, 10);
    };
    tick();
  });
}

Deno.test("backoff doubles, is capped, and jitters within half of the step", () => {
  const o = { enabled: true, minDelayMs: 50, maxDelayMs: 2000, maxAttempts: 10 };
  equal(backoffDelay(0, o, () => 1), 50);
  equal(backoffDelay(0, o, () => 0), 25);
  equal(backoffDelay(3, o, () => 1), 400);
  equal(backoffDelay(30, o, () => 1), 2000);
});

const servers: [string, () => ReturnType<typeof startDataNode>][] = [[
  "data node",
  () => startDataNode(["--enable-debug-command", "yes"]),
]];
if (hasRedis) {
  servers.push(["redis-server", () => startRedisServer(["--enable-debug-command", "yes"])]);
} else console.log("SKIP: redis-server not installed: client tests against real Redis");

for (const [name, start] of servers) {
  Deno.test({
    name: `client against ${name}: binary values, pipelining, RESP3, errors`,
    ...opts,
    fn: async () => {
      await using srv = await start();
      const c = await RedisClient.connect({ port: srv.port });
      try {
        equal(String(await c.call("SET", ALL, ALL)), "OK");
        equal(await c.call("GET", ALL), ALL);
        await rejects(c.call("LPUSH", ALL, "x"), ReplyError);
        const cmds = Array.from({ length: 10000 }, (_, i) => ["INCR", `n${i % 10}`]);
        const replies = await c.pipeline(cmds);
        equal(replies.length, 10000);
        equal(await c.call("GET", "n0"), "1000");
        const c3 = await RedisClient.connect({ port: srv.port, protocol: 3, clientName: "three" });
        await c3.call("HSET", "h", "f", "v");
        ok((await c3.call("HGETALL", "h")) instanceof RespMap);
        equal(await c3.call("CLIENT", "GETNAME"), "three");
        await c3.close();
      } finally {
        await c.close();
      }
    },
  });

  for (const protocol of [2, 3] as const) {
    Deno.test({
      name: `client against ${name}: pub/sub in RESP${protocol}, binary channel names`,
      ...opts,
      fn: async () => {
        await using srv = await start();
        const sub = await RedisClient.connect({ port: srv.port, protocol });
        const pub = await RedisClient.connect({ port: srv.port });
        try {
          const got: [string, string][] = [];
          await sub.subscribe(["news", ALL], (ch, m) => got.push([ch, m]));
          await sub.psubscribe(["n*"], (_p, ch, m) => got.push([`p:${ch}`, m]));
          equal(await pub.call("PUBLISH", "news", "1"), 2);
          equal(await pub.call("PUBLISH", ALL, ALL), 1);
          await until(() => got.length === 3);
          deepStrictEqual(got.sort(), [["news", "1"], ["p:news", "1"], [ALL, ALL]].sort());
          await sub.unsubscribe();
          await sub.punsubscribe();
          equal(await pub.call("PUBLISH", "news", "2"), 0);
        } finally {
          await sub.close();
          await pub.close();
        }
      },
    });
  }

  Deno.test({
    name: `client against ${name}: timeouts, reconnect, bounded queue, close`,
    ...opts,
    fn: async () => {
      await using srv = await start();
      const c = await RedisClient.connect({
        port: srv.port,
        commandTimeoutMs: 200,
        db: 2,
        maxPending: 5,
        reconnect: { minDelayMs: 10, maxDelayMs: 50 },
      });
      const admin = await RedisClient.connect({ port: srv.port });
      try {
        await c.call("SET", "k", "v");
        // Commands whose replies would desynchronise the connection are refused up front.
        await rejects(c.call("SUBSCRIBE", "x"), UsageError);
        await rejects(c.call("client", "reply", "off"), UsageError);
        await rejects(c.call("SET", "k", "\u0100"), UsageError);
        equal(await c.call("GET", "k"), "v");
        await rejects(c.call("DEBUG", "SLEEP", "0.5"), TimeoutError);
        await until(() => c.connected);
        equal(await c.call("GET", "k"), "v", "reconnected to db 2");
        await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
        // The client notices the close, reconnects and restores db 2.
        let got: unknown = null;
        for (let i = 0; i < 500 && got !== "v"; i++) {
          got = await c.call("GET", "k").catch(() => null);
          if (got !== "v") await new Promise((r) => setTimeout(r, 10));
        }
        equal(got, "v");
        const many = Array.from({ length: 6 }, () => c.call("PING").catch((e) => e as Error));
        const results = await Promise.all(many);
        ok(results.some((r) => r instanceof Error && /maxPending/.test(r.message)));
        const inflight = c.call("DEBUG", "SLEEP", "0.1");
        await c.close();
        await rejects(inflight);
        await rejects(c.call("PING"));
      } finally {
        await c.close();
        await admin.close();
      }
    },
  });
}
