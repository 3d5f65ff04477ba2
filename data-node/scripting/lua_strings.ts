/**
 * Where fengari's strings are allocated. A Lua string is a byte array that fengari never changes
 * after making it; fengari makes each one in an ArrayBuffer of its own (`Uint8Array.from`, a
 * generic copy), and a fresh ArrayBuffer costs this runtime about 0.5 µs: its backing store is
 * allocated and tracked outside the JavaScript heap. A view of an existing one costs a tenth of
 * that. Strings of up to 64 bytes are therefore views of a small shared slab: `tostring(i)`,
 * `..`'s number operands, the arguments and replies of redis.call. A string a script keeps
 * keeps its slab alive, so slabs are small.
 *
 * Imported before fengari's other modules load: they copy `luastring_from` and `to_luastring`
 * from defs.js when they load, as they do luaconf's number routines (lua51_numbers.ts).
 */
import defs from "fengari/src/defs.js";

const SLAB_BYTES = 4096;
/** Strings up to this long come from the slab. */
const SLAB_MAX = 64;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/** Room for a Lua string of n bytes: a view of the slab when short. */
export function luaStringRoom(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed += n;
  return out;
}

/** fengari's copy of a byte array (or array of bytes) into a new Lua string. */
function luastringFrom(a: ArrayLike<number>): Uint8Array {
  const n = a.length;
  const out = luaStringRoom(n);
  for (let i = 0; i < n; i++) out[i] = a[i]!;
  return out;
}

const utf8LuaString: (s: string, cache?: boolean) => Uint8Array = defs.to_luastring;

/** A JavaScript string as Lua string bytes (UTF-8); ASCII text is copied as it is. */
function toLuastring(s: string, cache?: boolean): Uint8Array {
  // The cached form (fengari's constant names) and non-ASCII text keep fengari's own path.
  if (cache || typeof s !== "string") return utf8LuaString(s, cache);
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return utf8LuaString(s);
  const out = luaStringRoom(n);
  for (let i = 0; i < n; i++) out[i] = s.charCodeAt(i);
  return out;
}

defs.luastring_from = luastringFrom;
defs.to_luastring = toLuastring;
