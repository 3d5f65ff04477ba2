/**
 * The replication stream of a master: the propagated commands as bytes, an offset that counts
 * every byte (`master_repl_offset`), and one shared buffer that is both the backlog and the
 * output of every replica, as Redis 7 keeps it. The bytes live in a list of blocks; each replica
 * link holds a cursor (the position of the next byte it has to send) instead of a copy of every
 * write. A block is released once it is older than the last `repl-backlog-size` bytes and no
 * cursor is still in it, so a replica that lags during a full sync keeps what it needs (bounded
 * by `client-output-buffer-limit replica`), and a reconnecting replica continues from the
 * backlog (PSYNC ... +CONTINUE) instead of taking a full sync.
 *
 * As in Redis, the stream exists only once a backlog was created (the first replica asks for
 * one); before that the offset stays where it is and writes cost nothing here.
 *
 * The stream tracks the database it last selected and emits SELECT when an effect applies to
 * another one, independently of the AOF's own SELECT tracking.
 */
import { Buffer } from "node:buffer";
import { MIN_BACKLOG_BYTES } from "../../shared/limits.ts";
import { encodeCommand } from "../../shared/resp/mod.ts";
import type { StreamConsumer } from "../engine/propagation.ts";

/** Bytes per block of the shared buffer (a larger write gets a block of its own size). */
export const BLOCK_BYTES = 16 * 1024;
/** Released blocks kept for reuse (see `spare`). */
const SPARE_BLOCKS = 4;

interface Block {
  /** Stream position of buf[0] (bytes written before it). */
  start: number;
  buf: Uint8Array;
  used: number;
}

/** Digits of a non-negative integer's decimal form. */
function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes `<prefix><n>\r\n` at `p` (n ≥ 0); returns the position after it. */
function writeHeader(b: Uint8Array, p: number, prefix: number, n: number): number {
  b[p++] = prefix;
  if (n < 10) {
    b[p++] = 48 + n;
  } else if (n < 100) {
    b[p++] = 48 + Math.floor(n / 10);
    b[p++] = 48 + (n % 10);
  } else {
    // Digits written from the last one back, without building the number's string.
    const end = p + decimalDigits(n);
    for (let i = end - 1; i >= p; i--) {
      b[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    p = end;
  }
  b[p++] = 13;
  b[p++] = 10;
  return p;
}

/** Up to this many bytes a copy is a loop (a native copy needs a view of the source). */
const COPY_LOOP_MAX = 128;

/** From this length on a string's bytes are written natively rather than char by char. */
const LATIN1_NATIVE_FROM = 64;

/** Writes a binary string's chars (0..255) as bytes at `at`; returns the count written. */
function latin1Write(b: Uint8Array, s: string, at: number): number {
  if (b !== latin1Of) {
    latin1Of = b;
    latin1View = Buffer.from(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
  }
  return latin1View!.write(s, at, s.length, "latin1");
}

/** The Buffer view of the block last written natively (one view per block, not per write). */
let latin1Of: Uint8Array | null = null;
let latin1View: Buffer | null = null;

/** A reader's place in the stream: the position of the next byte it has not sent. */
export interface Cursor {
  pos: number;
}

export class ReplicationStream implements StreamConsumer {
  /** master_repl_offset: bytes ever written to the stream (continuing across promotions). */
  private end: number;
  private blocks: Block[] = [];
  private backlogBytes: number;
  private selectedDb = -1;
  /** Cursors of live readers (replica links); they keep the blocks they still need. */
  private readonly cursors = new Set<Cursor>();
  /**
   * Released blocks of the standard size, reused for new ones: a backlog that is full releases
   * one block for each one it starts, and allocating a fresh 16 KB buffer (zeroed, tracked as
   * external memory by the garbage collector) costs more than all the writes that fill it.
   */
  private spare: Uint8Array[] = [];
  /** Called after every write (the master schedules its replica links' writes). */
  onWrite: () => void = () => {};

  constructor(startOffset: number, backlogBytes: number) {
    this.end = startOffset;
    this.backlogBytes = Math.max(MIN_BACKLOG_BYTES, backlogBytes);
  }

  get offset(): number {
    return this.end;
  }

  /** Moves the stream to another offset (a replica adopting its master's), dropping history. */
  set offset(offset: number) {
    this.end = offset;
    this.blocks = [];
    for (const c of this.cursors) c.pos = offset;
  }

  /**
   * Moves the whole history `delta` bytes on (the DELs a restarting master wrote before it
   * knew the offset its RDB recorded): the bytes stay, their offsets shift.
   */
  rebase(delta: number): void {
    this.end += delta;
    for (const b of this.blocks) b.start += delta;
    for (const c of this.cursors) c.pos += delta;
  }

  /** repl-backlog-size as in force (Redis raises anything smaller to 16 KB). */
  get capacity(): number {
    return this.backlogBytes;
  }

  /** repl_backlog_histlen: bytes held from the oldest one to the newest. */
  get histlen(): number {
    return this.blocks.length === 0 ? 0 : this.end - this.blocks[0]!.start;
  }

  /** repl_backlog_first_byte_offset: the offset of the oldest byte held (Redis counts from 1). */
  get firstByteOffset(): number {
    return this.end - this.histlen + 1;
  }

  append(dbId: number, command: Uint8Array): void {
    this.select(dbId);
    this.write(command);
  }

  /**
   * One command, encoded as a RESP array of bulk strings straight into the last block: no
   * intermediate buffer, no copy and no allocation for a command that fits the block's room.
   * A command never straddles two blocks (one that does not fit starts a new block).
   */
  appendArgv(dbId: number, argv: readonly string[]): void {
    this.select(dbId);
    const n = argv.length;
    let size = 3 + decimalDigits(n);
    for (let i = 0; i < n; i++) {
      const len = argv[i]!.length;
      size += 5 + decimalDigits(len) + len;
    }
    const block = this.room(size);
    const b = block.buf;
    let p = block.used;
    p = writeHeader(b, p, 42, n); // '*'
    for (let i = 0; i < n; i++) {
      const a = argv[i]!;
      const len = a.length;
      p = writeHeader(b, p, 36, len); // '$'
      if (len < LATIN1_NATIVE_FROM) {
        for (let j = 0; j < len; j++) b[p++] = a.charCodeAt(j);
      } else {
        p += latin1Write(b, a, p);
      }
      b[p++] = 13;
      b[p++] = 10;
    }
    block.used = p;
    this.end += size;
    this.maybeTrim();
    this.onWrite();
  }

  /** One command's encoding, buf[start, end), copied straight into the last block. */
  appendRange(dbId: number, buf: Uint8Array, start: number, end: number): void {
    this.select(dbId);
    const size = end - start;
    const block = this.room(size);
    const b = block.buf;
    const at = block.used;
    if (size <= COPY_LOOP_MAX) {
      for (let i = 0; i < size; i++) b[at + i] = buf[start + i]!;
    } else {
      b.set(buf.subarray(start, end), at);
    }
    block.used = at + size;
    this.end += size;
    this.maybeTrim();
    this.onWrite();
  }

  /** SELECT goes out first when the command applies to another database than the last one. */
  private select(dbId: number): void {
    if (dbId >= 0 && dbId !== this.selectedDb) {
      this.put(encodeCommand(["SELECT", String(dbId)]));
      this.selectedDb = dbId;
    }
  }

  /**
   * The last block when it has `size` bytes of room, else a new one (the old block's unused
   * tail stays unused: a block's bytes are buf[0..used), and the next block starts where they
   * end in the stream).
   */
  private room(size: number): Block {
    const last = this.blocks[this.blocks.length - 1];
    if (last !== undefined && last.buf.length - last.used >= size) return last;
    const buf = size <= BLOCK_BYTES && this.spare.length > 0
      ? this.spare.pop()!
      : new Uint8Array(Math.max(BLOCK_BYTES, size));
    const block = { start: this.end, buf, used: 0 };
    this.blocks.push(block);
    return block;
  }

  /** Bytes that are not a command of a database (the master's PING, REPLCONF GETACK). */
  write(bytes: Uint8Array): void {
    this.put(bytes);
    this.onWrite();
  }

  private put(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    let off = 0;
    const last = this.blocks[this.blocks.length - 1];
    if (last !== undefined) {
      off = Math.min(bytes.length, last.buf.length - last.used);
      last.buf.set(bytes.subarray(0, off), last.used);
      last.used += off;
    }
    if (off < bytes.length) {
      const rest = bytes.length - off;
      const buf = rest <= BLOCK_BYTES && this.spare.length > 0
        ? this.spare.pop()!
        : new Uint8Array(Math.max(BLOCK_BYTES, rest));
      buf.set(bytes.subarray(off));
      this.blocks.push({ start: this.end + off, buf, used: rest });
    }
    this.end += bytes.length;
    this.maybeTrim();
  }

  /** trim(), when the oldest block is out of the backlog's size (a cheap test per write). */
  private maybeTrim(): void {
    const first = this.blocks[0];
    if (
      first !== undefined && this.blocks.length > 1 &&
      first.start + first.used <= this.end - this.backlogBytes
    ) {
      this.trim();
    }
  }

  /** Releases the oldest blocks that are out of the backlog's size and needed by no reader. */
  private trim(): void {
    let keepFrom = this.end - this.backlogBytes;
    for (const c of this.cursors) keepFrom = Math.min(keepFrom, c.pos);
    let drop = 0;
    while (drop < this.blocks.length - 1) {
      const b = this.blocks[drop]!;
      if (b.start + b.used > keepFrom) break;
      drop++;
    }
    if (drop === 0) return;
    for (let i = 0; i < drop && this.spare.length < SPARE_BLOCKS; i++) {
      const buf = this.blocks[i]!.buf;
      if (buf.length === BLOCK_BYTES) this.spare.push(buf);
    }
    this.blocks.splice(0, drop);
  }

  /** The next command is preceded by SELECT whatever the database (a new full sync). */
  forgetSelectedDb(): void {
    this.selectedDb = -1;
  }

  /** The database last selected in the stream, -1 when none (an RDB's repl-stream-db). */
  get streamDb(): number {
    return this.selectedDb;
  }

  /** Changes repl-backlog-size; blocks beyond it are released as writes come. */
  resize(backlogBytes: number): void {
    this.backlogBytes = Math.max(MIN_BACKLOG_BYTES, backlogBytes);
    this.trim();
  }

  /**
   * Whether a replica that has every byte before `offset` (PSYNC's offset: the next byte it
   * wants, counted from 1) can continue from the backlog.
   */
  covers(offset: number): boolean {
    return offset >= this.firstByteOffset && offset <= this.end + 1;
  }

  /** A reader from PSYNC's `offset` (see covers()) or, without one, from now on. */
  openCursor(offset = this.end + 1): Cursor {
    if (!this.covers(offset)) throw new RangeError(`offset ${offset} is not in the backlog`);
    const c = { pos: offset - 1 };
    this.cursors.add(c);
    return c;
  }

  closeCursor(c: Cursor): void {
    if (this.cursors.delete(c)) this.trim();
  }

  /** Bytes written after the cursor's position. */
  pending(c: Cursor): number {
    return this.end - c.pos;
  }

  /**
   * Up to `max` of the bytes at the cursor, without copying (a view into one block; the caller
   * writes it out before the next call). Empty when the reader is up to date. The cursor does
   * not move: advance() does, once the bytes are sent.
   */
  peek(c: Cursor, max = 64 * 1024): Uint8Array {
    if (c.pos >= this.end) return new Uint8Array(0);
    // Blocks are few and the wanted one is near the end for a reader that keeps up.
    let i = this.blocks.length - 1;
    while (i > 0 && this.blocks[i]!.start > c.pos) i--;
    const b = this.blocks[i]!;
    const from = c.pos - b.start;
    return b.buf.subarray(from, Math.min(b.used, from + max));
  }

  advance(c: Cursor, n: number): void {
    c.pos += n;
    this.trim();
  }

  /** Every byte from PSYNC's `offset` to now, copied (tests, tools). */
  since(offset: number): Uint8Array | null {
    if (!this.covers(offset)) return null;
    const out = new Uint8Array(this.end + 1 - offset);
    const c = { pos: offset - 1 };
    let at = 0;
    for (let chunk = this.peek(c); chunk.length > 0; chunk = this.peek(c)) {
      out.set(chunk, at);
      at += chunk.length;
      c.pos += chunk.length;
    }
    return out;
  }
}
