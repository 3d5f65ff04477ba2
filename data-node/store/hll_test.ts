import { deepStrictEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import {
  countHll,
  createHll,
  decodeSparse,
  denseGet,
  denseSet,
  HLL_DENSE_SIZE,
  HLL_REGISTERS,
  hllAdd,
  isHll,
  patternOf,
  registersOf,
  toDense,
} from "./hll.ts";
import { bytesToBinary } from "../../shared/resp/bytes.ts";

// ---- MurmurHash64A in plain 64-bit arithmetic: the reference for hll.ts's 32-bit version ----

const M64 = 0xc6a4a7935bd1e995n;
const MASK64 = 0xffffffffffffffffn;
const HASH_SEED = 0xadc83b19n;

/** MurmurHash64A over the bytes of a binary string, blocks read little endian. */
function murmurHash64A(s: string, seed = HASH_SEED): bigint {
  const len = s.length;
  let h = (seed ^ ((BigInt(len) * M64) & MASK64)) & MASK64;
  const blocks = len - (len & 7);
  for (let i = 0; i < blocks; i += 8) {
    const lo = (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) |
      (s.charCodeAt(i + 3) << 24)) >>> 0;
    const hi = (s.charCodeAt(i + 4) | (s.charCodeAt(i + 5) << 8) | (s.charCodeAt(i + 6) << 16) |
      (s.charCodeAt(i + 7) << 24)) >>> 0;
    let k = (BigInt(hi) << 32n) | BigInt(lo);
    k = (k * M64) & MASK64;
    k ^= k >> 47n;
    k = (k * M64) & MASK64;
    h ^= k;
    h = (h * M64) & MASK64;
  }
  const rest = len & 7;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) h ^= BigInt(s.charCodeAt(blocks + j)) << BigInt(8 * j);
    h = (h * M64) & MASK64;
  }
  h ^= h >> 47n;
  h = (h * M64) & MASK64;
  h ^= h >> 47n;
  return h;
}

Deno.test("a new HyperLogLog is sparse: the header and one XZERO run over all registers", () => {
  const b = createHll();
  equal(bytesToBinary(b), "HYLL\x01" + "\0".repeat(11) + "\x7f\xff");
  equal(countHll(b), 0);
  equal(decodeSparse(b), "Z:16384");
  ok(isHll(bytesToBinary(b)));
});

// Registers and counts as redis-server 7.0 reports them (PFDEBUG DECODE after one PFADD).
const KNOWN: [string, number, number][] = [
  ["a", 12711, 2],
  ["hello", 9216, 1],
  ["", 5938, 2],
  ["foobarbaz12345", 667, 2],
];

Deno.test("elements land in the register Redis's MurmurHash64A names", () => {
  for (const [el, index, count] of KNOWN) {
    deepStrictEqual(patternOf(el), { index, count }, el);
    const r = hllAdd(createHll(), el, 3000);
    ok(r !== "invalid");
    equal(decodeSparse(r.value), `Z:${index} v:${count},1 Z:${HLL_REGISTERS - index - 1}`);
  }
});

Deno.test("dense registers keep every 6-bit value without touching their neighbours", () => {
  const d = toDense(createHll())!;
  equal(d.length, HLL_DENSE_SIZE);
  for (let i = 0; i < HLL_REGISTERS; i++) denseSet(d, i, (i * 7) & 63);
  for (let i = 0; i < HLL_REGISTERS; i++) equal(denseGet(d, i), (i * 7) & 63);
});

Deno.test("sparse and dense values of the same elements have the same registers and count", () => {
  let sparse = createHll(), dense = toDense(createHll())!;
  for (let i = 0; i < 2000; i++) {
    const a = hllAdd(sparse, `el:${i}`, 1_000_000), b = hllAdd(dense, `el:${i}`, 0);
    ok(a !== "invalid" && b !== "invalid");
    sparse = a.value;
    dense = b.value;
  }
  equal(sparse[4], 1, "still sparse");
  deepStrictEqual(registersOf(sparse), registersOf(dense));
  equal(countHll(sparse), countHll(dense));
  const n = countHll(dense)!;
  ok(Math.abs(n - 2000) < 2000 * 0.05, `estimate ${n}`);
});

Deno.test("a sparse body that does not cover all registers is invalid", () => {
  // One XZERO run of 100 registers: the rest are missing.
  const b = createHll();
  b[b.length - 2] = 0x40;
  b[b.length - 1] = 99;
  equal(countHll(b), null);
  equal(registersOf(b), null);
  equal(toDense(b), null);
  equal(hllAdd(b, "a", 3000), "invalid");
});

Deno.test("the 32-bit hash agrees with the 64-bit reference on any bytes", () => {
  // patternOf hashes on 32-bit halves; murmurHash64A is the plain bigint transcription.
  const reference = (el: string) => {
    const h = murmurHash64A(el);
    const rest = (h >> 14n) | (1n << 50n);
    let count = 1;
    while (((rest >> BigInt(count - 1)) & 1n) === 0n) count++;
    return { index: Number(h & 16383n), count };
  };
  const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => bytesToBinary(b));
  fc.assert(fc.property(bytes, (el) => deepStrictEqual(patternOf(el), reference(el))), {
    numRuns: 2000,
  });
});
