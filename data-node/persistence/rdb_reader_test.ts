/**
 * The streaming RDB reader: any split of a file into chunks reads exactly as the whole file
 * does, truncated and corrupt streams are errors (never crashes), bytes after the RDB are left
 * to the caller, and the reader's memory stays bounded by the largest item plus a chunk.
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import {
  ByteWriter,
  type LoadedKey,
  OP,
  type RdbContents,
  RdbError,
  writeEntry,
  writeHeader,
  writeSelectDb,
  writeString,
  writeTrailer,
} from "./rdb.ts";
import { type FeedResult, RdbReader, readRdb, type SyncSource } from "./rdb_reader.ts";
import { crc64 } from "./crc64.ts";
import { ListValue } from "../store/list.ts";
import { SetValue } from "../store/set.ts";
import { HashValue } from "../store/hash.ts";
import { ZSetValue } from "../store/zset.ts";
import { applyEncodingLimits, type Value } from "../store/types.ts";
import { hasRedis, startRedisServer } from "../../tests/helpers/process.ts";
import { RawConn } from "../../tests/helpers/raw.ts";
import { RespError } from "../../shared/resp/types.ts";
import { seededRandom } from "../../tests/helpers/random.ts";

/** A fixed expiry (the reader does not judge expiries), so every run reads the same bytes. */
const FUTURE = 4_000_000_000_000;
const BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

/** A value in a comparable form (set and hash orders, skiplist levels do not matter). */
function plain(v: Value): unknown {
  if (typeof v === "string") return v;
  if (v instanceof ListValue) return ["list", ...v.range()];
  if (v instanceof SetValue) return ["set", ...v.members().sort()];
  if (v instanceof HashValue) {
    return [
      "hash",
      ...[...v.toMap()].map(([f, x]) => `${f}=${x}`).sort(),
    ];
  }
  if (v instanceof ZSetValue) return ["zset", ...v.entries()];
  throw new Error("unknown value");
}

interface Parsed {
  keys: unknown[];
  contents: RdbContents;
  /** The top-level items the feeds reported. */
  items: number;
}

function collector(): { keys: unknown[]; onKey: (k: LoadedKey) => void } {
  const keys: unknown[] = [];
  return {
    keys,
    onKey: (k) => keys.push([k.db, k.key, plain(k.value), k.expireMs, k.idle, k.freq]),
  };
}

/** The whole file in one call, as `readRdb` reads a buffer. */
function parseWhole(file: Uint8Array): Parsed {
  const c = collector();
  const reader = new RdbReader(c.onKey);
  const r = reader.feed(file);
  deepStrictEqual(r, { items: r.items, used: file.length, done: true });
  return { keys: c.keys, contents: reader.end(), items: r.items };
}

/** Feeds `file` in chunks of the sizes `size()` picks; checks what each feed reports. */
function parseChunked(file: Uint8Array, size: () => number): Parsed {
  const c = collector();
  const reader = new RdbReader(c.onKey);
  let items = 0;
  for (let off = 0; off < file.length;) {
    const n = Math.max(1, Math.min(size(), file.length - off));
    // A fresh copy each time, overwritten after: the reader must not keep a chunk.
    const chunk = file.slice(off, off + n);
    const r = reader.feed(chunk);
    chunk.fill(0xee);
    items += r.items;
    equal(r.used, n);
    equal(r.done, off + n === file.length);
    off += n;
  }
  return { keys: c.keys, contents: reader.end(), items };
}

/** Every way of reading a file in chunks gives what reading it whole gives. */
function checkAllSplits(file: Uint8Array, seed: number): Parsed {
  const whole = parseWhole(file);
  const rnd = seededRandom(seed);
  const splits: [string, () => number][] = [
    ["1 byte", () => 1],
    ["random 1-16 bytes", () => 1 + Math.floor(rnd() * 16)],
    ["random 1-700 bytes", () => 1 + Math.floor(rnd() * 700)],
    ["random 1-100000 bytes", () => 1 + Math.floor(rnd() * 100000)],
    ["64 KiB", () => 65536],
    ["whole file", () => file.length],
  ];
  for (const [name, size] of splits) {
    const got = parseChunked(file, size);
    deepStrictEqual(got.keys, whole.keys, `${name} chunks (seed ${seed}): keys`);
    deepStrictEqual(got.contents, whole.contents, `${name} chunks (seed ${seed}): contents`);
    equal(got.items, whole.items, `${name} chunks (seed ${seed}): items`);
  }
  // readRdb (a buffer) agrees.
  const c = collector();
  deepStrictEqual(readRdb(file, c.onKey), whole.contents);
  deepStrictEqual(c.keys, whole.keys);
  return whole;
}

/** Redis's default limits for compact encodings. */
const LIMITS: Record<string, number> = {
  "hash-max-listpack-entries": 128,
  "hash-max-listpack-value": 64,
  "zset-max-listpack-entries": 128,
  "zset-max-listpack-value": 64,
  "set-max-intset-entries": 512,
};
const config = { get: <T>(name: string) => LIMITS[name] as T };

/** An RDB written by our writer: [db, key, value, expiry] in order. */
function writeFile(
  entries: [number, string, Value, number | undefined][],
  checksum = true,
): Uint8Array {
  const o = { compress: true };
  const w = new ByteWriter();
  const parts: Uint8Array[] = [];
  writeHeader(w, [["redis-ver", "7.0.15"], ["redis-bits", "64"]], o);
  const dbs = [...new Set(entries.map((e) => e[0]))];
  for (const db of dbs) {
    const mine = entries.filter((e) => e[0] === db);
    writeSelectDb(w, db, mine.length, mine.filter((e) => e[3] !== undefined).length);
    for (const [, key, value, exp] of mine) {
      applyEncodingLimits(value, config);
      writeEntry(w, key, value, exp, o);
      if (w.len > 4096) parts.push(w.take());
    }
  }
  parts.push(writeTrailer(w, checksum));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Text that LZF cannot shrink, so a value really is this many bytes in the file. */
function noise(n: number, seed: number): string {
  const rnd = seededRandom(seed);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(33 + Math.floor(rnd() * 94));
  return s;
}

function ourEntries(): [number, string, Value, number | undefined][] {
  const zbig = new ZSetValue();
  for (let i = 0; i < 300; i++) zbig.add(`m${i}`, i % 7 === 0 ? -Infinity : i * 1.5);
  const hbig = new HashValue();
  for (let i = 0; i < 400; i++) hbig.set(`field${i}`, noise(40, i));
  return [
    [0, "s:small", "hello", undefined],
    [0, "s:int", "12345", undefined],
    [0, "s:neg", "-7", undefined],
    [0, "s:i32", "-2000000000", undefined],
    [0, "s:bin", BYTES, undefined],
    [0, "s:lzf", "abc".repeat(1000), undefined],
    [0, "s:ttl", "v", FUTURE],
    [0, "s:noise", noise(150_000, 1), undefined],
    [0, "l:small", new ListValue(["a", "1", "-2", "300000", BYTES]), undefined],
    [0, "l:big", new ListValue(Array.from({ length: 3000 }, (_, i) => `item-${i}`)), undefined],
    [0, "set:int", new SetValue(["1", "2", "3", "-100", "99999999999"]), undefined],
    [0, "set:str", new SetValue(["a", "b", BYTES]), undefined],
    [0, "h:small", new HashValue([["f1", "v1"], ["n", "10"]]), undefined],
    [0, "h:big", hbig, FUTURE + 1],
    [
      0,
      "z:small",
      (() => {
        const z = new ZSetValue();
        z.add("a", 1);
        z.add("b", -Infinity);
        z.add(BYTES, 2.5);
        return z;
      })(),
      undefined,
    ],
    [0, "z:big", zbig, undefined],
    [3, "db3key", "in db 3", undefined],
    [15, "db15key", new ListValue(["x"]), undefined],
  ];
}

Deno.test("a file our writer made reads the same in every chunking as whole", () => {
  const file = writeFile(ourEntries());
  const whole = checkAllSplits(file, 1);
  equal(whole.keys.length, 18);
  // 18 keys, 2 aux fields, SELECTDB and RESIZEDB for each of 3 databases.
  equal(whole.items, 18 + 2 + 6);
  deepStrictEqual(whole.keys[7], [
    0,
    "s:noise",
    noise(150_000, 1),
    undefined,
    undefined,
    undefined,
  ]);
  deepStrictEqual((whole.keys[16] as unknown[]).slice(0, 3), [3, "db3key", "in db 3"]);
  equal(whole.contents.aux.get("redis-ver"), "7.0.15");
});

Deno.test("function records of both formats read the same in every chunking as whole", () => {
  const o = { compress: true };
  const w = new ByteWriter();
  const code = "redis.register_function('f', function() return 1 end) -- " + "x".repeat(200);
  writeHeader(w, [["redis-ver", "7.0.15"]], o);
  w.byte(OP.FUNCTION2);
  writeString(w, "#!lua name=new\n" + code, o);
  // The release candidates' format: name, engine, a description flag (1 then 0), the code.
  for (const desc of [true, false]) {
    w.byte(OP.FUNCTION);
    writeString(w, desc ? "withdesc" : "nodesc", o);
    writeString(w, "LUA", o);
    w.byte(desc ? 1 : 0);
    if (desc) writeString(w, "described " + "d".repeat(100), o);
    writeString(w, code, o);
  }
  writeSelectDb(w, 0, 1, 0);
  writeEntry(w, "after", "the functions", undefined, o);
  const whole = checkAllSplits(writeTrailer(w, true), 21);
  deepStrictEqual(whole.contents.functions, [
    "#!lua name=new\n" + code,
    "#!LUA name=withdesc\n" + code,
    "#!LUA name=nodesc\n" + code,
  ]);
  deepStrictEqual((whole.keys[0] as unknown[]).slice(0, 3), [0, "after", "the functions"]);
});

Deno.test({
  name: "files real redis-server saved (every type, LFU and LRU opcodes, functions) read the " +
    "same in every chunking as whole",
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: !hasRedis,
  fn: async () => {
    await using redis = await startRedisServer(["--maxmemory-policy", "allkeys-lfu"]);
    using r = await RawConn.connect(redis.port);
    const big = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    const cmds: string[][] = [
      ["SET", "s:small", "hello"],
      ["SET", "s:int", "12345"],
      ["SET", "s:i16", "-30000"],
      ["SET", "s:i32", "2000000000"],
      ["SET", "s:bigint", "9223372036854775807"],
      ["SET", "s:bin", BYTES],
      ["SET", "s:lzf", "abc".repeat(1000)],
      ["SET", "s:noise", noise(150_000, 2)],
      ["SET", "s:px", "v", "PX", "3600000"],
      ["SET", "s:ex", "v", "EX", "7200"],
      ["RPUSH", "l:small", "a", "1", "-2", "300000", BYTES],
      ["RPUSH", "l:big", ...big(5000, (i) => `item-${i}-${"x".repeat(i % 80)}`)],
      ["SADD", "set:int", "1", "2", "3", "-100", "99999999999"],
      ["SADD", "set:str", "a", "b", BYTES],
      ["SADD", "set:big", ...big(3000, (i) => `member-${i}`)],
      ["HSET", "h:small", "f1", "v1", "n", "10", BYTES, BYTES],
      ["HSET", "h:big", ...big(2000, (i) => (i % 2 ? `val${i}` : `field${i}`))],
      ["ZADD", "z:small", "1", "a", "2.5", "b", "-inf", "c", "1e20", BYTES],
      ["ZADD", "z:big", ...big(1000, (i) => (i % 2 ? `m${i}` : String(i * 1.5)))],
      ["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 1 end)"],
      ["SELECT", "3"],
      ["SET", "db3key", "in db 3"],
      ["SELECT", "15"],
      ["RPUSH", "db15list", "x", "y"],
      ["SELECT", "0"],
    ];
    for (const c of cmds) {
      const reply = await r.call(...c);
      ok(!(reply instanceof RespError), `${c[0]}: ${JSON.stringify(reply)}`);
    }
    const dir = String((await r.call("CONFIG", "GET", "dir") as string[])[1]);
    equal(String(await r.call("SAVE")), "OK");
    const lfu = await Deno.readFile(`${dir}/dump.rdb`);
    await r.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    equal(String(await r.call("SAVE")), "OK");
    const lru = await Deno.readFile(`${dir}/dump.rdb`);

    for (const [name, file, seed] of [["LFU", lfu, 11], ["LRU", lru, 12]] as const) {
      const whole = checkAllSplits(file, seed);
      equal(whole.keys.length, 21, name);
      deepStrictEqual(whole.contents.functions.length, 1, `${name}: the function library`);
      equal(whole.contents.aux.get("redis-ver"), "7.0.15");
      const byKey = new Map(whole.keys.map((k) => [(k as unknown[])[1] as string, k as unknown[]]));
      deepStrictEqual(byKey.get("s:noise")!.slice(0, 3), [0, "s:noise", noise(150_000, 2)]);
      deepStrictEqual(byKey.get("s:i16")![2], "-30000");
      deepStrictEqual((byKey.get("l:big")![2] as unknown[]).length, 5001);
      ok(byKey.get("s:ex")![3] !== undefined && byKey.get("s:px")![3] !== undefined);
      deepStrictEqual(byKey.get("db15list")!.slice(0, 3), [15, "db15list", ["list", "x", "y"]]);
      // Under LFU every key has a frequency byte; under LRU an idle time.
      for (const k of whole.keys as unknown[][]) {
        ok(name === "LFU" ? k[5] !== undefined : k[4] !== undefined, `${name}: ${k[1]}`);
      }
    }
  },
});

/** Stops after `n` bytes of `src`. */
function sourceOf(file: Uint8Array): SyncSource & { reads: number } {
  let off = 0;
  return {
    reads: 0,
    readSync(p: Uint8Array): number | null {
      if (off >= file.length) return null;
      const n = Math.min(p.length, file.length - off);
      p.set(file.subarray(off, off + n));
      off += n;
      this.reads++;
      return n;
    },
  };
}

Deno.test("a truncated stream is an RdbError at every cut point, whatever the chunking", () => {
  const file = writeFile([
    [0, "a", "1", undefined],
    [0, "lzf", "xyz".repeat(40), FUTURE + 2],
    [0, "l", new ListValue(["p", "q", "12"]), undefined],
    [
      0,
      "z",
      (() => {
        const z = new ZSetValue();
        for (let i = 0; i < 200; i++) z.add(`m${i}`, i);
        return z;
      })(),
      undefined,
    ],
    [2, "h", new HashValue([["f", "v"]]), undefined],
  ]);
  ok(file.length > 500, "the file spans several tokens of every kind");
  const rnd = seededRandom(7);
  for (let cut = 0; cut < file.length; cut++) {
    for (const chunk of [cut || 1, 1, 1 + Math.floor(rnd() * 50)]) {
      const reader = new RdbReader(() => {});
      for (let off = 0; off < cut; off += chunk) {
        const r = reader.feed(file.subarray(off, Math.min(cut, off + chunk)));
        equal(r.done, false, `cut ${cut}: not done before the end`);
      }
      throws(() => reader.end(), RdbError, `cut ${cut}, chunks of ${chunk}`);
      throws(
        () => reader.end(),
        /unexpected end of file/,
        `cut ${cut}: says the file ended early`,
      );
    }
  }
  // The same through the file source.
  for (const cut of [0, 5, 9, 100, file.length - 9, file.length - 1]) {
    const reader = new RdbReader(() => {});
    throws(() => reader.readFrom(sourceOf(file.subarray(0, cut)), 16), RdbError, `cut ${cut}`);
  }
});

Deno.test("a corrupted byte anywhere is an RdbError (a parse error or the checksum)", () => {
  const file = writeFile([
    [0, "a", "1", undefined],
    [0, "lzf", "xyz".repeat(40), FUTURE + 2],
    [0, "l", new ListValue(["p", "q", "12"]), undefined],
    [0, "set", new SetValue(["1", "2", "70000"]), undefined],
    [1, "h", new HashValue([["f", "v"], ["g", "w"]]), undefined],
  ]);
  for (let at = 0; at < file.length; at++) {
    for (const flip of [0xff, 0x01, 0x80]) {
      const bad = file.slice();
      bad[at]! ^= flip;
      const reader = new RdbReader(() => {});
      try {
        for (let off = 0; off < bad.length; off += 7) reader.feed(bad.subarray(off, off + 7));
        reader.end();
      } catch (e) {
        ok(e instanceof RdbError, `byte ${at} ^ ${flip}: ${(e as Error).stack}`);
        continue;
      }
      throw new Error(`byte ${at} ^ ${flip}: the corruption went unnoticed`);
    }
  }
});

Deno.test("values a decoder cannot hold are RdbErrors: a NaN score, a short intset", () => {
  const rdb = (...body: number[]) =>
    new Uint8Array([
      ...new TextEncoder().encode("REDIS0010"),
      0xfe,
      0, // SELECTDB 0
      ...body,
      0xff, // EOF, then a zero checksum (not computed)
      ...new Array(8).fill(0),
    ]);
  const nan = [0, 0, 0, 0, 0, 0, 0xf8, 0x7f]; // a quiet NaN, little-endian
  // Type 5 (sorted set, binary scores): key "z", one member "m".
  throws(() => readRdb(rdb(5, 1, 0x7a, 1, 1, 0x6d, ...nan), () => {}), /NAN score/);
  // Type 3 (sorted set, text scores): 253 is NaN.
  throws(() => readRdb(rdb(3, 1, 0x7a, 1, 1, 0x6d, 253), () => {}), /NAN score/);
  // Type 11 (intset): a 4-byte blob, shorter than an intset's header.
  throws(() => readRdb(rdb(11, 1, 0x73, 4, 2, 0, 0, 0), () => {}), /Intset integrity check failed/);
  // The same files with sound values load.
  const one = [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]; // 1.0
  let got: unknown;
  readRdb(rdb(5, 1, 0x7a, 1, 1, 0x6d, ...one), (k) => got = plain(k.value));
  deepStrictEqual(got, ["zset", ["m", 1]]);
  readRdb(rdb(11, 1, 0x73, 10, 2, 0, 0, 0, 1, 0, 0, 0, 7, 0), (k) => got = plain(k.value));
  deepStrictEqual(got, ["set", "7"]);
});

Deno.test("keys of empty values are skipped and counted; corrupt encodings stop the load", () => {
  const rdb = (...body: number[]) =>
    new Uint8Array([
      ...new TextEncoder().encode("REDIS0010"),
      0xfe,
      0,
      ...body,
      0xff,
      ...new Array(8).fill(0),
    ]);
  // An empty list (type 1), an empty set (2) with an expiry before it, then a string.
  const expiry = [0xfc, ...new Array(8).fill(0x7f)];
  const keys: string[] = [];
  const contents = readRdb(
    rdb(1, 1, 0x6c, 0, ...expiry, 2, 1, 0x73, 0, 0, 1, 0x6b, 1, 0x76),
    (k) => keys.push(`${k.key}:${k.expireMs ?? "-"}`),
  );
  deepStrictEqual(keys, ["k:-"]);
  equal(contents.emptyKeys, 2);
  deepStrictEqual(contents.skipped, ["skipping empty key: l", "skipping empty key: s"]);
  // A hash ziplist (type 13) whose entry count disagrees with its entries.
  const zl = [17, 0, 0, 0, 13, 0, 0, 0, 3, 0, 0, 1, 0x61, 3, 1, 0x62, 0xff];
  throws(
    () => readRdb(rdb(13, 1, 0x68, zl.length, ...zl), () => {}),
    /Hash ziplist integrity check failed/,
  );
  zl[8] = 2;
  let got: unknown;
  readRdb(rdb(13, 1, 0x68, zl.length, ...zl), (k) => got = plain(k.value));
  deepStrictEqual(got, ["hash", "a=b"]);
});

Deno.test("the checksum: verified across chunks; zero means not computed", () => {
  const entries: [number, string, Value, number | undefined][] = [
    [0, "k", "value one", undefined],
    [0, "n", "12", undefined],
  ];
  const file = writeFile(entries);
  const stored = new DataView(file.buffer, file.length - 8, 8).getBigUint64(0, true);
  equal(stored, crc64(file.subarray(0, file.length - 8)));
  const valueAt = file.indexOf("o".charCodeAt(0));
  const bad = file.slice();
  bad[valueAt] = "O".charCodeAt(0);
  throws(() => parseChunked(bad, () => 3), /RDB checksum mismatch/);
  // Without a checksum the same change loads.
  const off = writeFile(entries, false);
  deepStrictEqual(off.subarray(off.length - 8), new Uint8Array(8));
  off[valueAt] = "O".charCodeAt(0);
  deepStrictEqual(parseChunked(off, () => 3).keys[0], [
    0,
    "k",
    "value One",
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("the reader stops after the checksum and leaves the bytes that follow", () => {
  const file = writeFile([[0, "k", "v", undefined]]);
  const tail = new TextEncoder().encode("+FOLLOWING");
  const stream = new Uint8Array(file.length + tail.length);
  stream.set(file);
  stream.set(tail, file.length);
  // Whole, and split at every point: the used counts add up to the RDB's length.
  for (let split = 0; split <= stream.length; split++) {
    const reader = new RdbReader(() => {});
    const a = reader.feed(stream.subarray(0, split));
    const b: FeedResult = a.done
      ? { items: 0, used: 0, done: true }
      : reader.feed(stream.subarray(split));
    equal(b.done, true, `split ${split}`);
    equal(a.used + b.used, file.length, `split ${split}`);
    equal(a.items + b.items, 5, `split ${split}: 2 aux fields, SELECTDB, RESIZEDB, the key`);
    reader.end();
    deepStrictEqual(reader.feed(tail), { items: 0, used: 0, done: true });
  }
  // Before version 5 there is no checksum: the end is right after the EOF opcode.
  const v4 = new Uint8Array([
    ...new TextEncoder().encode("REDIS0004"),
    0xfe, // SELECTDB 0
    0,
    0, // a string key "k" = "v"
    1,
    0x6b,
    1,
    0x76,
    0xff, // EOF
    ...tail,
  ]);
  const keys: string[] = [];
  const reader = new RdbReader((k) => keys.push(`${k.key}=${k.value}`));
  const r = reader.feed(v4);
  deepStrictEqual(r, { items: 2, used: v4.length - tail.length, done: true });
  equal(reader.end().version, 4);
  deepStrictEqual(keys, ["k=v"]);
});

Deno.test("reading a file much larger than a chunk keeps only one item and a chunk in memory", () => {
  const entries: [number, string, Value, number | undefined][] = [];
  for (let i = 0; i < 30000; i++) entries.push([0, `key:${i}`, `value:${noise(20, i)}`, undefined]);
  // One item far larger than a chunk, in the middle.
  entries.splice(15000, 0, [0, "big", noise(300_000, 9), undefined]);
  const file = writeFile(entries);
  const chunk = 16 * 1024;
  ok(file.length > 50 * chunk, `the file (${file.length} bytes) is many chunks long`);
  let n = 0;
  const reader = new RdbReader(() => n++);
  const src = sourceOf(file);
  reader.readFrom(src, chunk);
  equal(n, entries.length);
  ok(src.reads >= file.length / chunk, "read a chunk at a time");
  // The big item (300 KB and a few header bytes) plus at most a chunk.
  const bound = 300_000 + 64 + chunk;
  ok(reader.maxBuffered <= bound, `held at most ${reader.maxBuffered} bytes (bound ${bound})`);
  ok(reader.maxBuffered >= 300_000, "the big item was held whole");

  // Without the big item: never more than two chunks, whatever the file's size.
  const small = writeFile(entries.filter((e) => e[1] !== "big"));
  const r2 = new RdbReader(() => {});
  r2.readFrom(sourceOf(small), chunk);
  ok(r2.maxBuffered <= 2 * chunk, `held at most ${r2.maxBuffered} bytes`);
  equal(r2.buffered, 0);
});

Deno.test("a push source fed between event-loop turns: each feed reports its progress", async () => {
  const file = writeFile(ourEntries());
  const whole = parseWhole(file);
  const c = collector();
  const reader = new RdbReader(c.onKey);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  let feeds = 0, items = 0;
  try {
    // As a socket would deliver: chunks of uneven sizes, the loop free between them.
    for (let off = 0, i = 0; off < file.length; i++) {
      const n = [1, 4096, 7, 65536, 300][i % 5]!;
      const r = reader.feed(file.subarray(off, off + n));
      feeds++;
      items += r.items;
      off += n;
      equal(r.done, off >= file.length);
      await new Promise((res) => setTimeout(res, 0));
    }
  } finally {
    clearInterval(timer);
  }
  reader.end();
  deepStrictEqual(c.keys, whole.keys);
  ok(ticks > 0, "the event loop ran between feeds");
  ok(feeds > 10, `${feeds} feeds`);
  equal(items, whole.items);
});
