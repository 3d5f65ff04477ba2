/**
 * Redis Cluster mode of our data node, end to end, with Redis 7.0's behaviour as the reference:
 *
 * - six nodes joined by `redis-cli --cluster create --cluster-replicas 1`: every node sees the
 *   cluster ok, `redis-cli --cluster check` passes, MOVED / CROSSSLOT replies, CLUSTER SLOTS,
 *   SHARDS, KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT;
 * - cluster clients (ioredis Redis.Cluster and node-redis createCluster) write and read back
 *   1,000 keys and pipelines in one slot;
 * - a master killed with SIGKILL: its replica is elected, the cluster is ok again, its keys stay
 *   readable and writable, and the old master restarted from its nodes.conf follows the new one;
 * - CLUSTER FAILOVER and CLUSTER FAILOVER TAKEOVER on a replica, and CLUSTER FAILOVER to the
 *   replica of a frozen master (elected without delay once the master is failed);
 * - `redis-cli --cluster reshard` while a cluster client keeps writing and reading;
 * - a cluster of three of our nodes and three redis-server 7.0 nodes, failing over both ways;
 * - masters losing their last slot (their own SETSLOT, or another's claim) becoming replicas of
 *   the new owner or staying empty masters, per cluster-allow-replica-migration, ours and
 *   redis-server's alike;
 * - a node reset hard and met again learning the others from gossip (CLUSTER RESET does not
 *   blacklist the nodes it drops), a replica loading a full sync shown "loading" by its master,
 *   and a replica restarted from its RDB continuing with a partial resync;
 * - a nodes.conf that does not parse, and garbage sent to the cluster bus port.
 *
 * Every process is stopped and every directory removed when a test ends, failed or not; a wait
 * that times out reports CLUSTER NODES as every live node sees it and the last output lines.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { createCluster } from "redis";
import { encodeCommand, RespError, type RespValue } from "../shared/resp/mod.ts";
import { keyHashSlot } from "../shared/slots.ts";
import {
  dataNodeCommand,
  freePort,
  requireBinary,
  runDataNode,
  withTempDir,
} from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import {
  clusterPort,
  CNode,
  type Impl,
  type NodeLine,
  runCli,
  waitReporting,
} from "./helpers/cluster.ts";
import { parseInfo } from "./helpers/replication.ts";
import { seededRandom } from "./helpers/random.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const NODE_TIMEOUT_MS = 1000;
/** Bound of waits on the cluster (agreement, replication, a client recovering). */
const WAIT_MS = 15_000;
/** Bound of an automatic failover after a master is killed (the node timeout is 1 s). */
const FAILOVER_MS = 10_000;
const SLOTS = 16384;

const hasRedisCli = requireBinary("redis-cli", "cluster tests (redis-cli --cluster)") !== null;
const hasRedisServer =
  requireBinary("redis-server", "cluster: mixed with redis-server; nodes.conf compared") !== null;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects after `ms` unless `p` settles first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms)),
  ]).finally(() => clearTimeout(t));
}

// ---------------------------------------------------------------------------------------------
// Nodes and clusters

class TestCluster {
  private constructor(readonly nodes: CNode[], private readonly root: string) {}

  /**
   * Starts one node per entry of `impls` (each on its own port and directory), node i with the
   * directives `extra[i]` besides the usual ones.
   */
  static async start(impls: Impl[], extra: string[][] = []): Promise<TestCluster> {
    const root = await Deno.makeTempDir({ prefix: "redis-cluster-test-" });
    const taken = new Set<number>();
    const nodes: CNode[] = [];
    for (let i = 0; i < impls.length; i++) {
      const dir = `${root}/n${i}`;
      await Deno.mkdir(dir);
      const n = new CNode(impls[i]!, `n${i}`, await clusterPort(taken), dir, NODE_TIMEOUT_MS);
      n.extraArgs = extra[i] ?? [];
      nodes.push(n);
    }
    const cl = new TestCluster(nodes, root);
    const started = await Promise.allSettled(nodes.map((n) => n.startFirst(taken)));
    const failed = started.find((r) => r.status === "rejected");
    if (failed) {
      await cl.dispose();
      throw (failed as PromiseRejectedResult).reason;
    }
    for (const n of nodes) n.id = String(await n.cmd("CLUSTER", "MYID"));
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

  byPort(port: number): CNode {
    const n = this.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no node on port ${port}`);
    return n;
  }

  /** `redis-cli --cluster create` with every node; fails with redis-cli's output. */
  async create(replicas: number): Promise<string> {
    const r = await runCli([
      "--cluster",
      "create",
      ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ]);
    if (r.code !== 0) {
      throw new Error(`redis-cli --cluster create exited ${r.code}:\n${r.out}\n${await this
        .describe()}`);
    }
    return r.out;
  }

  /** CLUSTER NODES as every live node sees it, and the last lines each printed. */
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
        const info = parseInfo(String(await c.call("CLUSTER", "INFO")));
        view += `\n(cluster_state:${info.cluster_state} known:${info.cluster_known_nodes} ` +
          `epoch:${info.cluster_current_epoch})`;
      } catch (e) {
        view = `(CLUSTER NODES failed: ${(e as Error).message})`;
      }
      const tail = n.proc?.output().split("\n").slice(-30).join("\n") ?? "";
      parts.push(
        `--- ${n.label} ${n.id}: CLUSTER NODES ---\n${view}\n--- its last output ---\n${tail}`,
      );
    }
    return parts.join("\n");
  }

  /** Polls `check` (an error thrown counts as not yet) and reports the cluster on timeout. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    return waitReporting(what, check, timeoutMs, () => this.describe());
  }

  /** Every live node says cluster_state:ok and knows `known` nodes. */
  healthy(known = this.nodes.length, timeoutMs = WAIT_MS): Promise<void> {
    return this.waitFor(
      `cluster_state:ok and ${known} known nodes on every live node`,
      async () => {
        for (const n of this.live) {
          const i = await n.info();
          if (i.cluster_state !== "ok" || i.cluster_known_nodes !== String(known)) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** Every live node's CLUSTER NODES satisfies `check`. */
  agree(what: string, check: (view: NodeLine[]) => boolean, timeoutMs = WAIT_MS): Promise<void> {
    return this.waitFor(`every live node sees: ${what}`, async () => {
      for (const n of this.live) if (!check(await n.nodes())) return false;
      return true;
    }, timeoutMs);
  }

  /** The masters with slots and their replica, as `from` sees them. */
  async shards(from: CNode): Promise<{ master: CNode; replicas: CNode[] }[]> {
    const view = await from.nodes();
    return view.filter((l) => l.flags.includes("master") && l.slots.length > 0)
      .map((m) => ({
        master: this.byId(m.id),
        replicas: view.filter((l) => l.master === m.id).map((l) => this.byId(l.id)),
      }));
  }

  /** The replica is linked to its master and at its replication offset. */
  caughtUp(master: CNode, replica: CNode): Promise<void> {
    return this.waitFor(`${replica.label} at the offset of ${master.label}`, async () => {
      const m = await master.replInfo();
      const r = await replica.replInfo();
      return r.master_link_status === "up" && r.slave_repl_offset === m.master_repl_offset;
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await Deno.remove(this.root, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

function isMasterOf(view: NodeLine[], id: string): boolean {
  const l = view.find((x) => x.id === id);
  return l !== undefined && l.flags.includes("master") && l.slots.length > 0 &&
    !l.flags.includes("fail");
}

function isReplicaOf(view: NodeLine[], id: string, masterId: string): boolean {
  const l = view.find((x) => x.id === id);
  return l !== undefined && l.flags.includes("slave") && l.master === masterId;
}

/** An ioredis cluster client started from one node. */
function ioCluster(port: number): InstanceType<typeof Redis.Cluster> {
  const c = new Redis.Cluster([{ host: "127.0.0.1", port }], {
    slotsRefreshTimeout: 2000,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    redisOptions: { connectTimeout: 2000 },
  });
  // Errors of nodes going away are expected in these tests; commands report their own.
  c.on("error", () => {});
  c.on("node error", () => {});
  return c;
}

/** Writes key => value pairs through a cluster client, 100 at a time. */
async function writeAll(
  c: InstanceType<typeof Redis.Cluster>,
  data: Map<string, string>,
): Promise<void> {
  const entries = [...data];
  for (let i = 0; i < entries.length; i += 100) {
    const replies = await Promise.all(entries.slice(i, i + 100).map(([k, v]) => c.set(k, v)));
    ok(replies.every((r) => r === "OK"), `SET replies: ${replies.join(",")}`);
  }
}

/** The keys whose value read through the client is not the expected one. */
async function wrongKeys(
  c: InstanceType<typeof Redis.Cluster>,
  data: Map<string, string>,
): Promise<string[]> {
  const entries = [...data];
  const bad: string[] = [];
  for (let i = 0; i < entries.length; i += 100) {
    const part = entries.slice(i, i + 100);
    const values = await Promise.all(part.map(([k]) => c.get(k)));
    part.forEach(([k, v], j) => {
      if (values[j] !== v) bad.push(`${k}=${values[j]} (expected ${v})`);
    });
  }
  return bad;
}

/** The keys among `keys` whose slot `n` serves (as it says itself). */
async function keysServedBy(n: CNode, keys: string[]): Promise<string[]> {
  const ranges = (await n.nodes()).find((l) => l.id === n.id)!.slots
    .filter((r) => !r.startsWith("["))
    .map((r) => r.split("-").map(Number) as [number, number?]);
  return keys.filter((k) => {
    const s = keyHashSlot(k);
    return ranges.some(([a, b]) => s >= a && s <= (b ?? a));
  });
}

/** Runs a command on the node that serves its key, following a MOVED from `first`. */
async function routed(cl: TestCluster, first: CNode, ...args: string[]): Promise<RespValue> {
  const v = await first.call(...args);
  if (!(v instanceof RespError) || v.code !== "MOVED") return v;
  const port = Number(v.message.slice(v.message.lastIndexOf(":") + 1));
  return await cl.byPort(port).call(...args);
}

function keyset(prefix: string, n: number): Map<string, string> {
  return new Map(Array.from({ length: n }, (_, i) => [`${prefix}:${i}`, `value-${i}`]));
}

// ---------------------------------------------------------------------------------------------
// 1. Create and route

async function createAndRoute(): Promise<void> {
  await using cl = await TestCluster.start(Array(6).fill("ours"));
  const created = await cl.create(1);
  ok(created.includes("[OK] All 16384 slots covered."), created);
  await cl.healthy(6);

  const first = cl.nodes[0]!;
  const check = await runCli(["--cluster", "check", `127.0.0.1:${first.port}`]);
  equal(check.code, 0, `redis-cli --cluster check:\n${check.out}`);
  ok(check.out.includes("[OK] All nodes agree about slots configuration."), check.out);

  // A replica is listed in CLUSTER SLOTS once it has replicated something (an offset above 0:
  // its master's first PING, within repl-ping-replica-period), as in Redis 7.0.
  await cl.waitFor("every replica in every node's CLUSTER SLOTS", async () => {
    for (const n of cl.live) {
      const s = (await n.cmd("CLUSTER", "SLOTS")) as RespValue[][];
      if (s.length !== 3 || s.some((r) => r.length !== 4)) return false;
    }
    return true;
  });
  // CLUSTER SLOTS: three ranges covering every slot, each with a master and one replica, the same
  // on every node.
  const slotsOf = async (n: CNode) =>
    ((await n.cmd("CLUSTER", "SLOTS")) as RespValue[][]).slice()
      .sort((a, b) => Number(a[0]) - Number(b[0]));
  const slots = await slotsOf(first);
  equal(slots.length, 3, `CLUSTER SLOTS: ${JSON.stringify(slots)}`);
  let next = 0;
  const view = await first.nodes();
  const owners: { start: number; end: number; master: CNode; replica: CNode }[] = [];
  for (const r of slots) {
    equal(r.length, 4, `a range with its master and one replica: ${JSON.stringify(r)}`);
    equal(r[0], next, `ranges are contiguous: ${JSON.stringify(slots)}`);
    next = Number(r[1]) + 1;
    const [m, rep] = [r[2] as RespValue[], r[3] as RespValue[]];
    equal(m[0], "127.0.0.1");
    equal(rep[0], "127.0.0.1");
    const master = cl.byPort(Number(m[1]));
    const replica = cl.byPort(Number(rep[1]));
    equal(m[2], master.id);
    equal(rep[2], replica.id);
    ok(isReplicaOf(view, replica.id, master.id), `${replica.label} replicates ${master.label}`);
    owners.push({ start: Number(r[0]), end: Number(r[1]), master, replica });
  }
  equal(next, SLOTS, "the ranges end at slot 16383");
  equal(new Set(owners.map((o) => o.master)).size, 3);
  for (const n of cl.nodes.slice(1)) {
    // A node may learn a replica's role by gossip a moment after the slots agree.
    const same = async () => JSON.stringify(await slotsOf(n)) === JSON.stringify(slots);
    await eventually(same, `CLUSTER SLOTS of ${n.label} as ${first.label}'s`, 10_000).catch(
      () => {},
    );
    deepStrictEqual(await slotsOf(n), slots, `CLUSTER SLOTS of ${n.label}`);
  }
  const ownerOf = (slot: number) => owners.find((o) => o.start <= slot && slot <= o.end)!;

  // CLUSTER LINKS: a link to and a link from each of the five peers, with its send buffer.
  const links = (await first.cmd("CLUSTER", "LINKS")) as RespValue[][];
  const linkFields = links.map((l) => {
    const f: Record<string, RespValue> = {};
    for (let i = 0; i < l.length; i += 2) f[String(l[i])] = l[i + 1]!;
    return f;
  });
  const peers = cl.nodes.slice(1).map((n) => n.id).sort();
  for (const dir of ["to", "from"]) {
    deepStrictEqual(
      linkFields.filter((f) => f.direction === dir).map((f) => String(f.node)).sort(),
      peers,
      `CLUSTER LINKS direction ${dir}: ${JSON.stringify(linkFields)}`,
    );
  }
  for (const f of linkFields) {
    ok(Number(f["send-buffer-used"]) <= Number(f["send-buffer-allocated"]), JSON.stringify(f));
    ok(Math.abs(Number(f["create-time"]) - Date.now()) < 120_000, JSON.stringify(f));
  }

  // KEYSLOT, with the values Redis documents.
  equal(await first.cmd("CLUSTER", "KEYSLOT", "somekey"), 11058);
  equal(await first.cmd("CLUSTER", "KEYSLOT", "foo"), 12182);
  equal(await first.cmd("CLUSTER", "KEYSLOT", "{user1000}.following"), 3443);
  equal(await first.cmd("CLUSTER", "KEYSLOT", "{user1000}.followers"), 3443);

  // MOVED from every node but the owner (replicas included: no READONLY). Replies that differ
  // from Redis's are collected, so that the checks after them run too.
  const differ: string[] = [];
  const fooOwner = ownerOf(12182).master;
  for (const n of cl.nodes) {
    const v = await n.call("SET", "foo", "bar");
    const got = v instanceof RespError ? v.message : String(v);
    const want = n === fooOwner ? "OK" : `MOVED 12182 127.0.0.1:${fooOwner.port}`;
    if (got !== want) differ.push(`${n.label}: SET foo answered ${got} (Redis: ${want})`);
  }
  equal(await fooOwner.cmd("GET", "foo"), "bar");

  // CROSSSLOT on any node; keys with the same hash tag work on their owner.
  for (const n of [first, fooOwner]) {
    const v = await n.call("MSET", "a", "1", "b", "2");
    ok(v instanceof RespError, `MSET a 1 b 2 on ${n.label}: ${String(v)}`);
    equal(v.message, "CROSSSLOT Keys in request don't hash to the same slot");
  }
  const tslot = Number(await first.cmd("CLUSTER", "KEYSLOT", "{t}a"));
  equal(tslot, keyHashSlot("t"));
  const tOwner = ownerOf(tslot).master;
  equal(String(await tOwner.cmd("MSET", "{t}a", "1", "{t}b", "2")), "OK");
  deepStrictEqual(await tOwner.cmd("MGET", "{t}a", "{t}b"), ["1", "2"]);
  const other = cl.nodes.find((n) => n !== tOwner && n !== ownerOf(tslot).replica)!;
  const moved = await other.call("MSET", "{t}a", "1", "{t}b", "2");
  ok(moved instanceof RespError);
  equal(moved.message, `MOVED ${tslot} 127.0.0.1:${tOwner.port}`);

  // COUNTKEYSINSLOT / GETKEYSINSLOT on the owner; nothing elsewhere.
  for (let i = 0; i < 5; i++) await tOwner.cmd("SET", `{t}k${i}`, String(i));
  const inSlot = ["{t}a", "{t}b", ...Array.from({ length: 5 }, (_, i) => `{t}k${i}`)].sort();
  equal(await tOwner.cmd("CLUSTER", "COUNTKEYSINSLOT", String(tslot)), 7);
  deepStrictEqual(
    ((await tOwner.cmd("CLUSTER", "GETKEYSINSLOT", String(tslot), "100")) as string[]).sort(),
    inSlot,
  );
  equal(((await tOwner.cmd("CLUSTER", "GETKEYSINSLOT", String(tslot), "3")) as string[]).length, 3);
  equal(await other.cmd("CLUSTER", "COUNTKEYSINSLOT", String(tslot)), 0);
  deepStrictEqual(await other.cmd("CLUSTER", "GETKEYSINSLOT", String(tslot), "10"), []);
  // Redis 7.0's error replies.
  const errs: [string[], string][] = [
    [["CLUSTER", "COUNTKEYSINSLOT", "16384"], "ERR Invalid slot"],
    [["CLUSTER", "COUNTKEYSINSLOT", "x"], "ERR value is not an integer or out of range"],
    [["CLUSTER", "GETKEYSINSLOT", "16384", "1"], "ERR Invalid slot or number of keys"],
    [["CLUSTER", "GETKEYSINSLOT", "0", "-1"], "ERR Invalid slot or number of keys"],
    [["CLUSTER", "GETKEYSINSLOT", "x", "1"], "ERR value is not an integer or out of range"],
    [["CLUSTER", "FAILOVER"], "ERR You should send CLUSTER FAILOVER to a replica"],
  ];
  for (const [args, want] of errs) {
    const v = await first.call(...args);
    const got = v instanceof RespError ? v.message : `(not an error) ${String(v)}`;
    if (got !== want) differ.push(`${args.join(" ")}: ${got} (Redis: ${want})`);
  }

  // CLUSTER SHARDS: one entry per master with its slot ranges and its two nodes.
  const shards = (await first.cmd("CLUSTER", "SHARDS")) as RespValue[][];
  equal(shards.length, 3);
  const asMap = (a: RespValue[]) => {
    const m = new Map<string, RespValue>();
    for (let i = 0; i + 1 < a.length; i += 2) m.set(String(a[i]), a[i + 1]!);
    return m;
  };
  const seen = new Set<string>();
  for (const raw of shards) {
    const s = asMap(raw);
    deepStrictEqual([...s.keys()], ["slots", "nodes"]);
    const ranges = s.get("slots") as number[];
    const nodes = (s.get("nodes") as RespValue[][]).map(asMap);
    equal(nodes.length, 2, `a shard has its master and its replica: ${JSON.stringify(raw)}`);
    const master = nodes.find((n) => n.get("role") === "master")!;
    const replica = nodes.find((n) => n.get("role") === "replica")!;
    ok(master && replica, JSON.stringify(raw));
    const o = owners.find((x) => x.master.id === master.get("id"))!;
    ok(o, `the master of a shard owns a range: ${JSON.stringify(raw)}`);
    deepStrictEqual(ranges, [o.start, o.end]);
    equal(replica.get("id"), o.replica.id);
    for (const n of nodes) {
      for (const f of ["id", "port", "ip", "endpoint", "role", "replication-offset", "health"]) {
        ok(n.has(f), `shard node has ${f}: ${JSON.stringify([...n])}`);
      }
      equal(n.get("ip"), "127.0.0.1");
      equal(n.get("health"), "online");
      equal(typeof n.get("port"), "number");
      equal(typeof n.get("replication-offset"), "number");
      seen.add(String(n.get("id")));
    }
  }
  equal(seen.size, 6, "every node appears in one shard");
  deepStrictEqual(differ, [], "replies that differ from Redis 7.0's");

  // A send buffer over cluster-link-sendbuf-limit frees the link (counted in CLUSTER INFO); with
  // the limit lifted the links come back and the cluster stays whole.
  await first.cmd("CONFIG", "SET", "cluster-link-sendbuf-limit", "100");
  await eventually(
    async () => Number((await first.info()).total_cluster_links_buffer_limit_exceeded) > 0,
    "a bus link freed for its send buffer",
  );
  await first.cmd("CONFIG", "SET", "cluster-link-sendbuf-limit", "0");
  await cl.healthy(6);
}

// ---------------------------------------------------------------------------------------------
// 2. Cluster clients

async function clients(): Promise<void> {
  await using cl = await TestCluster.start(Array(6).fill("ours"));
  await cl.create(1);
  await cl.healthy(6);
  const port = cl.nodes[0]!.port;

  const io = ioCluster(port);
  try {
    const data = keyset("io", 1000);
    await writeAll(io, data);
    deepStrictEqual(await wrongKeys(io, data), []);
    // A pipeline of keys in one slot.
    const p = io.pipeline();
    for (let i = 0; i < 50; i++) p.set(`{iop}${i}`, `p${i}`);
    for (let i = 0; i < 50; i++) p.get(`{iop}${i}`);
    const res = await p.exec();
    ok(res !== null);
    const failed = res.find(([e]) => e !== null);
    ok(failed === undefined, `pipeline error: ${failed?.[0]?.message}`);
    deepStrictEqual(res.slice(50).map(([, v]) => v), Array.from({ length: 50 }, (_, i) => `p${i}`));
  } finally {
    io.disconnect();
  }

  const nr = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${port}` }] });
  nr.on("error", () => {});
  try {
    await within(nr.connect(), 10_000, "node-redis cluster connect");
    const n = 1000;
    for (let i = 0; i < n; i += 100) {
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, j) => nr.set(`nr:${i + j}`, `v${i + j}`)),
      );
      ok(replies.every((r) => r === "OK"));
    }
    const values = await Promise.all(Array.from({ length: n }, (_, i) => nr.get(`nr:${i}`)));
    const bad = values.map((v, i) => [i, v] as const).filter(([i, v]) => v !== `v${i}`);
    deepStrictEqual(bad, [], "node-redis read back");
    const multi = await nr.multi().set("{nrp}a", "1").set("{nrp}b", "2").get("{nrp}a")
      .execAsPipeline();
    deepStrictEqual(multi, ["OK", "OK", "1"]);
    const tx = await nr.multi().incr("{nrp}c").incr("{nrp}c").exec();
    deepStrictEqual(tx, [1, 2]);
  } finally {
    await nr.close().catch(() => {});
  }

  // The keys are spread over the three masters.
  let total = 0;
  for (const s of await cl.shards(cl.nodes[0]!)) {
    const size = Number(await s.master.cmd("DBSIZE"));
    ok(size > 300, `${s.master.label} holds ${size} keys`);
    total += size;
  }
  equal(total, 1000 + 50 + 1000 + 3);
}

// ---------------------------------------------------------------------------------------------
// 3. Automatic failover

async function failover(): Promise<void> {
  await using cl = await TestCluster.start(Array(6).fill("ours"));
  await cl.create(1);
  await cl.healthy(6);
  const io = ioCluster(cl.nodes[0]!.port);
  try {
    const data = keyset("fo", 600);
    await writeAll(io, data);
    const shards = await cl.shards(cl.nodes[0]!);
    for (const s of shards) await cl.caughtUp(s.master, s.replicas[0]!);
    const { master: victim, replicas: [heir] } = shards[1]!;
    ok(heir);
    const victimKeys = await keysServedBy(victim, [...data.keys()]);
    ok(victimKeys.length > 100, `${victimKeys.length} keys on the killed master`);

    const t0 = Date.now();
    await victim.kill9();
    await cl.agree(
      `${heir.label} is a master with the slots of ${victim.label}`,
      (v) => isMasterOf(v, heir.id),
      FAILOVER_MS,
    );
    const tookMs = Date.now() - t0;
    await cl.healthy(6, FAILOVER_MS);
    ok(Date.now() - t0 <= FAILOVER_MS, `failover and cluster ok took ${Date.now() - t0} ms`);
    console.log(`failover: replica elected after ${tookMs} ms`);

    // The same client reads the keys of the killed master's slots and writes again.
    await cl.waitFor("ioredis reads and writes through the new master", async () => {
      equal(await within(io.set(victimKeys[0]!, "after"), 2000, "SET"), "OK");
      return true;
    });
    data.set(victimKeys[0]!, "after");
    deepStrictEqual(await wrongKeys(io, data), [], "keys read after the failover");
    const more = keyset("fo2", 200);
    await writeAll(io, more);
    deepStrictEqual(await wrongKeys(io, more), []);

    // The killed node comes back from its nodes.conf and follows the new master.
    await victim.start();
    await cl.agree(
      `${victim.label} is a replica of ${heir.label}`,
      (v) => isReplicaOf(v, victim.id, heir.id) && isMasterOf(v, heir.id),
    );
    await cl.healthy(6);
    await cl.caughtUp(heir, victim);
    equal(await victim.cmd("DBSIZE"), await heir.cmd("DBSIZE"));
    const moved = await victim.call("GET", victimKeys[1]!);
    ok(moved instanceof RespError && moved.message.startsWith("MOVED "), String(moved));
    ok(moved.message.endsWith(`127.0.0.1:${heir.port}`), moved.message);
  } finally {
    io.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Manual failover

async function manualFailover(): Promise<void> {
  await using cl = await TestCluster.start(Array(6).fill("ours"));
  await cl.create(1);
  await cl.healthy(6);
  const first = (await cl.shards(cl.nodes[0]!))[0]!;
  const frozen = first.master, asked = first.replicas[0];
  ok(asked);

  // CLUSTER FAILOVER to the replica of a master frozen before it could take part: once the
  // others mark the master failed, the replica is elected at once, without the random election
  // delay, as Redis does while a manual failover is in progress. (The first election of the
  // test: a replica that held one in the last few seconds resumes that one instead.)
  frozen.proc!.pause();
  try {
    equal(String(await asked.call("CLUSTER", "FAILOVER")), "OK");
    await cl.waitFor(
      `${asked.label} elected while ${frozen.label} is frozen`,
      async () => (await asked.replInfo()).role === "master",
      FAILOVER_MS,
    );
  } finally {
    frozen.proc!.resume();
  }
  const log = asked.proc!.output();
  const from = log.lastIndexOf("Manual failover user request accepted");
  ok(from >= 0, log);
  ok(/Start of election delayed for 0 milliseconds \(rank #0/.test(log.slice(from)), log);
  await cl.agree(
    `${frozen.label} rejoins as the replica of ${asked.label}`,
    (v) => isMasterOf(v, asked.id) && isReplicaOf(v, frozen.id, asked.id),
  );
  await cl.healthy(6);

  // Coordinated: the frozen master of before, now a replica, takes its slots back.
  const master = asked, replica = frozen;
  for (let i = 0; i < 100; i++) {
    equal(String(await routed(cl, cl.nodes[0]!, "SET", `x${i}`, "1")), "OK");
  }
  const seeded = Number(await master.cmd("DBSIZE"));
  await cl.caughtUp(master, replica);

  const r = await replica.call("CLUSTER", "FAILOVER");
  equal(String(r), "OK");
  await cl.agree(
    `${replica.label} is master, ${master.label} its replica (CLUSTER FAILOVER)`,
    (v) => isMasterOf(v, replica.id) && isReplicaOf(v, master.id, replica.id),
  );
  await cl.healthy(6);
  equal(Number(await replica.cmd("DBSIZE")), seeded);
  const mine = await keysServedBy(replica, Array.from({ length: 100 }, (_, i) => `x${i}`));
  ok(mine.length > 0);
  equal(String(await replica.cmd("SET", mine[0]!, "2")), "OK");
  await cl.caughtUp(replica, master);
  equal(Number(await master.cmd("DBSIZE")), Number(await replica.cmd("DBSIZE")));

  const t = await master.call("CLUSTER", "FAILOVER", "TAKEOVER");
  equal(String(t), "OK");
  await cl.agree(
    `${master.label} is master again, ${replica.label} its replica (TAKEOVER)`,
    (v) => isMasterOf(v, master.id) && isReplicaOf(v, replica.id, master.id),
  );
  await cl.healthy(6);

  await cl.healthy(6);
  const check = await runCli(["--cluster", "check", `127.0.0.1:${master.port}`]);
  equal(check.code, 0, check.out);
}

/**
 * Replica migration: seven nodes, one master with two replicas; the only replica of another
 * master is killed, and one of the two (the smallest name) moves to the orphaned master.
 */
async function replicaMigration(): Promise<void> {
  await using cl = await TestCluster.start(Array(7).fill("ours"));
  const [seventh] = cl.nodes.splice(6, 1);
  await cl.create(1);
  cl.nodes.push(seventh!);
  const shards = await cl.shards(cl.nodes[0]!);
  const rich = shards[0]!.master;
  equal(String(await seventh!.cmd("CLUSTER", "MEET", "127.0.0.1", String(rich.port))), "OK");
  await cl.healthy(7);
  equal(String(await seventh!.cmd("CLUSTER", "REPLICATE", rich.id)), "OK");
  await cl.agree(
    `${seventh!.label} replicates ${rich.label}`,
    (v) => isReplicaOf(v, seventh!.id, rich.id),
  );
  const poor = shards[1]!;
  const victim = poor.replicas[0]!;
  await victim.kill9();
  const movers = [...(await cl.shards(rich)).find((x) => x.master === rich)!.replicas, seventh!]
    .filter((n, i, a) => a.indexOf(n) === i);
  const expected = movers.map((n) => n.id).sort()[0]!;
  await cl.agree(
    `the replica with the smallest name of ${rich.label} moves to the orphaned ${poor.master.label}`,
    (v) => isReplicaOf(v, expected, poor.master.id),
    WAIT_MS + 10_000,
  );
}

// ---------------------------------------------------------------------------------------------
// 5. Resharding under load

async function reshard(): Promise<void> {
  await using cl = await TestCluster.start(Array(6).fill("ours"));
  await cl.create(1);
  await cl.healthy(6);
  const [from, to] = await cl.shards(cl.nodes[0]!);
  ok(from && to);
  const io = ioCluster(cl.nodes[0]!.port);
  const data = keyset("rs", 3000);
  let stop = false;
  const problems: string[] = [];
  let ops = 0;
  try {
    await writeAll(io, data);
    // A client that keeps updating keys and checking what it reads.
    const rnd = seededRandom(5);
    const load = (async () => {
      let gen = 0;
      while (!stop) {
        gen++;
        const batch = Array.from({ length: 20 }, () => `rs:${Math.floor(rnd() * data.size)}`);
        await Promise.all(batch.map(async (k) => {
          try {
            const v = `${k}-g${gen}`;
            if ((await io.set(k, v)) === "OK") data.set(k, v);
            const got = await io.get(k);
            if (got !== data.get(k)) problems.push(`${k}: read ${got}, expected ${data.get(k)}`);
            ops++;
          } catch (e) {
            problems.push(`${k}: ${(e as Error).message}`);
          }
        }));
      }
    })();
    const r = await runCli([
      "--cluster",
      "reshard",
      `127.0.0.1:${from.master.port}`,
      "--cluster-from",
      from.master.id,
      "--cluster-to",
      to.master.id,
      "--cluster-slots",
      "100",
      "--cluster-yes",
    ], 60_000);
    stop = true;
    await load;
    equal(r.code, 0, `redis-cli --cluster reshard exited ${r.code}:\n${r.out.slice(-1500)}`);
    ok(ops > 0, "the client kept working during the resharding");
    deepStrictEqual(problems.slice(0, 10), [], `client errors during the resharding`);
    const check = await runCli(["--cluster", "check", `127.0.0.1:${to.master.port}`]);
    equal(check.code, 0, check.out);
    const toSlots = (await to.master.nodes()).find((l) => l.id === to.master.id)!.slots;
    ok(toSlots.length >= 2, `the target serves the moved slots: ${toSlots.join(" ")}`);
    deepStrictEqual(await wrongKeys(io, data), [], "keys after the resharding");
  } finally {
    stop = true;
    io.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// 5b. A master that loses its last slot

const STATE_CHANGED =
  "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

/** A key of `slot` (found by counting up: every slot has one among the first keys). */
function keyInSlot(slot: number): string {
  for (let i = 0;; i++) if (keyHashSlot(`k${i}`) === slot) return `k${i}`;
}

/**
 * Six masters built by hand (slots and config epochs as below) lose slots to n1, which holds
 * the most with the highest epoch, in the four ways Redis 7.0 tells apart:
 *
 * | node | slots           | epoch | loses its last slot by                       | then     |
 * | n0   | 0               | 1     | its own CLUSTER SETSLOT 0 NODE n1            | replica  |
 * | n2   | 8191            | 2     | its own SETSLOT, replica migration off       | master   |
 * | n3   | 8192            | 3     | n1 claiming it (n3 is never told)            | replica  |
 * | n5   | 16383           | 5     | n1 claiming it, replica migration off        | master   |
 * | n1   | 1-8190          | 10    |                                              |          |
 * | n4   | 8193-16382      | 4     |                                              |          |
 *
 * A replica follows n1 at once (SETSLOT) or when n1's claim arrives; with replica migration off
 * the node stays an empty master (n1 took part of what it serves, not its place). A client
 * blocked on a key of a slot that went to n1 is woken with MOVED to n1 where the node stays a
 * master, and with UNBLOCKED (then disconnected) where it turns replica, as in Redis. Run on our
 * nodes and on redis-server nodes with the same expectations.
 */
async function lastSlotGivenAway(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start(Array(6).fill(impl));
  const [n0, n1, n2, n3, n4, n5] = cl.nodes as [CNode, CNode, CNode, CNode, CNode, CNode];
  const layout: [CNode, number, number, number][] = [
    [n0, 0, 0, 1],
    [n1, 1, 8190, 10],
    [n2, 8191, 8191, 2],
    [n3, 8192, 8192, 3],
    [n4, 8193, 16382, 4],
    [n5, 16383, 16383, 5],
  ];
  for (const [n, from, to, epoch] of layout) {
    await n.cmd("CLUSTER", "ADDSLOTSRANGE", String(from), String(to));
    await n.cmd("CLUSTER", "SET-CONFIG-EPOCH", String(epoch));
  }
  for (const n of cl.nodes.slice(1)) await n0.cmd("CLUSTER", "MEET", "127.0.0.1", String(n.port));
  await cl.healthy(6);
  const masters = () => [n1, n2, n3, n4, n5].filter((n) => n !== n0);
  /** CLUSTER SETSLOT <slot> NODE n1 on `nodes` (the others learn it from n1). */
  const giveToN1 = async (slot: number, nodes: CNode[]) => {
    for (const n of nodes) {
      equal(String(await n.cmd("CLUSTER", "SETSLOT", String(slot), "NODE", n1.id)), "OK");
    }
  };
  const ownerIs = (slot: number, id: string) => (v: NodeLine[]) =>
    v.some((l) =>
      l.id === id && l.slots.some((r) => {
        const [a, b] = r.split("-").map(Number);
        return a! <= slot && slot <= (b ?? a)!;
      })
    );
  const emptyMaster = (id: string) => (v: NodeLine[]) =>
    v.some((l) => l.id === id && l.flags.includes("master") && l.slots.length === 0);
  /** A client blocked with BLPOP on a key of `slot` at `n`. */
  const blockOn = async (n: CNode, slot: number) => {
    const c = await RawConn.connect(n.port);
    await c.write(encodeCommand(["BLPOP", keyInSlot(slot), "0"]));
    await cl.waitFor(
      `the BLPOP on ${n.label} blocks`,
      async () => parseInfo(String(await n.cmd("INFO", "clients"))).blocked_clients === "1",
    );
    return c;
  };
  /** The blocked client's error, then the node closes the connection. */
  const wokenAndClosed = async (c: RawConn, what: string) => {
    const r = await c.read(WAIT_MS);
    ok(r instanceof RespError, `${what}: ${String(r)}`);
    equal(r.message, STATE_CHANGED);
    ok(await c.closedByServer(WAIT_MS), `${what}: connection closed`);
  };

  // n0: a client blocked on slot 0 there, then n0 gives slot 0 away itself.
  using blocked0 = await blockOn(n0, 0);
  await giveToN1(0, [n0]);
  // At once, in the reply's wake: n0 calls itself n1's replica.
  ok(isReplicaOf(await n0.nodes(), n0.id, n1.id), "n0 replicates n1 right after its SETSLOT");
  await giveToN1(0, masters());
  await wokenAndClosed(blocked0, "BLPOP on n0 (turned replica)");
  await cl.agree(
    "n0 replicates n1 and n1 serves slot 0",
    (v) => isReplicaOf(v, n0.id, n1.id) && ownerIs(0, n1.id)(v),
  );
  await cl.waitFor("n0's link to n1 is up", async () => {
    const r = await n0.replInfo();
    return r.master_link_status === "up" && r.master_port === String(n1.port);
  });

  // n2: replica migration off, its own SETSLOT: it stays a master, without slots. A client
  // blocked there on slot 8191 is redirected to n1.
  await n2.cmd("CONFIG", "SET", "cluster-allow-replica-migration", "no");
  using blocked2 = await blockOn(n2, 8191);
  await giveToN1(8191, [n2, ...masters().filter((n) => n !== n2)]);
  const r2 = await blocked2.read(WAIT_MS);
  ok(r2 instanceof RespError, `BLPOP on n2 answered ${String(r2)}`);
  equal(r2.message, `MOVED 8191 127.0.0.1:${n1.port}`);
  await cl.agree(
    "n1 serves slot 8191 and n2 is an empty master",
    (v) => ownerIs(8191, n1.id)(v) && emptyMaster(n2.id)(v),
  );

  // n3: never told; n1's claim with a higher epoch takes the slot and n3 follows n1.
  using blocked3 = await blockOn(n3, 8192);
  await giveToN1(8192, [n1, n4, n5]);
  await wokenAndClosed(blocked3, "BLPOP on n3 (turned replica)");
  await cl.agree(
    "n3 replicates n1 and n1 serves slot 8192",
    (v) => isReplicaOf(v, n3.id, n1.id) && ownerIs(8192, n1.id)(v),
  );

  // n5: replica migration off, the slot taken by n1's claim: an empty master.
  await n5.cmd("CONFIG", "SET", "cluster-allow-replica-migration", "no");
  await giveToN1(16383, [n1, n2, n4]);
  await cl.agree(
    "n1 serves slot 16383 and n5 is an empty master",
    (v) => ownerIs(16383, n1.id)(v) && emptyMaster(n5.id)(v),
  );
  // Still so a few node timeouts later, and the cluster is ok.
  await sleep(3 * NODE_TIMEOUT_MS);
  await cl.agree(
    "n2 and n5 stay empty masters",
    (v) =>
      emptyMaster(n2.id)(v) && emptyMaster(n5.id)(v) && isReplicaOf(v, n0.id, n1.id) &&
      isReplicaOf(v, n3.id, n1.id),
  );
  await cl.healthy(6);
}

/**
 * DEBUG DROP-CLUSTER-PACKET-FILTER: two masters that drop each other's PINGs get no PONG, so
 * each flags the other PFAIL after the node timeout; with the filter back at -1 the flags clear.
 * A type that is not an integer is refused with Redis's error.
 */
async function dropPacketFilter(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl, impl]);
  const [a, b] = cl.nodes as [CNode, CNode];
  await a.cmd("CLUSTER", "MEET", "127.0.0.1", String(b.port));
  await cl.agree(
    "both nodes know each other",
    (v) => v.length === 2 && !v.some((l) => l.flags.includes("handshake")),
  );
  const bad = await a.call("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "ping");
  ok(bad instanceof RespError);
  equal(bad.message, "ERR value is not an integer or out of range");
  const flagged = (v: NodeLine[]) =>
    v.some((l) =>
      !l.flags.includes("myself") && (l.flags.includes("fail?") || l.flags.includes("fail"))
    );
  for (const n of [a, b]) {
    equal(String(await n.cmd("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "0")), "OK");
  }
  await cl.agree("each node flags the other as failing", flagged);
  for (const n of [a, b]) {
    equal(String(await n.cmd("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "-1")), "OK");
  }
  // A node waiting for the PONG of a PING the other dropped sends no new PING on that link
  // (redis-server can wait so for long); new links start with a PING.
  equal(String(await a.cmd("DEBUG", "CLUSTERLINK", "KILL", "to", b.id)), "OK");
  equal(String(await b.cmd("DEBUG", "CLUSTERLINK", "KILL", "to", a.id)), "OK");
  await cl.agree("the flags are cleared", (v) => !flagged(v));
}

/**
 * bind-source-addr applies to the cluster bus's outgoing links, as in Redis: n1 connects from
 * 127.0.0.2, so n0 learns n1's address as 127.0.0.2 from the MEET and reaches it there.
 */
async function busSourceAddr(impl: Impl): Promise<void> {
  const loopback2 = ["--bind", "127.0.0.1 127.0.0.2", "--protected-mode", "no"];
  await using cl = await TestCluster.start([impl, impl], [
    ["--protected-mode", "no"],
    [...loopback2, "--bind-source-addr", "127.0.0.2"],
  ]);
  const [a, b] = cl.nodes as [CNode, CNode];
  await b.cmd("CLUSTER", "MEET", "127.0.0.1", String(a.port));
  await cl.agree(
    "both nodes know each other",
    (v) => v.length === 2 && !v.some((l) => l.flags.includes("handshake")),
  );
  const seen = (await a.nodes()).find((l) => l.id === b.id)!;
  equal(seen.host, "127.0.0.2", JSON.stringify(seen));
  await cl.agree("both links up", (v) => v.every((l) => l.link === "connected"));
}

/**
 * Two masters (n0: slots 0-8191, n1: the rest) and n2 replicating n0:
 * - a shard channel is subscribed on the replica without READONLY and gets what its master
 *   publishes (SSUBSCRIBE/SPUBLISH are served by every node of the shard); messages of every
 *   byte value cross the bus unchanged;
 * - DEBUG CLUSTERLINK KILL closes bus links, which come back; an unknown node is refused;
 * - on a READONLY replica a script that may write is redirected (MOVED), as a write is;
 * - ADDSLOTSRANGE with an odd count of bounds is an arity error under its full name;
 * - an expired key of a migrating slot counts as missing: ASK to the target, as in Redis;
 * - a slot given away unsubscribes its shard channels' subscribers (sunsubscribe).
 */
async function shardChannelsAndLinks(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl, impl, impl]);
  const [n0, n1, n2] = cl.nodes as [CNode, CNode, CNode];
  const odd = await n0.call("CLUSTER", "ADDSLOTSRANGE", "0", "10", "20");
  ok(odd instanceof RespError);
  equal(odd.message, "ERR wrong number of arguments for 'cluster|addslotsrange' command");
  await n0.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "8191");
  await n1.cmd("CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
  for (const n of [n1, n2]) await n0.cmd("CLUSTER", "MEET", "127.0.0.1", String(n.port));
  await cl.healthy(3);
  await n2.cmd("CLUSTER", "REPLICATE", n0.id);
  await cl.agree("n2 replicates n0", (v) => isReplicaOf(v, n2.id, n0.id));

  const ch = keyInSlot(100);
  using sub = await RawConn.connect(n2.port);
  await sub.write(encodeCommand(["SSUBSCRIBE", ch]));
  deepStrictEqual(await sub.read(), ["ssubscribe", ch, 1]);
  await cl.waitFor("n2 links to n0", async () => (await n2.replInfo()).master_link_status === "up");
  equal(await n0.cmd("SPUBLISH", ch, "hello"), 0);
  deepStrictEqual(await sub.read(WAIT_MS), ["smessage", ch, "hello"]);

  const unknown = await n0.call("DEBUG", "CLUSTERLINK", "KILL", "to", "nosuchnode");
  ok(unknown instanceof RespError);
  equal(unknown.message, "ERR Unknown node nosuchnode");
  const links = async () => ((await n0.cmd("CLUSTER", "LINKS")) as RespValue[]).length;
  equal(String(await n0.cmd("DEBUG", "CLUSTERLINK", "KILL", "all", n2.id)), "OK");
  await cl.waitFor("n0 has both links with each peer again", async () => await links() === 4);
  equal(await n0.cmd("SPUBLISH", ch, "world"), 0);
  deepStrictEqual(await sub.read(WAIT_MS), ["smessage", ch, "world"]);

  // Every byte value crosses the bus unchanged (0x80-0x9f included), for PUBLISH to another
  // master's subscriber and SPUBLISH to the replica's.
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const text = String.fromCharCode(...bytes);
  using sub1 = await RawConn.connect(n1.port);
  await sub1.write(encodeCommand(["SUBSCRIBE", "bin"]));
  deepStrictEqual(await sub1.read(), ["subscribe", "bin", 1]);
  using pub = await RawConn.connect(n0.port);
  await pub.write(encodeCommand(["PUBLISH", "bin", bytes]));
  equal(await pub.read(), 0);
  deepStrictEqual(await sub1.read(WAIT_MS), ["message", "bin", text]);
  await pub.write(encodeCommand(["SPUBLISH", ch, bytes]));
  equal(await pub.read(), 0);
  deepStrictEqual(await sub.read(WAIT_MS), ["smessage", ch, text]);

  // A READONLY client of the replica: a script that may write (a shebang without no-writes)
  // is redirected to the master, one without flags is run there.
  using ro = await RawConn.connect(n2.port);
  equal(String(await ro.call("READONLY")), "OK");
  const k100 = keyInSlot(100);
  const moved = await ro.call("EVAL", "#!lua\nreturn redis.call('del', KEYS[1])", "1", k100);
  ok(moved instanceof RespError, String(moved));
  equal(moved.message, `MOVED 100 127.0.0.1:${n0.port}`);
  equal(await ro.call("EVAL", "return redis.call('get', KEYS[1])", "1", k100), null);

  const slot = 200;
  const key = keyInSlot(slot);
  await n0.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0");
  await n0.cmd("SET", key, "v", "PX", "50");
  await n0.cmd("CLUSTER", "SETSLOT", String(slot), "MIGRATING", n1.id);
  await n1.cmd("CLUSTER", "SETSLOT", String(slot), "IMPORTING", n0.id);
  await sleep(100);
  const asked = await n0.call("GET", key);
  ok(asked instanceof RespError, String(asked));
  equal(asked.message, `ASK ${slot} 127.0.0.1:${n1.port}`);
  for (const n of [n0, n1]) await n.cmd("CLUSTER", "SETSLOT", String(slot), "STABLE");
  await n0.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1");

  // A slot given away takes its shard channels along: their subscribers are told.
  const ch300 = keyInSlot(300);
  using sub0 = await RawConn.connect(n0.port);
  await sub0.write(encodeCommand(["SSUBSCRIBE", ch300]));
  deepStrictEqual(await sub0.read(), ["ssubscribe", ch300, 1]);
  equal(String(await n0.cmd("CLUSTER", "SETSLOT", "300", "NODE", n1.id)), "OK");
  deepStrictEqual(await sub0.read(WAIT_MS), ["sunsubscribe", ch300, 0]);
  await n1.cmd("CLUSTER", "SETSLOT", "300", "NODE", n1.id);
}

/**
 * CONFIG SET cluster-announce-port / -bus-port / -hostname change what a node announces at
 * once (its own CLUSTER NODES line) and, through its PINGs, what its peers know of it; set back
 * to 0 or empty, the real ports come back. cluster-replica-no-failover is its nofailover flag,
 * seen by its peers too. cluster-preferred-endpoint-type shapes redirections and CLUSTER SLOTS.
 */
async function announcedAtRuntime(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl, impl]);
  const [n0, n1] = cl.nodes as [CNode, CNode];
  await n0.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "8191");
  await n1.cmd("CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
  await n0.cmd("CLUSTER", "MEET", "127.0.0.1", String(n1.port));
  await cl.healthy(2);
  const lineOf = async (from: CNode) =>
    String(await from.cmd("CLUSTER", "NODES")).split("\n").find((l) => l.startsWith(n0.id))!
      .split(" ")[1]!;
  const seenAs = async (addr: string) => {
    equal(await lineOf(n0), addr, "n0's own line");
    await cl.waitFor(`n1 sees n0 as ${addr}`, async () => await lineOf(n1) === addr);
  };
  // Ports nobody uses (the data port and bus port of a node that is not started).
  const port = n1.port + 1, bus = n1.port + 2;
  await n0.cmd("CONFIG", "SET", "cluster-announce-port", String(port));
  await seenAs(`127.0.0.1:${port}@${n0.port + 10000}`);
  await n0.cmd("CONFIG", "SET", "cluster-announce-bus-port", String(bus));
  await n0.cmd("CONFIG", "SET", "cluster-announce-hostname", "node-zero");
  await seenAs(`127.0.0.1:${port}@${bus},node-zero`);
  await n0.cmd(
    "CONFIG",
    "SET",
    "cluster-announce-port",
    "0",
    "cluster-announce-bus-port",
    "0",
    "cluster-announce-hostname",
    "",
  );
  await seenAs(`127.0.0.1:${n0.port}@${n0.port + 10000}`);
  await cl.healthy(2);
  // cluster-replica-no-failover is the node's nofailover flag, which its peers learn.
  const flagged = (v: NodeLine[]) => v.find((l) => l.id === n0.id)!.flags.includes("nofailover");
  await n0.cmd("CONFIG", "SET", "cluster-replica-no-failover", "yes");
  ok(flagged(await n0.nodes()), "n0 flags itself nofailover");
  await cl.agree("n0 is flagged nofailover", flagged);
  await n0.cmd("CONFIG", "SET", "cluster-replica-no-failover", "no");
  await cl.agree("n0 is not flagged nofailover", (v) => !flagged(v));

  // cluster-preferred-endpoint-type: a node without a hostname is "?" when hostnames are
  // preferred, and no endpoint at all (an empty one in redirections) for unknown-endpoint.
  const k = keyInSlot(9000);
  const n1Entry = async () => {
    const slots = (await n0.cmd("CLUSTER", "SLOTS")) as RespValue[][];
    const range = slots.find((r) => Number(r[0]) === 8192)!;
    return range[2] as RespValue[];
  };
  await n0.cmd("CONFIG", "SET", "cluster-preferred-endpoint-type", "hostname");
  let moved = await n0.call("GET", k);
  ok(moved instanceof RespError);
  equal(moved.message, `MOVED 9000 ?:${n1.port}`);
  deepStrictEqual((await n1Entry()).slice(0, 3).map(String), ["?", String(n1.port), n1.id]);
  await n0.cmd("CONFIG", "SET", "cluster-preferred-endpoint-type", "unknown-endpoint");
  moved = await n0.call("GET", k);
  ok(moved instanceof RespError);
  equal(moved.message, `MOVED 9000 :${n1.port}`);
  const entry = await n1Entry();
  equal(entry[0], null);
  deepStrictEqual(entry[3], ["ip", "127.0.0.1"]);
  await n0.cmd("CONFIG", "SET", "cluster-preferred-endpoint-type", "ip");
}

/**
 * A cluster replica restarted from its RDB keeps keys whose TTL passed meanwhile (its master
 * expires them and sends the DELs), as a replica does: nodes.conf makes it a replica before
 * the RDB loads.
 */
async function replicaRestartKeepsExpired(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl, impl]);
  const [m, r] = cl.nodes as [CNode, CNode];
  await m.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
  await m.cmd("CLUSTER", "MEET", "127.0.0.1", String(r.port));
  await cl.healthy(2);
  await r.cmd("CLUSTER", "REPLICATE", m.id);
  await cl.caughtUp(m, r);
  for (let i = 0; i < 20; i++) await m.cmd("SET", `{t}${i}`, "v", "PX", "1500");
  await cl.waitFor("the replica has the 20 keys", async () => await r.cmd("DBSIZE") === 20);
  await r.cmd("SAVE");
  await r.kill9();
  await m.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0");
  await sleep(2000);
  await r.start();
  equal(await r.cmd("DBSIZE"), 20, "the replica loaded its expired keys");
  await m.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1");
  await cl.waitFor("the master's DELs reach the replica", async () => await r.cmd("DBSIZE") === 0);
}

/**
 * A cluster replica restarted from its RDB continues its master's history (the RDB's replication
 * ID and offset, as Redis loads a replica's RDB): a partial resync, no full one.
 */
async function replicaRestartPartialResync(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl, impl]);
  const [m, r] = cl.nodes as [CNode, CNode];
  await m.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
  await m.cmd("CLUSTER", "MEET", "127.0.0.1", String(r.port));
  await cl.healthy(2);
  await r.cmd("CLUSTER", "REPLICATE", m.id);
  await cl.caughtUp(m, r);
  for (let i = 0; i < 50; i++) await m.cmd("SET", `{p}${i}`, String(i));
  await cl.caughtUp(m, r);
  await r.cmd("SAVE");
  await r.kill9();
  await m.cmd("SET", "{p}while-down", "1");
  const stats = async () => parseInfo(String(await m.cmd("INFO", "stats")));
  const before = await stats();
  await r.start();
  await cl.caughtUp(m, r);
  const after = await stats();
  equal(after.sync_full, before.sync_full, "no full sync");
  equal(Number(after.sync_partial_ok), Number(before.sync_partial_ok) + 1, "a partial resync");
  await r.cmd("READONLY");
  equal(await r.cmd("GET", "{p}while-down"), "1");
  equal((await r.replInfo()).master_replid, (await m.replInfo()).master_replid);
}

// ---------------------------------------------------------------------------------------------
// 6. Mixed with redis-server

async function mixed(): Promise<void> {
  // redis-cli takes the first three as masters: redis, ours, redis; then the replicas.
  await using cl = await TestCluster.start(["redis", "ours", "redis", "ours", "redis", "ours"]);
  await cl.create(1);
  await cl.healthy(6);
  // redis-cli pairs masters and replicas at random when they share a host: CLUSTER REPLICATE
  // makes a redis-server master with one of ours as replica, and the other way round.
  const [r0, o1, r2, o3, r4, o5] = cl.nodes as [CNode, CNode, CNode, CNode, CNode, CNode];
  const pairs: [CNode, CNode][] = [[r0, o3], [o1, r4], [r2, o5]];
  for (const [m, r] of pairs) {
    if (!isReplicaOf(await r.nodes(), r.id, m.id)) await r.cmd("CLUSTER", "REPLICATE", m.id);
  }
  await cl.agree(
    "the replicas follow the masters chosen",
    (v) => pairs.every(([m, r]) => isMasterOf(v, m.id) && isReplicaOf(v, r.id, m.id)),
  );
  await cl.healthy(6);
  const shards = pairs.map(([master, r]) => ({ master, replicas: [r] }));
  const check = await runCli(["--cluster", "check", `127.0.0.1:${o1.port}`]);
  equal(check.code, 0, check.out);

  // Both kinds describe every node alike in CLUSTER NODES (flags, master, epoch, slots).
  const differ: string[] = [];
  const compareViews = async (what: string) => {
    const summary = async (n: CNode) =>
      new Map(
        (await n.nodes()).map((l) => [
          l.id,
          `${l.flags.filter((f) => f !== "myself").join(",")} ${l.master} epoch ${l.epoch} ` +
          l.slots.join(" "),
        ]),
      );
    const ref = cl.live.find((n) => n.impl === "redis")!;
    const want = await summary(ref);
    for (const n of cl.live.filter((x) => x.impl === "ours")) {
      const got = await summary(n);
      for (const [id, line] of want) {
        if (got.get(id) !== line) {
          differ.push(
            `${what}: ${n.label} sees ${id.slice(0, 8)} as "${
              got.get(id)
            }", ${ref.label}: "${line}"`,
          );
          break; // one line per node is enough
        }
      }
    }
  };
  await compareViews("after create");

  const io = ioCluster(cl.nodes[1]!.port);
  try {
    const data = keyset("mx", 600);
    await writeAll(io, data);
    deepStrictEqual(await wrongKeys(io, data), []);
    for (const s of shards) {
      ok(Number(await s.master.cmd("DBSIZE")) > 100, `${s.master.label} holds keys`);
      await cl.caughtUp(s.master, s.replicas[0]!);
    }

    // As a reference for the same check on our replicas (test 1): redis-server's replica
    // answers a write to its master's slot with MOVED, not READONLY.
    const k1 = (await keysServedBy(o1, [...data.keys()]))[0]!;
    const v = await r4.call("SET", k1, "x");
    ok(v instanceof RespError, String(v));
    equal(v.message, `MOVED ${keyHashSlot(k1)} 127.0.0.1:${o1.port}`);

    // A real master whose replica is ours, then one of ours whose replica is a real one.
    for (const plan of [shards[0]!, shards[1]!]) {
      const victim = plan.master, heir = plan.replicas[0]!;
      await victim.kill9();
      await cl.agree(
        `${heir.label} took over from ${victim.label}`,
        (v) => isMasterOf(v, heir.id),
        FAILOVER_MS,
      );
      await cl.healthy(6, FAILOVER_MS);
      const k = (await keysServedBy(heir, [...data.keys()]))[0]!;
      ok(k, `a key served by ${heir.label}`);
      await cl.waitFor(`ioredis writes through ${heir.label}`, async () => {
        equal(await within(io.set(k, data.get(k)!), 2000, "SET"), "OK");
        return true;
      });
      deepStrictEqual(await wrongKeys(io, data), [], `keys after ${victim.label} was killed`);
      // CLUSTER SHARDS: the killed node's health, as each kind reports it.
      const health = async (n: CNode) => {
        for (const shard of (await n.cmd("CLUSTER", "SHARDS")) as RespValue[][]) {
          for (const node of shard[3] as RespValue[][]) {
            const i = node.indexOf("id");
            if (node[i + 1] === victim.id) return String(node[node.indexOf("health") + 1]);
          }
        }
        return "(absent)";
      };
      const ref = cl.live.find((n) => n.impl === "redis")!;
      const want = await health(ref);
      for (const n of cl.live.filter((x) => x.impl === "ours")) {
        const got = await health(n);
        if (got !== want) {
          differ.push(
            `CLUSTER SHARDS health of killed ${victim.label}: ${n.label} says ` +
              `${got}, ${ref.label} says ${want}`,
          );
        }
      }
      await compareViews(`after ${victim.label} was killed`);
    }
  } finally {
    io.disconnect();
  }
  deepStrictEqual(differ.slice(0, 8), [], "our nodes and redis-server differ");
}

// ---------------------------------------------------------------------------------------------
// 7. Bad input

const NODES_CONF_OK =
  "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-16383\n" +
  "vars currentEpoch 1 lastVoteEpoch 0\n";

async function badNodesConf(): Promise<void> {
  const cases: [string, string, number][] = [
    ["a line of garbage", NODES_CONF_OK.replace("vars", "this is not a node line\nvars"), 2],
    ["a slot out of range", NODES_CONF_OK.replace("0-16383", "0-16384"), 1],
    ["an unknown flag", NODES_CONF_OK.replace("myself,master", "myself,mastr"), 1],
    [
      "a bad address",
      "0123456789012345678901234567890123456789 127.0.0.1:30002@40002 master - 0 0 2 connected\n" +
      NODES_CONF_OK.replace("127.0.0.1:30001@40001", "nowhere"),
      2,
    ],
  ];
  for (const [what, text, line] of cases) {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/nodes.conf`, text);
      const r = await runDataNode([
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        dir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
      ]);
      ok(!r.success, `${what}: the node started`);
      ok(r.stderr.includes(`nodes.conf:${line}`), `${what}: no nodes.conf:${line} in\n${r.stderr}`);
      equal(await Deno.readTextFile(`${dir}/nodes.conf`), text, `${what}: the file was rewritten`);
      if (hasRedisServer) {
        // redis-server refuses the file too (it does not name the line).
        const port = await freePort();
        const o = await new Deno.Command("redis-server", {
          args: [
            "--port",
            String(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            dir,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            `${dir}/nodes.conf`,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        ok(!o.success, `${what}: redis-server accepted the file`);
      }
    });
  }
}

/** A bus header as Redis 7.0 writes it (2256 bytes, no gossip). */
function busHeader(o: {
  sig?: string;
  totlen?: number;
  ver?: number;
  type?: number;
  count?: number;
  sender: string;
  port: number;
}): Uint8Array {
  const b = new Uint8Array(2256);
  const v = new DataView(b.buffer);
  const sig = o.sig ?? "RCmb";
  for (let i = 0; i < 4; i++) b[i] = sig.charCodeAt(i);
  v.setUint32(4, o.totlen ?? 2256);
  v.setUint16(8, o.ver ?? 1);
  v.setUint16(10, o.port);
  v.setUint16(12, o.type ?? 0);
  v.setUint16(14, o.count ?? 0);
  for (let i = 0; i < 40; i++) b[40 + i] = o.sender.charCodeAt(i);
  v.setUint16(2248, o.port + 10000);
  v.setUint16(2250, 1); // master
  return b;
}

/** True when the peer closes the connection within `ms` (whatever it sent before). */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(65536);
  const end = Date.now() + ms;
  try {
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) return false;
      const n = await within(conn.read(buf), left, "read").catch(() => "timeout" as const);
      if (n === "timeout") return false;
      if (n === null) return true;
    }
  } catch {
    return true;
  }
}

/** Reads one bus frame (or null on close / timeout). */
async function readFrame(conn: Deno.Conn, ms: number): Promise<Uint8Array | null> {
  let acc = new Uint8Array(0);
  const buf = new Uint8Array(65536);
  const end = Date.now() + ms;
  for (;;) {
    if (acc.length >= 8) {
      const len = new DataView(acc.buffer, acc.byteOffset).getUint32(4);
      if (acc.length >= len) return acc.slice(0, len);
    }
    const left = end - Date.now();
    if (left <= 0) return null;
    const n = await within(conn.read(buf), left, "read").catch(() => null);
    if (n === null) return null;
    const next = new Uint8Array(acc.length + n);
    next.set(acc);
    next.set(buf.subarray(0, n), acc.length);
    acc = next;
  }
}

async function garbageOnBus(): Promise<void> {
  await using cl = await TestCluster.start(["ours", "ours", "ours"]);
  await cl.create(0);
  await cl.healthy(3);
  const target = cl.nodes[0]!;
  const bus = target.port + 10000;
  const stranger = "f".repeat(40);
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port: bus });
  const write = async (c: Deno.Conn, b: Uint8Array) => {
    let off = 0;
    while (off < b.length) off += await c.write(b.subarray(off));
  };
  const rnd = seededRandom(7);
  const random = new Uint8Array(64 * 1024).map(() => Math.floor(rnd() * 256));
  random[0] = 0; // not "R": never a valid signature

  // Frames whose signature or length cannot be trusted: Redis closes the link.
  const closing: [string, Uint8Array][] = [
    ["64 KB of random bytes", random],
    ["a header with the signature RCmX", busHeader({ sig: "RCmX", sender: stranger, port: 1 })],
    ["a header with totlen 100", busHeader({ totlen: 100, sender: stranger, port: 1 })],
  ];
  for (const [what, bytes] of closing) {
    const c = await connect();
    try {
      await write(c, bytes).catch(() => {});
      ok(await closedWithin(c, 3000), `${what}: the link stays open`);
    } finally {
      c.close();
    }
    equal(String(await target.cmd("PING")), "PONG", `PING after ${what}`);
  }

  // Frames Redis drops while keeping the link: a PING that follows them is answered.
  const dropped: [string, Uint8Array][] = [
    [
      "a PING whose count does not fit its length",
      busHeader({ count: 50, sender: stranger, port: 1 }),
    ],
    ["a header of protocol version 2", busHeader({ ver: 2, sender: stranger, port: 1 })],
    ["a message of unknown type 200", busHeader({ type: 200, sender: stranger, port: 1 })],
  ];
  for (const [what, bytes] of dropped) {
    const c = await connect();
    try {
      await write(c, bytes);
      await write(c, busHeader({ sender: stranger, port: 1 }));
      const f = await readFrame(c, 3000);
      ok(f !== null, `${what}: no PONG to the PING that followed`);
      const v = new DataView(f.buffer, f.byteOffset);
      equal(new TextDecoder().decode(f.subarray(0, 4)), "RCmb");
      equal(v.getUint16(12), 1, `${what}: the reply is a PONG`);
      equal(new TextDecoder().decode(f.subarray(40, 80)), target.id);
    } finally {
      c.close();
    }
  }

  // A header cut short, and a frame announcing more than it sends, then closed.
  for (
    const bytes of [
      busHeader({ sender: stranger, port: 1 }).subarray(0, 1000),
      busHeader({ totlen: 1 << 30, sender: stranger, port: 1 }),
    ]
  ) {
    const c = await connect();
    await write(c, bytes).catch(() => {});
    c.close();
  }

  await sleep(2 * NODE_TIMEOUT_MS);
  ok(target.alive, `the node exited:\n${target.proc?.output()}`);
  equal(String(await target.cmd("PING")), "PONG");
  await cl.healthy(3);
  const check = await runCli(["--cluster", "check", `127.0.0.1:${target.port}`]);
  equal(check.code, 0, check.out);
}

// ---------------------------------------------------------------------------------------------

const noCli = hasRedisCli ? "" : " (ignored: redis-cli not installed)";

Deno.test({
  name: `cluster: create six nodes with redis-cli, MOVED, CROSSSLOT, SLOTS, SHARDS${noCli}`,
  ignore: !hasRedisCli,
  ...opts,
  fn: createAndRoute,
});

Deno.test({
  name: `cluster: ioredis and node-redis cluster clients, 1,000 keys and pipelines${noCli}`,
  ignore: !hasRedisCli,
  ...opts,
  fn: clients,
});

Deno.test({
  name: `cluster: a master killed, its replica elected, the old master rejoins as replica${noCli}`,
  ignore: !hasRedisCli,
  ...opts,
  fn: failover,
});

Deno.test({
  name: `cluster: CLUSTER FAILOVER and CLUSTER FAILOVER TAKEOVER${noCli}`,
  ignore: !hasRedisCli,
  ...opts,
  fn: manualFailover,
});

Deno.test({
  name: `cluster: a master left without replicas gets one from the master with the most${noCli}`,
  ignore: !hasRedisCli,
  ...opts,
  fn: replicaMigration,
});

Deno.test({
  name: `cluster: redis-cli --cluster reshard of 100 slots under a cluster client${noCli}`,
  ignore: !hasRedisCli,
  ...opts,
  fn: reshard,
});

Deno.test({
  name: `cluster: a master that loses its last slot follows the new owner (ours)`,
  ...opts,
  fn: () => lastSlotGivenAway("ours"),
});

const noMixed = hasRedisCli && hasRedisServer
  ? ""
  : " (ignored: redis-server or redis-cli not installed)";
Deno.test({
  name: `cluster: three of ours and three redis-server 7.0, failing over both ways${noMixed}`,
  ignore: !(hasRedisCli && hasRedisServer),
  ...opts,
  fn: mixed,
});

const noServer = hasRedisServer ? "" : " (ignored: redis-server not installed)";
Deno.test({
  name:
    `cluster: a master that loses its last slot follows the new owner (redis-server)${noServer}`,
  ignore: !hasRedisServer,
  ...opts,
  fn: () => lastSlotGivenAway("redis"),
});

/**
 * A replica that has replicated nothing yet (offset 0) is "loading" in CLUSTER SHARDS and left out
 * of CLUSTER SLOTS; once its master's stream reaches it, it is "online" and listed.
 */
async function replicasBeforeData(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start(Array(6).fill(impl));
  // No PING in the replication streams meanwhile: only a write moves a replica's offset.
  for (const n of cl.nodes) {
    equal(String(await n.cmd("CONFIG", "SET", "repl-ping-replica-period", "3600")), "OK");
  }
  await cl.create(1);
  await cl.healthy(6);
  const shards = await cl.shards(cl.nodes[0]!);
  for (const sh of shards) await cl.caughtUp(sh.master, sh.replicas[0]!);
  type Shard = { nodes: { role: string; health: string; offset: number }[] };
  const shardsOf = async (n: CNode): Promise<Shard[]> =>
    ((await n.cmd("CLUSTER", "SHARDS")) as RespValue[][]).map((sh) => {
      const nodes = sh[3] as RespValue[][];
      return {
        nodes: nodes.map((f) => {
          const m = new Map<string, RespValue>();
          for (let i = 0; i < f.length; i += 2) m.set(String(f[i]), f[i + 1]!);
          return {
            role: String(m.get("role")),
            health: String(m.get("health")),
            offset: Number(m.get("replication-offset")),
          };
        }),
      };
    }).filter((sh) => sh.nodes.length > 0);
  const listed = async (n: CNode) =>
    ((await n.cmd("CLUSTER", "SLOTS")) as RespValue[][]).map((r) => r.length - 3);
  for (const n of cl.nodes) {
    for (const sh of await shardsOf(n)) {
      for (const x of sh.nodes) {
        if (x.role === "replica" && x.offset === 0) equal(x.health, "loading", `${n.label}`);
      }
    }
  }
  const replica = shards[0]!.replicas[0]!;
  deepStrictEqual(await listed(replica), [0, 0, 0], "no replica listed before any data");
  // One write on every master: its replica's offset moves, and every node learns it.
  for (const sh of shards) {
    const range = (await sh.master.nodes()).find((l) => l.id === sh.master.id)!.slots[0]!;
    const [lo, hi] = range.split("-").map(Number) as [number, number];
    let i = 0;
    while (keyHashSlot(`k${i}`) < lo || keyHashSlot(`k${i}`) > (hi ?? lo)) i++;
    equal(String(await sh.master.cmd("SET", `k${i}`, "v")), "OK");
  }
  await cl.waitFor("every replica listed and online everywhere", async () => {
    for (const n of cl.nodes) {
      if ((await listed(n)).some((x) => x !== 1)) return false;
      for (const sh of await shardsOf(n)) {
        if (sh.nodes.some((x) => x.health !== "online")) return false;
      }
    }
    return true;
  });
}

/** CONFIG SET cluster-announce-hostname refuses what Redis 7.0 refuses, and keeps the old one. */
async function hostnameValidation(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl]);
  const [n] = cl.nodes as [CNode];
  equal(String(await n.cmd("CONFIG", "SET", "cluster-announce-hostname", "before")), "OK");
  const refused = async (value: string, why: string) => {
    const e = await n.call("CONFIG", "SET", "cluster-announce-hostname", value);
    ok(e instanceof RespError, `${value.slice(0, 20)}: ${e}`);
    equal(
      e.message,
      `ERR CONFIG SET failed (possibly related to argument 'cluster-announce-hostname') - ${why}`,
    );
  };
  await refused("x".repeat(256), "Hostnames must be less than 256 characters");
  const chars = "Hostnames may only contain alphanumeric characters, hyphens or dots";
  await refused("?.com", chars);
  await refused("a_b", chars);
  deepStrictEqual(await n.cmd("CONFIG", "GET", "cluster-announce-hostname"), [
    "cluster-announce-hostname",
    "before",
  ]);
  const fine = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.";
  for (const v of [fine, "x".repeat(255), ""]) {
    equal(String(await n.cmd("CONFIG", "SET", "cluster-announce-hostname", v)), "OK");
  }
}

/**
 * CLUSTER RESET drops the other nodes without blacklisting them (only CLUSTER FORGET does): a
 * node reset hard and met again learns the rest of the cluster from gossip at once.
 */
async function resetAndMeetAgain(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl, impl, impl]);
  const [a, b, c] = cl.nodes as [CNode, CNode, CNode];
  await a.cmd("CLUSTER", "ADDSLOTSRANGE", "0", String(SLOTS - 1));
  for (const n of [b, c]) await a.cmd("CLUSTER", "MEET", "127.0.0.1", String(n.port));
  const full = (v: NodeLine[]) =>
    v.length === 3 && cl.nodes.every((n) => v.some((l) => l.id === n.id)) &&
    !v.some((l) => l.flags.includes("handshake"));
  await cl.agree("every node knows the others by name", full);
  await cl.healthy(3);
  const old = c.id;
  equal(String(await c.cmd("CLUSTER", "RESET", "HARD")), "OK");
  c.id = String(await c.cmd("CLUSTER", "MYID"));
  for (const n of [a, b]) equal(String(await n.cmd("CLUSTER", "FORGET", old)), "OK");
  equal(String(await c.cmd("CLUSTER", "MEET", "127.0.0.1", String(a.port))), "OK");
  // b reaches c only through a's gossip, well within the minute a FORGET blacklists a name.
  await cl.agree("every node knows the others by name again", full);
  await cl.healthy(3);
}

/**
 * A replica loading a full sync announces offset 0 on the bus (it has no master link and no
 * cached master, as Redis's replicationGetSlaveOffset): its master shows it "loading" in CLUSTER
 * SHARDS and leaves it out of CLUSTER SLOTS until the load ends. key-load-delay paces the load.
 */
async function replicaLoadingFullSync(impl: Impl): Promise<void> {
  await using cl = await TestCluster.start([impl, impl]);
  const [m, r] = cl.nodes as [CNode, CNode];
  await m.cmd("CLUSTER", "ADDSLOTSRANGE", "0", String(SLOTS - 1));
  await m.cmd("CLUSTER", "MEET", "127.0.0.1", String(r.port));
  await cl.healthy(2);
  await r.cmd("CLUSTER", "REPLICATE", m.id);
  await cl.caughtUp(m, r);
  const health = async () => {
    for (const sh of (await m.cmd("CLUSTER", "SHARDS")) as RespValue[][]) {
      for (const f of sh[3] as RespValue[][]) {
        const fields = new Map<string, RespValue>();
        for (let i = 0; i < f.length; i += 2) fields.set(String(f[i]), f[i + 1]!);
        if (fields.get("id") === r.id) return String(fields.get("health"));
      }
    }
    return "absent";
  };
  const replicasListed = async () =>
    ((await m.cmd("CLUSTER", "SLOTS")) as RespValue[][]).reduce((a, x) => a + x.length - 3, 0);
  await cl.waitFor("the replica online", async () => await health() === "online");
  await m.cmd("DEBUG", "POPULATE", "2000", "key", "1000");
  await cl.caughtUp(m, r);
  // 2,000 keys at 2 ms each: a load of about four seconds.
  await r.cmd("CONFIG", "SET", "key-load-delay", "2000");
  await r.cmd("CONFIG", "SET", "loading-process-events-interval-bytes", "1024");
  // The replica's link is cut and more is written than the backlog keeps: a full sync.
  await m.cmd("CONFIG", "SET", "repl-backlog-size", "1");
  await m.cmd("MULTI");
  await m.cmd("CLIENT", "KILL", "TYPE", "replica");
  for (let i = 0; i < 100; i++) await m.cmd("SET", `{ld}${i}`, "A".repeat(1024));
  await m.cmd("EXEC");
  await cl.waitFor(
    "the master sees the replica loading, and lists no replica in CLUSTER SLOTS",
    async () => await health() === "loading" && await replicasListed() === 0,
  );
  await sleep(1000);
  equal(await health(), "loading", "still loading a second later: key-load-delay paces the load");
  await r.cmd("CONFIG", "SET", "key-load-delay", "0");
  await cl.waitFor(
    "the replica online again, and listed",
    async () => await health() === "online" && await replicasListed() === 1,
  );
  equal(String(await r.cmd("DBSIZE")), String(await m.cmd("DBSIZE")));
}

/** Registers a cluster test against our nodes and against redis-server (when installed). */
function onBoth(title: string, fn: (impl: "ours" | "redis") => Promise<void>): void {
  for (const impl of ["ours", "redis"] as const) {
    const absent = impl === "redis" && !hasRedisServer;
    Deno.test({
      name: `cluster: ${title} (${impl})${absent ? noServer : ""}`,
      ignore: absent,
      ...opts,
      fn: () => fn(impl),
    });
  }
}

onBoth(
  "a replica with nothing replicated is loading and not in CLUSTER SLOTS",
  replicasBeforeData,
);
onBoth(
  "DEBUG DROP-CLUSTER-PACKET-FILTER",
  dropPacketFilter,
);
onBoth("bind-source-addr on the bus's outgoing links", busSourceAddr);
onBoth(
  "shard channels on a replica, DEBUG CLUSTERLINK KILL, an expired key of a migrating slot",
  shardChannelsAndLinks,
);
onBoth(
  "CONFIG SET of the announced port, bus port, hostname and nofailover reaches the peers",
  announcedAtRuntime,
);
onBoth(
  "a replica restarted from its RDB keeps the keys that expired meanwhile",
  replicaRestartKeepsExpired,
);
onBoth("cluster-announce-hostname validation", hostnameValidation);
onBoth("a node reset hard and met again learns the others from gossip", resetAndMeetAgain);
onBoth(
  "a replica restarted from its RDB continues with a partial resync",
  replicaRestartPartialResync,
);
onBoth(
  "a replica loading a full sync is loading in its master's CLUSTER SHARDS",
  replicaLoadingFullSync,
);

Deno.test({
  name: "cluster: a cluster-announce-hostname Redis refuses stops startup with its reason",
  ...opts,
  fn: () =>
    withTempDir(async (dir) => {
      const why = "Hostnames may only contain alphanumeric characters, hyphens or dots";
      const args = [
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        dir,
        "--cluster-enabled",
        "yes",
        "--cluster-announce-hostname",
        "a_b",
      ];
      // Each is given 20 s to exit: one that starts anyway is killed, and the test fails.
      const run = async (bin: string, argv: string[]) => {
        const o = await new Deno.Command(bin, {
          args: argv,
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(20_000),
        }).output();
        const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
        ok(!o.success && text.includes(why), `${bin} did not refuse the hostname:\n${text}`);
      };
      const [bin, ...rest] = dataNodeCommand(await freePort(), ["--admin-port", "-1", ...args]);
      await run(bin!, rest);
      if (hasRedisServer) await run("redis-server", ["--port", String(await freePort()), ...args]);
    }),
});

Deno.test({
  name: "cluster: a nodes.conf that does not parse stops startup and names the line",
  ...opts,
  fn: badNodesConf,
});

Deno.test({
  name: `cluster: garbage on the bus port neither crashes the node nor the cluster${noCli}`,
  ignore: !hasRedisCli,
  ...opts,
  fn: garbageOnBus,
});
