/**
 * `deno task bench`: redis-benchmark against our data node and a real redis-server in the same
 * run. For each test and client config it prints ops/s and server CPU µs per request (utime +
 * stime of the server process from /proc over the run, divided by requests) for both, and the
 * ratios ours/redis. On 2 cores redis-benchmark itself is often the bottleneck, so CPU per
 * request is the steadier figure.
 *
 *   deno task bench [--requests N] [--tests set,get,...] [--json]
 */
import { parseArgs } from "node:util";
import { startDataNode, startRedisServer, which } from "../helpers/process.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    tests: { type: "string", default: "set,get,incr,mset" },
    json: { type: "boolean", default: false },
    configs: { type: "string", default: "c50p1,c50p16,c1p1" },
  },
});

const CONFIGS: Record<string, { c: number; p: number; share: number }> = {
  c50p1: { c: 50, p: 1, share: 1 },
  c50p16: { c: 50, p: 16, share: 1 },
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

async function main(): Promise<void> {
  if (!which("redis-server") || !which("redis-benchmark")) {
    console.log("SKIP: redis-server/redis-benchmark not installed; nothing to compare against");
    return;
  }
  const n = Number(values.requests);
  await using redis = await startRedisServer();
  await using ours = await startDataNode();
  const rows: Row[] = [];
  for (const cfgName of values.configs!.split(",")) {
    const cfg = CONFIGS[cfgName];
    if (!cfg) throw new Error(`unknown config ${cfgName}`);
    for (const test of values.tests!.split(",")) {
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
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
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
        r.rpsRatio.toFixed(2).padStart(8)
      }${fmt(r.redisUs, 2).padStart(14)}${fmt(r.oursUs, 2).padStart(13)}${
        r.cpuRatio.toFixed(2).padStart(8)
      }`,
    );
  }
}

await main();
