/**
 * HyperLogLog values cross between a real redis-server 7.0 and our data node: the bytes one
 * side writes (GET) are SET on the other, which counts them the same, changes them the same
 * way (PFADD, PFMERGE) and produces the same bytes, for sparse and dense values.
 */
import { equal, ok } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";

const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !hasRedis };
if (!hasRedis) console.log("SKIP: redis-server not installed: HyperLogLog interop tests");

const elements = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => `${prefix}:${i}`);

/** Element counts that give a small sparse, a large sparse and a dense value. */
const SIZES = [5, 200, 3000];

/** Writes `n` elements on `from`, copies the bytes to `to`; both then agree on everything. */
async function crossCheck(from: RawConn, to: RawConn, n: number, tag: string): Promise<void> {
  const key = `hll:${tag}:${n}`;
  await from.call("PFADD", key, ...elements(n, tag));
  const bytes = String(await from.call("GET", key));
  equal(await to.call("SET", key, bytes), "OK");
  const enc = await from.call("PFDEBUG", "ENCODING", key);
  equal(String(await to.call("PFDEBUG", "ENCODING", key)), String(enc));
  const count = await from.call("PFCOUNT", key);
  ok(Number(count) > 0);
  equal(await to.call("PFCOUNT", key), count, `PFCOUNT of ${n} elements written by ${tag}`);
  // The count is cached in the value: the bytes still agree.
  equal(await to.call("GET", key), await from.call("GET", key));
  // Further changes on both sides stay byte-identical.
  const more = elements(50, `${tag}-more`);
  equal(await to.call("PFADD", key, ...more), await from.call("PFADD", key, ...more));
  equal(await to.call("GET", key), await from.call("GET", key));
  equal(await to.call("PFCOUNT", key, "other"), await from.call("PFCOUNT", key, "other"));
  await from.call("PFMERGE", "merged", key);
  await to.call("PFMERGE", "merged", key);
  equal(await to.call("GET", "merged"), await from.call("GET", "merged"));
}

Deno.test({
  name: "a HyperLogLog written by redis-server counts the same on our node, and the reverse",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode(["--enable-debug-command", "yes"]);
    await using redis = await startRedisServer(["--enable-debug-command", "yes"]);
    using a = await RawConn.connect(ours.port);
    using b = await RawConn.connect(redis.port);
    for (const n of SIZES) {
      await crossCheck(b, a, n, "redis");
      await crossCheck(a, b, n, "ours");
    }
  },
});

Deno.test({
  name: "PFDEBUG GETREG shows the same registers for the same elements on both servers",
  ...opts,
  fn: async () => {
    await using ours = await startDataNode(["--enable-debug-command", "yes"]);
    await using redis = await startRedisServer(["--enable-debug-command", "yes"]);
    using a = await RawConn.connect(ours.port);
    using b = await RawConn.connect(redis.port);
    const els = [...elements(1000, "reg"), "", "\0", "\xff".repeat(9), "x".repeat(1000)];
    await a.call("PFADD", "h", ...els);
    await b.call("PFADD", "h", ...els);
    const ra = (await a.call("PFDEBUG", "GETREG", "h")) as unknown[];
    const rb = (await b.call("PFDEBUG", "GETREG", "h")) as unknown[];
    equal(ra.length, 16384);
    equal(JSON.stringify(ra), JSON.stringify(rb));
  },
});
