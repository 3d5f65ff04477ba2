/** Compact constructors for command table entries, and shared argument parsing. */
import type { ClientState } from "../engine/types.ts";
import { MAX_STRING_CHARS } from "../../shared/limits.ts";
import { type CommandDef, F_MAY_REPLICATE, type Flag, flagBits, type Handler } from "./types.ts";
import {
  addLongDouble,
  formatLongDouble,
  HEX_FLOAT_RE,
  type LongDouble,
  parseLongDouble,
} from "../store/long_double.ts";
import { clip128 } from "../../shared/cstr.ts";
import { ACL_ORDER } from "../../shared/acl/acl.ts";
import { parseI64 } from "../../shared/int64.ts";

export interface Meta {
  summary?: string;
  since?: string;
  complexity?: string;
  acl?: string[];
  /** Keys given by a count: [destination key index (0 = none), count index, first key index]. */
  numkeys?: [number, number, number];
  subcommands?: CommandDef[];
  /** A protected command: the directive that allows it (see CommandDef.protectedBy). */
  protectedBy?: CommandDef["protectedBy"];
}

const GROUP_ACL: Record<string, string> = {
  generic: "keyspace",
  string: "string",
  list: "list",
  hash: "hash",
  set: "set",
  sorted_set: "sortedset",
  pubsub: "pubsub",
  transactions: "transaction",
  connection: "connection",
  stream: "stream",
  bitmap: "bitmap",
  hyperloglog: "hyperloglog",
  geo: "geo",
  scripting: "scripting",
};

/** Redis lists ACL categories in this order (its category bit order). */
export { ACL_ORDER };

/** ACL categories implied by flags and group, as Redis derives them, in Redis's order. */
function aclFor(flags: Flag[], group: string, extra: string[]): string[] {
  const set = aclSet(flags, group, extra);
  return ACL_ORDER.filter((a) => set.has(a));
}

function aclSet(flags: Flag[], group: string, extra: string[]): Set<string> {
  const out = new Set<string>();
  if (GROUP_ACL[group]) out.add(GROUP_ACL[group]!);
  if (flags.includes("write")) out.add("write");
  if (flags.includes("readonly") && group !== "scripting") out.add("read");
  if (flags.includes("admin")) {
    out.add("admin");
    out.add("dangerous");
  }
  if (flags.includes("pubsub")) out.add("pubsub");
  out.add(flags.includes("fast") ? "fast" : "slow");
  if (flags.includes("blocking")) out.add("blocking");
  // "-name" drops a category the group implies (WAIT is generic but not @keyspace).
  for (const a of extra) a.startsWith("-") ? out.delete(a.slice(1)) : out.add(a);
  return out;
}

/**
 * `cmd("get", 2, "readonly fast", [1, 1, 1], "string", handler, {...})`.
 * Flags are Redis's names, space separated.
 */
/**
 * Commands Redis 7.0 marks may-replicate (they may propagate without being writes: CLIENT
 * PAUSE WRITE holds them), a flag it leaves out of COMMAND's replies.
 */
const HIDDEN_MAY_REPLICATE = new Set([
  "pfcount",
  "publish",
  "spublish",
  "eval",
  "evalsha",
  "fcall",
]);

export function cmd(
  name: string,
  arity: number,
  flags: string,
  keys: [number, number, number] | null,
  group: string,
  handler: Handler | null,
  meta: Meta = {},
): CommandDef {
  const fl = flags.split(" ").filter(Boolean) as Flag[];
  const def: CommandDef = {
    name,
    arity,
    flags: fl,
    bits: 0,
    acl: aclFor(fl, group, meta.acl ?? []),
    group,
    summary: meta.summary ?? "",
    since: meta.since ?? "1.0.0",
    complexity: meta.complexity ?? "O(1)",
  };
  if (keys) def.keys = keys;
  if (handler) def.handler = handler;
  if (meta.numkeys) {
    def.numkeys = meta.numkeys;
    def.flags.push("movablekeys");
  }
  if (meta.subcommands) def.subcommands = meta.subcommands;
  if (meta.protectedBy) def.protectedBy = meta.protectedBy;
  def.bits = flagBits(def.flags);
  if (HIDDEN_MAY_REPLICATE.has(name)) def.bits |= F_MAY_REPLICATE;
  return def;
}

/** A container command (CONFIG, CLIENT...): its subcommands carry the handlers. */
export function container(
  name: string,
  group: string,
  subcommands: CommandDef[],
  meta: Meta = {},
): CommandDef {
  const def = cmd(name, -2, "", null, group, null, { ...meta, subcommands });
  // A container has no category of its own beyond @slow; its subcommands carry them.
  def.acl = ["slow"];
  return def;
}

export { parseI64 };

/** As parseI64 but as a JS number; null when not an integer or outside the safe range. */
export function parseIntArg(s: string): number | null {
  const len = s.length;
  if (len > 0 && len <= 15) {
    // A hand-written loop: this runs for every INCR, LRANGE, EXPIRE... argument.
    let i = 0, neg = false;
    if (s.charCodeAt(0) === 45) {
      neg = true;
      i = 1;
      if (len === 1) return null;
    }
    const first = s.charCodeAt(i);
    if (first === 48) return len === 1 ? 0 : null; // no leading zeros, no "-0"
    let n = 0;
    for (; i < len; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return null;
      n = n * 10 + d;
    }
    return neg ? -n : n;
  }
  const n = parseI64(s);
  if (n === null || n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
    return null;
  }
  return Number(n);
}

/**
 * A range index or offset: any signed 64-bit integer, clamped to ±2^53 (an index that large
 * is past the end of anything, so the clamping changes no result). Null when not an integer.
 */
export function parseIndex(s: string): number | null {
  const fast = parseIntArg(s);
  if (fast !== null) return fast;
  const n = parseI64(s);
  if (n === null) return null;
  const LIM = 2n ** 53n;
  return Number(n > LIM ? LIM : n < -LIM ? -LIM : n);
}

const DECIMAL_RE = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Longest string isPlainDecimal lets through: without an exponent, 40 characters can neither
 * overflow nor underflow a double (the smallest nonzero such value is 1e-38).
 */
const PLAIN_DECIMAL_MAX = 40;

/**
 * A sign, digits and at most one point, with a digit somewhere ("13.361389", "-.5", "2."):
 * a string DECIMAL_RE accepts without an exponent, which Number() rounds as strtod does.
 */
function isPlainDecimal(s: string): boolean {
  const len = s.length;
  let i = 0, digits = 0, point = false;
  const c0 = s.charCodeAt(0);
  if (c0 === 43 || c0 === 45) i = 1; // + -
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 46 && !point) point = true;
    else return false;
  }
  return digits > 0;
}

/** Redis's string2ld/strtod rules for float arguments: no spaces, no hex, no nan. */
export function parseFloatArg(s: string): number | null {
  // Plain integers (most scores) are exact as numbers: no regular expressions.
  if (s.length <= 15) {
    const n = parseIntArg(s);
    if (n !== null) return n;
  }
  if (s.length <= PLAIN_DECIMAL_MAX && isPlainDecimal(s)) return Number(s);
  if (s.length === 0 || s.length > 5120) return null;
  const lower = s.toLowerCase();
  if (lower === "inf" || lower === "+inf" || lower === "infinity" || lower === "+infinity") {
    return Infinity;
  }
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  if (!DECIMAL_RE.test(s)) return parseHexFloat(s) ?? null;
  const d = Number(s);
  // strtod's range errors are errors for Redis: overflow to infinity, underflow to zero.
  if (!Number.isFinite(d)) return null;
  if (d === 0 && /[1-9]/.test(s.replace(/e.*$/i, ""))) return null;
  return d;
}

/** C99 hex floats ("0x10", "0x1p3"), which strtod accepts; undefined when not hex. */
function parseHexFloat(s: string): number | null | undefined {
  const m = HEX_FLOAT_RE.exec(s);
  if (!m) return undefined;
  const digits = (m[2] ?? "") + (m[3] ?? "");
  if (digits === "") return null;
  const v = parseInt(digits, 16) * 2 ** (Number(m[4] ?? "0") - 4 * (m[3] ?? "").length);
  if (!Number.isFinite(v)) return null;
  return m[1] === "-" ? -v : v;
}

/** V8's longest string (2^29 - 24 chars): values can't grow past it, whatever the config. */

/** The largest string value a command may build: proto-max-bulk-len, capped by V8. */
export function maxStringLength(config: { get<T>(name: string): T }): number {
  return Math.min(config.get<number>("proto-max-bulk-len"), MAX_STRING_CHARS);
}

import { ERR } from "../../shared/errors.ts";
export { ERR };

/**
 * Redis's reply to an unknown subcommand or a wrong argument count of a container command that
 * checks them itself: the name as "%.128s" prints it.
 */
export function subcommandSyntaxError(
  c: { error(message: string): void },
  argv: string[],
  container: string,
): void {
  c.error(
    `ERR unknown subcommand or wrong number of arguments for '${
      clip128(argv[1]!)
    }'. Try ${container} HELP.`,
  );
}

/**
 * A DB index as Redis's getIntFromObjectOrReply parses it: not a 64-bit integer is "not an
 * integer" (or `msg`), outside the C int range is "value is out of range" (or `msg`). Null after
 * replying with the error.
 */
export function parseDbIndexOrReply(c: ClientState, arg: string, msg?: string): number | null {
  const n = parseI64(arg);
  if (n === null) {
    c.error(msg ?? ERR.notInt);
    return null;
  }
  if (n < -2147483648n || n > 2147483647n) {
    c.error(msg ?? "ERR value is out of range, value must between -2147483648 and 2147483647");
    return null;
  }
  return Number(n);
}

/** HELP replies are arrays of status lines, as Redis's addReplyHelp sends them. */
export function replyHelp(c: ClientState, lines: string[]): void {
  c.out.array(lines.length);
  for (const l of lines) c.out.simple(l);
}

/**
 * Adds two decimal strings in long double precision, as Redis does, and formats the result;
 * null after replying an error.
 */
export function incrLongDouble(
  c: ClientState,
  cur: string,
  incr: string,
  badCur: string,
): string | null {
  const a = longDoubleArg(cur), b = longDoubleArg(incr);
  if (a === null) return c.error(badCur), null;
  if (b === null) return c.error(ERR.notFloat), null;
  const sum = a !== "inf" && b !== "inf" ? addLongDouble(a, b) : null;
  if (sum === null) return c.error("ERR increment would produce NaN or Infinity"), null;
  return formatLongDouble(sum);
}

/**
 * strtold's view of an argument: a long double, "inf" for the infinity literals (accepted,
 * but any sum with them is refused), or null when invalid or out of long double's range.
 */
export function longDoubleArg(s: string): LongDouble | "inf" | null {
  if (/^[+-]?inf(inity)?$/i.test(s)) return "inf";
  return parseLongDouble(s);
}
