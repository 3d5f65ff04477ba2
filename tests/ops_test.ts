/**
 * SLOWLOG, MONITOR redaction, the latency monitor and latency histograms, compared with a real
 * redis-server where the replies are deterministic (arguments, client names, redaction), and
 * checked for shape and plausibility where they hold times; and MIGRATE inside MULTI/EXEC.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { freePort, hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { encodeCommand } from "../shared/resp/mod.ts";
import type { RespValue } from "../shared/resp/mod.ts";

if (!hasRedis) {
  console.log("SKIP: slow log comparison with redis-server: redis-server not installed");
}

const DEBUG = ["--enable-debug-command", "yes"];

/** Runs commands whose slow log entries are compared: the arguments and client name of each. */
async function slowlogTranscript(port: number, closed: number): Promise<unknown[]> {
  using conn = await RawConn.connect(port);
  await conn.call("CONFIG", "SET", "slowlog-log-slower-than", "0");
  await conn.call("SLOWLOG", "RESET");
  await conn.call("SET", "k", "v");
  await conn.call("AUTH", "nope");
  await conn.call("AUTH", "someone", "secret");
  await conn.call("HELLO", "2", "AUTH", "user", "pass");
  await conn.call("CONFIG", "SET", "masterauth", "hidden");
  await conn.call("CONFIG", "SET", "maxmemory-samples", "5");
  await conn.call("MIGRATE", "127.0.0.1", String(closed), "k", "0", "100", "AUTH", "pw");
  await conn.call("MIGRATE", "127.0.0.1", String(closed), "k", "0", "100", "AUTH2", "u", "pw");
  await conn.call("RPUSH", "l", ...Array.from({ length: 40 }, (_, i) => String(i)));
  await conn.call("SET", "big", "x".repeat(200));
  await conn.call("CLIENT", "SETNAME", "worker");
  await conn.call("MULTI");
  await conn.call("INCR", "n");
  await conn.call("GET", "n");
  await conn.call("EXEC");
  // ACL SETUSER shows none of its arguments, whether it fails or not.
  await conn.call("ACL", "SETUSER", "bad name", "+get");
  await conn.call("ACL", "SETUSER", "slowuser", "on", ">pw", "~k*");
  await conn.call("ACL", "DELUSER", "slowuser");
  // A BLPOP that times out is never logged; one served later is, as the client sent it.
  await conn.call("BLPOP", "nolist", "0.01");
  using waiter = await RawConn.connect(port);
  await waiter.write(encodeCommand(["BLPOP", "bl", "0"]));
  await eventually(
    async () => String(await conn.call("INFO", "clients")).includes("blocked_clients:1"),
    "BLPOP blocked",
  );
  await conn.call("RPUSH", "bl", "x");
  await waiter.read();
  await conn.call("CONFIG", "SET", "slowlog-log-slower-than", "-1");
  const entries = await conn.call("SLOWLOG", "GET", "-1") as RespValue[][];
  const len = await conn.call("SLOWLOG", "LEN");
  await conn.call("CONFIG", "SET", "masterauth", "");
  // id, time and duration vary; the arguments and the client name must match (not how many
  // times INFO polled).
  const shown = entries.filter((e) => (e[3] as string[])[0] !== "INFO");
  return [len as number - (entries.length - shown.length), shown.map((e) => [e[3], e[5]])];
}

Deno.test({
  name: "slow log: entries, argument limits, redaction and EXEC as in redis-server",
  ignore: !hasRedis,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    // MIGRATE to a port nobody listens on: it fails, its AUTH arguments are still redacted.
    const closed = await freePort();
    const expected = await slowlogTranscript(redis.port, closed);
    const entries = (expected[1] as unknown[][]).map((e) => (e[0] as string[]).join(" "));
    ok(entries.some((e) => e === "AUTH (redacted) (redacted)"), entries.join("\n"));
    ok(entries.some((e) => e.startsWith("RPUSH l 0 1") && e.endsWith("... (11 more arguments)")));
    deepStrictEqual(await slowlogTranscript(ours.port, closed), expected);
  },
});

Deno.test({
  name: "MONITOR shows secrets redacted, as redis-server does",
  ignore: !hasRedis,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const transcript = async (port: number) => {
      using mon = await RawConn.connect(port);
      using other = await RawConn.connect(port);
      await mon.call("MONITOR");
      await other.call("AUTH", "a", "b");
      await other.call("HELLO", "2", "AUTH", "u", "pw");
      // CONFIG is an admin command: never shown.
      await other.call("CONFIG", "SET", "masterauth", "pw");
      await other.call("SET", "x", "1");
      const lines: string[] = [];
      for (;;) {
        lines.push(String(await mon.read()).replace(/^[\d.]+ \[0 [^\]]+\] /, ""));
        if (lines.at(-1)!.startsWith('"SET"')) return lines;
      }
    };
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const expected = await transcript(redis.port);
    ok(expected.every((l) => !l.includes('"pw"') && !l.includes('"b"')), expected.join("\n"));
    deepStrictEqual(await transcript(ours.port), expected);
  },
});

Deno.test({
  name: "latency monitor: a slow command is a `command` event with history, graph and doctor",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using node = await startDataNode(DEBUG);
    using conn = await RawConn.connect(node.port);
    await conn.call("CONFIG", "SET", "latency-monitor-threshold", "50");
    deepStrictEqual(await conn.call("LATENCY", "LATEST"), []);
    await conn.call("DEBUG", "SLEEP", "0.12");
    const latest = await conn.call("LATENCY", "LATEST") as RespValue[][];
    deepStrictEqual(latest.length, 1);
    const [event, time, latency, max] = latest[0]!;
    deepStrictEqual(event, "command");
    ok(Math.abs(Number(time) - Date.now() / 1000) < 5, `time ${time}`);
    ok(Number(latency) >= 120 && Number(latency) < 2000, `latency ${latency}`);
    deepStrictEqual(max, latency);
    const history = await conn.call("LATENCY", "HISTORY", "command") as RespValue[][];
    deepStrictEqual(history, [[time, latency]]);
    const graph = String(await conn.call("LATENCY", "GRAPH", "command"));
    ok(graph.startsWith(`command - high ${latency} ms, low ${latency} ms`), graph);
    ok(String(await conn.call("LATENCY", "DOCTOR")).includes("command"));
    // Fast commands under the threshold add nothing.
    await conn.call("PING");
    deepStrictEqual((await conn.call("LATENCY", "LATEST") as unknown[]).length, 1);
    deepStrictEqual(await conn.call("LATENCY", "RESET", "COMMAND"), 1);
    deepStrictEqual(await conn.call("LATENCY", "LATEST"), []);
    // The slow log took it too (default threshold 10 ms), with its duration in µs.
    const slow = await conn.call("SLOWLOG", "GET", "1") as RespValue[][];
    deepStrictEqual(slow[0]![3], ["DEBUG", "SLEEP", "0.12"]);
    ok(Number(slow[0]![2]) >= 120_000, `duration ${slow[0]![2]}`);
  },
});

Deno.test({
  name: "latency histograms: LATENCY HISTOGRAM counts calls, INFO latencystats percentiles",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using node = await startDataNode();
    using conn = await RawConn.connect(node.port);
    await conn.call("CONFIG", "RESETSTAT");
    for (let i = 0; i < 5; i++) await conn.call("SET", "a", String(i));
    await conn.call("CLIENT", "ID");
    const histo = await conn.call("LATENCY", "HISTOGRAM", "set", "client") as RespValue[];
    deepStrictEqual(histo.length, 4);
    const byName = new Map([[histo[0], histo[1]], [histo[2], histo[3]]]);
    const set = byName.get("set") as RespValue[];
    deepStrictEqual(set.slice(0, 3), ["calls", 5, "histogram_usec"]);
    // Power-of-two buckets, cumulative counts ending at the number of calls.
    const buckets = set[3] as number[];
    ok(buckets.length >= 2 && buckets.length % 2 === 0);
    deepStrictEqual(buckets[buckets.length - 1], 5);
    deepStrictEqual((byName.get("client|id") as RespValue[])[1], 1);
    const info = String(await conn.call("INFO", "latencystats"));
    ok(
      /latency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n/.test(info),
      info,
    );
    await conn.call("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.5");
    const info2 = String(await conn.call("INFO", "latencystats"));
    ok(/latency_percentiles_usec_set:p50=\d+\.\d{3},p99\.5=\d+\.\d{3}\r\n/.test(info2), info2);
    // With tracking off, new commands get no histogram.
    await conn.call("CONFIG", "SET", "latency-tracking", "no");
    await conn.call("CONFIG", "RESETSTAT");
    await conn.call("GET", "a");
    deepStrictEqual(await conn.call("LATENCY", "HISTOGRAM", "get"), []);
  },
});

/** Counters of XREADGROUP after blocked calls woken with NOGROUP / UNBLOCKED errors. */
async function wokenWithErrors(port: number): Promise<string> {
  using conn = await RawConn.connect(port);
  using waiter = await RawConn.connect(port);
  await conn.call("CONFIG", "RESETSTAT");
  for (const wake of [["XGROUP", "DESTROY", "s", "g"], ["SET", "s", "x"]]) {
    await conn.call("DEL", "s");
    await conn.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM");
    await waiter.write(
      encodeCommand(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]),
    );
    await eventually(
      async () => String(await conn.call("INFO", "clients")).includes("blocked_clients:1"),
      "XREADGROUP blocked",
    );
    await conn.call(...wake);
    await waiter.read();
  }
  const info = String(await conn.call("INFO", "commandstats"));
  const m = info.match(/cmdstat_xreadgroup:(calls=\d+),.*(rejected_calls=\d+,failed_calls=\d+)/);
  return m ? `${m[1]} ${m[2]}` : info;
}

Deno.test({
  name: "commandstats: a blocked command woken with an error is a failed call, as in redis-server",
  ignore: !hasRedis,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const expected = await wokenWithErrors(redis.port);
    ok(expected.includes("failed_calls=2"), expected);
    deepStrictEqual(await wokenWithErrors(ours.port), expected);
  },
});

/** EVAL/LPUSH commandstats and errorstats after scripts that return errors. */
async function scriptErrorStats(port: number): Promise<string> {
  using conn = await RawConn.connect(port);
  await conn.call("SET", "k", "v");
  await conn.call("CONFIG", "RESETSTAT");
  // A command's error returned by the script: counted once, yet the EVAL failed.
  await conn.call("EVAL", "return redis.pcall('lpush', KEYS[1], 'a')", "1", "k");
  // An error the script makes itself, and a successful script.
  await conn.call("EVAL", "return redis.error_reply('MY own')", "0");
  await conn.call("EVAL", "return 1", "0");
  const cmds = String(await conn.call("INFO", "commandstats"));
  const errs = String(await conn.call("INFO", "errorstats"));
  const pick = (name: string) =>
    cmds.match(new RegExp(`cmdstat_${name}:calls=(\\d+),.*(rejected_calls=\\d+,failed_calls=\\d+)`))
      ?.slice(1).join(" ") ?? `no ${name}`;
  const errors = errs.split("\r\n").filter((l) => l.startsWith("errorstat_")).sort();
  return [pick("eval"), pick("lpush"), ...errors].join("\n");
}

Deno.test({
  name: "commandstats and errorstats: errors a script returns count once and fail the EVAL",
  ignore: !hasRedis,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const expected = await scriptErrorStats(redis.port);
    ok(expected.includes("failed_calls=2"), expected);
    deepStrictEqual(await scriptErrorStats(ours.port), expected);
  },
});

/**
 * MIGRATE inside MULTI/EXEC: its reply keeps its place in EXEC's array, the commands after it
 * run once it has finished, and another client's command waits for the whole transaction (Redis
 * runs MIGRATE blocking). The target is a redis-server for both.
 */
async function migrateInExec(port: number, target: number): Promise<RespValue[]> {
  using a = await RawConn.connect(port);
  using b = await RawConn.connect(port);
  using t = await RawConn.connect(target);
  const out: RespValue[] = [];
  out.push(await t.call("FLUSHALL"));
  out.push(await a.call("SET", "k", "v"));
  out.push(await a.call("MULTI"));
  out.push(await a.call("SET", "x", "1"));
  out.push(await a.call("MIGRATE", "127.0.0.1", String(target), "k", "0", "2000"));
  out.push(await a.call("INCR", "x"));
  await a.write(encodeCommand(["EXEC"]));
  out.push(await b.call("GET", "x"), await a.read());
  out.push(await b.call("EXISTS", "k"), await t.call("GET", "k"));
  return out;
}

Deno.test({
  name: "MIGRATE inside MULTI/EXEC: replies in order, the transaction whole, as in Redis",
  ignore: !hasRedis,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using target = await startRedisServer();
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const got = await migrateInExec(ours.port, target.port);
    deepStrictEqual(got.at(-4), "2", "another client sees the whole transaction");
    deepStrictEqual(got, await migrateInExec(redis.port, target.port));
  },
});
if (!hasRedis) console.log("SKIP: redis-server not installed: MIGRATE inside MULTI/EXEC");
