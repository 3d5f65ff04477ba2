/**
 * Redis's compact encodings as blobs, for RDB files and DUMP payloads: listpacks (small hashes,
 * sorted sets and list nodes) and intsets (small integer sets). Writing them, rather than plain
 * element lists, makes our payloads byte for byte those of redis-server for the same value.
 *
 * Listpack: total bytes (u32 LE), element count (u16 LE, 65535 when larger), the elements, 0xFF.
 * Each element is an encoding header with its data, then its own length as a back-length
 * (1-5 bytes, 7 bits each, the first byte holding the high bits). A string that reads as a
 * 64-bit integer (Redis's strict rules: no sign but '-', no leading zeros) is stored as one:
 * 7-bit unsigned, or 13/16/24/32/64-bit two's complement, the smallest that fits.
 * Intset: width in bytes (u32 LE: 2, 4 or 8), count (u32 LE), the sorted values LE.
 */

import { parseI64 } from "../../shared/int64.ts";

class Bytes {
  buf = new Uint8Array(64);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b & 0xff;
  }

  /** n bytes of v, least significant first (two's complement for negatives). */
  le(v: bigint, n: number): void {
    let u = BigInt.asUintN(n * 8, v);
    for (let i = 0; i < n; i++) {
      this.byte(Number(u & 0xffn));
      u >>= 8n;
    }
  }

  binary(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }
}

/** Encoding header and data of one listpack element; returns its size. */
function writeElement(out: Bytes, s: string): number {
  const start = out.len;
  const v = parseI64(s);
  if (v !== null) {
    if (v >= 0n && v <= 127n) out.byte(Number(v));
    else if (v >= -4096n && v <= 4095n) {
      const u = Number(BigInt.asUintN(13, v));
      out.byte(0xc0 | (u >> 8));
      out.byte(u & 0xff);
    } else if (v >= -32768n && v <= 32767n) {
      out.byte(0xf1);
      out.le(v, 2);
    } else if (v >= -8388608n && v <= 8388607n) {
      out.byte(0xf2);
      out.le(v, 3);
    } else if (v >= -2147483648n && v <= 2147483647n) {
      out.byte(0xf3);
      out.le(v, 4);
    } else {
      out.byte(0xf4);
      out.le(v, 8);
    }
  } else if (s.length < 64) {
    out.byte(0x80 | s.length);
    out.binary(s);
  } else if (s.length < 4096) {
    out.byte(0xe0 | (s.length >> 8));
    out.byte(s.length & 0xff);
    out.binary(s);
  } else {
    out.byte(0xf0);
    out.le(BigInt(s.length), 4);
    out.binary(s);
  }
  return out.len - start;
}

function writeBacklen(out: Bytes, l: number): void {
  const groups = backlenSize(l);
  // The first byte carries the highest bits with the flag clear; the rest set the flag.
  for (let i = groups - 1; i >= 0; i--) {
    const bits = Math.floor(l / 2 ** (7 * i)) & 127;
    out.byte(i === groups - 1 ? bits : bits | 128);
  }
}

/** Bytes of a back-length for an element of l bytes (Redis's thresholds, off by one included). */
export function backlenSize(l: number): number {
  return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/** The byte size one element takes in a listpack (header, data and back-length). */
function listpackEntrySize(s: string): number {
  const v = parseI64(s);
  let n: number;
  if (v !== null) {
    n = v >= 0n && v <= 127n
      ? 1
      : v >= -4096n && v <= 4095n
      ? 2
      : v >= -32768n && v <= 32767n
      ? 3
      : v >= -8388608n && v <= 8388607n
      ? 4
      : v >= -2147483648n && v <= 2147483647n
      ? 5
      : 9;
  } else n = s.length + (s.length < 64 ? 1 : s.length < 4096 ? 2 : 5);
  return n + backlenSize(n);
}

/** A listpack holding the strings in order. */
export function encodeListpack(items: Iterable<string>): Uint8Array {
  const out = new Bytes();
  for (let i = 0; i < 6; i++) out.byte(0);
  let count = 0;
  for (const s of items) {
    writeBacklen(out, writeElement(out, s));
    count++;
  }
  out.byte(0xff);
  const view = new DataView(out.buf.buffer);
  view.setUint32(0, out.len, true);
  view.setUint16(4, Math.min(count, 65535), true);
  return out.buf.slice(0, out.len);
}

/** An intset of the values (sorted here), at least `minWidth` wide and wide enough for all. */
export function encodeIntset(values: Iterable<bigint>, minWidth = 2): Uint8Array {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let width = minWidth;
  for (const v of sorted) {
    if (v < -2147483648n || v > 2147483647n) width = 8;
    else if ((v < -32768n || v > 32767n) && width < 4) width = 4;
  }
  const out = new Bytes();
  out.le(BigInt(width), 4);
  out.le(BigInt(sorted.length), 4);
  for (const v of sorted) out.le(v, width);
  return out.buf.slice(0, out.len);
}

/**
 * Splits a list into quicklist nodes as Redis 7.0 fills them when elements are appended: a node
 * takes another element while its size plus the element's length and 8 bytes stays within the
 * limit `fill` sets: -1..-5 = 4/8/16/32/64 KB; a positive fill = that many elements and at most
 * 8 KB.
 */
export function quicklistNodes(items: Iterable<string>, fill: number): string[][] {
  const nodes: string[][] = [];
  let node: string[] = [];
  let size = 0;
  const limit = fill < 0 ? 4096 * 2 ** (Math.min(-fill, 5) - 1) : 8192;
  for (const s of items) {
    // Redis estimates the growth as the element's length plus 8 bytes.
    const grown = size + s.length + 8;
    const fits = node.length > 0 &&
      (fill < 0 ? grown <= limit : grown <= 8192 && node.length < fill);
    if (!fits && node.length > 0) {
      nodes.push(node);
      node = [];
      size = 0;
    }
    if (node.length === 0) size = 7; // An empty listpack: header and end byte.
    node.push(s);
    size += listpackEntrySize(s);
  }
  if (node.length > 0) nodes.push(node);
  return nodes;
}
