/**
 * The keyspace in both layouts: standalone (one KeyDict) and cluster mode (one per hash slot).
 * Every behaviour test below runs against both.
 */
import { deepStrictEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { CLUSTER_SLOTS, keyHashSlot } from "../../shared/slots.ts";
import { Database, type KeyspaceHooks, storedValue } from "./database.ts";
import { activeExpireCycle } from "./expire.ts";
import { pickVictim, type Policy } from "./evict.ts";
import { datasetDigest } from "./digest.ts";
import { SetValue } from "./set.ts";
import { BytesEntry, entryOf, estimateBytes, lruClock, STRING_ENTRY_BYTES } from "./types.ts";
import {
  ByteWriter,
  writeEntry,
  writeHeader,
  writeSelectDb,
  writeTrailer,
} from "../persistence/rdb.ts";
import { readRdb } from "../persistence/rdb_reader.ts";

const MODES = [{ name: "standalone", cluster: false }, { name: "cluster", cluster: true }];

function harness(cluster: boolean, id = 0) {
  const clock = { now: 1_700_000_000_000 };
  const expired: string[] = [];
  const modified: string[] = [];
  const hooks: KeyspaceHooks = {
    lruClock: () => Math.floor(clock.now / 1000),
    nowMs: () => clock.now,
    onExpired: (_db, key) => void expired.push(key),
    expiryMode: () => "delete",
    lfu: () => false,
    lfuParams: () => ({ logFactor: 10, decayMinutes: 1 }),
    keyModified: (_db, key) => void modified.push(key),
    keyAdded: () => {},
  };
  return { db: new Database(id, hooks, { cluster }), clock, expired, modified };
}

/** A full SCAN, running `between` after every call. */
function scanAll(db: Database, count: number, between: (round: number) => void = () => {}) {
  const seen: string[] = [];
  let cursor = 0n, round = 0;
  do {
    cursor = BigInt(db.scanKeys(cursor, count, (k) => void seen.push(k)));
    between(round++);
  } while (cursor !== 0n);
  return seen;
}

/** A set value with its encoding decided, as commands leave it. */
function setOf(...members: string[]): SetValue {
  const v = new SetValue(members);
  v.checkEncoding(512);
  return v;
}

const KEY = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.string({ maxLength: 3 }).map((s) => `{user1}${s}`),
);

for (const { name, cluster } of MODES) {
  Deno.test(`${name}: set, get, delete, TTLs and size agree with a model`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("set", "del", "expire", "persist"), KEY), {
          maxLength: 120,
        }),
        (ops) => {
          const { db } = harness(cluster);
          const ref = new Map<string, string>();
          const ttl = new Set<string>();
          ops.forEach(([op, key], i) => {
            if (op === "set") {
              db.set(key, `v${i}`);
              ref.set(key, `v${i}`);
              ttl.delete(key);
            } else if (op === "del") {
              equal(db.delete(key), ref.delete(key));
              ttl.delete(key);
            } else if (op === "expire" && ref.has(key)) {
              db.setExpire(key, Date.now() + 100_000_000);
              ttl.add(key);
            } else if (op === "persist") {
              equal(db.persist(key), ttl.delete(key));
            }
          });
          equal(db.size, ref.size);
          equal(db.expires.size, ttl.size);
          for (const [k, v] of ref) {
            equal(db.get(k), v);
            equal(db.peek(k)?.value, v);
            equal(db.peek(k) !== undefined, true);
          }
          deepStrictEqual(new Set(db.keys()), new Set(ref.keys()));
          deepStrictEqual(new Map([...db.entries()].map(([k, e]) => [k, e.value])), ref);
          if (cluster) {
            for (const k of ref.keys()) {
              const slot = keyHashSlot(k);
              const inSlot = [...ref.keys()].filter((x) => keyHashSlot(x) === slot);
              equal(db.countKeysInSlot(slot), inSlot.length);
              deepStrictEqual(new Set(db.keysInSlot(slot, 1000)), new Set(inSlot));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  Deno.test(`${name}: an expired key disappears on access and is reported once`, () => {
    const { db, clock, expired } = harness(cluster);
    db.set("a", "1");
    db.set("b", "2");
    db.setExpire("a", clock.now + 1000);
    equal(db.get("a"), "1");
    // Alive through its TTL's millisecond, as in Redis (expired when the time is past it).
    clock.now += 1000;
    equal(db.get("a"), "1");
    clock.now += 1;
    equal(db.get("a"), undefined);
    equal(db.peek("a"), undefined);
    deepStrictEqual(expired, ["a"]);
    equal(db.size, 1);
    equal(db.expires.size, 0);
    equal(db.get("b"), "2");
  });

  Deno.test(`${name}: clear and swapWith move or drop every key, TTL and byte`, () => {
    const one = harness(cluster, 0).db, two = harness(cluster, 1).db;
    for (let i = 0; i < 100; i++) one.set(`k${i}`, "x");
    one.setExpire("k1", Date.now() + 1e9);
    two.set("{user1}only", "y");
    const bytes = one.bytes;
    one.swapWith(two);
    equal(one.size, 1);
    equal(two.size, 100);
    equal(two.bytes, bytes);
    equal(two.getExpire("k1") !== undefined, true);
    equal(one.get("{user1}only"), "y");
    equal(two.clear(), 100);
    equal(two.size, 0);
    equal(two.bytes, 0);
    equal(two.expires.size, 0);
    deepStrictEqual([...two.keys()], []);
    equal(two.randomKey(), undefined);
    equal(two.scanKeys(0n, 10, () => {}), 0);
    two.set("again", "z");
    deepStrictEqual([...two.keys()], ["again"]);
  });

  Deno.test(`${name}: SCAN returns every key present for the whole iteration under churn`, () => {
    const { db } = harness(cluster);
    // Plain keys spread over the slots, and many keys sharing one slot through a hash tag.
    const stable = [
      ...Array.from({ length: 1500 }, (_, i) => `s${i}`),
      ...Array.from({ length: 500 }, (_, i) => `{user1}s${i}`),
    ];
    // Doomed keys between the stable ones: deleting them shifts the positions of later keys.
    const doomed: string[] = [];
    stable.forEach((k, i) => {
      db.set(k, "v");
      const d = i % 4 ? `d${i}` : `{user1}d${i}`;
      db.set(d, "v");
      doomed.push(d);
    });
    let extra = 0;
    const seen = scanAll(db, 50, (round) => {
      for (let i = 0; i < 30; i++) db.set(i % 3 ? `t${extra++}` : `{user1}t${extra++}`, "v");
      for (let i = 0; i < 10; i++) {
        const j = round * 30 + i;
        db.delete(`t${j}`);
        db.delete(`{user1}t${j}`);
      }
      for (const d of doomed.splice(0, 40)) db.delete(d);
    });
    const got = new Set(seen);
    const missing = stable.filter((k) => !got.has(k));
    deepStrictEqual(missing, []);
    // Each stable key once: the live iterators never go back.
    equal(seen.filter((k) => k.startsWith("s") || k.startsWith("{user1}s")).length, stable.length);
  });

  Deno.test(`${name}: SCAN with a cursor dropped from the table resumes by position`, () => {
    const { db } = harness(cluster);
    const keys = Array.from({ length: 3000 }, (_, i) => `key:${i}`);
    for (const k of keys) db.set(k, "v");
    const seen = new Set<string>();
    let cursor = BigInt(db.scanKeys(0n, 100, (k) => void seen.add(k)));
    // Enough other scans to push this cursor out of the table of open iterations.
    for (let i = 0; i < 5000; i++) db.scanKeys(0n, 1, () => {});
    while (cursor !== 0n) cursor = BigInt(db.scanKeys(cursor, 100, (k) => void seen.add(k)));
    equal(seen.size, keys.length);
  });

  Deno.test(`${name}: RANDOMKEY returns live keys, every one of them, and skips expired ones`, () => {
    const { db, clock } = harness(cluster);
    equal(db.randomKey(), undefined);
    const keys = Array.from({ length: 50 }, (_, i) => `r${i}`);
    for (const k of keys) db.set(k, "v");
    const drawn = new Set<string>();
    for (let i = 0; i < 5000; i++) drawn.add(db.randomKey()!);
    deepStrictEqual([...drawn].sort(), [...keys].sort());
    for (const k of keys.slice(1)) db.setExpire(k, clock.now + 10);
    clock.now += 11;
    for (let i = 0; i < 20; i++) equal(db.randomKey(), "r0");
    ok(db.size < 50, "expired keys met by RANDOMKEY are deleted");
  });

  Deno.test(`${name}: active expiry removes every expired key and only those`, () => {
    const { db, clock, expired } = harness(cluster);
    for (let i = 0; i < 400; i++) {
      db.set(`e${i}`, "v");
      db.setExpire(`e${i}`, clock.now + (i % 2 ? 10 : 1_000_000));
    }
    for (let i = 0; i < 100; i++) db.set(`p${i}`, "v");
    clock.now += 11;
    for (let i = 0; i < 50 && db.size > 300; i++) activeExpireCycle([db], clock.now, 1000);
    equal(db.size, 300);
    equal(db.expires.size, 200);
    equal(expired.length, 200);
    ok(expired.every((k) => Number(k.slice(1)) % 2 === 1));
  });

  Deno.test(`${name}: eviction picks only candidates its policy allows, until none is left`, () => {
    const { db } = harness(cluster);
    for (let i = 0; i < 200; i++) db.set(`a${i}`, "v");
    for (let i = 0; i < 100; i++) {
      db.set(`{user1}v${i}`, "v");
      db.setExpire(`{user1}v${i}`, Date.now() + 1e9 + i);
    }
    const policies: Policy[] = ["volatile-lru", "volatile-ttl", "volatile-random"];
    for (let n = 0; n < 100; n++) {
      const v = pickVictim([db], policies[n % 3]!, 5, 1)!;
      ok(v.key.startsWith("{user1}v"), `${policies[n % 3]} picked ${v.key}`);
      ok(db.delete(v.key));
    }
    equal(pickVictim([db], "volatile-lru", 5, 1), null);
    for (let n = 0; n < 200; n++) ok(db.delete(pickVictim([db], "allkeys-lru", 5, 1)!.key));
    equal(db.size, 0);
    equal(pickVictim([db], "allkeys-random", 5, 1), null);
  });

  Deno.test(`${name}: a background save sees the keyspace as of its start (RDB round trip)`, () => {
    const { db } = harness(cluster);
    for (let i = 0; i < 200; i++) db.set(`k${i}`, `v${i}`);
    db.set("{user1}set", setOf("a", "b"));
    db.setExpire("k7", Date.now() + 1e9);
    const expires = new Map(db.expires);
    const entries = db.copyEntries();
    db.snapshot = entries;
    // Changes after the snapshot: overwrite, delete, add, and an in-place change of an aggregate.
    db.set("k1", "changed");
    db.delete("k2");
    db.set("new", "n");
    (db.lookup("{user1}set")!.value as SetValue).addMembers(["c"], 0, 512);
    db.setExpire("k3", Date.now() + 5e9);

    const w = new ByteWriter();
    const o = { compress: false };
    writeHeader(w, [], o);
    writeSelectDb(w, db.id, entries.size, expires.size);
    for (const [key, e] of entries) {
      writeEntry(w, key, storedValue(db.snapshot.get(key) ?? e), expires.get(key), o);
    }
    const file = writeTrailer(w, true);
    db.snapshot = null;

    const loaded = harness(cluster).db;
    readRdb(file, (k) => {
      loaded.loadEntry(k.key, entryOf(k.value, 0));
      if (k.expireMs !== undefined) loaded.expires.set(k.key, k.expireMs);
    });
    loaded.recount();
    equal(loaded.size, 201);
    equal(loaded.get("k1"), "v1");
    equal(loaded.get("k2"), "v2");
    equal(loaded.get("new"), undefined);
    deepStrictEqual((loaded.get("{user1}set") as SetValue).members(), ["a", "b"]);
    deepStrictEqual([...loaded.expires.keys()], ["k7"]);
    // The live keyspace has the changes.
    deepStrictEqual((db.get("{user1}set") as SetValue).members(), ["a", "b", "c"]);
    equal(db.get("k1"), "changed");
    equal(db.size, 201);
  });

  Deno.test(`${name}: a background save keeps values that change kind or key`, () => {
    const { db } = harness(cluster);
    db.set("s", "str");
    db.set("agg", setOf("a"));
    db.set("moved", setOf("m"));
    db.set("kept", setOf("k"));
    db.snapshot = db.copyEntries();
    // A string becomes an aggregate and an aggregate a string: new entries, the old untouched.
    db.set("s", setOf("x"));
    db.set("agg", "now a string");
    // A RENAME: the aggregate (its own entry) moves to another key, then changes there.
    const e = db.lookup("moved")!;
    db.delete("moved");
    db.set("dst", e.value);
    (db.lookup("dst")!.value as SetValue).addMembers(["n"], 0, 512);
    // Set again under its own key, then changed.
    db.set("kept", db.lookup("kept")!.value);
    (db.lookup("kept")!.value as SetValue).addMembers(["l"], 0, 512);

    const seen = (key: string) => {
      const e = db.snapshot!.get(key);
      const v = e === undefined ? undefined : storedValue(e);
      return v === undefined || typeof v === "string" ? v : (v as SetValue).members();
    };
    equal(seen("s"), "str");
    deepStrictEqual(seen("agg"), ["a"]);
    deepStrictEqual(seen("moved"), ["m"]);
    equal(seen("dst"), undefined);
    deepStrictEqual(seen("kept"), ["k"]);
    db.snapshot = null;
    deepStrictEqual((db.get("s") as SetValue).members(), ["x"]);
    equal(db.get("agg"), "now a string");
    deepStrictEqual((db.get("dst") as SetValue).members(), ["m", "n"]);
    deepStrictEqual((db.get("kept") as SetValue).members(), ["k", "l"]);
    equal(db.get("moved"), undefined);
  });

  Deno.test(`${name}: a string held as bytes and changed in place is saved as it was`, () => {
    const { db, modified } = harness(cluster);
    db.set("h", "abcdef");
    // A command gives the key a BytesEntry (no change), then changes it in place. (The first
    // lookup may give a bare string key its entry, which the estimate counts.)
    const old = db.lookup("h")!;
    const before = db.bytes;
    const h = new BytesEntry(new TextEncoder().encode("abcdef"), old.meta);
    db.replaceEntry("h", old, h);
    db.snapshot = db.copyEntries();
    // As the commands do it: a lookup first, then the change, then the signal.
    const change = (edit: (b: Uint8Array) => Uint8Array, signal: boolean) => {
      const e = db.lookup("h") as BytesEntry;
      const oldLength = e.bytes.length;
      e.changed(edit(e.bytes));
      db.bytesChanged("h", e, oldLength, signal);
    };
    modified.length = 0;
    change((b) => {
      b[0] = 0x41;
      return b;
    }, true);
    equal(storedValue(db.snapshot.get("h")!), "abcdef");
    equal(db.get("h"), "Abcdef");
    deepStrictEqual(modified, ["h"]);
    // Longer bytes: the estimate follows; an unsignalled change tells no one.
    change(() => new TextEncoder().encode("Abcdefghijklmnop"), false);
    deepStrictEqual(modified, ["h"]);
    equal(db.bytes - before, estimateBytes("h", "Abcdefghijklmnop") - estimateBytes("h", "abcdef"));
    equal(storedValue(db.snapshot.get("h")!), "abcdef");
    db.snapshot = null;
    equal(db.get("h"), "Abcdefghijklmnop");
    // Any other write makes it a plain string again, the TTL kept by update().
    db.setExpire("h", Date.now() + 1e9);
    db.update("h", db.lookup("h")!, "xyz");
    ok(!(db.peek("h") instanceof BytesEntry));
    equal(db.get("h"), "xyz");
    ok(db.getExpire("h") !== undefined);
    throws(() => db.replaceEntry("h", h, h));
  });

  Deno.test(`${name}: the memory estimate is the same whichever way a key changed kind`, () => {
    const { db } = harness(cluster);
    db.set("a", "v");
    db.set("a", setOf("p", "q"));
    const one = db.bytes;
    db.set("b", setOf("p", "q"));
    equal(db.bytes, 2 * one);
    const both = db.bytes;
    db.set("a", "v");
    db.set("a", setOf("p", "q"));
    equal(db.bytes, both);
    db.storeUnchanged("b", "bits");
    db.delete("a");
    db.delete("b");
    equal(db.bytes, 0);
  });

  Deno.test(`${name}: strings of the shared clock tick have no entry until looked up`, () => {
    const { db, clock } = harness(cluster);
    const t0 = lruClock(Math.floor(clock.now / 1000));
    const recounted = () => {
      const running = db.bytes;
      db.recount();
      equal(db.bytes, running);
      return running;
    };
    db.set("a", "x");
    db.set("b", "y");
    const bare = recounted();
    equal(bare, 2 * (estimateBytes("a", "x") - STRING_ENTRY_BYTES));
    // A later tick: the new key gets an entry of its own; the bare ones keep the shared clock.
    clock.now += 5000;
    db.set("c", "z");
    equal(recounted() - bare, estimateBytes("c", "z"));
    equal(db.peek("a")!.clock, t0);
    equal(db.peek("c")!.clock, t0 + 5);
    // A lookup gives the key its entry, which the access then updates.
    const before = db.bytes;
    const e = db.lookup("a")!;
    equal(e.clock, t0 + 5);
    equal(db.bytes - before, STRING_ENTRY_BYTES);
    equal(db.lookup("a"), e);
    recounted();
    // A background save's view of a bare key survives its changes, whichever way they come.
    db.set("d", "w");
    clock.now += 5000;
    db.snapshot = db.copyEntries();
    db.update("b", db.lookup("b")!, "b2");
    db.update("d", db.peek("d")!, "d2");
    db.storeUnchanged("c", "c2");
    deepStrictEqual(["b", "c", "d"].map((k) => storedValue(db.snapshot!.get(k)!)), ["y", "z", "w"]);
    deepStrictEqual(["b", "c", "d"].map((k) => db.get(k)), ["b2", "c2", "d2"]);
    db.snapshot = null;
    recounted();
    // Emptied, the database takes the clock of its next first key as the shared one.
    const other = harness(cluster).db;
    other.set("o", "1");
    db.clear();
    db.set("n", "2");
    equal(db.bytes, estimateBytes("n", "2") - STRING_ENTRY_BYTES);
    equal(db.peek("n")!.clock, t0 + 10);
    db.swapWith(other);
    equal(db.peek("o")!.clock, t0);
    equal(other.peek("n")!.clock, t0 + 10);
    // A load holds a string bare when its clock is the shared one.
    equal(db.loadValue("p", "3", db.peek("o")!.meta), true);
    equal(db.loadValue("q", "4", 77), true);
    equal(db.peek("q")!.clock, 77);
    db.recount();
    equal(db.bytes, 2 * (estimateBytes("o", "1") - STRING_ENTRY_BYTES) + estimateBytes("q", "4"));
  });
}

Deno.test("both layouts hold the same dataset: same digest, same keys", () => {
  const a = harness(false).db, b = harness(true).db;
  for (const db of [a, b]) {
    for (let i = 0; i < 300; i++) db.set(`d${i}`, String(i));
    db.set("{user1}s", setOf("x"));
    db.setExpire("d5", 2e12);
  }
  equal(datasetDigest([a]), datasetDigest([b]));
  notEqual(datasetDigest([a]), "0".repeat(40));
  deepStrictEqual(new Set(a.keys()), new Set(b.keys()));
});

Deno.test("cluster mode: slot counts, listing and deletion cost only the slot", () => {
  const { db, modified } = harness(true);
  const tagged = Array.from({ length: 100 }, (_, i) => `{user1000}.k${i}`);
  for (const k of tagged) db.set(k, "v");
  for (let i = 0; i < 100; i++) db.set(`other${i}`, "w");
  for (const k of tagged.slice(0, 10)) db.setExpire(k, Date.now() + 1e9);
  db.setExpire("other1", Date.now() + 1e9);
  const slot = keyHashSlot("user1000");
  equal(slot, 3443);
  const others = Array.from({ length: 100 }, (_, i) => `other${i}`)
    .filter((k) => keyHashSlot(k) !== slot);
  equal(db.countKeysInSlot(slot), 100);
  deepStrictEqual(db.keysInSlot(slot, 5), tagged.slice(0, 5));
  deepStrictEqual(db.keysInSlot(slot, 1000), tagged);
  equal(db.countKeysInSlot(0), 0);
  deepStrictEqual(db.keysInSlot(0, 10), []);

  const bytesOthers = harness(true).db;
  for (const k of others) bytesOthers.set(k, "w");
  const watcher = {
    dirty: false,
    markDirty() {
      this.dirty = true;
    },
  };
  db.watched.set("{user1000}.k3", new Set([{ watcher, expired: false }]));
  modified.length = 0;
  const deleted: string[] = [];
  equal(db.deleteSlot(slot, (k) => deleted.push(k)), 100);
  deepStrictEqual(deleted, tagged);
  deepStrictEqual(modified, tagged);
  ok(watcher.dirty);
  equal(db.countKeysInSlot(slot), 0);
  equal(db.size, others.length);
  equal(db.expires.size, others.includes("other1") ? 1 : 0);
  equal(db.bytes, bytesOthers.bytes);
  equal(db.get("{user1000}.k0"), undefined);
  equal(db.deleteSlot(slot), 0);
  throws(() => db.countKeysInSlot(CLUSTER_SLOTS), RangeError);
  throws(() => db.keysInSlot(-1, 1), RangeError);
});

Deno.test("standalone: per-slot operations are refused", () => {
  const { db } = harness(false);
  db.set("foo", "v");
  equal(db.cluster, false);
  throws(() => db.countKeysInSlot(12182), /cluster mode off/);
  throws(() => db.keysInSlot(12182, 1), /cluster mode off/);
  throws(() => db.deleteSlot(12182), /cluster mode off/);
  equal(db.size, 1);
});

Deno.test("cluster mode: SCAN cursors carry the slot in their low 14 bits", () => {
  const { db } = harness(true);
  for (let i = 0; i < 2000; i++) db.set(`c${i}`, "v");
  const order: string[] = [];
  let cursor = 0n;
  do {
    const batch: string[] = [];
    cursor = BigInt(db.scanKeys(cursor, 7, (k) => void batch.push(k)));
    if (cursor !== 0n) equal(Number(cursor & 16383n), keyHashSlot(batch[batch.length - 1]!));
    order.push(...batch);
  } while (cursor !== 0n);
  equal(order.length, 2000);
  const slots = order.map(keyHashSlot);
  deepStrictEqual(slots, [...slots].sort((a, b) => a - b));
  // A bare slot number is a cursor at the start of that slot (as in Valkey).
  const from = slots[1000]!;
  const batch: string[] = [];
  db.scanKeys(BigInt(from), 3, (k) => void batch.push(k));
  deepStrictEqual(batch, order.slice(slots.indexOf(from), slots.indexOf(from) + 3));
  // A cursor from another server (a bucket index above the slot) stays within order.
  const foreign: string[] = [];
  db.scanKeys((5n << 14n) | BigInt(from), 3, (k) => void foreign.push(k));
  ok(foreign.every((k) => keyHashSlot(k) >= from));
});

Deno.test("cluster mode: RANDOMKEY draws a slot by its key count", () => {
  const { db } = harness(true);
  db.set("lonely", "v");
  for (let i = 0; i < 1000; i++) db.set(`{crowd}${i}`, "v");
  notEqual(keyHashSlot("lonely"), keyHashSlot("crowd"));
  let lonely = 0;
  for (let i = 0; i < 2000; i++) if (db.randomKey() === "lonely") lonely++;
  // Expected about 2 in 2000; drawing slots uniformly would give about 1000.
  ok(lonely < 40, `lonely drawn ${lonely} times`);
});
