/**
 * INFO lazyfreed_objects: what UNLINK, lazy DEL and async flushes count as freed in the
 * background, compared with a real redis-server 7.0 (which frees in a thread: each count is
 * read once lazyfree_pending_objects is back to 0).
 */
import { deepStrictEqual } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function infoField(text: string, name: string): string {
  const line = text.split("\r\n").find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1) ?? "(missing)";
}

/** lazyfreed_objects once nothing is pending (a few seconds at most). */
async function freed(c: RawConn): Promise<string> {
  for (let i = 0; i < 250; i++) {
    const text = String(await c.call("INFO", "memory"));
    if (infoField(text, "lazyfree_pending_objects") === "0") {
      return infoField(text, "lazyfreed_objects");
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return "(still pending)";
}

const members = (prefix: string, n: number) => Array.from({ length: n }, (_, j) => `${prefix}${j}`);

/** The steps; after each, the count. */
const STEPS: string[][][] = [
  // A stream of 200 nodes and a group: above the threshold of 64 allocations.
  [
    ["CONFIG", "SET", "stream-node-max-entries", "5"],
    ...Array.from({ length: 1000 }, (_, j) => ["XADD", "st", `${j + 1}-0`, "f", String(j)]),
    ["XGROUP", "CREATE", "st", "g", "0"],
    ["UNLINK", "st"],
  ],
  // One node, a small set: freed at once.
  [["XADD", "st2", "1-0", "a", "b"], ["UNLINK", "st2"], ["SADD", "small", "1", "2"], [
    "UNLINK",
    "small",
  ]],
  // A hash table of 100 members: DEL frees it at once, UNLINK in the background.
  [["SADD", "big", ...members("m", 100)], ["DEL", "big"]],
  [["SADD", "big", ...members("m", 100)], ["UNLINK", "big"]],
  [["ZADD", "z", ...members("", 200).flatMap((m) => [m, m])], ["UNLINK", "z"]],
  // DEL is lazy under lazyfree-lazy-user-del.
  [
    ["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"],
    ["HSET", "h", ...members("f", 1200)],
    ["DEL", "h"],
    ["CONFIG", "SET", "lazyfree-lazy-user-del", "no"],
  ],
  // An async flush counts every key it empties; a sync one none.
  [["SET", "a", "1"], ["SET", "b", "2"], ["FLUSHALL", "SYNC"]],
  [["SET", "a", "1"], ["SET", "b", "2"], ["SELECT", "1"], ["SET", "c", "3"], [
    "FLUSHALL",
    "ASYNC",
  ]],
  [
    ["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"],
    ["SET", "a", "1"],
    ["FLUSHDB"],
    ["CONFIG", "SET", "lazyfree-lazy-user-flush", "no"],
  ],
];

async function counts(port: number): Promise<string[]> {
  using c = await RawConn.connect(port);
  await c.call("CONFIG", "RESETSTAT");
  const out = [await freed(c)];
  for (const step of STEPS) {
    for (const cmd of step) await c.call(...cmd);
    out.push(await freed(c));
  }
  return out;
}

Deno.test({
  name: "lazyfreed_objects counts what UNLINK, lazy DEL and async flushes free, as redis-server",
  ...opts,
  ignore: !hasRedis,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const want = await counts(redis.port);
    // The counts move where Redis frees in the background, and only there.
    deepStrictEqual(want, ["0", "1", "1", "1", "2", "3", "4", "4", "7", "8"]);
    deepStrictEqual(await counts(ours.port), want);
  },
});
