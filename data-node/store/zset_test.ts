import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { ZSetValue } from "./zset.ts";

function sorted(m: Map<string, number>): [string, number][] {
  return [...m].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

Deno.test("skiplist order, rank and ranges agree with a sorted array under random updates", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.boolean(), fc.string({ maxLength: 3 }), fc.integer({ min: -5, max: 5 })),
        { maxLength: 120 },
      ),
      (ops) => {
        const z = new ZSetValue();
        const ref = new Map<string, number>();
        for (const [add, m, s] of ops) {
          if (add) {
            z.add(m, s);
            ref.set(m, s);
          } else {
            equal(z.remove(m), ref.delete(m));
          }
        }
        const exp = sorted(ref);
        deepStrictEqual([...z.entries()], exp);
        exp.forEach(([m], i) => equal(z.rank(m), i));
        deepStrictEqual([...z.rangeByRank(1, 3, true)], [...exp].reverse().slice(1, 4));
        const r = { min: -2, max: 2, minEx: true, maxEx: false };
        const inR = exp.filter(([, s]) => s > -2 && s <= 2);
        deepStrictEqual([...z.rangeByScore(r)], inR);
        deepStrictEqual([...z.rangeByScore(r, true)], [...inR].reverse());
        equal(z.countInScore(r), inR.length);
      },
    ),
    { numRuns: 200 },
  );
});
