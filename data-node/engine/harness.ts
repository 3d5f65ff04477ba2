/**
 * An engine without sockets, for tests of command families: a server with an injected fake
 * clock, clients with no connection, and each command's reply decoded from the client's output.
 */
import { Config } from "../../shared/config/schema.ts";
import { FakeClock } from "../../shared/clock.ts";
import { NEED_MORE, RespDecoder, type RespValue } from "../../shared/resp/mod.ts";
import { DATA_NODE_PARAMS } from "../config.ts";
import { buildCommandTable } from "../commands/table.ts";
import { Server } from "../server/server.ts";
import { processCommand } from "../server/dispatch.ts";
import type { Client } from "../server/client.ts";

export interface Harness {
  server: Server;
  clock: FakeClock;
  client: Client;
  /** Runs one command as `client` and returns its reply (it must not block). */
  run(...argv: string[]): RespValue;
  /** A second client on the same server. */
  newClient(): Client;
  /** Runs a command as another client. */
  runAs(c: Client, ...argv: string[]): RespValue;
  close(): void;
}

export function engineHarness(directives: [string, string][] = []): Harness {
  const config = new Config(DATA_NODE_PARAMS);
  if (directives.length > 0) config.configSet(directives, true);
  const clock = new FakeClock();
  const server = new Server(config, buildCommandTable(), clock);
  server.exit = () => {};
  let next = 1;
  const newClient = () => server.newClient(null, `test:${next++}`, "test:0");
  const runAs = (c: Client, ...argv: string[]): RespValue => {
    if (processCommand(server, c, argv)) throw new Error(`${argv[0]} blocked`);
    const dec = new RespDecoder();
    dec.push(c.out.take());
    const v = dec.next();
    if (v === NEED_MORE) throw new Error(`${argv[0]} gave no reply`);
    return v;
  };
  const client = newClient();
  return {
    server,
    clock,
    client,
    run: (...argv) => runAs(client, ...argv),
    newClient,
    runAs,
    close: () => server.close(),
  };
}
