/**
 * SORT in cluster mode, against a real redis-server 7.0 in cluster mode: BY with a pattern and
 * any GET are refused (Redis 7.0 refuses them whatever slot the pattern names); BY without
 * "*" (no sorting) and plain sorting still work. Standalone SORT with BY/GET is covered by
 * the conformance cases.
 */
import { deepStrictEqual } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import type { RespValue } from "../shared/resp/mod.ts";

if (!hasRedis) console.log("SKIP: redis-server not installed: SORT in cluster mode");

const CALLS: string[][] = [
  ["RPUSH", "{a}l", "3", "1", "2"],
  ["SET", "{a}w_1", "9"],
  ["SORT", "{a}l"],
  ["SORT", "{a}l", "DESC", "LIMIT", "0", "2"],
  ["SORT", "{a}l", "BY", "nosort"],
  ["SORT", "{a}l", "BY", "{a}w_*"],
  ["SORT", "{a}l", "BY", "w_*"],
  ["SORT", "{a}l", "GET", "#"],
  ["SORT", "{a}l", "GET", "{a}w_*"],
  ["SORT", "{a}l", "BY", "nosort", "GET", "#"],
  ["SORT_RO", "{a}l", "BY", "{a}w_*"],
  ["SORT_RO", "{a}l", "GET", "#"],
  ["SORT", "{a}l", "STORE", "{a}dst"],
  ["LRANGE", "{a}dst", "0", "-1"],
  ["SORT", "{a}l", "STORE", "{b}dst"],
];

async function replies(port: number): Promise<string[]> {
  using c = await RawConn.connect(port);
  await c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
  await eventually(
    async () => String(await c.call("CLUSTER", "INFO")).includes("cluster_state:ok"),
    "cluster_state:ok",
  );
  const out: string[] = [];
  for (const call of CALLS) {
    const r: RespValue = await c.call(...call).catch((e: Error) => `error: ${e.message}`);
    out.push(`${call.join(" ")} -> ${JSON.stringify(r)}`);
  }
  return out;
}

Deno.test({
  name: "SORT in cluster mode refuses BY patterns and GET as redis-server 7.0 does",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode(["--cluster-enabled", "yes"]);
    await using redis = await startRedisServer(["--cluster-enabled", "yes"]);
    const got = await replies(ours.port);
    deepStrictEqual(got, await replies(redis.port));
    // The refusals are there (not two servers failing alike for another reason).
    deepStrictEqual(got.filter((l) => l.includes("denied in Cluster mode")).length, 7);
  },
});
