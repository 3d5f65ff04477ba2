/**
 * The data node's replication admin routes: GET /replication (the INFO replication figures as
 * structured JSON), POST /replicaof (REPLICAOF over HTTP) and POST /failover (FAILOVER over
 * HTTP), and the replication metrics of /metrics.
 *
 * Figures are read from the same state INFO replication reads, with the same arithmetic (lag and
 * last I/O in whole seconds on the server's clock), so the two never disagree.
 */
import { createRoute } from "@hono/zod-openapi";
import {
  ADMIN_TOKEN_SECURITY,
  type AdminApp,
  AdminError,
  errorResponses,
  jsonBody,
  jsonResponse,
  lenientJson,
  type Metric,
  z,
} from "../shared/admin/app.ts";
import type { Server } from "./server/server.ts";
import { applyReplicaOf } from "./commands/replication_cmds.ts";

// ---------------------------------------------------------------------------------------------
// Schemas

const ReplicaEntry = z.object({
  ip: z.string().openapi({ example: "10.0.0.7" }),
  port: z.int().openapi({ description: "the replica's listening port", example: 6380 }),
  state: z.enum(["wait_bgsave", "send_bulk", "online"]),
  offset: z.int().openapi({ description: "the offset it last acknowledged" }),
  lagSeconds: z.int().openapi({ description: "seconds since its last acknowledgement" }),
}).openapi("ReplicaEntry");

const MasterLink = z.object({
  host: z.string(),
  port: z.int(),
  linkStatus: z.enum(["up", "down"]),
  lastIoSecondsAgo: z.int().nullable().openapi({
    description: "seconds since the master last sent anything; null without a connection",
  }),
  state: z.enum(["connect", "connecting", "handshake", "sync", "connected"]),
}).openapi("MasterLink");

const ReplicationView = z.object({
  role: z.enum(["master", "replica"]),
  replid: z.string().openapi({ description: "master_replid" }),
  replid2: z.string().openapi({ description: "master_replid2 (the previous master's ID)" }),
  offset: z.int().openapi({ description: "master_repl_offset" }),
  secondOffset: z.int().openapi({ description: "second_repl_offset" }),
  backlog: z.object({
    active: z.boolean(),
    size: z.int().openapi({ description: "repl_backlog_size (bytes)" }),
    firstByteOffset: z.int(),
    histlen: z.int().openapi({ description: "bytes of history held" }),
  }),
  sync: z.object({
    full: z.int().openapi({ description: "full syncs served (sync_full)" }),
    partialOk: z.int().openapi({ description: "partial resyncs accepted (sync_partial_ok)" }),
    partialErr: z.int().openapi({ description: "partial resyncs refused (sync_partial_err)" }),
  }),
  replicas: z.array(ReplicaEntry).openapi({
    description: "replicas connected to this node (a replica can have its own: a chain)",
  }),
  master: MasterLink.optional().openapi({ description: "present when role is replica" }),
  failoverState: z.enum(["no-failover", "waiting-for-sync", "failover-in-progress"]).openapi({
    description: "master_failover_state",
  }),
}).openapi("Replication");

const ReplicaOfTarget = z.strictObject({
  host: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }),
  port: z.int({ error: "must be an integer from 1 to 65535" })
    .min(1, { error: "must be an integer from 1 to 65535" })
    .max(65535, { error: "must be an integer from 1 to 65535" }),
}).openapi("ReplicaOfTarget", {
  description: "Replicate this master (REPLICAOF host port)",
  example: { host: "10.0.0.5", port: 6379 },
});

const ReplicaOfNoOne = z.strictObject({
  noOne: z.literal(true, { error: "must be true" }),
}).openapi("ReplicaOfNoOne", {
  description: "Stop replicating and become a master, keeping the data (REPLICAOF NO ONE)",
  example: { noOne: true },
});

const ReplicaOfBody = z.union([ReplicaOfTarget, ReplicaOfNoOne], {
  error: 'expected {"host": string, "port": 1..65535} or {"noOne": true}',
}).openapi("ReplicaOfRequest", {}, { unionPreferredType: "oneOf" });

const FailoverBody = z.strictObject({
  to: ReplicaOfTarget.optional().openapi({ description: "the replica to hand over to (TO)" }),
  force: z.boolean({ error: "must be a boolean" }).optional().openapi({
    description: "hand over at the timeout even if the target has not caught up (FORCE)",
  }),
  timeoutMs: z.int({ error: "must be a positive integer" }).min(1, {
    error: "must be a positive integer",
  }).optional().openapi({ description: "give up (or, with force, hand over) after this long" }),
  abort: z.literal(true, { error: "must be true" }).optional().openapi({
    description: "abort the failover in progress (FAILOVER ABORT); no other field with it",
  }),
}).openapi("FailoverRequest", {
  description: "FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | FAILOVER ABORT",
  example: { to: { host: "10.0.0.6", port: 6379 }, timeoutMs: 5000 },
});

const FailoverReply = z.object({
  ok: z.literal(true),
  failoverState: z.enum(["no-failover", "waiting-for-sync", "failover-in-progress"]),
}).openapi("FailoverReply");

const ReplicaOfReply = z.object({
  ok: z.literal(true),
  reply: z.string().openapi({
    description: "REPLICAOF's reply text",
    example: "OK Already connected to specified master",
  }),
}).openapi("ReplicaOfReply");

// ---------------------------------------------------------------------------------------------
// Routes

const replicationRoute = createRoute({
  method: "get",
  path: "/replication",
  tags: ["replication"],
  summary: "Replication state: role, IDs, offsets, backlog, sync counters, replicas or master",
  responses: { 200: jsonResponse(ReplicationView, "The replication state") },
});

const failoverRoute = createRoute({
  method: "post",
  path: "/failover",
  tags: ["replication"],
  summary: "FAILOVER: hand this master's role over to one of its replicas",
  description: "Same effect as the FAILOVER command: writes pause until the target (or any " +
    "replica) has caught up, then this node becomes its replica. Progress shows in " +
    "GET /replication's failoverState. A refusal (no replicas, not a master, one in progress) " +
    "is a 409 with FAILOVER's error text.",
  security: ADMIN_TOKEN_SECURITY,
  middleware: lenientJson,
  request: { body: jsonBody(FailoverBody) },
  responses: {
    200: jsonResponse(FailoverReply, "Started, or aborted"),
    ...errorResponses(400, 401, 403, 409),
  },
});

const replicaOfRoute = createRoute({
  method: "post",
  path: "/replicaof",
  tags: ["replication"],
  summary: "REPLICAOF host port, or REPLICAOF NO ONE",
  description: "Same effect as the REPLICAOF command, including the replicaof directive shown " +
    "by CONFIG GET and written by CONFIG REWRITE. Refused in cluster mode.",
  security: ADMIN_TOKEN_SECURITY,
  middleware: lenientJson,
  request: { body: jsonBody(ReplicaOfBody) },
  responses: {
    200: jsonResponse(ReplicaOfReply, "Done"),
    ...errorResponses(400, 401, 403, 409),
  },
});

/** GET /replication's body. */
export function replicationView(s: Server): z.infer<typeof ReplicationView> {
  const repl = s.replication;
  const r = repl.replica;
  const now = s.clock.nowMs();
  const st = s.replStream;
  const view: z.infer<typeof ReplicationView> = {
    role: r.active ? "replica" : "master",
    replid: s.replId,
    replid2: s.replId2,
    offset: s.replOffset,
    secondOffset: s.secondReplOffset,
    backlog: {
      active: st !== null,
      size: st?.capacity ?? s.config.get<number>("repl-backlog-size"),
      firstByteOffset: st ? st.firstByteOffset : 0,
      histlen: st?.histlen ?? 0,
    },
    sync: {
      full: s.stats.syncFull,
      partialOk: s.stats.syncPartialOk,
      partialErr: s.stats.syncPartialErr,
    },
    failoverState: repl.failoverState,
    replicas: [...repl.master.links].map((l) => ({
      ip: l.ip,
      port: l.listeningPort,
      state: l.state,
      offset: l.ackOffset,
      lagSeconds: Math.floor((now - l.ackMs) / 1000),
    })),
  };
  if (r.active) {
    view.master = {
      host: r.host,
      port: r.port,
      linkStatus: r.state === "connected" ? "up" : "down",
      lastIoSecondsAgo: r.master ? Math.floor((now - r.lastIoMs) / 1000) : null,
      state: r.state,
    };
  }
  return view;
}

export function addReplicationRoutes(app: AdminApp, s: Server): void {
  app.openapi(replicationRoute, (c) => c.json(replicationView(s), 200));

  app.openapi(replicaOfRoute, (c) => {
    if (s.clusterEnabled) {
      throw new AdminError(409, "cluster_mode", "REPLICAOF not allowed in cluster mode");
    }
    const body = c.req.valid("json");
    const reply = applyReplicaOf(s, "noOne" in body ? null : { host: body.host, port: body.port });
    return c.json({ ok: true as const, reply }, 200);
  });

  app.openapi(failoverRoute, (c) => {
    const body = c.req.valid("json");
    let err: string | null;
    if (body.abort) {
      if (body.to || body.force || body.timeoutMs) {
        throw new AdminError(400, "bad_request", "abort cannot be used with other fields");
      }
      err = s.replication.abortFailover();
    } else {
      err = s.replication.startFailover({
        target: body.to ?? null,
        force: body.force ?? false,
        timeoutMs: body.timeoutMs ?? 0,
      });
    }
    if (err) throw new AdminError(409, "failover_refused", err.replace(/^ERR /, ""));
    return c.json({ ok: true as const, failoverState: s.replication.failoverState }, 200);
  });
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** The replication metrics of /metrics. */
export function replicationMetrics(s: Server): Metric[] {
  const v = replicationView(s);
  const replica = (r: { ip: string; port: number }) => ({ ip: r.ip, port: String(r.port) });
  return [
    {
      name: "redis_master_repl_offset",
      help: "Replication offset of this node (master_repl_offset).",
      type: "gauge",
      samples: [{ value: v.offset }],
    },
    {
      name: "redis_connected_replicas",
      help: "Replicas connected to this node.",
      type: "gauge",
      samples: [{ value: v.replicas.length }],
    },
    {
      name: "redis_replica_ack_offset",
      help: "Replication offset each replica last acknowledged.",
      type: "gauge",
      samples: v.replicas.map((r) => ({ labels: replica(r), value: r.offset })),
    },
    {
      name: "redis_replica_lag_seconds",
      help: "Seconds since each replica's last acknowledgement.",
      type: "gauge",
      samples: v.replicas.map((r) => ({ labels: replica(r), value: r.lagSeconds })),
    },
    {
      name: "redis_sync_full_total",
      help: "Full resynchronizations served.",
      type: "counter",
      samples: [{ value: v.sync.full }],
    },
    {
      name: "redis_sync_partial_ok_total",
      help: "Partial resynchronizations accepted.",
      type: "counter",
      samples: [{ value: v.sync.partialOk }],
    },
    {
      name: "redis_sync_partial_err_total",
      help: "Partial resynchronizations refused.",
      type: "counter",
      samples: [{ value: v.sync.partialErr }],
    },
    {
      name: "redis_repl_backlog_histlen_bytes",
      help: "Bytes of history in the replication backlog.",
      type: "gauge",
      samples: [{ value: v.backlog.histlen }],
    },
    {
      name: "redis_master_link_up",
      help: "1 while the link to the master is up (replicas only).",
      type: "gauge",
      samples: v.master ? [{ value: v.master.linkStatus === "up" ? 1 : 0 }] : [],
    },
  ];
}
