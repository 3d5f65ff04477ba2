/**
 * The keyspace's table outside cluster mode: string keys to values, with a Map's interface and
 * iteration rules, but hashing keys itself.
 *
 * Why not a Map: the runtime internalizes a string the first time it is used as a Map key (a
 * lookup, and for a new key an insert, in its global string table), which costs several cache
 * misses: about 0.3-0.6 µs per fresh key string, more than the rest of a GET, and a third of an
 * RDB load. Every request brings fresh key strings. Here a key is hashed by a few multiplies over
 * its characters, and the table is three flat arrays.
 *
 * Layout: entries are appended in insertion order to `keys`, `vals` and `hashes` (a deleted one
 * leaves a hole); `index` is an open-addressing table (linear probing, at most half full) of
 * entry positions + 1. Deleting from the index shifts the following run back, so no tombstones.
 * When the entry arrays fill up they are compacted, grown if need be; live iterators are moved
 * to the same place in the compacted order, so, as with a Map, an iterator visits every entry
 * that is there for its whole walk exactly once, and entries added meanwhile too (SCAN cursors
 * rely on this).
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
  private keys_: (string | undefined)[] = new Array<string | undefined>(MIN_CAPACITY);
  private vals: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY);
  private hashes = new Int32Array(MIN_CAPACITY);
  /** Entry slots used, holes included. */
  private used = 0;
  private live = 0;
  private index = new Int32Array(MIN_CAPACITY * 2);
  private mask = MIN_CAPACITY * 2 - 1;
  /** Iterators that may still be walked, to move when the entries are compacted. */
  private iters: Set<WeakRef<DictIterator<V, unknown>>> | null = null;
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

  /** The entry position of `key`, or -1. */
  private find(key: string, h: number): number {
    const index = this.index, hashes = this.hashes, keys = this.keys_, mask = this.mask;
    for (let i = h & mask;; i = (i + 1) & mask) {
      const e = index[i]!;
      if (e === 0) return -1;
      const p = e - 1;
      if (hashes[p] === h && keys[p] === key) return p;
    }
  }

  get(key: string): V | undefined {
    const p = this.find(key, keyHash(key));
    return p < 0 ? undefined : this.vals[p];
  }

  has(key: string): boolean {
    return this.find(key, keyHash(key)) >= 0;
  }

  set(key: string, value: V): this {
    const h = keyHash(key);
    const index = this.index, mask = this.mask;
    let i = h & mask;
    for (;; i = (i + 1) & mask) {
      const e = index[i]!;
      if (e === 0) break;
      const p = e - 1;
      if (this.hashes[p] === h && this.keys_[p] === key) {
        this.vals[p] = value;
        return this;
      }
    }
    if (this.used === this.hashes.length) {
      this.rebuild(Math.max(MIN_CAPACITY, (this.live + 1) * 2));
      i = h & this.mask;
      while (this.index[i] !== 0) i = (i + 1) & this.mask;
    }
    const p = this.used++;
    this.keys_[p] = key;
    this.vals[p] = value;
    this.hashes[p] = h;
    this.index[i] = p + 1;
    this.live++;
    return this;
  }

  delete(key: string): boolean {
    const h = keyHash(key);
    const index = this.index, mask = this.mask;
    let i = h & mask;
    let p = -1;
    for (;; i = (i + 1) & mask) {
      const e = index[i]!;
      if (e === 0) return false;
      if (this.hashes[e - 1] === h && this.keys_[e - 1] === key) {
        p = e - 1;
        break;
      }
    }
    this.keys_[p] = undefined;
    this.vals[p] = undefined;
    this.live--;
    // Backward-shift deletion: every entry of the run after the gap that may move into it does.
    index[i] = 0;
    for (let j = (i + 1) & mask;; j = (j + 1) & mask) {
      const e = index[j]!;
      if (e === 0) break;
      const home = this.hashes[e - 1]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        index[i] = e;
        index[j] = 0;
        i = j;
      }
    }
    // Mostly holes: compact (iteration and memory stay proportional to the live entries).
    if (this.used > 1024 && this.live * 4 < this.used) this.rebuild(this.live * 2);
    return true;
  }

  clear(): void {
    this.keys_ = new Array<string | undefined>(MIN_CAPACITY);
    this.vals = new Array<V | undefined>(MIN_CAPACITY);
    this.hashes = new Int32Array(MIN_CAPACITY);
    this.index = new Int32Array(MIN_CAPACITY * 2);
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
    const keys = this.keys_;
    for (let tries = 0; tries < 64; tries++) {
      const k = keys[Math.floor(Math.random() * this.used)];
      if (k !== undefined) return k;
    }
    // Mostly holes (compaction keeps at least a quarter live): walk from a random place.
    const start = Math.floor(Math.random() * this.used);
    for (let i = 0; i < this.used; i++) {
      const k = keys[(start + i) % this.used];
      if (k !== undefined) return k;
    }
    return undefined;
  }

  /** An independent copy (a background save's view), entries in the same order. */
  clone(): KeyDict<V> {
    const c = new KeyDict<V>();
    c.keys_ = this.keys_.slice();
    c.vals = this.vals.slice();
    c.hashes = this.hashes.slice();
    c.index = this.index.slice();
    c.mask = this.mask;
    c.used = this.used;
    c.live = this.live;
    return c;
  }

  /** Calls `f` for every entry in order (faster than an iterator; no changes meanwhile). */
  forEach(f: (value: V, key: string) => void): void {
    const keys = this.keys_, vals = this.vals, n = this.used;
    for (let p = 0; p < n; p++) {
      const k = keys[p];
      if (k !== undefined) f(vals[p]!, k);
    }
  }

  /** Calls `f` on the entries in order until it returns false (no iterator to register). */
  eachWhile(f: (value: V, key: string) => boolean): void {
    const keys = this.keys_, vals = this.vals, n = this.used;
    for (let p = 0; p < n; p++) {
      const k = keys[p];
      if (k !== undefined && !f(vals[p]!, k)) return;
    }
  }

  /** Calls `f` on the keys in order until it returns false (no iterator to register). */
  eachKeyWhile(f: (key: string) => boolean): void {
    const keys = this.keys_, n = this.used;
    for (let p = 0; p < n; p++) {
      const k = keys[p];
      if (k !== undefined && !f(k)) return;
    }
  }

  keys(): IterableIterator<string> {
    return this.iterator((k) => k);
  }

  values(): IterableIterator<V> {
    return this.iterator((_k, v) => v);
  }

  entries(): IterableIterator<[string, V]> {
    return this.iterator((k, v) => [k, v] as [string, V]);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  /** Entry `p` for an iterator: undefined for a hole or past the end. */
  keyAt(p: number): string | undefined {
    return this.keys_[p];
  }

  valueAt(p: number): V {
    return this.vals[p]!;
  }

  get end(): number {
    return this.used;
  }

  private iterator<T>(make: (k: string, v: V) => T): DictIterator<V, T> {
    const it = new DictIterator(this, make);
    const ref = new WeakRef(it as DictIterator<V, unknown>);
    it.ref = ref;
    const iters = this.iters ??= new Set();
    iters.add(ref);
    if (iters.size > this.itersSwept) {
      for (const r of iters) if (r.deref() === undefined) iters.delete(r);
      this.itersSwept = Math.max(64, iters.size * 2);
    }
    return it;
  }

  /** Forgets an iterator that is done. */
  release(ref: WeakRef<DictIterator<V, unknown>>): void {
    this.iters?.delete(ref);
  }

  /**
   * Compacts the entries into arrays of `capacity` (at least the live count), and rebuilds the
   * index at twice that.
   */
  private rebuild(capacity: number): void {
    const cap = Math.max(MIN_CAPACITY, capacity, this.live);
    const keys = new Array<string | undefined>(cap);
    const vals = new Array<V | undefined>(cap);
    const hashes = new Int32Array(cap);
    let icap = MIN_CAPACITY * 2;
    while (icap < cap * 2) icap *= 2;
    const index = new Int32Array(icap), mask = icap - 1;
    // Where each old position lands (the count of live entries before it), for the iterators.
    const moved = this.iters !== null && this.iters.size > 0 ? new Int32Array(this.used + 1) : null;
    let q = 0;
    for (let p = 0; p < this.used; p++) {
      if (moved !== null) moved[p] = q;
      const k = this.keys_[p];
      if (k === undefined) continue;
      const h = this.hashes[p]!;
      keys[q] = k;
      vals[q] = this.vals[p];
      hashes[q] = h;
      let i = h & mask;
      while (index[i] !== 0) i = (i + 1) & mask;
      index[i] = q + 1;
      q++;
    }
    if (moved !== null) moved[this.used] = q;
    this.keys_ = keys;
    this.vals = vals;
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
      const it = r.deref();
      if (it === undefined || it.done) {
        iters.delete(r);
        continue;
      }
      it.pos = moved === null ? 0 : moved[Math.min(it.pos, moved.length - 1)]!;
    }
  }
}

/** A Map-like iterator over a KeyDict: position in the entry arrays, moved on compaction. */
class DictIterator<V, T> implements IterableIterator<T> {
  pos = 0;
  done = false;
  ref: WeakRef<DictIterator<V, unknown>> | null = null;

  constructor(private readonly dict: KeyDict<V>, private readonly make: (k: string, v: V) => T) {}

  next(): IteratorResult<T> {
    if (!this.done) {
      const d = this.dict;
      while (this.pos < d.end) {
        const p = this.pos++;
        const k = d.keyAt(p);
        if (k !== undefined) return { value: this.make(k, d.valueAt(p)), done: false };
      }
      this.finish();
    }
    return { value: undefined, done: true };
  }

  return(): IteratorResult<T> {
    this.finish();
    return { value: undefined, done: true };
  }

  private finish(): void {
    this.done = true;
    if (this.ref !== null) this.dict.release(this.ref);
    this.ref = null;
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}
