/**
 * Sorted set commands. Scores print as Redis 7.0 does (%.17g, inf, -inf). Arguments are
 * validated in the order Redis 7.0's t_zset.c checks them, so the same error wins.
 */
import { NOTIFY } from "../engine/notify.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { type LexBound, type LexRange, type ScoreRange, ZSetValue } from "../store/zset.ts";
import { cmd, ERR, parseFloatArg, parseI64, parseIndex } from "./define.ts";
import { runBlocking } from "./block.ts";
import type { CommandDef } from "./types.ts";
import { keyMiss, readAggregate, REPLIED } from "./access.ts";
import type { SetValue } from "../store/set.ts";
import { parseScanArgs, scanAggregate, scanMatches } from "./scan.ts";
import { randomCountReply } from "./random.ts";
import { formatG17 } from "../../shared/resp/format.ts";
import { cstr } from "../../shared/cstr.ts";
import type { StringTableView } from "../store/key_dict.ts";

const MIN_OR_MAX_NOT_FLOAT = "ERR min or max is not a float";
const LEX_ERR = "ERR min or max not valid string range item";
const LONG_MAX = 2n ** 63n - 1n;

function readZset(s: Engine, c: ClientState, key: string): ZSetValue | null | typeof REPLIED {
  return readAggregate<ZSetValue>(s, c, key, "zset");
}

function limits(s: Engine) {
  return {
    maxEntries: s.config.get<number>("zset-max-listpack-entries"),
    maxValue: s.config.get<number>("zset-max-listpack-value"),
  };
}

/** The command's event, then an emptied zset is deleted (with its `del` event). */
function afterRemove(s: Engine, c: ClientState, key: string, z: ZSetValue, event: string): void {
  s.notify(NOTIFY.ZSET, event, key, c.db.id);
  if (z.size === 0) {
    c.db.delete(key);
    s.notify(NOTIFY.GENERIC, "del", key, c.db.id);
  } else c.db.signalModified(key);
}

const popEvent = (max: boolean) => max ? "zpopmax" : "zpopmin";

/** Scores and members: RESP3 nests [member, score] pairs; RESP2 is flat. */
function replyEntries(c: ClientState, entries: [string, number][], withScores: boolean): void {
  if (!withScores) {
    c.out.array(entries.length);
    for (const [m] of entries) c.out.bulk(m);
    return;
  }
  if (c.proto === 3) {
    c.out.array(entries.length);
    for (const [m, sc] of entries) {
      c.out.array(2);
      c.out.bulk(m);
      c.out.double(sc);
    }
    return;
  }
  c.out.array(entries.length * 2);
  for (const [m, sc] of entries) {
    c.out.bulk(m);
    c.out.double(sc);
  }
}

// ---- Argument parsing with Redis's C-library rules ----

/** A signed 64-bit integer (Redis's getLongFromObject) as a JS number clamped to ±2^53. */
const parseLong = parseIndex;

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const INFINITE = /^[+-]?inf(inity)?$/i;
const HEX = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/i;

/**
 * strtod over a C string that must be consumed to its end (its first NUL): leading
 * whitespace is skipped, overflow gives ±inf and underflow 0 (range errors are not checked),
 * hex floats and "inf" parse, NaN is refused, and an empty string is a valid 0 (nothing
 * converted, yet the end pointer is at the terminator). Null when not a valid number.
 */
function strtodWhole(arg: string): number | null {
  const s = cstr(arg);
  if (s === "") return 0;
  const t = s.replace(/^[\t\n\v\f\r ]+/, "");
  if (DECIMAL.test(t)) return Number(t);
  if (INFINITE.test(t)) return t[0] === "-" ? -Infinity : Infinity;
  const h = HEX.exec(t);
  if (h && (h[2] || h[3])) {
    const frac = h[3] ?? "";
    const v = parseInt((h[2] ?? "") + frac, 16) * 2 ** (Number(h[4] ?? "0") - 4 * frac.length);
    return h[1] === "-" ? -v : v;
  }
  return null;
}

/** A ZRANGEBYSCORE bound: "(" makes it exclusive; the rest goes through strtod. */
export function parseScoreBound(arg: string): { v: number; ex: boolean } | null {
  const ex = arg.startsWith("(");
  const v = strtodWhole(ex ? arg.slice(1) : arg);
  return v === null ? null : { v, ex };
}

function parseScoreRange(minArg: string, maxArg: string): ScoreRange | null {
  const a = parseScoreBound(minArg), b = parseScoreBound(maxArg);
  if (!a || !b) return null;
  return { min: a.v, minEx: a.ex, max: b.v, maxEx: b.ex };
}

/** "-", "+" (a C string: a NUL may follow), "(member" or "[member". */
function parseLexBound(arg: string): LexBound | null {
  switch (arg[0]) {
    case "+":
    case "-":
      if (arg.length > 1 && arg[1] !== "\0") return null;
      return { kind: arg[0] === "+" ? 1 : -1, v: "", ex: true };
    case "(":
      return { kind: 0, v: arg.slice(1), ex: true };
    case "[":
      return { kind: 0, v: arg.slice(1), ex: false };
    default:
      return null;
  }
}

function parseLexRange(minArg: string, maxArg: string): LexRange | null {
  const min = parseLexBound(minArg), max = parseLexBound(maxArg);
  return min && max ? { min, max } : null;
}

// ---- ZADD / ZINCRBY ----

function zadd(s: Engine, c: ClientState, argv: string[]): void {
  let nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
  let i = 2;
  for (; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    if (o === "nx") nx = true;
    else if (o === "xx") xx = true;
    else if (o === "gt") gt = true;
    else if (o === "lt") lt = true;
    else if (o === "ch") ch = true;
    else if (o === "incr") incr = true;
    else break;
  }
  const rest = argv.length - i;
  if (rest === 0 || rest % 2 !== 0) return c.error(ERR.syntax);
  if (nx && xx) {
    return c.error("ERR XX and NX options at the same time are not compatible");
  }
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    return c.error("ERR GT, LT, and/or NX options at the same time are not compatible");
  }
  if (incr && rest > 2) {
    return c.error("ERR INCR option supports a single increment-element pair");
  }
  // Every score is checked before anything changes; members are read from argv after them.
  const scores = new Array<number>(rest / 2);
  for (let j = i, k = 0; j < argv.length; j += 2, k++) {
    const sc = parseFloatArg(argv[j]!);
    if (sc === null) return c.error(ERR.notFloat);
    scores[k] = sc;
  }
  let z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  if (z === null) {
    if (xx) return incr ? c.out.nullBulk() : c.out.int(0);
    z = new ZSetValue();
    c.db.set(argv[1]!, z);
  }
  const lim = limits(s);
  let added = 0, updated = 0;
  let incrResult: number | null = null;
  // Without options the member's current score is the set's own business (one lookup, in add).
  const needCur = nx || xx || incr || gt || lt;
  for (let k = 0; k < scores.length; k++) {
    const score = scores[k]!, member = argv[i + 2 * k + 1]!;
    const cur = needCur ? z.score(member) : undefined;
    if ((cur !== undefined && nx) || (cur === undefined && xx)) continue;
    let next = score;
    // A new member takes the increment as is (so -0 stays -0).
    if (incr && cur !== undefined) {
      next = cur + score;
      if (Number.isNaN(next)) {
        if (z.size === 0) c.db.delete(argv[1]!);
        return c.error("ERR resulting score is not a number (NaN)");
      }
    }
    if (cur !== undefined && ((gt && next <= cur) || (lt && next >= cur))) continue;
    const r = z.addWithLimits(member, next, lim);
    if (r === "added") added++;
    else if (r === "updated") updated++;
    incrResult = next;
  }
  if (z.size === 0) c.db.delete(argv[1]!);
  if (added + updated > 0) {
    c.db.signalModified(argv[1]!);
    s.notify(NOTIFY.ZSET, incr ? "zincr" : "zadd", argv[1]!, c.db.id);
    s.dirty += added + updated;
  }
  if (incr) {
    if (incrResult === null) return c.out.nullBulk();
    return c.out.double(incrResult);
  }
  c.out.int(ch ? added + updated : added);
}

function zincrby(s: Engine, c: ClientState, argv: string[]): void {
  zadd(s, c, [argv[0]!, argv[1]!, "INCR", argv[2]!, argv[3]!]);
}

function zrem(s: Engine, c: ClientState, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  if (!z) return c.out.int(0);
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (z.remove(argv[i]!)) n++;
  if (n > 0) {
    afterRemove(s, c, argv[1]!, z, "zrem");
    s.dirty += n;
  }
  c.out.int(n);
}

function zcard(s: Engine, c: ClientState, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.int(z ? z.size : 0);
}

function zscore(s: Engine, c: ClientState, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  const sc = z?.score(argv[2]!);
  if (sc === undefined) c.out.nullBulk();
  else c.out.double(sc);
}

function zmscore(s: Engine, c: ClientState, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const sc = z?.score(argv[i]!);
    if (sc === undefined) c.out.nullBulk();
    else c.out.double(sc);
  }
}

/** ZRANK/ZREVRANK key member (WITHSCORE came with Redis 7.2). */
function zrank(reverse: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const z = readZset(s, c, argv[1]!);
    if (z === REPLIED) return;
    const r = z ? z.rank(argv[2]!) : -1;
    if (r < 0) return c.out.nullBulk();
    c.out.int(reverse ? z!.size - 1 - r : r);
  };
}

function zcount(s: Engine, c: ClientState, argv: string[]): void {
  const r = parseScoreRange(argv[2]!, argv[3]!);
  if (!r) return c.error(MIN_OR_MAX_NOT_FLOAT);
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.int(z ? z.countInScore(r) : 0);
}

function zlexcount(s: Engine, c: ClientState, argv: string[]): void {
  const r = parseLexRange(argv[2]!, argv[3]!);
  if (!r) return c.error(LEX_ERR);
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.int(z ? z.countInLex(r) : 0);
}

// ---- ZRANGE family ----

type RangeType = "auto" | "rank" | "score" | "lex";
type Direction = "auto" | "forward" | "reverse";

/** Entries from rank start to end (Redis's index rules), ascending or reversed. */
function rankRange(z: ZSetValue, start: number, end: number, rev: boolean): [string, number][] {
  const n = z.size;
  if (start < 0) start = n + start;
  if (end < 0) end = n + end;
  if (start < 0) start = 0;
  if (start > end || start >= n) return [];
  if (end >= n) end = n - 1;
  return [...z.rangeByRank(start, end, rev)];
}

/**
 * ZRANGE, ZRANGESTORE and the legacy forms, in Redis's order: options (LIMIT values parsed
 * as met), option conflicts, then the range, then the key. `keyAt` is the source key's index;
 * `dst` is ZRANGESTORE's destination.
 */
function zrangeGeneric(
  s: Engine,
  c: ClientState,
  argv: string[],
  keyAt: number,
  dst: string | null,
  type: RangeType,
  dir: Direction,
): void {
  let withScores = false, offset = 0, limit = -1;
  for (let j = keyAt + 3; j < argv.length; j++) {
    const o = argv[j]!.toLowerCase();
    if (dst === null && o === "withscores") withScores = true;
    else if (o === "limit" && argv.length - j - 1 >= 2) {
      const off = parseLong(argv[j + 1]!);
      if (off === null) return c.error(ERR.notInt);
      const lim = parseLong(argv[j + 2]!);
      if (lim === null) return c.error(ERR.notInt);
      offset = off;
      limit = lim;
      j += 2;
    } else if (dir === "auto" && o === "rev") dir = "reverse";
    else if (type === "auto" && o === "bylex") type = "lex";
    else if (type === "auto" && o === "byscore") type = "score";
    else return c.error(ERR.syntax);
  }
  if (type === "auto") type = "rank";
  const rev = dir === "reverse";
  if (limit !== -1 && type === "rank") {
    return c.error(
      "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
    );
  }
  if (withScores && type === "lex") {
    return c.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  // Reversed score and lex ranges are given as max, min.
  let minArg = argv[keyAt + 1]!, maxArg = argv[keyAt + 2]!;
  if (rev && type !== "rank") [minArg, maxArg] = [maxArg, minArg];
  let select: (z: ZSetValue) => [string, number][];
  if (type === "rank") {
    const start = parseLong(minArg);
    if (start === null) return c.error(ERR.notInt);
    const end = parseLong(maxArg);
    if (end === null) return c.error(ERR.notInt);
    select = (z) => rankRange(z, start, end, rev);
  } else if (type === "score") {
    const r = parseScoreRange(minArg, maxArg);
    if (!r) return c.error(MIN_OR_MAX_NOT_FLOAT);
    select = (z) => z.rangeByScoreLimit(r, rev, offset, limit);
  } else {
    const r = parseLexRange(minArg, maxArg);
    if (!r) return c.error(LEX_ERR);
    select = (z) => z.rangeByLexLimit(r, rev, offset, limit);
  }
  const z = readZset(s, c, argv[keyAt]!);
  // ZRANGESTORE reads its source as a read command would.
  if (z === null && dst !== null) keyMiss(s, c, argv[keyAt]!, true);
  if (z === REPLIED) return;
  const entries = z ? select(z) : [];
  if (dst !== null) {
    storeEntries(s, c, dst, entries, type === "rank" ? "add-long" : "add", "zrangestore");
    return c.out.int(entries.length);
  }
  replyEntries(c, entries, withScores);
}

function zrange(s: Engine, c: ClientState, argv: string[]): void {
  zrangeGeneric(s, c, argv, 1, null, "auto", "auto");
}

function zrangestore(s: Engine, c: ClientState, argv: string[]): void {
  zrangeGeneric(s, c, argv, 2, argv[1]!, "auto", "auto");
}

/**
 * Stores a result (deleting dst when empty); returns its size. ZRANGESTORE fills the new
 * zset as ZADD would (a skiplist from the start when a rank range is known to be too long);
 * the set operations build a skiplist and turn it into a listpack when the whole fits.
 */
function storeEntries(
  s: Engine,
  c: ClientState,
  dst: string,
  entries: [string, number][],
  how: "add" | "add-long" | "convert",
  event: string,
): number {
  const lim = limits(s);
  const out = new ZSetValue();
  if (how === "add-long" && entries.length > lim.maxEntries) out.toSkiplist();
  if (how === "convert") {
    if (
      entries.length > lim.maxEntries || entries.some(([m]) => m.length > lim.maxValue)
    ) {
      out.toSkiplist();
    }
    for (const [m, sc] of entries) out.add(m, sc);
  } else {
    for (const [m, sc] of entries) out.addWithLimits(m, sc, lim);
  }
  if (out.size === 0) {
    if (c.db.delete(dst)) {
      s.notify(NOTIFY.GENERIC, "del", dst, c.db.id);
      s.dirty++;
    }
  } else {
    c.db.set(dst, out);
    s.notify(NOTIFY.ZSET, event, dst, c.db.id);
    s.dirty++;
  }
  return out.size;
}

/** The legacy forms: ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX. */
function legacyRange(type: RangeType, rev: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void =>
    zrangeGeneric(s, c, argv, 1, null, type, rev ? "reverse" : "forward");
}

/** ZREMRANGEBYRANK/SCORE/LEX: the range is parsed before the key is looked up. */
function zremrange(type: "rank" | "score" | "lex") {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    let remove: (z: ZSetValue) => number;
    if (type === "rank") {
      const start = parseLong(argv[2]!);
      if (start === null) return c.error(ERR.notInt);
      const end = parseLong(argv[3]!);
      if (end === null) return c.error(ERR.notInt);
      remove = (z) => {
        const victims = rankRange(z, start, end, false);
        for (const [m] of victims) z.remove(m);
        return victims.length;
      };
    } else if (type === "score") {
      const r = parseScoreRange(argv[2]!, argv[3]!);
      if (!r) return c.error(MIN_OR_MAX_NOT_FLOAT);
      remove = (z) => z.deleteRangeByScore(r);
    } else {
      const r = parseLexRange(argv[2]!, argv[3]!);
      if (!r) return c.error(LEX_ERR);
      remove = (z) => z.deleteRangeByLex(r);
    }
    const z = readZset(s, c, argv[1]!);
    if (z === REPLIED) return;
    if (!z) return c.out.int(0);
    const n = remove(z);
    if (n > 0) {
      afterRemove(s, c, argv[1]!, z, `zremrangeby${type}`);
      s.dirty += n;
    }
    c.out.int(n);
  };
}

// ---- POP family ----

function popEntries(z: ZSetValue, max: boolean, count: number): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i < count && z.size > 0; i++) {
    const e = max ? z.last()! : z.first()!;
    z.remove(e[0]);
    out.push(e);
  }
  return out;
}

function zpop(max: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    if (argv.length > 3) return c.error(ERR.syntax);
    let count = 1;
    if (argv.length === 3) {
      // Redis uses the same message for a non-integer count.
      const n = parseLong(argv[2]!);
      if (n === null || n < 0) return c.error("ERR value is out of range, must be positive");
      count = n;
    }
    const z = readZset(s, c, argv[1]!);
    if (z === REPLIED) return;
    if (!z) return c.out.array(0);
    const popped = popEntries(z, max, count);
    // Without a count RESP3 gets a flat [member, score]; with one, nested pairs.
    if (argv.length === 2 || c.proto === 2) {
      c.out.array(popped.length * 2);
      for (const [m, sc] of popped) {
        c.out.bulk(m);
        c.out.double(sc);
      }
    } else {
      replyEntries(c, popped, true);
    }
    if (popped.length === 0) return;
    afterRemove(s, c, argv[1]!, z, popEvent(max));
    s.dirty += popped.length;
  };
}

interface MpopArgs {
  keys: string[];
  max: boolean;
  count: number;
}

/** numkeys (1..LONG_MAX), the keys, MIN|MAX, then at most one COUNT (1..LONG_MAX). */
function parseZmpop(c: ClientState, argv: string[], at: number): MpopArgs | null {
  const numkeys = parseI64(argv[at]!);
  if (numkeys === null || numkeys < 1n) {
    return c.error("ERR numkeys should be greater than 0"), null;
  }
  if (BigInt(at) + numkeys + 1n >= BigInt(argv.length)) return c.error(ERR.syntax), null;
  const n = Number(numkeys);
  const whereAt = at + n + 1;
  const where = argv[whereAt]!.toLowerCase();
  if (where !== "min" && where !== "max") return c.error(ERR.syntax), null;
  let count = -1;
  for (let j = whereAt + 1; j < argv.length; j++) {
    if (count === -1 && argv[j]!.toLowerCase() === "count" && j + 1 < argv.length) {
      const v = parseI64(argv[++j]!);
      if (v === null || v < 1n) return c.error("ERR count should be greater than 0"), null;
      count = v > 2n ** 53n ? 2 ** 53 : Number(v);
    } else return c.error(ERR.syntax), null;
  }
  return { keys: argv.slice(at + 1, at + 1 + n), max: where === "max", count: Math.max(count, 1) };
}

/** Replies [key, [[member, score]...]] from the first non-empty zset; false if none. */
function zmpopFrom(s: Engine, c: ClientState, a: MpopArgs): boolean | typeof REPLIED {
  for (const key of a.keys) {
    const z = readZset(s, c, key);
    if (z === REPLIED) return REPLIED;
    if (!z) continue;
    const popped = popEntries(z, a.max, a.count);
    c.out.array(2);
    c.out.bulk(key);
    c.out.array(popped.length);
    for (const [m, sc] of popped) {
      c.out.array(2);
      c.out.bulk(m);
      c.out.double(sc);
    }
    afterRemove(s, c, key, z, popEvent(a.max));
    s.dirty += popped.length;
    // Replicated as ZPOPMIN/ZPOPMAX of the key that served, with the count it gave.
    c.rewrittenArgv = [a.max ? "ZPOPMAX" : "ZPOPMIN", key, String(popped.length)];
    return true;
  }
  return false;
}

function zmpop(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseZmpop(c, argv, 1);
  if (!a) return;
  if (zmpopFrom(s, c, a) === false) c.out.nullArray();
}

function bzpop(max: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void | Promise<void> => {
    return runBlocking(s, c, {
      keys: argv.slice(1, -1),
      timeoutArg: argv[argv.length - 1]!,
      type: "zset",
      attempt: (keys) => {
        for (const key of keys) {
          const z = readZset(s, c, key);
          if (z === REPLIED) return REPLIED;
          if (!z) continue;
          const [[m, sc]] = popEntries(z, max, 1) as [[string, number]];
          c.out.array(3);
          c.out.bulk(key);
          c.out.bulk(m);
          c.out.double(sc);
          afterRemove(s, c, key, z, popEvent(max));
          s.dirty++;
          c.rewrittenArgv = [max ? "ZPOPMAX" : "ZPOPMIN", key];
          return true;
        }
        return false;
      },
    });
  };
}

function bzmpop(s: Engine, c: ClientState, argv: string[]): void | Promise<void> {
  const a = parseZmpop(c, argv, 2);
  if (!a) return;
  // The timeout is read after the other arguments (runBlocking parses it).
  return runBlocking(s, c, {
    keys: a.keys,
    timeoutArg: argv[1]!,
    type: "zset",
    attempt: (keys) => zmpopFrom(s, c, { ...a, keys }),
  });
}

// ---- Set operations ----

type Agg = "sum" | "min" | "max";
type SetOp = "union" | "inter" | "diff";

interface Operand {
  members: StringTableView<number> | null;
  weight: number;
}

/** Reads an operand: sets count as zsets with score 1; WRONGTYPE for anything else. */
function readOperand(
  s: Engine,
  c: ClientState,
  key: string,
): StringTableView<number> | null | typeof REPLIED {
  const e = c.db.lookup(key);
  if (!e) {
    keyMiss(s, c, key, true);
    return null;
  }
  const v = e.value;
  if (typeof v !== "string" && v.type === "zset") return (v as ZSetValue).scoreMap();
  if (typeof v !== "string" && v.type === "set") {
    return new Map((v as SetValue).members().map((m) => [m, 1]));
  }
  c.error(ERR.wrongType);
  return REPLIED;
}

/** Redis's zunionInterAggregate: SUM maps NaN (inf + -inf, or a NaN operand) to 0. */
function aggregate(agg: Agg, target: number, v: number): number {
  if (agg === "min") return v < target ? v : target;
  if (agg === "max") return v > target ? v : target;
  const r = target + v;
  return Number.isNaN(r) ? 0 : r;
}

/** An element's first weighted score: 0 * inf is taken as 0. */
function weighted(score: number, w: number): number {
  const r = score * w;
  return Number.isNaN(r) ? 0 : r;
}

/** Union and intersection visit the inputs smallest first, as Redis does (scores add in that order). */
function computeZop(op: SetOp, ops: Operand[], agg: Agg): Map<string, number> {
  const out = new Map<string, number>();
  const size = (o: Operand) => o.members?.size ?? 0;
  if (op === "union") {
    for (const o of [...ops].sort((a, b) => size(a) - size(b))) {
      if (!o.members) continue;
      for (const [k, sc] of o.members) {
        const v = weighted(sc, o.weight);
        const cur = out.get(k);
        out.set(k, cur === undefined ? v : aggregate(agg, cur, v));
      }
    }
  } else if (op === "inter") {
    const [first, ...rest] = [...ops].sort((a, b) => size(a) - size(b));
    if (!first!.members || first!.members.size === 0) return out;
    outer: for (const [k, sc] of first!.members) {
      let v = weighted(sc, first!.weight);
      for (const o of rest) {
        const s = o.members!.get(k);
        if (s === undefined) continue outer;
        // The other inputs' weighted scores go in raw (a NaN makes a SUM 0, MIN/MAX skip it).
        v = aggregate(agg, v, s * o.weight);
      }
      out.set(k, v);
    }
  } else {
    const [first, ...rest] = ops;
    if (!first!.members) return out;
    for (const [k, sc] of first!.members) {
      if (!rest.some((o) => o.members?.has(k))) out.set(k, sc);
    }
  }
  return out;
}

function sortEntries(m: Map<string, number>): [string, number][] {
  return [...m].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

/**
 * ZUNION/ZINTER/ZDIFF(+STORE) and ZINTERCARD, in Redis's order: numkeys, "at least 1 input
 * key", numkeys against the arguments left, the keys' types, then WEIGHTS / AGGREGATE /
 * WITHSCORES / LIMIT.
 */
function zsetOpGeneric(
  s: Engine,
  c: ClientState,
  argv: string[],
  name: string,
  op: SetOp,
  dst: string | null,
  cardinalityOnly: boolean,
): void {
  const at = dst === null ? 1 : 2;
  const n64 = parseI64(argv[at]!);
  if (n64 === null) return c.error(ERR.notInt);
  if (n64 < 1n) return c.error(`ERR at least 1 input key is needed for '${name}' command`);
  if (n64 > BigInt(argv.length - (at + 1))) return c.error(ERR.syntax);
  const numkeys = Number(n64);
  const ops: Operand[] = [];
  for (let i = 0; i < numkeys; i++) {
    const members = readOperand(s, c, argv[at + 1 + i]!);
    if (members === REPLIED) return;
    ops.push({ members, weight: 1 });
  }
  let agg: Agg = "sum", withScores = false, limit = 0;
  for (let j = at + 1 + numkeys; j < argv.length;) {
    const remaining = argv.length - j;
    const o = argv[j]!.toLowerCase();
    if (op !== "diff" && !cardinalityOnly && remaining >= numkeys + 1 && o === "weights") {
      j++;
      for (let i = 0; i < numkeys; i++, j++) {
        const w = parseFloatArg(argv[j]!);
        if (w === null) return c.error("ERR weight value is not a float");
        ops[i]!.weight = w;
      }
    } else if (op !== "diff" && !cardinalityOnly && remaining >= 2 && o === "aggregate") {
      const g = argv[j + 1]!.toLowerCase();
      if (g !== "sum" && g !== "min" && g !== "max") return c.error(ERR.syntax);
      agg = g;
      j += 2;
    } else if (dst === null && !cardinalityOnly && o === "withscores") {
      withScores = true;
      j++;
    } else if (cardinalityOnly && remaining >= 2 && o === "limit") {
      const v = parseI64(argv[j + 1]!);
      if (v === null || v < 0n) return c.error("ERR LIMIT can't be negative");
      limit = v > 2n ** 53n ? 2 ** 53 : Number(v);
      j += 2;
    } else return c.error(ERR.syntax);
  }
  const result = computeZop(op, ops, agg);
  if (cardinalityOnly) return c.out.int(limit > 0 ? Math.min(limit, result.size) : result.size);
  if (dst !== null) {
    return c.out.int(storeEntries(s, c, dst, sortEntries(result), "convert", `z${op}store`));
  }
  replyEntries(c, sortEntries(result), withScores);
}

function zsetop(op: SetOp, name: string) {
  return (s: Engine, c: ClientState, argv: string[]): void =>
    zsetOpGeneric(s, c, argv, name, op, null, false);
}

function zsetopStore(op: SetOp, name: string) {
  return (s: Engine, c: ClientState, argv: string[]): void =>
    zsetOpGeneric(s, c, argv, name, op, argv[1]!, false);
}

function zintercard(s: Engine, c: ClientState, argv: string[]): void {
  zsetOpGeneric(s, c, argv, "zintercard", "inter", null, true);
}

/**
 * ZRANDMEMBER key [count [WITHSCORES]]: the count (-LONG_MAX..LONG_MAX) is checked first,
 * then the syntax, then (with scores) that doubling the count can't overflow.
 */
function zrandmember(s: Engine, c: ClientState, argv: string[]): void {
  let count: number | null = null;
  if (argv.length >= 3) {
    const n = parseI64(argv[2]!);
    if (n === null) return c.error(ERR.notInt);
    if (n < -LONG_MAX) {
      return c.error(
        `ERR value is out of range, value must between -${LONG_MAX} and ${LONG_MAX}`,
      );
    }
    if (argv.length > 4 || (argv.length === 4 && argv[3]!.toLowerCase() !== "withscores")) {
      return c.error(ERR.syntax);
    }
    if (argv.length === 4 && (n < -(LONG_MAX / 2n) || n > LONG_MAX / 2n)) {
      return c.error("ERR value is out of range");
    }
    count = Number(n > 2n ** 53n ? 2n ** 53n : n < -(2n ** 53n) ? -(2n ** 53n) : n);
  }
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  if (count === null) {
    if (!z) return c.out.nullBulk();
    const all = z.members();
    return c.out.bulk(all[Math.floor(Math.random() * all.length)]!);
  }
  const scores = z?.scoreMap();
  randomCountReply(
    c,
    scores ? [...scores.keys()] : [],
    count,
    argv.length === 4 ? (m) => c.out.double(scores!.get(m)!) : null,
  );
}

function zscan(s: Engine, c: ClientState, argv: string[]): void {
  const a = parseScanArgs(c, argv, 2, false);
  if (!a) return;
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  let out: [string, number][] = [];
  let next = 0;
  const table = z?.table();
  if (table) {
    next = scanAggregate(a, table, z!.cursors, false, (m) => out.push([m, table.get(m)!]));
  } else if (z) {
    // A listpack is returned whole, in score order, with cursor 0, as Redis does.
    out = [...z.entries()].filter(([m]) => scanMatches(a, m));
  }
  c.out.array(2);
  c.out.bulk(String(next));
  // ZSCAN sends scores as bulk strings even in RESP3, as Redis does.
  c.out.array(out.length * 2);
  for (const [m, sc] of out) {
    c.out.bulk(m);
    c.out.bulk(formatG17(sc));
  }
}

const k1: [number, number, number] = [1, 1, 1];
const m = (summary: string, since = "1.2.0", complexity = "O(log(N))") => ({
  summary,
  since,
  complexity,
});

export const ZSET_COMMANDS: CommandDef[] = [
  cmd(
    "zadd",
    -4,
    "write denyoom fast",
    k1,
    "sorted_set",
    zadd,
    m("Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
  ),
  cmd(
    "zincrby",
    4,
    "write denyoom fast",
    k1,
    "sorted_set",
    zincrby,
    m("Increments the score of a member in a sorted set."),
  ),
  cmd(
    "zrem",
    -3,
    "write fast",
    k1,
    "sorted_set",
    zrem,
    m("Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
  ),
  cmd(
    "zcard",
    2,
    "readonly fast",
    k1,
    "sorted_set",
    zcard,
    m("Returns the number of members in a sorted set."),
  ),
  cmd(
    "zscore",
    3,
    "readonly fast",
    k1,
    "sorted_set",
    zscore,
    m("Returns the score of a member in a sorted set."),
  ),
  cmd(
    "zmscore",
    -3,
    "readonly fast",
    k1,
    "sorted_set",
    zmscore,
    m("Returns the score of one or more members in a sorted set.", "6.2.0"),
  ),
  cmd(
    "zrank",
    3,
    "readonly fast",
    k1,
    "sorted_set",
    zrank(false),
    m("Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0"),
  ),
  cmd(
    "zrevrank",
    3,
    "readonly fast",
    k1,
    "sorted_set",
    zrank(true),
    m("Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0"),
  ),
  cmd(
    "zcount",
    4,
    "readonly fast",
    k1,
    "sorted_set",
    zcount,
    m("Returns the count of members in a sorted set that have scores within a range.", "2.0.0"),
  ),
  cmd(
    "zlexcount",
    4,
    "readonly fast",
    k1,
    "sorted_set",
    zlexcount,
    m("Returns the number of members in a sorted set within a lexicographical range.", "2.8.9"),
  ),
  cmd(
    "zrange",
    -4,
    "readonly",
    k1,
    "sorted_set",
    zrange,
    m("Returns members in a sorted set within a range of indexes."),
  ),
  cmd(
    "zrangestore",
    -5,
    "write denyoom",
    [1, 2, 1],
    "sorted_set",
    zrangestore,
    m("Stores a range of members from sorted set in a key.", "6.2.0"),
  ),
  cmd(
    "zrevrange",
    -4,
    "readonly",
    k1,
    "sorted_set",
    legacyRange("rank", true),
    m("Returns members in a sorted set within a range of indexes in reverse order."),
  ),
  cmd(
    "zrangebyscore",
    -4,
    "readonly",
    k1,
    "sorted_set",
    legacyRange("score", false),
    m("Returns members in a sorted set within a range of scores.", "1.0.5"),
  ),
  cmd(
    "zrevrangebyscore",
    -4,
    "readonly",
    k1,
    "sorted_set",
    legacyRange("score", true),
    m("Returns members in a sorted set within a range of scores in reverse order.", "2.2.0"),
  ),
  cmd(
    "zrangebylex",
    -4,
    "readonly",
    k1,
    "sorted_set",
    legacyRange("lex", false),
    m("Returns members in a sorted set within a lexicographical range.", "2.8.9"),
  ),
  cmd(
    "zrevrangebylex",
    -4,
    "readonly",
    k1,
    "sorted_set",
    legacyRange("lex", true),
    m("Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9"),
  ),
  cmd(
    "zremrangebyrank",
    4,
    "write",
    k1,
    "sorted_set",
    zremrange("rank"),
    m(
      "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
      "2.0.0",
    ),
  ),
  cmd(
    "zremrangebyscore",
    4,
    "write",
    k1,
    "sorted_set",
    zremrange("score"),
    m("Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
  ),
  cmd(
    "zremrangebylex",
    4,
    "write",
    k1,
    "sorted_set",
    zremrange("lex"),
    m(
      "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
      "2.8.9",
    ),
  ),
  cmd(
    "zpopmin",
    -2,
    "write fast",
    k1,
    "sorted_set",
    zpop(false),
    m(
      "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
      "5.0.0",
    ),
  ),
  cmd(
    "zpopmax",
    -2,
    "write fast",
    k1,
    "sorted_set",
    zpop(true),
    m(
      "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
      "5.0.0",
    ),
  ),
  cmd(
    "bzpopmin",
    -3,
    "write noscript blocking fast",
    [1, -2, 1],
    "sorted_set",
    bzpop(false),
    m(
      "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
      "5.0.0",
    ),
  ),
  cmd(
    "bzpopmax",
    -3,
    "write noscript blocking fast",
    [1, -2, 1],
    "sorted_set",
    bzpop(true),
    m(
      "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.",
      "5.0.0",
    ),
  ),
  cmd("zmpop", -4, "write", null, "sorted_set", zmpop, {
    ...m(
      "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
      "7.0.0",
    ),
    numkeys: [0, 1, 2],
  }),
  cmd("bzmpop", -5, "write blocking", null, "sorted_set", bzmpop, {
    ...m(
      "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
      "7.0.0",
    ),
    numkeys: [0, 2, 3],
  }),
  cmd("zunion", -3, "readonly", null, "sorted_set", zsetop("union", "zunion"), {
    ...m("Returns the union of multiple sorted sets.", "6.2.0"),
    numkeys: [0, 1, 2],
  }),
  cmd("zinter", -3, "readonly", null, "sorted_set", zsetop("inter", "zinter"), {
    ...m("Returns the intersect of multiple sorted sets.", "6.2.0"),
    numkeys: [0, 1, 2],
  }),
  cmd("zdiff", -3, "readonly", null, "sorted_set", zsetop("diff", "zdiff"), {
    ...m("Returns the difference between multiple sorted sets.", "6.2.0"),
    numkeys: [0, 1, 2],
  }),
  cmd(
    "zunionstore",
    -4,
    "write denyoom",
    [1, 1, 1],
    "sorted_set",
    zsetopStore("union", "zunionstore"),
    {
      ...m("Stores the union of multiple sorted sets in a key.", "2.0.0"),
      numkeys: [1, 2, 3],
    },
  ),
  cmd(
    "zinterstore",
    -4,
    "write denyoom",
    [1, 1, 1],
    "sorted_set",
    zsetopStore("inter", "zinterstore"),
    {
      ...m("Stores the intersect of multiple sorted sets in a key.", "2.0.0"),
      numkeys: [1, 2, 3],
    },
  ),
  cmd(
    "zdiffstore",
    -4,
    "write denyoom",
    [1, 1, 1],
    "sorted_set",
    zsetopStore("diff", "zdiffstore"),
    {
      ...m("Stores the difference of multiple sorted sets in a key.", "6.2.0"),
      numkeys: [1, 2, 3],
    },
  ),
  cmd("zintercard", -3, "readonly", null, "sorted_set", zintercard, {
    ...m("Returns the number of members of the intersect of multiple sorted sets.", "7.0.0"),
    numkeys: [0, 1, 2],
  }),
  cmd(
    "zrandmember",
    -2,
    "readonly",
    k1,
    "sorted_set",
    zrandmember,
    m("Returns one or more random members from a sorted set.", "6.2.0"),
  ),
  cmd(
    "zscan",
    -3,
    "readonly",
    k1,
    "sorted_set",
    zscan,
    m("Iterates over members and scores of a sorted set.", "2.8.0"),
  ),
];
