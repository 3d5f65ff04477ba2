import { deepEqual, equal, ok } from "node:assert/strict";
import { RespError, SimpleString } from "../../shared/resp/mod.ts";
import { keyHashSlot } from "../../shared/slots.ts";
import { parseCommandTable } from "./commands.ts";
import { CROSSSLOT, mergeReplies, plan } from "./router.ts";
import { applyMoved, parseClusterSlots, parseRedirect } from "./slot_map.ts";

/** A COMMAND reply excerpt, shaped as a node sends it. */
const table = parseCommandTable([
  ["get", 2, [new SimpleString("readonly")], 1, 1, 1],
  ["set", -3, [new SimpleString("write")], 1, 1, 1],
  ["mget", -2, [new SimpleString("readonly")], 1, -1, 1],
  ["mset", -3, [new SimpleString("write")], 1, -1, 2],
  ["del", -2, [new SimpleString("write")], 1, -1, 1],
  ["exists", -2, [new SimpleString("readonly")], 1, -1, 1],
  ["rename", 3, [new SimpleString("write")], 1, 2, 1],
  ["blpop", -3, [new SimpleString("write"), new SimpleString("blocking")], 1, -2, 1],
  ["eval", -3, [new SimpleString("movablekeys")], 0, 0, 0],
  ["ping", -1, [], 0, 0, 0],
  ["dbsize", 1, [], 0, 0, 0],
  ["flushall", -1, [], 0, 0, 0],
  ["subscribe", -2, [], 0, 0, 0],
  ["publish", 3, [], 0, 0, 0],
  ["scan", -2, [], 0, 0, 0],
  ["bgsave", -1, [], 0, 0, 0],
  ["object", -2, [], 0, 0, 0, [], [], [], [
    ["object|encoding", 3, [], 2, 2, 1],
  ]],
]);

Deno.test("keys of one slot go to that slot's node", () => {
  deepEqual(plan(table, ["GET", "foo"]), {
    kind: "forward",
    slot: keyHashSlot("foo"),
    argv: ["GET", "foo"],
  });
  const p = plan(table, ["MGET", "{u}a", "{u}b"]);
  equal(p.kind, "forward");
  const sub = plan(table, ["OBJECT", "ENCODING", "k"]);
  deepEqual(sub, { kind: "forward", slot: keyHashSlot("k"), argv: ["OBJECT", "ENCODING", "k"] });
});

Deno.test("MGET across slots is split per slot and merged in request order", () => {
  const argv = ["MGET", "a", "b", "c", "a"];
  const p = plan(table, argv);
  if (p.kind !== "split") throw new Error(`expected split, got ${p.kind}`);
  equal(p.total, 4);
  const replies = p.parts.map((part) => part.argv.slice(1).map((k) => `v-${k}`));
  deepEqual(mergeReplies("mget", replies, p.parts, p.total), ["v-a", "v-b", "v-c", "v-a"]);
});

Deno.test("MSET splits pairs; DEL and EXISTS sum; the first error wins", () => {
  const p = plan(table, ["MSET", "a", "1", "b", "2"]);
  if (p.kind !== "split") throw new Error("expected split");
  deepEqual(p.parts.flatMap((x) => x.argv.slice(1)).sort(), ["1", "2", "a", "b"]);
  const d = plan(table, ["DEL", "a", "b", "c"]);
  if (d.kind !== "split") throw new Error("expected split");
  equal(d.merge, "sum");
  equal(mergeReplies("sum", [1, 0, 1]), 2);
  const e = new RespError("ERR boom");
  equal(mergeReplies("sum", [1, e]), e);
});

Deno.test("other multi-key commands across slots are CROSSSLOT", () => {
  deepEqual(plan(table, ["RENAME", "a", "b"]), {
    kind: "reply",
    value: new RespError(CROSSSLOT),
  });
});

Deno.test("keyless commands: local, fan-out, any node, subscribe or refused", () => {
  deepEqual(plan(table, ["PING"]), { kind: "reply", value: new SimpleString("PONG") });
  equal(plan(table, ["DBSIZE"]).kind, "fanout");
  equal(plan(table, ["FLUSHALL"]).kind, "fanout");
  equal(plan(table, ["PUBLISH", "ch", "m"]).kind, "forward");
  equal(plan(table, ["SUBSCRIBE", "ch"]).kind, "subscribe");
  const scan = plan(table, ["SCAN", "0"]);
  ok(scan.kind === "reply" && scan.value instanceof RespError);
  const bg = plan(table, ["BGSAVE"]);
  ok(bg.kind === "reply" && String(bg.value).includes("not supported by the proxy"));
});

Deno.test("arity is checked with Redis's text; blocking and movable keys are flagged", () => {
  deepEqual(plan(table, ["GET"]), {
    kind: "reply",
    value: new RespError("ERR wrong number of arguments for 'get' command"),
  });
  equal(plan(table, ["BLPOP", "l", "0"]).kind, "blocking");
  equal(plan(table, ["EVAL", "return 1", "0"]).kind, "getkeys");
  equal(plan(table, ["EVAL", "return 1", "1", "k"], ["k"]).kind, "forward");
  // Unknown to the table: a node gives its own error.
  equal(plan(table, ["NOSUCH"]).kind, "forward");
});

Deno.test("CLUSTER SLOTS builds the map; MOVED and ASK parse; MOVED patches one slot", () => {
  const map = parseClusterSlots([
    [0, 8191, ["127.0.0.1", 7000, "a"], ["127.0.0.1", 7003, "d"]],
    [8192, 16383, ["", 7001, "b"]],
  ], "10.0.0.1");
  if (typeof map === "string") throw new Error(map);
  equal(map.owners[0], "127.0.0.1:7000");
  equal(map.owners[16383], "10.0.0.1:7001");
  deepEqual(map.ranges[0]!.replicas, ["127.0.0.1:7003"]);
  deepEqual(parseRedirect(new RespError("MOVED 3999 127.0.0.1:6381")), {
    kind: "MOVED",
    slot: 3999,
    addr: "127.0.0.1:6381",
  });
  equal(parseRedirect(new RespError("ASK 3999 127.0.0.1:6381"))?.kind, "ASK");
  equal(parseRedirect(new RespError("MOVED 99999 x:1")), null);
  equal(parseRedirect("MOVED 1 a:1"), null);
  applyMoved(map, 5, "127.0.0.1:7001");
  equal(map.owners[5], "127.0.0.1:7001");
  equal(
    typeof parseClusterSlots(new RespError("ERR This instance has cluster support disabled"), "h"),
    "string",
  );
});
