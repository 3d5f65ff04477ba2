import { equal, notEqual } from "node:assert/strict";
import fc from "fast-check";
import { CLUSTER_SLOTS, crc16, keyHashSlot } from "./slots.ts";

/** Bit by bit CRC16-XMODEM, the specification the table-driven version must match. */
function crc16Reference(s: string): number {
  let crc = 0;
  for (let i = 0; i < s.length; i++) {
    crc ^= s.charCodeAt(i) << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : crc << 1;
  }
  return crc & 0xffff;
}

Deno.test("CRC16 is XMODEM: the standard check value", () => {
  equal(crc16("123456789"), 0x31c3);
  equal(crc16(""), 0);
  equal(crc16("xx123456789yy", 2, 11), 0x31c3);
});

Deno.test("CRC16 table matches the bitwise definition on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const s = String.fromCharCode(...bytes);
      equal(crc16(s), crc16Reference(s));
    }),
  );
});

// Slots as CLUSTER KEYSLOT of redis-server 7.0.15 reports them.
const REDIS_SLOTS: [string, number][] = [
  ["123456789", 12739],
  ["foo", 12182],
  ["bar", 5061],
  ["user1000", 3443],
  ["{user1000}.following", 3443],
  ["{user1000}.followers", 3443],
  ["foo{}{bar}", 8363], // empty tag: the whole key
  ["foo{{bar}}zap", 4015], // the tag is "{bar"
  ["{bar", 4015], // no closing brace: the whole key
  ["foo{bar}{zap}", 5061], // the first tag only: "bar"
  ["", 0],
  ["{", 4092],
  ["}", 12090],
  ["{}", 15257],
  ["}{a}", 15495], // a "}" before the "{" does not close it
  ["a", 15495],
  ["\xff\x00\x80binary", 5226],
  ["{\xff\x00}tail", 1023],
  ["\xff\x00", 1023],
  ["key:000001", 5493],
  ["hello world", 15332],
];

Deno.test("keyHashSlot agrees with redis-server, hash tags included", () => {
  for (const [key, slot] of REDIS_SLOTS) equal(keyHashSlot(key), slot, JSON.stringify(key));
});

Deno.test("keyHashSlot: a non-empty tag decides the slot; otherwise the whole key does", () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 8 }),
      fc.string({ minLength: 1, maxLength: 8 }),
      fc.string({ maxLength: 8 }),
      (pre, tag, post) => {
        fc.pre(!pre.includes("{") && !tag.includes("}") && !tag.includes("{"));
        const key = `${pre}{${tag}}${post}`;
        equal(keyHashSlot(key), crc16Reference(tag) % CLUSTER_SLOTS);
      },
    ),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 16 }), (key) => {
      fc.pre(!key.includes("{"));
      const slot = keyHashSlot(key);
      equal(slot, crc16Reference(key) % CLUSTER_SLOTS);
      equal(slot >= 0 && slot < CLUSTER_SLOTS, true);
    }),
  );
  notEqual(keyHashSlot("foo{}{bar}"), keyHashSlot("bar"));
});

Deno.test("keyHashSlot's memory of the last key never answers for another key", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "binary", maxLength: 12 }), { maxLength: 30 }),
      (keys) => {
        for (const k of keys) {
          // Equal content from a new string, then the same string again.
          const copy = k.split("").join("");
          equal(keyHashSlot(copy), keyHashSlot(k));
          const open = k.indexOf("{"), close = open < 0 ? -1 : k.indexOf("}", open + 1);
          const hashed = close > open + 1 ? k.slice(open + 1, close) : k;
          equal(keyHashSlot(k), crc16Reference(hashed) % CLUSTER_SLOTS);
        }
      },
    ),
  );
});
