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
  /** This entry's share of the memory estimate (see Database.bytes). */
  bytes = 0;
  /**
   * OBJECT ENCODING when it doesn't follow from the contents: a string changed in place
   * (APPEND, SETRANGE) is "raw" in Redis, and an INCRBYFLOAT result is never "int".
   */
  enc: "raw" | "embstr" | null = null;
  constructor(public value: Value, public lru: number) {}
}

/** Bytes an entry costs, in Redis's terms: dict entry, key, object header and payload. */
export function estimateBytes(key: string, v: Value): number {
  return 48 + key.length + (typeof v === "string" ? 16 + v.length : v.memoryUsage());
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

/** The config limits that decide compact encodings (listpack, intset). */
export interface EncodingConfig {
  get<T>(name: string): T;
}

/**
 * Recomputes a value's encoding against the configured limits: needed for values that did not
 * grow through commands (loaded from RDB, RESTOREd), which check it as they change.
 */
export function applyEncodingLimits(v: Value, config: EncodingConfig): void {
  if (typeof v === "string") return;
  const withCheck = v as unknown as { checkEncoding?: (limits: unknown) => void };
  if (!withCheck.checkEncoding) return;
  if (v.type === "hash") {
    withCheck.checkEncoding({
      maxEntries: config.get<number>("hash-max-listpack-entries"),
      maxValue: config.get<number>("hash-max-listpack-value"),
    });
  } else if (v.type === "zset") {
    withCheck.checkEncoding({
      maxEntries: config.get<number>("zset-max-listpack-entries"),
      maxValue: config.get<number>("zset-max-listpack-value"),
    });
  } else if (v.type === "set") {
    withCheck.checkEncoding(config.get<number>("set-max-intset-entries"));
  } else if (v.type === "list") {
    withCheck.checkEncoding(config.get<number>("list-max-listpack-size"));
  }
}
