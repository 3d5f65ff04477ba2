import { equal, match } from "node:assert/strict";
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
