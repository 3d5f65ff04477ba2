/**
 * Sorted set values (ZSetValue, at the end): a listpack while small, then (the encoding Redis
 * calls skiplist) a member -> score map plus the entries ordered by (score, member) in a counted
 * B+tree, so rank, range-by-rank and range-by-score are O(log n), as in Redis. Members compare
 * as bytes (binary strings compare by char code, which is byte order).
 */
import { AggregateValue } from "./types.ts";
import { Cursor, RankTree } from "./rank_tree.ts";
import { cursorsOf, type ScanCursors } from "./cursor.ts";
import { KeyDict, type StringTableView } from "./key_dict.ts";
import { formatG17 } from "../../shared/resp/format.ts";
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
  lpLast,
  lpNext,
  lpPrev,
  lpScore,
  lpSeek,
} from "./listpack.ts";

/**
 * V8 heap bytes per member of a big sorted set besides the member's characters (measured: 50
 * for its map entry and tree slots, 14 for the string's header and padding).
 */
const MEMBER_COST = 64;

/** A score range with Redis's exclusive-bound flags (ZRANGEBYSCORE "(1" etc). */
export interface ScoreRange {
  min: number;
  max: number;
  minEx: boolean;
  maxEx: boolean;
}

/**
 * One end of a lexicographic range: "-" (below every string), "+" (above every string), or a
 * string with its exclusive flag ("(a" / "[a"). Redis gives "-" and "+" the exclusive flag.
 */
export interface LexBound {
  kind: -1 | 0 | 1;
  v: string;
  ex: boolean;
}

/** A lexicographic range as ZRANGEBYLEX parses it; min may exceed max. */
export interface LexRange {
  min: LexBound;
  max: LexBound;
}

/** Compares a member with a bound, as Redis's sdscmplex does. */
function cmpLex(m: string, b: LexBound): number {
  if (b.kind !== 0) return -b.kind;
  return m < b.v ? -1 : m > b.v ? 1 : 0;
}

/** Compares two bounds: equal sentinels compare equal, "-" is below and "+" above anything. */
function cmpBounds(a: LexBound, b: LexBound): number {
  if (a.kind !== 0 && a.kind === b.kind) return 0;
  if (a.kind === -1 || b.kind === 1) return -1;
  if (a.kind === 1 || b.kind === -1) return 1;
  return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
}

export function gteMin(score: number, r: ScoreRange): boolean {
  return r.minEx ? score > r.min : score >= r.min;
}
export function lteMax(score: number, r: ScoreRange): boolean {
  return r.maxEx ? score < r.max : score <= r.max;
}
export function lexGteMin(m: string, r: LexRange): boolean {
  const c = cmpLex(m, r.min);
  return r.min.ex ? c > 0 : c >= 0;
}
export function lexLteMax(m: string, r: LexRange): boolean {
  const c = cmpLex(m, r.max);
  return r.max.ex ? c < 0 : c <= 0;
}

/** Ranges that can select nothing whatever the set holds: min above max, or equal and open. */
export function lexRangeEmpty(r: LexRange): boolean {
  const c = cmpBounds(r.min, r.max);
  return c > 0 || (c === 0 && (r.min.ex || r.max.ex));
}

/**
 * The skiplist encoding (and a sorted set loaded in bulk whose encoding is not decided yet:
 * `big` false, where the listpack rules apply, as in Redis's listpack code): a member -> score
 * map and the entries in order in a counted B+tree (rank_tree.ts), which answers what Redis's
 * skiplist with spans answers in O(log n).
 */
class RankedSet {
  /** Member -> score; a KeyDict: members are fresh strings, which a Map would internalize. */
  readonly scores = new KeyDict<number>();
  private readonly tree = new RankTree();
  big = false;
  /**
   * Adjacent pairs (in score order) whose members are in descending byte order. At zero the
   * list is also sorted by member, so lex bounds are monotonic and searches by member are
   * exact; otherwise lex ranges walk the list as Redis's listpack code does (for a skiplist, as
   * its descent does when no node is taller than level 1).
   */
  private inversions = 0;

  get size(): number {
    return this.scores.size;
  }

  /**
   * Adds or updates; returns "added", "updated" or "same". A listpack stores an integral score
   * as an integer, so -0 becomes 0 there; a skiplist keeps -0.
   */
  add(member: string, score: number): "added" | "updated" | "same" {
    if (score === 0 && !this.big) score = 0;
    const old = this.scores.get(member);
    if (old !== undefined) {
      if (old === score) return "same";
      this.unlink(member, old);
      this.insert(member, score);
      this.scores.set(member, score);
      return "updated";
    }
    this.insert(member, score);
    this.scores.set(member, score);
    return "added";
  }

  /**
   * Adds as Redis's zsetAdd does: a listpack becomes a skiplist *before* it takes a new member
   * that would not fit (so that member keeps a -0 score).
   */
  addWithLimits(
    member: string,
    score: number,
    limits: { maxEntries: number; maxValue: number },
  ): "added" | "updated" | "same" {
    if (
      !this.big && !this.scores.has(member) &&
      (this.scores.size + 1 > limits.maxEntries || member.length > limits.maxValue)
    ) {
      this.big = true;
    }
    return this.add(member, score);
  }

  /** Switches to the skiplist encoding (Redis never converts back on its own). */
  toSkiplist(): void {
    this.big = true;
  }

  remove(member: string): boolean {
    const old = this.scores.get(member);
    if (old === undefined) return false;
    this.unlink(member, old);
    this.scores.delete(member);
    return true;
  }

  private insert(member: string, score: number): void {
    const t = this.tree;
    t.insert(score, member);
    const p = t.before, q = t.after;
    if (p !== null && q !== null && q < p) this.inversions--;
    if (p !== null && member < p) this.inversions++;
    if (q !== null && q < member) this.inversions++;
  }

  private unlink(member: string, score: number): void {
    const t = this.tree;
    if (!t.delete(score, member)) throw new Error("sorted set tree out of sync");
    const p = t.before, q = t.after;
    if (p !== null && member < p) this.inversions--;
    if (q !== null && q < member) this.inversions--;
    if (p !== null && q !== null && q < p) this.inversions++;
  }

  /** 0-based rank by ascending (score, member), or -1. */
  rank(member: string): number {
    const score = this.scores.get(member);
    return score === undefined ? -1 : this.tree.rankOf(score, member);
  }

  /** Entries from rank start to end inclusive (clamped by caller), ascending or descending. */
  *rangeByRank(start: number, end: number, reverse = false): IterableIterator<[string, number]> {
    const n = this.scores.size;
    if (start > end || start >= n) return;
    const x = this.tree.at(reverse ? n - 1 - start : start);
    if (!x) return;
    for (let i = start; i <= end; i++) {
      yield [x.member, x.score];
      if (!(reverse ? x.prev() : x.next())) return;
    }
  }

  /** The rank of the first entry with score in range (ascending), or -1. */
  private firstInScore(r: ScoreRange): number {
    const k = this.tree.firstWhere((s) => gteMin(s, r));
    const x = this.tree.at(k);
    return x && lteMax(x.score, r) ? k : -1;
  }

  /** The rank of the last entry with score in range, or -1. */
  private lastInScore(r: ScoreRange): number {
    const k = this.tree.firstWhere((s) => !lteMax(s, r)) - 1;
    const x = this.tree.at(k);
    return x && gteMin(x.score, r) ? k : -1;
  }

  *rangeByScore(r: ScoreRange, reverse = false): IterableIterator<[string, number]> {
    const x = this.tree.at(reverse ? this.lastInScore(r) : this.firstInScore(r));
    if (!x) return;
    do {
      if (reverse ? !gteMin(x.score, r) : !lteMax(x.score, r)) return;
      yield [x.member, x.score];
    } while (reverse ? x.prev() : x.next());
  }

  /** True when score order is also member order (lex ranges behave as documented). */
  lexOrdered(): boolean {
    return this.inversions === 0;
  }

  /** The first entry (list order) at or above the lex min, and its 0-based rank. */
  private firstGteLexMin(r: LexRange): [Cursor, number] | null {
    if (this.inversions === 0) {
      const k = this.tree.firstWhere((_, m) => lexGteMin(m, r));
      const x = this.tree.at(k);
      return x ? [x, k] : null;
    }
    const x = this.tree.first();
    if (!x) return null;
    let i = 0;
    do {
      if (lexGteMin(x.member, r)) return [x, i];
      i++;
    } while (x.next());
    return null;
  }

  /** The last entry (list order) at or below the lex max, and its 0-based rank. */
  private lastLteLexMax(r: LexRange): [Cursor, number] | null {
    if (this.inversions === 0) {
      const k = this.tree.firstWhere((_, m) => !lexLteMax(m, r)) - 1;
      const x = this.tree.at(k);
      return x ? [x, k] : null;
    }
    if (this.big) {
      // A skiplist descends forward while in range; with the most common node levels that
      // stops before the first node past max (Redis's result depends on its random levels).
      const x = this.tree.first();
      let last = -1;
      for (let i = 0; x && lexLteMax(x.member, r); i++) {
        last = i;
        if (!x.next()) break;
      }
      return last < 0 ? null : [this.tree.at(last)!, last];
    }
    // A listpack walks back from the tail.
    const x = this.tree.last();
    if (!x) return null;
    let i = this.scores.size - 1;
    do {
      if (lexLteMax(x.member, r)) return [x, i];
      i--;
    } while (x.prev());
    return null;
  }

  /** Redis's first-in-lex-range: early exits, then the first entry >= min if it is <= max. */
  private firstInLex(r: LexRange): [Cursor, number] | null {
    if (!this.isInLexRange(r)) return null;
    const f = this.firstGteLexMin(r);
    return f && lexLteMax(f[0].member, r) ? f : null;
  }

  private lastInLex(r: LexRange): [Cursor, number] | null {
    if (!this.isInLexRange(r)) return null;
    const l = this.lastLteLexMax(r);
    return l && lexGteMin(l[0].member, r) ? l : null;
  }

  private isInLexRange(r: LexRange): boolean {
    const first = this.tree.first(), last = this.tree.last();
    if (lexRangeEmpty(r) || !first || !last) return false;
    return lexGteMin(last.member, r) && lexLteMax(first.member, r);
  }

  /**
   * ZRANGEBYLEX: from the first (last, reversed) entry in range, skips `offset` entries without
   * checking them, then takes up to `limit` entries (negative: no limit) while still in range.
   * With members out of score order this follows the list order, as Redis does.
   */
  rangeByLexLimit(
    r: LexRange,
    reverse: boolean,
    offset: number,
    limit: number,
  ): [string, number][] {
    const out: [string, number][] = [];
    if (offset < 0) return out;
    const start = reverse ? this.lastInLex(r) : this.firstInLex(r);
    if (!start) return out;
    const x = start[0];
    for (; offset > 0; offset--) if (!(reverse ? x.prev() : x.next())) return out;
    for (; limit !== 0; limit--) {
      if (reverse ? !lexGteMin(x.member, r) : !lexLteMax(x.member, r)) break;
      out.push([x.member, x.score]);
      if (!(reverse ? x.prev() : x.next())) break;
    }
    return out;
  }

  /** ZRANGEBYSCORE with Redis's LIMIT semantics (see rangeByLexLimit). */
  rangeByScoreLimit(
    r: ScoreRange,
    reverse: boolean,
    offset: number,
    limit: number,
  ): [string, number][] {
    const out: [string, number][] = [];
    if (offset < 0 || offset >= this.scores.size) return out;
    const x = this.tree.at(reverse ? this.lastInScore(r) : this.firstInScore(r));
    if (!x) return out;
    for (; offset > 0; offset--) if (!(reverse ? x.prev() : x.next())) return out;
    for (; limit !== 0; limit--) {
      if (reverse ? !gteMin(x.score, r) : !lteMax(x.score, r)) break;
      out.push([x.member, x.score]);
      if (!(reverse ? x.prev() : x.next())) break;
    }
    return out;
  }

  /**
   * ZLEXCOUNT. A listpack counts forward from the first entry in range; a skiplist subtracts
   * the ranks of the first and the last entry in range, which differ when members are out of
   * score order (the result can even be negative, as Redis's unsigned arithmetic gives).
   */
  countInLex(r: LexRange): number {
    const first = this.firstInLex(r);
    if (!first) return 0;
    if (!this.big) {
      const x = first[0];
      let n = 0;
      do {
        if (!lexLteMax(x.member, r)) break;
        n++;
      } while (x.next());
      return n;
    }
    const last = this.lastInLex(r);
    return last ? last[1] - first[1] + 1 : this.scores.size - first[1];
  }

  /**
   * ZREMRANGEBYLEX: deletes from the first entry >= min while entries are <= max. A listpack
   * starts from the first entry in range (early exits included); a skiplist from the first
   * entry >= min, unchecked.
   */
  deleteRangeByLex(r: LexRange): number {
    const start = this.big ? this.firstGteLexMin(r) : this.firstInLex(r);
    return this.removeFrom(start ? start[0] : null, (x) => lexLteMax(x.member, r));
  }

  deleteRangeByScore(r: ScoreRange): number {
    return this.removeFrom(this.tree.at(this.firstInScore(r)), (x) => lteMax(x.score, r));
  }

  /** Removes the entries from x on while `inRange` holds for them; returns how many. */
  private removeFrom(x: Cursor | null, inRange: (x: Cursor) => boolean): number {
    if (!x) return 0;
    const doomed: string[] = [];
    do {
      if (!inRange(x)) break;
      doomed.push(x.member);
    } while (x.next());
    for (const m of doomed) this.remove(m);
    return doomed.length;
  }

  /** Number of members with score in range: two rank lookups. */
  countInScore(r: ScoreRange): number {
    const first = this.firstInScore(r);
    if (first < 0) return 0;
    const last = this.lastInScore(r);
    return last < 0 ? 0 : last - first + 1;
  }

  /** All entries ascending. */
  entries(): IterableIterator<[string, number]> {
    return this.tree.entries();
  }

  first(): [string, number] | null {
    const x = this.tree.first();
    return x ? [x.member, x.score] : null;
  }

  last(): [string, number] | null {
    const x = this.tree.last();
    return x ? [x.member, x.score] : null;
  }

  checkEncoding(limits: { maxEntries: number; maxValue: number }): void {
    if (this.big) return;
    if (this.scores.size > limits.maxEntries) this.big = true;
    else {
      this.scores.eachKeyWhile((m) => {
        if (m.length <= limits.maxValue) return true;
        this.big = true;
        return false;
      });
    }
  }

  /**
   * V8's bytes (measured), estimated from up to 8 members, so it is O(1): per member the member
   * string, the map entry, and its slots in the tree's arrays.
   */
  memoryUsage(): number {
    let sampled = 0, bytes = 0;
    this.scores.eachKeyWhile((m) => {
      bytes += m.length;
      return ++sampled < 8;
    });
    return 640 + this.scores.size * ((sampled ? bytes / sampled : 0) + MEMBER_COST);
  }

  clone(): RankedSet {
    const z = new RankedSet();
    z.big = this.big;
    for (const [m, s] of this.entries()) z.add(m, s);
    return z;
  }
}

/** A sorted set built in bulk from more entries than this starts as an undecided skiplist. */
const BULK_LISTPACK_MAX = 8192;

/** Adds a score element as Redis writes it: %.17g text (an integer when it reads as one). */
function addScore(score: number): void {
  if (Number.isSafeInteger(score)) lpBuild.addInt(score);
  else lpBuild.add(formatG17(score));
}

/** A listpack sorted set's members and scores, in order. */
function unpack(lp: string): [string[], number[]] {
  const ms: string[] = [], ss: number[] = [];
  for (let p = LP_HEADER; !lpAtEnd(lp, p);) {
    ms.push(lpGet(lp, p));
    p = lpNext(lp, p);
    ss.push(lpScore(lp, p));
    p = lpNext(lp, p);
  }
  return [ms, ss];
}

/** A listpack of entries sorted by (score, member); -0 is stored as 0. */
function listpackOf(entries: Iterable<[string, number]>, n: number): string {
  lpBuild.begin();
  for (const [m, s] of entries) {
    lpBuild.add(m);
    addScore(s === 0 ? 0 : s);
  }
  return lpBuild.finish(n * 2);
}

function byScoreThenMember(a: [string, number], b: [string, number]): number {
  return a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/**
 * A sorted set. While its encoding is listpack it is held as Redis's listpack bytes in one
 * binary string (listpack.ts: member and score alternating, in (score, member) order; a
 * change builds a new string), so RDB files and DUMP carry it as is; the listpack's own rules
 * for lex ranges over members out of score order apply. Past the listpack limits it becomes
 * a skiplist with spans, for good, as in Redis. The object (also the key's entry, see EntryBase)
 * has that one field of its own; ZSCAN cursors
 * live in a side table (cursorsOf).
 */
export class ZSetValue extends AggregateValue {
  private d: string | RankedSet = LP_EMPTY;

  /**
   * A sorted set of the entries (a load: a repeated member takes its last score); its
   * encoding is for checkEncoding to decide.
   */
  static fromEntries(entries: Iterable<[string, number]>): ZSetValue {
    const scores = new Map(entries);
    const z = new ZSetValue();
    if (scores.size <= BULK_LISTPACK_MAX) {
      z.d = listpackOf([...scores].sort(byScoreThenMember), scores.size);
    } else {
      const sl = new RankedSet();
      for (const [m, s] of scores) sl.add(m, s);
      z.d = sl;
    }
    return z;
  }

  get type(): "zset" {
    return "zset";
  }

  /** Open ZSCAN iterations (skiplists only). */
  get cursors(): ScanCursors {
    return cursorsOf(this);
  }

  get size(): number {
    const d = this.d;
    return typeof d === "string" ? lpCount(d) >> 1 : d.scores.size;
  }

  /** The listpack bytes while the sorted set is held as one, else null. */
  listpack(): string | null {
    return typeof this.d === "string" ? this.d : null;
  }

  score(member: string): number | undefined {
    const d = this.d;
    if (typeof d !== "string") return d.scores.get(member);
    const p = lpFind(d, member, 2);
    return p < 0 ? undefined : lpScore(d, lpNext(d, p));
  }

  has(member: string): boolean {
    const d = this.d;
    return typeof d === "string" ? lpFind(d, member, 2) >= 0 : d.scores.has(member);
  }

  /**
   * Adds or updates; returns "added", "updated" or "same". A listpack stores an integral score
   * as an integer, so -0 becomes 0 there; a skiplist keeps -0.
   */
  add(member: string, score: number): "added" | "updated" | "same" {
    const d = this.d;
    if (typeof d !== "string") return d.add(member, score);
    return this.lpAdd(d, member, score, null);
  }

  /**
   * Adds as Redis's zsetAdd does: a listpack becomes a skiplist *before* it takes a new member
   * that would not fit (so that member keeps a -0 score).
   */
  addWithLimits(
    member: string,
    score: number,
    limits: { maxEntries: number; maxValue: number },
  ): "added" | "updated" | "same" {
    const d = this.d;
    if (typeof d !== "string") return d.addWithLimits(member, score, limits);
    return this.lpAdd(d, member, score, limits);
  }

  private lpAdd(
    lp: string,
    member: string,
    score: number,
    limits: { maxEntries: number; maxValue: number } | null,
  ): "added" | "updated" | "same" {
    const p = lpFind(lp, member, 2);
    const n = lpCount(lp) >> 1;
    if (
      p < 0 && limits !== null && (n + 1 > limits.maxEntries || member.length > limits.maxValue)
    ) {
      this.toSkiplist();
      return (this.d as RankedSet).add(member, score);
    }
    if (score === 0) score = 0;
    let cutFrom = -1, cutTo = -1;
    if (p >= 0) {
      const sp = lpNext(lp, p);
      if (lpScore(lp, sp) === score) return "same";
      cutFrom = p;
      cutTo = lpNext(lp, sp);
    }
    // Before the first other entry with a greater score, or an equal score and greater member.
    let at = LP_HEADER;
    while (!lpAtEnd(lp, at)) {
      if (at === cutFrom) {
        at = cutTo;
        continue;
      }
      const sp = lpNext(lp, at);
      const s = lpScore(lp, sp);
      if (s > score || (s === score && lpGet(lp, at) > member)) break;
      at = lpNext(lp, sp);
    }
    const end = lp.length - 1;
    lpBuild.begin();
    if (cutFrom < 0 || at <= cutFrom) {
      lpBuild.copy(lp, LP_HEADER, at);
      lpBuild.add(member);
      addScore(score);
      if (cutFrom < 0) lpBuild.copy(lp, at, end);
      else {
        lpBuild.copy(lp, at, cutFrom);
        lpBuild.copy(lp, cutTo, end);
      }
    } else {
      lpBuild.copy(lp, LP_HEADER, cutFrom);
      lpBuild.copy(lp, cutTo, at);
      lpBuild.add(member);
      addScore(score);
      lpBuild.copy(lp, at, end);
    }
    this.d = lpBuild.finish((p < 0 ? n + 1 : n) * 2);
    return p < 0 ? "added" : "updated";
  }

  /** Switches to the skiplist encoding (Redis never converts back on its own). */
  toSkiplist(): void {
    const d = this.d;
    if (typeof d !== "string") {
      d.toSkiplist();
      return;
    }
    const sl = new RankedSet();
    sl.toSkiplist();
    for (let p = LP_HEADER; !lpAtEnd(d, p);) {
      const m = lpGet(d, p);
      p = lpNext(d, p);
      sl.add(m, lpScore(d, p));
      p = lpNext(d, p);
    }
    this.d = sl;
  }

  remove(member: string): boolean {
    const d = this.d;
    if (typeof d !== "string") return d.remove(member);
    const p = lpFind(d, member, 2);
    if (p < 0) return false;
    this.d = lpCut(d, p, lpNext(d, lpNext(d, p)), 2);
    return true;
  }

  /** 0-based rank by ascending (score, member), or -1. */
  rank(member: string): number {
    const d = this.d;
    if (typeof d !== "string") return d.rank(member);
    const qi = intKey(member);
    let r = 0;
    for (let p = LP_HEADER; !lpAtEnd(d, p); p = lpNext(d, lpNext(d, p)), r++) {
      if (lpEquals(d, p, member, qi)) return r;
    }
    return -1;
  }

  /** Entries from rank start to end inclusive (clamped by caller), ascending or descending. */
  *rangeByRank(start: number, end: number, reverse = false): IterableIterator<[string, number]> {
    const d = this.d;
    if (typeof d !== "string") {
      yield* d.rangeByRank(start, end, reverse);
      return;
    }
    const n = lpCount(d) >> 1;
    if (start > end || start >= n) return;
    if (end >= n) end = n - 1;
    const from = reverse ? n - 1 - end : start, to = reverse ? n - 1 - start : end;
    const out: [string, number][] = [];
    let p = lpSeek(d, from * 2, n * 2);
    for (let i = from; i <= to; i++) {
      const m = lpGet(d, p);
      p = lpNext(d, p);
      out.push([m, lpScore(d, p)]);
      p = lpNext(d, p);
    }
    if (reverse) out.reverse();
    yield* out;
  }

  *rangeByScore(r: ScoreRange, reverse = false): IterableIterator<[string, number]> {
    const d = this.d;
    if (typeof d !== "string") {
      yield* d.rangeByScore(r, reverse);
      return;
    }
    yield* this.rangeByScoreLimit(r, reverse, 0, -1);
  }

  /** True when score order is also member order (lex ranges behave as documented). */
  lexOrdered(): boolean {
    const d = this.d;
    if (typeof d !== "string") return d.lexOrdered();
    const [ms] = unpack(d);
    for (let i = 1; i < ms.length; i++) if (ms[i]! < ms[i - 1]!) return false;
    return true;
  }

  /**
   * ZRANGEBYLEX: from the first (last, reversed) entry in range, skips `offset` entries
   * without checking them, then takes up to `limit` entries (negative: no limit) while still
   * in range. With members out of score order this follows the list order, as Redis does.
   */
  rangeByLexLimit(
    r: LexRange,
    reverse: boolean,
    offset: number,
    limit: number,
  ): [string, number][] {
    const d = this.d;
    if (typeof d !== "string") return d.rangeByLexLimit(r, reverse, offset, limit);
    const out: [string, number][] = [];
    if (offset < 0) return out;
    const [ms, ss] = unpack(d);
    let i = reverse ? lastInLex(ms, r) : firstInLex(ms, r);
    if (i < 0) return out;
    i += reverse ? -offset : offset;
    for (; i >= 0 && i < ms.length && limit !== 0; limit--) {
      if (reverse ? !lexGteMin(ms[i]!, r) : !lexLteMax(ms[i]!, r)) break;
      out.push([ms[i]!, ss[i]!]);
      i += reverse ? -1 : 1;
    }
    return out;
  }

  /** ZRANGEBYSCORE with Redis's LIMIT semantics (see rangeByLexLimit). */
  rangeByScoreLimit(
    r: ScoreRange,
    reverse: boolean,
    offset: number,
    limit: number,
  ): [string, number][] {
    const d = this.d;
    if (typeof d !== "string") return d.rangeByScoreLimit(r, reverse, offset, limit);
    const out: [string, number][] = [];
    const [ms, ss] = unpack(d);
    if (offset < 0 || offset >= ms.length) return out;
    let i = reverse ? lastInScore(ss, r) : firstInScore(ss, r);
    if (i < 0) return out;
    i += reverse ? -offset : offset;
    for (; i >= 0 && i < ms.length && limit !== 0; limit--) {
      if (reverse ? !gteMin(ss[i]!, r) : !lteMax(ss[i]!, r)) break;
      out.push([ms[i]!, ss[i]!]);
      i += reverse ? -1 : 1;
    }
    return out;
  }

  /** ZLEXCOUNT: a listpack counts forward from the first entry in range. */
  countInLex(r: LexRange): number {
    const d = this.d;
    if (typeof d !== "string") return d.countInLex(r);
    const [ms] = unpack(d);
    const first = firstInLex(ms, r);
    if (first < 0) return 0;
    let i = first;
    while (i < ms.length && lexLteMax(ms[i]!, r)) i++;
    return i - first;
  }

  /** ZREMRANGEBYLEX: from the first entry in range, deletes while entries are <= max. */
  deleteRangeByLex(r: LexRange): number {
    const d = this.d;
    if (typeof d !== "string") return d.deleteRangeByLex(r);
    const [ms] = unpack(d);
    const first = firstInLex(ms, r);
    if (first < 0) return 0;
    let i = first;
    while (i < ms.length && lexLteMax(ms[i]!, r)) i++;
    return this.cutEntries(d, first, i);
  }

  deleteRangeByScore(r: ScoreRange): number {
    const d = this.d;
    if (typeof d !== "string") return d.deleteRangeByScore(r);
    const [, ss] = unpack(d);
    const first = firstInScore(ss, r);
    if (first < 0) return 0;
    let i = first;
    while (i < ss.length && lteMax(ss[i]!, r)) i++;
    return this.cutEntries(d, first, i);
  }

  /** Removes the entries with ranks in [from, to); returns how many. */
  private cutEntries(lp: string, from: number, to: number): number {
    if (to <= from) return 0;
    const n = lpCount(lp);
    const a = lpSeek(lp, from * 2, n);
    const b = to * 2 >= n ? lp.length - 1 : lpSeek(lp, to * 2, n);
    this.d = lpCut(lp, a, b, (to - from) * 2);
    return to - from;
  }

  /** Number of members with score in range. */
  countInScore(r: ScoreRange): number {
    const d = this.d;
    if (typeof d !== "string") return d.countInScore(r);
    let n = 0;
    for (let p = LP_HEADER; !lpAtEnd(d, p);) {
      p = lpNext(d, p);
      const s = lpScore(d, p);
      if (gteMin(s, r) && lteMax(s, r)) n++;
      p = lpNext(d, p);
    }
    return n;
  }

  /** All entries ascending. */
  entries(): IterableIterator<[string, number]> {
    return this.rangeByRank(0, this.size - 1);
  }

  first(): [string, number] | null {
    const d = this.d;
    if (typeof d !== "string") return d.first();
    if (lpAtEnd(d, LP_HEADER)) return null;
    return [lpGet(d, LP_HEADER), lpScore(d, lpNext(d, LP_HEADER))];
  }

  last(): [string, number] | null {
    const d = this.d;
    if (typeof d !== "string") return d.last();
    const sp = lpLast(d);
    if (sp < 0) return null;
    return [lpGet(d, lpPrev(d, sp)), lpScore(d, sp)];
  }

  /** The members, in order. */
  members(): string[] {
    const d = this.d;
    if (typeof d === "string") return unpack(d)[0];
    const out: string[] = [];
    for (const [m] of d.entries()) out.push(m);
    return out;
  }

  /** Member -> score (the skiplist's own map once converted: read only). */
  scoreMap(): StringTableView<number> {
    const d = this.d;
    if (typeof d !== "string") return d.scores;
    const [ms, ss] = unpack(d);
    const m = new Map<string, number>();
    for (let i = 0; i < ms.length; i++) m.set(ms[i]!, ss[i]!);
    return m;
  }

  /** The member -> score table a skiplist pages through for ZSCAN; null for a listpack. */
  table(): StringTableView<number> | null {
    const d = this.d;
    return typeof d !== "string" && d.big ? d.scores : null;
  }

  checkEncoding(limits: { maxEntries: number; maxValue: number }): void {
    const d = this.d;
    if (typeof d !== "string") {
      if (d.big) return;
      d.checkEncoding(limits);
      if (!d.big) this.d = listpackOf(d.entries(), d.scores.size);
      return;
    }
    const n = lpCount(d) >> 1;
    let fits = n <= limits.maxEntries;
    for (let p = LP_HEADER; fits && !lpAtEnd(d, p); p = lpNext(d, lpNext(d, p))) {
      if (lpGet(d, p).length > limits.maxValue) fits = false;
    }
    if (!fits) this.toSkiplist();
  }

  encoding(): string {
    const d = this.d;
    return typeof d !== "string" && d.big ? "skiplist" : "listpack";
  }

  /** V8's bytes: a listpack's plus the object and string headers; a skiplist's estimate. */
  memoryUsage(): number {
    const d = this.d;
    return typeof d === "string" ? COMPACT_OVERHEAD + d.length : d.memoryUsage();
  }

  clone(): ZSetValue {
    const z = new ZSetValue();
    const d = this.d;
    z.d = typeof d === "string" ? d : d.clone();
    return z;
  }
}

// ---- Range lookups over a listpack's members or scores (arrays in list order) ----

function firstInScore(ss: number[], r: ScoreRange): number {
  let i = 0;
  while (i < ss.length && !gteMin(ss[i]!, r)) i++;
  return i < ss.length && lteMax(ss[i]!, r) ? i : -1;
}

function lastInScore(ss: number[], r: ScoreRange): number {
  let i = ss.length - 1;
  while (i >= 0 && !lteMax(ss[i]!, r)) i--;
  return i >= 0 && gteMin(ss[i]!, r) ? i : -1;
}

/** Redis's listpack early exit: the range can't match when the ends of the list don't. */
function inLexRange(ms: string[], r: LexRange): boolean {
  if (lexRangeEmpty(r) || ms.length === 0) return false;
  return lexGteMin(ms[ms.length - 1]!, r) && lexLteMax(ms[0]!, r);
}

/** The first member >= min (walking forward), if it is <= max; -1 otherwise. */
function firstInLex(ms: string[], r: LexRange): number {
  if (!inLexRange(ms, r)) return -1;
  let i = 0;
  while (i < ms.length && !lexGteMin(ms[i]!, r)) i++;
  return i < ms.length && lexLteMax(ms[i]!, r) ? i : -1;
}

/** The last member <= max (walking back from the tail), if it is >= min; -1 otherwise. */
function lastInLex(ms: string[], r: LexRange): number {
  if (!inLexRange(ms, r)) return -1;
  let i = ms.length - 1;
  while (i >= 0 && !lexLteMax(ms[i]!, r)) i--;
  return i >= 0 && lexGteMin(ms[i]!, r) ? i : -1;
}
