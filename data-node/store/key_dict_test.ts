import { deepStrictEqual, equal as assertEquals, ok } from "node:assert/strict";
import fc from "fast-check";
import { KeyDict } from "./key_dict.ts";

type Op =
  | { t: "set"; k: string; v: number }
  | { t: "del"; k: string }
  | { t: "step"; it: number }
  | { t: "open" }
  | { t: "clear" };

const key = fc.oneof(
  fc.constantFrom("", "a", "b", "key:1", "key:2", "\x00", "\xff\xfe"),
  fc.string({ maxLength: 6 }),
  fc.nat(300).map((n) => `k${n}`),
);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant("set" as const), k: key, v: fc.integer() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("del" as const), k: key }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("step" as const), it: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("open" as const) }) },
  { weight: 1, arbitrary: fc.constant({ t: "clear" as const }) },
);

Deno.test("KeyDict behaves as a Map, iterators included, under random changes", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
      const m = new Map<string, number>();
      const d = new KeyDict<number>();
      const its: [Iterator<[string, number]>, Iterator<[string, number]>][] = [];
      for (const o of ops) {
        if (o.t === "set") {
          m.set(o.k, o.v);
          d.set(o.k, o.v);
        } else if (o.t === "del") {
          assertEquals(d.delete(o.k), m.delete(o.k));
        } else if (o.t === "open") {
          its.push([m.entries(), d.entries()]);
        } else if (o.t === "clear") {
          m.clear();
          d.clear();
        } else if (its.length > 0) {
          const [a, b] = its[o.it % its.length]!;
          deepStrictEqual(b.next(), a.next());
        }
        assertEquals(d.size, m.size);
      }
      for (const [k, v] of m) assertEquals(d.get(k), v);
      deepStrictEqual([...d], [...m]);
      for (const [a, b] of its) {
        deepStrictEqual([...{ [Symbol.iterator]: () => b }], [...{ [Symbol.iterator]: () => a }]);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("KeyDict: many keys, most deleted, iterators moved through compactions", () => {
  const m = new Map<string, number>();
  const d = new KeyDict<number>();
  const a = m.keys(), b = d.keys();
  for (let i = 0; i < 20_000; i++) {
    m.set(`key:${i}`, i);
    d.set(`key:${i}`, i);
    if (i % 3 === 0) {
      deepStrictEqual(b.next(), a.next());
    }
  }
  for (let i = 0; i < 20_000; i++) {
    if (i % 10 !== 0) {
      m.delete(`key:${i}`);
      d.delete(`key:${i}`);
    }
    if (i % 7 === 0) deepStrictEqual(b.next(), a.next());
  }
  assertEquals(d.size, 2000);
  deepStrictEqual([...{ [Symbol.iterator]: () => b }], [...{ [Symbol.iterator]: () => a }]);
  deepStrictEqual([...d.keys()], [...m.keys()]);
  const c = d.clone();
  d.set("new", 1);
  ok(!c.has("new"));
  deepStrictEqual([...c.keys()], [...m.keys()]);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(d.randomKey()!);
  ok(seen.size > 1500, `random keys spread over the table (${seen.size} distinct)`);
  for (const k of seen) ok(d.has(k));
});

Deno.test("KeyDict.reserve: room made ahead keeps order and contents; a huge hint is capped", () => {
  const d = new KeyDict<number>();
  d.set("a", 1);
  const it = d.keys();
  d.reserve(10_000);
  for (let i = 0; i < 10_000; i++) d.set(`k${i}`, i);
  d.reserve(1e15);
  assertEquals(d.size, 10_001);
  assertEquals(d.get("a"), 1);
  assertEquals(d.get("k9999"), 9999);
  assertEquals(it.next().value, "a");
  assertEquals(it.next().value, "k0");
  assertEquals([...d.keys()].length, 10_001);
});
