/**
 * The data node's cluster admin route and metrics: GET /cluster (this node's view of the
 * cluster: state, epochs, nodes with their slots, as CLUSTER INFO and CLUSTER NODES give it, as
 * JSON) and the cluster gauges of /metrics. Both answer on a node without cluster mode too
 * (enabled: false, no metrics).
 */
import { createRoute } from "@hono/zod-openapi";
import { type AdminApp, jsonResponse, type Metric, z } from "../shared/admin/app.ts";
import type { Server } from "./server/server.ts";
import { flagsText, slotRanges } from "./cluster/state.ts";

const NodeView = z.object({
  id: z.string(),
  ip: z.string(),
  port: z.int(),
  busPort: z.int(),
  hostname: z.string(),
  flags: z.string().openapi({ example: "myself,master" }),
  master: z.string().nullable().openapi({ description: "the master's id, for a replica" }),
  configEpoch: z.int(),
  link: z.enum(["connected", "disconnected"]),
  slots: z.array(z.tuple([z.int(), z.int()])).openapi({ description: "slot ranges [start, end]" }),
}).openapi("ClusterNode");

const ClusterView = z.object({
  enabled: z.boolean(),
  state: z.enum(["ok", "fail"]).optional(),
  currentEpoch: z.int().optional(),
  size: z.int().optional().openapi({ description: "masters serving slots (cluster_size)" }),
  slotsAssigned: z.int().optional(),
  myself: z.string().optional(),
  nodes: z.array(NodeView).optional(),
}).openapi("Cluster");

const clusterRoute = createRoute({
  method: "get",
  path: "/cluster",
  tags: ["cluster"],
  summary: "This node's view of the cluster: state, epochs, nodes and their slots",
  responses: { 200: jsonResponse(ClusterView, "The cluster") },
});

export function clusterView(s: Server): z.infer<typeof ClusterView> {
  const cl = s.cluster;
  if (!cl) return { enabled: false };
  const st = cl.st;
  return {
    enabled: true,
    state: st.state,
    currentEpoch: Number(st.currentEpoch),
    size: st.size,
    slotsAssigned: st.slotCounts().assigned,
    myself: st.myself.name,
    nodes: [...st.nodes.values()].map((n) => ({
      id: n.name,
      ip: n.ip,
      port: n.port,
      busPort: n.cport,
      hostname: n.hostname,
      flags: flagsText(n),
      master: n.slaveof,
      configEpoch: Number(n.configEpoch),
      link: n === st.myself || n.linkUp ? "connected" as const : "disconnected" as const,
      slots: slotRanges(n.slots),
    })),
  };
}

export function addClusterRoutes(app: AdminApp, s: Server): void {
  app.openapi(clusterRoute, (c) => c.json(clusterView(s), 200));
}

/** Cluster gauges for /metrics (none without cluster mode). */
export function clusterMetrics(s: Server): Metric[] {
  const cl = s.cluster;
  if (!cl) return [];
  const st = cl.st;
  const counts = st.slotCounts();
  const gauge = (name: string, help: string, value: number): Metric => ({
    name,
    help,
    type: "gauge",
    samples: [{ value }],
  });
  return [
    gauge("redis_cluster_state_ok", "1 when cluster_state is ok.", st.state === "ok" ? 1 : 0),
    gauge("redis_cluster_slots_assigned", "Slots served by some node.", counts.assigned),
    gauge("redis_cluster_slots_ok", "Slots served by a node not failing.", counts.ok),
    gauge("redis_cluster_slots_pfail", "Slots of nodes possibly failing.", counts.pfail),
    gauge("redis_cluster_slots_fail", "Slots of failed nodes.", counts.fail),
    gauge("redis_cluster_known_nodes", "Nodes this node knows.", st.nodes.size),
    gauge("redis_cluster_size", "Masters serving slots.", st.size),
    gauge("redis_cluster_current_epoch", "The cluster's current epoch.", Number(st.currentEpoch)),
    {
      name: "redis_cluster_messages_total",
      help: "Cluster bus messages, by direction and type.",
      type: "counter",
      samples: [
        ...[...cl.stats.sent].map(([type, n]) => ({
          labels: { direction: "sent", type },
          value: n,
        })),
        ...[...cl.stats.received].map(([type, n]) => ({
          labels: { direction: "received", type },
          value: n,
        })),
      ],
    },
  ];
}
