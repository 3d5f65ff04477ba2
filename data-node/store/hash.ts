/** Hash values: field -> value, in insertion order (HSCAN cursors rely on that). */
import type { AggregateValue } from "./types.ts";

export interface EncodingLimits {
  maxEntries: number;
  maxValue: number;
}

export class HashValue implements AggregateValue {
  readonly type = "hash" as const;
  readonly map = new Map<string, string>();
  /** Once a hash outgrows listpack limits Redis converts it for good; so do we. */
  private big = false;
  readonly cursors = new Map<number, { it: Iterator<string>; pos: number }>();

  constructor(entries: Iterable<[string, string]> = []) {
    for (const [f, v] of entries) this.map.set(f, v);
  }

  get size(): number {
    return this.map.size;
  }

  /** Records whether the contents still fit a listpack under the configured limits. */
  checkEncoding(limits: EncodingLimits): void {
    if (this.big) return;
    if (this.map.size > limits.maxEntries) this.big = true;
    else {
      for (const [f, v] of this.map) {
        if (f.length > limits.maxValue || v.length > limits.maxValue) {
          this.big = true;
          break;
        }
      }
    }
  }

  encoding(): string {
    return this.big ? "hashtable" : "listpack";
  }

  memoryUsage(): number {
    let n = 64;
    for (const [f, v] of this.map) n += 40 + f.length + v.length;
    return n;
  }

  clone(): HashValue {
    const h = new HashValue(this.map);
    h.big = this.big;
    return h;
  }
}
