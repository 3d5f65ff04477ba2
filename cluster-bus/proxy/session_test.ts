/**
 * The proxy's own answers, with no cluster behind it (the only seed refuses connections): AUTH
 * against requirepass, HELLO 3, local PING/ECHO/SELECT, pipelined replies in order, MULTI
 * errors, a node that cannot be reached answered with an error (never a hang), bad RESP.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { RedisClient, ReplyError } from "../../shared/client.ts";
import { RespMap } from "../../shared/resp/mod.ts";
import { ProxyServer } from "./server.ts";

async function withProxy(fn: (port: number) => Promise<void>): Promise<void> {
  // Port 1 on loopback: nothing listens, a connection is refused at once.
  const p = new ProxyServer({
    bind: "127.0.0.1",
    port: 0,
    seeds: ["127.0.0.1:1"],
    timeoutMs: 500,
    refreshIntervalMs: 0,
    maxClients: 10,
    requirepass: "secret",
  });
  await p.start();
  try {
    await fn(p.boundPort);
  } finally {
    await p.close();
  }
}

async function replyError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ReplyError) return e.message;
    throw e;
  }
  throw new Error("expected an error reply");
}

Deno.test("the proxy answers AUTH, HELLO, PING, SELECT itself and keeps pipelines in order", async () => {
  await withProxy(async (port) => {
    const c = await RedisClient.connect({ port, reconnect: { enabled: false } });
    try {
      equal(await replyError(c.call("PING")), "NOAUTH Authentication required.");
      equal(
        await replyError(c.call("AUTH", "wrong")),
        "WRONGPASS invalid username-password pair or user is disabled.",
      );
      equal(String(await c.call("AUTH", "secret")), "OK");
      const replies = await c.pipeline([
        ["PING"],
        ["ECHO", "a"],
        ["GET", "k"],
        ["PING", "b"],
        ["SELECT", "0"],
        ["SELECT", "1"],
      ]);
      equal(String(replies[0]), "PONG");
      equal(replies[1], "a");
      ok(/^(ERR proxy: node 127\.0\.0\.1:1 unreachable|CLUSTERDOWN)/.test(String(replies[2])));
      equal(replies[3], "b");
      equal(String(replies[4]), "OK");
      equal(String(replies[5]), "ERR SELECT is not allowed in cluster mode");
      equal(await replyError(c.call("EXEC")), "ERR EXEC without MULTI");
      equal(String(await c.call("MULTI")), "OK");
      equal(await replyError(c.call("MULTI")), "ERR MULTI calls can not be nested");
      equal(String(await c.call("DISCARD")), "OK");
    } finally {
      await c.close();
    }
    const c3 = await RedisClient.connect({ port, protocol: 3, password: "secret" });
    try {
      const hello = await c3.call("HELLO", "3");
      ok(hello instanceof RespMap);
      equal(hello.get("proto"), 3);
      equal(hello.get("version"), "7.0.15");
      equal(await replyError(c3.call("HELLO", "4")), "NOPROTO unsupported protocol version");
    } finally {
      await c3.close();
    }
  });
});

Deno.test("bad RESP gets a protocol error and the connection closes", async () => {
  await withProxy(async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("*1\r\n$-5\r\n"));
      const buf = new Uint8Array(256);
      let text = "";
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      // Before AUTH the limits are Redis's unauthenticated ones, and so is the reason.
      deepEqual(text, "-ERR Protocol error: unauthenticated bulk length\r\n");
    } finally {
      conn.close();
    }
  });
});
