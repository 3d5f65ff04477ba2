/**
 * Listpacks and intsets held as binary strings (one char per byte): the compact form of small
 * hashes, sorted sets, lists and sets. One JS string per value costs a 16-byte header, where a
 * Map or an array costs a header and a slot per element plus a string per element, and a
 * Uint8Array over 100 bytes of ArrayBuffer bookkeeping. A string is immutable, so a change
 * builds a new one (the values are small: bounded by the encoding limits), which also makes
 * cloning one free.
 *
 * The bytes are exactly Redis's, so RDB files and DUMP payloads carry them as they are.
 *
 * Listpack: total bytes (u32 LE), element count (u16 LE, 65535 when larger), the elements,
 * 0xFF. Each element is an encoding header with its data, then its own size as a back-length
 * (1-5 bytes, 7 bits each, the first byte holding the high bits), so the list can be walked
 * backwards. A string that reads as a 64-bit integer (Redis's strict rules: no sign but '-',
 * no leading zeros) is stored as one: 7-bit unsigned, or 13/16/24/32/64-bit two's complement,
 * the smallest that fits. An element equals a query string when both are integers of the same
 * value or both are strings of the same bytes (see `intKey`).
 *
 * Intset: width in bytes (u32 LE: 2, 4 or 8), count (u32 LE), the values sorted ascending, LE.
 *
 * A new string is built from slices of the old one and the new elements, joined natively
 * into one flat string (`lpBuild`).
 */
/** Offset of the first element. */
export const LP_HEADER = 6;

/**
 * V8 bytes of a value held as one string besides its bytes: the aggregate object (header and
 * three fields: meta, accounted, the string) and the string's header.
 */
export const COMPACT_OVERHEAD = 64;
const LP_EOF = 0xff;
/** The count field's "too many to count here" value. */
const LP_UNKNOWN = 65535;

/** A listpack without elements. */
export const LP_EMPTY = "\x07\x00\x00\x00\x00\x00\xff";

const TWO32 = 4294967296;

// ---------------------------------------------------------------------------------------------
// Integers

const MIN_I64 = -(2n ** 63n), MAX_I64 = 2n ** 63n - 1n;

/**
 * The value of a string that Redis stores as an integer in a listpack or intset (string2ll's
 * rules: optional '-', no leading zeros, no '+', within 64 bits), or null. A number when it
 * is a safe integer, a bigint beyond.
 */
export function intKey(s: string): number | bigint | null {
  const len = s.length;
  if (len === 0 || len > 20) return null;
  let i = 0, c = s.charCodeAt(0);
  const neg = c === 45;
  if (neg) {
    if (len === 1) return null;
    c = s.charCodeAt(++i);
  }
  if (c < 49 || c > 57) return c === 48 && len === 1 ? 0 : null;
  let n = 0;
  for (; i < len; i++) {
    c = s.charCodeAt(i);
    if (c < 48 || c > 57) return null;
    n = n * 10 + (c - 48);
  }
  if (len - (neg ? 1 : 0) <= 15) return neg ? -n : n;
  const b = BigInt(s);
  if (b < MIN_I64 || b > MAX_I64) return null;
  return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
}

/** The signed 64-bit value of two 32-bit halves: a number when safe, else a bigint. */
function fromHalves(lo: number, hi: number): number | bigint {
  const v = hi * TWO32 + lo;
  // Exact whenever the true value is safe; beyond, its magnitude rounds to 2^53 or more.
  return Number.isSafeInteger(v) ? v : (BigInt(hi) << 32n) | BigInt(lo);
}

function u8(s: string, p: number): number {
  return s.charCodeAt(p);
}

function u16(s: string, p: number): number {
  return s.charCodeAt(p) | (s.charCodeAt(p + 1) << 8);
}

function u32(s: string, p: number): number {
  return (s.charCodeAt(p) | (s.charCodeAt(p + 1) << 8) | (s.charCodeAt(p + 2) << 16)) +
    s.charCodeAt(p + 3) * 16777216;
}

function i32(s: string, p: number): number {
  return s.charCodeAt(p) | (s.charCodeAt(p + 1) << 8) | (s.charCodeAt(p + 2) << 16) |
    (s.charCodeAt(p + 3) << 24);
}

// ---------------------------------------------------------------------------------------------
// Listpack reading

/** Element count. */
export function lpCount(lp: string): number {
  const n = u16(lp, 4);
  if (n !== LP_UNKNOWN) return n;
  let c = 0;
  for (let p = LP_HEADER; u8(lp, p) !== LP_EOF; p = lpNext(lp, p)) c++;
  return c;
}

/** True at the end marker (p is past the last element). */
export function lpAtEnd(lp: string, p: number): boolean {
  return u8(lp, p) === LP_EOF;
}

/** Size of an element's header and data (without the back-length). */
function entrySize(lp: string, p: number): number {
  const b = u8(lp, p);
  if (b < 0x80) return 1;
  if (b < 0xc0) return 1 + (b & 0x3f);
  if (b < 0xe0) return 2;
  if (b < 0xf0) return 2 + (((b & 0x0f) << 8) | u8(lp, p + 1));
  switch (b) {
    case 0xf0:
      return 5 + u32(lp, p + 1);
    case 0xf1:
      return 3;
    case 0xf2:
      return 4;
    case 0xf3:
      return 5;
    case 0xf4:
      return 9;
  }
  throw new Error(`bad listpack element encoding 0x${b.toString(16)}`);
}

/** Bytes of a back-length for an element of l bytes (Redis's thresholds, off by one included). */
export function backlenSize(l: number): number {
  return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/** Offset of the element after the one at p. */
export function lpNext(lp: string, p: number): number {
  const b = u8(lp, p);
  if (b < 0x80) return p + 2;
  if (b < 0xc0) return p + (b & 0x3f) + 2;
  const l = entrySize(lp, p);
  return p + l + (l <= 127 ? 1 : backlenSize(l));
}

/** Offset of the element before p (an element or the end marker); -1 before the first. */
export function lpPrev(lp: string, p: number): number {
  if (p <= LP_HEADER) return -1;
  let q = p - 1, l = 0, shift = 0;
  for (;;) {
    const b = u8(lp, q);
    l += (b & 127) * 2 ** shift;
    if ((b & 128) === 0) break;
    shift += 7;
    q--;
  }
  return q - l;
}

/** Offset of the last element, or -1 when empty. */
export function lpLast(lp: string): number {
  return lpPrev(lp, lp.length - 1);
}

/** The offset of the element with index i (0-based), walking from the nearer end; -1 if none. */
export function lpSeek(lp: string, i: number, count = lpCount(lp)): number {
  if (i < 0 || i >= count) return -1;
  let p: number;
  if (i <= count >> 1) {
    p = LP_HEADER;
    for (let k = 0; k < i; k++) p = lpNext(lp, p);
  } else {
    p = lp.length - 1;
    for (let k = count; k > i; k--) p = lpPrev(lp, p);
  }
  return p;
}

/** True when the element at p is stored as an integer. */
function isIntEntry(b: number): boolean {
  return b < 0x80 || (b >= 0xc0 && b < 0xe0) || (b >= 0xf1 && b <= 0xf4);
}

/** The integer value of an integer element. */
function entryInt(lp: string, p: number, b: number): number | bigint {
  if (b < 0x80) return b;
  if (b < 0xe0) {
    const v = ((b & 0x1f) << 8) | u8(lp, p + 1);
    return v >= 4096 ? v - 8192 : v;
  }
  switch (b) {
    case 0xf1:
      return (u16(lp, p + 1) << 16) >> 16;
    case 0xf2:
      return ((u16(lp, p + 1) | (u8(lp, p + 3) << 16)) << 8) >> 8;
    case 0xf3:
      return i32(lp, p + 1);
    default:
      return fromHalves(u32(lp, p + 1), i32(lp, p + 5));
  }
}

/** Start and length of a string element's data. */
function strSpan(lp: string, p: number, b: number): [number, number] {
  if (b < 0xc0) return [p + 1, b & 0x3f];
  if (b < 0xf0) return [p + 2, ((b & 0x0f) << 8) | u8(lp, p + 1)];
  return [p + 5, u32(lp, p + 1)];
}

/** The element at p as a string (integers in decimal). */
export function lpGet(lp: string, p: number): string {
  const b = u8(lp, p);
  if (b < 0x80) return String(b);
  if (b < 0xc0) return lp.slice(p + 1, p + 1 + (b & 0x3f));
  if (isIntEntry(b)) return String(entryInt(lp, p, b));
  const [at, len] = strSpan(lp, p, b);
  return lp.slice(at, at + len);
}

/**
 * The element at p as an integer: a number when safe, else a bigint. A string element is
 * parsed as one (NaN when it is not an integer).
 */
export function lpInt(lp: string, p: number): number | bigint {
  const b = u8(lp, p);
  if (b < 0x80) return b;
  if (isIntEntry(b)) return entryInt(lp, p, b);
  return intKey(lpGet(lp, p)) ?? NaN;
}

/** Length of the element at p as a string. */
export function lpStrLen(lp: string, p: number): number {
  const b = u8(lp, p);
  if (b < 0xc0) return b < 0x80 ? (b < 10 ? 1 : b < 100 ? 2 : 3) : b & 0x3f;
  if (isIntEntry(b)) return String(entryInt(lp, p, b)).length;
  return strSpan(lp, p, b)[1];
}

/** A score element (see zset.ts): an integer, or text as %.17g, inf and -inf print it. */
export function lpScore(lp: string, p: number): number {
  const b = u8(lp, p);
  if (b < 0x80) return b;
  if (isIntEntry(b)) return Number(entryInt(lp, p, b));
  const s = lpGet(lp, p);
  if (s === "inf") return Infinity;
  if (s === "-inf") return -Infinity;
  return Number(s);
}

/** Does the element at p equal q? `qi` is intKey(q), computed once by the caller. */
export function lpEquals(lp: string, p: number, q: string, qi: number | bigint | null): boolean {
  const b = u8(lp, p);
  if (qi !== null) {
    if (!isIntEntry(b)) return false;
    if (b < 0x80) return b === qi;
    return entryInt(lp, p, b) === qi;
  }
  if (isIntEntry(b)) return false;
  let at: number, len: number;
  if (b < 0xc0) {
    at = p + 1;
    len = b & 0x3f;
  } else [at, len] = strSpan(lp, p, b);
  return len === q.length && lp.startsWith(q, at);
}

/**
 * The offset of the first element equal to q among every `step`-th one (step 2: the fields of
 * a hash or the members of a sorted set), or -1.
 */
export function lpFind(lp: string, q: string, step: 1 | 2): number {
  const qi = intKey(q);
  if (qi !== null) {
    for (let p = LP_HEADER; u8(lp, p) !== LP_EOF;) {
      if (lpEquals(lp, p, q, qi)) return p;
      p = lpNext(lp, p);
      if (step === 2) p = lpNext(lp, p);
    }
    return -1;
  }
  // The common case inline: short strings (6-bit length), compared last byte first.
  const qlen = q.length, last = qlen > 0 ? q.charCodeAt(qlen - 1) : -1;
  for (let p = LP_HEADER;;) {
    const b = u8(lp, p);
    if (b === LP_EOF) return -1;
    if (b >= 0x80 && b < 0xc0) {
      const len = b & 0x3f;
      if (len === qlen && (len === 0 || (u8(lp, p + len) === last && lp.startsWith(q, p + 1)))) {
        return p;
      }
      p += len + 2;
    } else {
      if (lpEquals(lp, p, q, null)) return p;
      p = lpNext(lp, p);
    }
    if (step === 2) p = lpNext(lp, p);
  }
}

/** Every element as a string, in order. */
export function lpStrings(lp: string): string[] {
  const out: string[] = [];
  for (let p = LP_HEADER; u8(lp, p) !== LP_EOF; p = lpNext(lp, p)) out.push(lpGet(lp, p));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Building

/** Every byte as a one-char string. */
const CH: string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));

/** The elements 0..127 (7-bit integers) with their back-length. */
const SMALL_INTS: string[] = Array.from({ length: 128 }, (_, i) => CH[i]! + CH[1]!);

/** n bytes of v, least significant first (two's complement for negatives). */
function le(v: number, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += CH[(v >>> (8 * i)) & 0xff]!;
  return out;
}

/** 8 bytes of a 64-bit value, least significant first. */
function le64(v: number | bigint): string {
  if (typeof v === "number") {
    const lo = ((v % TWO32) + TWO32) % TWO32;
    return le(lo, 4) + le((v - lo) / TWO32, 4);
  }
  let u = BigInt.asUintN(64, v), out = "";
  for (let i = 0; i < 8; i++) {
    out += CH[Number(u & 0xffn)]!;
    u >>= 8n;
  }
  return out;
}

/** The back-length of an element of l bytes. */
function backlen(l: number): string {
  if (l <= 127) return CH[l]!;
  const groups = backlenSize(l);
  let out = "";
  for (let i = groups - 1; i >= 0; i--) {
    const bits = Math.floor(l / 2 ** (7 * i)) & 127;
    out += CH[i === groups - 1 ? bits : bits | 128]!;
  }
  return out;
}

/** One integer element: header, data and back-length. */
function intElement(v: number | bigint): string {
  if (typeof v === "bigint") return CH[0xf4]! + le64(v) + CH[9]!;
  if (v >= 0 && v <= 127) return SMALL_INTS[v]!;
  if (v >= -4096 && v <= 4095) {
    const u = v & 0x1fff;
    return CH[0xc0 | (u >> 8)]! + CH[u & 0xff]! + CH[2]!;
  }
  if (v >= -32768 && v <= 32767) return CH[0xf1]! + le(v, 2) + CH[3]!;
  if (v >= -8388608 && v <= 8388607) return CH[0xf2]! + le(v, 3) + CH[4]!;
  if (v >= -2147483648 && v <= 2147483647) return CH[0xf3]! + le(v, 4) + CH[5]!;
  return CH[0xf4]! + le64(v) + CH[9]!;
}

/** One element for a string (an integer element when it reads as one). */
function element(s: string): string {
  const v = intKey(s);
  if (v !== null) return intElement(v);
  const len = s.length;
  if (len < 64) return CH[0x80 | len]! + s + CH[len + 1]!;
  if (len < 4096) return CH[0xe0 | (len >> 8)]! + CH[len & 0xff]! + s + backlen(len + 2);
  return CH[0xf0]! + le(len, 4) + s + backlen(len + 5);
}

/**
 * The pieces of the listpack being built: slices of existing listpacks and new elements,
 * joined at the end. Array.prototype.join copies them into one flat string natively, which
 * beats copying bytes one by one, and leaves no reference to the old strings.
 */
const parts: string[] = [];
let built = 0;

/**
 * Listpack building, one at a time: begin, then copy ranges of existing listpacks and add
 * new elements, then finish with the element count. Not reentrant (every use runs to
 * completion synchronously).
 */
export const lpBuild = {
  begin(): void {
    parts.length = 0;
    parts.push("");
    built = LP_HEADER;
  },

  /** Copies the bytes in [from, to) of lp: whole elements. */
  copy(lp: string, from: number, to: number): void {
    if (to <= from) return;
    parts.push(lp.slice(from, to));
    built += to - from;
  },

  /** Appends a string element (stored as an integer when it reads as one). */
  add(s: string): void {
    const e = element(s);
    parts.push(e);
    built += e.length;
  },

  /** Appends an element already encoded (by lpElement or lpIntElement). */
  addEncoded(e: string): void {
    parts.push(e);
    built += e.length;
  },

  /** Appends a 64-bit integer element. */
  addInt(v: number | bigint): void {
    const e = intElement(v);
    parts.push(e);
    built += e.length;
  },

  /** Bytes of the listpack built so far, with its end marker. */
  size(): number {
    return built + 1;
  },

  /** The listpack built, holding `count` elements. */
  finish(count: number): string {
    const n = built + 1;
    const c = Math.min(count, LP_UNKNOWN);
    parts[0] = String.fromCharCode(
      n & 255,
      (n >>> 8) & 255,
      (n >>> 16) & 255,
      n >>> 24,
      c & 255,
      c >> 8,
    );
    parts.push(CH[LP_EOF]!);
    const out = parts.join("");
    parts.length = 0;
    return out;
  },
};

/** One string element as a listpack encodes it (an integer when it reads as one). */
export const lpElement = element;
/** One 64-bit integer element as a listpack encodes it. */
export const lpIntElement = intElement;

/** A listpack of the strings, in order. */
export function lpFrom(items: Iterable<string>): string {
  lpBuild.begin();
  let n = 0;
  for (const s of items) {
    lpBuild.add(s);
    n++;
  }
  return lpBuild.finish(n);
}

/** The listpack without the elements in [from, to), which are `n` elements. */
export function lpCut(lp: string, from: number, to: number, n: number): string {
  lpBuild.begin();
  lpBuild.copy(lp, LP_HEADER, from);
  lpBuild.copy(lp, to, lp.length - 1);
  return lpBuild.finish(lpCount(lp) - n);
}

// ---------------------------------------------------------------------------------------------
// Intsets

/** An intset without values, 2 bytes wide. */
export const IS_EMPTY = "\x02\x00\x00\x00\x00\x00\x00\x00";

/** Is this string an intset rather than a listpack? (A listpack's first u32 is its length.) */
export function isIntset(s: string): boolean {
  const w = u32(s, 0);
  return w === 2 || w === 4 || w === 8;
}

/** Element width of an intset: 2, 4 or 8. */
export function isWidth(is: string): number {
  return u8(is, 0);
}

export function isCount(is: string): number {
  return u32(is, 4);
}

/** The value at index i. */
export function isGet(is: string, i: number): number | bigint {
  const w = u8(is, 0), p = 8 + i * w;
  if (w === 2) return (u16(is, p) << 16) >> 16;
  if (w === 4) return i32(is, p);
  return fromHalves(u32(is, p), i32(is, p + 4));
}

/** The width a value needs. */
export function intWidthOf(v: number | bigint): number {
  if (typeof v === "bigint") return 8;
  if (v >= -32768 && v <= 32767) return 2;
  return v >= -2147483648 && v <= 2147483647 ? 4 : 8;
}

/** Binary search: the index of v, or -(insertion point) - 1. */
export function isSearch(is: string, v: number | bigint): number {
  let lo = 0, hi = isCount(is) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = isGet(is, mid);
    if (x < v) lo = mid + 1;
    else if (x > v) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** One value of width w, little-endian two's complement. */
function isPut(v: number | bigint, w: number): string {
  return w === 8 ? le64(v) : le(v as number, w);
}

/** An intset of width w (at least as wide as every value) from ascending, distinct values. */
export function isFrom(values: readonly (number | bigint)[], w: number): string {
  const out: string[] = [le(w, 4) + le(values.length, 4)];
  for (const v of values) out.push(isPut(v, w));
  return out.join("");
}

/** Every value, ascending. */
export function isValues(is: string): (number | bigint)[] {
  const n = isCount(is), out = new Array<number | bigint>(n);
  for (let i = 0; i < n; i++) out[i] = isGet(is, i);
  return out;
}

/**
 * The intset with v inserted at index i (from isSearch), widened (every value rewritten) when
 * v needs more bytes, as Redis's intset upgrades its encoding.
 */
export function isInsert(is: string, i: number, v: number | bigint): string {
  const w = isWidth(is), n = isCount(is);
  const need = intWidthOf(v);
  if (need > w) {
    const values = isValues(is);
    values.splice(i, 0, v);
    return isFrom(values, need);
  }
  const cut = 8 + i * w;
  return [le(w, 4) + le(n + 1, 4), is.slice(8, cut), isPut(v, w), is.slice(cut)].join("");
}

/** The intset without the value at index i (the width stays: an intset never narrows). */
export function isRemove(is: string, i: number): string {
  const w = isWidth(is), n = isCount(is);
  return [le(w, 4) + le(n - 1, 4), is.slice(8, 8 + i * w), is.slice(8 + (i + 1) * w)].join("");
}
