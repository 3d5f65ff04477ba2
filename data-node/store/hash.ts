/**
 * Hash values: field -> value, in insertion order (HSCAN cursors rely on that).
 *
 * While the encoding is listpack the hash is held as Redis's listpack bytes in one binary
 * string (listpack.ts: fields and values alternating, in insertion order; a change builds a
 * new string), so RDB files and DUMP carry it as is. Past the listpack limits it becomes a
 * hash table (a KeyDict), for good, as Redis converts. The object (also the key's entry, see
 * EntryBase) has that one field of its own (V8 gives every field 8 bytes): HSCAN cursors live
 * in a side table (cursorsOf), and a hash built in
 * bulk (a load) too large to start as a listpack is a table marked `undecided` until
 * checkEncoding decides its encoding.
 */
import { AggregateValue } from "./types.ts";
import { cursorsOf, type ScanCursors } from "./cursor.ts";
import { KeyDict, type StringTableView } from "./key_dict.ts";
import {
  COMPACT_OVERHEAD,
  intKey,
  LP_EMPTY,
  LP_HEADER,
  lpAtEnd,
  lpBuild,
  lpCount,
  lpCut,
  lpEquals,
  lpFind,
  lpGet,
  lpNext,
  lpStrLen,
} from "./listpack.ts";

export interface EncodingLimits {
  maxEntries: number;
  maxValue: number;
}

/** A hash built in bulk from more entries than this starts as an undecided table. */
const BULK_LISTPACK_MAX = 8192;

/** Tables of hashes whose encoding is not decided yet (they report listpack until then). */
const undecided = new WeakSet<KeyDict<string>>();
/** How many were marked (an upper bound: the set is weak); at 0, no lookups. */
let undecidedCount = 0;

function markUndecided(m: KeyDict<string>): void {
  undecided.add(m);
  undecidedCount++;
}

function isUndecided(m: KeyDict<string>): boolean {
  return undecidedCount !== 0 && undecided.has(m);
}

function decide(m: KeyDict<string>): void {
  if (undecidedCount !== 0 && undecided.delete(m)) undecidedCount--;
}

export class HashValue extends AggregateValue {
  /**
   * The listpack while small, else a KeyDict (fields arrive as fresh strings, which a Map would
   * internalize).
   */
  private d: string | KeyDict<string>;

  /** Empty, or holding the entries (a load: then checkEncoding decides the encoding). */
  constructor(entries?: Iterable<[string, string]>) {
    super();
    if (entries === undefined) {
      this.d = LP_EMPTY;
      return;
    }
    const m = KeyDict.from(entries);
    if (m.size <= BULK_LISTPACK_MAX) this.d = listpackOf(m);
    else {
      markUndecided(m);
      this.d = m;
    }
  }

  /** Converted to a hash table, for good. */
  private get big(): boolean {
    const d = this.d;
    return typeof d !== "string" && !isUndecided(d);
  }

  /** Open HSCAN iterations (hash tables only). */
  get cursors(): ScanCursors {
    return cursorsOf(this);
  }

  get type(): "hash" {
    return "hash";
  }

  get size(): number {
    const d = this.d;
    return typeof d === "string" ? lpCount(d) >> 1 : d.size;
  }

  /** The listpack bytes while the hash is held as one, else null. */
  listpack(): string | null {
    return typeof this.d === "string" ? this.d : null;
  }

  get(field: string): string | undefined {
    const d = this.d;
    if (typeof d !== "string") return d.get(field);
    const p = lpFind(d, field, 2);
    return p < 0 ? undefined : lpGet(d, lpNext(d, p));
  }

  has(field: string): boolean {
    const d = this.d;
    return typeof d === "string" ? lpFind(d, field, 2) >= 0 : d.has(field);
  }

  /** Sets a field; true when it is new. A changed field keeps its place. */
  set(field: string, value: string): boolean {
    const d = this.d;
    if (typeof d !== "string") {
      const had = d.size;
      d.set(field, value);
      return d.size !== had;
    }
    const p = lpFind(d, field, 2);
    const n = lpCount(d);
    if (p < 0) {
      lpBuild.begin();
      lpBuild.copy(d, LP_HEADER, d.length - 1);
      lpBuild.add(field);
      lpBuild.add(value);
      this.d = lpBuild.finish(n + 2);
      return true;
    }
    const v = lpNext(d, p);
    // The same value again (a common overwrite): nothing to rebuild.
    if (lpEquals(d, v, value, intKey(value))) return false;
    lpBuild.begin();
    lpBuild.copy(d, LP_HEADER, v);
    lpBuild.add(value);
    lpBuild.copy(d, lpNext(d, v), d.length - 1);
    this.d = lpBuild.finish(n);
    return false;
  }

  /** HSET's field/value pairs from args[from]; returns how many fields were new. */
  setPairs(args: readonly string[], from: number): number {
    const d = this.d;
    if (typeof d === "string" && args.length - from > 2 && !repeatsField(args, from)) {
      return this.setDistinct(d, args, from);
    }
    let created = 0;
    for (let i = from; i < args.length; i += 2) if (this.set(args[i]!, args[i + 1]!)) created++;
    return created;
  }

  /** Several distinct fields into a listpack with one rebuild. */
  private setDistinct(d: string, args: readonly string[], from: number): number {
    // Value offsets of the fields already there (with their argument index), ascending.
    const replaced: number[] = [];
    const added: number[] = [];
    for (let i = from; i < args.length; i += 2) {
      const p = lpFind(d, args[i]!, 2);
      if (p < 0) added.push(i);
      else replaced.push(lpNext(d, p), i);
    }
    if (replaced.length > 2) sortPairs(replaced);
    lpBuild.begin();
    let pos = LP_HEADER;
    for (let k = 0; k < replaced.length; k += 2) {
      const v = replaced[k]!;
      lpBuild.copy(d, pos, v);
      lpBuild.add(args[replaced[k + 1]! + 1]!);
      pos = lpNext(d, v);
    }
    lpBuild.copy(d, pos, d.length - 1);
    for (const i of added) {
      lpBuild.add(args[i]!);
      lpBuild.add(args[i + 1]!);
    }
    this.d = lpBuild.finish(lpCount(d) + added.length * 2);
    return added.length;
  }

  delete(field: string): boolean {
    const d = this.d;
    if (typeof d !== "string") return d.delete(field);
    const p = lpFind(d, field, 2);
    if (p < 0) return false;
    this.d = lpCut(d, p, lpNext(d, lpNext(d, p)), 2);
    return true;
  }

  /** Every field and value, in order. */
  forEach(fn: (field: string, value: string) => void): void {
    const d = this.d;
    if (typeof d !== "string") {
      d.forEach((v, f) => fn(f, v));
      return;
    }
    for (let p = LP_HEADER; !lpAtEnd(d, p);) {
      const f = lpGet(d, p);
      p = lpNext(d, p);
      fn(f, lpGet(d, p));
      p = lpNext(d, p);
    }
  }

  *entries(): IterableIterator<[string, string]> {
    const d = this.d;
    if (typeof d !== "string") {
      yield* d;
      return;
    }
    for (let p = LP_HEADER; !lpAtEnd(d, p);) {
      const f = lpGet(d, p);
      p = lpNext(d, p);
      const v = lpGet(d, p);
      p = lpNext(d, p);
      yield [f, v];
    }
  }

  fields(): string[] {
    const out: string[] = [];
    this.forEach((f) => out.push(f));
    return out;
  }

  /** The fields and values as a table (the hash table itself once converted: read only). */
  toMap(): StringTableView<string> {
    return typeof this.d === "string" ? new Map(this.entries()) : this.d;
  }

  /** The hash table a large hash pages through for HSCAN; null while a listpack. */
  table(): StringTableView<string> | null {
    return this.big ? this.d as KeyDict<string> : null;
  }

  /** Records whether the contents still fit a listpack under the configured limits. */
  checkEncoding(limits: EncodingLimits): void {
    const d = this.d;
    if (typeof d === "string") {
      if (lpCount(d) >> 1 > limits.maxEntries || longest(d) > limits.maxValue) this.convert();
      return;
    }
    if (!isUndecided(d)) return;
    decide(d);
    let fits = d.size <= limits.maxEntries;
    if (fits) {
      d.eachWhile((v, f) => (fits = f.length <= limits.maxValue && v.length <= limits.maxValue));
    }
    if (fits) this.d = listpackOf(d);
  }

  /**
   * HSET/HMSET's check before writing: any field or value argument past the listpack value
   * limit converts the hash, even when a later pair of the same command overwrites it. With
   * checkSize() after the write, this replaces a whole-hash checkEncoding().
   */
  checkArgs(args: string[], from: number, limits: EncodingLimits): void {
    if (this.big) return;
    for (let i = from; i < args.length; i++) {
      if (args[i]!.length > limits.maxValue) {
        this.convert();
        return;
      }
    }
  }

  /** After checkArgs and the write: the entry count limit. */
  checkSize(limits: EncodingLimits): void {
    if (!this.big && this.size > limits.maxEntries) this.convert();
  }

  /** To a hash table, for good. */
  private convert(): void {
    const d = this.d;
    if (typeof d === "string") this.d = KeyDict.from(this.entries());
    else decide(d);
  }

  encoding(): string {
    return this.big ? "hashtable" : "listpack";
  }

  /**
   * V8's bytes (measured): a listpack costs its bytes plus the object and string headers; a
   * table entry its two strings (16-byte headers, 8-byte aligned) and its slot in the table,
   * estimated from up to 8 entries (as MEMORY USAGE samples). O(1) either way.
   */
  memoryUsage(): number {
    const d = this.d;
    if (typeof d === "string") return COMPACT_OVERHEAD + d.length;
    let sampled = 0, bytes = 0;
    d.eachWhile((v, f) => {
      bytes += f.length + v.length;
      return ++sampled < 8;
    });
    const per = sampled ? bytes / sampled : 0;
    return 64 + d.size * (per + 84);
  }

  clone(): HashValue {
    const h = new HashValue();
    const d = this.d;
    if (typeof d === "string") h.d = d;
    else {
      const m = d.clone();
      if (isUndecided(d)) markUndecided(m);
      h.d = m;
    }
    return h;
  }
}

/** The listpack of a table's entries. */
function listpackOf(m: KeyDict<string>): string {
  lpBuild.begin();
  m.forEach((v, f) => {
    lpBuild.add(f);
    lpBuild.add(v);
  });
  return lpBuild.finish(m.size * 2);
}

/** The longest field or value of a listpack hash, as a string. */
function longest(lp: string): number {
  let max = 0;
  for (let p = LP_HEADER; !lpAtEnd(lp, p); p = lpNext(lp, p)) max = Math.max(max, lpStrLen(lp, p));
  return max;
}

/** Does a field repeat among the pairs from args[from]? */
function repeatsField(args: readonly string[], from: number): boolean {
  if (args.length - from > 32) {
    const seen = new Set<string>();
    for (let i = from; i < args.length; i += 2) {
      if (seen.has(args[i]!)) return true;
      seen.add(args[i]!);
    }
    return false;
  }
  for (let i = from; i < args.length; i += 2) {
    for (let j = i + 2; j < args.length; j += 2) if (args[i] === args[j]) return true;
  }
  return false;
}

/** Sorts [offset, index] pairs held flat, by offset (few: insertion sort). */
function sortPairs(a: number[]): void {
  for (let i = 2; i < a.length; i += 2) {
    const o = a[i]!, x = a[i + 1]!;
    let j = i - 2;
    for (; j >= 0 && a[j]! > o; j -= 2) {
      a[j + 2] = a[j]!;
      a[j + 3] = a[j + 1]!;
    }
    a[j + 2] = o;
    a[j + 3] = x;
  }
}
