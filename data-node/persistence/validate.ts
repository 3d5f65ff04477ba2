/**
 * Integrity checks of the compact encodings found in RDB files and DUMP payloads (ziplists,
 * listpacks, intsets, zipmaps), with the rules Redis 7.0 applies when it loads them:
 *
 * - Shallow checks, always made: the header's byte count matches the blob, the terminator is
 *   where it belongs, counts and widths are consistent, and an intset or zipmap is not empty.
 * - Deep checks (`sanitize-dump-payload yes`, or `clients` for a client's RESTORE): every entry
 *   is walked, its back-length (listpack) is consistent, the header's element count is right,
 *   an intset is strictly ascending, a hash's fields or a sorted set's members are unique.
 *
 * A ziplist (the pre-7.0 encoding) and a zipmap are always checked in depth, as Redis does: it
 * converts them entry by entry. Our decoders build the values from the entries they walk, so an
 * entry reaching outside its blob is refused in either mode (Redis's shallow mode would accept
 * it and trip over it later).
 *
 * Each check returns the decoded entries, or null when the blob is corrupt; the caller names the
 * failure as Redis does ("... integrity check failed.").
 */

import { bytesToBinary } from "../../shared/resp/bytes.ts";

function u32le(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

function u16le(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8);
}

/** A little-endian two's complement integer of n bytes at p, as decimal text. */
function intText(b: Uint8Array, p: number, n: number): string {
  if (n === 8) return String(new DataView(b.buffer, b.byteOffset + p, 8).getBigInt64(0, true));
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[p + i]!;
  const bits = n * 8;
  if (v >= 2 ** (bits - 1)) v -= 2 ** bits;
  return String(v);
}

// ---------------------------------------------------------------------------------------------
// Ziplist: zlbytes (u32 LE), zltail (u32 LE), zllen (u16 LE), entries, 0xFF. An entry: the
// previous entry's size (1 byte below 254, else 0xFE and u32 LE), an encoding header, the data.

const ZL_HEADER = 10;

/** The byte count of an entry's encoding header (0: not a valid encoding). */
function zipHeaderSize(enc: number): number {
  if (enc < 0xc0) {
    const kind = enc & 0xc0;
    return kind === 0 ? 1 : kind === 0x40 ? 2 : 5;
  }
  if (enc === 0xc0 || enc === 0xd0 || enc === 0xe0 || enc === 0xf0 || enc === 0xfe) return 1;
  if (enc >= 0xf1 && enc <= 0xfd) return 1;
  return 0;
}

/** The data bytes after an encoding header of `hsize` bytes at q. */
function zipDataSize(b: Uint8Array, q: number, enc: number): number {
  if (enc < 0xc0) {
    const kind = enc & 0xc0;
    if (kind === 0) return enc & 0x3f;
    if (kind === 0x40) return ((enc & 0x3f) << 8) | b[q + 1]!;
    return ((b[q + 1]! << 24) | (b[q + 2]! << 16) | (b[q + 3]! << 8) | b[q + 4]!) >>> 0;
  }
  switch (enc) {
    case 0xfe:
      return 1;
    case 0xc0:
      return 2;
    case 0xf0:
      return 3;
    case 0xd0:
      return 4;
    case 0xe0:
      return 8;
  }
  return 0; // 4-bit immediate
}

/** The value of an entry whose data starts at d, as text. */
function zipValue(b: Uint8Array, enc: number, d: number, len: number): string {
  if (enc < 0xc0) return bytesToBinary(b, d, d + len);
  if (enc >= 0xf1 && enc <= 0xfd) return String((enc & 0x0f) - 1);
  return intText(b, d, len);
}

/**
 * A ziplist's entries after Redis's full check: the header's byte count and tail offset, every
 * entry inside the blob, each entry's previous-size field equal to the previous entry's size,
 * the walk ending at the terminator, the tail offset at the last entry and the count (unless
 * 65535) right. Null when any fails.
 */
export function ziplistChecked(b: Uint8Array): string[] | null {
  const size = b.length;
  if (size < ZL_HEADER + 1) return null;
  if (u32le(b, 0) !== size) return null;
  const last = size - 1; // the terminator's offset
  if (b[last] !== 0xff) return null;
  const tail = u32le(b, 4);
  if (tail > last) return null;
  const out: string[] = [];
  let p = ZL_HEADER, prevSize = 0, prev = -1;
  while (b[p] !== 0xff) {
    if (p < ZL_HEADER || p > last) return null;
    const prevLenSize = b[p]! < 0xfe ? 1 : 5;
    if (p + prevLenSize > last) return null;
    const q = p + prevLenSize;
    const raw = b[q]!;
    const hsize = zipHeaderSize(raw);
    if (hsize === 0 || q + hsize > last) return null;
    const prevLen = prevLenSize === 1 ? b[p]! : u32le(b, p + 1);
    const len = zipDataSize(b, q, raw);
    const headerSize = prevLenSize + hsize;
    if (p + headerSize + len > last) return null;
    if (p - prevLen < ZL_HEADER) return null;
    if (prevLen !== prevSize) return null;
    out.push(zipValue(b, raw, p + headerSize, len));
    prevSize = headerSize + len;
    prev = p;
    p += headerSize + len;
  }
  if (p !== last) return null;
  if (prev !== -1 && prev !== tail) return null;
  const count = u16le(b, 8);
  if (count !== 0xffff && count !== out.length) return null;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Listpack: total bytes (u32 LE), count (u16 LE, 65535: unknown), entries, 0xFF. An entry: an
// encoding header, the data, and the entry's size as a back-length (1-5 bytes).

const LP_HEADER = 6;

function backlenBytes(l: number): number {
  return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/** The back-length ending at p (read backwards), or -1 when it runs over 5 bytes. */
function decodeBacklen(b: Uint8Array, p: number, low: number): number {
  let v = 0, shift = 0;
  for (;;) {
    if (p < low) return -1;
    const x = b[p]!;
    v += (x & 127) * 2 ** shift;
    if (!(x & 128)) return v;
    shift += 7;
    p--;
    if (shift > 28) return -1;
  }
}

/** The size of an entry's encoding header (0: invalid). */
function lpHeaderSize(x: number): number {
  if ((x & 0x80) === 0 || (x & 0xc0) === 0x80 || (x & 0xe0) === 0xc0) return 1;
  if ((x & 0xf0) === 0xe0) return 2;
  if (x === 0xf0) return 5;
  if (x >= 0xf1 && x <= 0xf4) return 1;
  return 0;
}

/** Header plus data of the entry at p (its header read). */
function lpEntrySize(b: Uint8Array, p: number): number {
  const x = b[p]!;
  if ((x & 0x80) === 0) return 1;
  if ((x & 0xc0) === 0x80) return 1 + (x & 0x3f);
  if ((x & 0xe0) === 0xc0) return 2;
  if ((x & 0xf0) === 0xe0) return 2 + (((x & 0x0f) << 8) | b[p + 1]!);
  if (x === 0xf0) return 5 + u32le(b, p + 1);
  return x === 0xf1 ? 3 : x === 0xf2 ? 4 : x === 0xf3 ? 5 : 9;
}

function lpValue(b: Uint8Array, p: number, size: number): string {
  const x = b[p]!;
  if ((x & 0x80) === 0) return String(x);
  if ((x & 0xc0) === 0x80) return bytesToBinary(b, p + 1, p + size);
  if ((x & 0xe0) === 0xc0) {
    const v = ((x & 0x1f) << 8) | b[p + 1]!;
    return String(v >= 4096 ? v - 8192 : v);
  }
  if ((x & 0xf0) === 0xe0) return bytesToBinary(b, p + 2, p + size);
  if (x === 0xf0) return bytesToBinary(b, p + 5, p + size);
  return intText(b, p + 1, size - 1);
}

/** The shallow check Redis always makes: header byte count and terminator. */
export function listpackHeaderOk(b: Uint8Array): boolean {
  return b.length >= LP_HEADER + 1 && u32le(b, 0) === b.length && b[b.length - 1] === 0xff;
}

/**
 * A listpack's entries. Always: the header check, every entry inside the blob, the walk ending
 * at the final terminator. `deep` adds each back-length's consistency and the header's count
 * (unless 65535). Null when any fails.
 */
export function listpackChecked(b: Uint8Array, deep: boolean): string[] | null {
  if (!listpackHeaderOk(b)) return null;
  const last = b.length - 1;
  const out: string[] = [];
  let p = LP_HEADER;
  while (b[p] !== 0xff) {
    const hsize = lpHeaderSize(b[p]!);
    if (hsize === 0 || p + hsize > last) return null;
    const size = lpEntrySize(b, p);
    const back = backlenBytes(size);
    if (p + size + back > last) return null;
    if (deep && decodeBacklen(b, p + size + back - 1, p + size) !== size) return null;
    out.push(lpValue(b, p, size));
    p += size + back;
  }
  if (p !== last) return null;
  if (deep) {
    const count = u16le(b, 4);
    if (count !== 0xffff && count !== out.length) return null;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Intset: width (u32 LE: 2, 4 or 8), count (u32 LE), the values LE.

/**
 * An intset's width and values: the width valid, the size exactly header plus count values, not
 * empty; `deep` adds strictly ascending values. Duplicates are refused in either mode (the set
 * could not hold them); values out of order are sorted when not checked in depth.
 */
export function intsetChecked(
  b: Uint8Array,
  deep: boolean,
): { width: number; values: (number | bigint)[] } | null {
  if (b.length < 8) return null;
  const width = u32le(b, 0), n = u32le(b, 4);
  if (width !== 2 && width !== 4 && width !== 8) return null;
  if (8 + n * width !== b.length || n === 0) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const values: (number | bigint)[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * width;
    if (width === 2) values.push(v.getInt16(at, true));
    else if (width === 4) values.push(v.getInt32(at, true));
    else {
      const x = v.getBigInt64(at, true);
      values.push(x >= -(2n ** 53n) + 1n && x <= 2n ** 53n - 1n ? Number(x) : x);
    }
  }
  const ordered = (a: number | bigint, c: number | bigint) => BigInt(a) < BigInt(c);
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if (!ordered(values[i - 1]!, values[i]!)) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    if (deep) return null;
    const seen = new Set<string>();
    for (const x of values) {
      const k = String(x);
      if (seen.has(k)) return null;
      seen.add(k);
    }
  }
  return { width, values };
}

// ---------------------------------------------------------------------------------------------
// Zipmap (hashes of Redis before 2.6): a count byte (254: unknown), then per entry a length and
// the field, a length, a free-byte count and the value with that many unused bytes, then 0xFF.
// A length is one byte below 254, else 254 and u32 LE.

/** A zipmap's fields and values, after Redis's full check (always made), or null. */
export function zipmapChecked(b: Uint8Array): [string, string][] | null {
  const size = b.length;
  if (size < 2 || b[size - 1] !== 0xff) return null;
  const bad = (p: number) => p < 2 || p > size - 1;
  const lenSize = (p: number) => (b[p]! < 254 ? 1 : 5);
  const lenAt = (p: number) => (b[p]! < 254 ? b[p]! : u32le(b, p + 1));
  const out: [string, string][] = [];
  let p = 1;
  while (b[p] !== 0xff) {
    let s = lenSize(p);
    if (bad(p + s)) return null;
    const fl = lenAt(p);
    const f = p + s;
    p += s + fl;
    if (bad(p)) return null;
    s = lenSize(p);
    if (bad(p + s)) return null;
    const vl = lenAt(p);
    p += s;
    const free = b[p++]!;
    const v = p;
    p += vl + free;
    if (bad(p)) return null;
    out.push([bytesToBinary(b, f, f + fl), bytesToBinary(b, v, v + vl)]);
  }
  if (out.length === 0) return null;
  if (b[0] !== 254 && b[0] !== out.length) return null;
  return out;
}

/** The first element that appears twice among the even positions (fields, members), or null. */
export function duplicateKey(items: readonly string[]): string | null {
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i += 2) {
    const k = items[i]!;
    if (seen.has(k)) return k;
    seen.add(k);
  }
  return null;
}
