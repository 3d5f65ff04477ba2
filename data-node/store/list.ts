/**
 * List values: a ring-buffer deque of binary strings (O(1) push/pop at both ends, O(1) index).
 * Redis 7.0 reports every list as "quicklist".
 */
import type { AggregateValue } from "./types.ts";

export class ListValue implements AggregateValue {
  readonly type = "list" as const;
  accounted = 0;
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

  /** Element at index 0..length-1 (no negative indexes here). */
  at(i: number): string | undefined {
    if (i < 0 || i >= this.len) return undefined;
    return this.buf[(this.head + i) % this.buf.length];
  }

  setAt(i: number, v: string): void {
    this.buf[(this.head + i) % this.buf.length] = v;
  }

  /** Elements from start to end inclusive (already clamped by the caller). */
  *range(start = 0, end = this.len - 1): IterableIterator<string> {
    for (let i = start; i <= end; i++) yield this.buf[(this.head + i) % this.buf.length]!;
  }

  toArray(): string[] {
    return [...this.range()];
  }

  /** Replaces all contents (used by LREM, LINSERT, LTRIM after an O(n) rebuild). */
  replaceAll(items: string[]): void {
    let cap = 8;
    while (cap < items.length) cap *= 2;
    this.buf = new Array(cap);
    for (let i = 0; i < items.length; i++) this.buf[i] = items[i];
    this.head = 0;
    this.len = items.length;
  }

  encoding(): string {
    return "quicklist";
  }

  /** Estimated from up to 8 elements, so it is O(1). */
  memoryUsage(): number {
    const sampled = Math.min(8, this.len);
    let bytes = 0;
    for (let i = 0; i < sampled; i++) bytes += this.at(i)!.length;
    return 48 + this.len * ((sampled ? bytes / sampled : 0) + 11);
  }

  clone(): ListValue {
    return new ListValue(this.range());
  }
}
