import { equal } from "node:assert/strict";
import { Database, type KeyspaceHooks } from "./database.ts";
import { SetValue } from "./set.ts";
import {
  CLOCK_MAX,
  entryOf,
  idleSeconds,
  LFU_INIT,
  lfuClock,
  lfuDecayed,
  lfuTouched,
  lruClock,
  newClock,
} from "./types.ts";

Deno.test("an entry packs the access clock and the string encoding into one small integer", () => {
  const e = entryOf("v", lruClock(1_700_000_123));
  equal(e.enc, null);
  e.enc = "raw";
  equal(e.enc, "raw");
  equal(e.clock, 1_700_000_123 & CLOCK_MAX);
  e.clock = 42;
  equal(e.enc, "raw");
  equal(e.clock, 42);
  e.enc = "embstr";
  equal(e.enc, "embstr");
  e.enc = null;
  equal(e.enc, null);
  equal(e.clock, 42);
  // Small enough to stay a V8 small integer (31 bits), so an entry allocates nothing more.
  e.enc = "embstr";
  e.clock = CLOCK_MAX;
  equal(e.meta < 2 ** 30, true);
});

Deno.test("idle time comes from the 24-bit LRU clock and survives its wrap-around", () => {
  const t = 1_700_000_000;
  equal(idleSeconds(lruClock(t), t + 17), 17);
  // The clock wraps every 2^24 seconds; across the wrap Redis's formula counts one second
  // less (it adds LRU_CLOCK_MAX - lru, not 2^24 - lru), and so do we.
  const before = 2 ** 24 * 5 - 5; // 5 s before a wrap
  equal(idleSeconds(lruClock(before), before + 10), 9);
});

Deno.test("LFU: counter decays per lfu-decay-time minutes and starts at LFU_INIT", () => {
  const t = 1_700_000_000;
  const c = newClock(t, true);
  equal(lfuDecayed(c, t, 1), LFU_INIT);
  equal(lfuDecayed(lfuClock(t, 100), t + 60 * 30, 1), 70);
  equal(lfuDecayed(lfuClock(t, 100), t + 60 * 30, 10), 97);
  equal(lfuDecayed(lfuClock(t, 3), t + 60 * 30, 1), 0);
  equal(lfuDecayed(lfuClock(t, 3), t + 60 * 30, 0), 3);
  // Many accesses grow the counter, logarithmically, never past 255.
  let clock = c;
  for (let i = 0; i < 100_000; i++) clock = lfuTouched(clock, t, { logFactor: 0, decayMinutes: 1 });
  equal(clock & 0xff, 255);
});

function hooks(): KeyspaceHooks {
  return {
    lruClock: () => 1_700_000_000,
    nowMs: () => 1_700_000_000_000,
    onExpired: () => {},
    expiryMode: () => "delete",
    lfu: () => false,
    lfuParams: () => ({ logFactor: 10, decayMinutes: 1 }),
    keyModified: () => {},
    keyAdded: () => {},
  };
}

Deno.test("the memory estimate follows sets, overwrites, in-place changes and deletes", () => {
  const db = new Database(0, hooks());
  const check = () => {
    const running = db.bytes;
    db.recount();
    equal(running, db.bytes);
  };
  db.set("a", "x".repeat(100));
  check();
  db.set("a", "short");
  check();
  db.update("a", db.peek("a")!, "y".repeat(1000));
  check();
  const s = new SetValue(["m1"]);
  db.set("s", s);
  check();
  for (let i = 0; i < 200; i++) s.addMembers([`member-${i}`], 0, 512);
  db.signalModified("s");
  check();
  db.delete("a");
  check();
  db.set("s", "now a string");
  check();
  db.delete("s");
  equal(db.bytes, 0);
});
