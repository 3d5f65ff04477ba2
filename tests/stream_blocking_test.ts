/**
 * Blocked XREAD / XREADGROUP clients are served by XADD in the order they blocked, as Redis 7.0
 * serves them: every plain reader gets the new entries, and a group's readers take them in turn
 * (a reader whose group has already delivered everything keeps waiting). The same scenario runs
 * on our node and on a real redis-server, and the transcripts must be equal.
 */
import { deepStrictEqual } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { encodeCommand, type RespValue } from "../shared/resp/mod.ts";

async function blockedClients(c: RawConn): Promise<number> {
  const info = String(await c.call("INFO", "clients"));
  return Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? "-1");
}

async function scenario(port: number): Promise<RespValue[]> {
  using admin = await RawConn.connect(port);
  using a = await RawConn.connect(port);
  using b = await RawConn.connect(port);
  using c = await RawConn.connect(port);
  using d = await RawConn.connect(port);
  const out: RespValue[] = [];
  out.push(await admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"));
  const block = async (conn: RawConn, n: number, ...args: string[]) => {
    await conn.write(encodeCommand(args));
    await eventually(async () => (await blockedClients(admin)) === n, `${n} blocked clients`);
  };
  await block(a, 1, "XREAD", "BLOCK", "0", "STREAMS", "s", "$");
  await block(b, 2, "XREADGROUP", "GROUP", "g", "b", "BLOCK", "0", "STREAMS", "s", ">");
  await block(c, 3, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">");
  await block(d, 4, "XREAD", "BLOCK", "0", "COUNT", "1", "STREAMS", "s", "0-0");
  out.push(await admin.call("XADD", "s", "1-1", "first", "x"));
  out.push(await a.read(), await b.read(), await d.read());
  out.push(await blockedClients(admin));
  out.push(await admin.call("XADD", "s", "2-1", "second", "y"));
  out.push(await c.read());
  out.push(await admin.call("XPENDING", "s", "g"));
  out.push(await blockedClients(admin));
  return out;
}

Deno.test({
  name: "blocked stream readers are served by XADD in Redis's order",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode();
    const got = await scenario(ours.port);
    deepStrictEqual(got[got.length - 1], 0, "nobody is left blocked");
    if (!hasRedis) {
      console.log("SKIP: redis-server not installed: comparison with Redis");
      return;
    }
    await using redis = await startRedisServer();
    deepStrictEqual(got, await scenario(redis.port));
  },
});

/**
 * A timeout whose deadline (now + timeout) is past INT64_MAX: Redis 7.0 computes it by wrapping
 * into negative time, which its timeout table files after every other deadline, so the client
 * waits until it is served. XREAD BLOCK (milliseconds) and BLPOP (seconds, a long double).
 */
async function hugeTimeouts(port: number): Promise<RespValue[]> {
  using admin = await RawConn.connect(port);
  using a = await RawConn.connect(port);
  using b = await RawConn.connect(port);
  const out: RespValue[] = [];
  await a.write(encodeCommand(["XREAD", "BLOCK", "9223372036854775807", "STREAMS", "s", "$"]));
  await b.write(encodeCommand(["BLPOP", "l", "9223372036854775.807"]));
  await eventually(async () => (await blockedClients(admin)) === 2, "2 blocked clients");
  // Well past the 100 ms a wrong reading (an immediate timeout) would take.
  await new Promise((r) => setTimeout(r, 500));
  out.push(await blockedClients(admin));
  out.push(await admin.call("XADD", "s", "1-1", "f", "v"));
  out.push(await admin.call("RPUSH", "l", "x"));
  out.push(await a.read(), await b.read());
  return out;
}

Deno.test({
  name: "a blocking timeout whose deadline is past INT64_MAX waits until served, as in Redis",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode();
    const got = await hugeTimeouts(ours.port);
    deepStrictEqual(got[0], 2, "both still blocked");
    if (!hasRedis) {
      console.log("SKIP: redis-server not installed: comparison with Redis");
      return;
    }
    await using redis = await startRedisServer();
    deepStrictEqual(got, await hugeTimeouts(redis.port));
  },
});
