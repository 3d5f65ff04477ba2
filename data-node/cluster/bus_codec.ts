/**
 * The Redis Cluster bus wire format (Redis 7.0, protocol version 1): bytes <-> messages. Pure: no
 * sockets, no timers. The node-to-node link runs on the cluster port (by default the client port
 * + 10000) and carries a stream of self-delimiting frames.
 *
 * Every multi-byte integer is big-endian (network order), except a MODULE message's module id,
 * which Redis copies in the sender's host order (it is an opaque tag compared byte for byte).
 *
 * Header, 2256 bytes, offsets in bytes:
 *
 * | off  | size | field        | notes                                                        |
 * | ---- | ---- | ------------ | ------------------------------------------------------------ |
 * | 0    | 4    | signature    | "RCmb"                                                       |
 * | 4    | 4    | totlen       | u32, the whole frame, header included                        |
 * | 8    | 2    | ver          | u16, 1                                                       |
 * | 10   | 2    | port         | u16, the sender's client port                                |
 * | 12   | 2    | type         | u16, see MSG                                                 |
 * | 14   | 2    | count        | u16, gossip entries (PING, PONG, MEET), else 0               |
 * | 16   | 8    | currentEpoch | u64                                                          |
 * | 24   | 8    | configEpoch  | u64, the sender's (a replica sends its master's)             |
 * | 32   | 8    | offset       | u64, replication offset                                      |
 * | 40   | 40   | sender       | node name, 40 hex chars, no terminator                       |
 * | 80   | 2048 | myslots      | slot bitmap: slot i is bit (i & 7) of byte (i >> 3)          |
 * | 2128 | 40   | slaveof      | the master's name; all zero bytes for a master               |
 * | 2168 | 46   | myip         | announced IP, NUL padded; empty: use the link's peer address |
 * | 2214 | 2    | extensions   | u16, ping extensions that follow the gossip entries          |
 * | 2216 | 30   | (unused)     | zero                                                         |
 * | 2246 | 2    | pport        | u16, plaintext client port when the client port is TLS       |
 * | 2248 | 2    | cport        | u16, the sender's cluster bus port                           |
 * | 2250 | 2    | flags        | u16, the sender's node flags (NODE_FLAG), MYSELF included    |
 * | 2252 | 1    | state        | u8, 0 ok, 1 fail: the cluster state the sender sees          |
 * | 2253 | 3    | mflags       | message flags; mflags[0] bits in MFLAG0                      |
 * | 2256 |      | data         | depends on the type                                          |
 *
 * Data by type:
 * - PING, PONG, MEET: `count` gossip entries of 104 bytes each (node name 40, ping_sent u32 and
 *   pong_received u32 in seconds, ip 46 NUL padded, port u16, cport u16, flags u16, pport u16,
 *   2 unused), then, when mflags[0] has EXT_DATA, `extensions` ping extensions. An extension is
 *   length u32 (the whole extension, its 8-byte header included, a multiple of 8), type u16,
 *   2 unused bytes, then its data zero padded to 8 bytes. Redis 7.0 knows one type, HOSTNAME (0),
 *   whose data is the announced hostname ending with a NUL.
 * - FAIL: the failing node's name (40).
 * - PUBLISH, PUBLISHSHARD: channel length u32, message length u32, then channel and message.
 * - UPDATE: configEpoch u64, node name (40), slot bitmap (2048).
 * - MODULE: module id (8, sender's host order), payload length u32, module message type u8,
 *   then the payload.
 * - FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: nothing; the header says it all.
 *
 * Strings are binary strings (one char per byte). IPs and the hostname are C strings: read up to
 * the first NUL, an IP at most 45 bytes (Redis terminates the 46-byte field itself).
 *
 * Validation follows Redis's checks on a received packet, and is stricter where Redis trusts the
 * bytes: every length is checked against the frame before anything is read, so a malformed packet
 * raises BusDecodeError and nothing else. Messages of a type this codec does not know decode as
 * `unknown` with their raw data, as Redis accepts (and ignores) them.
 */

import { CLUSTER_SLOTS } from "../../shared/slots.ts";

/** Message types (the `type` header field). */
export const MSG = {
  PING: 0,
  PONG: 1,
  MEET: 2,
  FAIL: 3,
  PUBLISH: 4,
  FAILOVER_AUTH_REQUEST: 5,
  FAILOVER_AUTH_ACK: 6,
  UPDATE: 7,
  MFSTART: 8,
  MODULE: 9,
  PUBLISHSHARD: 10,
} as const;

/** Number of message types Redis 7.0 knows: a type at or above this decodes as `unknown`. */
export const MSG_TYPE_COUNT = 11;

/** Node flags, in the header's `flags` and in gossip entries. */
export const NODE_FLAG = {
  MASTER: 1,
  SLAVE: 2,
  PFAIL: 4,
  FAIL: 8,
  MYSELF: 16,
  HANDSHAKE: 32,
  NOADDR: 64,
  MEET: 128,
  MIGRATE_TO: 256,
  NOFAILOVER: 512,
} as const;

/** Bits of mflags[0]. */
export const MFLAG0 = {
  /** A master paused for a manual failover. */
  PAUSED: 1,
  /** Vote in a FAILOVER_AUTH_REQUEST even though the master is up (manual failover). */
  FORCEACK: 2,
  /** Ping extensions follow the gossip entries. */
  EXT_DATA: 4,
} as const;

/** Ping extension types. */
export const PING_EXT = { HOSTNAME: 0 } as const;

export const PROTOCOL_VERSION = 1;
export const SIGNATURE = "RCmb";
/** A node name: 40 hex chars (a SHA1 in hex), no terminator on the wire. */
export const NAME_BYTES = 40;
/** NET_IP_STR_LEN: room for an IPv6 address and its NUL. */
export const IP_BYTES = 46;
export const SLOT_BITMAP_BYTES = CLUSTER_SLOTS / 8;
export const MFLAGS_BYTES = 3;

/** The fixed header; also the smallest valid frame (CLUSTERMSG_MIN_LEN). */
export const HEADER_BYTES = 2256;
export const GOSSIP_ENTRY_BYTES = 104;
export const PING_EXT_HEADER_BYTES = 8;
export const FAIL_BYTES = HEADER_BYTES + NAME_BYTES;
/** A PUBLISH with an empty channel and message. */
export const PUBLISH_MIN_BYTES = HEADER_BYTES + 8;
export const UPDATE_BYTES = HEADER_BYTES + 8 + NAME_BYTES + SLOT_BITMAP_BYTES;
/** A MODULE message with an empty payload. */
export const MODULE_MIN_BYTES = HEADER_BYTES + 13;
/** The bytes needed to learn a frame's length: signature and totlen. */
export const FRAME_PREFIX_BYTES = 8;
/**
 * Frames longer than this are refused by default. Redis sets no limit of its own (a PUBLISH can
 * carry any message a client can send); this bounds what one peer can make a node buffer.
 */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Header field offsets. */
const H = {
  SIG: 0,
  TOTLEN: 4,
  VER: 8,
  PORT: 10,
  TYPE: 12,
  COUNT: 14,
  CURRENT_EPOCH: 16,
  CONFIG_EPOCH: 24,
  OFFSET: 32,
  SENDER: 40,
  MYSLOTS: 80,
  SLAVEOF: 2128,
  MYIP: 2168,
  EXTENSIONS: 2214,
  PPORT: 2246,
  CPORT: 2248,
  FLAGS: 2250,
  STATE: 2252,
  MFLAGS: 2253,
} as const;

/** Gossip entry field offsets. */
const G = {
  NODENAME: 0,
  PING_SENT: 40,
  PONG_RECEIVED: 44,
  IP: 48,
  PORT: 94,
  CPORT: 96,
  FLAGS: 98,
  PPORT: 100,
} as const;

const U64_MAX = (1n << 64n) - 1n;

/** Redis's name for a message type, as used in logs and CLUSTER INFO's message statistics. */
export function messageTypeName(type: number): string {
  switch (type) {
    case MSG.PING:
      return "ping";
    case MSG.PONG:
      return "pong";
    case MSG.MEET:
      return "meet";
    case MSG.FAIL:
      return "fail";
    case MSG.PUBLISH:
      return "publish";
    case MSG.PUBLISHSHARD:
      return "publishshard";
    case MSG.FAILOVER_AUTH_REQUEST:
      return "auth-req";
    case MSG.FAILOVER_AUTH_ACK:
      return "auth-ack";
    case MSG.UPDATE:
      return "update";
    case MSG.MFSTART:
      return "mfstart";
    case MSG.MODULE:
      return "module";
  }
  return "unknown";
}

/** The header fields a sender sets; totlen, ver, count and extensions follow from the message. */
export interface BusHeader {
  /** One of MSG, or any u16 for an `unknown` body. */
  type: number;
  /** Client port (TLS port when TLS is on). */
  port: number;
  /** Plaintext client port when the client port is TLS, else 0. */
  pport: number;
  /** Cluster bus port. */
  cport: number;
  currentEpoch: bigint;
  configEpoch: bigint;
  /** Replication offset. */
  offset: bigint;
  /** The sender's node name (40 chars). */
  sender: string;
  /** SLOT_BITMAP_BYTES bytes: the slots the sender (or, for a replica, its master) serves. */
  myslots: Uint8Array;
  /** The sender's master, or null for a master (all zero on the wire). */
  slaveof: string | null;
  /** Announced IP ("" when not announced: the receiver uses the link's peer address). */
  myip: string;
  /** NODE_FLAG bits. */
  flags: number;
  /** The cluster state from the sender's point of view (0 on the wire is ok, anything else fail). */
  state: "ok" | "fail";
  /**
   * MFLAGS_BYTES bytes. For PING, PONG and MEET the encoder sets or clears MFLAG0.EXT_DATA itself
   * from the body's extensions; otherwise they are written as given.
   */
  mflags: Uint8Array;
}

/** What a node says about another node in a PING, PONG or MEET. */
export interface GossipEntry {
  nodename: string;
  /** Seconds (Redis sends its millisecond clock / 1000, truncated to 32 bits). */
  pingSent: number;
  /** Seconds, as pingSent. */
  pongReceived: number;
  ip: string;
  port: number;
  cport: number;
  pport: number;
  /** NODE_FLAG bits. */
  flags: number;
}

/** A ping extension of a type other than HOSTNAME, kept as it came. */
export interface RawPingExt {
  type: number;
  /** The extension's data after its 8-byte header; written zero padded to a multiple of 8. */
  data: Uint8Array;
}

export type BusBody =
  /** PING, PONG, MEET. */
  | {
    kind: "gossip";
    entries: GossipEntry[];
    /** The HOSTNAME extension; null when absent (the receiver then forgets the hostname). */
    hostname: string | null;
    /** Extensions of other types, in their order on the wire (written after the hostname). */
    extensions: RawPingExt[];
  }
  /** FAIL: `nodename` is failing. */
  | { kind: "fail"; nodename: string }
  /** PUBLISH, PUBLISHSHARD. */
  | { kind: "publish"; channel: Uint8Array; message: Uint8Array }
  /** UPDATE: the slots `nodename` serves as of `configEpoch`. */
  | { kind: "update"; configEpoch: bigint; nodename: string; slots: Uint8Array }
  /** MODULE: `moduleId` is 8 opaque bytes (the sending module's id in the sender's host order). */
  | { kind: "module"; moduleId: Uint8Array; moduleType: number; payload: Uint8Array }
  /** FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART. */
  | { kind: "empty" }
  /** A type this codec does not know (MSG_TYPE_COUNT or above): the receiver ignores it. */
  | { kind: "unknown"; data: Uint8Array };

export interface BusMessage {
  header: BusHeader;
  body: BusBody;
}

/** A malformed frame or message. The frame, not the process, is what is wrong. */
export class BusDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BusDecodeError";
  }
}

// --- slot bitmaps ---------------------------------------------------------------------------

export function emptySlotBitmap(): Uint8Array {
  return new Uint8Array(SLOT_BITMAP_BYTES);
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) {
    throw new RangeError(`slot out of range: ${slot}`);
  }
}

export function hasSlot(bitmap: Uint8Array, slot: number): boolean {
  checkSlot(slot);
  return (bitmap[slot >> 3]! & (1 << (slot & 7))) !== 0;
}

export function setSlot(bitmap: Uint8Array, slot: number): void {
  checkSlot(slot);
  bitmap[slot >> 3]! |= 1 << (slot & 7);
}

export function clearSlot(bitmap: Uint8Array, slot: number): void {
  checkSlot(slot);
  bitmap[slot >> 3]! &= ~(1 << (slot & 7));
}

/** The slots set in a bitmap, ascending. */
export function slotsOf(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  for (let byte = 0; byte < SLOT_BITMAP_BYTES; byte++) {
    const v = bitmap[byte] ?? 0;
    if (v === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (v & (1 << bit)) out.push((byte << 3) | bit);
  }
  return out;
}

// --- framing --------------------------------------------------------------------------------

function signatureMatches(buf: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[i] !== SIGNATURE.charCodeAt(i)) return false;
  return true;
}

function u32At(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/**
 * The length of the frame at the start of `buf`, or null while fewer than FRAME_PREFIX_BYTES
 * bytes are there. Throws BusDecodeError on a wrong signature (checked as soon as its bytes
 * arrive) or a length below HEADER_BYTES or above `maxFrameBytes`: the stream cannot be trusted
 * after that and the link should be closed, as Redis does.
 */
export function frameLength(
  buf: Uint8Array,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): number | null {
  if (!signatureMatches(buf, Math.min(buf.length, 4))) {
    throw new BusDecodeError("bad signature: not a cluster bus frame");
  }
  if (buf.length < FRAME_PREFIX_BYTES) return null;
  const totlen = u32At(buf, H.TOTLEN);
  if (totlen < HEADER_BYTES) {
    throw new BusDecodeError(`frame length ${totlen} below the header size ${HEADER_BYTES}`);
  }
  if (totlen > maxFrameBytes) {
    throw new BusDecodeError(`frame length ${totlen} over the limit of ${maxFrameBytes}`);
  }
  return totlen;
}

/** Buffer room a BusFrameReader keeps between frames. */
const READER_KEEP_BYTES = 1024 * 1024;

/**
 * Cuts a byte stream into frames: push() what the socket delivers, then take frames with next()
 * until it returns null. next() throws BusDecodeError as frameLength() does; the reader is then
 * unusable, like the link.
 */
export class BusFrameReader {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received and not yet returned as a frame. */
  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.buf.length) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(live + chunk.length, this.buf.length * 2));
        grown.set(this.buf.subarray(this.start, this.end));
        this.buf = grown;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The next whole frame (a copy), or null when more bytes are needed. */
  next(): Uint8Array | null {
    const frame = this.nextView();
    return frame === null ? null : frame.slice();
  }

  /**
   * The next whole frame as a view of the reader's buffer, valid until the next push() (decode
   * it before reading more), or null when more bytes are needed.
   */
  nextView(): Uint8Array | null {
    const pending = this.buf.subarray(this.start, this.end);
    const len = frameLength(pending, this.maxFrameBytes);
    if (len === null || pending.length < len) return null;
    const frame = pending.subarray(0, len);
    this.start += len;
    if (this.start === this.end) {
      this.start = this.end = 0;
      // Give back the room a large frame took (as Redis shrinks its receive buffer); the view
      // keeps the old buffer alive until it is dropped.
      if (this.buf.length > READER_KEEP_BYTES) this.buf = new Uint8Array(0);
    }
    return frame;
  }
}

// --- decoding -------------------------------------------------------------------------------

/** Bytes as a binary string (one char per byte), up to the first NUL. */
function cString(buf: Uint8Array, off: number, len: number): string {
  let s = "";
  for (let i = off; i < off + len; i++) {
    const c = buf[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** A fixed-size name: all of its bytes, as a binary string. */
function fixedString(buf: Uint8Array, off: number, len: number): string {
  return String.fromCharCode(...buf.subarray(off, off + len));
}

function allZero(buf: Uint8Array, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) if (buf[i] !== 0) return false;
  return true;
}

function decodeHeader(b: Uint8Array, v: DataView): BusHeader {
  return {
    type: v.getUint16(H.TYPE),
    port: v.getUint16(H.PORT),
    pport: v.getUint16(H.PPORT),
    cport: v.getUint16(H.CPORT),
    currentEpoch: v.getBigUint64(H.CURRENT_EPOCH),
    configEpoch: v.getBigUint64(H.CONFIG_EPOCH),
    offset: v.getBigUint64(H.OFFSET),
    sender: fixedString(b, H.SENDER, NAME_BYTES),
    myslots: b.slice(H.MYSLOTS, H.MYSLOTS + SLOT_BITMAP_BYTES),
    slaveof: allZero(b, H.SLAVEOF, NAME_BYTES) ? null : fixedString(b, H.SLAVEOF, NAME_BYTES),
    myip: cString(b, H.MYIP, IP_BYTES - 1),
    flags: v.getUint16(H.FLAGS),
    state: b[H.STATE] === 0 ? "ok" : "fail",
    mflags: b.slice(H.MFLAGS, H.MFLAGS + MFLAGS_BYTES),
  };
}

function expectLength(type: number, totlen: number, expected: number): void {
  if (totlen !== expected) {
    throw new BusDecodeError(
      `${messageTypeName(type)} message of ${totlen} bytes, expected ${expected}`,
    );
  }
}

function decodeGossip(b: Uint8Array, v: DataView, header: BusHeader): BusBody {
  const totlen = b.length;
  const count = v.getUint16(H.COUNT);
  let pos = HEADER_BYTES + count * GOSSIP_ENTRY_BYTES;
  if (pos > totlen) {
    throw new BusDecodeError(
      `${messageTypeName(header.type)} of ${totlen} bytes cannot hold ${count} gossip entries`,
    );
  }
  const entries: GossipEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER_BYTES + i * GOSSIP_ENTRY_BYTES;
    entries.push({
      nodename: fixedString(b, at + G.NODENAME, NAME_BYTES),
      pingSent: v.getUint32(at + G.PING_SENT),
      pongReceived: v.getUint32(at + G.PONG_RECEIVED),
      ip: cString(b, at + G.IP, IP_BYTES - 1),
      port: v.getUint16(at + G.PORT),
      cport: v.getUint16(at + G.CPORT),
      flags: v.getUint16(at + G.FLAGS),
      pport: v.getUint16(at + G.PPORT),
    });
  }
  let hostname: string | null = null;
  const extensions: RawPingExt[] = [];
  // As in Redis, the extension count only means something with the EXT_DATA flag.
  if ((header.mflags[0]! & MFLAG0.EXT_DATA) !== 0) {
    const n = v.getUint16(H.EXTENSIONS);
    for (let i = 0; i < n; i++) {
      if (totlen - pos < PING_EXT_HEADER_BYTES) {
        throw new BusDecodeError(`ping extension ${i} of ${n} past the end of the message`);
      }
      const length = v.getUint32(pos);
      const type = v.getUint16(pos + 4);
      if (length < PING_EXT_HEADER_BYTES || length % 8 !== 0) {
        throw new BusDecodeError(`ping extension of length ${length}: not a multiple of 8 >= 8`);
      }
      if (length > totlen - pos) {
        throw new BusDecodeError(`ping extension of ${length} bytes past the end of the message`);
      }
      const dataStart = pos + PING_EXT_HEADER_BYTES;
      if (type === PING_EXT.HOSTNAME) hostname = cString(b, dataStart, length - 8);
      else extensions.push({ type, data: b.slice(dataStart, pos + length) });
      pos += length;
    }
  }
  expectLength(header.type, totlen, pos);
  return { kind: "gossip", entries, hostname, extensions };
}

function decodeBody(b: Uint8Array, v: DataView, header: BusHeader): BusBody {
  const totlen = b.length;
  const type = header.type;
  switch (type) {
    case MSG.PING:
    case MSG.PONG:
    case MSG.MEET:
      return decodeGossip(b, v, header);
    case MSG.FAIL:
      expectLength(type, totlen, FAIL_BYTES);
      return { kind: "fail", nodename: fixedString(b, HEADER_BYTES, NAME_BYTES) };
    case MSG.PUBLISH:
    case MSG.PUBLISHSHARD: {
      if (totlen < PUBLISH_MIN_BYTES) expectLength(type, totlen, PUBLISH_MIN_BYTES);
      const channelLen = v.getUint32(HEADER_BYTES);
      const messageLen = v.getUint32(HEADER_BYTES + 4);
      expectLength(type, totlen, PUBLISH_MIN_BYTES + channelLen + messageLen);
      const at = PUBLISH_MIN_BYTES;
      return {
        kind: "publish",
        channel: b.slice(at, at + channelLen),
        message: b.slice(at + channelLen, at + channelLen + messageLen),
      };
    }
    case MSG.FAILOVER_AUTH_REQUEST:
    case MSG.FAILOVER_AUTH_ACK:
    case MSG.MFSTART:
      expectLength(type, totlen, HEADER_BYTES);
      return { kind: "empty" };
    case MSG.UPDATE: {
      expectLength(type, totlen, UPDATE_BYTES);
      const at = HEADER_BYTES;
      return {
        kind: "update",
        configEpoch: v.getBigUint64(at),
        nodename: fixedString(b, at + 8, NAME_BYTES),
        slots: b.slice(at + 8 + NAME_BYTES, at + 8 + NAME_BYTES + SLOT_BITMAP_BYTES),
      };
    }
    case MSG.MODULE: {
      if (totlen < MODULE_MIN_BYTES) expectLength(type, totlen, MODULE_MIN_BYTES);
      const len = v.getUint32(HEADER_BYTES + 8);
      expectLength(type, totlen, MODULE_MIN_BYTES + len);
      return {
        kind: "module",
        moduleId: b.slice(HEADER_BYTES, HEADER_BYTES + 8),
        moduleType: b[HEADER_BYTES + 12]!,
        payload: b.slice(MODULE_MIN_BYTES, MODULE_MIN_BYTES + len),
      };
    }
  }
  // Redis takes an unknown type as well formed whatever its length.
  return { kind: "unknown", data: b.slice(HEADER_BYTES) };
}

/**
 * Decodes one whole frame (exactly totlen bytes, as BusFrameReader returns them). Throws
 * BusDecodeError on anything malformed. Redis drops such a packet and keeps the link (the stream
 * is still in step); only a bad signature or frame length, caught by frameLength(), closes it.
 * The returned byte arrays are copies, not views of `frame`.
 */
export function decodeMessage(frame: Uint8Array): BusMessage {
  if (frame.length < FRAME_PREFIX_BYTES) {
    throw new BusDecodeError(`truncated frame: ${frame.length} bytes`);
  }
  if (!signatureMatches(frame, 4)) throw new BusDecodeError("bad signature");
  const totlen = u32At(frame, H.TOTLEN);
  if (totlen !== frame.length) {
    throw new BusDecodeError(`frame of ${frame.length} bytes says its length is ${totlen}`);
  }
  if (totlen < HEADER_BYTES) {
    throw new BusDecodeError(`frame length ${totlen} below the header size ${HEADER_BYTES}`);
  }
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const ver = v.getUint16(H.VER);
  if (ver !== PROTOCOL_VERSION) throw new BusDecodeError(`unsupported bus protocol version ${ver}`);
  const header = decodeHeader(frame, v);
  return { header, body: decodeBody(frame, v, header) };
}

// --- encoding -------------------------------------------------------------------------------

function checkUint(what: string, n: number, bits: 8 | 16 | 32): void {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** bits) {
    throw new RangeError(`${what} is not a u${bits}: ${n}`);
  }
}

function checkU64(what: string, n: bigint): void {
  if (n < 0n || n > U64_MAX) throw new RangeError(`${what} is not a u64: ${n}`);
}

function checkBytes(what: string, b: Uint8Array, len: number): void {
  if (b.length !== len) throw new RangeError(`${what} must be ${len} bytes, not ${b.length}`);
}

/** Writes a fixed-size name (exactly `len` binary chars). */
function writeFixed(out: Uint8Array, off: number, len: number, s: string, what: string): void {
  if (s.length !== len) throw new RangeError(`${what} must be ${len} chars: ${JSON.stringify(s)}`);
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`${what} is not a binary string`);
    out[off + i] = c;
  }
}

/** Writes a NUL-terminated string into a field of `room` bytes (at most room - 1 chars). */
function writeCString(out: Uint8Array, off: number, room: number, s: string, what: string) {
  if (s.length >= room) throw new RangeError(`${what} longer than ${room - 1} bytes`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0xff) throw new RangeError(`${what} has a NUL or a char above 0xff`);
    out[off + i] = c;
  }
}

function padded8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function isGossipType(type: number): boolean {
  return type === MSG.PING || type === MSG.PONG || type === MSG.MEET;
}

/** The body kind a message type carries. */
export function bodyKindOf(type: number): BusBody["kind"] {
  if (isGossipType(type)) return "gossip";
  switch (type) {
    case MSG.FAIL:
      return "fail";
    case MSG.PUBLISH:
    case MSG.PUBLISHSHARD:
      return "publish";
    case MSG.UPDATE:
      return "update";
    case MSG.MODULE:
      return "module";
    case MSG.FAILOVER_AUTH_REQUEST:
    case MSG.FAILOVER_AUTH_ACK:
    case MSG.MFSTART:
      return "empty";
  }
  return "unknown";
}

function bodyBytes(body: BusBody): number {
  switch (body.kind) {
    case "gossip": {
      let n = body.entries.length * GOSSIP_ENTRY_BYTES;
      if (body.hostname !== null) n += PING_EXT_HEADER_BYTES + padded8(body.hostname.length + 1);
      for (const e of body.extensions) n += PING_EXT_HEADER_BYTES + padded8(e.data.length);
      return n;
    }
    case "fail":
      return NAME_BYTES;
    case "publish":
      return 8 + body.channel.length + body.message.length;
    case "update":
      return UPDATE_BYTES - HEADER_BYTES;
    case "module":
      return MODULE_MIN_BYTES - HEADER_BYTES + body.payload.length;
    case "empty":
      return 0;
    case "unknown":
      return body.data.length;
  }
}

function writeHeader(out: Uint8Array, v: DataView, h: BusHeader, count: number, exts: number) {
  checkUint("type", h.type, 16);
  checkUint("port", h.port, 16);
  checkUint("pport", h.pport, 16);
  checkUint("cport", h.cport, 16);
  checkUint("flags", h.flags, 16);
  checkU64("currentEpoch", h.currentEpoch);
  checkU64("configEpoch", h.configEpoch);
  checkU64("offset", h.offset);
  checkBytes("myslots", h.myslots, SLOT_BITMAP_BYTES);
  checkBytes("mflags", h.mflags, MFLAGS_BYTES);
  for (let i = 0; i < 4; i++) out[H.SIG + i] = SIGNATURE.charCodeAt(i);
  v.setUint32(H.TOTLEN, out.length);
  v.setUint16(H.VER, PROTOCOL_VERSION);
  v.setUint16(H.PORT, h.port);
  v.setUint16(H.TYPE, h.type);
  v.setUint16(H.COUNT, count);
  v.setBigUint64(H.CURRENT_EPOCH, h.currentEpoch);
  v.setBigUint64(H.CONFIG_EPOCH, h.configEpoch);
  v.setBigUint64(H.OFFSET, h.offset);
  writeFixed(out, H.SENDER, NAME_BYTES, h.sender, "sender");
  out.set(h.myslots, H.MYSLOTS);
  if (h.slaveof !== null) {
    writeFixed(out, H.SLAVEOF, NAME_BYTES, h.slaveof, "slaveof");
    if (allZero(out, H.SLAVEOF, NAME_BYTES)) throw new RangeError("slaveof is all NUL: use null");
  }
  writeCString(out, H.MYIP, IP_BYTES, h.myip, "myip");
  v.setUint16(H.EXTENSIONS, exts);
  v.setUint16(H.PPORT, h.pport);
  v.setUint16(H.CPORT, h.cport);
  v.setUint16(H.FLAGS, h.flags);
  out[H.STATE] = h.state === "ok" ? 0 : 1;
  out.set(h.mflags, H.MFLAGS);
}

function writeGossip(out: Uint8Array, v: DataView, body: Extract<BusBody, { kind: "gossip" }>) {
  let pos = HEADER_BYTES;
  for (const e of body.entries) {
    writeFixed(out, pos + G.NODENAME, NAME_BYTES, e.nodename, "gossip nodename");
    checkUint("gossip pingSent", e.pingSent, 32);
    checkUint("gossip pongReceived", e.pongReceived, 32);
    checkUint("gossip port", e.port, 16);
    checkUint("gossip cport", e.cport, 16);
    checkUint("gossip pport", e.pport, 16);
    checkUint("gossip flags", e.flags, 16);
    v.setUint32(pos + G.PING_SENT, e.pingSent);
    v.setUint32(pos + G.PONG_RECEIVED, e.pongReceived);
    writeCString(out, pos + G.IP, IP_BYTES, e.ip, "gossip ip");
    v.setUint16(pos + G.PORT, e.port);
    v.setUint16(pos + G.CPORT, e.cport);
    v.setUint16(pos + G.FLAGS, e.flags);
    v.setUint16(pos + G.PPORT, e.pport);
    pos += GOSSIP_ENTRY_BYTES;
  }
  const writeExt = (type: number, dataLen: number): number => {
    const length = PING_EXT_HEADER_BYTES + padded8(dataLen);
    v.setUint32(pos, length);
    v.setUint16(pos + 4, type);
    const dataStart = pos + PING_EXT_HEADER_BYTES;
    pos += length;
    return dataStart;
  };
  if (body.hostname !== null) {
    const h = body.hostname;
    // The terminating NUL and the padding are already zero.
    writeCString(out, writeExt(PING_EXT.HOSTNAME, h.length + 1), h.length + 1, h, "hostname");
  }
  for (const e of body.extensions) {
    checkUint("extension type", e.type, 16);
    if (e.type === PING_EXT.HOSTNAME) throw new RangeError("the hostname goes in `hostname`");
    out.set(e.data, writeExt(e.type, e.data.length));
  }
}

/** Encodes a message as one frame. Throws RangeError on a field that does not fit the format. */
export function encodeMessage(m: BusMessage): Uint8Array {
  const { header, body } = m;
  const kind = bodyKindOf(header.type);
  if (kind !== body.kind) {
    throw new RangeError(`a ${messageTypeName(header.type)} message has a ${kind} body`);
  }
  const totlen = HEADER_BYTES + bodyBytes(body);
  if (totlen > 0xffffffff) throw new RangeError(`message of ${totlen} bytes`);
  const out = new Uint8Array(totlen);
  const v = new DataView(out.buffer);
  let count = 0;
  let exts = 0;
  let mflags = header.mflags;
  if (body.kind === "gossip") {
    count = body.entries.length;
    exts = (body.hostname !== null ? 1 : 0) + body.extensions.length;
    checkUint("gossip entry count", count, 16);
    checkUint("extension count", exts, 16);
    mflags = header.mflags.slice();
    if (mflags.length > 0) {
      mflags[0] = exts > 0 ? mflags[0]! | MFLAG0.EXT_DATA : mflags[0]! & ~MFLAG0.EXT_DATA;
    }
  }
  writeHeader(out, v, { ...header, mflags }, count, exts);
  switch (body.kind) {
    case "gossip":
      writeGossip(out, v, body);
      break;
    case "fail":
      writeFixed(out, HEADER_BYTES, NAME_BYTES, body.nodename, "fail nodename");
      break;
    case "publish":
      v.setUint32(HEADER_BYTES, body.channel.length);
      v.setUint32(HEADER_BYTES + 4, body.message.length);
      out.set(body.channel, PUBLISH_MIN_BYTES);
      out.set(body.message, PUBLISH_MIN_BYTES + body.channel.length);
      break;
    case "update":
      checkU64("update configEpoch", body.configEpoch);
      checkBytes("update slots", body.slots, SLOT_BITMAP_BYTES);
      v.setBigUint64(HEADER_BYTES, body.configEpoch);
      writeFixed(out, HEADER_BYTES + 8, NAME_BYTES, body.nodename, "update nodename");
      out.set(body.slots, HEADER_BYTES + 8 + NAME_BYTES);
      break;
    case "module":
      checkBytes("moduleId", body.moduleId, 8);
      checkUint("moduleType", body.moduleType, 8);
      out.set(body.moduleId, HEADER_BYTES);
      v.setUint32(HEADER_BYTES + 8, body.payload.length);
      out[HEADER_BYTES + 12] = body.moduleType;
      out.set(body.payload, MODULE_MIN_BYTES);
      break;
    case "empty":
      break;
    case "unknown":
      out.set(body.data, HEADER_BYTES);
      break;
  }
  return out;
}
