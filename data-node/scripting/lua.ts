/**
 * The Lua VM as Redis embeds it, on fengari (Lua 5.3 in plain JavaScript, so a script runs
 * synchronously inside command execution). One VM per server, like Redis: a protected global
 * table, the `redis` library, KEYS/ARGV, and the RESP <-> Lua conversions. What a command does
 * inside a script is decided by the host (`ScriptHost.run`); this file knows Lua, not commands.
 */
import fengari from "./fengari.ts";
import { bytesToBinary } from "../../shared/resp/bytes.ts";
import {
  RespAttribute,
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
import { cFormatFloat, formatG } from "./lua51_numbers.ts";
import { openRedisLibs } from "./libs.ts";

const { lua, lauxlib, lualib } = fengari;
// deno-lint-ignore no-explicit-any
type L = any;

/** What `redis.call`/`redis.pcall` run: a command, answered as a RESP value. */
export interface ScriptHost {
  /** Runs argv; a string is an error raised to the script (Redis's luaPushError text). */
  run(argv: string[]): RespValue | RespError;
  /** redis.acl_check_cmd: may the caller's user run argv (null: no such command)? */
  aclCheck(argv: string[]): boolean | null;
  /** RESP version replies are converted from (redis.setresp). */
  resp: 2 | 3;
  log(level: number, message: string): void;
  /** redis.set_repl: the targets of the next effects. */
  setRepl(flags: number): void;
  /**
   * An error reply the script's result holds: a failed call, and counted in the error statistics
   * unless `counted` (the error of a command the script ran, counted when it failed).
   */
  replyError?(message: string, counted: boolean): void;
  /** Called every HOOK_INSTRUCTIONS instructions: a string aborts the script with that error. */
  tick(): string | null;
  /** Asked after tick(): should the script yield now (the server serves others meanwhile)? */
  shouldYield(): boolean;
}

/** The registry field holding the values kept by LuaVm.ref. */
const REFS = luaBytes("redis_refs");

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

/** A Lua number as Redis 7.0 turns it into a command argument: printf's "%.17g". */
export function formatLuaNumber(n: number): string {
  return formatG(n, 17);
}

/** Pushes a number: always a float, as every Lua 5.1 number is a double (lua51_numbers.ts). */
function pushNumber(l: L, n: number): void {
  lua.lua_pushnumber(l, n);
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
  // Attributes are not shown to scripts (as in Redis 7.0): only the value they decorate.
  if (v instanceof RespAttribute) return pushReply(l, v.value, resp);
  if (v instanceof RespError) {
    pushTagged(l, "err", errorTableText("-" + v.message));
    // Already counted in the error statistics when the command failed (Redis's same flag).
    lua.lua_pushboolean(l, true);
    setField(l, "ignore_error_stats_update");
    return;
  }
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
  // x86-64's conversion gives the "integer indefinite" value for NaN and out-of-range doubles.
  if (!Number.isFinite(n)) return -9223372036854775808n;
  const t = Math.trunc(n);
  if (Number.isSafeInteger(t)) return t;
  const b = BigInt(t);
  if (b > 9223372036854775807n || b < -9223372036854775808n) return -9223372036854775808n;
  return b;
}

const MAX_DEPTH = 1000;

/** Where the error replies of the script result being written are counted (see writeResult). */
let replyErrorSink: ((message: string, counted: boolean) => void) | null = null;

function writeTable(l: L, out: RespWriter, resp: 2 | 3, depth: number): void {
  if (depth > MAX_DEPTH || !lua.lua_checkstack(l, 4)) {
    out.error("ERR reached lua stack limit");
    return;
  }
  if (rawField(l, -1, "err") === lua.LUA_TSTRING) {
    const msg = toStr(l, -1).replace(/[\r\n]/g, " ");
    lua.lua_pop(l, 1);
    out.error(msg);
    const counted = rawField(l, -1, "ignore_error_stats_update") === lua.LUA_TBOOLEAN &&
      lua.lua_toboolean(l, -1);
    lua.lua_pop(l, 1);
    replyErrorSink?.(msg, counted);
    return;
  }
  lua.lua_pop(l, 1);
  if (rawField(l, -1, "ok") === lua.LUA_TSTRING) {
    out.simple(toStr(l, -1).replace(/[\r\n]/g, " "));
    lua.lua_pop(l, 1);
    return;
  }
  lua.lua_pop(l, 1);
  // Redis reads these tables whatever the script's protocol (RESP2 clients get their RESP2 form).
  if (writeResp3Table(l, out, depth)) return;
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
    const d = lua.lua_tonumber(l, -1);
    // NaN from Lua is x86-64's negative NaN: Redis prints it "-nan".
    if (Number.isNaN(d)) {
      if (out.proto === 3) out.ascii(",-nan\r\n");
      else out.bulk("-nan");
    } else out.double(d);
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
    // Redis takes the format's first three bytes, whatever its length.
    if (str !== null && fmt.length >= 3) {
      out.verbatim(str, fmt.slice(0, 3));
      return true;
    }
    return false;
  }
  lua.lua_pop(l, 1);
  return false;
}

/**
 * The outcome of running a script function: the reply was written, an error text, or
 * `paused`: the script yielded (past busy-reply-threshold); call it to go on.
 */
export type RunResult =
  | { ok: true }
  | { ok: false; error: string; counted?: boolean }
  | { paused: () => RunResult };

/**
 * One Lua VM. Functions are compiled once and kept in the registry by reference; running one
 * sets the host that redis.call reaches.
 */
export class LuaVm {
  readonly l: L;
  host: ScriptHost | null = null;
  /** Set while a library is being loaded: redis.register_function records here. */
  registrar: ((l: L) => number) | null = null;
  private lastRef = 0;
  private handlerRef: number;
  private trampolineRef: number;
  /** The coroutine of the script being run (null between scripts). */
  private running: L = null;
  private libraryEnvRef: number;
  private globalsRef: number;
  private setLoadingRef: number;

  constructor() {
    const l = lauxlib.luaL_newstate();
    this.l = l;
    lua.lua_newtable(l);
    lua.lua_setfield(l, lua.LUA_REGISTRYINDEX, REFS);
    lualib.luaL_openlibs(l);
    this.installRedis();
    this.installMathRandom();
    openRedisLibs(l);
    // error() as Lua 5.1's: the position is added to numbers too (fengari: strings only).
    lua.lua_pushjsfunction(l, (l: L) => {
      const level = lauxlib.luaL_optinteger(l, 2, 1);
      lua.lua_settop(l, 1);
      if (lua.lua_isstring(l, 1) && level > 0) {
        lauxlib.luaL_where(l, level);
        lua.lua_pushvalue(l, 1);
        lua.lua_concat(l, 2);
      }
      return lua.lua_error(l);
    });
    lua.lua_setglobal(l, luaBytes("error"));
    lua.lua_getglobal(l, luaBytes("table"));
    lua.lua_pushjsfunction(l, (l: L) => raise(l, "'setn' is obsolete"));
    setField(l, "setn");
    lua.lua_pop(l, 1);
    // printf's floating conversions for the prelude's string.format (it keeps it, then drops it).
    lua.lua_pushjsfunction(l, (l: L) => {
      const flags = toStr(l, 1);
      const width = lua.lua_tonumber(l, 2);
      const prec = lua.lua_tonumber(l, 3);
      const conv = toStr(l, 4);
      pushStr(l, cFormatFloat(flags, width, prec, conv, lua.lua_tonumber(l, 5)));
      return 1;
    });
    lua.lua_setglobal(l, luaBytes("__cformat"));
    // fengari 0.1.5 loses the hooks of a coroutine whose pcall caught an error (it restores
    // 'allowhook' from a flag it never saved): the prelude's pcall turns them back on, or a
    // script looping on pcall could no longer be timed, yielded or killed.
    lua.lua_pushjsfunction(l, (t: L) => {
      t.allowhook = 1;
      return 0;
    });
    lua.lua_setglobal(l, luaBytes("__rearmhooks"));
    if (lauxlib.luaL_loadbuffer(l, luaBytes(LUA_PRELUDE), null, luaBytes("=prelude")) !== 0) {
      throw new Error(`lua prelude: ${toStr(l, -1)}`);
    }
    if (lua.lua_pcall(l, 0, 5, 0) !== 0) throw new Error(`lua prelude: ${toStr(l, -1)}`);
    // The table behind the read-only global table, where KEYS and ARGV are set.
    this.globalsRef = this.ref();
    this.trampolineRef = this.ref();
    // The prelude returns the error handler, the globals of library code and the switch
    // between their loading and running views.
    this.setLoadingRef = this.ref();
    this.libraryEnvRef = this.ref();
    this.handlerRef = this.ref();
    lua.lua_sethook(l, (l: L) => this.onHook(l), lua.LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
  }

  /**
   * Keeps the value on top of the stack (popped) under a new id. Ids are never reused, so a
   * stale release cannot take the slot of a later value.
   */
  ref(): number {
    const l = this.l;
    const id = ++this.lastRef;
    lua.lua_getfield(l, lua.LUA_REGISTRYINDEX, REFS);
    lua.lua_insert(l, -2);
    lua.lua_rawseti(l, -2, id);
    lua.lua_pop(l, 1);
    return id;
  }

  /** Pushes the value kept under `id` by ref(). */
  pushRef(id: number): void {
    const l = this.l;
    lua.lua_getfield(l, lua.LUA_REGISTRYINDEX, REFS);
    lua.lua_rawgeti(l, -1, id);
    lua.lua_remove(l, -2);
  }

  private onHook(l: L): void {
    const host = this.host;
    if (!host) return;
    const stop = host.tick();
    if (stop && !inPrelude(l)) {
      // From now on the hook runs at every instruction, as Redis sets it to run at every line
      // once a script is killed: a pcall that caught the error cannot keep the script going.
      // (Scripts run in coroutines of their own: the main thread keeps its hook.)
      if (l !== this.l) lua.lua_sethook(l, (t: L) => this.onHook(t), lua.LUA_MASKCOUNT, 1);
      pushTagged(l, "err", stop);
      lua.lua_error(l);
    }
    // Past busy-reply-threshold a script gives the server back its turn now and then.
    // Only the script's own coroutine yields (not one the script made), where it may.
    if (l === this.running && host.shouldYield() && lua.lua_isyieldable(l)) lua.lua_yield(l, 0);
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
      if (lua.lua_gettop(l) !== 1) return raiseTable(l, "wrong number of arguments");
      const b = lua.lua_tolstring(l, 1) as Uint8Array | null;
      pushStr(l, sha1Hex(b ? bytesToBinary(b) : ""));
      return 1;
    });
    fn("register_function", (l: L) => {
      if (!this.registrar) {
        return raiseTable(l, "redis.register_function can only be called on FUNCTION LOAD command");
      }
      return this.registrar(l);
    });
    fn("error_reply", (l: L) => {
      if (lua.lua_gettop(l) !== 1 || lua.lua_type(l, -1) !== lua.LUA_TSTRING) {
        pushTagged(l, "err", "ERR wrong number or type of arguments");
        return 1;
      }
      const text = toStr(l, -1);
      pushTagged(l, "err", errorTableText(text.startsWith("-") ? text : "-" + text));
      return 1;
    });
    fn("status_reply", (l: L) => {
      if (lua.lua_gettop(l) !== 1 || lua.lua_type(l, -1) !== lua.LUA_TSTRING) {
        pushTagged(l, "err", "ERR wrong number or type of arguments");
        return 1;
      }
      lua.lua_newtable(l);
      lua.lua_pushvalue(l, -2);
      setField(l, "ok");
      return 1;
    });
    fn("acl_check_cmd", (l: L) => this.aclCheckCmd(l));
    pushStr(l, REDIS_VERSION);
    setField(l, "REDIS_VERSION");
    lua.lua_pushnumber(l, REDIS_VERSION_NUM);
    setField(l, "REDIS_VERSION_NUM");
    lua.lua_setglobal(l, luaBytes("redis"));
  }

  /**
   * math.random and math.randomseed as Redis's: rand48, one sequence per process shared by
   * every script (Redis's state is global), independent of the JavaScript engine.
   */
  private installMathRandom(): void {
    const l = this.l;
    lua.lua_getglobal(l, luaBytes("math"));
    lua.lua_pushjsfunction(l, (l: L) => {
      if (!this.host) {
        return raise(l, "math.random can only be called inside a script invocation");
      }
      const r = (rand48.next() % LRAND48_MAX) / LRAND48_MAX;
      const argc = lua.lua_gettop(l);
      if (argc === 0) lua.lua_pushnumber(l, r);
      else if (argc === 1) {
        const u = cInt(lauxlib.luaL_checknumber(l, 1));
        lauxlib.luaL_argcheck(l, 1 <= u, 1, "interval is empty");
        lua.lua_pushnumber(l, Math.floor(r * u) + 1);
      } else if (argc === 2) {
        const lo = cInt(lauxlib.luaL_checknumber(l, 1));
        const up = cInt(lauxlib.luaL_checknumber(l, 2));
        lauxlib.luaL_argcheck(l, lo <= up, 2, "interval is empty");
        lua.lua_pushnumber(l, Math.floor(r * (up - lo + 1)) + lo);
      } else return raise(l, "wrong number of arguments");
      return 1;
    });
    setField(l, "random");
    lua.lua_pushjsfunction(l, (l: L) => {
      if (!this.host) {
        return raise(l, "math.randomseed can only be called inside a script invocation");
      }
      rand48.seed(cInt(lauxlib.luaL_checknumber(l, 1)));
      return 0;
    });
    setField(l, "randomseed");
    lua.lua_pop(l, 1);
  }

  private redisCall(l: L, raiseErrors: boolean): number {
    const host = this.host;
    const fail = (text: string, counted = false): number => {
      pushTagged(l, "err", errorTableText(text));
      if (counted) {
        lua.lua_pushboolean(l, true);
        setField(l, "ignore_error_stats_update");
      }
      if (raiseErrors) return lua.lua_error(l);
      return 1;
    };
    if (!host) {
      pushTagged(l, "err", "ERR redis.call/pcall can only be called inside a script invocation");
      return lua.lua_error(l);
    }
    const argv = scriptArgv(l);
    if (typeof argv === "string") return fail(argv);
    let reply: RespValue | RespError;
    try {
      reply = host.run(argv);
    } catch (e) {
      return fail(`-ERR ${e instanceof Error ? e.message : String(e)}`);
    }
    if (reply instanceof RespError) {
      // The command's error was counted when it failed (or was refused).
      if (raiseErrors) return fail("-" + reply.message, true);
      pushReply(l, reply, host.resp);
      return 1;
    }
    pushReply(l, reply, host.resp);
    return 1;
  }

  private aclCheckCmd(l: L): number {
    const host = this.host;
    if (!host) {
      return raiseTable(l, "redis.acl_check_cmd can only be called inside a script invocation");
    }
    const argv = scriptArgv(l);
    if (typeof argv === "string") return raiseTable(l, argv);
    const allowed = host.aclCheck(argv);
    if (allowed === null) return raiseTable(l, "Invalid command passed to redis.acl_check_cmd()");
    lua.lua_pushboolean(l, allowed);
    return 1;
  }

  private redisLog(l: L): number {
    const argc = lua.lua_gettop(l);
    if (argc < 2) return raiseTable(l, "redis.log() requires two arguments or more.");
    if (!lua.lua_isnumber(l, 1)) {
      return raiseTable(l, "First argument must be a number (log level).");
    }
    const level = lua.lua_tonumber(l, 1);
    if (level < 0 || level > 3) return raiseTable(l, "Invalid debug level.");
    const parts: string[] = [];
    for (let i = 2; i <= argc; i++) {
      const b = lua.lua_tolstring(l, i) as Uint8Array | null;
      if (b) parts.push(bytesToBinary(b));
    }
    this.host?.log(level, parts.join(" "));
    return 0;
  }

  private setResp(l: L): number {
    if (lua.lua_gettop(l) !== 1) return raiseTable(l, "redis.setresp() requires one argument.");
    const v = Math.trunc(lua.lua_tonumber(l, 1));
    if (v !== 2 && v !== 3) return raiseTable(l, "RESP version must be 2 or 3.");
    if (this.host) this.host.resp = v;
    return 0;
  }

  private setRepl(l: L): number {
    if (lua.lua_gettop(l) !== 1) return raiseTable(l, "redis.set_repl() requires two arguments.");
    const v = Math.trunc(lua.lua_tonumber(l, 1));
    if (v < 0 || v > 3) {
      return raiseTable(
        l,
        "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
      );
    }
    this.host?.setRepl(v);
    return 0;
  }

  /**
   * Compiles `body` under `chunkName`: a registry reference, or the compiler's message (in
   * Lua 5.1's words where fengari's differ). Library code (`library`) sees the library globals.
   */
  compile(body: string, chunkName: string, library = false): number | string {
    const l = this.l;
    if (lauxlib.luaL_loadbuffer(l, luaBytes(body), body.length, luaBytes(chunkName)) !== 0) {
      const msg = toStr(l, -1);
      lua.lua_pop(l, 1);
      return msg.replace(/ near <eof>$/, " near '<eof>'").replace(
        /: syntax error near (.*)$/,
        ": '=' expected near $1",
      );
    }
    if (library) {
      this.pushRef(this.libraryEnvRef);
      lua.lua_setupvalue(l, -2, 1);
    }
    return this.ref();
  }

  release(ref: number): void {
    const l = this.l;
    lua.lua_getfield(l, lua.LUA_REGISTRYINDEX, REFS);
    lua.lua_pushnil(l);
    lua.lua_rawseti(l, -2, ref);
    lua.lua_pop(l, 1);
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
    this.pushRef(this.handlerRef);
    this.pushRef(ref);
    const pushList = (list: string[]) => {
      lua.lua_createtable(l, list.length, 0);
      for (let i = 0; i < list.length; i++) {
        pushStr(l, list[i]!);
        lua.lua_rawseti(l, -2, i + 1);
      }
    };
    const nargs = asGlobals ? 0 : 2;
    if (asGlobals) {
      // Set behind the global table, which refuses every assignment.
      this.pushRef(this.globalsRef);
      lua.lua_pushstring(l, luaBytes("KEYS"));
      pushList(keys);
      lua.lua_rawset(l, -3);
      lua.lua_pushstring(l, luaBytes("ARGV"));
      pushList(args);
      lua.lua_rawset(l, -3);
      lua.lua_pop(l, 1);
    }
    // The script runs as a coroutine (trampoline, function, arguments), so that it can yield.
    lua.lua_settop(l, base);
    const co = lua.lua_newthread(l);
    const coRef = this.ref();
    lua.lua_sethook(co, (t: L) => this.onHook(t), lua.LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
    this.pushRef(this.trampolineRef);
    this.pushRef(ref);
    if (!asGlobals) {
      pushList(keys);
      pushList(args);
    }
    lua.lua_xmove(l, co, 2 + nargs);
    this.host = host;
    this.running = co;
    return this.step(co, coRef, 1 + nargs, out, host, scriptName);
  }

  /** Resumes a script's coroutine: its outcome, or `paused` when it yielded. */
  private step(
    co: L,
    coRef: number,
    nargs: number,
    out: RespWriter,
    host: ScriptHost,
    scriptName: string,
  ): RunResult {
    let status: number;
    try {
      status = lua.lua_resume(co, null, nargs);
    } catch (e) {
      this.endRun(coRef);
      return { ok: false, error: `ERR Error running script ${scriptName}, ${String(e)}` };
    }
    if (status === lua.LUA_YIELD) {
      return { paused: () => this.step(co, coRef, 0, out, host, scriptName) };
    }
    let result: RunResult = { ok: true };
    if (status === lua.LUA_OK && lua.lua_toboolean(co, 1)) {
      // The script's first value (none: nil), as lua_pcall(..., 1, ...) keeps it.
      if (lua.lua_gettop(co) < 2) lua.lua_pushnil(co);
      lua.lua_settop(co, 2);
      // An error the script returns (redis.error_reply) counts as the command's error reply.
      replyErrorSink = host.replyError ?? null;
      try {
        writeLuaValue(co, out, host.resp);
      } finally {
        replyErrorSink = null;
      }
    } else {
      if (status === lua.LUA_OK) lua.lua_settop(co, 2);
      let counted = false;
      if (lua.lua_type(co, -1) === lua.LUA_TTABLE) {
        counted = rawField(co, -1, "ignore_error_stats_update") === lua.LUA_TBOOLEAN &&
          lua.lua_toboolean(co, -1);
        lua.lua_pop(co, 1);
      }
      result = { ok: false, error: this.errorText(co, scriptName), counted };
    }
    this.endRun(coRef);
    return result;
  }

  private endRun(coRef: number): void {
    this.release(coRef);
    this.host = null;
    this.running = null;
    // Lua 5.3 collects incrementally; a full step after each script keeps memory flat.
    lua.lua_gc(this.l, lua.LUA_GCSTEP, 0);
  }

  /**
   * Runs a library's code (FUNCTION LOAD) with the loading 'redis' table as `redis`: null, or
   * the error text (without the script/line suffix, as Redis reports load errors).
   */
  runLoader(ref: number): string | null {
    const l = this.l;
    const base = lua.lua_gettop(l);
    const setLoading = (on: boolean) => {
      this.pushRef(this.setLoadingRef);
      lua.lua_pushboolean(l, on);
      lua.lua_call(l, 1, 0);
    };
    setLoading(true);
    this.pushRef(this.handlerRef);
    this.pushRef(ref);
    let error: string | null = null;
    try {
      if (lua.lua_pcall(l, 0, 0, base + 1) !== 0) {
        if (lua.lua_type(l, -1) === lua.LUA_TTABLE) {
          error = rawField(l, -1, "err") === lua.LUA_TSTRING ? toStr(l, -1) : "";
          lua.lua_pop(l, 1);
        } else error = lua.lua_type(l, -1) === lua.LUA_TSTRING ? toStr(l, -1) : "unknown error";
      }
    } catch (e) {
      error = String(e);
    }
    lua.lua_settop(l, base);
    setLoading(false);
    return error;
  }

  /** The error on top of the stack (a table from the error handler) as Redis's reply text. */
  private errorText(l: L, scriptName: string): string {
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
    let text = err;
    if (line && source) text += ` script: ${scriptName}, on ${source}:${line}.`;
    return text.replace(/[\r\n]/g, " ");
  }
}

/** (int) of a double, as C truncates it (luaL_checkint). */
function cInt(n: number): number {
  return Number.isFinite(n) ? Math.trunc(n) | 0 : -2147483648;
}

const LRAND48_MAX = 2147483647;

/** The rand48 generator (48-bit linear congruential) with Redis's initial state. */
const rand48 = {
  x: 0x1234abcd330en,
  next(): number {
    this.x = (this.x * 0x5deece66dn + 0xbn) & 0xffffffffffffn;
    return Number(this.x >> 17n);
  },
  seed(v: number): void {
    this.x = (BigInt(v >>> 0) << 16n) | 0x330en;
  },
};

/** Raises Redis's error table ({err = "ERR msg"}) from a JS function, as luaPushError does. */
export function raiseTable(l: L, msg: string): number {
  pushTagged(l, "err", errorTableText(msg));
  return lua.lua_error(l);
}

/**
 * The arguments of redis.call and friends as a command's argv (numbers with "%.17g"), or
 * Redis's error text when there are none or one is neither a string nor a number.
 */
function scriptArgv(l: L): string[] | string {
  const argc = lua.lua_gettop(l);
  if (argc === 0) return "Please specify at least one argument for this redis lib call";
  const argv: string[] = [];
  for (let i = 1; i <= argc; i++) {
    const t = lua.lua_type(l, i);
    if (t === lua.LUA_TNUMBER) argv.push(formatLuaNumber(lua.lua_tonumber(l, i)));
    else if (t === lua.LUA_TSTRING) argv.push(toStr(l, i));
    else return "Lua redis lib command arguments must be strings or integers";
  }
  return argv;
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

const PRELUDE_SOURCE = "=prelude";

/**
 * True while the function running is the prelude's (the error handler, the pcall wrapper): a
 * killed script's error is raised in the script's own code, never inside the handler that is
 * dealing with the previous one.
 */
function inPrelude(l: L): boolean {
  const ar = new lua.lua_Debug();
  if (!lua.lua_getstack(l, 0, ar)) return false;
  lua.lua_getinfo(l, luaBytes("S"), ar);
  const src = ar.source;
  if (!src || src.length !== PRELUDE_SOURCE.length) return false;
  for (let i = 0; i < src.length; i++) if (src[i] !== PRELUDE_SOURCE.charCodeAt(i)) return false;
  return true;
}
