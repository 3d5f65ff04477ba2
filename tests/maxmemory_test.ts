/** maxmemory: the OOM error under noeviction, and each eviction policy's choice of victims. */
import { equal, match, ok } from "node:assert/strict";
import { hasRedis, startDataNode, startRedisServer, withTempDir } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { incrCommands } from "./helpers/aof.ts";
import { RespError } from "../shared/resp/mod.ts";

if (!hasRedis) {
  console.log("SKIP: redis-server not installed: the redis-server variants of this file");
}

const opts = { sanitizeOps: false, sanitizeResources: false };
const VALUE = "v".repeat(1000);

async function fill(c: RawConn, prefix: string, n: number, ttl = false): Promise<void> {
  for (let i = 0; i < n; i++) {
    const args = ["SET", `${prefix}${i}`, VALUE];
    if (ttl) args.push("EX", String(1000 + i));
    await c.call(...args);
  }
}

async function used(c: RawConn): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(String(await c.call("INFO", "memory")))![1]);
}

Deno.test({
  name: "noeviction refuses writes with Redis's OOM error but serves reads and deletes",
  ...opts,
  fn: async () => {
    await using n = await startDataNode([
      "--maxmemory",
      "1200kb",
      "--maxmemory-policy",
      "noeviction",
    ]);
    using c = await RawConn.connect(n.port);
    let oom: RespError | null = null;
    for (let i = 0; i < 1000 && !oom; i++) {
      const r = await c.call("SET", `k${i}`, VALUE);
      if (r instanceof RespError) oom = r;
    }
    ok(oom, "writes must eventually be refused");
    equal(oom.message, "OOM command not allowed when used memory > 'maxmemory'.");
    equal(await c.call("GET", "k0"), VALUE);
    equal(await c.call("DEL", "k0", "k1", "k2"), 3);
    match(String(await c.call("INFO", "memory")), /maxmemory_policy:noeviction/);
  },
});

Deno.test({
  name: "allkeys-lru keeps memory under maxmemory and evicts the least recently used",
  ...opts,
  fn: async () => {
    await using n = await startDataNode([
      "--maxmemory",
      "1500kb",
      "--maxmemory-policy",
      "allkeys-lru",
      "--maxmemory-samples",
      "10",
    ]);
    using c = await RawConn.connect(n.port);
    await fill(c, "old", 300);
    // Touch a hot set, then write more: the cold keys should go first.
    await new Promise((r) => setTimeout(r, 1100));
    for (let i = 0; i < 50; i++) await c.call("GET", `old${i}`);
    await fill(c, "new", 600);
    ok((await used(c)) <= 1500 * 1024 + 2048, "memory stays around maxmemory");
    const evicted = Number(/evicted_keys:(\d+)/.exec(String(await c.call("INFO", "stats")))![1]);
    ok(evicted > 0);
    let hot = 0;
    for (let i = 0; i < 50; i++) hot += await c.call("EXISTS", `old${i}`) as number;
    let cold = 0;
    for (let i = 50; i < 300; i++) cold += await c.call("EXISTS", `old${i}`) as number;
    ok(hot / 50 > cold / 250, `hot keys survive more often (hot ${hot}/50, cold ${cold}/250)`);
  },
});

Deno.test({
  name: "volatile policies only evict keys with a TTL; volatile-ttl the nearest expiry first",
  ...opts,
  fn: async () => {
    await using n = await startDataNode([
      "--maxmemory",
      "1200kb",
      "--maxmemory-policy",
      "volatile-ttl",
    ]);
    using c = await RawConn.connect(n.port);
    await fill(c, "keep", 100);
    await fill(c, "ttl", 400, true);
    equal(await c.call("EXISTS", ...Array.from({ length: 100 }, (_, i) => `keep${i}`)), 100);
    // Eviction samples keys as Redis does, so the order is approximate: the keys expiring last
    // survive far more often than those expiring first.
    const alive = async (from: number) =>
      Number(await c.call("EXISTS", ...Array.from({ length: 100 }, (_, i) => `ttl${from + i}`)));
    const [early, late] = [await alive(0), await alive(300)];
    ok(
      late > 50 && early < late,
      `nearest expiries go first (early ${early}/100, late ${late}/100)`,
    );
    equal(String(await c.call("CONFIG", "SET", "maxmemory-policy", "volatile-lru")), "OK");
    const r = await c.call("SET", "more", "x".repeat(200000));
    ok(!(r instanceof RespError) || r.message.startsWith("OOM"));
    equal(await c.call("EXISTS", "keep0"), 1, "keys without TTL are never evicted");
  },
});

Deno.test({
  name: "allkeys-lfu tracks access frequency (OBJECT FREQ) and allkeys-random evicts",
  ...opts,
  fn: async () => {
    await using n = await startDataNode([
      "--maxmemory",
      "1500kb",
      "--maxmemory-policy",
      "allkeys-lfu",
    ]);
    using c = await RawConn.connect(n.port);
    await c.call("SET", "hot", "1");
    for (let i = 0; i < 200; i++) await c.call("GET", "hot");
    ok((await c.call("OBJECT", "FREQ", "hot") as number) > 5);
    await fill(c, "k", 900);
    equal(await c.call("EXISTS", "hot"), 1);
    equal(String(await c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")), "OK");
    await fill(c, "r", 300);
    ok((await used(c)) <= 1500 * 1024 + 2048);
  },
});

Deno.test({
  name: "eviction cut short by its time limit lets the write run and goes on in the background",
  ...opts,
  fn: async () => {
    await using n = await startDataNode([
      "--maxmemory",
      "16mb",
      "--maxmemory-policy",
      "allkeys-random",
      "--enable-debug-command",
      "yes",
    ]);
    using c = await RawConn.connect(n.port);
    equal(String(await c.call("DEBUG", "POPULATE", "120000")), "OK");
    // Under the limit: the 12 MB value goes in, and leaves the node 9 MB over it. The next write
    // needs about 80,000 small keys evicted, more than one call's time limit allows: Redis lets
    // it run while eviction continues (EVICT_RUNNING).
    equal(String(await c.call("SET", "big", "b".repeat(12_000_000))), "OK");
    equal(String(await c.call("SET", "small", "s")), "OK");
    const limit = 16 * 1024 * 1024;
    let mem = await used(c);
    for (let waited = 0; waited < 5000 && mem > limit; waited += 100) {
      await new Promise((res) => setTimeout(res, 100));
      mem = await used(c);
    }
    ok(mem <= limit, `used_memory ${mem} back under maxmemory ${limit}`);
  },
});

/**
 * Evictions propagate as bare DELs, never inside MULTI/EXEC, however many one round frees (Redis
 * 7.0 propagates them with propagate_no_multi): here after CONFIG SET maxmemory 1, read back
 * from the AOF, next to redis-server.
 */
for (const impl of ["ours", "redis"] as const) {
  Deno.test({
    name: `maxmemory: evictions reach the AOF as bare DELs (${impl})`,
    ignore: impl === "redis" && !hasRedis,
    ...opts,
    fn: () =>
      withTempDir(async (dir) => {
        const args = ["--appendonly", "yes", "--appendfsync", "always"];
        await using node = impl === "ours"
          ? await startDataNode(args, { dir })
          : await startRedisServer(args, { dir });
        using c = await RawConn.connect(node.port);
        for (const k of ["asdf1", "asdf2", "asdf3"]) {
          equal(String(await c.call("SET", k, "1")), "OK");
        }
        equal(String(await c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")), "OK");
        equal(String(await c.call("CONFIG", "SET", "maxmemory", "1")), "OK");
        // No command meanwhile: the server's own eviction timer evicts.
        await new Promise((r) => setTimeout(r, 300));
        await eventually(async () => (await c.call("DBSIZE")) === 0, "every key evicted");
        equal(String(await c.call("CONFIG", "SET", "maxmemory", "0")), "OK");
        equal(String(await c.call("SET", "asdf4", "4")), "OK");
        const names = incrCommands(dir).map((cmd) => cmd.split(" ")[0]!.toLowerCase());
        equal(names.join(" "), "set set set del del del set");
      }),
  });
}
