import { deepEqual, equal, ok } from "node:assert/strict";
import {
  allocateSlots,
  checkCluster,
  placeNodes,
  planCoverage,
  planRebalance,
  planReshard,
} from "./plan.ts";
import { formatRanges, type NodeInfo, parseNodeLine, parseNodesText } from "./topology.ts";

function master(id: string, port: number, slots: number[]): NodeInfo {
  return {
    id,
    host: "127.0.0.1",
    port,
    addr: `127.0.0.1:${port}`,
    flags: ["master"],
    master: "-",
    configEpoch: 1,
    link: "connected",
    slots,
    migrating: new Map(),
    importing: new Map(),
  };
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

Deno.test("slots are allocated evenly and contiguously", () => {
  deepEqual(allocateSlots(3), [
    { start: 0, end: 5461 },
    { start: 5462, end: 10922 },
    { start: 10923, end: 16383 },
  ]);
  const r = allocateSlots(7);
  equal(r[r.length - 1]!.end, 16383);
  equal(r.reduce((a, x) => a + x.end - x.start + 1, 0), 16384);
});

Deno.test("replicas follow masters on other hosts when there are some", () => {
  const nodes = [
    { host: "a", port: 1 },
    { host: "a", port: 2 },
    { host: "b", port: 1 },
    { host: "b", port: 2 },
    { host: "c", port: 1 },
    { host: "c", port: 2 },
  ];
  const p = placeNodes(nodes, 1);
  if (typeof p === "string") throw new Error(p);
  equal(p.masters.length, 3);
  deepEqual(new Set(p.masters.map((m) => nodes[m]!.host)), new Set(["a", "b", "c"]));
  for (const [r, m] of p.replicaOf) ok(nodes[r]!.host !== nodes[m]!.host);
  deepEqual(new Set(p.replicaOf.values()).size, 3);
  ok(String(placeNodes(nodes.slice(0, 4), 1)).includes("at least 3 master nodes"));
});

Deno.test("CLUSTER NODES lines parse, open slots included", () => {
  const v = parseNodesText(
    "aaa 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-10 12 [11->-bbb]\n" +
      "bbb 127.0.0.1:7001@17001,host master - 0 0 2 connected 13-16383 [11-<-aaa]\n",
  );
  if (!v) throw new Error("no view");
  equal(v.self.id, "aaa");
  equal(v.self.slots.length, 12);
  equal(v.self.migrating.get(11), "bbb");
  equal(v.known[1]!.importing.get(11), "aaa");
  equal(formatRanges(v.self.slots), "0-10,12");
  equal(parseNodeLine("garbage"), null);
});

Deno.test("check: coverage, open slots and agreement", () => {
  const a = master("a", 1, range(0, 8191));
  const b = master("b", 2, range(8192, 16383));
  const ok1 = checkCluster([{ self: a, known: [a, b] }, { self: b, known: [a, b] }]);
  equal(ok1.errors, 0);
  ok(ok1.lines.includes("[OK] All 16384 slots covered."));
  const b2 = master("b", 2, range(8192, 16000));
  b2.migrating.set(9000, "a");
  const bad = checkCluster([{ self: a, known: [a, b2] }, { self: b2, known: [a, b] }]);
  equal(bad.errors, 3);
  ok(bad.lines.includes("[ERR] Nodes don't agree about configuration!"));
  ok(bad.lines.includes("[WARNING] The following slots are open: 9000."));
  equal(bad.uncovered.length, 16383 - 16000);
});

Deno.test("reshard takes slots from sources in proportion", () => {
  const ms = [master("a", 1, range(0, 999)), master("b", 2, range(1000, 1999)), master("c", 3, [])];
  const moves = planReshard(ms, ["a", "b"], "c", 101);
  if (typeof moves === "string") throw new Error(moves);
  equal(moves.length, 101);
  const fromA = moves.filter((m) => m.from === "a").length;
  ok(fromA === 50 || fromA === 51);
  ok(moves.every((m) => m.to === "c"));
  equal(new Set(moves.map((m) => m.slot)).size, 101);
  ok(typeof planReshard(ms, ["a"], "zzz", 1) === "string");
  ok(typeof planReshard(ms, ["a"], "c", 5000) === "string");
});

Deno.test("rebalance evens out slots by weight and respects the threshold", () => {
  const ms = [master("a", 1, range(0, 16383)), master("b", 2, []), master("c", 3, [])];
  const moves = planRebalance(ms, new Map(), 2, true);
  const gain = (id: string) => moves.filter((m) => m.to === id).length;
  ok(Math.abs(gain("b") - 5461) <= 1 && Math.abs(gain("c") - 5461) <= 1);
  deepEqual(planRebalance(ms, new Map(), 2, false), []);
  const even = [master("a", 1, range(0, 8191)), master("b", 2, range(8192, 16383))];
  deepEqual(planRebalance(even, new Map(), 2, false), []);
  const weighted = planRebalance(even, new Map([["a", 3], ["b", 1]]), 2, false);
  equal(weighted.filter((m) => m.to === "a").length, 12288 - 8192);
});

Deno.test("uncovered slots go to the least loaded masters", () => {
  const ms = [master("a", 1, range(0, 9)), master("b", 2, [])];
  const p = planCoverage(ms, [20, 21, 22]);
  equal([...p.values()].filter((x) => x === "b").length, 3);
});
