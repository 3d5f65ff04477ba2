/** Shared by HSCAN, SSCAN and ZSCAN: argument parsing and cursor iteration over aggregates. */
import type { Client } from "../server/client.ts";
import { globMatch } from "../../shared/glob.ts";
import { scanMap } from "../store/database.ts";
import { ERR, parseIntArg } from "./define.ts";

export interface ScanArgs {
  cursor: number;
  match: string | null;
  count: number;
  type: string | null;
}

/** `cursor [MATCH pattern] [COUNT n] [TYPE t]` (TYPE only when allowType). */
export function parseScanArgs(
  c: Client,
  argv: string[],
  at: number,
  allowType: boolean,
): ScanArgs | null {
  // strtoul's rules: an optional sign, and a negative value wraps around.
  const m = /^([+-]?)(\d+)$/.exec(argv[at]!);
  if (!m || BigInt(m[2]!) > 18446744073709551615n) {
    c.error("ERR invalid cursor");
    return null;
  }
  const value = m[1] === "-" ? (2n ** 64n - BigInt(m[2]!)) % 2n ** 64n : BigInt(m[2]!);
  const a: ScanArgs = { cursor: Number(value), match: null, count: 10, type: null };
  for (let i = at + 1; i < argv.length; i += 2) {
    const opt = argv[i]!.toLowerCase();
    const val = argv[i + 1];
    if (val === undefined) return c.error(ERR.syntax), null;
    if (opt === "count") {
      const n = parseIntArg(val);
      if (n === null) return c.error(ERR.notInt), null;
      if (n < 1) return c.error(ERR.syntax), null;
      a.count = n;
    } else if (opt === "match") {
      a.match = val === "*" ? null : val;
    } else if (opt === "type" && allowType) {
      a.type = val.toLowerCase();
    } else return c.error(ERR.syntax), null;
  }
  return a;
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
  return scanMap(cursors, coll, a.cursor, a.count, visit);
}
