/**
 * List values. Redis 7.0 reports every list as "quicklist": a chain of listpack nodes, each
 * filled up to list-max-listpack-size. A list that fits one such node is held here as that
 * node's listpack bytes in one binary string (listpack.ts; a change builds a new string);
 * one that needs a second node becomes a ring-buffer deque of binary strings (O(1) push and
 * pop at both ends, O(1) index), and stays one. The node rule is Redis's for an insert:
 * the node's bytes plus the element's length plus 8 within the size limit (4/8/16/32/64 KB
 * for -1..-5), or for a positive fill the element count within it and the bytes within 8 KB;
 * a first element always fits. Listpacks here stop at 8 KB whatever the fill, so that a push
 * never copies more than that.
 */
import { AggregateValue } from "./types.ts";
import {
  COMPACT_OVERHEAD,
  LP_EMPTY,
  LP_HEADER,
  lpAtEnd,
  lpBuild,
  lpCount,
  lpCut,
  lpGet,
  lpLast,
  lpNext,
  lpSeek,
  lpStrings,
} from "./listpack.ts";

/** The largest listpack a list is held as. */
const MAX_LISTPACK_BYTES = 8192;

/** Can a node of `bytes` bytes holding `count` elements take one of `len` bytes? */
function nodeTakes(bytes: number, count: number, len: number, fill: number): boolean {
  if (count === 0) return true;
  const grown = bytes + len + 8;
  if (grown > MAX_LISTPACK_BYTES) return false;
  if (fill < 0) return grown <= 4096 * 2 ** (Math.min(-fill, 5) - 1);
  return count < fill;
}

/** The listpack of the items when they fit one node, else null. */
function oneNode(items: Iterable<string>, fill: number): string | null {
  lpBuild.begin();
  let n = 0;
  for (const s of items) {
    if (!nodeTakes(lpBuild.size(), n, s.length, fill)) return null;
    lpBuild.add(s);
    n++;
  }
  return lpBuild.finish(n);
}

export class ListValue extends AggregateValue {
  private d: string | Deque;

  /** A list of the items (a load: checkEncoding then applies the configured fill). */
  constructor(items: Iterable<string> = []) {
    super();
    const all = Array.isArray(items) ? items as string[] : [...items];
    this.d = all.length === 0 ? LP_EMPTY : oneNode(all, -2) ?? new Deque(all);
  }

  get type(): "list" {
    return "list";
  }

  get length(): number {
    const d = this.d;
    return typeof d === "string" ? lpCount(d) : d.length;
  }

  /** The listpack bytes while the list is held as one (a single quicklist node), else null. */
  listpack(): string | null {
    return typeof this.d === "string" ? this.d : null;
  }

  /** To a deque, for good. */
  private toDeque(): Deque {
    const d = this.d;
    if (typeof d !== "string") return d;
    return this.d = new Deque(lpStrings(d));
  }

  /** Appends; `fill` is list-max-listpack-size (the node rule above). */
  pushTail(v: string, fill = -2): void {
    const d = this.d;
    if (typeof d !== "string") return d.pushTail(v);
    const n = lpCount(d);
    if (!nodeTakes(d.length, n, v.length, fill)) return this.toDeque().pushTail(v);
    lpBuild.begin();
    lpBuild.copy(d, LP_HEADER, d.length - 1);
    lpBuild.add(v);
    this.d = lpBuild.finish(n + 1);
  }

  pushHead(v: string, fill = -2): void {
    const d = this.d;
    if (typeof d !== "string") return d.pushHead(v);
    const n = lpCount(d);
    if (!nodeTakes(d.length, n, v.length, fill)) return this.toDeque().pushHead(v);
    lpBuild.begin();
    lpBuild.add(v);
    lpBuild.copy(d, LP_HEADER, d.length - 1);
    this.d = lpBuild.finish(n + 1);
  }

  popHead(): string | undefined {
    const d = this.d;
    if (typeof d !== "string") return d.popHead();
    if (lpAtEnd(d, LP_HEADER)) return undefined;
    const v = lpGet(d, LP_HEADER);
    this.d = lpCut(d, LP_HEADER, lpNext(d, LP_HEADER), 1);
    return v;
  }

  popTail(): string | undefined {
    const d = this.d;
    if (typeof d !== "string") return d.popTail();
    const p = lpLast(d);
    if (p < 0) return undefined;
    const v = lpGet(d, p);
    this.d = lpCut(d, p, d.length - 1, 1);
    return v;
  }

  /** Element at index 0..length-1 (no negative indexes here). */
  at(i: number): string | undefined {
    const d = this.d;
    if (typeof d !== "string") return d.at(i);
    const p = lpSeek(d, i);
    return p < 0 ? undefined : lpGet(d, p);
  }

  /** Replaces the element at index i (0..length-1). */
  setAt(i: number, v: string, fill = -2): void {
    const d = this.d;
    if (typeof d !== "string") return d.setAt(i, v);
    const n = lpCount(d);
    const p = lpSeek(d, i, n);
    lpBuild.begin();
    lpBuild.copy(d, LP_HEADER, p);
    lpBuild.add(v);
    lpBuild.copy(d, lpNext(d, p), d.length - 1);
    if (n === 1 || lpBuild.size() <= nodeBytes(fill)) this.d = lpBuild.finish(n);
    else this.toDeque().setAt(i, v);
  }

  /** Elements from start to end inclusive (already clamped by the caller). */
  *range(start = 0, end = this.length - 1): IterableIterator<string> {
    const d = this.d;
    if (typeof d !== "string") {
      yield* d.range(start, end);
      return;
    }
    if (start > end) return;
    let p = lpSeek(d, start);
    for (let i = start; i <= end && p >= 0 && !lpAtEnd(d, p); i++) {
      yield lpGet(d, p);
      p = lpNext(d, p);
    }
  }

  toArray(): string[] {
    const d = this.d;
    return typeof d === "string" ? lpStrings(d) : d.toArray();
  }

  /** Indexed access for a scan by position (LPOS): O(1) per element either way. */
  indexed(): { readonly length: number; at(i: number): string | undefined } {
    const d = this.d;
    return typeof d === "string" ? lpStrings(d) : d;
  }

  /** Replaces all contents (used by LREM, LINSERT, LTRIM after an O(n) rebuild). */
  replaceAll(items: string[], fill = -2): void {
    const d = this.d;
    if (typeof d !== "string") return d.replaceAll(items);
    const lp = oneNode(items, fill);
    if (lp !== null) this.d = lp;
    else this.d = new Deque(items);
  }

  /**
   * After a load: a list that fits one node under list-max-listpack-size is held as a
   * listpack, any other as a deque.
   */
  checkEncoding(fill: number): void {
    const d = this.d;
    if (typeof d === "string") {
      if (oneNode(lpStrings(d), fill) === null) this.toDeque();
    } else if (d.length * 2 + 7 <= MAX_LISTPACK_BYTES) {
      const lp = oneNode(d.range(), fill);
      if (lp !== null) this.d = lp;
    }
  }

  encoding(): string {
    return "quicklist";
  }

  /** V8's bytes: a listpack's plus the object and string headers; a deque's estimate. */
  memoryUsage(): number {
    const d = this.d;
    return typeof d === "string" ? COMPACT_OVERHEAD + d.length : d.memoryUsage();
  }

  clone(): ListValue {
    const l = new ListValue();
    const d = this.d;
    l.d = typeof d === "string" ? d : new Deque(d.range());
    return l;
  }
}

/** The size limit of a node: list-max-listpack-size's bytes, or 8 KB for a count. */
function nodeBytes(fill: number): number {
  return Math.min(MAX_LISTPACK_BYTES, fill < 0 ? 4096 * 2 ** (Math.min(-fill, 5) - 1) : 8192);
}

/** A ring-buffer deque of binary strings: O(1) push/pop at both ends, O(1) index. */
class Deque {
  private buf: (string | undefined)[];
  private head = 0;
  private len = 0;

  constructor(items: Iterable<string> = []) {
    this.buf = new Array(8);
    for (const it of items) this.pushTail(it);
  }

  get length(): number {
    return this.len;
  }

  private grow(): void {
    const next: (string | undefined)[] = new Array(this.buf.length * 2);
    for (let i = 0; i < this.len; i++) next[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = next;
    this.head = 0;
  }

  pushTail(v: string): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) % this.buf.length] = v;
    this.len++;
  }

  pushHead(v: string): void {
    if (this.len === this.buf.length) this.grow();
    this.head = (this.head - 1 + this.buf.length) % this.buf.length;
    this.buf[this.head] = v;
    this.len++;
  }

  popHead(): string | undefined {
    if (this.len === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.buf.length;
    this.len--;
    return v;
  }

  popTail(): string | undefined {
    if (this.len === 0) return undefined;
    const i = (this.head + this.len - 1) % this.buf.length;
    const v = this.buf[i];
    this.buf[i] = undefined;
    this.len--;
    return v;
  }

  at(i: number): string | undefined {
    if (i < 0 || i >= this.len) return undefined;
    return this.buf[(this.head + i) % this.buf.length];
  }

  setAt(i: number, v: string): void {
    this.buf[(this.head + i) % this.buf.length] = v;
  }

  *range(start = 0, end = this.len - 1): IterableIterator<string> {
    for (let i = start; i <= end; i++) yield this.buf[(this.head + i) % this.buf.length]!;
  }

  toArray(): string[] {
    return [...this.range()];
  }

  replaceAll(items: string[]): void {
    let cap = 8;
    while (cap < items.length) cap *= 2;
    this.buf = new Array(cap);
    for (let i = 0; i < items.length; i++) this.buf[i] = items[i];
    this.head = 0;
    this.len = items.length;
  }

  /** V8's bytes (measured) from up to 8 elements, so it is O(1): a string and a slot each. */
  memoryUsage(): number {
    const sampled = Math.min(8, this.len);
    let bytes = 0;
    for (let i = 0; i < sampled; i++) bytes += this.at(i)!.length;
    return 48 + this.len * ((sampled ? bytes / sampled : 0) + 32);
  }
}
