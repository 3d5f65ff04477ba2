import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import {
  intKey,
  isFrom,
  isInsert,
  isRemove,
  isSearch,
  isValues,
  LP_EMPTY,
  LP_HEADER,
  lpCount,
  lpCut,
  lpEquals,
  lpFind,
  lpFrom,
  lpGet,
  lpLast,
  lpNext,
  lpPrev,
  lpSeek,
  lpStrings,
  lpStrLen,
} from "./listpack.ts";
import { encodeIntset, encodeListpack } from "../persistence/compact.ts";
import { listpackChecked } from "../persistence/validate.ts";
import { binaryToBytes } from "../../shared/resp/bytes.ts";
import { parseI64 } from "../../shared/int64.ts";

/** Elements around every encoding and back-length boundary. */
/** Binary strings (one char per byte, 0-255), as keys and values are held. */
const binary = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength,
  });

const element = fc.oneof(
  fc.string({ maxLength: 5 }),
  binary(8),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.integer({ min: -5000, max: 5000 }).map(String),
  fc.constantFrom("-0", "01", "+1", "9223372036854775808", "-9223372036854775809", " 1"),
  fc.constantFrom(63, 64, 125, 126, 127, 4095, 4096, 16377, 16378, 16379).map((n) => "x".repeat(n)),
);

Deno.test("a listpack string is the reference encoder's bytes and walks both ways", () => {
  fc.assert(
    fc.property(fc.array(element, { maxLength: 12 }), (items) => {
      const lp = lpFrom(items);
      deepStrictEqual(binaryToBytes(lp), encodeListpack(items));
      deepStrictEqual(listpackChecked(binaryToBytes(lp), true), items);
      equal(lpCount(lp), items.length);
      deepStrictEqual(lpStrings(lp), items);
      // Forward offsets, then the same offsets walking back from the end.
      const offsets: number[] = [];
      for (let p = LP_HEADER; p < lp.length - 1; p = lpNext(lp, p)) offsets.push(p);
      const back: number[] = [];
      for (let p = lpLast(lp); p >= 0; p = lpPrev(lp, p)) back.unshift(p);
      deepStrictEqual(back, offsets);
      items.forEach((s, i) => {
        equal(lpSeek(lp, i), offsets[i]);
        equal(lpGet(lp, offsets[i]!), s);
        equal(lpStrLen(lp, offsets[i]!), s.length);
        equal(lpEquals(lp, offsets[i]!, s, intKey(s)), true);
        equal(lpFind(lp, s, 1), offsets[items.indexOf(s)]);
      });
      equal(lpSeek(lp, items.length), -1);
      if (items.length > 1) {
        const cut = lpCut(lp, offsets[0]!, offsets[1]!, 1);
        deepStrictEqual(lpStrings(cut), items.slice(1));
        deepStrictEqual(binaryToBytes(cut), encodeListpack(items.slice(1)));
      }
    }),
    { numRuns: 300 },
  );
  equal(lpFrom([]), LP_EMPTY);
  equal(lpLast(LP_EMPTY), -1);
});

Deno.test("intKey reads exactly the strings Redis stores as integers", () => {
  fc.assert(
    fc.property(element, (s) => {
      const want = parseI64(s);
      const got = intKey(s);
      equal(got === null ? null : BigInt(got), want);
      if (got !== null) equal(typeof got, Number.isSafeInteger(Number(want)) ? "number" : "bigint");
    }),
    { numRuns: 2000 },
  );
  equal(lpEquals(lpFrom(["12"]), LP_HEADER, "12", 12), true);
  equal(lpEquals(lpFrom(["12"]), LP_HEADER, "012", null), false);
});

Deno.test("intsets: search, insert with widening, remove, as Redis's bytes", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 20 }),
      fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
      (values, extra) => {
        const num = (v: bigint) => Number.isSafeInteger(Number(v)) ? Number(v) : v;
        const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const w = encodeIntset(sorted)[0]!; // the width the values need
        const is = isFrom(sorted.map(num), w);
        deepStrictEqual(binaryToBytes(is), encodeIntset(sorted));
        deepStrictEqual(isValues(is).map(BigInt), sorted);
        sorted.forEach((v, i) => equal(isSearch(is, num(v)), i));
        const at = isSearch(is, num(extra));
        if (at < 0) {
          const grown = isInsert(is, -at - 1, num(extra));
          const all = [...sorted, extra].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          deepStrictEqual(binaryToBytes(grown), encodeIntset(all, w));
          const shrunk = isRemove(grown, -at - 1);
          deepStrictEqual(isValues(shrunk).map(BigInt), sorted);
          deepStrictEqual(binaryToBytes(shrunk), encodeIntset(sorted, binaryToBytes(grown)[0]));
        }
      },
    ),
    { numRuns: 300 },
  );
});
