/**
 * The proxy's HTTP admin API: the shared routes (health, info, metrics, openapi.json), the slot
 * map as JSON (GET /topology), a slot map refresh on demand (POST /refresh) and a reshard
 * (POST /reshard) run by the manager.
 */
import { createRoute } from "@hono/zod-openapi";
import {
  ADMIN_TOKEN_SECURITY,
  type AdminApp,
  AdminError,
  createAdminApp,
  errorResponses,
  isLoopbackAddress,
  jsonBody,
  jsonResponse,
  lenientJson,
  type Metric,
  z,
} from "../shared/admin/app.ts";
import { type AdminHandle, defaultAdminPort, serveAdmin } from "../shared/admin/serve.ts";
import { getLogger } from "../shared/log.ts";
import { REDIS_VERSION } from "../shared/version.ts";
import type { ProxyServer } from "./proxy/server.ts";
import { mastersOf, uncoveredSlots } from "./proxy/slot_map.ts";
import { DEFAULT_PIPELINE, ManagerError, Nodes, reshardSlots } from "./manager/ops.ts";

export interface ProxyAdminOptions {
  port: number;
  bind: string;
  token?: string;
}

const Range = z.object({
  start: z.int(),
  end: z.int(),
  master: z.string().openapi({ example: "127.0.0.1:7000" }),
  masterId: z.string(),
  replicas: z.array(z.string()),
}).openapi("SlotRange");

const Topology = z.object({
  refreshedAt: z.int().openapi({ description: "ms since the epoch; 0 = never" }),
  uncoveredSlots: z.int(),
  masters: z.array(z.string()),
  ranges: z.array(Range),
}).openapi("Topology");

const topologyRoute = createRoute({
  method: "get",
  path: "/topology",
  tags: ["proxy"],
  summary: "The slot map the proxy routes by (from CLUSTER SLOTS)",
  responses: { 200: jsonResponse(Topology, "The slot map") },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/refresh",
  tags: ["proxy"],
  summary: "Re-read the slot map from the cluster now",
  security: ADMIN_TOKEN_SECURITY,
  responses: {
    200: jsonResponse(Topology, "The new slot map"),
    ...errorResponses(401, 403, 503),
  },
});

const NodeId = z.string().regex(/^[0-9a-f]{40}$/, { error: "must be a 40-character node id" });

const ReshardBody = z.strictObject({
  to: NodeId,
  slots: z.int({ error: "must be an integer from 1 to 16384" }).min(1, {
    error: "must be an integer from 1 to 16384",
  }).max(16384, { error: "must be an integer from 1 to 16384" }),
  from: z.union([z.literal("all"), z.array(NodeId).min(1)]).optional().openapi({
    description: 'source node ids, or "all" (the default: every other master)',
  }),
  pipeline: z.int().min(1).max(100_000).optional().openapi({
    description: "keys per MIGRATE (default 10)",
  }),
}).openapi("ReshardRequest", {
  example: { to: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", slots: 100, from: "all" },
});

const ReshardResult = z.object({
  ok: z.literal(true),
  output: z.array(z.string()).openapi({ description: "the manager's progress lines" }),
}).openapi("ReshardResult");

const reshardRoute = createRoute({
  method: "post",
  path: "/reshard",
  tags: ["proxy"],
  summary: "Move slots and their keys to a master (as `cluster-bus reshard`), then refresh",
  security: ADMIN_TOKEN_SECURITY,
  middleware: lenientJson,
  request: { body: jsonBody(ReshardBody) },
  responses: {
    200: jsonResponse(ReshardResult, "Done"),
    ...errorResponses(400, 401, 403, 409, 422, 503),
  },
});

/** At most one reshard through the admin API at a time. */
let resharding = false;

async function reshard(p: ProxyServer, body: z.infer<typeof ReshardBody>): Promise<string[]> {
  const entry = mastersOf(p.cluster.map)[0];
  if (!entry) throw new AdminError(503, "unavailable", "the proxy knows no master yet");
  if (resharding) throw new AdminError(409, "busy", "a reshard is already running");
  resharding = true;
  const output: string[] = [];
  const nodes = new Nodes({
    timeoutMs: p.opts.timeoutMs,
    out: (l) => output.push(l),
    ...(p.opts.password ? { password: p.opts.password } : {}),
  });
  try {
    await reshardSlots(
      nodes,
      entry,
      body.from ?? "all",
      body.to,
      body.slots,
      body.pipeline ?? DEFAULT_PIPELINE,
    );
    return output;
  } catch (e) {
    if (e instanceof ManagerError) throw new AdminError(422, "rejected", e.message);
    throw e;
  } finally {
    resharding = false;
    await nodes.close();
    await p.cluster.refresh();
  }
}

function metrics(p: ProxyServer): Metric[] {
  const c = p.cluster.counters;
  const counter = (name: string, help: string, value: number): Metric => ({
    name,
    help,
    type: "counter",
    samples: [{ value }],
  });
  return [
    counter("cluster_bus_requests_total", "Commands sent to nodes", c.requests),
    {
      name: "cluster_bus_redirects_total",
      help: "Redirections followed, by kind",
      type: "counter",
      samples: [
        { labels: { kind: "moved" }, value: c.moved },
        { labels: { kind: "ask" }, value: c.ask },
        { labels: { kind: "tryagain" }, value: c.tryagain },
      ],
    },
    counter("cluster_bus_errors_total", "Error replies sent to clients", c.errors),
    counter("cluster_bus_refreshes_total", "Slot map refreshes attempted", c.refreshes),
    counter("cluster_bus_refresh_failures_total", "Refreshes no node answered", c.refreshFailures),
    {
      name: "cluster_bus_connected_clients",
      help: "Clients connected to the proxy",
      type: "gauge",
      samples: [{ value: p.clients }],
    },
    {
      name: "cluster_bus_node_connections",
      help: "Pooled connections to each node",
      type: "gauge",
      samples: [...p.cluster.connections()].map(([node, value]) => ({
        labels: { node },
        value,
      })),
    },
  ];
}

function topology(p: ProxyServer) {
  const m = p.cluster.map;
  return {
    refreshedAt: p.cluster.refreshedAt,
    uncoveredSlots: uncoveredSlots(m),
    masters: mastersOf(m),
    ranges: m.ranges.map((r) => ({ ...r, replicas: [...r.replicas] })),
  };
}

export function createProxyAdmin(p: ProxyServer, opts: ProxyAdminOptions): AdminApp {
  const app = createAdminApp({
    role: "cluster-bus",
    token: () => opts.token,
    exposed: () => !isLoopbackAddress(opts.bind),
    info: () => ({
      server: { redis_version: REDIS_VERSION, role: "cluster-bus", tcp_port: String(p.boundPort) },
      clients: { connected_clients: String(p.clients) },
      cluster: {
        masters: String(mastersOf(p.cluster.map).length),
        uncovered_slots: String(uncoveredSlots(p.cluster.map)),
      },
    }),
    metrics: () => metrics(p),
    health: () => ({
      ok: p.cluster.refreshedAt > 0 && uncoveredSlots(p.cluster.map) === 0,
      masters: mastersOf(p.cluster.map).length,
      uncoveredSlots: uncoveredSlots(p.cluster.map),
    }),
  });
  app.openapi(topologyRoute, (c) => c.json(topology(p), 200));
  app.openapi(refreshRoute, async (c) => {
    if (!(await p.cluster.refresh())) {
      throw new AdminError(503, "unavailable", "no cluster node answered CLUSTER SLOTS");
    }
    return c.json(topology(p), 200);
  });
  app.openapi(reshardRoute, async (c) => {
    const output = await reshard(p, c.req.valid("json"));
    return c.json({ ok: true as const, output }, 200);
  });
  return app;
}

export function startProxyAdmin(p: ProxyServer, opts: ProxyAdminOptions): AdminHandle | null {
  if (opts.port === -1) return null;
  const log = getLogger(["cluster-bus", "admin"]);
  const port = opts.port || defaultAdminPort(p.boundPort);
  try {
    const h = serveAdmin(createProxyAdmin(p, opts), { hostname: opts.bind, port });
    log.info("Admin API on http://{host}:{port}", { host: opts.bind, port: h.addr.port });
    return h;
  } catch (e) {
    log.warn("admin API not started on {port}: {err}", { port, err: String(e) });
    return null;
  }
}
