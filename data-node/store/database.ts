/**
 * One logical database: the main dictionary, the expires dictionary (keys with a TTL only, so
 * the active expire cycle walks just those), WATCH bookkeeping and SCAN cursors.
 */
import { Entry, estimateBytes, Value } from "./types.ts";

/** Called when a key is modified, so WATCHing clients can be flagged. */
export interface KeyspaceHooks {
  /** A logical clock for LRU: seconds, as Redis's LRU clock resolution. */
  lruClock(): number;
  /** Milliseconds since the epoch (injected so tests and replicas can control it). */
  nowMs(): number;
  /** Invoked when a key expires on access or in the active cycle: propagate the deletion. */
  onExpired(db: Database, key: string): void;
  /** Replicas never expire keys themselves; they only hide them from reads. */
  expiresKeys(): boolean;
  /** True under an LFU maxmemory policy: accesses then bump the LFU counter. */
  lfu(): boolean;
  lfuParams(): { logFactor: number; decayMinutes: number };
  /** Every modification of a key ends here (blocked clients waiting on it may be served). */
  keyModified(db: Database, key: string): void;
}

export interface Watcher {
  /** A watched key changed: the watcher's next EXEC fails (Redis's CLIENT_DIRTY_CAS). */
  markDirty(): void;
}

/**
 * One client's WATCH of one key. `expired` is set when the key was already logically expired
 * at WATCH time (or an expired key was swapped in): deleting that key is then no change, and
 * only a real value showing up again counts, as in Redis 7.
 */
export interface WatchedKey {
  readonly watcher: Watcher;
  expired: boolean;
}

const MAX_SCAN_CURSORS = 4096;

export class Database {
  dict = new Map<string, Entry>();
  expires = new Map<string, number>();
  /** key -> the WATCHes on it. */
  readonly watched = new Map<string, Set<WatchedKey>>();
  /** Open SCAN iterations; see scanKeys(). */
  readonly cursors = new Map<number, { it: Iterator<string>; pos: number }>();
  /** Persistent position of the active expire cycle, like Redis's expires_cursor. */
  expireIter: Iterator<[string, number]> | null = null;
  avgTtlMs = 0;
  /**
   * While a background save runs: the entries as they were when it started. Strings are
   * immutable, so a shared Entry only needs replacing before it changes in place; an aggregate
   * is cloned into the snapshot the first time it is looked up (every in-place change of an
   * aggregate starts with a lookup). That is copy-on-write at key granularity.
   */
  snapshot: Map<string, Entry> | null = null;
  /**
   * Estimated bytes of all entries, kept current on every change (signalModified) so that
   * maxmemory checks are O(1); the V8 heap figure lags behind garbage collection.
   */
  bytes = 0;

  constructor(readonly id: number, private readonly hooks: KeyspaceHooks) {}

  get size(): number {
    return this.dict.size;
  }

  /** True if the key has a TTL in the past. */
  private isExpired(key: string, now: number): boolean {
    const at = this.expires.get(key);
    return at !== undefined && at <= now;
  }

  /** True if the key is still stored but its TTL has passed (it is not deleted here). */
  keyIsExpired(key: string): boolean {
    return this.expires.size !== 0 && this.isExpired(key, this.hooks.nowMs());
  }

  /**
   * Looks a key up, deleting it first when it has expired (the lazy half of expiry).
   * `touch` updates the access clock, as a read or write command does (not EXISTS, TYPE, TTL,
   * OBJECT or MEMORY USAGE, which Redis lets look without counting as an access).
   */
  lookup(key: string, touch = true): Entry | undefined {
    const e = this.dict.get(key);
    if (e === undefined) return undefined;
    if (this.snapshot !== null && typeof e.value !== "string") this.preserve(key, e, true);
    if (this.expires.size !== 0 && this.isExpired(key, this.hooks.nowMs())) {
      if (this.hooks.expiresKeys()) this.expireNow(key);
      return undefined;
    }
    if (touch) {
      if (this.hooks.lfu()) e.freq = lfuTouch(e, this.hooks.lruClock(), this.hooks.lfuParams());
      e.lru = this.hooks.lruClock();
    }
    return e;
  }

  get(key: string): Value | undefined {
    return this.lookup(key)?.value;
  }

  private untrack(key: string): void {
    const e = this.dict.get(key);
    if (e !== undefined) this.bytes -= e.bytes;
  }

  /** Recounts the estimate after bulk loads that bypass set() (RDB, AOF base). */
  recount(): void {
    this.bytes = 0;
    for (const [k, e] of this.dict) {
      e.bytes = estimateBytes(k, e.value);
      this.bytes += e.bytes;
    }
  }

  /** Keeps the snapshot's view of a key before its entry changes in place. */
  private preserve(key: string, e: Entry, clone: boolean): void {
    const snap = this.snapshot!;
    if (snap.get(key) !== e) return;
    const v = e.value;
    const copy = clone && typeof v !== "string" ? (v as unknown as { clone(): Value }).clone() : v;
    snap.set(key, new Entry(copy, e.lru));
  }

  /** Deletes an expired key and tells the server (which propagates a DEL). */
  expireNow(key: string): void {
    this.untrack(key);
    this.dict.delete(key);
    this.expires.delete(key);
    this.signalModified(key);
    this.hooks.onExpired(this, key);
  }

  /** Sets a value; clears the TTL unless keepTtl. Flags WATCHers. */
  set(key: string, value: Value, keepTtl = false): void {
    let e = this.dict.get(key);
    // An expired key is deleted first, as every Redis write looks its key up before writing.
    if (
      e !== undefined && this.expires.size !== 0 && this.isExpired(key, this.hooks.nowMs()) &&
      this.hooks.expiresKeys()
    ) {
      this.expireNow(key);
      e = undefined;
    }
    if (e !== undefined) {
      if (this.snapshot !== null) this.preserve(key, e, false);
      e.value = value;
      e.enc = null;
      e.lru = this.hooks.lruClock();
    } else {
      this.dict.set(key, new Entry(value, this.hooks.lruClock()));
    }
    if (!keepTtl && this.expires.size !== 0) this.expires.delete(key);
    this.signalModified(key);
  }

  /**
   * Stores a string without it counting as a change of the key (no WATCH abort, no wake-up),
   * keeping any TTL. Only for BITFIELD, which creates or pads a string before its operations
   * and, as in Redis, counts as changes only the operations that change bits.
   */
  storeUnchanged(key: string, value: string): void {
    const e = this.dict.get(key);
    if (e !== undefined) {
      if (this.snapshot !== null) this.preserve(key, e, false);
      e.value = value;
      e.enc = null;
    } else {
      this.dict.set(key, new Entry(value, this.hooks.lruClock()));
    }
    this.account(key);
  }

  /** Keeps the memory estimate of a key current after its value changed. */
  private account(key: string): void {
    const e = this.dict.get(key);
    if (e === undefined) return;
    const b = estimateBytes(key, e.value);
    this.bytes += b - e.bytes;
    e.bytes = b;
  }

  /** Replaces the value of an existing entry in place (keeps TTL), e.g. APPEND, INCR. */
  update(key: string, entry: Entry, value: Value): void {
    if (this.snapshot !== null) this.preserve(key, entry, false);
    entry.value = value;
    entry.enc = null;
    this.signalModified(key);
  }

  delete(key: string): boolean {
    this.untrack(key);
    if (!this.dict.delete(key)) return false;
    if (this.expires.size !== 0) this.expires.delete(key);
    this.signalModified(key);
    return true;
  }

  setExpire(key: string, atMs: number): void {
    this.expires.set(key, atMs);
    this.signalModified(key);
  }

  getExpire(key: string): number | undefined {
    return this.expires.get(key);
  }

  persist(key: string): boolean {
    const had = this.expires.delete(key);
    if (had) this.signalModified(key);
    return had;
  }

  /** Removes every key; returns how many there were. Flags the WATCHers of keys that existed. */
  clear(): number {
    this.touchAllWatched(null);
    const n = this.dict.size;
    this.bytes = 0;
    this.dict.clear();
    this.expires.clear();
    this.cursors.clear();
    this.expireIter = null;
    return n;
  }

  /** SWAPDB: exchanges contents; clients stay on their database index. */
  swapWith(other: Database): void {
    this.touchAllWatched(other);
    other.touchAllWatched(this);
    [this.dict, other.dict] = [other.dict, this.dict];
    [this.expires, other.expires] = [other.expires, this.expires];
    [this.avgTtlMs, other.avgTtlMs] = [other.avgTtlMs, this.avgTtlMs];
    [this.bytes, other.bytes] = [other.bytes, this.bytes];
    this.cursors.clear();
    other.cursors.clear();
    this.expireIter = other.expireIter = null;
  }

  /**
   * Every write to a key must call this (Redis's signalModifiedKey): it invalidates WATCHes and
   * lets clients blocked on the key retry. Commands that change an aggregate in place call it.
   */
  signalModified(key: string): void {
    this.account(key);
    this.hooks.keyModified(this, key);
    if (this.watched.size === 0) return;
    const ws = this.watched.get(key);
    if (!ws) return;
    for (const wk of ws) {
      // A key that had already expired when watched: its deletion changes nothing logically.
      if (wk.expired) {
        if (!this.dict.has(key)) wk.expired = false;
        continue;
      }
      wk.watcher.markDirty();
    }
  }

  /**
   * Before this database is emptied (FLUSHDB, FLUSHALL, DEBUG RELOAD) or gets `replacement`'s
   * contents (SWAPDB): flags the watchers of every key that exists in either, as Redis does. A
   * key watched while missing stays untouched, and expired keys count as missing: an expired key
   * that goes away or stays expired is no change, a missing key replaced by an expired one is
   * from then on watched as expired.
   */
  private touchAllWatched(replacement: Database | null): void {
    for (const [key, ws] of this.watched) {
      const here = this.dict.has(key);
      const there = replacement !== null && replacement.dict.has(key);
      if (!here && !there) continue;
      const expiredThere = there && replacement!.keyIsExpired(key);
      for (const wk of ws) {
        if (wk.expired) {
          if (!there) {
            wk.expired = false;
            continue;
          }
          if (expiredThere) continue;
        } else if (!here && expiredThere) {
          wk.expired = true;
          continue;
        }
        wk.watcher.markDirty();
      }
    }
  }

  /**
   * SCAN: a cursor names a live iterator over the dictionary. JS Maps iterate in insertion
   * order and an iterator survives inserts and deletes (it skips the deleted, visits the new),
   * so every key present for the whole scan is returned. A cursor also encodes how far it got,
   * so an unknown one (evicted from the table, or from before a restart) resumes by position.
   */
  scanKeys(cursor: number, count: number, visit: (key: string) => void): number {
    return scanMap(this.cursors, this.dict, cursor, count, visit);
  }
}

/** Shared by SCAN, HSCAN, SSCAN and ZSCAN over any Map or Set. */
export function scanMap(
  cursors: Map<number, { it: Iterator<string>; pos: number }>,
  coll: { keys(): Iterator<string>; size: number },
  cursor: number,
  count: number,
  visit: (key: string) => void,
): number {
  let state = cursor === 0 ? undefined : cursors.get(cursor);
  cursors.delete(cursor);
  // Cursors we issue are >= CURSOR_TAG_SPACE; a smaller nonzero one is not ours: iteration over.
  if (state === undefined && cursor !== 0 && cursor < CURSOR_TAG_SPACE) return 0;
  if (state === undefined) {
    state = { it: coll.keys(), pos: 0 };
    const skip = cursor === 0 ? 0 : Math.floor(cursor / CURSOR_TAG_SPACE);
    for (let i = 0; i < skip && !state.it.next().done; i++) state.pos++;
  }
  for (let i = 0; i < count; i++) {
    const r = state.it.next();
    if (r.done) return 0;
    state.pos++;
    visit(r.value);
  }
  const next = state.pos * CURSOR_TAG_SPACE + 1 +
    Math.floor(Math.random() * (CURSOR_TAG_SPACE - 1));
  if (cursors.size >= MAX_SCAN_CURSORS) {
    const oldest = cursors.keys().next().value;
    if (oldest !== undefined) cursors.delete(oldest);
  }
  cursors.set(next, state);
  return next;
}

/** Low part of a cursor: a random tag, so two scans at the same position do not collide. */
const CURSOR_TAG_SPACE = 1 << 20;

const LFU_INIT = 5;

/**
 * The LFU counter after one more access, as Redis computes it: first decayed by one per
 * lfu-decay-time minutes since the last access, then incremented with probability
 * 1 / ((counter - 5) * lfu-log-factor + 1), so it grows logarithmically up to 255.
 */
export function lfuTouch(
  e: Entry,
  nowSec: number,
  p: { logFactor: number; decayMinutes: number },
): number {
  let c = lfuDecayed(e, nowSec, p.decayMinutes);
  if (c < 255) {
    const base = Math.max(0, c - LFU_INIT);
    if (Math.random() < 1 / (base * p.logFactor + 1)) c++;
  }
  return c;
}

/** The counter as OBJECT FREQ shows it: decayed, without counting an access. */
export function lfuDecayed(e: Entry, nowSec: number, decayMinutes: number): number {
  const c = e.freq ?? LFU_INIT;
  if (decayMinutes <= 0) return c;
  const periods = Math.floor((nowSec - e.lru) / 60 / decayMinutes);
  return Math.max(0, c - periods);
}
