import { equal } from "node:assert/strict";
import fengari from "./fengari.ts";
import { LuaVm } from "./lua.ts";
import { RespWriter } from "../../shared/resp/mod.ts";

const { lua, lauxlib } = fengari;

Deno.test("lua strings: fengari makes short strings in the shared slab, long ones on their own", () => {
  const l = lauxlib.luaL_newstate();
  // Made inside fengari: tostring, concatenation's number operands, string.rep.
  const run = (code: string): Uint8Array => {
    equal(lauxlib.luaL_dostring(l, fengari.to_luastring(code)), 0);
    return lua.lua_tolstring(l, -1);
  };
  fengari.lualib.luaL_openlibs(l);
  const short = run("return tostring(12345)");
  equal(new TextDecoder().decode(short), "12345");
  equal(short.buffer.byteLength, 4096, "a view of a slab");
  const long = run("return string.rep('ab', 100)");
  equal(long.length, 200);
  equal(long.buffer.byteLength, 200, "an array of its own");
  // Non-ASCII text from JavaScript is still UTF-8.
  lua.lua_pushstring(l, fengari.to_luastring("é"));
  equal(Array.from(lua.lua_tolstring(l, -1) as Uint8Array).join(","), "195,169");
});

Deno.test("lua strings: many short strings made and kept by one script stay intact", () => {
  const vm = new LuaVm();
  const ref = vm.compile(
    "local t = {} for i = 1, 5000 do t[i] = 'k' .. i end " +
      "local bad = 0 for i = 1, 5000 do if t[i] ~= 'k' .. tostring(i) then bad = bad + 1 end end " +
      "return {bad, t[1], t[4999]}",
    "@user_script",
  ) as number;
  const out = new RespWriter(256);
  const host = {
    resp: 2,
    run: () => "OK",
    countError: () => {},
    aclCheck: () => true,
    log: () => {},
    setRepl: () => {},
    tick: () => null,
    shouldYield: () => false,
  };
  // deno-lint-ignore no-explicit-any
  equal((vm.run(ref, host as any, [], [], true, out, "f") as { ok: boolean }).ok, true);
  equal(new TextDecoder().decode(out.take()), "*3\r\n:0\r\n$2\r\nk1\r\n$5\r\nk4999\r\n");
});
