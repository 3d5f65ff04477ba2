/**
 * Server-side request parser: multibulk commands (`*N\r\n$len\r\n...`) and inline commands as
 * telnet and redis-cli send them. Reads go straight into this parser's buffer (no copy), and
 * `next()` yields one command at a time so that the caller can run it (AUTH may change the limits
 * for the rest of the batch). A partial multibulk keeps its parsed arguments between reads, so a
 * huge command cut into many reads is parsed once.
 */
import {
  bytesToBinary,
  type Latin1,
  latin1View,
  MEDIUM_MAX,
  RECENT_MAX,
  recentBinary,
  recentLookup,
  recentStore,
  shortBinary,
} from "./bytes.ts";
import {
  DEFAULT_LIMITS,
  RespLimits,
  UNAUTHENTICATED_MAX_BULK,
  UNAUTHENTICATED_MAX_MULTIBULK,
} from "./limits.ts";
import { ProtocolError } from "./types.ts";
import { splitArgs } from "../config/parse.ts";

const MIN_READ = 16 * 1024;
/** Commands with up to this many arguments get their argument array sized up front. */
const PRESIZE_MAX = 1024;

export class RequestParser {
  buf: Uint8Array;
  start = 0;
  end = 0;
  private args: string[] | null = null;
  /** Arguments of `args` received so far. */
  private filled = 0;
  private remaining = 0;
  /** Bytes the buffer must hold from `start` for the pending bulk (a read-size hint). */
  private wanted = 0;
  readonly limits: RespLimits;

  constructor(limits: Partial<RespLimits> = {}, initialSize = MIN_READ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.buf = new Uint8Array(initialSize);
  }

  /** Bytes held by the arguments of a command still being received. */
  private argBytes = 0;
  /** A read into the region readTarget() gave is in flight (until commit()). */
  private reading = false;
  /** A view of the whole buffer, handed out as the read target when the buffer is empty. */
  private whole: Uint8Array | null = null;

  /**
   * Where the query buffer begins as Redis counts it (qbuf): Redis trims what it parsed only
   * after running every complete command of a read, and a bulk header it has read is gone even
   * while its data is incomplete (this parser reads such a header again). `rebased` counts the
   * untrimmed bytes that a compaction of the buffer has dropped.
   */
  private qbufStart = 0;
  private rebased = 0;
  /** Length of the bulk header read again once the bulk's data is in (0 when none). */
  private rereadHeader = 0;

  /**
   * The last command returned, while its bytes are in the buffer at [rawStart, rawEnd) and are
   * exactly the command's RESP encoding: it arrived as a multibulk parsed in one call to next()
   * with every line ending in CRLF (Redis skips those two bytes unread). See rawOf.
   */
  private rawArgv: string[] | null = null;
  rawStart = 0;
  rawEnd = 0;
  /** Where the command being parsed began when its parsing began in this call, else -1. */
  private rawBegin = -1;
  private canonical = true;

  /**
   * Whether `argv` is the command next() returned last and [rawStart, rawEnd) of `buf` holds
   * its encoding, so that a command propagated unchanged can be copied rather than encoded
   * again. True only until the parser reads more.
   */
  rawOf(argv: string[]): boolean {
    return argv === this.rawArgv;
  }

  /** The query buffer's length as Redis's CLIENT LIST shows it (qbuf). */
  get queryBufferLength(): number {
    return this.rebased + this.end - this.qbufStart;
  }

  /** Bytes this client's input holds: the buffer and the arguments of a partial command. */
  get memory(): number {
    return this.buf.length + this.argBytes;
  }

  /**
   * The bytes a big argument still arriving will take (32 KB or more, which Redis reads into a
   * query buffer of exactly that size, counted in tot-mem at once), else 0.
   */
  get awaitedBigArgument(): number {
    return this.wanted >= 32 * 1024 ? this.wanted : 0;
  }

  /** The end of a batch of commands: what was parsed leaves the query buffer, as in Redis. */
  trim(): void {
    this.qbufStart = this.start + this.rereadHeader;
    this.rebased = 0;
  }

  /** The buffer's live bytes move to offset 0: keep the query buffer's start in step. */
  private rebase(): void {
    if (this.qbufStart < this.start) {
      this.rebased += this.start - this.qbufStart;
      this.qbufStart = 0;
    } else {
      this.qbufStart -= this.start;
    }
  }

  /**
   * Unparsed bytes plus the arguments of a partial command: the client's query buffer, which
   * client-query-buffer-limit bounds (a huge multibulk of tiny arguments counts too).
   */
  get pending(): number {
    return this.end - this.start + this.argBytes;
  }

  /** The most the query buffer held (with the read's room) since the last resize check. */
  private peak = 0;
  /**
   * The query buffer's size as the last resize check left it (null: the buffer's length). A
   * buffer cut down while a read is in flight into it is replaced before the next read.
   */
  private resizedTo: number | null = null;

  /** The query buffer's allocated size as CLIENT LIST counts it (qbuf + qbuf-free). */
  get allocated(): number {
    return this.resizedTo ?? this.buf.length;
  }

  /**
   * Redis's query buffer resizing, run from the clients cron: when over 4 KB of it is unused,
   * the buffer of a client idle for more than 2 s is released, and one over 32 KB that is more
   * than twice the recent peak is cut down to that peak (never below what it holds or the bulk
   * being received). The peak then starts again from what the buffer holds.
   */
  resizeCheck(idleSec: number): void {
    const used = this.queryBufferLength;
    const size = this.allocated;
    if (size - used > 4 * 1024) {
      if (idleSec > 2) this.resizedTo = used;
      else if (size > 32 * 1024 && size / 2 > this.peak) {
        this.resizedTo = Math.max(used, this.peak, this.wanted);
      }
    }
    this.peak = Math.max(used, this.wanted);
  }

  /** Applies a resize decided while a read was in flight: the buffer is replaced, smaller. */
  private applyResize(): void {
    const live = this.end - this.start;
    const cap = Math.max(this.resizedTo!, MIN_READ, live);
    this.resizedTo = null;
    if (cap >= this.buf.length) return;
    this.rebase();
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(this.start, this.end));
    this.buf = next;
    this.end = live;
    this.start = 0;
  }

  /** A region to read into; compacts or grows the buffer so it has room. */
  readTarget(): Uint8Array {
    this.rawArgv = null;
    this.reading = true;
    if (this.resizedTo !== null) this.applyResize();
    const live = this.end - this.start;
    const want = Math.max(MIN_READ, this.wanted - live);
    // Redis's querybuf_peak: what the buffer holds plus the room this read asks for.
    if (live + want > this.peak) this.peak = live + want;
    if (this.buf.length - this.end >= want) {
      // The usual case, an empty buffer after a whole batch: one view, reused for every read.
      if (this.end !== 0) return this.buf.subarray(this.end);
      if (this.whole === null || this.whole.buffer !== this.buf.buffer) {
        this.whole = this.buf.subarray(0);
      }
      return this.whole;
    }
    this.rebase();
    if (this.start > 0 && this.buf.length - live >= want) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      let cap = this.buf.length * 2;
      while (cap - live < want) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
    }
    this.end = live;
    this.start = 0;
    return this.buf.subarray(this.end);
  }

  /** Records that `n` bytes were read into the region from readTarget(). */
  commit(n: number): void {
    this.end += n;
    this.reading = false;
  }

  /** Feeds bytes from elsewhere (tests, AOF loading). */
  feed(bytes: Uint8Array): void {
    this.rawArgv = null;
    let off = 0;
    while (off < bytes.length) {
      const t = this.readTarget();
      const n = Math.min(t.length, bytes.length - off);
      t.set(bytes.subarray(off, off + n));
      this.commit(n);
      off += n;
    }
  }

  /**
   * The next complete command (binary-string arguments), `null` when more bytes are needed, or
   * an empty array for an empty inline line. Throws ProtocolError with Redis's reason.
   */
  next(authenticated = true): string[] | null {
    this.rawArgv = null;
    this.rawBegin = -1;
    if (this.args === null) {
      if (this.start >= this.end) return this.reset();
      if (this.buf[this.start] !== 42) return this.inline(); // not '*'
      this.rawBegin = this.start;
      this.canonical = true;
      const count = this.header(this.limits.maxInlineLen, "too big mbulk count string");
      if (count === null) return null;
      const max = authenticated ? this.limits.maxMultibulkLen : UNAUTHENTICATED_MAX_MULTIBULK;
      if (count > max) {
        throw new ProtocolError(
          authenticated ? "invalid multibulk length" : "unauthenticated multibulk length",
        );
      }
      if (count <= 0) return this.next(authenticated); // `*0` and `*-1` are skipped, as Redis does
      // Sized once: pushing would grow a 16-slot backing store for every command. A huge count
      // (up to the multibulk limit) starts small and grows as its arguments arrive.
      this.args = count <= PRESIZE_MAX ? new Array<string>(count) : [];
      this.filled = 0;
      this.remaining = count;
    }
    return this.bulks(authenticated);
  }

  private reset(): null {
    this.start = this.end;
    this.emptied();
    return null;
  }

  /**
   * Everything read was parsed: the next read goes to the buffer's start. Not while a read is
   * in flight into the region readTarget() gave: its bytes land after the old end, which
   * commit() then counts from (a replica's master link runs a command held by CLIENT PAUSE, and
   * what came after it, while its next read is pending).
   */
  private emptied(): void {
    if (this.reading) return;
    this.rebase();
    this.start = this.end = 0;
  }

  private bulks(authenticated: boolean): string[] | null {
    const b = this.buf;
    const args = this.args!;
    while (this.remaining > 0) {
      if (this.start >= this.end) return null;
      if (b[this.start] !== 36) {
        throw new ProtocolError(`expected '$', got '${String.fromCharCode(b[this.start]!)}'`);
      }
      const save = this.start;
      const len = this.header(this.limits.maxInlineLen, "too big bulk count string");
      if (len === null) return null;
      const max = authenticated ? this.limits.maxBulkLen : UNAUTHENTICATED_MAX_BULK;
      if (len < 0 || len > max) {
        throw new ProtocolError(
          authenticated ? "invalid bulk length" : "unauthenticated bulk length",
        );
      }
      if (this.end - this.start < len + 2) {
        this.wanted = this.start - save + len + 2;
        this.rereadHeader = this.start - save;
        this.start = save; // re-read the small header once the data is in
        return null;
      }
      this.rereadHeader = 0;
      if (b[this.start + len] !== 13 || b[this.start + len + 1] !== 10) this.canonical = false;
      args[this.filled] = this.filled === 0
        ? this.commandName(b, this.start, this.start + len)
        : this.binary(b, this.start, this.start + len);
      this.filled++;
      this.start += len + 2;
      this.argBytes += len + 16;
      this.remaining--;
    }
    this.args = null;
    this.argBytes = 0;
    this.wanted = 0;
    if (this.rawBegin >= 0 && this.canonical) {
      this.rawArgv = args;
      this.rawStart = this.rawBegin;
      this.rawEnd = this.start;
    }
    if (this.start === this.end) this.emptied();
    return args;
  }

  /** The view `binary` slices long arguments with, and the buffer it is a view of. */
  private view: Latin1 | null = null;
  private viewOf: ArrayBufferLike | null = null;

  /** Bytes -> binary string (one char per byte). */
  private binary(b: Uint8Array, start: number, end: number): string {
    const n = end - start;
    if (n < 2) return shortBinary(b, start, end)!;
    if (n <= MEDIUM_MAX) return recentBinary(b, start, end);
    const hit = n <= RECENT_MAX ? recentLookup(b, start, end) : null;
    if (hit !== null) return hit;
    if (this.viewOf !== b.buffer) {
      this.viewOf = b.buffer;
      this.view = latin1View(b.buffer);
    }
    const str = this.view!.latin1Slice(b.byteOffset + start, b.byteOffset + end);
    return n <= RECENT_MAX ? recentStore(str) : str;
  }

  /** The last command name read: pipelines repeat one, and its string is then reused. */
  private lastName = "";

  private commandName(b: Uint8Array, start: number, end: number): string {
    const last = this.lastName;
    const n = end - start;
    if (n === last.length) {
      let i = 0;
      while (i < n && b[start + i] === last.charCodeAt(i)) i++;
      if (i === n) return last;
    }
    const name = this.binary(b, start, end);
    if (n <= 32) this.lastName = name;
    return name;
  }

  /** Parses `<c><digits>\r\n` at start; null when the line is incomplete. */
  private header(maxLine: number, tooBig: string): number | null {
    const b = this.buf;
    const nl = indexOfByte(b, 13, this.start + 1, this.end);
    if (nl < 0 || nl + 1 >= this.end) {
      if (this.end - this.start > maxLine) throw new ProtocolError(tooBig);
      return null;
    }
    if (b[nl + 1] !== 10) this.canonical = false;
    const n = parseDecimal(b, this.start + 1, nl);
    if (n === null) {
      throw new ProtocolError(
        b[this.start] === 42 ? "invalid multibulk length" : "invalid bulk length",
      );
    }
    this.start = nl + 2;
    return n;
  }

  private inline(): string[] | null {
    // Redis looks for the newline with strchr, which stops at a NUL byte: a NUL before the
    // newline means "no complete line yet", until the inline size limit is reached.
    let nl = indexOfByte(this.buf, 10, this.start, this.end);
    if (nl >= 0 && indexOfByte(this.buf, 0, this.start, nl) >= 0) nl = -1;
    if (nl < 0) {
      if (this.end - this.start > this.limits.maxInlineLen) {
        throw new ProtocolError("too big inline request");
      }
      return null;
    }
    const lineEnd = nl > this.start && this.buf[nl - 1] === 13 ? nl - 1 : nl;
    const line = bytesToBinary(this.buf, this.start, lineEnd);
    this.start = nl + 1;
    if (this.start === this.end) this.emptied();
    const args = splitArgs(line);
    if (args === null) throw new ProtocolError("unbalanced quotes in request");
    return args;
  }
}

/** A plain loop: headers are a few bytes, where TypedArray#indexOf's setup costs more. */
function indexOfByte(b: Uint8Array, byte: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (b[i] === byte) return i;
  return -1;
}

/**
 * Redis's string2ll for protocol headers: optional '-', digits, no '+', no spaces, and no
 * leading zeros ("*02" is an invalid multibulk length).
 */
function parseDecimal(b: Uint8Array, start: number, end: number): number | null {
  let i = start;
  let neg = false;
  if (b[i] === 45) {
    neg = true;
    i++;
  }
  if (i >= end || end - i > 18) return null;
  if (b[i] === 48 && end - i > 1) return null;
  let n = 0;
  for (; i < end; i++) {
    const c = b[i]! - 48;
    if (c < 0 || c > 9) return null;
    n = n * 10 + c;
  }
  return neg ? -n : n;
}
