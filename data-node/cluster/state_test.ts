import { equal } from "node:assert/strict";
import { CLUSTER_SLOTS } from "../../shared/slots.ts";
import { ClusterState, F, newNode, nodeLine } from "./state.ts";

function threeMasters(): { st: ClusterState; a: ReturnType<typeof newNode>[] } {
  const a = [0, 1, 2].map((i) => newNode(String(i).repeat(40), F.MASTER | (i ? 0 : F.MYSELF), 0));
  const st = new ClusterState(a[0]!);
  for (const n of a.slice(1)) st.addNode(n);
  for (let s = 0; s < CLUSTER_SLOTS; s++) st.addSlot(a[s % 3]!, s);
  return { st, a };
}

Deno.test("cluster_state: ok with every slot served, fail when one is unserved or its owner FAIL", () => {
  const { st, a } = threeMasters();
  st.updateState(true);
  equal(st.state, "ok");
  equal(st.size, 3);
  // One slot without an owner: down with full coverage required, up without.
  st.delSlot(7);
  st.updateState(true);
  equal(st.state, "fail");
  st.updateState(false);
  equal(st.state, "ok");
  st.addSlot(a[1]!, 7);
  st.updateState(true);
  equal(st.state, "ok");
  // A slot moved between masters keeps the coverage.
  st.moveSlot(7, a[2]!);
  st.updateState(true);
  equal(st.state, "ok");
  // An owner in FAIL uncovers its slots; a PFAIL one still serves them.
  a[2]!.flags |= F.PFAIL;
  st.updateState(true);
  equal(st.state, "ok");
  a[2]!.flags = (a[2]!.flags & ~F.PFAIL) | F.FAIL;
  st.updateState(true);
  equal(st.state, "fail");
  st.updateState(false);
  equal(st.state, "ok", "two of three masters reachable are a majority");
  // A deleted node's slots are unserved.
  a[2]!.flags = F.MASTER;
  st.delNode(a[2]!);
  st.updateState(true);
  equal(st.state, "fail");
  equal(st.size, 2);
});

Deno.test("node lines show a node's slots as they are after every change", () => {
  const { st, a } = threeMasters();
  const slotsOf = (i: number) => nodeLine(st, a[i]!, 0, true).split(" ").slice(8).join(" ");
  const before = slotsOf(1);
  equal(before.split(" ").length, Math.ceil(CLUSTER_SLOTS / 3) - 1);
  equal(slotsOf(1), before);
  st.moveSlot(1, a[0]!);
  equal(slotsOf(1), before.replace(/^1 /, ""));
  equal(slotsOf(0).split(" ").slice(0, 2).join(" "), "0-1 3");
  st.moveSlot(1, a[1]!);
  equal(slotsOf(1), before);
  for (let s = 0; s < CLUSTER_SLOTS; s++) if (st.owner[s] === a[1]) st.delSlot(s);
  equal(slotsOf(1), "");
});
