import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { crc64 } from "./crc64.ts";
import { lzfCompress, lzfDecompress } from "./lzf.ts";

Deno.test("crc64 matches Redis's test vector", () => {
  equal(crc64(new TextEncoder().encode("123456789")), 0xe9c6d914c4b8d9can);
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
  const text = new TextEncoder().encode("abcabcabc".repeat(100));
  const c = lzfCompress(text, text.length - 4)!;
  equal(c.length < 40, true);
});
