/**
 * Corrupt DUMP payloads with valid checksums: RESTORE refuses a broken structure with "Bad data
 * format" and logs why, as Redis does; and no corrupt payload, accepted or not, takes the node
 * down or makes a later command on the key fail with an internal error (a seeded fuzz of
 * RESTORE, then commands on each value it accepted, then a save and reload of what is left).
 */
import { equal, ok } from "node:assert/strict";
import { startDataNode } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { seededRandom } from "./helpers/random.ts";
import { binaryToBytes, bytesToBinary } from "../shared/resp/bytes.ts";
import type { RespValue } from "../shared/resp/mod.ts";
import { Crc64 } from "../data-node/persistence/crc64.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A DUMP payload for `body` (type byte and value): RDB version 10, then a valid CRC64. */
function payload(body: number[] | Uint8Array): string {
  const b = new Uint8Array(body.length + 10);
  b.set(body);
  b[body.length] = 10;
  new Crc64().update(b.subarray(0, body.length + 2)).writeTo(b, body.length + 2);
  return bytesToBinary(b, 0, b.length);
}

/** The same payload with its checksum made valid again after a change. */
function fixCrc(p: string): string {
  const b = binaryToBytes(p);
  new Crc64().update(b.subarray(0, b.length - 8)).writeTo(b, b.length - 8);
  return bytesToBinary(b, 0, b.length);
}

const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const str = (s: string) => [...s].map((ch) => ch.charCodeAt(0));

/** A ziplist of 6-bit strings, with its header's fields overridable. */
function ziplist(items: string[], o: { count?: number; bytes?: number } = {}): number[] {
  const entries: number[] = [];
  let prev = 0, tail = 10;
  for (const it of items) {
    tail = 10 + entries.length;
    entries.push(prev, it.length, ...str(it));
    prev = 2 + it.length;
  }
  const size = 11 + entries.length;
  return [...u32(o.bytes ?? size), ...u32(tail), o.count ?? items.length, 0, ...entries, 0xff];
}

/** A listpack of 6-bit strings. */
function listpack(items: string[]): number[] {
  const entries: number[] = [];
  for (const it of items) entries.push(0x80 | it.length, ...str(it), 1 + it.length);
  const size = 7 + entries.length;
  return [...u32(size), items.length, 0, ...entries, 0xff];
}

/** An RDB string of raw bytes (lengths below 64). */
const rdbStr = (b: number[]) => [b.length, ...b];

const BAD = "ERR Bad data format";

/** Payloads Redis refuses, each under sanitize-dump-payload no and yes. */
const REFUSED: [string, string][] = [
  [
    "hash ziplist whose count is wrong",
    payload([13, ...rdbStr(ziplist(["a", "1"], { count: 3 }))]),
  ],
  ["hash ziplist with a field twice", payload([13, ...rdbStr(ziplist(["a", "1", "a", "2"]))])],
  ["hash ziplist of an odd count", payload([13, ...rdbStr(ziplist(["a", "1", "b"]))])],
  [
    "list ziplist whose byte count is wrong",
    payload([10, ...rdbStr(ziplist(["x"], { bytes: 99 }))]),
  ],
  ["empty list ziplist", payload([10, ...rdbStr(ziplist([]))])],
  ["quicklist of an empty listpack", payload([18, 1, 2, ...rdbStr(listpack([]))])],
  ["quicklist node of an unknown container", payload([18, 1, 3, ...rdbStr(listpack(["a"]))])],
  ["empty intset", payload([11, ...rdbStr([2, 0, 0, 0, 0, 0, 0, 0])])],
  ["intset of a bad width", payload([11, ...rdbStr([3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0])])],
  ["empty list", payload([1, 0])],
  ["set with a member twice", payload([2, 2, 1, 0x61, 1, 0x61])],
  ["empty zipmap", payload([9, ...rdbStr([0, 0xff])])],
  ["listpack cut short", payload([16, ...rdbStr(listpack(["a", "1"]).slice(0, -1))])],
  // An LZF string claiming far more bytes than its compressed data can hold.
  ["LZF length out of proportion", payload([0, 0xc3, 1, 0x80, 0x7f, 0xff, 0xff, 0xff, 0])],
];

/** Refused under sanitize-dump-payload yes only (its deep checks). */
const REFUSED_DEEP: [string, string][] = [
  ["hash listpack with a field twice", payload([16, ...rdbStr(listpack(["a", "1", "a", "2"]))])],
  ["intset out of order", payload([11, ...rdbStr([2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 3, 0])])],
];

Deno.test({
  name: "corrupt dump: RESTORE refuses broken structures with valid checksums, and logs why",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const logfile = `${dir}/node.log`;
      await using node = await startDataNode([
        "--enable-debug-command",
        "yes",
        "--loglevel",
        "verbose",
        "--logfile",
        logfile,
      ]);
      using conn = await RawConn.connect(node.port);
      const err = (v: RespValue) => (v as { message?: string }).message ?? JSON.stringify(v);
      for (const mode of ["no", "yes"]) {
        equal(String(await conn.call("CONFIG", "SET", "sanitize-dump-payload", mode)), "OK");
        for (const [what, p] of REFUSED) {
          equal(err(await conn.call("RESTORE", "k", "0", p, "REPLACE")), BAD, `${mode}: ${what}`);
          equal(await conn.call("EXISTS", "k"), 0, what);
        }
      }
      for (const [what, p] of REFUSED_DEEP) {
        equal(err(await conn.call("RESTORE", "k", "0", p, "REPLACE")), BAD, what);
        equal(await conn.call("EXISTS", "k"), 0, what);
      }
      // A user with skip-sanitize-payload is spared the deep checks under "clients".
      await conn.call("CONFIG", "SET", "sanitize-dump-payload", "clients");
      const [, unsorted] = REFUSED_DEEP[1]!;
      equal(err(await conn.call("RESTORE", "k", "0", unsorted, "REPLACE")), BAD);
      await conn.call(
        "ACL",
        "SETUSER",
        "trusted",
        "on",
        "nopass",
        "+@all",
        "~*",
        "skip-sanitize-payload",
      );
      await conn.call("AUTH", "trusted", "x");
      equal(String(await conn.call("RESTORE", "k", "0", unsorted, "REPLACE")), "OK");
      equal(await conn.call("SISMEMBER", "k", "3"), 1);
      // A payload whose checksum is wrong is refused as such, unless the check is switched off.
      const [, dup] = REFUSED[1]!;
      const wrongCrc = dup.slice(0, -1) + String.fromCharCode(dup.charCodeAt(dup.length - 1) ^ 1);
      equal(
        err(await conn.call("RESTORE", "k", "0", wrongCrc, "REPLACE")),
        "ERR DUMP payload version or checksum are wrong",
      );
      equal(String(await conn.call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")), "OK");
      equal(err(await conn.call("RESTORE", "k", "0", wrongCrc, "REPLACE")), BAD);
      equal(String(await conn.call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0")), "OK");
      const log = await Deno.readTextFile(logfile);
      ok(log.includes("Hash ziplist integrity check failed"), "the reason is logged");
      ok(log.includes("Intset integrity check failed"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Commands that read and write a key of each type (errors are fine, crashes are not). */
const TRAFFIC: Record<string, string[][]> = {
  string: [["GET", "k"], ["STRLEN", "k"], ["APPEND", "k", "x"], ["GETRANGE", "k", "0", "-1"]],
  list: [
    ["LRANGE", "k", "0", "-1"],
    ["LLEN", "k"],
    ["LINDEX", "k", "-1"],
    ["LPOS", "k", "a"],
    ["LINSERT", "k", "BEFORE", "a", "b"],
    ["LREM", "k", "1", "b"],
    ["RPUSH", "k", "z"],
    ["LPOP", "k"],
    ["LSET", "k", "0", "q"],
    ["LTRIM", "k", "1", "-1"],
  ],
  set: [
    ["SMEMBERS", "k"],
    ["SCARD", "k"],
    ["SISMEMBER", "k", "1"],
    ["SRANDMEMBER", "k", "-5"],
    ["SADD", "k", "7", "x"],
    ["SREM", "k", "1"],
    ["SINTERCARD", "1", "k"],
    ["SPOP", "k"],
  ],
  zset: [
    ["ZRANGE", "k", "0", "-1", "WITHSCORES"],
    ["ZCARD", "k"],
    ["ZRANK", "k", "a"],
    ["ZRANGEBYSCORE", "k", "-inf", "+inf"],
    ["ZRANDMEMBER", "k", "-5", "WITHSCORES"],
    ["ZADD", "k", "1.5", "m"],
    ["ZINCRBY", "k", "2", "a"],
    ["ZREM", "k", "m"],
    ["ZPOPMIN", "k"],
  ],
  hash: [
    ["HGETALL", "k"],
    ["HLEN", "k"],
    ["HGET", "k", "a"],
    ["HRANDFIELD", "k", "-5", "WITHVALUES"],
    ["HSET", "k", "n", "1"],
    ["HINCRBY", "k", "n", "2"],
    ["HDEL", "k", "a"],
    ["HSCAN", "k", "0"],
  ],
  stream: [
    ["XRANGE", "k", "-", "+"],
    ["XREVRANGE", "k", "+", "-"],
    ["XLEN", "k"],
    ["XINFO", "STREAM", "k", "FULL"],
    ["XINFO", "GROUPS", "k"],
    ["XPENDING", "k", "g"],
    ["XADD", "k", "*", "f", "v"],
    ["XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "k", ">"],
    ["XAUTOCLAIM", "k", "g", "c", "0", "0"],
    ["XDEL", "k", "0-1"],
    ["XTRIM", "k", "MAXLEN", "1"],
  ],
};

/** Replay or extend a run: CORRUPT_DUMP_SEED and CORRUPT_DUMP_ROUNDS. */
const FUZZ_SEED = Number(Deno.env.get("CORRUPT_DUMP_SEED") ?? 1);
const FUZZ_ROUNDS = Number(Deno.env.get("CORRUPT_DUMP_ROUNDS") ?? 3000);

Deno.test({
  name: "corrupt dump: seeded corrupt payloads never take the node down",
  ...opts,
  fn: async () => {
    await using node = await startDataNode(["--enable-debug-command", "yes"]);
    using conn = await RawConn.connect(node.port);
    const call = async (...args: string[]): Promise<RespValue> => {
      const v = await conn.call(...args);
      const msg = (v as { message?: string } | null)?.message;
      ok(!msg?.includes("internal error"), `${args.join(" ").slice(0, 80)}: ${msg}`);
      return v;
    };
    // One value of each type and encoding, small (compact) and large.
    const big = (n: number, f: (i: number) => string[]) =>
      Array.from({ length: n }, (_, i) => f(i)).flat();
    await call("RPUSH", "list", "a", "b", "1", "-300", "70000");
    await call("RPUSH", "biglist", ...big(300, (i) => [`item${i}`, String(i * 1000)]));
    await call("SADD", "intset", "1", "2", "-5", "100000", "5000000000");
    await call("SADD", "set", "a", "b", "c", "1");
    await call("SADD", "bigset", ...big(200, (i) => [`m${i}`]));
    await call("ZADD", "zset", "1", "a", "2.5", "b", "-3", "c");
    await call("ZADD", "bigzset", ...big(200, (i) => [String(i / 3), `m${i}`]));
    await call("HSET", "hash", "a", "1", "b", "two", "c", "300000");
    await call("HSET", "bighash", ...big(200, (i) => [`f${i}`, `v${i}`]));
    await call(
      "SET",
      "str",
      "hello world, a string long enough to be compressed: aaaaaaaaaaaaaaaa",
    );
    await call("SET", "int", "12345");
    for (let i = 0; i < 5; i++) await call("XADD", "stream", `${i + 1}-1`, "f", `v${i}`, "g", "x");
    await call("XADD", "stream", "9-1", "other", "fields");
    await call("XDEL", "stream", "2-1");
    await call("XGROUP", "CREATE", "stream", "g", "0");
    await call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "stream", ">");
    await call("XGROUP", "CREATECONSUMER", "stream", "g", "bob");
    const keys = [
      "list",
      "biglist",
      "intset",
      "set",
      "bigset",
      "zset",
      "bigzset",
      "hash",
      "bighash",
      "str",
      "int",
      "stream",
    ];
    const dumps: string[] = [];
    for (const k of keys) dumps.push((await call("DUMP", k)) as string);

    const rand = seededRandom(FUZZ_SEED);
    let accepted = 0, refused = 0;
    for (let round = 0; round < FUZZ_ROUNDS; round++) {
      const mode = round % 2 === 0 ? "no" : "yes";
      if (round < 2) await call("CONFIG", "SET", "sanitize-dump-payload", mode);
      else if (round % 100 < 2) await call("CONFIG", "SET", "sanitize-dump-payload", mode);
      const src = dumps[Math.floor(rand() * dumps.length)]!;
      const b = binaryToBytes(src);
      const body = b.length - 10;
      const changes = rand() < 0.8 ? 1 : 2 + Math.floor(rand() * 3);
      for (let i = 0; i < changes; i++) {
        const at = Math.floor(rand() * body);
        b[at] = rand() < 0.5 ? Math.floor(rand() * 256) : b[at]! ^ (1 << Math.floor(rand() * 8));
      }
      const p = fixCrc(bytesToBinary(b, 0, b.length));
      const r = await call("RESTORE", "k", "0", p, "REPLACE");
      if ((r as { message?: string } | null)?.message) {
        refused++;
        equal((r as { message: string }).message, BAD);
        continue;
      }
      accepted++;
      // The value as held: it dumps and restores back, and survives the commands of its type.
      const again = await call("DUMP", "k");
      equal(String(await call("RESTORE", "k2", "0", again as string, "REPLACE")), "OK");
      const type = String(await call("TYPE", "k"));
      for (const cmd of TRAFFIC[type] ?? []) await call(...cmd);
      // What the commands left is still a sound value: it dumps and restores back too.
      const after = await call("DUMP", "k");
      if (after !== null) {
        equal(String(await call("RESTORE", "k2", "0", after as string, "REPLACE")), "OK");
      }
      // A few of them stay for the save and reload at the end.
      if (rand() < 0.02) await call("RENAME", "k", `kept${round}`);
      await call("DEL", "k", "k2");
    }
    ok(accepted > 50 && refused > 50, `accepted ${accepted}, refused ${refused}`);
    equal(String(await call("DEBUG", "RELOAD")), "OK");
    equal(String(await call("PING")), "PONG");
  },
});
