import { deepStrictEqual, equal, notEqual } from "node:assert/strict";
import fc from "fast-check";
import { ListValue } from "./list.ts";
import { encodeListpack, quicklistNodes } from "../persistence/compact.ts";
import { binaryToBytes } from "../../shared/resp/bytes.ts";

const element = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength: 6,
  }),
  fc.constantFrom("0", "-1", "01", "4095", "-9223372036854775808", "18446744073709551616"),
  fc.string({ minLength: 60, maxLength: 70 }),
  fc.string({ minLength: 120, maxLength: 130 }),
);

const op = fc.oneof(
  fc.tuple(fc.constantFrom("pushHead", "pushTail"), element),
  fc.tuple(fc.constantFrom("popHead", "popTail"), fc.constant("")),
  fc.tuple(fc.constant("setAt"), element, fc.nat(40)),
  fc.tuple(fc.constant("insert"), element, fc.nat(40)),
);

Deno.test("a list agrees with an array under random changes, in both forms", () => {
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 80 }),
      fc.constantFrom(-2, -1, 3, 40),
      (ops, fill) => {
        const l = new ListValue();
        const ref: string[] = [];
        for (const o of ops) {
          if (o[0] === "pushHead") {
            l.pushHead(o[1], fill);
            ref.unshift(o[1]);
          } else if (o[0] === "pushTail") {
            l.pushTail(o[1], fill);
            ref.push(o[1]);
          } else if (o[0] === "popHead") equal(l.popHead(), ref.shift());
          else if (o[0] === "popTail") equal(l.popTail(), ref.pop());
          else if (o[0] === "setAt" && ref.length > 0) {
            const i = o[2] % ref.length;
            l.setAt(i, o[1], fill);
            ref[i] = o[1];
          } else if (o[0] === "insert") {
            const items = l.toArray();
            items.splice(o[2] % (items.length + 1), 0, o[1]);
            l.replaceAll(items, fill);
            ref.splice(o[2] % (ref.length + 1), 0, o[1]);
          }
          equal(l.length, ref.length);
        }
        deepStrictEqual(l.toArray(), ref);
        deepStrictEqual([...l.range()], ref);
        deepStrictEqual([...l.range(1, Math.min(3, ref.length - 1))], ref.slice(1, 4));
        ref.forEach((x, i) => equal(l.at(i), x));
        equal(l.at(ref.length), undefined);
        const lp = l.listpack();
        if (lp !== null) deepStrictEqual(binaryToBytes(lp), encodeListpack(ref));
        equal(l.encoding(), "quicklist");
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a list built by appends is a listpack exactly while it fits one quicklist node", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ minLength: 0, maxLength: 300 }), { maxLength: 120 }),
      fc.constantFrom(-5, -2, -1, 0, 1, 5, 100),
      (items, fill) => {
        const l = new ListValue();
        for (let i = 0; i < items.length; i++) {
          l.pushTail(items[i]!, fill);
          const nodes = quicklistNodes(items.slice(0, i + 1), fill).length;
          // A single node past 8 KB (fill -3..-5) is held as a deque all the same.
          const bytes = encodeListpack(items.slice(0, i + 1)).length;
          equal(l.listpack() !== null, nodes === 1 && (i === 0 || bytes <= 8192));
          if (nodes > 1) break;
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("the node limits: count for a positive fill, bytes for a negative one", () => {
  const counted = new ListValue();
  for (let i = 0; i < 3; i++) counted.pushHead(`e${i}`, 3);
  notEqual(counted.listpack(), null);
  counted.pushHead("e3", 3);
  equal(counted.listpack(), null, "a 4th element needs a second node");
  deepStrictEqual(counted.toArray(), ["e3", "e2", "e1", "e0"]);
  counted.popHead();
  equal(counted.listpack(), null, "and the list stays a deque");

  // -1: 4096 bytes. An empty listpack is 7 bytes; a 100-byte element takes 103.
  const sized = new ListValue();
  const x = "x".repeat(100);
  for (let i = 0; i < 38; i++) sized.pushTail(x, -1);
  equal(sized.listpack()!.length, 7 + 38 * 103);
  sized.pushTail(x, -1); // 3921 + 100 + 8 = 4029 <= 4096
  notEqual(sized.listpack(), null);
  sized.pushTail(x, -1); // 4024 + 108 > 4096
  equal(sized.listpack(), null);
  equal(sized.length, 40);

  const one = new ListValue();
  one.pushTail("y".repeat(10000), -1);
  notEqual(one.listpack(), null, "a first element always fits");
});

Deno.test("checkEncoding applies the configured fill to a loaded list, both ways", () => {
  const six = new ListValue(["a", "b", "c", "d", "e", "f"]);
  notEqual(six.listpack(), null);
  six.checkEncoding(5);
  equal(six.listpack(), null);
  deepStrictEqual(six.toArray(), ["a", "b", "c", "d", "e", "f"]);

  const items = Array.from({ length: 100 }, (_, i) => `${i}`.padStart(100, "z"));
  const long = new ListValue(items);
  equal(long.listpack(), null, "10 KB needs two nodes");
  for (let i = 0; i < 60; i++) long.popTail();
  equal(long.listpack(), null);
  long.checkEncoding(-2);
  notEqual(long.listpack(), null);
  deepStrictEqual(long.toArray(), items.slice(0, 40));
  deepStrictEqual(binaryToBytes(long.listpack()!), encodeListpack(items.slice(0, 40)));
});

Deno.test("a clone is independent of the original, in both forms", () => {
  for (const fill of [-2, 2]) {
    const l = new ListValue();
    l.pushTail("a", fill);
    l.pushTail("b", fill);
    l.pushTail("c", fill);
    equal(l.listpack() !== null, fill === -2);
    const c = l.clone();
    l.popHead();
    l.setAt(0, "B", fill);
    c.pushTail("d", fill);
    deepStrictEqual(c.toArray(), ["a", "b", "c", "d"]);
    deepStrictEqual(l.toArray(), ["B", "c"]);
  }
});
