import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { CLUSTER_SLOTS, keyHashSlot } from "../../shared/slots.ts";
import { SlotTable } from "./key_table.ts";

/** Keys spread over a few slots, some sharing one through a hash tag. */
const keyArb = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.string({ maxLength: 3 }).map((s) => `{tag}${s}`),
  fc.string({ maxLength: 3 }).map((s) => `{other}${s}`),
);

Deno.test("SlotTable behaves as a Map, with per-slot counts and maps only for slots in use", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), keyArb, fc.nat(9)), { maxLength: 150 }), (ops) => {
      const t = new SlotTable<number>();
      const ref = new Map<string, number>();
      for (const [add, key, v] of ops) {
        if (add) {
          t.set(key, v);
          ref.set(key, v);
        } else {
          equal(t.delete(key), ref.delete(key));
        }
        equal(t.size, ref.size);
      }
      for (const [k, v] of ref) {
        equal(t.get(k), v);
        equal(t.has(k), true);
      }
      equal(t.has("never stored"), false);
      deepStrictEqual(new Set(t.keys()), new Set(ref.keys()));
      deepStrictEqual(new Map(t.entries()), ref);
      deepStrictEqual(new Map(t), ref);
      // Per-slot counts, and one table per slot that holds keys, none for empty slots.
      const perSlot = new Map<number, number>();
      for (const k of ref.keys()) {
        perSlot.set(keyHashSlot(k), (perSlot.get(keyHashSlot(k)) ?? 0) + 1);
      }
      equal(t.slotsInUse, perSlot.size);
      for (const [slot, n] of perSlot) equal(t.slotSize(slot), n);
      // Iteration goes slot by slot.
      const slots = [...t.keys()].map(keyHashSlot);
      deepStrictEqual(slots, [...slots].sort((a, b) => a - b));
      // The Fenwick queries agree with the counts.
      const used = [...perSlot.keys()].sort((a, b) => a - b);
      let rank = 0;
      for (const slot of used) {
        equal(t.keysBefore(slot), rank);
        for (let i = 0; i < perSlot.get(slot)!; i++) equal(t.slotOfRank(rank++), slot);
        equal(t.nextSlot(slot), slot);
        equal(t.nextSlot(Math.max(0, slot - 3)), used.find((s) => s >= Math.max(0, slot - 3)));
      }
      equal(t.nextSlot(used.length ? used[used.length - 1]! + 1 : 0), -1);
      equal(t.keysBefore(CLUSTER_SLOTS), ref.size);
    }),
    { numRuns: 300 },
  );
});

Deno.test("SlotTable: takeSlot, clone and clear", () => {
  const t = new SlotTable<string>();
  const tagged = Array.from({ length: 50 }, (_, i) => `{x}${i}`);
  for (const k of tagged) t.set(k, "v");
  for (let i = 0; i < 50; i++) t.set(`k${i}`, "w");
  const slot = keyHashSlot("x");
  const before = t.slotsInUse;
  const copy = t.clone();
  const taken = t.takeSlot(slot)!;
  deepStrictEqual([...taken.keys()], tagged);
  equal(t.slotSize(slot), 0);
  equal(t.slotKeys(slot), undefined);
  equal(t.slotsInUse, before - 1);
  equal(t.size, 50 - [...Array(50).keys()].filter((i) => keyHashSlot(`k${i}`) === slot).length);
  equal(t.takeSlot(slot), undefined);
  // The clone is independent: it still has the slot, and its counts.
  equal(copy.size, 100);
  equal(copy.slotSize(slot), 50);
  copy.set("new", "n");
  equal(t.has("new"), false);
  equal(copy.keysBefore(CLUSTER_SLOTS), 101);
  t.clear();
  equal(t.size, 0);
  equal(t.slotsInUse, 0);
  equal(t.nextSlot(0), -1);
  deepStrictEqual([...t.keys()], []);
});
