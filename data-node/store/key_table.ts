/**
 * The tables a database keeps its keys in. Outside cluster mode a KeyDict (key_dict.ts) is the
 * table; in cluster mode a SlotTable splits the keys by hash slot (shared/slots.ts) as Valkey's
 * kvstore does, one KeyDict per slot, so that the keys of one slot can be counted, listed and
 * dropped without touching the others. Both offer the same subset of Map's interface (KeyTable).
 */
import { CLUSTER_SLOTS, keyHashSlot } from "../../shared/slots.ts";
import { KeyDict } from "./key_dict.ts";

/** What a database needs of its key table; a Map<string, V> or a KeyDict<V> is one. */
export interface KeyTable<V> {
  readonly size: number;
  get(key: string): V | undefined;
  has(key: string): boolean;
  set(key: string, value: V): unknown;
  delete(key: string): boolean;
  clear(): void;
  /** Like a Map's, iterators survive inserts and deletes: they skip the deleted, visit the new. */
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, V]>;
  [Symbol.iterator](): IterableIterator<[string, V]>;
}

/**
 * One KeyDict per hash slot, created when the slot gets its first key and dropped when it empties,
 * plus a Fenwick tree over the per-slot key counts: the slot holding the n-th key (a random key
 * chosen fairly across slots, the next non-empty slot for SCAN) is found in log2(16384) = 14
 * steps. Iteration goes slot by slot, each slot in insertion order.
 */
export class SlotTable<V> implements KeyTable<V> {
  private readonly slots: (KeyDict<V> | undefined)[] = new Array(CLUSTER_SLOTS).fill(
    undefined,
  );
  /** Fenwick (binary indexed) tree: tree[i] sums the counts of slots (i - lowbit(i), i]. */
  private readonly tree = new Int32Array(CLUSTER_SLOTS + 1);
  private count = 0;
  private mapsInUse = 0;

  get size(): number {
    return this.count;
  }

  /** How many slots hold at least one key (each has its own Map). */
  get slotsInUse(): number {
    return this.mapsInUse;
  }

  get(key: string): V | undefined {
    return this.slots[this.slotOf(key)]?.get(key);
  }

  has(key: string): boolean {
    return this.slots[this.slotOf(key)]?.has(key) ?? false;
  }

  set(key: string, value: V): this {
    const slot = this.slotOf(key);
    let m = this.slots[slot];
    if (m === undefined) {
      this.slots[slot] = m = new KeyDict<V>();
      this.mapsInUse++;
    }
    const before = m.size;
    m.set(key, value);
    if (m.size !== before) this.add(slot, 1);
    return this;
  }

  delete(key: string): boolean {
    const slot = this.slotOf(key);
    const m = this.slots[slot];
    if (m === undefined || !m.delete(key)) return false;
    this.add(slot, -1);
    if (m.size === 0) {
      this.slots[slot] = undefined;
      this.mapsInUse--;
    }
    return true;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.tree.fill(0);
    this.count = 0;
    this.mapsInUse = 0;
  }

  *keys(): IterableIterator<string> {
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      const m = this.slots[s];
      if (m !== undefined) yield* m.keys();
    }
  }

  *entries(): IterableIterator<[string, V]> {
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      const m = this.slots[s];
      if (m !== undefined) yield* m.entries();
    }
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  /** An independent copy (each slot's table copied), e.g. a background save's view. */
  clone(): SlotTable<V> {
    const t = new SlotTable<V>();
    for (let s = 0; s < CLUSTER_SLOTS; s++) {
      const m = this.slots[s];
      if (m !== undefined) t.slots[s] = m.clone();
    }
    t.tree.set(this.tree);
    t.count = this.count;
    t.mapsInUse = this.mapsInUse;
    return t;
  }

  /** Keys in one slot. */
  slotSize(slot: number): number {
    return this.slots[slot]?.size ?? 0;
  }

  /** The keys of one slot (in insertion order), or undefined when it has none. */
  slotKeys(slot: number): IterableIterator<string> | undefined {
    return this.slots[slot]?.keys();
  }

  /** A random key of one slot, or undefined when it has none. */
  randomKeyIn(slot: number): string | undefined {
    return this.slots[slot]?.randomKey();
  }

  /** Removes a whole slot in O(1); returns its former contents for the caller's cleanup. */
  takeSlot(slot: number): KeyDict<V> | undefined {
    const m = this.slots[slot];
    if (m === undefined) return undefined;
    this.add(slot, -m.size);
    this.slots[slot] = undefined;
    this.mapsInUse--;
    return m;
  }

  /** The first slot at or after `from` that holds a key, or -1. */
  nextSlot(from: number): number {
    if (from >= CLUSTER_SLOTS) return -1;
    const before = this.keysBefore(from);
    return before < this.count ? this.slotOfRank(before) : -1;
  }

  /** Keys in the slots before `slot`. */
  keysBefore(slot: number): number {
    let sum = 0;
    for (let i = slot; i > 0; i -= i & -i) sum += this.tree[i]!;
    return sum;
  }

  /** The slot holding the key of rank `rank` (0-based, slot order); needs rank < size. */
  slotOfRank(rank: number): number {
    let pos = 0;
    for (let step = CLUSTER_SLOTS; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= CLUSTER_SLOTS && this.tree[next]! <= rank) {
        pos = next;
        rank -= this.tree[next]!;
      }
    }
    return pos;
  }

  /** (keyHashSlot remembers the last key: a write's lookups and its routing share one hash.) */
  private slotOf(key: string): number {
    return keyHashSlot(key);
  }

  private add(slot: number, delta: number): void {
    this.count += delta;
    for (let i = slot + 1; i <= CLUSTER_SLOTS; i += i & -i) this.tree[i]! += delta;
  }
}
