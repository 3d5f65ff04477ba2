/** Shared by SCAN, HSCAN, SSCAN and ZSCAN: argument parsing and cursor iteration over aggregates. */
import type { ClientState } from "../engine/types.ts";
import { globMatch } from "../../shared/glob.ts";
import { resumeForeign, scanMap } from "../store/cursor.ts";
import { ERR, parseI64 } from "./define.ts";
import { cstr } from "../../shared/cstr.ts";

export interface ScanArgs {
  cursor: number;
  /** The cursor as the full unsigned 64-bit value Redis reads. */
  cursorBits: bigint;
  match: string | null;
  count: number;
  type: string | null;
}

const U64 = 2n ** 64n;

/** The value type each aggregate SCAN command iterates. */
const SCAN_TYPES: Record<string, string> = { hscan: "hash", sscan: "set", zscan: "zset" };

/**
 * strtoul's reading of a cursor, as Redis checks it: no leading space, an optional sign (a
 * negative value wraps around), digits only, within 64 bits. An empty string reads as 0.
 */
function parseCursor(full: string): bigint | null {
  const arg = cstr(full);
  if (arg === "") return 0n;
  const m = /^([+-]?)(\d+)$/.exec(arg);
  if (!m) return null;
  const v = BigInt(m[2]!);
  if (v >= U64) return null;
  return m[1] === "-" ? (U64 - v) % U64 : v;
}

/**
 * `cursor [MATCH pattern] [COUNT n] [TYPE t]` (TYPE only when allowType), in Redis's order:
 * the cursor first; for HSCAN/SSCAN/ZSCAN (at = 2) then the key, whose absence or wrong type
 * wins over any option error (the caller then replies the empty scan or WRONGTYPE, so its
 * lookup counts the keyspace hit or miss); the options last.
 */
export function parseScanArgs(
  c: ClientState,
  argv: string[],
  at: number,
  allowType: boolean,
): ScanArgs | null {
  const bits = parseCursor(argv[at]!);
  if (bits === null) {
    c.error("ERR invalid cursor");
    return null;
  }
  const a: ScanArgs = {
    cursor: Number(bits),
    cursorBits: bits,
    match: null,
    count: 10,
    type: null,
  };
  if (at === 2) {
    const e = c.db.lookup(argv[1]!, false);
    const want = SCAN_TYPES[argv[0]!.toLowerCase()];
    if (e === undefined || typeof e.value === "string" || e.value.type !== want) return a;
  }
  for (let i = at + 1; i < argv.length; i += 2) {
    const opt = cstr(argv[i]!).toLowerCase();
    const val = argv[i + 1];
    if (val === undefined) return c.error(ERR.syntax), null;
    if (opt === "count") {
      const n = parseI64(val);
      if (n === null) return c.error(ERR.notInt), null;
      if (n < 1n) return c.error(ERR.syntax), null;
      a.count = n > 2n ** 31n ? 2 ** 31 : Number(n);
    } else if (opt === "match") {
      a.match = val === "*" ? null : val;
    } else if (opt === "type" && allowType) {
      a.type = cstr(val).toLowerCase();
    } else return c.error(ERR.syntax), null;
  }
  return a;
}

/** A cursor we did not issue resumes where Redis's would (store/cursor.ts). */
function resumeForeignCursor(a: ScanArgs, size: number): void {
  ({ cursor: a.cursor, count: a.count } = resumeForeign(a.cursor, a.cursorBits, size, a.count));
}

/** Does a key pass the MATCH pattern (if any)? */
export function scanMatches(a: ScanArgs, key: string): boolean {
  return a.match === null || globMatch(a.match, key);
}

/**
 * Iterates an aggregate's keys. Small (listpack/intset) encodings are returned whole in one
 * call with cursor 0, exactly as Redis does; large ones page through a live iterator.
 */
export function scanAggregate(
  a: ScanArgs,
  coll: { keys(): Iterator<string>; size: number },
  cursors: Map<number, { it: Iterator<string>; pos: number }>,
  compact: boolean,
  emit: (key: string) => void,
): number {
  const visit = (k: string) => {
    if (a.match === null || globMatch(a.match, k)) emit(k);
  };
  if (compact) {
    for (let it = coll.keys(), r = it.next(); !r.done; r = it.next()) visit(r.value);
    return 0;
  }
  if (!cursors.has(a.cursor)) resumeForeignCursor(a, coll.size);
  return scanMap(cursors, coll, a.cursor, a.count, visit);
}
