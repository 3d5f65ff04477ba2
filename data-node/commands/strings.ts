/** String commands. Values are binary strings; integers are parsed per Redis's rules. */
import { MAX_LCS_CELLS } from "../../shared/limits.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import {
  cmd,
  ERR,
  incrLongDouble,
  maxStringLength,
  parseI64,
  parseIndex,
  parseIntArg,
} from "./define.ts";
import type { CommandDef } from "./types.ts";
import { expireOrDelete, keyMiss, readString, REPLIED } from "./access.ts";
import { cstr } from "../../shared/cstr.ts";
import { NOTIFY } from "../engine/notify.ts";

function get(s: Engine, c: ClientState, argv: string[]): void {
  const v = readString(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (v === null) c.out.nullBulk();
  else c.out.bulk(v);
}

interface SetOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  /** Absolute expiry in ms, or null for none. */
  expireAtMs: number | null;
}

/**
 * Parses SET's options; an error text on failure. As Redis, the syntax of every option is checked
 * first, and only then the expire time's value (the last one given when an option repeats).
 */
function parseSetOptions(argv: string[], from: number, nowMs: number): SetOptions | string {
  const o: SetOptions = { nx: false, xx: false, get: false, keepTtl: false, expireAtMs: null };
  let unit: string | null = null, expireArg: string | null = null;
  for (let i = from; i < argv.length; i++) {
    const opt = cstr(argv[i]!).toLowerCase();
    const hasNext = i + 1 < argv.length;
    if (opt === "nx" && !o.xx) o.nx = true;
    else if (opt === "xx" && !o.nx) o.xx = true;
    else if (opt === "get") o.get = true;
    else if (opt === "keepttl" && unit === null) o.keepTtl = true;
    else if (
      (opt === "ex" || opt === "px" || opt === "exat" || opt === "pxat") &&
      (unit === null || unit === opt) && !o.keepTtl && hasNext
    ) {
      unit = opt;
      expireArg = argv[++i]!;
    } else return ERR.syntax;
  }
  if (unit !== null && expireArg !== null) {
    const r = expireFromArg(expireArg, unit, nowMs, "set");
    if (typeof r === "string") return r;
    o.expireAtMs = r;
  }
  return o;
}

/**
 * Converts an EX/PX/EXAT/PXAT argument to absolute ms. Non-positive or overflowing values are
 * "invalid expire time", as in Redis.
 */
export function expireFromArg(
  arg: string,
  unit: string,
  nowMs: number,
  cmdName: string,
): number | string {
  const n = parseI64(arg);
  if (n === null) return ERR.notInt;
  const invalid = `ERR invalid expire time in '${cmdName}' command`;
  if (n <= 0n) return invalid;
  const seconds = unit === "ex" || unit === "exat";
  const ms = seconds ? n * 1000n : n;
  if (seconds && n > 9223372036854775807n / 1000n) return invalid;
  const abs = unit === "ex" || unit === "px" ? ms + BigInt(nowMs) : ms;
  if (abs > 9223372036854775807n) return invalid;
  return Number(abs);
}

function set(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!, value = argv[2]!;
  const o = argv.length === 3 ? null : parseSetOptions(argv, 3, s.nowMs);
  if (typeof o === "string") {
    c.error(o);
    return;
  }
  if (o === null) {
    c.db.set(key, value);
    s.notify(NOTIFY.STRING, "set", key, c.db.id);
    s.dirty++;
    c.out.ok();
    return;
  }
  setWithOptions(s, c, key, value, o, argv);
}

/** SET with options, and SETEX/PSETEX (`argv` null: always replicated as SET ... PXAT). */
function setWithOptions(
  s: Engine,
  c: ClientState,
  key: string,
  value: string,
  o: SetOptions,
  argv: string[] | null,
): void {
  let old: string | null = null;
  if (o.get) {
    const v = readString(s, c, key);
    if (v === REPLIED) return;
    // The GET part reads the key as GET does (a miss is a keymiss).
    if (v === null) keyMiss(s, c, key, true);
    old = v;
  }
  const exists = o.get ? old !== null : c.db.lookup(key) !== undefined;
  if ((o.nx && exists) || (o.xx && !exists)) {
    if (o.get) replyOld(c, old);
    else c.out.nullBulk();
    return;
  }
  c.db.set(key, value, o.keepTtl);
  s.notify(NOTIFY.STRING, "set", key, c.db.id);
  if (o.expireAtMs !== null) {
    c.db.setExpire(key, o.expireAtMs);
    s.notify(NOTIFY.GENERIC, "expire", key, c.db.id);
  }
  s.dirty++;
  if (s.propagation.wanted) c.rewrittenArgv = setPropagated(argv, key, value, o);
  if (o.get) replyOld(c, old);
  else c.out.ok();
}

/**
 * What a SET with options replicates as, as Redis 7.0 does: any expiry (PXAT too) becomes
 * `SET key value PXAT <absolute ms>` (replicas and the AOF agree on time); otherwise the command
 * as sent, without its GET option; null = as sent.
 */
function setPropagated(
  argv: string[] | null,
  key: string,
  value: string,
  o: SetOptions,
): string[] | null {
  if (o.expireAtMs !== null) return ["SET", key, value, "PXAT", String(o.expireAtMs)];
  if (o.get && argv !== null) return argv.filter((a, i) => i < 3 || a.toLowerCase() !== "get");
  return null;
}

function replyOld(c: ClientState, old: string | null): void {
  if (old === null) c.out.nullBulk();
  else c.out.bulk(old);
}

function setnx(s: Engine, c: ClientState, argv: string[]): void {
  if (c.db.lookup(argv[1]!) !== undefined) return c.out.int(0);
  c.db.set(argv[1]!, argv[2]!);
  s.notify(NOTIFY.STRING, "set", argv[1]!, c.db.id);
  s.dirty++;
  c.out.int(1);
}

function setexGeneric(unit: "ex" | "px", name: string) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const at = expireFromArg(argv[2]!, unit, s.nowMs, name);
    if (typeof at === "string") return c.error(at);
    setWithOptions(s, c, argv[1]!, argv[3]!, {
      nx: false,
      xx: false,
      get: false,
      keepTtl: false,
      expireAtMs: at,
    }, null);
  };
}

function getset(s: Engine, c: ClientState, argv: string[]): void {
  const old = readString(s, c, argv[1]!);
  if (old === REPLIED) return;
  if (old === null) keyMiss(s, c, argv[1]!, true);
  c.db.set(argv[1]!, argv[2]!);
  s.notify(NOTIFY.STRING, "set", argv[1]!, c.db.id);
  s.dirty++;
  c.rewrittenArgv = ["SET", argv[1]!, argv[2]!];
  replyOld(c, old);
}

function getdel(s: Engine, c: ClientState, argv: string[]): void {
  const v = readString(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (v === null) {
    keyMiss(s, c, argv[1]!, true);
    return c.out.nullBulk();
  }
  c.db.delete(argv[1]!);
  s.notify(NOTIFY.GENERIC, "del", argv[1]!, c.db.id);
  s.dirty++;
  c.rewrittenArgv = ["DEL", argv[1]!];
  c.out.bulk(v);
}

/**
 * GETEX key [EX|PX|EXAT|PXAT time | PERSIST]. As Redis: the options' syntax first, then the key
 * (nil when missing, WRONGTYPE), and only then the expire time's value.
 */
function getex(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!;
  let persist = false, unit: string | null = null, expireArg: string | null = null;
  for (let i = 2; i < argv.length; i++) {
    const opt = cstr(argv[i]!).toLowerCase();
    // Repeating the same option is allowed (the last value wins); mixing them is not.
    if (opt === "persist" && unit === null) persist = true;
    else if (
      (opt === "ex" || opt === "px" || opt === "exat" || opt === "pxat") &&
      (unit === null || unit === opt) && !persist && i + 1 < argv.length
    ) {
      unit = opt;
      expireArg = argv[++i]!;
    } else return c.error(ERR.syntax);
  }
  const v = readString(s, c, key);
  if (v === REPLIED) return;
  if (v === null) {
    keyMiss(s, c, key, true);
    return c.out.nullBulk();
  }
  let at: number | null = null;
  if (unit !== null && expireArg !== null) {
    const r = expireFromArg(expireArg, unit, s.nowMs, "getex");
    if (typeof r === "string") return c.error(r);
    at = r;
  }
  if (at !== null) {
    expireOrDelete(s, c, key, at, s.nowMs);
    s.dirty++;
  } else if (persist && c.db.persist(key)) {
    s.notify(NOTIFY.GENERIC, "persist", key, c.db.id);
    c.rewrittenArgv = ["PERSIST", key];
    s.dirty++;
  }
  c.out.bulk(v);
}

function mget(s: Engine, c: ClientState, argv: string[]): void {
  c.out.array(argv.length - 1);
  for (let i = 1; i < argv.length; i++) {
    const v = c.db.get(argv[i]!);
    if (typeof v === "string") c.out.bulk(v);
    else {
      if (v === undefined) keyMiss(s, c, argv[i]!);
      c.out.nullBulk();
    }
  }
}

function msetGeneric(nx: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    if (argv.length % 2 === 0) {
      return c.error(`ERR wrong number of arguments for '${nx ? "msetnx" : "mset"}' command`);
    }
    if (nx) {
      for (let i = 1; i < argv.length; i += 2) {
        if (c.db.lookup(argv[i]!) !== undefined) return c.out.int(0);
      }
    }
    for (let i = 1; i < argv.length; i += 2) {
      c.db.set(argv[i]!, argv[i + 1]!);
      s.notify(NOTIFY.STRING, "set", argv[i]!, c.db.id);
    }
    s.dirty += (argv.length - 1) / 2;
    if (nx) c.out.int(1);
    else c.out.ok();
  };
}

const TOO_BIG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

function append(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!;
  const e = c.db.lookup(key);
  if (e === undefined) {
    c.db.set(key, argv[2]!);
    s.notify(NOTIFY.STRING, "append", key, c.db.id);
    s.dirty++;
    return c.out.int(argv[2]!.length);
  }
  if (typeof e.value !== "string") return c.error(ERR.wrongType);
  const len = e.value.length + argv[2]!.length;
  if (len > maxStringLength(s.config)) return c.error(TOO_BIG);
  c.db.update(key, e, e.value + argv[2]!);
  // The entry now holding the value (a HyperLogLog's byte entry is replaced by a string one).
  c.db.lookup(key, false)!.enc = "raw";
  s.notify(NOTIFY.STRING, "append", key, c.db.id);
  s.dirty++;
  c.out.int(len);
}

function strlen(s: Engine, c: ClientState, argv: string[]): void {
  const v = readString(s, c, argv[1]!);
  if (v === REPLIED) return;
  c.out.int(v === null ? 0 : v.length);
}

const MAX_EXACT = 2 ** 53;

/** INCR/DECR/INCRBY/DECRBY: exact 64-bit arithmetic, keeping the key's TTL. */
function incrBy(s: Engine, c: ClientState, key: string, delta: bigint | number): void {
  const e = c.db.lookup(key);
  let cur: bigint | number = 0;
  if (e !== undefined) {
    if (typeof e.value !== "string") return c.error(ERR.wrongType);
    const n = e.value.length <= 15 ? parseIntArg(e.value) : parseI64(e.value);
    if (n === null) return c.error(ERR.notInt);
    cur = n;
  }
  let next: bigint | number;
  if (
    typeof cur === "number" && typeof delta === "number" && Math.abs(cur) < MAX_EXACT &&
    Math.abs(delta) < MAX_EXACT
  ) {
    next = cur + delta;
  } else {
    next = BigInt(cur) + BigInt(delta);
    if (next > 9223372036854775807n || next < -9223372036854775808n) {
      return c.error(ERR.overflow);
    }
  }
  const str = String(next);
  if (e === undefined) c.db.set(key, str);
  else c.db.update(key, e, str);
  s.notify(NOTIFY.STRING, "incrby", key, c.db.id);
  s.dirty++;
  c.out.int(next);
}

function deltaArg(c: ClientState, arg: string): bigint | number | null {
  const n = arg.length <= 15 ? parseIntArg(arg) : parseI64(arg);
  if (n === null) c.error(ERR.notInt);
  return n;
}

function incrbyfloat(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!;
  const e = c.db.lookup(key);
  if (e !== undefined && typeof e.value !== "string") return c.error(ERR.wrongType);
  const str = incrLongDouble(c, e === undefined ? "0" : e.value as string, argv[2]!, ERR.notFloat);
  if (str === null) return;
  if (e === undefined) c.db.set(key, str);
  else c.db.update(key, e, str);
  c.db.lookup(key, false)!.enc = str.length <= 44 ? "embstr" : "raw";
  s.notify(NOTIFY.STRING, "incrbyfloat", key, c.db.id);
  s.dirty++;
  // Replicas get the result, not the increment, so float rounding cannot diverge.
  c.rewrittenArgv = ["SET", key, str, "KEEPTTL"];
  c.out.bulk(str);
}

function getrange(s: Engine, c: ClientState, argv: string[]): void {
  let start = parseIndex(argv[2]!), end = parseIndex(argv[3]!);
  if (start === null || end === null) return c.error(ERR.notInt);
  const v = readString(s, c, argv[1]!);
  if (v === REPLIED) return;
  const str = v ?? "";
  const len = str.length;
  if (start < 0 && end < 0 && start > end) return c.out.bulk("");
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len === 0) return c.out.bulk("");
  c.out.bulk(str.slice(start, end + 1));
}

function setrange(s: Engine, c: ClientState, argv: string[]): void {
  const key = argv[1]!, value = argv[3]!;
  const offset = parseIndex(argv[2]!);
  if (offset === null) return c.error(ERR.notInt);
  if (offset < 0) return c.error("ERR offset is out of range");
  const e = c.db.lookup(key);
  if (e !== undefined && typeof e.value !== "string") return c.error(ERR.wrongType);
  const cur = e === undefined ? "" : e.value as string;
  if (value.length === 0) return c.out.int(cur.length);
  if (offset + value.length > maxStringLength(s.config)) return c.error(TOO_BIG);
  const padded = cur.length < offset ? cur + "\0".repeat(offset - cur.length) : cur;
  const next = padded.slice(0, offset) + value + padded.slice(offset + value.length);
  if (e === undefined) c.db.set(key, next);
  else c.db.update(key, e, next);
  c.db.lookup(key, false)!.enc = "raw";
  s.notify(NOTIFY.STRING, "setrange", key, c.db.id);
  s.dirty++;
  c.out.int(next.length);
}

/** LCS's DP table is (|a|+1)*(|b|+1) cells; refuse inputs whose table would be huge. */

/** LCS: as Redis, the keys' types are checked first, then the options, then IDX with LEN. */
function lcs(s: Engine, c: ClientState, argv: string[]): void {
  const ea = c.db.get(argv[1]!), eb = c.db.get(argv[2]!);
  if (ea === undefined) keyMiss(s, c, argv[1]!);
  if (eb === undefined) keyMiss(s, c, argv[2]!);
  if (
    (ea !== undefined && typeof ea !== "string") || (eb !== undefined && typeof eb !== "string")
  ) {
    return c.error("ERR The specified keys must contain string values");
  }
  let wantLen = false, wantIdx = false, withMatchLen = false, minMatch = 0;
  for (let i = 3; i < argv.length; i++) {
    const opt = cstr(argv[i]!).toLowerCase();
    if (opt === "idx") wantIdx = true;
    else if (opt === "len") wantLen = true;
    else if (opt === "withmatchlen") withMatchLen = true;
    else if (opt === "minmatchlen" && i + 1 < argv.length) {
      const n = parseIndex(argv[++i]!);
      if (n === null) return c.error(ERR.notInt);
      minMatch = Math.max(0, n);
    } else return c.error(ERR.syntax);
  }
  if (wantLen && wantIdx) {
    return c.error("ERR If you want both the length and indexes, please just use IDX.");
  }
  const a = (ea as string | undefined) ?? "", b = (eb as string | undefined) ?? "";
  if ((a.length + 1) * (b.length + 1) > MAX_LCS_CELLS) {
    return c.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  void s;
  const r = computeLcs(a, b, minMatch, wantIdx);
  if (wantLen) return c.out.int(r.len);
  if (!wantIdx) return c.out.bulk(r.seq);
  c.out.map(2);
  c.out.bulk("matches");
  c.out.array(r.matches.length);
  for (const m of r.matches) {
    c.out.array(withMatchLen ? 3 : 2);
    c.out.array(2);
    c.out.int(m.a0);
    c.out.int(m.a1);
    c.out.array(2);
    c.out.int(m.b0);
    c.out.int(m.b1);
    if (withMatchLen) c.out.int(m.a1 - m.a0 + 1);
  }
  c.out.bulk("len");
  c.out.int(r.len);
}

interface LcsMatch {
  a0: number;
  a1: number;
  b0: number;
  b1: number;
}

/** Classic DP, then a walk back from the end collecting the sequence and contiguous ranges. */
function computeLcs(a: string, b: string, minMatch: number, wantRanges: boolean) {
  const w = b.length + 1;
  const dp = new Uint32Array((a.length + 1) * w);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i * w + j] = a.charCodeAt(i - 1) === b.charCodeAt(j - 1)
        ? dp[(i - 1) * w + j - 1]! + 1
        : Math.max(dp[(i - 1) * w + j]!, dp[i * w + j - 1]!);
    }
  }
  const len = dp[a.length * w + b.length]!;
  const seq: string[] = new Array(len);
  const matches: LcsMatch[] = [];
  let idx = len, i = a.length, j = b.length;
  let cur: LcsMatch | null = null;
  const emit = () => {
    if (cur && wantRanges && (minMatch === 0 || cur.a1 - cur.a0 + 1 >= minMatch)) {
      matches.push(cur);
    }
    cur = null;
  };
  while (i > 0 && j > 0) {
    if (a.charCodeAt(i - 1) === b.charCodeAt(j - 1)) {
      seq[--idx] = a[i - 1]!;
      if (cur === null) cur = { a0: i - 1, a1: i - 1, b0: j - 1, b1: j - 1 };
      else if (cur.a0 === i && cur.b0 === j) {
        cur.a0--;
        cur.b0--;
      } else {
        emit();
        cur = { a0: i - 1, a1: i - 1, b0: j - 1, b1: j - 1 };
      }
      i--;
      j--;
    } else {
      if (dp[(i - 1) * w + j]! > dp[i * w + j - 1]!) i--;
      else j--;
      emit();
    }
  }
  emit();
  return { len, seq: seq.join(""), matches };
}

const k1: [number, number, number] = [1, 1, 1];
const m = (summary: string, since = "1.0.0", complexity = "O(1)") => ({
  summary,
  since,
  complexity,
});

export const STRING_COMMANDS: CommandDef[] = [
  cmd("get", 2, "readonly fast", k1, "string", get, m("Returns the string value of a key.")),
  cmd(
    "set",
    -3,
    "write denyoom",
    k1,
    "string",
    set,
    m("Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
  ),
  cmd(
    "setnx",
    3,
    "write denyoom fast",
    k1,
    "string",
    setnx,
    m("Set the string value of a key only when the key doesn't exist."),
  ),
  cmd(
    "setex",
    4,
    "write denyoom",
    k1,
    "string",
    setexGeneric("ex", "setex"),
    m(
      "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
      "2.0.0",
    ),
  ),
  cmd(
    "psetex",
    4,
    "write denyoom",
    k1,
    "string",
    setexGeneric("px", "psetex"),
    m(
      "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
      "2.6.0",
    ),
  ),
  cmd(
    "getset",
    3,
    "write denyoom fast",
    k1,
    "string",
    getset,
    m("Returns the previous string value of a key after setting it to a new value."),
  ),
  cmd(
    "getdel",
    2,
    "write fast",
    k1,
    "string",
    getdel,
    m("Returns the string value of a key after deleting the key.", "6.2.0"),
  ),
  cmd(
    "getex",
    -2,
    "write fast",
    k1,
    "string",
    getex,
    m("Returns the string value of a key after setting its expiration time.", "6.2.0"),
  ),
  cmd(
    "mget",
    -2,
    "readonly fast",
    [1, -1, 1],
    "string",
    mget,
    m("Atomically returns the string values of one or more keys.", "1.0.0", "O(N)"),
  ),
  cmd(
    "mset",
    -3,
    "write denyoom",
    [1, -1, 2],
    "string",
    msetGeneric(false),
    m("Atomically creates or modifies the string values of one or more keys.", "1.0.1", "O(N)"),
  ),
  cmd(
    "msetnx",
    -3,
    "write denyoom",
    [1, -1, 2],
    "string",
    msetGeneric(true),
    m(
      "Atomically modifies the string values of one or more keys only when all keys don't exist.",
      "1.0.1",
      "O(N)",
    ),
  ),
  cmd(
    "append",
    3,
    "write denyoom fast",
    k1,
    "string",
    append,
    m("Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0"),
  ),
  cmd(
    "strlen",
    2,
    "readonly fast",
    k1,
    "string",
    strlen,
    m("Returns the length of a string value.", "2.2.0"),
  ),
  cmd(
    "incr",
    2,
    "write denyoom fast",
    k1,
    "string",
    (s, c, a) => incrBy(s, c, a[1]!, 1),
    m("Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
  ),
  cmd(
    "decr",
    2,
    "write denyoom fast",
    k1,
    "string",
    (s, c, a) => incrBy(s, c, a[1]!, -1),
    m("Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
  ),
  cmd(
    "incrby",
    3,
    "write denyoom fast",
    k1,
    "string",
    (s, c, a) => {
      const d = deltaArg(c, a[2]!);
      if (d !== null) incrBy(s, c, a[1]!, d);
    },
    m("Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
  ),
  cmd(
    "decrby",
    3,
    "write denyoom fast",
    k1,
    "string",
    (s, c, a) => {
      const d = deltaArg(c, a[2]!);
      if (d === null) return;
      if (d === -9223372036854775808n) return c.error("ERR decrement would overflow");
      incrBy(s, c, a[1]!, typeof d === "number" ? -d : -d);
    },
    m("Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
  ),
  cmd(
    "incrbyfloat",
    3,
    "write denyoom fast",
    k1,
    "string",
    incrbyfloat,
    m(
      "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
      "2.6.0",
    ),
  ),
  cmd(
    "getrange",
    4,
    "readonly",
    k1,
    "string",
    getrange,
    m("Returns a substring of the string stored at a key.", "2.4.0", "O(N)"),
  ),
  cmd(
    "substr",
    4,
    "readonly",
    k1,
    "string",
    getrange,
    m("Returns a substring from a string value.", "1.0.0", "O(N)"),
  ),
  cmd(
    "setrange",
    4,
    "write denyoom",
    k1,
    "string",
    setrange,
    m(
      "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
      "2.2.0",
    ),
  ),
  cmd(
    "lcs",
    -3,
    "readonly",
    [1, 2, 1],
    "string",
    lcs,
    m("Finds the longest common substring.", "7.0.0", "O(N*M)"),
  ),
];
