/**
 * In-process harness for unit tests: a Server that never listens and clients without sockets.
 * `run(c, "SET", "k", "v")` executes through the real dispatcher and decodes the reply.
 */
import { Config } from "../shared/config/schema.ts";
import { NEED_MORE, RespDecoder, type RespValue } from "../shared/resp/mod.ts";
import { DATA_NODE_PARAMS } from "./config.ts";
import { buildCommandTable } from "./commands/table.ts";
import type { Client } from "./server/client.ts";
import { processCommand } from "./server/dispatch.ts";
import { Server } from "./server/server.ts";

export function testServer(directives: Record<string, string> = {}): Server {
  const config = new Config(DATA_NODE_PARAMS);
  config.load(
    Object.entries(directives).map(([name, v], i) => ({
      name,
      args: [v],
      file: "(test)",
      line: i + 1,
    })),
  );
  const s = new Server(config, buildCommandTable());
  s.exit = () => {};
  return s;
}

export function testClient(s: Server, proto: 2 | 3 = 2): Client {
  const c = s.newClient(null, "127.0.0.1:40000", "127.0.0.1:6379");
  c.proto = proto;
  return c;
}

/** Runs one command and returns its decoded reply (or replies, when several were written). */
export async function run(s: Server, c: Client, ...argv: string[]): Promise<RespValue> {
  const p = processCommand(s, c, argv);
  if (p) await p;
  return drain(c)[0] ?? null;
}

/** Every reply written to the client so far, decoded. */
export function drain(c: Client): RespValue[] {
  const dec = new RespDecoder();
  dec.push(c.out.take());
  const out: RespValue[] = [];
  for (let v = dec.next(); v !== NEED_MORE; v = dec.next()) out.push(v);
  return out;
}
