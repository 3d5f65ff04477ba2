import { deepEqual, equal, match } from "node:assert/strict";
import {
  AdminError,
  createAdminApp,
  isLoopbackAddress,
  jsonBody,
  jsonResponse,
  lenientJson,
  renderPrometheus,
  z,
} from "./app.ts";
import { createRoute } from "@hono/zod-openapi";
import { defaultAdminPort } from "./serve.ts";

function app(token?: string, ok = true, exposed = false) {
  const a = createAdminApp({
    role: "test",
    token: () => token,
    exposed: () => exposed,
    info: (section) => {
      const all = { server: { redis_version: "7.0.15" }, keyspace: { db0: "keys=1" } };
      return section
        ? { [section]: (all as Record<string, Record<string, string>>)[section]! }
        : all;
    },
    metrics: () => [{
      name: "x_total",
      help: "x",
      type: "counter",
      samples: [{ labels: { a: 'q"\\' }, value: 3 }],
    }],
    health: () => ({ ok }),
  });
  a.post("/thing", (c) => c.json({ done: true }));
  a.get("/boom", () => {
    throw new AdminError(409, "conflict", "busy");
  });
  return a;
}

Deno.test("health reports ok or fail with 503", async () => {
  equal((await app().request("/health")).status, 200);
  const r = await app(undefined, false).request("/health");
  equal(r.status, 503);
  equal((await r.json()).status, "fail");
});

Deno.test("info serves all sections or one, and a JSON 404 for unknown ones", async () => {
  equal(
    (await (await app().request("/info?section=server")).json()).server.redis_version,
    "7.0.15",
  );
  const r = await app().request("/info?section=nope");
  equal(r.status, 404);
  equal((await r.json()).error, "no_such_section");
});

Deno.test("metrics use the Prometheus text format with escaped labels", async () => {
  const t = await (await app().request("/metrics")).text();
  match(t, /# HELP x_total x\n# TYPE x_total counter\nx_total\{a="q\\"\\\\"\} 3\n/);
  equal(renderPrometheus([]), "");
});

Deno.test("mutating routes need the bearer token when one is set, routes added later too", async () => {
  equal((await app().request("/thing", { method: "POST" })).status, 200);
  equal((await app("t").request("/thing", { method: "POST" })).status, 401);
  const wrong = await app("t").request("/thing", {
    method: "POST",
    headers: { authorization: "Bearer x" },
  });
  equal(wrong.status, 401);
  const right = await app("t").request("/thing", {
    method: "POST",
    headers: { authorization: "Bearer t" },
  });
  equal(right.status, 200);
  equal((await app("t").request("/health")).status, 200);
});

Deno.test("errors are JSON with a reason", async () => {
  const r = await app().request("/boom");
  equal(r.status, 409);
  equal((await r.json()).reason, "busy");
  equal((await app().request("/nowhere")).status, 404);
});

Deno.test("the default admin port never collides with the data or bus port", () => {
  for (let p = 1; p <= 65535; p++) {
    const a = defaultAdminPort(p);
    if (a === p || a === p + 10000 || a < 1 || a > 65535) {
      throw new Error(`bad admin port for ${p}`);
    }
  }
});

Deno.test("protected mode: beyond loopback without a token, mutating routes answer 403", async () => {
  const exposed = app(undefined, true, true);
  const r = await exposed.request("/thing", { method: "POST" });
  equal(r.status, 403);
  const body = await r.json();
  equal(body.error, "protected_mode");
  match(body.reason, /admin-token/);
  match(body.reason, /admin-bind/);
  for (const method of ["PUT", "PATCH", "DELETE"]) {
    equal((await exposed.request("/thing", { method })).status, 403, method);
  }
  // Read routes keep working.
  equal((await exposed.request("/health")).status, 200);
  equal((await exposed.request("/info?section=server")).status, 200);
  equal((await exposed.request("/metrics")).status, 200);
  // With a token the usual bearer check applies; on loopback no token is needed.
  const guarded = app("t", true, true);
  equal((await guarded.request("/thing", { method: "POST" })).status, 401);
  const right = await guarded.request("/thing", {
    method: "POST",
    headers: { authorization: "Bearer t" },
  });
  equal(right.status, 200);
  equal((await app(undefined, true, false).request("/thing", { method: "POST" })).status, 200);
});

Deno.test("loopback addresses are 127.0.0.0/8, ::1 and localhost", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
    equal(isLoopbackAddress(h), true, h);
  }
  for (const h of ["0.0.0.0", "::", "", "10.0.0.1", "192.168.1.10", "128.0.0.1", "example"]) {
    equal(isLoopbackAddress(h), false, h);
  }
});

Deno.test("routes declared with schemas: validation failures are 400 {error, reason}, documented in /openapi.json", async () => {
  const a = app();
  a.openapi(
    createRoute({
      method: "post",
      path: "/things/{n}",
      middleware: lenientJson,
      request: {
        params: z.object({ n: z.string().regex(/^\d+$/, { error: "must be digits" }) }),
        body: jsonBody(z.strictObject({ size: z.int({ error: "must be an integer" }) })),
      },
      responses: { 200: jsonResponse(z.object({ size: z.int() }), "ok") },
    }),
    (c) => c.json({ size: c.req.valid("json").size }, 200),
  );
  const send = (path: string, body: string) => a.request(path, { method: "POST", body });
  let r = await send("/things/1", '{"size": 3}');
  equal(r.status, 200);
  equal((await r.json()).size, 3);
  r = await send("/things/1", '{"size": "3"}');
  equal(r.status, 400);
  deepEqual(await r.json(), { error: "bad_request", reason: "size: must be an integer" });
  r = await send("/things/x", '{"size": 3}');
  deepEqual(await r.json(), { error: "bad_request", reason: "param n: must be digits" });
  r = await send("/things/1", '{"size": 3, "colour": "red"}');
  deepEqual(await r.json(), { error: "bad_request", reason: 'unknown field "colour"' });
  r = await send("/things/1", "size=3");
  deepEqual(await r.json(), { error: "bad_request", reason: "body is not valid JSON" });

  const doc = await (await a.request("/openapi.json")).json();
  match(doc.openapi, /^3\./);
  equal(doc.info.title, "test admin API");
  deepEqual(Object.keys(doc.paths).sort(), [
    "/health",
    "/info",
    "/metrics",
    "/openapi.json",
    "/things/{n}",
  ]);
  equal(doc.paths["/info"].get.parameters[0].name, "section");
  equal(doc.paths["/metrics"].get.responses["200"].content["text/plain"] !== undefined, true);
});
