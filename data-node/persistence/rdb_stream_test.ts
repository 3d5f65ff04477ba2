/**
 * Streams in the RDB codec: type 19 written and read back (every chunking of the streaming
 * reader, truncation at every byte), and type 15 (Redis 5/6) read with Redis 7.0's defaults
 * for the counters it lacks.
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import {
  ByteWriter,
  dumpPayload,
  type LoadedKey,
  RdbError,
  restorePayload,
  writeEntry,
  writeHeader,
  writeSelectDb,
  writeTrailer,
} from "./rdb.ts";
import { RdbReader } from "./rdb_reader.ts";
import { encodeListpack } from "./compact.ts";
import {
  Consumer,
  ConsumerGroup,
  formatId,
  ID_MAX,
  INVALID_ENTRIES_READ,
  makeId,
  StreamValue,
} from "../store/stream.ts";
import type { Value } from "../store/types.ts";

const id = (ms: number | bigint, seq = 0) => makeId(BigInt(ms), BigInt(seq));

/** Everything a stream holds, in a comparable form. */
function plain(v: Value): unknown {
  ok(v instanceof StreamValue);
  const s = v as StreamValue;
  return {
    entries: s.range(0n, ID_MAX, 0).map(([i, f]) => [formatId(i), ...f]),
    nodes: s.nodes.map((n) => [formatId(n.master), n.live]),
    length: s.length,
    last: formatId(s.lastId),
    first: formatId(s.firstId),
    maxDeleted: formatId(s.maxDeletedId),
    added: s.entriesAdded,
    groups: s.groupList().map((g) => ({
      name: g.name,
      last: formatId(g.lastId),
      read: g.entriesRead,
      pel: g.pendingIds().map((i) => {
        const n = g.pel.get(i)!;
        return [formatId(i), n.consumer.name, n.time, n.count];
      }),
      consumers: g.consumerList().map((c) => [c.name, c.seenTime, [...c.pel.keys()].length]),
    })),
  };
}

function sample(): StreamValue {
  const s = new StreamValue();
  const limits = { maxBytes: 4096, maxEntries: 3 };
  for (let i = 1; i <= 8; i++) {
    const fields = i % 3 ? ["a", String(i), "b", "x".repeat(i * 10)] : ["other", String(-i)];
    s.append(id(1000 + i, i), fields, limits);
  }
  // An ID that needs all 64 bits of both halves.
  s.append(makeId(2n ** 64n - 2n, 2n ** 64n - 1n), ["big", "id"], limits);
  s.delete(id(1002, 2));
  s.delete(id(1004, 4));
  const g = new ConsumerGroup("g", id(1005, 5), INVALID_ENTRIES_READ);
  const h = new ConsumerGroup("12", 0n, 0);
  s.groups.set("g", g);
  s.groups.set("12", h);
  const alice = new Consumer("alice", 1_700_000_000_123), bob = new Consumer("bob", 5);
  g.consumers.set("alice", alice);
  g.consumers.set("bob", bob);
  for (const [i, c] of [[id(1001, 1), alice], [id(1003, 3), bob], [id(1005, 5), alice]] as const) {
    const n = { id: i, time: 1_700_000_000_000 + Number(i >> 64n), count: 2, consumer: c };
    g.pel.set(i, n);
    c.pel.set(i, n);
  }
  return s;
}

function fileWith(v: Value): Uint8Array {
  const o = { compress: true };
  const w = new ByteWriter();
  writeHeader(w, [["redis-ver", "7.0.15"]], o);
  writeSelectDb(w, 0, 2, 0);
  writeEntry(w, "st", v, undefined, o);
  writeEntry(w, "after", "x", undefined, o);
  return writeTrailer(w, true);
}

Deno.test("a stream reads back as written, through DUMP and in every chunking of a file", () => {
  const s = sample();
  const want = plain(s);
  const restored = restorePayload(dumpPayload(s));
  ok("value" in restored);
  deepStrictEqual(plain(restored.value), want);
  const file = fileWith(s);
  for (const size of [1, 2, 7, 64, file.length]) {
    const keys: LoadedKey[] = [];
    const reader = new RdbReader((k) => keys.push(k));
    for (let off = 0; off < file.length; off += size) {
      reader.feed(file.slice(off, Math.min(file.length, off + size)));
    }
    reader.end();
    equal(keys.length, 2, `chunks of ${size}`);
    deepStrictEqual(plain(keys[0]!.value), want, `chunks of ${size}`);
    equal(keys[1]!.value, "x");
  }
});

Deno.test("a stream cut anywhere is an RdbError, never a crash", () => {
  const file = fileWith(sample());
  for (let cut = 0; cut < file.length; cut++) {
    const reader = new RdbReader(() => {});
    reader.feed(file.subarray(0, cut));
    throws(() => reader.end(), RdbError, `cut at ${cut}`);
  }
  const payload = dumpPayload(sample());
  for (let cut = 0; cut < payload.length - 10; cut += 3) {
    const broken = new Uint8Array(payload.length - (payload.length - 10 - cut));
    broken.set(payload.subarray(0, cut));
    broken.set(payload.subarray(payload.length - 10, payload.length - 8), cut);
    const r = restorePayload(broken);
    ok("error" in r, `payload cut at ${cut}`);
  }
});

/** Bytes of an RDB length below 64 or a 16-byte ID: enough for the hand-made payload below. */
function idBytes(ms: number, seq: number): number[] {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(ms));
  v.setBigUint64(8, BigInt(seq));
  return [...b];
}

function millis(t: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(t), true);
  return [...b];
}

Deno.test("type 15 streams (no first ID, deletion or read counters) load as Redis 7.0 does", () => {
  // One node with master entry [a], entries 5-1 {a: 1} (same fields) and 5-2 {b: 2}.
  const lp = encodeListpack([
    "2",
    "0",
    "1",
    "a",
    "0",
    "2",
    "0",
    "0",
    "1",
    "4",
    "0",
    "0",
    "1",
    "1",
    "b",
    "2",
    "6",
  ]); // deno-fmt-ignore
  const bytes = [
    15,
    1, // one node
    16,
    ...idBytes(5, 1),
    lp.length,
    ...lp,
    2, // length
    5, // last ID ms
    2, // last ID seq
    1, // one group
    1,
    "g".charCodeAt(0),
    5, // group last ID 5-1
    1,
    1, // one pending entry
    ...idBytes(5, 1),
    ...millis(1234),
    3,
    1, // one consumer
    1,
    "c".charCodeAt(0),
    ...millis(99),
    1,
    ...idBytes(5, 1),
    10, // RDB version
    0,
    ...new Array(8).fill(0), // no checksum
  ];
  ok(lp.length < 64);
  // Hand-built: its checksum is not computed (DEBUG SET-SKIP-CHECKSUM-VALIDATION 1's way).
  const r = restorePayload(new Uint8Array(bytes), { skipChecksum: true });
  ok("value" in r, "error" in r ? r.error : "");
  deepStrictEqual(plain(r.value), {
    entries: [["5-1", "a", "1"], ["5-2", "b", "2"]],
    nodes: [["5-1", 2]],
    length: 2,
    last: "5-2",
    first: "5-1",
    maxDeleted: "0-0",
    added: 2,
    // entries-read is what the counters allow: the group is at the first entry.
    groups: [{
      name: "g",
      last: "5-1",
      read: 1,
      pel: [["5-1", "c", 1234, 3]],
      consumers: [["c", 99, 1]],
    }],
  });
});
