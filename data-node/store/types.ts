/**
 * Value representations. Strings are binary strings (one char per byte): cheaper than a
 * Uint8Array per value (ARCHITECTURE.md, memory facts). Aggregate types are classes that carry
 * their own `type` tag, the name TYPE reports.
 */
import { bytesToBinary } from "../../shared/resp/bytes.ts";

export type Value = string | AggregateValue;
/** The 24-bit access field, as Redis's object header keeps it. */
export const CLOCK_MAX = 0xffffff;
const ENC_RAW = 1 << 24;
const ENC_EMBSTR = 2 << 24;
const ENC_MASK = 3 << 24;
/** The LFU counter a new key starts with (Redis's LFU_INIT_VAL). */
export const LFU_INIT = 5;

/**
 * What the key table holds for a key: its value and one small integer (a V8 Smi, so no
 * allocation): bits 0-23 are the access field Redis keeps in its object header, either the LRU
 * clock (seconds, wrapping every 194 days) or, while an LFU policy is set, the last decrement
 * time in minutes (16 bits) and the logarithmic counter (8 bits); bits 24-25 the string
 * encoding when it does not follow from the contents (a string changed in place is "raw" in
 * Redis, an INCRBYFLOAT result never "int").
 *
 * A string is held by a StringEntry (two fields), or by no entry at all while its access field
 * is its database's shared one (database.ts: the key table then holds the string itself); an
 * aggregate is its own entry (its `value`
 * is itself, its `meta` a field of its own), so a key holding a small hash costs one object
 * besides its listpack string, not two. Each object is at most one key's entry at a time: a
 * value stored under a key (entryOf) takes that key's access field.
 */
export abstract class EntryBase {
  constructor(public meta: number) {}

  abstract readonly value: Value;

  get enc(): "raw" | "embstr" | null {
    const e = this.meta & ENC_MASK;
    return e === ENC_RAW ? "raw" : e === ENC_EMBSTR ? "embstr" : null;
  }

  set enc(v: "raw" | "embstr" | null) {
    const bits = v === "raw" ? ENC_RAW : v === "embstr" ? ENC_EMBSTR : 0;
    this.meta = (this.meta & ~ENC_MASK) | bits;
  }

  /** The 24-bit access field (LRU clock or LFU time and counter). */
  get clock(): number {
    return this.meta & CLOCK_MAX;
  }

  set clock(v: number) {
    this.meta = (this.meta & ENC_MASK) | (v & CLOCK_MAX);
  }
}

/** A string value with its access field: two fields, the per-key cost that matters most. */
export class StringEntry extends EntryBase {
  constructor(public value: string, meta: number) {
    super(meta);
  }
}

/**
 * A string held as bytes that its commands change in place: a HyperLogLog, whose dense form is
 * 12 KB that a PFADD changes by one or two bytes. For everything else it is a string: `value`
 * gives the same binary string a StringEntry would hold, built from the bytes when first asked
 * for after a change and kept until the next. Any other write to the key gives it a plain
 * StringEntry again (Database.set/update only reuse StringEntry objects). Only the HyperLogLog
 * commands change `bytes`, after a lookup of the key (so a running snapshot keeps its own copy,
 * see Database.lookup) and followed by Database.bytesChanged.
 */
export class BytesEntry extends EntryBase {
  private str: string | null;

  constructor(public bytes: Uint8Array, meta: number, str: string | null = null) {
    super(meta);
    this.str = str;
  }

  get value(): string {
    return this.str ??= bytesToBinary(this.bytes);
  }

  /** The bytes changed in place, or were replaced by `b` (which may be the same array). */
  changed(b: Uint8Array): void {
    this.bytes = b;
    this.str = null;
  }
}

/**
 * An aggregate value (hash, sorted set, list, set), which is also the entry of the key holding
 * it (see EntryBase).
 */
export abstract class AggregateValue extends EntryBase {
  /** The estimate last counted in the database's total (see Database.bytes). */
  accounted = 0;

  constructor() {
    super(0);
  }

  get value(): this {
    return this;
  }

  abstract readonly type: "list" | "hash" | "set" | "zset" | "stream";
  /** OBJECT ENCODING as Redis would report it for the same contents. */
  abstract encoding(): string;
  /** Approximate bytes used (the object itself included), for INFO memory and eviction. */
  abstract memoryUsage(): number;
}

/** A key's entry: a string's holder (as a string or as bytes) or the aggregate itself. */
export type Entry = StringEntry | BytesEntry | AggregateValue;

/** The entry for a value stored under a key with the access field `meta`. */
export function entryOf(v: Value, meta: number): Entry {
  if (typeof v === "string") return new StringEntry(v, meta);
  v.meta = meta;
  return v;
}

/**
 * Whether a key whose TTL ends at `atMs` has expired at `nowMs`: once the time is past it, as
 * Redis decides (a key lives through its TTL's millisecond). Setting a TTL that is already due
 * deletes at `atMs <= nowMs`, as Redis's checkAlreadyExpired does; that is a different rule.
 */
export function ttlPassed(atMs: number, nowMs: number): boolean {
  return atMs < nowMs;
}

/** The LRU clock of a time in seconds. */
export function lruClock(nowSec: number): number {
  return nowSec & CLOCK_MAX;
}

/** Seconds since the last access recorded in an LRU clock value (wrapping as Redis does). */
export function idleSeconds(clock: number, nowSec: number): number {
  const now = nowSec & CLOCK_MAX;
  return now >= clock ? now - clock : now + (CLOCK_MAX - clock);
}

/** The access field of a new key: the LRU clock, or under LFU the time and LFU_INIT. */
export function newClock(nowSec: number, lfu: boolean): number {
  return lfu ? (lfuMinutes(nowSec) << 8) | LFU_INIT : nowSec & CLOCK_MAX;
}

/** Redis's LFU time: minutes, 16 bits. */
function lfuMinutes(nowSec: number): number {
  return Math.floor(nowSec / 60) & 0xffff;
}

/**
 * The LFU counter of an access field as OBJECT FREQ shows it: decremented by one per
 * lfu-decay-time minutes since the last decrement.
 */
export function lfuDecayed(clock: number, nowSec: number, decayMinutes: number): number {
  const counter = clock & 0xff;
  if (decayMinutes <= 0) return counter;
  const ldt = clock >> 8, now = lfuMinutes(nowSec);
  const elapsed = now >= ldt ? now - ldt : 0xffff - ldt + now;
  const periods = Math.floor(elapsed / decayMinutes);
  return periods > counter ? 0 : counter - periods;
}

/**
 * The access field after one more access under LFU, as Redis computes it: the decayed counter,
 * incremented with probability 1 / ((counter - 5) * lfu-log-factor + 1) up to 255, with the
 * current time.
 */
export function lfuTouched(
  clock: number,
  nowSec: number,
  p: { logFactor: number; decayMinutes: number },
): number {
  let c = lfuDecayed(clock, nowSec, p.decayMinutes);
  if (c < 255) {
    const base = Math.max(0, c - LFU_INIT);
    if (Math.random() < 1 / (base * p.logFactor + 1)) c++;
  }
  return (lfuMinutes(nowSec) << 8) | c;
}

/** An access field with a given LFU counter (RESTORE ... FREQ, RDB load). */
export function lfuClock(nowSec: number, counter: number): number {
  return (lfuMinutes(nowSec) << 8) | (counter & 0xff);
}

/**
 * What one key costs in this process's heap, measured against V8 after a full collection
 * (tests/memory_calibration_test.ts): the key table's slot (a KeyDict entry: the key and value
 * words, the hash, spare room as the table grows, and its share of the index, 8 bytes a slot),
 * the key string, and the value with its entry: a StringEntry and the string, or the aggregate
 * object (see memoryUsage). So maxmemory bounds the real dataset.
 */
export const SLOT_BYTES = 24;
/** A StringEntry: object header (three words) and two fields. */
export const STRING_ENTRY_BYTES = 40;

/** A heap string: header (map, hash, length) and its bytes, 8-byte aligned. */
export function stringBytes(s: string): number {
  return heapStringBytes(s.length);
}

/** A heap string of `length` one-byte chars (see stringBytes). */
export function heapStringBytes(length: number): number {
  return 24 + ((length + 7) & ~7);
}

export function estimateBytes(key: string, v: Value): number {
  return SLOT_BYTES + stringBytes(key) +
    (typeof v === "string" ? STRING_ENTRY_BYTES + stringBytes(v) : v.memoryUsage());
}

export function typeName(v: Value): string {
  return typeof v === "string" ? "string" : v.type;
}

const INT_LIKE = /^-?[1-9][0-9]{0,18}$|^0$/;

/** OBJECT ENCODING for a string: int, embstr (<= 44 bytes) or raw, as Redis chooses on SET. */
export function stringEncoding(s: string): string {
  if (s.length <= 20 && INT_LIKE.test(s)) {
    const n = BigInt(s);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return "int";
  }
  return s.length <= 44 ? "embstr" : "raw";
}

/** The config limits that decide compact encodings (listpack, intset). */
export interface EncodingConfig {
  get<T>(name: string): T;
}

/**
 * Recomputes a value's encoding against the configured limits: needed for values that did not
 * grow through commands (loaded from RDB, RESTOREd), which check it as they change.
 */
export function applyEncodingLimits(v: Value, config: EncodingConfig): void {
  if (typeof v === "string") return;
  const withCheck = v as unknown as { checkEncoding?: (limits: unknown) => void };
  if (!withCheck.checkEncoding) return;
  if (v.type === "hash") {
    withCheck.checkEncoding({
      maxEntries: config.get<number>("hash-max-listpack-entries"),
      maxValue: config.get<number>("hash-max-listpack-value"),
    });
  } else if (v.type === "zset") {
    withCheck.checkEncoding({
      maxEntries: config.get<number>("zset-max-listpack-entries"),
      maxValue: config.get<number>("zset-max-listpack-value"),
    });
  } else if (v.type === "set") {
    withCheck.checkEncoding(config.get<number>("set-max-intset-entries"));
  } else if (v.type === "list") {
    withCheck.checkEncoding(config.get<number>("list-max-listpack-size"));
  }
}
