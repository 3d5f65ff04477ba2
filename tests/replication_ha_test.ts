/**
 * Replication under load and failure, with Redis 7.0 semantics:
 *
 * - 100,000 keys of every type (compact and large encodings, TTLs, two databases) synced in
 *   each direction between redis-server and our data node and between two of our nodes, then
 *   a live stream of mixed writes, compared key by key once the offsets are equal;
 * - a backlog too small for what was written while the link was down forces a full sync, and
 *   a large one a partial resync;
 * - FAILOVER while a client keeps writing: no acknowledged write is lost, the old master and
 *   the other replica follow the new master; FAILOVER's error replies match redis-server's;
 * - a master that sends garbage (corrupt, truncated or bad-CRC RDB payloads, error and
 *   non-RESP replies in the handshake) never takes the replica down nor its dataset;
 * - a replica with AOF and requirepass killed with SIGKILL comes back from its AOF and resyncs;
 * - FAILOVER from a redis-server master to our node.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { type ChainableCommander, Redis } from "ioredis";
import { NEED_MORE, RespDecoder, RespError, type RespValue } from "../shared/resp/mod.ts";
import { hasRedis, withTempDir } from "./helpers/process.ts";
import { eventually } from "./helpers/raw.ts";
import {
  caughtUp,
  describe,
  diffSnapshots,
  type Impl,
  linkUp,
  Node,
  noProblems,
  online,
  type Pair,
  parseInfo,
  pipeline,
  run,
  sameData,
  snapshot,
  waitFor,
} from "./helpers/replication.ts";
import { seededRandom } from "./helpers/random.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The pairings that involve our data node. */
const PAIRS: readonly Pair[] = [
  { master: "ours", replica: "ours" },
  { master: "ours", replica: "redis" },
  { master: "redis", replica: "ours" },
];

function needsRedis(...impls: Impl[]): string | null {
  return impls.includes("redis") && !hasRedis ? "redis-server not installed" : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An ioredis client that never retries nor resends on its own (a lost reply stays lost). */
function client(port: number, db = 0, password?: string): Redis {
  return new Redis({
    host: "127.0.0.1",
    port,
    db,
    ...(password === undefined ? {} : { password }),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
}

/** Fails with the first error reply of an ioredis pipeline's results. */
function checkResults(
  results: [Error | null, unknown][] | null,
  what: string,
): void {
  ok(results !== null, `${what}: no results`);
  const bad = results.find(([e]) => e !== null);
  ok(bad === undefined, `${what}: ${bad?.[0]?.message}`);
}

// ---------------------------------------------------------------------------------------------
// 1. 100k keys of every type

const BIG_KEYS = 100_000;
/** Keys 0..59,999 live in db 0, the others in db 7. */
const DB0_KEYS = 60_000;
const OTHER_DB = 7;
const TYPES = ["s", "l", "h", "S", "z"] as const;

function keyName(i: number): string {
  return `${TYPES[i % 5]}:${i}`;
}

function dbOf(i: number): number {
  return i < DB0_KEYS ? 0 : OTHER_DB;
}

/** Every 997th key is large enough to leave the compact encodings (listpack, intset). */
function isLarge(i: number): boolean {
  return i % 997 === 3 || i % 997 === 4 || i % 997 === 5 || i % 997 === 6 || i % 997 === 7;
}

/** Adds the commands that create key `i` to an ioredis pipeline. */
function create(p: ChainableCommander, i: number, now: number): void {
  const k = keyName(i);
  const r = (n: number) => Array.from({ length: n }, (_, j) => j);
  const large = isLarge(i);
  switch (TYPES[i % 5]) {
    case "s":
      if (large) p.set(k, `${"big".repeat(7000)}:${i}`);
      else p.set(k, i % 2 === 0 ? String(i * 3) : `text-${i}`);
      break;
    case "l":
      if (large) p.rpush(k, ...r(300).map((j) => `element-${j}-${"x".repeat(j % 90)}`));
      else p.rpush(k, ...r(1 + (i % 6)).map((j) => `e${j}`));
      break;
    case "h":
      if (large) p.hset(k, ...r(600).flatMap((j) => [`field${j}`, `value${j}`]));
      else if (i % 11 === 0) p.hset(k, "long", "v".repeat(100), "n", String(i));
      else p.hset(k, "f", `v${i}`, "n", String(i));
      break;
    case "S":
      if (large && i % 2 === 0) p.sadd(k, ...r(700).map(String));
      else if (large) p.sadd(k, ...r(200).map((j) => `member-${j}`));
      else if (i % 3 === 0) p.sadd(k, ...r(1 + (i % 4)).map((j) => String(j * 10)));
      else p.sadd(k, ...r(1 + (i % 4)).map((j) => `m${j}`));
      break;
    case "z":
      if (large) p.zadd(k, ...r(200).flatMap((j) => [String(j / 8), `member-${j}`]));
      else p.zadd(k, 1, "a", String(i / 4), "b", "-inf", "c", "1e300", "d");
      break;
  }
  if (i % 9 === 0) p.expire(k, 3600 + (i % 600));
  else if (i % 13 === 0) p.pexpireat(k, now + 10_000_000 + i);
}

/** 100,000 keys, pipelined through one ioredis client per database. */
async function populateBig(port: number): Promise<void> {
  const clients = [client(port, 0), client(port, OTHER_DB)];
  try {
    const now = Date.now();
    for (let from = 0; from < BIG_KEYS; from += 2000) {
      const to = Math.min(BIG_KEYS, from + 2000);
      const c = clients[dbOf(from) === 0 ? 0 : 1]!;
      const p = c.pipeline();
      for (let i = from; i < to; i++) create(p, i, now);
      checkResults(await p.exec(), `populating keys ${from}..${to - 1}`);
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
}

/**
 * Mixed writes for `ms` milliseconds on both databases: SET, INCRBYFLOAT, LPOP, RPUSH, ZADD,
 * ZINCRBY, HSET, HDEL, SADD, SREM, EXPIRE, PERSIST, DEL and MULTI/EXEC blocks. Returns how many
 * commands were sent.
 */
async function writeStream(port: number, ms: number, seed: number): Promise<number> {
  const rnd = seededRandom(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  const clients = [client(port, 0), client(port, OTHER_DB)];
  let sent = 0;
  try {
    const end = Date.now() + ms;
    let batch = 0;
    while (Date.now() < end) {
      const db = batch++ % 2;
      const base = db === 0 ? 0 : DB0_KEYS;
      const span = db === 0 ? DB0_KEYS : BIG_KEYS - DB0_KEYS;
      /** A key of the given type in this database. */
      const keyOf = (type: number) => keyName(base + 5 * pick(span / 5) + type);
      const p = clients[db]!.pipeline();
      for (let j = 0; j < 200; j++) {
        switch (pick(14)) {
          case 0:
            p.set(keyOf(0), `live-${batch}-${j}`);
            break;
          case 1:
            p.incrbyfloat(`f:${pick(500)}`, (pick(1000) - 500) / 8);
            break;
          case 2:
            p.lpop(keyOf(1));
            break;
          case 3:
            p.rpush(keyOf(1), `pushed-${batch}-${j}`);
            break;
          case 4:
            p.zadd(keyOf(4), String(pick(10000) / 16), `zm-${pick(50)}`);
            break;
          case 5:
            p.zincrby(keyOf(4), 1.5, "a");
            break;
          case 6:
            p.hset(keyOf(2), `lf${pick(20)}`, `lv-${batch}`);
            break;
          case 7:
            p.hdel(keyOf(2), "f");
            break;
          case 8:
            p.sadd(keyOf(3), `live-${pick(100)}`);
            break;
          case 9:
            p.srem(keyOf(3), "m0", "0");
            break;
          case 10:
            p.expire(keyOf(pick(5)), 4000 + pick(1000));
            break;
          case 11:
            p.persist(keyOf(pick(5)));
            break;
          case 12:
            p.del(keyOf(pick(5)));
            break;
          case 13:
            p.call("MULTI");
            p.incr(`tx:counter:${db}`);
            p.rpush(`tx:log:${db}`, `${batch}-${j}`);
            p.hincrby(keyOf(2), "n", 1);
            p.call("EXEC");
            break;
        }
        sent++;
      }
      checkResults(await p.exec(), "the write stream");
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
  return sent;
}

/**
 * DEBUG DIGEST-VALUE per key, and with `whole` DEBUG DIGEST (which also covers expiry times),
 * equal on two of our nodes.
 */
async function sameDigests(a: Node, b: Node, whole = true): Promise<void> {
  using ca = await a.fresh();
  using cb = await b.fresh();
  const problems: string[] = [];
  const dbs = Object.keys(await a.info("keyspace")).filter((k) => /^db\d+$/.test(k));
  for (const db of dbs.map((d) => d.slice(2))) {
    await ca.call("SELECT", db);
    await cb.call("SELECT", db);
    let cursor = "0";
    do {
      const [next, keys] = await ca.call("SCAN", cursor, "COUNT", "1000") as [string, string[]];
      cursor = next;
      if (keys.length === 0) continue;
      const da = await ca.call("DEBUG", "DIGEST-VALUE", ...keys) as string[];
      const db2 = await cb.call("DEBUG", "DIGEST-VALUE", ...keys) as string[];
      keys.forEach((k, i) => {
        if (String(da[i]) !== String(db2[i])) {
          problems.push(`db ${db} ${k}: digest ${db2[i]}, expected ${da[i]}`);
        }
      });
    } while (cursor !== "0");
  }
  noProblems(problems, `DEBUG DIGEST-VALUE of ${b.label} differs from ${a.label}`);
  if (!whole) return;
  equal(
    String(await cb.call("DEBUG", "DIGEST")),
    String(await ca.call("DEBUG", "DIGEST")),
    `DEBUG DIGEST (values and expiry times) of ${b.label} and ${a.label}`,
  );
}

/** The encodings (Redis 7.0) of values too large for listpack and intset. */
const LARGE_ENCODINGS: Record<string, string> = {
  "string": "raw",
  "list": "quicklist",
  "hash": "hashtable",
  "set of integers": "hashtable",
  "set of strings": "hashtable",
  "zset": "skiplist",
};

/** OBJECT ENCODING of the first large key of each kind (in db 0). */
async function largeEncodings(n: Node): Promise<Record<string, string>> {
  const first = (kind: string) => {
    for (let i = 0; i < DB0_KEYS; i++) {
      if (!isLarge(i)) continue;
      const t = TYPES[i % 5];
      const k = t === "s"
        ? "string"
        : t === "l"
        ? "list"
        : t === "h"
        ? "hash"
        : t === "z"
        ? "zset"
        : i % 2 === 0
        ? "set of integers"
        : "set of strings";
      if (k === kind) return keyName(i);
    }
    throw new Error(`no large key for ${kind}`);
  };
  using c = await n.fresh();
  const out: Record<string, string> = {};
  for (const kind of Object.keys(LARGE_ENCODINGS)) {
    out[kind] = String(await c.call("OBJECT", "ENCODING", first(kind)));
  }
  return out;
}

async function bigDataset(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await populateBig(m.port);
  const keyspace = await m.info("keyspace");
  ok(
    keyspace[`db0`]?.startsWith(`keys=${DB0_KEYS},`) &&
      keyspace[`db${OTHER_DB}`]?.startsWith(`keys=${BIG_KEYS - DB0_KEYS},`),
    `keyspace of the master: ${JSON.stringify(keyspace)}`,
  );
  await r.replicaOf(m);
  await linkUp(m, r);
  const encodings = { master: await largeEncodings(m), replica: await largeEncodings(r) };
  deepStrictEqual(encodings, { master: LARGE_ENCODINGS, replica: LARGE_ENCODINGS });
  const sent = await writeStream(m.port, 2000, 42);
  ok(sent > 2000, `only ${sent} commands in the write stream`);
  await caughtUp(m, [r]);
  await sameData(m, r);
  if (p.master === "ours" && p.replica === "ours") await sameDigests(m, r, false);
}

// ---------------------------------------------------------------------------------------------
// 2. Backlog overflow

/**
 * Holds the replica (SIGSTOP), then has the master close its link (CLIENT KILL TYPE replica), so
 * that the replica cannot be back before the caller has written what it wants; the caller
 * resumes it, and the replica then finds its link gone and asks to continue from its offset.
 */
async function cutLink(m: Node, r: Node): Promise<void> {
  r.proc.pause();
  try {
    equal(await m.cmd("CLIENT", "KILL", "TYPE", "replica"), 1, "CLIENT KILL TYPE replica");
    await waitFor(
      [m],
      `${m.label} without replicas`,
      async () => (await m.info("replication")).connected_slaves === "0",
    );
  } catch (e) {
    r.proc.resume();
    throw e;
  }
}

/**
 * The replica's link is killed (see cutLink) and 150 KB are written on the master: past a
 * 16 KB backlog the replica needs a full sync, within a 4 MB one it continues.
 */
async function backlog(p: Pair, small: boolean): Promise<void> {
  const size = small ? "16kb" : "4mb";
  await using m = await Node.start(p.master, "master", ["--repl-backlog-size", size]);
  await using r = await Node.start(p.replica, "replica");
  await run(m, Array.from({ length: 200 }, (_, i) => ["SET", `before:${i}`, `v${i}`]));
  await r.replicaOf(m);
  await linkUp(m, r);
  await online(m, 1);
  await caughtUp(m, [r]);
  const full = await m.stat("sync_full");
  const partialOk = await m.stat("sync_partial_ok");
  const partialErr = await m.stat("sync_partial_err");
  const offset = Number((await m.info("replication")).master_repl_offset);

  await cutLink(m, r);
  try {
    const value = "w".repeat(1000);
    await run(m, Array.from({ length: 150 }, (_, i) => ["SET", `while:down:${i}`, value]));
    const now = Number((await m.info("replication")).master_repl_offset);
    ok(now - offset > 150_000, `the master's offset moved by ${now - offset} bytes`);
  } finally {
    r.proc.resume();
  }
  if (small) {
    await waitFor(
      [m, r],
      `a full sync after the 16 KB backlog overflowed`,
      async () => (await m.stat("sync_full")) === full + 1,
    );
  } else {
    await waitFor(
      [m, r],
      `a partial resync from the 4 MB backlog`,
      async () => (await m.stat("sync_partial_ok")) === partialOk + 1,
    );
  }
  await linkUp(m, r);
  await caughtUp(m, [r]);
  const stats = {
    sync_full: await m.stat("sync_full") - full,
    sync_partial_ok: await m.stat("sync_partial_ok") - partialOk,
    sync_partial_err: await m.stat("sync_partial_err") - partialErr,
  };
  deepStrictEqual(
    stats,
    small
      ? { sync_full: 1, sync_partial_ok: 0, sync_partial_err: 1 }
      : { sync_full: 0, sync_partial_ok: 1, sync_partial_err: 0 },
    `sync counters moved by ${JSON.stringify(stats)}\n${await describe([m, r])}`,
  );
  await sameData(m, r);
}

// ---------------------------------------------------------------------------------------------
// 3. FAILOVER under continuous writes

/**
 * One connection writing `INCR counter` then `RPUSH log <n>` for n = 1, 2, ... and recording
 * each n whose RPUSH was acknowledged. An error on the master (READONLY once it has become a
 * replica) sends it to the new master once that one says it is a master; an n that failed is
 * never written again.
 */
class Writer {
  readonly acked: number[] = [];
  readonly errors: string[] = [];
  /** acked.length when the writer moved to the new master (-1: not yet). */
  switchedAt = -1;
  private stopped = false;
  readonly done: Promise<void>;

  constructor(private readonly from: Node, private readonly to: Node) {
    this.done = this.run();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  private async run(): Promise<void> {
    let c = client(this.from.port);
    const deadline = Date.now() + 30_000;
    try {
      for (let n = 1; !this.stopped; n++) {
        if (Date.now() > deadline) throw new Error("the writer ran for 30 s");
        try {
          await c.incr("counter");
          await c.rpush("log", String(n));
          this.acked.push(n);
        } catch (e) {
          const msg = (e as Error).message;
          this.errors.push(`${this.switchedAt < 0 ? "old master" : "new master"}: n=${n}: ${msg}`);
          if (this.switchedAt >= 0) throw new Error(`write refused by the new master: ${msg}`);
          if (!msg.startsWith("READONLY")) {
            await sleep(10);
            continue;
          }
          using rc = await this.to.fresh();
          await eventually(
            async () => parseInfo(String(await rc.call("INFO", "replication"))).role === "master",
            `${this.to.label} a master after the old one refused a write`,
            10_000,
          );
          c.disconnect();
          c = client(this.to.port);
          this.switchedAt = this.acked.length;
        }
      }
    } finally {
      c.disconnect();
    }
  }
}

/** master_failover_state as seen on `n` every few ms until it is back to no-failover. */
async function failoverStates(n: Node, timeoutMs: number): Promise<string[]> {
  using c = await n.fresh();
  const seen: string[] = [];
  const end = Date.now() + timeoutMs;
  for (;;) {
    const state = parseInfo(String(await c.call("INFO", "replication"))).master_failover_state;
    if (state !== undefined && seen.at(-1) !== state) seen.push(state);
    if (state === "no-failover" && seen.length > 1) return seen;
    if (Date.now() > end) {
      throw new Error(`master_failover_state went ${seen.join(" → ")}\n${await describe([n])}`);
    }
    await sleep(5);
  }
}

async function failoverUnderWrites(): Promise<void> {
  await using m = await Node.start("ours", "M");
  await using r1 = await Node.start("ours", "R1");
  await using r2 = await Node.start("ours", "R2");
  await run(m, Array.from({ length: 300 }, (_, i) => ["HSET", `h:${i}`, "f", String(i)]));
  await r1.replicaOf(m);
  await r2.replicaOf(m);
  await linkUp(m, r1);
  await linkUp(m, r2);
  await online(m, 2);
  await caughtUp(m, [r1, r2]);
  equal(await r1.stat("sync_full"), 0);
  equal(await r1.stat("sync_partial_ok"), 0);

  const w = new Writer(m, r1);
  try {
    await waitFor([m, r1, r2], "1000 writes acknowledged by M", () => {
      return Promise.resolve(w.acked.length >= 1000);
    });
    equal(
      String(await m.cmd("FAILOVER", "TO", "127.0.0.1", String(r1.port), "TIMEOUT", "5000")),
      "OK",
    );
    const states = await failoverStates(m, 10_000);
    equal(states[0], "waiting-for-sync", `master_failover_state went ${states.join(" → ")}`);
    ok(
      ["waiting-for-sync → no-failover", "waiting-for-sync → failover-in-progress → no-failover"]
        .includes(states.join(" → ")),
      `master_failover_state went ${states.join(" → ")}`,
    );
    await waitFor(
      [m, r1, r2],
      "the writer on R1 with 1000 more writes acknowledged",
      () => Promise.resolve(w.switchedAt >= 0 && w.acked.length >= w.switchedAt + 1000),
    );
  } finally {
    await w.stop();
  }
  ok(w.switchedAt >= 1000, `the writer moved to R1 after ${w.switchedAt} writes`);
  ok(
    w.errors.length >= 1 &&
      w.errors.every((e) => e.startsWith("old master") && e.includes("READONLY")),
    `errors seen by the writer:\n${w.errors.join("\n")}`,
  );

  const ri = await r1.info("replication");
  equal(ri.role, "master", "R1's role after FAILOVER");
  equal((await r1.cmd("ROLE") as RespValue[])[0], "master");
  await waitFor([r1, m, r2], "M a replica of R1", async () => {
    const mi = await m.info("replication");
    return mi.role === "slave" && mi.master_port === String(r1.port) &&
      mi.master_link_status === "up";
  });
  await caughtUp(r1, [m, r2]);
  equal(await r1.stat("sync_full"), 0, "R1 made no full sync");
  ok(await r1.stat("sync_partial_ok") >= 1, "M continued with R1 through a partial resync");

  // Every acknowledged write is on the new master, in order; nothing is there twice.
  using c1 = await r1.fresh();
  const log = (await c1.call("LRANGE", "log", "0", "-1") as string[]).map(Number);
  const problems: string[] = [];
  for (let i = 1; i < log.length; i++) {
    if (!(log[i]! > log[i - 1]!)) problems.push(`log[${i}] = ${log[i]} after ${log[i - 1]}`);
  }
  const inLog = new Set(log);
  for (const n of w.acked) if (!inLog.has(n)) problems.push(`acknowledged ${n} missing`);
  noProblems(problems, `R1's log (${log.length} entries, ${w.acked.length} acknowledged)`);
  ok(log.length <= w.acked.length + w.errors.length, "no write in the log that was never sent");

  await sameData(r1, m);
  await sameData(r1, r2);
  await sameDigests(r1, m);
  await sameDigests(r1, r2);
}

/** The reply to each FAILOVER form in the situations where Redis refuses it. */
async function failoverReplies(impl: Impl): Promise<Record<string, string>> {
  await using m = await Node.start(impl, "master");
  await using r = await Node.start(impl, "replica");
  const out: Record<string, string> = {};
  /** `<master port>` and `<replica port>` in `args` stand for the ports of this run. */
  const ask = async (where: string, n: Node, ...args: string[]) => {
    const ports: Record<string, string> = {
      "<master port>": String(m.port),
      "<replica port>": String(r.port),
    };
    const v = await n.call("FAILOVER", ...args.map((a) => ports[a] ?? a));
    out[`${where}: FAILOVER ${args.join(" ")}`.trimEnd()] = v instanceof RespError
      ? v.message
      : `(not an error) ${String(v)}`;
  };
  const noReplicas = "master without replicas";
  await ask(noReplicas, m);
  await ask(noReplicas, m, "ABORT");
  await ask(noReplicas, m, "TO", "127.0.0.1", "1");
  await ask(noReplicas, m, "FORCE");
  await ask(noReplicas, m, "TIMEOUT", "0");
  await ask(noReplicas, m, "ABORT", "TIMEOUT", "10");
  await r.replicaOf(m);
  await linkUp(m, r);
  await online(m, 1);
  const withReplica = "master with a replica";
  await ask(withReplica, m, "TO", "127.0.0.1", "1");
  await ask(withReplica, m, "FORCE");
  await ask(withReplica, m, "TO", "127.0.0.1", "<replica port>", "FORCE");
  await ask(withReplica, m, "TIMEOUT", "100", "FORCE");
  await ask(withReplica, m, "ABORT");
  await ask(withReplica, m, "TO", "127.0.0.1");
  await ask("replica", r);
  await ask("replica", r, "TO", "127.0.0.1", "<master port>");
  await ask("replica", r, "FORCE");
  await ask("replica", r, "ABORT");
  // Nothing above started a failover.
  equal((await m.info("replication")).master_failover_state, "no-failover");
  return out;
}

async function failoverErrors(): Promise<void> {
  const ours = await failoverReplies("ours");
  const expected: Record<string, string> = {
    "master without replicas: FAILOVER": "ERR FAILOVER requires connected replicas.",
    "master without replicas: FAILOVER ABORT": "ERR No failover in progress.",
    "master with a replica: FAILOVER TO 127.0.0.1 1":
      "ERR FAILOVER target HOST and PORT is not a replica.",
    "master with a replica: FAILOVER FORCE":
      "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
    "replica: FAILOVER": "ERR FAILOVER is not valid when server is a replica.",
  };
  for (const [k, v] of Object.entries(expected)) equal(ours[k], v, k);
  if (!hasRedis) {
    console.log("SKIP: redis-server not installed: FAILOVER replies compared with Redis");
    return;
  }
  const redis = await failoverReplies("redis");
  for (const [k, v] of Object.entries(expected)) equal(redis[k], v, `redis-server: ${k}`);
  const diff = Object.keys(redis).filter((k) => redis[k] !== ours[k]).map((k) =>
    `${k}\n  redis-server: ${redis[k]}\n  ours:         ${ours[k]}`
  );
  noProblems(diff, "FAILOVER replies that differ from redis-server's");
}

// ---------------------------------------------------------------------------------------------
// 4. A master that sends garbage

const enc = new TextEncoder();

function concat(...parts: (Uint8Array | string | number[])[]): Uint8Array {
  const bufs = parts.map((p) =>
    typeof p === "string" ? enc.encode(p) : p instanceof Uint8Array ? p : new Uint8Array(p)
  );
  const out = new Uint8Array(bufs.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bufs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** An RDB string: 6-bit length then the bytes (short strings only). */
function rdbString(s: string): Uint8Array {
  ok(s.length < 64);
  return concat([s.length], s);
}

/** A well-formed RDB holding `fake:key`, with a checksum that does not match. */
const BAD_CRC_RDB = concat(
  "REDIS0010",
  [0xfe, 0x00, 0xfb, 0x01, 0x00, 0x00],
  rdbString("fake:key"),
  rdbString("from the fake master"),
  [0xff, 1, 2, 3, 4, 5, 6, 7, 8],
);
/** A value of an unknown type (99) after a valid header. */
const CORRUPT_RDB = concat("REDIS0010", [0xfe, 0x00, 0x63], rdbString("fake:key"), [
  0xde,
  0xad,
  0xbe,
  0xef,
  0xff,
]);
/** A string whose announced length (1000) runs past the bytes sent. */
const TRUNCATED_RDB = concat("REDIS0010", [0xfe, 0x00, 0x00], rdbString("fake:key"), [
  0x43,
  0xe8,
], "only a few bytes");
const MARK = "0123456789abcdef0123456789abcdef01234567";
const REPLID = "f".repeat(40);

/** A connection of the fake master: RESP commands in, raw bytes out. */
class FakeLink {
  private readonly dec = new RespDecoder();
  private readonly buf = new Uint8Array(16 * 1024);

  constructor(readonly conn: Deno.Conn) {}

  /** The next command, or null once the replica closed the connection. */
  async next(): Promise<string[] | null> {
    for (;;) {
      const v = this.dec.next();
      if (v !== NEED_MORE) return (v as RespValue[]).map(String);
      const n = await this.conn.read(this.buf).catch(() => null);
      if (n === null) return null;
      this.dec.push(this.buf.subarray(0, n));
    }
  }

  async send(...parts: (Uint8Array | string)[]): Promise<void> {
    const b = concat(...parts);
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }

  /** PING gets `pingReply`, every REPLCONF +OK; returns at PSYNC. */
  async handshake(pingReply = "+PONG"): Promise<boolean> {
    for (;;) {
      const cmd = await this.next();
      if (cmd === null) return false;
      const name = cmd[0]!.toUpperCase();
      if (name === "PING") await this.send(`${pingReply}\r\n`);
      else if (name === "PSYNC") return true;
      else await this.send("+OK\r\n");
    }
  }

  /** True when the replica closes the connection within `ms`. */
  async closedByPeer(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = (async () => {
      while ((await this.next()) !== null) { /* REPLCONF ACKs, if any */ }
      return true;
    })();
    const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms));
    const v = await Promise.race([closed, timeout]);
    clearTimeout(timer);
    return v;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

interface BadMaster {
  name: string;
  /** Plays the master on one connection; true when the replica ended it (as it should). */
  play: (l: FakeLink) => Promise<boolean>;
}

const FULLRESYNC = `+FULLRESYNC ${REPLID} 0\r\n`;

const BAD_MASTERS: BadMaster[] = [
  {
    name: "$EOF: payload with a corrupt RDB",
    play: async (l) => {
      if (!(await l.handshake())) return false;
      await l.send(FULLRESYNC, `$EOF:${MARK}\r\n`, CORRUPT_RDB, MARK);
      return await l.closedByPeer(10_000);
    },
  },
  {
    name: "$EOF: payload cut short by a closed connection",
    play: async (l) => {
      if (!(await l.handshake())) return false;
      await l.send(FULLRESYNC, `$EOF:${MARK}\r\n`, TRUNCATED_RDB);
      await sleep(100);
      l.close();
      return true;
    },
  },
  {
    name: "$<len> payload with a bad CRC",
    play: async (l) => {
      if (!(await l.handshake())) return false;
      await l.send(FULLRESYNC, `$${BAD_CRC_RDB.length}\r\n`, BAD_CRC_RDB);
      return await l.closedByPeer(10_000);
    },
  },
  {
    name: "$<len> payload of garbage",
    play: async (l) => {
      if (!(await l.handshake())) return false;
      const garbage = "this is not an RDB file, only some text ".repeat(3);
      await l.send(FULLRESYNC, `$${garbage.length}\r\n`, garbage);
      return await l.closedByPeer(10_000);
    },
  },
  {
    name: "-ERR nonsense to PING",
    play: async (l) => {
      await l.handshake("-ERR nonsense");
      return await l.closedByPeer(10_000);
    },
  },
  {
    name: "a non-RESP line to PSYNC",
    play: async (l) => {
      if (!(await l.handshake())) return false;
      await l.send("what is this? not RESP at all\r\n");
      return await l.closedByPeer(10_000);
    },
  },
];

/** Accepts connections, playing BAD_MASTERS in order (the last one again after that). */
class FakeMaster {
  private readonly listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  /** Per connection: when it came, when it ended, whether the replica ended it. */
  readonly conns: { at: number; endedAt?: number; byReplica?: boolean }[] = [];
  private readonly links = new Set<FakeLink>();
  private readonly serving: Promise<void>;

  constructor() {
    this.serving = this.serve();
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  private async serve(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.listener.accept();
      } catch {
        return;
      }
      const i = this.conns.length;
      const entry: { at: number; endedAt?: number; byReplica?: boolean } = { at: Date.now() };
      this.conns.push(entry);
      const l = new FakeLink(conn);
      this.links.add(l);
      const bad = BAD_MASTERS[Math.min(i, BAD_MASTERS.length - 1)]!;
      void bad.play(l).catch(() => false).then((byReplica) => {
        entry.byReplica = byReplica;
        entry.endedAt = Date.now();
        l.close();
        this.links.delete(l);
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.listener.close();
    for (const l of this.links) l.close();
    await this.serving;
  }
}

async function badMaster(): Promise<void> {
  await using r = await Node.start("ours", "replica", ["--repl-timeout", "3"]);
  await run(r, [
    ...Array.from({ length: 100 }, (_, i) => ["SET", `old:${i}`, `v${i}`]),
    ["RPUSH", "old:list", "a", "b", "c"],
    ["HSET", "old:hash", "f", "v"],
    ["SELECT", "2"],
    ["SADD", "old:set", "x", "y"],
  ]);
  const before = await snapshot(r);
  await using fake = new FakeMaster();
  equal(String(await r.cmd("REPLICAOF", "127.0.0.1", String(fake.port))), "OK");
  const dir = (await r.cmd("CONFIG", "GET", "dir") as string[])[1]!;

  for (let i = 0; i < BAD_MASTERS.length; i++) {
    const what = `the fake master's ${BAD_MASTERS[i]!.name} (connection ${i + 1})`;
    const since = i === 0 ? Date.now() : fake.conns[i - 1]!.endedAt!;
    await waitFor([r], `a connection for ${what}`, () => {
      return Promise.resolve(fake.conns.length > i);
    }, 10_000);
    const retryMs = fake.conns[i]!.at - since;
    ok(retryMs < 10_000, `the replica came back after ${retryMs} ms for ${what}`);
    await waitFor([r], `the end of ${what}`, () => {
      return Promise.resolve(fake.conns[i]!.endedAt !== undefined);
    }, 15_000);
    ok(fake.conns[i]!.byReplica, `the replica did not drop the link on ${what}`);
    ok(r.proc.alive, `the replica exited after ${what}:\n${r.proc.output()}`);
    const info = await r.info("replication");
    equal(info.role, "slave", `role after ${what}`);
    equal(info.master_link_status, "down", `master_link_status after ${what}`);
    noProblems(diffSnapshots(before, await snapshot(r)), `the dataset after ${what}`);
  }
  // A failed transfer leaves no temporary file behind.
  await waitFor([r], "no temp-*.rdb left in the replica's dir", async () => {
    for await (const e of Deno.readDir(dir)) if (e.name.startsWith("temp-")) return false;
    return true;
  }, 3000);
  // It keeps trying.
  const n = fake.conns.length;
  await waitFor([r], "one more attempt on the fake master", () => {
    return Promise.resolve(fake.conns.length > n);
  }, 10_000);

  // After all that, a real master.
  await using m = await Node.start(hasRedis ? "redis" : "ours", "real master");
  await run(m, [["SET", "real", "1"], ["RPUSH", "real:list", "x", "y"]]);
  await r.replicaOf(m);
  await linkUp(m, r);
  await run(m, [["INCR", "after:sync"]]);
  await caughtUp(m, [r]);
  await sameData(m, r);
  ok(r.proc.alive, "the replica is up");
}

// ---------------------------------------------------------------------------------------------
// 5. A replica with AOF and requirepass, killed with SIGKILL

const PASSWORD = "secret";

/** No AOF rewrite running or scheduled, and the last one succeeded. */
function aofRewritten(n: Node): Promise<void> {
  return waitFor([n], `the AOF rewrite of ${n.label} done`, async () => {
    const i = await n.info("persistence");
    return i.aof_rewrite_in_progress === "0" && i.aof_rewrite_scheduled === "0" &&
      i.aof_last_bgrewrite_status === "ok";
  });
}

function aofReplica(replica: Impl): Promise<void> {
  return withTempDir(async (dir) => {
    await using m = await Node.start("ours", "master", ["--requirepass", PASSWORD], {
      password: PASSWORD,
    });
    await run(m, [
      ...Array.from({ length: 300 }, (_, i) => ["SET", `k:${i}`, `v${i}`]),
      ["RPUSH", "list", "a", "b", "c"],
      ["ZADD", "zset", "1", "one", "2.5", "two"],
      ["SELECT", "4"],
      ["HSET", "hash", "f", "v"],
      ["EXPIRE", "hash", "7200"],
    ]);
    const args = [
      "--appendonly",
      "yes",
      "--requirepass",
      PASSWORD,
      "--masterauth",
      PASSWORD,
      "--replicaof",
      "127.0.0.1",
      String(m.port),
    ];
    const o = { dir, password: PASSWORD };
    {
      await using r = await Node.start(replica, "replica", args, o);
      await linkUp(m, r);
      await online(m, 1);
      // A full sync replaces the dataset, and the AOF is rewritten from the new one (until that
      // rewrite is done, the AOF on disk still describes the old dataset).
      await aofRewritten(r);
      await run(m, [
        ["SET", "after:sync", "1"],
        ["LPUSH", "list", "z"],
        ["MULTI"],
        ["INCR", "n"],
        ["DEL", "k:7"],
        ["EXEC"],
      ]);
      await caughtUp(m, [r]);
      // The last writes only reach the replica through the stream; WAIT says it has them.
      // WAIT counts the writes of its own connection: it is sent on the one that wrote.
      {
        using c = await m.fresh();
        const replies = await pipeline(c, [
          ["SET", "last", "written"],
          ["INCRBYFLOAT", "f", "1.5"],
          ["DEL", "k:8"],
          ["WAIT", "1", "5000"],
        ]);
        equal(replies[3], 1, "WAIT for the replica");
      }
      await r.proc.kill9();
    }
    const atKill = await snapshot(m);
    await run(m, [["SET", "while:down", "1"], ["DEL", "k:9"]]);

    // With the master held, whatever the restarted replica serves comes from its AOF.
    m.proc.pause();
    try {
      await using r = await Node.start(replica, "replica (restarted)", args, o);
      await waitFor([r], "the AOF loaded", async () => {
        const v = await r.call("DBSIZE");
        return !(v instanceof RespError);
      });
      const pi = parseInfo(String(await r.cmd("INFO", "persistence")));
      equal(pi.aof_enabled, "1");
      noProblems(diffSnapshots(atKill, await snapshot(r)), "the replica loaded from its AOF");
      m.proc.resume();
      await linkUp(m, r);
      await caughtUp(m, [r]);
      await sameData(m, r);
      using rc = await r.fresh();
      equal(await rc.call("GET", "while:down"), "1");
    } finally {
      m.proc.resume();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// 6. FAILOVER from a redis-server master to our node

async function failoverFromRedis(): Promise<void> {
  await using m = await Node.start("redis", "redis master");
  await using r = await Node.start("ours", "our replica");
  await run(m, [
    ...Array.from({ length: 200 }, (_, i) => ["SET", `k:${i}`, `v${i}`]),
    ["RPUSH", "l", "a", "b"],
    ["SELECT", "3"],
    ["ZADD", "z", "1", "x"],
  ]);
  await r.replicaOf(m);
  await linkUp(m, r);
  await online(m, 1);
  await caughtUp(m, [r]);
  equal(await r.stat("sync_full"), 0);
  // redis-server hands over at once when the target has acknowledged everything already.
  equal(
    String(await m.cmd("FAILOVER", "TO", "127.0.0.1", String(r.port), "TIMEOUT", "5000")),
    "OK",
  );
  await waitFor([m, r], "our node a master, redis-server its replica", async () => {
    const mi = await m.info("replication");
    const ri = await r.info("replication");
    return ri.role === "master" && mi.role === "slave" && mi.master_port === String(r.port) &&
      mi.master_link_status === "up";
  });
  equal((await r.cmd("ROLE") as RespValue[])[0], "master");
  equal((await m.info("replication")).master_failover_state, "no-failover");
  ok(await r.stat("sync_partial_ok") >= 1, "redis-server continued with a partial resync");
  equal(await r.stat("sync_full"), 0, "no full sync on our node");
  await run(r, [["SET", "new:master", "ours"], ["SELECT", "3"], ["ZADD", "z", "2", "y"]]);
  await caughtUp(r, [m]);
  await sameData(r, m);
  using mc = await m.fresh();
  equal(await mc.call("GET", "new:master"), "ours");
}

// ---------------------------------------------------------------------------------------------

for (const p of PAIRS) {
  const why = needsRedis(p.master, p.replica);
  const suffix = why ? ` (ignored: ${why})` : "";
  Deno.test({
    name:
      `replication ${p.master} → ${p.replica}: 100k keys of every type, then live writes${suffix}`,
    ignore: why !== null,
    ...opts,
    fn: () => bigDataset(p),
  });
}

for (const p of PAIRS) {
  const why = needsRedis(p.master, p.replica);
  const suffix = why ? ` (ignored: ${why})` : "";
  Deno.test({
    name:
      `replication ${p.master} → ${p.replica}: a 16 KB backlog overflowed forces a full sync${suffix}`,
    ignore: why !== null,
    ...opts,
    fn: () => backlog(p, true),
  });
  Deno.test({
    name: `replication ${p.master} → ${p.replica}: a 4 MB backlog gives a partial resync${suffix}`,
    ignore: why !== null,
    ...opts,
    fn: () => backlog(p, false),
  });
}

Deno.test({
  name: "replication ours: FAILOVER under continuous writes loses no acknowledged write",
  ...opts,
  fn: failoverUnderWrites,
});

Deno.test({
  name: "replication ours: FAILOVER error replies, compared with redis-server",
  ...opts,
  fn: failoverErrors,
});

Deno.test({
  name: "replication ours: garbage from a master never takes the replica or its data down",
  ...opts,
  fn: badMaster,
});

for (const impl of ["ours", "redis"] as const) {
  const why = needsRedis(impl);
  Deno.test({
    name: `replication ours → ${impl}: a replica with AOF and requirepass restarts after SIGKILL${
      why ? ` (ignored: ${why})` : ""
    }`,
    ignore: why !== null,
    ...opts,
    fn: () => aofReplica(impl),
  });
}

Deno.test({
  name: `replication redis → ours: FAILOVER from redis-server to our node${
    hasRedis ? "" : " (ignored: redis-server not installed)"
  }`,
  ignore: !hasRedis,
  ...opts,
  fn: failoverFromRedis,
});
