/**
 * MONITOR as redis-server 7.0 feeds it: the monitoring client sees its own commands after their
 * replies, and nothing once it has set CLIENT REPLY OFF. Run against both servers.
 */
import { deepStrictEqual } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";

if (!hasRedis) {
  console.log("SKIP: MONITOR comparison with redis-server: redis-server not installed");
}

async function transcript(port: number): Promise<string[]> {
  const seen: string[] = [];
  using mon = await RawConn.connect(port);
  using other = await RawConn.connect(port);
  seen.push(String(await mon.call("MONITOR")));
  seen.push(String(await mon.call("PING")));
  // The monitor line of its own PING follows the reply; keep only the command part.
  seen.push(String(await mon.read()).replace(/^[\d.]+ \[0 [^\]]+\] /, ""));
  await other.call("SET", "a", "1");
  seen.push(String(await mon.read()).replace(/^[\d.]+ \[0 [^\]]+\] /, ""));
  await mon.write(new TextEncoder().encode("CLIENT REPLY OFF\r\n"));
  await other.call("SET", "b", "2");
  await other.call("PING");
  // Nothing more reaches the monitor: the next read times out (a closed connection fails).
  const more = await mon.read(300).then((v) => String(v), (e: Error) => {
    if (e.message !== "timed out waiting for a reply") throw e;
    return "nothing";
  });
  seen.push(more);
  return seen;
}

Deno.test({
  name: "MONITOR: own commands are shown, and CLIENT REPLY OFF silences the feed, as in Redis",
  ignore: !hasRedis,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const expected = await transcript(redis.port);
    deepStrictEqual(expected, ["OK", "PONG", '"PING"', '"SET" "a" "1"', "nothing"]);
    deepStrictEqual(await transcript(ours.port), expected);
  },
});
