/**
 * ACL users across processes: a replica authenticating to its master as a user allowed only
 * what replication needs, with real redis-server on either side; the ACL file through ACL SAVE
 * and a restart; `user` lines through CONFIG REWRITE; real clients with a username; DELUSER
 * closing the user's connections; a sentinel authenticating with auth-user/auth-pass.
 */
import { equal, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { RespError } from "../shared/resp/mod.ts";
import {
  dataNodeCommand,
  freePort,
  hasRedis,
  type ManagedProcess,
  runDataNode,
  startDataNode,
  startProcess,
  withTempDir,
} from "./helpers/process.ts";
import { type Impl, linkUp, Node, parseInfo, waitFor } from "./helpers/replication.ts";
import { RawConn } from "./helpers/raw.ts";
import { MASTER_NAME, Sentinel } from "./helpers/sentinel.ts";

/** The user Redis's documentation suggests for a replica: replication commands only. */
const REPL_USER = ["--user", "repl", "on", ">replpw", "+psync", "+replconf", "+ping"];

async function authed(port: number, user: string, pass: string): Promise<RawConn> {
  const c = await RawConn.connect(port);
  const v = await c.call("AUTH", user, pass);
  if (v instanceof RespError) throw new Error(`AUTH ${user}: ${v.message}`);
  return c;
}

const PAIRS: [Impl, Impl][] = [["ours", "ours"], ["ours", "redis"], ["redis", "ours"]];

for (const [mImpl, rImpl] of PAIRS) {
  const name = `a ${rImpl} replica syncs from a ${mImpl} master as a user limited to ` +
    "+psync +replconf +ping";
  Deno.test(name, async () => {
    if ((mImpl === "redis" || rImpl === "redis") && !hasRedis) {
      console.log(`SKIP: ${name}: redis-server not installed`);
      return;
    }
    await using master = await Node.start(mImpl, "master", [
      "--requirepass",
      "adminpw",
      ...REPL_USER,
    ], { password: "adminpw" });
    await using replica = await Node.start(rImpl, "replica", [
      "--masteruser",
      "repl",
      "--masterauth",
      "replpw",
    ]);
    await master.cmd("SET", "before", "1");
    await replica.replicaOf(master);
    await linkUp(master, replica);
    await master.cmd("SET", "after", "2");
    await waitFor(
      [master, replica],
      "the write reaches the replica",
      async () => String(await replica.call("GET", "after")) === "2",
    );
    equal(String(await replica.call("GET", "before")), "1");
    const list = String(await master.cmd("CLIENT", "LIST", "TYPE", "replica"));
    ok(/ user=repl /.test(list), `the replica's link runs as repl: ${list}`);
    // The replication user may not run anything else.
    using c = await authed(master.port, "repl", "replpw");
    const v = await c.call("GET", "after");
    ok(v instanceof RespError && v.message.startsWith("NOPERM"), String(v));
  });
}

Deno.test("ACL SAVE writes the users to the aclfile and a restart loads them back", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/users.acl`;
    await Deno.writeTextFile(file, "user default on nopass ~* &* +@all\n");
    let before: string;
    {
      await using n = await startDataNode(["--aclfile", file], { dir });
      using c = await RawConn.connect(n.port);
      equal(
        String(
          await c.call(
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">pw",
            "~a*",
            "&c",
            "-@all",
            "+get",
            "+acl|whoami",
          ),
        ),
        "OK",
      );
      equal(String(await c.call("ACL", "SETUSER", "bob", "off", "(~x +set)")), "OK");
      before = JSON.stringify(await c.call("ACL", "LIST"));
      equal(String(await c.call("ACL", "SAVE")), "OK");
    }
    const text = await Deno.readTextFile(file);
    ok(text.includes("user alice on #"), text);
    await using n2 = await startDataNode(["--aclfile", file], { dir });
    using c2 = await RawConn.connect(n2.port);
    equal(JSON.stringify(await c2.call("ACL", "LIST")), before);
    using a = await authed(n2.port, "alice", "pw");
    equal(String(await a.call("ACL", "WHOAMI")), "alice");
    // ACL LOAD drops users added since, and closes their connections.
    equal(String(await c2.call("ACL", "SETUSER", "carol", "on", "nopass", "+@all")), "OK");
    using carol = await authed(n2.port, "carol", "x");
    equal(String(await c2.call("ACL", "LOAD")), "OK");
    ok(await carol.closedByServer(), "carol's connection is closed by ACL LOAD");
    equal(String(await c2.call("ACL", "USERS")), "alice,bob,default");
    // A broken file is refused and changes nothing.
    await Deno.writeTextFile(file, "user default on nopass +@all\nuser x +nosuch\n");
    const bad = await c2.call("ACL", "LOAD");
    ok(bad instanceof RespError && /Unknown command/.test(bad.message), String(bad));
    equal(String(await c2.call("ACL", "USERS")), "alice,bob,default");
  });
});

Deno.test("users in the config file and an aclfile together stop startup", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/users.acl`;
    await Deno.writeTextFile(file, "");
    const r = await runDataNode(["--aclfile", file, "--user", "x", "on"]);
    ok(!r.success);
    ok(r.stderr.includes("users defined in redis.conf and at the same setting an ACL file"));
    const bad = await runDataNode(["--user", "x", "+nosuch"]);
    ok(!bad.success);
    ok(bad.stderr.includes("Unknown command or category name in ACL"), bad.stderr);
  });
});

Deno.test("CONFIG REWRITE writes the users as user lines when there is no aclfile", async () => {
  await withTempDir(async (dir) => {
    const conf = `${dir}/node.conf`;
    await Deno.writeTextFile(conf, "user bob on >bobpw ~* +@all\n");
    await using n = await startDataNodeWithConfig(conf, dir);
    using c = await authed(n.port, "bob", "bobpw");
    equal(String(await c.call("ACL", "SETUSER", "carol", "on", ">cpw", "-@all", "+ping")), "OK");
    equal(String(await c.call("CONFIG", "REWRITE")), "OK");
    const text = await Deno.readTextFile(conf);
    ok(/^user bob on #[0-9a-f]{64} ~\* resetchannels \+@all$/m.test(text), text);
    ok(/^user carol on #[0-9a-f]{64} resetchannels -@all \+ping$/m.test(text), text);
    ok(/^user default on nopass ~\* &\* \+@all$/m.test(text), text);
    await n.stop();
    await using n2 = await startDataNodeWithConfig(conf, dir);
    using c2 = await authed(n2.port, "carol", "cpw");
    equal(String(await c2.call("PING")), "PONG");
  });
});

/** Our data node started from a config file (kept in `dir`). */
async function startDataNodeWithConfig(conf: string, dir: string): Promise<ManagedProcess> {
  const port = await freePort();
  return await startProcess({
    cmd: dataNodeCommand(port, ["--bind", "127.0.0.1", "--dir", dir, "--admin-port", "-1"], conf),
    port,
    name: "data-node",
  });
}

Deno.test("ioredis and node-redis log in with a username", async () => {
  await using n = await startDataNode([
    "--requirepass",
    "adminpw",
    "--user",
    "app",
    "on",
    ">apppw",
    "~app:*",
    "+@all",
  ]);
  const io = new Redis({ port: n.port, host: "127.0.0.1", username: "app", password: "apppw" });
  try {
    equal(await io.set("app:1", "v"), "OK");
    equal(await io.get("app:1"), "v");
    await io.get("other").then(
      () => ok(false, "a key outside ~app:* is refused"),
      (e: Error) => ok(e.message.startsWith("NOPERM"), e.message),
    );
  } finally {
    io.disconnect();
  }
  const nr = createClient({
    socket: { port: n.port, host: "127.0.0.1" },
    username: "app",
    password: "apppw",
  });
  await nr.connect();
  try {
    equal(await nr.get("app:1"), "v");
    equal(await nr.sendCommand(["ACL", "WHOAMI"]), "app");
  } finally {
    await nr.close();
  }
});

Deno.test("DELUSER closes the user's connections; CLIENT LIST and KILL USER know users", async () => {
  await using n = await startDataNode(["--user", "u", "on", "nopass", "+@all", "~*"]);
  using admin = await RawConn.connect(n.port);
  using u1 = await authed(n.port, "u", "x");
  using u2 = await authed(n.port, "u", "x");
  const list = String(await admin.call("CLIENT", "LIST"));
  equal(list.split("\n").filter((l) => l.includes(" user=u ")).length, 2, list);
  equal(Number(await admin.call("CLIENT", "KILL", "USER", "u")), 2);
  ok(await u1.closedByServer());
  using u3 = await authed(n.port, "u", "x");
  equal(Number(await admin.call("ACL", "DELUSER", "u")), 1);
  ok(await u3.closedByServer(), "DELUSER closes the connection");
  void u2;
});

Deno.test("a sentinel authenticates to our data node with auth-user and auth-pass", async () => {
  const name = "a sentinel authenticates to our data node with auth-user and auth-pass";
  for (const impl of ["ours", "redis"] as Impl[]) {
    if (impl === "redis" && !hasRedis) {
      console.log(`SKIP: ${name} (redis-sentinel): redis-server not installed`);
      continue;
    }
    await using master = await Node.start("ours", "master", [
      "--requirepass",
      "adminpw",
      "--user",
      "sentinel-user",
      "on",
      ">spw",
      "allchannels",
      "+@all",
    ], { password: "adminpw" });
    const s = await Sentinel.start(impl, "sentinel1", {
      masterPort: master.port,
      quorum: 1,
      extra: [
        `sentinel auth-user ${MASTER_NAME} sentinel-user`,
        `sentinel auth-pass ${MASTER_NAME} spw`,
      ],
    });
    try {
      await waitFor([master], `${impl} sentinel connects as sentinel-user`, async () => {
        const list = String(await master.cmd("CLIENT", "LIST"));
        return / user=sentinel-user /.test(list);
      });
      // Two seconds past down-after-milliseconds: the master is still seen up.
      await new Promise((r) => setTimeout(r, 2500));
      const info = parseInfo(String(await s.call("INFO", "sentinel")));
      ok(/status=ok/.test(info["master0"] ?? ""), JSON.stringify(info));
    } finally {
      await s.stop();
    }
  }
});

for (const impl of ["ours", "redis"] as Impl[]) {
  const name = `${impl}: SETUSER closes subscribers whose channels are no longer allowed`;
  Deno.test(name, async () => {
    if (impl === "redis" && !hasRedis) {
      console.log(`SKIP: ${name}: redis-server not installed`);
      return;
    }
    await using n = await Node.start(impl, "node", [
      "--user",
      "u",
      "on",
      "nopass",
      "+@all",
      "~*",
      "&news.*",
    ]);
    using sub = await authed(n.port, "u", "x");
    await sub.call("SUBSCRIBE", "news.a");
    using psub = await authed(n.port, "u", "x");
    await psub.call("PSUBSCRIBE", "news.*");
    // More channels: nobody loses anything.
    await n.cmd("ACL", "SETUSER", "u", "&more");
    equal(String(await n.cmd("PUBLISH", "news.a", "m")), "2");
    // news.* replaced by news.a: the pattern subscriber goes, the channel subscriber stays.
    await n.cmd("ACL", "SETUSER", "u", "resetchannels", "&news.a");
    ok(await psub.closedByServer(), "the pattern subscriber is closed");
    equal(String(await n.cmd("PUBLISH", "news.a", "m")), "1");
    await n.cmd("ACL", "SETUSER", "u", "resetchannels");
    ok(await sub.closedByServer(), "the channel subscriber is closed");
    // Losing allchannels takes every subscription's permission away too.
    await n.cmd("ACL", "SETUSER", "u", "allchannels");
    using all = await authed(n.port, "u", "x");
    await all.call("PSUBSCRIBE", "foo");
    await n.cmd("ACL", "SETUSER", "u", "resetchannels");
    ok(await all.closedByServer(), "the subscriber of an allchannels user is closed");
  });
}

Deno.test("ACL LOAD and ACL SAVE match redis-server: errors, users, file text", async () => {
  const name = "ACL LOAD and ACL SAVE match redis-server";
  if (!hasRedis) {
    console.log(`SKIP: ${name}: redis-server not installed`);
    return;
  }
  await withTempDir(async (dir) => {
    const file = `${dir}/users.acl`;
    await Deno.writeTextFile(file, "user default on nopass ~* &* +@all\n");
    await using ours = await Node.start("ours", "ours", ["--aclfile", file]);
    await using redis = await Node.start("redis", "redis", ["--aclfile", file]);
    const both = async (...args: string[]) => {
      const a = await ours.call(...args), b = await redis.call(...args);
      return [JSON.stringify(a), JSON.stringify(b)];
    };
    const files = [
      "user default on nopass ~* &* +@all\nuser x +nosuch -@nope\nnot a user\nuser y on\n" +
      'user y off\nuser "a b" on\nuser  z  on\n',
      "user default on nopass ~* &* +@all\nuser x (~x\n",
      "# comment\nuser x on\n",
      "user x on >pw ~k* %R~r* &c -@all +get (~y +set)\n\nuser default off nopass +@all\n",
    ];
    for (const text of files) {
      await Deno.writeTextFile(file, text);
      const [a, b] = await both("ACL", "LOAD");
      equal(a, b, `ACL LOAD of ${JSON.stringify(text)}`);
      const [la, lb] = await both("ACL", "LIST");
      equal(la, lb, `ACL LIST after loading ${JSON.stringify(text)}`);
    }
    await Deno.writeTextFile(file, "user default on nopass ~* &* +@all\n");
    await both("ACL", "LOAD");
    await both("ACL", "SETUSER", "w", "on", "#" + "b".repeat(64), "%W~w*", "&n*", "+@hash");
    await ours.cmd("ACL", "SAVE");
    const fromOurs = await Deno.readTextFile(file);
    await redis.cmd("ACL", "SAVE");
    equal(fromOurs, await Deno.readTextFile(file));
    await Deno.remove(file);
    const [a, b] = await both("ACL", "LOAD");
    equal(a, b, "ACL LOAD of a missing file");
  });
});

for (const impl of ["ours", "redis"] as Impl[]) {
  const name = `${impl}: ACL LOG entries name the reason, object, user and the client's command`;
  Deno.test(name, async () => {
    if (impl === "redis" && !hasRedis) {
      console.log(`SKIP: ${name}: redis-server not installed`);
      return;
    }
    await using n = await Node.start(impl, "node", [
      "--user",
      "u1",
      "on",
      ">pw",
      "-@all",
      "+get",
      "+multi",
      "~k*",
      "--acllog-max-len",
      "2",
    ]);
    using c = await authed(n.port, "u1", "pw");
    await c.call("SET", "k", "v");
    await c.call("GET", "x");
    await c.call("MULTI");
    await c.call("GET", "y");
    const bad = await RawConn.connect(n.port);
    await bad.call("AUTH", "u1", "wrong");
    bad.close();
    const log = await n.cmd("ACL", "LOG") as unknown[];
    equal(log.length, 2, "acllog-max-len keeps the newest two");
    const entry = (i: number) => {
      const a = log[i] as unknown[];
      const m: Record<string, string> = {};
      for (let j = 0; j < a.length; j += 2) m[String(a[j])] = String(a[j + 1]);
      return m;
    };
    const auth = entry(0), key = entry(1);
    equal(auth.reason, "auth");
    equal(auth.object, "AUTH", "the command name as typed");
    equal(auth.username, "u1");
    equal(auth.context, "toplevel");
    ok(/ cmd=auth user=default /.test(auth["client-info"]!), auth["client-info"]);
    equal(key.reason, "key");
    equal(key.object, "y");
    equal(key.context, "multi");
    ok(/ cmd=get user=u1 /.test(key["client-info"]!), key["client-info"]);
    ok(Number(key["age-seconds"]) >= 0);
  });
}
