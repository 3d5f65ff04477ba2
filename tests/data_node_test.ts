/**
 * Data node behaviour that needs real connections and time: blocking commands, CLIENT PAUSE,
 * MONITOR, keyspace expiry, startup configuration errors, CONFIG REWRITE, the admin API.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import {
  dataNodeCommand,
  freePort,
  hasRedis,
  runDataNode,
  startDataNode,
  startProcess,
  startRedisServer,
  withTempDir,
} from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import {
  encodeCommand,
  RespError,
  RespPush,
  type RespValue,
  SimpleString,
} from "../shared/resp/mod.ts";

if (!hasRedis) {
  console.log("SKIP: redis-server not installed: the redis-server variants of this file");
}

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Waits until the server reports `n` blocked clients (so the next step races nothing). */
function blockedClients(w: RawConn, n: number): Promise<void> {
  return eventually(
    async () => new RegExp(`blocked_clients:${n}\r`).test(String(await w.call("INFO", "clients"))),
    `${n} blocked clients`,
  );
}

Deno.test({
  name: "blocked clients are served first come, first served, and time out with a null",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using a = await RawConn.connect(node.port);
    using b = await RawConn.connect(node.port);
    using w = await RawConn.connect(node.port);
    await a.write(new TextEncoder().encode("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n"));
    await blockedClients(w, 1);
    await b.write(new TextEncoder().encode("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n"));
    await blockedClients(w, 2);
    equal(await w.call("RPUSH", "q", "first", "second"), 2);
    deepStrictEqual(await a.read(), ["q", "first"]);
    deepStrictEqual(await b.read(), ["q", "second"]);
    equal(await w.call("EXISTS", "q"), 0);
    const t0 = Date.now();
    equal(await a.call("BRPOP", "none", "0.2"), null);
    ok(Date.now() - t0 >= 150);
  },
});

Deno.test({
  name: "BLMOVE wakes on a push; CLIENT UNBLOCK ends a wait with a null or an error",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using a = await RawConn.connect(node.port);
    using w = await RawConn.connect(node.port);
    const aId = await a.call("CLIENT", "ID");
    const moved = a.call("BLMOVE", "src", "dst", "LEFT", "RIGHT", "5");
    await blockedClients(w, 1);
    await w.call("LPUSH", "src", "v");
    equal(await moved, "v");
    deepStrictEqual(await w.call("LRANGE", "dst", "0", "-1"), ["v"]);
    const waiting = a.call("BZPOPMIN", "z", "0");
    await blockedClients(w, 1);
    equal(await w.call("CLIENT", "UNBLOCK", String(aId)), 1);
    equal(await waiting, null);
    const erroring = a.call("BLPOP", "l", "0");
    await blockedClients(w, 1);
    equal(await w.call("CLIENT", "UNBLOCK", String(aId), "ERROR"), 1);
    const err = await erroring;
    ok(err instanceof RespError);
    equal(err.message, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    equal(await w.call("CLIENT", "UNBLOCK", String(aId)), 0);
  },
});

Deno.test({
  name: "REPLICAOF wakes clients blocked on keys with UNBLOCKED and closes them (as redis-server)",
  ...opts,
  fn: async () => {
    const impls = hasRedis ? [startDataNode, startRedisServer] : [startDataNode];
    if (!hasRedis) console.log("redis-server not installed: checked on our node only");
    // A master nobody listens on: the replica keeps trying, which is all this needs.
    const nowhere = String(await freePort());
    for (const start of impls) {
      await using node = await start();
      using a = await RawConn.connect(node.port);
      using w = await RawConn.connect(node.port);
      await a.write(new TextEncoder().encode("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n"));
      await blockedClients(w, 1);
      equal(String(await w.call("REPLICAOF", "127.0.0.1", nowhere)), "OK");
      const err = await a.read();
      ok(err instanceof RespError, String(err));
      equal(
        err.message,
        "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
      );
      ok(await a.closedByServer(), "the woken client is disconnected");
      await blockedClients(w, 0);
    }
  },
});

Deno.test({
  name: "CLIENT PAUSE WRITE holds writes but not reads until it expires",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using a = await RawConn.connect(node.port);
    using b = await RawConn.connect(node.port);
    const t0 = Date.now();
    equal(String(await a.call("CLIENT", "PAUSE", "1500", "WRITE")), "OK");
    equal(await b.call("GET", "k"), null);
    ok(Date.now() - t0 < 1200, "reads are not paused");
    equal(String(await b.call("SET", "k", "v")), "OK");
    ok(Date.now() - t0 >= 1400, "the write waited for the pause");
  },
});

Deno.test({
  name: "MONITOR streams commands in Redis's format; RESP3 subscribers get pushes",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using m = await RawConn.connect(node.port);
    using c = await RawConn.connect(node.port);
    using s = await RawConn.connect(node.port);
    equal(String(await m.call("MONITOR")), "OK");
    await c.call("SET", "k", "a b\n");
    const line = await m.read();
    ok(line instanceof SimpleString);
    match(line.value, /^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "k" "a b\\n"$/);
    await s.call("HELLO", "3");
    ok((await s.call("SUBSCRIBE", "ch")) instanceof RespPush);
    equal(await c.call("PUBLISH", "ch", "m"), 1);
    const push = await s.read();
    ok(push instanceof RespPush);
    deepStrictEqual(push.items, ["message", "ch", "m"]);
    equal(String(await s.call("PING")), "PONG", "RESP3 allows any command while subscribed");
  },
});

Deno.test({
  name: "keys with a TTL expire actively without being touched",
  ...opts,
  fn: async () => {
    await using node = await startDataNode(["--hz", "50"]);
    using c = await RawConn.connect(node.port);
    for (let i = 0; i < 100; i++) await c.call("SET", `k${i}`, "v", "PX", "50");
    await c.call("SET", "keep", "v");
    await eventually(
      async () => /db0:keys=1,expires=0/.test(String(await c.call("INFO", "keyspace"))),
      "the active expire cycle to delete the 100 keys",
    );
  },
});

async function startupError(args: string[]): Promise<string> {
  const out = await runDataNode(args);
  equal(out.success, false, "startup should fail");
  return out.stderr;
}

Deno.test("a bad config line stops startup with the file, line and reason", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/bad.conf`;
    await Deno.writeTextFile(file, "# comment\nport 7000\nmaxmemory lots\n");
    match(await startupError([file]), /bad\.conf:3: 'maxmemory' argument must be a memory value/);
    await Deno.writeTextFile(file, "nosuchdirective 1\n");
    match(await startupError([file]), /bad\.conf:1: Bad directive or wrong number of arguments/);
    match(await startupError(["--tls-port", "6380"]), /TLS \(tls-port\) is not supported yet/);
    // A nodes.conf that does not parse stops a cluster node, naming the line.
    await Deno.writeTextFile(`${dir}/nodes.conf`, "not a node line\n");
    match(
      await startupError(["--cluster-enabled", "yes", "--dir", dir]),
      /nodes\.conf:1: Unrecoverable error/,
    );
    match(await startupError(["--port", "99999"]), /'port' argument must be between 0 and 65535/);
    // Command line errors show the line built from the arguments, as redis-server does.
    match(
      await startupError(["--maxmemory", "1", "2"]),
      /'maxmemory "1" "2"'.*wrong number of arguments/,
    );
    match(
      await startupError(["--loglevel", "--bla"]),
      /'loglevel "--bla"'.*argument\(s\) must be one of the following/,
    );
    match(
      await startupError(["--replicaof", "127.0.0.1", "abc"]),
      /'replicaof "127.0.0.1" "abc"'.*Invalid master port/,
    );
    match(
      await startupError(["--shutdown-on-sigint"]),
      /'shutdown-on-sigint'.*argument\(s\) must be one of the following/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "CONFIG REWRITE keeps comments and unmanaged lines and appends changed directives",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/node.conf`;
      const port = await freePort();
      await Deno.writeTextFile(
        file,
        `# my settings\nport ${port}\nbind 127.0.0.1\nsave ""\n# keep me\nmaxmemory 1mb\nadmin-port -1\n`,
      );
      await using p = await startProcess({
        cmd: dataNodeCommand(port, ["--dir", dir], file),
        port,
      });
      using c = await RawConn.connect(p.port);
      equal(String(await c.call("CONFIG", "SET", "maxmemory", "2mb", "hz", "20")), "OK");
      equal(String(await c.call("CONFIG", "REWRITE")), "OK");
      const text = await Deno.readTextFile(file);
      ok(text.startsWith("# my settings\n"));
      ok(text.includes("# keep me\n"));
      ok(text.includes("maxmemory 2mb\n"));
      match(text, /# Generated by CONFIG REWRITE\n[^]*hz 20\n/);
      equal(String(await c.call("CONFIG", "REWRITE")), "OK");
      equal(await Deno.readTextFile(file), text, "rewrite is idempotent");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "DEBUG CONFIG-REWRITE-FORCE-ALL writes every directive; a restart reads the same config",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/node.conf`;
      const port = await freePort();
      await Deno.writeTextFile(file, `port ${port}\nsave ""\nadmin-port -1\n`);
      const cmd = dataNodeCommand(port, ["--dir", dir, "--enable-debug-command", "yes"], file);
      const configs = async (c: RawConn) => {
        const all = (await c.call("CONFIG", "GET", "*")) as string[];
        const m = new Map<string, string>();
        for (let i = 0; i < all.length; i += 2) m.set(String(all[i]), String(all[i + 1]));
        return m;
      };
      let before: Map<string, string>;
      {
        await using p = await startProcess({ cmd, port });
        using c = await RawConn.connect(p.port);
        await c.call("CONFIG", "SET", "shutdown-on-sigint", "nosave force now");
        await c.call("CONFIG", "SET", "latency-tracking-info-percentiles", "0.0 50.0 99.9");
        equal(String(await c.call("DEBUG", "CONFIG-REWRITE-FORCE-ALL")), "OK");
        before = await configs(c);
      }
      const text = await Deno.readTextFile(file);
      // Directives at their defaults are written too.
      match(text, /\nhz 10\n/);
      match(text, /\ndatabases 16\n/);
      match(text, /\nshutdown-on-sigint nosave now force\n/);
      await using p = await startProcess({ cmd, port });
      using c = await RawConn.connect(p.port);
      const after = await configs(c);
      const diffs = [...before].filter(([k, v]) => after.get(k) !== v)
        .map(([k, v]) => `${k}: ${v} -> ${after.get(k)}`);
      deepStrictEqual(diffs, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "rename-command moves or removes a command, and survives CONFIG REWRITE and a restart",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/node.conf`;
      const port = await freePort();
      await Deno.writeTextFile(
        file,
        `port ${port}\nsave ""\nadmin-port -1\nrename-command flushdb badger\n` +
          `rename-command DEBUG ""\n`,
      );
      const cmd = dataNodeCommand(port, ["--dir", dir], file);
      const check = async (c: RawConn) => {
        await c.call("SET", "k", "v");
        const e = await c.call("FLUSHDB");
        ok(e instanceof RespError && /^ERR unknown command 'flushdb'/i.test(e.message), String(e));
        ok((await c.call("DEBUG", "HELP")) instanceof RespError);
        equal(String(await c.call("BADGER")), "OK");
        equal(Number(await c.call("DBSIZE")), 0);
      };
      {
        await using p = await startProcess({ cmd, port });
        using c = await RawConn.connect(p.port);
        await check(c);
        await c.call("CONFIG", "SET", "hz", "20");
        equal(String(await c.call("CONFIG", "REWRITE")), "OK");
      }
      match(await Deno.readTextFile(file), /rename-command flushdb badger\n/);
      await using p = await startProcess({ cmd, port });
      using c = await RawConn.connect(p.port);
      await check(c);
      match(
        await startupError(["--rename-command", "nosuch", "x"]),
        /No such command in rename-command/,
      );
      match(
        await startupError(["--rename-command", "get", "set"]),
        /Target command name already exists/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the admin API serves health, info, metrics and guards mutations with the token",
  ...opts,
  fn: async () => {
    const adminPort = await freePort();
    await using node = await startDataNode([
      "--admin-port",
      String(adminPort),
      "--admin-token",
      "s3cret",
    ]);
    using c = await RawConn.connect(node.port);
    await c.call("SET", "a", "1");
    const base = `http://127.0.0.1:${adminPort}`;
    const health = await (await fetch(`${base}/health`)).json();
    equal(health.status, "ok");
    const info = await (await fetch(`${base}/info?section=keyspace`)).json();
    equal(info.keyspace.db0, "keys=1,expires=0,avg_ttl=0");
    const missing = await fetch(`${base}/info?section=nope`);
    equal(missing.status, 404);
    equal((await missing.json()).error, "no_such_section");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    match(metrics, /# TYPE redis_db_keys gauge\nredis_db_keys\{db="db0"\} 1\n/);
    match(metrics, /redis_instance_info\{role="master",run_id="[0-9a-f]{40}"\} 1/);
    const body = JSON.stringify({ maxmemory: "1mb" });
    const denied = await fetch(`${base}/config`, { method: "POST", body });
    equal(denied.status, 401);
    await denied.body?.cancel();
    const okRes = await fetch(`${base}/config`, {
      method: "POST",
      body,
      headers: { authorization: "Bearer s3cret" },
    });
    equal(okRes.status, 200);
    await okRes.body?.cancel();
    equal((await c.call("CONFIG", "GET", "maxmemory") as string[])[1], "1048576");
    const bad = await fetch(`${base}/config`, {
      method: "POST",
      body: JSON.stringify({ maxmemory: "lots" }),
      headers: { authorization: "Bearer s3cret" },
    });
    equal(bad.status, 422);
    match((await bad.json()).reason, /argument must be a memory value/);
    const notJson = await fetch(`${base}/config`, {
      method: "POST",
      body: "{",
      headers: { authorization: "Bearer s3cret" },
    });
    equal(notJson.status, 400);
    await notJson.body?.cancel();
  },
});

Deno.test({
  name: "a subscriber that stops reading is closed at the pubsub output buffer limit",
  ...opts,
  fn: async () => {
    await using node = await startDataNode([
      "--client-output-buffer-limit",
      "pubsub 256kb 128kb 60",
    ]);
    using sub = await RawConn.connect(node.port);
    using pub = await RawConn.connect(node.port);
    await sub.call("SUBSCRIBE", "firehose");
    const payload = "x".repeat(10_000);
    // The subscriber never reads: socket buffers fill, then the server's output buffer.
    for (let i = 0; i < 2000; i++) {
      if (await pub.call("PUBLISH", "firehose", payload) === 0) break;
    }
    const subs = await pub.call("PUBSUB", "NUMSUB", "firehose") as [string, number];
    equal(subs[1], 0, "the slow subscriber was disconnected");
    match(String(await pub.call("INFO", "memory")), /used_memory:\d+/);
  },
});

Deno.test({
  name: "a blocked client that disconnects is forgotten and never takes a pushed element",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using w = await RawConn.connect(node.port);
    const gone = await RawConn.connect(node.port);
    await gone.write(new TextEncoder().encode("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n"));
    await blockedClients(w, 1);
    gone.close();
    await blockedClients(w, 0);
    equal(await w.call("RPUSH", "q", "job"), 1);
    deepStrictEqual(await w.call("LRANGE", "q", "0", "-1"), ["job"], "the element is still there");
    // Commands pipelined behind a blocking one run once it is served.
    using b = await RawConn.connect(node.port);
    await b.write(new TextEncoder().encode(
      "*3\r\n$5\r\nBLPOP\r\n$1\r\nz\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n",
    ));
    await blockedClients(w, 1);
    await w.call("RPUSH", "z", "v");
    deepStrictEqual(await b.read(), ["z", "v"]);
    equal(String(await b.read()), "PONG");
  },
});

Deno.test({
  name: "a woken client is served from the key that became ready, if it has the right type",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using a = await RawConn.connect(node.port);
    using w = await RawConn.connect(node.port);
    const popped = a.call("BLPOP", "x", "y", "5");
    await blockedClients(w, 1);
    // x becomes a string: no list to serve from, the client keeps waiting (Redis 7.0).
    await w.call("SET", "x", "not a list");
    await blockedClients(w, 1);
    await w.call("RPUSH", "y", "v");
    deepStrictEqual(await popped, ["y", "v"]);
  },
});

Deno.test({
  name: "DEBUG OBJECT summarises a value as Redis does, with quicklist figures for lists",
  ...opts,
  fn: async () => {
    await using node = await startDataNode(["--enable-debug-command", "yes"]);
    using a = await RawConn.connect(node.port);
    await a.call("SET", "n", "12345");
    await a.call("RPUSH", "l", "a", "b", "c");
    const n = String(await a.call("DEBUG", "OBJECT", "n"));
    match(
      n,
      /^Value at:0x[0-9a-f]+ refcount:1 encoding:int serializedlength:3 lru:\d+ lru_seconds_idle:\d+$/,
    );
    const l = String(await a.call("DEBUG", "OBJECT", "l"));
    // The same figures as redis-server 7.0 for a three-element list.
    match(l, / encoding:quicklist /);
    match(
      l,
      / ql_nodes:1 ql_avg_node:3\.00 ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:16$/,
    );
  },
});

Deno.test({
  name: "a blocking timeout beyond 2^31 ms keeps the client blocked instead of firing at once",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using a = await RawConn.connect(node.port);
    using w = await RawConn.connect(node.port);
    const popped = a.call("BLPOP", "q", "2147484");
    await blockedClients(w, 1);
    await new Promise((r) => setTimeout(r, 200));
    await blockedClients(w, 1);
    await w.call("RPUSH", "q", "v");
    deepStrictEqual(await popped, ["q", "v"]);
  },
});

Deno.test({
  name: "CLIENT REPLY OFF and SKIP also drop the reply of a blocked command served later",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    using a = await RawConn.connect(node.port);
    using w = await RawConn.connect(node.port);
    const enc = new TextEncoder();
    await a.write(enc.encode("CLIENT REPLY SKIP\r\nBLPOP q 5\r\n"));
    await blockedClients(w, 1);
    await w.call("RPUSH", "q", "v1");
    await blockedClients(w, 0);
    await a.write(enc.encode("CLIENT REPLY OFF\r\nBLPOP q 5\r\n"));
    await blockedClients(w, 1);
    await w.call("RPUSH", "q", "v2");
    await blockedClients(w, 0);
    // The first reply this connection sees is CLIENT REPLY ON's: both pops stayed silent.
    equal(String(await a.call("CLIENT", "REPLY", "ON")), "OK");
    equal(await w.call("LLEN", "q"), 0);
  },
});

Deno.test({
  name: "a second cluster node refuses a nodes.conf another live node uses",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await using first = await startDataNode(["--cluster-enabled", "yes", "--dir", dir]);
      ok(first.port > 0);
      match(
        await startupError(["--cluster-enabled", "yes", "--dir", dir]),
        /nodes\.conf is already used by a different Redis Cluster node/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "MIGRATE: writes to the keys it moves wait for it; other keys do not",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    // A target that answers only when told to, so the MIGRATE stays in flight.
    const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const received: string[] = [];
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    const served = (async () => {
      const conn = await target.accept();
      try {
        const buf = new Uint8Array(1 << 16);
        while (!received.join("").includes("RESTORE")) {
          const n = await conn.read(buf);
          if (n === null) return;
          received.push(new TextDecoder().decode(buf.subarray(0, n)));
        }
        await released;
        await conn.write(new TextEncoder().encode("+OK\r\n+OK\r\n"));
      } finally {
        conn.close();
      }
    })();
    using a = await RawConn.connect(node.port);
    using b = await RawConn.connect(node.port);
    using c = await RawConn.connect(node.port);
    try {
      equal(await a.call("RPUSH", "moving", "1", "2", "3"), 3);
      const port = String((target.addr as Deno.NetAddr).port);
      await a.write(enc(["MIGRATE", "127.0.0.1", port, "moving", "0", "5000"]));
      await eventually(() => received.join("").includes("RESTORE"), "the RESTORE sent");
      await b.write(enc(["RPUSH", "moving", "late"]));
      // Reads, and writes of other keys, are served meanwhile.
      deepStrictEqual(await c.call("LRANGE", "moving", "0", "-1"), ["1", "2", "3"]);
      equal(String(await c.call("SET", "other", "v")), "OK");
      release();
      equal(String(await a.read()), "OK");
      // The write ran after the key left: it made a new list here instead of being lost.
      equal(await b.read(), 1);
      deepStrictEqual(await c.call("LRANGE", "moving", "0", "-1"), ["late"]);
    } finally {
      release();
      target.close();
      await served.catch(() => {});
    }
  },
});

Deno.test({
  name: "MIGRATE: one cached connection per target, SELECT once, a closed one replaced",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    await using target = await startDataNode();
    // A relay in front of the target counts connections and can cut them.
    const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const conns: Deno.Conn[] = [];
    let accepted = 0;
    let bytesToTarget = "";
    const pipe = async (from: Deno.Conn, to: Deno.Conn, seen?: (s: string) => void) => {
      const buf = new Uint8Array(1 << 16);
      try {
        for (;;) {
          const n = await from.read(buf);
          if (n === null) break;
          seen?.(new TextDecoder().decode(buf.subarray(0, n)));
          await to.write(buf.subarray(0, n));
        }
      } catch { /* cut */ }
      try {
        to.close();
      } catch { /* closed */ }
    };
    const relaying = (async () => {
      for (;;) {
        let a: Deno.Conn;
        try {
          a = await relay.accept();
        } catch {
          return;
        }
        accepted++;
        const b = await Deno.connect({ hostname: "127.0.0.1", port: target.port });
        conns.push(a, b);
        void pipe(a, b, (s) => (bytesToTarget += s));
        void pipe(b, a);
      }
    })();
    using a = await RawConn.connect(node.port);
    using t = await RawConn.connect(target.port);
    try {
      const port = String((relay.addr as Deno.NetAddr).port);
      for (let i = 0; i < 3; i++) {
        equal(await a.call("SET", `k${i}`, `v${i}`), "OK");
        equal(String(await a.call("MIGRATE", "127.0.0.1", port, `k${i}`, "0", "5000")), "OK");
      }
      equal(accepted, 1, "the three MIGRATEs shared one connection");
      equal(bytesToTarget.split("SELECT").length - 1, 1, "SELECT sent once");
      equal(await a.call("SET", "db1", "x"), "OK");
      equal(String(await a.call("MIGRATE", "127.0.0.1", port, "db1", "1", "5000")), "OK");
      equal(bytesToTarget.split("SELECT").length - 1, 2, "another database: SELECT again");
      // The connection is cut: the next MIGRATE reconnects and succeeds, as Redis retries once.
      for (const c of conns.splice(0)) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      equal(await a.call("SET", "k3", "v3"), "OK");
      equal(String(await a.call("MIGRATE", "127.0.0.1", port, "k3", "0", "5000")), "OK");
      equal(accepted, 2);
      for (let i = 0; i < 4; i++) {
        equal(await t.call("GET", `k${i}`), `v${i}`);
        equal(await a.call("EXISTS", `k${i}`), 0);
      }
      equal(await t.call("SELECT", "1"), "OK");
      equal(await t.call("GET", "db1"), "x");
      // An error from the target is reported, and the key stays here.
      equal(await a.call("SET", "k0", "again"), "OK");
      const busy = await a.call("MIGRATE", "127.0.0.1", port, "k0", "0", "5000");
      ok(busy instanceof RespError);
      equal(
        busy.message,
        "ERR Target instance replied with error: BUSYKEY Target key name already exists.",
      );
      equal(await a.call("GET", "k0"), "again");
      equal(String(await a.call("MIGRATE", "127.0.0.1", port, "k0", "0", "5000", "REPLACE")), "OK");
      equal(await t.call("SELECT", "0"), "OK");
      equal(await t.call("GET", "k0"), "again");
    } finally {
      relay.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await relaying;
    }
  },
});

Deno.test({
  name: "MIGRATE: a target that never answers times out, the key stays, the next call reconnects",
  ...opts,
  fn: async () => {
    await using node = await startDataNode();
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for (;;) {
        try {
          held.push(await silent.accept());
        } catch {
          return;
        }
      }
    })();
    using a = await RawConn.connect(node.port);
    try {
      const port = String((silent.addr as Deno.NetAddr).port);
      equal(await a.call("SET", "k", "v"), "OK");
      for (let i = 1; i <= 2; i++) {
        const r = await a.call("MIGRATE", "127.0.0.1", port, "k", "0", "300");
        ok(r instanceof RespError);
        equal(r.message, "IOERR error or timeout reading to target instance");
        equal(await a.call("GET", "k"), "v");
        // The timed-out connection is dropped: the second call opens its own.
        await eventually(() => held.length === i, `connection ${i} accepted`);
      }
    } finally {
      silent.close();
      for (const c of held) c.close();
      await accepting;
    }
  },
});

for (
  const [from, to] of [
    ["data-node", "data-node"],
    ["redis-server", "redis-server"],
    ["data-node", "redis-server"],
  ] as const
) {
  Deno.test({
    name:
      `${from} → ${to}: MIGRATE KEYS to a target with requirepass: a wrong AUTH keeps the keys, AUTH and AUTH2 move a payload larger than the socket buffers`,
    ignore: (from === "redis-server" || to === "redis-server") && !hasRedis,
    ...opts,
    fn: async () => {
      const start = (impl: typeof from, args: string[] = []) =>
        impl === "data-node" ? startDataNode(args) : startRedisServer(args);
      await using node = await start(from);
      await using target = await start(to, ["--requirepass", "secret"]);
      using a = await RawConn.connect(node.port);
      using t = await RawConn.connect(target.port);
      equal(await t.call("AUTH", "secret"), "OK");
      const big = "x".repeat(3 * 1024 * 1024);
      equal(await a.call("SET", "big", big), "OK");
      const keys = ["big"];
      for (let i = 0; i < 20; i++) {
        equal(await a.call("SET", `k${i}`, `v${i}`), "OK");
        keys.push(`k${i}`);
      }
      // MIGRATE host port key db timeout [options...] to the target.
      const migrate = (key: string, ...options: string[]) =>
        a.call("MIGRATE", "127.0.0.1", String(target.port), key, "0", "5000", ...options);
      const wrong = await migrate("", "AUTH", "nope", "KEYS", ...keys);
      ok(wrong instanceof RespError);
      equal(
        wrong.message,
        "ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.",
      );
      equal(await a.call("EXISTS", ...keys), keys.length);
      equal(await t.call("DBSIZE"), 0);
      equal(String(await migrate("", "AUTH", "secret", "KEYS", ...keys)), "OK");
      equal(await a.call("EXISTS", ...keys), 0);
      equal(await t.call("DBSIZE"), keys.length);
      equal(await t.call("STRLEN", "big"), big.length);
      equal(await t.call("GET", "k19"), "v19");
      // AUTH2 with COPY: the key stays here too.
      equal(await a.call("SET", "copied", "c"), "OK");
      equal(String(await migrate("copied", "COPY", "AUTH2", "default", "secret")), "OK");
      equal(await a.call("GET", "copied"), "c");
      equal(await t.call("GET", "copied"), "c");
    },
  });
}

for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: MIGRATE to a refused port fails writing, to an unresolvable target connecting`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      await using node = impl === "data-node" ? await startDataNode() : await startRedisServer();
      using a = await RawConn.connect(node.port);
      // A port nothing listens on: bound, then released.
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const closed = (l.addr as Deno.NetAddr).port;
      l.close();
      equal(await a.call("SET", "k", "v"), "OK");
      const cases: [string, string, string][] = [
        ["127.0.0.1", String(closed), "writing to target instance"],
        // Only the port's low 16 bits reach the connect: 65536 + p is p.
        ["127.0.0.1", String(65536 + closed), "writing to target instance"],
        ["127.0.0.1", "0", "writing to target instance"],
        ["no-such-host.invalid", "0", "connecting to the client"],
        ["", "0", "connecting to the client"],
        ["", String(closed), "connecting to the client"],
        ["127.0.0.1", "-1", "connecting to the client"],
        // atoi is strtol's long cut to an int: past the long's range it saturates.
        ["127.0.0.1", "9223372036854775808", "connecting to the client"],
        ["127.0.0.1", "-9223372036854775809", "writing to target instance"],
        ["no-such-host.invalid", "6379", "connecting to the client"],
      ];
      for (const [host, port, what] of cases) {
        const r = await a.call("MIGRATE", host, port, "k", "0", "1000");
        ok(r instanceof RespError, `${host}:${port}`);
        equal(r.message, `IOERR error or timeout ${what}`, `${host}:${port}`);
        equal(await a.call("GET", "k"), "v");
      }
    },
  });
}

function enc(argv: string[]): Uint8Array {
  let s = `*${argv.length}\r\n`;
  for (const a of argv) s += `$${new TextEncoder().encode(a).length}\r\n${a}\r\n`;
  return new TextEncoder().encode(s);
}

for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name:
      `${impl}: after a failed BGSAVE with save rules, writes and PING get MISCONF until a save works`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "redis-ha-misconf-" });
      try {
        // The dump file's name is taken by a directory: the rename at the end of the save fails.
        await Deno.mkdir(`${dir}/taken`);
        const args = ["--dir", dir, "--save", "", "--enable-protected-configs", "yes"];
        await using node = impl === "data-node"
          ? await startDataNode(args)
          : await startRedisServer(args);
        using c = await RawConn.connect(node.port);
        await c.call("SET", "k", "v");
        equal(String(await c.call("CONFIG", "SET", "dbfilename", "taken")), "OK");
        equal(String(await c.call("CONFIG", "SET", "save", "1000000 1000000")), "OK");
        await c.call("BGSAVE");
        await eventually(
          async () =>
            /rdb_last_bgsave_status:err/.test(String(await c.call("INFO", "persistence"))),
          "the BGSAVE failed",
        );
        for (const cmd of [["PING"], ["SET", "k", "w"]]) {
          const r = await c.call(...cmd);
          ok(r instanceof RespError && r.message.startsWith("MISCONF "), `${cmd[0]}: ${r}`);
        }
        equal(String(await c.call("GET", "k")), "v", "reads still run");
        // A script's write is refused too: at its start if it declares flags, at the write if
        // it does not (the error then names the script), and reads in scripts still run.
        const flagged = await c.call("EVAL", "#!lua\nreturn redis.call('set','k','w')", "0");
        ok(flagged instanceof RespError && flagged.message.startsWith("MISCONF "), `${flagged}`);
        const plain = await c.call("EVAL", "return redis.call('set','k','w')", "0");
        ok(plain instanceof RespError && plain.message.startsWith("MISCONF "), `${plain}`);
        ok(plain.message.includes("script: "), plain.message);
        equal(String(await c.call("EVAL", "return redis.call('get','k')", "0")), "v");
        equal(String(await c.call("CONFIG", "SET", "dbfilename", "dump.rdb")), "OK");
        await c.call("BGSAVE");
        await eventually(
          async () => /rdb_last_bgsave_status:ok/.test(String(await c.call("INFO", "persistence"))),
          "the BGSAVE worked",
        );
        equal(String(await c.call("PING")), "PONG");
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}

Deno.test("a port already taken stops startup with Redis's 'Failed listening on port' line", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const out = await runDataNode(["--port", String(port), "--bind", "127.0.0.1"]);
    equal(out.success, false, "startup should fail");
    ok(
      out.stdout.includes(`Failed listening on port ${port} (TCP), aborting.`),
      out.stdout + out.stderr,
    );
  } finally {
    taken.close();
  }
});

for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: SHUTDOWN is refused while the first AOF rewrite runs, unless FORCE`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      await using node = impl === "data-node" ? await startDataNode() : await startRedisServer();
      using c = await RawConn.connect(node.port);
      for (let i = 0; i < 20; i++) await c.call("SET", `k${i}`, "v");
      // Each key takes a second to write: the rewrite that starts the AOF is still running.
      equal(String(await c.call("CONFIG", "SET", "rdb-key-save-delay", "1000000")), "OK");
      equal(String(await c.call("CONFIG", "SET", "appendonly", "yes")), "OK");
      const refused = await c.call("SHUTDOWN");
      ok(refused instanceof RespError, `SHUTDOWN answered ${String(refused)}`);
      equal(refused.message, "ERR Errors trying to SHUTDOWN. Check logs.");
      equal(await c.call("PING"), "PONG", "the server goes on");
      await eventually(
        () => Promise.resolve(node.output().includes("Writing initial AOF, can't exit.")),
        "the reason in the log",
      );
      await c.call("SHUTDOWN", "NOSAVE", "FORCE").catch(() => null);
      const status = await node.status;
      ok(status.success, `exited with ${status.code}`);
    },
  });
}

for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: once SHUTDOWN has closed its connection, new connections are refused`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      // The last round with a script running past busy-reply-threshold (SHUTDOWN NOSAVE kills it).
      for (let round = 0; round < 4; round++) {
        await using node = impl === "data-node" ? await startDataNode() : await startRedisServer();
        const busy = round === 3 ? await RawConn.connect(node.port) : null;
        if (busy) {
          equal(String(await busy.call("CONFIG", "SET", "busy-reply-threshold", "100")), "OK");
          await busy.write(encodeCommand(["EVAL", "while true do end", "0"]));
          const probe = await RawConn.connect(node.port);
          await eventually(async () => {
            const v = await probe.call("PING");
            return v instanceof RespError && v.message.startsWith("BUSY");
          }, "the script to be busy");
          probe.close();
        }
        const c = await RawConn.connect(node.port);
        // The reply never comes: the connection closes as the server goes.
        await c.call("SHUTDOWN", "NOSAVE").catch(() => null);
        c.close();
        const late = await Deno.connect({ hostname: "127.0.0.1", port: node.port }).then(
          (conn) => (conn.close(), "accepted"),
          (e) => e instanceof Deno.errors.ConnectionRefused ? "refused" : String(e),
        );
        equal(late, "refused", `round ${round}`);
        busy?.close();
        ok((await node.status).success);
      }
    },
  });
}

for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name:
      `${impl}: FLUSHALL stops a BGSAVE in progress, which then counts as neither save nor error`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      await using node = impl === "data-node" ? await startDataNode() : await startRedisServer();
      using c = await RawConn.connect(node.port);
      const info = async (name: string) => {
        const text = String(await c.call("INFO", "persistence"));
        return text.split("\r\n").find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1);
      };
      equal(String(await c.call("CONFIG", "SET", "save", "")), "OK");
      for (let i = 0; i < 200; i++) await c.call("SET", `k${i}`, "v");
      // 10 ms a key: the save would take two seconds.
      equal(String(await c.call("CONFIG", "SET", "rdb-key-save-delay", "10000")), "OK");
      equal(String(await c.call("BGSAVE")), "Background saving started");
      equal(await info("rdb_bgsave_in_progress"), "1");
      equal(String(await c.call("FLUSHALL")), "OK");
      const t0 = Date.now();
      await eventually(
        async () => (await info("rdb_bgsave_in_progress")) === "0",
        "the save to stop",
        1500,
      );
      ok(Date.now() - t0 < 1500, `stopped after ${Date.now() - t0} ms`);
      equal(await info("rdb_changes_since_last_save"), "400");
      equal(await info("rdb_last_bgsave_status"), "ok");
      equal(await info("rdb_saves"), "1", "a save was started");
      equal(String(await c.call("SET", "x", "1")), "OK", "still writable");
      // The next BGSAVE runs, and to its end.
      equal(String(await c.call("CONFIG", "SET", "rdb-key-save-delay", "0")), "OK");
      equal(String(await c.call("BGSAVE")), "Background saving started");
      await eventually(
        async () => (await info("rdb_bgsave_in_progress")) === "0",
        "the second save",
      );
      equal(await info("rdb_changes_since_last_save"), "0");
      equal(await info("rdb_saves"), "2");
    },
  });
}

for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: rdb_saves counts SAVE and BGSAVE, not the saves of FLUSHALL or DEBUG RELOAD`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      const args = ["--enable-debug-command", "yes", "--save", "3600 100"];
      await using node = impl === "data-node"
        ? await startDataNode(args)
        : await startRedisServer(args);
      using c = await RawConn.connect(node.port);
      const saves = async () =>
        /rdb_saves:(\d+)/.exec(String(await c.call("INFO", "stats")))?.[1] ??
          /rdb_saves:(\d+)/.exec(String(await c.call("INFO", "persistence")))?.[1];
      equal(await saves(), "0");
      await c.call("SET", "k", "v");
      equal(String(await c.call("SAVE")), "OK");
      equal(await saves(), "1");
      equal(String(await c.call("FLUSHALL")), "OK");
      equal(String(await c.call("DEBUG", "RELOAD")), "OK");
      equal(await saves(), "1");
      equal(String(await c.call("BGSAVE")), "Background saving started");
      equal(await saves(), "2");
    },
  });
}

Deno.test({
  name: "DEBUG SEGFAULT and SIGABRT end the node at once with a crash report in the log",
  ...opts,
  fn: async () => {
    {
      await using p = await startDataNode(["--enable-debug-command", "yes"]);
      using c = await RawConn.connect(p.port);
      await c.write(new TextEncoder().encode("DEBUG SEGFAULT\r\n"));
      const st = await p.status;
      // The output is read to its end before it is looked at.
      await new Promise((r) => setTimeout(r, 100));
      equal(st.success, false);
      equal(st.code, 128 + 11);
      match(p.output(), /crashed by signal: 11/);
    }
    await using p = await startDataNode();
    p.signal("SIGABRT");
    equal((await p.status).code, 128 + 6);
    await new Promise((r) => setTimeout(r, 100));
    match(p.output(), /crashed by signal: 6/);
  },
});

for (const impl of ["data-node", "redis-server"] as const) {
  const name =
    `${impl}: a huge negative random count stops once the client's output limit closes it`;
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      if (impl === "redis-server" && !hasRedis) {
        return console.log(`SKIP: ${name}: redis-server not installed`);
      }
      await using p = impl === "data-node" ? await startDataNode() : await startRedisServer();
      using c = await RawConn.connect(p.port);
      await c.call("CONFIG", "SET", "client-output-buffer-limit", "normal 1000000 0 0");
      await c.call("HSET", "h", "a", "b");
      await c.call("SADD", "s", "a");
      for (const cmd of [["HRANDFIELD", "h", "-999999999"], ["SRANDMEMBER", "s", "-999999999"]]) {
        using victim = await RawConn.connect(p.port);
        await victim.write(new TextEncoder().encode(cmd.join(" ") + "\r\n"));
        ok(await victim.closedByServer(10000), `${cmd[0]}: the client is closed`);
      }
      equal(String(await c.call("PING")), "PONG");
    },
  });
}

for (const impl of ["data-node", "redis-server"] as const) {
  const name =
    `${impl}: a subscriber over its soft output limit is closed when the time runs out ` +
    `with no traffic`;
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      if (impl === "redis-server" && !hasRedis) {
        return console.log(`SKIP: ${name}: redis-server not installed`);
      }
      const args = ["--client-output-buffer-limit", "pubsub 0 100000 1"];
      await using p = impl === "data-node"
        ? await startDataNode(args)
        : await startRedisServer(args);
      using sub = await RawConn.connect(p.port);
      using pub = await RawConn.connect(p.port);
      await sub.call("SUBSCRIBE", "ch");
      const payload = "x".repeat(1000);
      // Publish until the server holds more than the soft limit for the subscriber.
      for (let i = 0; i < 100_000; i++) {
        await pub.call("PUBLISH", "ch", payload);
        const m = /omem=(\d+).*cmd=subscribe/.exec(String(await pub.call("CLIENT", "LIST")));
        if (!m || Number(m[1]) > 100000) break;
      }
      // No more traffic (and the subscriber reads nothing): the soft limit's second runs out.
      const t0 = Date.now();
      for (;;) {
        if (!/cmd=subscribe/.test(String(await pub.call("CLIENT", "LIST")))) break;
        ok(Date.now() - t0 < 4000, "the subscriber is closed within the soft limit's time");
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  });
}

Deno.test({
  name: "a corrupt RDB stops startup after the banner, with the CRC error in the log on stdout",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      {
        await using p = await startDataNode([], { dir });
        using c = await RawConn.connect(p.port);
        await c.call("SET", "k", "v");
        equal(String(await c.call("SAVE")), "OK");
      }
      const file = `${dir}/dump.rdb`;
      const bytes = await Deno.readFile(file);
      bytes.set(new TextEncoder().encode("foobar00"), bytes.length - 8);
      await Deno.writeFile(file, bytes);
      const [bin, ...args] = dataNodeCommand(await freePort(), [
        "--dir",
        dir,
        "--admin-port",
        "-1",
        "--always-show-logo",
        "yes",
      ]);
      const out = await new Deno.Command(bin!, { args, stdout: "piped", stderr: "piped" }).output();
      equal(out.success, false);
      const stdout = new TextDecoder().decode(out.stdout);
      match(stdout, / PID: \d+[^]*Fatal error loading the DB[^]*RDB CRC error/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

for (const impl of ["data-node", "redis-server"] as const) {
  const name = `${impl}: SAVE writes keys whose TTL passed; the load drops and counts them`;
  Deno.test({
    name,
    ...opts,
    fn: async () => {
      if (impl === "redis-server" && !hasRedis) {
        return console.log(`SKIP: ${name}: redis-server not installed`);
      }
      const dir = await Deno.makeTempDir();
      try {
        const start = () =>
          impl === "data-node"
            ? startDataNode(["--enable-debug-command", "yes"], { dir })
            : startRedisServer(["--enable-debug-command", "yes"], { dir });
        {
          await using p = await start();
          using c = await RawConn.connect(p.port);
          await c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0");
          await c.call("SET", "kept", "v");
          for (let i = 0; i < 5; i++) await c.call("SET", `gone${i}`, "v", "PX", "10");
          await new Promise((r) => setTimeout(r, 30));
          equal(String(await c.call("SAVE")), "OK");
        }
        await using p = await start();
        using c = await RawConn.connect(p.port);
        const info = String(await c.call("INFO", "persistence"));
        match(info, /rdb_last_load_keys_expired:5\r\n/);
        match(info, /rdb_last_load_keys_loaded:1\r\n/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

/**
 * Background writes as Redis 7.0 starts them: inside EXEC a BGSAVE, BGREWRITEAOF or
 * `appendonly yes` is scheduled for after it (logged for appendonly); while an RDB is being
 * written another BGSAVE is refused, with SCHEDULE too; while an AOF rewrite runs BGSAVE needs
 * SCHEDULE, and a BGREWRITEAOF waiting for a BGSAVE is scheduled. INFO's total_forks counts each
 * background write started.
 */
for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: BGSAVE, BGREWRITEAOF and appendonly yes in EXEC or beside another write`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      await using node = impl === "data-node" ? await startDataNode() : await startRedisServer();
      using c = await RawConn.connect(node.port);
      const field = async (section: string, name: string) => {
        const text = String(await c.call("INFO", section));
        return text.split("\r\n").find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1);
      };
      const idle = () =>
        eventually(
          async () => {
            return await field("persistence", "rdb_bgsave_in_progress") === "0" &&
              await field("persistence", "aof_rewrite_in_progress") === "0" &&
              await field("persistence", "aof_rewrite_scheduled") === "0";
          },
          "no background write",
          15_000,
        );
      const forks = async () => Number(await field("stats", "total_forks"));
      const text = (v: RespValue) => v instanceof RespError ? `-${v.message}` : String(v);
      const inExec = async (...cmd: string[]) => {
        equal(text(await c.call("MULTI")), "OK");
        equal(text(await c.call("SET", "foo", "bar")), "QUEUED");
        equal(text(await c.call(...cmd)), "QUEUED");
        return (await c.call("EXEC")) as RespValue[];
      };
      let before = await forks();
      deepStrictEqual((await inExec("BGREWRITEAOF")).map(text), [
        "OK",
        "Background append only file rewriting scheduled",
      ]);
      await eventually(async () => await forks() > before, "the rewrite to start");
      await idle();
      before = await forks();
      deepStrictEqual((await inExec("BGSAVE")).map(text), ["OK", "Background saving scheduled"]);
      await eventually(async () => await forks() > before, "the save to start");
      await idle();
      before = await forks();
      deepStrictEqual((await inExec("CONFIG", "SET", "appendonly", "yes")).map(text), [
        "OK",
        "OK",
      ]);
      await eventually(
        () => node.output().includes("AOF was enabled during a transaction."),
        "the log line",
      );
      await eventually(async () => await forks() > before, "the AOF rewrite to start");
      await idle();
      equal(await field("persistence", "aof_enabled"), "1");
      // Slow writes from here on: each key takes 50 ms.
      for (let i = 0; i < 40; i++) await c.call("SET", `k${i}`, "v");
      equal(text(await c.call("CONFIG", "SET", "rdb-key-save-delay", "50000")), "OK");
      equal(text(await c.call("BGSAVE")), "Background saving started");
      equal(text(await c.call("BGSAVE")), "-ERR Background save already in progress");
      equal(text(await c.call("BGSAVE", "SCHEDULE")), "-ERR Background save already in progress");
      equal(
        text(await c.call("BGREWRITEAOF")),
        "Background append only file rewriting scheduled",
      );
      equal(await field("persistence", "aof_rewrite_scheduled"), "1");
      equal(await field("persistence", "aof_rewrite_in_progress"), "0");
      // The rewrite follows once the save is done: then BGSAVE needs SCHEDULE.
      await eventually(
        async () => await field("persistence", "aof_rewrite_in_progress") === "1",
        "the scheduled rewrite to run",
        15_000,
      );
      equal(
        text(await c.call("BGSAVE")),
        "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
      );
      before = await forks();
      equal(text(await c.call("BGSAVE", "SCHEDULE")), "Background saving scheduled");
      equal(text(await c.call("CONFIG", "SET", "rdb-key-save-delay", "0")), "OK");
      await eventually(async () => await forks() > before, "the scheduled save", 15_000);
      await idle();
    },
  });
}

for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: INFO counts shard channels and cached MIGRATE connections`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      const start = () => impl === "data-node" ? startDataNode() : startRedisServer();
      await using node = await start();
      await using target = await start();
      using c = await RawConn.connect(node.port);
      using sub = await RawConn.connect(node.port);
      const stat = async (name: string) => {
        const text = String(await c.call("INFO", "stats"));
        return text.split("\r\n").find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1);
      };
      equal(await stat("pubsubshard_channels"), "0");
      equal(await stat("migrate_cached_sockets"), "0");
      await sub.call("SSUBSCRIBE", "a", "b");
      await eventually(async () => await stat("pubsubshard_channels") === "2", "two channels");
      equal(String(await c.call("SET", "k", "v")), "OK");
      equal(
        String(await c.call("MIGRATE", "127.0.0.1", String(target.port), "k", "0", "5000")),
        "OK",
      );
      equal(await stat("migrate_cached_sockets"), "1");
    },
  });
}

/**
 * A client that writes a long pipeline before reading any reply (as blocking clients and the
 * Tcl suite do): the server keeps reading while its replies wait in the output buffer, so the
 * client's writes never stall on its own unread replies.
 */
for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: a 500,000-command pipeline written before any reply is read`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: async () => {
      await using node = impl === "data-node" ? await startDataNode() : await startRedisServer();
      using c = await RawConn.connect(node.port);
      const value = "v".repeat(100);
      equal(String(await c.call("SET", "k", value)), "OK");
      const n = 500_000;
      const one = encodeCommand(["GET", "k"]);
      const all = new Uint8Array(one.length * n);
      for (let i = 0; i < n; i++) all.set(one, i * one.length);
      const reply = new TextEncoder().encode(`$100\r\n${value}\r\n`);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const exchange = (async () => {
          // Every byte is written before a single reply is read.
          for (let off = 0; off < all.length;) off += await conn.write(all.subarray(off));
          let got = 0;
          const buf = new Uint8Array(1 << 16);
          while (got < reply.length * n) {
            const r = await conn.read(buf);
            if (r === null) break;
            got += r;
          }
          return got;
        })();
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("the pipeline stalled")), 30_000);
        });
        equal(await Promise.race([exchange, timeout]), reply.length * n);
      } finally {
        clearTimeout(timer);
        conn.close();
      }
    },
  });
}

/**
 * SHUTDOWN whose save fails: the node goes on, its AOF still on, and logs why; SHUTDOWN FORCE
 * then exits anyway, as redis-server does.
 */
for (const impl of ["data-node", "redis-server"] as const) {
  Deno.test({
    name: `${impl}: a SHUTDOWN whose save fails keeps the node and its AOF; FORCE exits anyway`,
    ignore: impl === "redis-server" && !hasRedis,
    ...opts,
    fn: () =>
      withTempDir(async (dir) => {
        const args = [
          "--appendonly",
          "yes",
          "--save",
          "3600 1",
          "--enable-protected-configs",
          "yes",
        ];
        const node = impl === "data-node"
          ? await startDataNode(args, { dir })
          : await startRedisServer(args, { dir });
        try {
          using c = await RawConn.connect(node.port);
          // The dump file's name is taken by a directory: the save's rename fails.
          await Deno.mkdir(`${dir}/taken`);
          equal(String(await c.call("CONFIG", "SET", "dbfilename", "taken")), "OK");
          equal(String(await c.call("SET", "k", "v")), "OK");
          const refused = await c.call("SHUTDOWN");
          ok(refused instanceof RespError, `SHUTDOWN answered ${String(refused)}`);
          equal(refused.message, "ERR Errors trying to SHUTDOWN. Check logs.");
          await eventually(
            () => node.output().includes("Error trying to save the DB, can't exit."),
            "the reason in the log",
          );
          equal(String(await c.call("SET", "k2", "v2")), "OK", "the node goes on");
          ok(String(await c.call("INFO", "persistence")).includes("aof_enabled:1"));
          await c.call("SHUTDOWN", "FORCE").catch(() => null);
          ok((await node.status).success);
          ok(node.output().includes("Error trying to save the DB. Exit anyway."), node.output());
        } finally {
          await node.stop();
        }
      }),
  });
}
