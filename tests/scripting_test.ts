/**
 * Scripting beyond single replies (the conformance suite compares those): what a script's
 * writes propagate (effects, one MULTI/EXEC around more than one write) to the AOF, compared
 * with redis-server's file and replayed at restart; replication of scripts and functions in
 * every pairing of our node and redis-server; FUNCTION DUMP/RESTORE between the two; EVALSHA
 * through ioredis and node-redis; and a small job queue built on scripts, run on both servers
 * with the same inputs. Every process is stopped by `await using`, even when a step fails.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { encodeCommand, RequestParser, RespError, type RespValue } from "../shared/resp/mod.ts";
import { hasRedis, startDataNode, startRedisServer } from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { caughtUp, type Impl, linkUp, Node } from "./helpers/replication.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SKIP = hasRedis ? null : "redis-server not installed";
if (SKIP) console.log(`SKIP: scripting tests against redis-server: ${SKIP}`);

const LIB = `#!lua name=qlib
redis.register_function('bump', function(keys, args)
  redis.call('INCRBY', keys[1], args[1])
  return redis.call('RPUSH', keys[2], args[1])
end)
redis.register_function{function_name = 'peek', callback = function(keys)
  return redis.call('GET', keys[1])
end, flags = {'no-writes'}}
`;

/**
 * Scripts covering the propagation rules: one write (no MULTI), several (MULTI/EXEC), none,
 * a write then an error (the write stays), SELECT inside a script, redis.set_repl, numbers
 * as arguments, and a function library with FCALL.
 */
const WORKLOAD: string[][] = [
  ["EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "s1", "v1"],
  [
    "EVAL",
    "redis.call('SET', KEYS[1], 'a'); redis.call('RPUSH', KEYS[2], 'x', 'y'); return redis.call('HSET', KEYS[3], 'f', 1 + 1)",
    "3",
    "s2",
    "l1",
    "h1",
  ],
  ["EVAL", "return redis.call('GET', KEYS[1])", "1", "s1"],
  ["EVAL", "redis.call('INCR', KEYS[1]); redis.call('LPUSH', KEYS[1], 'x')", "1", "n1"],
  ["EVAL", "redis.call('SELECT', 1); redis.call('SET', 'in1', 'v'); return 1", "0"],
  ["SET", "after", "select"],
  [
    "EVAL",
    "redis.set_repl(redis.REPL_NONE); redis.call('SET', 'local', 'only'); redis.set_repl(redis.REPL_ALL); return redis.call('SET', 'everywhere', 'yes')",
    "0",
  ],
  ["EVAL", "return redis.call('INCRBY', KEYS[1], 3000000000)", "1", "big"],
  ["EVAL", "return redis.call('SET', KEYS[1], 0.1)", "1", "f1"],
  ["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"],
  ["EVALSHA", "ea9e2f6a1ae4ae8fe2fa4a1e7e1b3cfd3e1e9b41", "1", "x"],
  ["FUNCTION", "LOAD", LIB],
  ["FCALL", "bump", "2", "counter", "log", "5"],
  ["FCALL", "bump", "2", "counter", "log", "7"],
  ["FCALL_RO", "peek", "1", "counter"],
  ["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "counter"],
  // A script inside a transaction: its effects join the transaction's MULTI/EXEC.
  ["MULTI"],
  [
    "EVAL",
    "redis.call('SET', KEYS[1], 'm1'); return redis.call('SET', KEYS[2], 'm2')",
    "2",
    "t1",
    "t2",
  ],
  ["SET", "t3", "m3"],
  ["EXEC"],
  // Library changes are propagated as the commands themselves.
  ["FUNCTION", "LOAD", "#!lua name=gone\nredis.register_function('gone', function() return 1 end)"],
  ["FUNCTION", "DELETE", "gone"],
  ["EVAL", "return redis.call('SPOP', KEYS[1])", "1", "noset"],
  ["SADD", "aset", "only"],
  ["EVAL", "return redis.call('SPOP', KEYS[1])", "1", "aset"],
];

function aofCommands(bytes: Uint8Array): string[] {
  const p = new RequestParser({ maxBulkLen: 1 << 30 });
  p.feed(bytes);
  const out: string[] = [];
  for (let argv = p.next(); argv !== null; argv = p.next()) out.push(argv.join(" "));
  return out;
}

async function readIncr(dir: string): Promise<string[]> {
  const manifest = await Deno.readTextFile(`${dir}/appendonlydir/appendonly.aof.manifest`);
  const incr = manifest.split("\n").map((l) => l.split(" ")).find((f) => f[5] === "i")?.[1];
  if (!incr) throw new Error(`no incr file in manifest:\n${manifest}`);
  return aofCommands(await Deno.readFile(`${dir}/appendonlydir/${incr}`));
}

/** Runs the commands and returns the replies (errors as their text). */
async function runAll(c: RawConn, cmds: readonly string[][]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const argv of cmds) {
    const v = await c.call(...argv);
    out.push(v instanceof RespError ? `ERR: ${v.message}` : v);
  }
  return out;
}

/** Databases 0 and 1 as key -> value dumps, and the libraries. */
async function state(c: RawConn): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const db of ["0", "1"]) {
    await c.call("SELECT", db);
    for (const k of (await c.call("KEYS", "*") as string[]).sort()) {
      const type = String(await c.call("TYPE", k));
      const read: Record<string, string[]> = {
        string: ["GET", k],
        list: ["LRANGE", k, "0", "-1"],
        hash: ["HGETALL", k],
        zset: ["ZRANGE", k, "0", "-1", "WITHSCORES"],
        set: ["SMEMBERS", k],
      };
      let v = await c.call(...(read[type] ?? ["TYPE", k]));
      if (type === "set") v = (v as string[]).sort();
      out[`${db}:${k}`] = v;
    }
  }
  await c.call("SELECT", "0");
  // Redis lists a library's functions in hash table order: compared sorted.
  const libs = (await c.call("FUNCTION", "LIST", "WITHCODE")) as RespValue[][];
  out.libraries = libs.map((l) =>
    l.map((v, i) =>
      l[i - 1] === "functions" ? (v as RespValue[]).map((f) => JSON.stringify(f)).sort() : v
    )
  );
  return out;
}

Deno.test({
  name: "scripting: a script's writes reach the AOF as redis-server writes them, and come back",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    const args = ["--appendonly", "yes", "--appendfsync", "always"];
    try {
      const replies: unknown[][] = [];
      const states: Record<string, unknown>[] = [];
      for (const [i, impl] of (["ours", "redis"] as const).entries()) {
        await using p = impl === "ours"
          ? await startDataNode(args, { dir: dirs[i]! })
          : await startRedisServer(args, { dir: dirs[i]! });
        using c = await RawConn.connect(p.port);
        replies.push(await runAll(c, WORKLOAD));
        states.push(await state(c));
      }
      deepStrictEqual(replies[0], replies[1]);
      deepStrictEqual(states[0], states[1]);
      const [ours, redis] = await Promise.all(dirs.map(readIncr));
      deepStrictEqual(ours, redis);
      // The effects, not the scripts: MULTI/EXEC around several writes, nothing for reads.
      ok(redis!.includes("MULTI") && redis!.includes("FUNCTION LOAD " + LIB));
      ok(!redis!.some((l) => l.startsWith("EVAL")) && !redis!.includes("SET local only"));
      // Restarted on its own AOF, our node has the data and the library back.
      await using again = await startDataNode(args, { dir: dirs[0]! });
      using c = await RawConn.connect(again.port);
      const back = await state(c);
      // redis.set_repl(REPL_NONE) kept 'local' out of the AOF: it is gone after the restart.
      const expected = { ...states[1]! };
      delete expected["0:local"];
      deepStrictEqual(back, expected);
      equal(await c.call("FCALL", "bump", "2", "counter", "log", "1"), 3);
    } finally {
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    }
  },
});

/** Master and two replicas; the workload runs on the master; every replica ends equal. */
async function replicate(master: Impl, replicas: Impl[]): Promise<void> {
  await using m = await Node.start(master, "master");
  const rs: Node[] = [];
  try {
    for (const [i, impl] of replicas.entries()) {
      const r = await Node.start(impl, `replica${i}`);
      rs.push(r);
      await r.replicaOf(m);
      await linkUp(m, r);
    }
    using c = await m.fresh();
    const replies = await runAll(c, WORKLOAD);
    ok(!replies.some((v) => typeof v === "string" && v.startsWith("ERR: ERR")), String(replies));
    await caughtUp(m, rs);
    const want = await state(c);
    for (const r of rs) {
      using rc = await r.fresh();
      const got = await state(rc);
      // set_repl(REPL_NONE): the master's 'local' key never reaches a replica.
      const expected = { ...want };
      delete expected["0:local"];
      deepStrictEqual(got, expected, r.label);
      // A replica runs read-only functions and scripts; a writing one is refused.
      equal(await rc.call("FCALL_RO", "peek", "1", "counter"), "12");
      const refused = await rc.call("FCALL", "bump", "2", "counter", "log", "1");
      ok(refused instanceof RespError && refused.message.startsWith("READONLY"), String(refused));
    }
  } finally {
    for (const r of rs) await r[Symbol.asyncDispose]();
  }
}

Deno.test({
  name: "scripting: replicas (ours and redis-server) of our master get a script's effects",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await replicate("ours", ["ours", "redis"]);
  },
});

Deno.test({
  name: "scripting: our replica of a redis-server master running scripts and functions",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await replicate("redis", ["ours"]);
  },
});

Deno.test({
  name: "scripting: FUNCTION DUMP payloads move between our node and redis-server",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    using a = await RawConn.connect(ours.port);
    using b = await RawConn.connect(redis.port);
    const other = "#!lua name=other\nredis.register_function('bump', function() return 0 end)";
    for (const c of [a, b]) equal(await c.call("FUNCTION", "LOAD", LIB), "qlib");
    const dumps = [await a.call("FUNCTION", "DUMP"), await b.call("FUNCTION", "DUMP")];
    equal(dumps[0], dumps[1]);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const payload = String(await from.call("FUNCTION", "DUMP"));
      await to.call("FUNCTION", "FLUSH");
      equal(await to.call("FUNCTION", "RESTORE", payload), "OK");
      equal(await to.call("FCALL", "bump", "2", "c", "l", "2"), 1);
      // APPEND (the default) refuses a library that exists; REPLACE takes it.
      const dup = await to.call("FUNCTION", "RESTORE", payload);
      equal(String(dup), "ERR Library qlib already exists");
      equal(await to.call("FUNCTION", "RESTORE", payload, "REPLACE"), "OK");
      // A function name taken by another library is refused even with REPLACE.
      await to.call("FUNCTION", "FLUSH");
      equal(await to.call("FUNCTION", "LOAD", other), "other");
      const clash = await to.call("FUNCTION", "RESTORE", payload, "REPLACE");
      ok(clash instanceof RespError, String(clash));
      equal(await to.call("FUNCTION", "RESTORE", payload, "FLUSH"), "OK");
      deepStrictEqual(
        ((await to.call("FUNCTION", "LIST")) as RespValue[][]).map((l) => l[1]),
        ["qlib"],
      );
    }
  },
});

const sha1 = (s: string): string => createHash("sha1").update(s).digest("hex");
const INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
const PAIR = "return {KEYS[1], ARGV[1], tonumber(ARGV[1]) * 2, redis.call('EXISTS', KEYS[1])}";

/** ioredis's defineCommand (EVALSHA, then EVAL on NOSCRIPT) and node-redis's scripts. */
async function clientResults(port: number): Promise<unknown[]> {
  const out: unknown[] = [];
  const io = new Redis({ port, host: "127.0.0.1", lazyConnect: true });
  // deno-lint-ignore no-explicit-any
  const r = io as any;
  const nr = createClient({ socket: { host: "127.0.0.1", port } });
  try {
    await io.connect();
    await io.script("FLUSH");
    io.defineCommand("incrBy", { numberOfKeys: 1, lua: INCR_BY });
    io.defineCommand("pair", { numberOfKeys: 1, lua: PAIR });
    out.push(await r.incrBy("ctr", 5), await r.incrBy("ctr", 3000000000));
    out.push(await r.pair("ctr", "21"));
    out.push(await io.script("EXISTS", sha1(INCR_BY), sha1(PAIR), "0".repeat(40)));
    // Flushed behind its back, ioredis falls back to EVAL (NOSCRIPT) and succeeds.
    await io.script("FLUSH");
    out.push(await r.incrBy("ctr", 1));
    out.push(
      await io.evalsha("ffffffffffffffffffffffffffffffffffffffff", 0).catch((e) => e.message),
    );
    const sha = String(await io.script("LOAD", PAIR));
    out.push(await io.evalsha(sha, 1, "k", "4"));
    await nr.connect();
    out.push(await nr.eval(INCR_BY, { keys: ["ctr"], arguments: ["10"] }));
    out.push(await nr.evalSha(sha, { keys: ["ctr"], arguments: ["3"] }));
    out.push(await nr.evalRo("return redis.call('GET', KEYS[1])", { keys: ["ctr"] }));
    out.push(
      await nr.evalRo("return redis.call('DEL', KEYS[1])", { keys: ["ctr"] }).catch((e: Error) =>
        e.message
      ),
    );
  } finally {
    io.disconnect();
    if (nr.isOpen) await nr.quit();
  }
  return out;
}

Deno.test({
  name: "scripting: EVALSHA through ioredis and node-redis answers as redis-server does",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const a = await clientResults(ours.port);
    const b = await clientResults(redis.port);
    deepStrictEqual(a, b);
    equal(a[0], 5);
    equal(a[1], 3000000005);
  },
});

// ---- a job queue on scripts (BullMQ-style) ----

/** Enqueue: a job hash and its id on the wait list; the id comes from a counter. */
const ENQUEUE = `
local id = redis.call('INCR', KEYS[1])
local key = KEYS[2] .. id
redis.call('HSET', key, 'data', ARGV[1], 'attempts', 0, 'created', ARGV[2])
redis.call('RPUSH', KEYS[3], id)
redis.call('XADD', KEYS[4], '1-' .. redis.call('INCR', KEYS[4] .. ':seq'), 'event', 'waiting', 'job', id)
return id`;

/**
 * Reserve: the oldest waiting job moves to the active sorted set, scored by its lease's end;
 * a job whose lease expired is taken back first (its attempts counted).
 */
const RESERVE = `
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1)
local id = expired[1]
if not id then
  id = redis.call('LPOP', KEYS[1])
  if not id then return false end
end
redis.call('ZADD', KEYS[2], now + lease, id)
local attempts = redis.call('HINCRBY', KEYS[3] .. id, 'attempts', 1)
return {id, attempts, redis.call('HGET', KEYS[3] .. id, 'data')}`;

/** Ack: the job leaves the active set; its result is recorded and counted. */
const ACK = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return redis.error_reply('NOTACTIVE job ' .. ARGV[1] .. ' is not active')
end
redis.call('HSET', KEYS[2] .. ARGV[1], 'result', ARGV[2], 'finished', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('XADD', KEYS[4], '1-' .. redis.call('INCR', KEYS[4] .. ':seq'), 'event', 'completed', 'job', ARGV[1])
return redis.call('HINCRBY', KEYS[5], 'completed', 1)`;

/** The same deterministic workload: enqueue, reserve, ack, lease expiries, a double ack. */
async function queueRun(
  port: number,
): Promise<{ replies: unknown[]; final: Record<string, unknown> }> {
  const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true });
  // deno-lint-ignore no-explicit-any
  const q = r as any;
  const replies: unknown[] = [];
  try {
    await r.connect();
    await r.flushall();
    r.defineCommand("enqueue", { numberOfKeys: 4, lua: ENQUEUE });
    r.defineCommand("reserve", { numberOfKeys: 3, lua: RESERVE });
    r.defineCommand("ack", { numberOfKeys: 5, lua: ACK });
    const keys = {
      enqueue: ["q:id", "q:job:", "q:wait", "q:events"],
      reserve: ["q:wait", "q:active", "q:job:"],
      ack: ["q:active", "q:job:", "q:done", "q:events", "q:stats"],
    };
    let now = 1_000_000;
    for (let i = 0; i < 20; i++) {
      replies.push(await q.enqueue(...keys.enqueue, JSON.stringify({ n: i }), String(now)));
    }
    for (let round = 0; round < 30; round++) {
      now += 100;
      const job = await q.reserve(...keys.reserve, String(now), "250");
      replies.push(job);
      if (!job) continue;
      const [id, attempts] = job as [string, number];
      // Every third job's worker "dies" on its first attempt: the lease runs out instead.
      if (Number(id) % 3 === 0 && attempts === 1) continue;
      replies.push(await q.ack(...keys.ack, id, `ok:${id}`, String(now)));
      replies.push(
        await q.ack(...keys.ack, id, `again:${id}`, String(now)).catch((e: Error) => e.message),
      );
    }
    const final = {
      wait: await r.lrange("q:wait", 0, -1),
      active: await r.zrange("q:active", 0, -1, "WITHSCORES"),
      done: await r.zrange("q:done", 0, -1, "WITHSCORES"),
      stats: await r.hgetall("q:stats"),
      job3: await r.hgetall("q:job:3"),
      job20: await r.hgetall("q:job:20"),
      events: await r.xrange("q:events", "-", "+"),
      keys: (await r.keys("*")).sort(),
    };
    return { replies, final };
  } finally {
    r.disconnect();
  }
}

Deno.test({
  name: "scripting: a job queue on scripts ends in the same state on our node and redis-server",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const a = await queueRun(ours.port);
    const b = await queueRun(redis.port);
    deepStrictEqual(a.replies, b.replies);
    deepStrictEqual(a.final, b.final);
    // The workload did what it says: jobs completed, some were retried after their lease.
    ok(Number((a.final.stats as Record<string, string>).completed) >= 15);
    equal((a.final.job3 as Record<string, string>).attempts, "2");
  },
});

/** What MONITOR shows for scripts: the script first, then its commands as client "lua". */
async function monitorLines(port: number): Promise<string[]> {
  using mon = await RawConn.connect(port);
  using c = await RawConn.connect(port);
  equal(await c.call("FUNCTION", "LOAD", LIB), "qlib");
  equal(await mon.call("MONITOR"), "OK");
  const cmds = [
    ["EVAL", "redis.call('SET', KEYS[1], 'v'); return redis.call('GET', KEYS[1])", "1", "mk"],
    ["EVALSHA", "nosuch", "0"],
    ["EVAL_RO", "return redis.call('EXISTS', KEYS[1])", "1", "mk"],
    ["FCALL", "bump", "2", "counter", "log", "3"],
    ["FCALL_RO", "peek", "1", "counter"],
  ];
  for (const argv of cmds) await c.call(...argv);
  const lines: string[] = [];
  for (let i = 0; i < 11; i++) {
    // "<time> [<db> <client address or lua>] <args>": times and addresses vary.
    const line = String(await mon.read()).replace(/^\d+\.\d+ /, "");
    lines.push(line.replace(/^\[(\d+) \d[\d.:]*\]/, "[$1 client]"));
  }
  return lines;
}

Deno.test({
  name: "scripting: MONITOR shows a script, then the commands it runs, as redis-server does",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const a = await monitorLines(ours.port);
    deepStrictEqual(a, await monitorLines(redis.port));
    ok(a.some((l) => l.startsWith("[0 lua]")), a.join("\n"));
  },
});

/** Single-node clusters serving slots 0-8000: what scripts may touch, as each server answers. */
async function clusterReplies(port: number): Promise<unknown[]> {
  using c = await RawConn.connect(port);
  equal(await c.call("CLUSTER", "ADDSLOTSRANGE", "0", "8000"), "OK");
  for (let i = 0; i < 100; i++) {
    if (String(await c.call("CLUSTER", "INFO")).includes("cluster_state:ok")) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Slots: b 3300, c 7365 (both here), a 15495 (not served).
  const shebang = "#!lua\n";
  return await runAll(c, [
    ["EVAL", "return redis.call('SET', 'b', 1)", "0"],
    ["EVAL", "return redis.call('GET', 'a')", "0"],
    ["EVAL", "return redis.pcall('GET', 'a')", "0"],
    ["EVAL", "return redis.call('GET', KEYS[1])", "1", "a"],
    ["EVAL", "redis.call('SET', 'b', 1); return redis.call('GET', 'c')", "0"],
    ["EVAL", "return redis.call('GET', 'c')", "1", "b"],
    ["EVAL", shebang + "redis.call('SET', 'b', 1); return redis.call('GET', 'c')", "0"],
    ["EVAL", shebang + "return redis.call('GET', 'c')", "1", "b"],
    [
      "EVAL",
      "#!lua flags=allow-cross-slot-keys\nredis.call('SET', 'b', 2); return redis.call('GET', 'c')",
      "0",
    ],
    ["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"],
    ["EVAL", "return redis.call('MGET', 'b', 'c')", "0"],
    ["GET", "b"],
  ]);
}

Deno.test({
  name: "scripting: cluster mode refuses non-local and cross-slot keys as redis-server does",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    const args = ["--cluster-enabled", "yes", "--cluster-require-full-coverage", "no"];
    await using ours = await startDataNode(args);
    await using redis = await startRedisServer(args);
    const a = await clusterReplies(ours.port);
    deepStrictEqual(a, await clusterReplies(redis.port));
    ok(a.some((v) => String(v).includes("non local key")), String(a));
  },
});

/** The ACL LOG entry of a command a script may not run: fields and who ran the script. */
async function aclLogEntry(port: number): Promise<unknown> {
  using admin = await RawConn.connect(port);
  using c = await RawConn.connect(port);
  await admin.call("ACL", "SETUSER", "su", "on", "nopass", "+@all", "-set", "~k*", "&*");
  equal(await c.call("AUTH", "su", "x"), "OK");
  const denied = await c.call("EVAL", "return redis.pcall('SET', KEYS[1], 'v')", "1", "k1");
  const key = await c.call("EVAL", "return redis.pcall('GET', 'other')", "0");
  const [entry] = (await admin.call("ACL", "LOG", "1")) as RespValue[][];
  const fields: Record<string, unknown> = {};
  for (let i = 0; i + 1 < entry!.length; i += 2) fields[String(entry![i])] = entry![i + 1];
  const info = String(fields["client-info"]);
  return {
    denied,
    key,
    reason: fields.reason,
    context: fields.context,
    object: fields.object,
    username: fields.username,
    cmd: /cmd=(\S+)/.exec(info)?.[1],
    user: /user=(\S+)/.exec(info)?.[1],
  };
}

Deno.test({
  name: "scripting: ACL LOG records a script's refused command as redis-server does",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const a = await aclLogEntry(ours.port);
    deepStrictEqual(a, await aclLogEntry(redis.port));
    equal((a as Record<string, unknown>).context, "lua");
  },
});

const SPIN = "local i = 0 while true do i = i + 1 end";
const PCALL_SPIN =
  "local f = function() while true do redis.call('PING') end end while true do pcall(f) end";
const SPIN_LIB = `#!lua name=spin\nredis.register_function('spin', function() ${SPIN} end)`;

/**
 * A script past busy-reply-threshold: other clients get BUSY, FUNCTION STATS and the KILLs
 * answer by the running kind, SCRIPT KILL ends it (after a pcall caught an error too); a script
 * that wrote is UNKILLABLE and only SHUTDOWN NOSAVE ends it (and the server).
 */
async function busyReplies(port: number): Promise<unknown[]> {
  using runner = await RawConn.connect(port);
  using other = await RawConn.connect(port);
  const out: unknown[] = [];
  const text = (v: RespValue) => v instanceof RespError ? `ERR: ${v.message}` : v;
  const call = async (...argv: string[]) => out.push(text(await other.call(...argv)));
  equal(await other.call("CONFIG", "SET", "busy-reply-threshold", "100"), "OK");
  equal(await other.call("FUNCTION", "LOAD", SPIN_LIB), "spin");
  const busyOnce = async (start: string[], checks: string[][]) => {
    await runner.write(encodeCommand(start));
    await new Promise((r) => setTimeout(r, 400));
    for (const argv of checks) await call(...argv);
    out.push(text(await runner.read()));
  };
  await busyOnce(["EVAL", SPIN, "0"], [
    ["PING"],
    ["SET", "k", "v"],
    ["FUNCTION", "STATS"],
    ["FUNCTION", "KILL"],
    ["SCRIPT", "KILL"],
  ]);
  await call("PING");
  await call("SCRIPT", "KILL");
  // An error caught by pcall earlier in the script does not make it unkillable.
  await busyOnce(["EVAL", "pcall(error, 'x') " + SPIN, "0"], [["PING"], ["SCRIPT", "KILL"]]);
  await busyOnce(["FCALL", "spin", "0"], [
    ["EVAL", "return 1", "0"],
    ["SCRIPT", "KILL"],
    ["FUNCTION", "KILL"],
  ]);
  await call("GET", "k");
  // A script that catches the kill's error with pcall is still ended by it.
  await busyOnce(["EVAL", PCALL_SPIN, "0"], [["SCRIPT", "KILL"]]);
  await call("PING");
  await runner.write(encodeCommand(["EVAL", "redis.call('SET', 'w', 1) " + SPIN, "0"]));
  await new Promise((r) => setTimeout(r, 400));
  await call("SCRIPT", "KILL");
  await call("SHUTDOWN");
  await other.write(encodeCommand(["SHUTDOWN", "NOSAVE"]));
  out.push(await other.closedByServer(5000), await runner.closedByServer(5000));
  return out;
}

Deno.test({
  name: "scripting: a busy script, BUSY replies, SCRIPT KILL and SHUTDOWN NOSAVE as redis-server",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    await using ours = await startDataNode();
    await using redis = await startRedisServer();
    const a = await busyReplies(ours.port);
    deepStrictEqual(a, await busyReplies(redis.port));
    ok(String(a[0]).startsWith("ERR: BUSY"), String(a));
  },
});

Deno.test({
  name: "scripting: a script that outlives busy-reply-threshold still writes one MULTI/EXEC",
  ignore: SKIP !== null,
  ...opts,
  fn: async () => {
    const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    const args = ["--appendonly", "yes", "--appendfsync", "always", "--busy-reply-threshold", "1"];
    const body = "redis.call('SET', KEYS[1], 'first'); local n = 0; " +
      "for i = 1, 2000000 do n = n + i end; redis.call('SET', KEYS[2], n); return n";
    try {
      const replies: unknown[] = [];
      for (const [i, impl] of (["ours", "redis"] as const).entries()) {
        await using p = impl === "ours"
          ? await startDataNode(args, { dir: dirs[i]! })
          : await startRedisServer(args, { dir: dirs[i]! });
        using c = await RawConn.connect(p.port);
        replies.push(await c.call("EVAL", body, "2", "a", "b"), await c.call("MGET", "a", "b"));
      }
      deepStrictEqual(replies.slice(0, 2), replies.slice(2));
      const [ours, redis] = await Promise.all(dirs.map(readIncr));
      deepStrictEqual(ours, redis);
      ok(
        redis!.join("\n").includes("MULTI\nSET a first\nSET b 2000001000000\nEXEC"),
        redis!.join("\n"),
      );
    } finally {
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    }
  },
});

/**
 * Scripts on a stale replica (its link down, replica-serve-stale-data no), as redis-server 7.0
 * answers: a script without flags does not start (MASTERDOWN), one with flags needs allow-stale,
 * and then each command it runs must be allowed on stale data.
 */
for (const impl of ["ours", "redis"] as const) {
  Deno.test({
    name: `scripting: scripts on a stale replica (${impl})`,
    ignore: impl === "redis" && !hasRedis,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await using node = impl === "ours" ? await startDataNode() : await startRedisServer();
      using c = await RawConn.connect(node.port);
      const text = (v: RespValue) => v instanceof RespError ? `-${v.message}` : String(v);
      equal(text(await c.call("CONFIG", "SET", "replica-serve-stale-data", "no")), "OK");
      // Port 1: nothing listens, the link stays down.
      equal(text(await c.call("REPLICAOF", "127.0.0.1", "1")), "OK");
      const seen = [
        await c.call("EVAL", "return redis.call('get','x')", "1", "x"),
        await c.call("EVAL", "#!lua flags=no-writes\nreturn 1", "0"),
        await c.call("EVAL", "#!lua flags=allow-stale,no-writes\nreturn 1", "0"),
        await c.call(
          "EVAL",
          "#!lua flags=allow-stale,no-writes\nreturn redis.call('echo','hi')",
          "0",
        ),
      ].map(text);
      const masterDown =
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
      deepStrictEqual(seen, [masterDown, masterDown, "1", "hi"]);
      const get = text(
        await c.call(
          "EVAL",
          "#!lua flags=allow-stale,no-writes\nreturn redis.call('get','x')",
          "1",
          "x",
        ),
      );
      ok(get.startsWith("-ERR Can not execute the command on a stale replica"), get);
      equal(text(await c.call("REPLICAOF", "NO", "ONE")), "OK");
    },
  });
}
