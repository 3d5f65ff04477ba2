import { deepStrictEqual, equal, notEqual } from "node:assert/strict";
import fc from "fast-check";
import { SetValue } from "./set.ts";
import { encodeIntset } from "../persistence/compact.ts";
import { binaryToBytes } from "../../shared/resp/bytes.ts";
import { parseI64 } from "../../shared/int64.ts";

const member = fc.oneof(
  fc.integer({ min: -40, max: 40 }).map(String),
  fc.constantFrom("40000", "-70000", "3000000000", "-9223372036854775808", "9223372036854775807"),
  fc.constantFrom("01", "-0", "+1", "x", "y", "9223372036854775808", "1.0", ""),
  fc.string({ maxLength: 3 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 4,
  }),
  fc.string({ minLength: 64, maxLength: 66 }),
);

const op = fc.oneof(
  fc.tuple(fc.constant("add" as const), fc.array(member, { minLength: 1, maxLength: 6 })),
  fc.tuple(fc.constant("del" as const), fc.array(member, { minLength: 1, maxLength: 6 })),
);

function width(v: bigint): number {
  return v >= -32768n && v <= 32767n ? 2 : v >= -2147483648n && v <= 2147483647n ? 4 : 8;
}

Deno.test("a set agrees with a model of Redis's intset and hash table under random changes", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.constantFrom(0, 3, 16, 512), (ops, max) => {
      const v = new SetValue();
      const ref = new Set<string>();
      let intset = true, w = 2;
      for (const [kind, args] of ops) {
        if (kind === "add") {
          const before = ref.size;
          for (const m of args) {
            if (intset && parseI64(m) === null) intset = false;
            ref.add(m);
            if (intset) w = Math.max(w, width(BigInt(m)));
            if (intset && ref.size > max) intset = false;
          }
          equal(v.addMembers(["SADD", "k", ...args], 2, max), ref.size - before);
        } else {
          const n = args.filter((m, i) => ref.has(m) && args.indexOf(m) === i).length;
          for (const m of args) ref.delete(m);
          equal(args.length % 2 ? v.deleteMany(args) : args.filter((m) => v.delete(m)).length, n);
        }
        equal(v.size, ref.size);
      }
      equal(v.encoding(), intset ? "intset" : "hashtable");
      for (const m of ref) equal(v.has(m), true);
      equal(v.has("not a member"), false);
      const members = v.members();
      deepStrictEqual(new Set(members), ref);
      equal(members.length, ref.size);
      const each: string[] = [];
      v.forEach((m) => each.push(m));
      deepStrictEqual(each, members);
      if (intset) {
        const sorted = [...ref].map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        deepStrictEqual(members, sorted.map(String));
        deepStrictEqual(binaryToBytes(v.intset()!), encodeIntset(sorted, w));
      } else equal(v.intset(), null);
    }),
    { numRuns: 400 },
  );
});

Deno.test("an intset converts past set-max-intset-entries and on a non-integer, for good", () => {
  const v = new SetValue();
  equal(v.addMembers(["1", "2", "3", "4"], 0, 4), 4);
  equal(v.encoding(), "intset");
  equal(v.addMembers(["4"], 0, 4), 0);
  equal(v.encoding(), "intset", "4 members fit a limit of 4");
  equal(v.addMembers(["5"], 0, 4), 1);
  equal(v.encoding(), "hashtable");
  v.deleteMany(["1", "2", "3", "4"]);
  equal(v.encoding(), "hashtable");

  const s = new SetValue();
  s.addMembers(["10", "abc", "20"], 0, 512);
  equal(s.encoding(), "hashtable");
  deepStrictEqual(s.members().sort(), ["10", "20", "abc"]);
  for (const m of ["-0", "01", "+5", " 5", "18446744073709551616"]) {
    const t = new SetValue();
    t.addMembers([m], 0, 512);
    equal(t.encoding(), "hashtable", `${m} is not a 64-bit integer`);
  }
});

Deno.test("an intset widens for a wide value and never narrows", () => {
  const v = new SetValue();
  v.addMembers(["5", "-3"], 0, 512);
  deepStrictEqual(binaryToBytes(v.intset()!), encodeIntset([-3n, 5n], 2));
  v.addMembers(["70000"], 0, 512);
  deepStrictEqual(binaryToBytes(v.intset()!), encodeIntset([-3n, 5n, 70000n], 4));
  v.addMembers(["-9223372036854775808"], 0, 512);
  deepStrictEqual(v.members(), ["-9223372036854775808", "-3", "5", "70000"]);
  equal(v.intset()!.charCodeAt(0), 8);
  v.deleteMany(["-9223372036854775808", "70000", "nope", "-3"]);
  v.delete("5");
  v.addMembers(["1"], 0, 512);
  deepStrictEqual(binaryToBytes(v.intset()!), encodeIntset([1n], 8));
});

Deno.test("a loaded intset keeps its width and is rebuilt when out of order", () => {
  const v = SetValue.fromIntset([3, 1, 3, 2], 4);
  deepStrictEqual(v.members(), ["1", "2", "3"]);
  deepStrictEqual(binaryToBytes(v.intset()!), encodeIntset([1n, 2n, 3n], 4));
  v.checkEncoding(3);
  equal(v.encoding(), "intset");
  v.checkEncoding(2);
  equal(v.encoding(), "hashtable");
});

Deno.test("checkEncoding decides a set built in bulk", () => {
  const ints = new SetValue(["3", "1", "-2", "1"]);
  equal(ints.encoding(), "intset", "undecided sets report intset, as before");
  ints.checkEncoding(512);
  equal(ints.encoding(), "intset");
  deepStrictEqual(ints.members(), ["-2", "1", "3"]);
  const many = new SetValue(["1", "2", "3"]);
  many.checkEncoding(2);
  equal(many.encoding(), "hashtable");
  const text = new SetValue(["1", "a"]);
  text.checkEncoding(512);
  equal(text.encoding(), "hashtable");
  equal(text.addMembers(["b"], 0, 512), 1);
  deepStrictEqual(text.members(), ["1", "a", "b"]);
});

Deno.test("small hash-table sets are listpacks up to 128 members of 64 bytes", () => {
  const isTable = (v: SetValue) => v.scanKeys() instanceof Set;
  const v = new SetValue();
  const names = Array.from({ length: 128 }, (_, i) => `m${i}`);
  v.addMembers(names, 0, 512);
  equal(v.encoding(), "hashtable");
  equal(isTable(v), false);
  v.addMembers(["x".repeat(64)], 0, 512);
  equal(isTable(v), true, "the 129th member");
  equal(v.size, 129);
  for (const m of names) equal(v.has(m), true);

  const long = new SetValue();
  long.addMembers(["a", "y".repeat(64)], 0, 512);
  equal(isTable(long), false);
  long.addMembers(["z".repeat(65)], 0, 512);
  equal(isTable(long), true, "a 65-byte member");
  deepStrictEqual(long.members(), ["a", "y".repeat(64), "z".repeat(65)]);
});

Deno.test("an SSCAN of a listpack set pages over the members as they were at its start", () => {
  const v = new SetValue();
  v.addMembers(["a", "b", "c"], 0, 512);
  const it = v.scanKeys().keys();
  equal(it.next().value, "a");
  v.delete("b");
  v.addMembers(["d"], 0, 512);
  deepStrictEqual([it.next().value, it.next().value, it.next().done], ["b", "c", true]);
});

Deno.test("a clone is independent of the original, in every form", () => {
  for (const start of [["1", "2"], ["a", "b"], Array.from({ length: 200 }, (_, i) => `m${i}`)]) {
    const v = new SetValue();
    v.addMembers(start, 0, 512);
    const c = v.clone();
    v.delete(start[0]!);
    v.addMembers(["3"], 0, 512);
    c.addMembers(["4"], 0, 512);
    equal(c.has(start[0]!), true);
    equal(c.has("3"), false);
    equal(v.has("4"), false);
    equal(c.size, start.length + 1);
    equal(c.encoding(), v.encoding());
    notEqual(c.members().join(), v.members().join());
  }
});

Deno.test("randomMember: members only, every member reachable, in large and small sets", () => {
  for (const n of [5, 600, 5000]) {
    const v = new SetValue(Array.from({ length: n }, (_, i) => `m${i}`));
    v.checkEncoding(512);
    const seen = new Set<string>();
    for (let i = 0; i < n * 8; i++) {
      const m = v.randomMember()!;
      if (!v.has(m)) throw new Error(`${m} is not a member`);
      seen.add(m);
    }
    // Uniform picks (small sets) and the roving stride (large ones) both reach nearly all.
    if (seen.size < n * 0.9) throw new Error(`${n}: only ${seen.size} members seen`);
  }
  const empty = new SetValue();
  if (empty.randomMember() !== undefined) throw new Error("an empty set has no member");
});

Deno.test("randomMember keeps working while the large set changes (SPOP until empty)", () => {
  const n = 3000;
  const v = new SetValue(Array.from({ length: n }, (_, i) => `m${i}`));
  v.checkEncoding(512);
  const popped = new Set<string>();
  while (v.size > 0) {
    const m = v.randomMember()!;
    if (popped.has(m)) throw new Error(`${m} popped twice`);
    popped.add(m);
    v.delete(m);
    if (popped.size % 7 === 0) v.addMembers([`new${popped.size}`], 0, 512);
  }
  if (popped.size < n) throw new Error(`only ${popped.size} popped`);
});
