/**
 * ACL on our sentinel next to a real redis-sentinel 7.0: users from sentinel.conf and
 * requirepass, the ACL subcommands' replies and errors, AUTH and HELLO AUTH with usernames,
 * NOPERM for commands and channels a user may not use, the ACL LOG, connections closed when
 * their user is deleted or loses a channel, users written back on a config rewrite and read
 * again on restart, the ACL file; then sentinels that talk to each other with a restricted
 * `sentinel-user` and to data nodes with a restricted `auth-user`, through a failover.
 *
 * Every test starts its own processes on free ports and stops them all, even when it fails.
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { RespError, RespMap, type RespValue } from "../shared/resp/mod.ts";
import { freePort, hasRedis, requireBinary, which } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { type Impl, Node, parseInfo } from "./helpers/replication.ts";
import { FAILOVER_WAIT_MS, MASTER_NAME, Sentinel, startAll } from "./helpers/sentinel.ts";

const hasSentinel = which("redis-sentinel") !== null;
const opts = { sanitizeOps: false, sanitizeResources: false };

/** A reply as comparable plain data: errors as "ERR:<text>", maps as sorted-key objects. */
function plain(v: RespValue): unknown {
  if (v instanceof RespError) return `ERR:${v.message}`;
  if (v instanceof RespMap) {
    return Object.fromEntries(v.entries.map(([k, x]) => [String(k), plain(x)]));
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v === "number" || typeof v === "bigint") return v;
  return String(v);
}

/** A connection to a sentinel logged in as `user` (or the default user with `pass`). */
async function login(port: number, user: string | null, pass: string): Promise<RawConn> {
  const c = await RawConn.connect(port);
  const v = user === null ? await c.call("AUTH", pass) : await c.call("AUTH", user, pass);
  if (v instanceof RespError) {
    c.close();
    throw new Error(`AUTH ${user ?? ""} on ${port}: ${v.message}`);
  }
  return c;
}

const USERS = [
  "requirepass adminpw",
  // Redis's docs' "Sentinel user" for sentinels watching each other.
  "user watcher on >wpw allchannels +ping +publish +sentinel|is-master-down-by-addr",
  "user reader on >rpw resetchannels &+switch-master &__sentinel__:* +@pubsub +sentinel|myid",
  "user ops on >opw +@admin +@connection",
];

async function startPair(extra: string[] = []): Promise<Sentinel[]> {
  const masterPort = await freePort();
  return await startAll(
    (["ours", "redis"] as Impl[]).map((impl) => () =>
      Sentinel.start(impl, "sentinel", { masterPort, quorum: 1, extra: [...USERS, ...extra] })
    ),
  );
}

async function stopAll(list: Sentinel[]): Promise<void> {
  await Promise.all(list.map((s) => s[Symbol.asyncDispose]()));
}

/** The same calls on both sentinels, each on its own connection as `user`; replies compared. */
async function compare(
  pair: Sentinel[],
  user: string | null,
  pass: string,
  calls: string[][],
  normalize: (call: string[], v: unknown) => unknown = (_c, v) => v,
): Promise<void> {
  const conns = await Promise.all(pair.map((s) => login(s.port, user, pass)));
  try {
    for (const call of calls) {
      const [ours, theirs] = await Promise.all(
        conns.map(async (c) => plain(await c.call(...call))),
      );
      deepStrictEqual(
        normalize(call, ours),
        normalize(call, theirs),
        `${user ?? "default"}: ${call.join(" ")}`,
      );
    }
  } finally {
    for (const c of conns) c.close();
  }
}

/**
 * What follows a hash table's order in redis-sentinel, whose hash seed is random per process:
 * the commands of ACL CAT <category>, compared as sets, and the single-command rules that end
 * a user's description (ACL LIST, GETUSER), compared sorted.
 */
function hashOrder(call: string[], v: unknown): unknown {
  const unordered = (call[0] === "ACL" && call[1] === "CAT") ||
    (call[0] === "COMMAND" && call[1] === "LIST");
  if (unordered && Array.isArray(v)) return [...v].sort();
  return sortRules(v);
}

function sortRules(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortRules);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sortRules(x)]));
  }
  if (typeof v !== "string" || !/(^| )[+-]@all( |$)/.test(v)) return v;
  const words = v.split(" ");
  const single = (w: string) => /^[+-][^@]/.test(w);
  return [...words.filter((w) => !single(w)), ...words.filter(single).sort()].join(" ");
}

Deno.test({
  name: "sentinel ACL: users, ACL subcommands and NOPERM replies match redis-sentinel",
  ignore: !requireBinary("redis-sentinel", "sentinel ACL parity"),
  ...opts,
  fn: async () => {
    const pair = await startPair();
    try {
      const cats = String(
        (await (await login(pair[1]!.port, null, "adminpw")).call("ACL", "CAT") as string[])
          .join(" "),
      ).split(" ");
      await compare(pair, null, "adminpw", [
        ["ACL", "USERS"],
        ["ACL", "LIST"],
        ["ACL", "WHOAMI"],
        ["ACL", "GETUSER", "watcher"],
        ["ACL", "GETUSER", "reader"],
        ["ACL", "GETUSER", "ops"],
        ["ACL", "GETUSER", "nobody"],
        ["ACL", "CAT"],
        ...cats.map((c) => ["ACL", "CAT", c]),
        ["ACL", "CAT", "nosuch"],
        ["ACL", "CAT", "a", "b"],
        ["ACL", "DRYRUN", "watcher", "ping"],
        ["ACL", "DRYRUN", "watcher", "info"],
        ["ACL", "DRYRUN", "watcher", "sentinel", "masters"],
        ["ACL", "DRYRUN", "watcher", "sentinel", "is-master-down-by-addr", "h", "1", "0", "*"],
        ["ACL", "DRYRUN", "reader", "subscribe", "+switch-master"],
        ["ACL", "DRYRUN", "reader", "subscribe", "+sdown"],
        ["ACL", "DRYRUN", "reader", "publish", "__sentinel__:hello", "x"],
        ["ACL", "DRYRUN", "reader", "get", "k"],
        ["ACL", "DRYRUN", "reader", "sentinel", "myid", "extra"],
        ["ACL", "DRYRUN", "nobody", "ping"],
        ["ACL", "SETUSER", "x", "+get"],
        ["ACL", "SETUSER", "x", "+@nosuch"],
        ["ACL", "SETUSER", "x", "+sentinel|myid|x"],
        ["ACL", "SETUSER", "x", "(+ping"],
        ["ACL", "SETUSER", "x", "~a", "allkeys"],
        ["ACL", "SETUSER", "x", "on", ">xpw", "+@connection", "-client|kill", "&chan"],
        ["ACL", "GETUSER", "x"],
        ["ACL", "SETUSER", "y", "+sentinel", "-sentinel|failover"],
        ["ACL", "GETUSER", "y"],
        ["ACL", "SETUSER", "z", "+@all", "-@dangerous"],
        ["ACL", "GETUSER", "z"],
        ["ACL", "SETUSER", "bad name"],
        ["ACL", "DELUSER", "default"],
        ["ACL", "DELUSER", "x", "y", "z", "nobody"],
        ["ACL", "USERS"],
        ["ACL", "GENPASS", "0"],
        ["ACL", "GENPASS", "x"],
        ["ACL", "GENPASS", "1", "2"],
        ["ACL", "SAVE"],
        ["ACL", "LOAD"],
        ["ACL", "LOG", "x"],
        ["ACL", "NOSUCH"],
        ["ACL", "HELP"],
        ["ACL"],
        ["AUTH", "watcher", "wrong"],
        ["AUTH", "nobody", "wpw"],
        ["AUTH", "a", "b", "c"],
        ["HELLO", "3", "AUTH", "watcher", "wrong"],
        ["COMMAND", "COUNT"],
        ["COMMAND", "LIST"],
        // SENTINEL SET applies options in order and stops at the first bad one.
        ["SENTINEL", "SET", MASTER_NAME, "quorum", "abc"],
        ["SENTINEL", "SET", MASTER_NAME, "quorum", "2x"],
        ["SENTINEL", "SET", MASTER_NAME, "quorum", "1", "parallel-syncs"],
        ["SENTINEL", "SET", MASTER_NAME, "rename-command", "PING", "PING"],
        ["SENTINEL", "SET", MASTER_NAME, "rename-command", "PING"],
        ["SENTINEL", "SET", MASTER_NAME, "rename-command", "", "PONG"],
        ["SENTINEL", "SET", MASTER_NAME, "parallel-syncs", "1", "nosuch", "1"],
        ["SENTINEL", "SET", MASTER_NAME, "master-reboot-down-after-period", "-1"],
      ], hashOrder);
      // Restricted users: what they may run, and the NOPERM texts for the rest.
      await compare(pair, "watcher", "wpw", [
        ["ACL", "WHOAMI"],
        ["PING"],
        ["INFO"],
        ["SENTINEL", "MASTERS"],
        ["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"],
        ["SENTINEL", "MYID", "extra"],
        ["SENTINEL", "NOSUCH"],
        ["ROLE"],
        ["CLIENT", "SETNAME", "x"],
        ["PUBLISH", "other", "x"],
        ["SHUTDOWN"],
        ["NOSUCH"],
      ]);
      await compare(pair, "reader", "rpw", [
        ["ACL", "WHOAMI"],
        ["PUBLISH", "__sentinel__:hello", "x"],
        ["SUBSCRIBE", "+sdown"],
        ["PSUBSCRIBE", "+*"],
        ["SUBSCRIBE", "+switch-master"],
      ]);
      await compare(pair, "ops", "opw", [
        ["CLIENT", "SETNAME", "opsconn"],
        ["CLIENT", "GETNAME"],
        ["INFO", "nosuch"],
        ["SUBSCRIBE", "x"],
        ["PING"],
      ]);
      // Before AUTH: unknown commands and subcommands and wrong argument counts are answered as
      // such, everything else asks for authentication.
      const before = await Promise.all(pair.map(async (s) => {
        using c = await RawConn.connect(s.port);
        const out: unknown[] = [];
        for (
          const call of [
            ["nosuch", "a"],
            ["SENTINEL", "MYID", "x"],
            ["SENTINEL", "NOSUCH"],
            ["CLIENT", "NOSUCH"],
            ["PING"],
            ["ACL", "WHOAMI"],
            ["HELLO", "3"],
          ]
        ) out.push(plain(await c.call(...call)));
        return out;
      }));
      deepStrictEqual(before[0], before[1]);
      // HELLO AUTH logs in as the user; CLIENT INFO names the user.
      for (const s of pair) {
        using c = await RawConn.connect(s.port);
        const v = await c.call("HELLO", "2", "AUTH", "ops", "opw");
        ok(Array.isArray(v), `${s.label}: HELLO AUTH: ${JSON.stringify(plain(v))}`);
        match(String(await c.call("CLIENT", "INFO")), / user=ops /, s.label);
      }
      // The denials above, in the ACL LOG of each: the same entries, newest first.
      const logs = await Promise.all(pair.map(async (s) => {
        using c = await login(s.port, null, "adminpw");
        const entries = plain(await c.call("ACL", "LOG", "100")) as unknown[];
        return entries.map((e) => {
          const f = (Array.isArray(e)
            ? Object.fromEntries(
              Array.from({ length: e.length / 2 }, (_, i) => [e[2 * i], e[2 * i + 1]]),
            )
            : e) as Record<string, unknown>;
          // A failed AUTH is logged with the connection's user in its client info.
          const who = f.reason === "auth" ? "default" : f.username;
          match(String(f["client-info"]), new RegExp(` user=${who} `));
          return [f.count, f.reason, f.context, f.object, f.username].join(" ");
        });
      }));
      deepStrictEqual(logs[0], logs[1]);
      ok(logs[0]!.includes("1 command toplevel sentinel|masters watcher"), logs[0]!.join("\n"));
      ok(logs[0]!.includes("1 channel toplevel +sdown reader"), logs[0]!.join("\n"));
      ok(logs[0]!.includes("1 auth toplevel AUTH watcher"), logs[0]!.join("\n"));
      await compare(pair, null, "adminpw", [["ACL", "LOG", "RESET"], ["ACL", "LOG"]]);
    } finally {
      await stopAll(pair);
    }
  },
});

Deno.test({
  name: "sentinel ACL: deleted users and lost channels close connections, as redis-sentinel",
  ignore: !requireBinary("redis-sentinel", "sentinel ACL disconnects"),
  ...opts,
  fn: async () => {
    const pair = await startPair();
    try {
      for (const s of pair) {
        using admin = await login(s.port, null, "adminpw");
        // A subscriber whose channel is taken away is closed; one whose channel stays is not.
        const sub = await login(s.port, "reader", "rpw");
        const keep = await login(s.port, "ops", "opw");
        try {
          deepStrictEqual(plain(await sub.call("SUBSCRIBE", "+switch-master")), [
            "subscribe",
            "+switch-master",
            1,
          ]);
          equal(String(await keep.call("PING")), "PONG");
          equal(
            String(
              await admin.call("ACL", "SETUSER", "reader", "resetchannels", "&__sentinel__:*"),
            ),
            "OK",
          );
          ok(await sub.closedByServer(), `${s.label}: the subscriber is closed`);
          equal(String(await keep.call("PING")), "PONG", `${s.label}: ops stays`);
          // Deleting a user closes its connections.
          equal(plain(await admin.call("ACL", "DELUSER", "ops")), 1);
          ok(await keep.closedByServer(), `${s.label}: ops's connection is closed`);
          // A user's own DELUSER closes its connection after the reply.
          equal(String(await admin.call("ACL", "SETUSER", "self", "on", ">p", "+@all")), "OK");
          using me = await login(s.port, "self", "p");
          equal(plain(await me.call("ACL", "DELUSER", "self")), 1);
          ok(await me.closedByServer(), `${s.label}: the deleting connection is closed`);
          // A disabled user cannot log in.
          equal(String(await admin.call("ACL", "SETUSER", "watcher", "off")), "OK");
          using w = await RawConn.connect(s.port);
          equal(
            plain(await w.call("AUTH", "watcher", "wpw")),
            "ERR:WRONGPASS invalid username-password pair or user is disabled.",
          );
        } finally {
          sub.close();
          keep.close();
        }
      }
    } finally {
      await stopAll(pair);
    }
  },
});

/** The `user` lines of a config file, in order. */
async function userLines(file: string): Promise<string[]> {
  return (await Deno.readTextFile(file)).split("\n").filter((l) => l.startsWith("user "));
}

Deno.test({
  name: "sentinel ACL: users written back on config rewrite and read again on restart",
  ignore: !requireBinary("redis-sentinel", "sentinel ACL rewrite"),
  ...opts,
  fn: async () => {
    let pair = await startPair();
    try {
      const lists: unknown[] = [];
      for (const s of pair) {
        using c = await login(s.port, null, "adminpw");
        equal(
          String(await c.call("ACL", "SETUSER", "newbie", "on", ">np", "+@pubsub", "+acl|whoami")),
          "OK",
        );
        equal(String(await c.call("ACL", "SETUSER", "watcher", "-publish")), "OK");
        equal(plain(await c.call("ACL", "DELUSER", "ops")), 1);
        equal(String(await c.call("SENTINEL", "FLUSHCONFIG")), "OK");
        lists.push(sortRules(plain(await c.call("ACL", "LIST"))));
      }
      deepStrictEqual(lists[0], lists[1]);
      // Both files hold the same set of users (redis-sentinel places the lines differently).
      const files = await Promise.all(pair.map((s) => userLines(s.configFile)));
      deepStrictEqual(sortRules([...files[0]!].sort()), sortRules([...files[1]!].sort()));
      deepStrictEqual(sortRules([...files[0]!].sort()), lists[0]);
      pair = await Promise.all(pair.map((s) => s.restart()));
      const after = await Promise.all(pair.map(async (s) => {
        using c = await login(s.port, "newbie", "np");
        equal(String(await c.call("ACL", "WHOAMI")), "newbie");
        using a = await login(s.port, null, "adminpw");
        return sortRules(plain(await a.call("ACL", "LIST")));
      }));
      // The same users again; the default user, reset by both before its line's rules apply,
      // now also shows sanitize-payload.
      deepStrictEqual(after[0], after[1]);
      const withoutFlag = (after[0] as string[]).map((l) => l.replace(" sanitize-payload", ""));
      deepStrictEqual(withoutFlag, lists[0]);
      match((after[0] as string[])[0]!, /^user default on sanitize-payload #/);
    } finally {
      await stopAll(pair);
    }
  },
});

Deno.test({
  name: "sentinel ACL: an aclfile is loaded, saved and reloaded as redis-sentinel does",
  ignore: !requireBinary("redis-sentinel", "sentinel aclfile"),
  ...opts,
  fn: async () => {
    const masterPort = await freePort();
    const dir = await Deno.makeTempDir({ prefix: "redis-ha-sentinel-acl-" });
    const started: Sentinel[] = [];
    try {
      for (const impl of ["ours", "redis"] as Impl[]) {
        const file = `${dir}/${impl}.acl`;
        await Deno.writeTextFile(
          file,
          "user default on >adminpw ~* &* +@all\nuser watcher on >wpw allchannels +ping\n",
        );
        started.push(
          await Sentinel.start(impl, "sentinel", {
            masterPort,
            quorum: 1,
            extra: [`aclfile ${file}`],
          }),
        );
      }
      await compare(started, "watcher", "wpw", [["ACL", "WHOAMI"], ["PING"], ["INFO"]]);
      await compare(started, null, "adminpw", [
        ["ACL", "SETUSER", "extra", "on", ">e", "+@connection"],
        ["ACL", "SAVE"],
        ["ACL", "SETUSER", "gone", "on"],
        ["ACL", "LOAD"],
        ["ACL", "USERS"],
        ["ACL", "LIST"],
      ], hashOrder);
      equal(
        await Deno.readTextFile(`${dir}/ours.acl`),
        await Deno.readTextFile(`${dir}/redis.acl`),
      );
      // A broken file is refused by ACL LOAD with Redis's text, and the users stay.
      for (const impl of ["ours", "redis"]) {
        await Deno.writeTextFile(`${dir}/${impl}.acl`, "user default on nopass +@all\nbogus\n");
      }
      await compare(
        started,
        null,
        "adminpw",
        [["ACL", "LOAD"], ["ACL", "USERS"]],
        (_c, v) => typeof v === "string" ? v.replace(/\S+\.acl:/g, "FILE:") : v,
      );
      // Users in sentinel.conf and an aclfile together stop startup.
      const conf = `${dir}/both.conf`;
      await Deno.writeTextFile(
        conf,
        `port ${await freePort()}\naclfile ${dir}/ours.acl\nuser u on\n`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../sentinel/main.ts", import.meta.url).pathname, conf],
        stdout: "piped",
        stderr: "piped",
      }).output();
      ok(!out.success);
      match(new TextDecoder().decode(out.stderr), /define either an ACL file or declare users/);
    } finally {
      await stopAll(started);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/**
 * The user Redis's docs suggest for sentinels on data nodes, without +script|kill: our data node
 * has no scripting, so SCRIPT is an unknown command there.
 */
const DATA_NODE_SENTINEL_USER = [
  "sentinel-user",
  "on",
  ">spw",
  "allchannels",
  "+multi",
  "+slaveof",
  "+ping",
  "+exec",
  "+subscribe",
  "+config|rewrite",
  "+role",
  "+publish",
  "+info",
  "+client|setname",
  "+client|kill",
];

/** Our data node with a restricted sentinel user and a replication user; replicas use it. */
function dataNode(name: string): Promise<Node> {
  return Node.start("ours", name, [
    "--requirepass",
    "adminpw",
    "--masteruser",
    "repl",
    "--masterauth",
    "rpw",
    "--user",
    ...DATA_NODE_SENTINEL_USER,
    "--user",
    "repl",
    "on",
    ">rpw",
    "+psync",
    "+replconf",
    "+ping",
  ], { password: "adminpw" });
}

async function failoverWithUsers(impls: Impl[]): Promise<void> {
  const nodes = await startAll([() => dataNode("master"), () => dataNode("replica1")]);
  const [master, replica] = nodes as [Node, Node];
  const sentinels: Sentinel[] = [];
  try {
    await replica.replicaOf(master);
    await eventually(
      async () => (await replica.info("replication"))["master_link_status"] === "up",
      "the replica links to the master with the repl user",
      15_000,
    );
    for (const [i, impl] of impls.entries()) {
      sentinels.push(
        await Sentinel.start(impl, `sentinel${i + 1}`, {
          masterPort: master.port,
          quorum: 2,
          downAfterMs: 200,
          failoverTimeoutMs: 3000,
          extra: [
            ...USERS,
            `sentinel auth-user ${MASTER_NAME} sentinel-user`,
            `sentinel auth-pass ${MASTER_NAME} spw`,
            "sentinel sentinel-user watcher",
            "sentinel sentinel-pass wpw",
          ],
        }),
      );
    }
    const admin = await Promise.all(sentinels.map((s) => login(s.port, null, "adminpw")));
    const dump = async () => {
      const parts: string[] = [];
      for (const [i, s] of sentinels.entries()) {
        parts.push(s.label, JSON.stringify(plain(await admin[i]!.call("SENTINEL", "MASTERS"))));
        parts.push(s.proc.output().split("\n").slice(-15).join("\n"));
      }
      return parts.join("\n");
    };
    try {
      const wait = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
        try {
          await eventually(
            async () => {
              try {
                return await check();
              } catch {
                return false;
              }
            },
            what,
            ms,
          );
        } catch (e) {
          throw new Error(`${(e as Error).message}\n${await dump()}`);
        }
      };
      // The sentinels find the replica and each other, logged in with the restricted users.
      await wait("every sentinel knows the replica and the other sentinels", async () => {
        for (const c of admin) {
          const m = plain(await c.call("SENTINEL", "MASTER", MASTER_NAME)) as string[];
          const f = Object.fromEntries(
            Array.from({ length: m.length / 2 }, (_, i) => [m[2 * i], m[2 * i + 1]]),
          );
          if (f["flags"] !== "master") return false;
          if (Number(f["num-slaves"]) !== 1) return false;
          if (Number(f["num-other-sentinels"]) !== impls.length - 1) return false;
        }
        return true;
      });
      const list = String(await master.cmd("CLIENT", "LIST"));
      ok(/ user=sentinel-user /.test(list), list);
      // Each sentinel is connected to by its peers as the restricted sentinel-user.
      await wait("every sentinel has its peers logged in as watcher", async () => {
        for (const [i, s] of sentinels.entries()) {
          if (s.impl !== "ours") continue;
          const clients = String(await admin[i]!.call("CLIENT", "LIST"));
          if ((clients.match(/ user=watcher /g) ?? []).length < impls.length - 1) return false;
        }
        return true;
      });
      // No denial of the sentinels' user: it is enough for everything sentinels do.
      const sentinelDenials = async (n: Node) =>
        (plain(await n.cmd("ACL", "LOG")) as string[][]).filter((e) =>
          e[e.indexOf("username") + 1] === "sentinel-user"
        );
      deepStrictEqual(await sentinelDenials(master), []);
      await master.proc.stop("SIGKILL");
      const want = `127.0.0.1:${replica.port}`;
      await wait(`every sentinel reports ${want} as the master`, async () => {
        for (const c of admin) {
          const v = plain(await c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME));
          if (!Array.isArray(v) || `${v[0]}:${v[1]}` !== want) return false;
        }
        return true;
      }, FAILOVER_WAIT_MS);
      // The promotion closed the normal connections (CLIENT KILL TYPE normal): a new one.
      using fresh = await replica.fresh();
      const role = parseInfo(String(await fresh.call("INFO", "replication")));
      equal(role["role"], "master");
      const log = plain(await fresh.call("ACL", "LOG")) as string[][];
      deepStrictEqual(log.filter((e) => e[e.indexOf("username") + 1] === "sentinel-user"), []);
    } finally {
      for (const c of admin) c.close();
    }
  } finally {
    await stopAll(sentinels);
    await Promise.all(nodes.map((n) => n[Symbol.asyncDispose]()));
  }
}

Deno.test({
  name: "sentinel ACL: restricted sentinel-user between sentinels and auth-user on data nodes",
  ...opts,
  fn: () => failoverWithUsers(["ours", "ours", "ours"]),
});

Deno.test({
  name: "sentinel ACL: the same failover with redis-sentinel in the quorum",
  ignore: !requireBinary("redis-sentinel", "sentinel ACL mixed failover") || !hasRedis ||
    !hasSentinel,
  ...opts,
  fn: () => failoverWithUsers(["ours", "ours", "redis"]),
});
