/**
 * The `sentinel` section of the benchmark: failover time and acknowledged writes lost, ours
 * (our data nodes and our sentinels) against redis-server with redis-sentinel, same settings.
 *
 * Each round builds a fresh group: a master, two replicas and three sentinels (quorum 2,
 * down-after-milliseconds 1000, failover-timeout 10000). An ioredis client in Sentinel mode
 * (retry strategies of 50 ms) writes `INCR w:<i>` in a loop, one command at a time, each key
 * new; in the WAIT rounds every INCR is followed by `WAIT 1 100`. After 1 s of writes the master
 * is killed with SIGKILL. Failover time = from the kill until the first write acknowledged by
 * another node (the client's connection is to the new master's port). The writes go on for
 * 300 ms more; then every key acknowledged before the kill is looked up on the new master.
 *
 * Acknowledged: the INCR's reply came back (and in the WAIT rounds, WAIT answered at least 1).
 * Lost: acknowledged, and absent from the new master afterwards.
 */
import { Redis } from "ioredis";
import { RedisClient } from "../../shared/client.ts";
import { Group, MASTER_NAME } from "../helpers/sentinel.ts";
import type { Impl } from "../helpers/replication.ts";
import { percentile, progress, ratio, sleep, type Target } from "./common.ts";

export const DOWN_AFTER_MS = 1000;
export const FAILOVER_TIMEOUT_MS = 10_000;
const RETRY_MS = 50;
const WRITE_BEFORE_KILL_MS = 1000;
const WRITE_AFTER_MS = 300;
/** A failover that has not let a write through in this long counts as failed. */
const FAILOVER_LIMIT_MS = 30_000;
/** One command's bound: a reply later than this is not an acknowledgement. */
const COMMAND_TIMEOUT_MS = 2000;

export interface FailoverRound {
  impl: Impl;
  wait: boolean;
  round: number;
  /** From SIGKILL to the first write acknowledged by the new master; null when it failed. */
  failoverMs: number | null;
  /** Writes acknowledged by the old master (before the kill). */
  ackedBefore: number;
  /** Of those, absent from the new master afterwards (null when the failover failed). */
  lost: number | null;
  /** WAIT rounds: WAIT replies of 0 (the INCR not counted as acknowledged). */
  waitTimeouts: number;
  error?: string;
}

export interface SentinelStats {
  impl: Impl;
  wait: boolean;
  rounds: number;
  completed: number;
  medianMs: number;
  maxMs: number;
  lostTotal: number;
  lostMax: number;
}

export interface SentinelReport {
  failovers: number;
  rounds: FailoverRound[];
  stats: SentinelStats[];
  /** Median failover time ours / redis over all rounds (both modes). */
  medianRatio: number;
  maxRatio: number;
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => t = setTimeout(() => rej(new Error("timed out")), ms)),
  ]).finally(() => clearTimeout(t));
}

/** One failover of a fresh group of `impl`. */
async function round(impl: Impl, wait: boolean, n: number): Promise<FailoverRound> {
  const out: FailoverRound = {
    impl,
    wait,
    round: n,
    failoverMs: null,
    ackedBefore: 0,
    lost: null,
    waitTimeouts: 0,
  };
  progress(`sentinel: ${impl}, failover ${n}${wait ? " with WAIT 1 100" : ""}`);
  await using g = await Group.start({
    data: impl,
    replicas: 2,
    sentinels: [impl, impl, impl],
    downAfterMs: DOWN_AFTER_MS,
    failoverTimeoutMs: FAILOVER_TIMEOUT_MS,
  });
  await g.discovered(20_000);
  const oldPort = g.master.port;
  const io = new Redis({
    sentinels: g.sentinels.map((s) => ({ host: "127.0.0.1", port: s.port })),
    name: MASTER_NAME,
    lazyConnect: true,
    retryStrategy: () => RETRY_MS,
    sentinelRetryStrategy: () => RETRY_MS,
    connectTimeout: 1000,
  });
  io.on("error", () => {});
  const ackedOld: string[] = [];
  let killedAt = 0;
  let deadAt = 0;
  let firstNewAt = 0;
  let stop = false;
  try {
    await io.connect();
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const key = `w:${i}`;
        // Only a write sent once the killed process is gone can show the new master.
        const sentAfterDeath = deadAt !== 0;
        try {
          await within(io.incr(key), COMMAND_TIMEOUT_MS);
          if (wait) {
            const replicas = await within(io.wait(1, 100), COMMAND_TIMEOUT_MS);
            if (replicas < 1) {
              out.waitTimeouts++;
              continue;
            }
          }
          const port = io.stream?.remotePort;
          if (killedAt === 0) ackedOld.push(key);
          else if (sentAfterDeath && port !== oldPort && firstNewAt === 0) {
            firstNewAt = performance.now();
          }
        } catch {
          await sleep(RETRY_MS);
        }
      }
    })();
    await sleep(WRITE_BEFORE_KILL_MS);
    // Set before the signal: a reply that arrives from here on is not counted as acknowledged
    // by the old master (the check above is after the reply, so this errs on fewer acks).
    killedAt = performance.now();
    await g.master.proc.kill9();
    deadAt = performance.now();
    const deadline = killedAt + FAILOVER_LIMIT_MS;
    while (firstNewAt === 0 && performance.now() < deadline) await sleep(5);
    if (firstNewAt === 0) {
      stop = true;
      await writer;
      out.error = `no write acknowledged by a new master within ${FAILOVER_LIMIT_MS} ms of ` +
        `the kill\n${await g.dump()}`;
      return out;
    }
    out.failoverMs = firstNewAt - killedAt;
    await sleep(WRITE_AFTER_MS);
    stop = true;
    await writer;
    out.ackedBefore = ackedOld.length;
    const now = await g.newMaster(`127.0.0.1:${oldPort}`, FAILOVER_LIMIT_MS);
    const c = await RedisClient.connect({
      port: Number(now.slice(now.lastIndexOf(":") + 1)),
      commandTimeoutMs: 0,
      maxPending: 100000,
    });
    try {
      let lost = 0;
      for (let i = 0; i < ackedOld.length; i += 1000) {
        const part = ackedOld.slice(i, i + 1000);
        const replies = await c.pipeline(part.map((k) => ["EXISTS", k]));
        lost += replies.filter((r) => r !== 1).length;
      }
      out.lost = lost;
    } finally {
      await c.close();
    }
    return out;
  } catch (e) {
    out.error = (e as Error).stack ?? String(e);
    return out;
  } finally {
    stop = true;
    io.disconnect();
  }
}

function stats(rounds: FailoverRound[], impl: Impl, wait: boolean): SentinelStats {
  const mine = rounds.filter((r) => r.impl === impl && r.wait === wait);
  const times = mine.flatMap((r) => r.failoverMs === null ? [] : [r.failoverMs]).sort((a, b) =>
    a - b
  );
  const lost = mine.flatMap((r) => r.lost === null ? [] : [r.lost]);
  return {
    impl,
    wait,
    rounds: mine.length,
    completed: times.length,
    medianMs: percentile(times, 0.5),
    maxMs: times.length === mine.length && times.length > 0 ? times[times.length - 1]! : NaN,
    lostTotal: lost.reduce((a, b) => a + b, 0),
    lostMax: lost.length ? Math.max(...lost) : NaN,
  };
}

export async function sentinelSection(failovers: number): Promise<SentinelReport> {
  const rounds: FailoverRound[] = [];
  for (const wait of [false, true]) {
    for (const impl of ["redis", "ours"] as const) {
      for (let i = 1; i <= failovers; i++) {
        const r = await round(impl, wait, i);
        if (r.error) progress(`sentinel: ${impl} failover ${i} FAILED: ${r.error}`);
        rounds.push(r);
      }
    }
  }
  const all = (impl: Impl) => {
    const t = rounds.filter((r) => r.impl === impl);
    const ok = t.flatMap((r) => r.failoverMs === null ? [] : [r.failoverMs]).sort((a, b) => a - b);
    return { median: percentile(ok, 0.5), max: ok.length === t.length ? ok[ok.length - 1]! : NaN };
  };
  const r = all("redis"), o = all("ours");
  return {
    failovers,
    rounds,
    stats: [false, true].flatMap((w) =>
      (["redis", "ours"] as const).map((i) => stats(rounds, i, w))
    ),
    medianRatio: o.median / r.median,
    // NaN when a round failed (no time): the summary reports those rounds as failed.
    maxRatio: o.max / r.max,
  };
}

export function printSentinel(rep: SentinelReport): void {
  console.log(
    `\n## sentinel: failover with a master, 2 replicas, 3 sentinels (down-after ${DOWN_AFTER_MS}` +
      ` ms, failover-timeout ${FAILOVER_TIMEOUT_MS} ms); ms from SIGKILL to the first write` +
      ` acknowledged by the new master (ioredis in Sentinel mode, INCR loop, ${RETRY_MS} ms retries)`,
  );
  console.log(
    `${"impl".padEnd(7)}${"mode".padEnd(11)}${"round".padStart(6)}${"failover ms".padStart(13)}` +
      `${"acked".padStart(8)}${"lost".padStart(6)}${"WAIT=0".padStart(8)}`,
  );
  for (const r of rep.rounds) {
    console.log(
      `${r.impl.padEnd(7)}${(r.wait ? "WAIT 1 100" : "no WAIT").padEnd(11)}${
        String(r.round).padStart(6)
      }${(r.failoverMs === null ? "FAILED" : r.failoverMs.toFixed(0)).padStart(13)}${
        String(r.ackedBefore).padStart(8)
      }${(r.lost === null ? "-" : String(r.lost)).padStart(6)}${
        (r.wait ? String(r.waitTimeouts) : "-").padStart(8)
      }`,
    );
  }
  console.log(
    `\n${"impl".padEnd(7)}${"mode".padEnd(11)}${"done".padStart(7)}${"median ms".padStart(11)}` +
      `${"max ms".padStart(9)}${"lost total".padStart(12)}${"lost max".padStart(10)}`,
  );
  const num = (x: number, w: number) => (Number.isFinite(x) ? x.toFixed(0) : "n/a").padStart(w);
  for (const s of rep.stats) {
    console.log(
      `${s.impl.padEnd(7)}${(s.wait ? "WAIT 1 100" : "no WAIT").padEnd(11)}${
        `${s.completed}/${s.rounds}`.padStart(7)
      }${num(s.medianMs, 11)}${num(s.maxMs, 9)}${String(s.lostTotal).padStart(12)}${
        num(s.lostMax, 10)
      }`,
    );
  }
  console.log(
    `failover time ratio ours/redis (all rounds): median ${ratio(rep.medianRatio, 0)}, max ${
      ratio(rep.maxRatio, 0)
    }`,
  );
  for (const r of rep.rounds) {
    if (r.error) console.log(`FAILED: ${r.impl} round ${r.round}: ${r.error.split("\n")[0]}`);
  }
}

/** Our rounds (of one mode, or all) whose failover did not complete. */
function failedRounds(rep: SentinelReport | undefined, waitOnly: boolean): string[] {
  return (rep?.rounds ?? []).filter((r) => r.impl === "ours" && r.error && (!waitOnly || r.wait))
    .map((r) => `${r.wait ? "WAIT " : ""}round ${r.round}`);
}

export function sentinelTargets(rep: SentinelReport | undefined): Target[] {
  const waitRounds = (rep?.rounds ?? []).filter((r) => r.impl === "ours" && r.wait);
  return [
    {
      target: "sentinel failover time <= 1.0x (median and max of all rounds)",
      ratios: rep
        ? [{ at: "median", ratio: rep.medianRatio }, { at: "max", ratio: rep.maxRatio }]
        : [],
      expected: 2,
      limit: 1.0,
      kind: "max",
      failed: failedRounds(rep, false),
    },
    {
      // Not a ratio: the count of acknowledged writes lost, which must be 0 (a failed
      // failover counts as infinitely many).
      target: "sentinel: 0 acknowledged writes lost with WAIT 1 (ours, count)",
      ratios: waitRounds.map((r) => ({
        at: `round ${r.round}`,
        ratio: r.lost === null ? NaN : r.lost,
      })),
      expected: rep?.failovers ?? 1,
      limit: 0,
      kind: "max",
      failed: failedRounds(rep, true),
    },
  ];
}
