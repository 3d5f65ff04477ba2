/** Sorted set commands. Scores print as Redis 7.0 does (%.17g, inf, -inf). */
import type { Client } from "../server/client.ts";
import type { Server } from "../server/server.ts";
import { type LexRange, type ScoreRange, ZSetValue } from "../store/zset.ts";
import { cmd, ERR, parseFloatArg, parseIndex, parseIntArg } from "./define.ts";
import { runBlocking } from "./block.ts";
import type { CommandDef } from "./types.ts";
import { readAggregate, REPLIED } from "./access.ts";
import { parseScanArgs, scanAggregate } from "./scan.ts";
import { randomCountReply } from "./random.ts";
import { formatG17 } from "../../shared/resp/format.ts";

const MIN_OR_MAX_NOT_FLOAT = "ERR min or max is not a float";
const LEX_ERR = "ERR min or max not valid string range item";

function readZset(s: Server, c: Client, key: string): ZSetValue | null | typeof REPLIED {
  return readAggregate<ZSetValue>(s, c, key, "zset");
}

function limits(s: Server) {
  return {
    maxEntries: s.config.get<number>("zset-max-listpack-entries"),
    maxValue: s.config.get<number>("zset-max-listpack-value"),
  };
}

function afterRemove(c: Client, key: string, z: ZSetValue): void {
  if (z.size === 0) c.db.delete(key);
  else c.db.signalModified(key);
}

/** Scores and members: RESP3 nests [member, score] pairs; RESP2 is flat. */
function replyEntries(c: Client, entries: [string, number][], withScores: boolean): void {
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

export function parseScoreBound(arg: string): { v: number; ex: boolean } | null {
  const ex = arg.startsWith("(");
  const v = parseFloatArg(ex ? arg.slice(1) : arg);
  return v === null ? null : { v, ex };
}

function parseScoreRange(minArg: string, maxArg: string): ScoreRange | null {
  const a = parseScoreBound(minArg), b = parseScoreBound(maxArg);
  if (!a || !b) return null;
  return { min: a.v, minEx: a.ex, max: b.v, maxEx: b.ex };
}

function parseLexBound(arg: string): { v: string | null; ex: boolean; inf: 0 | 1 | -1 } | null {
  if (arg === "+") return { v: null, ex: false, inf: 1 };
  if (arg === "-") return { v: null, ex: false, inf: -1 };
  if (arg.startsWith("(")) return { v: arg.slice(1), ex: true, inf: 0 };
  if (arg.startsWith("[")) return { v: arg.slice(1), ex: false, inf: 0 };
  return null;
}

function parseLexRange(minArg: string, maxArg: string): LexRange | "empty" | null {
  const a = parseLexBound(minArg), b = parseLexBound(maxArg);
  if (!a || !b) return null;
  // "+" as min or "-" as max selects nothing.
  if (a.inf === 1 || b.inf === -1) return "empty";
  return { min: a.v, minEx: a.ex, max: b.v, maxEx: b.ex };
}

// ---- ZADD / ZINCRBY ----

function zadd(s: Server, c: Client, argv: string[]): void {
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
  const pairs: [number, string][] = [];
  for (let j = i; j < argv.length; j += 2) {
    const sc = parseFloatArg(argv[j]!);
    if (sc === null) return c.error(ERR.notFloat);
    pairs.push([sc, argv[j + 1]!]);
  }
  let z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  if (z === null) {
    if (xx) return incr ? c.out.nullBulk() : c.out.int(0);
    z = new ZSetValue();
    c.db.set(argv[1]!, z);
  }
  let added = 0, updated = 0;
  let incrResult: number | null = null;
  for (const [score, member] of pairs) {
    const cur = z.scores.get(member);
    if ((cur !== undefined && nx) || (cur === undefined && xx)) continue;
    let next = score;
    if (incr) {
      next = (cur ?? 0) + score;
      if (Number.isNaN(next)) {
        if (z.size === 0) c.db.delete(argv[1]!);
        return c.error("ERR resulting score is not a number (NaN)");
      }
    }
    if (cur !== undefined && ((gt && next <= cur) || (lt && next >= cur))) continue;
    const r = z.add(member, next);
    if (r === "added") added++;
    else if (r === "updated") updated++;
    incrResult = next;
  }
  if (z.size === 0) c.db.delete(argv[1]!);
  else z.checkEncoding(limits(s));
  if (added + updated > 0) {
    c.db.signalModified(argv[1]!);
    s.dirty += added + updated;
  }
  if (incr) {
    if (incrResult === null) return c.out.nullBulk();
    return c.out.double(incrResult);
  }
  c.out.int(ch ? added + updated : added);
}

function zincrby(s: Server, c: Client, argv: string[]): void {
  zadd(s, c, [argv[0]!, argv[1]!, "INCR", argv[2]!, argv[3]!]);
}

function zrem(s: Server, c: Client, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  if (!z) return c.out.int(0);
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (z.remove(argv[i]!)) n++;
  if (n > 0) {
    afterRemove(c, argv[1]!, z);
    s.dirty += n;
  }
  c.out.int(n);
}

function zcard(s: Server, c: Client, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.int(z ? z.size : 0);
}

function zscore(s: Server, c: Client, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  const sc = z?.scores.get(argv[2]!);
  if (sc === undefined) c.out.nullBulk();
  else c.out.double(sc);
}

function zmscore(s: Server, c: Client, argv: string[]): void {
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.array(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const sc = z?.scores.get(argv[i]!);
    if (sc === undefined) c.out.nullBulk();
    else c.out.double(sc);
  }
}

/** ZRANK/ZREVRANK key member [WITHSCORE] (the option is Redis 7.2's). */
function zrank(reverse: boolean) {
  const name = reverse ? "zrevrank" : "zrank";
  return (s: Server, c: Client, argv: string[]): void => {
    if (argv.length > 4) {
      return c.error(`ERR wrong number of arguments for '${name}' command`);
    }
    const withScore = argv.length === 4;
    if (withScore && argv[3]!.toLowerCase() !== "withscore") return c.error(ERR.syntax);
    const z = readZset(s, c, argv[1]!);
    if (z === REPLIED) return;
    const r = z ? z.rank(argv[2]!) : -1;
    if (r < 0) return withScore ? c.out.nullArray() : c.out.nullBulk();
    if (withScore) c.out.array(2);
    c.out.int(reverse ? z!.size - 1 - r : r);
    if (withScore) c.out.double(z!.scores.get(argv[2]!)!);
  };
}

function zcount(s: Server, c: Client, argv: string[]): void {
  const r = parseScoreRange(argv[2]!, argv[3]!);
  if (!r) return c.error(MIN_OR_MAX_NOT_FLOAT);
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.int(z ? z.countInScore(r) : 0);
}

function zlexcount(s: Server, c: Client, argv: string[]): void {
  const r = parseLexRange(argv[2]!, argv[3]!);
  if (!r) return c.error(LEX_ERR);
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  c.out.int(z && r !== "empty" ? z.countInLex(r) : 0);
}

// ---- ZRANGE family ----

interface RangeSpec {
  by: "rank" | "score" | "lex";
  rev: boolean;
  min: string;
  max: string;
  withScores: boolean;
  limit: { offset: number; count: number } | null;
}

/** Collects the entries a range selects; an error text on bad bounds. */
function selectRange(z: ZSetValue | null, r: RangeSpec): [string, number][] | string {
  if (r.by === "rank") {
    let start = parseIndex(r.min), end = parseIndex(r.max);
    if (start === null || end === null) return ERR.notInt;
    if (!z) return [];
    const n = z.size;
    if (start < 0) start = n + start;
    if (end < 0) end = n + end;
    if (start < 0) start = 0;
    if (start > end || start >= n) return [];
    if (end >= n) end = n - 1;
    return [...z.rangeByRank(start, end, r.rev)];
  }
  let it: Iterable<[string, number]>;
  if (r.by === "score") {
    // REV swaps the meaning of the bounds: ZRANGE k max min BYSCORE REV.
    const range = r.rev ? parseScoreRange(r.max, r.min) : parseScoreRange(r.min, r.max);
    if (!range) return MIN_OR_MAX_NOT_FLOAT;
    if (!z) return [];
    it = z.rangeByScore(range, r.rev);
  } else {
    const range = r.rev ? parseLexRange(r.max, r.min) : parseLexRange(r.min, r.max);
    if (!range) return LEX_ERR;
    if (!z || range === "empty") return [];
    it = z.rangeByLex(range, r.rev);
  }
  const out: [string, number][] = [];
  let skip = r.limit ? r.limit.offset : 0;
  const count = r.limit && r.limit.count >= 0 ? r.limit.count : Infinity;
  if (r.limit && r.limit.offset < 0) return out;
  for (const e of it) {
    if (out.length >= count) break;
    if (skip > 0) {
      skip--;
      continue;
    }
    out.push(e);
  }
  return out;
}

/** Parses ZRANGE's options from argv[at...]; an error text on failure. */
function parseRangeOptions(
  argv: string[],
  at: number,
  spec: RangeSpec,
  allowScores: boolean,
): string | null {
  for (let i = at; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    if (o === "withscores" && allowScores) spec.withScores = true;
    else if (o === "byscore" && spec.by === "rank") spec.by = "score";
    else if (o === "bylex" && spec.by === "rank") spec.by = "lex";
    else if (o === "rev") spec.rev = true;
    else if (o === "limit" && i + 2 < argv.length) {
      const off = parseIntArg(argv[i + 1]!), cnt = parseIntArg(argv[i + 2]!);
      if (off === null || cnt === null) return ERR.notInt;
      spec.limit = { offset: off, count: cnt };
      i += 2;
    } else return ERR.syntax;
  }
  if (spec.limit && spec.by === "rank") {
    return "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
  }
  if (spec.withScores && spec.by === "lex") {
    return "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
  }
  return null;
}

function zrange(s: Server, c: Client, argv: string[]): void {
  const spec: RangeSpec = {
    by: "rank",
    rev: false,
    min: argv[2]!,
    max: argv[3]!,
    withScores: false,
    limit: null,
  };
  const err = parseRangeOptions(argv, 4, spec, true);
  if (err) return c.error(err);
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  const r = selectRange(z, spec);
  if (typeof r === "string") return c.error(r);
  replyEntries(c, r, spec.withScores);
}

function zrangestore(s: Server, c: Client, argv: string[]): void {
  const spec: RangeSpec = {
    by: "rank",
    rev: false,
    min: argv[3]!,
    max: argv[4]!,
    withScores: false,
    limit: null,
  };
  const err = parseRangeOptions(argv, 5, spec, false);
  if (err) return c.error(err);
  const z = readZset(s, c, argv[2]!);
  if (z === REPLIED) return;
  const r = selectRange(z, spec);
  if (typeof r === "string") return c.error(r);
  storeEntries(s, c, argv[1]!, r);
  c.out.int(r.length);
}

function storeEntries(
  s: Server,
  c: Client,
  dst: string,
  entries: Iterable<[string, number]>,
): number {
  const out = new ZSetValue();
  for (const [m, sc] of entries) out.add(m, sc);
  if (out.size === 0) {
    if (c.db.delete(dst)) s.dirty++;
  } else {
    out.checkEncoding(limits(s));
    c.db.set(dst, out);
    s.dirty++;
  }
  return out.size;
}

/** The legacy forms: ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX. */
function legacyRange(by: RangeSpec["by"], rev: boolean) {
  return (s: Server, c: Client, argv: string[]): void => {
    // Legacy reverse forms take max first, which is how selectRange reads REV bounds too.
    const spec: RangeSpec = {
      by,
      rev,
      min: argv[2]!,
      max: argv[3]!,
      withScores: false,
      limit: null,
    };
    for (let i = 4; i < argv.length; i++) {
      const o = argv[i]!.toLowerCase();
      if (o === "withscores" && by !== "lex") spec.withScores = true;
      else if (o === "limit" && by !== "rank" && i + 2 < argv.length) {
        const off = parseIntArg(argv[i + 1]!), cnt = parseIntArg(argv[i + 2]!);
        if (off === null || cnt === null) return c.error(ERR.notInt);
        spec.limit = { offset: off, count: cnt };
        i += 2;
      } else return c.error(ERR.syntax);
    }
    const z = readZset(s, c, argv[1]!);
    if (z === REPLIED) return;
    const r = selectRange(z, spec);
    if (typeof r === "string") return c.error(r);
    replyEntries(c, r, spec.withScores);
  };
}

function zremrange(by: RangeSpec["by"]) {
  return (s: Server, c: Client, argv: string[]): void => {
    const spec: RangeSpec = {
      by,
      rev: false,
      min: argv[2]!,
      max: argv[3]!,
      withScores: false,
      limit: null,
    };
    const z = readZset(s, c, argv[1]!);
    if (z === REPLIED) return;
    const r = selectRange(z, spec);
    if (typeof r === "string") return c.error(r);
    if (!z || r.length === 0) return c.out.int(0);
    for (const [m] of r) z.remove(m);
    afterRemove(c, argv[1]!, z);
    s.dirty += r.length;
    c.out.int(r.length);
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
  return (s: Server, c: Client, argv: string[]): void => {
    if (argv.length > 3) return c.error(ERR.syntax);
    let count = 1;
    if (argv.length === 3) {
      const n = parseIntArg(argv[2]!);
      if (n === null) return c.error(ERR.notInt);
      if (n < 0) return c.error("ERR value is out of range, must be positive");
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
    afterRemove(c, argv[1]!, z);
    s.dirty += popped.length;
    c.rewrittenArgv = ["ZREM", argv[1]!, ...popped.map(([m]) => m)];
  };
}

interface MpopArgs {
  keys: string[];
  max: boolean;
  count: number;
}

function parseZmpop(c: Client, argv: string[], at: number): MpopArgs | null {
  const numkeys = parseIntArg(argv[at]!);
  if (numkeys === null || numkeys <= 0) {
    return c.error("ERR numkeys should be greater than 0"), null;
  }
  if (numkeys > argv.length - at - 2) return c.error(ERR.syntax), null;
  const keys = argv.slice(at + 1, at + 1 + numkeys);
  const where = argv[at + 1 + numkeys]!.toLowerCase();
  if (where !== "min" && where !== "max") return c.error(ERR.syntax), null;
  let count = 1;
  const rest = argv.slice(at + 2 + numkeys);
  if (rest.length === 2 && rest[0]!.toLowerCase() === "count") {
    const n = parseIntArg(rest[1]!);
    if (n === null || n <= 0) return c.error("ERR count should be greater than 0"), null;
    count = n;
  } else if (rest.length !== 0) return c.error(ERR.syntax), null;
  return { keys, max: where === "max", count };
}

/** Replies [key, [[member, score]...]] from the first non-empty zset; false if none. */
function zmpopFrom(s: Server, c: Client, a: MpopArgs): boolean | typeof REPLIED {
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
    afterRemove(c, key, z);
    s.dirty += popped.length;
    c.rewrittenArgv = ["ZREM", key, ...popped.map(([m]) => m)];
    return true;
  }
  return false;
}

function zmpop(s: Server, c: Client, argv: string[]): void {
  const a = parseZmpop(c, argv, 1);
  if (!a) return;
  if (zmpopFrom(s, c, a) === false) c.out.nullArray();
}

function bzpop(max: boolean) {
  return (s: Server, c: Client, argv: string[]): void | Promise<void> =>
    runBlocking(s, c, {
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
          afterRemove(c, key, z);
          s.dirty++;
          c.rewrittenArgv = ["ZREM", key, m];
          return true;
        }
        return false;
      },
    });
}

function bzmpop(s: Server, c: Client, argv: string[]): void | Promise<void> {
  const a = parseZmpop(c, argv, 2);
  if (!a) return;
  return runBlocking(s, c, {
    keys: a.keys,
    timeoutArg: argv[1]!,
    type: "zset",
    attempt: (keys) => zmpopFrom(s, c, { ...a, keys }),
  });
}

// ---- Set operations ----

type Agg = "sum" | "min" | "max";

interface ZsetOpArgs {
  keys: string[];
  weights: number[];
  agg: Agg;
  withScores: boolean;
}

function parseZsetOp(
  c: Client,
  argv: string[],
  at: number,
  op: string,
  allowScores: boolean,
): ZsetOpArgs | null {
  const numkeys = parseIntArg(argv[at]!);
  if (numkeys === null) return c.error(ERR.notInt), null;
  if (numkeys < 1) {
    return c.error(`ERR at least 1 input key is needed for '${op}' command`), null;
  }
  if (numkeys > argv.length - at - 1) return c.error(ERR.syntax), null;
  const keys = argv.slice(at + 1, at + 1 + numkeys);
  const a: ZsetOpArgs = { keys, weights: keys.map(() => 1), agg: "sum", withScores: false };
  for (let i = at + 1 + numkeys; i < argv.length; i++) {
    const o = argv[i]!.toLowerCase();
    if (o === "weights" && op !== "zdiff" && op !== "zdiffstore" && i + numkeys < argv.length) {
      for (let j = 0; j < numkeys; j++) {
        const w = parseFloatArg(argv[i + 1 + j]!);
        if (w === null) return c.error("ERR weight value is not a float"), null;
        a.weights[j] = w;
      }
      i += numkeys;
    } else if (o === "aggregate" && op !== "zdiff" && op !== "zdiffstore" && i + 1 < argv.length) {
      const g = argv[++i]!.toLowerCase();
      if (g !== "sum" && g !== "min" && g !== "max") return c.error(ERR.syntax), null;
      a.agg = g;
    } else if (o === "withscores" && allowScores) a.withScores = true;
    else return c.error(ERR.syntax), null;
  }
  return a;
}

/** Reads operands: sets count as zsets with score 1. */
function zoperands(
  s: Server,
  c: Client,
  keys: string[],
): (Map<string, number> | null)[] | typeof REPLIED {
  const out: (Map<string, number> | null)[] = [];
  for (const k of keys) {
    const e = c.db.lookup(k);
    if (!e) {
      out.push(null);
      continue;
    }
    const v = e.value;
    if (typeof v !== "string" && v.type === "zset") out.push((v as ZSetValue).scores);
    else if (typeof v !== "string" && v.type === "set") {
      out.push(new Map([...(v as unknown as { set: Set<string> }).set].map((m) => [m, 1])));
    } else {
      c.error(ERR.wrongType);
      return REPLIED;
    }
  }
  void s;
  return out;
}

function aggregate(agg: Agg, a: number, b: number): number {
  if (agg === "min") return Math.min(a, b);
  if (agg === "max") return Math.max(a, b);
  const r = a + b;
  return Number.isNaN(r) ? 0 : r; // inf + -inf is 0 in Redis
}

function weighted(score: number, w: number): number {
  const r = score * w;
  return Number.isNaN(r) ? 0 : r;
}

function computeZop(
  op: "union" | "inter" | "diff",
  sets: (Map<string, number> | null)[],
  a: ZsetOpArgs,
): Map<string, number> {
  const out = new Map<string, number>();
  if (op === "union") {
    sets.forEach((m, i) => {
      if (!m) return;
      for (const [k, sc] of m) {
        const v = weighted(sc, a.weights[i]!);
        const cur = out.get(k);
        out.set(k, cur === undefined ? v : aggregate(a.agg, cur, v));
      }
    });
  } else if (op === "inter") {
    if (sets.some((m) => !m)) return out;
    const [first, ...rest] = sets as Map<string, number>[];
    outer: for (const [k, sc] of first!) {
      let v = weighted(sc, a.weights[0]!);
      for (let i = 0; i < rest.length; i++) {
        const o = rest[i]!.get(k);
        if (o === undefined) continue outer;
        v = aggregate(a.agg, v, weighted(o, a.weights[i + 1]!));
      }
      out.set(k, v);
    }
  } else {
    const [first, ...rest] = sets;
    if (!first) return out;
    for (const [k, sc] of first) if (!rest.some((m) => m?.has(k))) out.set(k, sc);
  }
  return out;
}

function sortEntries(m: Map<string, number>): [string, number][] {
  return [...m].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

function zsetop(op: "union" | "inter" | "diff", name: string) {
  return (s: Server, c: Client, argv: string[]): void => {
    const a = parseZsetOp(c, argv, 1, name, true);
    if (!a) return;
    const sets = zoperands(s, c, a.keys);
    if (sets === REPLIED) return;
    replyEntries(c, sortEntries(computeZop(op, sets, a)), a.withScores);
  };
}

function zsetopStore(op: "union" | "inter" | "diff", name: string) {
  return (s: Server, c: Client, argv: string[]): void => {
    const a = parseZsetOp(c, argv, 2, name, false);
    if (!a) return;
    const sets = zoperands(s, c, a.keys);
    if (sets === REPLIED) return;
    c.out.int(storeEntries(s, c, argv[1]!, sortEntries(computeZop(op, sets, a))));
  };
}

function zintercard(s: Server, c: Client, argv: string[]): void {
  const numkeys = parseIntArg(argv[1]!);
  if (numkeys === null || numkeys <= 0) return c.error("ERR numkeys should be greater than 0");
  if (numkeys > argv.length - 2) {
    return c.error("ERR Number of keys can't be greater than number of args");
  }
  let limit = 0;
  const rest = argv.slice(2 + numkeys);
  if (rest.length === 2 && rest[0]!.toLowerCase() === "limit") {
    const n = parseIntArg(rest[1]!);
    if (n === null) return c.error(ERR.notInt);
    if (n < 0) return c.error("ERR LIMIT can't be negative");
    limit = n;
  } else if (rest.length !== 0) return c.error(ERR.syntax);
  const keys = argv.slice(2, 2 + numkeys);
  const sets = zoperands(s, c, keys);
  if (sets === REPLIED) return;
  const n =
    computeZop("inter", sets, { keys, weights: keys.map(() => 1), agg: "sum", withScores: false })
      .size;
  c.out.int(limit > 0 ? Math.min(limit, n) : n);
}

function zrandmember(s: Server, c: Client, argv: string[]): void {
  if (argv.length > 4 || (argv.length === 4 && argv[3]!.toLowerCase() !== "withscores")) {
    return c.error(ERR.syntax);
  }
  let count: number | null = null;
  if (argv.length >= 3) {
    count = parseIntArg(argv[2]!);
    if (count === null) return c.error(ERR.notInt);
  }
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  if (count === null) {
    if (!z) return c.out.nullBulk();
    const all = [...z.scores.keys()];
    return c.out.bulk(all[Math.floor(Math.random() * all.length)]!);
  }
  const withScores = argv.length === 4;
  randomCountReply(
    c,
    z ? [...z.scores.keys()] : [],
    count,
    withScores ? (m) => c.out.double(z!.scores.get(m)!) : null,
  );
}

function zscan(s: Server, c: Client, argv: string[]): void {
  const a = parseScanArgs(c, argv, 2, false);
  if (!a) return;
  const z = readZset(s, c, argv[1]!);
  if (z === REPLIED) return;
  const out: [string, number][] = [];
  const next = z
    ? scanAggregate(
      a,
      z.scores,
      z.cursors,
      z.encoding() === "listpack",
      (m) => out.push([m, z.scores.get(m)!]),
    )
    : 0;
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
const numkeysAt = (at: number) => (argv: string[]) => {
  const n = Number(argv[at]);
  return Number.isInteger(n) && n > 0 ? Array.from({ length: n }, (_, i) => at + 1 + i) : [];
};
const storeKeys = (argv: string[]) => [1, ...numkeysAt(2)(argv)];

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
    -3,
    "readonly fast",
    k1,
    "sorted_set",
    zrank(false),
    m("Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0"),
  ),
  cmd(
    "zrevrank",
    -3,
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
    getKeys: numkeysAt(1),
  }),
  cmd("bzmpop", -5, "write blocking", null, "sorted_set", bzmpop, {
    ...m(
      "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
      "7.0.0",
    ),
    getKeys: numkeysAt(2),
  }),
  cmd("zunion", -3, "readonly", null, "sorted_set", zsetop("union", "zunion"), {
    ...m("Returns the union of multiple sorted sets.", "6.2.0"),
    getKeys: numkeysAt(1),
  }),
  cmd("zinter", -3, "readonly", null, "sorted_set", zsetop("inter", "zinter"), {
    ...m("Returns the intersect of multiple sorted sets.", "6.2.0"),
    getKeys: numkeysAt(1),
  }),
  cmd("zdiff", -3, "readonly", null, "sorted_set", zsetop("diff", "zdiff"), {
    ...m("Returns the difference between multiple sorted sets.", "6.2.0"),
    getKeys: numkeysAt(1),
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
      getKeys: storeKeys,
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
      getKeys: storeKeys,
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
      getKeys: storeKeys,
    },
  ),
  cmd("zintercard", -3, "readonly", null, "sorted_set", zintercard, {
    ...m("Returns the number of members of the intersect of multiple sorted sets.", "7.0.0"),
    getKeys: numkeysAt(1),
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
