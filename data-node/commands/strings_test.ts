/** The string family through the engine, without a socket, on an injected clock. */
import { deepStrictEqual, equal } from "node:assert/strict";
import { RespError } from "../../shared/resp/mod.ts";
import { engineHarness } from "../engine/harness.ts";

const err = (v: unknown) => v instanceof RespError ? v.message : `not an error: ${String(v)}`;

Deno.test("strings: SET options, INCR family errors and TTLs follow the engine's clock", () => {
  const h = engineHarness();
  try {
    equal(String(h.run("SET", "k", "10")), "OK");
    equal(h.run("INCRBY", "k", "5"), 15);
    equal(
      err(h.run("INCRBY", "k", "9223372036854775807")),
      "ERR increment or decrement would overflow",
    );
    equal(err(h.run("INCR")), "ERR wrong number of arguments for 'incr' command");
    h.run("SET", "word", "abc");
    equal(err(h.run("INCR", "word")), "ERR value is not an integer or out of range");
    equal(h.run("APPEND", "k", "0"), 3);
    equal(h.run("GET", "k"), "150");
    equal(h.run("SET", "k", "v", "NX"), null);
    equal(h.run("SET", "k", "v", "XX", "GET"), "150");
    equal(String(h.run("SET", "t", "x", "PX", "1000")), "OK");
    h.clock.advance(400);
    equal(h.run("PTTL", "t"), 600);
    h.clock.advance(601);
    equal(h.run("GET", "t"), null);
    equal(h.run("EXISTS", "t"), 0);
    deepStrictEqual(h.run("MGET", "k", "t", "missing"), ["v", null, null]);
    equal(err(h.run("SET", "k", "v", "EX", "0")), "ERR invalid expire time in 'set' command");
  } finally {
    h.close();
  }
});
