/**
 * Function libraries persist as Redis 7.0 keeps them (RDB_OPCODE_FUNCTION2 records), checked
 * against a real redis-server both ways: a dump.rdb either one saves loads in the other with
 * its libraries, FUNCTION DUMP payloads are byte for byte Redis's and restore across the two,
 * DEBUG RELOAD treats a library already loaded as Redis does, and a full sync hands the
 * master's libraries to a replica of either kind (replacing the replica's own).
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { freePort, hasRedis, runDataNode, which, withTempDir } from "./helpers/process.ts";
import { type Impl, linkUp, Node, waitFor } from "./helpers/replication.ts";
import { RespError, type RespValue } from "../shared/resp/mod.ts";
import { readRdb } from "../data-node/persistence/rdb_reader.ts";
import { Crc64 } from "../data-node/persistence/crc64.ts";
import {
  ByteWriter,
  writeHeader,
  writeString,
  writeTrailer,
} from "../data-node/persistence/rdb.ts";

const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !hasRedis };
if (!hasRedis) console.log("SKIP: redis-server not installed: function persistence tests");

/** A library long enough for its code to be LZF-compressed in the file, using cjson. */
const LIB_A = [
  "#!lua name=liba",
  "local function greet(keys, args)",
  "  return 'hello ' .. (args[1] or 'nobody') .. ' ' .. string.rep('-', 40)",
  "end",
  "redis.register_function('greet', greet)",
  "redis.register_function{function_name='jsonlen', callback=function(keys, args)",
  "  return #cjson.decode(args[1])",
  "end, flags={'no-writes'}, description='length of a JSON array'}",
].join("\n");

const LIB_B = [
  "#!lua name=libb",
  "redis.register_function('incrby2', function(keys, args)",
  "  return redis.call('INCRBY', keys[1], 2)",
  "end)",
].join("\n");

/** What a node's functions answer: the list with code, and a call of each function. */
async function functionsState(n: Node): Promise<RespValue[]> {
  const list = await n.cmd("FUNCTION", "LIST", "WITHCODE") as RespValue[][];
  // Libraries and their functions come in a dictionary's order: compare them sorted by name.
  const byName = (a: RespValue, b: RespValue) =>
    String((a as RespValue[])[1]).localeCompare(String((b as RespValue[])[1]));
  const libs = list.map((lib) => {
    const copy = [...lib];
    const at = copy.indexOf("functions") + 1;
    copy[at] = [...(copy[at] as RespValue[])].sort(byName);
    return copy;
  }).sort(byName);
  return [
    libs,
    await n.call("FCALL", "greet", "0", "world"),
    await n.call("FCALL_RO", "jsonlen", "0", "[1,2,3]"),
    await n.call("FCALL", "incrby2", "1", "counter"),
  ];
}

async function loadBoth(n: Node): Promise<void> {
  equal(await n.cmd("FUNCTION", "LOAD", LIB_A), "liba");
  equal(await n.cmd("FUNCTION", "LOAD", LIB_B), "libb");
}

/** Saves on `from`, starts `to` on the same directory, and compares what their functions do. */
async function saveThenStart(from: Impl, to: Impl): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "redis-ha-test-" });
  try {
    let before: RespValue[];
    {
      await using a = await Node.start(from, "saver", [], { dir });
      await loadBoth(a);
      before = await functionsState(a);
      equal(String(await a.cmd("SAVE")), "OK");
      // FCALL incrby2 wrote counter=2 before the save; the loaded side continues from it.
      equal(await a.cmd("GET", "counter"), "2");
    }
    if (which("redis-check-rdb")) {
      const chk = await new Deno.Command("redis-check-rdb", {
        args: [`${dir}/dump.rdb`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(chk.stdout);
      ok(chk.success, text);
    }
    await using b = await Node.start(to, "loader", [], { dir });
    const after = await functionsState(b);
    deepStrictEqual(after[0], before[0], "FUNCTION LIST WITHCODE after the load");
    deepStrictEqual(after.slice(1, 3), before.slice(1, 3));
    equal(after[3], 4, "counter continues from the saved value");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "functions saved by our node load in real redis-server (FCALL works)",
  ...opts,
  fn: () => saveThenStart("ours", "redis"),
});

Deno.test({
  name: "functions saved by real redis-server load in our node (FCALL works)",
  ...opts,
  fn: () => saveThenStart("redis", "ours"),
});

Deno.test({
  name: "FUNCTION DUMP payloads are Redis's bytes and restore across the two servers",
  ...opts,
  fn: async () => {
    await using ours = await Node.start("ours", "ours");
    await using redis = await Node.start("redis", "redis");
    for (const n of [ours, redis]) equal(await n.cmd("FUNCTION", "LOAD", LIB_A), "liba");
    const dumpOurs = await ours.cmd("FUNCTION", "DUMP");
    const dumpRedis = await redis.cmd("FUNCTION", "DUMP");
    equal(dumpOurs, dumpRedis, "one library: the same payload");
    // Each restores the other's payload (FLUSH policy) and runs it.
    equal(String(await ours.cmd("FUNCTION", "RESTORE", String(dumpRedis), "FLUSH")), "OK");
    equal(String(await redis.cmd("FUNCTION", "RESTORE", String(dumpOurs), "FLUSH")), "OK");
    for (const n of [ours, redis]) {
      equal(await n.cmd("FCALL", "greet", "0", "x"), "hello x " + "-".repeat(40));
    }
    // Two libraries: each payload restores in the other, with the same results and errors.
    for (const n of [ours, redis]) equal(await n.cmd("FUNCTION", "LOAD", LIB_B), "libb");
    const two = [await ours.cmd("FUNCTION", "DUMP"), await redis.cmd("FUNCTION", "DUMP")];
    for (const payload of two) {
      const replies: RespValue[][] = [];
      for (const n of [ours, redis]) {
        replies.push([
          await n.call("FUNCTION", "RESTORE", String(payload)),
          await n.call("FUNCTION", "RESTORE", String(payload), "APPEND"),
          await n.call("FUNCTION", "RESTORE", String(payload), "REPLACE"),
          await n.call("FUNCTION", "FLUSH"),
          await n.call("FUNCTION", "RESTORE", String(payload)),
          await n.call("FCALL", "incrby2", "1", "k"),
        ]);
      }
      // Which of two clashing libraries an error names follows dictionary order: not compared.
      const norm = (v: RespValue) =>
        String(v).replace(/Library \S+ already/, "Library <lib> already");
      deepStrictEqual(
        replies[0]!.map(norm),
        replies[1]!.map(norm),
        "restore replies on ours and redis",
      );
    }
  },
});

Deno.test({
  name: "DEBUG RELOAD brings functions back, and refuses a library already loaded as Redis does",
  ...opts,
  fn: async () => {
    await using ours = await Node.start("ours", "ours");
    await using redis = await Node.start("redis", "redis");
    const script: string[][] = [
      ["FUNCTION", "LOAD", LIB_A],
      ["DEBUG", "RELOAD"],
      ["FCALL", "greet", "0", "again"],
      ["FUNCTION", "LOAD", LIB_B],
      ["SAVE"],
      ["FUNCTION", "DELETE", "libb"],
      // The file's liba clashes with the one loaded (nothing is merged): the load fails.
      ["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"],
      // MERGE lets the file's libraries replace ours.
      ["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"],
      ["FCALL", "incrby2", "1", "n"],
      ["FUNCTION", "FLUSH"],
      ["DEBUG", "RELOAD", "NOSAVE"],
      ["FCALL", "incrby2", "1", "n"],
    ];
    const answers: string[][] = [[], []];
    for (const [i, n] of [ours, redis].entries()) {
      for (const cmd of script) {
        const v = await n.call(...cmd);
        answers[i]!.push(v instanceof RespError ? `error: ${v.message}` : String(v));
      }
      const names = (await n.cmd("FUNCTION", "LIST") as RespValue[][]).map((l) => String(l[1]));
      answers[i]!.push(names.sort().join(","));
    }
    deepStrictEqual(answers[0], answers[1]);
  },
});

/** A replica of `replicaImpl` syncs from a master of `masterImpl` and gets its libraries. */
async function replicaGetsFunctions(
  masterImpl: Impl,
  replicaImpl: Impl,
  args: string[] = [],
): Promise<void> {
  await using master = await Node.start(masterImpl, "master", args);
  await using replica = await Node.start(replicaImpl, "replica", args);
  await loadBoth(master);
  await master.cmd("SET", "counter", "10");
  // The replica's own library goes: a full sync replaces its functions with the master's.
  equal(
    await replica.cmd(
      "FUNCTION",
      "LOAD",
      "#!lua name=own\nredis.register_function('own', " +
        "function() return 1 end)",
    ),
    "own",
  );
  await replica.replicaOf(master);
  await linkUp(master, replica);
  await waitFor(
    [master, replica],
    "the replica has the counter",
    async () => (await replica.call("GET", "counter")) === "10",
  );
  const list = await replica.cmd("FUNCTION", "LIST") as RespValue[][];
  deepStrictEqual(list.map((l) => String(l[1])).sort(), ["liba", "libb"]);
  equal(await replica.cmd("FCALL_RO", "jsonlen", "0", "[1,2]"), 2);
  // greet has no no-writes flag: a read-only replica refuses it, as it refuses a write.
  const refused = await replica.call("FCALL", "greet", "0", "r");
  ok(refused instanceof RespError && refused.message.startsWith("READONLY"), String(refused));
  // A library loaded on the master afterwards reaches the replica through the stream.
  await master.cmd(
    "FUNCTION",
    "LOAD",
    "#!lua name=libc\nredis.register_function{function_name='c', callback=" +
      "function() return 'c' end, flags={'no-writes'}}",
  );
  await waitFor(
    [master, replica],
    "libc on the replica",
    async () => (await replica.call("FCALL_RO", "c", "0")) === "c",
  );
}

Deno.test({
  name: "a real redis-server replica of our master gets its function libraries",
  ...opts,
  fn: () => replicaGetsFunctions("ours", "redis"),
});

Deno.test({
  name: "our replica of a real redis-server master gets its function libraries",
  ...opts,
  fn: () => replicaGetsFunctions("redis", "ours"),
});

Deno.test({
  name: "functions survive restarts through the AOF: FUNCTION LOAD replayed, then in the base",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "redis-ha-test-" });
    const aofArgs = ["--appendonly", "yes", "--appendfsync", "always"];
    try {
      {
        await using n = await Node.start("ours", "aof", aofArgs, { dir });
        equal(await n.cmd("FUNCTION", "LOAD", LIB_A), "liba");
      }
      {
        // Replayed from the incr file; then a rewrite moves it into the base RDB.
        await using n = await Node.start("ours", "aof", aofArgs, { dir });
        equal(await n.cmd("FCALL", "greet", "0", "a"), "hello a " + "-".repeat(40));
        ok(String(await n.cmd("BGREWRITEAOF")).includes("rewriting"));
        await waitFor(
          [n],
          "the rewrite done",
          async () =>
            (await n.info("persistence")).aof_rewrite_in_progress === "0" &&
            (await n.info("persistence")).aof_rewrite_scheduled === "0",
        );
        equal(await n.cmd("FUNCTION", "LOAD", LIB_B), "libb");
      }
      const names = [...Deno.readDirSync(`${dir}/appendonlydir`)].map((e) => e.name);
      const base = names.find((f) => f.endsWith(".base.rdb"));
      ok(base, names.join(" "));
      const bytes = await Deno.readFile(`${dir}/appendonlydir/${base}`);
      const functions = readRdb(bytes, () => {}).functions;
      deepStrictEqual(functions, [LIB_A], "the base RDB holds liba's FUNCTION2 record");
      await using n = await Node.start("ours", "aof", aofArgs, { dir });
      const list = await n.cmd("FUNCTION", "LIST") as RespValue[][];
      deepStrictEqual(list.map((l) => String(l[1])).sort(), ["liba", "libb"]);
      equal(await n.cmd("FCALL", "incrby2", "1", "x"), 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** An RDB holding these records (each written by a callback) and no keys. */
function rdbWith(records: ((w: ByteWriter) => void)[]): Uint8Array {
  const w = new ByteWriter();
  writeHeader(w, [["redis-ver", "7.0.15"]], { compress: false });
  for (const rec of records) rec(w);
  return writeTrailer(w, true);
}

/** A FUNCTION2 record: opcode 245 and the library's code. */
const function2 = (code: string) => (w: ByteWriter) => {
  w.byte(0xf5);
  writeString(w, code, { compress: false });
};

/**
 * A record in the format of 7.0's release candidates: opcode 246, library name, engine, a
 * description flag (and the description), then the code without the #! header.
 */
const preGa =
  (name: string, engine: string, desc: string | null, code: string) => (w: ByteWriter) => {
    w.byte(0xf6);
    writeString(w, name, { compress: false });
    writeString(w, engine, { compress: false });
    w.byte(desc === null ? 0 : 1);
    if (desc !== null) writeString(w, desc, { compress: false });
    writeString(w, code, { compress: false });
  };

const OLD_CODE = "redis.register_function('old', function() return 'old' end)";

/**
 * Runs redis-server on `dir`, where a failed load makes it exit by itself (with code 0 after
 * checking the file: the log says why): whether it exited within 10 s, and its log.
 */
async function redisStartupFails(dir: string): Promise<{ exited: boolean; log: string }> {
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(await freePort()), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, 10_000);
  try {
    const out = await child.output();
    return { exited: !killed, log: new TextDecoder().decode(out.stdout) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "function records at startup as in redis-server: a library twice or a cut record stops it, the release candidates' format loads",
  ...opts,
  fn: async () => {
    const cases: [string, Uint8Array, RegExp, RegExp][] = [
      [
        "the same library twice",
        rdbWith([function2(LIB_A), function2(LIB_A)]),
        /Failed loading library, Library 'liba' already exists/,
        /Failed loading library, Library 'liba' already exists/,
      ],
      [
        "a 246 record cut short (a name, then the end of the file)",
        rdbWith([(w) => {
          w.byte(0xf6);
          writeString(w, LIB_A, { compress: false });
        }]),
        /Unknown RDB string encoding type 63/,
        /unknown string encoding 63/,
      ],
    ];
    for (const [what, file, redisLog, ourLog] of cases) {
      await withTempDir(async (dir) => {
        await Deno.writeFile(`${dir}/dump.rdb`, file);
        const redis = await redisStartupFails(dir);
        ok(redis.exited, `${what}: redis-server kept running:\n${redis.log}`);
        ok(redisLog.test(redis.log), `${what}: redis-server's log:\n${redis.log}`);
        const ours = await runDataNode(["--dir", dir, "--save", ""]);
        ok(!ours.success, `${what}: our node started`);
        ok(ourLog.test(ours.stderr), `${what}: our output:\n${ours.stderr}`);
      });
    }
    // One copy of the library loads in both, and so do records of the release candidates'
    // format, turned into code with a #! header.
    await withTempDir(async (dir) => {
      await Deno.writeFile(
        `${dir}/dump.rdb`,
        rdbWith([
          function2(LIB_A),
          preGa("oldlib", "LUA", "a description", OLD_CODE),
          preGa("nodesc", "lua", null, OLD_CODE.replace("'old'", "'nodesc'")),
        ]),
      );
      const lists: RespValue[] = [];
      for (const impl of ["redis", "ours"] as const) {
        await using n = await Node.start(impl, impl, [], { dir });
        equal(await n.cmd("FCALL", "greet", "0", "f"), "hello f " + "-".repeat(40));
        equal(await n.cmd("FCALL", "old", "0"), "old");
        equal(await n.cmd("FCALL", "nodesc", "0"), "old");
        lists.push((await functionsState(n))[0]!);
      }
      deepStrictEqual(lists[1], lists[0], "FUNCTION LIST WITHCODE: ours and redis-server");
    });
  },
});

/** A FUNCTION DUMP-style body with one record of the release candidates' format. */
function preGaPayload(name: string, engine: string, code: string): string {
  const w = new ByteWriter();
  preGa(name, engine, null, code)(w);
  w.byte(10);
  w.byte(0);
  return String.fromCharCode(...w.take());
}

/** A DUMP-style payload: `body` (ending with the 2-byte RDB version) and its CRC64. */
function withCrc(body: string): string {
  const bytes = Uint8Array.from(body, (ch) => ch.charCodeAt(0));
  const crc = new Crc64().update(bytes).bytes();
  return body + String.fromCharCode(...crc);
}

Deno.test({
  name: "FUNCTION RESTORE answers as Redis does: release candidates' records, other types, bad CRC",
  ...opts,
  fn: async () => {
    await using ours = await Node.start("ours", "ours");
    await using redis = await Node.start("redis", "redis");
    equal(await redis.cmd("FUNCTION", "LOAD", LIB_B), "libb");
    const good = String(await redis.cmd("FUNCTION", "DUMP"));
    await redis.cmd("SET", "k", "v");
    const keyDump = String(await redis.cmd("DUMP", "k"));
    const payloads = [
      good,
      // The release candidates' format (opcode 246): loaded, as in Redis 7.0.
      withCrc(preGaPayload("oldlib", "LUA", OLD_CODE)),
      // The same bytes as a FUNCTION2 record, relabelled 246: misread as that format.
      withCrc(String.fromCharCode(0xf6) + good.slice(1, -8)),
      // A FUNCTION2 record whose code is cut short.
      withCrc(String.fromCharCode(0xf5, 0x30) + "abc" + String.fromCharCode(10, 0)),
      keyDump,
      good.slice(0, -1) + String.fromCharCode(good.charCodeAt(good.length - 1) ^ 1),
      "",
      "short",
    ];
    for (const p of payloads) {
      const a = await ours.call("FUNCTION", "RESTORE", p, "REPLACE");
      const b = await redis.call("FUNCTION", "RESTORE", p, "REPLACE");
      equal(String(a), String(b), `RESTORE of ${JSON.stringify(p.slice(0, 12))}: ${a} / ${b}`);
    }
  },
});

Deno.test({
  name: "our replica of our master gets its function libraries (the RDB channel between ours)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => replicaGetsFunctions("ours", "ours", ["--repl-rdb-channel", "yes"]),
});
