/** Hash values: field -> value, in insertion order (HSCAN cursors rely on that). */
import type { AggregateValue } from "./types.ts";

export interface EncodingLimits {
  maxEntries: number;
  maxValue: number;
}

export class HashValue implements AggregateValue {
  readonly type = "hash" as const;
  accounted = 0;
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

  /**
   * HSET/HMSET's check before writing: any field or value argument past the listpack value
   * limit converts the hash, even when a later pair of the same command overwrites it. With
   * checkSize() after the write, this replaces a whole-hash checkEncoding().
   */
  checkArgs(args: string[], from: number, limits: EncodingLimits): void {
    if (this.big) return;
    for (let i = from; i < args.length; i++) {
      if (args[i]!.length > limits.maxValue) {
        this.big = true;
        return;
      }
    }
  }

  /** After checkArgs and the write: the entry count limit. */
  checkSize(limits: EncodingLimits): void {
    if (this.map.size > limits.maxEntries) this.big = true;
  }

  encoding(): string {
    return this.big ? "hashtable" : "listpack";
  }

  /** Estimated from up to 8 entries (as MEMORY USAGE samples), so it is O(1). */
  memoryUsage(): number {
    let sampled = 0, bytes = 0;
    for (const [f, v] of this.map) {
      bytes += f.length + v.length;
      if (++sampled === 8) break;
    }
    const per = sampled ? bytes / sampled : 0;
    return 64 + this.map.size * (per + (this.big ? 56 : 4));
  }

  clone(): HashValue {
    const h = new HashValue(this.map);
    h.big = this.big;
    return h;
  }
}
