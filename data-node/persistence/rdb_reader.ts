/**
 * A streaming RDB reader: bytes go in a chunk at a time from any source (a file read in 64 KiB
 * pieces, a replication socket) and keys come out as soon as each is complete. Memory stays
 * bounded: between chunks the reader keeps only the bytes of the one top-level item (an aux
 * field, a SELECTDB, a RESIZEDB, or a key with its expiry/LRU/LFU opcodes) that is not complete
 * yet, however large the file is.
 *
 * How: a small resumable scanner walks the RDB grammar token by token (lengths, strings, fixed
 * fields) to find where the current item ends, remembering how far it got when the bytes run out;
 * once the item's bytes are all there, the value decoders of rdb.ts decode it from one contiguous
 * array. A partial token is re-examined from its start when more bytes come, which costs a few
 * header bytes, so feeding a file one byte at a time stays linear.
 *
 * The CRC64 is computed over the bytes as items are consumed and checked against the trailer
 * (0 there means checksums were off). The reader stops right after the EOF opcode and its
 * checksum and says how many bytes of the last chunk it used, so a caller whose RDB payload is
 * followed by other bytes (a diskless transfer's end mark, a replication stream) keeps the rest.
 */
import { bytesToBinary } from "../../shared/resp/bytes.ts";
import { Crc64 } from "./crc64.ts";
import {
  ByteReader,
  checksumValidation,
  EmptyValueError,
  type LoadedKey,
  OP,
  RDB_VERSION,
  type RdbContents,
  RdbError,
  readLen,
  readString,
  readValue,
  T,
  UNSUPPORTED,
} from "./rdb.ts";
import type { Value } from "../store/types.ts";

/** The read size of the file source: the reader's fixed-size buffer besides the current item. */
export const READ_CHUNK = 64 * 1024;

// Scanner tokens.
/** An RDB string: a length and that many bytes, an integer encoding, or LZF. */
const STR = 0;
/** A length. */
const LEN = 1;
/** Fixed-size fields of 1, 4 and 8 bytes. */
const B1 = 2, B4 = 3, B8 = 4;
/** An old-style (type 3 sorted set) score: a length byte and text, or 253-255 for nan/inf. */
const ODBL = 5;
/** A length that is the number of elements to follow (each as the op's element program). */
const COUNT = 6;
/** A whole stream value (type 15 or 19): its nested counts are scanned in one go. */
const STREAM = 7;

/** What follows each opcode or value type byte, as tokens. Undefined: refused. */
const PROGRAM: (readonly number[] | undefined)[] = new Array(256);
/** For aggregates written element by element: the tokens of one element. */
const ELEMENT: (readonly number[] | undefined)[] = new Array(256);
/** Opcodes that qualify the next key (expiry, LRU idle time, LFU frequency). */
const MODIFIER = new Uint8Array(256);
{
  const set = (op: number, prog: number[], elem?: number[]) => {
    PROGRAM[op] = prog;
    if (elem) ELEMENT[op] = elem;
  };
  set(OP.AUX, [STR, STR]);
  set(OP.SELECTDB, [LEN]);
  set(OP.RESIZEDB, [LEN, LEN]);
  set(OP.FUNCTION2, [STR]);
  // 7.0's release candidates: name, engine, a description flag (0/1) and that many, the code.
  set(OP.FUNCTION, [STR, STR, COUNT, STR], [STR]);
  set(OP.EXPIRETIME_MS, [B8]);
  set(OP.EXPIRETIME, [B4]);
  set(OP.IDLE, [LEN]);
  set(OP.FREQ, [B1]);
  set(OP.EOF, []);
  for (const op of [OP.EXPIRETIME_MS, OP.EXPIRETIME, OP.IDLE, OP.FREQ]) MODIFIER[op] = 1;
  // Values: the key, then the value's tokens.
  for (
    const t of [
      T.STRING,
      T.LIST_ZIPLIST,
      T.SET_INTSET,
      T.ZSET_ZIPLIST,
      T.HASH_ZIPLIST,
      T.HASH_ZIPMAP,
      T.HASH_LISTPACK,
      T.ZSET_LISTPACK,
    ]
  ) set(t, [STR, STR]);
  set(T.LIST, [STR, COUNT], [STR]);
  set(T.SET, [STR, COUNT], [STR]);
  set(T.LIST_QUICKLIST, [STR, COUNT], [STR]);
  set(T.LIST_QUICKLIST_2, [STR, COUNT], [LEN, STR]);
  set(T.HASH, [STR, COUNT], [STR, STR]);
  set(T.ZSET, [STR, COUNT], [STR, ODBL]);
  set(T.ZSET_2, [STR, COUNT], [STR, B8]);
  set(T.STREAM_LISTPACKS, [STR, STREAM]);
  set(T.STREAM_LISTPACKS_2, [STR, STREAM]);
}

const NO_TOKENS: readonly number[] = [];

/** One step of a walk through a stream value: a token (B1 with `n`: n raw bytes) at an offset. */
interface WalkStep {
  tok: number;
  /** Offset from the value's start. */
  at: number;
  n?: number;
}

/**
 * The layout of a stream value (RDB types 15 and 19), as the tokens it is made of: each yield
 * asks for one at an offset and gets back [offset after it, its value if a length]. Returns
 * the value's size.
 */
function* streamWalk(v2: boolean): Generator<WalkStep, number, [number, number]> {
  let q = 0, n: number;
  type Walk<T> = Generator<WalkStep, T, [number, number]>;
  const len = function* (): Walk<number> {
    const [next, value] = yield { tok: LEN, at: q };
    q = next;
    return value;
  };
  const str = function* (): Walk<void> {
    q = (yield { tok: STR, at: q })[0];
  };
  const raw = function* (bytes: number): Walk<void> {
    q = (yield { tok: B1, at: q, n: bytes })[0];
  };
  n = yield* len();
  for (let i = 0; i < n; i++) {
    yield* str(); // the node's master ID
    yield* str(); // its listpack
  }
  // Length and last ID; in type 19 also the first ID, the largest deleted ID and entries added.
  for (let i = 0; i < (v2 ? 8 : 3); i++) yield* len();
  const groups = yield* len();
  for (let g = 0; g < groups; g++) {
    yield* str();
    for (let i = 0; i < (v2 ? 3 : 2); i++) yield* len();
    const pel = yield* len();
    for (let i = 0; i < pel; i++) {
      yield* raw(24); // ID and delivery time
      yield* len(); // delivery count
    }
    const consumers = yield* len();
    for (let k = 0; k < consumers; k++) {
      yield* str();
      yield* raw(8); // seen time
      n = yield* len();
      for (let i = 0; i < n; i++) yield* raw(16);
    }
  }
  return q;
}

/** The reason an opcode or type byte cannot be read. */
function refusal(op: number): string {
  if (op === OP.MODULE_AUX) return "module auxiliary data is not supported";
  return UNSUPPORTED[op] ?? `unknown value type ${op}`;
}

/** What one feed did. */
export interface FeedResult {
  /**
   * Top-level items completed by this chunk: aux fields, SELECTDB, RESIZEDB, function
   * libraries, and keys (each with its expiry/LRU/LFU opcodes). The EOF opcode is not one.
   */
  items: number;
  /**
   * Bytes of the chunk that belong to the RDB: all of them, except in the feed that reaches the
   * end, where the bytes after the checksum are left to the caller (chunk.subarray(used)).
   */
  used: number;
  /** The EOF opcode (and checksum, version 5 and later) has been read: nothing more is needed. */
  done: boolean;
}

const enum Phase {
  Magic,
  Items,
  Checksum,
  Done,
}

/**
 * The parser core. `feed` takes the next bytes (the chunk may be reused by the caller once it
 * returns); `end` says there are no more and returns what the header and aux fields said. Throws
 * RdbError on corrupt data, a refused type, a checksum mismatch, or (from `end`) a truncated
 * stream. After an error the reader must not be used again.
 */
export class RdbReader {
  /** Retained bytes: the start of the incomplete item, or of the magic or checksum. */
  private buf = new Uint8Array(READ_CHUNK);
  private len = 0;
  /** Stream offset of buf[0] (or of the chunk's first byte while a chunk is read in place). */
  private offset = 0;
  /**
   * The most bytes the reader has had in view at once: what it retained plus the chunk being
   * read. Its memory stays within this (plus a decoded item), whatever the stream's size.
   */
  maxBuffered = 0;
  private phase = Phase.Magic;
  private readonly crc = new Crc64();
  private readonly r = new ByteReader(this.buf);
  readonly contents: RdbContents = {
    version: 0,
    aux: new Map(),
    skipped: [],
    functions: [],
  };

  // Decoding state carried from item to item.
  private db = 0;
  private expire: number | undefined;
  private idle: number | undefined;
  private freq: number | undefined;

  // Scanner state, relative to the start of the current item.
  /** Bytes of the item known complete: the next token starts here. */
  private sPos = 0;
  /** The tokens after the current opcode; null before the opcode has been read. */
  private sProg: readonly number[] | null = null;
  private sStep = 0;
  /** Elements still to scan, and the tokens of one. */
  private sCount = 0;
  private sElem: readonly number[] = NO_TOKENS;
  private sElemStep = 0;
  private sOp = 0;
  /** The last length scanned; -1 - kind for an encoded string marker. */
  private lv = 0;
  /** The walk through a stream value in progress, and what it needs next. */
  private sWalk: Generator<WalkStep, number, [number, number]> | null = null;
  private sNeed: WalkStep | null = null;

  /** Hears RESIZEDB: the key count (and TTL count) of the database the keys that follow go to. */
  onResize: ((db: number, keys: number, ttls: number) => void) | null = null;

  /**
   * Redis's deep integrity checks of compact encodings (sanitize-dump-payload yes). Taken from
   * the key callback's `deepSanitize` when it has one (keyLoader sets it from the config).
   */
  deep: boolean;

  constructor(private readonly onKey: KeySink) {
    this.deep = onKey.deepSanitize === true;
  }

  get done(): boolean {
    return this.phase === Phase.Done;
  }

  /** Bytes held now (an incomplete item's start). */
  get buffered(): number {
    return this.len;
  }

  feed(chunk: Uint8Array): FeedResult {
    if (this.phase === Phase.Done) return { items: 0, used: 0, done: true };
    // With nothing retained the chunk is parsed where it is; otherwise it joins the retained
    // bytes, which always start at the beginning of an item.
    let src: Uint8Array, end: number;
    if (this.len === 0) {
      src = chunk;
      end = chunk.length;
    } else {
      this.reserve(this.len + chunk.length);
      this.buf.set(chunk, this.len);
      this.len += chunk.length;
      src = this.buf;
      end = this.len;
    }
    if (end > this.maxBuffered) this.maxBuffered = end;
    // Bytes from crcFrom to pos are consumed but not yet checksummed.
    let pos = 0, items = 0, crcFrom = 0;
    while (this.phase !== Phase.Done) {
      if (this.phase === Phase.Magic) {
        if (end - pos < 9) break;
        this.magic(src, pos);
        pos += 9;
        this.phase = Phase.Items;
      } else if (this.phase === Phase.Items) {
        const itemEnd = this.scan(src, pos, end);
        if (itemEnd < 0) break;
        const eof = this.decode(src, pos, itemEnd);
        pos = itemEnd;
        if (!eof) items++;
        else {
          // The checksum covers everything up to and including the EOF opcode.
          this.crc.update(src.subarray(crcFrom, pos));
          crcFrom = pos;
          this.phase = this.contents.version >= 5 ? Phase.Checksum : Phase.Done;
        }
      } else {
        if (end - pos < 8) break;
        this.checksum(src, pos);
        pos += 8;
        crcFrom = pos;
        this.phase = Phase.Done;
      }
    }
    if (crcFrom < pos) this.crc.update(src.subarray(crcFrom, pos));
    const rest = end - pos;
    this.offset += pos;
    if (this.phase === Phase.Done) {
      // Only this chunk's bytes can follow the end: what was retained before was all needed.
      this.len = 0;
      return { items, used: chunk.length - rest, done: true };
    }
    if (src === chunk) {
      this.reserve(rest);
      this.buf.set(chunk.subarray(pos), 0);
    } else if (pos > 0) {
      this.buf.copyWithin(0, pos, end);
    }
    this.len = rest;
    this.shrink();
    return { items, used: chunk.length, done: false };
  }

  /**
   * Pulls from a synchronous source (a file) in `chunkSize` reads until the RDB ends, then
   * returns its contents as `end` does. Bytes after the RDB's end are not read further.
   */
  readFrom(src: SyncSource, chunkSize = READ_CHUNK): RdbContents {
    const chunk = new Uint8Array(chunkSize);
    let bytes = 0;
    while (this.phase !== Phase.Done) {
      const n = src.readSync(chunk);
      if (n === null) break;
      if (n > 0) bytes += this.feed(chunk.subarray(0, n)).used;
    }
    this.bytesRead = bytes;
    return this.end();
  }

  /** After readFrom: the bytes the RDB took from the source (what follows is not the RDB's). */
  bytesRead = 0;

  /** The stream ended: returns the file's contents, or throws if the RDB is incomplete. */
  end(): RdbContents {
    if (this.phase === Phase.Checksum) {
      throw new RdbError("unexpected end of file (missing checksum)", this.offset);
    }
    if (this.phase !== Phase.Done) {
      throw new RdbError("unexpected end of file", this.offset + this.sPos);
    }
    return this.contents;
  }

  private reserve(n: number): void {
    if (n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** After a large item, give its room back. */
  private shrink(): void {
    if (this.buf.length <= 4 * READ_CHUNK || this.len > this.buf.length / 4) return;
    let cap = READ_CHUNK;
    while (cap < this.len * 2) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private magic(src: Uint8Array, pos: number): void {
    const magic = bytesToBinary(src, pos, pos + 9);
    if (!magic.startsWith("REDIS")) throw new RdbError("not an RDB file (bad magic)", 0);
    const version = Number(magic.slice(5));
    if (!(version >= 1 && version <= RDB_VERSION)) {
      throw new RdbError(`can't handle RDB format version ${magic.slice(5)}`, 5);
    }
    this.contents.version = version;
  }

  private checksum(src: Uint8Array, pos: number): void {
    const stored = new DataView(src.buffer, src.byteOffset + pos, 8).getBigUint64(0, true);
    if (stored !== 0n && !checksumValidation.skip && this.crc.value() !== stored) {
      throw new RdbError("RDB checksum mismatch (RDB CRC error)", this.offset + pos);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Scanner: where does the item starting at `start` end?

  /** The end of the item starting at `start`, or -1 if `src` (up to `end`) holds only part. */
  private scan(src: Uint8Array, start: number, end: number): number {
    let p = start + this.sPos;
    for (;;) {
      if (this.sProg === null) {
        if (p >= end) return this.wait(start, p);
        const op = src[p]!;
        const prog = PROGRAM[op];
        if (prog === undefined) throw new RdbError(refusal(op), this.offset + p);
        this.sOp = op;
        this.sProg = prog;
        this.sStep = 0;
        p++;
      }
      const prog = this.sProg;
      // The elements a COUNT announces come right after it, before the program's next token.
      for (;;) {
        if (this.sCount > 0) {
          const elem = this.sElem;
          while (this.sElemStep < elem.length) {
            const q = this.token(src, p, end, elem[this.sElemStep]!);
            if (q < 0) return this.wait(start, p);
            p = q;
            this.sElemStep++;
          }
          this.sElemStep = 0;
          this.sCount--;
          continue;
        }
        if (this.sStep >= prog.length) break;
        const q = this.token(src, p, end, prog[this.sStep]!);
        if (q < 0) return this.wait(start, p);
        p = q;
        this.sStep++;
      }
      this.sProg = null;
      // An expiry or LRU/LFU opcode belongs to the key after it: the item goes on.
      if (MODIFIER[this.sOp] === 1) continue;
      this.sPos = 0;
      return p;
    }
  }

  private wait(start: number, p: number): number {
    this.sPos = p - start;
    return -1;
  }

  /** Scans one token at `p`: its end, or -1 if incomplete. */
  private token(src: Uint8Array, p: number, end: number, tok: number): number {
    switch (tok) {
      case STR: {
        const q = this.length(src, p, end);
        if (q < 0) return -1;
        const n = this.lv;
        if (n >= 0) return q + n <= end ? q + n : -1;
        const kind = -1 - n;
        if (kind <= 2) {
          const e = q + (kind === 0 ? 1 : kind === 1 ? 2 : 4);
          return e <= end ? e : -1;
        }
        if (kind !== 3) throw new RdbError(`unknown string encoding ${kind}`, this.offset + q);
        const q2 = this.plainLength(src, q, end);
        if (q2 < 0) return -1;
        const clen = this.lv;
        const q3 = this.plainLength(src, q2, end);
        if (q3 < 0) return -1;
        return q3 + clen <= end ? q3 + clen : -1;
      }
      case LEN:
        return this.plainLength(src, p, end);
      case COUNT: {
        const q = this.plainLength(src, p, end);
        if (q >= 0) {
          this.sCount = this.lv;
          this.sElem = ELEMENT[this.sOp]!;
          this.sElemStep = 0;
        }
        return q;
      }
      case STREAM:
        return this.streamEnd(src, p, end);
      case B1:
        return p + 1 <= end ? p + 1 : -1;
      case B4:
        return p + 4 <= end ? p + 4 : -1;
      case B8:
        return p + 8 <= end ? p + 8 : -1;
      case ODBL: {
        if (p >= end) return -1;
        const n = src[p]!;
        const e = n >= 253 ? p + 1 : p + 1 + n;
        return e <= end ? e : -1;
      }
      default:
        throw new Error(`bad scanner token ${tok}`);
    }
  }

  /**
   * The end of a stream value starting at `p`, or -1 when incomplete. Its nesting does not fit
   * the flat token programs, so a generator walks it (streamWalk) and keeps its place between
   * feeds: every byte of a stream is scanned once, however it is chunked.
   */
  private streamEnd(src: Uint8Array, p: number, end: number): number {
    if (this.sWalk === null) {
      this.sWalk = streamWalk(this.sOp === T.STREAM_LISTPACKS_2);
      this.sNeed = this.sWalk.next().value as WalkStep;
    }
    for (;;) {
      const need = this.sNeed!;
      const at = p + need.at;
      let next: number, value = 0;
      if (need.tok === STR) next = this.token(src, at, end, STR);
      else if (need.tok === B1) next = at + need.n! <= end ? at + need.n! : -1;
      else {
        // A length; 0x81 lengths may need all 64 bits (only counts are used, which fit).
        if (at >= end) return -1;
        if (src[at] === 0x81) {
          next = at + 9 <= end ? at + 9 : -1;
          if (next >= 0) {
            const hi = be32(src, at + 1);
            value = hi > 0x1fffff ? Infinity : hi * 0x100000000 + be32(src, at + 5);
          }
        } else {
          next = this.plainLength(src, at, end);
          value = this.lv;
        }
      }
      if (next < 0) return -1;
      const r = this.sWalk!.next([next - p, value]);
      if (r.done) {
        this.sWalk = null;
        this.sNeed = null;
        return p + r.value;
      }
      this.sNeed = r.value;
    }
  }

  /** A length that must not be a string encoding marker. */
  private plainLength(src: Uint8Array, p: number, end: number): number {
    const q = this.length(src, p, end);
    if (q >= 0 && this.lv < 0) throw new RdbError("unexpected string encoding", this.offset + q);
    return q;
  }

  /** Scans a length into `lv` (see there); returns the position after it, or -1. */
  private length(src: Uint8Array, p: number, end: number): number {
    if (p >= end) return -1;
    const first = src[p]!;
    switch (first >> 6) {
      case 0:
        this.lv = first & 0x3f;
        return p + 1;
      case 1:
        if (p + 2 > end) return -1;
        this.lv = ((first & 0x3f) << 8) | src[p + 1]!;
        return p + 2;
      case 3:
        this.lv = -1 - (first & 0x3f);
        return p + 1;
    }
    if (first === 0x80) {
      if (p + 5 > end) return -1;
      this.lv = be32(src, p + 1);
      return p + 5;
    }
    if (first === 0x81) {
      if (p + 9 > end) return -1;
      const hi = be32(src, p + 1);
      if (hi > 0x1fffff) throw new RdbError("length too large", this.offset + p + 9);
      this.lv = hi * 0x100000000 + be32(src, p + 5);
      return p + 9;
    }
    throw new RdbError(`unknown length encoding 0x${first.toString(16)}`, this.offset + p);
  }

  // -------------------------------------------------------------------------------------------
  // Decoder: one complete item. Returns true for EOF.

  /** A value; corrupt contents a decoder did not foresee are still an RdbError. */
  private value(r: ByteReader, type: number): Value {
    const at = r.at();
    try {
      return readValue(r, type, this.deep);
    } catch (e) {
      if (e instanceof RdbError) throw e;
      throw new RdbError(`corrupt value of type ${type}: ${(e as Error).message}`, at);
    }
  }

  private decode(src: Uint8Array, start: number, end: number): boolean {
    const r = this.r;
    r.buf = src;
    r.base = this.offset;
    r.pos = start;
    r.end = end;
    for (;;) {
      const op = r.byte();
      switch (op) {
        case OP.EOF:
          return true;
        case OP.SELECTDB:
          this.db = readLen(r);
          return false;
        case OP.RESIZEDB: {
          const keys = readLen(r), ttls = readLen(r);
          this.onResize?.(this.db, keys, ttls);
          return false;
        }
        case OP.AUX:
          this.contents.aux.set(readString(r), readString(r));
          return false;
        case OP.FUNCTION2:
        case OP.FUNCTION:
          this.contents.functions.push(readFunctionRecord(r, op));
          return false;
        case OP.EXPIRETIME_MS:
          this.expire = Number(r.view(8).getBigInt64(0, true));
          continue;
        case OP.EXPIRETIME:
          this.expire = r.view(4).getInt32(0, true) * 1000;
          continue;
        case OP.IDLE:
          this.idle = readLen(r);
          continue;
        case OP.FREQ:
          this.freq = r.byte();
          continue;
      }
      const key = readString(r);
      let value: Value;
      try {
        value = this.value(r, op);
      } catch (e) {
        if (!(e instanceof EmptyValueError)) throw e;
        // Old versions could save a key with an empty value: skipped, as Redis does. Its bytes
        // are all in view (the scanner found the item's end), so the next item follows.
        const n = this.contents.emptyKeys = (this.contents.emptyKeys ?? 0) + 1;
        if (n <= 10) this.contents.skipped.push(`skipping empty key: ${key}`);
        this.expire = this.idle = this.freq = undefined;
        return false;
      }
      const k: LoadedKey = { db: this.db, key, value, expireMs: this.expire };
      if (this.idle !== undefined) k.idle = this.idle;
      if (this.freq !== undefined) k.freq = this.freq;
      this.expire = this.idle = this.freq = undefined;
      this.onKey(k);
      return false;
    }
  }
}

function be32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/**
 * The library code of a function record, its opcode read: FUNCTION2 holds the code; the format
 * of 7.0's release candidates (FUNCTION, 246) holds name, engine, an optional description and
 * the code without its header, which Redis 7.0 turns into "#!<engine> name=<name>\n<code>".
 */
export function readFunctionRecord(r: ByteReader, op: number): string {
  /** Each field read, failing with the text Redis gives that field (FUNCTION RESTORE's reply). */
  const field = <T>(what: string, read: () => T): T => {
    try {
      return read();
    } catch (e) {
      throw new FunctionRecordError(`Failed loading ${what}`, e);
    }
  };
  if (op === OP.FUNCTION2) return field("library payload", () => readString(r));
  const name = field("library name", () => readString(r));
  const engine = field("engine name", () => readString(r));
  if (field("library description indicator", () => readLen(r))) {
    field("library description", () => readString(r));
  }
  const code = field("library blob", () => readString(r));
  return `#!${engine} name=${name}\n${code}`;
}

/** A function record that ends early or is malformed; the message names the field. */
export class FunctionRecordError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}

/** Where an RDB reader sends each key; `deepSanitize` asks for deep integrity checks. */
export type KeySink = ((k: LoadedKey) => void) & { deepSanitize?: boolean };

/** A synchronous byte source, as Deno.FsFile is: fills `p`, returns the count or null at end. */
export interface SyncSource {
  readSync(p: Uint8Array): number | null;
}

/** Reads an RDB from a synchronous source (startup, DEBUG RELOAD, an AOF base). */
export function readRdbFrom(
  src: SyncSource,
  onKey: KeySink,
  onResize: ((db: number, keys: number, ttls: number) => void) | null = null,
): RdbContents & { bytes: number } {
  const reader = new RdbReader(onKey);
  reader.onResize = onResize;
  const contents = reader.readFrom(src);
  return { ...contents, bytes: reader.bytesRead };
}

/** Reads an RDB held whole in memory (a test's or a tool's buffer). */
export function readRdb(buf: Uint8Array, onKey: KeySink): RdbContents {
  const reader = new RdbReader(onKey);
  reader.feed(buf);
  return reader.end();
}
