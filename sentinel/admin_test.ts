import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { defaultConfig } from "./config.ts";
import { Runtime } from "./runtime.ts";
import { SentinelServer } from "./server.ts";
import { createSentinelAdmin } from "./admin.ts";

function sentinel() {
  const cfg = defaultConfig();
  cfg.myid = "e".repeat(40);
  const rt = new Runtime(cfg, null);
  const srv = new SentinelServer(rt, "");
  return { rt, srv, app: createSentinelAdmin(srv) };
}

const json = (method: string, body?: unknown) => ({
  method,
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

Deno.test("sentinel admin: monitor, view, fail over, remove, events, as SENTINEL does", async () => {
  const { rt, app } = sentinel();
  let r = await app.request(
    "/masters",
    json("POST", { name: "m1", host: "127.0.0.1", port: 1, quorum: 2 }),
  );
  equal(r.status, 200);
  deepStrictEqual(await r.json(), { ok: true });
  r = await app.request(
    "/masters",
    json("POST", { name: "m1", host: "127.0.0.1", port: 1, quorum: 2 }),
  );
  equal(r.status, 409);
  equal((await r.json()).error, "duplicated_master");
  r = await app.request("/masters", json("POST", { name: "m2", host: "h", port: 0, quorum: 1 }));
  equal(r.status, 400);
  ok((await r.json()).reason.includes("port"));

  const list = await (await app.request("/masters")).json();
  equal(list.length, 1);
  equal(list[0].name, "m1");
  equal(list[0].status, "ok");
  equal(list[0].quorum, 2);
  equal((await (await app.request("/masters/m1")).json()).port, 1);
  equal((await app.request("/masters/nope")).status, 404);

  // No replica to promote: SENTINEL FAILOVER's refusal.
  r = await app.request("/masters/m1/failover", json("POST"));
  equal(r.status, 409);
  deepStrictEqual(await r.json(), {
    error: "failover_refused",
    reason: "NOGOODSLAVE No suitable replica to promote",
  });

  const events = await (await app.request("/events")).json();
  ok(
    events.some((e: { type: string; message: string }) =>
      e.type === "+monitor" && e.message.startsWith("master m1 127.0.0.1 1")
    ),
  );
  r = await app.request("/masters/m1", json("DELETE"));
  equal(r.status, 200);
  equal(rt.monitor.masters.size, 0);
  equal(rt.cfg.masters.size, 0);

  const doc = await (await app.request("/openapi.json")).json();
  for (const path of ["/masters", "/masters/{name}", "/masters/{name}/failover", "/events"]) {
    ok(doc.paths[path], path);
  }
  const metrics = await (await app.request("/metrics")).text();
  ok(metrics.includes("sentinel_masters 0"));
  await rt.stop();
});

Deno.test("sentinel admin: the event stream sends new events as Server-Sent Events", async () => {
  const { rt, app } = sentinel();
  const r = await app.request("/events/stream");
  equal(r.status, 200);
  equal(r.headers.get("content-type"), "text/event-stream");
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read(); // the opening comment
  rt.monitor.monitor("m", "127.0.0.1", 1, 1);
  let text = "";
  while (!text.includes("\n\n")) text += (await reader.read()).value ?? "";
  ok(text.startsWith("event: +monitor\ndata: "), text);
  equal(JSON.parse(text.split("data: ")[1]!.trim()).type, "+monitor");
  await reader.cancel();
  await rt.stop();
});
