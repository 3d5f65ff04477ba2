/**
 * `deno task bench`: redis-benchmark against our data node and a real redis-server in the same
 * run. For each test and client config it prints ops/s and server CPU µs per request (utime +
 * stime of the server process from /proc over the run, divided by requests) for both, and the
 * ratios ours/redis. On 2 cores redis-benchmark itself is often the bottleneck, so CPU per
 * request is the steadier figure.
 *
 * Sections (all by default; choose with --sections):
 *   throughput   SET GET INCR MSET at -c 50 -P 1, -c 50 -P 16, -c 1 -P 1
 *   types        LPUSH LPOP SADD HSET ZADD at -c 50 -P 1
 *   suite        redis-benchmark's default test list
 *   persistence  SAVE and startup load of --keys keys (seconds, MB/s)
 *   memory       resident bytes per key for --keys small strings
 *
 *   deno task bench [--requests N] [--keys N] [--sections a,b] [--json]
 */
import { parseArgs } from "node:util";
import {
  dataNodeCommand,
  freePort,
  type ManagedProcess,
  startDataNode,
  startProcess,
  startRedisServer,
  which,
} from "../helpers/process.ts";
import { RedisClient } from "../../shared/client.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    tests: { type: "string", default: "set,get,incr,mset" },
    json: { type: "boolean", default: false },
    configs: { type: "string", default: "c50p1,c50p16,c1p1" },
    sections: { type: "string", default: "throughput,types,suite,persistence,memory" },
    keys: { type: "string", default: "1000000" },
  },
});
const sections = new Set(values.sections!.split(","));

const CONFIGS: Record<string, { c: number; p: number; share: number }> = {
  c50p1: { c: 50, p: 1, share: 1 },
  // Pipelined runs are 10x longer so that they last seconds, not a few CPU ticks.
  c50p16: { c: 50, p: 16, share: 10 },
  c1p1: { c: 1, p: 1, share: 0.2 },
};

const TICKS = Number(
  new TextDecoder().decode(
    (await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output()).stdout,
  )
    .trim(),
) || 100;

function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** Runs one test; returns ops/s and server CPU µs per request. */
async function measure(port: number, pid: number, test: string, c: number, p: number, n: number) {
  const cpu0 = cpuSeconds(pid);
  const out = await new Deno.Command("redis-benchmark", {
    args: [
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
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpu = cpuSeconds(pid) - cpu0;
  const text = new TextDecoder().decode(out.stdout);
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
  const n = Number(values.requests);
  const rows: Row[] = [];
  for (const cfgName of configs) {
    const cfg = CONFIGS[cfgName];
    if (!cfg) throw new Error(`unknown config ${cfgName}`);
    for (const test of tests) {
      const reqs = Math.max(1000, Math.floor(n * cfg.share));
      // Warm both up (JIT, buffers) before measuring.
      await measure(ours.port, ours.pid, test, cfg.c, cfg.p, Math.min(reqs, 20000));
      const r = await measure(redis.port, redis.pid, test, cfg.c, cfg.p, reqs);
      const o = await measure(ours.port, ours.pid, test, cfg.c, cfg.p, reqs);
      rows.push({
        test,
        config: `-c ${cfg.c} -P ${cfg.p}`,
        redisRps: r.rps,
        oursRps: o.rps,
        rpsRatio: o.rps / r.rps,
        redisUs: r.usPerReq,
        oursUs: o.usPerReq,
        cpuRatio: o.usPerReq / r.usPerReq,
      });
    }
  }
  return rows;
}

/** A ratio for the table: a run too short to register CPU ticks has none. */
function ratio(x: number): string {
  return (Number.isFinite(x) ? x.toFixed(2) : "n/a").padStart(8);
}

function printRows(rows: Row[]): void {
  const fmt = (x: number, d = 0) => x.toFixed(d).padStart(10);
  console.log(
    `${"test".padEnd(8)}${"config".padEnd(14)}${"redis ops/s".padStart(12)}${
      "ours ops/s".padStart(11)
    }` +
      `${"ratio".padStart(8)}${"redis µs/req".padStart(14)}${"ours µs/req".padStart(13)}${
        "ratio".padStart(8)
      }`,
  );
  for (const r of rows) {
    console.log(
      `${r.test.padEnd(8)}${r.config.padEnd(14)}${fmt(r.redisRps)}  ${fmt(r.oursRps)}${
        ratio(r.rpsRatio)
      }${fmt(r.redisUs, 2).padStart(14)}${fmt(r.oursUs, 2).padStart(13)}${ratio(r.cpuRatio)}`,
    );
  }
}

/** redis-benchmark's default list: ops/s per test for both servers. */
async function suite(redis: ManagedProcess, ours: ManagedProcess) {
  const run = async (port: number) => {
    const out = await new Deno.Command("redis-benchmark", {
      args: ["-p", String(port), "-q", "-n", values.requests!, "--csv"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const m = new Map<string, number>();
    for (const l of new TextDecoder().decode(out.stdout).split("\n")) {
      const f = l.split('","');
      if (f.length >= 2 && !l.startsWith('"test"')) m.set(f[0]!.slice(1), Number(f[1]));
    }
    return m;
  };
  const r = await run(redis.port), o = await run(ours.port);
  return [...r].map(([test, rps]) => ({
    test,
    redisRps: rps,
    oursRps: o.get(test) ?? 0,
    ratio: (o.get(test) ?? 0) / rps,
  }));
}

function rss(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) * 1024;
}

/** Loads `n` keys (16-byte values) with pipelined MSETs. */
async function populate(port: number, n: number): Promise<void> {
  const c = await RedisClient.connect({ port, commandTimeoutMs: 0 });
  try {
    for (let i = 0; i < n; i += 10000) {
      const args = ["MSET"];
      for (let j = i; j < Math.min(n, i + 10000); j++) {
        args.push(`key:${String(j).padStart(10, "0")}`, `val:${String(j).padStart(12, "0")}`);
      }
      await c.call(...args);
    }
  } finally {
    await c.close();
  }
}

/** Resident bytes per key after loading `n` small strings. */
async function memory(start: () => Promise<ManagedProcess>, n: number): Promise<number> {
  await using p = await start();
  await new Promise((r) => setTimeout(r, 300));
  const before = rss(p.pid);
  await populate(p.port, n);
  await new Promise((r) => setTimeout(r, 1500));
  return (rss(p.pid) - before) / n;
}

/** SAVE time and startup load time for `n` keys, with the file size for MB/s. */
async function persistence(kind: "redis" | "ours", n: number) {
  const dir = await Deno.makeTempDir();
  try {
    const port = await freePort();
    const cmd = kind === "redis"
      ? ["redis-server", "--port", String(port), "--dir", dir, "--save", ""]
      : dataNodeCommand(port, ["--dir", dir, "--save", "", "--admin-port", "-1"]);
    let saveSec: number;
    let bgsaveMaxPingMs = 0;
    {
      await using _saver = await startProcess({ cmd, port });
      await populate(port, n);
      const c = await RedisClient.connect({ port, commandTimeoutMs: 0 });
      const t0 = performance.now();
      await c.call("SAVE");
      saveSec = (performance.now() - t0) / 1000;
      // How long clients wait during a BGSAVE: the worst PING round trip while it runs.
      await c.call("BGSAVE");
      for (;;) {
        const p0 = performance.now();
        await c.call("PING");
        bgsaveMaxPingMs = Math.max(bgsaveMaxPingMs, performance.now() - p0);
        const info = String(await c.call("INFO", "persistence"));
        if (info.includes("rdb_bgsave_in_progress:0")) break;
      }
      await c.close();
    }
    const size = (await Deno.stat(`${dir}/dump.rdb`)).size;
    const t0 = performance.now();
    await using _loaded = await startProcess({ cmd, port, readyTimeoutMs: 120000 });
    // Ready means the load finished (a loading server answers -LOADING, so wait for DBSIZE).
    const c = await RedisClient.connect({ port, commandTimeoutMs: 0 });
    for (;;) {
      const v = await c.call("DBSIZE").catch(() => null);
      if (v === n) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const loadSec = (performance.now() - t0) / 1000;
    await c.close();
    return { saveSec, loadSec, mb: size / 1024 / 1024, bgsaveMaxPingMs };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function main(): Promise<void> {
  if (!which("redis-server") || !which("redis-benchmark")) {
    console.log("SKIP: redis-server/redis-benchmark not installed; nothing to compare against");
    return;
  }
  const report: Record<string, unknown> = {};
  const keys = Number(values.keys);
  {
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
      report.types = await throughput(redis, ours, ["c50p1"], [
        "lpush",
        "lpop",
        "sadd",
        "hset",
        "zadd",
      ]);
    }
    if (sections.has("suite")) report.suite = await suite(redis, ours);
  }
  if (sections.has("persistence")) {
    report.persistence = {
      redis: await persistence("redis", keys),
      ours: await persistence("ours", keys),
    };
  }
  if (sections.has("memory")) {
    const r = await memory(() => startRedisServer(), keys);
    const o = await memory(() => startDataNode(), keys);
    report.memory = { redisBytesPerKey: r, oursBytesPerKey: o, ratio: o / r };
  }
  if (values.json) return console.log(JSON.stringify(report, null, 2));
  for (const name of ["throughput", "types"]) {
    if (!report[name]) continue;
    console.log(`\n## ${name}`);
    printRows(report[name] as Row[]);
  }
  if (report.suite) {
    console.log("\n## redis-benchmark default suite (ops/s)");
    for (
      const r of report.suite as {
        test: string;
        redisRps: number;
        oursRps: number;
        ratio: number;
      }[]
    ) {
      console.log(
        `${r.test.padEnd(40)}${r.redisRps.toFixed(0).padStart(10)}${
          r.oursRps.toFixed(0).padStart(10)
        }${r.ratio.toFixed(2).padStart(7)}`,
      );
    }
  }
  if (report.persistence) {
    const p = report.persistence as Record<
      string,
      { saveSec: number; loadSec: number; mb: number; bgsaveMaxPingMs: number }
    >;
    console.log(`\n## persistence (${keys} keys)`);
    for (const [k, v] of Object.entries(p)) {
      console.log(
        `${k.padEnd(6)} SAVE ${v.saveSec.toFixed(2)} s (${
          (v.mb / v.saveSec).toFixed(1)
        } MB/s)  load ${v.loadSec.toFixed(2)} s (${(v.mb / v.loadSec).toFixed(1)} MB/s)  file ${
          v.mb.toFixed(1)
        } MB  max PING during BGSAVE ${v.bgsaveMaxPingMs.toFixed(1)} ms`,
      );
    }
  }
  if (report.memory) {
    const m = report.memory as { redisBytesPerKey: number; oursBytesPerKey: number; ratio: number };
    console.log(
      `\n## memory (${keys} small strings)\nredis ${m.redisBytesPerKey.toFixed(1)} B/key, ours ${
        m.oursBytesPerKey.toFixed(1)
      } B/key, ratio ${m.ratio.toFixed(2)}`,
    );
  }
}

await main();
