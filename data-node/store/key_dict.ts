/**
 * A table of string keys to values (the keyspace, TTLs, large hashes, skiplist members), with a
 * Map's interface and iteration rules, but hashing keys itself.
 *
 * Why not a Map: the runtime internalizes a string the first time it is used as a Map key (a
 * lookup, and for a new key an insert, in its global string table), which costs several cache
 * misses: about 0.3-0.6 µs per fresh key string, more than the rest of a GET, and a third of an
 * RDB load. Every request brings fresh key strings. Here a key is hashed by a few multiplies over
 * its characters, and the table is flat arrays.
 *
 * Layout: entries are appended in insertion order to `kv` (key and value side by side) and
 * `hashes` (a deleted entry leaves a hole); `index` is an open-addressing table (linear probing, at
 * most four fifths full) of entry positions + 1, each beside its hash, so a probe compares hashes
 * without touching the entries. Deleting from the index shifts the following run back, so no
 * tombstones. When the entries fill their arrays they are compacted, grown if need be; live
 * iterators are moved to the same place in the compacted order, so, as with a Map, an iterator
 * visits every entry that is there for its whole walk exactly once, and entries added meanwhile
 * too (SCAN cursors rely on this).
 *
 * Keys are hashed with a per-process random seed, so that which keys collide is not known in
 * advance (Redis seeds its SipHash for the same reason).
 */

const SEED = (Math.random() * 0x100000000) | 0;

let lastKey = "";
let lastHash = keyHashOf("");

/**
 * A 32-bit hash of a string's UTF-16 code units (binary strings: one per byte). The last one is
 * remembered: a command that reads then writes its key hashes it once.
 */
export function keyHash(s: string): number {
  if (s === lastKey) return lastHash;
  lastHash = keyHashOf(s);
  lastKey = s;
  return lastHash;
}

function keyHashOf(s: string): number {
  const n = s.length;
  let h = SEED ^ n, i = 0;
  for (; i + 2 <= n; i += 2) {
    h = Math.imul(h ^ (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)), 0x01000193);
    h ^= h >>> 16;
  }
  if (i < n) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/** What a reader of a table needs: a Map<string, V> or a KeyDict<V> is one. */
export interface StringTableView<V> {
  readonly size: number;
  get(key: string): V | undefined;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, V]>;
  [Symbol.iterator](): IterableIterator<[string, V]>;
}

const MIN_CAPACITY = 8;
/** The most entries a size hint reserves room for (a file's hint is not trusted beyond). */
const RESERVE_MAX = 1 << 22;

export class KeyDict<V> {
  /** Entry p's key at 2p (undefined: a hole) and its value at 2p + 1: one cache line for both. */
  private kv: unknown[] = new Array<unknown>(MIN_CAPACITY * 2);
  /** Entry p's hash (for rebuilding without hashing again). */
  private hashes = new Int32Array(MIN_CAPACITY);
  /** Entry slots used, holes included. */
  private used = 0;
  private live = 0;
  /** Slot i: the entry position + 1 at 2i (0: empty) and its hash at 2i + 1. */
  private index = new Int32Array(MIN_CAPACITY * 4);
  private mask = MIN_CAPACITY * 2 - 1;
  /**
   * The positions of iterators that may still be walked, to move when the entries are
   * compacted. Held weakly: an iterator dropped half way is forgotten. (A WeakRef keeps its
   * target until the current task ends, so the target is the small Position, not the iterator,
   * which holds the table.)
   */
  private iters: Set<WeakRef<Position>> | null = null;
  private itersSwept = 64;

  /** A table of these entries (a later one for the same key wins, as in a Map). */
  static from<V>(entries: Iterable<[string, V]>): KeyDict<V> {
    const d = new KeyDict<V>();
    for (const [k, v] of entries) d.set(k, v);
    return d;
  }

  get size(): number {
    return this.live;
  }

  /** The index slot holding `key`, or -1; the hash is compared before the key is touched. */
  private slotOf(key: string, h: number): number {
    const index = this.index, kv = this.kv, mask = this.mask;
    for (let i = h & mask;; i = (i + 1) & mask) {
      const e = index[2 * i]!;
      if (e === 0) return -1;
      if (index[2 * i + 1] === h && kv[2 * (e - 1)] === key) return i;
    }
  }

  get(key: string): V | undefined {
    if (this.live === 0) return undefined;
    const i = this.slotOf(key, keyHash(key));
    return i < 0 ? undefined : this.kv[2 * (this.index[2 * i]! - 1) + 1] as V;
  }

  has(key: string): boolean {
    return this.live !== 0 && this.slotOf(key, keyHash(key)) >= 0;
  }

  set(key: string, value: V): this {
    const h = keyHash(key);
    const index = this.index, kv = this.kv, mask = this.mask;
    let i = h & mask;
    for (;; i = (i + 1) & mask) {
      const e = index[2 * i]!;
      if (e === 0) break;
      if (index[2 * i + 1] === h && kv[2 * (e - 1)] === key) {
        kv[2 * (e - 1) + 1] = value;
        return this;
      }
    }
    if (this.used === this.hashes.length) {
      this.rebuild(Math.max(MIN_CAPACITY, Math.ceil((this.live + 1) * 1.5)));
      i = h & this.mask;
      while (this.index[2 * i] !== 0) i = (i + 1) & this.mask;
    }
    const p = this.used++;
    this.kv[2 * p] = key;
    this.kv[2 * p + 1] = value;
    this.hashes[p] = h;
    this.index[2 * i] = p + 1;
    this.index[2 * i + 1] = h;
    this.live++;
    return this;
  }

  delete(key: string): boolean {
    let i = this.slotOf(key, keyHash(key));
    if (i < 0) return false;
    const index = this.index, mask = this.mask;
    const p = index[2 * i]! - 1;
    this.kv[2 * p] = undefined;
    this.kv[2 * p + 1] = undefined;
    this.live--;
    // Backward-shift deletion: every entry of the run after the gap that may move into it does.
    index[2 * i] = 0;
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const e = index[2 * j]!;
      if (e === 0) break;
      const h = index[2 * j + 1]!;
      if (((j - (h & mask)) & mask) >= ((j - i) & mask)) {
        index[2 * i] = e;
        index[2 * i + 1] = h;
        index[2 * j] = 0;
        i = j;
      }
    }
    // Mostly holes: compact (iteration and memory stay proportional to the live entries).
    if (this.used > 1024 && this.live * 4 < this.used) this.rebuild(this.live * 2);
    return true;
  }

  clear(): void {
    this.kv = new Array<unknown>(MIN_CAPACITY * 2);
    this.hashes = new Int32Array(MIN_CAPACITY);
    this.index = new Int32Array(MIN_CAPACITY * 4);
    this.mask = MIN_CAPACITY * 2 - 1;
    this.used = this.live = 0;
    // As a Map's: live iterators go on with what is added after the clear.
    this.moveIterators(null);
  }

  /**
   * Makes room for `n` entries in all, so that a load of a known size (an RDB's RESIZEDB hint)
   * does not grow the table step by step. Hints beyond RESERVE_MAX are taken as that much.
   */
  reserve(n: number): void {
    const want = Math.min(Math.floor(n), RESERVE_MAX);
    if (want > this.hashes.length) this.rebuild(want);
  }

  /** A key picked uniformly at random, or undefined when empty. */
  randomKey(): string | undefined {
    if (this.live === 0) return undefined;
    const kv = this.kv;
    for (let tries = 0; tries < 64; tries++) {
      const k = kv[2 * Math.floor(Math.random() * this.used)];
      if (k !== undefined) return k as string;
    }
    // Mostly holes (compaction keeps at least a quarter live): walk from a random place.
    const start = Math.floor(Math.random() * this.used);
    for (let i = 0; i < this.used; i++) {
      const k = kv[2 * ((start + i) % this.used)];
      if (k !== undefined) return k as string;
    }
    return undefined;
  }

  /** An independent copy (a background save's view), entries in the same order. */
  clone(): KeyDict<V> {
    const c = new KeyDict<V>();
    c.kv = this.kv.slice();
    c.hashes = this.hashes.slice();
    c.index = this.index.slice();
    c.mask = this.mask;
    c.used = this.used;
    c.live = this.live;
    return c;
  }

  /** Calls `f` for every entry in order (faster than an iterator; no changes meanwhile). */
  forEach(f: (value: V, key: string) => void): void {
    const kv = this.kv, n = this.used;
    for (let p = 0; p < n; p++) {
      const k = kv[2 * p];
      if (k !== undefined) f(kv[2 * p + 1] as V, k as string);
    }
  }

  /** Calls `f` on the entries in order until it returns false (no iterator to register). */
  eachWhile(f: (value: V, key: string) => boolean): void {
    const kv = this.kv, n = this.used;
    for (let p = 0; p < n; p++) {
      const k = kv[2 * p];
      if (k !== undefined && !f(kv[2 * p + 1] as V, k as string)) return;
    }
  }

  /** Calls `f` on the keys in order until it returns false (no iterator to register). */
  eachKeyWhile(f: (key: string) => boolean): void {
    const kv = this.kv, n = this.used;
    for (let p = 0; p < n; p++) {
      const k = kv[2 * p];
      if (k !== undefined && !f(k as string)) return;
    }
  }

  keys(): IterableIterator<string> {
    return this.iterator((k) => k);
  }

  entries(): IterableIterator<[string, V]> {
    return this.iterator((k, v) => [k, v] as [string, V]);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  /** Entry `p` for an iterator: undefined for a hole or past the end. */
  keyAt(p: number): string | undefined {
    return this.kv[2 * p] as string | undefined;
  }

  valueAt(p: number): V {
    return this.kv[2 * p + 1] as V;
  }

  get end(): number {
    return this.used;
  }

  private iterator<T>(make: (k: string, v: V) => T): DictIterator<V, T> {
    const at = new Position();
    const ref = new WeakRef(at);
    at.ref = ref;
    const it = new DictIterator(this, make, at);
    const iters = this.iters ??= new Set();
    iters.add(ref);
    if (iters.size > this.itersSwept) {
      for (const r of iters) if (r.deref() === undefined) iters.delete(r);
      this.itersSwept = Math.max(64, iters.size * 2);
    }
    return it;
  }

  /** Forgets an iterator that is done. */
  release(ref: WeakRef<Position>): void {
    this.iters?.delete(ref);
  }

  /**
   * Compacts the entries into room for `capacity` (at least the live count), and rebuilds the
   * index at a power of two of at least 1.25 times that (so at most four fifths full).
   */
  private rebuild(capacity: number): void {
    const cap = Math.max(MIN_CAPACITY, capacity, this.live);
    const kv = new Array<unknown>(cap * 2);
    const hashes = new Int32Array(cap);
    let icap = MIN_CAPACITY * 2;
    while (icap * 4 < cap * 5) icap *= 2;
    const index = new Int32Array(icap * 2), mask = icap - 1;
    // Where each old position lands (the count of live entries before it), for the iterators.
    const moved = this.iters !== null && this.iters.size > 0 ? new Int32Array(this.used + 1) : null;
    const old = this.kv, oldHashes = this.hashes;
    let q = 0;
    for (let p = 0; p < this.used; p++) {
      if (moved !== null) moved[p] = q;
      const k = old[2 * p];
      if (k === undefined) continue;
      const h = oldHashes[p]!;
      kv[2 * q] = k;
      kv[2 * q + 1] = old[2 * p + 1];
      hashes[q] = h;
      let i = h & mask;
      while (index[2 * i] !== 0) i = (i + 1) & mask;
      index[2 * i] = q + 1;
      index[2 * i + 1] = h;
      q++;
    }
    if (moved !== null) moved[this.used] = q;
    this.kv = kv;
    this.hashes = hashes;
    this.index = index;
    this.mask = mask;
    this.used = q;
    if (moved !== null) this.moveIterators(moved);
  }

  /** Moves live iterators to their entries' new positions (null: to the start, after clear). */
  private moveIterators(moved: Int32Array | null): void {
    const iters = this.iters;
    if (iters === null) return;
    for (const r of iters) {
      const at = r.deref();
      if (at === undefined || at.done) {
        iters.delete(r);
        continue;
      }
      at.pos = moved === null ? 0 : moved[Math.min(at.pos, moved.length - 1)]!;
    }
  }
}

/** Where an iterator is: the next entry position to look at. */
class Position {
  pos = 0;
  done = false;
  ref: WeakRef<Position> | null = null;
}

/** A Map-like iterator over a KeyDict: a position in the entry arrays, moved on compaction. */
class DictIterator<V, T> implements IterableIterator<T> {
  constructor(
    private readonly dict: KeyDict<V>,
    private readonly make: (k: string, v: V) => T,
    private readonly at: Position,
  ) {}

  next(): IteratorResult<T> {
    const at = this.at;
    if (!at.done) {
      const d = this.dict;
      while (at.pos < d.end) {
        const p = at.pos++;
        const k = d.keyAt(p);
        if (k !== undefined) return { value: this.make(k, d.valueAt(p)), done: false };
      }
      this.finish();
    }
    return { value: undefined, done: true };
  }

  /** True when next() would end the iteration (entries added later are still seen). */
  exhausted(): boolean {
    const at = this.at;
    if (at.done) return true;
    const d = this.dict;
    // Deleted entries are passed for good; the next live one, or the end, stops the look.
    while (at.pos < d.end && d.keyAt(at.pos) === undefined) at.pos++;
    return at.pos >= d.end;
  }

  return(): IteratorResult<T> {
    this.finish();
    return { value: undefined, done: true };
  }

  private finish(): void {
    const at = this.at;
    at.done = true;
    if (at.ref !== null) this.dict.release(at.ref);
    at.ref = null;
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}
