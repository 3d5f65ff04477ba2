/**
 * Master/replica replication with Redis 7.0 semantics, each scenario run once per pairing of
 * implementations (master → replica): a real redis-server or our data node in either role.
 *
 * Covered: full sync (disk-based and diskless) of every core type with TTLs and several
 * databases, then the live stream after it (transactions included) up to equal offsets; the
 * read-only replica and the ROLE replies of both ends; partial resync after the link is killed
 * from either end and after a replica restarts from its own snapshot; promotion with
 * REPLICAOF NO ONE and PSYNC2 of the old master and a sibling to the promoted node; WAIT;
 * expiry seen from a replica; masterauth; min-replicas-to-write; `redis-cli --rdb`; and a chain
 * of replicas.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { encodeCommand, RespError, type RespValue } from "../shared/resp/mod.ts";
import { hasRedis, which, withTempDir } from "./helpers/process.ts";
import {
  caughtUp,
  connectTo,
  describe,
  fileExists,
  type Impl,
  linkUp,
  Node,
  online,
  type Pair,
  parseInfo,
  pipeline,
  run,
  sameData,
  setOursArgs,
  WAIT_MS,
  waitFor,
} from "./helpers/replication.ts";

/** A pairing; `channel`: our nodes with `repl-rdb-channel yes` (the RDB on a second link). */
type Pairing = Pair & { channel?: boolean };

const PAIRS: readonly Pairing[] = [
  { master: "redis", replica: "redis" },
  { master: "ours", replica: "redis" },
  { master: "redis", replica: "ours" },
  { master: "ours", replica: "ours" },
  { master: "ours", replica: "ours", channel: true },
];

const opts = { sanitizeOps: false, sanitizeResources: false };

const BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

/**
 * Keys of every core type, `perType` of each in db 0 (a tenth with a TTL), large values that
 * leave the compact encodings, binary data, and a few keys in db 3.
 */
async function populate(n: Node, perType: number): Promise<void> {
  const cmds: string[][] = [];
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);
  for (let i = 0; i < perType; i++) {
    cmds.push(["SET", `str:${i}`, i % 3 === 0 ? String(i * 7) : `value-${i}`]);
    cmds.push(["RPUSH", `list:${i}`, ...range(1 + (i % 7)).map((j) => `e${j}`)]);
    cmds.push(["HSET", `hash:${i}`, "f", `v${i}`, "n", String(i)]);
    cmds.push(["SADD", `set:${i}`, ...range(1 + (i % 5)).map((j) => String(j * i))]);
    cmds.push(["ZADD", `zset:${i}`, "1", "a", String(i / 4), "b", "-inf", "c"]);
    if (i % 10 === 0) {
      cmds.push(["EXPIRE", `str:${i}`, "3600"]);
      cmds.push(["PEXPIRE", `hash:${i}`, "7200000"]);
      cmds.push(["EXPIRE", `zset:${i}`, "5000"]);
    }
  }
  cmds.push(["SET", "big:str", "x".repeat(100_000)]);
  cmds.push(["SET", "bin:\u0000\u00ff", BYTES]);
  cmds.push(["RPUSH", "big:list", ...range(1000).map((i) => `item-${i}-${"y".repeat(i % 70)}`)]);
  cmds.push(["HSET", "big:hash", ...range(600).flatMap((i) => [`field${i}`, `v${i}`])]);
  cmds.push(["SADD", "big:intset", ...range(600).map(String)]);
  cmds.push(["SADD", "big:set", ...range(300).map((i) => `m${i}`)]);
  cmds.push(["ZADD", "big:zset", ...range(300).flatMap((i) => [String(i * 1.5), `m${i}`])]);
  cmds.push(["SELECT", "3"]);
  for (let i = 0; i < 20; i++) cmds.push(["SET", `db3:${i}`, `in db 3: ${i}`]);
  cmds.push(["HSET", "db3:hash", "a", "1"]);
  cmds.push(["EXPIRE", "db3:hash", "3600"]);
  await run(n, cmds);
}

/** `n` bytes that LZF cannot compress (xorshift), as a binary string; `seed` varies them. */
function noise(n: number, seed: number): string {
  let x = 0x9e3779b9 ^ (seed + 1);
  const codes = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    codes[i] = x & 255;
  }
  let out = "";
  for (let i = 0; i < n; i += 8192) out += String.fromCharCode(...codes.slice(i, i + 8192));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/** Full sync of ~2,000 keys, then the live stream: transactions, db 3, TTLs, deletes. */
async function fullSync(p: Pair, diskless: boolean): Promise<void> {
  await using m = await Node.start(p.master, "master", [
    "--repl-diskless-sync",
    diskless ? "yes" : "no",
  ]);
  await populate(m, 400);
  // Incompressible values make an RDB of several megabytes: the replica writes the file it
  // receives in many pieces, and syncs it on the way.
  await run(m, Array.from({ length: 12 }, (_, i) => ["SET", `noise:${i}`, noise(1 << 20, i)]));
  const fullBefore = await m.stat("sync_full");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await caughtUp(m, [r]);
  await sameData(m, r);
  equal(await m.stat("sync_full"), fullBefore + 1, "one full sync on the master");
  ok(
    r.proc.output().includes("MASTER <-> REPLICA sync: Loading DB in memory"),
    "the replica logs the load as Redis does",
  );
  // A disk-based sync sends the snapshot it saved (and keeps it, rdb-del-sync-files no);
  // a diskless one streams it and writes no file.
  const dir = (await m.cmd("CONFIG", "GET", "dir") as string[])[1]!;
  equal(await fileExists(`${dir}/dump.rdb`), !diskless, `dump.rdb in the master's dir`);
  // The replica keeps the RDB it received (repl-diskless-load disabled): the master's file,
  // byte for byte, after a disk-based sync.
  const rdir = (await r.cmd("CONFIG", "GET", "dir") as string[])[1]!;
  const kept = await Deno.readFile(`${rdir}/dump.rdb`);
  ok(kept.length > 12 << 20, `the replica's dump.rdb has ${kept.length} bytes`);
  if (!diskless) {
    const sent = await Deno.readFile(`${dir}/dump.rdb`);
    equal(kept.length, sent.length, "the replica's dump.rdb is as long as the master's");
    equal(kept.findIndex((b, i) => b !== sent[i]), -1, "first byte where the two files differ");
  }

  await run(m, [
    ["SET", "live:s", "v"],
    ["INCR", "live:n"],
    ["INCR", "live:n"],
    ["LPUSH", "list:0", "new"],
    ["HSET", "hash:1", "f", "changed", "g", "added"],
    ["ZADD", "zset:2", "42", "new"],
    ["EXPIRE", "str:1", "1000"],
    ["DEL", "str:2", "list:3"],
    ["SELECT", "3"],
    ["SET", "db3:live", "in db 3"],
    ["MULTI"],
    ["SET", "tx:a", "1"],
    ["INCRBY", "tx:n", "5"],
    ["RPUSH", "tx:l", "a", "b"],
    ["EXEC"],
  ]);
  await caughtUp(m, [r]);
  await sameData(m, r);
  using rc = await r.fresh();
  equal(await rc.call("GET", "live:n"), "2");
  equal(await rc.call("EXISTS", "str:2"), 0);
  await rc.call("SELECT", "3");
  equal(await rc.call("GET", "tx:n"), "5");
  deepStrictEqual(await rc.call("LRANGE", "tx:l", "0", "-1"), ["a", "b"]);
}

/** Writes on a replica are refused; ROLE and INFO replication shapes on both ends. */
async function readOnlyAndRole(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await m.cmd("SET", "k", "v");
  await r.replicaOf(m);
  await linkUp(m, r);
  await caughtUp(m, [r]);
  const refused = await r.call("SET", "k", "other");
  ok(refused instanceof RespError, `SET on the replica answered ${String(refused)}`);
  equal(refused.message, "READONLY You can't write against a read only replica.");
  equal(await r.call("GET", "k"), "v");

  const rr = await r.cmd("ROLE") as RespValue[];
  equal(rr.length, 5, `replica ROLE: ${JSON.stringify(rr)}`);
  deepStrictEqual(rr.slice(0, 4), ["slave", "127.0.0.1", m.port, "connected"]);
  equal(typeof rr[4], "number", "replica ROLE offset");

  // The master lists the replica once it is online, with its ack offset (sent each second).
  await online(m, 1);
  let mr: RespValue[] = [];
  await waitFor([m, r], "master ROLE listing the replica at its offset", async () => {
    mr = await m.cmd("ROLE") as RespValue[];
    const entry = Array.isArray(mr[2]) ? mr[2][0] : undefined;
    return Array.isArray(entry) && Number(entry[2]) === mr[1];
  });
  equal(mr.length, 3, `master ROLE: ${JSON.stringify(mr)}`);
  equal(mr[0], "master");
  equal(typeof mr[1], "number", "master ROLE offset");
  const replicas = mr[2] as RespValue[][];
  equal(replicas.length, 1, `master ROLE replicas: ${JSON.stringify(replicas)}`);
  deepStrictEqual(replicas[0], ["127.0.0.1", String(r.port), String(mr[1])]);
  const mi = await m.info("replication");
  equal(mi.role, "master");
  equal(mi.connected_slaves, "1");
  ok(
    mi.slave0?.startsWith(`ip=127.0.0.1,port=${r.port},state=online,offset=`),
    `slave0: ${mi.slave0}`,
  );
  const ri = await r.info("replication");
  equal(ri.role, "slave");
  equal(ri.master_host, "127.0.0.1");
  equal(ri.master_port, String(m.port));
  equal(ri.master_replid, mi.master_replid);
}

/** A link killed from either end is resumed with PSYNC from the backlog, not a full sync. */
async function partialAfterKill(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await populate(m, 20);
  await r.replicaOf(m);
  await linkUp(m, r);
  await caughtUp(m, [r]);
  const full = await m.stat("sync_full");
  let partial = await m.stat("sync_partial_ok");

  const kills: [Node, string[]][] = [
    [r, ["CLIENT", "KILL", "TYPE", "master"]],
    [m, ["CLIENT", "KILL", "TYPE", "replica"]],
  ];
  for (const [at, kill] of kills) {
    equal(await at.cmd(...kill), 1, `${kill.join(" ")} on ${at.label}`);
    await run(m, Array.from({ length: 100 }, (_, i) => ["SET", `after:${kill[3]}:${i}`, "x"]));
    await waitFor(
      [m, r],
      `a partial resync after ${kill.join(" ")} on ${at.label}`,
      async () => (await m.stat("sync_partial_ok")) === partial + 1,
    );
    partial++;
    await caughtUp(m, [r]);
    equal(await m.stat("sync_full"), full, "no full sync after the link was killed");
  }
  await sameData(m, r);
  // CONFIG RESETSTAT starts the sync counters again.
  await m.cmd("CONFIG", "RESETSTAT");
  equal(await m.stat("sync_full"), 0);
  equal(await m.stat("sync_partial_ok"), 0);
  // (A PING to the replica may have gone out since.)
  ok(await m.stat("total_net_repl_output_bytes") < 64, "total_net_repl_output_bytes reset");
}

/** A replica stopped with SHUTDOWN saves its replication id and offset, and resumes with PSYNC. */
function partialAfterRestart(p: Pair): Promise<void> {
  return withTempDir(async (dir) => {
    await using m = await Node.start(p.master, "master");
    await populate(m, 20);
    const args = ["--replicaof", "127.0.0.1", String(m.port), "--save", "3600", "1"];
    {
      await using r = await Node.start(p.replica, "replica", args, { dir });
      await linkUp(m, r);
      await run(m, [["SET", "before:shutdown", "1"], ["INCR", "counter"]]);
      await caughtUp(m, [r]);
      // The snapshot received at the full sync would do as well: only SHUTDOWN's may remain.
      await Deno.remove(`${dir}/dump.rdb`).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      await r.shutdown();
      ok(await fileExists(`${dir}/dump.rdb`), "SHUTDOWN saved a snapshot");
    }
    const full = await m.stat("sync_full");
    const partial = await m.stat("sync_partial_ok");
    await run(m, [["SET", "while:down", "1"], ["INCR", "counter"], ["DEL", "str:1"]]);
    await using r = await Node.start(p.replica, "replica (restarted)", args, { dir });
    await linkUp(m, r);
    await caughtUp(m, [r]);
    equal(await m.stat("sync_partial_ok"), partial + 1, "the restarted replica resumed");
    equal(await m.stat("sync_full"), full, "no full sync for the restarted replica");
    await sameData(m, r);
  });
}

/**
 * A master restarted from its SHUTDOWN snapshot continues its history (Redis 7.0): its old
 * replication ID becomes replid2, and a replica resumes with PSYNC, getting a DEL for every key
 * that the load dropped for its past TTL.
 */
function partialAfterMasterRestart(p: Pair): Promise<void> {
  return withTempDir(async (dir) => {
    const args = ["--save", "3600", "1"];
    await using r = await Node.start(p.replica, "replica");
    let replId = "", offset = 0;
    {
      await using m = await Node.start(p.master, "master", args, { dir });
      await populate(m, 20);
      await m.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0");
      await run(m, Array.from({ length: 50 }, (_, i) => ["SET", `short:${i}`, "x", "PX", "50"]));
      await r.replicaOf(m);
      await linkUp(m, r);
      await caughtUp(m, [r]);
      const info = await m.info("replication");
      replId = info.master_replid!;
      offset = Number(info.master_repl_offset);
      // The short TTLs are surely past when the restarted master loads the file.
      await new Promise((res) => setTimeout(res, 100));
      await m.shutdown();
    }
    const keys = Number(await r.call("DBSIZE"));
    ok(keys >= 150, `the replica holds ${keys} keys, the expired ones included`);
    await using m = await Node.start(p.master, "master (restarted)", args, { dir });
    const mi = await m.info("replication");
    equal(mi.master_replid2, replId, "the old replication ID is kept as replid2");
    equal(Number(mi.second_repl_offset), offset + 1);
    equal((await m.info("persistence")).rdb_last_load_keys_expired, "50", m.proc.output());
    equal(Number(mi.repl_backlog_first_byte_offset), offset + 1);
    await r.replicaOf(m);
    await linkUp(m, r);
    await caughtUp(m, [r]);
    equal(await m.stat("sync_partial_ok"), 1, "the replica resumed");
    equal(await m.stat("sync_full"), 0, "no full sync");
    equal(await r.call("DBSIZE"), keys - 50, "the DELs of the expired keys reached the replica");
    equal(await r.call("DBSIZE"), await m.call("DBSIZE"));
    await sameData(m, r);
  });
}

/** REPLICAOF NO ONE keeps data and history; a sibling and the old master follow with PSYNC. */
async function promotion(p: Pair): Promise<void> {
  // The old master pings only once a minute here: a ping it sends after the promotion would put
  // its offset (and that of the sibling it feeds) past the promoted node's history and force
  // full syncs, a race that is not the subject of this test.
  await using m = await Node.start(p.master, "M", ["--repl-ping-replica-period", "60"]);
  await using r1 = await Node.start(p.replica, "R1");
  await using r2 = await Node.start(p.replica, "R2");
  await populate(m, 20);
  await r1.replicaOf(m);
  await r2.replicaOf(m);
  await linkUp(m, r1);
  await linkUp(m, r2);
  await caughtUp(m, [r1, r2]);
  const oldReplid = (await m.info("replication")).master_replid;

  equal(String(await r1.cmd("REPLICAOF", "NO", "ONE")), "OK");
  const i1 = await r1.info("replication");
  equal(i1.role, "master");
  equal(i1.master_replid2, oldReplid, "the promoted node keeps the old history as replid2");
  ok(i1.master_replid !== oldReplid, "the promoted node starts a new history");
  equal((await r1.cmd("ROLE") as RespValue[])[0], "master");
  await sameData(m, r1);
  equal(String(await r1.cmd("SET", "promoted", "yes")), "OK");

  const full = await r1.stat("sync_full");
  const partial = await r1.stat("sync_partial_ok");
  // The sibling first, so that it moves straight from M to R1 (M turning into a replica would
  // drop it, and it would resync with M before moving).
  await r2.replicaOf(r1);
  await linkUp(r1, r2);
  await m.replicaOf(r1);
  await linkUp(r1, m);
  await waitFor(
    [r1, r2, m],
    "partial resyncs of R2 and M with the promoted R1",
    async () => (await r1.stat("sync_partial_ok")) === partial + 2,
  );
  equal(await r1.stat("sync_full"), full, "no full sync against the promoted node");
  await caughtUp(r1, [r2, m]);
  const newReplid = (await r1.info("replication")).master_replid;
  equal((await m.info("replication")).master_replid, newReplid);
  equal((await r2.info("replication")).master_replid, newReplid);
  using mc = await m.fresh();
  equal(await mc.call("GET", "promoted"), "yes");
  await sameData(r1, m);
  await sameData(r1, r2);
}

/** WAIT counts acknowledging replicas, and returns at its timeout with fewer. */
async function waitCommand(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await online(m, 1);
  // The replica's link is not a client in INFO's count, as in Redis.
  equal((await m.info("clients")).connected_clients, "1");
  equal(String(await m.cmd("SET", "k", "v")), "OK");
  equal(await m.cmd("WAIT", "1", "2000"), 1);
  await m.cmd("SET", "k2", "v");
  const t0 = Date.now();
  equal(await m.cmd("WAIT", "2", "300"), 1);
  const took = Date.now() - t0;
  ok(took >= 250 && took < 3000, `WAIT 2 300 took ${took} ms`);
  equal(await r.call("GET", "k2"), "v");
}

/** Replicas do not expire keys themselves: they hide them, and delete on the master's DEL. */
async function expiry(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await m.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0");
  await m.cmd("SET", "k", "v", "PX", "300");
  await waitFor([m, r], "the key on the replica", async () => (await r.call("DBSIZE")) === 1);
  // Past its TTL the replica answers as if it were gone, yet keeps it until the master's DEL.
  await waitFor([m, r], "the key logically expired on the replica", async () => {
    return (await r.call("GET", "k")) === null;
  }, 3000);
  equal(await r.call("EXISTS", "k"), 0);
  equal(await r.call("DBSIZE"), 1, "no DEL has come from the master yet");
  // A read on the master expires it there and sends the DEL.
  equal(await m.call("GET", "k"), null);
  await waitFor([m, r], "the DEL on the replica", async () => (await r.call("DBSIZE")) === 0);
  // With active expiry back on, nobody has to touch the key.
  await m.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1");
  await m.cmd("SET", "k2", "v", "PX", "200");
  await caughtUp(m, [r]);
  await waitFor([m, r], "active expiry on the master deleting on the replica", async () => {
    return (await r.call("DBSIZE")) === 0 && (await m.call("DBSIZE")) === 0;
  });
}

/**
 * A writable replica deletes the keys its own clients gave a TTL once it passes (the master
 * never heard of them), in any database; the master's keys it still leaves to the master.
 */
async function writableReplicaExpiry(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica", ["--replica-read-only", "no"]);
  await r.replicaOf(m);
  await linkUp(m, r);
  await m.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0");
  await m.cmd("SET", "from-master", "v", "PX", "300");
  await caughtUp(m, [r]);
  const expiredBefore = await r.stat("expired_keys");
  using rc = await r.fresh();
  await pipeline(rc, [
    ["SET", "local:1", "1", "PX", "300"],
    ["SET", "local:2", "2"],
    ["PEXPIRE", "local:2", "300"],
    ["SET", "kept", "3", "PX", "300"],
    ["PERSIST", "kept"],
    ["SELECT", "5"],
    ["SET", "local:db5", "5", "EX", "1"],
  ]);
  equal(await rc.call("DBSIZE"), 1);
  await waitFor([m, r], "the replica's own keys expired in db 5", async () => {
    return (await rc.call("DBSIZE")) === 0;
  }, 5000);
  await rc.call("SELECT", "0");
  await waitFor([m, r], "the replica's own keys expired in db 0", async () => {
    return (await rc.call("DBSIZE")) === 2;
  }, 5000);
  // What is left: the key made persistent, and the master's key (hidden, not deleted).
  equal(await rc.call("GET", "kept"), "3");
  equal(await rc.call("EXISTS", "from-master"), 0);
  equal(await rc.call("TTL", "from-master"), -2);
  equal(await r.stat("expired_keys"), expiredBefore + 3);
  // The master's DEL still comes when the master expires its key.
  equal(await m.call("GET", "from-master"), null);
  await waitFor([m, r], "the master's DEL on the replica", async () => {
    return (await rc.call("DBSIZE")) === 1;
  });
}

/**
 * A command of the master that fails on the replica (DEBUG REPLICATE sends one the master
 * never ran) is logged and counted there; with propagation-error-behavior panic-on-replicas a
 * read-only replica stops instead.
 */
async function errorOnReplica(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await online(m, 1);
  equal(String(await m.cmd("DEBUG", "REPLICATE", "no-such-command-1", "x")), "OK");
  await m.cmd("SET", "after", "1");
  equal(await m.cmd("WAIT", "1", "5000"), 1);
  equal(await r.call("GET", "after"), "1", "the stream goes on after the failed command");
  equal(await m.call("EXISTS", "no-such-command-1"), 0);
  equal(await r.stat("unexpected_error_replies"), 1);
  await waitFor([m, r], "the error logged by the replica", () => {
    const out = r.proc.output();
    return Promise.resolve(out.includes("== CRITICAL ==") && out.includes("no-such-command-1"));
  }, 5000);
  // A write that fails only on the replica (its own data differs) counts the same way.
  await r.cmd("CONFIG", "SET", "replica-read-only", "no");
  await r.cmd("SET", "n", "not a number");
  await m.cmd("INCRBY", "n", "1");
  equal(await m.cmd("WAIT", "1", "5000"), 1);
  equal(await r.call("GET", "n"), "not a number");
  equal(await r.stat("unexpected_error_replies"), 2);
  await r.cmd("CONFIG", "SET", "replica-read-only", "yes");
  await r.cmd("CONFIG", "SET", "propagation-error-behavior", "panic-on-replicas");
  await m.cmd("DEBUG", "REPLICATE", "no-such-command-2");
  const status = await Promise.race([
    r.proc.status,
    new Promise<null>((res) => setTimeout(() => res(null), 10_000)),
  ]);
  ok(status !== null && !status.success, `the replica went on: ${JSON.stringify(status)}`);
}

/**
 * SHUTDOWN waits for a replica that has not acknowledged everything (shutdown-timeout): the
 * callers are blocked, INFO shows shutdown_in_milliseconds, SHUTDOWN ABORT ends the wait with
 * an error to them; once the replica catches up, a new SHUTDOWN exits and logs that it is in
 * sync.
 */
async function shutdownWaitsForReplica(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", ["--shutdown-timeout", "60"]);
  await using r = await Node.start(p.replica, "replica");
  const noShutdown = await m.call("SHUTDOWN", "ABORT");
  ok(noShutdown instanceof RespError, "SHUTDOWN ABORT without a shutdown");
  equal(noShutdown.message, "ERR No shutdown in progress.");
  await r.replicaOf(m);
  await linkUp(m, r);
  await m.cmd("SET", "k", "1");
  await caughtUp(m, [r]);
  r.proc.pause();
  try {
    await m.cmd("INCR", "k");
    using a = await m.fresh();
    using b = await m.fresh();
    await a.write(encodeCommand(["SHUTDOWN"]));
    await b.write(encodeCommand(["SHUTDOWN"]));
    await waitFor([m], "the shutdown waiting for the replica", async () => {
      const left = Number((await m.info("server")).shutdown_in_milliseconds ?? "0");
      return left > 0 && (await m.info("clients")).blocked_clients === "2";
    }, 5000);
    equal(String(await m.cmd("SHUTDOWN", "ABORT")), "OK");
    for (const c of [a, b]) {
      const v = await c.read();
      ok(v instanceof RespError, `SHUTDOWN answered ${String(v)}`);
      equal(v.message, "ERR Errors trying to SHUTDOWN. Check logs.");
    }
    equal((await m.info("server")).shutdown_in_milliseconds, undefined);
    equal(await m.cmd("INCR", "k"), 3, "writes go on after the abort");
  } finally {
    r.proc.resume();
  }
  await caughtUp(m, [r]);
  using c = await m.fresh();
  await c.write(encodeCommand(["SHUTDOWN", "NOSAVE"]));
  const status = await m.proc.status;
  ok(status.success, `the master exited with ${status.code}`);
  ok(
    m.proc.output().includes("1 of 1 replicas are in sync when shutting down."),
    m.proc.output(),
  );
  equal(await r.call("GET", "k"), "3");
}

/**
 * FAILOVER TIMEOUT gives up at its deadline (not at a later whole second) when the target
 * never catches up, and says why in the log; the master stays master and writes go on.
 */
async function failoverTimeout(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await caughtUp(m, [r]);
  // FAILOVER wants the target online, which Redis counts from the replica's first ACK.
  await online(m, 1);
  r.proc.pause();
  try {
    await m.cmd("SET", "k", "1");
    const t0 = Date.now();
    await m.cmd("FAILOVER", "TO", "127.0.0.1", String(r.port), "TIMEOUT", "300");
    await waitFor([m], "the failover given up", async () => {
      return (await m.info("replication")).master_failover_state === "no-failover";
    }, 5000);
    const took = Date.now() - t0;
    // A generous bound for a loaded machine (the deadline is checked every 100 ms).
    ok(took < 1500, `FAILOVER TIMEOUT 300 took ${took} ms to give up`);
    await waitFor([m], "the abort in the log", () => {
      return Promise.resolve(
        m.proc.output().includes(
          `FAILOVER to 127.0.0.1:${r.port} aborted: Replica never caught up before timeout`,
        ),
      );
    }, 2000);
    equal((await m.info("replication")).role, "master");
    equal(String(await m.cmd("SET", "k", "2")), "OK", "writes go on");
  } finally {
    r.proc.resume();
  }
  await caughtUp(m, [r]);
  equal(await r.call("GET", "k"), "2");
}

/**
 * A FAILOVER whose target refuses the PSYNC (its user may not run it) is aborted: the master is
 * the master again under a new replication ID, and both replicas continue with it by partial
 * resyncs (none needs a full one), as Redis's failover abort does.
 */
async function failoverTargetRejects(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r1 = await Node.start(p.replica, "r1");
  await using r2 = await Node.start(p.replica, "r2");
  for (const r of [r1, r2]) await r.replicaOf(m);
  await linkUp(m, r1);
  await linkUp(m, r2);
  await online(m, 2);
  await m.cmd("SET", "k", "1");
  await caughtUp(m, [r1, r2]);
  const partial = await m.stat("sync_partial_ok");
  const full = await m.stat("sync_full");
  await r1.cmd("ACL", "SETUSER", "default", "-psync");
  await m.cmd("FAILOVER", "TO", "127.0.0.1", String(r1.port));
  await waitFor([m, r1, r2], "the failover given up", async () => {
    return (await m.info("replication")).master_failover_state === "no-failover";
  }, 5000);
  await r1.cmd("ACL", "SETUSER", "default", "+psync");
  await linkUp(m, r1);
  await linkUp(m, r2);
  equal((await m.info("replication")).role, "master");
  equal(await m.stat("sync_partial_ok") - partial, 2, "both replicas continued");
  equal(await m.stat("sync_full") - full, 0);
  ok(m.proc.output().includes("Failover target rejected psync request"), m.proc.output());
  await m.cmd("SET", "k", "2");
  await caughtUp(m, [r1, r2]);
  equal(await r2.call("GET", "k"), "2");
}

/**
 * Twenty keys on `m`, then `r` made its replica with rdb-key-save-delay at 100 ms a key: returns
 * once the master writes the RDB and the replica is in sync state (about two seconds to go).
 */
async function startSlowSync(m: Node, r: Node): Promise<void> {
  await run(m, Array.from({ length: 20 }, (_, i) => ["SET", `k${i}`, "v"]));
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "100000");
  await r.replicaOf(m);
  await waitFor([m, r], "the slow sync under way", async () => {
    const role = await r.call("ROLE") as RespValue[];
    return (await m.info("persistence")).rdb_bgsave_in_progress === "1" && role[3] === "sync";
  }, 5000);
}

/**
 * rdb-key-save-delay (a testing knob of Redis) slows the RDB of a full sync: the master shows
 * the save in progress and the replica stays in sync state meanwhile, yet both keep serving.
 */
async function slowFullSync(p: Pair): Promise<void> {
  const channel = (p as Pairing).channel === true;
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await startSlowSync(m, r);
  equal(await m.call("GET", "k0"), "v", "the master serves during the save");
  // One replica, however many connections its sync takes (an RDB channel between our nodes).
  const mi = await m.info("replication");
  equal(mi.connected_slaves, "1");
  equal(mi.slave1, undefined);
  // The RDB is still being produced: Redis's wait_bgsave, and not yet a replica ROLE lists.
  ok(mi.slave0?.includes(",state=wait_bgsave,"), `slave0:${mi.slave0}`);
  deepStrictEqual(((await m.cmd("ROLE")) as RespValue[])[2], []);
  equal((await m.info("clients")).connected_clients, "1");
  equal(await r.call("PING"), "PONG", "the replica serves during the sync");
  // What is written meanwhile stays in the master's replication buffer for the replica, past
  // the backlog's size, as in Redis 7.0; over an RDB channel the replica holds it instead and
  // the master keeps no more than its backlog.
  await m.cmd("CONFIG", "SET", "repl-backlog-size", "16384");
  await run(m, Array.from({ length: 20 }, () => ["SET", "big", "x".repeat(10_000)]));
  const buffered = Number((await m.info("memory")).mem_total_replication_buffers);
  if (channel) ok(buffered < 100_000, `mem_total_replication_buffers:${buffered}`);
  else ok(buffered >= 200_000, `mem_total_replication_buffers:${buffered}`);
  await linkUp(m, r);
  await caughtUp(m, [r]);
  equal(await r.call("DBSIZE"), 21);
}

/**
 * FLUSHALL stops the RDB a full sync is producing, as Redis kills its RDB child whoever it
 * writes for: the replica's sync fails, it reconnects, and a second full sync brings the flushed
 * dataset (disk-based and diskless alike).
 */
async function flushAllDuringSync(p: Pair, diskless: boolean): Promise<void> {
  await using m = await Node.start(p.master, "master", [
    "--repl-diskless-sync",
    diskless ? "yes" : "no",
  ]);
  await using r = await Node.start(p.replica, "replica");
  await startSlowSync(m, r);
  await m.cmd("FLUSHALL");
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "0");
  await m.cmd("SET", "after", "1");
  await waitFor([m, r], "a second full sync", async () => {
    return Number((await m.info("stats")).sync_full) >= 2;
  });
  await linkUp(m, r);
  await caughtUp(m, [r]);
  equal(await r.call("DBSIZE"), 1);
  equal(await r.call("GET", "after"), "1");
}

/**
 * FAILOVER ... TIMEOUT FORCE hands over at the deadline even though the target never
 * acknowledged: the master waits as its replica (failover-in-progress) for the stopped target
 * to answer, and the target becomes the master once it runs again.
 */
async function failoverForce(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await caughtUp(m, [r]);
  await online(m, 1);
  r.proc.pause();
  try {
    await m.cmd("SET", "k", "1");
    await m.cmd("FAILOVER", "TO", "127.0.0.1", String(r.port), "TIMEOUT", "100", "FORCE");
    await waitFor([m], "the forced handover", async () => {
      return (await m.info("replication")).master_failover_state === "failover-in-progress";
    }, 5000);
    await new Promise((res) => setTimeout(res, 1200));
    const mi = await m.info("replication");
    equal(mi.master_failover_state, "failover-in-progress", "still waiting for the target");
    equal(mi.role, "slave");
  } finally {
    r.proc.resume();
  }
  await waitFor([m, r], "the target promoted", async () => {
    return (await m.info("replication")).master_failover_state === "no-failover" &&
      (await r.info("replication")).role === "master";
  });
  await linkUp(r, m);
  // FORCE may lose the write the target never acknowledged; both ends agree either way.
  await caughtUp(r, [m]);
  await sameData(r, m);
}

/**
 * A replica's link only acknowledges: a command on it that reads the keyspace is refused and
 * one that answers anything gets the link closed, both logged; a PSYNC with an offset that is
 * not a number is an error and leaves the client a normal one.
 */
async function rogueReplicaLink(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  using bad = await m.fresh();
  const refused = await bad.call("PSYNC", "replicationid", "offset_str");
  ok(refused instanceof RespError, `PSYNC with a bad offset answered ${String(refused)}`);
  equal(refused.message, "ERR value is not an integer or out of range");
  equal(await bad.call("PING"), "PONG", "still a normal client");
  for (const cmd of [["GET", "foo"], ["PING"]]) {
    using link = await m.fresh();
    await link.write(encodeCommand(["PSYNC", "replicationid", "-1"]));
    const full = String(await link.read());
    ok(full.startsWith("FULLRESYNC "), full);
    await link.write(encodeCommand(cmd));
    await waitFor([m], `the link closed after ${cmd[0]}`, async () => {
      return (await m.info("replication")).connected_slaves === "0";
    }, 5000);
    const name = cmd[0]!.toLowerCase();
    await waitFor([m], "the log lines", () => {
      const out = m.proc.output();
      return Promise.resolve(
        out.includes(`Replica generated a reply to command '${name}', disconnecting it: `),
      );
    }, 3000);
  }
  const out = m.proc.output();
  ok(out.includes("Replica can't interact with the keyspace"), out);
  ok(out.includes("asks for synchronization but with a wrong offset"), out);
  equal(await m.call("PING"), "PONG");
}

/**
 * FLUSHALL and FLUSHDB reach the replicas even when the master had nothing to delete, also
 * when save rules make FLUSHALL save: a writable replica's own keys go as well.
 */
function flushesReplicated(p: Pair): Promise<void> {
  return withTempDir(async (dir) => {
    await using m = await Node.start(p.master, "master", ["--save", "3600", "1"], { dir });
    await using r = await Node.start(p.replica, "replica", ["--replica-read-only", "no"]);
    await r.replicaOf(m);
    await linkUp(m, r);
    for (const flush of ["FLUSHALL", "FLUSHALL", "FLUSHDB", "FLUSHDB"]) {
      await caughtUp(m, [r]);
      await r.cmd("SET", "local", "1");
      const before = Number((await m.info("replication")).master_repl_offset);
      await m.cmd(flush);
      const after = Number((await m.info("replication")).master_repl_offset);
      ok(after > before, `${flush} on an empty master moved the offset (${before} → ${after})`);
      await waitFor([m, r], `${flush} on the replica`, async () => {
        return (await r.call("DBSIZE")) === 0;
      });
    }
  });
}

/** masterauth authenticates the link; a wrong one leaves it down. */
async function auth(p: Pair): Promise<void> {
  const password = "secret";
  await using m = await Node.start(p.master, "master", ["--requirepass", password], { password });
  await using good = await Node.start(p.replica, "replica", ["--masterauth", password]);
  await using bad = await Node.start(p.replica, "replica with a wrong masterauth", [
    "--masterauth",
    "wrong",
  ]);
  await m.cmd("SET", "k", "v");
  await good.replicaOf(m);
  await linkUp(m, good);
  await caughtUp(m, [good]);
  equal(await good.call("GET", "k"), "v");

  const conns = await m.stat("total_connections_received");
  await bad.replicaOf(m);
  // Two connection attempts have reached the master and neither made a link.
  await waitFor(
    [m, bad],
    "two attempts of the replica with the wrong password",
    async () => (await m.stat("total_connections_received")) >= conns + 2,
  );
  const bi = await bad.info("replication");
  equal(bi.master_link_status, "down", "the link with a wrong masterauth");
  equal(await bad.call("DBSIZE"), 0);
  equal((await m.info("replication")).connected_slaves, "1");
}

/** min-replicas-to-write refuses writes until a replica is attached and acknowledging. */
async function minReplicas(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", ["--min-replicas-to-write", "1"]);
  const refused = await m.call("SET", "k", "v");
  ok(refused instanceof RespError, `SET answered ${String(refused)}`);
  equal(refused.message, "NOREPLICAS Not enough good replicas to write.");
  equal(await m.call("GET", "k"), null, "reads are still served");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await waitFor(
    [m, r],
    "writes accepted with one good replica",
    async () => !((await m.call("SET", "k", "v")) instanceof RespError),
  );
  await caughtUp(m, [r]);
  equal(await r.call("GET", "k"), "v");
  // A script without flags that has written goes on writing when the replica drops meanwhile:
  // the check is made at its first write only (it cannot fail halfway).
  equal(String(await m.cmd("CONFIG", "SET", "busy-reply-threshold", "10")), "OK");
  using rd = await connectTo(m.port);
  await rd.write(encodeCommand([
    "EVAL",
    `redis.call('set','x','script value')
     while true do
       local info = redis.call('info','replication')
       if string.match(info, 'connected_slaves:0') then
         redis.call('set','x',info)
         break
       end
     end
     return 1`,
    "0",
  ]));
  using probe = await connectTo(m.port);
  await waitFor([m, r], "the script to be busy", async () => {
    const v = await probe.call("PING");
    return v instanceof RespError && v.message.startsWith("BUSY");
  });
  await r.cmd("REPLICAOF", "NO", "ONE");
  equal(await rd.read(), 1);
  ok(String(await m.call("GET", "x")).includes("connected_slaves:0"));
}

/**
 * What a stopped replica leaves unsent is its memory, not the dataset's: INFO's
 * mem_clients_slaves and mem_not_counted_for_evict and the replica's CLIENT LIST omem show it,
 * and with maxmemory just above the data no key is evicted for it. Once the replica is killed
 * its share is gone.
 */
async function replicaBuffersNotEvicting(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", ["--repl-backlog-size", "16384"]);
  await using r = await Node.start(p.replica, "replica");
  await run(m, Array.from({ length: 100 }, (_, i) => ["SETRANGE", `key:${i}`, "100000", "x"]));
  await r.replicaOf(m);
  await linkUp(m, r);
  await caughtUp(m, [r]);
  const memory = async () => parseInfo(String(await m.cmd("INFO", "memory")));
  const before = await memory();
  const used = Number(before.used_memory) - Number(before.mem_not_counted_for_evict);
  equal(String(await m.cmd("CONFIG", "SET", "maxmemory", String(used + 256 * 1024))), "OK");
  equal(String(await m.cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-random")), "OK");
  r.proc.pause();
  try {
    const value = "A".repeat(100);
    for (let i = 0; i < 100; i++) {
      await run(m, Array.from({ length: 1000 }, () => ["SETRANGE", "key:0", "0", value]));
    }
    const during = await memory();
    ok(
      Number(during.mem_clients_slaves) > 2_000_000,
      `mem_clients_slaves:${during.mem_clients_slaves}`,
    );
    ok(
      Number(during.mem_not_counted_for_evict) > 2_000_000,
      `mem_not_counted_for_evict:${during.mem_not_counted_for_evict}`,
    );
    const line = String(await m.cmd("CLIENT", "LIST", "TYPE", "replica"));
    const omem = Number(/ omem=(\d+)/.exec(line)?.[1]);
    ok(omem > 2_000_000, line);
    equal(await m.call("DBSIZE"), 100, "no key was evicted for the replica's buffer");
    equal(parseInfo(String(await m.cmd("INFO", "stats"))).evicted_keys, "0");
    await m.cmd("CLIENT", "KILL", "TYPE", "replica");
    await waitFor([m], "the replica's share gone", async () => {
      return (await memory()).mem_clients_slaves === "0";
    });
  } finally {
    r.proc.resume();
  }
}

/**
 * A replica output limit under repl-backlog-size counts as repl-backlog-size (Redis's rule):
 * the partial resync of a replica whose link was killed while 20 MB were written is kept, not
 * dropped for its output, and so is a later 20 MB transaction.
 */
async function outputLimitUnderBacklog(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", [
    "--repl-backlog-size",
    "100mb",
    "--client-output-buffer-limit",
    "replica 512k 0 0",
  ]);
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  const big = "A".repeat(10 * 1024 * 1024);
  using c = await connectTo(m.port);
  await pipeline(c, [
    ["MULTI"],
    ["CLIENT", "KILL", "TYPE", "replica"],
    ["SET", "key", big],
    ["SET", "key", big],
    ["DEBUG", "SLEEP", "2"],
    ["EXEC"],
  ]);
  await m.cmd("SET", "key", big);
  await caughtUp(m, [r]);
  await pipeline(c, [["MULTI"], ["SET", "key", big], ["SET", "key", big], ["EXEC"]]);
  await caughtUp(m, [r]);
  const stats = parseInfo(String(await m.cmd("INFO", "stats")));
  equal(stats.sync_full, "1");
  equal(stats.sync_partial_ok, "1");
}

/**
 * A diskless full sync to two replicas, one of them stopped: after repl-timeout only the stopped
 * one is dropped (its payload write makes no progress), and the other completes its sync, as
 * in Redis, rather than timing out behind its stalled sibling.
 */
async function stalledSiblingDuringSync(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", [
    "--repl-diskless-sync",
    "yes",
    "--repl-diskless-sync-max-replicas",
    "2",
    "--repl-diskless-sync-delay",
    "60",
    "--repl-timeout",
    "2",
  ]);
  await using r1 = await Node.start(p.replica, "replica1");
  await using r2 = await Node.start(p.replica, "replica2");
  const mb = "x".repeat(1024 * 1024);
  await run(m, Array.from({ length: 24 }, (_, i) => ["SET", `k${i}`, mb]));
  // A key each 150 ms: the payload takes longer than repl-timeout to produce, so the stopped
  // replica's socket fills up while the sync is still under way, and the running replica can
  // acknowledge nothing for longer than repl-timeout.
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "150000");
  await r1.replicaOf(m);
  await r2.replicaOf(m);
  await waitFor([m, r1, r2], "one sync for both replicas", async () => {
    return (await m.info("persistence")).rdb_bgsave_in_progress === "1";
  });
  r2.proc.pause();
  try {
    await waitFor([m, r1], "the running replica synced", async () => {
      return (await r1.info("replication")).master_link_status === "up" &&
        (await r1.call("DBSIZE")) === 24;
    }, 30_000);
    await waitFor([m], "the stopped replica dropped", async () => {
      return (await m.info("replication")).connected_slaves === "1";
    }, 30_000);
  } finally {
    r2.proc.resume();
  }
}

/**
 * Fetches an RDB from `m` with `redis-cli <flag> <file>` and puts it in a fresh directory under
 * `dir` as its dump.rdb; returns that directory, the file's bytes and redis-cli's output.
 */
async function cliFetchRdb(
  m: Node,
  flag: "--rdb" | "--functions-rdb",
  dir: string,
): Promise<{ loadDir: string; bytes: Uint8Array; text: string }> {
  const file = `${dir}/out.rdb`;
  const out = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(m.port), flag, file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  ok(out.success, `redis-cli ${flag} failed:\n${text}\n${await describe([m])}`);
  const loadDir = `${dir}/load`;
  await Deno.mkdir(loadDir);
  await Deno.copyFile(file, `${loadDir}/dump.rdb`);
  return { loadDir, bytes: await Deno.readFile(file), text };
}

/** `redis-cli --rdb` takes a snapshot over the replication protocol; it loads elsewhere. */
function cliRdb(p: Pair): Promise<void> {
  return withTempDir(async (dir) => {
    await using m = await Node.start(p.master, "master");
    await populate(m, 100);
    const { loadDir, bytes } = await cliFetchRdb(m, "--rdb", dir);
    equal(new TextDecoder().decode(bytes.subarray(0, 5)), "REDIS", "RDB magic");
    ok(bytes.length > 10_000, `RDB of ${bytes.length} bytes`);
    await using loaded = await Node.start(p.replica, "loaded from the RDB", [], { dir: loadDir });
    await sameData(m, loaded);
  });
}

/**
 * `redis-cli --functions-rdb` asks (REPLCONF rdb-filter-only functions) for an RDB of the
 * functions alone: it loads elsewhere as the libraries and no key.
 */
function cliFunctionsRdb(p: Pair): Promise<void> {
  return withTempDir(async (dir) => {
    await using m = await Node.start(p.master, "master");
    await populate(m, 100);
    const lib = "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)";
    equal(await m.call("FUNCTION", "LOAD", lib), "lib1");
    const keys = await m.call("DBSIZE");
    ok(typeof keys === "number" && keys > 0, `DBSIZE ${String(keys)}`);
    const { loadDir, text } = await cliFetchRdb(m, "--functions-rdb", dir);
    ok(text.includes("Transfer finished with success"), text);
    await using loaded = await Node.start(p.replica, "loaded from the RDB", [], { dir: loadDir });
    equal(await loaded.call("DBSIZE"), 0);
    equal(await loaded.call("FCALL", "func1", "0"), 123);
    equal(await m.call("DBSIZE"), keys, "the master keeps its keys");
  });
}

/** bind-source-addr: the replica's link comes from that address, as the master sees it. */
async function bindSourceAddr(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await populate(m, 50);
  // A full sync of a few megabytes: more than the link reads ahead.
  await m.call("SET", "big", "x".repeat(3_000_000));
  // 127.0.0.2 is not the loopback address protected mode lets in.
  equal(String(await m.call("CONFIG", "SET", "protected-mode", "no")), "OK");
  equal(String(await r.call("CONFIG", "SET", "bind-source-addr", "127.0.0.2")), "OK");
  await r.replicaOf(m);
  await linkUp(m, r);
  const info = String(await m.call("INFO", "replication"));
  ok(/slave0:ip=127\.0\.0\.2,/.test(info), info);
  await m.call("SET", "after", "sync");
  await caughtUp(m, [r]);
  await sameData(m, r);
}

/** M → R1 → R2: the sub-replica follows the top master's history and offsets. */
async function chained(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "M");
  await using r1 = await Node.start(p.replica, "R1");
  await using r2 = await Node.start(p.replica, "R2");
  await populate(m, 50);
  await r1.replicaOf(m);
  await linkUp(m, r1);
  await r2.replicaOf(r1);
  await linkUp(r1, r2);
  await run(m, [["SET", "chained", "1"], ["MULTI"], ["INCR", "n"], ["LPUSH", "l", "x"], ["EXEC"]]);
  await caughtUp(m, [r1, r2]);
  using c2 = await r2.fresh();
  equal(await c2.call("GET", "chained"), "1");
  equal(await c2.call("GET", "n"), "1");
  const replid = (await m.info("replication")).master_replid;
  equal((await r1.info("replication")).master_replid, replid);
  equal((await r2.info("replication")).master_replid, replid, "R2 has M's replication id");
  await sameData(m, r2);
}

/**
 * A replica that starts a full sync from a new master keeps its own replicas through the
 * transfer (they still read the old dataset from it) and makes them resync when the new
 * dataset replaces the old one, as Redis does when it attaches to the new master.
 */
async function subReplicasKeptDuringSync(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "M", ["--repl-diskless-sync", "yes"]);
  await using r1 = await Node.start(p.replica, "R1");
  await using r2 = await Node.start(p.replica, "R2");
  await r1.cmd("SET", "old", "1");
  await r2.replicaOf(r1);
  await linkUp(r1, r2);
  await slowLargeDataset(m);
  await r1.replicaOf(m);
  await waitFor([m, r1, r2], "R1 receiving the payload", async () => {
    return Number((await r1.info("replication")).master_sync_read_bytes ?? 0) > 0;
  }, 5000);
  const during = await r1.info("replication");
  equal(during.master_sync_in_progress, "1");
  equal(during.connected_slaves, "1", "R1 keeps R2 during the transfer");
  equal((await r2.info("replication")).master_link_status, "up");
  equal(await r2.call("GET", "old"), "1");
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "0");
  await linkUp(m, r1);
  await linkUp(r1, r2);
  await caughtUp(m, [r1, r2]);
  equal(await r2.call("DBSIZE"), 200);
  equal(await r2.call("GET", "old"), null);
}

/**
 * CLIENT KILL TYPE master in a transaction that then sleeps: the link is down from the kill, as
 * Redis frees the master client at once (master_link_down_since_seconds counts the sleep; a
 * cluster replica's data age reads the same time). The replica's attempt to reconnect then
 * hangs on the paused master and fails when the master is killed: that does not move the time.
 */
async function linkDownFromKill(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  using c = await r.fresh();
  equal(String(await c.call("MULTI")), "OK");
  equal(String(await c.call("CLIENT", "KILL", "TYPE", "master")), "QUEUED");
  equal(String(await c.call("DEBUG", "SLEEP", "3")), "QUEUED");
  await c.write(encodeCommand(["EXEC"]));
  await m.cmd("CLIENT", "PAUSE", "60000");
  const replies = await c.read(WAIT_MS) as RespValue[];
  deepStrictEqual(replies.map(String), ["1", "OK"]);
  await new Promise((res) => setTimeout(res, 1000));
  await m.proc.kill9();
  await new Promise((res) => setTimeout(res, 1500));
  const info = await r.info("replication");
  equal(info.master_link_status, "down");
  const since = Number(info.master_link_down_since_seconds);
  ok(since >= 4, `master_link_down_since_seconds:${since}, 5.5 s after the kill`);
}

/** A reply that must be the -LOADING error. */
function loadingError(v: RespValue, what: string): void {
  ok(v instanceof RespError && v.message.startsWith("LOADING "), `${what}: ${String(v)}`);
}

/**
 * A full sync from a new master that dies during the transfer leaves the replica with the
 * history it had: back with its old master, it continues by a partial resync (Redis discards
 * its cached master only when a transferred dataset is about to replace its own).
 */
async function failedSyncKeepsHistory(p: Pair): Promise<void> {
  await using m1 = await Node.start(p.master, "m1");
  await using m2 = await Node.start(p.master, "m2");
  await using r = await Node.start(p.replica, "replica");
  await m1.cmd("SET", "a", "b");
  await r.replicaOf(m1);
  await linkUp(m1, r);
  await caughtUp(m1, [r]);
  await run(m2, Array.from({ length: 10 }, (_, i) => ["SET", `k${i}`, "v"]));
  await m2.cmd("CONFIG", "SET", "rdb-key-save-delay", "1000000");
  await r.replicaOf(m2);
  await waitFor([m2, r], "the full sync under way", async () => {
    return (await m2.info("persistence")).rdb_bgsave_in_progress === "1";
  }, 5000);
  await m2.proc.stop();
  const full = await m1.stat("sync_full");
  const partial = await m1.stat("sync_partial_ok");
  await r.replicaOf(m1);
  await linkUp(m1, r);
  equal(await m1.stat("sync_full"), full, "no second full sync");
  equal(await m1.stat("sync_partial_ok"), partial + 1);
  equal(await r.call("GET", "a"), "b");
}

/**
 * CLIENT PAUSE WRITE on a replica holds its master's writes too, as Redis pauses its master
 * client: the stream is read (slave_read_repl_offset) but not applied (slave_repl_offset) until
 * the pause ends.
 */
async function pausedReplica(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master");
  await using r = await Node.start(p.replica, "replica");
  await r.replicaOf(m);
  await linkUp(m, r);
  await m.cmd("SET", "foo", "bar");
  await caughtUp(m, [r]);
  await r.cmd("CLIENT", "PAUSE", "100000", "WRITE");
  await m.cmd("SET", "foo2", "bar2");
  const target = Number((await m.info("replication")).master_repl_offset);
  await waitFor([m, r], "the replica reading the write", async () => {
    return Number((await r.info("replication")).slave_read_repl_offset) >= target;
  }, 5000);
  // The master's PINGs before the SET may be applied; the SET and all after it wait.
  const applied = Number((await r.info("replication")).slave_repl_offset);
  ok(applied < target, `slave_repl_offset ${applied}, the SET ends at ${target}`);
  equal(await r.call("GET", "foo2"), null);
  await r.cmd("CLIENT", "UNPAUSE");
  await caughtUp(m, [r]);
  equal(await r.call("GET", "foo2"), "bar2");
}

/**
 * 200 keys of 100 KB, sent slowly (25 ms a key): a replica loading from the socket answers
 * between its reads (redis-server every 2 MB), so the values are large.
 */
async function slowLargeDataset(m: Node): Promise<void> {
  await m.cmd("DEBUG", "POPULATE", "200", "key", "100000");
  await m.cmd("CONFIG", "SET", "rdbcompression", "no");
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "25000");
}

/**
 * repl-diskless-load swapdb, a dataset of another history (a replica's first sync): the load
 * is a blocking one (INFO loading:1, -LOADING for data commands) and a failed transfer leaves
 * the old dataset, which a successful one replaces.
 */
async function swapdbNewHistory(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", ["--repl-diskless-sync", "yes"]);
  await using r = await Node.start(p.replica, "replica", ["--repl-diskless-load", "swapdb"]);
  await r.cmd("SET", "mykey", "myvalue");
  await slowLargeDataset(m);
  await r.replicaOf(m);
  await waitFor([m, r], "the replica loading", async () => {
    return (await r.info("persistence")).loading === "1";
  }, 5000);
  equal((await r.info("persistence")).async_loading, "0");
  loadingError(await r.call("GET", "mykey"), "GET while loading");
  // The transfer fails; the next one waits, so that the replica is seen between the two.
  await m.cmd("CONFIG", "SET", "repl-diskless-sync-delay", "5");
  await m.cmd("CLIENT", "KILL", "TYPE", "replica");
  await waitFor([m, r], "the load given up", async () => {
    return (await r.info("persistence")).loading === "0";
  }, 5000);
  equal(await r.call("GET", "mykey"), "myvalue");
  equal(await r.call("DBSIZE"), 1);
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "0");
  await linkUp(m, r);
  equal(await r.call("GET", "mykey"), null);
  equal(await r.call("DBSIZE"), 200);
}

/**
 * repl-diskless-load swapdb, a full sync of the same history (the backlog no longer holds the
 * replica's offset): the replica serves its old dataset while it loads (INFO async_loading:1),
 * refuses what may not run meanwhile (REPLICAOF, CONFIG SET appendonly) with -LOADING, and
 * swaps in the new dataset at the end.
 */
async function swapdbSameHistory(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", [
    "--repl-diskless-sync",
    "yes",
    "--repl-backlog-size",
    "16384",
  ]);
  await using r = await Node.start(p.replica, "replica", [
    "--repl-diskless-load",
    "swapdb",
    "--replica-read-only",
    "no",
  ]);
  await r.replicaOf(m);
  await linkUp(m, r);
  // DEBUG POPULATE is not replicated: the replica holds only its own key until the resync.
  await slowLargeDataset(m);
  await caughtUp(m, [r]);
  await r.cmd("SET", "mykey", "myvalue");
  // The link breaks and the master writes past its backlog before the replica is back.
  using c = await m.fresh();
  const big = "A".repeat(16384);
  const replies = await pipeline(c, [
    ["MULTI"],
    ["CLIENT", "KILL", "TYPE", "replica"],
    ...Array.from({ length: 10 }, (_, i) => ["SET", `big${i}`, big]),
    ["EXEC"],
  ]);
  ok(Array.isArray(replies.at(-1)), `EXEC: ${String(replies.at(-1))}`);
  await waitFor([m, r], "the replica loading asynchronously", async () => {
    return (await r.info("persistence")).async_loading === "1";
  }, 5000);
  equal((await r.info("persistence")).loading, "0");
  equal(await r.call("GET", "mykey"), "myvalue");
  equal(await r.call("DBSIZE"), 1);
  loadingError(await r.call("REPLICAOF", "NO", "ONE"), "REPLICAOF NO ONE");
  loadingError(await r.call("CONFIG", "SET", "appendonly", "no"), "CONFIG SET appendonly");
  equal((await r.info("persistence")).async_loading, "1", "still loading after the checks");
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "0");
  await linkUp(m, r);
  await waitFor([m, r], "the new dataset", async () => {
    return (await r.info("persistence")).async_loading === "0" &&
      await r.call("DBSIZE") === 210;
  });
  equal(await r.call("GET", "mykey"), null);
}

/**
 * A disk-based full sync (repl-diskless-load disabled): the replica serves its old dataset while
 * the RDB arrives, then loads the file as one blocking step (INFO loading:1, -LOADING for data
 * commands), slowed here by key-load-delay, and serves the new dataset after it.
 */
async function diskLoadBlocks(p: Pair): Promise<void> {
  await using m = await Node.start(p.master, "master", ["--rdbcompression", "no"]);
  await using r = await Node.start(p.replica, "replica", [
    "--key-load-delay",
    "20000",
    "--loading-process-events-interval-bytes",
    "1024",
  ]);
  await m.cmd("DEBUG", "POPULATE", "100", "key", "1000");
  await r.cmd("SET", "mykey", "myvalue");
  // The master's RDB takes about a second, the replica's load of its 100 keys about two.
  await m.cmd("CONFIG", "SET", "rdb-key-save-delay", "10000");
  await r.replicaOf(m);
  await waitFor([m, r], "the transfer under way", async () => {
    const role = await r.call("ROLE") as RespValue[];
    return role[3] === "sync";
  }, 5000);
  equal((await r.info("persistence")).loading, "0", "the transfer is not the load");
  equal(await r.call("GET", "mykey"), "myvalue", "the old dataset during the transfer");
  await waitFor([m, r], "the replica loading", async () => {
    return (await r.info("persistence")).loading === "1";
  }, 10_000);
  equal((await r.info("persistence")).async_loading, "0");
  loadingError(await r.call("GET", "mykey"), "GET while loading");
  await linkUp(m, r);
  equal((await r.info("persistence")).loading, "0");
  equal(await r.call("GET", "mykey"), null);
  equal(await r.call("DBSIZE"), 100);
}

interface Scenario {
  name: string;
  /** Binaries the scenario runs besides the servers. */
  needs?: string[];
  /** Run over an RDB channel too (the scenarios about a full sync). */
  channel?: boolean;
  fn: (p: Pair) => Promise<void>;
}

const SCENARIOS: Scenario[] = [
  {
    name: "full sync (disk-based) and the live stream after it",
    fn: (p) => fullSync(p, false),
    channel: true,
  },
  {
    name: "full sync (diskless) and the live stream after it",
    fn: (p) => fullSync(p, true),
    channel: true,
  },
  { name: "read-only replica, ROLE and INFO on both ends", fn: readOnlyAndRole },
  {
    name: "partial resync after the link is killed from either end",
    fn: partialAfterKill,
    channel: true,
  },
  { name: "partial resync of a replica restarted after SHUTDOWN", fn: partialAfterRestart },
  { name: "partial resync with a master restarted after SHUTDOWN", fn: partialAfterMasterRestart },
  { name: "promotion with REPLICAOF NO ONE, others follow with PSYNC2", fn: promotion },
  { name: "WAIT", fn: waitCommand },
  { name: "expiry as seen from the replica", fn: expiry },
  { name: "a writable replica expires its own keys", fn: writableReplicaExpiry },
  { name: "a master's command failing on the replica", fn: errorOnReplica },
  { name: "SHUTDOWN waits for a lagging replica, SHUTDOWN ABORT", fn: shutdownWaitsForReplica },
  { name: "FAILOVER TIMEOUT with a target that never catches up", fn: failoverTimeout },
  { name: "a full sync slowed by rdb-key-save-delay", fn: slowFullSync, channel: true },
  {
    name: "FLUSHALL during a disk-based full sync",
    fn: (p) => flushAllDuringSync(p, false),
    channel: true,
  },
  {
    name: "FLUSHALL during a diskless full sync",
    fn: (p) => flushAllDuringSync(p, true),
    channel: true,
  },
  { name: "FAILOVER FORCE to a target that is stopped", fn: failoverForce },
  { name: "FAILOVER aborted when the target refuses the PSYNC", fn: failoverTargetRejects },
  { name: "a replica link that sends commands", fn: rogueReplicaLink },
  { name: "FLUSHALL and FLUSHDB of empty databases", fn: flushesReplicated },
  { name: "masterauth on the link", fn: auth },
  { name: "min-replicas-to-write", fn: minReplicas },
  {
    name: "a stopped replica's buffer is not evicted for",
    fn: replicaBuffersNotEvicting,
    channel: true,
  },
  { name: "a replica output limit under the backlog's size", fn: outputLimitUnderBacklog },
  {
    name: "a stopped replica does not stall its sibling's sync",
    fn: stalledSiblingDuringSync,
    channel: true,
  },
  { name: "redis-cli --rdb", needs: ["redis-cli"], fn: cliRdb },
  { name: "redis-cli --functions-rdb", needs: ["redis-cli"], fn: cliFunctionsRdb },
  { name: "bind-source-addr on the replica", fn: bindSourceAddr },
  { name: "chained replicas", fn: chained, channel: true },
  { name: "the link is down from the CLIENT KILL of the master client", fn: linkDownFromKill },
  { name: "CLIENT PAUSE WRITE on the replica holds the stream", fn: pausedReplica },
  {
    name: "a failed sync from a new master keeps the old history",
    fn: failedSyncKeepsHistory,
    channel: true,
  },
  { name: "repl-diskless-load swapdb of another history", fn: swapdbNewHistory, channel: true },
  { name: "a disk-based load after the transfer blocks", fn: diskLoadBlocks, channel: true },
  {
    name: "sub-replicas kept through a full sync from a new master",
    fn: subReplicasKeptDuringSync,
  },
  { name: "repl-diskless-load swapdb of the same history", fn: swapdbSameHistory, channel: true },
];

/** Why a scenario cannot run for a pairing, or null. */
function skipReason(p: Pairing, s: Scenario): string | null {
  const uses = (i: Impl) => p.master === i || p.replica === i;
  if (uses("redis") && !hasRedis) return "redis-server not installed";
  const missing = (s.needs ?? []).filter((b) => which(b) === null);
  if (missing.length > 0) return `${missing.join(", ")} not installed`;
  return null;
}

if (!hasRedis) console.log("SKIP: redis-server not installed: replication pairings with Redis");

for (const p of PAIRS) {
  for (const s of SCENARIOS) {
    if (p.channel && !s.channel) continue;
    const why = skipReason(p, s);
    const pairing = `${p.master} → ${p.replica}${p.channel ? " (RDB channel)" : ""}`;
    Deno.test({
      name: `replication ${pairing}: ${s.name}${why ? ` (ignored: ${why})` : ""}`,
      ignore: why !== null,
      ...opts,
      fn: async () => {
        setOursArgs(p.channel ? ["--repl-rdb-channel", "yes"] : []);
        try {
          await s.fn(p);
        } finally {
          setOursArgs([]);
        }
      },
    });
  }
}
