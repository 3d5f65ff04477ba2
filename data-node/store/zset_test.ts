import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { ZSetValue } from "./zset.ts";
import { encodeListpack } from "../persistence/compact.ts";
import { binaryToBytes } from "../../shared/resp/bytes.ts";
import { formatG17 } from "../../shared/resp/format.ts";

function sorted(m: Map<string, number>): [string, number][] {
  return [...m].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

Deno.test("order, rank and ranges agree with a sorted array under random updates, both encodings", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.boolean(), fc.string({ maxLength: 3 }), fc.integer({ min: -5, max: 5 })),
        { maxLength: 120 },
      ),
      fc.boolean(),
      (ops, skiplist) => {
        const z = new ZSetValue();
        if (skiplist) z.toSkiplist();
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
        equal(z.encoding(), skiplist ? "skiplist" : "listpack");
        equal(z.size, ref.size);
        deepStrictEqual(z.first(), exp[0] ?? null);
        deepStrictEqual(z.last(), exp[exp.length - 1] ?? null);
        for (const [m, sc] of exp) equal(z.score(m), sc);
      },
    ),
    { numRuns: 300 },
  );
});

// ---- lex ranges: Redis's listpack walk, which also holds for members out of score order ----

type Bound = { kind: -1 | 0 | 1; v: string; ex: boolean };

function cmpB(m: string, b: Bound): number {
  return b.kind !== 0 ? -b.kind : m < b.v ? -1 : m > b.v ? 1 : 0;
}
const gte = (m: string, b: Bound) => b.ex ? cmpB(m, b) > 0 : cmpB(m, b) >= 0;
const lte = (m: string, b: Bound) => b.ex ? cmpB(m, b) < 0 : cmpB(m, b) <= 0;

/** The reference: Redis 7.0's listpack lex functions over a plain array in score order. */
function refInRange(list: string[], min: Bound, max: Bound): boolean {
  const c = min.kind !== 0 && min.kind === max.kind
    ? 0
    : min.kind === -1 || max.kind === 1
    ? -1
    : min.kind === 1 || max.kind === -1
    ? 1
    : min.v < max.v
    ? -1
    : min.v > max.v
    ? 1
    : 0;
  if (c > 0 || (c === 0 && (min.ex || max.ex)) || list.length === 0) return false;
  return gte(list[list.length - 1]!, min) && lte(list[0]!, max);
}
function refFirst(list: string[], min: Bound, max: Bound): number {
  if (!refInRange(list, min, max)) return -1;
  const i = list.findIndex((m) => gte(m, min));
  return i >= 0 && lte(list[i]!, max) ? i : -1;
}
function refLast(list: string[], min: Bound, max: Bound): number {
  if (!refInRange(list, min, max)) return -1;
  for (let i = list.length - 1; i >= 0; i--) {
    if (lte(list[i]!, max)) {
      return gte(list[i]!, min) ? i : -1;
    }
  }
  return -1;
}
function refRange(list: string[], min: Bound, max: Bound, rev: boolean, off: number, lim: number) {
  const out: string[] = [];
  if (off < 0) return out;
  let i = rev ? refLast(list, min, max) : refFirst(list, min, max);
  if (i < 0) return out;
  i += rev ? -off : off;
  for (; i >= 0 && i < list.length && lim !== 0; lim--) {
    if (rev ? !gte(list[i]!, min) : !lte(list[i]!, max)) break;
    out.push(list[i]!);
    i += rev ? -1 : 1;
  }
  return out;
}

const bound = fc.oneof(
  fc.constant<Bound>({ kind: -1, v: "", ex: true }),
  fc.constant<Bound>({ kind: 1, v: "", ex: true }),
  fc.record({ kind: fc.constant<0>(0), v: fc.string({ maxLength: 2 }), ex: fc.boolean() }),
);

Deno.test("lex ranges on a listpack follow Redis's list walk, whatever the score order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.string({ maxLength: 2 }), fc.integer({ min: -3, max: 3 })), {
        maxLength: 30,
      }),
      bound,
      bound,
      fc.boolean(),
      fc.integer({ min: -1, max: 4 }),
      fc.integer({ min: -2, max: 4 }),
      (pairs, min, max, rev, off, lim) => {
        const z = new ZSetValue();
        const ref = new Map<string, number>();
        for (const [m, s] of pairs) {
          z.add(m, s);
          ref.set(m, s);
        }
        const list = sorted(ref).map(([m]) => m);
        const inverted = list.some((m, i) => i > 0 && m < list[i - 1]!);
        equal(z.lexOrdered(), !inverted);
        const r = { min, max };
        deepStrictEqual(
          z.rangeByLexLimit(r, rev, off, lim).map(([m]) => m),
          refRange(list, min, max, rev, off, lim),
        );
        const first = refFirst(list, min, max);
        let count = 0;
        for (let i = first; i >= 0 && i < list.length && lte(list[i]!, max); i++) count++;
        equal(z.countInLex(r), count);
        equal(z.deleteRangeByLex(r), count);
        deepStrictEqual(
          [...z.entries()].map(([m]) => m),
          list.filter((_, i) => first < 0 || i < first || i >= first + count),
        );
        equal(z.lexOrdered(), [...z.entries()].every(([m], i, a) => i === 0 || m > a[i - 1]![0]));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("lex ranges on members in score order are plain range filters, in both encodings", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ maxLength: 3 }), { maxLength: 40 }),
      bound,
      bound,
      fc.boolean(),
      (members, min, max, skiplist) => {
        const z = new ZSetValue();
        if (skiplist) z.toSkiplist();
        for (const m of members) z.add(m, 0);
        const all = [...members].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const inR = refInRange(all, min, max) ? all.filter((m) => gte(m, min) && lte(m, max)) : [];
        const r = { min, max };
        equal(z.lexOrdered(), true);
        deepStrictEqual(z.rangeByLexLimit(r, false, 0, -1).map(([m]) => m), inR);
        deepStrictEqual(z.rangeByLexLimit(r, true, 0, -1).map(([m]) => m), [...inR].reverse());
        deepStrictEqual(z.rangeByLexLimit(r, false, 1, 2).map(([m]) => m), inR.slice(1, 3));
        equal(z.countInLex(r), inR.length);
        equal(z.deleteRangeByLex(r), inR.length);
        equal(z.size, all.length - inR.length);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a skiplist out of score order counts by the ranks of its first and last match", () => {
  // Redis ZLEXCOUNT on a skiplist subtracts ranks; with members out of score order the
  // forward walk for the last match stops before the first member past max.
  const z = new ZSetValue();
  z.toSkiplist();
  z.add("a", 1);
  z.add("x".repeat(70), 2);
  z.add("c", 3);
  const r = {
    min: { kind: 0 as const, v: "", ex: true },
    max: { kind: 0 as const, v: "c", ex: false },
  };
  equal(z.countInLex(r), 1);
  deepStrictEqual(z.rangeByLexLimit(r, true, 0, -1).map(([m]) => m), ["a"]);
  // Nothing at or above [f1 at the tail: empty, and no crash on a missing last match.
  const f1 = {
    min: { kind: 0 as const, v: "f1", ex: false },
    max: { kind: 1 as const, v: "", ex: true },
  };
  equal(z.countInLex(f1), 0);
  deepStrictEqual(z.rangeByLexLimit(f1, false, 0, -1), []);
});

Deno.test("score ranges: LIMIT offsets are walked unchecked, negative counts mean all", () => {
  const z = new ZSetValue();
  for (let i = 0; i < 10; i++) z.add(`m${i}`, i);
  const r = { min: 2, max: 6, minEx: false, maxEx: true };
  deepStrictEqual(z.rangeByScoreLimit(r, false, 0, -1).map(([m]) => m), ["m2", "m3", "m4", "m5"]);
  deepStrictEqual(z.rangeByScoreLimit(r, false, 3, -7).map(([m]) => m), ["m5"]);
  deepStrictEqual(z.rangeByScoreLimit(r, true, 1, 2).map(([m]) => m), ["m4", "m3"]);
  deepStrictEqual(z.rangeByScoreLimit(r, false, -1, 2), []);
  deepStrictEqual(z.rangeByScoreLimit(r, false, 10, 2), []);
  equal(z.deleteRangeByScore(r), 4);
  equal(z.countInScore({ min: 0, max: 10, minEx: false, maxEx: false }), 6);
  equal(z.countInScore({ min: 5, max: 5, minEx: true, maxEx: false }), 0);
});

Deno.test("-0 is stored as 0 in a listpack and kept in a skiplist", () => {
  const lp = new ZSetValue();
  lp.add("m", -0);
  equal(Object.is(lp.score("m"), 0), true);
  const sl = new ZSetValue();
  sl.addWithLimits("x".repeat(70), -0, { maxEntries: 128, maxValue: 64 });
  equal(sl.encoding(), "skiplist");
  equal(Object.is(sl.score("x".repeat(70)), -0), true);
  equal(Object.is(sl.clone().score("x".repeat(70)), -0), true);
});

// ---- the listpack form ----

const scoreArb = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0.5, -2.25, 1e16, 1e17, 2 ** 53, -(2 ** 63), 1e300, Infinity, -Infinity, -0),
  fc.double({ noNaN: true }),
);
const memberArb = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 4,
  }),
  fc.constantFrom("0", "-1", "01", "300", "9223372036854775807", "99999999999999999999"),
  fc.string({ minLength: 62, maxLength: 66 }),
);

Deno.test("a listpack sorted set holds Redis's bytes for its entries, in score order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), memberArb, scoreArb), { maxLength: 60 }),
      (ops) => {
        const z = new ZSetValue();
        const ref = new Map<string, number>();
        for (const [add, m, sc] of ops) {
          if (add) {
            const had = ref.get(m);
            const want = had === undefined
              ? "added"
              : had === (sc === 0 ? 0 : sc)
              ? "same"
              : "updated";
            equal(z.add(m, sc), want);
            ref.set(m, sc === 0 ? 0 : sc);
          } else equal(z.remove(m), ref.delete(m));
        }
        const exp = sorted(ref);
        deepStrictEqual([...z.entries()], exp);
        deepStrictEqual(z.members(), exp.map(([m]) => m));
        const flat = exp.flatMap(([m, sc]) => [m, formatG17(sc)]);
        deepStrictEqual(binaryToBytes(z.listpack()!), encodeListpack(flat));
        // The same entries loaded in bulk, in any order, give the same bytes.
        const loaded = ZSetValue.fromEntries([...ref].reverse());
        equal(loaded.listpack(), z.listpack());
        exp.forEach(([m], i) => equal(z.rank(m), i));
      },
    ),
    { numRuns: 300 },
  );
});

const lim = { maxEntries: 4, maxValue: 8 };

Deno.test("a listpack sorted set converts before the entry that passes a limit, exactly there", () => {
  const z = new ZSetValue();
  for (let i = 1; i <= 4; i++) equal(z.addWithLimits(`m${i}`, i, lim), "added");
  equal(z.addWithLimits("m4", 0, lim), "updated");
  equal(z.addWithLimits("m1", 9, lim), "updated");
  equal(z.encoding(), "listpack", "4 entries fit, updates never convert");
  equal(z.addWithLimits("m5", -0, lim), "added");
  equal(z.encoding(), "skiplist", "the 5th member converts first");
  equal(Object.is(z.score("m5"), -0), true, "so it keeps its -0");
  deepStrictEqual(z.members(), ["m4", "m5", "m2", "m3", "m1"], "-0 ties with 0");
  z.remove("m5");
  z.remove("m4");
  equal(z.encoding(), "skiplist", "for good");

  const long = new ZSetValue();
  long.addWithLimits("12345678", 1, lim);
  equal(long.encoding(), "listpack", "a member of maxValue bytes fits");
  long.addWithLimits("123456789", 2, lim);
  equal(long.encoding(), "skiplist");
  deepStrictEqual([...long.entries()], [["12345678", 1], ["123456789", 2]]);
});

Deno.test("checkEncoding decides a loaded sorted set's encoding", () => {
  const small = ZSetValue.fromEntries([["b", 2], ["a", 1], ["b", -0]]);
  small.checkEncoding(lim);
  equal(small.encoding(), "listpack");
  deepStrictEqual([...small.entries()], [["b", 0], ["a", 1]]);
  const many = ZSetValue.fromEntries(["a", "b", "c", "d", "e"].map((m, i) => [m, i]));
  many.checkEncoding(lim);
  equal(many.encoding(), "skiplist");
  equal(many.rank("e"), 4);
  const long = ZSetValue.fromEntries([["123456789", 1]]);
  long.checkEncoding(lim);
  equal(long.encoding(), "skiplist");

  const bulk = Array.from({ length: 9000 }, (_, i): [string, number] => [`m${i}`, i % 100]);
  const wide = ZSetValue.fromEntries(bulk);
  equal(wide.encoding(), "listpack", "undecided until checked");
  const copy = wide.clone();
  wide.checkEncoding({ maxEntries: 10000, maxValue: 64 });
  equal(wide.encoding(), "listpack");
  equal(wide.listpack() !== null, true);
  equal(wide.score("m8999"), 99);
  copy.checkEncoding({ maxEntries: 128, maxValue: 64 });
  equal(copy.encoding(), "skiplist");
  deepStrictEqual([...copy.entries()], [...wide.entries()]);
});

Deno.test("a clone is independent of the original, in both encodings", () => {
  for (const skiplist of [false, true]) {
    const z = new ZSetValue();
    if (skiplist) z.toSkiplist();
    z.add("a", 1);
    z.add("b", 2);
    const c = z.clone();
    z.add("a", 5);
    z.remove("b");
    c.add("c", 0);
    deepStrictEqual([...c.entries()], [["c", 0], ["a", 1], ["b", 2]]);
    deepStrictEqual([...z.entries()], [["a", 5]]);
    equal(c.encoding(), skiplist ? "skiplist" : "listpack");
  }
});
