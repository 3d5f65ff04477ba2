/**
 * The replication admin routes between two data node processes: POST /replicaof on one node's
 * admin API makes it a replica of the other, and GET /replication and /metrics on both ends show
 * the link (the replica's master, the master's replica with its acknowledged offset), then
 * {"noOne": true} promotes the replica again. In-process tests of the same routes (bad input,
 * the token rule, cluster mode) are in data-node/admin_test.ts.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { freePort, startDataNode } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";

const WAIT_MS = 15000;

async function node(): Promise<{ p: Awaited<ReturnType<typeof startDataNode>>; admin: string }> {
  const adminPort = await freePort();
  const p = await startDataNode([
    "--admin-port",
    String(adminPort),
    "--repl-ping-replica-period",
    "1",
    "--repl-diskless-sync-delay",
    "0",
    "--shutdown-timeout",
    "0",
  ]);
  const admin = `http://127.0.0.1:${adminPort}`;
  // The admin API starts with the data port; wait for it all the same.
  await eventually(async () => {
    try {
      const r = await fetch(`${admin}/health`);
      await r.body?.cancel();
      return r.ok;
    } catch {
      return false;
    }
  }, "the admin API");
  return { p, admin };
}

async function getJson(url: string) {
  const r = await fetch(url);
  equal(r.status, 200, url);
  return await r.json();
}

async function postJson(url: string, body: unknown) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

Deno.test("POST /replicaof links two data nodes; /replication and /metrics show both ends", async () => {
  const master = await node();
  await using _m = master.p;
  const replica = await node();
  await using _r = replica.p;
  using conn = await RawConn.connect(master.p.port);
  equal(await conn.call("SET", "k", "v"), "OK");

  const r = await postJson(`${replica.admin}/replicaof`, {
    host: "127.0.0.1",
    port: master.p.port,
  });
  deepEqual(r, { status: 200, body: { ok: true, reply: "OK" } });
  await eventually(
    async () => (await getJson(`${replica.admin}/replication`)).master?.linkStatus === "up",
    "the replica's link up",
    WAIT_MS,
  );
  equal(await conn.call("SET", "k2", "v2"), "OK");
  await eventually(
    async () => {
      const m = await getJson(`${master.admin}/replication`);
      const r = await getJson(`${replica.admin}/replication`);
      return m.replicas.length === 1 && m.replicas[0].state === "online" &&
        m.replicas[0].offset === m.offset && r.offset === m.offset;
    },
    "the replica to acknowledge the master's offset",
    WAIT_MS,
  );

  const m = await getJson(`${master.admin}/replication`);
  equal(m.role, "master");
  equal("master" in m, false);
  equal(m.replicas[0].ip, "127.0.0.1");
  equal(m.replicas[0].port, replica.p.port);
  equal(typeof m.replicas[0].lagSeconds, "number");
  equal(m.backlog.active, true);
  equal(m.backlog.histlen > 0, true);
  equal(m.sync.full, 1);
  const rv = await getJson(`${replica.admin}/replication`);
  equal(rv.role, "replica");
  equal(rv.replid, m.replid);
  deepEqual({ ...rv.master, lastIoSecondsAgo: 0 }, {
    host: "127.0.0.1",
    port: master.p.port,
    linkStatus: "up",
    lastIoSecondsAgo: 0,
    state: "connected",
  });
  equal(typeof rv.master.lastIoSecondsAgo, "number");
  using rconn = await RawConn.connect(replica.p.port);
  equal(await rconn.call("GET", "k2"), "v2");
  deepEqual(await rconn.call("CONFIG", "GET", "replicaof"), [
    "replicaof",
    `127.0.0.1 ${master.p.port}`,
  ]);

  const mm = await (await fetch(`${master.admin}/metrics`)).text();
  const labels = `{ip="127.0.0.1",port="${replica.p.port}"}`;
  // The master's periodic PING to its replicas may have moved the offset since.
  const offset = Number(mm.match(/\nredis_master_repl_offset (\d+)\n/)?.[1]);
  ok(
    offset >= m.offset && offset <= m.offset + 14 * 3,
    `metrics offset ${offset}, was ${m.offset}`,
  );
  match(mm, /\nredis_connected_replicas 1\n/);
  match(mm, new RegExp(`\\nredis_replica_ack_offset${labels.replace(/[{}]/g, "\\$&")} \\d+\\n`));
  match(mm, new RegExp(`\\nredis_replica_lag_seconds${labels.replace(/[{}]/g, "\\$&")} \\d+\\n`));
  match(mm, /\nredis_sync_full_total 1\n/);
  match(mm, /\nredis_repl_backlog_histlen_bytes [1-9]\d*\n/);
  const rm = await (await fetch(`${replica.admin}/metrics`)).text();
  match(rm, /\nredis_master_link_up 1\n/);

  deepEqual(await postJson(`${replica.admin}/replicaof`, { noOne: true }), {
    status: 200,
    body: { ok: true, reply: "OK" },
  });
  const promoted = await getJson(`${replica.admin}/replication`);
  equal(promoted.role, "master");
  equal(promoted.replid2, m.replid);
  deepEqual(await rconn.call("CONFIG", "GET", "replicaof"), ["replicaof", ""]);
  await eventually(
    async () => (await getJson(`${master.admin}/replication`)).replicas.length === 0,
    "the master to drop its replica",
    WAIT_MS,
  );
});
