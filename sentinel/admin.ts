/**
 * The sentinel's HTTP admin API: the shared routes (health, info, metrics, openapi.json) and
 * GET /masters, the monitored masters with their state, replicas and peers as JSON.
 */
import { createRoute } from "@hono/zod-openapi";
import {
  type AdminApp,
  createAdminApp,
  isLoopbackAddress,
  jsonResponse,
  type Metric,
  z,
} from "../shared/admin/app.ts";
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
  app.openapi(mastersRoute, (c) => {
    const list = [...srv.rt.monitor.masters.values()].map((m) => ({
      name: m.name,
      ip: m.host,
      port: m.port,
      status: m.odown ? "odown" as const : m.sdown ? "sdown" as const : "ok" as const,
      flags: flagsOf(m),
      quorum: m.config.quorum,
      configEpoch: m.configEpoch,
      failoverState: m.failoverState,
      replicas: [...m.replicas.values()].map((r) => ({
        ip: r.host,
        port: r.port,
        runid: r.runid,
        flags: flagsOf(r),
      })),
      sentinels: [...m.sentinels.values()].map((s) => ({
        ip: s.host,
        port: s.port,
        runid: s.runid,
        flags: flagsOf(s),
      })),
    }));
    return c.json(list, 200);
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
