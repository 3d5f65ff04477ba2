import { deepStrictEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { CLUSTER_SLOTS } from "../../shared/slots.ts";
import { formatNodesConf, parseNodesConf, saveNodesConf } from "./nodes_conf.ts";
import { ClusterState, F, newNode, slotRanges } from "./state.ts";

/** The ranges of a bitmap, one slot at a time. */
function rangesSlowly(bitmap: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  for (let s = 0; s <= CLUSTER_SLOTS; s++) {
    const on = s < CLUSTER_SLOTS && (bitmap[s >> 3]! & (1 << (s & 7))) !== 0;
    if (on && start < 0) start = s;
    if (!on && start >= 0) {
      out.push([start, s - 1]);
      start = -1;
    }
  }
  return out;
}

Deno.test("slotRanges: the ranges of any bitmap, whole bytes or single bits", () => {
  const bitmap = fc.array(
    fc.tuple(fc.integer({ min: 0, max: CLUSTER_SLOTS - 1 }), fc.integer({ min: 0, max: 3000 })),
    { maxLength: 30 },
  ).map((runs) => {
    const b = new Uint8Array(CLUSTER_SLOTS / 8);
    for (const [from, len] of runs) {
      for (let s = from; s < Math.min(CLUSTER_SLOTS, from + len); s++) b[s >> 3]! |= 1 << (s & 7);
    }
    return b;
  });
  fc.assert(fc.property(bitmap, (b) => deepStrictEqual(slotRanges(b), rangesSlowly(b))));
  const full = new Uint8Array(CLUSTER_SLOTS / 8).fill(0xff);
  deepStrictEqual(slotRanges(full), [[0, CLUSTER_SLOTS - 1]]);
  deepStrictEqual(slotRanges(new Uint8Array(CLUSTER_SLOTS / 8)), []);
});

function cluster(nodes: number): ClusterState {
  const me = newNode("a".repeat(40), F.MYSELF | F.MASTER, 0);
  const st = new ClusterState(me);
  for (let i = 1; i < nodes; i++) {
    const n = newNode(String(i % 10).repeat(40), F.MASTER, 0);
    n.ip = "127.0.0.1";
    n.port = 7000 + i;
    n.cport = 17000 + i;
    st.addNode(n);
  }
  return st;
}

Deno.test("nodes.conf saved in place: a shorter text leaves no trailing bytes and parses", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/nodes.conf`;
    const big = cluster(6);
    for (let s = 0; s < CLUSTER_SLOTS; s += 2) big.addSlot(big.myself, s); // many ranges
    big.currentEpoch = 7n;
    saveNodesConf(path, big, false);
    equal(Deno.readTextFileSync(path), formatNodesConf(big));
    const small = cluster(2);
    small.addSlot(small.myself, 5);
    saveNodesConf(path, small, false);
    const text = Deno.readTextFileSync(path);
    equal(text, formatNodesConf(small));
    const back = parseNodesConf(text, path, 0)!;
    equal(back.nodes.size, 2);
    equal(back.owner[5], back.myself);
    // An fsynced save, then one without fsync.
    saveNodesConf(path, big, true);
    equal(Deno.readTextFileSync(path), formatNodesConf(big));
    saveNodesConf(path, small, false);
    equal(Deno.readTextFileSync(path), formatNodesConf(small));
    ok(Deno.readDirSync(dir).every((e) => e.name === "nodes.conf"), "no temporary file left");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("nodes.conf padded with newlines (a save cut short before its truncate) parses", () => {
  const st = cluster(3);
  st.addSlot(st.myself, 0);
  const text = formatNodesConf(st) + "\n".repeat(500);
  const back = parseNodesConf(text, "nodes.conf", 0)!;
  equal(back.nodes.size, 3);
  equal(back.owner[0], back.myself);
});

Deno.test("a master's replicas are listed by name, whatever order they were learned in", () => {
  const now = 0;
  const viewOf = (order: string[]) => {
    const st = new ClusterState(newNode("f".repeat(40), F.MYSELF | F.MASTER, now));
    const m = newNode("0".repeat(40), F.MASTER, now);
    st.addNode(m);
    for (const ch of order) {
      const r = newNode(ch.repeat(40), F.MASTER, now);
      st.addNode(r);
      st.setRole(r, m);
    }
    return st.replicasOf(m).map((r) => r.name[0]);
  };
  deepStrictEqual(viewOf(["c", "b", "d"]), ["b", "c", "d"]);
  deepStrictEqual(viewOf(["d", "c", "b"]), ["b", "c", "d"]);
});
