/**
 * RESP encoder: a family of small append functions onto one growable buffer owned by the
 * caller. Replies of a whole read batch go into one writer and leave in one socket write.
 * `proto` picks RESP2 or RESP3 shapes for the types that differ (null, map, set, double...).
 */
import { formatG17 } from "./format.ts";

const CRLF0 = 13, CRLF1 = 10;

export class RespWriter {
  buf: Uint8Array;
  len = 0;
  proto: 2 | 3 = 2;

  constructor(initialSize = 16 * 1024) {
    this.buf = new Uint8Array(initialSize);
  }

  /** Bytes written and not yet taken. */
  get size(): number {
    return this.len;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.headView = this.headOf = null;
  }

  /** Writes a binary string's bytes (chars 0..255) without framing. */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  private header(prefix: number, n: number | bigint): void {
    this.ensure(24);
    const b = this.buf;
    let p = this.len;
    b[p++] = prefix;
    if (typeof n === "number" && (n | 0) === n) {
      // A 32-bit integer's digits go straight into the buffer, without a string.
      let u = n;
      if (u < 0) {
        b[p++] = 45; // '-'
        u = -u;
      }
      if (u < 10) {
        b[p++] = 48 + u;
      } else {
        // u < 2^31 + 1: at most 10 digits, and (u / 10) | 0 is exact integer division.
        p += u < 100
          ? 2
          : u < 1000
          ? 3
          : u < 10000
          ? 4
          : u < 100000
          ? 5
          : u < 1000000
          ? 6
          : u < 10000000
          ? 7
          : u < 100000000
          ? 8
          : u < 1000000000
          ? 9
          : 10;
        let i = p;
        while (u >= 10) {
          const q = (u / 10) | 0;
          b[--i] = 48 + u - q * 10;
          u = q;
        }
        b[--i] = 48 + u;
      }
    } else {
      // A fraction is cut off, as C's conversion of a double to an integer does.
      const s = typeof n === "number" && Number.isFinite(n) ? String(Math.trunc(n)) : String(n);
      for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    }
    b[p++] = CRLF0;
    b[p++] = CRLF1;
    this.len = p;
  }

  private line(prefix: number, s: string): void {
    this.ensure(s.length + 3);
    this.buf[this.len++] = prefix;
    this.ascii(s);
    this.buf[this.len++] = CRLF0;
    this.buf[this.len++] = CRLF1;
  }

  simple(s: string): void {
    this.line(43, s); // '+'
  }

  ok(): void {
    this.simple("OK");
  }

  /** An error reply; `msg` starts with its code (e.g. `ERR ...`). Newlines become spaces. */
  error(msg: string): void {
    this.line(45, sanitizeLine(msg)); // '-'
  }

  int(n: number | bigint): void {
    this.header(58, n); // ':'
  }

  bulk(s: string): void {
    this.header(36, s.length); // '$'
    this.ascii(s);
    this.ensure(2);
    this.buf[this.len++] = CRLF0;
    this.buf[this.len++] = CRLF1;
  }

  bulkBytes(b: Uint8Array): void {
    this.header(36, b.length);
    this.raw(b);
    this.ensure(2);
    this.buf[this.len++] = CRLF0;
    this.buf[this.len++] = CRLF1;
  }

  /** Null bulk string: `$-1` in RESP2, `_` in RESP3. */
  nullBulk(): void {
    if (this.proto === 3) this.ascii("_\r\n");
    else this.ascii("$-1\r\n");
  }

  /** Null array: `*-1` in RESP2, `_` in RESP3. */
  nullArray(): void {
    if (this.proto === 3) this.ascii("_\r\n");
    else this.ascii("*-1\r\n");
  }

  array(n: number): void {
    this.header(42, n); // '*'
  }

  /** A map of n pairs: `%n` in RESP3, a flat array of 2n in RESP2. */
  map(n: number): void {
    if (this.proto === 3) this.header(37, n);
    else this.header(42, n * 2);
  }

  set(n: number): void {
    if (this.proto === 3) this.header(126, n);
    else this.header(42, n);
  }

  push(n: number): void {
    if (this.proto === 3) this.header(62, n);
    else this.header(42, n);
  }

  /** A double: RESP3 `,`; RESP2 bulk string in `%.17g`, as Redis 7.0 does. */
  double(d: number): void {
    const s = formatG17(d);
    if (this.proto === 3) this.line(44, s);
    else this.bulk(s);
  }

  bool(b: boolean): void {
    if (this.proto === 3) this.ascii(b ? "#t\r\n" : "#f\r\n");
    else this.ascii(b ? ":1\r\n" : ":0\r\n");
  }

  bigNumber(digits: string): void {
    if (this.proto === 3) this.line(40, digits);
    else this.bulk(digits);
  }

  /** Verbatim text (CLIENT INFO, INFO in RESP3): `=len\r\ntxt:...`; RESP2 bulk string. */
  verbatim(text: string, format = "txt"): void {
    if (this.proto === 3) {
      this.header(61, text.length + 4);
      this.ascii(format + ":" + text + "\r\n");
    } else {
      this.bulk(text);
    }
  }

  /** Takes the written bytes as a fresh array and empties the writer. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }

  /** The last view `head` made, and the buffer it is a view of. */
  private headView: Uint8Array | null = null;
  private headOf: Uint8Array | null = null;

  /**
   * A view of the first n written bytes (n <= len), reused while the buffer and n stay the same
   * (replies of one size, one after another, are common): it shares the buffer's memory.
   */
  head(n: number): Uint8Array {
    const v = this.headView;
    if (v !== null && this.headOf === this.buf && v.length === n) return v;
    this.headOf = this.buf;
    return this.headView = this.buf.subarray(0, n);
  }

  /** A view of the written bytes; valid until the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Drops the first n bytes (already sent), keeping anything written after them. */
  consume(n: number): void {
    if (n >= this.len) return this.reset();
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }

  reset(): void {
    this.len = 0;
    // Give back memory after a huge reply instead of holding it for the client's lifetime.
    if (this.buf.length > 1024 * 1024) {
      this.buf = new Uint8Array(16 * 1024);
      this.headView = this.headOf = null;
    }
  }
}

function sanitizeLine(s: string): string {
  return s.indexOf("\r") < 0 && s.indexOf("\n") < 0 ? s : s.replace(/[\r\n]/g, " ");
}
