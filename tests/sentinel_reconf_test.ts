/**
 * Our sentinel next to a real redis-sentinel 7.0 while things change under them at run time:
 * ACL changes on the monitored data node (a refused AUTH does not take a link down while the
 * node's default user needs no password), SENTINEL SET's script and config-file errors,
 * resolve-hostnames / announce-hostnames, CLIENT KILL's filters, and new sentinel-user /
 * sentinel-pass credentials taking effect on the links between sentinels.
 *
 * Every test starts its own processes on free ports and stops them all, even when it fails.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { RespError, RespMap, type RespValue } from "../shared/resp/mod.ts";
import { freePort, requireBinary, startProcess } from "./helpers/process.ts";
import { eventually, RawConn } from "./helpers/raw.ts";
import { Node } from "./helpers/replication.ts";
import { fields, MASTER_NAME, Sentinel, sentinelCommand, startAll } from "./helpers/sentinel.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const noSentinel = !requireBinary("redis-sentinel", "sentinel run-time reconfiguration");

/** A reply as comparable plain data: errors as "ERR:<text>", maps as objects. */
function plain(v: RespValue): unknown {
  if (v instanceof RespError) return `ERR:${v.message}`;
  if (v instanceof RespMap) {
    return Object.fromEntries(v.entries.map(([k, x]) => [String(k), plain(x)]));
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v === "number" || typeof v === "bigint") return v;
  return String(v);
}

/** Ours and a redis-sentinel monitoring 127.0.0.1:masterPort with the same extra lines. */
function startPair(masterPort: number, extra: string[] = [], quorum = 1): Promise<Sentinel[]> {
  return startAll(
    (["ours", "redis"] as const).map((impl) => () =>
      Sentinel.start(impl, "sentinel", { masterPort, quorum, downAfterMs: 200, extra })
    ),
  );
}

async function stopAll(list: { [Symbol.asyncDispose](): Promise<void> }[]): Promise<void> {
  await Promise.all(list.map((s) => s[Symbol.asyncDispose]()));
}

/** The same call on each sentinel; the replies must be equal. Returns ours. */
async function same(pair: Sentinel[], ...args: string[]): Promise<unknown> {
  const [ours, theirs] = await Promise.all(pair.map(async (s) => plain(await s.call(...args))));
  deepStrictEqual(ours, theirs, args.join(" "));
  return ours;
}

/** Waits until `check` holds on every sentinel of the pair (naming the first that does not). */
async function onBoth(
  pair: Sentinel[],
  what: string,
  check: (s: Sentinel) => Promise<boolean>,
  timeoutMs = 10000,
): Promise<void> {
  for (const s of pair) {
    await eventually(
      async () => {
        try {
          return await check(s);
        } catch {
          return false;
        }
      },
      `${s.label}: ${what}`,
      timeoutMs,
    );
  }
}

const masterFlags = async (s: Sentinel) => (await s.master()).flags ?? "";

Deno.test({
  name: "sentinel reconf: an AUTH the data node refuses keeps the link while no password is needed",
  ignore: noSentinel,
  ...opts,
  fn: async () => {
    const node = await Node.start("ours", "master");
    const all: { [Symbol.asyncDispose](): Promise<void> }[] = [node];
    try {
      // The user the sentinels log in as does not exist: AUTH fails, but the default user
      // needs no password, so everything after it works.
      const pair = await startPair(node.port, [
        `sentinel auth-user ${MASTER_NAME} testuser`,
        `sentinel auth-pass ${MASTER_NAME} secret`,
      ]);
      all.push(...pair);
      await onBoth(pair, "the master is linked", async (s) => await masterFlags(s) === "master");
      // Without the default user, PING and SUBSCRIBE get NOAUTH: the master looks down.
      await node.cmd("ACL", "SETUSER", "default", "off");
      await node.cmd("CLIENT", "KILL", "USER", "default", "SKIPME", "yes");
      await onBoth(
        pair,
        "the master is down",
        async (s) => (await masterFlags(s)).includes("s_down"),
      );
      // With it back, the same links work again.
      await node.cmd("ACL", "SETUSER", "default", "on");
      await onBoth(pair, "the master is back", async (s) => await masterFlags(s) === "master");
    } finally {
      await stopAll(all);
    }
  },
});

Deno.test({
  name: "sentinel reconf: SENTINEL SET's script checks and config-file errors match redis-sentinel",
  ignore: noSentinel,
  ...opts,
  fn: async () => {
    const masterPort = await freePort();
    const dir = await Deno.makeTempDir({ prefix: "redis-ha-scripts-" });
    let pair = await startPair(masterPort);
    try {
      // Scripts cannot be changed at run time by default.
      await same(pair, "SENTINEL", "SET", MASTER_NAME, "notification-script", "/bin/true");
      await stopAll(pair);
      pair = await startPair(masterPort, ["sentinel deny-scripts-reconfig no"]);
      const plainFile = `${dir}/not-executable.sh`;
      await Deno.writeTextFile(plainFile, "#!/bin/sh\n");
      await Deno.chmod(plainFile, 0o644);
      for (const opt of ["notification-script", "client-reconfig-script"]) {
        for (const path of [`${dir}/missing.sh`, plainFile, dir, "/bin/true", ""]) {
          await same(pair, "SENTINEL", "SET", MASTER_NAME, opt, path);
          // SENTINEL MASTER lists a script while one is set.
          const shown = await Promise.all(pair.map(async (s) => (await s.master())[opt]));
          deepStrictEqual(shown[0], shown[1], `${opt} after setting ${path}`);
        }
      }
      // A config file that cannot be rewritten: the change is made, the reply says so.
      for (const s of pair) {
        await Deno.rename(s.configFile, `${s.configFile}.bak`);
        await Deno.mkdir(s.configFile);
      }
      try {
        equal(
          await same(pair, "SENTINEL", "SET", MASTER_NAME, "quorum", "2"),
          "ERR:ERR Failed to save config file. Check server logs.",
        );
        await same(pair, "SENTINEL", "FLUSHCONFIG");
        await same(pair, "SENTINEL", "CONFIG", "SET", "announce-port", "0");
      } finally {
        for (const s of pair) {
          await Deno.remove(s.configFile);
          await Deno.rename(`${s.configFile}.bak`, s.configFile);
        }
      }
      for (const s of pair) equal((await s.master()).quorum, "2", s.label);
      equal(await same(pair, "SENTINEL", "FLUSHCONFIG"), "OK");
    } finally {
      await stopAll(pair);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "sentinel reconf: hostnames are shown only with announce-hostnames, as redis-sentinel",
  ignore: noSentinel,
  ...opts,
  fn: async () => {
    const master = await Node.start("ours", "master");
    const all: { [Symbol.asyncDispose](): Promise<void> }[] = [master];
    try {
      const replica = await Node.start("ours", "replica", ["--replica-announce-ip", "localhost"]);
      all.push(replica);
      await replica.replicaOf(master);
      const pair = await startPair(await freePort(), [
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
      ]);
      all.push(...pair);
      await same(pair, "SENTINEL", "MONITOR", "byname", "localhost", String(master.port), "1");
      const replicas = async (s: Sentinel) =>
        ((await s.call("SENTINEL", "REPLICAS", "byname")) as RespValue[]).map(fields);
      const replicaIps = async (s: Sentinel) => (await replicas(s)).map((r) => r.ip);
      await onBoth(pair, "the replica is found by its hostname and linked", async (s) => {
        const m = fields(await s.call("SENTINEL", "MASTER", "byname"));
        const rs = await replicas(s);
        return m.ip === "localhost" && m.flags === "master" &&
          rs.length === 1 && rs[0]!.ip === "localhost" && rs[0]!.flags === "slave";
      });
      deepStrictEqual(
        await same(pair, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "byname"),
        ["localhost", String(master.port)],
      );
      await same(pair, "SENTINEL", "CONFIG", "GET", "*-hostnames");
      // The six options redis-sentinel 7.0 has, and no others.
      await same(pair, "SENTINEL", "CONFIG", "GET", "*");
      await same(pair, "SENTINEL", "CONFIG", "SET", "loglevel", "debug");
      // Without announce-hostnames, the addresses the names resolved to.
      await same(pair, "SENTINEL", "CONFIG", "SET", "announce-hostnames", "no");
      const isLoopback = (a: unknown) => a === "127.0.0.1" || a === "::1";
      for (const s of pair) {
        const addr = await s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "byname") as RespValue[];
        ok(isLoopback(String(addr[0])), `${s.label}: master shown as ${String(addr[0])}`);
        ok(
          isLoopback(fields(await s.call("SENTINEL", "MASTER", "byname")).ip),
          `${s.label}: SENTINEL MASTER ip`,
        );
        const ips = await replicaIps(s);
        ok(ips.length === 1 && isLoopback(ips[0]), `${s.label}: replicas shown as ${ips}`);
        // The replica's name keeps the hostname it announced.
        const names = ((await s.call("SENTINEL", "REPLICAS", "byname")) as RespValue[]).map((r) =>
          fields(r).name
        );
        deepStrictEqual(names, [`localhost:${replica.port}`], s.label);
      }
      await same(pair, "SENTINEL", "CONFIG", "GET", "announce-hostnames");
    } finally {
      await stopAll(all);
    }
  },
});

Deno.test({
  name: "sentinel reconf: CLIENT KILL's filters and errors match redis-sentinel's",
  ignore: noSentinel,
  ...opts,
  fn: async () => {
    const pair = await startPair(await freePort(), ["user alice on >pw +@all"]);
    try {
      for (
        const args of [
          ["TYPE", "bogus"],
          ["USER", "nobody"],
          ["SKIPME", "maybe"],
          ["ID", "0"],
          ["ID", "x"],
          ["BOGUS", "x"],
          ["USER", "alice", "ID"],
          ["1.2.3.4:5"],
          ["TYPE", "master"],
          ["USER", "alice"],
        ]
      ) await same(pair, "CLIENT", "KILL", ...args);
      for (const s of pair) {
        // USER picks only that user's connections, and SKIPME no includes the caller, which
        // still gets its reply.
        const alice = await RawConn.connect(s.port);
        const other = await RawConn.connect(s.port);
        const me = await RawConn.connect(s.port);
        try {
          equal(plain(await alice.call("AUTH", "alice", "pw")), "OK");
          equal(plain(await me.call("AUTH", "alice", "pw")), "OK");
          equal(plain(await other.call("PING")), "PONG");
          equal(plain(await me.call("CLIENT", "KILL", "USER", "alice", "SKIPME", "no")), 2);
          ok(await alice.closedByServer(), `${s.label}: alice's other connection closed`);
          ok(await me.closedByServer(), `${s.label}: the caller closed after its reply`);
          equal(plain(await other.call("PING")), "PONG", `${s.label}: others stay`);
          // Filters combine: a user and an address that do not go together match nobody.
          equal(
            plain(await other.call("CLIENT", "KILL", "USER", "default", "ADDR", "1.2.3.4:5")),
            0,
          );
        } finally {
          for (const c of [alice, other, me]) c.close();
        }
      }
    } finally {
      await stopAll(pair);
    }
  },
});

/** A connection to a sentinel logged in as testuser. */
async function asTestUser(s: Sentinel): Promise<RawConn> {
  const c = await RawConn.connect(s.port);
  const v = await c.call("AUTH", "testuser", "secret");
  if (v instanceof RespError) {
    c.close();
    throw new Error(`${s.label}: AUTH testuser: ${v.message}`);
  }
  return c;
}

Deno.test({
  name: "sentinel reconf: new sentinel-user/sentinel-pass reach the other sentinels at once",
  ignore: noSentinel,
  ...opts,
  fn: async () => {
    const node = await Node.start("ours", "master");
    const all: { [Symbol.asyncDispose](): Promise<void> }[] = [node];
    try {
      const pair = await startPair(node.port, ["user testuser on >secret allchannels +@all"], 2);
      all.push(...pair);
      await onBoth(pair, "the other sentinel is found", async (s) => {
        const peers = await s.sentinels();
        return peers.length === 1 && peers[0]!.flags === "sentinel";
      }, 15000);
      // The default user is turned off on both: each refuses the other's PINGs.
      for (const s of pair) {
        await s.cmd("ACL", "SETUSER", "default", "off");
        await s.cmd("CLIENT", "KILL", "USER", "default", "SKIPME", "no").catch(() => {});
      }
      const ckquorum = async (s: Sentinel) => {
        const c = await asTestUser(s);
        try {
          return plain(await c.call("SENTINEL", "CKQUORUM", MASTER_NAME));
        } finally {
          c.close();
        }
      };
      await onBoth(pair, "CKQUORUM fails", async (s) => {
        const v = await ckquorum(s);
        return typeof v === "string" && v.startsWith("ERR:NOQUORUM");
      });
      for (const s of pair) {
        const c = await asTestUser(s);
        try {
          equal(
            plain(await c.call("SENTINEL", "CONFIG", "SET", "sentinel-user", "testuser")),
            "OK",
          );
          equal(plain(await c.call("SENTINEL", "CONFIG", "SET", "sentinel-pass", "secret")), "OK");
          deepStrictEqual(
            plain(await c.call("SENTINEL", "CONFIG", "GET", "sentinel-*")),
            ["sentinel-user", "testuser", "sentinel-pass", "secret"],
            s.label,
          );
        } finally {
          c.close();
        }
      }
      // Well within the time a link idle-closes on its own (15 s): the new credentials are
      // used on links opened again at once.
      await onBoth(pair, "CKQUORUM passes", async (s) => {
        const v = await ckquorum(s);
        return typeof v === "string" && v.startsWith("OK 2 usable");
      }, 8000);
    } finally {
      await stopAll(all);
    }
  },
});

Deno.test({
  name: "sentinel reconf: INFO gives the sections and field names redis-sentinel gives",
  ignore: noSentinel,
  ...opts,
  fn: async () => {
    const pair = await startPair(await freePort());
    try {
      /** Each section's title and field names, in order. */
      const layout = (text: string) =>
        text.split("\r\n\r\n").map((sec) =>
          sec.split("\r\n").filter((l) => l !== "").map((l) =>
            l.startsWith("#") ? l : l.split(":")[0]
          )
        );
      for (const args of [[], ["all"], ["everything"], ["clients"], ["cpu", "stats"]]) {
        const [ours, theirs] = await Promise.all(
          pair.map(async (s) => layout(String(await s.cmd("INFO", ...args)))),
        );
        deepStrictEqual(ours, theirs, `INFO ${args.join(" ")}`);
      }
    } finally {
      await stopAll(pair);
    }
  },
});

Deno.test({
  name: "sentinel reconf: a relative dir and scripts work as in redis-sentinel, from any directory",
  ignore: noSentinel,
  ...opts,
  fn: async () => {
    const base = await Deno.makeTempDir({ prefix: "redis-ha-sentinel-" });
    const procs: { [Symbol.asyncDispose](): Promise<void> }[] = [];
    try {
      await Deno.writeTextFile(`${base}/notify.sh`, "#!/bin/sh\nexit 0\n");
      await Deno.chmod(`${base}/notify.sh`, 0o755);
      const masterPort = await freePort();
      const start = async (impl: "ours" | "redis", port: number, cwd: string) => {
        const file = `${base}/${impl}.conf`;
        const cmd = impl === "ours" ? sentinelCommand(file) : ["redis-sentinel", file];
        const p = await startProcess({ cmd, port, cwd, name: `${impl} sentinel` });
        procs.push(p);
        return p;
      };
      for (const impl of ["ours", "redis"] as const) {
        // Started in `base`, working in base/<impl>: the scripts' paths are relative to that.
        await Deno.mkdir(`${base}/${impl}`);
        const port = await freePort();
        await Deno.writeTextFile(
          `${base}/${impl}.conf`,
          [
            `port ${port}`,
            "bind 127.0.0.1",
            `dir ./${impl}`,
            "logfile log.txt",
            ...(impl === "ours" ? ["admin-port -1"] : []),
            `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
            `sentinel notification-script ${MASTER_NAME} ../notify.sh`,
            `sentinel client-reconfig-script ${MASTER_NAME} ../notify.sh`,
          ].join("\n") + "\n",
        );
        const p = await start(impl, port, base);
        const c = await RawConn.connect(port);
        try {
          equal(await c.call("SENTINEL", "FLUSHCONFIG"), "OK");
        } finally {
          c.close();
        }
        const text = await Deno.readTextFile(`${base}/${impl}.conf`);
        // The directory is written back as an absolute path.
        ok(text.split("\n").includes(`dir "${base}/${impl}"`), `${impl}:\n${text}`);
        // Started again from elsewhere, it finds its directory and scripts (or exits).
        await p.stop();
        await start(impl, port, "/");
      }
    } finally {
      await stopAll(procs);
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  },
});
