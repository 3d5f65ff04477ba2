import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { COMMAND_TIPS, KEY_SPECS, keyFlags, parseKeySpec } from "./key_specs.ts";
import { buildCommandTable } from "./table.ts";
import { commandKeys } from "./types.ts";

Deno.test("every key spec parses, and every command with keys has specs", () => {
  for (const specs of Object.values(KEY_SPECS)) for (const s of specs) parseKeySpec(s);
  const table = buildCommandTable();
  const names = new Set<string>();
  for (const d of table.values()) {
    names.add(d.name);
    for (const sub of d.subcommands ?? []) names.add(sub.name);
    if (d.keys && d.keys[0] > 0) ok(d.keySpecs?.length, `${d.name} has no key specs`);
  }
  for (const n of [...Object.keys(KEY_SPECS), ...Object.keys(COMMAND_TIPS)]) {
    ok(names.has(n), `specs for unknown command ${n}`);
  }
});

Deno.test("keyword and keynum specs find the keys of a call", () => {
  // XREAD-like: the keys follow STREAMS and take half of what remains.
  const streams = parseKeySpec("RO access kSTREAMS,1 r-1,1,2");
  deepStrictEqual(streams.begin, { keyword: "STREAMS", startfrom: 1 });
  const argv = ["xread", "COUNT", "2", "streams", "a", "b", "0", "0"];
  const flags = keyFlags("xread", [streams], argv);
  deepStrictEqual(flags(4), ["RO", "access"]);
  deepStrictEqual(flags(5), ["RO", "access"]);
  // Searching backwards from the end (GEORADIUS-like STORE).
  const store = parseKeySpec("OW update kSTORE,-2 r0,1,0");
  const f2 = keyFlags("x", [parseKeySpec("RO access i1 r0,1,0"), store], [
    "x",
    "src",
    "STORE",
    "dst",
  ]);
  deepStrictEqual(f2(1), ["RO", "access"]);
  deepStrictEqual(f2(3), ["OW", "update"]);
  // Keynum: destination first, then a counted list of sources.
  const table = buildCommandTable();
  const zu = table.get("zunionstore")!;
  const call = ["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"];
  deepStrictEqual(commandKeys(zu, call), [1, 3, 4]);
  const zf = keyFlags("zunionstore", zu.keySpecs!, call);
  deepStrictEqual(zf(1), ["OW", "update"]);
  deepStrictEqual(zf(3), ["RO", "access"]);
  equal(parseKeySpec("RW access update i1 r0,1,0 #a note").notes, "a note");
});
