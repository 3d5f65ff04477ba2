import { deepStrictEqual as assertEquals, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { RankTree } from "./rank_tree.ts";

type Entry = [number, string];

function cmp(a: Entry, b: Entry): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}

/** Checks every query of the tree against a sorted array of the same entries. */
function agree(t: RankTree, model: Entry[]): void {
  assertEquals(t.size, model.length);
  assertEquals([...t.entries()], model.map(([s, m]) => [m, s]));
  for (let i = 0; i < model.length; i++) {
    const [s, m] = model[i]!;
    assertEquals(t.rankOf(s, m), i);
    const c = t.at(i)!;
    assertEquals([c.score, c.member], [s, m]);
  }
  assertEquals(t.at(model.length), null);
  assertEquals(t.at(-1), null);
  // Walks both ways along the leaf chain.
  const fwd: Entry[] = [], back: Entry[] = [];
  const f = t.first(), l = t.last();
  if (f) { do fwd.push([f.score, f.member]); while (f.next()); }
  if (l) { do back.push([l.score, l.member]); while (l.prev()); }
  assertEquals(fwd, model);
  assertEquals(back, [...model].reverse());
  // firstWhere on every threshold of the order.
  for (let k = 0; k <= model.length; k++) {
    const probe = model[k];
    const got = t.firstWhere((s, m) => probe !== undefined && cmp([s, m], probe) >= 0);
    assertEquals(got, probe === undefined ? model.length : k);
  }
}

Deno.test("the rank tree agrees with a sorted array through inserts and deletes, deep trees", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(4, 5, 8),
      fc.array(
        fc.tuple(fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.string({ maxLength: 2 })),
        { minLength: 20, maxLength: 400, size: "max" },
      ),
      (cap, ops) => {
        const t = new RankTree(cap);
        let model: Entry[] = [];
        for (const [add, s, m] of ops) {
          const at = model.findIndex((e) => e[1] === m);
          if (add && at < 0) {
            t.insert(s, m);
            model.push([s, m]);
            model.sort(cmp);
            // The neighbours it reports are the entries either side of the new one.
            const i = model.findIndex((e) => e[1] === m);
            assertEquals(t.before, model[i - 1]?.[1] ?? null);
            assertEquals(t.after, model[i + 1]?.[1] ?? null);
          } else if (!add) {
            const i = model.findIndex((e) => e[1] === m && e[0] === s);
            assertEquals(t.delete(s, m), i >= 0);
            if (i >= 0) {
              assertEquals(t.before, model[i - 1]?.[1] ?? null);
              assertEquals(t.after, model[i + 1]?.[1] ?? null);
              model = model.filter((_, j) => j !== i);
            }
          }
        }
        agree(t, model);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("the rank tree stays consistent through growth to thousands and back to empty", () => {
  const t = new RankTree(8);
  const members = Array.from({ length: 3000 }, (_, i) => `m${(i * 7919) % 3000}`);
  const model: Entry[] = [];
  for (const m of members) {
    const s = m.length % 3;
    t.insert(s, m);
    model.push([s, m]);
  }
  model.sort(cmp);
  agree(t, model);
  // Delete every other entry, then the rest from the front: merges at every level.
  const odd = model.filter((_, i) => i % 2 === 1);
  for (const [s, m] of odd) assertEquals(t.delete(s, m), true);
  const rest = model.filter((_, i) => i % 2 === 0);
  agree(t, rest);
  for (const [s, m] of rest) assertEquals(t.delete(s, m), true);
  agree(t, []);
  // It still takes entries after being emptied.
  t.insert(1, "a");
  t.insert(0, "b");
  agree(t, [[0, "b"], [1, "a"]]);
});

/** How many leaves hold the tree's entries. */
function leaves(t: RankTree): number {
  const c = t.first();
  if (!c) return 0;
  let n = 1, leaf = c.leaf;
  while (c.next()) {
    if (c.leaf !== leaf) {
      n++;
      leaf = c.leaf;
    }
  }
  return n;
}

Deno.test("entries added in order fill their nodes; other orders leave them at least half full", () => {
  const n = 4000, cap = 8;
  const asc = new RankTree(cap), desc = new RankTree(cap), mixed = new RankTree(cap);
  const model: Entry[] = [];
  for (let i = 0; i < n; i++) {
    asc.insert(i, "m");
    desc.insert(n - i, "m");
    const s = (i * 7919) % n;
    mixed.insert(s, "m");
    model.push([s, "m"]);
  }
  // In order: every leaf full but the last.
  equal(leaves(asc), Math.ceil(n / cap));
  equal(leaves(desc), Math.ceil(n / cap));
  // Any order: no more than twice as many leaves as full ones.
  ok(leaves(mixed) <= 2 * Math.ceil(n / cap));
  model.sort(cmp);
  agree(mixed, model);
  agree(asc, Array.from({ length: n }, (_, i) => [i, "m"] as Entry));
  agree(desc, Array.from({ length: n }, (_, i) => [i + 1, "m"] as Entry));
});
