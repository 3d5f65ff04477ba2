/**
 * Client-side caching (CLIENT TRACKING), differentially: each scenario runs on our node and on
 * a real redis-server with the same connections and steps; after every step each connection is
 * drained up to a PING's answer, so everything it received (replies, RESP3 invalidation pushes,
 * __redis__:invalidate messages) is compared in order. Client ids are replaced by names.
 */
import { deepStrictEqual } from "node:assert/strict";
import { encodeValue, type RespValue } from "../shared/resp/mod.ts";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";

if (!hasRedis) console.log("SKIP: redis-server not installed: client tracking tests");

/** A step: [connection, ...command], or a pause in ms. `@X` in a command is X's client id. */
type Step = string[] | number;

interface Scenario {
  name: string;
  /** Connection names; those listed in `resp3` say HELLO 3 first. */
  conns: string[];
  resp3: string[];
  steps: Step[];
  /** Replace invalidated key names (random eviction picks differ between servers). */
  anonymousKeys?: boolean;
}

function text(v: RespValue): string {
  return new TextDecoder("latin1").decode(encodeValue(v));
}

function isPong(v: RespValue): boolean {
  const t = text(v);
  return t === "+PONG\r\n" || t.startsWith("*2\r\n$4\r\npong\r\n");
}

async function run(port: number, sc: Scenario): Promise<string[]> {
  const conns = new Map<string, RawConn>();
  const ids = new Map<string, string>();
  const log: string[] = [];
  const inMulti = new Set<string>();
  try {
    for (const name of sc.conns) {
      const c = await RawConn.connect(port);
      conns.set(name, c);
      ids.set(name, String(await c.call("CLIENT", "ID")));
      if (sc.resp3.includes(name)) await c.call("HELLO", "3");
    }
    const names = (t: string) => {
      let out = t;
      for (const [name, id] of ids) {
        out = out.replace(
          new RegExp(`(redirect\\r\\n|redir-broken\\r\\n|redir=):?${id}\\b`),
          `$1<${name}>`,
        );
      }
      return out;
    };
    for (const step of sc.steps) {
      if (typeof step === "number") {
        await new Promise((r) => setTimeout(r, step));
        continue;
      }
      const [who, ...cmd] = step as [string, ...string[]];
      const conn = conns.get(who)!;
      const args = cmd.map((a) => a.startsWith("@") ? ids.get(a.slice(1))! : a);
      if (args[0] === "QUIT") {
        await conn.call("QUIT");
        conn.close();
        conns.delete(who);
        log.push(`${who} QUIT`);
        continue;
      }
      const reply = await conn.call(...args);
      let shown = text(reply);
      if (args[0] === "CLIENT" && args[1] === "GETREDIR") shown = names(`redirect\r\n${shown}`);
      if (args[0] === "CLIENT" && args[1] === "LIST") {
        shown = (shown.match(/flags=\S+|redir=\S+/g) ?? []).join(" ");
        shown = names(shown);
      }
      if (args[0] === "HELLO") shown = "(hello)";
      if (args[0] === "MULTI") inMulti.add(who);
      if (args[0] === "EXEC") inMulti.delete(who);
      if (args[0] === "INFO") shown = (shown.match(/tracking_\w+:\d+/g) ?? []).join(" ");
      log.push(`${who} ${cmd.join(" ")} -> ${names(shown)}`);
      // Everything each connection got meanwhile, up to its PING's answer.
      for (const [name, c] of conns) {
        // A PING inside MULTI would be queued: that connection is drained after EXEC.
        if (inMulti.has(name)) continue;
        await c.write(new TextEncoder().encode("*1\r\n$4\r\nPING\r\n"));
        for (;;) {
          const v = await c.read();
          if (isPong(v)) break;
          let t = names(text(v));
          if (sc.anonymousKeys) {
            t = t.replace(/invalidate\r\n\*1\r\n\$\d+\r\n[^\r]*/, "invalidate ?");
          }
          log.push(`  ${name} got ${t}`);
        }
      }
    }
  } finally {
    for (const c of conns.values()) c.close();
  }
  return log;
}

const SCENARIOS: Scenario[] = [
  {
    name: "RESP3 default mode: reads tracked, other clients' writes, own writes, expiry, flushes",
    conns: ["A", "B"],
    resp3: ["A"],
    steps: [
      ["A", "CLIENT", "TRACKING", "ON"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["A", "CLIENT", "GETREDIR"],
      ["A", "GET", "k1"],
      ["A", "MGET", "k2", "k3"],
      ["A", "HGET", "h", "f"],
      ["A", "LRANGE", "l", "0", "-1"],
      ["A", "EXISTS", "k4"],
      ["A", "INFO", "all"],
      ["B", "SET", "k1", "v"],
      ["B", "MSET", "k2", "v", "k3", "v"],
      ["B", "HSET", "h", "f", "v"],
      ["B", "RPUSH", "l", "a"],
      ["B", "SET", "k4", "v"],
      ["B", "SET", "k1", "again"],
      ["A", "GET", "k1"],
      ["B", "APPEND", "k1", "x"],
      ["A", "GET", "k5"],
      ["A", "SET", "k5", "mine"],
      ["A", "GET", "k5"],
      ["A", "MULTI"],
      ["A", "GET", "k5"],
      ["A", "DEL", "k5"],
      ["A", "EXEC"],
      ["B", "SET", "e", "v", "PX", "50"],
      ["A", "GET", "e"],
      300,
      ["A", "GET", "k1"],
      ["A", "INFO", "all"],
      ["A", "CLIENT", "LIST", "ID", "@A"],
      ["B", "FLUSHALL"],
      ["A", "FLUSHDB"],
      ["A", "INFO", "all"],
      ["B", "SET", "victim", "v"],
      ["A", "GET", "victim"],
      ["B", "CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
      ["B", "CONFIG", "SET", "maxmemory", "1"],
      ["B", "SET", "other", "v"],
      ["B", "CONFIG", "SET", "maxmemory", "0"],
      ["A", "CLIENT", "TRACKING", "OFF"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["A", "INFO", "all"],
    ],
  },
  {
    name: "RESP2 REDIRECT to a __redis__:invalidate subscriber, then a broken redirect",
    conns: ["A", "B", "R"],
    resp3: [],
    steps: [
      ["R", "SUBSCRIBE", "__redis__:invalidate"],
      ["A", "CLIENT", "TRACKING", "ON", "REDIRECT", "@R"],
      ["A", "CLIENT", "GETREDIR"],
      ["A", "GET", "k1"],
      ["A", "MGET", "k2", "k3"],
      ["B", "SET", "k1", "x"],
      ["B", "MSET", "k2", "x", "k3", "y"],
      ["A", "GET", "k1"],
      ["B", "FLUSHDB"],
      ["A", "GET", "k1"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["R", "QUIT"],
      ["B", "SET", "k1", "z"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["A", "CLIENT", "LIST", "ID", "@A"],
      ["A", "HELLO", "3", "SETNAME", "a"],
      ["A", "GET", "k1"],
      ["B", "SET", "k1", "w"],
      ["A", "CLIENT", "TRACKING", "ON", "REDIRECT", "@B", "REDIRECT", "@B"],
      ["A", "CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
      ["A", "CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
      ["A", "RESET"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["A", "INFO", "all"],
    ],
  },
  {
    name: "BCAST with prefixes, overlapping prefixes, NOLOOP",
    conns: ["A", "B", "N"],
    resp3: ["A", "N"],
    steps: [
      ["A", "CLIENT", "TRACKING", "ON", "PREFIX", "user:"],
      ["A", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"],
      ["A", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "z", "PREFIX", "a", "PREFIX", "ab"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["A", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "zz"],
      ["A", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj:"],
      ["A", "CLIENT", "TRACKING", "ON"],
      ["A", "CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["A", "INFO", "all"],
      ["A", "CLIENT", "LIST", "ID", "@A"],
      ["N", "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "PREFIX", "user:"],
      ["B", "SET", "user:1", "v"],
      ["B", "MSET", "user:1", "v", "user:2", "w", "obj:9", "x", "other", "y"],
      ["B", "SET", "ab", "v"],
      ["A", "SET", "user:3", "mine"],
      ["N", "SET", "user:4", "mine"],
      ["N", "MSET", "user:4", "mine", "user:5", "mine"],
      ["A", "GET", "user:1"],
      ["B", "DEL", "user:1", "other"],
      ["A", "CLIENT", "TRACKING", "OFF"],
      ["B", "SET", "user:1", "v"],
      ["A", "INFO", "all"],
    ],
  },
  {
    name: "NOLOOP, OPTIN and OPTOUT with CLIENT CACHING",
    conns: ["A", "B"],
    resp3: ["A"],
    steps: [
      ["A", "CLIENT", "CACHING", "YES"],
      ["A", "CLIENT", "TRACKING", "ON", "NOLOOP"],
      ["A", "CLIENT", "CACHING", "YES"],
      ["A", "GET", "k"],
      ["A", "SET", "k", "mine"],
      ["A", "GET", "k"],
      ["B", "SET", "k", "theirs"],
      ["A", "CLIENT", "TRACKING", "ON", "OPTOUT"],
      ["A", "CLIENT", "TRACKING", "OFF"],
      ["A", "CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
      ["A", "CLIENT", "TRACKING", "ON", "OPTIN"],
      ["A", "CLIENT", "CACHING", "NO"],
      ["A", "CLIENT", "CACHING", "MAYBE"],
      ["A", "GET", "k"],
      ["B", "SET", "k", "1"],
      ["A", "CLIENT", "CACHING", "YES"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["A", "GET", "k"],
      ["A", "CLIENT", "TRACKINGINFO"],
      ["B", "SET", "k", "2"],
      ["A", "CLIENT", "CACHING", "YES"],
      ["A", "MULTI"],
      ["A", "GET", "k"],
      ["A", "GET", "k2"],
      ["A", "EXEC"],
      ["B", "MSET", "k", "3", "k2", "3"],
      ["A", "CLIENT", "TRACKING", "ON", "OPTOUT"],
      ["A", "CLIENT", "TRACKING", "OFF"],
      ["A", "CLIENT", "TRACKING", "ON", "OPTOUT"],
      ["A", "CLIENT", "CACHING", "NO"],
      ["A", "GET", "k"],
      ["A", "GET", "k3"],
      ["B", "MSET", "k", "4", "k3", "4"],
      ["A", "CLIENT", "TRACKINGINFO"],
    ],
  },
  {
    name: "tracking-table-max-keys drops entries with an invalidation",
    conns: ["A", "B"],
    resp3: ["A"],
    anonymousKeys: true,
    steps: [
      ["B", "CONFIG", "SET", "tracking-table-max-keys", "2"],
      ["A", "CLIENT", "TRACKING", "ON"],
      ["A", "GET", "a"],
      ["A", "GET", "b"],
      ["A", "GET", "c"],
      ["A", "GET", "d"],
      ["A", "INFO", "all"],
      ["B", "CONFIG", "SET", "tracking-table-max-keys", "0"],
    ],
  },
  {
    // Redis 7.0: a script that runs a read-only command tracks the keys it declared, not the
    // keys it read; one that reads nothing (or only pings) tracks nothing.
    name: "scripts and functions track their declared keys once they run a read command",
    conns: ["A", "B"],
    resp3: ["A"],
    steps: [
      ["A", "CLIENT", "TRACKING", "on"],
      ["A", "EVAL", "redis.call('set', 'k3{t}', 'bar')", "2", "k1{t}", "k2{t}"],
      ["B", "MSET", "k2{t}", "1", "k1{t}", "1", "k3{t}", "1"],
      ["A", "EVAL", "redis.call('get', 'k3{t}')", "2", "k1{t}", "k2{t}"],
      ["B", "MSET", "k2{t}", "2", "k1{t}", "2", "k3{t}", "2"],
      ["A", "EVAL_RO", "redis.call('ping')", "2", "k1{t}", "k2{t}"],
      ["B", "MSET", "k2{t}", "3", "k1{t}", "3"],
      ["A", "EVAL_RO", "return redis.call('get', 'k1{t}')", "1", "k2{t}"],
      ["B", "MSET", "k2{t}", "4", "k1{t}", "4"],
      [
        "A",
        "FUNCTION",
        "LOAD",
        "#!lua name=tlib\nredis.register_function{function_name='rd', " +
        "callback=function(keys) return redis.call('get', 'k3{t}') end, flags={'no-writes'}}",
      ],
      ["A", "FCALL_RO", "rd", "1", "k1{t}"],
      ["B", "MSET", "k2{t}", "5", "k1{t}", "5", "k3{t}", "5"],
      ["A", "FUNCTION", "FLUSH"],
    ],
  },
  {
    name: "streams, HyperLogLog, GEO and SORT: their reads are tracked, their writes invalidate",
    conns: ["A", "B"],
    resp3: ["A"],
    steps: [
      ["B", "XADD", "x", "1-1", "f", "v"],
      ["B", "PFADD", "hll", "a", "b"],
      ["B", "GEOADD", "geo", "13.361389", "38.115556", "Palermo"],
      ["B", "RPUSH", "l", "2", "1"],
      ["A", "CLIENT", "TRACKING", "ON"],
      ["A", "XRANGE", "x", "-", "+"],
      ["A", "PFCOUNT", "hll"],
      ["A", "GEOPOS", "geo", "Palermo"],
      ["A", "SORT_RO", "l"],
      ["A", "INFO", "all"],
      // Group bookkeeping is no modification of the key in Redis 7.0: nothing is invalidated.
      ["B", "XGROUP", "CREATE", "x", "g", "0"],
      ["B", "XGROUP", "CREATECONSUMER", "x", "g", "c1"],
      ["B", "XREADGROUP", "GROUP", "g", "c2", "STREAMS", "x", ">"],
      ["B", "XACK", "x", "g", "1-1"],
      ["B", "XSETID", "x", "5-0"],
      ["B", "XADD", "x", "6-1", "f", "v"],
      ["A", "XLEN", "x"],
      ["A", "XREAD", "STREAMS", "x", "0"],
      ["B", "XDEL", "x", "6-1"],
      ["A", "XINFO", "STREAM", "x"],
      ["B", "XTRIM", "x", "MAXLEN", "0"],
      ["B", "PFADD", "hll", "a"],
      ["B", "PFADD", "hll", "c"],
      ["A", "PFCOUNT", "hll"],
      ["B", "PFCOUNT", "hll"],
      ["B", "PFADD", "hll", "d"],
      ["A", "PFCOUNT", "hll", "nohll"],
      // Caching the count changes the value: the key is signalled, the reader invalidated.
      ["B", "PFCOUNT", "hll"],
      ["A", "GET", "hll"],
      ["B", "PFCOUNT", "hll"],
      ["B", "PFADD", "hll", "e"],
      ["A", "GET", "hll"],
      // The reader's own count is signalled too: it is told after its reply.
      ["A", "PFCOUNT", "hll"],
      ["A", "PFCOUNT", "hll"],
      ["B", "PFMERGE", "hll", "hll"],
      ["B", "GEOADD", "geo", "13.361389", "38.115556", "Palermo"],
      ["B", "GEOADD", "geo", "15.087269", "37.502669", "Catania"],
      ["A", "GEODIST", "geo", "Palermo", "Catania"],
      ["A", "GEOSEARCH", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "500", "km"],
      ["A", "GET", "dst"],
      ["B", "GEOSEARCHSTORE", "dst", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "500", "km"],
      ["A", "ZRANGE", "dst", "0", "-1"],
      ["B", "SORT", "l", "STORE", "dst"],
      ["A", "LRANGE", "dst", "0", "-1"],
      ["B", "SORT", "nolist", "STORE", "dst"],
      ["A", "SORT_RO", "l"],
      ["B", "RPUSH", "l", "3"],
      ["A", "INFO", "all"],
    ],
  },
];

for (const sc of SCENARIOS) {
  Deno.test({
    name: `client tracking matches redis-server: ${sc.name}`,
    ignore: !hasRedis,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using ours = await startDataNode();
      await using redis = await startRedisServer();
      const [a, b] = [await run(ours.port, sc), await run(redis.port, sc)];
      const diffs = a.map((x, i) => ({ i, ours: x, redis: b[i] }))
        .filter((d) => d.ours !== d.redis);
      deepStrictEqual(diffs.slice(0, 10), []);
      deepStrictEqual(a.length, b.length);
      // The scenarios are about invalidations: some must have been received.
      deepStrictEqual(a.some((line) => line.includes("invalidate")), true);
    },
  });
}

Deno.test({
  name: "node-redis's client-side cache (RESP3) serves hits and drops entries our node invalidates",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await import("redis");
    if (typeof redis.BasicClientSideCache !== "function") {
      console.log("SKIP: this node-redis has no BasicClientSideCache (clientSideCache option)");
      return;
    }
    await using node = await startDataNode();
    const url = `redis://127.0.0.1:${node.port}`;
    const cache = new redis.BasicClientSideCache({ ttl: 0, maxEntries: 0 });
    const cached = redis.createClient({ url, RESP: 3, clientSideCache: cache });
    const writer = redis.createClient({ url });
    await cached.connect();
    await writer.connect();
    try {
      await writer.set("csc:k", "1");
      deepStrictEqual(await cached.get("csc:k"), "1");
      deepStrictEqual(await cached.get("csc:k"), "1");
      deepStrictEqual(cache.stats().hitCount, 1);
      deepStrictEqual(cache.size(), 1);
      await writer.set("csc:k", "2");
      await eventually(() => cache.size() === 0, "the cached entry invalidated");
      deepStrictEqual(await cached.get("csc:k"), "2");
      deepStrictEqual(cache.stats().missCount, 2);
      deepStrictEqual(cache.size(), 1);
      await writer.flushAll();
      await eventually(() => cache.size() === 0, "a flush empties the cache");
    } finally {
      await cached.close().catch(() => {});
      await writer.close().catch(() => {});
    }
  },
});

/** The invalidation a tracking client gets, reading only, once the table limit is lowered. */
async function idleTableLimit(port: number): Promise<string> {
  using a = await RawConn.connect(port);
  using b = await RawConn.connect(port);
  await a.call("HELLO", "3");
  await a.call("CLIENT", "TRACKING", "on");
  await b.call("MSET", "k1", "1", "k2", "2");
  await a.call("MGET", "k1", "k2");
  await b.call("CONFIG", "SET", "tracking-table-max-keys", "1");
  // Nothing more is sent: the server's timer must do it.
  const pushed = text(await a.read(3000)).replace(/k[12]/, "k?");
  await b.call("CONFIG", "SET", "tracking-table-max-keys", "1000000");
  return pushed;
}

Deno.test({
  name: "client tracking: an idle server drops tracked keys over tracking-table-max-keys",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const expected = await idleTableLimit(redis.port);
    deepStrictEqual(expected, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk?\r\n");
    deepStrictEqual(await idleTableLimit(ours.port), expected);
  },
});

/** A lowered table limit with the timer paused: the next command (queued) invalidates first. */
async function pausedCronLimit(port: number): Promise<string[]> {
  using a = await RawConn.connect(port);
  using b = await RawConn.connect(port);
  await b.call("CONFIG", "SET", "tracking-table-max-keys", "2");
  await b.call("DEBUG", "PAUSE-CRON", "1");
  await a.call("HELLO", "3");
  await a.call("CLIENT", "TRACKING", "on");
  await a.call("MGET", "1{t}", "2{t}");
  await a.call("MULTI");
  await b.call("CONFIG", "SET", "tracking-table-max-keys", "1");
  const out = [text(await a.call("PING"))];
  out.push(text(await a.read()), text(await a.call("EXEC")));
  await b.call("DEBUG", "PAUSE-CRON", "0");
  await b.call("CONFIG", "SET", "tracking-table-max-keys", "1000000");
  return out.map((t) => t.replace(/[12]\{t\}/, "?{t}"));
}

Deno.test({
  name: "client tracking: DEBUG PAUSE-CRON, then a queued command applies a lowered table limit",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const debug = ["--enable-debug-command", "yes"];
    await using ours = await startDataNode(debug);
    await using redis = await startRedisServer(debug);
    const expected = await pausedCronLimit(redis.port);
    deepStrictEqual(expected[0], ">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\n?{t}\r\n");
    deepStrictEqual(await pausedCronLimit(ours.port), expected);
  },
});
