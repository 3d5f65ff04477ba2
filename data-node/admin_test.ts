import { deepEqual, doesNotMatch, equal, match } from "node:assert/strict";
import { Config } from "../shared/config/schema.ts";
import { DATA_NODE_PARAMS } from "./config.ts";
import { buildCommandTable } from "./commands/table.ts";
import { Server } from "./server/server.ts";
import { createDataNodeAdmin } from "./admin.ts";

function node(
  bind: string,
  token = "",
): { app: ReturnType<typeof createDataNodeAdmin>; s: Server } {
  const config = new Config(DATA_NODE_PARAMS);
  config.load([
    { name: "admin-bind", args: [bind], file: "(test)", line: 1 },
    { name: "admin-token", args: [token], file: "(test)", line: 2 },
  ]);
  const s = new Server(config, buildCommandTable());
  return { app: createDataNodeAdmin(s), s };
}

const post = (body: unknown, token?: string) => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: token ? { authorization: `Bearer ${token}` } : {},
});

Deno.test("admin API bound beyond loopback without admin-token: reads work, writes get 403", async () => {
  const { app, s } = node("0.0.0.0");
  const r = await app.request("/config", post({ maxmemory: "1mb" }));
  equal(r.status, 403);
  const body = await r.json();
  equal(body.error, "protected_mode");
  match(body.reason, /admin-token/);
  equal(s.config.get<number>("maxmemory"), 0, "nothing was set");
  equal((await app.request("/clients/1/kill", { method: "POST" })).status, 403);
  equal((await app.request("/health")).status, 200);
  equal((await (await app.request("/config?pattern=maxmemory")).json()).maxmemory, "0");
  // Setting a token (CONFIG SET admin-token) opens the mutating routes to its bearer.
  s.config.configSet([["admin-token", "s3cret"]]);
  equal((await app.request("/config", post({ maxmemory: "1mb" }))).status, 401);
  equal((await app.request("/config", post({ maxmemory: "1mb" }, "s3cret"))).status, 200);
  equal(s.config.get<number>("maxmemory"), 1048576);
});

Deno.test("admin API on loopback takes writes without a token, as before", async () => {
  const { app, s } = node("127.0.0.1");
  equal((await app.request("/config", post({ maxmemory: "2mb" }))).status, 200);
  equal(s.config.get<number>("maxmemory"), 2097152);
});

/** Polls until `cond` holds (bounded). */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on (connections to it are refused). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("GET /replication on a master agrees with INFO replication", async () => {
  const { app } = node("127.0.0.1");
  const r = await app.request("/replication");
  equal(r.status, 200);
  const v = await r.json();
  const info = (await (await app.request("/info?section=replication")).json()).replication;
  equal(v.role, "master");
  equal(v.replid, info.master_replid);
  equal(v.replid2, info.master_replid2);
  equal(v.offset, Number(info.master_repl_offset));
  equal(v.secondOffset, Number(info.second_repl_offset));
  deepEqual(v.backlog, {
    active: info.repl_backlog_active === "1",
    size: Number(info.repl_backlog_size),
    firstByteOffset: Number(info.repl_backlog_first_byte_offset),
    histlen: Number(info.repl_backlog_histlen),
  });
  deepEqual(v.sync, { full: 0, partialOk: 0, partialErr: 0 });
  deepEqual(v.replicas, []);
  equal("master" in v, false);
});

Deno.test("POST /replicaof follows a master and NO ONE promotes, as REPLICAOF does", async () => {
  const { app, s } = node("127.0.0.1");
  const port = closedPort();
  const oldId = s.replId;
  // No content type: the body is read as JSON all the same.
  let r = await app.request("/replicaof", {
    method: "POST",
    body: JSON.stringify({ host: "127.0.0.1", port }),
  });
  equal(r.status, 200);
  deepEqual(await r.json(), { ok: true, reply: "OK" });
  // The first connection attempt is refused at once; wait for it so that nothing is left running.
  await until(() => s.replication.replica.state === "connect", "the refused connection");
  let v = await (await app.request("/replication")).json();
  equal(v.role, "replica");
  deepEqual(v.master, {
    host: "127.0.0.1",
    port,
    linkStatus: "down",
    lastIoSecondsAgo: null,
    state: "connect",
  });
  equal(
    (await (await app.request("/config?pattern=replicaof")).json()).replicaof,
    `127.0.0.1 ${port}`,
  );
  const info = (await (await app.request("/info?section=replication")).json()).replication;
  equal(info.role, "slave");
  equal(info.master_port, String(port));
  const metrics = await (await app.request("/metrics")).text();
  match(metrics, /\nredis_master_link_up 0\n/);

  r = await app.request("/replicaof", post({ host: "127.0.0.1", port }));
  deepEqual(await r.json(), { ok: true, reply: "OK Already connected to specified master" });

  r = await app.request("/replicaof", post({ noOne: true }));
  equal(r.status, 200);
  deepEqual(await r.json(), { ok: true, reply: "OK" });
  v = await (await app.request("/replication")).json();
  equal(v.role, "master");
  equal("master" in v, false);
  equal(v.replid2, oldId, "PSYNC2: the old ID is kept as replid2");
  equal(v.secondOffset, v.offset + 1);
  equal((await (await app.request("/config?pattern=replicaof")).json()).replicaof, "");
  doesNotMatch(await (await app.request("/metrics")).text(), /\nredis_master_link_up \d/);
});

Deno.test("POST /replicaof rejects bad bodies with 400 and a reason, changing nothing", async () => {
  const { app, s } = node("127.0.0.1");
  const either = 'expected {"host": string, "port": 1..65535} or {"noOne": true}';
  const cases: [string, string][] = [
    ["", "body is not valid JSON"],
    ["{host: 1}", "body is not valid JSON"],
    ["{}", either],
    ["[]", either],
    ["null", either],
    ['"127.0.0.1:6379"', either],
    ['{"hots": "a", "port": 6379}', either],
    ['{"host": "a", "port": 6379, "noOne": true}', either],
    ['{"host": "a"}', "port: must be an integer from 1 to 65535"],
    ['{"host": "a", "port": 0}', "port: must be an integer from 1 to 65535"],
    ['{"host": "a", "port": 65536}', "port: must be an integer from 1 to 65535"],
    ['{"host": "a", "port": 63.5}', "port: must be an integer from 1 to 65535"],
    ['{"host": "a", "port": "6379"}', "port: must be an integer from 1 to 65535"],
    ['{"host": "", "port": 6379}', "host: must not be empty"],
    ['{"host": 7, "port": 6379}', "host: must be a string"],
    ['{"host": "a", "port": 6379, "db": 1}', 'unknown field "db"'],
    ['{"noOne": false}', "noOne: must be true"],
    ['{"noOne": "yes"}', "noOne: must be true"],
    ['{"noOne": true, "host": "a"}', 'unknown field "host"'],
  ];
  for (const [body, reason] of cases) {
    const r = await app.request("/replicaof", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    equal(r.status, 400, body);
    deepEqual(await r.json(), { error: "bad_request", reason }, body);
  }
  equal(s.replication.replica.active, false);
  equal((await (await app.request("/config?pattern=replicaof")).json()).replicaof, "");
});

Deno.test("POST /replicaof follows the admin token rules and is refused in cluster mode", async () => {
  const exposed = node("0.0.0.0");
  let r = await exposed.app.request("/replicaof", post({ noOne: true }));
  equal(r.status, 403);
  equal((await r.json()).error, "protected_mode");
  const guarded = node("0.0.0.0", "s3cret");
  // The token is checked before the body: a bad body without it is a 401, not a 400.
  equal((await guarded.app.request("/replicaof", post({ port: -1 }))).status, 401);
  equal((await guarded.app.request("/replicaof", post({ noOne: true }, "nope"))).status, 401);
  r = await guarded.app.request("/replicaof", post({ noOne: true }, "s3cret"));
  equal(r.status, 200);
  deepEqual(await r.json(), { ok: true, reply: "OK" });

  const { app, s } = node("127.0.0.1");
  s.clusterEnabled = true;
  r = await app.request("/replicaof", post({ host: "127.0.0.1", port: 6379 }));
  equal(r.status, 409);
  deepEqual(await r.json(), {
    error: "cluster_mode",
    reason: "REPLICAOF not allowed in cluster mode",
  });
  equal(s.replication.replica.active, false);
});

Deno.test("replication metrics on a master", async () => {
  const { app } = node("127.0.0.1");
  const t = await (await app.request("/metrics")).text();
  for (
    const line of [
      "# TYPE redis_master_repl_offset gauge\nredis_master_repl_offset 0\n",
      "# TYPE redis_connected_replicas gauge\nredis_connected_replicas 0\n",
      "# TYPE redis_replica_ack_offset gauge\n",
      "# TYPE redis_replica_lag_seconds gauge\n",
      "# TYPE redis_sync_full_total counter\nredis_sync_full_total 0\n",
      "# TYPE redis_sync_partial_ok_total counter\nredis_sync_partial_ok_total 0\n",
      "# TYPE redis_sync_partial_err_total counter\nredis_sync_partial_err_total 0\n",
      "# TYPE redis_repl_backlog_histlen_bytes gauge\nredis_repl_backlog_histlen_bytes 0\n",
      "# TYPE redis_master_link_up gauge\n",
    ]
  ) {
    equal(t.includes(line), true, line);
  }
});

Deno.test("POST /config and /clients/:id/kill keep their errors", async () => {
  const { app } = node("127.0.0.1");
  const cases: [string, string][] = [
    ["[]", "expected an object of directive: value"],
    ['"maxmemory"', "expected an object of directive: value"],
    ['{"maxmemory": 5}', "maxmemory: values must be strings"],
    ["{", "body is not valid JSON"],
  ];
  for (const [body, reason] of cases) {
    const r = await app.request("/config", { method: "POST", body });
    equal(r.status, 400, body);
    deepEqual(await r.json(), { error: "bad_request", reason }, body);
  }
  const r = await app.request("/config", post({ maxmemory: "lots" }));
  equal(r.status, 422);
  equal((await r.json()).error, "config_rejected");
  const k = await app.request("/clients/abc/kill", { method: "POST" });
  equal(k.status, 404);
  deepEqual(await k.json(), { error: "no_such_client", reason: "no client with id abc" });
});

Deno.test("/openapi.json is an OpenAPI 3 document of every route, mutating ones with the token", async () => {
  const { app } = node("127.0.0.1");
  const r = await app.request("/openapi.json");
  equal(r.status, 200);
  const doc = await r.json();
  match(doc.openapi, /^3\./);
  // Every route the app serves (middleware aside) is in the document, and nothing else is.
  const served = new Set(
    app.routes.filter((x) => x.method !== "ALL").map((x) => `${x.method} ${x.path}`),
  );
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(ops)) {
      documented.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`);
    }
  }
  deepEqual([...documented].sort(), [...served].sort());
  for (
    const route of [
      "GET /health",
      "GET /info",
      "GET /metrics",
      "GET /openapi.json",
      "GET /config",
      "POST /config",
      "POST /clients/:id/kill",
      "GET /replication",
      "POST /replicaof",
      "POST /failover",
      "GET /cluster",
    ]
  ) {
    equal(documented.has(route), true, route);
  }
  type Operation = { security?: unknown; responses: Record<string, unknown> };
  for (
    const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)
  ) {
    for (const [method, op] of Object.entries(ops)) {
      const mutating = method !== "get";
      deepEqual(op.security ?? [], mutating ? [{ adminToken: [] }] : [], `${method} ${path}`);
      if (mutating) equal(op.responses["401"] !== undefined, true, `${method} ${path} 401`);
    }
  }
  equal(doc.components.securitySchemes.adminToken.scheme, "bearer");
  const body = doc.paths["/replicaof"].post.requestBody.content["application/json"].schema;
  equal(body.$ref, "#/components/schemas/ReplicaOfRequest");
  equal(doc.components.schemas.ReplicaOfRequest.oneOf.length, 2);
  deepEqual(doc.components.schemas.ReplicaOfTarget.properties.port, {
    type: "integer",
    minimum: 1,
    maximum: 65535,
  });
});

Deno.test("POST /failover answers FAILOVER's refusals with 409 and rejects bad bodies", async () => {
  const { app, s } = node("127.0.0.1");
  const send = (body: unknown) =>
    app.request("/failover", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  let r = await send({});
  equal(r.status, 409);
  deepEqual(await r.json(), {
    error: "failover_refused",
    reason: "FAILOVER requires connected replicas.",
  });
  r = await send({ abort: true });
  equal(r.status, 409);
  deepEqual(await r.json(), { error: "failover_refused", reason: "No failover in progress." });
  for (const bad of [{ timeoutMs: 0 }, { force: "yes" }, { abort: false }, { to: { host: "h" } }]) {
    r = await send(bad);
    equal(r.status, 400, JSON.stringify(bad));
    equal((await r.json()).error, "bad_request");
  }
  r = await send({ abort: true, force: true });
  equal(r.status, 400);
  const view = await (await app.request("/replication")).json();
  equal(view.failoverState, "no-failover");
  s.close();
});

Deno.test("GET /cluster says when cluster mode is off", async () => {
  const { app, s } = node("127.0.0.1");
  deepEqual(await (await app.request("/cluster")).json(), { enabled: false });
  s.close();
});
