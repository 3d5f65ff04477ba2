/**
 * Execution units and the replication stream, in-process: commands run through the dispatcher
 * on a client without a socket, and the stream's offset and bytes are checked directly.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { RequestParser } from "../../shared/resp/mod.ts";
import { Config } from "../../shared/config/schema.ts";
import { DATA_NODE_PARAMS } from "../config.ts";
import { buildCommandTable } from "../commands/table.ts";
import { Server } from "../server/server.ts";
import { processCommand } from "../server/dispatch.ts";
import type { Client } from "../server/client.ts";
import { FakeClock } from "../../shared/clock.ts";

function newServer(clock = new FakeClock()): Server {
  const s = new Server(new Config(DATA_NODE_PARAMS), buildCommandTable(), clock);
  s.exit = () => {};
  return s;
}

function run(s: Server, c: Client, ...argv: string[]): void {
  const r = processCommand(s, c, argv);
  if (r) throw new Error(`${argv[0]} waited`);
}

/** Every command in the stream since `from` (an offset), as joined argv strings. */
function streamSince(s: Server, from: number): string[] {
  const p = new RequestParser({ maxBulkLen: 1 << 20 });
  p.feed(s.replStream!.since(from)!);
  const out: string[] = [];
  for (let argv = p.next(); argv !== null; argv = p.next()) out.push(argv.join(" "));
  return out;
}

Deno.test("without a replication stream master_repl_offset stays put; with one, writes move it", () => {
  const s = newServer();
  const c = s.newClient(null, "test:1", "test:0");
  run(s, c, "SET", "a", "1");
  equal(s.replOffset, 0);
  const stream = s.createReplicationStream();
  const start = s.replOffset + 1;
  run(s, c, "SET", "b", "2");
  run(s, c, "GET", "b"); // reads are not propagated
  run(s, c, "SELECT", "2");
  run(s, c, "INCR", "n");
  run(s, c, "PUBLISH", "ch", "hello"); // replicas get PUBLISH
  run(s, c, "MULTI");
  run(s, c, "SET", "x", "1");
  run(s, c, "SET", "y", "1");
  run(s, c, "EXEC");
  run(s, c, "SET", "z", "1", "EX", "100");
  const got = streamSince(s, start);
  const pxat = got.at(-1)!;
  deepStrictEqual(got.slice(0, -1), [
    "SELECT 0",
    "SET b 2",
    "SELECT 2",
    "INCR n",
    "PUBLISH ch hello",
    "MULTI",
    "SET x 1",
    "SET y 1",
    "EXEC",
  ]);
  equal(pxat.split(" ").slice(0, 4).join(" "), "SET z 1 PXAT");
  equal(stream.offset, s.replOffset);
  equal(s.replOffset, start - 1 + stream.histlen);
  s.close();
});

Deno.test("a blocked client served by a push is a unit of its own, after the push", async () => {
  const s = newServer();
  s.createReplicationStream();
  const start = s.replOffset + 1;
  const waiter = s.newClient(null, "test:2", "test:0");
  const pusher = s.newClient(null, "test:3", "test:0");
  const blocked = processCommand(s, waiter, ["BLPOP", "q", "0"]);
  equal(blocked instanceof Promise, true);
  run(s, pusher, "RPUSH", "q", "a", "b");
  await blocked;
  deepStrictEqual(streamSince(s, start), ["SELECT 0", "RPUSH q a b", "LPOP q"]);
  s.close();
});

Deno.test("with an injected clock: a key read after its TTL is deleted and the DEL propagated", () => {
  const clock = new FakeClock();
  const s = newServer(clock);
  s.createReplicationStream();
  const start = s.replOffset + 1;
  const c = s.newClient(null, "test:4", "test:0");
  run(s, c, "SET", "k", "v", "PX", "100");
  const at = clock.nowMs() + 100;
  clock.advance(100);
  run(s, c, "GET", "k"); // alive through its TTL's millisecond, as in Redis
  equal(s.dbs[0]!.size, 1);
  clock.advance(1);
  run(s, c, "SET", "k", "again"); // the expired key goes first, in the same unit
  clock.advance(1000);
  run(s, c, "MGET", "k", "nothing");
  deepStrictEqual(streamSince(s, start), [
    "SELECT 0",
    `SET k v PXAT ${at}`,
    "MULTI",
    "DEL k",
    "SET k again",
    "EXEC",
  ]);
  s.close();
});
