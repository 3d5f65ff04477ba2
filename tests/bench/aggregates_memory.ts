/**
 * Resident bytes per key of small aggregates, ours vs redis-server in the same run: for each of
 * hash, sorted set, list and set (and plain strings, for reference), a fresh server of each
 * kind gets keys of 10 short elements ("member:1".."member:10", "value:1".."value:10").
 *
 * Three figures per server, in bytes per key:
 * - load:     RSS growth over the first `--keys` keys, read 3 s after the load (our node
 *             collects the load's garbage once idle for a second: data-node/server/idle_gc.ts);
 * - settled:  the same after waiting up to 10 s more for the resident size to fall by a fifth
 *             (V8's own memory reducer, should the idle collection not have run; redis-server
 *             frees at once, so its figure is the load's);
 * - marginal: RSS growth over `--keys` more keys, settled, per key: the cost of one more key,
 *             without fixed costs such as V8's young generation (about 19 MB once grown).
 * Also OBJECT ENCODING of one key and MEMORY USAGE of it on each server.
 *
 *   deno run -A tests/bench/aggregates_memory.ts [--keys N] [--types string,hash,zset,list,set]
 */
import { parseArgs } from "node:util";
import { type ManagedProcess, startDataNode, startRedisServer, which } from "../helpers/process.ts";
import { type Arg, RedisClient } from "../../shared/client.ts";

const { values } = parseArgs({
  options: {
    keys: { type: "string", default: "100000" },
    types: { type: "string", default: "string,hash,zset,list,set" },
  },
});
const N = Number(values.keys);

const COMMANDS: Record<string, (key: string) => Arg[]> = {
  // For reference: one short string per key.
  string: (k) => ["SET", k, "value:1"],
  hash: (k) => {
    const a: Arg[] = ["HSET", k];
    for (let i = 1; i <= 10; i++) a.push(`member:${i}`, `value:${i}`);
    return a;
  },
  zset: (k) => {
    const a: Arg[] = ["ZADD", k];
    for (let i = 1; i <= 10; i++) a.push(String(i), `member:${i}`);
    return a;
  },
  list: (k) => {
    const a: Arg[] = ["RPUSH", k];
    for (let i = 1; i <= 10; i++) a.push(`value:${i}`);
    return a;
  },
  set: (k) => {
    const a: Arg[] = ["SADD", k];
    for (let i = 1; i <= 10; i++) a.push(`member:${i}`);
    return a;
  },
};

function rss(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 10 s) for a garbage collection to shrink the process; its RSS then. */
async function settle(pid: number): Promise<number> {
  const start = rss(pid);
  for (let waited = 0; waited < 10000; waited += 1000) {
    await sleep(1000);
    if (rss(pid) < start * 0.8) break;
  }
  await sleep(1000);
  return rss(pid);
}

async function perKey(start: () => Promise<ManagedProcess>, type: string, gcs: boolean) {
  await using p = await start();
  const c = await RedisClient.connect({ port: p.port, commandTimeoutMs: 0 });
  const make = COMMANDS[type]!;
  const load = async (from: number) => {
    for (let i = from; i < from + N; i += 1000) {
      const batch: Arg[][] = [];
      for (let j = i; j < Math.min(from + N, i + 1000); j++) batch.push(make(`key:${j}`));
      await c.pipeline(batch);
    }
    await sleep(3000);
  };
  try {
    await sleep(300);
    const before = rss(p.pid);
    await load(0);
    const loaded = rss(p.pid);
    const settled = gcs ? await settle(p.pid) : loaded;
    await load(N);
    const more = gcs ? await settle(p.pid) : rss(p.pid);
    const enc = String(await c.call("OBJECT", "ENCODING", "key:0"));
    const usage = Number(await c.call("MEMORY", "USAGE", "key:0"));
    return {
      load: (loaded - before) / N,
      settled: (settled - before) / N,
      marginal: (more - settled) / N,
      enc,
      usage,
    };
  } finally {
    await c.close();
  }
}

if (!which("redis-server")) {
  console.log("SKIP: redis-server not installed; nothing to compare against");
} else {
  console.log(`${N} keys of 10 elements; resident bytes per key (redis / ours / ratio)`);
  console.log(
    "type            load               settled             marginal       encoding  " +
      "MEMORY USAGE",
  );
  const f = (r: number, o: number) =>
    `${r.toFixed(0).padStart(5)}${o.toFixed(0).padStart(6)}${(o / r).toFixed(2).padStart(6)}  `;
  for (const type of values.types!.split(",")) {
    const r = await perKey(() => startRedisServer(), type, false);
    const o = await perKey(() => startDataNode(), type, true);
    console.log(
      `${type.padEnd(7)}${f(r.load, o.load)}${f(r.settled, o.settled)}${f(r.marginal, o.marginal)}${
        `${r.enc}/${o.enc}`.padEnd(22)
      } ${r.usage}/${o.usage}`,
    );
  }
}
