import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { Crc64, crc64 } from "./crc64.ts";
import { seededRandom } from "../../tests/helpers/random.ts";
import { lzfCompress, lzfDecompress } from "./lzf.ts";
import { dumpPayload, restorePayload } from "./rdb.ts";
import { listpackChecked, ziplistChecked, zipmapChecked } from "./validate.ts";
import { encodeIntset, encodeListpack } from "./compact.ts";

Deno.test("crc64 matches Redis's test vector", () => {
  equal(crc64(new TextEncoder().encode("123456789")), 0xe9c6d914c4b8d9can);
});

Deno.test("crc64 in eight-byte steps matches a bit-by-bit reference on any split", () => {
  const rnd = seededRandom(3);
  const reference = (b: Uint8Array): bigint => {
    let crc = 0n;
    for (const byte of b) {
      crc ^= BigInt(byte);
      for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ 0x95ac9329ac4bc9b5n : crc >> 1n;
    }
    return crc;
  };
  for (let round = 0; round < 200; round++) {
    const b = new Uint8Array(Math.floor(rnd() * 100));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
    const c = new Crc64();
    for (let off = 0; off < b.length;) {
      const n = 1 + Math.floor(rnd() * 20);
      c.update(b.subarray(off, off + n));
      off += n;
    }
    equal(c.value(), reference(b), `round ${round}`);
    // A view into a larger buffer at an odd offset.
    const padded = new Uint8Array(b.length + 3);
    padded.set(b, 3);
    equal(crc64(padded.subarray(3)), reference(b));
  }
});

Deno.test("crc64 compares with and writes its 8 little-endian bytes, and resets", () => {
  const c = new Crc64().update(new TextEncoder().encode("123456789"));
  const out = new Uint8Array(11);
  c.writeTo(out, 3);
  deepStrictEqual(out.subarray(3), c.bytes());
  equal(c.equals(out, 3), true);
  out[10]! ^= 1;
  equal(c.equals(out, 3), false);
  equal(c.reset().value(), 0n);
});

Deno.test("DUMP payloads are independent of each other and checked when restored", () => {
  const a = dumpPayload("first value", { compress: false });
  const copyOfA = a.slice();
  const b = dumpPayload("x".repeat(100_000), { compress: false });
  // The writer is reused: the first payload is untouched by the second, larger one.
  deepStrictEqual(a, copyOfA);
  deepStrictEqual(restorePayload(a), { value: "first value" });
  deepStrictEqual(restorePayload(b), { value: "x".repeat(100_000) });
  const bad = a.slice();
  bad[bad.length - 1]! ^= 0x80;
  deepStrictEqual(restorePayload(bad), { error: "ERR DUMP payload version or checksum are wrong" });
  // A checksum of 0 is checked too (Redis 7.0 refuses it), unless checksums are skipped.
  const unchecked = a.slice();
  unchecked.fill(0, unchecked.length - 8);
  deepStrictEqual(restorePayload(unchecked), {
    error: "ERR DUMP payload version or checksum are wrong",
  });
  deepStrictEqual(restorePayload(unchecked, { skipChecksum: true }), { value: "first value" });
});

Deno.test("lzf round-trips random and repetitive data", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(20), (data, rep) => {
      const input = new Uint8Array(data.length * (rep + 1));
      for (let i = 0; i <= rep; i++) input.set(data, i * data.length);
      const c = lzfCompress(input, input.length + 64);
      if (c === null) throw new Error("did not fit a generous buffer");
      deepStrictEqual(lzfDecompress(c, input.length), input);
    }),
    { numRuns: 200 },
  );
  // With the buffer RDB gives it (4 bytes less than the input), the result is null or exact.
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(8), (data, rep) => {
      const input = new Uint8Array(data.length * (rep + 1));
      for (let i = 0; i <= rep; i++) input.set(data, i * data.length);
      const c = lzfCompress(input, input.length - 4);
      if (c !== null) deepStrictEqual(lzfDecompress(c, input.length), input);
    }),
    { numRuns: 300 },
  );
  const text = new TextEncoder().encode("abcabcabc".repeat(100));
  const c = lzfCompress(text, text.length - 4)!;
  equal(c.length < 40, true);
});

Deno.test("ziplists from older RDB files decode every entry encoding", () => {
  const entries = [
    [0x00, 0x03, 0x61, 0x62, 0x63], // prevlen 0, 6-bit string "abc"
    [0x05, 0xfe, 0xfb], // int8 -5
    [0x03, 0xf3], // 4-bit immediate 2
    [0x02, 0xc0, 0xe8, 0x03], // int16 1000
    [0x04, 0xf0, 0x00, 0x00, 0x80], // int24 -8388608
    [0x05, 0xd0, 0xff, 0xff, 0xff, 0x7f], // int32 2147483647
    [0x06, 0xe0, 1, 0, 0, 0, 0, 0, 0, 0x80], // int64 -9223372036854775807
    [0x0a, 0x40, 0x41, ...new Array(65).fill(0x7a)], // 14-bit string of 65 'z'
  ].flat();
  // Header: total bytes, the last entry's offset, the entry count (little-endian).
  const total = 10 + entries.length + 1, tail = 10 + entries.length - 68; // the last entry: 1 + 2 + 65 bytes
  const le = (n: number, w: number) => Array.from({ length: w }, (_, i) => (n >> (8 * i)) & 0xff);
  const zl = new Uint8Array([...le(total, 4), ...le(tail, 4), ...le(8, 2), ...entries, 0xff]);
  deepStrictEqual(ziplistChecked(zl), [
    "abc",
    "-5",
    "2",
    "1000",
    "-8388608",
    "2147483647",
    "-9223372036854775807",
    "z".repeat(65),
  ]);
});

Deno.test("listpacks decode small ints, 13-bit ints and strings, skipping back-lengths", () => {
  const lp = new Uint8Array([
    21,
    0,
    0,
    0,
    4,
    0, // header: total bytes, count
    0x07,
    0x01, // 7-bit uint 7
    0x83,
    0x61,
    0x62,
    0x63,
    0x04, // 6-bit string "abc"
    0xdf,
    0xff,
    0x02, // 13-bit int -1
    0xf1,
    0x10,
    0x27,
    0x03, // int16 10000
    0xff,
  ]);
  deepStrictEqual(listpackChecked(lp, true), ["7", "abc", "-1", "10000"]);
});

Deno.test("listpacks we encode decode back, across every back-length size boundary", () => {
  // Element sizes around Redis's back-length thresholds (127, 16383, ...), ints of each width.
  const items = [
    "",
    "7",
    "-4096",
    "32767",
    "-8388608",
    "2147483647",
    "-9223372036854775808",
    "01",
    "x".repeat(63),
    "x".repeat(64),
    "x".repeat(125),
    "x".repeat(126),
    "x".repeat(4095),
    "x".repeat(4096),
    "x".repeat(16377),
    "x".repeat(16378),
    "x".repeat(16379),
  ];
  deepStrictEqual(listpackChecked(encodeListpack(items), true), items);
  const ints = encodeIntset([5n, -70000n, 3n]);
  equal(new DataView(ints.buffer).getUint32(0, true), 4);
});

Deno.test("zipmaps from RDB files of Redis before 2.6 decode: short and long lengths, free bytes", () => {
  const long = "v".repeat(300);
  const enc = new TextEncoder();
  const bytes = [
    2, // the entry count
    ...[2, ...enc.encode("f1")], // a field
    ...[2, 3, ...enc.encode("v1"), 0, 0, 0], // a value with three free bytes after it
    ...[2, ...enc.encode("f2")],
    ...[254, 44, 1, 0, 0, 0, ...enc.encode(long)], // a length of 300 in five bytes
    255,
  ];
  deepStrictEqual(zipmapChecked(new Uint8Array(bytes)), [["f1", "v1"], ["f2", long]]);
  // An empty zipmap is refused, as Redis refuses it.
  equal(zipmapChecked(new Uint8Array([0, 255])), null);
  // Cut short anywhere: refused, never a read past the end.
  for (let n = 0; n < bytes.length - 1; n++) {
    equal(zipmapChecked(new Uint8Array(bytes.slice(0, n))), null, `cut at ${n}`);
  }
});
