/**
 * The Lua libraries Redis 7.0 gives scripts besides Lua's own: `cjson` (JSON), `cmsgpack`
 * (MessagePack), `bit` (LuaBitOp) and `struct` (binary packing). Written against fengari's API
 * with the behaviour of the C libraries Redis bundles, on Lua 5.1 numbers (every number a
 * double), so results, formats and error texts are Redis's. They end up as read-only globals.
 */
import fengari from "./fengari.ts";

const { lua, lauxlib } = fengari;
// deno-lint-ignore no-explicit-any
type L = any;

// ---------------------------------------------------------------------------------------------
// Shared helpers

function bytesOf(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function pushBytes(l: L, b: Uint8Array): void {
  lua.lua_pushlstring(l, b, b.length);
}

function pushText(l: L, s: string): void {
  pushBytes(l, bytesOf(s));
}

/** Raises `msg` with the caller's position in front, as luaL_error does. */
function fail(l: L, msg: string): never {
  lauxlib.luaL_where(l, 1);
  pushText(l, msg);
  lua.lua_concat(l, 2);
  lua.lua_error(l);
  throw new Error("unreachable");
}

/**
 * Lua 5.1's luaL_argerror: the function is named as its caller's code names it ('?' when
 * called from a C or JS function, as through pcall); `fname` is the name the caller would use.
 */
function argError(l: L, n: number, fname: string, msg: string): never {
  const ar = new lua.lua_Debug();
  let name = fname;
  if (lua.lua_getstack(l, 0, ar)) {
    lua.lua_getinfo(l, bytesOf("n"), ar);
    const what = ar.namewhat ? new TextDecoder().decode(ar.namewhat) : "";
    name = ar.name ? new TextDecoder().decode(ar.name) : "?";
    if (what === "method") {
      n--;
      if (n === 0) return fail(l, `calling '${name}' on bad self (${msg})`);
    }
  }
  return fail(l, `bad argument #${n} to '${name}' (${msg})`);
}

function typeName(l: L, idx: number): string {
  const t = lua.lua_type(l, idx);
  if (t === lua.LUA_TNONE) return "no value";
  if (t === lua.LUA_TLIGHTUSERDATA) return "userdata";
  return new TextDecoder().decode(lua.lua_typename(l, t));
}

/** Lua 5.1's limit on the values a C function holds on its stack (LUAI_MAXCSTACK). */
const MAX_C_STACK = 8000;

/** luaL_checkstack(L, 1, what) as Lua 5.1 judges it: one more value must fit. */
function checkStack(l: L, extra: number, what: string): void {
  // fengari grows a JS function's stack only when asked (room for the error's text too).
  lua.lua_checkstack(l, extra + 4);
  if (lua.lua_gettop(l) + extra + 1 > MAX_C_STACK) fail(l, `stack overflow (${what})`);
}

function checkNumber(l: L, idx: number, fname: string): number {
  if (!lua.lua_isnumber(l, idx)) {
    return argError(l, idx, fname, `number expected, got ${typeName(l, idx)}`);
  }
  return lua.lua_tonumber(l, idx);
}

/** luaL_checkinteger of Lua 5.1: a number, truncated. */
function checkInteger(l: L, idx: number, fname: string): number {
  const n = checkNumber(l, idx, fname);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

function optInteger(l: L, idx: number, fname: string, def: number): number {
  const t = lua.lua_type(l, idx);
  if (t === lua.LUA_TNONE || t === lua.LUA_TNIL) return def;
  return checkInteger(l, idx, fname);
}

function checkBytes(l: L, idx: number, fname: string): Uint8Array {
  const t = lua.lua_type(l, idx);
  if (t !== lua.LUA_TSTRING && t !== lua.LUA_TNUMBER) {
    return argError(l, idx, fname, `string expected, got ${typeName(l, idx)}`);
  }
  if (t === lua.LUA_TNUMBER) return bytesOf(formatG(lua.lua_tonumber(l, idx), 14));
  return lua.lua_tolstring(l, idx) as Uint8Array;
}

/**
 * Pushes a Lua 5.1 number: an integer when fengari's 32-bit integers hold it exactly (so it
 * prints without ".0"), a float otherwise.
 */
function pushNum(l: L, n: number): void {
  if (Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 && !Object.is(n, -0)) {
    lua.lua_pushinteger(l, n);
  } else lua.lua_pushnumber(l, n);
}

/**
 * The first `p` significant digits of a positive finite double, rounded as glibc rounds (the
 * exact binary value, ties to even), and the decimal exponent of the first one.
 */
function sigDigits(a: number, p: number): [string, number] {
  let intPart: string, frac: string;
  if (Number.isInteger(a)) {
    intPart = BigInt(a).toString();
    frac = "";
  } else if (a >= 1e-80) {
    [intPart, frac] = a.toFixed(100).split(".") as [string, string];
  } else {
    const [m, e] = a.toExponential(p - 1).split("e") as [string, string];
    return [m.replace(".", ""), Number(e)];
  }
  const all = intPart + frac;
  const first = all.search(/[1-9]/);
  const exp = intPart.length - 1 - first;
  const sig = all.slice(first);
  let head = sig.slice(0, p).padEnd(p, "0");
  const rest = sig.slice(p);
  const up = rest[0] !== undefined &&
    (rest[0] > "5" ||
      (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || Number(head[p - 1]) % 2 === 1)));
  if (!up) return [head, exp];
  const bumped = (BigInt(head) + 1n).toString();
  if (bumped.length > p) return [bumped.slice(0, p), exp + 1];
  head = bumped;
  return [head, exp];
}

/** C's printf("%.<prec>g"). */
export function formatG(n: number, prec: number): string {
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const sign = n < 0 ? "-" : "";
  const p = prec === 0 ? 1 : prec;
  const [digits, exp] = sigDigits(Math.abs(n), p);
  if (exp < -4 || exp >= p) {
    const m = (digits[0]! + "." + digits.slice(1)).replace(/0+$/, "").replace(/\.$/, "");
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  let s: string;
  if (exp >= 0) s = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
  else s = "0." + "0".repeat(-exp - 1) + digits;
  s = s.replace(/0+$/, "").replace(/\.$/, "");
  return sign + s;
}

/** A growing byte buffer. */
class Buf {
  b = new Uint8Array(64);
  n = 0;
  private room(k: number): void {
    if (this.n + k <= this.b.length) return;
    let size = this.b.length * 2;
    while (size < this.n + k) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.b.subarray(0, this.n));
    this.b = nb;
  }
  byte(x: number): void {
    this.room(1);
    this.b[this.n++] = x & 0xff;
  }
  bytes(x: Uint8Array): void {
    this.room(x.length);
    this.b.set(x, this.n);
    this.n += x.length;
  }
  ascii(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.b[this.n++] = s.charCodeAt(i);
  }
  take(): Uint8Array {
    return this.b.subarray(0, this.n);
  }
}

type JsFn = (l: L) => number;

function newLib(l: L, fns: Record<string, JsFn>, fields: Record<string, string> = {}): void {
  lua.lua_newtable(l);
  for (const [name, f] of Object.entries(fns)) {
    lua.lua_pushjsfunction(l, f);
    lua.lua_setfield(l, -2, bytesOf(name));
  }
  for (const [name, v] of Object.entries(fields)) {
    pushText(l, v);
    lua.lua_setfield(l, -2, bytesOf(name));
  }
}

// ---------------------------------------------------------------------------------------------
// cjson (lua-cjson 2.1.0)

interface CjsonConfig {
  sparseConvert: number;
  sparseRatio: number;
  sparseSafe: number;
  encodeMaxDepth: number;
  decodeMaxDepth: number;
  precision: number;
  keepBuffer: number;
  encodeInvalid: number;
  decodeInvalid: number;
}

function defaultConfig(): CjsonConfig {
  return {
    sparseConvert: 0,
    sparseRatio: 2,
    sparseSafe: 10,
    encodeMaxDepth: 1000,
    decodeMaxDepth: 1000,
    precision: 14,
    keepBuffer: 1,
    encodeInvalid: 0,
    decodeInvalid: 1,
  };
}

const INT_MAX = 2147483647;

/** lua-cjson's argument check of its option functions: at most `max`, padded with nils. */
function optionArgs(l: L, max: number, fname: string): void {
  if (lua.lua_gettop(l) > max) argError(l, max + 1, fname, "found too many arguments");
  lua.lua_settop(l, max);
}

function integerOption(
  l: L,
  idx: number,
  fname: string,
  get: () => number,
  set: (v: number) => void,
  min: number,
  max: number,
): void {
  if (lua.lua_type(l, idx) !== lua.LUA_TNIL && lua.lua_type(l, idx) !== lua.LUA_TNONE) {
    const v = checkInteger(l, idx, fname);
    if (v < min || v > max) argError(l, idx, fname, `expected integer between ${min} and ${max}`);
    set(v);
  }
  lua.lua_pushinteger(l, get());
}

function enumOption(
  l: L,
  idx: number,
  fname: string,
  get: () => number,
  set: (v: number) => void,
  options: string[],
): void {
  const t = lua.lua_type(l, idx);
  if (t !== lua.LUA_TNIL && t !== lua.LUA_TNONE) {
    if (t === lua.LUA_TBOOLEAN) set(lua.lua_toboolean(l, idx) ? 1 : 0);
    else {
      const s = new TextDecoder().decode(checkBytes(l, idx, fname));
      const i = options.indexOf(s);
      if (i < 0) argError(l, idx, fname, `invalid option '${s}'`);
      set(i);
    }
  }
  const v = get();
  if (v === 0 || v === 1) lua.lua_pushboolean(l, v === 1);
  else pushText(l, options[v]!);
}

/** JSON escapes of bytes 0..127 (lua-cjson's table: control characters, '"', '\', '/', DEL). */
const ESCAPES: (string | null)[] = Array.from({ length: 128 }, (_, c) => {
  if (c === 8) return "\\b";
  if (c === 9) return "\\t";
  if (c === 10) return "\\n";
  if (c === 12) return "\\f";
  if (c === 13) return "\\r";
  if (c === 34) return '\\"';
  if (c === 47) return "\\/";
  if (c === 92) return "\\\\";
  if (c < 32 || c === 127) return "\\u" + c.toString(16).padStart(4, "0");
  return null;
});

function encodeString(out: Buf, s: Uint8Array): void {
  out.byte(34);
  for (const c of s) {
    const e = c < 128 ? ESCAPES[c] : null;
    if (e) out.ascii(e);
    else out.byte(c);
  }
  out.byte(34);
}

function cjsonError(l: L, idx: number, reason: string): never {
  return fail(l, `Cannot serialise ${typeName(l, idx)}: ${reason}`);
}

function encodeNumber(l: L, cfg: CjsonConfig, out: Buf, idx: number): void {
  const n = lua.lua_tonumber(l, idx);
  if (!Number.isFinite(n)) {
    if (cfg.encodeInvalid === 0) cjsonError(l, idx, "must not be NaN or Inf");
    if (cfg.encodeInvalid === 1) {
      // "nan" whatever its sign bit, as Redis's lua-cjson writes it.
      out.ascii(formatG(n, cfg.precision));
    } else out.ascii("null");
    return;
  }
  out.ascii(formatG(n, cfg.precision));
}

/** The array length of the table on top (its largest index), -1 for an object. */
function arrayLength(l: L, cfg: CjsonConfig): number {
  let max = 0, items = 0;
  lua.lua_pushnil(l);
  while (lua.lua_next(l, -2)) {
    lua.lua_pop(l, 1);
    if (lua.lua_type(l, -1) === lua.LUA_TNUMBER) {
      const k = lua.lua_tonumber(l, -1);
      if (Number.isInteger(k) && k >= 1) {
        if (k > max) max = k;
        items++;
        continue;
      }
    }
    lua.lua_pop(l, 1);
    return -1;
  }
  if (cfg.sparseRatio > 0 && max > items * cfg.sparseRatio && max > cfg.sparseSafe) {
    if (!cfg.sparseConvert) cjsonError(l, -1, "excessively sparse array");
    return -1;
  }
  return max;
}

function encodeValue(l: L, cfg: CjsonConfig, out: Buf, depth: number): void {
  switch (lua.lua_type(l, -1)) {
    case lua.LUA_TSTRING:
      return encodeString(out, lua.lua_tolstring(l, -1));
    case lua.LUA_TNUMBER:
      return encodeNumber(l, cfg, out, -1);
    case lua.LUA_TBOOLEAN:
      return out.ascii(lua.lua_toboolean(l, -1) ? "true" : "false");
    case lua.LUA_TNIL:
      return out.ascii("null");
    case lua.LUA_TUSERDATA: {
      pushCjsonNull(l);
      const isNull = lua.lua_rawequal(l, -1, -2);
      lua.lua_pop(l, 1);
      if (isNull) return out.ascii("null");
      break;
    }
    case lua.LUA_TTABLE: {
      depth++;
      if (depth > cfg.encodeMaxDepth || !lua.lua_checkstack(l, 3)) {
        fail(l, `Cannot serialise, excessive nesting (${depth})`);
      }
      const len = arrayLength(l, cfg);
      if (len > 0) {
        out.byte(91);
        for (let i = 1; i <= len; i++) {
          if (i > 1) out.byte(44);
          lua.lua_rawgeti(l, -1, i);
          encodeValue(l, cfg, out, depth);
          lua.lua_pop(l, 1);
        }
        out.byte(93);
        return;
      }
      out.byte(123);
      let first = true;
      lua.lua_pushnil(l);
      while (lua.lua_next(l, -2)) {
        if (!first) out.byte(44);
        first = false;
        const kt = lua.lua_type(l, -2);
        if (kt === lua.LUA_TSTRING) {
          encodeString(out, lua.lua_tolstring(l, -2));
          out.byte(58);
        } else if (kt === lua.LUA_TNUMBER) {
          out.byte(34);
          encodeNumber(l, cfg, out, -2);
          out.ascii('":');
        } else cjsonError(l, -2, "table key must be a number or string");
        encodeValue(l, cfg, out, depth);
        lua.lua_pop(l, 1);
      }
      out.byte(125);
      return;
    }
  }
  cjsonError(l, -1, "type not supported");
}

/** cjson.null: a light userdata that only it is. */
const NULL_KEY = bytesOf("redis-ha cjson.null");

/**
 * Pushes cjson.null. Redis's is a light userdata holding NULL (`userdata: (nil)` in tostring);
 * here it is one full userdata per VM, kept in the registry, whose __tostring says the same.
 */
function pushCjsonNull(l: L): void {
  if (lua.lua_getfield(l, lua.LUA_REGISTRYINDEX, NULL_KEY) !== lua.LUA_TNIL) return;
  lua.lua_pop(l, 1);
  lua.lua_newuserdata(l, 0);
  lua.lua_newtable(l);
  lua.lua_pushjsfunction(l, (l: L) => {
    pushText(l, "userdata: (nil)");
    return 1;
  });
  lua.lua_setfield(l, -2, bytesOf("__tostring"));
  lua.lua_pushboolean(l, false);
  lua.lua_setfield(l, -2, bytesOf("__metatable"));
  lua.lua_setmetatable(l, -2);
  lua.lua_pushvalue(l, -1);
  lua.lua_setfield(l, lua.LUA_REGISTRYINDEX, NULL_KEY);
}

type TokType =
  | "T_OBJ_BEGIN"
  | "T_OBJ_END"
  | "T_ARR_BEGIN"
  | "T_ARR_END"
  | "T_STRING"
  | "T_NUMBER"
  | "T_BOOLEAN"
  | "T_NULL"
  | "T_COLON"
  | "T_COMMA"
  | "T_END"
  | "T_ERROR";

interface Token {
  type: TokType;
  index: number;
  str?: Uint8Array;
  num?: number;
  bool?: boolean;
  /** T_ERROR: what went wrong. */
  error?: string;
}

const NUMBER_RE =
  /^[+-]?(?:inf(?:inity)?|nan(?:\([0-9a-z_]*\))?|0x(?:[0-9a-f]+(?:\.[0-9a-f]*)?|\.[0-9a-f]+)(?:p[+-]?\d+)?|(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)/i;

/** strtod over `text` from its start: the value and how many characters it used (0: none). */
function strtod(text: string): [number, number] {
  const m = NUMBER_RE.exec(text);
  if (!m) return [0, 0];
  const s = m[0];
  const neg = s.startsWith("-");
  const body = s.replace(/^[+-]/, "").toLowerCase();
  let v: number;
  if (body.startsWith("inf")) v = Infinity;
  else if (body.startsWith("nan")) v = NaN;
  else if (body.startsWith("0x")) {
    const [mant, pexp] = body.slice(2).split("p") as [string, string | undefined];
    const [ip, fp = ""] = mant.split(".") as [string, string | undefined];
    v = parseInt(ip || "0", 16);
    for (let i = 0; i < fp.length; i++) v += parseInt(fp[i]!, 16) / 16 ** (i + 1);
    if (pexp !== undefined) v *= 2 ** Number(pexp);
  } else v = Number(body);
  return [neg ? -v : v, s.length];
}

class JsonParser {
  pos = 0;
  depth = 0;
  constructor(readonly data: Uint8Array, readonly cfg: CjsonConfig, readonly l: L) {}

  private at(i: number): number {
    return i < this.data.length ? this.data[i]! : 0;
  }

  /** lua-cjson's "invalid number" shapes: '+', hex, leading zeros, inf, nan. */
  private invalidNumber(): boolean {
    let p = this.pos;
    if (this.at(p) === 43) return true;
    if (this.at(p) === 45) p++;
    const c = this.at(p);
    if (c === 48) {
      const c2 = this.at(p + 1);
      return (c2 | 0x20) === 120 || (c2 >= 48 && c2 <= 57);
    }
    if (c <= 57) return false;
    const word = String.fromCharCode(c, this.at(p + 1), this.at(p + 2)).toLowerCase();
    return word === "inf" || word === "nan";
  }

  private numberToken(tok: Token): Token {
    // The characters strtod could take: sign, digits, letters (hex, exponent, inf, nan), '.'
    // and the parentheses of nan(...).
    let text = "";
    for (let i = this.pos; i < this.data.length; i++) {
      const c = this.data[i]!;
      const ok = (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122) ||
        c === 43 || c === 45 || c === 46 || c === 40 || c === 41 || c === 95;
      if (!ok) break;
      text += String.fromCharCode(c);
    }
    const [v, used] = strtod(text);
    if (used === 0) return this.tokenError(tok, "invalid number");
    tok.type = "T_NUMBER";
    tok.num = v;
    this.pos += used;
    return tok;
  }

  private tokenError(tok: Token, msg: string): Token {
    tok.type = "T_ERROR";
    tok.index = this.pos;
    tok.error = msg;
    return tok;
  }

  next(): Token {
    for (;;) {
      const c = this.at(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else break;
    }
    const tok: Token = { type: "T_END", index: this.pos };
    const c = this.at(this.pos);
    const single: Record<number, TokType> = {
      123: "T_OBJ_BEGIN",
      125: "T_OBJ_END",
      91: "T_ARR_BEGIN",
      93: "T_ARR_END",
      58: "T_COLON",
      44: "T_COMMA",
      0: "T_END",
    };
    const s = single[c];
    if (s) {
      tok.type = s;
      if (c !== 0) this.pos++;
      return tok;
    }
    if (c === 34) return this.stringToken(tok);
    if (c === 45 || (c >= 48 && c <= 57)) {
      if (!this.cfg.decodeInvalid && this.invalidNumber()) {
        return this.tokenError(tok, "invalid number");
      }
      return this.numberToken(tok);
    }
    if (this.word("true")) {
      tok.type = "T_BOOLEAN";
      tok.bool = true;
      return tok;
    }
    if (this.word("false")) {
      tok.type = "T_BOOLEAN";
      tok.bool = false;
      return tok;
    }
    if (this.word("null")) {
      tok.type = "T_NULL";
      return tok;
    }
    if (this.cfg.decodeInvalid && this.invalidNumber()) return this.numberToken(tok);
    return this.tokenError(tok, "invalid token");
  }

  private word(w: string): boolean {
    for (let i = 0; i < w.length; i++) if (this.at(this.pos + i) !== w.charCodeAt(i)) return false;
    this.pos += w.length;
    return true;
  }

  private hex4(p: number): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.at(p + i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if ((c | 0x20) >= 97 && (c | 0x20) <= 102) d = (c | 0x20) - 87;
      else return -1;
      v = v * 16 + d;
    }
    return v;
  }

  /** A \u escape at pos: the code point and the bytes it used, or null. */
  private unicodeEscape(out: Buf): number {
    let cp = this.hex4(this.pos + 2);
    let used = 6;
    if (cp < 0) return 0;
    if ((cp & 0xf800) === 0xd800) {
      if (cp & 0x400) return 0; // a low surrogate first
      if (this.at(this.pos + 6) !== 92 || this.at(this.pos + 7) !== 117) return 0;
      const lo = this.hex4(this.pos + 8);
      if (lo < 0 || (lo & 0xfc00) !== 0xdc00) return 0;
      cp = (((cp & 0x3ff) << 10) | (lo & 0x3ff)) + 0x10000;
      used = 12;
    }
    if (cp < 0x80) out.byte(cp);
    else if (cp < 0x800) {
      out.byte(0xc0 | (cp >> 6));
      out.byte(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out.byte(0xe0 | (cp >> 12));
      out.byte(0x80 | ((cp >> 6) & 0x3f));
      out.byte(0x80 | (cp & 0x3f));
    } else {
      out.byte(0xf0 | (cp >> 18));
      out.byte(0x80 | ((cp >> 12) & 0x3f));
      out.byte(0x80 | ((cp >> 6) & 0x3f));
      out.byte(0x80 | (cp & 0x3f));
    }
    return used;
  }

  private stringToken(tok: Token): Token {
    const out = new Buf();
    this.pos++;
    const unescape: Record<number, number> = {
      34: 34,
      92: 92,
      47: 47,
      98: 8,
      102: 12,
      110: 10,
      114: 13,
      116: 9,
    };
    for (;;) {
      const c = this.at(this.pos);
      if (c === 34) break;
      if (c === 0) return this.tokenError(tok, "unexpected end of string");
      if (c === 92) {
        const e = this.at(this.pos + 1);
        if (e === 117) {
          const used = this.unicodeEscape(out);
          if (!used) return this.tokenError(tok, "invalid unicode escape code");
          this.pos += used;
          continue;
        }
        const r = unescape[e];
        if (r === undefined) return this.tokenError(tok, "invalid escape code");
        out.byte(r);
        this.pos += 2;
        continue;
      }
      out.byte(c);
      this.pos++;
    }
    this.pos++;
    tok.type = "T_STRING";
    tok.str = out.take();
    return tok;
  }

  private throwError(expected: string, tok: Token): never {
    const found = tok.type === "T_ERROR" ? tok.error! : tok.type;
    return fail(this.l, `Expected ${expected} but found ${found} at character ${tok.index + 1}`);
  }

  private descend(): void {
    this.depth++;
    if (this.depth > this.cfg.decodeMaxDepth || !lua.lua_checkstack(this.l, 3)) {
      fail(
        this.l,
        `Found too many nested data structures (${this.depth}) at character ${this.pos}`,
      );
    }
  }

  value(tok: Token): void {
    const l = this.l;
    switch (tok.type) {
      case "T_STRING":
        return pushBytes(l, tok.str!);
      case "T_NUMBER":
        return pushNum(l, tok.num!);
      case "T_BOOLEAN":
        return lua.lua_pushboolean(l, tok.bool!);
      case "T_NULL":
        return pushCjsonNull(l);
      case "T_OBJ_BEGIN":
        return this.object();
      case "T_ARR_BEGIN":
        return this.array();
      default:
        this.throwError("value", tok);
    }
  }

  private object(): void {
    const l = this.l;
    this.descend();
    lua.lua_newtable(l);
    let tok = this.next();
    if (tok.type === "T_OBJ_END") {
      this.depth--;
      return;
    }
    for (;;) {
      if (tok.type !== "T_STRING") this.throwError("object key string", tok);
      pushBytes(l, tok.str!);
      tok = this.next();
      if (tok.type !== "T_COLON") this.throwError("colon", tok);
      this.value(this.next());
      lua.lua_rawset(l, -3);
      tok = this.next();
      if (tok.type === "T_OBJ_END") break;
      if (tok.type !== "T_COMMA") this.throwError("comma or object end", tok);
      tok = this.next();
    }
    this.depth--;
  }

  private array(): void {
    const l = this.l;
    this.descend();
    lua.lua_newtable(l);
    let tok = this.next();
    if (tok.type === "T_ARR_END") {
      this.depth--;
      return;
    }
    for (let i = 1;; i++) {
      this.value(tok);
      lua.lua_rawseti(l, -2, i);
      tok = this.next();
      if (tok.type === "T_ARR_END") break;
      if (tok.type !== "T_COMMA") this.throwError("comma or array end", tok);
      tok = this.next();
    }
    this.depth--;
  }

  parse(): void {
    if (this.data.length >= 2 && (this.data[0] === 0 || this.data[1] === 0)) {
      fail(this.l, "JSON parser does not support UTF-16 or UTF-32");
    }
    this.value(this.next());
    const tok = this.next();
    if (tok.type !== "T_END") this.throwError("the end", tok);
  }
}

function pushCjson(l: L): void {
  const cfg = defaultConfig();
  const fns: Record<string, JsFn> = {
    encode: (l: L) => {
      if (lua.lua_gettop(l) !== 1) argError(l, 1, "encode", "expected 1 argument");
      const out = new Buf();
      encodeValue(l, cfg, out, 0);
      pushBytes(l, out.take());
      return 1;
    },
    decode: (l: L) => {
      if (lua.lua_gettop(l) !== 1) argError(l, 1, "decode", "expected 1 argument");
      const data = checkBytes(l, 1, "decode");
      new JsonParser(data, cfg, l).parse();
      return 1;
    },
    encode_sparse_array: (l: L) => {
      optionArgs(l, 3, "encode_sparse_array");
      enumOption(
        l,
        1,
        "encode_sparse_array",
        () => cfg.sparseConvert,
        (v) => cfg.sparseConvert = v,
        ["off", "on"],
      );
      integerOption(
        l,
        2,
        "encode_sparse_array",
        () => cfg.sparseRatio,
        (v) => cfg.sparseRatio = v,
        0,
        INT_MAX,
      );
      integerOption(
        l,
        3,
        "encode_sparse_array",
        () => cfg.sparseSafe,
        (v) => cfg.sparseSafe = v,
        0,
        INT_MAX,
      );
      return 3;
    },
    encode_max_depth: (l: L) => {
      optionArgs(l, 1, "encode_max_depth");
      integerOption(
        l,
        1,
        "encode_max_depth",
        () => cfg.encodeMaxDepth,
        (v) => cfg.encodeMaxDepth = v,
        1,
        INT_MAX,
      );
      return 1;
    },
    decode_max_depth: (l: L) => {
      optionArgs(l, 1, "decode_max_depth");
      integerOption(
        l,
        1,
        "decode_max_depth",
        () => cfg.decodeMaxDepth,
        (v) => cfg.decodeMaxDepth = v,
        1,
        INT_MAX,
      );
      return 1;
    },
    encode_number_precision: (l: L) => {
      optionArgs(l, 1, "encode_number_precision");
      integerOption(
        l,
        1,
        "encode_number_precision",
        () => cfg.precision,
        (v) => cfg.precision = v,
        1,
        14,
      );
      return 1;
    },
    encode_keep_buffer: (l: L) => {
      optionArgs(l, 1, "encode_keep_buffer");
      enumOption(
        l,
        1,
        "encode_keep_buffer",
        () => cfg.keepBuffer,
        (v) => cfg.keepBuffer = v,
        ["off", "on"],
      );
      return 1;
    },
    encode_invalid_numbers: (l: L) => {
      optionArgs(l, 1, "encode_invalid_numbers");
      enumOption(
        l,
        1,
        "encode_invalid_numbers",
        () => cfg.encodeInvalid,
        (v) => cfg.encodeInvalid = v,
        ["off", "on", "null"],
      );
      return 1;
    },
    decode_invalid_numbers: (l: L) => {
      optionArgs(l, 1, "decode_invalid_numbers");
      enumOption(
        l,
        1,
        "decode_invalid_numbers",
        () => cfg.decodeInvalid,
        (v) => cfg.decodeInvalid = v,
        ["off", "on"],
      );
      return 1;
    },
    new: (l: L) => {
      pushCjson(l);
      return 1;
    },
  };
  newLib(l, fns, { _NAME: "cjson", _VERSION: "2.1.0" });
  pushCjsonNull(l);
  lua.lua_setfield(l, -2, bytesOf("null"));
}

// ---------------------------------------------------------------------------------------------
// cmsgpack (lua-cmsgpack 0.4.0 as Redis builds it on Lua 5.1)

const MSGPACK_MAX_NESTING = 16;

function mpInt(out: Buf, n: number): void {
  const big = (tag: number, v: bigint) => {
    out.byte(tag);
    for (let s = 56n; s >= 0n; s -= 8n) out.byte(Number((v >> s) & 0xffn));
  };
  const be = (tag: number, v: number, bytes: number) => {
    out.byte(tag);
    for (let i = bytes - 1; i >= 0; i--) out.byte(Math.floor(v / 2 ** (8 * i)) & 0xff);
  };
  if (n >= 0) {
    if (n <= 127) out.byte(n);
    else if (n <= 0xff) be(0xcc, n, 1);
    else if (n <= 0xffff) be(0xcd, n, 2);
    else if (n <= 0xffffffff) be(0xce, n, 4);
    else big(0xcf, BigInt.asUintN(64, BigInt(n)));
  } else {
    if (n >= -32) out.byte(n & 0xff);
    else if (n >= -128) be(0xd0, n & 0xff, 1);
    else if (n >= -32768) be(0xd1, n & 0xffff, 2);
    else if (n >= -2147483648) be(0xd2, n >>> 0, 4);
    else big(0xd3, BigInt.asUintN(64, BigInt(n)));
  }
}

function mpLength(out: Buf, n: number, fix: number, tag16: number, fixMax: number): void {
  if (n <= fixMax) out.byte(fix | n);
  else if (n <= 0xffff) {
    out.byte(tag16);
    out.byte(n >> 8);
    out.byte(n);
  } else {
    out.byte(tag16 + 1);
    out.byte(n >>> 24);
    out.byte(n >> 16);
    out.byte(n >> 8);
    out.byte(n);
  }
}

function mpNumber(out: Buf, n: number): void {
  // IS_INT64_EQUIVALENT: not infinite and equal to its (int64_t) conversion.
  if (Number.isFinite(n) && Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63) {
    return mpInt(out, n === 0 ? 0 : n);
  }
  const dv = new DataView(new ArrayBuffer(8));
  if (Math.fround(n) === n) {
    dv.setFloat32(0, n);
    out.byte(0xca);
    for (let i = 0; i < 4; i++) out.byte(dv.getUint8(i));
  } else {
    dv.setFloat64(0, n);
    out.byte(0xcb);
    for (let i = 0; i < 8; i++) out.byte(dv.getUint8(i));
  }
}

function mpEncode(l: L, out: Buf, level: number): void {
  // A table level holds its key, value and a copy on the stack: fengari grows a JS function's
  // stack only when asked, so each level asks for its room.
  lua.lua_checkstack(l, 4);
  let t = lua.lua_type(l, -1);
  if (t === lua.LUA_TTABLE && level === MSGPACK_MAX_NESTING) t = lua.LUA_TNIL;
  switch (t) {
    case lua.LUA_TSTRING: {
      const s: Uint8Array = lua.lua_tolstring(l, -1);
      if (s.length < 32) out.byte(0xa0 | s.length);
      else if (s.length <= 0xff) {
        out.byte(0xd9);
        out.byte(s.length);
      } else mpLength(out, s.length, 0, 0xda, -1);
      out.bytes(s);
      break;
    }
    case lua.LUA_TBOOLEAN:
      out.byte(lua.lua_toboolean(l, -1) ? 0xc3 : 0xc2);
      break;
    case lua.LUA_TNUMBER:
      mpNumber(out, lua.lua_tonumber(l, -1));
      break;
    case lua.LUA_TTABLE: {
      // An array when its keys are exactly 1..n.
      let count = 0, max = 0, array = true;
      lua.lua_pushnil(l);
      while (lua.lua_next(l, -2)) {
        lua.lua_pop(l, 1);
        const k = lua.lua_type(l, -1) === lua.LUA_TNUMBER ? lua.lua_tonumber(l, -1) : 0;
        if (!(k > 0 && Number.isInteger(k) && k <= INT_MAX)) {
          lua.lua_pop(l, 1);
          array = false;
          break;
        }
        if (k > max) max = k;
        count++;
      }
      if (array && max === count) {
        mpLength(out, count, 0x90, 0xdc, 15);
        for (let j = 1; j <= count; j++) {
          lua.lua_rawgeti(l, -1, j);
          mpEncode(l, out, level + 1);
        }
      } else {
        let n = 0;
        lua.lua_pushnil(l);
        while (lua.lua_next(l, -2)) {
          lua.lua_pop(l, 1);
          n++;
        }
        mpLength(out, n, 0x80, 0xde, 15);
        lua.lua_pushnil(l);
        while (lua.lua_next(l, -2)) {
          lua.lua_pushvalue(l, -2);
          mpEncode(l, out, level + 1);
          mpEncode(l, out, level + 1);
        }
      }
      break;
    }
    default:
      out.byte(0xc0);
  }
  lua.lua_pop(l, 1);
}

class MpCursor {
  pos: number;
  err: "eof" | "badfmt" | null = null;
  /** Arrays being decoded: each holds one more value (an index) on the C library's stack. */
  arrayDepth = 0;
  constructor(readonly b: Uint8Array, start: number) {
    this.pos = start;
  }
  get left(): number {
    return this.b.length - this.pos;
  }
  need(n: number): boolean {
    if (this.left < n) {
      this.err = "eof";
      return false;
    }
    return true;
  }
  uint(at: number, bytes: number): number {
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + this.b[at + i]!;
    return v;
  }
}

function mpDecode(l: L, c: MpCursor): void {
  if (!c.need(1)) return;
  checkStack(
    l,
    c.arrayDepth,
    "too many return values at once; use unpack_one or unpack_limit instead.",
  );
  const b = c.b, p = c.pos, op = b[p]!;
  const str = (hdr: number, len: number) => {
    if (!c.need(hdr + len)) return;
    pushBytes(l, b.subarray(p + hdr, p + hdr + len));
    c.pos += hdr + len;
  };
  const fixed = (size: number, read: (dv: DataView) => number) => {
    if (!c.need(size)) return;
    pushNum(l, read(new DataView(b.buffer, b.byteOffset + p + 1, size - 1)));
    c.pos += size;
  };
  const array = (len: number) => {
    lua.lua_newtable(l);
    // The C library pushes each element's index before decoding the element.
    c.arrayDepth++;
    for (let i = 1; i <= len; i++) {
      mpDecode(l, c);
      if (c.err) break;
      lua.lua_rawseti(l, -2, i);
    }
    c.arrayDepth--;
  };
  const map = (len: number) => {
    lua.lua_newtable(l);
    for (let i = 0; i < len; i++) {
      mpDecode(l, c);
      if (c.err) return;
      mpDecode(l, c);
      if (c.err) return;
      if (lua.lua_type(l, -2) === lua.LUA_TNIL) {
        lua.lua_pop(l, 2); // a nil key: Lua refuses it
        continue;
      }
      lua.lua_settable(l, -3);
    }
  };
  const counted = (hdr: number, then: (len: number) => void) => {
    if (!c.need(hdr)) return;
    const len = c.uint(p + 1, hdr - 1);
    c.pos += hdr;
    then(len);
  };
  switch (op) {
    case 0xcc:
      return fixed(2, (d) => d.getUint8(0));
    case 0xd0:
      return fixed(2, (d) => d.getInt8(0));
    case 0xcd:
      return fixed(3, (d) => d.getUint16(0));
    case 0xd1:
      return fixed(3, (d) => d.getInt16(0));
    case 0xce:
      return fixed(5, (d) => d.getUint32(0));
    case 0xd2:
      return fixed(5, (d) => d.getInt32(0));
    case 0xcf:
      return fixed(9, (d) => Number(d.getBigUint64(0)));
    case 0xd3:
      return fixed(9, (d) => Number(d.getBigInt64(0)));
    case 0xc0:
      lua.lua_pushnil(l);
      c.pos++;
      return;
    case 0xc3:
    case 0xc2:
      lua.lua_pushboolean(l, op === 0xc3);
      c.pos++;
      return;
    case 0xca:
      return fixed(5, (d) => d.getFloat32(0));
    case 0xcb:
      return fixed(9, (d) => d.getFloat64(0));
    case 0xd9:
      if (!c.need(2)) return;
      return str(2, b[p + 1]!);
    case 0xda:
      if (!c.need(3)) return;
      return str(3, c.uint(p + 1, 2));
    case 0xdb:
      if (!c.need(5)) return;
      return str(5, c.uint(p + 1, 4));
    case 0xdc:
      return counted(3, array);
    case 0xdd:
      return counted(5, array);
    case 0xde:
      return counted(3, map);
    case 0xdf:
      return counted(5, map);
  }
  if ((op & 0x80) === 0) {
    lua.lua_pushinteger(l, op);
    c.pos++;
  } else if ((op & 0xe0) === 0xe0) {
    lua.lua_pushinteger(l, op - 256);
    c.pos++;
  } else if ((op & 0xe0) === 0xa0) str(1, op & 0x1f);
  else if ((op & 0xf0) === 0x90) {
    c.pos++;
    array(op & 0xf);
  } else if ((op & 0xf0) === 0x80) {
    c.pos++;
    map(op & 0xf);
  } else c.err = "badfmt";
}

function mpUnpack(l: L, fname: string, limit: number, offset: number): number {
  const s = checkBytes(l, 1, fname);
  const decodeAll = !limit && !offset;
  if (offset < 0 || limit < 0) {
    fail(
      l,
      `Invalid request to unpack with offset of ${offset | 0} and limit of ${s.length | 0}.`,
    );
  } else if (offset > s.length) {
    fail(l, `Start offset ${offset | 0} greater than input length ${s.length | 0}.`);
  }
  if (decodeAll) limit = INT_MAX;
  const c = new MpCursor(s, offset);
  let count = 0;
  for (; c.left > 0 && count < limit; count++) {
    mpDecode(l, c);
    if (c.err === "eof") fail(l, "Missing bytes in input.");
    if (c.err === "badfmt") fail(l, "Bad data format in input.");
  }
  if (!decodeAll) {
    lua.lua_pushinteger(l, c.left === 0 ? -1 : c.pos);
    lua.lua_insert(l, 2);
    count++;
  }
  return count;
}

function pushCmsgpack(l: L): void {
  newLib(l, {
    pack: (l: L) => {
      const n = lua.lua_gettop(l);
      if (n === 0) argError(l, 0, "pack", "MessagePack pack needs input.");
      if (2 * n > MAX_C_STACK) argError(l, 0, "pack", "Too many arguments for MessagePack pack.");
      const out = new Buf();
      for (let i = 1; i <= n; i++) {
        lua.lua_pushvalue(l, i);
        mpEncode(l, out, 0);
      }
      pushBytes(l, out.take());
      return 1;
    },
    unpack: (l: L) => mpUnpack(l, "unpack", 0, 0),
    unpack_one: (l: L) => {
      const offset = optInteger(l, 2, "unpack_one", 0);
      lua.lua_settop(l, 1);
      return mpUnpack(l, "unpack_one", 1, offset);
    },
    unpack_limit: (l: L) => {
      const limit = checkInteger(l, 2, "unpack_limit");
      const offset = optInteger(l, 3, "unpack_limit", 0);
      lua.lua_settop(l, 1);
      return mpUnpack(l, "unpack_limit", limit, offset);
    },
  }, {
    _NAME: "cmsgpack",
    _VERSION: "lua-cmsgpack 0.4.0",
    _COPYRIGHT: "Copyright (C) 2012, Salvatore Sanfilippo",
    _DESCRIPTION: "MessagePack C implementation for Lua",
  });
}

// ---------------------------------------------------------------------------------------------
// bit (LuaBitOp 1.0.2)

const tobitView = new DataView(new ArrayBuffer(8));

/** A number's 32 bits as LuaBitOp takes them: the low word of n + 2^52 + 2^51. */
export function toBit(n: number): number {
  tobitView.setFloat64(0, n + 6755399441055744.0, true);
  return tobitView.getInt32(0, true);
}

function pushCbit(l: L): void {
  const arg = (l: L, i: number, name: string) => toBit(checkNumber(l, i, name));
  const ret = (l: L, v: number) => {
    lua.lua_pushinteger(l, v | 0);
    return 1;
  };
  const fold = (name: string, op: (a: number, b: number) => number) => (l: L) => {
    let v = arg(l, 1, name);
    for (let i = lua.lua_gettop(l); i > 1; i--) v = op(v, arg(l, i, name));
    return ret(l, v);
  };
  const shift = (name: string, op: (b: number, n: number) => number) => (l: L) => {
    const b = arg(l, 1, name);
    const n = arg(l, 2, name) & 31;
    return ret(l, op(b, n));
  };
  newLib(l, {
    tobit: (l: L) => ret(l, arg(l, 1, "tobit")),
    bnot: (l: L) => ret(l, ~arg(l, 1, "bnot")),
    band: fold("band", (a, b) => a & b),
    bor: fold("bor", (a, b) => a | b),
    bxor: fold("bxor", (a, b) => a ^ b),
    lshift: shift("lshift", (b, n) => b << n),
    rshift: shift("rshift", (b, n) => b >>> n),
    arshift: shift("arshift", (b, n) => b >> n),
    rol: shift("rol", (b, n) => (b << n) | (b >>> (32 - n))),
    ror: shift("ror", (b, n) => (b >>> n) | (b << (32 - n))),
    bswap: (l: L) => {
      const b = arg(l, 1, "bswap");
      return ret(l, (b >>> 24) | ((b >> 8) & 0xff00) | ((b & 0xff00) << 8) | (b << 24));
    },
    tohex: (l: L) => {
      let b = arg(l, 1, "tohex") >>> 0;
      let n = lua.lua_type(l, 2) === lua.LUA_TNONE ? 8 : arg(l, 2, "tohex");
      let digits = "0123456789abcdef";
      if (n < 0) {
        n = -n;
        digits = "0123456789ABCDEF";
      }
      if (n > 8) n = 8;
      const out: string[] = new Array(n);
      for (let i = n - 1; i >= 0; i--) {
        out[i] = digits[b & 15]!;
        b >>>= 4;
      }
      pushText(l, out.join(""));
      return 1;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// struct (Roberto Ierusalimschy's struct 1.4 as Redis bundles it; C long is 64 bits)

const MAXINTSIZE = 32;
const MAXALIGN = 8;

interface FmtState {
  fmt: Uint8Array;
  i: number;
  little: boolean;
  align: number;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

function getNum(st: FmtState, def: number): number {
  if (!isDigit(st.fmt[st.i])) return def;
  let a = 0;
  while (isDigit(st.fmt[st.i])) a = (a * 10 + st.fmt[st.i++]! - 48) | 0;
  return a;
}

function optSize(l: L, opt: number, st: FmtState): number {
  switch (String.fromCharCode(opt)) {
    case "B":
    case "b":
    case "x":
      return 1;
    case "H":
    case "h":
      return 2;
    case "f":
      return 4;
    case "L":
    case "l":
    case "T":
    case "d":
      return 8;
    case "c":
      return getNum(st, 1);
    case "i":
    case "I": {
      const sz = getNum(st, 4);
      if (sz > MAXINTSIZE) fail(l, `integral size ${sz} is larger than limit of ${MAXINTSIZE}`);
      return sz;
    }
  }
  return 0;
}

function toAlign(len: number, st: FmtState, opt: number, size: number): number {
  if (size === 0 || opt === 99) return 0;
  if (size > st.align) size = st.align;
  return (size - (len & (size - 1))) & (size - 1);
}

function controlOption(l: L, opt: number, st: FmtState, fname: string): void {
  switch (opt) {
    case 32:
      return;
    case 62:
      st.little = false;
      return;
    case 60:
      st.little = true;
      return;
    case 33: {
      const a = getNum(st, MAXALIGN);
      if (!(a > 0 && (a & (a - 1)) === 0)) fail(l, `alignment ${a} is not a power of 2`);
      st.align = a;
      return;
    }
  }
  argError(l, 1, fname, `invalid format option '${String.fromCharCode(opt)}'`);
}

const INTEGER_OPTS = new Set("bBhHlLTiI".split("").map((c) => c.charCodeAt(0)));

function structPack(l: L): number {
  const st: FmtState = { fmt: checkBytes(l, 1, "pack"), i: 0, little: true, align: 1 };
  let arg = 2;
  // As the C library: a nil above the arguments (a missing one reads as nil, not "no value").
  lua.lua_pushnil(l);
  const out = new Buf();
  while (st.i < st.fmt.length) {
    const opt = st.fmt[st.i++]!;
    if (opt === 0) break;
    let size = optSize(l, opt, st);
    let pad = toAlign(out.n, st, opt, size);
    while (pad-- > 0) out.byte(0);
    if (INTEGER_OPTS.has(opt)) {
      const n = checkNumber(l, arg++, "pack");
      let v = Number.isFinite(n)
        ? BigInt.asUintN(64, BigInt(Math.trunc(Math.max(Math.min(n, 2 ** 64), -(2 ** 63)))))
        : 0n;
      const bytes = new Uint8Array(size);
      for (let k = 0; k < size; k++) {
        bytes[st.little ? k : size - 1 - k] = Number(v & 0xffn);
        v >>= 8n;
      }
      out.bytes(bytes);
    } else if (opt === 120) { // x
      out.byte(0);
    } else if (opt === 102 || opt === 100) { // f, d
      const n = checkNumber(l, arg++, "pack");
      const dv = new DataView(new ArrayBuffer(size));
      if (opt === 102) dv.setFloat32(0, n, st.little);
      else dv.setFloat64(0, n, st.little);
      out.bytes(new Uint8Array(dv.buffer));
    } else if (opt === 99 || opt === 115) { // c, s
      const s = checkBytes(l, arg++, "pack");
      if (size === 0) size = s.length;
      if (s.length < size) argError(l, arg, "pack", "string too short");
      out.bytes(s.subarray(0, size));
      if (opt === 115) out.byte(0);
    } else controlOption(l, opt, st, "pack");
  }
  pushBytes(l, out.take());
  return 1;
}

function structUnpack(l: L): number {
  const st: FmtState = { fmt: checkBytes(l, 1, "unpack"), i: 0, little: true, align: 1 };
  const data = checkBytes(l, 2, "unpack");
  let pos = optInteger(l, 3, "unpack", 1) - 1;
  if (pos < 0) argError(l, 3, "unpack", "offset must be 1 or greater");
  lua.lua_settop(l, 2);
  const tooShort = () => argError(l, 2, "unpack", "data string too short");
  while (st.i < st.fmt.length) {
    const opt = st.fmt[st.i++]!;
    if (opt === 0) break;
    let size = optSize(l, opt, st);
    pos += toAlign(pos, st, opt, size);
    if (pos + size > data.length) tooShort();
    // Room for a value and the final position, as the C library asks.
    checkStack(l, 1, "too many results");
    if (INTEGER_OPTS.has(opt)) {
      let v = 0n;
      for (let k = 0; k < size; k++) {
        const byte = data[st.little ? pos + size - 1 - k : pos + k]!;
        v = BigInt.asUintN(64, (v << 8n) | BigInt(byte));
      }
      if (opt >= 97) { // lower case: signed
        const mask = BigInt.asUintN(64, ~0n << BigInt((size * 8 - 1) & 63));
        if (v & mask) v |= mask;
        pushNum(l, Number(BigInt.asIntN(64, v)));
      } else pushNum(l, Number(v));
    } else if (opt === 120) {
      // padding
    } else if (opt === 102 || opt === 100) {
      const dv = new DataView(data.buffer, data.byteOffset + pos, size);
      pushNum(l, opt === 102 ? dv.getFloat32(0, st.little) : dv.getFloat64(0, st.little));
    } else if (opt === 99) {
      if (size === 0) {
        if (!lua.lua_isnumber(l, -1)) fail(l, "format 'c0' needs a previous size");
        size = Math.trunc(lua.lua_tonumber(l, -1));
        lua.lua_pop(l, 1);
        if (pos + size > data.length) tooShort();
      }
      pushBytes(l, data.subarray(pos, pos + size));
    } else if (opt === 115) {
      const end = data.indexOf(0, pos);
      if (end < 0) fail(l, "unfinished string in data");
      size = end - pos + 1;
      pushBytes(l, data.subarray(pos, end));
    } else controlOption(l, opt, st, "unpack");
    pos += size;
  }
  pushNum(l, pos + 1);
  return lua.lua_gettop(l) - 2;
}

function structSize(l: L): number {
  const st: FmtState = { fmt: checkBytes(l, 1, "size"), i: 0, little: true, align: 1 };
  let pos = 0;
  while (st.i < st.fmt.length) {
    const opt = st.fmt[st.i++]!;
    if (opt === 0) break;
    const size = optSize(l, opt, st);
    pos += toAlign(pos, st, opt, size);
    if (opt === 115) argError(l, 1, "size", "option 's' has no fixed size");
    else if (opt === 99 && size === 0) argError(l, 1, "size", "option 'c0' has no fixed size");
    const alnum = (opt >= 48 && opt <= 57) || ((opt | 0x20) >= 97 && (opt | 0x20) <= 122);
    if (!alnum) controlOption(l, opt, st, "size");
    pos += size;
  }
  pushNum(l, pos);
  return 1;
}

// ---------------------------------------------------------------------------------------------

/**
 * Makes the four libraries read-only, as every table of Redis 7.0's sandbox is. The refusal is
 * a JS function, so the error names the script's line, not this chunk's.
 */
const PROTECT = `
local refuse = ...
local setmetatable, next = setmetatable, next
for _, name in ipairs({'cjson', 'cmsgpack', 'bit', 'struct'}) do
  local t = _G[name]
  _G[name] = setmetatable({}, {
    __index = t,
    __newindex = refuse,
    __pairs = function() return next, t, nil end,
    __len = function() return #t end,
    __metatable = false,
  })
end
`;

/** Opens cjson, cmsgpack, bit and struct as globals; to run before the sandbox is closed. */
export function openRedisLibs(l: L): void {
  const libs: [string, (l: L) => void][] = [
    ["cjson", pushCjson],
    ["cmsgpack", pushCmsgpack],
    ["bit", pushCbit],
    ["struct", (l: L) => newLib(l, { pack: structPack, unpack: structUnpack, size: structSize })],
  ];
  for (const [name, push] of libs) {
    push(l);
    lua.lua_setglobal(l, bytesOf(name));
  }
  const code = bytesOf(PROTECT);
  if (lauxlib.luaL_loadbuffer(l, code, code.length, bytesOf("=libs")) === 0) {
    lua.lua_pushjsfunction(l, (l: L) => fail(l, "Attempt to modify a readonly table"));
    if (lua.lua_pcall(l, 1, 0, 0) === 0) return;
  }
  throw new Error("lua libs: " + new TextDecoder().decode(lua.lua_tolstring(l, -1)));
}
