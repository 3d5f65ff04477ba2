/**
 * Our sentinel (sentinel/main.ts) as a process, against our data nodes and real Redis:
 * discovery of replicas and peers and the SENTINEL commands; the shapes of its replies and its
 * error texts next to a real redis-sentinel's; automatic failover (acknowledged writes kept,
 * `+switch-master` published, the old master turned into a replica when it comes back); a quorum
 * shared with real redis-sentinel processes; ioredis and node-redis in Sentinel mode across a
 * failover; a restart that keeps the ID, the known instances and the epoch; and the refusal to
 * start without a writable config file.
 *
 * Timings are short (down-after 1000 ms, failover-timeout 6000 ms). Every test has its own
 * ports and directories and stops every process it started, even when it fails.
 */
import { deepStrictEqual, equal, match, notEqual, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { createSentinel } from "redis";
import {
  RespError,
  RespMap,
  type RespValue,
  RespVerbatim,
  SimpleString,
} from "../shared/resp/mod.ts";
import {
  dataNodeCommand,
  freePort,
  hasRedis,
  type ManagedProcess,
  requireBinary,
  startProcess,
  which,
} from "./helpers/process.ts";
import { RawConn } from "./helpers/raw.ts";
import { BASE_ARGS, connectTo, parseInfo } from "./helpers/replication.ts";
import {
  fields,
  Group,
  MASTER_NAME,
  Sentinel,
  sentinelCommand,
  startAll,
} from "./helpers/sentinel.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const hasSentinel = which("redis-sentinel") !== null;
const OURS3 = ["ours", "ours", "ours"] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` (a client command that hangs while it reconnects). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)),
  ]).finally(() => clearTimeout(t));
}

/** INFO replication of a data node on a fresh connection. */
async function replInfo(port: number): Promise<Record<string, string>> {
  using c = await connectTo(port);
  return parseInfo(String(await c.call("INFO", "replication")));
}

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(":") + 1));

/** A data node of ours on a given port (a master restarted where it was). */
async function dataNodeOn(port: number): Promise<ManagedProcess> {
  const dir = await Deno.makeTempDir({ prefix: "redis-ha-test-" });
  const args = [
    ...BASE_ARGS,
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--admin-port",
    "-1",
  ];
  return await startProcess({
    cmd: dataNodeCommand(port, args),
    port,
    name: "restarted master (data-node)",
    ownedDir: dir,
  });
}

/** Collects what a subscriber receives on a raw connection until it is closed. */
class Subscriber {
  readonly messages: { channel: string; message: string }[] = [];
  private constructor(private readonly conn: RawConn) {}

  static async open(port: number, ...channels: string[]): Promise<Subscriber> {
    const conn = await RawConn.connect(port);
    for (const ch of channels) {
      const v = await conn.call("SUBSCRIBE", ch) as RespValue[];
      equal(v[0], "subscribe");
    }
    const s = new Subscriber(conn);
    void s.loop();
    return s;
  }

  private async loop(): Promise<void> {
    for (;;) {
      let v: RespValue;
      try {
        v = await this.conn.read(3_600_000);
      } catch {
        return;
      }
      if (Array.isArray(v) && v[0] === "message") {
        this.messages.push({ channel: String(v[1]), message: String(v[2]) });
      }
    }
  }

  [Symbol.dispose](): void {
    this.conn.close();
  }
}

/**
 * Records the hello messages sentinels publish on data nodes. A sentinel that reconfigures a
 * node kills its pub/sub clients, so each subscription is reopened until close().
 */
class HelloWatch {
  /** Config epoch -> master addresses announced with it. */
  readonly byEpoch = new Map<number, Set<string>>();
  private readonly conns = new Set<RawConn>();
  private closed = false;

  constructor(ports: number[]) {
    for (const p of ports) void this.watch(p);
  }

  private async watch(port: number): Promise<void> {
    while (!this.closed) {
      let conn: RawConn | null = null;
      try {
        conn = await RawConn.connect(port);
        this.conns.add(conn);
        await conn.call("SUBSCRIBE", "__sentinel__:hello");
        for (;;) {
          const v = await conn.read(3_600_000);
          if (!Array.isArray(v) || v[0] !== "message") continue;
          const t = String(v[2]).split(",");
          const epoch = Number(t[7]), addr = `${t[5]}:${t[6]}`;
          if (!this.byEpoch.has(epoch)) this.byEpoch.set(epoch, new Set());
          this.byEpoch.get(epoch)!.add(addr);
        }
      } catch { /* killed or gone: reopened below */ }
      if (conn) {
        conn.close();
        this.conns.delete(conn);
      }
      if (!this.closed) await sleep(20);
    }
  }

  /** Config epochs announced with more than one master address (Redis never does that). */
  conflicts(): string[] {
    return [...this.byEpoch].filter(([, a]) => a.size > 1).map(([e, a]) =>
      `config epoch ${e} announced with ${[...a].join(" and ")}`
    );
  }

  [Symbol.dispose](): void {
    this.closed = true;
    for (const c of this.conns) c.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Discovery and commands

Deno.test({
  name: "sentinel: three sentinels find the replicas and each other, and answer SENTINEL commands",
  ...opts,
  fn: async () => {
    await using g = await Group.start({ data: "ours", replicas: 2, sentinels: [...OURS3] });
    await g.discovered(10_000);
    const replicaPorts = g.replicas.map((r) => r.port).sort();
    const ids = new Map<Sentinel, string>();
    for (const s of g.sentinels) {
      const id = await s.cmd("SENTINEL", "MYID");
      match(String(id), /^[0-9a-f]{40}$/, `${s.label}: MYID`);
      ids.set(s, String(id));
    }
    equal(new Set(ids.values()).size, 3, "three distinct sentinel IDs");

    for (const s of g.sentinels) {
      const m = await s.master();
      equal(m.name, MASTER_NAME);
      equal(m.ip, "127.0.0.1");
      equal(m.port, String(g.master.port));
      equal(m.flags, "master", `${s.label}: flags`);
      equal(m["num-slaves"], "2");
      equal(m["num-other-sentinels"], "2");
      equal(m.quorum, "2");
      equal(m["role-reported"], "master");

      const reps = await s.replicas();
      deepStrictEqual(reps.map((r) => Number(r.port)).sort(), replicaPorts);
      for (const r of reps) {
        equal(r.flags, "slave", `${s.label}: replica ${r.name} flags`);
        equal(r.name, `127.0.0.1:${r.port}`);
        equal(r["master-port"], String(g.master.port));
        equal(r["master-link-status"], "ok");
      }
      const peers = await s.sentinels();
      const others = g.sentinels.filter((x) => x !== s);
      deepStrictEqual(
        peers.map((p) => `${p.port} ${p.runid}`).sort(),
        others.map((x) => `${x.port} ${ids.get(x)}`).sort(),
        `${s.label}: SENTINELS lists the other two with their IDs`,
      );
      for (const p of peers) equal(p.flags, "sentinel");

      deepStrictEqual(await s.cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME), [
        "127.0.0.1",
        String(g.master.port),
      ]);
      deepStrictEqual(
        await s.cmd("SENTINEL", "CKQUORUM", MASTER_NAME),
        new SimpleString("OK 3 usable Sentinels. Quorum and failover authorization can be reached"),
      );
      const info = await s.info("sentinel");
      equal(info.sentinel_masters, "1");
      equal(info.sentinel_tilt, "0");
      equal(
        info.master0,
        `name=${MASTER_NAME},status=ok,address=127.0.0.1:${g.master.port},slaves=2,sentinels=3`,
      );
      deepStrictEqual(await s.cmd("ROLE"), ["sentinel", [MASTER_NAME]]);
    }

    // Each config file was rewritten with the ID, both replicas and both peers.
    for (const s of g.sentinels) {
      const others = g.sentinels.filter((x) => x !== s);
      const want = [
        `sentinel myid ${ids.get(s)}`,
        ...replicaPorts.map((p) => `sentinel known-replica ${MASTER_NAME} 127.0.0.1 ${p}`),
        ...others.map((x) =>
          `sentinel known-sentinel ${MASTER_NAME} 127.0.0.1 ${x.port} ${ids.get(x)}`
        ),
      ];
      await g.waitFor(`${s.label}: config file rewritten`, async () => {
        const lines = (await Deno.readTextFile(s.configFile)).split("\n");
        return want.every((w) => lines.includes(w)) &&
          lines.filter((l) => l.startsWith("sentinel known-replica ")).length === 2 &&
          lines.filter((l) => l.startsWith("sentinel known-sentinel ")).length === 2;
      }, 5000);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// 2. Reply parity with redis-sentinel

/** The shape of a reply: types, not values (field names of field/value lists kept). */
function shape(v: RespValue): unknown {
  if (v === null) return "null";
  if (typeof v === "string") return "bulk";
  if (typeof v === "number" || typeof v === "bigint") return "int";
  if (typeof v === "boolean") return "bool";
  if (v instanceof SimpleString) return "simple";
  if (v instanceof RespError) return `error: ${v.message}`;
  if (v instanceof RespVerbatim) return `verbatim:${v.format}`;
  if (v instanceof RespMap) {
    return { map: v.entries.map(([k, x]) => [String(k), shape(x)]) };
  }
  if (Array.isArray(v)) return v.map(shape);
  return Object.prototype.toString.call(v);
}

/** Field names in order, and whether each value is an integer, of a field/value list. */
function fieldShape(v: RespValue): string[] {
  const f = fields(v);
  return Object.entries(f).map(([k, x]) => `${k}:${/^-?\d+$/.test(x) ? "int" : "text"}`);
}

/** The raw bytes of one reply (to tell a null array from a null bulk string). */
async function rawReply(port: number, proto: 2 | 3, args: string[]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const enc = new TextEncoder();
    if (proto === 3) {
      await conn.write(enc.encode("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"));
      await readSome(conn);
    }
    await conn.write(
      enc.encode(`*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")),
    );
    return await readSome(conn);
  } finally {
    conn.close();
  }
}

async function readSome(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  const n = await within(conn.read(buf), 3000, "raw reply");
  return new TextDecoder().decode(buf.subarray(0, n ?? 0));
}

/** What a sentinel answers, reduced to what must not differ between implementations. */
async function profile(g: Group): Promise<Record<string, unknown>> {
  const s = g.sentinels[0]!;
  const out: Record<string, unknown> = {};
  const call = (...a: string[]) => s.call(...a);
  out["SENTINEL MASTER fields"] = fieldShape(await call("SENTINEL", "MASTER", MASTER_NAME));
  const reps = await call("SENTINEL", "REPLICAS", MASTER_NAME) as RespValue[];
  out["SENTINEL REPLICAS fields"] = reps.map(fieldShape);
  const peers = await call("SENTINEL", "SENTINELS", MASTER_NAME) as RespValue[];
  out["SENTINEL SENTINELS fields"] = peers.map(fieldShape);
  out["SENTINEL MASTERS shape"] = shape(await call("SENTINEL", "MASTERS"));
  out["SENTINEL MASTER nope"] = shape(await call("SENTINEL", "MASTER", "nope"));
  out["SENTINEL REPLICAS nope"] = shape(await call("SENTINEL", "REPLICAS", "nope"));
  out["SENTINEL MASTER (no name)"] = shape(await call("SENTINEL", "MASTER"));
  out["SENTINEL MONITOR duplicate name"] = shape(
    await call("SENTINEL", "MONITOR", MASTER_NAME, "127.0.0.1", "1234", "2"),
  );
  out["SENTINEL MONITOR quorum 0"] = shape(
    await call("SENTINEL", "MONITOR", "other", "127.0.0.1", "1234", "0"),
  );
  out["SENTINEL MONITOR port not a number"] = shape(
    await call("SENTINEL", "MONITOR", "other", "127.0.0.1", "abc", "2"),
  );
  out["SENTINEL MONITOR port out of range"] = shape(
    await call("SENTINEL", "MONITOR", "other", "127.0.0.1", "70000", "2"),
  );
  out["SENTINEL MONITOR quorum not a number"] = shape(
    await call("SENTINEL", "MONITOR", "other", "127.0.0.1", "1234", "abc"),
  );
  out["SENTINEL SET bad quorum"] = shape(
    await call("SENTINEL", "SET", MASTER_NAME, "quorum", "abc"),
  );
  out["SENTINEL SET bad down-after"] = shape(
    await call("SENTINEL", "SET", MASTER_NAME, "down-after-milliseconds", "-5"),
  );
  out["SENTINEL SET unknown option"] = shape(
    await call("SENTINEL", "SET", MASTER_NAME, "foo", "2"),
  );
  out["SENTINEL SET unknown master"] = shape(await call("SENTINEL", "SET", "nope", "quorum", "2"));
  out["SENTINEL FOO"] = shape(await call("SENTINEL", "FOO"));
  out["SENTINEL (no subcommand)"] = shape(await call("SENTINEL"));
  out["PUBLISH foo bar"] = shape(await call("PUBLISH", "foo", "bar"));
  out["unknown command"] = shape(await call("FOO", "a"));
  const mport = String(g.master.port);
  out["IS-MASTER-DOWN-BY-ADDR *"] = await call(
    "SENTINEL",
    "IS-MASTER-DOWN-BY-ADDR",
    "127.0.0.1",
    mport,
    "0",
    "*",
  );
  // A vote in a new epoch: granted to the first that asks, and only to it.
  const a = "a".repeat(40), b = "b".repeat(40);
  out["IS-MASTER-DOWN-BY-ADDR vote"] = await call(
    "SENTINEL",
    "IS-MASTER-DOWN-BY-ADDR",
    "127.0.0.1",
    mport,
    "50",
    a,
  );
  out["IS-MASTER-DOWN-BY-ADDR second vote, same epoch"] = await call(
    "SENTINEL",
    "IS-MASTER-DOWN-BY-ADDR",
    "127.0.0.1",
    mport,
    "50",
    b,
  );
  out["IS-MASTER-DOWN-BY-ADDR unknown address"] = await call(
    "SENTINEL",
    "IS-MASTER-DOWN-BY-ADDR",
    "127.0.0.1",
    "1",
    "0",
    "*",
  );
  out["SENTINEL CKQUORUM"] = await call("SENTINEL", "CKQUORUM", MASTER_NAME);
  out["GET-MASTER-ADDR-BY-NAME nope (RESP2 bytes)"] = await rawReply(s.port, 2, [
    "SENTINEL",
    "GET-MASTER-ADDR-BY-NAME",
    "nope",
  ]);
  out["GET-MASTER-ADDR-BY-NAME nope (RESP3 bytes)"] = await rawReply(s.port, 3, [
    "SENTINEL",
    "GET-MASTER-ADDR-BY-NAME",
    "nope",
  ]);
  out["GET-MASTER-ADDR-BY-NAME shape"] = shape(
    await call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME),
  );
  out["ROLE"] = await call("ROLE");
  out["MYID shape"] = shape(await call("SENTINEL", "MYID"));
  const sections = String(await call("INFO")).split("\r\n").filter((l) => l.startsWith("# "));
  out["INFO section names"] = sections;
  out["INFO sentinel fields"] = Object.keys(parseInfo(String(await call("INFO", "sentinel"))));
  {
    using c3 = await RawConn.connect(s.port);
    const hello = await c3.call("HELLO", "3");
    out["HELLO 3 keys"] = hello instanceof RespMap
      ? hello.entries.map(([k]) => String(k))
      : shape(hello);
    out["RESP3 SENTINEL MASTER"] = shape(await c3.call("SENTINEL", "MASTER", MASTER_NAME));
    const r3 = await c3.call("SENTINEL", "REPLICAS", MASTER_NAME);
    out["RESP3 SENTINEL REPLICAS"] = shape(r3);
    out["RESP3 INFO"] = shape(await c3.call("INFO", "sentinel"));
  }
  return out;
}

Deno.test({
  name: "sentinel: replies have the shapes and error texts of redis-sentinel's",
  ignore: !requireBinary("redis-sentinel", "sentinel reply parity") || !hasRedis,
  ...opts,
  fn: async () => {
    // The same topology twice (real redis-server master and replica, two sentinels), watched
    // by real sentinels on one side and by ours on the other.
    const [real, ours] = await startAll([
      () => Group.start({ data: "redis", replicas: 1, sentinels: ["redis", "redis"] }),
      () => Group.start({ data: "redis", replicas: 1, sentinels: ["ours", "ours"] }),
    ]);
    try {
      await Promise.all([real!.discovered(10_000), ours!.discovered(10_000)]);
      const want = await profile(real!);
      const got = await profile(ours!);
      const diffs: string[] = [];
      for (const k of Object.keys(want)) {
        try {
          deepStrictEqual(got[k], want[k]);
        } catch {
          diffs.push(
            `${k}:\n    redis-sentinel: ${JSON.stringify(want[k])}\n    ours:           ${
              JSON.stringify(got[k])
            }`,
          );
        }
      }
      ok(
        diffs.length === 0,
        `${diffs.length} replies differ from redis-sentinel's:\n` + diffs.join("\n"),
      );
    } finally {
      await Promise.all([real![Symbol.asyncDispose](), ours![Symbol.asyncDispose]()]);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// 3. Automatic failover

Deno.test({
  name:
    "sentinel: automatic failover keeps acknowledged writes; the old master comes back as a replica",
  ...opts,
  fn: async () => {
    await using g = await Group.start({ data: "ours", replicas: 2, sentinels: [...OURS3] });
    await g.discovered(10_000);
    const old = `127.0.0.1:${g.master.port}`;
    using sub = await Subscriber.open(g.sentinels[0]!.port, "+switch-master");

    // Writes acknowledged by a replica (WAIT 1) before the master dies must survive.
    const acked: string[] = [];
    {
      using c = await g.master.fresh();
      for (let round = 0; round < 10; round++) {
        const keys = Array.from({ length: 20 }, (_, i) => `k:${round}:${i}`);
        for (const k of keys) equal(await c.call("SET", k, `v-${k}`), "OK");
        const n = await c.call("WAIT", "1", "1000");
        if (typeof n === "number" && n >= 1) acked.push(...keys);
      }
    }
    ok(acked.length > 0, "some writes were acknowledged by a replica");

    using hellos = new HelloWatch(g.replicas.map((r) => r.port));
    await g.master.proc.kill9();
    const started = Date.now();
    let now: string;
    try {
      now = await g.newMaster(old);
    } catch (e) {
      // Say why when it is known: a hello that gave the new epoch with the old address.
      const c = hellos.conflicts();
      throw c.length === 0 ? e : new Error(`${c.join("\n")}\n${(e as Error).message}`);
    }
    const failoverMs = Date.now() - started;
    const newPort = portOf(now);
    const promoted = g.replicas.find((r) => r.port === newPort);
    ok(promoted, `the new master ${now} is one of the replicas`);
    const other = g.replicas.find((r) => r !== promoted)!;
    await g.waitFor(`${now} reports role:master`, async () => {
      return (await replInfo(newPort)).role === "master";
    }, 5000);
    await g.waitFor(`the other replica follows ${now} with its link up`, async () => {
      const i = await replInfo(other.port);
      return i.master_host === "127.0.0.1" && i.master_port === String(newPort) &&
        i.master_link_status === "up";
    }, 15_000);
    await g.waitFor("+switch-master published to subscribers", () => {
      return Promise.resolve(
        sub.messages.some((m) =>
          m.message === `${MASTER_NAME} 127.0.0.1 ${portOf(old)} 127.0.0.1 ${newPort}`
        ),
      );
    }, 5000);

    {
      using c = await connectTo(newPort);
      for (let i = 0; i < acked.length; i += 100) {
        const keys = acked.slice(i, i + 100);
        const vals = await c.call("MGET", ...keys) as (string | null)[];
        const lost = keys.filter((k, j) => vals[j] !== `v-${k}`);
        deepStrictEqual(lost, [], `acknowledged writes missing on the new master`);
      }
    }
    console.log(`failover: ${failoverMs} ms, ${acked.length} acknowledged writes kept`);
    // One address per config epoch in every hello seen on the replicas.
    deepStrictEqual(hellos.conflicts(), [], "hello messages announce one master per epoch");

    // The old master restarts where it was, as a master nobody told about the failover.
    const back = await dataNodeOn(portOf(old));
    g.extra.push(back);
    await g.waitFor(`the old master is converted into a replica of ${now}`, async () => {
      const i = await replInfo(back.port);
      return i.role === "slave" && i.master_port === String(newPort);
    }, 20_000);
  },
});

Deno.test({
  name: "sentinel: during a failover, hellos give the new config epoch only with the new address",
  ...opts,
  fn: async () => {
    // Three replicas: the leader spends a few seconds reconfiguring two of them (parallel-syncs
    // 1), long enough to publish hellos while it does. Redis announces the promoted replica
    // from then on (sentinelGetCurrentMasterAddress); a hello with the new epoch and the old
    // address would make the other sentinels take the epoch without the switch.
    await using g = await Group.start({ data: "ours", replicas: 3, sentinels: [...OURS3] });
    await g.discovered(10_000);
    using hellos = new HelloWatch(g.replicas.map((r) => r.port));
    const old = `127.0.0.1:${g.master.port}`;
    await g.master.proc.kill9();
    let failure: Error | null = null;
    try {
      await g.newMaster(old);
    } catch (e) {
      failure = e as Error;
    }
    deepStrictEqual(hellos.conflicts(), [], "hello messages announce one master per epoch");
    if (failure) throw failure;
  },
});

// ---------------------------------------------------------------------------------------------
// 4. A quorum shared with redis-sentinel

async function mixedFailover(sentinels: ("ours" | "redis")[]): Promise<void> {
  await using g = await Group.start({ data: "ours", replicas: 2, sentinels });
  await g.discovered(12_000);
  const ids = await Promise.all(
    g.sentinels.map(async (s) => String(await s.cmd("SENTINEL", "MYID"))),
  );
  for (const [i, s] of g.sentinels.entries()) {
    const runids = (await s.sentinels()).map((p) => p.runid).sort();
    deepStrictEqual(runids, ids.filter((_, j) => j !== i).sort(), `${s.label} knows the others`);
  }
  const old = `127.0.0.1:${g.master.port}`;
  await g.master.proc.kill9();
  const now = await g.newMaster(old);
  ok(g.replicas.some((r) => `127.0.0.1:${r.port}` === now), `${now} is one of the replicas`);
  await g.waitFor(`${now} reports role:master`, async () => {
    return (await replInfo(portOf(now))).role === "master";
  }, 5000);
  const other = g.replicas.find((r) => r.port !== portOf(now))!;
  await g.waitFor(`the other replica follows ${now}`, async () => {
    const i = await replInfo(other.port);
    return i.master_port === String(portOf(now)) && i.master_link_status === "up";
  }, 15_000);
}

Deno.test({
  name: "sentinel: two of ours and one redis-sentinel find each other and fail over together",
  ignore: !requireBinary("redis-sentinel", "mixed quorum (2 ours + 1 redis)"),
  ...opts,
  fn: () => mixedFailover(["ours", "ours", "redis"]),
});

Deno.test({
  name: "sentinel: one of ours and two redis-sentinels find each other and fail over together",
  ignore: !requireBinary("redis-sentinel", "mixed quorum (1 ours + 2 redis)"),
  ...opts,
  fn: () => mixedFailover(["ours", "redis", "redis"]),
});

/**
 * A master of ours killed and started again at once, whose dump takes seconds to load: it answers
 * PING with -LOADING (a valid reply, so down-after-milliseconds never passes) and INFO with a new
 * run_id, from which a sentinel with master-reboot-down-after-period calls it down and fails over.
 */
async function rebootedWhileLoading(sentinel: "ours" | "redis"): Promise<void> {
  await using g = await Group.start({
    data: "ours",
    replicas: 1,
    sentinels: [sentinel],
    quorum: 1,
    downAfterMs: 60_000,
  });
  await g.discovered(10_000);
  const [s] = g.sentinels;
  await s!.cmd("SENTINEL", "SET", MASTER_NAME, "master-reboot-down-after-period", "1000");
  for (const p of ["info-period", "ping-period"]) await s!.cmd("SENTINEL", "DEBUG", p, "200");
  // About 9 s of loading: 3000 keys at 3 ms each.
  await g.master.cmd("DEBUG", "POPULATE", "3000");
  await g.master.cmd("SAVE");
  const dir = String((await g.master.cmd("CONFIG", "GET", "dir") as RespValue[])[1]);
  const old = `127.0.0.1:${g.master.port}`;
  await g.master.proc.kill9();
  const slow = ["--key-load-delay", "3000", "--loading-process-events-interval-bytes", "1024"];
  const args = [...BASE_ARGS, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const back = await startProcess({
    cmd: dataNodeCommand(g.master.port, [...args, "--dir", dir, "--admin-port", "-1", ...slow]),
    port: g.master.port,
    name: "rebooted master (data-node)",
  });
  g.extra.push(back);
  const now = await g.newMaster(old, 30_000);
  equal(now, `127.0.0.1:${g.replicas[0]!.port}`);
  // Once loaded, the old master is turned into a replica of the new one.
  await g.waitFor(`the rebooted master follows ${now}`, async () => {
    const i = await replInfo(back.port);
    return i.role === "slave" && i.master_port === String(portOf(now));
  }, 30_000);
}

for (const impl of ["redis", "ours"] as const) {
  Deno.test({
    name: `sentinel: ${impl} sentinel fails over a master of ours rebooted while it loads`,
    ignore: impl === "redis" && !requireBinary("redis-sentinel", "reboot while loading"),
    ...opts,
    fn: () => rebootedWhileLoading(impl),
  });
}

// ---------------------------------------------------------------------------------------------
// 5. Clients in Sentinel mode

Deno.test({
  name: "sentinel: ioredis and node-redis in Sentinel mode follow a failover",
  ...opts,
  fn: async () => {
    await using g = await Group.start({ data: "ours", replicas: 2, sentinels: [...OURS3] });
    await g.discovered(10_000);
    const nodes = g.sentinels.map((s) => ({ host: "127.0.0.1", port: s.port }));
    const io = new Redis({
      sentinels: nodes,
      name: MASTER_NAME,
      lazyConnect: true,
      sentinelRetryStrategy: () => 200,
      retryStrategy: () => 200,
    });
    io.on("error", () => {});
    const nr = createSentinel({ name: MASTER_NAME, sentinelRootNodes: nodes });
    nr.on("error", () => {});
    try {
      await io.connect();
      await nr.connect();
      equal(await io.set("io:before", "1"), "OK");
      equal(await io.get("io:before"), "1");
      equal(await nr.set("nr:before", "1"), "OK");
      equal(await nr.get("nr:before"), "1");
      equal(await g.master.cmd("GET", "io:before"), "1", "ioredis wrote to the master");
      equal(await g.master.cmd("GET", "nr:before"), "1", "node-redis wrote to the master");

      const old = `127.0.0.1:${g.master.port}`;
      await g.master.proc.kill9();
      const now = await g.newMaster(old);

      // Each client writes again within 20 s, and the writes land on the new master.
      const deadline = Date.now() + 20_000;
      const retry = async (what: string, f: () => Promise<unknown>) => {
        let last: unknown = null;
        while (Date.now() < deadline) {
          try {
            if (await within(f(), 2000, what) === "OK") return;
          } catch (e) {
            last = e;
          }
          await sleep(200);
        }
        throw new Error(`${what} failed until the deadline: ${last}\n${await g.dump()}`);
      };
      await Promise.all([
        retry("ioredis SET after the failover", () => io.set("io:after", "2")),
        retry("node-redis SET after the failover", () => nr.set("nr:after", "2")),
      ]);
      using c = await connectTo(portOf(now));
      deepStrictEqual(await c.call("MGET", "io:after", "nr:after"), ["2", "2"]);
      equal(await io.get("io:after"), "2");
      equal(await nr.get("nr:after"), "2");
    } finally {
      io.disconnect();
      await nr.close().catch(() => {});
    }
  },
});

// ---------------------------------------------------------------------------------------------
// 6. Restart

Deno.test({
  name: "sentinel: a restarted sentinel keeps its ID, known replicas and peers, and epoch",
  ...opts,
  fn: async () => {
    await using g = await Group.start({ data: "ours", replicas: 2, sentinels: [...OURS3] });
    await g.discovered(10_000);
    const s = g.sentinels[0]!;
    const id = String(await s.cmd("SENTINEL", "MYID"));
    const peerIds = (await s.sentinels()).map((p) => `${p.port} ${p.runid}`).sort();
    const replicaPorts = g.replicas.map((r) => String(r.port)).sort();
    // A vote request in epoch 7 moves the current epoch to 7 and records the vote.
    const fake = "f".repeat(40);
    deepStrictEqual(
      await s.cmd(
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        String(g.master.port),
        "7",
        fake,
      ),
      [0, fake, 7],
    );
    await g.waitFor("current-epoch 7 in the config file", async () => {
      return (await Deno.readTextFile(s.configFile)).includes("\nsentinel current-epoch 7\n");
    }, 5000);

    const restarted = await s.restart();
    g.sentinels[0] = restarted;
    equal(s.proc.alive, false);
    equal((await s.proc.status).code, 0, `SIGTERM: clean exit\n${s.proc.output()}`);
    // Right after the start, before any hello or INFO could have taught it anything.
    equal(String(await restarted.cmd("SENTINEL", "MYID")), id, "same ID");
    deepStrictEqual((await restarted.replicas()).map((r) => r.port).sort(), replicaPorts);
    deepStrictEqual(
      (await restarted.sentinels()).map((p) => `${p.port} ${p.runid}`).sort(),
      peerIds,
    );
    const text = await Deno.readTextFile(restarted.configFile);
    ok(text.includes("\nsentinel current-epoch 7\n"), `current epoch kept:\n${text}`);
    ok(text.includes(`\nsentinel leader-epoch ${MASTER_NAME} 7\n`), `leader epoch kept:\n${text}`);
    // It voted in epoch 7 before the restart: another candidate does not get its vote.
    const v = await restarted.cmd(
      "SENTINEL",
      "IS-MASTER-DOWN-BY-ADDR",
      "127.0.0.1",
      String(g.master.port),
      "7",
      "b".repeat(40),
    ) as RespValue[];
    notEqual(v[1], "b".repeat(40), "no second vote in epoch 7");
    equal(v[2], 7);
    // And its peers still know it by the same ID.
    await g.waitFor("the peers still list the restarted sentinel under its ID", async () => {
      for (const o of g.sentinels.slice(1)) {
        const ps = await o.sentinels();
        if (ps.length !== 2 || !ps.some((p) => p.runid === id && p.port === String(s.port))) {
          return false;
        }
      }
      return true;
    }, 5000);
  },
});

// ---------------------------------------------------------------------------------------------
// 7. Config file required

/** Runs a command to its end (killed after 20 s) and returns its exit code and stderr. */
async function runToEnd(cmd: string[]): Promise<{ code: number; stderr: string }> {
  const [bin, ...args] = cmd;
  const child = new Deno.Command(bin!, { args, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Whether this process can still open the file for writing (root ignores permissions). */
function writable(path: string): boolean {
  try {
    Deno.openSync(path, { write: true }).close();
    return true;
  } catch {
    return false;
  }
}

async function chattr(flag: "+i" | "-i", path: string): Promise<boolean> {
  if (!which("chattr")) return false;
  try {
    const out = await new Deno.Command("chattr", { args: [flag, path], stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "sentinel: refuses to start without a config file or with a read-only one",
  ...opts,
  fn: async () => {
    // The usual command line without its config file.
    const none = await runToEnd(sentinelCommand("").slice(0, -1));
    notEqual(none.code, 0, "no config file: non-zero exit");
    match(none.stderr, /needs config file on disk to save state/, none.stderr);

    const dir = await Deno.makeTempDir({ prefix: "redis-ha-sentinel-" });
    const file = `${dir}/sentinel.conf`;
    let immutable = false;
    try {
      const port = await freePort();
      await Deno.writeTextFile(
        file,
        `port ${port}\nadmin-port -1\nsentinel monitor ${MASTER_NAME} 127.0.0.1 6379 2\n`,
      );
      await Deno.chmod(file, 0o444);
      // Running as root, permissions do not stop a write; an immutable file does.
      if (writable(file)) immutable = await chattr("+i", file);
      if (writable(file)) {
        console.log("SKIP: cannot make a file read-only for this user: read-only config file");
        return;
      }
      const ro = await runToEnd(sentinelCommand(file));
      notEqual(ro.code, 0, "read-only config file: non-zero exit");
      match(ro.stderr, /not writable/, ro.stderr);
      if (hasSentinel) {
        // Redis refuses the same file.
        const real = await runToEnd(["redis-sentinel", file, "--port", String(await freePort())]);
        notEqual(real.code, 0, `redis-sentinel refuses it too: ${real.stderr}`);
      }
    } finally {
      if (immutable) await chattr("-i", file);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

// ---------------------------------------------------------------------------------------------
// 8. A frozen master, and a minority that must not fail over

Deno.test({
  name: "sentinel: a master frozen with SIGSTOP is failed over and rejoins as a replica",
  ...opts,
  fn: async () => {
    await using g = await Group.start({
      data: "ours",
      replicas: 2,
      sentinels: ["ours", "ours", "ours"],
    });
    await g.discovered(12_000);
    const old = `127.0.0.1:${g.master.port}`;
    g.master.proc.pause();
    let now: string;
    try {
      now = await g.newMaster(old);
    } finally {
      g.master.proc.resume();
    }
    // Thawed, the old master still believes it is a master: the sentinels convert it.
    await g.waitFor(`${old} follows ${now}`, async () => {
      const i = await replInfo(g.master.port);
      return i.role === "slave" && i.master_port === String(portOf(now));
    }, 30_000);
  },
});

Deno.test({
  name: "sentinel: one sentinel cut off from the others cannot fail over alone",
  ...opts,
  fn: async () => {
    await using g = await Group.start({
      data: "ours",
      replicas: 1,
      sentinels: ["ours", "ours", "ours"],
    });
    await g.discovered(12_000);
    const old = `127.0.0.1:${g.master.port}`;
    const [alone, ...others] = g.sentinels;
    for (const s of others) s.proc.pause();
    try {
      await g.master.proc.kill9();
      // Down-after in these tests is short: a few seconds are many failover chances.
      await new Promise((r) => setTimeout(r, 4000));
      equal(await alone!.masterAddr(), old, "a lone sentinel (no quorum) kept the master");
      const m = await alone!.master();
      ok(m.flags!.includes("s_down") && !m.flags!.includes("o_down"), `flags ${m.flags}`);
    } finally {
      // Thawed, the others enter TILT (their clock jumped), as redis-sentinel does: the
      // failover that follows is the other tests' subject.
      for (const s of others) s.proc.resume();
    }
  },
});

// ---------------------------------------------------------------------------------------------
// SENTINEL DEBUG: the timing parameters, listed and changed as redis-sentinel does

Deno.test({
  name: "sentinel: SENTINEL DEBUG lists and changes the timing parameters as redis-sentinel",
  ignore: !requireBinary("redis-sentinel", "SENTINEL DEBUG comparison"),
  ...opts,
  fn: async () => {
    const masterPort = await freePort();
    await using ours = await Sentinel.start("ours", "ours", { masterPort, quorum: 1 });
    await using redis = await Sentinel.start("redis", "redis", { masterPort, quorum: 1 });
    const script: string[][] = [
      ["SENTINEL", "DEBUG"],
      ["SENTINEL", "DEBUG", "info-period", "500", "PING-PERIOD", "300"],
      ["SENTINEL", "DEBUG", "ask-period", "0"],
      ["SENTINEL", "DEBUG", "publish-period", "x"],
      ["SENTINEL", "DEBUG", "tilt-period", "1000", "nope", "1"],
      ["SENTINEL", "DEBUG", "election-timeout"],
      ["SENTINEL", "DEBUG", "default-down-after", "1234", "script-retry-delay", "99"],
      ["SENTINEL", "DEBUG"],
      // A master added now takes the new default down-after.
      ["SENTINEL", "MONITOR", "other", "127.0.0.1", String(masterPort + 1), "1"],
    ];
    const run = async (s: Sentinel) => {
      const out: unknown[] = [];
      for (const cmd of script) out.push(await s.call(...cmd));
      const other = fields(await s.cmd("SENTINEL", "MASTER", "other"));
      out.push(other["down-after-milliseconds"]);
      return out;
    };
    const expected = await run(redis);
    equal(expected.at(-1), "1234");
    deepStrictEqual(await run(ours), expected);
  },
});
