/**
 * `deno task bench`: our data node against a real redis-server, both measured in the same run,
 * with every figure reported as a ratio ours/redis. The run ends with a summary of the targets
 * below: for each group its worst and best ratio and whether the run met the target.
 *
 * Sections (all by default; choose with --sections a,b):
 *   throughput   redis-benchmark SET GET INCR MSET at -c 50 -P 1, -c 50 -P 16 and -c 1 -P 1:
 *                ops/s and server CPU µs per request (utime + stime of the server process from
 *                /proc over the run, divided by requests). On 2 cores redis-benchmark itself is
 *                often the bottleneck, so CPU per request is the steadier figure.
 *   types        the same for LPUSH LPOP SADD HSET ZADD at -c 50 -P 1 and -c 50 -P 16
 *   suite        redis-benchmark's default test list (ops/s)
 *   families     EVALSHA of a small script, XADD, XREADGROUP, PFADD and GEOADD through
 *                redis-benchmark's arbitrary-command mode at -c 50 -P 1: ops/s and server CPU µs
 *                per request (XREADGROUP reads a stream filled beforehand, one entry per call)
 *   persistence  SAVE time and the worst PING during a BGSAVE of --keys keys made by DEBUG
 *                POPULATE, each server on its own data; then startup load of the one dump.rdb
 *                that redis-server wrote, copied into a fresh directory for each server: seconds
 *                from spawn until the server answers PING and DBSIZE equals --keys, plus the load
 *                time the server logs ("DB loaded from disk")
 *   memory       resident bytes per key (VmRSS from /proc before and 3 s after) for --keys
 *                strings made by DEBUG POPULATE
 *   collections  resident bytes per key for --type-keys small hashes, sorted sets, lists and
 *                sets of 10 short (non-integer) elements each, a fresh server per type, built
 *                with pipelined HSET/ZADD/RPUSH/SADD from this process
 *   stream-memory  resident bytes per entry of one stream of small entries (`XADD s * f v`,
 *                pipelined from this process), a fresh server each: the growth over the first
 *                --keys entries ("load"), then over --keys more ("marginal": the cost of one
 *                more entry, without one-time costs such as V8's young generation and code,
 *                about 10 MB on our node); the target is judged on the marginal figure
 *   heap         JavaScript heap bytes our node allocates per request over pipelined and
 *                unpipelined GET and SET runs of redis-benchmark (ours only: redis-server has no
 *                garbage-collected heap, so there is no ratio and no target)
 *   replication  redis-server -> redis-server and ours -> ours, side by side:
 *                - full sync of --keys DEBUG POPULATE keys, disk-based (repl-diskless-sync no)
 *                  and diskless (yes, repl-diskless-sync-delay 0), fresh master and replica each
 *                  time: seconds from REPLICAOF until the replica's master_link_status is up and
 *                  its DBSIZE equals --keys; MB/s from the size of the RDB the replica received
 *                  (the dump.rdb it keeps, as both servers do with repl-diskless-load disabled)
 *                - lag under load: a master and one replica, redis-benchmark SET -c 50 -P 16
 *                  -r 100000 (10x --requests) on the master while master_repl_offset is read from
 *                  both every 50 ms (the two INFO calls sent together); lag = master - replica
 *                  in bytes, p50/p99/max over the samples, and the time to catch up after it
 *                - master CPU µs per SET at -c 50 -P 16 and -P 1 with 0, 1 and 2 replicas
 *                  attached, counted until every replica has applied the run (each replica's own
 *                  CPU per request is shown too)
 *   sentinel     failover of a master, 2 replicas and 3 sentinels (down-after-milliseconds 1000,
 *                failover-timeout 10000), ours + our sentinels against redis-server +
 *                redis-sentinel, a fresh group per round: ms from SIGKILL of the master to the
 *                first INCR acknowledged by the new master through ioredis in Sentinel mode, and
 *                the acknowledged writes lost, without WAIT and with WAIT 1 100 after each write
 *                (--failovers rounds of each; see sentinel.ts)
 *   cluster      3 masters + 3 replicas (cluster-node-timeout 1000): redis-benchmark --cluster SET
 *                GET at -P 1 and -P 16 with CPU per request summed over the masters; failover
 *                time through ioredis Redis.Cluster (--failovers rounds, the killed node restarted
 *                in between); redis-cli --cluster reshard of --reshard-slots slots holding --keys
 *                keys (default 100,000 here); bus messages, bytes and CPU per node of idle
 *                masters-only clusters of --bus-sizes nodes over --bus-seconds, with a linear
 *                model extrapolated to 100 and 1000 nodes (see cluster.ts)
 *
 * Targets (in the summary):
 *   CPU per request <= 1.3x redis-server's for SET GET INCR LPUSH HSET ZADD at -c 50 -P 1 and at
 *   -c 50 -P 16; ops/s >= 1.0x for the same tests at -c 50 -P 1; RSS per key <= 1.5x for the
 *   DEBUG POPULATE strings, for each small collection type and per small stream entry; startup
 *   load time of Redis's dump.rdb <= 1.5x; full sync time <= 1.5x (disk-based and diskless); master CPU per request
 *   with 2 replicas <= 1.3x redis-server's with 2 replicas (SET -c 50 -P 16 and -P 1);
 *   CPU per request <= 1.5x for EVALSHA XADD XREADGROUP PFADD GEOADD at -c 50 -P 1;
 *   Sentinel failover time <= 1.0x (median and max); 0 acknowledged writes lost with WAIT 1;
 *   cluster CPU per request over the masters <= 1.3x; cluster failover time <= 1.0x (median);
 *   reshard keys/s >= 1.0x. A measurement of ours that breaks (a failover that never completes)
 *   is reported as FAILED and misses its target.
 *
 * How the heap figure is measured: `INFO v8` (a section of ours that INFO all/everything leave
 * out) reports V8's total_allocated_bytes, the engine's count of every byte allocated on the
 * JavaScript heap since startup. Its growth over a redis-benchmark run, divided by the growth of
 * total_commands_processed, is the heap allocated per command. In these runs the keyspace does
 * not grow (redis-benchmark without -r reuses one key), so what is allocated is garbage the
 * collector must reclaim. The counter advances in allocation-buffer steps (up to a few hundred
 * KB), which is well under 1% of a run at the default sizes; the INFO calls that read it, and the
 * CONFIG GET redis-benchmark sends per run, are counted too (a few KB). Buffers outside the heap
 * (socket reads and writes) are not in the figure.
 *
 * Rounds: each CPU per request and ops/s figure of the throughput, types, families, replication
 * (master CPU) and cluster (throughput) sections, the startup load time and the RSS per key of
 * the memory and collections sections, is the median of --rounds measurements (3 by default, 1
 * with --quick), taken alternately from redis-server and ours (a fresh server each time where
 * the section starts one), so that a burst of other load on the machine, or a collection that
 * comes late, moves one round rather than the ratio.
 *
 *   deno task bench [--requests N] [--keys N] [--type-keys N] [--sections a,b] [--json]
 *                   [--tests set,get] [--configs c50p1,c1p1] [--suite-requests N] [--quick]
 *                   [--failovers N] [--reshard-slots N] [--bus-sizes 3,6,12] [--bus-seconds N]
 *                   [--cluster-parts throughput,failover,reshard,bus] [--rounds N]
 *
 * --requests is per test at -c 50 -P 1 (pipelined runs make 10x as many, -c 1 runs 0.2x);
 * --type-keys defaults to --keys / 10; --json prints the results and the summary as JSON only.
 * --quick is a quick run: --keys 20000 --requests 20000 --rounds 1 unless given. At the default
 * sizes the replication section takes about 1.5 minutes on 2 cores (`--sections replication`,
 * 3 rounds). --quick also makes 1 failover round, a reshard of 100 slots and 5,000 keys, bus
 * sizes 3,6 for 2 s.
 * --cluster-parts runs only some parts of the cluster section (all four by default).
 */
import { parseArgs } from "node:util";
import {
  dataNodeCommand,
  freePort,
  ManagedProcess,
  startDataNode,
  startRedisServer,
  which,
} from "../helpers/process.ts";
import { type Arg, RedisClient } from "../../shared/client.ts";
import {
  cpuSeconds,
  interleaved,
  percentile,
  progress,
  ratio,
  redisBenchmark,
  sleep,
  type Target,
} from "./common.ts";
import {
  printSentinel,
  type SentinelReport,
  sentinelSection,
  sentinelTargets,
} from "./sentinel.ts";
import {
  CLUSTER_PARTS,
  type ClusterPart,
  type ClusterReport,
  clusterSection,
  clusterTargets,
  printCluster,
} from "./cluster.ts";

const ALL_SECTIONS = [
  "throughput",
  "types",
  "suite",
  "families",
  "persistence",
  "memory",
  "collections",
  "stream-memory",
  "heap",
  "replication",
  "sentinel",
  "cluster",
];

const { values } = parseArgs({
  options: {
    requests: { type: "string" },
    "suite-requests": { type: "string" },
    tests: { type: "string", default: "set,get,incr,mset" },
    configs: { type: "string", default: "c50p1,c50p16,c1p1,c50p16r" },
    "type-tests": { type: "string", default: "lpush,lpop,sadd,hset,zadd" },
    "type-configs": { type: "string", default: "c50p1,c50p16" },
    json: { type: "boolean", default: false },
    sections: { type: "string", default: ALL_SECTIONS.join(",") },
    keys: { type: "string" },
    quick: { type: "boolean", default: false },
    "type-keys": { type: "string" },
    failovers: { type: "string" },
    "reshard-slots": { type: "string" },
    "bus-sizes": { type: "string" },
    "bus-seconds": { type: "string" },
    "cluster-parts": { type: "string", default: CLUSTER_PARTS.join(",") },
    rounds: { type: "string" },
  },
});

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const sections = new Set(values.sections!.split(","));
for (const s of sections) {
  if (!ALL_SECTIONS.includes(s)) {
    throw new Error(`unknown section ${s} (sections: ${ALL_SECTIONS.join(",")})`);
  }
}
// --quick: small default sizes (seconds per section); --keys and --requests still win.
const requestsArg = values.requests ?? (values.quick ? "20000" : "100000");
const REQUESTS = positiveInt("requests", requestsArg);
// Each CPU per request, ops/s and startup load figure: the median of this many rounds.
const ROUNDS = positiveInt("rounds", values.rounds ?? (values.quick ? "1" : "3"));
const SUITE_REQUESTS = positiveInt("suite-requests", values["suite-requests"] ?? requestsArg);
const KEYS = positiveInt("keys", values.keys ?? (values.quick ? "20000" : "1000000"));
const TYPE_KEYS = positiveInt(
  "type-keys",
  values["type-keys"] ?? String(Math.max(1, Math.floor(KEYS / 10))),
);

// The HA sections: failover rounds per implementation (and mode), the reshard's slots and keys
// (--keys when given, else 100,000: the section stays within a few minutes), bus cluster sizes.
const FAILOVERS = positiveInt("failovers", values.failovers ?? (values.quick ? "1" : "3"));
const RESHARD_SLOTS = positiveInt(
  "reshard-slots",
  values["reshard-slots"] ?? (values.quick ? "100" : "1000"),
);
const RESHARD_KEYS = positiveInt(
  "keys",
  values.keys ?? (values.quick ? "5000" : "100000"),
);
const BUS_SIZES = (values["bus-sizes"] ?? (values.quick ? "3,6" : "3,6,12")).split(",").map((
  x,
) => {
  const n = positiveInt("bus-sizes", x);
  if (n < 3) throw new Error("--bus-sizes: a cluster needs at least 3 masters");
  return n;
});
const CLUSTER_PARTS_CHOSEN = new Set(
  values["cluster-parts"]!.split(",").map((p) => {
    if (!(CLUSTER_PARTS as readonly string[]).includes(p)) {
      throw new Error(`unknown cluster part ${p} (parts: ${CLUSTER_PARTS.join(",")})`);
    }
    return p as ClusterPart;
  }),
);
const BUS_SECONDS = positiveInt(
  "bus-seconds",
  values["bus-seconds"] ?? (values.quick ? "2" : "10"),
);

const CONFIGS: Record<string, { c: number; p: number; share: number; r?: number }> = {
  c50p1: { c: 50, p: 1, share: 1 },
  // Pipelined runs are 10x longer so that they last seconds, not a few CPU ticks.
  c50p16: { c: 50, p: 16, share: 10 },
  c1p1: { c: 1, p: 1, share: 0.2 },
  // Without -r every request names the same key; with it, keys spread over 100,000 (a keyspace
  // no cache of recent arguments holds whole, and a Map far beyond the CPU caches).
  c50p16r: { c: 50, p: 16, share: 10, r: 100_000 },
};

const DEBUG_ARGS = ["--enable-debug-command", "yes"];
const root = new URL("../../", import.meta.url).pathname;

function rss(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) * 1024;
}

/** Runs one test; returns ops/s and server CPU µs per request. */
async function measure(
  port: number,
  pid: number,
  test: string,
  c: number,
  p: number,
  n: number,
  r?: number,
) {
  const cpu0 = cpuSeconds(pid);
  const text = await redisBenchmark([
    ...(r ? ["-r", String(r)] : []),
    "-p",
    String(port),
    "-t",
    test,
    "-n",
    String(n),
    "-c",
    String(c),
    "-P",
    String(p),
    "--csv",
  ]);
  const cpu = cpuSeconds(pid) - cpu0;
  const line = text.split("\n").find((l) => l.startsWith('"') && !l.startsWith('"test"'));
  const rps = line ? Number(line.split(",")[1]!.replace(/"/g, "")) : NaN;
  return { rps, usPerReq: (cpu * 1e6) / n };
}

interface Row {
  test: string;
  config: string;
  redisRps: number;
  oursRps: number;
  rpsRatio: number;
  redisUs: number;
  oursUs: number;
  cpuRatio: number;
}

async function throughput(
  redis: ManagedProcess,
  ours: ManagedProcess,
  configs: string[],
  tests: string[],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const cfgName of configs) {
    const cfg = CONFIGS[cfgName];
    if (!cfg) throw new Error(`unknown config ${cfgName} (configs: ${Object.keys(CONFIGS)})`);
    for (const test of tests) {
      const reqs = Math.max(1000, Math.floor(REQUESTS * cfg.share));
      const config = `-c ${cfg.c} -P ${cfg.p}${cfg.r ? ` -r ${cfg.r}` : ""}`;
      progress(`${test} ${config} (${reqs} requests)`);
      // Warm both up (JIT, buffers) before measuring.
      await measure(ours.port, ours.pid, test, cfg.c, cfg.p, Math.min(reqs, 20000), cfg.r);
      const [r, o] = await interleaved(
        ROUNDS,
        () => measure(redis.port, redis.pid, test, cfg.c, cfg.p, reqs, cfg.r),
        () => measure(ours.port, ours.pid, test, cfg.c, cfg.p, reqs, cfg.r),
      );
      rows.push({
        test: test.toUpperCase(),
        config,
        redisRps: r.rps,
        oursRps: o.rps,
        rpsRatio: o.rps / r.rps,
        redisUs: r.usPerReq,
        oursUs: o.usPerReq,
        cpuRatio: o.usPerReq / r.usPerReq,
      });
    }
    // The keys a spread-out run left would weigh on the sections that follow (a larger heap).
    if (cfg.r) {
      for (const srv of [redis, ours]) {
        const c = await RedisClient.connect({ port: srv.port });
        await c.call("FLUSHALL");
        await c.close();
      }
    }
  }
  return rows;
}

function printRows(rows: Row[]): void {
  const fmt = (x: number, d = 0) => x.toFixed(d).padStart(10);
  console.log(
    `${"test".padEnd(11)}${"config".padEnd(23)}${"redis ops/s".padStart(12)}${
      "ours ops/s".padStart(11)
    }` +
      `${"ratio".padStart(8)}${"redis µs/req".padStart(14)}${"ours µs/req".padStart(13)}${
        "ratio".padStart(8)
      }`,
  );
  for (const r of rows) {
    console.log(
      `${r.test.padEnd(11)}${r.config.padEnd(23)}${fmt(r.redisRps)}  ${fmt(r.oursRps)}${
        ratio(r.rpsRatio)
      }${fmt(r.redisUs, 2).padStart(14)}${fmt(r.oursUs, 2).padStart(13)}${ratio(r.cpuRatio)}`,
    );
  }
}

/** The script EVALSHA runs in the families section: one SET of its key. */
const FAMILY_SCRIPT = "return redis.call('SET', KEYS[1], ARGV[1])";

/**
 * One command line per family, run by redis-benchmark with -r (so __rand_int__ varies keys and
 * members); `prepare` runs first on each server and returns values the command needs.
 */
interface FamilyTest {
  name: string;
  prepare: (c: RedisClient, requests: number, port: number) => Promise<Record<string, string>>;
  cmd: (v: Record<string, string>) => string[];
}

const FAMILY_TESTS: FamilyTest[] = [
  {
    name: "EVALSHA",
    prepare: async (c) => ({ sha: String(await c.call("SCRIPT", "LOAD", FAMILY_SCRIPT)) }),
    cmd: (v) => ["EVALSHA", v.sha!, "1", "ev:__rand_int__", "x"],
  },
  { name: "XADD", prepare: () => Promise.resolve({}), cmd: () => ["XADD", "xs", "*", "f", "v"] },
  {
    name: "XREADGROUP",
    prepare: async (c, requests, port) => {
      await redisBenchmark(["-p", String(port), "-n", String(requests), "-P", "16"].concat(
        ["XADD", "xq", "*", "f", "v"],
      ));
      await c.call("XGROUP", "CREATE", "xq", "g", "0");
      return {};
    },
    cmd: () => ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "xq", ">"],
  },
  {
    name: "PFADD",
    prepare: () => Promise.resolve({}),
    cmd: () => ["PFADD", "hll", "e:__rand_int__"],
  },
  {
    name: "GEOADD",
    prepare: () => Promise.resolve({}),
    cmd: () => ["GEOADD", "geo", "13.361389", "38.115556", "m:__rand_int__"],
  },
];

/** The families at -c 50 -P 1, redis-server then ours, each on a flushed server. */
async function families(redis: ManagedProcess, ours: ManagedProcess): Promise<Row[]> {
  const rows: Row[] = [];
  const reqs = REQUESTS;
  const run = async (srv: ManagedProcess, t: FamilyTest, n: number) => {
    const c = await connect(srv.port);
    let vals: Record<string, string>;
    try {
      await c.call("FLUSHALL");
      vals = await t.prepare(c, n, srv.port);
    } finally {
      await c.close();
    }
    const cpu0 = cpuSeconds(srv.pid);
    const text = await redisBenchmark(
      ["-p", String(srv.port), "-n", String(n), "-c", "50", "-P", "1", "-r", "1000000", "--csv"]
        .concat(t.cmd(vals)),
    );
    const cpu = cpuSeconds(srv.pid) - cpu0;
    const line = text.split("\n").find((l) => l.startsWith('"') && !l.startsWith('"test"'));
    const rps = line ? Number(line.split(",")[1]!.replace(/"/g, "")) : NaN;
    // A command that failed on every call would measure an error path: check one reply.
    const check = await connect(srv.port);
    try {
      const probe = await check.call(...(t.name === "XREADGROUP" ? ["XLEN", "xq"] : ["DBSIZE"]));
      if (Number(probe) <= 0) throw new Error(`${t.name} left no data on port ${srv.port}`);
    } finally {
      await check.close();
    }
    return { rps, usPerReq: (cpu * 1e6) / n };
  };
  for (const t of FAMILY_TESTS) {
    progress(`${t.name} -c 50 -P 1 (${reqs} requests)`);
    await run(ours, t, Math.min(reqs, 20000)); // warm-up
    const [r, o] = await interleaved(ROUNDS, () => run(redis, t, reqs), () => run(ours, t, reqs));
    rows.push({
      test: t.name,
      config: "-c 50 -P 1",
      redisRps: r.rps,
      oursRps: o.rps,
      rpsRatio: o.rps / r.rps,
      redisUs: r.usPerReq,
      oursUs: o.usPerReq,
      cpuRatio: o.usPerReq / r.usPerReq,
    });
  }
  return rows;
}

interface SuiteRow {
  test: string;
  redisRps: number;
  oursRps: number;
  ratio: number;
}

/** redis-benchmark's default list: ops/s per test for both servers. */
async function suite(redis: ManagedProcess, ours: ManagedProcess): Promise<SuiteRow[]> {
  const run = async (port: number) => {
    const text = await redisBenchmark([
      "-p",
      String(port),
      "-q",
      "-n",
      String(SUITE_REQUESTS),
      "--csv",
    ]);
    const m = new Map<string, number>();
    for (const l of text.split("\n")) {
      const f = l.split('","');
      if (f.length >= 2 && !l.startsWith('"test"')) m.set(f[0]!.slice(1), Number(f[1]));
    }
    return m;
  };
  progress(`default suite (${SUITE_REQUESTS} requests per test)`);
  const r = await run(redis.port), o = await run(ours.port);
  return [...r].map(([test, rps]) => ({
    test,
    redisRps: rps,
    oursRps: o.get(test) ?? 0,
    ratio: (o.get(test) ?? 0) / rps,
  }));
}

async function connect(port: number): Promise<RedisClient> {
  return await RedisClient.connect({ port, commandTimeoutMs: 0, maxPending: 100000 });
}

async function dbsize(port: number): Promise<number> {
  const c = await connect(port);
  try {
    return Number(await c.call("DBSIZE"));
  } finally {
    await c.close();
  }
}

/** DEBUG POPULATE n: string keys key:N holding value:N, the same on both servers. */
async function debugPopulate(port: number, n: number): Promise<void> {
  const c = await connect(port);
  try {
    await c.call("DEBUG", "POPULATE", String(n));
  } finally {
    await c.close();
  }
  const size = await dbsize(port);
  if (size !== n) throw new Error(`DEBUG POPULATE ${n} left ${size} keys`);
}

type Kind = "redis" | "ours";
const start = (kind: Kind, args: string[] = [], dir?: string) =>
  kind === "redis"
    ? startRedisServer(args, dir ? { dir } : {})
    : startDataNode(args, dir ? { dir } : {});

/** VmRSS growth per key while `build` makes `n` keys on a fresh server. */
async function rssPerKey(
  kind: Kind,
  n: number,
  build: (port: number) => Promise<void>,
): Promise<number> {
  await using p = await start(kind, DEBUG_ARGS);
  await sleep(300);
  const before = rss(p.pid);
  await build(p.port);
  const size = await dbsize(p.port);
  if (size !== n) throw new Error(`${kind}: expected ${n} keys, found ${size}`);
  // Let buffers drain and, on our node, the collection it runs once idle for a second
  // (data-node/server/idle_gc.ts) finish before reading the resident size: 3 s from 90,000 keys
  // up, the same wait for both servers.
  await sleep(Math.min(3000, Math.max(200, n / 30)));
  return (rss(p.pid) - before) / n;
}

interface Compared {
  redis: number;
  ours: number;
  ratio: number;
}

const compared = (redis: number, ours: number): Compared => ({ redis, ours, ratio: ours / redis });

/** Resident bytes per key for `n` DEBUG POPULATE strings. */
async function memory(n: number): Promise<Compared> {
  const measureOne = (kind: Kind) => {
    progress(`memory: ${kind}, DEBUG POPULATE ${n}`);
    return rssPerKey(kind, n, (port) => debugPopulate(port, n));
  };
  return await medianCompared(() => measureOne("redis"), () => measureOne("ours"));
}

/** One figure of each server, the median of ROUNDS alternating measurements. */
async function medianCompared(
  redis: () => Promise<number>,
  ours: () => Promise<number>,
): Promise<Compared> {
  const [r, o] = await interleaved(
    ROUNDS,
    async () => ({ v: await redis() }),
    async () => ({ v: await ours() }),
  );
  return compared(r.v, o.v);
}

const ELEMENTS = 10;
/** A short element that is not an integer (so Redis does not keep it as one). */
const element = (i: number, j: number) => `m${j}:${i}`;

const COLLECTIONS: Record<string, (i: number) => Arg[]> = {
  hash: (i) => {
    const a: Arg[] = ["HSET", `hash:${i}`];
    for (let j = 0; j < ELEMENTS; j++) a.push(`f${j}`, element(i, j));
    return a;
  },
  zset: (i) => {
    const a: Arg[] = ["ZADD", `zset:${i}`];
    for (let j = 0; j < ELEMENTS; j++) a.push(String(j), element(i, j));
    return a;
  },
  list: (i) => {
    const a: Arg[] = ["RPUSH", `list:${i}`];
    for (let j = 0; j < ELEMENTS; j++) a.push(element(i, j));
    return a;
  },
  set: (i) => {
    const a: Arg[] = ["SADD", `set:${i}`];
    for (let j = 0; j < ELEMENTS; j++) a.push(element(i, j));
    return a;
  },
};

/** Makes keys 0..n-1 with pipelines of 1000 commands; each must add all 10 elements. */
async function buildCollection(port: number, make: (i: number) => Arg[], n: number) {
  const c = await connect(port);
  try {
    for (let i = 0; i < n; i += 1000) {
      const cmds: Arg[][] = [];
      for (let k = i; k < Math.min(n, i + 1000); k++) cmds.push(make(k));
      const replies = await c.pipeline(cmds);
      const bad = replies.find((r) => r !== ELEMENTS);
      if (bad !== undefined) throw new Error(`${cmds[0]![0]} replied ${String(bad)}`);
    }
  } finally {
    await c.close();
  }
}

/** Entries per pipeline while a stream is filled. */
const STREAM_BATCH = 1000;

/** Appends `n` entries `XADD s * f v` in pipelines; the stream then holds `total`. */
async function fillStream(c: RedisClient, kind: Kind, n: number, total: number): Promise<void> {
  for (let i = 0; i < n; i += STREAM_BATCH) {
    const cmds: Arg[][] = [];
    for (let k = i; k < Math.min(n, i + STREAM_BATCH); k++) cmds.push(["XADD", "s", "*", "f", "v"]);
    const bad = (await c.pipeline(cmds)).find((r) => typeof r !== "string");
    if (bad !== undefined) throw new Error(`${kind}: XADD replied ${String(bad)}`);
  }
  const len = Number(await c.call("XLEN", "s"));
  if (len !== total) throw new Error(`${kind}: expected ${total} entries, XLEN is ${len}`);
}

/**
 * VmRSS growth per entry while one stream gets `n` entries `XADD s * f v` on a fresh server
 * (load), then `n` more (marginal).
 */
async function rssPerStreamEntry(
  kind: Kind,
  n: number,
): Promise<{ load: number; marginal: number }> {
  progress(`stream-memory: ${kind}, 2 x ${n} entries XADD s * f v`);
  await using p = await start(kind);
  await sleep(300);
  const r0 = rss(p.pid);
  const c = await connect(p.port);
  // As rssPerKey: let buffers drain and a collection run before reading.
  const settle = () => sleep(Math.min(1500, Math.max(200, n / 100)));
  try {
    await fillStream(c, kind, n, n);
    await settle();
    const r1 = rss(p.pid);
    await fillStream(c, kind, n, 2 * n);
    await settle();
    return { load: (r1 - r0) / n, marginal: (rss(p.pid) - r1) / n };
  } finally {
    await c.close();
  }
}

interface StreamMemory {
  load: Compared;
  marginal: Compared;
}

/** Resident bytes per entry of one stream of small entries, first load and marginal. */
async function streamMemory(n: number): Promise<StreamMemory> {
  const r = await rssPerStreamEntry("redis", n);
  const o = await rssPerStreamEntry("ours", n);
  return { load: compared(r.load, o.load), marginal: compared(r.marginal, o.marginal) };
}

/** Resident bytes per key for `n` keys of each small collection type. */
async function collections(n: number): Promise<Record<string, Compared>> {
  const out: Record<string, Compared> = {};
  for (const [type, make] of Object.entries(COLLECTIONS)) {
    const one = (kind: Kind) => {
      progress(`collections: ${kind}, ${n} ${type} keys of ${ELEMENTS} elements`);
      return rssPerKey(kind, n, (port) => buildCollection(port, make, n));
    };
    out[type] = await medianCompared(() => one("redis"), () => one("ours"));
  }
  return out;
}

interface SaveFigures {
  saveSec: number;
  bgsaveMaxPingMs: number;
  mb: number;
}

/** SAVE time and the worst PING round trip during a BGSAVE of `n` DEBUG POPULATE keys. */
async function saveRun(kind: Kind, n: number, dir: string): Promise<SaveFigures> {
  progress(`persistence: ${kind}, SAVE and BGSAVE of ${n} keys`);
  await using p = await start(kind, DEBUG_ARGS, dir);
  await debugPopulate(p.port, n);
  const c = await connect(p.port);
  try {
    const t0 = performance.now();
    await c.call("SAVE");
    const saveSec = (performance.now() - t0) / 1000;
    // How long clients wait during a BGSAVE: the worst PING round trip while it runs.
    let bgsaveMaxPingMs = 0;
    await c.call("BGSAVE");
    for (;;) {
      const p0 = performance.now();
      await c.call("PING");
      bgsaveMaxPingMs = Math.max(bgsaveMaxPingMs, performance.now() - p0);
      const info = String(await c.call("INFO", "persistence"));
      if (info.includes("rdb_bgsave_in_progress:0")) break;
    }
    const mb = (await Deno.stat(`${dir}/dump.rdb`)).size / 1024 / 1024;
    return { saveSec, bgsaveMaxPingMs, mb };
  } finally {
    await c.close();
  }
}

interface LoadFigures {
  /** From spawn until PING is answered and DBSIZE is the key count. */
  readySec: number;
  /** What the server logged ("DB loaded from disk: N seconds"); NaN when it did not. */
  loggedSec: number;
}

/** Starts a server on a copy of `rdb` in a fresh directory; times it until all keys are in. */
async function loadRun(kind: Kind, rdb: string, n: number): Promise<LoadFigures> {
  progress(`persistence: ${kind}, startup load of Redis's dump.rdb`);
  const dir = await Deno.makeTempDir({ prefix: "bench-load-" });
  await Deno.copyFile(rdb, `${dir}/dump.rdb`);
  const port = await freePort();
  const common = ["--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"];
  const [bin, ...args] = kind === "redis"
    ? ["redis-server", "--port", String(port), ...common]
    : dataNodeCommand(port, [...common, "--admin-port", "-1"]);
  const t0 = performance.now();
  const child = new Deno.Command(bin!, {
    args,
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await using p = new ManagedProcess(child, port, kind, dir);
  const check = () => {
    if (!p.alive) throw new Error(`${kind} exited while loading:\n${p.output()}`);
    if (performance.now() - t0 > 300_000) throw new Error(`${kind} did not load in 300 s`);
  };
  // A server still loading refuses connections or answers -LOADING: poll until DBSIZE is n.
  for (;;) {
    check();
    let c: RedisClient | null = null;
    try {
      c = await RedisClient.connect({
        port,
        connectTimeoutMs: 1000,
        commandTimeoutMs: 0,
        reconnect: { enabled: false },
      });
      for (;;) {
        const pong = await c.callText("PING").catch(() => null);
        const size = pong === "PONG" ? await c.call("DBSIZE").catch(() => null) : null;
        if (size === n) break;
        check();
        if (!c.connected) throw new Error("connection lost");
        await sleep(5);
      }
      const readySec = (performance.now() - t0) / 1000;
      const logged = /DB loaded from disk: ([\d.]+) seconds/.exec(p.output());
      return { readySec, loggedSec: logged ? Number(logged[1]) : NaN };
    } catch (e) {
      if (!p.alive || performance.now() - t0 > 300_000) throw e;
      await sleep(5);
    } finally {
      await c?.close();
    }
  }
}

interface Persistence {
  redis: SaveFigures & LoadFigures;
  ours: SaveFigures & LoadFigures;
  loadRatio: number;
}

async function persistence(n: number): Promise<Persistence> {
  const redisDir = await Deno.makeTempDir({ prefix: "bench-save-" });
  const oursDir = await Deno.makeTempDir({ prefix: "bench-save-" });
  try {
    const redisSave = await saveRun("redis", n, redisDir);
    const oursSave = await saveRun("ours", n, oursDir);
    const rdb = `${redisDir}/dump.rdb`;
    const [redisLoad, oursLoad] = await interleaved(
      ROUNDS,
      () => loadRun("redis", rdb, n),
      () => loadRun("ours", rdb, n),
    );
    return {
      redis: { ...redisSave, ...redisLoad },
      ours: { ...oursSave, ...oursLoad },
      loadRatio: oursLoad.readySec / redisLoad.readySec,
    };
  } finally {
    await Deno.remove(redisDir, { recursive: true });
    await Deno.remove(oursDir, { recursive: true });
  }
}

interface HeapRow {
  test: string;
  config: string;
  commands: number;
  bytesPerCommand: number;
}

type HeapResult = { rows: HeapRow[] } | { skipped: string };

function infoField(info: string, field: string): number | null {
  const m = new RegExp(`^${field}:(-?\\d+)`, "m").exec(info);
  return m ? Number(m[1]) : null;
}

/** Heap bytes allocated per command by our node (see the header comment for the method). */
async function heap(): Promise<HeapResult> {
  await using ours = await startDataNode();
  const c = await connect(ours.port);
  try {
    const read = async () => {
      const v8 = String(await c.call("INFO", "v8"));
      const stats = String(await c.call("INFO", "stats"));
      return {
        allocated: infoField(v8, "v8_total_allocated_bytes"),
        commands: infoField(stats, "total_commands_processed")!,
      };
    };
    const first = await read();
    if (first.allocated === null || first.allocated < 0) {
      return { skipped: "our node's INFO v8 has no v8_total_allocated_bytes in this runtime" };
    }
    progress("heap: warm-up");
    await redisBenchmark(["-p", String(ours.port), "-t", "set,get", "-n", "20000", "-P", "16"]);
    const rows: HeapRow[] = [];
    for (const cfgName of ["c50p1", "c50p16"]) {
      const cfg = CONFIGS[cfgName]!;
      for (const test of ["set", "get"]) {
        const n = Math.max(1000, Math.floor(REQUESTS * cfg.share));
        progress(`heap: ${test} -c ${cfg.c} -P ${cfg.p} (${n} requests)`);
        const a = await read();
        await redisBenchmark([
          "-p",
          String(ours.port),
          "-t",
          test,
          "-n",
          String(n),
          "-c",
          String(cfg.c),
          "-P",
          String(cfg.p),
          "-q",
        ]);
        const b = await read();
        const commands = b.commands - a.commands;
        rows.push({
          test: test.toUpperCase(),
          config: `-c ${cfg.c} -P ${cfg.p}`,
          commands,
          bytesPerCommand: (b.allocated! - a.allocated!) / commands,
        });
      }
    }
    return { rows };
  } finally {
    await c.close();
  }
}

// ---------------------------------------------------------------------------------------------
// replication: full sync, lag under load, master CPU per request with replicas

/** A master that starts a full sync at once, from disk or straight to the replica's socket. */
const replArgs = (diskless: boolean) => [
  "--repl-diskless-sync",
  diskless ? "yes" : "no",
  "--repl-diskless-sync-delay",
  "0",
];

/** Redis 7.0's default diskless sync, without its 5 s wait for more replicas. */
const NO_SYNC_DELAY = replArgs(true);

/** A string field of an INFO reply, or null. */
function infoText(info: string, field: string): string | null {
  const m = new RegExp(`^${field}:(.*?)\\r?$`, "m").exec(info);
  return m ? m[1]! : null;
}

/** master_repl_offset: on a master the bytes it produced, on a replica the bytes it applied. */
async function replOffset(c: RedisClient): Promise<number> {
  const v = infoField(String(await c.call("INFO", "replication")), "master_repl_offset");
  if (v === null) throw new Error("INFO replication without master_repl_offset");
  return v;
}

/** Whether the server exited: a measurement that waits on it must not wait forever. */
function checkAlive(...ps: ManagedProcess[]): void {
  for (const p of ps) {
    if (!p.alive) throw new Error(`${p.name} on port ${p.port} exited:\n${p.output()}`);
  }
}

/**
 * REPLICAOF the master, then polls the replica (every 5 ms) until its link is up and it holds
 * `keys` keys (any count when null). Returns the seconds from REPLICAOF's reply to that point.
 */
async function attach(
  replica: ManagedProcess,
  master: ManagedProcess,
  keys: number | null,
  timeoutMs = 300_000,
): Promise<number> {
  const c = await connect(replica.port);
  try {
    const t0 = performance.now();
    await c.call("REPLICAOF", "127.0.0.1", String(master.port));
    for (;;) {
      checkAlive(replica, master);
      if (performance.now() - t0 > timeoutMs) {
        throw new Error(
          `${replica.name} did not sync in ${timeoutMs} ms:\n${replica.output()}\n${master.output()}`,
        );
      }
      // A replica loading the payload may answer -LOADING: it is not there yet.
      const info = await c.call("INFO", "replication").then(String, () => "");
      if (infoText(info, "master_link_status") === "up") {
        const size = keys === null ? null : await c.call("DBSIZE").catch(() => null);
        if (keys === null || size === keys) return (performance.now() - t0) / 1000;
      }
      await sleep(5);
    }
  } finally {
    await c.close();
  }
}

/** Waits until every replica has applied all the master has produced (polling every 5 ms). */
async function caughtUp(master: ManagedProcess, replicas: ManagedProcess[]): Promise<void> {
  if (replicas.length === 0) return;
  const mc = await connect(master.port);
  const rcs = await Promise.all(replicas.map((r) => connect(r.port)));
  try {
    const t0 = performance.now();
    for (;;) {
      checkAlive(master, ...replicas);
      const want = await replOffset(mc);
      const have = await Promise.all(rcs.map(replOffset));
      if (have.every((h) => h >= want)) return;
      if (performance.now() - t0 > 120_000) {
        throw new Error(`replicas did not catch up in 120 s: master ${want}, replicas ${have}`);
      }
      await sleep(5);
    }
  } finally {
    await mc.close();
    await Promise.all(rcs.map((c) => c.close()));
  }
}

interface FullSyncFigures {
  /** From REPLICAOF until the link is up and DBSIZE equals the key count. */
  seconds: number;
  /** The RDB the replica received (the file it kept, as both servers keep it by default). */
  rdbBytes: number;
  mbPerSec: number;
}

interface FullSyncRow {
  mode: "disk" | "diskless";
  redis: FullSyncFigures;
  ours: FullSyncFigures;
  ratio: number;
}

/** One full sync of `n` DEBUG POPULATE keys between two fresh servers of the same kind. */
async function fullSyncRun(kind: Kind, n: number, diskless: boolean): Promise<FullSyncFigures> {
  const mode = diskless ? "diskless" : "disk";
  progress(`replication: ${kind}, DEBUG POPULATE ${n} on a master, full sync (${mode})`);
  const replicaDir = await Deno.makeTempDir({ prefix: "bench-replica-" });
  try {
    await using master = await start(kind, [...DEBUG_ARGS, ...replArgs(diskless)]);
    await debugPopulate(master.port, n);
    await using replica = await start(kind, [], replicaDir);
    const seconds = await attach(replica, master, n);
    const rdbBytes = (await Deno.stat(`${replicaDir}/dump.rdb`)).size;
    return { seconds, rdbBytes, mbPerSec: rdbBytes / 1024 / 1024 / seconds };
  } finally {
    await Deno.remove(replicaDir, { recursive: true });
  }
}

interface LagFigures {
  requests: number;
  rps: number;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  /** After the load: until the replica had applied everything. */
  catchUpMs: number;
}

const LAG_SAMPLE_MS = 50;

/**
 * A master and one replica; redis-benchmark SET -c 50 -P 16 -r 100000 against the master while
 * master_repl_offset is read from both every 50 ms (both INFO calls sent at the same moment on
 * connections of their own). Lag = master's offset - replica's, in bytes.
 */
async function lagRun(kind: Kind, requests: number): Promise<LagFigures> {
  progress(`replication: ${kind}, lag under SET -c 50 -P 16 -r 100000 (${requests} requests)`);
  await using master = await start(kind, NO_SYNC_DELAY);
  await using replica = await start(kind);
  await attach(replica, master, null);
  const setArgs = (n: number) => [
    "-p",
    String(master.port),
    "-t",
    "set",
    "-n",
    String(n),
    "-c",
    "50",
    "-P",
    "16",
    "-r",
    "100000",
    "--csv",
  ];
  // Warm both servers up (JIT, buffers, keyspace) and let the replica catch up.
  await redisBenchmark(setArgs(Math.min(requests, 20000)));
  await caughtUp(master, [replica]);
  const mc = await connect(master.port);
  const rc = await connect(replica.port);
  try {
    const lags: number[] = [];
    let running = true;
    const load = redisBenchmark(setArgs(requests)).finally(() => running = false);
    const sampler = (async () => {
      const t0 = performance.now();
      // One sample at least, however short the run.
      for (let k = 1; lags.length === 0 || running; k++) {
        // The replica's first: the master's offset, read after, is never below it (read in
        // parallel, a master answering first could show a negative lag).
        const r = await replOffset(rc);
        const m = await replOffset(mc);
        lags.push(m - r);
        await sleep(Math.max(0, t0 + k * LAG_SAMPLE_MS - performance.now()));
      }
    })();
    const text = await load;
    await sampler;
    const t1 = performance.now();
    await caughtUp(master, [replica]);
    const catchUpMs = performance.now() - t1;
    const line = text.split("\n").find((l) => l.startsWith('"') && !l.startsWith('"test"'));
    const sorted = [...lags].sort((a, b) => a - b);
    return {
      requests,
      rps: line ? Number(line.split(",")[1]!.replace(/"/g, "")) : NaN,
      samples: lags.length,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted[sorted.length - 1]!,
      catchUpMs,
    };
  } finally {
    await mc.close();
    await rc.close();
  }
}

interface ReplCpuRow {
  replicas: number;
  config: string;
  redisRps: number;
  oursRps: number;
  rpsRatio: number;
  /** The master's CPU µs per request. */
  redisUs: number;
  oursUs: number;
  cpuRatio: number;
  /** Each replica's CPU µs per request of the master (their mean), null without replicas. */
  redisReplicaUs: number | null;
  oursReplicaUs: number | null;
}

/**
 * redis-benchmark SET against a master with its replicas attached: the master's CPU (and the
 * replicas') from the start of the run until every replica has applied all of it, per request.
 */
async function measureWithReplicas(
  master: ManagedProcess,
  replicas: ManagedProcess[],
  c: number,
  p: number,
  n: number,
) {
  const cpu0 = cpuSeconds(master.pid);
  const rcpu0 = replicas.map((r) => cpuSeconds(r.pid));
  const text = await redisBenchmark([
    "-p",
    String(master.port),
    "-t",
    "set",
    "-n",
    String(n),
    "-c",
    String(c),
    "-P",
    String(p),
    "--csv",
  ]);
  await caughtUp(master, replicas);
  const cpu = cpuSeconds(master.pid) - cpu0;
  const rcpu = replicas.reduce((sum, r, i) => sum + cpuSeconds(r.pid) - rcpu0[i]!, 0);
  const line = text.split("\n").find((l) => l.startsWith('"') && !l.startsWith('"test"'));
  return {
    rps: line ? Number(line.split(",")[1]!.replace(/"/g, "")) : NaN,
    usPerReq: (cpu * 1e6) / n,
    // NaN without replicas (the table shows none).
    replicaUsPerReq: replicas.length ? (rcpu * 1e6) / n / replicas.length : NaN,
  };
}

/**
 * A redis-server master and an ours master, two idle replicas of each kind; for 0, 1 and 2
 * replicas attached, SET at -c 50 -P 16 and -P 1, redis and ours measured one after the other.
 */
async function replicaCpu(): Promise<ReplCpuRow[]> {
  const rows: ReplCpuRow[] = [];
  await using rm = await start("redis", NO_SYNC_DELAY);
  await using r1 = await start("redis");
  await using r2 = await start("redis");
  await using om = await start("ours", NO_SYNC_DELAY);
  await using o1 = await start("ours");
  await using o2 = await start("ours");
  const redisReplicas = [r1, r2], oursReplicas = [o1, o2];
  for (let count = 0; count <= 2; count++) {
    if (count > 0) {
      progress(`replication: attaching replica ${count} to each master`);
      await attach(redisReplicas[count - 1]!, rm, null);
      await attach(oursReplicas[count - 1]!, om, null);
    }
    const rr = redisReplicas.slice(0, count), or = oursReplicas.slice(0, count);
    for (const cfgName of ["c50p16", "c50p1"]) {
      const cfg = CONFIGS[cfgName]!;
      const reqs = Math.max(1000, Math.floor(REQUESTS * cfg.share));
      progress(
        `replication: SET -c ${cfg.c} -P ${cfg.p} with ${count} replicas (${reqs} requests)`,
      );
      await measureWithReplicas(om, or, cfg.c, cfg.p, Math.min(reqs, 20000));
      const [r, o] = await interleaved(
        ROUNDS,
        () => measureWithReplicas(rm, rr, cfg.c, cfg.p, reqs),
        () => measureWithReplicas(om, or, cfg.c, cfg.p, reqs),
      );
      rows.push({
        replicas: count,
        config: `-c ${cfg.c} -P ${cfg.p}`,
        redisRps: r.rps,
        oursRps: o.rps,
        rpsRatio: o.rps / r.rps,
        redisUs: r.usPerReq,
        oursUs: o.usPerReq,
        cpuRatio: o.usPerReq / r.usPerReq,
        redisReplicaUs: count > 0 ? r.replicaUsPerReq : null,
        oursReplicaUs: count > 0 ? o.replicaUsPerReq : null,
      });
    }
  }
  return rows;
}

interface ReplicationReport {
  keys: number;
  fullSync: FullSyncRow[];
  lag: { redis: LagFigures; ours: LagFigures; p50Ratio: number; p99Ratio: number };
  cpu: ReplCpuRow[];
}

async function replication(n: number): Promise<ReplicationReport> {
  const fullSync: FullSyncRow[] = [];
  for (const diskless of [false, true]) {
    const r = await fullSyncRun("redis", n, diskless);
    const o = await fullSyncRun("ours", n, diskless);
    fullSync.push({
      mode: diskless ? "diskless" : "disk",
      redis: r,
      ours: o,
      ratio: o.seconds / r.seconds,
    });
  }
  const lagRequests = Math.max(1000, REQUESTS * CONFIGS.c50p16!.share);
  const redisLag = await lagRun("redis", lagRequests);
  const oursLag = await lagRun("ours", lagRequests);
  const cpu = await replicaCpu();
  return {
    keys: n,
    fullSync,
    lag: {
      redis: redisLag,
      ours: oursLag,
      p50Ratio: oursLag.p50 / redisLag.p50,
      p99Ratio: oursLag.p99 / redisLag.p99,
    },
    cpu,
  };
}

function printReplication(rep: ReplicationReport): void {
  const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
  console.log(
    `\n## replication: full sync of ${rep.keys} DEBUG POPULATE keys (REPLICAOF until the link` +
      ` is up and DBSIZE equal; fresh servers each)`,
  );
  console.log(
    `${"mode".padEnd(10)}${"redis s".padStart(9)}${"ours s".padStart(9)}${"ratio".padStart(8)}` +
      `${"redis MB/s".padStart(12)}${"ours MB/s".padStart(11)}${"ratio".padStart(8)}` +
      `${"redis RDB MB".padStart(14)}${"ours RDB MB".padStart(13)}`,
  );
  for (const r of rep.fullSync) {
    console.log(
      `${r.mode.padEnd(10)}${r.redis.seconds.toFixed(2).padStart(9)}${
        r.ours.seconds.toFixed(2).padStart(9)
      }${ratio(r.ratio)}${r.redis.mbPerSec.toFixed(1).padStart(12)}${
        r.ours.mbPerSec.toFixed(1).padStart(11)
      }${ratio(r.ours.mbPerSec / r.redis.mbPerSec)}${mb(r.redis.rdbBytes).padStart(14)}${
        mb(r.ours.rdbBytes).padStart(13)
      }`,
    );
  }
  const l = rep.lag;
  console.log(
    `\n## replication: lag under SET -c 50 -P 16 -r 100000 (${l.redis.requests} requests;` +
      ` master_repl_offset of master - replica, sampled every ${LAG_SAMPLE_MS} ms)`,
  );
  console.log(
    `${"".padEnd(7)}${"ops/s".padStart(10)}${"samples".padStart(9)}${"p50 bytes".padStart(12)}` +
      `${"p99 bytes".padStart(12)}${"max bytes".padStart(12)}${"catch-up ms".padStart(13)}`,
  );
  for (const k of ["redis", "ours"] as const) {
    const v = l[k];
    console.log(
      `${k.padEnd(7)}${v.rps.toFixed(0).padStart(10)}${String(v.samples).padStart(9)}${
        String(v.p50).padStart(12)
      }${String(v.p99).padStart(12)}${String(v.max).padStart(12)}${
        v.catchUpMs.toFixed(0).padStart(13)
      }`,
    );
  }
  console.log(
    `${"ratio".padEnd(7)}${ratio(l.ours.rps / l.redis.rps, 10)}${"".padStart(9)}${
      ratio(l.p50Ratio, 12)
    }${ratio(l.p99Ratio, 12)}${ratio(l.ours.max / l.redis.max, 12)}${
      ratio(l.ours.catchUpMs / l.redis.catchUpMs, 13)
    }`,
  );
  console.log(
    "\n## replication: master CPU µs per SET with 0, 1 and 2 replicas (until the replicas" +
      " caught up; replica µs/req is each replica's mean)",
  );
  console.log(
    `${"replicas".padEnd(9)}${"config".padEnd(14)}${"redis ops/s".padStart(12)}${
      "ours ops/s".padStart(11)
    }${"ratio".padStart(8)}${"redis µs/req".padStart(14)}${"ours µs/req".padStart(13)}${
      "ratio".padStart(8)
    }${"redis replica".padStart(15)}${"ours replica".padStart(14)}`,
  );
  const us = (x: number | null, w: number) => (x === null ? "-" : x.toFixed(2)).padStart(w);
  for (const r of rep.cpu) {
    console.log(
      `${String(r.replicas).padEnd(9)}${r.config.padEnd(14)}${r.redisRps.toFixed(0).padStart(12)}${
        r.oursRps.toFixed(0).padStart(11)
      }${ratio(r.rpsRatio)}${us(r.redisUs, 14)}${us(r.oursUs, 13)}${ratio(r.cpuRatio)}${
        us(r.redisReplicaUs, 15)
      }${us(r.oursReplicaUs, 14)}`,
    );
  }
}

interface Verdict {
  target: string;
  worst: number | null;
  worstAt: string | null;
  best: number | null;
  bestAt: string | null;
  measured: number;
  expected: number;
  met: boolean | null;
  /** Measurements of ours that broke (the target is then missed). */
  failed: string[];
}

function judge(t: Target): Verdict {
  const ok = t.ratios.filter((r) => Number.isFinite(r.ratio));
  const failed = t.failed ?? [];
  if (ok.length === 0) {
    return {
      target: t.target,
      worst: null,
      worstAt: null,
      best: null,
      bestAt: null,
      measured: 0,
      expected: t.expected,
      met: failed.length ? false : null,
      failed,
    };
  }
  const sorted = [...ok].sort((a, b) => t.kind === "max" ? b.ratio - a.ratio : a.ratio - b.ratio);
  const worst = sorted[0]!, best = sorted[sorted.length - 1]!;
  return {
    target: t.target,
    worst: worst.ratio,
    worstAt: worst.at,
    best: best.ratio,
    bestAt: best.at,
    measured: ok.length,
    expected: t.expected,
    met: failed.length === 0 &&
      (t.kind === "max" ? worst.ratio <= t.limit : worst.ratio >= t.limit),
    failed,
  };
}

const TARGET_TESTS = ["SET", "GET", "INCR", "LPUSH", "HSET", "ZADD"];
const TARGET_CONFIGS = ["-c 50 -P 1", "-c 50 -P 16"];

function targets(report: Report): Verdict[] {
  const rows = [...(report.throughput ?? []), ...(report.types ?? [])];
  const at = (r: Row) => `${r.test} ${r.config}`;
  const cpuRows = rows.filter((r) =>
    TARGET_TESTS.includes(r.test) && TARGET_CONFIGS.includes(r.config)
  );
  const p1Rows = cpuRows.filter((r) => r.config === TARGET_CONFIGS[0]);
  const repl = report.replication;
  const list: Target[] = [
    {
      target: "CPU/req <= 1.3x: SET GET INCR LPUSH HSET ZADD, -c 50 -P 1 and -P 16",
      ratios: cpuRows.map((r) => ({ at: at(r), ratio: r.cpuRatio })),
      expected: TARGET_TESTS.length * TARGET_CONFIGS.length,
      limit: 1.3,
      kind: "max",
    },
    {
      target: "ops/s >= 1.0x: SET GET INCR LPUSH HSET ZADD, -c 50 -P 1",
      ratios: p1Rows.map((r) => ({ at: at(r), ratio: r.rpsRatio })),
      expected: TARGET_TESTS.length,
      limit: 1.0,
      kind: "min",
    },
    {
      target: `RSS/key <= 1.5x: ${KEYS} DEBUG POPULATE strings`,
      ratios: report.memory ? [{ at: "strings", ratio: report.memory.ratio }] : [],
      expected: 1,
      limit: 1.5,
      kind: "max",
    },
    {
      target: `startup load <= 1.5x: Redis's dump.rdb of ${KEYS} keys`,
      ratios: report.persistence ? [{ at: "load", ratio: report.persistence.loadRatio }] : [],
      expected: 1,
      limit: 1.5,
      kind: "max",
    },
    {
      target: `RSS/key <= 1.5x: ${TYPE_KEYS} small hashes, zsets, lists, sets (each)`,
      ratios: Object.entries(report.collections ?? {}).map(([type, c]) => ({
        at: type,
        ratio: c.ratio,
      })),
      expected: Object.keys(COLLECTIONS).length,
      limit: 1.5,
      kind: "max",
    },
    {
      target: `RSS/entry <= 1.5x: ${KEYS} more entries XADD s * f v in one stream`,
      ratios: report.streamMemory
        ? [{ at: "marginal", ratio: report.streamMemory.marginal.ratio }]
        : [],
      expected: 1,
      limit: 1.5,
      kind: "max",
    },
    {
      target: `full sync time <= 1.5x: ${KEYS} keys, disk-based and diskless`,
      ratios: (repl?.fullSync ?? []).map((r) => ({ at: r.mode, ratio: r.ratio })),
      expected: 2,
      limit: 1.5,
      kind: "max",
    },
    {
      target: "master CPU/req <= 1.3x with 2 replicas: SET -c 50 -P 16 and -P 1",
      ratios: (repl?.cpu ?? []).filter((r) => r.replicas === 2).map((r) => ({
        at: `SET ${r.config}`,
        ratio: r.cpuRatio,
      })),
      expected: 2,
      limit: 1.3,
      kind: "max",
    },
    {
      target: "CPU/req <= 1.5x: EVALSHA XADD XREADGROUP PFADD GEOADD, -c 50 -P 1",
      ratios: (report.families ?? []).map((r) => ({ at: r.test, ratio: r.cpuRatio })),
      expected: FAMILY_TESTS.length,
      limit: 1.5,
      kind: "max",
    },
    ...sentinelTargets(report.sentinel),
    ...clusterTargets(report.cluster),
  ];
  return list.map(judge);
}

interface Report {
  sizes: { requests: number; suiteRequests: number; keys: number; typeKeys: number };
  throughput?: Row[];
  types?: Row[];
  suite?: SuiteRow[];
  families?: Row[];
  persistence?: Persistence;
  memory?: Compared;
  collections?: Record<string, Compared>;
  streamMemory?: StreamMemory;
  heap?: HeapResult;
  replication?: ReplicationReport;
  sentinel?: SentinelReport;
  cluster?: ClusterReport;
  summary?: Verdict[];
}

function printReport(report: Report): void {
  for (const name of ["throughput", "types", "families"] as const) {
    const rows = report[name];
    if (!rows) continue;
    console.log(`\n## ${name} (ops/s and server CPU µs per request)`);
    printRows(rows);
  }
  if (report.suite) {
    console.log("\n## redis-benchmark default suite (ops/s)");
    console.log(`${"test".padEnd(40)}${"redis".padStart(10)}${"ours".padStart(10)}   ratio`);
    for (const r of report.suite) {
      console.log(
        `${r.test.padEnd(40)}${r.redisRps.toFixed(0).padStart(10)}${
          r.oursRps.toFixed(0).padStart(10)
        }${ratio(r.ratio)}`,
      );
    }
  }
  if (report.persistence) {
    const p = report.persistence;
    console.log(`\n## persistence (${KEYS} keys from DEBUG POPULATE)`);
    for (const k of ["redis", "ours"] as const) {
      const v = p[k];
      console.log(
        `${k.padEnd(6)} SAVE ${v.saveSec.toFixed(2)} s (${(v.mb / v.saveSec).toFixed(1)} MB/s)  ` +
          `file ${v.mb.toFixed(1)} MB  max PING during BGSAVE ${v.bgsaveMaxPingMs.toFixed(1)} ms`,
      );
    }
    for (const k of ["redis", "ours"] as const) {
      const v = p[k];
      console.log(
        `${k.padEnd(6)} load of Redis's dump.rdb: ready ${v.readySec.toFixed(2)} s after spawn` +
          `, logged ${Number.isNaN(v.loggedSec) ? "n/a" : `${v.loggedSec.toFixed(2)} s`}`,
      );
    }
    const logged = !Number.isNaN(p.redis.loggedSec) && !Number.isNaN(p.ours.loggedSec)
      ? ratio(p.ours.loggedSec / p.redis.loggedSec, 0)
      : "n/a";
    console.log(`load ratio: ready ${ratio(p.loadRatio, 0)}, logged ${logged}`);
  }
  if (report.memory) {
    const m = report.memory;
    console.log(
      `\n## memory (${KEYS} DEBUG POPULATE strings, RSS per key)\nredis ${
        m.redis.toFixed(1)
      } B/key, ours ${m.ours.toFixed(1)} B/key, ratio ${ratio(m.ratio, 0)}`,
    );
  }
  if (report.collections) {
    console.log(
      `\n## collections (${TYPE_KEYS} keys of ${ELEMENTS} short elements, RSS per key)`,
    );
    console.log(
      `${"type".padEnd(8)}${"redis B/key".padStart(12)}${"ours B/key".padStart(12)}   ratio`,
    );
    for (const [type, c] of Object.entries(report.collections)) {
      console.log(
        `${type.padEnd(8)}${c.redis.toFixed(1).padStart(12)}${c.ours.toFixed(1).padStart(12)}${
          ratio(c.ratio)
        }`,
      );
    }
  }
  if (report.streamMemory) {
    console.log(`\n## stream-memory (one stream, XADD s * f v, RSS per entry)`);
    for (const [name, m] of Object.entries(report.streamMemory)) {
      const what = name === "load" ? `first ${KEYS} entries` : `${KEYS} more entries`;
      console.log(
        `${what}: redis ${m.redis.toFixed(1)} B/entry, ours ${m.ours.toFixed(1)} B/entry, ratio ${
          ratio(m.ratio, 0)
        }`,
      );
    }
  }
  if (report.heap) {
    console.log("\n## heap (ours only: JavaScript heap bytes allocated per command)");
    if ("skipped" in report.heap) console.log(`SKIPPED: ${report.heap.skipped}`);
    else {
      for (const r of report.heap.rows) {
        console.log(
          `${r.test.padEnd(11)}${r.config.padEnd(14)}${String(r.commands).padStart(9)} commands${
            r.bytesPerCommand.toFixed(0).padStart(8)
          } B/command`,
        );
      }
    }
  }
  if (report.replication) printReplication(report.replication);
  if (report.sentinel) printSentinel(report.sentinel);
  if (report.cluster) printCluster(report.cluster);
  console.log("\n## summary (ratios ours/redis from this run)");
  console.log(`${"target".padEnd(74)}${"worst".padStart(7)}${"best".padStart(7)}  result`);
  for (const v of report.summary ?? []) {
    const result = v.met === null
      ? "NOT RUN"
      : `${v.met ? "MET" : "MISSED"}${v.failed.length ? ` (FAILED: ${v.failed.join(", ")})` : ""}${
        v.measured < v.expected ? ` (${v.measured} of ${v.expected} measured)` : ""
      }${v.worstAt && v.expected > 1 ? `  worst: ${v.worstAt}, best: ${v.bestAt}` : ""}`;
    console.log(
      `${v.target.padEnd(74)}${v.worst === null ? "    n/a" : ratio(v.worst, 7)}${
        v.best === null ? "    n/a" : ratio(v.best, 7)
      }  ${result}`,
    );
  }
  if (report.heap && !("skipped" in report.heap)) {
    console.log("heap bytes per command: reported above, no target (redis-server has no GC heap)");
  }
}

async function main(): Promise<void> {
  for (const bin of ["redis-server", "redis-benchmark"]) {
    if (!which(bin)) {
      console.log(`SKIP: ${bin} not installed; nothing to compare against`);
      return;
    }
  }
  const report: Report = {
    sizes: { requests: REQUESTS, suiteRequests: SUITE_REQUESTS, keys: KEYS, typeKeys: TYPE_KEYS },
  };
  if (["throughput", "types", "suite", "families"].some((x) => sections.has(x))) {
    await using redis = await startRedisServer();
    await using ours = await startDataNode();
    if (sections.has("throughput")) {
      report.throughput = await throughput(
        redis,
        ours,
        values.configs!.split(","),
        values.tests!.split(","),
      );
    }
    if (sections.has("types")) {
      report.types = await throughput(
        redis,
        ours,
        values["type-configs"]!.split(","),
        values["type-tests"]!.split(","),
      );
    }
    if (sections.has("suite")) report.suite = await suite(redis, ours);
    if (sections.has("families")) report.families = await families(redis, ours);
  }
  if (sections.has("persistence")) report.persistence = await persistence(KEYS);
  if (sections.has("memory")) report.memory = await memory(KEYS);
  if (sections.has("collections")) report.collections = await collections(TYPE_KEYS);
  if (sections.has("stream-memory")) report.streamMemory = await streamMemory(KEYS);
  if (sections.has("heap")) report.heap = await heap();
  if (sections.has("replication")) report.replication = await replication(KEYS);
  if (sections.has("sentinel")) {
    if (!which("redis-sentinel")) console.error("SKIP sentinel: redis-sentinel not installed");
    else report.sentinel = await sentinelSection(FAILOVERS);
  }
  if (sections.has("cluster")) {
    if (!which("redis-cli")) console.error("SKIP cluster: redis-cli not installed");
    else {
      report.cluster = await clusterSection({
        requests: REQUESTS,
        failovers: FAILOVERS,
        reshardKeys: RESHARD_KEYS,
        reshardSlots: RESHARD_SLOTS,
        busSizes: BUS_SIZES,
        busSeconds: BUS_SECONDS,
        parts: CLUSTER_PARTS_CHOSEN,
        rounds: ROUNDS,
      });
    }
  }
  report.summary = targets(report);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
}

await main();
