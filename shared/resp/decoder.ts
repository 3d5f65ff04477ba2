/**
 * Incremental RESP2/RESP3 decoder for replies (and any RESP stream). Bytes arrive in chunks of
 * any size; `next()` returns a complete value or NEED_MORE. Aggregates are built on an explicit
 * stack, so a partial array is never re-parsed: cost stays linear in the input however it is cut.
 */
import { bytesToBinary } from "./bytes.ts";
import { DEFAULT_LIMITS, RespLimits } from "./limits.ts";
import {
  ProtocolError,
  RespAttribute,
  RespBigNumber,
  RespDouble,
  RespError,
  RespMap,
  RespPush,
  RespSet,
  RespValue,
  RespVerbatim,
  SimpleString,
} from "./types.ts";

export const NEED_MORE: unique symbol = Symbol("NEED_MORE");

type FrameKind = "array" | "map" | "set" | "push" | "attr" | "attrValue";
interface Frame {
  kind: FrameKind;
  need: number;
  items: RespValue[];
  attrs?: [RespValue, RespValue][];
}

export class RespDecoder {
  private buf = new Uint8Array(4096);
  private start = 0;
  private end = 0;
  private stack: Frame[] = [];
  private readonly limits: RespLimits;

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes buffered but not yet decoded. */
  get pending(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) this.makeRoom(chunk.length);
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  private makeRoom(extra: number): void {
    const live = this.end - this.start;
    if (live + extra <= this.buf.length && this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      let cap = this.buf.length * 2;
      while (cap < live + extra) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
    }
    this.start = 0;
    this.end = live;
  }

  /** The next complete value, or NEED_MORE. Throws ProtocolError on malformed input. */
  next(): RespValue | typeof NEED_MORE {
    for (;;) {
      const v = this.element();
      if (v === NEED_MORE) return NEED_MORE;
      if (v instanceof OpenFrame) continue; // an aggregate header; its items follow
      const done = this.complete(v);
      if (done !== NEED_MORE) return done;
    }
  }

  /** Adds a finished value to the open aggregates; returns the top-level value when done. */
  private complete(v: RespValue): RespValue | typeof NEED_MORE {
    let value = v;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (!top) return value;
      top.items.push(value);
      if (top.items.length < top.need) return NEED_MORE;
      this.stack.pop();
      const closed = this.close(top);
      if (closed instanceof OpenFrame) return NEED_MORE;
      value = closed;
    }
  }

  private close(f: Frame): RespValue | OpenFrame {
    switch (f.kind) {
      case "array":
        return f.items;
      case "set":
        return new RespSet(f.items);
      case "push":
        return new RespPush(f.items);
      case "map":
        return new RespMap(pairs(f.items));
      case "attr":
        // The attribute map is followed by the value it decorates.
        this.stack.push({ kind: "attrValue", need: 1, items: [], attrs: pairs(f.items) });
        return OPEN;
      case "attrValue":
        return new RespAttribute(f.attrs ?? [], f.items[0] ?? null);
    }
  }

  private open(kind: FrameKind, need: number): RespValue | OpenFrame {
    if (need === 0) return this.close({ kind, need, items: [] });
    if (this.stack.length >= this.limits.maxDepth) {
      throw new ProtocolError("nesting too deep");
    }
    this.stack.push({ kind, need, items: [] });
    return OPEN;
  }

  /** Decodes one element at `start`: a scalar, or the header of an aggregate. */
  private element(): RespValue | OpenFrame | typeof NEED_MORE {
    if (this.start >= this.end) return NEED_MORE;
    const b = this.buf;
    const type = b[this.start]!;
    const lineEnd = this.findCrlf(this.start + 1);
    if (lineEnd < 0) {
      if (this.end - this.start > this.limits.maxInlineLen) {
        throw new ProtocolError("too big line");
      }
      return NEED_MORE;
    }
    const head = this.start + 1;
    const after = lineEnd + 2;
    switch (type) {
      case 43: // '+'
        return this.take(after, new SimpleString(bytesToBinary(b, head, lineEnd)));
      case 45: // '-'
        return this.take(after, new RespError(bytesToBinary(b, head, lineEnd)));
      case 58: // ':'
        return this.take(after, parseInteger(b, head, lineEnd));
      case 36: // '$'
        return this.blob(head, lineEnd, (s) => s);
      case 33: // '!'
        return this.blob(head, lineEnd, (s) => new RespError(s, true));
      case 61: // '='
        return this.blob(head, lineEnd, (s) => new RespVerbatim(s.slice(0, 3), s.slice(4)));
      case 95: // '_'
        return this.take(after, null);
      case 35: // '#'
        return this.take(after, b[head] === 116); // 't'
      case 44: // ','
        return this.take(after, new RespDouble(parseDouble(bytesToBinary(b, head, lineEnd))));
      case 40: // '('
        return this.take(after, new RespBigNumber(parseBig(bytesToBinary(b, head, lineEnd))));
      case 42: // '*'
      case 37: // '%'
      case 126: // '~'
      case 62: // '>'
      case 124: { // '|'
        const n = parseLength(b, head, lineEnd);
        this.start = after;
        if (n < 0) return null;
        if (n > this.limits.maxMultibulkLen) throw new ProtocolError("invalid multibulk length");
        const kind = AGG_KIND[type]!;
        return this.open(kind, kind === "map" || kind === "attr" ? n * 2 : n);
      }
      default:
        throw new ProtocolError(`invalid type byte '${String.fromCharCode(type)}'`);
    }
  }

  private blob(
    head: number,
    lineEnd: number,
    make: (s: string) => RespValue,
  ): RespValue | typeof NEED_MORE {
    const n = parseLength(this.buf, head, lineEnd);
    if (n < 0) return this.take(lineEnd + 2, null);
    if (n > this.limits.maxBulkLen) throw new ProtocolError("invalid bulk length");
    const dataStart = lineEnd + 2;
    if (this.end < dataStart + n + 2) return NEED_MORE;
    if (this.buf[dataStart + n] !== 13 || this.buf[dataStart + n + 1] !== 10) {
      throw new ProtocolError("bulk string not terminated by CRLF");
    }
    return this.take(dataStart + n + 2, make(bytesToBinary(this.buf, dataStart, dataStart + n)));
  }

  private take(next: number, v: RespValue): RespValue {
    this.start = next;
    if (this.start === this.end) this.start = this.end = 0;
    return v;
  }

  private findCrlf(from: number): number {
    const b = this.buf;
    for (let i = from; i < this.end - 1; i++) {
      if (b[i] === 13 && b[i + 1] === 10) return i;
    }
    return -1;
  }
}

class OpenFrame {}
const OPEN = new OpenFrame();

const AGG_KIND: Record<number, FrameKind> = {
  42: "array",
  37: "map",
  126: "set",
  62: "push",
  124: "attr",
};

function pairs(items: RespValue[]): [RespValue, RespValue][] {
  const out: [RespValue, RespValue][] = [];
  for (let i = 0; i < items.length; i += 2) out.push([items[i]!, items[i + 1]!]);
  return out;
}

/** Parses a signed decimal length; -1 means null. Anything else malformed is an error. */
export function parseLength(b: Uint8Array, start: number, end: number): number {
  const v = parseInteger(b, start, end);
  if (typeof v !== "number" || v < -1) throw new ProtocolError("invalid length");
  return v;
}

function parseInteger(b: Uint8Array, start: number, end: number): number | bigint {
  let i = start;
  let neg = false;
  if (b[i] === 45) {
    neg = true;
    i++;
  }
  if (i >= end || end - i > 20) throw new ProtocolError("invalid integer");
  let n = 0;
  for (let j = i; j < end; j++) {
    const c = b[j]! - 48;
    if (c < 0 || c > 9) throw new ProtocolError("invalid integer");
    n = n * 10 + c;
  }
  if (Number.isSafeInteger(n)) return neg ? -n : n;
  return BigInt(bytesToBinary(b, start, end));
}

function parseDouble(s: string): number {
  if (s === "inf" || s === "+inf") return Infinity;
  if (s === "-inf") return -Infinity;
  if (s === "nan" || s === "-nan") return NaN;
  const d = Number(s);
  if (s.length === 0 || Number.isNaN(d)) throw new ProtocolError("invalid double");
  return d;
}

function parseBig(s: string): bigint {
  if (!/^-?\d+$/.test(s)) throw new ProtocolError("invalid big number");
  return BigInt(s);
}
