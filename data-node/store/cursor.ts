/**
 * SCAN cursors. A cursor we issue names a live iterator kept in a per-collection table: JS Maps
 * iterate in insertion order and an iterator survives inserts and deletes (it skips the deleted,
 * visits the new), so every element present for the whole scan is returned. A cursor also
 * encodes how far it got (position * CURSOR_TAG_SPACE + a random nonzero tag), so an unknown one
 * (evicted from the table, or from before a restart) resumes by position. A cursor that is not
 * ours at all (one redis-server issued) resumes where Redis's hash table scan would.
 */

import { MAX_SCAN_CURSORS } from "../../shared/limits.ts";
import { CLUSTER_SLOTS } from "../../shared/slots.ts";

/** A collection's open iterations, by cursor. */
export type ScanCursors = Map<number, { it: Iterator<string>; pos: number }>;

/**
 * An aggregate's open iterations, kept beside it rather than in it: most aggregates are never
 * scanned (or are small enough to be returned whole), and a field costs every one of them.
 */
const aggregateCursors = new WeakMap<object, ScanCursors>();

export function cursorsOf(value: object): ScanCursors {
  let c = aggregateCursors.get(value);
  if (c === undefined) aggregateCursors.set(value, c = new Map());
  return c;
}

/** Open iterations kept per collection; the oldest is dropped beyond this. */

/** Low part of a cursor: a random tag, so two scans at the same position do not collide. */
export const CURSOR_TAG_SPACE = 1 << 20;

/**
 * A fresh cursor `position * tagSpace + tag + low` (low: bits of the caller's own below the
 * tag, times `lowSpace`) not already in the table, and the table kept within its bound.
 */
export function issueCursor<S>(
  cursors: Map<number, S>,
  state: S,
  position: number,
  tagSpace: number,
  lowSpace = 1,
  low = 0,
): number {
  let next = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    const tag = 1 + Math.floor(Math.random() * (tagSpace - 1));
    next = (position * tagSpace + tag) * lowSpace + low;
    if (!cursors.has(next)) break;
  }
  if (cursors.size >= MAX_SCAN_CURSORS) {
    const oldest = cursors.keys().next().value;
    if (oldest !== undefined) cursors.delete(oldest);
  }
  cursors.set(next, state);
  return next;
}

/** Whether a KeyDict iterator has nothing left; undefined for iterators that cannot tell. */
function exhausted(it: Iterator<string>): boolean | undefined {
  return (it as Iterator<string> & { exhausted?: () => boolean }).exhausted?.();
}

/** Shared by SCAN, HSCAN, SSCAN and ZSCAN over any Map or Set. */
export function scanMap(
  cursors: ScanCursors,
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
  // Nothing left: cursor 0 now, as Redis ends a scan whose last call took the rest, rather than
  // a cursor whose next call returns nothing. A Map's or Set's iterator cannot tell, unless this
  // one call went through the whole collection.
  if (exhausted(state.it) ?? (cursor === 0 && state.pos >= coll.size)) return 0;
  return issueCursor(cursors, state, state.pos, CURSOR_TAG_SPACE);
}

/**
 * Maps a nonzero cursor that is not one of scanMap's (those are position * 2^20 + tag, the
 * position within the collection's size) to a cursor scanMap reads as "skip to where Redis's
 * scan would resume", and the COUNT to use. Other cursors come back unchanged.
 */
export function resumeForeign(
  cursor: number,
  bits: bigint,
  size: number,
  count: number,
): { cursor: number; count: number } {
  if (cursor === 0) return { cursor, count };
  if (cursor >= CURSOR_TAG_SPACE && Math.floor(cursor / CURSOR_TAG_SPACE) <= size) {
    return { cursor, count };
  }
  const r = redisResumePoint(bits, size, count);
  // Tag 0 is never issued, so scanMap cannot find this cursor and skips `start` elements.
  return { cursor: r.start * CURSOR_TAG_SPACE, count: r.count };
}

/**
 * Where Redis's hash table scan resumes for one of its cursors. Redis's cursor is a bucket
 * index walked in reverse-binary order over a power-of-two table (the smallest holding all
 * elements, at least 4), so its low bits tell how far the iteration got; elements are taken as
 * spread evenly over the buckets. Redis stops after the bucket that reaches COUNT, or at the
 * table's end (cursor 0): when the buckets before the last one cannot reach COUNT, everything
 * left is returned with cursor 0, so the count grows to cover it.
 */
export function redisResumePoint(
  bits: bigint,
  size: number,
  count: number,
): { start: number; count: number } {
  let k = 2;
  while (2 ** k < size) k++;
  const table = 2 ** k;
  const bucket = Number(bits & BigInt(table - 1));
  let pos = 0;
  for (let i = 0; i < k; i++) if (bucket & (1 << i)) pos += 2 ** (k - 1 - i);
  const start = Math.ceil((pos * size) / table);
  const beforeLast = Math.ceil(((table - 1) * size) / table) - start;
  if (beforeLast < count && table - pos <= count * 10) count = size - start + 1;
  return { start, count };
}

/**
 * In cluster mode the keyspace's cursor is Valkey's layout: the slot in the low 14 bits, the
 * position within the slot above them (here with a random tag, as above, in a smaller space so
 * that positions up to 2^27 per slot stay exact in a double).
 */
export const SLOT_CURSOR_TAG_SPACE = 1 << 12;

/** Open keyspace iterations in cluster mode: the slot reached and an iterator within it. */
export type SlotScanCursors = Map<number, { slot: number; it: Iterator<string>; pos: number }>;

/** What scanSlots needs of a per-slot key table (key_table.ts's SlotTable). */
export interface SlottedKeys {
  slotSize(slot: number): number;
  slotKeys(slot: number): Iterator<string> | undefined;
  nextSlot(from: number): number;
}

const NO_KEYS: Iterator<string> = { next: () => ({ done: true, value: undefined }) };

/**
 * SCAN over a per-slot key table: slot after slot, each through a live iterator as scanMap
 * does, so within a slot (and so overall) every key present for the whole scan is returned. An
 * unknown cursor resumes in its slot (low 14 bits): by position when the part above is one of
 * ours, where Redis's scan of that slot's table would resume otherwise.
 */
export function scanSlots(
  cursors: SlotScanCursors,
  table: SlottedKeys,
  cursor: bigint,
  count: number,
  visit: (key: string) => void,
): number {
  const cur = Number(cursor);
  let state = cur === 0 ? undefined : cursors.get(cur);
  cursors.delete(cur);
  if (state === undefined) {
    const slot = cur === 0 ? table.nextSlot(0) : Number(cursor & SLOT_MASK);
    if (slot === -1) return 0;
    const within = cursor >> SLOT_BITS;
    let skip = 0;
    if (within !== 0n) {
      const size = table.slotSize(slot);
      const w = Number(within);
      skip = w >= SLOT_CURSOR_TAG_SPACE && Math.floor(w / SLOT_CURSOR_TAG_SPACE) <= size
        ? Math.floor(w / SLOT_CURSOR_TAG_SPACE)
        : redisResumePoint(within, size, count).start;
    }
    state = { slot, it: table.slotKeys(slot) ?? NO_KEYS, pos: 0 };
    for (let i = 0; i < skip && !state.it.next().done; i++) state.pos++;
  }
  for (let left = count; left > 0;) {
    const r = state.it.next();
    if (r.done) {
      const slot = table.nextSlot(state.slot + 1);
      if (slot === -1) return 0;
      state = { slot, it: table.slotKeys(slot) ?? NO_KEYS, pos: 0 };
      continue;
    }
    state.pos++;
    left--;
    visit(r.value);
  }
  if (exhausted(state.it) && table.nextSlot(state.slot + 1) === -1) return 0;
  return issueCursor(cursors, state, state.pos, SLOT_CURSOR_TAG_SPACE, CLUSTER_SLOTS, state.slot);
}

const SLOT_BITS = 14n;
const SLOT_MASK = (1n << SLOT_BITS) - 1n;
