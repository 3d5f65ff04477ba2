import { equal, ok } from "node:assert/strict";
import { createProxyAdmin } from "./admin.ts";
import { ProxyServer } from "./proxy/server.ts";
import { parseClusterSlots } from "./proxy/slot_map.ts";

function proxy(): ProxyServer {
  return new ProxyServer({
    bind: "127.0.0.1",
    port: 0,
    seeds: ["127.0.0.1:1"],
    timeoutMs: 200,
    refreshIntervalMs: 0,
    maxClients: 10,
  });
}

Deno.test("admin: topology, health and metrics describe the slot map", async () => {
  const p = proxy();
  const app = createProxyAdmin(p, { port: 0, bind: "127.0.0.1" });
  let r = await app.request("/health");
  equal(r.status, 503, "no slot map yet");
  const map = parseClusterSlots([
    [0, 8191, ["127.0.0.1", 7000, "a"], ["127.0.0.1", 7002, "c"]],
    [8192, 16383, ["127.0.0.1", 7001, "b"]],
  ], "127.0.0.1");
  if (typeof map === "string") throw new Error(map);
  p.cluster.map = map;
  p.cluster.refreshedAt = 1;
  r = await app.request("/health");
  equal(r.status, 200);
  equal((await r.json()).masters, 2);
  r = await app.request("/topology");
  const t = await r.json();
  equal(t.uncoveredSlots, 0);
  equal(t.ranges[0].replicas[0], "127.0.0.1:7002");
  const m = await (await app.request("/metrics")).text();
  ok(m.includes('cluster_bus_redirects_total{kind="moved"} 0'), m);
  ok(m.includes("cluster_bus_requests_total 0"), m);
  const doc = await (await app.request("/openapi.json")).json();
  ok(doc.paths["/topology"] && doc.paths["/refresh"]);
});

Deno.test("admin: refresh with no reachable node is a 503 with a JSON reason", async () => {
  const p = proxy();
  try {
    const app = createProxyAdmin(p, { port: 0, bind: "127.0.0.1" });
    const r = await app.request("/refresh", { method: "POST" });
    equal(r.status, 503);
    const body = await r.json();
    equal(body.error, "unavailable");
    ok(body.reason.includes("CLUSTER SLOTS"));
    const exposed = createProxyAdmin(p, { port: 0, bind: "0.0.0.0" });
    equal((await exposed.request("/refresh", { method: "POST" })).status, 403);
    const withToken = createProxyAdmin(p, { port: 0, bind: "0.0.0.0", token: "t" });
    equal((await withToken.request("/refresh", { method: "POST" })).status, 401);
  } finally {
    await p.close();
  }
});

Deno.test("admin: POST /reshard validates its body with JSON reasons", async () => {
  const p = proxy();
  try {
    const app = createProxyAdmin(p, { port: 0, bind: "127.0.0.1" });
    const post = (body: string) => app.request("/reshard", { method: "POST", body });
    let r = await post("not json");
    equal(r.status, 400);
    equal((await r.json()).reason, "body is not valid JSON");
    r = await post(JSON.stringify({ to: "abc", slots: 0 }));
    equal(r.status, 400);
    const reason = (await r.json()).reason as string;
    ok(reason.includes("to: must be a 40-character node id"), reason);
    ok(reason.includes("slots: must be an integer from 1 to 16384"), reason);
    r = await post(JSON.stringify({ to: "a".repeat(40), slots: 10, extra: 1 }));
    equal(r.status, 400);
    ok((await r.json()).reason.includes('unknown field "extra"'));
    r = await post(JSON.stringify({ to: "a".repeat(40), slots: 10 }));
    equal(r.status, 503, "no master known yet");
  } finally {
    await p.close();
  }
});
