/**
 * The Lua VM as Redis embeds it, on fengari (Lua 5.3 in plain JavaScript, so a script runs
 * synchronously inside command execution). One VM per server, like Redis: a protected global
 * table, the `redis` library, KEYS/ARGV, and the RESP <-> Lua conversions. What a command does
 * inside a script is decided by the host (`ScriptHost.run`); this file knows Lua, not commands.
 */
import fengari from "./fengari.ts";
import lobject from "fengari/src/lobject.js";
import lstring from "fengari/src/lstring.js";
import { bytesToBinary, MEDIUM_MAX, recentBinary } from "../../shared/resp/bytes.ts";
import { sha1Hex } from "../../shared/sha1.ts";
import { luaStringRoom } from "./lua_strings.ts";
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
  /**
   * An error the script's reply holds: the call failed; `counted` when a command's error already
   * went into INFO errorstats (its ignore_error_stats_update), so only the failure is added.
   */
  countError(message: string, counted: boolean): void;
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

/**
 * Registry slots (integer keys: one lookup, where a string key is hashed) set up once per Lua
 * state: the strings the bridge uses as table keys on every call. fengari hashes a string key
 * byte by byte the first time it is used and keeps the hash on that string object, so a key
 * pushed from one kept string costs a lookup, where a fresh one is hashed anew.
 */
const KEY_SLOT_BASE = 1000;
const KEY_NAMES = [
  "KEYS",
  "ARGV",
  "ok",
  "err",
  "double",
  "big_number",
  "map",
  "set",
  "verbatim_string",
  "string",
  "format",
] as const;
type KeyName = typeof KEY_NAMES[number];
const KEY_SLOT: Record<KeyName, number> = Object.fromEntries(
  KEY_NAMES.map((k, i) => [k, KEY_SLOT_BASE + i]),
) as Record<KeyName, number>;
/**
 * The values kept by LuaVm.ref live in the registry under REF_BASE + id: far above the slots
 * luaL_ref hands out (the first free integers, found by a border search from the table's size).
 */
const REF_BASE = 2 ** 24;

/** Creates the key slots above in a new state. */
function installSlots(l: L): void {
  for (const k of KEY_NAMES) {
    pushStr(l, k);
    lua.lua_rawseti(l, lua.LUA_REGISTRYINDEX, KEY_SLOT[k]);
  }
}

/** Pushes one of the kept key strings. */
function pushKey(l: L, name: KeyName): void {
  lua.lua_rawgeti(l, lua.LUA_REGISTRYINDEX, KEY_SLOT[name]);
}

/** Instructions between two time checks of a running script. */
const HOOK_INSTRUCTIONS = 100_000;
/** How long FUNCTION LOAD lets a library's code run (Redis's load timeout). */
const LOAD_TIMEOUT_MS = 500;

export const REDIS_VERSION = "7.0.15";
export const REDIS_VERSION_NUM = 0x07000f;

/** Binary string -> Lua string bytes, in an ArrayBuffer of their own. */
export function luaBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Binary string -> Lua string bytes, a view of a slab when short (lua_strings.ts). */
function luaStringBytes(s: string): Uint8Array {
  const n = s.length;
  const out = luaStringRoom(n);
  for (let i = 0; i < n; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Pushes a binary string. lua_pushlstring would copy the bytes once more (fengari's strings
 * are byte arrays it owns): the fresh array is handed over instead, as lua_pushlstring does
 * with its copy.
 */
function pushStr(l: L, s: string): void {
  lobject.pushsvalue2s(l, lstring.luaS_bless(l, luaStringBytes(s)));
}

function toStr(l: L, idx: number): string {
  const b: Uint8Array = lua.lua_tolstring(l, idx);
  // Script arguments are mostly keys and fields: reused strings have their hash already.
  return b.length >= 2 && b.length <= MEDIUM_MAX ? recentBinary(b, 0, b.length) : bytesToBinary(b);
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

/** t[name] = v (raw) for a table t below the value v on top (popped): a new reply table's field. */
function setKey(l: L, name: KeyName): void {
  pushKey(l, name);
  lua.lua_insert(l, -2);
  lua.lua_rawset(l, -3);
}

/** Pushes `{field=<string>}` (status and error tables). */
function pushTagged(l: L, field: "ok" | "err" | "big_number", value: string): void {
  lua.lua_createtable(l, 0, 1);
  pushStr(l, value);
  setKey(l, field);
}

/**
 * The error table of a command's error (refused before it ran, or its error reply, nested ones
 * included): Redis adds `ignore_error_stats_update = true` (the error was counted already).
 * Set first, so that pairs, cjson and cmsgpack see the two fields in Lua 5.1's order.
 */
/** True when the error table on top was a command's error, counted already. */
function ignoresStats(l: L): boolean {
  const flagged = rawField(l, -1, "ignore_error_stats_update") === lua.LUA_TBOOLEAN &&
    lua.lua_toboolean(l, -1);
  lua.lua_pop(l, 1);
  return flagged;
}

function pushCommandError(l: L, text: string): void {
  lua.lua_newtable(l);
  lua.lua_pushboolean(l, true);
  setField(l, "ignore_error_stats_update");
  pushStr(l, text);
  setField(l, "err");
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
  if (v instanceof RespError) return pushCommandError(l, errorTableText("-" + v.message));
  if (v instanceof RespDouble) {
    lua.lua_newtable(l);
    lua.lua_pushnumber(l, v.value);
    return setKey(l, "double");
  }
  if (v instanceof RespBigNumber) return pushTagged(l, "big_number", v.value.toString());
  if (v instanceof RespVerbatim) {
    lua.lua_newtable(l);
    lua.lua_newtable(l);
    pushStr(l, v.text);
    setKey(l, "string");
    pushStr(l, v.format);
    setKey(l, "format");
    return setKey(l, "verbatim_string");
  }
  if (v instanceof RespMap) {
    lua.lua_newtable(l);
    lua.lua_newtable(l);
    for (const [k, val] of v.entries) {
      pushReply(l, k, resp);
      pushReply(l, val, resp);
      lua.lua_settable(l, -3);
    }
    return setKey(l, "map");
  }
  if (v instanceof RespSet) {
    lua.lua_newtable(l);
    lua.lua_newtable(l);
    for (const item of v.items) {
      pushReply(l, item, resp);
      lua.lua_pushboolean(l, true);
      lua.lua_settable(l, -3);
    }
    return setKey(l, "set");
  }
  lua.lua_pushboolean(l, false);
}

/** Reads field `name` of the table at `idx` (raw): its type, value left on the stack. */
function rawField(l: L, idx: number, name: string): number {
  if (name in KEY_SLOT) pushKey(l, name as KeyName);
  else lua.lua_pushstring(l, luaBytes(name));
  lua.lua_rawget(l, idx < 0 ? idx - 1 : idx);
  return lua.lua_type(l, -1);
}

/**
 * Lua 5.1's stack limit (LUAI_MAXCSTACK), which bounds how deep a script's reply may nest: the
 * conversion keeps each enclosing table (and a map's key and value) on Redis's Lua stack.
 * `height` follows Redis's stack height: the script's value sits at 2 (above the error
 * handler); an array item is one above its table, a map's key 4 and its value 3 above its
 * table, a set's member 3.
 */
const LUA51_MAX_STACK = 8000;
const ROOT_HEIGHT = 2;

/**
 * The steps of a conversion, run from an explicit stack (a reply may nest 8000 deep, past
 * what recursion in JavaScript allows): convert the value on top of the Lua stack, pop it,
 * push item j of the table on top, push a copy of the value at -1 or -2, or take the next
 * entry of the map or set being written.
 */
type Step =
  | { k: "value"; h: number; resp: 2 | 3 }
  | { k: "pop" }
  | { k: "item"; j: number }
  | { k: "dup"; at: -1 | -2 }
  | { k: "mapNext"; h: number }
  | { k: "setNext"; h: number };

/**
 * The Lua value on top of the stack -> a reply on `out`, as Redis converts a script's result.
 * `resp` is the script's protocol (redis.setresp); `out.proto` the caller's. The value stays
 * on the stack.
 */
export function writeLuaValue(
  l: L,
  out: RespWriter,
  resp: 2 | 3,
  countError: (message: string, counted: boolean) => void = () => {},
): void {
  const todo: Step[] = [{ k: "value", h: ROOT_HEIGHT, resp }];
  for (let step = todo.pop(); step !== undefined; step = todo.pop()) {
    switch (step.k) {
      case "value":
        writeOne(l, out, step.resp, step.h, todo, countError);
        break;
      case "pop":
        lua.lua_pop(l, 1);
        break;
      case "item":
        lua.lua_rawgeti(l, -1, step.j);
        break;
      case "dup":
        lua.lua_pushvalue(l, step.at);
        break;
      case "mapNext":
        // Stack: map, key. Next: the key, then the value, each converted and popped.
        if (lua.lua_next(l, -2)) {
          todo.push(
            step,
            { k: "pop" },
            { k: "value", h: step.h + 3, resp: 3 },
            { k: "pop" },
            { k: "value", h: step.h + 4, resp: 3 },
            { k: "dup", at: -2 },
          );
        } else lua.lua_pop(l, 1);
        break;
      case "setNext":
        if (lua.lua_next(l, -2)) {
          lua.lua_pop(l, 1);
          todo.push(step, { k: "pop" }, { k: "value", h: step.h + 3, resp: 3 }, {
            k: "dup",
            at: -1,
          });
        } else lua.lua_pop(l, 1);
        break;
    }
  }
}

/** Converts one value; a table's items become steps (pushed in reverse order). */
function writeOne(
  l: L,
  out: RespWriter,
  resp: 2 | 3,
  height: number,
  todo: Step[],
  countError: (message: string, counted: boolean) => void,
): void {
  // Redis makes room for 4 more values on Lua 5.1's stack before converting any value.
  if (height + 4 > LUA51_MAX_STACK || !lua.lua_checkstack(l, 4)) {
    out.error("ERR reached lua stack limit");
    countError("ERR reached lua stack limit", false);
    return;
  }
  switch (lua.lua_type(l, -1)) {
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
      return writeTable(l, out, resp, height, todo, countError);
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

/** Counts a table's entries (lua_next over the table on top). */
function countEntries(l: L): number {
  let n = 0;
  lua.lua_pushnil(l);
  while (lua.lua_next(l, -2)) {
    n++;
    lua.lua_pop(l, 1);
  }
  return n;
}

function writeTable(
  l: L,
  out: RespWriter,
  resp: 2 | 3,
  height: number,
  todo: Step[],
  countError: (message: string, counted: boolean) => void,
): void {
  if (rawField(l, -1, "err") === lua.LUA_TSTRING) {
    const msg = toStr(l, -1).replace(/[\r\n]/g, " ");
    lua.lua_pop(l, 1);
    out.error(msg);
    // Each error in the reply counts (nested ones too), but a command's error counted already.
    countError(msg, ignoresStats(l));
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
  if (writeResp3Table(l, out, height, todo)) return;
  // An array: items 1, 2... up to the first nil.
  let n = 0;
  for (let j = 1;; j++) {
    lua.lua_rawgeti(l, -1, j);
    const nil = lua.lua_type(l, -1) === lua.LUA_TNIL;
    lua.lua_pop(l, 1);
    if (nil) break;
    n++;
  }
  out.array(n);
  for (let j = n; j >= 1; j--) {
    todo.push({ k: "pop" }, { k: "value", h: height + 1, resp }, { k: "item", j });
  }
}

/**
 * RESP3 tables, in the order Redis looks for them: {double=}, {big_number=},
 * {verbatim_string=}, {map=}, {set=}. A map or set is left on the stack with its steps queued.
 */
function writeResp3Table(l: L, out: RespWriter, height: number, todo: Step[]): boolean {
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
  } else lua.lua_pop(l, 1);
  if (rawField(l, -1, "map") === lua.LUA_TTABLE) {
    out.map(countEntries(l));
    lua.lua_pushnil(l);
    todo.push({ k: "mapNext", h: height });
    return true;
  }
  lua.lua_pop(l, 1);
  if (rawField(l, -1, "set") === lua.LUA_TTABLE) {
    out.set(countEntries(l));
    lua.lua_pushnil(l);
    todo.push({ k: "setNext", h: height });
    return true;
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
  /** While a library's code runs (FUNCTION LOAD): when it is stopped (performance.now()). */
  private loadDeadline = 0;
  private lastRef = 0;
  private handlerRef: number;
  private trampolineRef: number;
  /** The coroutine of the script being run (null between scripts). */
  private running: L = null;
  /**
   * A coroutine whose script ended normally, kept for the next run: Lua 5.3 starts a new
   * function on a thread that finished (lua_resume from its base level).
   */
  private idle: L = null;
  private libraryEnvRef: number;
  private globalsRef: number;
  private setLoadingRef: number;

  constructor() {
    const l = lauxlib.luaL_newstate();
    this.l = l;
    installSlots(l);
    lualib.luaL_openlibs(l);
    fixPcallHooks(l);
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
    const id = ++this.lastRef;
    lua.lua_rawseti(this.l, lua.LUA_REGISTRYINDEX, REF_BASE + id);
    return id;
  }

  /** Pushes the value kept under `id` by ref(). */
  pushRef(id: number): void {
    lua.lua_rawgeti(this.l, lua.LUA_REGISTRYINDEX, REF_BASE + id);
  }

  private onHook(l: L): void {
    // FUNCTION LOAD runs the library's code for at most LOAD_TIMEOUT_MS, as Redis does; past
    // it every hook raises again, so that a pcall in the code cannot keep it running.
    if (this.loadDeadline !== 0 && performance.now() > this.loadDeadline) {
      pushTagged(l, "err", "ERR FUNCTION LOAD timeout");
      lua.lua_error(l);
    }
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
      pushStr(l, sha1Hex(b ?? ""));
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
      reply = new RespError(`ERR ${e instanceof Error ? e.message : String(e)}`);
    }
    // A refusal or an error reply: the table carries ignore_error_stats_update.
    pushReply(l, reply, host.resp);
    if (reply instanceof RespError && raiseErrors) return lua.lua_error(l);
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
        // Lua 5.1 quotes every token it expected, <eof> and <name> included.
        /: (<eof>|<name>|<string>|<number>|<integer>) expected/,
        ": '$1' expected",
      ).replace(
        /: syntax error near (.*)$/,
        ": '=' expected near $1",
      ).replace(
        // A single-byte token that is not printable: Lua 5.1 writes control characters as
        // char(N) and other bytes as they are, where 5.3 writes <\N>.
        / near '<\\(\d{1,3})>'$/,
        (_m, n: string) => {
          const code = Number(n);
          return ` near '${
            code < 32 || code === 127 ? `char(${code})` : String.fromCharCode(code)
          }'`;
        },
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
    lua.lua_pushnil(l);
    lua.lua_rawseti(l, lua.LUA_REGISTRYINDEX, REF_BASE + ref);
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
      pushKey(l, "KEYS");
      pushList(keys);
      lua.lua_rawset(l, -3);
      pushKey(l, "ARGV");
      pushList(args);
      lua.lua_rawset(l, -3);
      lua.lua_pop(l, 1);
    }
    // The script runs as a coroutine (trampoline, function, arguments), so that it can yield.
    lua.lua_settop(l, base);
    // fengari's objects live as long as JavaScript holds them: the thread needs no anchor.
    let co: L = this.idle;
    this.idle = null;
    if (co === null) {
      co = lua.lua_newthread(l);
      lua.lua_pop(l, 1);
      lua.lua_sethook(co, (t: L) => this.onHook(t), lua.LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
    }
    this.pushRef(this.trampolineRef);
    this.pushRef(ref);
    if (!asGlobals) {
      pushList(keys);
      pushList(args);
    }
    lua.lua_xmove(l, co, 2 + nargs);
    this.host = host;
    this.running = co;
    return this.step(co, 1 + nargs, out, host, scriptName);
  }

  /** Resumes a script's coroutine: its outcome, or `paused` when it yielded. */
  private step(
    co: L,
    nargs: number,
    out: RespWriter,
    host: ScriptHost,
    scriptName: string,
  ): RunResult {
    let status: number;
    try {
      status = lua.lua_resume(co, null, nargs);
    } catch (e) {
      this.endRun(co, false);
      return { ok: false, error: `ERR Error running script ${scriptName}, ${String(e)}` };
    }
    if (status === lua.LUA_YIELD) {
      return { paused: () => this.step(co, 0, out, host, scriptName) };
    }
    let result: RunResult = { ok: true };
    const succeeded = status === lua.LUA_OK && lua.lua_toboolean(co, 1);
    if (succeeded) {
      // The script's first value (none: nil), as lua_pcall(..., 1, ...) keeps it.
      if (lua.lua_gettop(co) < 2) lua.lua_pushnil(co);
      lua.lua_settop(co, 2);
      writeLuaValue(co, out, host.resp, (m, counted) => host.countError(m, counted));
    } else {
      if (status === lua.LUA_OK) lua.lua_settop(co, 2);
      const counted = lua.lua_type(co, -1) === lua.LUA_TTABLE && ignoresStats(co);
      result = { ok: false, error: this.errorText(co, scriptName), counted };
    }
    // Only a thread whose script returned is used again: one that ended in an error is dead,
    // and fengari leaves hooks off in a thread where the hook itself raised (SCRIPT KILL).
    this.endRun(co, succeeded);
    return result;
  }

  private endRun(co: L, reusable: boolean): void {
    // A thread left with hooks off (fengari can leave them off after an error a pcall caught)
    // is not used again.
    if (reusable && co.allowhook) {
      lua.lua_settop(co, 0);
      this.idle = co;
    }
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
    this.loadDeadline = performance.now() + LOAD_TIMEOUT_MS;
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
    this.loadDeadline = 0;
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

/** fengari's CallInfo status bit holding the caller's 'allowhook' during a pcall. */
const CIST_OAH = 1;

/**
 * fengari's lua_pcallk records the caller's 'allowhook' in the call's status with
 * `callstatus &= ~CIST_OAH | allowhook`, which never sets the bit (C Lua assigns it); so when
 * a pcall inside a coroutine catches an error, recovery turns hooks off for the rest of it,
 * and a script running as one could then neither be killed nor give the server its turn.
 * pcall and xpcall are wrapped to set the bit first.
 */
function fixPcallHooks(l: L): void {
  for (const name of ["pcall", "xpcall"]) {
    lua.lua_getglobal(l, luaBytes(name));
    const original = lua.lua_tocfunction(l, -1) as ((l: L) => number) | null;
    lua.lua_pop(l, 1);
    if (original === null) throw new Error(`lua: ${name} is not a function of the host`);
    lua.lua_pushjsfunction(l, (l: L) => {
      if (l.allowhook) l.ci.callstatus |= CIST_OAH;
      return original(l);
    });
    lua.lua_setglobal(l, luaBytes(name));
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
