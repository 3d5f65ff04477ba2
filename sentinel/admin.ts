/**
 * The sentinel's HTTP admin API: the shared routes (health, info, metrics, openapi.json), the
 * monitored masters as JSON (GET /masters, GET /masters/{name}), SENTINEL MONITOR / REMOVE /
 * FAILOVER over HTTP, and the events (GET /events as JSON, GET /events/stream as Server-Sent
 * Events).
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
import type { Master } from "./state.ts";
import { type AdminHandle, defaultAdminPort, serveAdmin } from "../shared/admin/serve.ts";
import { getLogger } from "../shared/log.ts";
import type { SentinelServer } from "./server.ts";
import { flagsOf } from "./state.ts";

const Instance = z.object({
  ip: z.string(),
  port: z.int(),
  runid: z.string().nullable(),
  flags: z.string().openapi({ description: "SENTINEL REPLICAS/SENTINELS flags" }),
});

const MasterView = z.object({
  name: z.string(),
  ip: z.string(),
  port: z.int(),
  status: z.enum(["ok", "sdown", "odown"]),
  flags: z.string(),
  quorum: z.int(),
  configEpoch: z.int(),
  failoverState: z.string(),
  replicas: z.array(Instance),
  sentinels: z.array(Instance),
}).openapi("SentinelMaster");

const mastersRoute = createRoute({
  method: "get",
  path: "/masters",
  tags: ["sentinel"],
  summary: "The monitored masters: address, state, replicas and the other sentinels",
  responses: { 200: jsonResponse(z.array(MasterView), "Masters") },
});

const NameParam = z.object({ name: z.string().openapi({ param: { name: "name", in: "path" } }) });

const masterRoute = createRoute({
  method: "get",
  path: "/masters/{name}",
  tags: ["sentinel"],
  summary: "One monitored master (SENTINEL MASTER, REPLICAS and SENTINELS together)",
  request: { params: NameParam },
  responses: { 200: jsonResponse(MasterView, "The master"), ...errorResponses(404) },
});

const MonitorBody = z.strictObject({
  name: z.string().min(1, { error: "must not be empty" }),
  host: z.string().min(1, { error: "must not be empty" }),
  port: z.int({ error: "must be an integer from 1 to 65535" }).min(1, {
    error: "must be an integer from 1 to 65535",
  }).max(65535, { error: "must be an integer from 1 to 65535" }),
  quorum: z.int({ error: "must be a positive integer" }).min(1, {
    error: "must be a positive integer",
  }),
}).openapi("MonitorRequest", {
  example: { name: "mymaster", host: "10.0.0.5", port: 6379, quorum: 2 },
});

const Ok = z.object({ ok: z.literal(true) });

const monitorRoute = createRoute({
  method: "post",
  path: "/masters",
  tags: ["sentinel"],
  summary: "SENTINEL MONITOR: start monitoring a master",
  security: ADMIN_TOKEN_SECURITY,
  middleware: lenientJson,
  request: { body: jsonBody(MonitorBody) },
  responses: { 200: jsonResponse(Ok, "Monitored"), ...errorResponses(400, 401, 403, 409) },
});

const removeRoute = createRoute({
  method: "delete",
  path: "/masters/{name}",
  tags: ["sentinel"],
  summary: "SENTINEL REMOVE: stop monitoring a master",
  security: ADMIN_TOKEN_SECURITY,
  request: { params: NameParam },
  responses: { 200: jsonResponse(Ok, "Removed"), ...errorResponses(401, 403, 404) },
});

const failoverRoute = createRoute({
  method: "post",
  path: "/masters/{name}/failover",
  tags: ["sentinel"],
  summary: "SENTINEL FAILOVER: fail over now, without agreement from other sentinels",
  security: ADMIN_TOKEN_SECURITY,
  request: { params: NameParam },
  responses: { 200: jsonResponse(Ok, "Started"), ...errorResponses(401, 403, 404, 409) },
});

const Event = z.object({
  time: z.int().openapi({ description: "milliseconds since the epoch" }),
  level: z.enum(["debug", "notice", "warning"]),
  type: z.string().openapi({ example: "+switch-master" }),
  message: z.string().openapi({ example: "mymaster 10.0.0.5 6379 10.0.0.6 6379" }),
}).openapi("SentinelEvent");

const eventsRoute = createRoute({
  method: "get",
  path: "/events",
  tags: ["sentinel"],
  summary: "The last events (oldest first), as published on their channels",
  responses: { 200: jsonResponse(z.array(Event), "Events") },
});

const eventStreamRoute = createRoute({
  method: "get",
  path: "/events/stream",
  tags: ["sentinel"],
  summary: "New events as Server-Sent Events (event: <type>, data: the event as JSON)",
  responses: {
    200: {
      description: "text/event-stream",
      content: { "text/event-stream": { schema: z.string() } },
    },
  },
});

function infoSections(srv: SentinelServer, section?: string) {
  const text = srv.info(section ? [section] : []);
  const out: Record<string, Record<string, string>> = {};
  let cur: Record<string, string> | null = null;
  for (const line of text.split("\r\n")) {
    if (line.startsWith("# ")) {
      cur = {};
      out[line.slice(2).toLowerCase()] = cur;
    } else if (cur && line.includes(":")) {
      const i = line.indexOf(":");
      cur[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return out;
}

function metrics(srv: SentinelServer): Metric[] {
  const mon = srv.rt.monitor;
  const per = (fn: (name: string) => number) =>
    [...mon.masters.keys()].map((name) => ({ labels: { master: name }, value: fn(name) }));
  const m = (name: string) => mon.masters.get(name)!;
  return [
    {
      name: "sentinel_up",
      help: "1 while the sentinel runs.",
      type: "gauge",
      samples: [{ value: 1 }],
    },
    {
      name: "sentinel_masters",
      help: "Monitored masters.",
      type: "gauge",
      samples: [{ value: mon.masters.size }],
    },
    {
      name: "sentinel_tilt",
      help: "1 while in TILT mode.",
      type: "gauge",
      samples: [{ value: mon.tilt ? 1 : 0 }],
    },
    {
      name: "sentinel_master_status",
      help: "0 ok, 1 subjectively down, 2 objectively down.",
      type: "gauge",
      samples: per((n) => m(n).odown ? 2 : m(n).sdown ? 1 : 0),
    },
    {
      name: "sentinel_master_replicas",
      help: "Known replicas of the master.",
      type: "gauge",
      samples: per((n) => m(n).replicas.size),
    },
    {
      name: "sentinel_master_sentinels",
      help: "Sentinels monitoring the master, this one included.",
      type: "gauge",
      samples: per((n) => m(n).sentinels.size + 1),
    },
    {
      name: "sentinel_master_config_epoch",
      help: "The master's configuration epoch.",
      type: "gauge",
      samples: per((n) => m(n).configEpoch),
    },
    {
      name: "sentinel_master_failovers_total",
      help: "Switches of the master's address this sentinel has seen (+switch-master).",
      type: "counter",
      samples: per((n) => srv.rt.failovers.get(n)?.switches ?? 0),
    },
    {
      name: "sentinel_master_last_failover_seconds",
      help: "Duration of the last failover this sentinel tried, +try-failover to +switch-master.",
      type: "gauge",
      samples: per((n) => (srv.rt.failovers.get(n)?.lastDurationMs ?? 0) / 1000),
    },
    {
      name: "sentinel_current_epoch",
      help: "This sentinel's current epoch.",
      type: "gauge",
      samples: [{ value: srv.rt.cfg.currentEpoch }],
    },
  ];
}

export function createSentinelAdmin(srv: SentinelServer): AdminApp {
  const cfg = srv.rt.cfg;
  const app = createAdminApp({
    role: "sentinel",
    token: () => cfg.adminToken || undefined,
    exposed: () => !isLoopbackAddress(cfg.adminBind),
    info: (section) => infoSections(srv, section),
    metrics: () => metrics(srv),
    health: () => ({ ok: true, masters: srv.rt.monitor.masters.size }),
  });
  const view = (m: Master) => ({
    name: m.name,
    ip: srv.rt.monitor.addr(m),
    port: m.port,
    status: m.odown ? "odown" as const : m.sdown ? "sdown" as const : "ok" as const,
    flags: flagsOf(m),
    quorum: m.config.quorum,
    configEpoch: m.configEpoch,
    failoverState: m.failoverState,
    replicas: [...m.replicas.values()].map((r) => ({
      ip: srv.rt.monitor.addr(r),
      port: r.port,
      runid: r.runid,
      flags: flagsOf(r),
    })),
    sentinels: [...m.sentinels.values()].map((s) => ({
      ip: srv.rt.monitor.addr(s),
      port: s.port,
      runid: s.runid,
      flags: flagsOf(s),
    })),
  });
  const mon = srv.rt.monitor;
  const find = (name: string): Master => {
    const m = mon.masters.get(name);
    if (!m) throw new AdminError(404, "no_such_master", `no master named '${name}'`);
    return m;
  };
  app.openapi(mastersRoute, (c) => c.json([...mon.masters.values()].map(view), 200));
  app.openapi(masterRoute, (c) => c.json(view(find(c.req.valid("param").name)), 200));
  app.openapi(monitorRoute, (c) => {
    const b = c.req.valid("json");
    if (mon.masters.has(b.name)) {
      throw new AdminError(409, "duplicated_master", `a master named '${b.name}' is monitored`);
    }
    mon.monitor(b.name, b.host, b.port, b.quorum);
    return c.json({ ok: true as const }, 200);
  });
  app.openapi(removeRoute, (c) => {
    mon.remove(find(c.req.valid("param").name));
    return c.json({ ok: true as const }, 200);
  });
  app.openapi(failoverRoute, (c) => {
    const err = mon.forceFailover(find(c.req.valid("param").name));
    if (err) throw new AdminError(409, "failover_refused", err.slice(1));
    return c.json({ ok: true as const }, 200);
  });
  app.openapi(eventsRoute, (c) => c.json(srv.rt.events, 200));
  app.openapi(eventStreamRoute, (c) => {
    const enc = new TextEncoder();
    let listener: ((e: { type: string }) => void) | null = null;
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(enc.encode(": sentinel events\n\n"));
        listener = (e) => {
          try {
            ctrl.enqueue(enc.encode(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`));
          } catch { /* the client went away */ }
        };
        srv.rt.eventListeners.add(listener);
      },
      cancel() {
        if (listener) srv.rt.eventListeners.delete(listener);
      },
    });
    return c.body(body, 200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
    }) as never;
  });
  return app;
}

/** Serves the admin API where the config says (admin-port -1: not at all). */
export function startSentinelAdmin(srv: SentinelServer): AdminHandle | null {
  const cfg = srv.rt.cfg;
  if (cfg.adminPort === -1) return null;
  const log = getLogger(["sentinel", "admin"]);
  const port = cfg.adminPort || defaultAdminPort(srv.boundPort);
  try {
    const h = serveAdmin(createSentinelAdmin(srv), { hostname: cfg.adminBind, port });
    log.info("Admin API on http://{host}:{port}", { host: cfg.adminBind, port: h.addr.port });
    return h;
  } catch (e) {
    log.warn("admin API not started on {port}: {err}", { port, err: String(e) });
    return null;
  }
}
