import { equal } from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha1, sha1Hex } from "./sha1.ts";

const ref = (b: Uint8Array) => createHash("sha1").update(b).digest("hex");
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("sha1: FIPS 180 examples", () => {
  equal(sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  equal(sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  equal(
    sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
});

Deno.test("sha1: every length across the block and padding edges, bytes and binary strings", () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let n = 0; n <= 300; n++) {
    const b = new Uint8Array(n).map(next);
    const want = ref(b);
    equal(sha1Hex(b), want, `bytes, length ${n}`);
    equal(sha1Hex(latin1(b)), want, `binary string, length ${n}`);
    // Into an offset of a larger array, the bytes around it untouched.
    const out = new Uint8Array(24).fill(0xaa);
    sha1(b, out, 2);
    equal(hexOf(out.subarray(2, 22)), want);
    equal(out[1], 0xaa);
    equal(out[22], 0xaa);
  }
  // Longer than the reused scratch buffer (1 KB), and then short again.
  const big = new Uint8Array(3_000_000).map(next);
  equal(sha1Hex(latin1(big.subarray(0, 5000))), ref(big.subarray(0, 5000)));
  equal(sha1Hex(big), ref(big));
  equal(sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
});
