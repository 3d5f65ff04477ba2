import { deepStrictEqual, equal, notEqual } from "node:assert/strict";
import fc from "fast-check";
import { HashValue } from "./hash.ts";
import { encodeListpack } from "../persistence/compact.ts";
import { binaryToBytes } from "../../shared/resp/bytes.ts";
import { lpStrings } from "./listpack.ts";

/** Strings that exercise the listpack's integer and string encodings. */
const text = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 6,
  }),
  fc.constantFrom("0", "-0", "01", "127", "128", "-4096", "4096", "-32769", "8388608", "1e3"),
  fc.constantFrom("9223372036854775807", "-9223372036854775808", "9223372036854775808"),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.integer().map(String),
  fc.string({ minLength: 60, maxLength: 70 }),
);

const op = fc.oneof(
  fc.tuple(fc.constant("set" as const), text, text),
  fc.tuple(fc.constant("del" as const), text, fc.constant("")),
  fc.tuple(fc.constant("pairs" as const), fc.array(fc.tuple(text, text), { maxLength: 5 })),
);

function flat(m: Map<string, string>): string[] {
  return [...m].flat();
}

/** The listpack bytes a hash holds must be the reference encoder's for the same entries. */
function sameBytes(h: HashValue, ref: Map<string, string>): void {
  const lp = h.listpack();
  notEqual(lp, null);
  deepStrictEqual(binaryToBytes(lp!), encodeListpack(flat(ref)));
  deepStrictEqual(lpStrings(lp!), flat(ref));
}

Deno.test("a listpack hash agrees with a Map under random changes, in insertion order", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const h = new HashValue();
      const ref = new Map<string, string>();
      for (const o of ops) {
        if (o[0] === "set") {
          equal(h.set(o[1], o[2]), !ref.has(o[1]));
          ref.set(o[1], o[2]);
        } else if (o[0] === "del") {
          equal(h.delete(o[1]), ref.delete(o[1]));
        } else {
          const args = ["HSET", "k", ...o[1].flat()];
          const before = ref.size;
          for (const [f, v] of o[1]) ref.set(f, v);
          equal(h.setPairs(args, 2), ref.size - before);
        }
      }
      equal(h.encoding(), "listpack");
      equal(h.size, ref.size);
      deepStrictEqual([...h.entries()], [...ref]);
      deepStrictEqual(h.fields(), [...ref.keys()]);
      for (const [f, v] of ref) {
        equal(h.get(f), v);
        equal(h.has(f), true);
      }
      sameBytes(h, ref);
    }),
    { numRuns: 300 },
  );
});

Deno.test("integer-like fields are found only by their exact text", () => {
  const h = new HashValue();
  h.setPairs(
    ["HSET", "k", "1", "a", "01", "b", "-0", "c", "0", "d", "18446744073709551616", "e"],
    2,
  );
  deepStrictEqual(h.fields(), ["1", "01", "-0", "0", "18446744073709551616"]);
  equal(h.get("1"), "a");
  equal(h.get("01"), "b");
  equal(h.get("-0"), "c");
  equal(h.get("0"), "d");
  equal(h.get("+1"), undefined);
  equal(h.get("00"), undefined);
  h.set("1", "-9223372036854775808");
  equal(h.get("1"), "-9223372036854775808");
  deepStrictEqual(h.fields(), ["1", "01", "-0", "0", "18446744073709551616"]);
});

const limits = { maxEntries: 4, maxValue: 8 };

Deno.test("HSET converts past the entry count and value length limits, exactly there", () => {
  const h = new HashValue();
  h.checkArgs(["HSET", "k", "f1", "v1", "f2", "v2", "f3", "v3", "f4", "v4"], 2, limits);
  h.setPairs(["HSET", "k", "f1", "v1", "f2", "v2", "f3", "v3", "f4", "v4"], 2);
  h.checkSize(limits);
  equal(h.encoding(), "listpack");
  h.checkArgs(["HSET", "k", "f4", "12345678"], 2, limits);
  h.set("f4", "12345678");
  h.checkSize(limits);
  equal(h.encoding(), "listpack", "a value of exactly maxValue bytes fits");
  h.checkArgs(["HSET", "k", "f5", "v5"], 2, limits);
  h.set("f5", "v5");
  h.checkSize(limits);
  equal(h.encoding(), "hashtable", "the 5th entry converts");
  equal(h.listpack(), null);
  h.delete("f5");
  h.delete("f4");
  equal(h.encoding(), "hashtable", "conversion is for good");
  deepStrictEqual([...h.entries()], [["f1", "v1"], ["f2", "v2"], ["f3", "v3"]]);

  const long = new HashValue();
  long.set("a", "b");
  long.checkArgs(["HSET", "k", "a", "123456789"], 2, limits);
  equal(long.encoding(), "hashtable", "a 9-byte argument converts before the write");
  equal(long.get("a"), "b");
});

Deno.test("checkEncoding decides a loaded hash's encoding and converts a listpack", () => {
  const fits = new HashValue([["a", "1"], ["b", "12345678"], ["a", "2"]]);
  fits.checkEncoding(limits);
  equal(fits.encoding(), "listpack");
  deepStrictEqual([...fits.entries()], [["a", "2"], ["b", "12345678"]]);
  sameBytes(fits, new Map([["a", "2"], ["b", "12345678"]]));

  const tooMany = new HashValue(["a", "b", "c", "d", "e"].map((f) => [f, f]));
  tooMany.checkEncoding(limits);
  equal(tooMany.encoding(), "hashtable");
  const tooLong = new HashValue([["a", "123456789"]]);
  tooLong.checkEncoding(limits);
  equal(tooLong.encoding(), "hashtable");

  // A listpack whose limits shrank (CONFIG SET) converts on the next whole check.
  const h = new HashValue();
  h.set("f", "123456789");
  h.checkEncoding({ maxEntries: 10, maxValue: 9 });
  equal(h.encoding(), "listpack");
  h.checkEncoding({ maxEntries: 10, maxValue: 8 });
  equal(h.encoding(), "hashtable");
  const ints = new HashValue();
  ints.set("f", "-12345678");
  ints.checkEncoding({ maxEntries: 10, maxValue: 8 });
  equal(ints.encoding(), "hashtable", "an integer counts by its decimal length");
});

Deno.test("a clone is independent of the original, in both encodings", () => {
  for (const big of [false, true]) {
    const h = new HashValue();
    h.setPairs(["HSET", "k", "a", "1", "b", "2"], 2);
    if (big) h.checkSize({ maxEntries: 1, maxValue: 64 });
    const c = h.clone();
    h.set("a", "changed");
    h.delete("b");
    h.set("z", "new");
    c.set("c", "3");
    deepStrictEqual([...c.entries()], [["a", "1"], ["b", "2"], ["c", "3"]]);
    deepStrictEqual([...h.entries()], [["a", "changed"], ["z", "new"]]);
    equal(c.encoding(), big ? "hashtable" : "listpack");
  }
});

Deno.test("a listpack hash's memory estimate is its bytes plus a fixed overhead", () => {
  const h = new HashValue();
  const empty = h.memoryUsage();
  for (let i = 1; i <= 10; i++) h.set(`member:${i}`, `value:${i}`);
  equal(h.memoryUsage() - empty, h.listpack()!.length - 7);
});

Deno.test("a hash loaded in bulk beyond the listpack builder's reach is decided on its check", () => {
  const entries = Array.from({ length: 9000 }, (_, i): [string, string] => [`f${i}`, `${i}`]);
  const wide = new HashValue(entries);
  equal(wide.encoding(), "listpack", "undecided until checked");
  wide.checkEncoding({ maxEntries: 10000, maxValue: 64 });
  equal(wide.encoding(), "listpack");
  notEqual(wide.listpack(), null);
  equal(wide.get("f8999"), "8999");
  const big = new HashValue(entries);
  const copy = big.clone();
  big.checkEncoding({ maxEntries: 128, maxValue: 64 });
  equal(big.encoding(), "hashtable");
  equal(big.listpack(), null);
  equal(big.size, 9000);
  equal(copy.encoding(), "listpack", "a clone keeps its own undecided state");
  copy.checkEncoding({ maxEntries: 9000, maxValue: 4 });
  equal(copy.encoding(), "hashtable", "a 5-byte field is past maxValue 4");
});
