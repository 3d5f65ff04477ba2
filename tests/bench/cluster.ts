/**
 * The `cluster` section of the benchmark: Redis Cluster mode, ours against redis-server 7.0 in
 * the same run, every node started with cluster-node-timeout 1000.
 *
 * (a) throughput: six nodes (3 masters + 3 replicas, `redis-cli --cluster create
 *     --cluster-replicas 1`), `redis-benchmark --cluster -t set,get -c 50` at -P 1 and -P 16:
 *     ops/s, and CPU µs per request summed over the three masters (utime + stime from /proc).
 * (b) failover: on the same cluster an ioredis `Redis.Cluster` client (50 ms retry delays) SETs
 *     one key in a loop; the master of its slot is killed with SIGKILL; failover time = from the
 *     kill to the first SET acknowledged. The killed node is restarted (it rejoins as a replica of
 *     the new master) and the cluster must be healthy again before the next round.
 * (c) reshard: `redis-cli --cluster reshard` of the source master's first --reshard-slots slots
 *     to another master, after filling those slots with the section's key count (SET of short
 *     values, pipelined): keys moved per second (keys counted on the target afterwards).
 * (d) bus cost: masters-only clusters of --bus-sizes nodes, idle for --bus-seconds: per node and
 *     second, bus messages sent and received (CLUSTER INFO cluster_stats_messages_sent/received),
 *     bytes sent on bus connections (bytes_sent of every TCP connection to or from a bus port,
 *     from `ss -ti`: what the kernel counted, not an estimate), and CPU. A linear fit of messages
 *     per node per second against N is extrapolated to 100 and 1000 nodes; bytes follow from
 *     messages and the frame size of a PING/PONG (header 2256 B + 104 B per gossip entry, with
 *     max(3, N/10) entries capped at N - 2, as Redis 7.0 picks them).
 */
import { Redis } from "ioredis";
import { RedisClient } from "../../shared/client.ts";
import { keyHashSlot } from "../../shared/slots.ts";
import { RawConn } from "../helpers/raw.ts";
import { parseInfo } from "../helpers/replication.ts";
import { clusterPort, CNode, type Impl, runCli, waitReporting } from "../helpers/cluster.ts";

export type { Impl };
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

export const NODE_TIMEOUT_MS = 1000;
const RETRY_MS = 50;
const WAIT_MS = 30_000;
const FAILOVER_LIMIT_MS = 30_000;
const HEADER_BYTES = 2256;
const GOSSIP_BYTES = 104;

export interface ClusterOptions {
  /** redis-benchmark requests per test at -P 1 (10x at -P 16). */
  requests: number;
  failovers: number;
  reshardKeys: number;
  reshardSlots: number;
  busSizes: number[];
  busSeconds: number;
  /** Which of the parts to run (all by default): throughput, failover, reshard, bus. */
  parts: Set<ClusterPart>;
  /** The throughput figures are each the median of this many rounds (see interleaved). */
  rounds: number;
}

export const CLUSTER_PARTS = ["throughput", "failover", "reshard", "bus"] as const;
export type ClusterPart = typeof CLUSTER_PARTS[number];

// ---------------------------------------------------------------------------------------------
// Nodes and clusters

/** The slot numbers of CLUSTER NODES ranges ("0-5460", "5461"); migrating marks are left out. */
function expandSlots(ranges: string[]): number[] {
  const out: number[] = [];
  for (const r of ranges) {
    if (r.startsWith("[")) continue;
    const [a, b] = r.split("-").map(Number) as [number, number?];
    for (let s = a; s <= (b ?? a); s++) out.push(s);
  }
  return out;
}

class BenchCluster {
  private constructor(readonly nodes: CNode[], private readonly root: string) {}

  /** Starts `count` nodes of `impl`, a few at a time (each on its own port and directory). */
  static async start(impl: Impl, count: number): Promise<BenchCluster> {
    const root = await Deno.makeTempDir({ prefix: "bench-cluster-" });
    const taken = new Set<number>();
    const nodes: CNode[] = [];
    for (let i = 0; i < count; i++) {
      const dir = `${root}/n${i}`;
      await Deno.mkdir(dir);
      nodes.push(new CNode(impl, `n${i}`, await clusterPort(taken), dir, NODE_TIMEOUT_MS, 60_000));
    }
    const cl = new BenchCluster(nodes, root);
    try {
      // Our nodes compile and start in a few seconds of CPU each: six at a time on two cores.
      for (let i = 0; i < nodes.length; i += 6) {
        await Promise.all(nodes.slice(i, i + 6).map((n) => n.startFirst(taken)));
      }
      for (const n of nodes) n.id = String(await n.cmd("CLUSTER", "MYID"));
    } catch (e) {
      await cl.dispose();
      throw e;
    }
    return cl;
  }

  get live(): CNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  byId(id: string): CNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  async create(replicas: number): Promise<void> {
    const r = await runCli([
      "--cluster",
      "create",
      ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ], 120_000);
    if (r.code !== 0) {
      throw new Error(`redis-cli --cluster create exited ${r.code}:\n${r.out}\n${await this
        .describe()}`);
    }
  }

  async describe(): Promise<string> {
    const parts: string[] = [];
    for (const n of this.nodes) {
      if (!n.alive) {
        parts.push(`--- ${n.label}: not running`);
        continue;
      }
      let view: string;
      try {
        using c = await RawConn.connect(n.port);
        view = String(await c.call("CLUSTER", "NODES")).trimEnd();
      } catch (e) {
        view = `(CLUSTER NODES failed: ${(e as Error).message})`;
      }
      const tail = n.proc?.output().split("\n").slice(-15).join("\n") ?? "";
      parts.push(`--- ${n.label} ${n.id}:\n${view}\n--- its last output ---\n${tail}`);
    }
    return parts.join("\n");
  }

  waitFor(what: string, check: () => Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    return waitReporting(what, check, timeoutMs, () => this.describe());
  }

  /** Every live node: cluster_state ok, every node known, no node flagged fail or pfail. */
  healthy(timeoutMs = WAIT_MS): Promise<void> {
    return this.waitFor(
      `a healthy cluster of ${this.nodes.length} on every live node`,
      async () => {
        for (const n of this.live) {
          const i = await n.info();
          if (i.cluster_state !== "ok") return false;
          if (i.cluster_known_nodes !== String(this.nodes.length)) return false;
          const view = await n.nodes();
          if (view.some((l) => l.flags.includes("fail") || l.flags.includes("fail?"))) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** The masters with slots and their replicas, as `from` sees them. */
  async shards(from: CNode): Promise<{ master: CNode; replicas: CNode[]; slots: string[] }[]> {
    const view = await from.nodes();
    return view.filter((l) => l.flags.includes("master") && l.slots.length > 0)
      .map((m) => ({
        master: this.byId(m.id),
        replicas: view.filter((l) => l.master === m.id).map((l) => this.byId(l.id)),
        slots: m.slots,
      }));
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await Deno.remove(this.root, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

function ioCluster(port: number): InstanceType<typeof Redis.Cluster> {
  const c = new Redis.Cluster([{ host: "127.0.0.1", port }], {
    slotsRefreshTimeout: 1000,
    retryDelayOnFailover: RETRY_MS,
    retryDelayOnClusterDown: RETRY_MS,
    retryDelayOnTryAgain: RETRY_MS,
    clusterRetryStrategy: () => RETRY_MS,
    redisOptions: { connectTimeout: 1000 },
  });
  c.on("error", () => {});
  c.on("node error", () => {});
  return c;
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => t = setTimeout(() => rej(new Error("timed out")), ms)),
  ]).finally(() => clearTimeout(t));
}

// ---------------------------------------------------------------------------------------------
// (a) throughput

export interface ClusterRow {
  test: string;
  config: string;
  redisRps: number;
  oursRps: number;
  rpsRatio: number;
  /** CPU µs per request, summed over the masters. */
  redisUs: number;
  oursUs: number;
  cpuRatio: number;
}

async function clusterMeasure(cl: BenchCluster, test: string, p: number, n: number) {
  const masters = (await cl.shards(cl.nodes[0]!)).map((s) => s.master);
  const cpu0 = masters.map((m) => cpuSeconds(m.pid));
  const text = await redisBenchmark([
    "--cluster",
    "-p",
    String(cl.nodes[0]!.port),
    "-t",
    test,
    "-n",
    String(n),
    "-c",
    "50",
    "-P",
    String(p),
    "--csv",
  ]);
  const cpu = masters.reduce((s, m, i) => s + cpuSeconds(m.pid) - cpu0[i]!, 0);
  const line = text.split("\n").find((l) => l.startsWith('"') && !l.startsWith('"test"'));
  const rps = line ? Number(line.split(",")[1]!.replace(/"/g, "")) : NaN;
  return { rps, usPerReq: (cpu * 1e6) / n };
}

async function throughput(
  redis: BenchCluster,
  ours: BenchCluster,
  requests: number,
  rounds: number,
): Promise<ClusterRow[]> {
  const rows: ClusterRow[] = [];
  for (const p of [1, 16]) {
    for (const test of ["set", "get"]) {
      const n = Math.max(1000, requests * (p === 16 ? 10 : 1));
      progress(`cluster: redis-benchmark --cluster ${test} -c 50 -P ${p} (${n} requests)`);
      await clusterMeasure(ours, test, p, Math.min(n, 20000));
      const [r, o] = await interleaved(
        rounds,
        () => clusterMeasure(redis, test, p, n),
        () => clusterMeasure(ours, test, p, n),
      );
      rows.push({
        test: test.toUpperCase(),
        config: `-c 50 -P ${p}`,
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

// ---------------------------------------------------------------------------------------------
// (b) failover

export interface ClusterFailover {
  impl: Impl;
  round: number;
  /** From SIGKILL to the first SET acknowledged; null when none came within the limit. */
  failoverMs: number | null;
  error?: string;
}

/** The node that serves `slot`, as `from` sees it. */
async function ownerOf(cl: BenchCluster, from: CNode, slot: number): Promise<CNode> {
  const view = await from.nodes();
  const l = view.find((x) =>
    x.flags.includes("master") && !x.flags.includes("fail") && expandSlots(x.slots).includes(slot)
  );
  if (!l) throw new Error(`no master serves slot ${slot}`);
  return cl.byId(l.id);
}

async function failovers(cl: BenchCluster, rounds: number): Promise<ClusterFailover[]> {
  const out: ClusterFailover[] = [];
  const key = "failover:key";
  const slot = keyHashSlot(key);
  const io = ioCluster(cl.nodes[0]!.port);
  try {
    for (let round = 1; round <= rounds; round++) {
      progress(`cluster: ${cl.nodes[0]!.impl}, failover ${round}`);
      const r: ClusterFailover = { impl: cl.nodes[0]!.impl, round, failoverMs: null };
      out.push(r);
      try {
        const any = cl.live[0]!;
        const victim = await ownerOf(cl, any, slot);
        let killedAt = 0, deadAt = 0, firstAt = 0, stop = false;
        const writer = (async () => {
          for (let i = 0; !stop; i++) {
            // Only a SET sent once the killed process is gone can show the new master: one sent
            // before may still have been answered by the old one.
            const sentAfterDeath = deadAt !== 0;
            try {
              await within(io.set(key, String(i)), 2000);
              if (sentAfterDeath && firstAt === 0) firstAt = performance.now();
            } catch {
              await sleep(RETRY_MS);
            }
          }
        })();
        await sleep(500);
        killedAt = performance.now();
        await victim.kill9();
        deadAt = performance.now();
        const deadline = killedAt + FAILOVER_LIMIT_MS;
        while (firstAt === 0 && performance.now() < deadline) await sleep(5);
        stop = true;
        await writer;
        if (firstAt === 0) {
          r.error = `no SET of slot ${slot} acknowledged within ${FAILOVER_LIMIT_MS} ms of the ` +
            `kill of ${victim.label}\n${await cl.describe()}`;
          progress(`cluster: failover ${round} FAILED: ${r.error}`);
          break;
        }
        r.failoverMs = firstAt - killedAt;
        // Back to six healthy nodes: the killed node rejoins as a replica of the new master.
        {
          await victim.start();
          await cl.healthy();
          const now = await ownerOf(cl, victim, slot);
          await cl.waitFor(`${victim.label} replicates ${now.label} with its link up`, async () => {
            const info = parseInfo(String(await victim.cmd("INFO", "replication")));
            return info.master_link_status === "up" && info.master_port === String(now.port);
          });
          // Redis lets a replica be elected only after it has had a ping from its master.
          await sleep(1500);
        }
      } catch (e) {
        r.error = (e as Error).stack ?? String(e);
        progress(`cluster: failover ${round} FAILED: ${r.error}`);
        break;
      }
    }
  } finally {
    io.disconnect();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// (c) reshard

export interface ReshardFigures {
  keys: number;
  slots: number;
  seconds: number;
  keysPerSec: number;
  error?: string;
}

/** A hash tag for each slot in `slots`. */
function tagsFor(slots: number[]): Map<number, string> {
  const want = new Set(slots);
  const tags = new Map<number, string>();
  for (let i = 0; tags.size < want.size; i++) {
    const tag = `t${i}`;
    const s = keyHashSlot(tag);
    if (want.has(s) && !tags.has(s)) tags.set(s, tag);
  }
  return tags;
}

async function reshard(cl: BenchCluster, keys: number, slotCount: number): Promise<ReshardFigures> {
  const impl = cl.nodes[0]!.impl;
  const shards = await cl.shards(cl.live[0]!);
  const [from, to] = shards;
  if (!from || !to) throw new Error("fewer than two masters with slots");
  // redis-cli takes a single source's lowest slots first.
  const slots = expandSlots(from.slots).sort((a, b) => a - b).slice(0, slotCount);
  const tags = tagsFor(slots);
  const perSlot = Math.max(1, Math.ceil(keys / slots.length));
  progress(`cluster: ${impl}, ${perSlot * slots.length} keys in ${slots.length} slots`);
  const c = await RedisClient.connect({
    port: from.master.port,
    commandTimeoutMs: 0,
    maxPending: 100000,
  });
  try {
    let batch: string[][] = [];
    const flush = async () => {
      const replies = await c.pipeline(batch);
      const bad = replies.find((r) => String(r) !== "OK");
      if (bad !== undefined) throw new Error(`SET answered ${String(bad)}`);
      batch = [];
    };
    for (const s of slots) {
      const tag = tags.get(s)!;
      for (let j = 0; j < perSlot; j++) {
        batch.push(["SET", `{${tag}}:${j}`, `v${j}`]);
        if (batch.length === 1000) await flush();
      }
    }
    if (batch.length) await flush();
  } finally {
    await c.close();
  }
  // What the source holds in those slots (the failover's key may be among them).
  const countIn = async (port: number) => {
    const cc = await RedisClient.connect({ port, commandTimeoutMs: 0 });
    try {
      const replies = await cc.pipeline(
        slots.map((s) => ["CLUSTER", "COUNTKEYSINSLOT", String(s)]),
      );
      return replies.reduce((sum: number, v) => sum + Number(v), 0);
    } finally {
      await cc.close();
    }
  };
  const before = await countIn(from.master.port);
  progress(`cluster: ${impl}, redis-cli --cluster reshard of ${slots.length} slots`);
  const t0 = performance.now();
  const r = await runCli([
    "--cluster",
    "reshard",
    `127.0.0.1:${from.master.port}`,
    "--cluster-from",
    from.master.id,
    "--cluster-to",
    to.master.id,
    "--cluster-slots",
    String(slots.length),
    "--cluster-yes",
  ], 600_000);
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) {
    return {
      keys: 0,
      slots: slots.length,
      seconds,
      keysPerSec: NaN,
      error: `redis-cli --cluster reshard exited ${r.code}:\n${r.out.slice(-2000)}`,
    };
  }
  // The keys the target holds in the moved slots.
  const moved = await countIn(to.master.port);
  const out: ReshardFigures = {
    keys: moved,
    slots: slots.length,
    seconds,
    keysPerSec: moved / seconds,
  };
  if (moved !== before) out.error = `the target holds ${moved} of the ${before} keys moved`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// (d) bus cost

export interface BusPoint {
  impl: Impl;
  nodes: number;
  seconds: number;
  /** Per node and second, averaged over the nodes. */
  msgsSent: number;
  msgsReceived: number;
  /** Bytes sent on bus connections (ss), per node and second. */
  bytesSent: number;
  /** The frame-size estimate from the message counts by type, per node and second. */
  bytesEstimate: number;
  /** CPU per node, percent of one core. */
  cpuPercent: number;
  error?: string;
}

/** Gossip entries Redis 7.0 puts in a PING/PONG/MEET among N nodes (no node in PFAIL). */
export function gossipEntries(n: number): number {
  return Math.max(0, Math.min(n - 2, Math.max(3, Math.floor(n / 10))));
}

export function frameBytes(n: number): number {
  return HEADER_BYTES + GOSSIP_BYTES * gossipEntries(n);
}

/** bytes_sent of every established TCP connection with a local or remote port in `ports`. */
async function busBytes(ports: Set<number>): Promise<Map<string, number>> {
  const o = await new Deno.Command("ss", { args: ["-tinH", "state", "established"] }).output();
  const lines = new TextDecoder().decode(o.stdout).split("\n");
  const out = new Map<string, number>();
  let current: string | null = null;
  for (const l of lines) {
    if (l.trim() === "") continue;
    if (!/^\s/.test(l)) {
      const f = l.trim().split(/\s+/);
      // Recv-Q Send-Q Local Peer
      const local = f[2] ?? "", peer = f[3] ?? "";
      const port = (a: string) => Number(a.slice(a.lastIndexOf(":") + 1));
      current = ports.has(port(local)) || ports.has(port(peer)) ? `${local} ${peer}` : null;
      continue;
    }
    if (current === null) continue;
    const m = /bytes_sent:(\d+)/.exec(l);
    if (m) out.set(current, Number(m[1]));
  }
  return out;
}

async function busPoint(impl: Impl, n: number, seconds: number): Promise<BusPoint> {
  progress(`cluster: ${impl}, bus cost of ${n} idle masters (${seconds} s)`);
  const point: BusPoint = {
    impl,
    nodes: n,
    seconds,
    msgsSent: NaN,
    msgsReceived: NaN,
    bytesSent: NaN,
    bytesEstimate: NaN,
    cpuPercent: NaN,
  };
  try {
    await using cl = await BenchCluster.start(impl, n);
    await cl.create(0);
    await cl.healthy(60_000);
    // Let the gossip of the join settle.
    await sleep(2000);
    const ports = new Set(cl.nodes.map((x) => x.port + 10000));
    const sample = async () => ({
      infos: await Promise.all(cl.nodes.map((x) => x.info())),
      cpu: cl.nodes.map((x) => cpuSeconds(x.pid)),
      bytes: await busBytes(ports),
      t: performance.now(),
    });
    const a = await sample();
    await sleep(seconds * 1000);
    const b = await sample();
    const dt = (b.t - a.t) / 1000;
    const per = (f: (i: Record<string, string>) => number) =>
      cl.nodes.reduce((s, _, k) => s + f(b.infos[k]!) - f(a.infos[k]!), 0) / n / dt;
    const num = (field: string) => (i: Record<string, string>) => Number(i[field] ?? 0);
    point.msgsSent = per(num("cluster_stats_messages_sent"));
    point.msgsReceived = per(num("cluster_stats_messages_received"));
    const gossip = per((i) =>
      num("cluster_stats_messages_ping_sent")(i) + num("cluster_stats_messages_pong_sent")(i) +
      num("cluster_stats_messages_meet_sent")(i)
    );
    point.bytesEstimate = gossip * frameBytes(n) + (point.msgsSent - gossip) * HEADER_BYTES;
    let bytes = 0;
    for (const [k, v] of b.bytes) bytes += v - (a.bytes.get(k) ?? 0);
    point.bytesSent = bytes / n / dt;
    point.cpuPercent = cl.nodes.reduce((s, _, k) => s + b.cpu[k]! - a.cpu[k]!, 0) / n / dt * 100;
  } catch (e) {
    point.error = (e as Error).stack ?? String(e);
    progress(`cluster: bus cost of ${n} ${impl} nodes FAILED: ${point.error}`);
  }
  return point;
}

export interface BusModel {
  impl: Impl;
  /** Messages sent per node per second = a + b * N (least squares over the measured points). */
  a: number;
  b: number;
  /**
   * CPU percent per node = c0 + c1 * (messages sent + received per second), least squares: a
   * fixed cost of the node's timers plus a cost per message. It leaves out that a message carries
   * more gossip entries in a larger cluster, so the extrapolated CPU is a lower bound.
   */
  c0: number;
  c1: number;
  predictions: { nodes: number; msgsSent: number; bytesSent: number; cpuPercent: number }[];
}

/** Least squares y = a + b * x. */
function linear(xs: number[], ys: number[]): { a: number; b: number } {
  const mx = xs.reduce((s, x) => s + x, 0) / xs.length;
  const my = ys.reduce((s, y) => s + y, 0) / ys.length;
  const sxy = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0);
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const b = sxx === 0 ? 0 : sxy / sxx;
  return { a: my - b * mx, b };
}

function fit(impl: Impl, points: BusPoint[]): BusModel | null {
  const ok = points.filter((p) => p.impl === impl && !p.error && Number.isFinite(p.msgsSent));
  if (new Set(ok.map((p) => p.nodes)).size < 2) return null;
  const { a, b } = linear(ok.map((p) => p.nodes), ok.map((p) => p.msgsSent));
  const cpu = linear(ok.map((p) => p.msgsSent + p.msgsReceived), ok.map((p) => p.cpuPercent));
  const predictions = [100, 1000].map((n) => {
    const msgs = a + b * n;
    return {
      nodes: n,
      msgsSent: msgs,
      bytesSent: msgs * frameBytes(n),
      // Received as many as sent, on average over the nodes.
      cpuPercent: cpu.a + cpu.b * 2 * msgs,
    };
  });
  return { impl, a, b, c0: cpu.a, c1: cpu.b, predictions };
}

// ---------------------------------------------------------------------------------------------
// The section

export interface ClusterReport {
  options: ClusterOptions;
  throughput: ClusterRow[];
  failovers: ClusterFailover[];
  failoverMedianRatio: number;
  reshard: { redis: ReshardFigures; ours: ReshardFigures; rateRatio: number } | null;
  bus: BusPoint[];
  models: BusModel[];
  errors: string[];
}

async function sixNodes(impl: Impl): Promise<BenchCluster> {
  progress(`cluster: ${impl}, six nodes (3 masters + 3 replicas)`);
  const cl = await BenchCluster.start(impl, 6);
  try {
    await cl.create(1);
    await cl.healthy();
    // Every replica linked before anything is measured.
    await cl.waitFor("every replica's link is up", async () => {
      for (const n of cl.nodes) {
        const i = parseInfo(String(await n.cmd("INFO", "replication")));
        if (i.role === "slave" && i.master_link_status !== "up") return false;
      }
      return true;
    });
    return cl;
  } catch (e) {
    await cl.dispose();
    throw e;
  }
}

export async function clusterSection(o: ClusterOptions): Promise<ClusterReport> {
  const report: ClusterReport = {
    options: o,
    throughput: [],
    failovers: [],
    failoverMedianRatio: NaN,
    reshard: null,
    bus: [],
    models: [],
    errors: [],
  };
  const six = ["throughput", "failover", "reshard"] as const;
  if (six.some((p) => o.parts.has(p))) {
    await using redis = await sixNodes("redis");
    await using ours = await sixNodes("ours");
    if (o.parts.has("throughput")) {
      try {
        report.throughput = await throughput(redis, ours, o.requests, o.rounds);
      } catch (e) {
        report.errors.push(`throughput: ${(e as Error).stack ?? e}`);
      }
    }
    for (const cl of o.parts.has("failover") ? [redis, ours] : []) {
      report.failovers.push(...await failovers(cl, o.failovers));
    }
    const times = (impl: Impl) =>
      report.failovers.filter((f) => f.impl === impl).map((f) => f.failoverMs ?? Infinity)
        .sort((a, b) => a - b);
    const rt = times("redis"), ot = times("ours");
    // A failed failover of ours (no write) counts as the longest; the median may then be missed.
    if (ot.length < o.failovers) ot.push(...Array(o.failovers - ot.length).fill(Infinity));
    report.failoverMedianRatio = percentile(ot, 0.5) / percentile(rt, 0.5);
    const reshardOf = async (cl: BenchCluster): Promise<ReshardFigures> => {
      try {
        await cl.healthy();
        return await reshard(cl, o.reshardKeys, o.reshardSlots);
      } catch (e) {
        return {
          keys: 0,
          slots: o.reshardSlots,
          seconds: NaN,
          keysPerSec: NaN,
          error: (e as Error).stack ?? String(e),
        };
      }
    };
    if (o.parts.has("reshard")) {
      const r = await reshardOf(redis), u = await reshardOf(ours);
      report.reshard = { redis: r, ours: u, rateRatio: u.keysPerSec / r.keysPerSec };
    }
  }
  for (const n of o.parts.has("bus") ? o.busSizes : []) {
    for (const impl of ["redis", "ours"] as const) {
      report.bus.push(await busPoint(impl, n, o.busSeconds));
    }
  }
  for (const impl of ["redis", "ours"] as const) {
    const m = fit(impl, report.bus);
    if (m) report.models.push(m);
  }
  return report;
}

export function printCluster(rep: ClusterReport): void {
  const o = rep.options;
  const fmt = (x: number, d = 0, w = 10) => (Number.isFinite(x) ? x.toFixed(d) : "n/a").padStart(w);
  if (rep.throughput.length) {
    console.log(
      `\n## cluster: redis-benchmark --cluster, 3 masters + 3 replicas (node timeout ` +
        `${NODE_TIMEOUT_MS} ms); CPU µs per request summed over the masters`,
    );
    console.log(
      `${"test".padEnd(6)}${"config".padEnd(14)}${"redis ops/s".padStart(12)}${
        "ours ops/s".padStart(11)
      }` +
        `${"ratio".padStart(8)}${"redis µs/req".padStart(14)}${"ours µs/req".padStart(13)}${
          "ratio".padStart(8)
        }`,
    );
    for (const r of rep.throughput) {
      console.log(
        `${r.test.padEnd(6)}${r.config.padEnd(14)}${fmt(r.redisRps, 0, 12)}${
          fmt(r.oursRps, 0, 11)
        }${ratio(r.rpsRatio)}${fmt(r.redisUs, 2, 14)}${fmt(r.oursUs, 2, 13)}${ratio(r.cpuRatio)}`,
      );
    }
  }
  if (rep.failovers.length) {
    console.log(
      `\n## cluster: failover, ms from SIGKILL of the master to the first SET of its slot through` +
        ` ioredis Redis.Cluster (${RETRY_MS} ms retries; the killed node restarted between rounds)`,
    );
    for (const impl of ["redis", "ours"] as const) {
      const f = rep.failovers.filter((x) => x.impl === impl);
      const ms = f.map((x) => x.failoverMs === null ? "FAILED" : x.failoverMs.toFixed(0));
      const ok = f.flatMap((x) => x.failoverMs === null ? [] : [x.failoverMs]).sort((a, b) =>
        a - b
      );
      console.log(
        `${impl.padEnd(6)} rounds: ${ms.join(", ").padEnd(24)} median ${
          fmt(percentile(ok, 0.5), 0, 0)
        }` +
          `  max ${fmt(ok.length === f.length && ok.length ? ok[ok.length - 1]! : NaN, 0, 0)}`,
      );
    }
    console.log(`median ratio ours/redis: ${ratio(rep.failoverMedianRatio, 0)}`);
  }
  if (rep.reshard) {
    const rs = rep.reshard;
    console.log(
      `\n## cluster: redis-cli --cluster reshard of ${rs.redis.slots} slots holding ` +
        `${o.reshardKeys} keys from one master to another`,
    );
    console.log(
      `${"".padEnd(7)}${"keys".padStart(9)}${"seconds".padStart(9)}${"keys/s".padStart(10)}`,
    );
    for (const k of ["redis", "ours"] as const) {
      const v = rs[k];
      console.log(
        `${k.padEnd(7)}${String(v.keys).padStart(9)}${fmt(v.seconds, 2, 9)}${
          fmt(v.keysPerSec, 0, 10)
        }${v.error ? `  ERROR: ${v.error.split("\n")[0]}` : ""}`,
      );
    }
    console.log(`keys/s ratio ours/redis: ${ratio(rs.rateRatio, 0)}`);
  }
  if (rep.bus.length) {
    console.log(
      `\n## cluster: bus cost of idle masters-only clusters, per node and second (messages from` +
        ` CLUSTER INFO; bytes sent: kernel's bytes_sent of the bus connections (ss -ti); estimate:` +
        ` messages x (${HEADER_BYTES} + ${GOSSIP_BYTES} x gossip entries))`,
    );
    console.log(
      `${"impl".padEnd(7)}${"nodes".padStart(6)}${"msgs sent".padStart(11)}${
        "msgs recv".padStart(11)
      }` +
        `${"bytes sent".padStart(12)}${"estimate".padStart(10)}${"CPU %".padStart(8)}`,
    );
    for (const p of rep.bus) {
      console.log(
        `${p.impl.padEnd(7)}${String(p.nodes).padStart(6)}${fmt(p.msgsSent, 1, 11)}${
          fmt(p.msgsReceived, 1, 11)
        }${fmt(p.bytesSent, 0, 12)}${fmt(p.bytesEstimate, 0, 10)}${fmt(p.cpuPercent, 2, 8)}${
          p.error ? `  FAILED: ${p.error.split("\n")[0]}` : ""
        }`,
      );
    }
    console.log(
      "model: msgs sent per node per second = a + b x N (least squares); bytes = msgs x frame" +
        " size at N; CPU % = c0 + c1 x (msgs sent + received) (least squares; a lower bound, as" +
        " per-message work grows with gossip entries)",
    );
    for (const m of rep.models) {
      const pr = m.predictions.map((p) =>
        `N=${p.nodes}: ${p.msgsSent.toFixed(0)} msgs/s, ${(p.bytesSent / 1e6).toFixed(2)} MB/s, ` +
        `${p.cpuPercent.toFixed(1)}% CPU`
      ).join("; ");
      console.log(
        `${m.impl.padEnd(6)} a=${m.a.toFixed(2)} b=${m.b.toFixed(3)} c0=${m.c0.toFixed(3)} ` +
          `c1=${m.c1.toFixed(5)}  ${pr}`,
      );
    }
  }
  for (const f of rep.failovers) {
    if (f.error) console.log(`FAILED: ${f.impl} failover ${f.round}: ${f.error.split("\n")[0]}`);
  }
  for (const e of rep.errors) console.log(`FAILED: ${e.split("\n")[0]}`);
}

export function clusterTargets(rep: ClusterReport | undefined): Target[] {
  return [
    {
      target: "cluster CPU/req (masters) <= 1.3x: SET GET --cluster -P 1 and -P 16",
      ratios: (rep?.throughput ?? []).map((r) => ({
        at: `${r.test} ${r.config}`,
        ratio: r.cpuRatio,
      })),
      expected: 4,
      limit: 1.3,
      kind: "max",
      failed: (rep?.errors ?? []).filter((e) => e.startsWith("throughput")).map((e) =>
        e.split("\n")[0]!
      ),
    },
    {
      target: "cluster failover time <= 1.0x (median)",
      ratios: rep ? [{ at: "median", ratio: rep.failoverMedianRatio }] : [],
      expected: 1,
      limit: 1.0,
      kind: "max",
      failed: (rep?.failovers ?? []).filter((f) => f.impl === "ours" && f.error).map((f) =>
        `round ${f.round}`
      ),
    },
    {
      target: "cluster reshard keys/s >= 1.0x",
      ratios: rep?.reshard ? [{ at: "reshard", ratio: rep.reshard.rateRatio }] : [],
      expected: 1,
      limit: 1.0,
      kind: "min",
      failed: rep?.reshard?.ours.error ? ["reshard"] : [],
    },
  ];
}
