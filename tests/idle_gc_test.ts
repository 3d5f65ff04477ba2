/**
 * The data node's idle collections (data-node/server/idle_gc.ts): after a load that grew the heap,
 * full collections run once no command has arrived for a second, and none runs while
 * commands keep coming; the resident size (`used_memory_rss`) falls back from the load's.
 */
import { ok } from "node:assert/strict";
import { startDataNode } from "./helpers/process.ts";
import { RedisClient } from "../shared/client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function field(info: string, name: string): number {
  const m = new RegExp(`^${name}:(-?[0-9.]+)\\r?$`, "m").exec(info);
  if (!m) throw new Error(`${name} missing from INFO: ${info}`);
  return Number(m[1]);
}

Deno.test("idle gc: collections after a load once idle, none while commands flow", async () => {
  await using node = await startDataNode(["--enable-debug-command", "yes"]);
  const c = await RedisClient.connect({ port: node.port, commandTimeoutMs: 30000 });
  try {
    const v8 = async () => String(await c.call("INFO", "v8"));
    const startRuns = field(await v8(), "v8_idle_collections");
    ok(startRuns >= 0, "gc() is exposed to the data node (its --v8-flags)");
    // A load that leaves garbage behind: hashes built field by field (each HSET of a listpack
    // hash builds a new string), about 40 MB of heap growth in all.
    for (let i = 0; i < 40000; i += 500) {
      const batch: string[][] = [];
      for (let k = i; k < i + 500; k++) {
        for (let f = 0; f < 10; f++) {
          batch.push(["HSET", `h:${k}`, `field:${f}`, `value:${k}:${f}`]);
        }
      }
      await c.pipeline(batch);
    }
    const heapLoaded = field(await v8(), "v8_total_heap_size");
    // Commands keep flowing for 2.5 s, a PING every 50 ms: no collection yet.
    for (let t = 0; t < 2500; t += 50) {
      await c.call("PING");
      await sleep(50);
    }
    const during = await v8();
    ok(field(during, "v8_idle_collections") === startRuns, `collected while busy: ${during}`);
    const rssLoaded = field(String(await c.call("INFO", "memory")), "used_memory_rss");
    // Idle (INFO is a command too, so it is asked only every 2.5 s): the collection comes
    // after a second without commands.
    let runs = startRuns;
    for (let attempt = 0; attempt < 6 && runs === startRuns; attempt++) {
      await sleep(2500);
      runs = field(await v8(), "v8_idle_collections");
    }
    if (runs === startRuns) {
      // V8's own memory reducer may give the load's heap back first (it runs when allocation
      // slows down, as in the PING phase); then the growth is gone and no idle collection is
      // due. The heap must have come back either way.
      const heapIdle = field(await v8(), "v8_total_heap_size");
      ok(
        heapIdle < heapLoaded * 0.8,
        `no idle collection, yet the heap is ${heapIdle} (${heapLoaded} after the load)`,
      );
      console.log("idle gc: V8 gave the heap back itself before the node turned idle");
    } else {
      const rssIdle = field(String(await c.call("INFO", "memory")), "used_memory_rss");
      ok(rssIdle < rssLoaded, `resident ${rssLoaded} after the load, ${rssIdle} once collected`);
    }
    // The data is intact.
    ok(Number(await c.call("DBSIZE")) === 40000);
    ok(String(await c.call("HGET", "h:39999", "field:9")) === "value:39999:9");
    // Idle again and nothing grew: no more collections.
    await sleep(2500);
    ok(field(await v8(), "v8_idle_collections") === runs);
  } finally {
    await c.close();
  }
});
