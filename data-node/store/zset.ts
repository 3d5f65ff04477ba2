/**
 * Sorted set values: a member -> score map plus a skiplist ordered by (score, member) whose
 * links carry spans, so rank, range-by-rank and range-by-score are O(log n), as in Redis.
 * Members compare as bytes (binary strings compare by char code, which is byte order).
 */
import type { AggregateValue } from "./types.ts";

const MAX_LEVEL = 32;
const P = 0.25;

class Node {
  readonly next: (Node | null)[];
  readonly span: number[];
  prev: Node | null = null;
  constructor(readonly member: string, public score: number, level: number) {
    this.next = new Array(level).fill(null);
    this.span = new Array(level).fill(0);
  }
}

function less(score: number, member: string, n: Node): boolean {
  return n.score < score || (n.score === score && n.member < member);
}

/** A score range with Redis's exclusive-bound flags (ZRANGEBYSCORE "(1" etc). */
export interface ScoreRange {
  min: number;
  max: number;
  minEx: boolean;
  maxEx: boolean;
}

/** A lexicographic range; null bound means -/+ infinity ("-" and "+"). */
export interface LexRange {
  min: string | null;
  max: string | null;
  minEx: boolean;
  maxEx: boolean;
}

export function gteMin(score: number, r: ScoreRange): boolean {
  return r.minEx ? score > r.min : score >= r.min;
}
export function lteMax(score: number, r: ScoreRange): boolean {
  return r.maxEx ? score < r.max : score <= r.max;
}
export function lexGteMin(m: string, r: LexRange): boolean {
  return r.min === null || (r.minEx ? m > r.min : m >= r.min);
}
export function lexLteMax(m: string, r: LexRange): boolean {
  return r.max === null || (r.maxEx ? m < r.max : m <= r.max);
}

export class ZSetValue implements AggregateValue {
  readonly type = "zset" as const;
  readonly scores = new Map<string, number>();
  private readonly head = new Node("", -Infinity, MAX_LEVEL);
  private tail: Node | null = null;
  private level = 1;
  private big = false;
  readonly cursors = new Map<number, { it: Iterator<string>; pos: number }>();

  get size(): number {
    return this.scores.size;
  }

  private randomLevel(): number {
    let l = 1;
    while (l < MAX_LEVEL && Math.random() < P) l++;
    return l;
  }

  /** Adds or updates; returns "added", "updated" or "same". */
  add(member: string, score: number): "added" | "updated" | "same" {
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

  remove(member: string): boolean {
    const old = this.scores.get(member);
    if (old === undefined) return false;
    this.unlink(member, old);
    this.scores.delete(member);
    return true;
  }

  private insert(member: string, score: number): void {
    const update: Node[] = new Array(MAX_LEVEL);
    const rank: number[] = new Array(MAX_LEVEL);
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1]!;
      while (x.next[i] && less(score, member, x.next[i]!)) {
        rank[i]! += x.span[i]!;
        x = x.next[i]!;
      }
      update[i] = x;
    }
    const lvl = this.randomLevel();
    if (lvl > this.level) {
      for (let i = this.level; i < lvl; i++) {
        rank[i] = 0;
        update[i] = this.head;
        this.head.span[i] = this.scores.size;
      }
      this.level = lvl;
    }
    const n = new Node(member, score, lvl);
    for (let i = 0; i < lvl; i++) {
      const u = update[i]!;
      n.next[i] = u.next[i]!;
      u.next[i] = n;
      n.span[i] = u.span[i]! - (rank[0]! - rank[i]!);
      u.span[i] = rank[0]! - rank[i]! + 1;
    }
    for (let i = lvl; i < this.level; i++) update[i]!.span[i]!++;
    n.prev = update[0] === this.head ? null : update[0]!;
    if (n.next[0]) n.next[0]!.prev = n;
    else this.tail = n;
  }

  private unlink(member: string, score: number): void {
    const update: Node[] = new Array(MAX_LEVEL);
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.next[i] && less(score, member, x.next[i]!)) x = x.next[i]!;
      update[i] = x;
    }
    const n = x.next[0];
    if (!n || n.member !== member) throw new Error("zset skiplist out of sync");
    for (let i = 0; i < this.level; i++) {
      const u = update[i]!;
      if (u.next[i] === n) {
        u.span[i]! += n.span[i]! - 1;
        u.next[i] = n.next[i]!;
      } else {
        u.span[i]!--;
      }
    }
    if (n.next[0]) n.next[0]!.prev = n.prev;
    else this.tail = n.prev;
    while (this.level > 1 && this.head.next[this.level - 1] === null) this.level--;
  }

  /** 0-based rank by ascending (score, member), or -1. */
  rank(member: string): number {
    const score = this.scores.get(member);
    if (score === undefined) return -1;
    let r = 0;
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      while (
        x.next[i] && (less(score, member, x.next[i]!) || x.next[i]!.member === member)
      ) {
        r += x.span[i]!;
        x = x.next[i]!;
        if (x.member === member) return r - 1;
      }
    }
    return -1;
  }

  /** The node at 0-based rank. */
  private nodeAt(rank: number): Node | null {
    if (rank < 0 || rank >= this.scores.size) return null;
    let traversed = 0;
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.next[i] && traversed + x.span[i]! <= rank + 1) {
        traversed += x.span[i]!;
        x = x.next[i]!;
      }
      if (traversed === rank + 1) return x;
    }
    return null;
  }

  /** Entries from rank start to end inclusive (clamped by caller), ascending or descending. */
  *rangeByRank(start: number, end: number, reverse = false): IterableIterator<[string, number]> {
    const n = this.scores.size;
    if (start > end || start >= n) return;
    let x = reverse ? this.nodeAt(n - 1 - start) : this.nodeAt(start);
    for (let i = start; i <= end && x; i++) {
      yield [x.member, x.score];
      x = reverse ? x.prev : x.next[0]!;
    }
  }

  /** First node with score in range (ascending), or null. */
  private firstInScore(r: ScoreRange): Node | null {
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.next[i] && !gteMin(x.next[i]!.score, r)) x = x.next[i]!;
    }
    const n = x.next[0];
    return n && lteMax(n.score, r) ? n : null;
  }

  private lastInScore(r: ScoreRange): Node | null {
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.next[i] && lteMax(x.next[i]!.score, r)) x = x.next[i]!;
    }
    return x !== this.head && gteMin(x.score, r) ? x : null;
  }

  *rangeByScore(r: ScoreRange, reverse = false): IterableIterator<[string, number]> {
    let x = reverse ? this.lastInScore(r) : this.firstInScore(r);
    while (x) {
      if (reverse ? !gteMin(x.score, r) : !lteMax(x.score, r)) return;
      yield [x.member, x.score];
      x = reverse ? x.prev : x.next[0]!;
    }
  }

  private firstInLex(r: LexRange): Node | null {
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.next[i] && !lexGteMin(x.next[i]!.member, r)) x = x.next[i]!;
    }
    const n = x.next[0];
    return n && lexLteMax(n.member, r) ? n : null;
  }

  private lastInLex(r: LexRange): Node | null {
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      while (x.next[i] && lexLteMax(x.next[i]!.member, r)) x = x.next[i]!;
    }
    return x !== this.head && lexGteMin(x.member, r) ? x : null;
  }

  /** Lex ranges assume equal scores, as Redis documents; the walk is by list order. */
  *rangeByLex(r: LexRange, reverse = false): IterableIterator<[string, number]> {
    let x = reverse ? this.lastInLex(r) : this.firstInLex(r);
    while (x) {
      if (reverse ? !lexGteMin(x.member, r) : !lexLteMax(x.member, r)) return;
      yield [x.member, x.score];
      x = reverse ? x.prev : x.next[0]!;
    }
  }

  /** Number of members with score in range: two rank lookups. */
  countInScore(r: ScoreRange): number {
    const first = this.firstInScore(r);
    if (!first) return 0;
    const last = this.lastInScore(r)!;
    return this.rank(last.member) - this.rank(first.member) + 1;
  }

  countInLex(r: LexRange): number {
    const first = this.firstInLex(r);
    if (!first) return 0;
    const last = this.lastInLex(r)!;
    return this.rank(last.member) - this.rank(first.member) + 1;
  }

  /** All entries ascending. */
  entries(): IterableIterator<[string, number]> {
    return this.rangeByRank(0, this.scores.size - 1);
  }

  first(): [string, number] | null {
    const n = this.head.next[0];
    return n ? [n.member, n.score] : null;
  }

  last(): [string, number] | null {
    return this.tail ? [this.tail.member, this.tail.score] : null;
  }

  checkEncoding(limits: { maxEntries: number; maxValue: number }): void {
    if (this.big) return;
    if (this.scores.size > limits.maxEntries) this.big = true;
    else {
      for (const m of this.scores.keys()) {
        if (m.length > limits.maxValue) {
          this.big = true;
          break;
        }
      }
    }
  }

  encoding(): string {
    return this.big ? "skiplist" : "listpack";
  }

  /** Estimated from up to 8 members, so it is O(1). */
  memoryUsage(): number {
    let sampled = 0, bytes = 0;
    for (const m of this.scores.keys()) {
      bytes += m.length;
      if (++sampled === 8) break;
    }
    return 96 + this.scores.size * ((sampled ? bytes / sampled : 0) + (this.big ? 80 : 12));
  }

  clone(): ZSetValue {
    const z = new ZSetValue();
    for (const [m, s] of this.entries()) z.add(m, s);
    z.big = this.big;
    return z;
  }
}
