/**
 * Streams across our node and a real redis-server 7.0: RDB files both ways, DUMP/RESTORE both
 * ways (entries, consumer groups, pending lists and consumers), and a real redis-server
 * replicating the effects of our stream commands (generated IDs, approximate trims, group
 * reads, claims) to the same state. (Redis 7.0 itself does not replicate what a history read
 * changes in a pending list, nor a group's entries-read counter as reads advance it (its XCLAIMs carry
 * only LASTID): the replication test sets that counter last, with XGROUP SETID.)
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import type { RespValue } from "../shared/resp/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !hasRedis };
if (!hasRedis) console.log("SKIP: redis-server not installed: stream interop tests");

const BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

/** Streams with deleted entries, several nodes, groups, pending entries and consumers. */
async function populateStreams(c: RawConn): Promise<void> {
  await c.call("CONFIG", "SET", "stream-node-max-entries", "5");
  for (let i = 1; i <= 23; i++) {
    const fields = i % 4 === 0 ? ["other", String(i), "x", BYTES] : ["f", `v${i}`, "n", String(i)];
    await c.call("XADD", "st", `${i * 1000}-${i % 3}`, ...fields);
  }
  await c.call("XDEL", "st", "4000-1", "9000-0", "23000-2");
  await c.call("XTRIM", "st", "MINID", "2000");
  await c.call("XGROUP", "CREATE", "st", "g1", "0");
  await c.call("XGROUP", "CREATE", "st", "g2", "10000-1", "ENTRIESREAD", "7");
  await c.call("XGROUP", "CREATE", "st", "g3", "$");
  await c.call("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "4", "STREAMS", "st", ">");
  await c.call("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "st", ">");
  await c.call("XREADGROUP", "GROUP", "g2", "carol", "STREAMS", "st", ">");
  await c.call(
    "XCLAIM",
    "st",
    "g1",
    "bob",
    "0",
    "2000-2",
    "TIME",
    "1700000000000",
    "RETRYCOUNT",
    "5",
  );
  await c.call("XACK", "st", "g2", "12000-0", "13000-1");
  await c.call("XGROUP", "CREATECONSUMER", "st", "g1", "idle-one");
  await c.call("XADD", "empty", "1-1", "a", "b");
  await c.call("XDEL", "empty", "1-1");
  await c.call("XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM");
  await c.call("XADD", "big", "1-1", "big", "y".repeat(5000));
  await c.call("CONFIG", "SET", "stream-node-max-entries", "100");
}

/** Drops what differs between two servers holding the same stream: consumers' seen times. */
function normalize(v: RespValue): RespValue {
  if (!Array.isArray(v)) return v;
  const out: RespValue[] = [];
  for (let i = 0; i < v.length; i++) {
    out.push(normalize(v[i]!));
    if (v[i] === "seen-time" && i + 1 < v.length) {
      out.push(0);
      i++;
    }
  }
  return out;
}

async function streamState(c: RawConn): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const key of ["st", "empty", "mk", "big"]) {
    out.push(await c.call("XRANGE", key, "-", "+"));
    out.push(normalize(await c.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")));
    out.push(await c.call("XINFO", "GROUPS", key));
    out.push(await c.call("TYPE", key));
  }
  out.push(await c.call("XPENDING", "st", "g1"));
  return out;
}

Deno.test({
  name: "streams our node saves load in real redis-server with groups and pending lists",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      let expected: unknown[];
      {
        await using ours = await startDataNode([], { dir });
        using c = await RawConn.connect(ours.port);
        await populateStreams(c);
        expected = await streamState(c);
        equal(String(await c.call("SAVE")), "OK");
      }
      await using redis = await startRedisServer([], { dir });
      using r = await RawConn.connect(redis.port);
      deepStrictEqual(await streamState(r), expected);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "streams real redis-server saves load in our node with groups and pending lists",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      let expected: unknown[];
      {
        await using redis = await startRedisServer([], { dir });
        using r = await RawConn.connect(redis.port);
        await populateStreams(r);
        expected = await streamState(r);
        equal(String(await r.call("SAVE")), "OK");
      }
      await using ours = await startDataNode([], { dir });
      using c = await RawConn.connect(ours.port);
      deepStrictEqual(await streamState(c), expected);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stream DUMP payloads restore across our node and real redis-server both ways",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    using c = await RawConn.connect(ours.port);
    using r = await RawConn.connect(redis.port);
    await populateStreams(c);
    await populateStreams(r);
    // Populated apart, the two differ in delivery times only: each must take the other's.
    const oursBefore = await streamState(c), redisBefore = await streamState(r);
    for (const key of ["st", "empty", "mk", "big"]) {
      const fromOurs = await c.call("DUMP", key) as string;
      const fromRedis = await r.call("DUMP", key) as string;
      equal(String(await r.call("RESTORE", key, "0", fromOurs, "REPLACE")), "OK");
      equal(String(await c.call("RESTORE", key, "0", fromRedis, "REPLACE")), "OK");
    }
    deepStrictEqual(await streamState(c), redisBefore);
    deepStrictEqual(await streamState(r), oursBefore);
  },
});

Deno.test({
  name: "a real redis-server replica of our node ends with the same streams and groups",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode(["--repl-diskless-sync-delay", "0"]);
    using c = await RawConn.connect(ours.port);
    await c.call("XADD", "pre", "1-1", "before", "sync");
    await using redis = await startRedisServer(["--replicaof", "127.0.0.1", String(ours.port)]);
    using r = await RawConn.connect(redis.port);
    await eventually(async () => (await r.call("XLEN", "pre")) === 1, "the full sync", 15000);
    // Node sizes are each server's own configuration.
    await c.call("CONFIG", "SET", "stream-node-max-entries", "4");
    await r.call("CONFIG", "SET", "stream-node-max-entries", "4");
    for (let i = 0; i < 30; i++) await c.call("XADD", "auto", "*", "i", String(i));
    await c.call("XADD", "auto", "MAXLEN", "~", "10", "*", "last", "one");
    await c.call("XADD", "auto", "MINID", "~", "0-1", "LIMIT", "3", "*", "x", "y");
    await c.call("XTRIM", "auto", "MAXLEN", "~", "5");
    await c.call("XGROUP", "CREATE", "auto", "g", "0");
    await c.call("XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "auto", ">");
    await c.call("XREADGROUP", "GROUP", "g", "b", "NOACK", "COUNT", "2", "STREAMS", "auto", ">");
    const pending = await c.call("XPENDING", "auto", "g", "-", "+", "10") as RespValue[];
    const first = (pending[0] as RespValue[])[0] as string;
    await c.call("XCLAIM", "auto", "g", "c", "0", first, "IDLE", "500");
    await c.call("XAUTOCLAIM", "auto", "g", "d", "0", "0", "COUNT", "1");
    await c.call("XGROUP", "SETID", "auto", "g", "$", "ENTRIESREAD", "20");
    await c.call("XADD", "auto", "*", "after", "setid");
    await c.call("XSETID", "pre", "5-5", "ENTRIESADDED", "9", "MAXDELETEDID", "2-0");
    await c.call("XGROUP", "DELCONSUMER", "auto", "g", "b");
    await c.call("XADD", "done", "1-1", "k", "v");
    await eventually(async () => (await r.call("XLEN", "done")) === 1, "the writes replicated");
    for (const key of ["auto", "pre"]) {
      deepStrictEqual(
        normalize(await r.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")),
        normalize(await c.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")),
      );
    }
  },
});
