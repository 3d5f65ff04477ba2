import { deepStrictEqual, equal } from "node:assert/strict";
import { engineHarness } from "../engine/harness.ts";

Deno.test("expiry: a key lives through the millisecond of its TTL and is gone after it", () => {
  // Redis: a key is expired when the time is greater than its expire time, not equal to it.
  const h = engineHarness();
  try {
    h.run("DEBUG", "SET-ACTIVE-EXPIRE", "0");
    const at = h.clock.nowMs() + 100;
    equal(String(h.run("SET", "k", "v", "PXAT", String(at))), "OK");
    equal(String(h.run("SET", "other", "v", "PXAT", String(at))), "OK");
    h.clock.advance(100);
    equal(String(h.run("GET", "k")), "v");
    equal(h.run("PTTL", "k"), 0);
    equal(h.run("EXISTS", "k", "other"), 2);
    deepStrictEqual((h.run("KEYS", "*") as unknown[]).map(String).sort(), ["k", "other"]);
    h.clock.advance(1);
    equal(h.run("GET", "k"), null);
    equal(h.run("PTTL", "k"), -2);
    deepStrictEqual(h.run("KEYS", "*"), []);
  } finally {
    h.close();
  }
});
