/**
 * Redis's RDB format, version 10 (Redis 7.0). The writer emits Redis 7.0's own encodings
 * (strings with int/LZF encodings, listpack hashes and sorted sets, intsets, quicklist 2 lists,
 * plain hash tables and skiplists); a value held as listpack or intset bytes (store/listpack.ts)
 * is copied as it is. The reader takes everything Redis 7.0 writes: ziplists, listpacks,
 * intsets, quicklists, streams (types 15 and 19), second- and millisecond expiries, aux
 * fields, and refuses module data by name.
 */
import { binaryToBytes, bytesToBinary } from "../../shared/resp/bytes.ts";
import { Crc64 } from "./crc64.ts";
import { lzfCompress, lzfDecompress } from "./lzf.ts";
import { HashValue } from "../store/hash.ts";
import { ListValue } from "../store/list.ts";
import { SetValue } from "../store/set.ts";
import { ZSetValue } from "../store/zset.ts";
import type { Value } from "../store/types.ts";
import {
  Consumer,
  ConsumerGroup,
  idMs,
  idSeq,
  INVALID_ENTRIES_READ,
  makeId,
  type Nack,
  SEQ_MASK,
  StreamNode,
  StreamValue,
} from "../store/stream.ts";
import { formatG17 } from "../../shared/resp/format.ts";
import { encodeIntset, encodeListpack, quicklistNodes } from "./compact.ts";
import {
  duplicateKey,
  intsetChecked,
  listpackChecked,
  ziplistChecked,
  zipmapChecked,
} from "./validate.ts";

/** A quicklist node holding a listpack (1 would be a plain node of one large element). */
const QUICKLIST_PACKED = 2;

export const RDB_VERSION = 10;

export const T = {
  STRING: 0,
  LIST: 1,
  SET: 2,
  ZSET: 3,
  HASH: 4,
  ZSET_2: 5,
  MODULE: 6,
  MODULE_2: 7,
  HASH_ZIPMAP: 9,
  LIST_ZIPLIST: 10,
  SET_INTSET: 11,
  ZSET_ZIPLIST: 12,
  HASH_ZIPLIST: 13,
  LIST_QUICKLIST: 14,
  STREAM_LISTPACKS: 15,
  HASH_LISTPACK: 16,
  ZSET_LISTPACK: 17,
  LIST_QUICKLIST_2: 18,
  STREAM_LISTPACKS_2: 19,
} as const;

export const OP = {
  FUNCTION2: 0xf5,
  FUNCTION: 0xf6,
  MODULE_AUX: 0xf7,
  IDLE: 0xf8,
  FREQ: 0xf9,
  AUX: 0xfa,
  RESIZEDB: 0xfb,
  EXPIRETIME_MS: 0xfc,
  EXPIRETIME: 0xfd,
  SELECTDB: 0xfe,
  EOF: 0xff,
} as const;

/** A corrupt or unsupported file: the reason and the byte offset where it was found. */
export class RdbError extends Error {
  constructor(readonly reason: string, readonly offset: number) {
    super(`${reason} (at byte ${offset})`);
  }
}

/**
 * A value with no elements (a list, set, hash or sorted set of none): an RDB load skips its key,
 * as Redis does (old versions could write such keys); RESTORE refuses it.
 */
export class EmptyValueError extends RdbError {
  constructor(offset: number) {
    super("empty value", offset);
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

/** A growable byte buffer; `drain` hands full chunks to a sink so huge saves stay bounded. */
export class ByteWriter {
  buf: Uint8Array;
  len = 0;
  readonly crc = new Crc64();

  /** A file or stream starts with 64 KB; one DUMP payload (usually small) with less. */
  constructor(initialBytes = 64 * 1024) {
    this.buf = new Uint8Array(initialBytes);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A binary string's bytes. */
  binary(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }

  /** Takes everything written so far (checksummed) and empties the buffer. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.crc.update(out);
    this.len = 0;
    if (this.buf.length > 4 * 1024 * 1024) this.buf = new Uint8Array(64 * 1024);
    return out;
  }
}

function writeLength(w: ByteWriter, n: number): void {
  if (n < 64) w.byte(n);
  else if (n < 16384) {
    w.byte(0x40 | (n >> 8));
    w.byte(n & 0xff);
  } else if (n <= 0xffffffff) {
    w.byte(0x80);
    w.byte((n >>> 24) & 0xff);
    w.byte((n >>> 16) & 0xff);
    w.byte((n >>> 8) & 0xff);
    w.byte(n & 0xff);
  } else {
    w.byte(0x81);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    w.bytes(b);
  }
}

const INT_RE = /^-?[1-9][0-9]{0,10}$|^0$/;

export interface WriteOptions {
  compress: boolean;
  /** list-max-listpack-size: how list elements are grouped into quicklist nodes (default -2). */
  listFill?: number;
}

/** A string with Redis's choice of encoding: small integers as ints, long text LZF'd. */
export function writeString(w: ByteWriter, s: string, o: WriteOptions): void {
  if (s.length <= 11 && INT_RE.test(s)) {
    const v = Number(s);
    if (v >= -128 && v <= 127) {
      w.byte(0xc0);
      w.byte(v & 0xff);
      return;
    }
    if (v >= -32768 && v <= 32767) {
      w.byte(0xc1);
      w.byte(v & 0xff);
      w.byte((v >> 8) & 0xff);
      return;
    }
    if (v >= -2147483648 && v <= 2147483647) {
      w.byte(0xc2);
      for (let i = 0; i < 4; i++) w.byte((v >> (8 * i)) & 0xff);
      return;
    }
  }
  if (o.compress && s.length > 20) return writeBytes(w, binaryToBytes(s), o);
  writeLength(w, s.length);
  w.binary(s);
}

/** A binary string's bytes (a listpack or intset) as an RDB string, as writeBytes. */
function writeBinary(w: ByteWriter, s: string, o: WriteOptions): void {
  if (o.compress && s.length > 20) return writeBytes(w, binaryToBytes(s), o);
  writeLength(w, s.length);
  w.binary(s);
}

/** Bytes as an RDB string: LZF-compressed when that saves at least 4 bytes and it is on. */
function writeBytes(w: ByteWriter, b: Uint8Array, o: WriteOptions): void {
  if (o.compress && b.length > 20) {
    const c = lzfCompress(b, b.length - 4);
    if (c) {
      w.byte(0xc3);
      writeLength(w, c.length);
      writeLength(w, b.length);
      w.bytes(c);
      return;
    }
  }
  writeLength(w, b.length);
  w.bytes(b);
}

function writeDouble(w: ByteWriter, d: number): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, d, true);
  w.bytes(b);
}

/** The RDB type byte for a value: compact encodings are written as Redis writes them. */
export function valueType(v: Value): number {
  if (typeof v === "string") return T.STRING;
  switch (v.type) {
    case "list":
      return T.LIST_QUICKLIST_2;
    case "set":
      return v.encoding() === "intset" ? T.SET_INTSET : T.SET;
    case "zset":
      return v.encoding() === "listpack" ? T.ZSET_LISTPACK : T.ZSET_2;
    case "hash":
      return v.encoding() === "listpack" ? T.HASH_LISTPACK : T.HASH;
    case "stream":
      return T.STREAM_LISTPACKS_2;
    default:
      throw new Error(`cannot serialize a ${v.type}`);
  }
}

/** Writes a value's body (no type byte), in the encoding valueType announced. */
export function writeValue(w: ByteWriter, v: Value, o: WriteOptions): void {
  if (typeof v === "string") return writeString(w, v, o);
  if (v instanceof ListValue) {
    const nodes = quicklistNodes(v.range(), o.listFill ?? -2);
    const lp = v.listpack();
    if (lp !== null && nodes.length === 1) {
      // Held as the very listpack that one node would be.
      writeLength(w, 1);
      writeLength(w, QUICKLIST_PACKED);
      return writeBinary(w, lp, o);
    }
    writeLength(w, nodes.length);
    for (const node of nodes) {
      writeLength(w, QUICKLIST_PACKED);
      writeBytes(w, encodeListpack(node), o);
    }
  } else if (v instanceof SetValue) {
    const is = v.intset();
    if (is !== null) return writeBinary(w, is, o);
    if (v.encoding() === "intset") {
      return writeBytes(w, encodeIntset(v.members().map((m) => BigInt(m))), o);
    }
    writeLength(w, v.size);
    v.forEach((x) => writeString(w, x, o));
  } else if (v instanceof ZSetValue) {
    const lp = v.listpack();
    if (lp !== null) return writeBinary(w, lp, o);
    if (v.encoding() === "listpack") {
      const flat: string[] = [];
      for (const [m, sc] of v.entries()) flat.push(m, formatG17(sc));
      return writeBytes(w, encodeListpack(flat), o);
    }
    writeLength(w, v.size);
    // Redis writes sorted sets from the tail, so loading inserts at the head cheaply.
    const entries = [...v.entries()];
    for (let i = entries.length - 1; i >= 0; i--) {
      writeString(w, entries[i]![0], o);
      writeDouble(w, entries[i]![1]);
    }
  } else if (v instanceof HashValue) {
    const lp = v.listpack();
    if (lp !== null) return writeBinary(w, lp, o);
    if (v.encoding() === "listpack") {
      const flat: string[] = [];
      v.forEach((f, x) => flat.push(f, x));
      return writeBytes(w, encodeListpack(flat), o);
    }
    writeLength(w, v.size);
    v.forEach((f, x) => {
      writeString(w, f, o);
      writeString(w, x, o);
    });
  } else if (v instanceof StreamValue) {
    writeStream(w, v, o);
  } else {
    throw new Error("unknown value");
  }
}

// ---- Streams ----

/** A length that may need all 64 bits (stream IDs and counters). */
function writeLengthBig(w: ByteWriter, n: bigint): void {
  if (n <= 0xffffffffn) return writeLength(w, Number(n));
  w.byte(0x81);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  w.bytes(b);
}

/** A 128-bit ID as the 16 big-endian bytes Redis uses as rax keys. */
function idBytes(id: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, idMs(id));
  v.setBigUint64(8, idSeq(id));
  return b;
}

function writeMillis(w: ByteWriter, ms: number): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(ms), true);
  w.bytes(b);
}

function writeStream(w: ByteWriter, st: StreamValue, o: WriteOptions): void {
  writeLength(w, st.nodes.length);
  for (const n of st.nodes) {
    const key = idBytes(n.master);
    writeLength(w, 16);
    w.bytes(key);
    writeBinary(w, n.listpack(), o);
  }
  writeLength(w, st.length);
  writeLengthBig(w, idMs(st.lastId));
  writeLengthBig(w, idSeq(st.lastId));
  writeLengthBig(w, idMs(st.firstId));
  writeLengthBig(w, idSeq(st.firstId));
  writeLengthBig(w, idMs(st.maxDeletedId));
  writeLengthBig(w, idSeq(st.maxDeletedId));
  writeLengthBig(w, BigInt(st.entriesAdded));
  const groups = st.groupList();
  writeLength(w, groups.length);
  for (const g of groups) {
    writeString(w, g.name, o);
    writeLengthBig(w, idMs(g.lastId));
    writeLengthBig(w, idSeq(g.lastId));
    writeLengthBig(w, BigInt.asUintN(64, BigInt(g.entriesRead)));
    const ids = g.pendingIds();
    writeLength(w, ids.length);
    for (const id of ids) {
      const n = g.pel.get(id)!;
      w.bytes(idBytes(id));
      writeMillis(w, n.time);
      writeLength(w, n.count);
    }
    const consumers = g.consumerList();
    writeLength(w, consumers.length);
    for (const c of consumers) {
      writeString(w, c.name, o);
      writeMillis(w, c.seenTime);
      const cids = [...c.pel.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      writeLength(w, cids.length);
      for (const id of cids) w.bytes(idBytes(id));
    }
  }
}

export function writeHeader(w: ByteWriter, aux: [string, string][], o: WriteOptions): void {
  w.binary(`REDIS${String(RDB_VERSION).padStart(4, "0")}`);
  for (const [k, v] of aux) {
    w.byte(OP.AUX);
    writeString(w, k, o);
    writeString(w, v, o);
  }
}

export function writeSelectDb(w: ByteWriter, id: number, size: number, expires: number): void {
  w.byte(OP.SELECTDB);
  writeLength(w, id);
  w.byte(OP.RESIZEDB);
  writeLength(w, size);
  writeLength(w, expires);
}

export function writeEntry(
  w: ByteWriter,
  key: string,
  v: Value,
  expireMs: number | undefined,
  o: WriteOptions,
): void {
  if (expireMs !== undefined) {
    w.byte(OP.EXPIRETIME_MS);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(expireMs), true);
    w.bytes(b);
  }
  w.byte(valueType(v));
  writeString(w, key, o);
  writeValue(w, v, o);
}

/** EOF and the checksum of everything before it (0 when checksums are off). */
export function writeTrailer(w: ByteWriter, checksum: boolean): Uint8Array {
  w.byte(OP.EOF);
  const body = w.take();
  const crc = checksum ? w.crc.bytes() : new Uint8Array(8);
  const out = new Uint8Array(body.length + 8);
  out.set(body);
  out.set(crc, body.length);
  return out;
}

/** DUMP: type, value, RDB version (2 bytes LE), CRC64 of all that (8 bytes LE). */
/**
 * The writer every DUMP payload is built in (MIGRATE dumps each key it moves): reused, so that a
 * payload costs one allocation, its copy out. One that grew past DUMP_WRITER_KEEP is dropped.
 */
let dumpWriter: ByteWriter | null = null;
const DUMP_WRITER_BYTES = 256;
const DUMP_WRITER_KEEP = 64 * 1024;

export function dumpPayload(v: Value, o: WriteOptions = { compress: true }): Uint8Array {
  // Taken while in use: a payload built inside another (none today) gets its own writer.
  const w = dumpWriter ?? new ByteWriter(DUMP_WRITER_BYTES);
  dumpWriter = null;
  try {
    w.len = 0;
    w.byte(valueType(v));
    writeValue(w, v, o);
    w.byte(RDB_VERSION & 0xff);
    w.byte(RDB_VERSION >> 8);
    const body = w.len;
    const out = new Uint8Array(body + 8);
    out.set(w.buf.subarray(0, body));
    // Checksummed in the reused buffer, whose DataView the checksum keeps.
    w.crc.reset().update(w.buf.subarray(0, body)).writeTo(out, body);
    return out;
  } finally {
    w.len = 0;
    if (w.buf.length <= DUMP_WRITER_KEEP) dumpWriter = w;
  }
}

// ---------------------------------------------------------------------------------------------
// Reader

/**
 * Reads `buf` up to `end`. `base` is the offset of `buf[0]` in the whole stream, so that errors
 * name the byte where they were found even when `buf` holds only part of a file.
 */
export class ByteReader {
  pos = 0;
  end: number;
  constructor(public buf: Uint8Array, public base = 0) {
    this.end = buf.length;
  }

  /** The stream offset of the next byte. */
  at(): number {
    return this.base + this.pos;
  }

  need(n: number): void {
    if (this.pos + n > this.end) throw new RdbError("unexpected end of file", this.at());
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  view(n: number): DataView {
    const b = this.bytes(n);
    return new DataView(b.buffer, b.byteOffset, n);
  }
}

/**
 * A length, or (for strings) a special encoding marker: -1 - kind (kind 0-2 integers, 3 LZF), so
 * that the common case allocates nothing.
 */
function readLength(r: ByteReader): number {
  const first = r.byte();
  const kind = first >> 6;
  if (kind === 0) return first & 0x3f;
  if (kind === 1) return ((first & 0x3f) << 8) | r.byte();
  if (kind === 3) return -1 - (first & 0x3f);
  if (first === 0x80) return r.view(4).getUint32(0);
  if (first === 0x81) {
    const n = r.view(8).getBigUint64(0);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new RdbError("length too large", r.at());
    return Number(n);
  }
  throw new RdbError(`unknown length encoding 0x${first.toString(16)}`, r.at() - 1);
}

export function readLen(r: ByteReader): number {
  const n = readLength(r);
  if (n < 0) throw new RdbError("unexpected string encoding", r.at());
  return n;
}

/** An integer-encoded string (kinds 0-2: 8, 16 or 32 bits, little-endian) as its value. */
function readEncodedInt(r: ByteReader, kind: number): number {
  if (kind === 0) return (r.byte() << 24) >> 24;
  const b = r.bytes(kind === 1 ? 2 : 4);
  if (kind === 1) return ((b[0]! | (b[1]! << 8)) << 16) >> 16;
  return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
}

/** An LZF-compressed string's bytes. */
function readLzf(r: ByteReader): Uint8Array {
  const clen = readLen(r), len = readLen(r);
  // A back-reference of at most 3 bytes expands to at most 264: a larger length is corrupt (and
  // must not become a huge allocation).
  if (len > clen * 88) throw new RdbError("Invalid LZF compressed string", r.at());
  r.need(clen);
  try {
    return lzfDecompress(r.bytes(clen), len);
  } catch (e) {
    throw new RdbError((e as Error).message, r.at());
  }
}

/** A string as raw bytes (ints rendered as their decimal text). */
function readStringBytes(r: ByteReader): Uint8Array {
  const n = readLength(r);
  if (n >= 0) return r.bytes(n);
  const kind = -1 - n;
  if (kind <= 2) return ascii(String(readEncodedInt(r, kind)));
  if (kind === 3) return readLzf(r);
  throw new RdbError(`unknown string encoding ${kind}`, r.at());
}

function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Argument arrays for String.fromCharCode, one per length up to SHORT. */
const SHORT = 24;
const CHAR_ARGS: number[][] = Array.from({ length: SHORT + 1 }, (_, n) => new Array(n).fill(0));

/**
 * Bytes as a binary string. Short ones (most keys and small values) are built in one
 * allocation by String.fromCharCode, cheaper than a native slice or a concatenation per byte.
 */
function binary(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > SHORT) return bytesToBinary(b, start, end);
  const args = CHAR_ARGS[n]!;
  for (let i = 0; i < n; i++) args[i] = b[start + i]!;
  return String.fromCharCode.apply(null, args);
}

/** A string as a binary string, read straight from the buffer (no intermediate bytes). */
export function readString(r: ByteReader): string {
  const n = readLength(r);
  if (n >= 0) {
    r.need(n);
    const s = binary(r.buf, r.pos, r.pos + n);
    r.pos += n;
    return s;
  }
  const kind = -1 - n;
  if (kind <= 2) return String(readEncodedInt(r, kind));
  if (kind === 3) {
    const b = readLzf(r);
    return bytesToBinary(b, 0, b.length);
  }
  throw new RdbError(`unknown string encoding ${kind}`, r.at());
}

/** A score stored as text in a ziplist or listpack: a number, or inf / -inf as Redis prints them. */
function score(s: string): number {
  const lower = s.toLowerCase();
  if (lower === "inf" || lower === "+inf" || lower === "infinity") return Infinity;
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  const d = Number(s);
  if (Number.isNaN(d)) throw new RdbError(`invalid sorted set score '${s}'`, 0);
  return d;
}

/** Old-style (type 3) scores: a length byte, with 253/254/255 for nan/+inf/-inf. */
function readOldDouble(r: ByteReader): number {
  const len = r.byte();
  if (len === 253) return NaN;
  if (len === 254) return Infinity;
  if (len === 255) return -Infinity;
  return Number(bytesToBinary(r.bytes(len), 0, len));
}

function pairsOf(items: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < items.length; i += 2) out.push([items[i]!, items[i + 1]!]);
  return out;
}

function zsetFrom(pairs: [string, number][]): ZSetValue {
  return ZSetValue.fromEntries(pairs);
}

export const UNSUPPORTED: Record<number, string> = {
  [T.MODULE]: "module data (a module type) is not supported",
  [T.MODULE_2]: "module data (a module type) is not supported",
};

/** A corrupt value, with the reason Redis logs for it. */
function corrupt(reason: string, r: ByteReader): RdbError {
  return new RdbError(reason, r.at());
}

/** Pairs from a flat list of fields (or members) and values; refused when not even. */
function checkedPairs(items: string[], what: string, r: ByteReader): [string, string][] {
  if (items.length % 2 !== 0) throw corrupt(`${what} integrity check failed.`, r);
  return pairsOf(items);
}

/**
 * The entries of a hash's or sorted set's listpack: Redis's header check always, every entry and
 * duplicate fields (members) when `deep`. Our decoder walks every entry and keeps no duplicates,
 * so a listpack that is cut or holds a field twice is refused in either mode.
 */
function listpackPairs(b: Uint8Array, deep: boolean, what: string, r: ByteReader) {
  const items = listpackChecked(b, deep);
  if (items === null) throw corrupt(`${what} listpack integrity check failed.`, r);
  if (items.length % 2 !== 0) throw corrupt(`${what} listpack integrity check failed.`, r);
  if (duplicateKey(items) !== null) {
    throw corrupt(
      deep ? `${what} listpack integrity check failed.` : `${what} listpack with dup elements`,
      r,
    );
  }
  if (items.length === 0) throw new EmptyValueError(r.at());
  return pairsOf(items);
}

/** The entries of a hash's or sorted set's ziplist, always checked in depth (as Redis does). */
function ziplistPairs(b: Uint8Array, what: string, r: ByteReader): [string, string][] {
  const items = ziplistChecked(b);
  if (items === null || duplicateKey(items) !== null) {
    throw corrupt(`${what} ziplist integrity check failed.`, r);
  }
  const pairs = checkedPairs(items, `${what} ziplist`, r);
  if (pairs.length === 0) throw new EmptyValueError(r.at());
  return pairs;
}

function zsetScores(pairs: [string, string][]): [string, number][] {
  return pairs.map(([m, s]) => [m, score(s)]);
}

/**
 * Reads one value of the given type. `deep` asks for Redis's deep integrity checks of compact
 * encodings (sanitize-dump-payload); the shallow ones are always made. A corrupt value throws
 * RdbError with the reason Redis logs; one with no elements throws EmptyValueError.
 */
export function readValue(r: ByteReader, type: number, deep = false): Value {
  switch (type) {
    case T.STRING:
      return readString(r);
    case T.LIST: {
      const n = readLen(r), items: string[] = [];
      if (n === 0) throw new EmptyValueError(r.at());
      for (let i = 0; i < n; i++) items.push(readString(r));
      return new ListValue(items);
    }
    case T.SET: {
      const n = readLen(r), members: string[] = [];
      if (n === 0) throw new EmptyValueError(r.at());
      for (let i = 0; i < n; i++) members.push(readString(r));
      // A member twice would leave the set smaller than its count.
      const set = new SetValue(members);
      if (set.size !== n) throw corrupt("Duplicate set members detected", r);
      return set;
    }
    case T.ZSET:
    case T.ZSET_2: {
      const n = readLen(r), pairs: [string, number][] = [];
      if (n === 0) throw new EmptyValueError(r.at());
      for (let i = 0; i < n; i++) {
        const m = readString(r);
        const score = type === T.ZSET_2 ? r.view(8).getFloat64(0, true) : readOldDouble(r);
        if (Number.isNaN(score)) throw corrupt("Zset with NAN score detected", r);
        pairs.push([m, score]);
      }
      const zset = zsetFrom(pairs);
      if (zset.size !== n) throw corrupt("Duplicate zset fields detected", r);
      return zset;
    }
    case T.HASH: {
      const n = readLen(r), pairs: [string, string][] = [];
      if (n === 0) throw new EmptyValueError(r.at());
      for (let i = 0; i < n; i++) pairs.push([readString(r), readString(r)]);
      const hash = new HashValue(pairs);
      if (hash.size !== n) throw corrupt("Duplicate hash fields detected", r);
      return hash;
    }
    case T.LIST_ZIPLIST: {
      const items = ziplistChecked(readStringBytes(r));
      if (items === null) throw corrupt("List ziplist integrity check failed.", r);
      if (items.length === 0) throw new EmptyValueError(r.at());
      return new ListValue(items);
    }
    case T.SET_INTSET: {
      // The file's width is kept: an intset never narrows.
      const is = intsetChecked(readStringBytes(r), deep);
      if (is === null) throw corrupt("Intset integrity check failed.", r);
      return SetValue.fromIntset(is.values, is.width);
    }
    case T.ZSET_ZIPLIST:
      return zsetFrom(zsetScores(ziplistPairs(readStringBytes(r), "Zset", r)));
    case T.HASH_ZIPLIST:
      return new HashValue(ziplistPairs(readStringBytes(r), "Hash", r));
    case T.HASH_ZIPMAP: {
      const pairs = zipmapChecked(readStringBytes(r));
      if (pairs === null) throw corrupt("Zipmap integrity check failed.", r);
      const seen = new Set<string>();
      for (const [f] of pairs) {
        if (seen.has(f)) {
          throw corrupt(`Hash zipmap with dup elements, or big length (${f.length})`, r);
        }
        seen.add(f);
      }
      return new HashValue(pairs);
    }
    case T.HASH_LISTPACK:
      return new HashValue(listpackPairs(readStringBytes(r), deep, "Hash", r));
    case T.ZSET_LISTPACK:
      return zsetFrom(zsetScores(listpackPairs(readStringBytes(r), deep, "Zset", r)));
    case T.LIST_QUICKLIST:
    case T.LIST_QUICKLIST_2: {
      const nodes = readLen(r), all: string[] = [];
      if (nodes === 0) throw new EmptyValueError(r.at());
      for (let i = 0; i < nodes; i++) {
        const container = type === T.LIST_QUICKLIST_2 ? readLen(r) : QUICKLIST_PACKED;
        if (container !== 1 && container !== QUICKLIST_PACKED) {
          throw corrupt("Quicklist integrity check failed.", r);
        }
        const b = readStringBytes(r);
        if (b.length === 0) throw corrupt("Quicklist node of no bytes", r);
        if (container === 1) {
          all.push(bytesToBinary(b, 0, b.length));
          continue;
        }
        const items = type === T.LIST_QUICKLIST ? ziplistChecked(b) : listpackChecked(b, deep);
        if (items === null) {
          throw corrupt(
            type === T.LIST_QUICKLIST
              ? "Ziplist integrity check failed."
              : "Listpack integrity check failed.",
            r,
          );
        }
        // An empty node is skipped, as Redis does; a list left with none is empty.
        for (const x of items) all.push(x);
      }
      if (all.length === 0) throw new EmptyValueError(r.at());
      return new ListValue(all);
    }
    case T.STREAM_LISTPACKS:
    case T.STREAM_LISTPACKS_2:
      return readStream(r, type === T.STREAM_LISTPACKS_2, deep);
    default:
      throw new RdbError(UNSUPPORTED[type] ?? `unknown value type ${type}`, r.at() - 1);
  }
}

export interface LoadedKey {
  db: number;
  key: string;
  value: Value;
  expireMs: number | undefined;
  idle?: number;
  freq?: number;
}

export interface RdbContents {
  version: number;
  aux: Map<string, string>;
  /** Warnings about data that was skipped. */
  skipped: string[];
  /** Keys skipped for holding an empty value (a list, set, hash or sorted set of none). */
  emptyKeys?: number;
  /** The code of each function library (RDB_OPCODE_FUNCTION2), in file order. */
  functions: string[];
}

/** RESTORE: checks version and checksum, then decodes the value. */
const payloadCrc = new Crc64();

/**
 * DEBUG SET-SKIP-CHECKSUM-VALIDATION: while set, neither RESTORE payloads nor RDB loads have
 * their CRC64 checked (Redis's testing switch, for corrupt payloads built by hand).
 */
export const checksumValidation = { skip: false };

export interface RestoreOptions {
  /** Redis's deep integrity checks of compact encodings (sanitize-dump-payload). */
  deep?: boolean;
  /** DEBUG SET-SKIP-CHECKSUM-VALIDATION 1: the CRC is not checked (the version still is). */
  skipChecksum?: boolean;
}

/**
 * The value of a DUMP payload, or the error RESTORE answers; a payload refused for its contents
 * also says why (`reason`, what Redis logs).
 */
export function restorePayload(
  payload: Uint8Array,
  o: RestoreOptions = {},
): { value: Value } | { error: string; reason?: string } {
  const bad = { error: "ERR DUMP payload version or checksum are wrong" };
  if (payload.length < 10) return bad;
  const footer = payload.length - 10;
  const version = payload[footer]! | (payload[footer + 1]! << 8);
  if (version > RDB_VERSION) return bad;
  // Every payload's checksum is checked (an RDB file's 0 means "not computed"; a DUMP payload's
  // does not, in Redis 7.0), unless DEBUG SET-SKIP-CHECKSUM-VALIDATION says otherwise.
  if (
    !(o.skipChecksum ?? checksumValidation.skip) &&
    !payloadCrc.reset().update(payload.subarray(0, footer + 2)).equals(payload, footer + 2)
  ) {
    return bad;
  }
  const format = "ERR Bad data format";
  try {
    const r = new ByteReader(payload.subarray(0, footer));
    const value = readValue(r, r.byte(), o.deep === true);
    if (r.pos !== footer) return { error: format, reason: "trailing bytes after the value" };
    return { value };
  } catch (e) {
    if (e instanceof EmptyValueError) return { error: format, reason: "empty key" };
    if (e instanceof RdbError) return { error: format, reason: e.reason };
    return { error: format, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** A length of up to 64 bits, as a bigint. */
function readLenBig(r: ByteReader): bigint {
  const first = r.byte();
  if (first === 0x81) return r.view(8).getBigUint64(0);
  r.pos--;
  return BigInt(readLen(r));
}

function readId(r: ByteReader): bigint {
  const v = r.view(16);
  return makeId(v.getBigUint64(0), v.getBigUint64(8));
}

function readMillis(r: ByteReader): number {
  return Number(r.view(8).getBigInt64(0, true));
}

/** A listpack integer element (as text) as a bigint; corrupt when it is not one. */
function lpInt(items: string[], i: number): bigint {
  const s = items[i];
  if (s === undefined || !/^-?[0-9]+$/.test(s)) throw new RdbError("corrupt stream listpack", 0);
  return BigInt(s);
}

const STREAM_LP_BAD = "Stream listpack integrity check failed.";

/** Decodes one node's listpack into the stream (checking it), deleted entries kept flagged. */
function loadNode(st: StreamValue, master: bigint, b: Uint8Array, deep: boolean): bigint {
  const items = listpackChecked(b, deep);
  if (items === null) throw new RdbError(STREAM_LP_BAD, 0);
  if (items.length === 0) throw new RdbError("Empty listpack inside stream", 0);
  const count = Number(lpInt(items, 0)), deleted = Number(lpInt(items, 1));
  const nMaster = Number(lpInt(items, 2));
  if (nMaster < 0 || 3 + nMaster >= items.length) throw new RdbError("corrupt stream node", 0);
  const masterFields = items.slice(3, 3 + nMaster);
  if (lpInt(items, 3 + nMaster) !== 0n) throw new RdbError("corrupt stream master entry", 0);
  let p = 3 + nMaster + 1;
  const node = new StreamNode(master, masterFields);
  const mMs = idMs(master), mSeq = idSeq(master);
  let prev = -1n;
  while (p < items.length) {
    const flags = Number(lpInt(items, p));
    if (flags < 0 || flags > 3) throw new RdbError("corrupt stream entry flags", 0);
    const ms = BigInt.asUintN(64, mMs + lpInt(items, p + 1));
    const seq = BigInt.asUintN(64, mSeq + lpInt(items, p + 2));
    p += 3;
    let fields: string[];
    if (flags & 2) {
      fields = [];
      for (let k = 0; k < nMaster; k++) fields.push(masterFields[k]!, items[p + k]!);
      p += nMaster;
    } else {
      const nf = Number(lpInt(items, p));
      if (nf < 0) throw new RdbError("corrupt stream entry", 0);
      fields = items.slice(p + 1, p + 1 + nf * 2);
      p += 1 + nf * 2;
    }
    // The entry's element count: its fields and values, plus 3 (flags, ID), plus the field count
    // and the fields when it has its own.
    const lpCount = lpInt(items, p);
    if (deep && lpCount !== BigInt(flags & 2 ? nMaster + 3 : fields.length + 4)) {
      throw new RdbError(STREAM_LP_BAD, 0);
    }
    p++;
    if (p > items.length || fields.some((f) => f === undefined)) {
      throw new RdbError("corrupt stream listpack", 0);
    }
    const id = makeId(ms, seq);
    if (id <= prev || id < master) throw new RdbError("stream entries out of order", 0);
    prev = id;
    const at = node.push(id, fields);
    if (flags & 1) node.markDeleted(at, flags & 2);
  }
  if (node.live !== count || node.deleted !== deleted) {
    throw new RdbError("stream listpack counts do not match its entries", 0);
  }
  if (node.live + node.deleted === 0) throw new RdbError("Empty listpack inside stream", 0);
  if (st.nodes.length && st.nodes[st.nodes.length - 1]!.master >= master) {
    throw new RdbError("stream nodes out of order", 0);
  }
  st.nodes.push(node);
  return prev;
}

/** A stream (type 15, or 19 with Redis 7.0's first ID, deletion and read counters). */
function readStream(r: ByteReader, v2: boolean, deep: boolean): StreamValue {
  const st = new StreamValue();
  const nodes = readLen(r);
  /** The largest entry ID, deleted entries included. */
  let top = -1n;
  for (let i = 0; i < nodes; i++) {
    const key = readStringBytes(r);
    if (key.length !== 16) throw new RdbError("stream node key is not a 128-bit ID", r.at());
    const kv = new DataView(key.buffer, key.byteOffset, 16);
    top = loadNode(st, makeId(kv.getBigUint64(0), kv.getBigUint64(8)), readStringBytes(r), deep);
  }
  st.length = readLen(r);
  let live = 0;
  for (const n of st.nodes) live += n.live;
  // A node whose entries were all deleted holds nothing (Redis drops such nodes too).
  st.nodes = st.nodes.filter((n) => n.live > 0);
  st.nodesChanged();
  if (live !== st.length) throw new RdbError("stream length does not match its entries", r.at());
  st.lastId = makeId(readLenBig(r), readLenBig(r));
  // New entries get IDs above the last one: an entry above it would break their order.
  if (top > st.lastId) throw new RdbError("Stream last ID below the ID of an entry", r.at());
  if (v2) {
    st.firstId = makeId(readLenBig(r), readLenBig(r));
    st.maxDeletedId = makeId(readLenBig(r), readLenBig(r));
    st.entriesAdded = Number(readLenBig(r));
  } else {
    st.maxDeletedId = 0n;
    st.entriesAdded = st.length;
    st.firstId = st.edgeId(true);
  }
  const ngroups = readLen(r);
  for (let i = 0; i < ngroups; i++) {
    const name = readString(r);
    const last = makeId(readLenBig(r), readLenBig(r));
    let read: number;
    if (v2) {
      const raw = readLenBig(r);
      read = raw === SEQ_MASK ? INVALID_ENTRIES_READ : Number(raw);
    } else read = st.distanceFromFirstEver(last);
    if (st.groups.has(name)) throw new RdbError(`Duplicated consumer group name ${name}`, r.at());
    const g = new ConsumerGroup(name, last, read);
    st.groups.set(name, g);
    const npel = readLen(r);
    for (let k = 0; k < npel; k++) {
      const id = readId(r);
      const time = readMillis(r);
      const count = readLen(r);
      if (g.pel.has(id)) throw new RdbError("duplicated stream PEL entry", r.at());
      g.pel.set(id, { id, time, count, consumer: null as unknown as Consumer });
    }
    const nconsumers = readLen(r);
    for (let k = 0; k < nconsumers; k++) {
      const cname = readString(r);
      if (g.consumers.has(cname)) throw new RdbError("Duplicate stream consumer detected.", r.at());
      const c = new Consumer(cname, readMillis(r));
      g.consumers.set(cname, c);
      const n = readLen(r);
      for (let j = 0; j < n; j++) {
        const id = readId(r);
        const nack: Nack | undefined = g.pel.get(id);
        if (!nack) throw new RdbError("consumer PEL entry missing from the group PEL", r.at());
        if (nack.consumer) throw new RdbError("stream PEL entry owned twice", r.at());
        nack.consumer = c;
        c.pel.set(id, nack);
      }
    }
    for (const n of g.pel.values()) {
      if (!n.consumer) throw new RdbError("stream PEL entry without a consumer", r.at());
    }
  }
  return st;
}
