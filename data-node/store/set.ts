/** Set values: members in insertion order. Redis 7.0 reports "intset" or "hashtable". */
import type { AggregateValue } from "./types.ts";
import { parseI64 } from "../../shared/int64.ts";

export class SetValue implements AggregateValue {
  readonly type = "set" as const;
  accounted = 0;
  readonly set = new Set<string>();
  private big = false;
  /**
   * An intset's element width in bytes (2, 4 or 8). Like Redis's, it only grows: removing the
   * wide members does not narrow it, which shows in RDB files and DUMP payloads.
   */
  intWidth = 2;
  readonly cursors = new Map<number, { it: Iterator<string>; pos: number }>();

  constructor(members: Iterable<string> = []) {
    for (const m of members) this.set.add(m);
  }

  get size(): number {
    return this.set.size;
  }

  /**
   * An intset holds only 64-bit integers, up to set-max-intset-entries; conversion is final.
   * `added` limits the member check to the members just added (the rest were checked before).
   */
  checkEncoding(maxIntsetEntries: number, added: Iterable<string> = this.set): void {
    if (this.big) return;
    if (this.set.size > maxIntsetEntries) {
      this.big = true;
      return;
    }
    for (const m of added) {
      if (!isInt64(m)) {
        this.big = true;
        return;
      }
      if (this.intWidth < 8) this.intWidth = Math.max(this.intWidth, intWidthOf(m));
    }
  }

  encoding(): string {
    return this.big ? "hashtable" : "intset";
  }

  /** Estimated from up to 8 members, so it is O(1). */
  memoryUsage(): number {
    if (!this.big) return 16 + this.set.size * 8;
    let sampled = 0, bytes = 0;
    for (const m of this.set) {
      bytes += m.length;
      if (++sampled === 8) break;
    }
    return 64 + this.set.size * ((sampled ? bytes / sampled : 0) + 40);
  }

  clone(): SetValue {
    const s = new SetValue(this.set);
    s.big = this.big;
    s.intWidth = this.intWidth;
    return s;
  }
}

export function isInt64(s: string): boolean {
  return parseI64(s) !== null;
}

/** The intset width a member needs: 2, 4 or 8 bytes. */
function intWidthOf(m: string): number {
  const n = Number(m);
  if (n >= -32768 && n <= 32767) return 2;
  return n >= -2147483648 && n <= 2147483647 ? 4 : 8;
}
