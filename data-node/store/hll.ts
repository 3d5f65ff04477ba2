/**
 * HyperLogLog values in Redis's own byte layout, so that a value written by either side counts
 * the same on the other. A HLL is a plain string:
 *
 * - a 16-byte header: "HYLL", the encoding (0 dense, 1 sparse), three unused bytes and the
 *   cached cardinality (8 bytes, little endian; bit 7 of the last byte set = stale);
 * - dense: 16384 registers of 6 bits, packed least significant bit first (12288 bytes);
 * - sparse: run-length opcodes. ZERO `00xxxxxx` (1..64 zero registers), XZERO
 *   `01xxxxxx yyyyyyyy` (1..16384 zero registers), VAL `1vvvvvxx` (1..4 registers of value
 *   1..32).
 *
 * Updates follow Redis's algorithm step by step (the split of one opcode into at most five
 * bytes, the merge of equal neighbours, the promotion rules), as those decide the exact bytes.
 */

export const HLL_P = 14;
export const HLL_Q = 64 - HLL_P;
export const HLL_REGISTERS = 1 << HLL_P;
const HLL_P_MASK = HLL_REGISTERS - 1;
export const HLL_HDR_SIZE = 16;
export const HLL_DENSE_SIZE = HLL_HDR_SIZE + Math.floor((HLL_REGISTERS * 6 + 7) / 8);
export const HLL_DENSE = 0;
export const HLL_SPARSE = 1;
const REGISTER_MAX = 63;
const SPARSE_VAL_MAX_VALUE = 32;
const SPARSE_VAL_MAX_LEN = 4;
const SPARSE_ZERO_MAX_LEN = 64;
const SPARSE_XZERO_MAX_LEN = 16384;
/** The estimator's constant for m -> infinity (Ertl's improved estimator). */
const ALPHA_INF = 0.721347520444481703680;

export const INVALID_HLL_ERR = "INVALIDOBJ Corrupted HLL object detected";
export const NOT_HLL_ERR = "WRONGTYPE Key is not a valid HyperLogLog string value.";

// MurmurHash64A, the hash Redis puts every element through (seed 0xadc83b19), on two 32-bit
// halves (no bigint per element); hll_test.ts checks it against a plain 64-bit transcription.

const M_HI = 0xc6a4a793, M_LO = 0x5bd1e995;
/** The high and low halves of the last mul64 / murmur64 result. */
let rHi = 0, rLo = 0;

/** (aHi:aLo * bHi:bLo) mod 2^64 into rHi:rLo. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  // aLo * bLo in full from 16-bit pieces; the cross products only count mod 2^32.
  const a0 = aLo & 0xffff, a1 = aLo >>> 16, b0 = bLo & 0xffff, b1 = bLo >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  rLo = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  rHi = (hi + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
}

/** murmurHash64A with Redis's seed into rHi:rLo. */
function murmur64(s: string): void {
  const len = s.length;
  mul64(0, len, M_HI, M_LO);
  let hHi = rHi, hLo = (rLo ^ 0xadc83b19) >>> 0;
  const blocks = len - (len & 7);
  for (let i = 0; i < blocks; i += 8) {
    const lo = (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) |
      (s.charCodeAt(i + 3) << 24)) >>> 0;
    const hi = (s.charCodeAt(i + 4) | (s.charCodeAt(i + 5) << 8) | (s.charCodeAt(i + 6) << 16) |
      (s.charCodeAt(i + 7) << 24)) >>> 0;
    mul64(hi, lo, M_HI, M_LO);
    // k ^= k >> 47: only the low half changes.
    mul64(rHi, (rLo ^ (rHi >>> 15)) >>> 0, M_HI, M_LO);
    mul64((hHi ^ rHi) >>> 0, (hLo ^ rLo) >>> 0, M_HI, M_LO);
    hHi = rHi;
    hLo = rLo;
  }
  const rest = len & 7;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) {
      const b = s.charCodeAt(blocks + j);
      if (j >= 4) hHi = (hHi ^ (b << (8 * (j - 4)))) >>> 0;
      else hLo = (hLo ^ (b << (8 * j))) >>> 0;
    }
    mul64(hHi, hLo, M_HI, M_LO);
    hHi = rHi;
    hLo = rLo;
  }
  hLo = (hLo ^ (hHi >>> 15)) >>> 0;
  mul64(hHi, hLo, M_HI, M_LO);
  rLo = (rLo ^ (rHi >>> 15)) >>> 0;
}

/** The register an element goes to and the length of its "000..1" pattern (1..51). */
export function patternOf(element: string): { index: number; count: number } {
  murmur64(element);
  const index = rLo & HLL_P_MASK;
  // The remaining 50 bits, with bit 50 set so that the count stops at Q + 1: the count is one
  // more than their trailing zeros.
  const lo = ((rLo >>> HLL_P) | (rHi << (32 - HLL_P))) >>> 0;
  const hi = (rHi >>> HLL_P) | (1 << (HLL_Q - 32));
  const ctz = (x: number) => 31 - Math.clz32(x & -x);
  return { index, count: 1 + (lo !== 0 ? ctz(lo) : 32 + ctz(hi)) };
}

// ---- Dense registers ----

export function denseGet(b: Uint8Array, reg: number): number {
  const bit = reg * 6, byte = HLL_HDR_SIZE + (bit >> 3), fb = bit & 7;
  const b0 = b[byte]!, b1 = b[byte + 1] ?? 0;
  return ((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX;
}

export function denseSet(b: Uint8Array, reg: number, val: number): void {
  const bit = reg * 6, byte = HLL_HDR_SIZE + (bit >> 3), fb = bit & 7, fb8 = 8 - fb;
  b[byte] = (b[byte]! & ~(REGISTER_MAX << fb)) | ((val << fb) & 0xff);
  if (byte + 1 < b.length) {
    b[byte + 1] = (b[byte + 1]! & ~(REGISTER_MAX >> fb8)) | (val >> fb8);
  }
}

// ---- Validity, header ----

/** Redis's isHLLObject checks: length, magic, encoding, and a dense value's exact size. */
export function isHll(s: string): boolean {
  if (s.length < HLL_HDR_SIZE) return false;
  if (s.charCodeAt(0) !== 72 || s[1] !== "Y" || s[2] !== "L" || s[3] !== "L") return false;
  const enc = s.charCodeAt(4);
  if (enc > HLL_SPARSE) return false;
  return enc !== HLL_DENSE || s.length === HLL_DENSE_SIZE;
}

export function encodingOf(b: Uint8Array): number {
  return b[4]!;
}

export function invalidateCache(b: Uint8Array): void {
  b[15] = b[15]! | 0x80;
}

/**
 * The cached cardinality (little-endian, 63 bits when valid), or null when invalidated. A value that
 * was written by SETRANGE may exceed 2^53: it is then returned exactly, as a bigint.
 */
export function cachedCount(b: Uint8Array): number | bigint | null {
  if ((b[15]! & 0x80) !== 0) return null;
  let n = 0n;
  for (let i = 7; i >= 0; i--) n = (n << 8n) | BigInt(b[8 + i]!);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

export function setCachedCount(b: Uint8Array, n: number): void {
  for (let i = 0; i < 8; i++) {
    b[8 + i] = n % 256;
    n = Math.floor(n / 256);
  }
}

/** A new, empty HLL: sparse, all registers in XZERO runs, a valid cached count of 0. */
export function createHll(): Uint8Array {
  const runs = Math.ceil(HLL_REGISTERS / SPARSE_XZERO_MAX_LEN);
  const b = new Uint8Array(HLL_HDR_SIZE + runs * 2);
  b.set([72, 89, 76, 76, HLL_SPARSE]);
  let left = HLL_REGISTERS, p = HLL_HDR_SIZE;
  while (left > 0) {
    const n = Math.min(left, SPARSE_XZERO_MAX_LEN);
    setXzero(b, p, n);
    p += 2;
    left -= n;
  }
  return b;
}

// ---- Sparse opcodes ----

const isZero = (op: number) => (op & 0xc0) === 0;
const isXzero = (op: number) => (op & 0xc0) === 0x40;
const zeroLen = (op: number) => (op & 0x3f) + 1;
const xzeroLen = (b: Uint8Array, p: number) => (((b[p]! & 0x3f) << 8) | b[p + 1]!) + 1;
const valValue = (op: number) => ((op >> 2) & 0x1f) + 1;
const valLen = (op: number) => (op & 0x3) + 1;
const valOp = (val: number, len: number) => 0x80 | ((val - 1) << 2) | (len - 1);

function setXzero(b: Uint8Array, p: number, len: number): void {
  b[p] = 0x40 | ((len - 1) >> 8);
  b[p + 1] = (len - 1) & 0xff;
}

/** Calls `run(first, len, value)` for each opcode of a sparse HLL; false when malformed. */
function forEachRun(
  b: Uint8Array,
  run: (first: number, len: number, value: number) => boolean | void,
): boolean {
  let idx = 0;
  for (let p = HLL_HDR_SIZE; p < b.length;) {
    const op = b[p]!;
    let len: number, value = 0;
    if (isZero(op)) {
      len = zeroLen(op);
      p++;
    } else if (isXzero(op)) {
      len = xzeroLen(b, p);
      p += 2;
    } else {
      len = valLen(op);
      value = valValue(op);
      p++;
      if (idx + len > HLL_REGISTERS) return false;
    }
    if (run(idx, len, value) === false) return false;
    idx += len;
  }
  return idx === HLL_REGISTERS;
}

/** The registers of a HLL as one byte each, or null when a sparse body is malformed. */
export function registersOf(b: Uint8Array): Uint8Array | null {
  const regs = new Uint8Array(HLL_REGISTERS);
  if (encodingOf(b) === HLL_DENSE) {
    for (let i = 0; i < HLL_REGISTERS; i++) regs[i] = denseGet(b, i);
    return regs;
  }
  const ok = forEachRun(b, (first, len, value) => {
    if (value !== 0) regs.fill(value, first, first + len);
  });
  return ok ? regs : null;
}

/** Merges a HLL into `max` (register-wise maximum); false when malformed. */
export function mergeInto(max: Uint8Array, b: Uint8Array): boolean {
  const regs = registersOf(b);
  if (regs === null) return false;
  for (let i = 0; i < HLL_REGISTERS; i++) if (regs[i]! > max[i]!) max[i] = regs[i]!;
  return true;
}

/** The dense form of a sparse HLL (header and cached count kept), or null when malformed. */
export function toDense(b: Uint8Array): Uint8Array | null {
  if (encodingOf(b) === HLL_DENSE) return b;
  const d = new Uint8Array(HLL_DENSE_SIZE);
  d.set(b.subarray(0, HLL_HDR_SIZE));
  d[4] = HLL_DENSE;
  const ok = forEachRun(b, (first, len, value) => {
    if (value !== 0) { for (let i = first; i < first + len; i++) denseSet(d, i, value); }
  });
  return ok ? d : null;
}

/**
 * The result of setting one register: the value (the same array when changed in place, a new
 * one when resized or promoted), whether it changed, or "invalid".
 */
export type SetResult = { value: Uint8Array; changed: boolean } | "invalid";

/** Sets register `index` to `count` if greater, in either encoding. */
export function setRegister(
  b: Uint8Array,
  index: number,
  count: number,
  sparseMaxBytes: number,
): SetResult {
  if (encodingOf(b) === HLL_DENSE) {
    if (denseGet(b, index) >= count) return { value: b, changed: false };
    denseSet(b, index, count);
    return { value: b, changed: true };
  }
  return sparseSet(b, index, count, sparseMaxBytes);
}

function promote(b: Uint8Array, index: number, count: number): SetResult {
  const d = toDense(b);
  if (d === null) return "invalid";
  denseSet(d, index, count);
  return { value: d, changed: true };
}

/** Redis's hllSparseSet: locate the opcode, split it, substitute, merge neighbours. */
function sparseSet(b: Uint8Array, index: number, count: number, maxBytes: number): SetResult {
  if (count > SPARSE_VAL_MAX_VALUE) return promote(b, index, count);
  const end = b.length;
  let p = HLL_HDR_SIZE, first = 0, span = 0, prev = -1;
  while (p < end) {
    const op = b[p]!;
    let oplen = 1;
    if (isZero(op)) span = zeroLen(op);
    else if (isXzero(op)) {
      span = xzeroLen(b, p);
      oplen = 2;
    } else span = valLen(op);
    if (index <= first + span - 1) break;
    prev = p;
    p += oplen;
    first += span;
  }
  if (span === 0 || p >= end) return "invalid";
  const op = b[p]!;
  const zero = isZero(op), xzero = isXzero(op), val = !zero && !xzero;
  const runlen = zero ? zeroLen(op) : xzero ? xzeroLen(b, p) : valLen(op);
  let out = b;
  if (val) {
    if (valValue(op) >= count) return { value: b, changed: false };
    if (runlen === 1) {
      b[p] = valOp(count, 1);
      return { value: mergeAdjacent(b, prev, p), changed: true };
    }
  }
  if (zero && runlen === 1) {
    b[p] = valOp(count, 1);
    return { value: mergeAdjacent(b, prev, p), changed: true };
  }
  // The general case: the opcode becomes up to three (at most five bytes).
  const seq: number[] = [];
  const last = first + span - 1;
  const zeros = (len: number) => {
    if (len > SPARSE_ZERO_MAX_LEN) seq.push(0x40 | ((len - 1) >> 8), (len - 1) & 0xff);
    else seq.push(len - 1);
  };
  if (zero || xzero) {
    if (index !== first) zeros(index - first);
    seq.push(valOp(count, 1));
    if (index !== last) zeros(last - index);
  } else {
    const cur = valValue(op);
    if (index !== first) seq.push(valOp(cur, index - first));
    seq.push(valOp(count, 1));
    if (index !== last) seq.push(valOp(cur, last - index));
  }
  const oldlen = xzero ? 2 : 1;
  const delta = seq.length - oldlen;
  if (delta > 0 && end + delta > maxBytes) return promote(b, index, count);
  if (delta !== 0) {
    out = new Uint8Array(end + delta);
    out.set(b.subarray(0, p));
    const tail = b.subarray(p + oldlen);
    if (tail.length > 0) out.set(tail, p + seq.length);
  }
  // A body cut inside its last XZERO (its second byte missing: Redis reads the string's
  // terminating zero) ends one byte short: the new opcodes are cut to the string's length, as
  // Redis's copy past its end leaves them.
  out.set(seq.slice(0, Math.max(0, out.length - p)), p);
  return { value: mergeAdjacent(out, prev, p), changed: true };
}

/**
 * Redis's step 4: from the opcode before the change, up to five opcodes, two adjacent VALs of
 * the same value whose lengths fit one opcode become one.
 */
function mergeAdjacent(b: Uint8Array, prev: number, _at: number): Uint8Array {
  let end = b.length;
  let p = prev >= 0 ? prev : HLL_HDR_SIZE;
  let scan = 5;
  let cur = b;
  while (p < end && scan-- > 0) {
    const op = cur[p]!;
    if (isXzero(op)) {
      p += 2;
      continue;
    }
    if (isZero(op)) {
      p++;
      continue;
    }
    if (p + 1 < end) {
      const next = cur[p + 1]!;
      if (!isZero(next) && !isXzero(next) && valValue(op) === valValue(next)) {
        const len = valLen(op) + valLen(next);
        if (len <= SPARSE_VAL_MAX_LEN) {
          cur[p + 1] = valOp(valValue(op), len);
          const shrunk = new Uint8Array(end - 1);
          shrunk.set(cur.subarray(0, p));
          shrunk.set(cur.subarray(p + 1), p);
          cur = shrunk;
          end--;
          continue;
        }
      }
    }
    p++;
  }
  return cur;
}

/** Adds an element; the (possibly new) value and whether a register changed. */
export function hllAdd(b: Uint8Array, element: string, sparseMaxBytes: number): SetResult {
  const { index, count } = patternOf(element);
  return setRegister(b, index, count, sparseMaxBytes);
}

// ---- Counting ----

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1, z = x, zPrime: number;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1, z = 1 - x, zPrime: number;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    z -= Math.pow(1 - x, 2) * y;
  } while (zPrime !== z);
  return z / 3;
}

/** Ertl's estimate from a histogram of register values. */
function estimate(histo: number[]): number {
  const m = HLL_REGISTERS;
  let z = m * tau((m - histo[HLL_Q + 1]!) / m);
  for (let j = HLL_Q; j >= 1; j--) {
    z += histo[j]!;
    z *= 0.5;
  }
  z += m * sigma(histo[0]! / m);
  // llroundl: halves away from zero (the value is never negative).
  return Math.floor(ALPHA_INF * m * m / z + 0.5);
}

/** The cardinality of one register array (one byte per register). */
export function countRegisters(regs: Uint8Array): number {
  const histo = new Array<number>(64).fill(0);
  for (let i = 0; i < HLL_REGISTERS; i++) histo[regs[i]!]!++;
  return estimate(histo);
}

/**
 * The cardinality of a HLL value, or null when a sparse body is malformed. A sparse body
 * that covers the wrong number of registers is invalid, but its opcodes still count (as in
 * Redis, which only flags it).
 */
export function countHll(b: Uint8Array): number | null {
  const histo = new Array<number>(64).fill(0);
  if (encodingOf(b) === HLL_DENSE) {
    for (let i = 0; i < HLL_REGISTERS; i++) histo[denseGet(b, i)]!++;
    return estimate(histo);
  }
  let idx = 0;
  for (let p = HLL_HDR_SIZE; p < b.length;) {
    const op = b[p]!;
    if (isZero(op)) {
      idx += zeroLen(op);
      histo[0]! += zeroLen(op);
      p++;
    } else if (isXzero(op)) {
      const n = xzeroLen(b, p);
      idx += n;
      histo[0]! += n;
      p += 2;
    } else {
      idx += valLen(op);
      histo[valValue(op)]! += valLen(op);
      p++;
    }
  }
  return idx === HLL_REGISTERS ? estimate(histo) : null;
}

/** PFDEBUG DECODE's text for a sparse body: `z:<n>`, `Z:<n>`, `v:<value>,<n>`. */
export function decodeSparse(b: Uint8Array): string {
  const parts: string[] = [];
  for (let p = HLL_HDR_SIZE; p < b.length;) {
    const op = b[p]!;
    if (isZero(op)) {
      parts.push(`z:${zeroLen(op)}`);
      p++;
    } else if (isXzero(op)) {
      parts.push(`Z:${xzeroLen(b, p)}`);
      p += 2;
    } else {
      parts.push(`v:${valValue(op)},${valLen(op)}`);
      p++;
    }
  }
  return parts.join(" ");
}

/**
 * Builds a sparse or dense HLL holding a register array, as PFMERGE writes its destination:
 * each non-zero register set in turn on `b` (promoting as needed).
 */
export function writeRegisters(
  b: Uint8Array,
  regs: Uint8Array,
  sparseMaxBytes: number,
): Uint8Array | null {
  let cur = b;
  for (let i = 0; i < HLL_REGISTERS; i++) {
    if (regs[i] === 0) continue;
    const r = setRegister(cur, i, regs[i]!, sparseMaxBytes);
    if (r === "invalid") return null;
    cur = r.value;
  }
  return cur;
}
