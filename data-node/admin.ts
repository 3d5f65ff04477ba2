/**
 * The data node's HTTP admin API: the shared routes plus config, client and replication
 * routes, each declared with its schema (GET /openapi.json lists them all).
 */
import { BIND_FAILED, LISTEN_FAILED } from "../shared/errors.ts";
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
import { ConfigSetError } from "../shared/config/schema.ts";
import { getLogger } from "../shared/log.ts";
import type { Server } from "./server/server.ts";
import { sectionFields, selectSections } from "./server/info.ts";
import { memoryStats } from "./server/memory.ts";
import { addReplicationRoutes, replicationMetrics } from "./admin_replication.ts";
import { addClusterRoutes, clusterMetrics } from "./admin_cluster.ts";

function infoSections(s: Server, section?: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  const names = section ? [section.toLowerCase()] : selectSections(["everything"]);
  for (const name of names) {
    const fields = sectionFields(s, name);
    if (!fields) continue;
    out[name] = Object.fromEntries(fields.map(([k, v]) => [k, String(v)]));
  }
  return out;
}

function metrics(s: Server): Metric[] {
  const st = s.stats;
  const gauge = (name: string, help: string, value: number): Metric => ({
    name,
    help,
    type: "gauge",
    samples: [{ value }],
  });
  const counter = (name: string, help: string, value: number): Metric => ({
    name,
    help,
    type: "counter",
    samples: [{ value }],
  });
  return [
    gauge("redis_up", "1 while the data node serves commands.", 1),
    gauge(
      "redis_uptime_seconds",
      "Seconds since start.",
      Math.floor((Date.now() - s.startMs) / 1000),
    ),
    gauge("redis_connected_clients", "Connected clients.", s.clients.size),
    gauge("redis_memory_used_bytes", "Estimated memory in use.", memoryStats(s).used),
    gauge(
      "redis_memory_max_bytes",
      "maxmemory (0 = unlimited).",
      s.config.get<number>("maxmemory"),
    ),
    counter("redis_commands_processed_total", "Commands processed.", st.totalCommands),
    counter("redis_connections_received_total", "Connections accepted.", st.totalConnections),
    counter("redis_keyspace_hits_total", "Successful key lookups.", st.keyspaceHits),
    counter("redis_keyspace_misses_total", "Failed key lookups.", st.keyspaceMisses),
    counter("redis_expired_keys_total", "Keys expired.", st.expiredKeys),
    counter("redis_evicted_keys_total", "Keys evicted by maxmemory.", st.evictedKeys),
    counter("redis_error_replies_total", "Error replies sent.", st.totalErrorReplies),
    {
      name: "redis_commands_total",
      help: "Calls per command.",
      type: "counter",
      samples: [...st.commands].map(([cmd, c]) => ({ labels: { cmd }, value: c.calls })),
    },
    {
      name: "redis_db_keys",
      help: "Keys per database.",
      type: "gauge",
      samples: s.dbs.filter((d) => d.size > 0).map((d) => ({
        labels: { db: `db${d.id}` },
        value: d.size,
      })),
    },
    {
      name: "redis_instance_info",
      help: "Role of this node (value is always 1).",
      type: "gauge",
      samples: [{ labels: { role: s.role, run_id: s.runId }, value: 1 }],
    },
  ];
}

const ConfigMap = z.record(z.string(), z.string()).openapi("ConfigMap", {
  description: "directive: value, as CONFIG GET shows them",
  example: { maxmemory: "0", "maxmemory-policy": "noeviction" },
});

const ConfigSetBody = z.record(
  z.string(),
  z.string({ error: "values must be strings" }),
  { error: "expected an object of directive: value" },
).openapi("ConfigSetRequest", {
  description: "directive: value pairs, set at once as one CONFIG SET (all or none)",
  example: { maxmemory: "100mb" },
});

const Ok = z.object({ ok: z.literal(true) }).openapi("Ok");

const configGetRoute = createRoute({
  method: "get",
  path: "/config",
  tags: ["config"],
  summary: "CONFIG GET",
  request: {
    query: z.object({
      pattern: z.string().optional().openapi({
        description: "glob over directive names (default *)",
        example: "maxmemory*",
      }),
    }),
  },
  responses: { 200: jsonResponse(ConfigMap, "The matching directives") },
});

const configSetRoute = createRoute({
  method: "post",
  path: "/config",
  tags: ["config"],
  summary: "CONFIG SET",
  security: ADMIN_TOKEN_SECURITY,
  middleware: lenientJson,
  request: { body: jsonBody(ConfigSetBody) },
  responses: {
    200: jsonResponse(Ok, "Applied"),
    ...errorResponses(400, 401, 403, 422),
  },
});

const clientKillRoute = createRoute({
  method: "post",
  path: "/clients/{id}/kill",
  tags: ["clients"],
  summary: "CLIENT KILL ID",
  security: ADMIN_TOKEN_SECURITY,
  request: {
    params: z.object({
      id: z.string().openapi({ description: "the client's ID (CLIENT LIST id=)", example: "7" }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ ok: z.literal(true), killed: z.int() }).openapi("ClientKilled"),
      "Closed",
    ),
    ...errorResponses(401, 403, 404),
  },
});

export function createDataNodeAdmin(s: Server): AdminApp {
  const app = createAdminApp({
    role: "data-node",
    token: () => s.config.getString("admin-token") || undefined,
    exposed: () => !isLoopbackAddress(s.config.getString("admin-bind")),
    info: (section) => infoSections(s, section),
    metrics: () => [...metrics(s), ...replicationMetrics(s), ...clusterMetrics(s)],
    health: () => ({ ok: !s.shuttingDown, port: s.boundPort(), clients: s.clients.size }),
  });
  app.openapi(configGetRoute, (c) => {
    const pattern = c.req.valid("query").pattern ?? "*";
    return c.json(Object.fromEntries(s.config.configGet([pattern])), 200);
  });
  app.openapi(configSetRoute, (c) => {
    const body = c.req.valid("json");
    try {
      s.config.configSet(Object.entries(body));
    } catch (e) {
      if (e instanceof ConfigSetError) throw new AdminError(422, "config_rejected", e.message);
      throw e;
    }
    return c.json({ ok: true as const }, 200);
  });
  app.openapi(clientKillRoute, (c) => {
    const { id: raw } = c.req.valid("param");
    const id = Number(raw);
    const client = s.clients.get(id);
    if (!client) throw new AdminError(404, "no_such_client", `no client with id ${raw}`);
    client.close();
    return c.json({ ok: true as const, killed: id }, 200);
  });
  addReplicationRoutes(app, s);
  addClusterRoutes(app, s);
  return app;
}

/** Where the admin API listens: admin-port 0 is the data port + 1000, -1 is no admin API. */
function adminEndpoint(s: Server): { hostname: string; port: number } | null {
  const configured = s.config.get<number>("admin-port");
  if (configured < 0) return null;
  const port = configured === 0 ? defaultAdminPort(s.boundPort()) : configured;
  return { hostname: s.config.getString("admin-bind"), port };
}

/**
 * Serves the admin API per admin-port/admin-bind, and moves it when CONFIG SET changes them,
 * as Redis moves its listeners for port and bind: the new address is opened before the old one
 * closes, so a failure leaves the API where it was and CONFIG SET answers Redis's error.
 */
export function startDataNodeAdmin(s: Server): { shutdown(): Promise<void> } {
  const log = getLogger(["data-node", "admin"]);
  const app = createDataNodeAdmin(s);
  let current: AdminHandle | null = null;
  let at: { hostname: string; port: number } | null = null;

  const serve = (where: { hostname: string; port: number }): AdminHandle => {
    const h = serveAdmin(app, where);
    log.info("Admin API on http://{host}:{port}", { host: where.hostname, port: h.addr.port });
    return h;
  };

  at = adminEndpoint(s);
  if (at) {
    try {
      current = serve(at);
    } catch (e) {
      log.warn("admin API not started on {port}: {err}", { port: at.port, err: String(e) });
      at = null;
    }
  }

  /** Counts moves: a move still waiting for the old server to stop gives way to a later one. */
  let moves = 0;
  const move = (failure: string): string | undefined => {
    const next = adminEndpoint(s);
    if (next?.hostname === at?.hostname && next?.port === at?.port) return undefined;
    const gen = ++moves;
    const old = current;
    if (!next) {
      current = at = null;
      void old?.shutdown();
      return undefined;
    }
    try {
      current = serve(next);
    } catch (e) {
      // The same port on an address that overlaps the old one: the old server must stop first,
      // and its socket is free only once it has finished. The move then completes after the
      // reply; a failure is logged and the old address served again.
      if (old && at && next.port === at.port && e instanceof Deno.errors.AddrInUse) {
        const prev = at;
        current = null;
        at = next;
        void old.shutdown().then(() => {
          if (gen !== moves) return;
          try {
            current = serve(next);
          } catch (e2) {
            log.warn("admin API not moved to {host}:{port}: {err}", {
              host: next.hostname,
              port: next.port,
              err: String(e2),
            });
            try {
              current = serve(prev);
              at = prev;
            } catch (e3) {
              log.warn("admin API stopped: {err}", { err: String(e3) });
              at = null;
            }
          }
        });
        return undefined;
      }
      log.warn("admin API not moved to {host}:{port}: {err}", {
        host: next.hostname,
        port: next.port,
        err: String(e),
      });
      return failure;
    }
    at = next;
    void old?.shutdown();
    return undefined;
  };
  s.config.onChange("admin-port", () => move(LISTEN_FAILED));
  s.config.onChange("admin-bind", () => move(BIND_FAILED));
  return {
    shutdown: async () => {
      moves++;
      const h = current;
      current = at = null;
      await h?.shutdown();
    },
  };
}
