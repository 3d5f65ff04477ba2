/**
 * Value representations. Strings are binary strings (one char per byte): cheaper than a
 * Uint8Array per value (ARCHITECTURE.md, memory facts). Aggregate types are classes that carry
 * their own `type` tag, the name TYPE reports.
 */
export interface AggregateValue {
  readonly type: "list" | "hash" | "set" | "zset" | "stream";
  /** OBJECT ENCODING as Redis would report it for the same contents. */
  encoding(): string;
  /** Approximate bytes used, for INFO memory and eviction. */
  memoryUsage(): number;
}

export type Value = string | AggregateValue;

/** A stored value plus its access clock for OBJECT IDLETIME/FREQ and LRU/LFU eviction. */
export class Entry {
  /** LFU counter, kept only under an LFU maxmemory policy. */
  freq?: number;
  constructor(public value: Value, public lru: number) {}
}

export function typeName(v: Value): string {
  return typeof v === "string" ? "string" : v.type;
}

const INT_LIKE = /^-?[1-9][0-9]{0,18}$|^0$/;

/** OBJECT ENCODING for a string: int, embstr (<= 44 bytes) or raw, as Redis chooses on SET. */
export function stringEncoding(s: string): string {
  if (s.length <= 20 && INT_LIKE.test(s)) {
    const n = BigInt(s);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return "int";
  }
  return s.length <= 44 ? "embstr" : "raw";
}
