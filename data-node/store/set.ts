/**
 * Set values. Redis 7.0 reports "intset" for a set of 64-bit integers up to
 * set-max-intset-entries, else "hashtable" (conversion is final).
 *
 * An intset is held as Redis's intset bytes in one binary string (listpack.ts: sorted values
 * of one width, which only grows), so RDB files and DUMP carry it as is. A small hash-table
 * set (up to 128 members of up to 64 bytes) is held as a listpack string of its members in
 * insertion order, past that as a JS Set; both report "hashtable". A change to a string
 * builds a new one. The object (also the key's entry, see EntryBase) has that one field of its
 * own: SSCAN cursors live in a side table, and a
 * set built in bulk (a load, SINTERSTORE...) is an `undecided` Set, reported as an intset as
 * before, until checkEncoding decides.
 */
import { AggregateValue } from "./types.ts";
import { cursorsOf, type ScanCursors } from "./cursor.ts";
import { parseI64 } from "../../shared/int64.ts";
import {
  COMPACT_OVERHEAD,
  intKey,
  intWidthOf,
  IS_EMPTY,
  isCount,
  isFrom,
  isGet,
  isInsert,
  isIntset,
  isRemove,
  isSearch,
  isValues,
  isWidth,
  LP_HEADER,
  lpAtEnd,
  lpBuild,
  lpCount,
  lpCut,
  lpFind,
  lpFrom,
  lpGet,
  lpNext,
  lpSeek,
  lpStrings,
} from "./listpack.ts";

/** Limits of a hash-table set held as a listpack string (ours: Redis 7.0 has none). */
const LISTPACK_MAX_ENTRIES = 128;
const LISTPACK_MAX_VALUE = 64;

/** Sets whose encoding is not decided yet (they report intset until then). */
const undecided = new WeakSet<Set<string>>();
/** How many were marked (an upper bound: the set is weak); at 0, no lookups. */
let undecidedCount = 0;

function isUndecided(s: Set<string>): boolean {
  return undecidedCount !== 0 && undecided.has(s);
}

function decide(s: Set<string>): void {
  if (undecidedCount !== 0 && undecided.delete(s)) undecidedCount--;
}

function byValue(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Members as a hash-table set: a listpack string when small enough, else a Set. */
function hashTable(members: readonly string[]): string | Set<string> {
  if (
    members.length <= LISTPACK_MAX_ENTRIES && members.every((m) => m.length <= LISTPACK_MAX_VALUE)
  ) {
    return lpFrom(members);
  }
  return new Set(members);
}

/** Hash-table sets up to this size pick random members uniformly (a walk of at most this). */
const UNIFORM_PICK_MAX = 1024;
/** A larger set's roving iterator moves 0..ROVER_STRIDE-1 members between picks. */
const ROVER_STRIDE = 64;
/** The roving iterators of large sets (no field on every set for the few that need one). */
const rovers = new WeakMap<Set<string>, Iterator<string>>();

export class SetValue extends AggregateValue {
  private d: string | Set<string>;

  /** Empty, or holding the members (then checkEncoding decides the encoding). */
  constructor(members?: Iterable<string>) {
    super();
    if (members === undefined) {
      this.d = IS_EMPTY;
      return;
    }
    const s = new Set(members);
    undecided.add(s);
    undecidedCount++;
    this.d = s;
  }

  /**
   * A set loaded from an intset's bytes: kept as they are when they are a valid intset
   * (sorted, distinct, width 2/4/8), rebuilt from their values otherwise (and at least as
   * wide, since an intset never narrows). The encoding is then for checkEncoding to check.
   */
  static fromIntset(values: readonly (number | bigint)[], width: number): SetValue {
    const sorted = [...values].sort(byValue);
    let w = [2, 4, 8].includes(width) ? width : 2;
    for (const v of sorted) w = Math.max(w, intWidthOf(v));
    const out = new SetValue();
    out.d = isFrom(sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]), w);
    return out;
  }

  get type(): "set" {
    return "set";
  }

  /** Open SSCAN iterations (hash-table sets only). */
  get cursors(): ScanCursors {
    return cursorsOf(this);
  }

  get size(): number {
    const d = this.d;
    if (typeof d !== "string") return d.size;
    return isIntset(d) ? isCount(d) : lpCount(d);
  }

  /** The intset bytes while the set is held as one, else null. */
  intset(): string | null {
    const d = this.d;
    return typeof d === "string" && isIntset(d) ? d : null;
  }

  has(member: string): boolean {
    const d = this.d;
    if (typeof d !== "string") return d.has(member);
    if (!isIntset(d)) return lpFind(d, member, 1) >= 0;
    const v = intKey(member);
    return v !== null && isSearch(d, v) >= 0;
  }

  /**
   * SADD's members from args[from], as Redis adds them: an intset takes integers up to
   * maxIntset members and converts for good on the first other member or past that count.
   * Returns how many members were new.
   */
  addMembers(args: readonly string[], from: number, maxIntset: number): number {
    let d = this.d;
    if (typeof d !== "string" && isUndecided(d)) {
      this.checkEncoding(maxIntset);
      d = this.d;
    }
    if (typeof d === "string" && isIntset(d)) {
      let is = d, added = 0;
      for (let i = from; i < args.length; i++) {
        const v = intKey(args[i]!);
        // A member that is no integer converts first; one past the count limit, after.
        if (v === null) {
          this.d = is;
          this.toHashTable();
          return added + this.addMembers(args, i, maxIntset);
        }
        const at = isSearch(is, v);
        if (at >= 0) continue;
        is = isInsert(is, -at - 1, v);
        added++;
        if (isCount(is) > maxIntset) {
          this.d = is;
          this.toHashTable();
          return added + this.addMembers(args, i + 1, maxIntset);
        }
      }
      this.d = is;
      return added;
    }
    if (typeof d === "string") return this.listpackAdd(d, args, from);
    let added = 0;
    for (let i = from; i < args.length; i++) {
      const had = d.size;
      if (d.add(args[i]!).size !== had) added++;
    }
    return added;
  }

  /** New members appended to a listpack set, or into a Set past its limits. */
  private listpackAdd(lp: string, args: readonly string[], from: number): number {
    const n = lpCount(lp);
    const fresh: string[] = [];
    const seen = args.length - from > 16 ? new Set<string>() : null;
    for (let i = from; i < args.length; i++) {
      const m = args[i]!;
      if (lpFind(lp, m, 1) >= 0 || (seen ? seen.has(m) : fresh.includes(m))) continue;
      if (n + fresh.length + 1 > LISTPACK_MAX_ENTRIES || m.length > LISTPACK_MAX_VALUE) {
        const s = new Set(lpStrings(lp));
        for (const f of fresh) s.add(f);
        this.d = s;
        return fresh.length + this.addMembers(args, i, 0);
      }
      seen?.add(m);
      fresh.push(m);
    }
    if (fresh.length === 0) return 0;
    lpBuild.begin();
    lpBuild.copy(lp, LP_HEADER, lp.length - 1);
    for (const m of fresh) lpBuild.add(m);
    this.d = lpBuild.finish(n + fresh.length);
    return fresh.length;
  }

  /** An intset's members into a hash-table form. */
  private toHashTable(): void {
    const d = this.d;
    if (typeof d === "string" && isIntset(d)) this.d = hashTable(this.members());
  }

  delete(member: string): boolean {
    const d = this.d;
    if (typeof d !== "string") return d.delete(member);
    if (isIntset(d)) {
      const v = intKey(member);
      const i = v === null ? -1 : isSearch(d, v);
      if (i < 0) return false;
      this.d = isRemove(d, i);
      return true;
    }
    const p = lpFind(d, member, 1);
    if (p < 0) return false;
    this.d = lpCut(d, p, lpNext(d, p), 1);
    return true;
  }

  /** Removes several members (one rebuild for a string form); returns how many were there. */
  deleteMany(members: readonly string[]): number {
    const d = this.d;
    if (typeof d !== "string" || members.length < 4) {
      let n = 0;
      for (const m of members) if (this.delete(m)) n++;
      return n;
    }
    const gone = new Set(members);
    const keep = this.members().filter((m) => !gone.has(m));
    const removed = this.size - keep.length;
    if (isIntset(d)) this.d = isFrom(keep.map((m) => intKey(m)!), isWidth(d));
    else this.d = lpFrom(keep);
    return removed;
  }

  /**
   * A random member, or undefined for an empty set. Compact sets and hash-table sets of up to
   * UNIFORM_PICK_MAX members pick uniformly; a larger one advances a roving iterator by a random
   * stride (O(1) amortized, as SPOP and SRANDMEMBER are in Redis, instead of listing the set).
   */
  randomMember(): string | undefined {
    const d = this.d;
    if (typeof d === "string") {
      const n = this.size;
      if (n === 0) return undefined;
      const i = Math.floor(Math.random() * n);
      return isIntset(d) ? String(isGet(d, i)) : lpGet(d, lpSeek(d, i, n));
    }
    if (d.size === 0) return undefined;
    if (d.size <= UNIFORM_PICK_MAX) {
      let i = Math.floor(Math.random() * d.size);
      for (const m of d) if (i-- === 0) return m;
    }
    let it = rovers.get(d);
    if (it === undefined) rovers.set(d, it = d.values());
    for (let skip = Math.floor(Math.random() * ROVER_STRIDE);;) {
      const r = it.next();
      if (r.done) {
        // Wrapped around: start over (a live iterator sees members added meanwhile).
        rovers.set(d, it = d.values());
        continue;
      }
      if (skip-- === 0) return r.value;
    }
  }

  /** The members in Redis's order: ascending for an intset, else insertion order. */
  members(): string[] {
    const d = this.d;
    if (typeof d !== "string") {
      const out = [...d];
      if (isUndecided(d) && out.every(isInt64)) out.sort((a, b) => byValue(BigInt(a), BigInt(b)));
      return out;
    }
    if (!isIntset(d)) return lpStrings(d);
    return isValues(d).map(String);
  }

  forEach(fn: (member: string) => void): void {
    const d = this.d;
    if (typeof d !== "string") d.forEach((m) => fn(m));
    else if (!isIntset(d)) {
      for (let p = LP_HEADER; !lpAtEnd(d, p); p = lpNext(d, p)) fn(lpGet(d, p));
    } else for (const v of isValues(d)) fn(String(v));
  }

  /** The members as a Set (the set's own once a Set: read only). */
  asSet(): ReadonlySet<string> {
    const d = this.d;
    return typeof d === "string" ? new Set(this.members()) : d;
  }

  /**
   * What SSCAN pages through for a hash-table set: the Set itself (its live iterators see
   * changes), or for a listpack the members when the scan starts (every member present for
   * the whole scan is among them).
   */
  scanKeys(): { keys(): Iterator<string>; readonly size: number } {
    const d = this.d;
    if (typeof d !== "string") return d;
    return { size: lpCount(d), keys: () => lpStrings(d)[Symbol.iterator]() };
  }

  /** After a bulk build or load: the encoding from the contents (an intset stays final). */
  checkEncoding(maxIntset: number): void {
    const d = this.d;
    if (typeof d === "string") {
      if (isIntset(d) && isCount(d) > maxIntset) this.toHashTable();
      return;
    }
    if (!isUndecided(d)) return;
    decide(d);
    const values: (number | bigint)[] = [];
    if (d.size <= maxIntset) {
      for (const m of d) {
        const v = intKey(m);
        if (v === null) break;
        values.push(v);
      }
    }
    if (values.length === d.size) {
      values.sort(byValue);
      let w = 2;
      for (const v of values) w = Math.max(w, intWidthOf(v));
      this.d = isFrom(values, w);
    } else if (d.size <= LISTPACK_MAX_ENTRIES) this.d = hashTable([...d]);
  }

  encoding(): string {
    const d = this.d;
    if (typeof d === "string") return isIntset(d) ? "intset" : "hashtable";
    return isUndecided(d) ? "intset" : "hashtable";
  }

  /**
   * V8's bytes (measured): a string's plus the object and string headers; a Set's estimated
   * from up to 8 members (a string and a table slot each), in O(1).
   */
  memoryUsage(): number {
    const d = this.d;
    if (typeof d === "string") return COMPACT_OVERHEAD + d.length;
    let sampled = 0, bytes = 0;
    for (const m of d) {
      bytes += m.length;
      if (++sampled === 8) break;
    }
    return 64 + d.size * ((sampled ? bytes / sampled : 0) + 40);
  }

  clone(): SetValue {
    const s = new SetValue();
    const d = this.d;
    if (typeof d === "string") s.d = d;
    else {
      const copy = new Set(d);
      if (isUndecided(d)) {
        undecided.add(copy);
        undecidedCount++;
      }
      s.d = copy;
    }
    return s;
  }
}

export function isInt64(s: string): boolean {
  return parseI64(s) !== null;
}
