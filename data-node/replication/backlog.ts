/**
 * The replication stream of a master: the propagated commands as bytes, an offset that counts
 * every byte (`master_repl_offset`), and the backlog, a ring of the last `repl-backlog-size`
 * bytes from which a reconnecting replica continues (PSYNC ... +CONTINUE) instead of taking a
 * full sync. As in Redis, the stream exists only once a backlog was created (the first replica
 * asks for one); before that the offset stays where it is and writes cost nothing here.
 *
 * The stream tracks the database it last selected and emits SELECT when an effect applies to
 * another one, independently of the AOF's own SELECT tracking.
 */
import { MIN_BACKLOG_BYTES } from "../../shared/limits.ts";
import { encodeCommand } from "../../shared/resp/mod.ts";
import type { StreamConsumer } from "../engine/propagation.ts";

/** Redis refuses a backlog below 16 KB (CONFIG SET repl-backlog-size takes it up to that). */

/** A ring buffer of the last `capacity` bytes of the stream. */
export class Backlog {
  private buf: Uint8Array;
  /** Where the next byte goes. */
  private head = 0;
  /** Bytes held (at most the capacity). */
  histlen = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(MIN_BACKLOG_BYTES, capacity));
  }

  get capacity(): number {
    return this.buf.length;
  }

  write(bytes: Uint8Array): void {
    const cap = this.buf.length;
    // Only the last `cap` bytes can survive.
    const src = bytes.length > cap ? bytes.subarray(bytes.length - cap) : bytes;
    const first = Math.min(src.length, cap - this.head);
    this.buf.set(src.subarray(0, first), this.head);
    if (first < src.length) this.buf.set(src.subarray(first), 0);
    this.head = (this.head + src.length) % cap;
    this.histlen = Math.min(cap, this.histlen + bytes.length);
  }

  /** The last `n` bytes held (n <= histlen), oldest first. */
  tail(n: number): Uint8Array {
    if (n > this.histlen || n < 0) throw new RangeError(`backlog holds ${this.histlen} bytes`);
    const out = new Uint8Array(n);
    const cap = this.buf.length;
    const start = (this.head - n + cap) % cap;
    const first = Math.min(n, cap - start);
    out.set(this.buf.subarray(start, start + first));
    if (first < n) out.set(this.buf.subarray(0, n - first), first);
    return out;
  }

  /** Changes the capacity, keeping the newest bytes that fit. */
  resize(capacity: number): void {
    const keep = this.tail(Math.min(this.histlen, Math.max(MIN_BACKLOG_BYTES, capacity)));
    this.buf = new Uint8Array(Math.max(MIN_BACKLOG_BYTES, capacity));
    this.head = 0;
    this.histlen = 0;
    this.write(keep);
  }
}

export class ReplicationStream implements StreamConsumer {
  /** master_repl_offset: bytes ever written to the stream (continuing across a restart). */
  offset: number;
  private selectedDb = -1;
  readonly backlog: Backlog;
  /** Live readers of the stream (replica links), fed every byte as it is written. */
  private readonly readers = new Set<(bytes: Uint8Array) => void>();

  constructor(startOffset: number, backlogBytes: number) {
    this.offset = startOffset;
    this.backlog = new Backlog(backlogBytes);
  }

  /** repl_backlog_first_byte_offset: the offset of the oldest byte held (Redis counts from 1). */
  get firstByteOffset(): number {
    return this.offset - this.backlog.histlen + 1;
  }

  append(dbId: number, command: Uint8Array): void {
    if (dbId >= 0 && dbId !== this.selectedDb) {
      this.write(encodeCommand(["SELECT", String(dbId)]));
      this.selectedDb = dbId;
    }
    this.write(command);
  }

  /** Bytes that are not a command of a database (the master's PING, REPLCONF GETACK). */
  write(bytes: Uint8Array): void {
    this.backlog.write(bytes);
    this.offset += bytes.length;
    for (const r of this.readers) r(bytes);
  }

  /** The next command is preceded by SELECT whatever the database (a new replica attached). */
  forgetSelectedDb(): void {
    this.selectedDb = -1;
  }

  /**
   * What a replica that has everything up to `fromOffset` (exclusive: it has read bytes
   * 1..fromOffset-1) is missing, or null when the backlog no longer holds it (a full sync is
   * needed then).
   */
  since(fromOffset: number): Uint8Array | null {
    if (fromOffset < this.firstByteOffset || fromOffset > this.offset + 1) return null;
    return this.backlog.tail(this.offset + 1 - fromOffset);
  }

  subscribe(reader: (bytes: Uint8Array) => void): () => void {
    this.readers.add(reader);
    return () => this.readers.delete(reader);
  }
}
