/**
 * The benchmark at tiny sizes: it must run to the end and report ratios ours/redis and its
 * summary, as text and as JSON. The figures themselves mean nothing at these sizes.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { requireBinary } from "./helpers/process.ts";
import { interleaved, median } from "./bench/common.ts";

const bench = new URL("./bench/bench.ts", import.meta.url).pathname;
const root = new URL("../", import.meta.url).pathname;

async function runBench(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", bench, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  equal(out.success, true, `bench failed:\n${stdout}\n${new TextDecoder().decode(out.stderr)}`);
  return stdout;
}

const needs = (name: string) =>
  requireBinary("redis-server", name) === null || requireBinary("redis-benchmark", name) === null;

const TEXT = "bench prints ratio tables and a summary of the targets";
Deno.test({
  name: TEXT,
  ignore: needs(TEXT),
  async fn() {
    const out = await runBench([
      "--sections",
      "throughput,memory,stream-memory",
      "--tests",
      "get",
      "--configs",
      "c50p1",
      "--requests",
      "2000",
      "--keys",
      "10000",
      "--rounds",
      "2",
    ]);
    // test, config, redis ops/s, ours ops/s, ratio, redis µs, ours µs, ratio (n/a if no ticks).
    match(out, /^GET\s+-c 50 -P 1\s+\d+\s+\d+\s+\d+\.\d\d\s+[\d.]+\s+[\d.]+\s+(\d+\.\d\d|n\/a)$/m);
    match(out, /^redis [\d.]+ B\/key, ours [\d.]+ B\/key, ratio\s*\d+\.\d\d$/m);
    match(out, /^## summary/m);
    // One of the six -P 1 throughput ratios was measured; the memory target is judged.
    match(out, /^ops\/s >= 1\.0x: .*\s\d+\.\d\d\s+\d+\.\d\d\s+(MET|MISSED) \(1 of 6 measured\)/m);
    match(
      out,
      /^RSS\/key <= 1\.5x: 10000 DEBUG POPULATE strings\s+\d+\.\d\d\s+\d+\.\d\d\s+(MET|MISSED)$/m,
    );
    match(out, /^startup load <= 1\.5x: .*NOT RUN$/m);
    // Stream entries: the first 10000 and 10000 more, both servers; the second is judged.
    match(out, /^first 10000 entries: redis -?[\d.]+ B\/entry, ours -?[\d.]+ B\/entry, ratio/m);
    match(out, /^10000 more entries: redis -?[\d.]+ B\/entry, ours -?[\d.]+ B\/entry, ratio/m);
    match(out, /^RSS\/entry <= 1\.5x: 10000 more entries .*\s(MET|MISSED)$/m);
  },
});

const JSON_RUN = "bench --json gives machine-readable ratios, heap figures and the summary";
Deno.test({
  name: JSON_RUN,
  ignore: needs(JSON_RUN),
  async fn() {
    const out = await runBench([
      "--sections",
      "collections,heap",
      "--requests",
      "2000",
      "--type-keys",
      "2000",
      "--json",
    ]);
    const report = JSON.parse(out);
    equal(report.sizes.typeKeys, 2000);
    equal(report.throughput, undefined);
    for (const type of ["hash", "zset", "list", "set"]) {
      const c = report.collections[type];
      ok(c.redis > 0 && c.ours > 0 && Number.isFinite(c.ratio), `${type}: ${JSON.stringify(c)}`);
    }
    if (report.heap.skipped) {
      console.log(`heap section skipped by the bench: ${report.heap.skipped}`);
    } else {
      equal(report.heap.rows.length, 4);
      for (const r of report.heap.rows) {
        ok(r.commands >= 2000 && r.bytesPerCommand > 0, JSON.stringify(r));
      }
    }
    const judged = report.summary.find((v: { target: string }) =>
      v.target.startsWith("RSS/key <= 1.5x: 2000 small")
    );
    equal(judged.measured, 4);
    equal(typeof judged.met, "boolean");
    ok(judged.worst >= judged.best, JSON.stringify(judged));
    const notRun = report.summary.find((v: { target: string }) =>
      v.target.startsWith("startup load")
    );
    equal(notRun.met, null);
  },
});

const REPL = "bench replication section: full sync, lag and master CPU with replicas, side by side";
Deno.test({
  name: REPL,
  ignore: needs(REPL),
  async fn() {
    const out = await runBench([
      "--sections",
      "replication",
      "--keys",
      "2000",
      "--requests",
      "1000",
      "--json",
    ]);
    const rep = JSON.parse(out).replication;
    equal(rep.keys, 2000);
    const finite = (x: unknown) => typeof x === "number" && Number.isFinite(x);
    equal(rep.fullSync.length, 2);
    for (const row of rep.fullSync) {
      for (const k of ["redis", "ours"]) {
        const f = row[k];
        ok(
          f.seconds > 0 && f.rdbBytes > 0 && f.mbPerSec > 0,
          `${row.mode} ${k}: ${JSON.stringify(f)}`,
        );
      }
      ok(finite(row.ratio), JSON.stringify(row));
    }
    for (const k of ["redis", "ours"]) {
      const l = rep.lag[k];
      ok(l.samples >= 1 && l.rps > 0, `${k}: ${JSON.stringify(l)}`);
      ok(l.p50 >= 0 && l.p99 >= l.p50 && l.max >= l.p99, `${k}: ${JSON.stringify(l)}`);
    }
    // 0, 1 and 2 replicas at -P 16 and -P 1; tiny runs may register no CPU ticks.
    equal(rep.cpu.length, 6);
    for (const r of rep.cpu) {
      ok(r.redisRps > 0 && r.oursRps > 0, JSON.stringify(r));
      ok(r.redisUs >= 0 && r.oursUs >= 0, JSON.stringify(r));
      equal(r.redisReplicaUs === null, r.replicas === 0, JSON.stringify(r));
    }
    const summary = JSON.parse(out).summary as { target: string; measured: number }[];
    equal(summary.find((v) => v.target.startsWith("full sync time"))!.measured, 2);
    ok(summary.some((v) => v.target.startsWith("master CPU/req <= 1.3x with 2 replicas")));
  },
});

const HA = "bench sentinel and cluster sections: failover times, lost writes, reshard, bus cost";
Deno.test({
  name: HA,
  ignore: needs(HA) || requireBinary("redis-sentinel", HA) === null ||
    requireBinary("redis-cli", HA) === null,
  async fn() {
    const out = await runBench([
      "--sections",
      "sentinel,cluster",
      "--quick",
      "--requests",
      "2000",
      "--keys",
      "2000",
      "--bus-sizes",
      "3,4",
      "--bus-seconds",
      "1",
      "--json",
    ]);
    const report = JSON.parse(out);
    const s = report.sentinel;
    // One failover per implementation without WAIT and one with WAIT 1 100.
    equal(s.rounds.length, 4);
    for (const r of s.rounds) {
      ok(r.error === undefined, `sentinel round: ${r.error}`);
      ok(r.failoverMs > 0 && r.ackedBefore > 0 && r.lost >= 0, JSON.stringify(r));
    }
    const c = report.cluster;
    deepStrictEqual(c.errors, []);
    equal(c.throughput.length, 4);
    for (const r of c.throughput) ok(r.redisRps > 0 && r.oursRps > 0, JSON.stringify(r));
    equal(c.failovers.length, 2);
    for (const f of c.failovers) ok(f.failoverMs > 0, JSON.stringify(f));
    for (const k of ["redis", "ours"]) {
      const r = c.reshard[k];
      ok(r.error === undefined && r.keys >= 2000 && r.keysPerSec > 0, JSON.stringify(r));
    }
    equal(c.bus.length, 4);
    for (const p of c.bus) ok(p.msgsSent > 0 && p.bytesSent > 0, JSON.stringify(p));
    equal(c.models.length, 2);
    const summary = report.summary as { target: string; measured: number }[];
    for (const t of ["sentinel failover time", "cluster failover time", "cluster reshard"]) {
      ok(summary.find((v) => v.target.startsWith(t))!.measured >= 1, t);
    }
  },
});

const FAMILIES =
  "bench families section: EVALSHA XADD XREADGROUP PFADD GEOADD against redis-server";
Deno.test({
  name: FAMILIES,
  ignore: needs(FAMILIES),
  async fn() {
    // Enough requests for each server's CPU time to span several of /proc's 10 ms ticks (a
    // cheap family costs redis-server about 3 µs a request): otherwise a ratio has no divisor.
    const out = await runBench(
      ["--sections", "families", "--requests", "20000", "--rounds", "1", "--json"],
    );
    const report = JSON.parse(out);
    deepStrictEqual(
      report.families.map((r: { test: string }) => r.test),
      ["EVALSHA", "XADD", "XREADGROUP", "PFADD", "GEOADD"],
    );
    for (const r of report.families) ok(r.redisRps > 0 && r.oursRps > 0, JSON.stringify(r));
    const t = (report.summary as { target: string; measured: number }[])
      .find((v) => v.target.startsWith("CPU/req <= 1.5x: EVALSHA"))!;
    equal(t.measured, 5);
  },
});

Deno.test("bench medians: each server's figures are the medians of its interleaved rounds", async () => {
  equal(median([3, 1, 2]), 2);
  equal(median([4, 1, 3, 2]), 2.5);
  ok(Number.isNaN(median([])));
  const order: string[] = [];
  let r = 0, o = 0;
  const [redis, ours] = await interleaved(
    3,
    () => (order.push("redis"), Promise.resolve({ us: [5, 1, 3][r++]!, rps: 10 * r })),
    () => (order.push("ours"), Promise.resolve({ us: [7, 9, 8][o++]!, rps: o })),
  );
  deepStrictEqual(order, ["redis", "ours", "redis", "ours", "redis", "ours"]);
  deepStrictEqual(redis, { us: 3, rps: 20 });
  deepStrictEqual(ours, { us: 8, rps: 2 });
});
