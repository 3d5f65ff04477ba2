/**
 * Bitmap commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
 * BITFIELD_RO. Bit 0 is the most significant bit of the first byte, as in Redis.
 */
import { NOTIFY } from "../engine/notify.ts";
import type { ClientState, Engine } from "../engine/types.ts";
import { bytesToBinary } from "../../shared/resp/bytes.ts";
import { cmd, ERR, maxStringLength, parseI64, parseIndex, parseIntArg } from "./define.ts";
import type { CommandDef } from "./types.ts";
import { keyMiss, readString, REPLIED } from "./access.ts";

const BAD_OFFSET = "ERR bit offset is not an integer or out of range";
/** Redis caps bitmaps at 512 MB: offsets up to 2^32 - 1. */
const MAX_BIT_OFFSET = 4294967295;

function toBytes(s: string, minLen = 0): Uint8Array {
  const b = new Uint8Array(Math.max(s.length, minLen));
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function fromBytes(b: Uint8Array): string {
  return bytesToBinary(b, 0, b.length);
}

function parseBitOffset(arg: string): number | null {
  const n = parseIntArg(arg);
  return n === null || n < 0 || n > MAX_BIT_OFFSET ? null : n;
}

function checkSize(s: Engine, c: ClientState, bytes: number): boolean {
  if (bytes > maxStringLength(s.config)) {
    c.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    return false;
  }
  return true;
}

function setbit(s: Engine, c: ClientState, argv: string[]): void {
  const offset = parseBitOffset(argv[2]!);
  if (offset === null) return c.error(BAD_OFFSET);
  if (argv[3] !== "0" && argv[3] !== "1") {
    return c.error("ERR bit is not an integer or out of range");
  }
  const cur = readString(s, c, argv[1]!);
  if (cur === REPLIED) return;
  const byte = offset >> 3;
  if (!checkSize(s, c, byte + 1)) return;
  const b = toBytes(cur ?? "", byte + 1);
  const mask = 0x80 >> (offset & 7);
  const old = (b[byte]! & mask) !== 0 ? 1 : 0;
  // As in Redis, setting a bit to the value it has is no change, unless the string was created
  // or padded for it (the value still becomes a raw string).
  if (cur !== null && byte < cur.length && old === Number(argv[3])) {
    c.db.lookup(argv[1]!, false)!.enc = "raw";
    return c.out.int(old);
  }
  if (argv[3] === "1") b[byte]! |= mask;
  else b[byte]! &= ~mask;
  const e = c.db.lookup(argv[1]!, false);
  if (e) c.db.update(argv[1]!, e, fromBytes(b));
  else c.db.set(argv[1]!, fromBytes(b));
  c.db.lookup(argv[1]!, false)!.enc = "raw";
  s.notify(NOTIFY.STRING, "setbit", argv[1]!, c.db.id);
  s.dirty++;
  c.out.int(old);
}

function getbit(s: Engine, c: ClientState, argv: string[]): void {
  const offset = parseBitOffset(argv[2]!);
  if (offset === null) return c.error(BAD_OFFSET);
  const v = readString(s, c, argv[1]!);
  if (v === REPLIED) return;
  const byte = offset >> 3;
  if (v === null || byte >= v.length) return c.out.int(0);
  c.out.int((v.charCodeAt(byte) & (0x80 >> (offset & 7))) !== 0 ? 1 : 0);
}

const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let x = i; x; x >>= 1) n += x & 1;
  return n;
});

/** Normalizes a start/end range (negative from the end) over `len` units; null if empty. */
function clampRange(start: number, end: number, len: number): [number, number] | null {
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  return start > end || len === 0 ? null : [start, end];
}

/** BIT or BYTE (case-insensitive); null for anything else. */
function parseUnit(arg: string): boolean | null {
  const u = arg.toLowerCase();
  return u === "bit" ? true : u === "byte" ? false : null;
}

/**
 * BITCOUNT key [start end [BYTE|BIT]]. As Redis 7.0: the key is looked up first (a missing key
 * answers 0 whatever the arguments, a wrong type is WRONGTYPE), then the range is parsed.
 */
function bitcount(s: Engine, c: ClientState, argv: string[]): void {
  const v = readString(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (v === null) return c.out.int(0);
  const str = v;
  if (argv.length === 2) {
    let n = 0;
    for (let i = 0; i < str.length; i++) n += POPCOUNT[str.charCodeAt(i)]!;
    return c.out.int(n);
  }
  if (argv.length !== 4 && argv.length !== 5) return c.error(ERR.syntax);
  const start = parseIndex(argv[2]!);
  if (start === null) return c.error(ERR.notInt);
  const end = parseIndex(argv[3]!);
  if (end === null) return c.error(ERR.notInt);
  let bit = false;
  if (argv.length === 5) {
    const u = parseUnit(argv[4]!);
    if (u === null) return c.error(ERR.syntax);
    bit = u;
  }
  // Both negative with start after end: empty, before any clamping.
  if (start < 0 && end < 0 && start > end) return c.out.int(0);
  const range = clampRange(start, end, bit ? str.length * 8 : str.length);
  if (!range) return c.out.int(0);
  let n = 0;
  if (bit) {
    for (let i = range[0]; i <= range[1]; i++) {
      if (str.charCodeAt(i >> 3) & (0x80 >> (i & 7))) n++;
    }
  } else {
    for (let i = range[0]; i <= range[1]; i++) n += POPCOUNT[str.charCodeAt(i)]!;
  }
  c.out.int(n);
}

/**
 * BITPOS key bit [start [end [BYTE|BIT]]]. As Redis 7.0: the bit argument first (an integer,
 * then 0 or 1), then the key (missing: -1 for 1, 0 for 0; WRONGTYPE), then start, the unit, end.
 */
function bitpos(s: Engine, c: ClientState, argv: string[]): void {
  const bitArg = parseIndex(argv[2]!);
  if (bitArg === null) return c.error(ERR.notInt);
  if (bitArg !== 0 && bitArg !== 1) return c.error("ERR The bit argument must be 1 or 0.");
  const want = bitArg;
  const v = readString(s, c, argv[1]!);
  if (v === REPLIED) return;
  if (v === null) return c.out.int(want ? -1 : 0);
  const bytes = v.length;
  let from: number, to: number, bit = false, hasEnd = false;
  if (argv.length >= 4 && argv.length <= 6) {
    const start = parseIndex(argv[3]!);
    if (start === null) return c.error(ERR.notInt);
    if (argv.length === 6) {
      const u = parseUnit(argv[5]!);
      if (u === null) return c.error(ERR.syntax);
      bit = u;
    }
    let end: number;
    if (argv.length >= 5) {
      const e = parseIndex(argv[4]!);
      if (e === null) return c.error(ERR.notInt);
      end = e;
      hasEnd = true;
    } else end = bit ? bytes * 8 + 7 : bytes - 1;
    const range = clampRange(start, end, bit ? bytes * 8 : bytes);
    if (!range) return c.out.int(-1);
    [from, to] = bit ? range : [range[0] * 8, range[1] * 8 + 7];
  } else if (argv.length === 3) {
    if (bytes === 0) return c.out.int(-1);
    from = 0;
    to = bytes * 8 - 1;
  } else return c.error(ERR.syntax);
  for (let i = from; i <= to; i++) {
    const b = (v.charCodeAt(i >> 3) & (0x80 >> (i & 7))) !== 0 ? 1 : 0;
    if (b === want) return c.out.int(i);
  }
  // Looking for a 0 without an explicit end: the string is padded with zeros on the right.
  if (want === 0 && !hasEnd && !bit) return c.out.int(to + 1);
  c.out.int(-1);
}

function bitop(s: Engine, c: ClientState, argv: string[]): void {
  const op = argv[1]!.toLowerCase();
  if (!["and", "or", "xor", "not"].includes(op)) return c.error(ERR.syntax);
  const srcKeys = argv.slice(3);
  if (op === "not" && srcKeys.length !== 1) {
    return c.error("ERR BITOP NOT must be called with a single source key.");
  }
  const srcs: string[] = [];
  for (const k of srcKeys) {
    const v = readString(s, c, k);
    if (v === REPLIED) return;
    if (v === null) keyMiss(s, c, k, true);
    srcs.push(v ?? "");
  }
  const len = Math.max(0, ...srcs.map((x) => x.length));
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const at = (x: string) => (i < x.length ? x.charCodeAt(i) : 0);
    let b = at(srcs[0]!);
    if (op === "not") b = ~b & 0xff;
    for (let j = 1; j < srcs.length; j++) {
      const y = at(srcs[j]!);
      b = op === "and" ? b & y : op === "or" ? b | y : b ^ y;
    }
    out[i] = b;
  }
  const dst = argv[2]!;
  // An empty result deletes the destination; when there was none, nothing changed.
  if (len === 0) {
    if (c.db.delete(dst)) {
      s.notify(NOTIFY.GENERIC, "del", dst, c.db.id);
      s.dirty++;
    }
  } else {
    c.db.set(dst, fromBytes(out));
    c.db.lookup(dst, false)!.enc = "raw";
    s.notify(NOTIFY.STRING, "set", dst, c.db.id);
    s.dirty++;
  }
  c.out.int(len);
}

// ---- BITFIELD ----

interface FieldType {
  signed: boolean;
  bits: number;
}

function parseType(t: string): FieldType | null {
  const m = /^([iu])(\d+)$/i.exec(t);
  if (!m) return null;
  const signed = m[1]!.toLowerCase() === "i", bits = Number(m[2]);
  if (bits < 1 || (signed && bits > 64) || (!signed && bits > 63)) return null;
  return { signed, bits };
}

/** `#N` offsets are in units of the type width. */
function parseFieldOffset(arg: string, t: FieldType): number | null {
  const mul = arg.startsWith("#");
  const n = parseIntArg(mul ? arg.slice(1) : arg);
  if (n === null || n < 0) return null;
  const off = mul ? n * t.bits : n;
  return off > MAX_BIT_OFFSET ? null : off;
}

function readField(b: Uint8Array, off: number, t: FieldType): bigint {
  let v = 0n;
  for (let i = 0; i < t.bits; i++) {
    const bit = off + i, byte = bit >> 3;
    const set = byte < b.length && (b[byte]! & (0x80 >> (bit & 7))) !== 0;
    v = (v << 1n) | (set ? 1n : 0n);
  }
  if (t.signed && t.bits > 0 && (v >> BigInt(t.bits - 1)) & 1n) v -= 1n << BigInt(t.bits);
  return v;
}

function writeField(b: Uint8Array, off: number, t: FieldType, value: bigint): void {
  const u = BigInt.asUintN(t.bits, value);
  for (let i = 0; i < t.bits; i++) {
    const bit = off + i, byte = bit >> 3, mask = 0x80 >> (bit & 7);
    if ((u >> BigInt(t.bits - 1 - i)) & 1n) b[byte]! |= mask;
    else b[byte]! &= ~mask;
  }
}

type Overflow = "wrap" | "sat" | "fail";

/** Applies an overflow policy; null means FAIL (the operation is skipped). */
function overflow(v: bigint, t: FieldType, mode: Overflow): bigint | null {
  const min = t.signed ? -(1n << BigInt(t.bits - 1)) : 0n;
  const max = t.signed ? (1n << BigInt(t.bits - 1)) - 1n : (1n << BigInt(t.bits)) - 1n;
  if (v >= min && v <= max) return v;
  if (mode === "fail") return null;
  if (mode === "sat") return v < min ? min : max;
  return t.signed ? BigInt.asIntN(t.bits, v) : BigInt.asUintN(t.bits, v);
}

type Op =
  | { kind: "get"; t: FieldType; off: number }
  | { kind: "set" | "incrby"; t: FieldType; off: number; v: bigint; of: Overflow };

function parseBitfield(c: ClientState, argv: string[], readOnly: boolean): Op[] | null {
  const ops: Op[] = [];
  let of: Overflow = "wrap";
  const badType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not " +
    "supported but i64 is.";
  for (let i = 2; i < argv.length;) {
    const sub = argv[i]!.toLowerCase();
    const need = sub === "get"
      ? 3
      : sub === "set" || sub === "incrby"
      ? 4
      : sub === "overflow"
      ? 2
      : 0;
    if (need === 0 || i + need > argv.length) return c.error(ERR.syntax), null;
    if (sub === "overflow") {
      const m = argv[i + 1]!.toLowerCase();
      if (m !== "wrap" && m !== "sat" && m !== "fail") {
        return c.error("ERR Invalid OVERFLOW type specified"), null;
      }
      of = m;
      i += 2;
      continue;
    }
    if (readOnly && sub !== "get") {
      return c.error("ERR BITFIELD_RO only supports the GET subcommand"), null;
    }
    const t = parseType(argv[i + 1]!);
    if (!t) return c.error(badType), null;
    const off = parseFieldOffset(argv[i + 2]!, t);
    if (off === null) return c.error(BAD_OFFSET), null;
    if (sub === "get") ops.push({ kind: "get", t, off });
    else {
      const v = parseI64(argv[i + 3]!);
      if (v === null) return c.error(ERR.notInt), null;
      ops.push({ kind: sub as "set" | "incrby", t, off, v, of });
    }
    i += need;
  }
  return ops;
}

function bitfieldGeneric(readOnly: boolean) {
  return (s: Engine, c: ClientState, argv: string[]): void => {
    const ops = parseBitfield(c, argv, readOnly);
    if (!ops) return;
    const cur = readString(s, c, argv[1]!);
    if (cur === REPLIED) return;
    // Only GETs: Redis looks the key up as a read.
    if (cur === null && !readOnly && ops.every((o) => o.kind === "get")) {
      keyMiss(s, c, argv[1]!, true);
    }
    const maxBit = Math.max(0, ...ops.filter((o) => o.kind !== "get").map((o) => o.off + o.t.bits));
    const needBytes = Math.ceil(maxBit / 8);
    if (!checkSize(s, c, needBytes)) return;
    const b = toBytes(cur ?? "", needBytes);
    // The string is created or padded for the writes first; then, as in Redis, every write
    // that is not refused by OVERFLOW FAIL counts as a change if the string grew or its bits
    // differ from the old ones.
    const grew = needBytes > 0 && (cur === null || needBytes > cur.length);
    let changes = 0;
    c.out.array(ops.length);
    for (const o of ops) {
      const old = readField(b, o.off, o.t);
      if (o.kind === "get") {
        c.out.int(old);
        continue;
      }
      // An unsigned SET takes its value as a uint64 (so -1 is 2^64-1: too large, not too small).
      const setTo = o.t.signed ? o.v : BigInt.asUintN(64, o.v);
      const next = overflow(o.kind === "set" ? setTo : old + o.v, o.t, o.of);
      if (next === null) {
        c.out.nullBulk();
        continue;
      }
      writeField(b, o.off, o.t, next);
      if (grew || readField(b, o.off, o.t) !== old) changes++;
      c.out.int(o.kind === "set" ? old : next);
    }
    const key = argv[1]!;
    const e = c.db.lookup(key, false);
    if (changes === 0 && !grew) {
      // Writes that changed nothing still leave a raw string, as Redis's do.
      if (e && needBytes > 0) e.enc = "raw";
      return;
    }
    if (changes === 0) c.db.storeUnchanged(key, fromBytes(b));
    else if (e) c.db.update(key, e, fromBytes(b));
    else c.db.set(key, fromBytes(b));
    c.db.lookup(key, false)!.enc = "raw";
    if (changes > 0) s.notify(NOTIFY.STRING, "setbit", key, c.db.id);
    s.dirty += changes;
  };
}

const k1: [number, number, number] = [1, 1, 1];
const m = (summary: string, since: string, complexity = "O(1)") => ({ summary, since, complexity });

export const BIT_COMMANDS: CommandDef[] = [
  cmd(
    "setbit",
    4,
    "write denyoom",
    k1,
    "bitmap",
    setbit,
    m(
      "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
      "2.2.0",
    ),
  ),
  cmd(
    "getbit",
    3,
    "readonly fast",
    k1,
    "bitmap",
    getbit,
    m("Returns a bit value by offset.", "2.2.0"),
  ),
  cmd(
    "bitcount",
    -2,
    "readonly",
    k1,
    "bitmap",
    bitcount,
    m("Counts the number of set bits (population counting) in a string.", "2.6.0", "O(N)"),
  ),
  cmd(
    "bitpos",
    -3,
    "readonly",
    k1,
    "bitmap",
    bitpos,
    m("Finds the first set (1) or clear (0) bit in a string.", "2.8.7", "O(N)"),
  ),
  cmd(
    "bitop",
    -4,
    "write denyoom",
    [2, -1, 1],
    "bitmap",
    bitop,
    m("Performs bitwise operations on multiple strings, and stores the result.", "2.6.0", "O(N)"),
  ),
  cmd(
    "bitfield",
    -2,
    "write denyoom",
    k1,
    "bitmap",
    bitfieldGeneric(false),
    m("Performs arbitrary bitfield integer operations on strings.", "3.2.0"),
  ),
  cmd(
    "bitfield_ro",
    -2,
    "readonly fast",
    k1,
    "bitmap",
    bitfieldGeneric(true),
    m("Performs arbitrary read-only bitfield integer operations on strings.", "6.0.0"),
  ),
];
