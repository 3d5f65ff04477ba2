/**
 * One logical database: the key table, the expires dictionary (keys with a TTL only, so the
 * active expire cycle walks just those), WATCH bookkeeping and SCAN cursors.
 *
 * The key table is private: everything else goes through the methods below. Its layout is
 * chosen once, at construction (key_table.ts):
 * - standalone: one KeyDict (key_dict.ts), key -> Entry: a table that hashes keys itself, so a
 *   request's fresh key string is not internalized by the runtime as a Map key would be.
 * - cluster mode (`{ cluster: true }`): one KeyDict per hash slot, created with the slot's first
 *   key and dropped when it empties, with per-slot counts in a Fenwick tree, as Valkey's
 *   kvstore. Counting, listing and deleting the keys of a slot cost O(keys in that slot)
 *   (countKeysInSlot, keysInSlot, deleteSlot); RANDOMKEY picks a slot weighted by its key count.
 * Both layouts iterate with live iterators that survive changes, which SCAN (store/cursor.ts),
 * eviction sampling and KEYS rely on. Standalone SCAN cursors are position * 2^20 + tag; in
 * cluster mode a cursor holds the slot in its low 14 bits and the position within the slot
 * above them, as Valkey's do. The expires dictionary stays one KeyDict in both layouts
 * (deleteSlot removes the slot's TTLs key by key). A background save copies the key table
 * (`snapshot`): one copy of the KeyDict's arrays, or one per non-empty slot.
 *
 * A string key whose access field is the database's shared one (`bareMeta`: the access field its
 * first key got since it was last empty) is held bare: the table maps the key to the string
 * itself, without a StringEntry, which saves 40 of a small string key's ~135 heap bytes. Keys
 * written in bulk within one clock tick (a load, DEBUG POPULATE, a burst of SETs in one second)
 * share it. Any lookup gives the key its own entry first (commands may change the entry in
 * place); peek() and entries() show a bare key through a new read-only entry.
 */
import {
  type BytesEntry,
  type Entry,
  entryOf,
  estimateBytes,
  heapStringBytes,
  lfuTouched,
  newClock,
  STRING_ENTRY_BYTES,
  StringEntry,
  ttlPassed,
  type Value,
} from "./types.ts";
import {
  resumeForeign,
  type ScanCursors,
  scanMap,
  scanSlots,
  type SlotScanCursors,
} from "./cursor.ts";
import { type KeyTable, SlotTable } from "./key_table.ts";
import { KeyDict } from "./key_dict.ts";
import { CLUSTER_SLOTS } from "../../shared/slots.ts";

export type { KeyTable };

/** What the key table holds for a key: its entry, or a bare string (see the top of this file). */
export type Stored = Entry | string;

/** The value of what the key table holds. */
export function storedValue(e: Stored): Value {
  return typeof e === "string" ? e : e.value;
}

/** Called when a key is modified, so WATCHing clients can be flagged. */
export interface KeyspaceHooks {
  /** A logical clock for LRU: seconds, as Redis's LRU clock resolution. */
  lruClock(): number;
  /** Milliseconds since the epoch (injected so tests and replicas can control it). */
  nowMs(): number;
  /** Invoked when a key expires on access or in the active cycle: propagate the deletion. */
  onExpired(db: Database, key: string): void;
  /**
   * What a lookup does with a key whose TTL has passed: "delete" it (a master), "keep" it as if
   * alive (while loading; the master's own commands on a replica), or "hide" it without
   * deleting (a replica's clients: only the master expires keys).
   */
  expiryMode(): "delete" | "keep" | "hide";
  /** True under an LFU maxmemory policy: accesses then bump the LFU counter. */
  lfu(): boolean;
  lfuParams(): { logFactor: number; decayMinutes: number };
  /** Every modification of a key ends here (blocked clients waiting on it may be served). */
  keyModified(db: Database, key: string): void;
  /** A command created the key (not a load): the `new` keyspace event. */
  keyAdded(db: Database, key: string): void;
  /** A command gave the key a TTL (a writable replica remembers its own clients' ones). */
  expireSet?(db: Database, key: string): void;
}

export interface Watcher {
  /** A watched key changed: the watcher's next EXEC fails (Redis's CLIENT_DIRTY_CAS). */
  markDirty(): void;
}

export interface DatabaseOptions {
  /** Cluster mode: keys kept per hash slot (see the top of this file). */
  cluster?: boolean;
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

export class Database {
  /** key -> entry or bare string: a KeyDict, or `slotTable` in cluster mode. */
  private dict: KeyTable<Stored>;
  /** The same table as `dict` in cluster mode, typed for its per-slot operations; else null. */
  private slotTable: SlotTable<Stored> | null;
  /** The access field of every bare string key (see the top of this file). */
  private bareMeta = 0;
  expires = new KeyDict<number>();
  /** key -> the WATCHes on it. */
  readonly watched = new Map<string, Set<WatchedKey>>();
  /** Open SCAN iterations; see scanKeys(). */
  private readonly cursors: ScanCursors = new Map();
  /** Open SCAN iterations in cluster mode (their cursors carry the slot). */
  private readonly slotCursors: SlotScanCursors = new Map();
  /** Persistent position of the active expire cycle, like Redis's expires_cursor. */
  expireIter: Iterator<[string, number]> | null = null;
  avgTtlMs = 0;
  /**
   * While a background save runs: the entries as they were when it started. Strings are
   * immutable, so a shared StringEntry only needs replacing before it changes in place (a key
   * given another value gets a new entry); an aggregate, its own entry, is cloned into the
   * snapshot the first time it is looked up (every in-place change of an aggregate starts with
   * a lookup). That is copy-on-write at key granularity.
   */
  snapshot: KeyTable<Stored> | null = null;
  /**
   * Estimated bytes of all entries, kept current on every change (signalModified) so that
   * maxmemory checks are O(1); the V8 heap figure lags behind garbage collection.
   */
  bytes = 0;

  constructor(
    readonly id: number,
    private readonly hooks: KeyspaceHooks,
    options: DatabaseOptions = {},
  ) {
    this.slotTable = options.cluster ? new SlotTable<Stored>() : null;
    this.dict = this.slotTable ?? new KeyDict<Stored>();
  }

  /** True when keys are kept per hash slot. */
  get cluster(): boolean {
    return this.slotTable !== null;
  }

  get size(): number {
    return this.dict.size;
  }

  /**
   * The entry as stored: no expiry check, no access clock update. Read only: a bare key's is
   * made for the occasion (lookup() gives the entry to change).
   */
  peek(key: string): Entry | undefined {
    const e = this.dict.get(key);
    return typeof e === "string" ? new StringEntry(e, this.bareMeta) : e;
  }

  /** Every key, expired or not. Like a Map's, the iterator survives changes to the keyspace. */
  keys(): IterableIterator<string> {
    return this.dict.keys();
  }

  /** Every key with its entry (read only, as peek's), expired or not. */
  *entries(): IterableIterator<[string, Entry]> {
    for (const [k, e] of this.dict) {
      yield [k, typeof e === "string" ? new StringEntry(e, this.bareMeta) : e];
    }
  }

  /** True when a string with access field `meta` can be held bare (see the top of this file). */
  private bare(meta: number): boolean {
    if (this.dict.size === 0) this.bareMeta = meta;
    return meta === this.bareMeta;
  }

  /** Gives a bare key its own entry, which commands may change in place. */
  private materialize(key: string, value: string): StringEntry {
    const e = new StringEntry(value, this.bareMeta);
    this.dict.set(key, e);
    this.bytes += STRING_ENTRY_BYTES;
    return e;
  }

  /**
   * Adds a key as a load from a file does: no WATCH or keyspace signal and no memory accounting
   * (the loader calls recount() at the end). The TTL, if any, is the caller's to set. Returns
   * false when the key was already there (and is now replaced): one table operation per key,
   * which is most of a load's time.
   */
  loadEntry(key: string, entry: Entry): boolean {
    return this.loadValue(key, entry.value, entry.meta);
  }

  /** loadEntry() of a value and its access field, without making an entry a bare key skips. */
  loadValue(key: string, value: Value, meta: number): boolean {
    const before = this.dict.size;
    this.dict.set(key, typeof value === "string" && this.bare(meta) ? value : entryOf(value, meta));
    return this.dict.size !== before;
  }

  /**
   * Room for `keys` more keys, `ttls` of them with a TTL: an RDB's RESIZEDB hint, which Redis
   * also sizes its tables by. (Cluster mode's per-slot tables grow as they fill.)
   */
  reserve(keys: number, ttls: number): void {
    if (this.slotTable === null) (this.dict as KeyDict<Stored>).reserve(this.dict.size + keys);
    if (ttls > 0) this.expires.reserve(this.expires.size + ttls);
  }

  /**
   * A copy of the key table, as a background save starts from (see `snapshot`): entries and
   * bare strings (storedValue() reads either).
   */
  copyEntries(): KeyTable<Stored> {
    return this.slotTable?.clone() ?? (this.dict as KeyDict<Stored>).clone();
  }

  /** True if the key has a TTL in the past. */
  private isExpired(key: string, now: number): boolean {
    const at = this.expires.get(key);
    return at !== undefined && ttlPassed(at, now);
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
    const stored = this.dict.get(key);
    if (stored === undefined) return undefined;
    // Aggregates and strings held as bytes change in place: the snapshot keeps its own copy.
    if (
      this.snapshot !== null && typeof stored !== "string" && !(stored instanceof StringEntry)
    ) this.preserve(key, stored, true);
    if (this.expires.size !== 0 && this.isExpired(key, this.hooks.nowMs())) {
      const mode = this.hooks.expiryMode();
      if (mode === "delete") this.expireNow(key);
      if (mode !== "keep") return undefined;
    }
    const e = typeof stored === "string" ? this.materialize(key, stored) : stored;
    if (touch) {
      const now = this.hooks.lruClock();
      e.clock = this.hooks.lfu() ? lfuTouched(e.clock, now, this.hooks.lfuParams()) : now;
    }
    return e;
  }

  get(key: string): Value | undefined {
    return this.lookup(key)?.value;
  }

  private untrack(key: string): void {
    const e = this.dict.get(key);
    if (e !== undefined) this.bytes -= counted(key, e);
  }

  /** Recounts the estimate after bulk loads that bypass set() (RDB, AOF base). */
  recount(): void {
    this.bytes = 0;
    for (const [k, e] of this.dict) this.bytes += account(k, e);
  }

  /**
   * Gives a key another entry object for the same value (a string's StringEntry replaced by a
   * BytesEntry holding its bytes): not a change of the key, so nothing is signalled. A snapshot
   * holding the old entry keeps it, and no one changes it any more.
   */
  replaceEntry(key: string, old: Entry, entry: Entry): void {
    if (this.dict.get(key) !== old) throw new Error(`replaceEntry: '${key}' holds another entry`);
    this.dict.set(key, entry);
  }

  /**
   * A BytesEntry's bytes changed in place (its owner looked the key up first, see lookup):
   * the estimate follows the new length, and unless `signal` is false WATCH and blocked
   * clients are told, as update() does for a string replaced.
   */
  bytesChanged(key: string, e: BytesEntry, oldLength: number, signal = true): void {
    this.bytes += heapStringBytes(e.bytes.length) - heapStringBytes(oldLength);
    if (signal) this.notifyModified(key);
  }

  /** Keeps the snapshot's view of a key before its entry changes in place. */
  private preserve(key: string, e: Entry, clone: boolean): void {
    // (A bare string in the snapshot is never this entry: strings need no preserving.)
    const snap = this.snapshot!;
    if (snap.get(key) !== e) return;
    const v = e.value;
    const copy = clone && typeof v !== "string" ? (v as unknown as { clone(): Value }).clone() : v;
    snap.set(key, entryOf(copy, e.meta));
  }

  /** Deletes an expired key and tells the server (which propagates a DEL). */
  expireNow(key: string): void {
    this.untrack(key);
    this.dict.delete(key);
    this.expires.delete(key);
    this.notifyModified(key);
    this.hooks.onExpired(this, key);
  }

  /** Sets a value; clears the TTL unless keepTtl. Flags WATCHers. */
  set(key: string, value: Value, keepTtl = false): void {
    let e = this.dict.get(key);
    // An expired key is deleted first (and that DEL propagated), as every Redis write looks its
    // key up before writing.
    if (
      e !== undefined && this.expires.size !== 0 && this.isExpired(key, this.hooks.nowMs()) &&
      this.hooks.expiryMode() === "delete"
    ) {
      this.expireNow(key);
      e = undefined;
    }
    const clock = newClock(this.hooks.lruClock(), this.hooks.lfu());
    if (e !== undefined) this.bytes -= counted(key, e);
    let stored: Stored;
    if (typeof value === "string" && this.bare(clock)) {
      // Held bare (a snapshot holding the old entry keeps it as it was).
      this.dict.set(key, stored = value);
    } else if (e instanceof StringEntry && typeof value === "string") {
      // A string replacing a string: the entry is reused.
      if (this.snapshot !== null) this.preserve(key, e, false);
      e.value = value;
      e.meta = clock;
      stored = e;
    } else {
      // A new key, or a value of another kind: a new entry (the old one, if a snapshot holds
      // it, is left as it was). Map.set keeps an existing key's place in the iteration order.
      this.dict.set(key, stored = entryOf(value, clock));
    }
    if (e === undefined) this.hooks.keyAdded(this, key);
    this.bytes += account(key, stored);
    if (!keepTtl && this.expires.size !== 0) this.expires.delete(key);
    this.notifyModified(key);
  }

  /**
   * Stores a string without it counting as a change of the key (no WATCH abort, no wake-up),
   * keeping any TTL. Only for writes Redis does not signal: BITFIELD, which creates or pads a
   * string before its operations and counts as changes only the operations that change bits,
   * and HyperLogLog values rewritten without a logical change (PFDEBUG's conversions, the
   * registers a failing PFADD set).
   */
  storeUnchanged(key: string, value: string): void {
    const e = this.dict.get(key);
    if (e !== undefined) this.bytes -= counted(key, e);
    let stored: Stored;
    if (typeof e === "string") {
      // Bare stays bare: the access field is kept, the encoding follows the contents.
      this.dict.set(key, stored = value);
    } else if (e instanceof StringEntry) {
      if (this.snapshot !== null) this.preserve(key, e, false);
      e.value = value;
      e.enc = null;
      stored = e;
    } else {
      const clock = e?.clock ?? newClock(this.hooks.lruClock(), this.hooks.lfu());
      this.dict.set(key, stored = this.bare(clock) ? value : entryOf(value, clock));
      if (e === undefined) this.hooks.keyAdded(this, key);
    }
    this.bytes += account(key, stored);
  }

  /** Replaces the value of an existing entry in place (keeps TTL), e.g. APPEND, INCR. */
  update(key: string, entry: Entry, value: Value): void {
    const held = this.dict.get(key);
    if (typeof held === "string") {
      // A bare key (the entry was peek()'s): a string stays bare, with the same access field.
      this.bytes -= counted(key, held);
      const stored = typeof value === "string" ? value : entryOf(value, this.bareMeta);
      this.dict.set(key, stored);
      this.bytes += account(key, stored);
      this.notifyModified(key);
      return;
    }
    this.bytes -= counted(key, entry);
    let stored: Stored;
    if (entry instanceof StringEntry && typeof value === "string") {
      if (this.snapshot !== null) this.preserve(key, entry, false);
      entry.value = value;
      entry.enc = null;
      stored = entry;
    } else {
      this.dict.set(key, stored = entryOf(value, entry.clock));
    }
    this.bytes += account(key, stored);
    this.notifyModified(key);
  }

  delete(key: string): boolean {
    const e = this.dict.get(key);
    if (e === undefined) return false;
    this.bytes -= counted(key, e);
    this.dict.delete(key);
    if (this.expires.size !== 0) this.expires.delete(key);
    this.notifyModified(key);
    return true;
  }

  setExpire(key: string, atMs: number): void {
    this.expires.set(key, atMs);
    this.hooks.expireSet?.(this, key);
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
    this.slotCursors.clear();
    this.expireIter = null;
    return n;
  }

  /** SWAPDB: exchanges contents; clients stay on their database index. */
  swapWith(other: Database): void {
    if (this.cluster !== other.cluster) throw new Error("SWAPDB between different key layouts");
    this.touchAllWatched(other);
    other.touchAllWatched(this);
    [this.dict, other.dict] = [other.dict, this.dict];
    [this.slotTable, other.slotTable] = [other.slotTable, this.slotTable];
    [this.bareMeta, other.bareMeta] = [other.bareMeta, this.bareMeta];
    [this.expires, other.expires] = [other.expires, this.expires];
    [this.avgTtlMs, other.avgTtlMs] = [other.avgTtlMs, this.avgTtlMs];
    [this.bytes, other.bytes] = [other.bytes, this.bytes];
    this.cursors.clear();
    other.cursors.clear();
    this.slotCursors.clear();
    other.slotCursors.clear();
    this.expireIter = other.expireIter = null;
  }

  /**
   * Every write to a key must call this (Redis's signalModifiedKey): it invalidates WATCHes and
   * lets clients blocked on the key retry. Commands that change an aggregate in place call it.
   */
  signalModified(key: string): void {
    this.recountAggregate(key);
    this.notifyModified(key);
  }

  /**
   * An aggregate changed in place by a write that Redis does not signal (a stream's consumer
   * group bookkeeping, say): only the memory estimate follows; WATCH, client-side caching and
   * blocked clients are not told.
   */
  changedUnsignalled(key: string): void {
    this.recountAggregate(key);
  }

  /** An aggregate changed in place: its estimate moves by what changed since last counted. */
  private recountAggregate(key: string): void {
    const e = this.dict.get(key);
    if (e !== undefined && typeof e !== "string" && typeof e.value !== "string") {
      const v = e.value, was = v.accounted;
      this.bytes += account(key, v) - was;
    }
  }

  /** WATCH and blocked clients learn of a change (the estimate is already current). */
  private notifyModified(key: string): void {
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
   * SCAN over the keyspace (store/cursor.ts): a cursor names a live iterator, so every key
   * present for the whole scan is returned; an unknown cursor resumes by position, and one that
   * redis-server issued where Redis's scan would resume.
   */
  scanKeys(cursor: bigint, count: number, visit: (key: string) => void): number {
    if (this.slotTable !== null) {
      return scanSlots(this.slotCursors, this.slotTable, cursor, count, visit);
    }
    let cur = Number(cursor);
    if (!this.cursors.has(cur)) {
      ({ cursor: cur, count } = resumeForeign(cur, cursor, this.dict.size, count));
    }
    return scanMap(this.cursors, this.dict, cur, count, visit);
  }

  /**
   * RANDOMKEY: a key that has not expired (expired ones met on the way are deleted), or
   * undefined when there is none. The key table picks one uniformly; in cluster mode the slot is
   * drawn first, weighted by its key count.
   */
  randomKey(): string | undefined {
    for (let attempt = 0; attempt < 100; attempt++) {
      const n = this.dict.size;
      if (n === 0) return undefined;
      const k = this.slotTable === null
        ? (this.dict as KeyDict<Stored>).randomKey()!
        : this.slotTable.randomKeyIn(this.slotTable.slotOfRank(Math.floor(Math.random() * n)))!;
      if (this.lookup(k, false) !== undefined) return k;
    }
    return undefined;
  }

  // ---- Hash slots (cluster mode only) ----

  private slots(slot: number): SlotTable<Stored> {
    if (this.slotTable === null) throw new Error("keys are not kept per slot (cluster mode off)");
    if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) {
      throw new RangeError(`invalid slot ${slot}`);
    }
    return this.slotTable;
  }

  /** Keys stored in a slot, expired ones included (CLUSTER COUNTKEYSINSLOT). O(1). */
  countKeysInSlot(slot: number): number {
    return this.slots(slot).slotSize(slot);
  }

  /** Up to `count` keys of a slot (CLUSTER GETKEYSINSLOT). O(count). */
  keysInSlot(slot: number, count: number): string[] {
    const out: string[] = [];
    const it = this.slots(slot).slotKeys(slot);
    if (it === undefined) return out;
    for (let r = it.next(); !r.done && out.length < count; r = it.next()) out.push(r.value);
    return out;
  }

  /**
   * Deletes every key of a slot, TTLs included, each signalled as modified (WATCH, blocked
   * clients); `onDeleted` sees each key (to propagate the deletion). Returns how many there were.
   * O(keys in the slot).
   */
  deleteSlot(slot: number, onDeleted?: (key: string) => void): number {
    const keys = this.slots(slot).takeSlot(slot);
    if (keys === undefined) return 0;
    for (const [key, e] of keys) {
      this.bytes -= counted(key, e);
      if (this.expires.size !== 0) this.expires.delete(key);
      this.signalModified(key);
      onDeleted?.(key);
    }
    return keys.size;
  }
}

/** A key's share of the estimate as last counted (strings: computed, they never change). */
function counted(key: string, e: Stored): number {
  if (typeof e === "string") return estimateBytes(key, e) - STRING_ENTRY_BYTES;
  const v = e.value;
  return typeof v === "string" ? estimateBytes(key, v) : v.accounted;
}

/** Counts a key's share now; aggregates remember it for the next change. */
function account(key: string, e: Stored): number {
  if (typeof e === "string") return estimateBytes(key, e) - STRING_ENTRY_BYTES;
  const v = e.value, b = estimateBytes(key, v);
  if (typeof v !== "string") v.accounted = b;
  return b;
}
