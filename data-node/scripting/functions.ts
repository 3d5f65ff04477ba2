/**
 * Function libraries (Redis 7.0 FUNCTION LOAD): the `#!lua name=<lib>` header, running a
 * library's code with `redis.register_function` available, FUNCTION LIST's reply, and the
 * FUNCTION DUMP/RESTORE payload (RDB_OPCODE_FUNCTION2 entries, RDB version, CRC64, as DUMP).
 */
import fengari from "./fengari.ts";
import type { RespWriter } from "../../shared/resp/mod.ts";
import { globMatch } from "../../shared/glob.ts";
import { splitArgs } from "../../shared/config/parse.ts";
import { ByteReader, ByteWriter, OP, RDB_VERSION, writeString } from "../persistence/rdb.ts";
import { Crc64 } from "../persistence/crc64.ts";
import { FunctionRecordError, readFunctionRecord } from "../persistence/rdb_reader.ts";
import { luaBytes, luaToString, type LuaVm } from "./lua.ts";
import { bytesToBinary } from "../../shared/resp/bytes.ts";
import {
  type LibFunction,
  type Library,
  SCRIPT_FLAGS,
  type ScriptFlag,
  type Scripting,
} from "./scripting.ts";

const { lua } = fengari;
// deno-lint-ignore no-explicit-any
type L = any;

const NAME_RE = /^[A-Za-z0-9_]+$/;
const BAD_NAME =
  "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/**
 * The library name of a code's header (`#!<engine> name=<name>`, words split as Redis splits
 * arguments, quotes included), or an error, checked in Redis's order: the header's words, the
 * name's characters, then the engine.
 */
function parseHeader(code: string): { name: string } | { error: string } {
  if (!code.startsWith("#!")) return { error: "ERR Missing library metadata" };
  const eol = code.indexOf("\n");
  if (eol < 0) return { error: "ERR Invalid library metadata" };
  const parts = splitArgs(code.slice(0, eol));
  if (parts === null || parts.length === 0) return { error: "ERR Invalid library metadata" };
  const engine = parts[0]!.slice(2);
  let name: string | null = null;
  for (const p of parts.slice(1)) {
    if (p.slice(0, 5).toLowerCase() !== "name=") {
      return { error: `ERR Invalid metadata value given: ${p}` };
    }
    if (name !== null) {
      return { error: "ERR Invalid metadata value, name argument was given multiple times" };
    }
    name = p.slice(5);
  }
  if (name === null) return { error: "ERR Library name was not given" };
  if (!NAME_RE.test(name)) return { error: `ERR ${BAD_NAME}` };
  if (engine.toLowerCase() !== "lua") return { error: `ERR Engine '${engine}' not found` };
  return { name };
}

/** redis.register_function while a library loads: records into `lib`. */
function registrar(vm: LuaVm, lib: Library): (l: L) => number {
  return (l: L): number => {
    const fail = (msg: string): number => {
      lua.lua_newtable(l);
      lua.lua_pushstring(l, luaBytes(`ERR ${msg}`));
      lua.lua_setfield(l, -2, luaBytes("err"));
      return lua.lua_error(l);
    };
    const argc = lua.lua_gettop(l);
    let name: string | null = null;
    let hasCallback = false;
    const flags = new Set<ScriptFlag>();
    let description: string | null = null;
    if (argc === 2) {
      if (!lua.lua_isstring(l, 1)) {
        return fail("first argument to redis.register_function must be a string");
      }
      if (lua.lua_type(l, 2) !== lua.LUA_TFUNCTION) {
        return fail("second argument to redis.register_function must be a function");
      }
      name = bytesToBinary(lua.lua_tolstring(l, 1));
      lua.lua_pushvalue(l, 2);
      hasCallback = true;
    } else if (argc === 1) {
      if (lua.lua_type(l, 1) !== lua.LUA_TTABLE) {
        return fail(
          "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
        );
      }
      lua.lua_pushnil(l);
      while (lua.lua_next(l, 1)) {
        if (!lua.lua_isstring(l, -2)) {
          return fail("named argument key given to redis.register_function is not a string");
        }
        const key = luaToString(l, -2);
        if (key === "function_name") {
          if (!lua.lua_isstring(l, -1)) {
            return fail("function_name argument given to redis.register_function must be a string");
          }
          name = bytesToBinary(lua.lua_tolstring(l, -1));
        } else if (key === "description") {
          if (!lua.lua_isstring(l, -1)) {
            return fail("description argument given to redis.register_function must be a string");
          }
          description = bytesToBinary(lua.lua_tolstring(l, -1));
        } else if (key === "callback") {
          if (lua.lua_type(l, -1) !== lua.LUA_TFUNCTION) {
            return fail("callback argument given to redis.register_function must be a function");
          }
          hasCallback = true;
          lua.lua_pushvalue(l, -1);
          lua.lua_insert(l, 2); // keep the callback below the iteration
        } else if (key === "flags") {
          if (lua.lua_type(l, -1) !== lua.LUA_TTABLE) {
            return fail(
              "flags argument to redis.register_function must be a table representing function flags",
            );
          }
          for (let j = 1;; j++) {
            lua.lua_rawgeti(l, -1, j);
            if (lua.lua_type(l, -1) === lua.LUA_TNIL) {
              lua.lua_pop(l, 1);
              break;
            }
            if (lua.lua_type(l, -1) !== lua.LUA_TSTRING) return fail("unknown flag given");
            const f = luaToString(l, -1);
            if (!(SCRIPT_FLAGS as readonly string[]).includes(f)) return fail("unknown flag given");
            flags.add(f as ScriptFlag);
            lua.lua_pop(l, 1);
          }
        } else return fail("unknown argument given to redis.register_function");
        lua.lua_pop(l, 1);
      }
      if (name === null) return fail("redis.register_function must get a function name argument");
      if (!hasCallback) return fail("redis.register_function must get a callback argument");
      lua.lua_pushvalue(l, 2);
    } else {
      return fail("wrong number of arguments to redis.register_function");
    }
    if (!NAME_RE.test(name!)) return fail(BAD_NAME);
    if (lib.functions.has(name!)) return fail("Function already exists in the library");
    const ref = vm.ref();
    const fn: LibFunction = { name: name!, ref, flags, description, library: lib };
    lib.functions.set(name!, fn);
    return 0;
  };
}

/** Compiles and runs a library's code: the library (not yet installed) or an error text. */
export function compileLibrary(sc: Scripting, code: string): Library | { error: string } {
  const header = parseHeader(code);
  if ("error" in header) return header;
  const lib: Library = { name: header.name, code, functions: new Map() };
  const body = "--" + code.slice(2);
  const vm = sc.fvm;
  const ref = vm.compile(body, "@user_function", true);
  if (typeof ref === "string") return { error: `ERR Error compiling function: ${ref}` };
  vm.registrar = registrar(vm, lib);
  const err = vm.runLoader(ref);
  vm.registrar = null;
  vm.release(ref);
  if (err !== null) {
    for (const f of lib.functions.values()) vm.release(f.ref);
    return { error: `ERR Error registering functions: ${err}` };
  }
  if (lib.functions.size === 0) return { error: "ERR No functions registered" };
  return lib;
}

/** Installs libraries, replacing same-named ones when allowed; an error leaves all as it was. */
function install(
  sc: Scripting,
  libs: Library[],
  replace: boolean,
  restoring = false,
): string | null {
  const replaced = new Set<string>();
  for (const lib of libs) {
    if (sc.libraries.has(lib.name)) {
      // Redis quotes the name for FUNCTION LOAD, not for FUNCTION RESTORE.
      if (!replace) {
        return restoring
          ? `ERR Library ${lib.name} already exists`
          : `ERR Library '${lib.name}' already exists`;
      }
      replaced.add(lib.name);
    }
  }
  // Function names are one namespace without regard to case (FCALL TEST finds test); within a
  // library they differ by case, and of two that differ only so the first is the one found.
  const names = new Set<string>();
  for (const lib of libs) {
    const own = new Set<string>();
    for (const f of lib.functions.keys()) {
      const folded = f.toLowerCase();
      const owner = sc.functions.get(folded);
      if ((owner && !replaced.has(owner.library.name)) || names.has(folded)) {
        return `ERR Function ${f} already exists`;
      }
      own.add(folded);
    }
    for (const f of own) names.add(f);
  }
  for (const name of replaced) deleteLibrary(sc, name);
  for (const lib of libs) {
    sc.libraries.set(lib.name, lib);
    for (const f of lib.functions.values()) {
      const folded = f.name.toLowerCase();
      if (!sc.functions.has(folded)) sc.functions.set(folded, f);
    }
  }
  return null;
}

function discard(sc: Scripting, libs: Library[]): void {
  for (const lib of libs) for (const f of lib.functions.values()) sc.fvm.release(f.ref);
}

export function deleteLibrary(sc: Scripting, name: string): boolean {
  const lib = sc.libraries.get(name);
  if (!lib) return false;
  for (const f of lib.functions.values()) {
    const folded = f.name.toLowerCase();
    if (sc.functions.get(folded) === f) sc.functions.delete(folded);
    sc.fvm.release(f.ref);
  }
  sc.libraries.delete(name);
  return true;
}

/** FUNCTION LOAD: the library name, or an error. */
export function loadLibrary(
  sc: Scripting,
  code: string,
  replace: boolean,
): string | { error: string } {
  if (!replace) {
    const header = parseHeader(code);
    if (!("error" in header) && sc.libraries.has(header.name)) {
      return { error: `ERR Library '${header.name}' already exists` };
    }
  }
  const lib = compileLibrary(sc, code);
  if ("error" in lib) return lib;
  const err = install(sc, [lib], replace);
  if (err !== null) {
    discard(sc, [lib]);
    return { error: err };
  }
  return lib.name;
}

export function flushLibraries(sc: Scripting): void {
  for (const name of [...sc.libraries.keys()]) deleteLibrary(sc, name);
}

/** FUNCTION LIST's reply. */
export function listLibraries(
  sc: Scripting,
  out: RespWriter,
  pattern: string | null,
  withCode: boolean,
): void {
  const libs = [...sc.libraries.values()].filter((l) =>
    pattern === null || globMatch(pattern, l.name, true)
  );
  out.array(libs.length);
  for (const lib of libs) {
    out.map(withCode ? 4 : 3);
    out.bulk("library_name");
    out.bulk(lib.name);
    out.bulk("engine");
    out.bulk("LUA");
    out.bulk("functions");
    out.array(lib.functions.size);
    for (const f of lib.functions.values()) {
      out.map(3);
      out.bulk("name");
      out.bulk(f.name);
      out.bulk("description");
      if (f.description === null) out.nullBulk();
      else out.bulk(f.description);
      out.bulk("flags");
      out.set(f.flags.size);
      for (const flag of SCRIPT_FLAGS) if (f.flags.has(flag)) out.simple(flag);
    }
    if (withCode) {
      out.bulk("library_code");
      out.bulk(lib.code);
    }
  }
}

/** Every library as RDB_OPCODE_FUNCTION2 + its code (the RDB form and DUMP's body). */
export function writeLibraries(w: ByteWriter, sc: Scripting, compress: boolean): void {
  for (const lib of sc.libraries.values()) {
    w.byte(OP.FUNCTION2);
    writeString(w, lib.code, { compress });
  }
}

/** FUNCTION DUMP: the libraries, RDB version (2 bytes LE), CRC64 (8 bytes LE), as a binary string. */
export function dumpFunctions(sc: Scripting): string {
  const w = new ByteWriter();
  writeLibraries(w, sc, true);
  w.byte(RDB_VERSION & 0xff);
  w.byte(RDB_VERSION >> 8);
  const body = w.take();
  const crc = w.crc.bytes();
  let s = "";
  for (const b of body) s += String.fromCharCode(b);
  for (const b of crc) s += String.fromCharCode(b);
  return s;
}

/** FUNCTION RESTORE: null when done, else the error text. */
export function restoreFunctions(
  sc: Scripting,
  payload: string,
  policy: "flush" | "append" | "replace",
): string | null {
  const bytes = luaBytes(payload);
  const bad = "ERR DUMP payload version or checksum are wrong";
  if (bytes.length < 10) return bad;
  const footer = bytes.length - 10;
  const version = bytes[footer]! | (bytes[footer + 1]! << 8);
  const stored = new DataView(bytes.buffer, footer + 2, 8).getBigUint64(0, true);
  const actual = new Crc64().update(bytes.subarray(0, footer + 2)).value();
  if (version > RDB_VERSION || (stored !== 0n && stored !== actual)) return bad;
  const codes: string[] = [];
  try {
    const r = new ByteReader(bytes.subarray(0, footer));
    while (r.pos < footer) {
      const op = r.byte();
      if (op !== OP.FUNCTION2 && op !== OP.FUNCTION) return "ERR given type is not a function";
      codes.push(readFunctionRecord(r, op));
    }
  } catch (e) {
    if (e instanceof FunctionRecordError) return `ERR ${e.message}`;
    return "ERR payload is not a valid function dump";
  }
  const libs: Library[] = [];
  for (const code of codes) {
    const lib = compileLibrary(sc, code);
    if ("error" in lib) {
      discard(sc, libs);
      return lib.error;
    }
    libs.push(lib);
  }
  if (policy === "flush") flushLibraries(sc);
  const err = install(sc, libs, policy === "replace", true);
  if (err !== null) {
    discard(sc, libs);
    return err;
  }
  return null;
}
