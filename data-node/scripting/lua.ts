/**
 * The Lua VM as Redis embeds it, on fengari (Lua 5.3 in plain JavaScript, so a script runs
 * synchronously inside command execution). One VM per server, like Redis: a protected global
 * table, the `redis` library, KEYS/ARGV, and the RESP <-> Lua conversions. What a command does
 * inside a script is decided by the host (`ScriptHost.run`); this file knows Lua, not commands.
 */
import fengari from "fengari";
import { bytesToBinary } from "../../shared/resp/bytes.ts";
import {
  RespBigNumber,
  RespDouble,
  RespError,
  RespMap,
  RespSet,
  type RespValue,
  RespVerbatim,
  type RespWriter,
  SimpleString,
} from "../../shared/resp/mod.ts";
import { LUA_PRELUDE } from "./prelude.ts";
import { openRedisLibs, sealRedisLibs } from "./libs.ts";

const { lua, lauxlib, lualib } = fengari;
// deno-lint-ignore no-explicit-any
type L = any;

/** What `redis.call`/`redis.pcall` run: a command, answered as a RESP value. */
export interface ScriptHost {
  /** Runs argv; a string is an error raised to the script (Redis's luaPushError text). */
  run(argv: string[]): RespValue | RespError;
  /** RESP version replies are converted from (redis.setresp). */
  resp: 2 | 3;
  log(level: number, message: string): void;
  /** redis.set_repl: the targets of the next effects. */
  setRepl(flags: number): void;
  /** Called every HOOK_INSTRUCTIONS instructions: a string aborts the script with that error. */
  tick(): string | null;
}

/** Instructions between two time checks of a running script. */
const HOOK_INSTRUCTIONS = 100_000;

export const REDIS_VERSION = "7.0.15";
export const REDIS_VERSION_NUM = 0x07000f;

/** Binary string -> Lua string bytes. */
export function luaBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function pushStr(l: L, s: string): void {
  lua.lua_pushlstring(l, luaBytes(s), s.length);
}

function toStr(l: L, idx: number): string {
  const b: Uint8Array = lua.lua_tolstring(l, idx);
  return bytesToBinary(b);
}

/** A Lua number as Redis 7.0 (Lua 5.1, "%.14g") turns it into a command argument. */
export function formatLuaNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  if (!Number.isFinite(n)) {
    return Number.isNaN(n) ? (Object.is(n, NaN) ? "nan" : "-nan") : n > 0 ? "inf" : "-inf";
  }
  let s = n.toPrecision(14);
  if (s.includes("e")) {
    let [m, e] = s.split("e") as [string, string];
    if (m.includes(".")) m = m.replace(/0+$/, "").replace(/\.$/, "");
    const sign = e.startsWith("-") ? "-" : "+";
    const digits = e.replace(/^[+-]/, "").padStart(2, "0");
    return `${m}e${sign}${digits}`;
  }
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

/** Pushes a number: an integer when Lua 5.3's 32-bit fengari integers hold it, else a float. */
function pushNumber(l: L, n: number): void {
  if (Number.isInteger(n) && n >= -2147483648 && n <= 2147483647) lua.lua_pushinteger(l, n);
  else lua.lua_pushnumber(l, n);
}

function setField(l: L, name: string): void {
  lua.lua_setfield(l, -2, luaBytes(name));
}

/** Pushes `{field=<string>}` (status and error tables). */
function pushTagged(l: L, field: string, value: string): void {
  lua.lua_newtable(l);
  pushStr(l, value);
  setField(l, field);
}

/**
 * The error table Redis builds from an error text (luaPushError): "-CODE msg" keeps its code,
 * a text without the dash gets ERR; a trailing newline goes.
 */
export function errorTableText(text: string): string {
  let code = "ERR", msg = text;
  if (text.startsWith("-")) {
    const sp = text.indexOf(" ");
    if (sp < 0) msg = text.slice(1);
    else {
      code = text.slice(1, sp);
      msg = text.slice(sp + 1);
    }
  }
  msg = msg.replace(/^[\r\n]+|[\r\n]+$/g, "");
  return `${code} ${msg}`;
}

/** RESP reply -> Lua value, as Redis's conversion rules say (RESP2 and RESP3). */
function pushReply(l: L, v: RespValue, resp: 2 | 3): void {
  if (typeof v === "string") return pushStr(l, v);
  if (typeof v === "number") return pushNumber(l, v);
  if (typeof v === "bigint") return pushNumber(l, Number(v));
  if (typeof v === "boolean") return lua.lua_pushboolean(l, v);
  if (v === null) return resp === 3 ? lua.lua_pushnil(l) : lua.lua_pushboolean(l, false);
  if (Array.isArray(v)) {
    lua.lua_createtable(l, v.length, 0);
    for (let i = 0; i < v.length; i++) {
      pushReply(l, v[i]!, resp);
      lua.lua_rawseti(l, -2, i + 1);
    }
    return;
  }
  if (v instanceof SimpleString) return pushTagged(l, "ok", v.value);
  if (v instanceof RespError) return pushTagged(l, "err", errorTableText("-" + v.message));
  if (v instanceof RespDouble) {
    lua.lua_newtable(l);
    lua.lua_pushnumber(l, v.value);
    return setField(l, "double");
  }
  if (v instanceof RespBigNumber) return pushTagged(l, "big_number", v.value.toString());
  if (v instanceof RespVerbatim) {
    lua.lua_newtable(l);
    lua.lua_newtable(l);
    pushStr(l, v.text);
    setField(l, "string");
    pushStr(l, v.format);
    setField(l, "format");
    return setField(l, "verbatim_string");
  }
  if (v instanceof RespMap) {
    lua.lua_newtable(l);
    lua.lua_newtable(l);
    for (const [k, val] of v.entries) {
      pushReply(l, k, resp);
      pushReply(l, val, resp);
      lua.lua_settable(l, -3);
    }
    return setField(l, "map");
  }
  if (v instanceof RespSet) {
    lua.lua_newtable(l);
    lua.lua_newtable(l);
    for (const item of v.items) {
      pushReply(l, item, resp);
      lua.lua_pushboolean(l, true);
      lua.lua_settable(l, -3);
    }
    return setField(l, "set");
  }
  lua.lua_pushboolean(l, false);
}

/** Reads field `name` of the table at `idx` (raw): its type, value left on the stack. */
function rawField(l: L, idx: number, name: string): number {
  lua.lua_pushstring(l, luaBytes(name));
  lua.lua_rawget(l, idx < 0 ? idx - 1 : idx);
  return lua.lua_type(l, -1);
}

/**
 * The Lua value on top of the stack -> a reply on `out`, as Redis converts a script's result.
 * `resp` is the script's protocol (redis.setresp); `out.proto` the caller's.
 */
export function writeLuaValue(l: L, out: RespWriter, resp: 2 | 3, depth = 0): void {
  const t = lua.lua_type(l, -1);
  switch (t) {
    case lua.LUA_TSTRING:
      out.bulk(toStr(l, -1));
      return;
    case lua.LUA_TBOOLEAN:
      if (resp === 2) {
        if (lua.lua_toboolean(l, -1)) out.int(1);
        else out.nullBulk();
      } else out.bool(lua.lua_toboolean(l, -1));
      return;
    case lua.LUA_TNUMBER:
      out.int(truncate(lua.lua_tonumber(l, -1)));
      return;
    case lua.LUA_TTABLE:
      return writeTable(l, out, resp, depth);
    default:
      out.nullBulk();
  }
}

/** (long long) of a double, as C truncates it. */
function truncate(n: number): bigint | number {
  if (!Number.isFinite(n)) {
    return Number.isNaN(n) ? 0 : n > 0 ? 9223372036854775807n : -9223372036854775808n;
  }
  const t = Math.trunc(n);
  if (Number.isSafeInteger(t)) return t;
  const b = BigInt(t);
  if (b > 9223372036854775807n) return -9223372036854775808n;
  return b;
}

const MAX_DEPTH = 1000;

function writeTable(l: L, out: RespWriter, resp: 2 | 3, depth: number): void {
  if (depth > MAX_DEPTH || !lua.lua_checkstack(l, 4)) {
    out.error("ERR reached lua stack limit");
    return;
  }
  if (rawField(l, -1, "err") === lua.LUA_TSTRING) {
    const msg = toStr(l, -1).replace(/[\r\n]/g, " ");
    lua.lua_pop(l, 1);
    out.error(msg.startsWith("-") ? msg.slice(1) : msg);
    return;
  }
  lua.lua_pop(l, 1);
  if (rawField(l, -1, "ok") === lua.LUA_TSTRING) {
    out.simple(toStr(l, -1).replace(/[\r\n]/g, " "));
    lua.lua_pop(l, 1);
    return;
  }
  lua.lua_pop(l, 1);
  if (resp === 3 && writeResp3Table(l, out, depth)) return;
  // An array: items 1, 2... up to the first nil.
  const items: number[] = [];
  for (let j = 1;; j++) {
    lua.lua_rawgeti(l, -1, j);
    const nil = lua.lua_type(l, -1) === lua.LUA_TNIL;
    lua.lua_pop(l, 1);
    if (nil) break;
    items.push(j);
  }
  out.array(items.length);
  for (const j of items) {
    lua.lua_rawgeti(l, -1, j);
    writeLuaValue(l, out, resp, depth + 1);
    lua.lua_pop(l, 1);
  }
}

/** RESP3 tables: {double=}, {big_number=}, {map=}, {set=}, {verbatim_string=}. */
function writeResp3Table(l: L, out: RespWriter, depth: number): boolean {
  if (rawField(l, -1, "double") === lua.LUA_TNUMBER) {
    out.double(lua.lua_tonumber(l, -1));
    lua.lua_pop(l, 1);
    return true;
  }
  lua.lua_pop(l, 1);
  if (rawField(l, -1, "big_number") === lua.LUA_TSTRING) {
    out.bigNumber(toStr(l, -1).replace(/[\r\n]/g, " "));
    lua.lua_pop(l, 1);
    return true;
  }
  lua.lua_pop(l, 1);
  if (rawField(l, -1, "map") === lua.LUA_TTABLE) {
    let n = 0;
    lua.lua_pushnil(l);
    while (lua.lua_next(l, -2)) {
      n++;
      lua.lua_pop(l, 1);
    }
    out.map(n);
    lua.lua_pushnil(l);
    while (lua.lua_next(l, -2)) {
      lua.lua_pushvalue(l, -2);
      writeLuaValue(l, out, 3, depth + 1);
      lua.lua_pop(l, 1);
      writeLuaValue(l, out, 3, depth + 1);
      lua.lua_pop(l, 1);
    }
    lua.lua_pop(l, 1);
    return true;
  }
  lua.lua_pop(l, 1);
  if (rawField(l, -1, "set") === lua.LUA_TTABLE) {
    let n = 0;
    lua.lua_pushnil(l);
    while (lua.lua_next(l, -2)) {
      n++;
      lua.lua_pop(l, 1);
    }
    out.set(n);
    lua.lua_pushnil(l);
    while (lua.lua_next(l, -2)) {
      lua.lua_pop(l, 1);
      lua.lua_pushvalue(l, -1);
      writeLuaValue(l, out, 3, depth + 1);
      lua.lua_pop(l, 1);
    }
    lua.lua_pop(l, 1);
    return true;
  }
  lua.lua_pop(l, 1);
  if (rawField(l, -1, "verbatim_string") === lua.LUA_TTABLE) {
    const fmt = rawField(l, -1, "format") === lua.LUA_TSTRING ? toStr(l, -1) : "";
    lua.lua_pop(l, 1);
    const str = rawField(l, -1, "string") === lua.LUA_TSTRING ? toStr(l, -1) : null;
    lua.lua_pop(l, 1);
    lua.lua_pop(l, 1);
    if (str !== null && fmt.length === 3) {
      out.verbatim(str, fmt);
      return true;
    }
    return false;
  }
  lua.lua_pop(l, 1);
  return false;
}

/** The outcome of running a script function: the reply was written, or an error text. */
export type RunResult = { ok: true } | { ok: false; error: string };

/**
 * One Lua VM. Functions are compiled once and kept in the registry by reference; running one
 * sets the host that redis.call reaches.
 */
export class LuaVm {
  readonly l: L;
  host: ScriptHost | null = null;
  /** Set while a library is being loaded: redis.register_function records here. */
  registrar: ((l: L) => number) | null = null;
  private handlerRef: number;
  private loaderRedisRef: number;

  constructor() {
    const l = lauxlib.luaL_newstate();
    this.l = l;
    lualib.luaL_openlibs(l);
    this.installRedis();
    openRedisLibs(l);
    if (lauxlib.luaL_loadbuffer(l, luaBytes(LUA_PRELUDE), null, luaBytes("=prelude")) !== 0) {
      throw new Error(`lua prelude: ${toStr(l, -1)}`);
    }
    if (lua.lua_pcall(l, 0, 2, 0) !== 0) throw new Error(`lua prelude: ${toStr(l, -1)}`);
    // The prelude returns the error handler and the 'redis' table of library loading.
    this.loaderRedisRef = lauxlib.luaL_ref(l, lua.LUA_REGISTRYINDEX);
    this.handlerRef = lauxlib.luaL_ref(l, lua.LUA_REGISTRYINDEX);
    sealRedisLibs(l);
    lua.lua_sethook(l, () => this.onHook(), lua.LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
  }

  private onHook(): void {
    const stop = this.host?.tick();
    if (stop) {
      pushTagged(this.l, "err", stop);
      lua.lua_error(this.l);
    }
  }

  private installRedis(): void {
    const l = this.l;
    lua.lua_newtable(l);
    const fn = (name: string, f: (l: L) => number) => {
      lua.lua_pushjsfunction(l, f);
      setField(l, name);
    };
    fn("call", (l: L) => this.redisCall(l, true));
    fn("pcall", (l: L) => this.redisCall(l, false));
    fn("log", (l: L) => this.redisLog(l));
    fn("setresp", (l: L) => this.setResp(l));
    fn("set_repl", (l: L) => this.setRepl(l));
    fn("sha1hex", (l: L) => {
      if (lua.lua_gettop(l) !== 1) return raise(l, "wrong number of arguments");
      const b = lua.lua_tolstring(l, 1) as Uint8Array | null;
      pushStr(l, sha1Hex(b ? bytesToBinary(b) : ""));
      return 1;
    });
    fn("register_function", (l: L) => {
      if (!this.registrar) {
        return raise(l, "redis.register_function can only be called on FUNCTION LOAD command");
      }
      return this.registrar(l);
    });
    pushStr(l, REDIS_VERSION);
    setField(l, "REDIS_VERSION");
    lua.lua_pushinteger(l, REDIS_VERSION_NUM);
    setField(l, "REDIS_VERSION_NUM");
    lua.lua_setglobal(l, luaBytes("redis"));
  }

  private redisCall(l: L, raiseErrors: boolean): number {
    const host = this.host;
    const argc = lua.lua_gettop(l);
    const fail = (text: string): number => {
      pushTagged(l, "err", errorTableText(text));
      if (raiseErrors) return lua.lua_error(l);
      return 1;
    };
    if (!host) return fail("-ERR redis.call can only be called inside a script invocation");
    if (argc === 0) return fail("Please specify at least one argument for this redis lib call");
    const argv: string[] = [];
    for (let i = 1; i <= argc; i++) {
      const t = lua.lua_type(l, i);
      if (t === lua.LUA_TNUMBER) argv.push(formatLuaNumber(lua.lua_tonumber(l, i)));
      else if (t === lua.LUA_TSTRING) argv.push(toStr(l, i));
      else return fail("Lua redis lib command arguments must be strings or integers");
    }
    let reply: RespValue | RespError;
    try {
      reply = host.run(argv);
    } catch (e) {
      return fail(`-ERR ${e instanceof Error ? e.message : String(e)}`);
    }
    if (reply instanceof RespError) {
      if (raiseErrors) return fail("-" + reply.message);
      pushReply(l, reply, host.resp);
      return 1;
    }
    pushReply(l, reply, host.resp);
    return 1;
  }

  private redisLog(l: L): number {
    const argc = lua.lua_gettop(l);
    if (argc < 2) return raise(l, "redis.log() requires two arguments or more.");
    if (!lua.lua_isnumber(l, 1)) return raise(l, "First argument must be a number (log level).");
    const level = lua.lua_tonumber(l, 1);
    if (level < 0 || level > 3) return raise(l, "Invalid debug level.");
    const parts: string[] = [];
    for (let i = 2; i <= argc; i++) {
      const b = lua.lua_tolstring(l, i) as Uint8Array | null;
      if (b) parts.push(bytesToBinary(b));
    }
    this.host?.log(level, parts.join(" "));
    return 0;
  }

  private setResp(l: L): number {
    if (lua.lua_gettop(l) !== 1) return raise(l, "redis.setresp() requires one argument.");
    const v = lua.lua_tointeger(l, 1);
    if (v !== 2 && v !== 3) return raise(l, "RESP version must be 2 or 3.");
    if (this.host) this.host.resp = v;
    return 0;
  }

  private setRepl(l: L): number {
    if (lua.lua_gettop(l) !== 1) return raise(l, "redis.set_repl() requires one argument.");
    const v = lua.lua_tointeger(l, 1);
    if (v < 0 || v > 3) {
      return raise(
        l,
        "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
      );
    }
    this.host?.setRepl(v);
    return 0;
  }

  /** Compiles `body` under `chunkName`: a registry reference, or the compiler's message. */
  compile(body: string, chunkName: string): number | string {
    const l = this.l;
    if (lauxlib.luaL_loadbuffer(l, luaBytes(body), body.length, luaBytes(chunkName)) !== 0) {
      const msg = toStr(l, -1);
      lua.lua_pop(l, 1);
      return msg;
    }
    return lauxlib.luaL_ref(l, lua.LUA_REGISTRYINDEX);
  }

  release(ref: number): void {
    lauxlib.luaL_unref(this.l, lua.LUA_REGISTRYINDEX, ref);
  }

  /**
   * Calls the function `ref` with KEYS and ARGV as globals (EVAL) or as its two arguments
   * (FCALL), and writes its result to `out`. Errors come back as Redis's reply text.
   */
  run(
    ref: number,
    host: ScriptHost,
    keys: string[],
    args: string[],
    asGlobals: boolean,
    out: RespWriter,
    scriptName: string,
  ): RunResult {
    const l = this.l;
    const base = lua.lua_gettop(l);
    lua.lua_rawgeti(l, lua.LUA_REGISTRYINDEX, this.handlerRef);
    lua.lua_rawgeti(l, lua.LUA_REGISTRYINDEX, ref);
    const pushList = (list: string[]) => {
      lua.lua_createtable(l, list.length, 0);
      for (let i = 0; i < list.length; i++) {
        pushStr(l, list[i]!);
        lua.lua_rawseti(l, -2, i + 1);
      }
    };
    let nargs = 0;
    if (asGlobals) {
      // rawset: the global table refuses new fields through its metatable.
      lua.lua_pushglobaltable(l);
      lua.lua_pushstring(l, luaBytes("KEYS"));
      pushList(keys);
      lua.lua_rawset(l, -3);
      lua.lua_pushstring(l, luaBytes("ARGV"));
      pushList(args);
      lua.lua_rawset(l, -3);
      lua.lua_pop(l, 1);
    } else {
      pushList(keys);
      pushList(args);
      nargs = 2;
    }
    this.host = host;
    let status: number;
    try {
      status = lua.lua_pcall(l, nargs, 1, base + 1);
    } catch (e) {
      lua.lua_settop(l, base);
      this.host = null;
      return { ok: false, error: `ERR Error running script ${scriptName}, ${String(e)}` };
    }
    let result: RunResult = { ok: true };
    if (status === 0) {
      writeLuaValue(l, out, host.resp);
    } else {
      result = { ok: false, error: this.errorText(scriptName) };
    }
    lua.lua_settop(l, base);
    this.host = null;
    // Lua 5.3 collects incrementally; a full step after each script keeps memory flat.
    lua.lua_gc(l, lua.LUA_GCSTEP, 0);
    return result;
  }

  /**
   * Runs a library's code (FUNCTION LOAD) with the loading 'redis' table as `redis`: null, or
   * the error text (without the script/line suffix, as Redis reports load errors).
   */
  runLoader(ref: number): string | null {
    const l = this.l;
    const base = lua.lua_gettop(l);
    lua.lua_pushglobaltable(l);
    lua.lua_pushstring(l, luaBytes("redis"));
    lua.lua_rawget(l, -2);
    const savedRef = lauxlib.luaL_ref(l, lua.LUA_REGISTRYINDEX);
    const setRedis = (fromRef: number) => {
      lua.lua_pushstring(l, luaBytes("redis"));
      lua.lua_rawgeti(l, lua.LUA_REGISTRYINDEX, fromRef);
      lua.lua_rawset(l, base + 1);
    };
    setRedis(this.loaderRedisRef);
    lua.lua_rawgeti(l, lua.LUA_REGISTRYINDEX, this.handlerRef);
    lua.lua_rawgeti(l, lua.LUA_REGISTRYINDEX, ref);
    let error: string | null = null;
    try {
      if (lua.lua_pcall(l, 0, 0, base + 2) !== 0) {
        if (lua.lua_type(l, -1) === lua.LUA_TTABLE) {
          error = rawField(l, -1, "err") === lua.LUA_TSTRING ? toStr(l, -1) : "";
          lua.lua_pop(l, 1);
        } else error = lua.lua_type(l, -1) === lua.LUA_TSTRING ? toStr(l, -1) : "unknown error";
      }
    } catch (e) {
      error = String(e);
    }
    lua.lua_settop(l, base + 1);
    setRedis(savedRef);
    lauxlib.luaL_unref(l, lua.LUA_REGISTRYINDEX, savedRef);
    lua.lua_settop(l, base);
    return error;
  }

  /** The error on top of the stack (a table from the error handler) as Redis's reply text. */
  private errorText(scriptName: string): string {
    const l = this.l;
    if (lua.lua_type(l, -1) !== lua.LUA_TTABLE) {
      const msg = lua.lua_type(l, -1) === lua.LUA_TSTRING ? toStr(l, -1) : "execution failure";
      return `ERR Error running script ${scriptName}, ${msg.slice(0, 100)}`;
    }
    const err = rawField(l, -1, "err") === lua.LUA_TSTRING ? toStr(l, -1) : "";
    lua.lua_pop(l, 1);
    const source = rawField(l, -1, "source") === lua.LUA_TSTRING ? toStr(l, -1) : "";
    lua.lua_pop(l, 1);
    const line = rawField(l, -1, "line") === lua.LUA_TNUMBER ? lua.lua_tointeger(l, -1) : 0;
    lua.lua_pop(l, 1);
    let text = err.startsWith("-") ? err.slice(1) : err;
    if (line && source) text += ` script: ${scriptName}, on ${source}:${line}.`;
    return text.replace(/[\r\n]/g, " ");
  }
}

/** Raises a plain Lua error (string) from a JS function. */
export function raise(l: L, msg: string): number {
  lauxlib.luaL_where(l, 1);
  pushStr(l, msg);
  lua.lua_concat(l, 2);
  return lua.lua_error(l);
}

import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";

/** SHA1 of a binary string, lowercase hex (script ids). */
export function sha1Hex(s: string): string {
  return createHash("sha1").update(Buffer.from(s, "latin1")).digest("hex");
}

export { pushStr as luaPushString, toStr as luaToString };
