/**
 * Bad input on the wire: Redis's exact protocol error, that connection closed, every other
 * client still served, the process alive. Each case also runs against a real redis-server (when
 * installed) and the two replies must be identical.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  hasRedis,
  type ManagedProcess,
  startDataNode,
  startRedisServer,
} from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { seededRandom } from "./helpers/random.ts";
import { RespError, type RespValue } from "../shared/resp/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const te = new TextEncoder();

const CASES: [string, string | Uint8Array][] = [
  ["non-numeric bulk length", "*1\r\n$x\r\n"],
  ["4 GB bulk length", "*1\r\n$4294967296\r\n"],
  ["negative bulk length", "*1\r\n$-5\r\n"],
  ["2^31 multibulk count", "*2147483648\r\n"],
  ["non-numeric multibulk count", "*abc\r\n"],
  ["deep nesting", "*1\r\n*1\r\n*1\r\n*1\r\n$4\r\nPING\r\n"],
  ["unbalanced quotes inline", 'SET a "b\r\n'],
  ["70 KB inline request without newline", "x".repeat(70 * 1024)],
  ["70 KB multibulk header without newline", "*" + "1".repeat(70 * 1024)],
  ["huge bulk header without newline", "*1\r\n$" + "9".repeat(70 * 1024)],
];

/** Sends bytes on a fresh connection; returns the reply (or error text) and whether it closed. */
async function probe(port: number, bytes: string | Uint8Array): Promise<[unknown, boolean]> {
  using c = await RawConn.connect(port);
  await c.write(typeof bytes === "string" ? te.encode(bytes) : bytes);
  let reply: RespValue | string;
  try {
    reply = await c.read(3000);
  } catch (e) {
    reply = (e as Error).message;
  }
  const text = reply instanceof RespError ? `-${reply.message}` : reply;
  return [text, await c.closedByServer(3000)];
}

async function stillServing(node: ManagedProcess, bystander: RawConn): Promise<void> {
  ok(node.alive, "process died");
  equal(String(await bystander.call("PING")), "PONG");
  using fresh = await RawConn.connect(node.port);
  equal(String(await fresh.call("PING")), "PONG");
}

Deno.test({
  name: "malformed requests get Redis's protocol error, close that connection only",
  ...opts,
  fn: async (t) => {
    await using ours = await startDataNode();
    await using redis = hasRedis ? await startRedisServer() : null;
    if (!redis) console.log("SKIP: redis-server not installed: comparison with real Redis");
    using bystander = await RawConn.connect(ours.port);
    for (const [name, bytes] of CASES) {
      await t.step(name, async () => {
        const [reply, closed] = await probe(ours.port, bytes);
        ok(typeof reply === "string" && reply.startsWith("-ERR Protocol error"), String(reply));
        equal(closed, true, "connection should be closed");
        if (redis) deepStrictEqual([reply, closed], await probe(redis.port, bytes));
        await stillServing(ours, bystander);
      });
    }
  },
});

Deno.test({
  name: "an unauthenticated client cannot send big requests when a password is set",
  ...opts,
  fn: async () => {
    const args = ["--requirepass", "secret"];
    await using ours = await startDataNode(args);
    await using redis = hasRedis ? await startRedisServer(args) : null;
    const bytes = "*20\r\n" + "$1\r\nx\r\n".repeat(20);
    const [reply, closed] = await probe(ours.port, bytes);
    equal(reply, "-ERR Protocol error: unauthenticated multibulk length");
    equal(closed, true);
    if (redis) deepStrictEqual([reply, closed], await probe(redis.port, bytes));
    using c = await RawConn.connect(ours.port);
    equal(String(await c.call("GET", "k")), "NOAUTH Authentication required.");
    equal(String(await c.call("AUTH", "secret")), "OK");
    equal(await c.call("GET", "k"), null);
  },
});

Deno.test({
  name: "random garbage never crashes the server (200 seeded rounds)",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    using bystander = await RawConn.connect(ours.port);
    const rand = seededRandom(20261125);
    const alphabet = te.encode("*$:+-\r\n0123456789abcXYZ \"'\\");
    for (let round = 0; round < 200; round++) {
      const len = 1 + Math.floor(rand() * 200);
      const bytes = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        bytes[i] = rand() < 0.7
          ? alphabet[Math.floor(rand() * alphabet.length)]!
          : Math.floor(rand() * 256);
      }
      const c = await RawConn.connect(ours.port);
      await c.write(bytes).catch(() => {});
      c.close();
    }
    await stillServing(ours, bystander);
    equal(String(await bystander.call("SET", "after", "garbage")), "OK");
  },
});

Deno.test({
  name: "a client whose query buffer passes client-query-buffer-limit is disconnected",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode(["--client-query-buffer-limit", "1mb"]);
    using bystander = await RawConn.connect(ours.port);
    using c = await RawConn.connect(ours.port);
    // A multibulk that never completes: its arguments pile up until the limit.
    await c.write(te.encode("*100000000\r\n"));
    const chunk = te.encode("$10\r\n0123456789\r\n".repeat(4096));
    let closed = false;
    for (let i = 0; i < 200 && !closed; i++) {
      await c.write(chunk).catch(() => closed = true);
    }
    equal(closed || await c.closedByServer(3000), true);
    await stillServing(ours, bystander);
  },
});
