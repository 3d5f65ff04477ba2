/**
 * cluster-bus end to end: the manager forms clusters of our data nodes and of redis-server 7.0
 * nodes (`create`), reports them (`check`), repairs an open slot (`fix`) and moves slots with
 * their keys (`reshard`); the proxy gives cluster-unaware clients (ioredis and node-redis in
 * standalone mode, redis-cli without -c) one endpoint: commands across slots, pipelines, MULTI
 * in one slot, pub/sub, a reshard under load losing no key, a master killed and its replica
 * taking over.
 *
 * Every process is stopped and every directory removed when a test ends, failed or not.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { keyHashSlot } from "../shared/slots.ts";
import { freePort, type ManagedProcess, requireBinary, startProcess } from "./helpers/process.ts";
import { clusterPort, CNode, type Impl, runCli, waitReporting } from "./helpers/cluster.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const root = new URL("../", import.meta.url).pathname;
const NODE_TIMEOUT_MS = 500;
const WAIT_MS = 15_000;

const hasRedisServer =
  requireBinary("redis-server", "cluster-bus with redis-server nodes") !== null;
const hasRedisCli = requireBinary("redis-cli", "cluster-bus: redis-cli through the proxy") !== null;

class Fixture {
  proxy: ManagedProcess | null = null;
  proxyPort = 0;
  adminPort = 0;

  private constructor(readonly nodes: CNode[], private readonly dir: string) {}

  static async start(impls: Impl[]): Promise<Fixture> {
    const dir = await Deno.makeTempDir({ prefix: "cluster-bus-test-" });
    const taken = new Set<number>();
    const nodes: CNode[] = [];
    for (let i = 0; i < impls.length; i++) {
      await Deno.mkdir(`${dir}/n${i}`);
      nodes.push(
        new CNode(impls[i]!, `n${i}`, await clusterPort(taken), `${dir}/n${i}`, NODE_TIMEOUT_MS),
      );
    }
    const f = new Fixture(nodes, dir);
    const started = await Promise.allSettled(nodes.map((n) => n.startFirst(taken)));
    const failed = started.find((r) => r.status === "rejected");
    if (failed) {
      await f[Symbol.asyncDispose]();
      throw (failed as PromiseRejectedResult).reason;
    }
    for (const n of nodes) n.id = String(await n.cmd("CLUSTER", "MYID"));
    return f;
  }

  addr(n: CNode): string {
    return `127.0.0.1:${n.port}`;
  }

  async startProxy(): Promise<void> {
    this.proxyPort = await freePort();
    this.adminPort = await freePort();
    this.proxy = await startProcess({
      cmd: [
        Deno.execPath(),
        "run",
        "-A",
        `${root}cluster-bus/main.ts`,
        "--port",
        String(this.proxyPort),
        "--admin-port",
        String(this.adminPort),
        "--timeout",
        "2000",
        "--refresh",
        "1000",
        ...this.nodes.flatMap((n) => ["--seed", this.addr(n)]),
      ],
      port: this.proxyPort,
      name: "cluster-bus proxy",
    });
    // The proxy accepts clients before its first map load ends; wait for the map.
    await waitReporting(
      "the proxy's first slot map",
      async () => {
        const r = await fetch(`http://127.0.0.1:${this.adminPort}/topology`);
        return r.ok && ((await r.json()) as { masters: string[] }).masters.length > 0;
      },
      10_000,
      () => this.describe(),
    );
  }

  async describe(): Promise<string> {
    let out = "";
    for (const n of this.nodes.filter((x) => x.alive)) {
      out += `--- ${n.label}\n${await n.call("CLUSTER", "NODES").catch((e) => String(e))}\n`;
    }
    return out + `--- proxy\n${this.proxy?.output() ?? ""}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (Deno.env.get("SHOW_PROXY")) console.log(this.proxy?.output());
    await this.proxy?.stop().catch(() => {});
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Runs a manager command of cluster-bus to its end (killed after `timeoutMs`). */
async function manager(args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}cluster-bus/main.ts`, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: ac.signal,
    }).output();
    const dec = new TextDecoder();
    return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

async function create(f: Fixture, replicas: number): Promise<void> {
  const r = await manager([
    "create",
    ...f.nodes.map((n) => f.addr(n)),
    "--replicas",
    String(replicas),
    "--yes",
  ]);
  equal(r.code, 0, `cluster-bus create:\n${r.out}\n${await f.describe()}`);
  ok(r.out.includes("[OK] All 16384 slots covered."), r.out);
  ok(r.out.includes("[OK] All nodes agree about slots configuration."), r.out);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Keys that land on many different slots. */
function keys(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}:${i}`);
}

async function plainClients(f: Fixture): Promise<void> {
  // ioredis in standalone mode.
  const io = new Redis({ port: f.proxyPort, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await io.connect();
    const ks = keys("io", 50);
    equal(await io.mset(Object.fromEntries(ks.map((k) => [k, `v-${k}`]))), "OK");
    ok(new Set(ks.map(keyHashSlot)).size > 40, "the keys span many slots");
    deepStrictEqual(await io.mget(...ks), ks.map((k) => `v-${k}`));
    equal(await io.set("io:one", "1"), "OK");
    equal(await io.get("io:one"), "1");
    equal(await io.exists(ks[0]!, ks[1]!, "io:none"), 2);
    // A pipeline whose commands go to every node: replies in request order.
    const p = io.pipeline();
    for (let i = 0; i < 300; i++) p.set(`pl:${i}`, String(i)).get(`pl:${i}`);
    const res = await p.exec();
    for (let i = 0; i < 300; i++) {
      deepStrictEqual(res![2 * i], [null, "OK"]);
      deepStrictEqual(res![2 * i + 1], [null, String(i)]);
    }
    // MULTI on one slot (hash tag); across slots a clear error and EXECABORT.
    const tx = await io.multi().set("{acct}a", "1").incr("{acct}a").get("{acct}a").exec();
    deepStrictEqual(tx, [[null, "OK"], [null, 2], [null, "2"]]);
    const bad = await io.multi().set("ta", "1").set("tb", "2").exec().catch((e) => e as Error);
    ok(bad instanceof Error && /EXECABORT/.test(bad.message), String(bad));
    equal(await io.del(...ks), 50);
    equal(await io.dbsize(), 1 + 300 + 1);
    // Pub/sub: a subscriber through the proxy hears a publish through the proxy.
    const sub = new Redis({ port: f.proxyPort, lazyConnect: true });
    try {
      await sub.connect();
      const got = new Promise<string>((res) => sub.on("message", (_c, m) => res(m)));
      await sub.subscribe("news");
      let delivered = 0;
      for (let i = 0; i < 20 && delivered === 0; i++) {
        delivered = await io.publish("news", "hello");
        if (delivered === 0) await sleep(100);
      }
      equal(await got, "hello");
    } finally {
      sub.disconnect();
    }
  } finally {
    io.disconnect();
  }
  // node-redis, plain createClient.
  const nr = createClient({ socket: { port: f.proxyPort, reconnectStrategy: false } });
  nr.on("error", () => {});
  await nr.connect();
  try {
    await nr.mSet({ "nr:a": "1", "nr:b": "2", "nr:c": "3" });
    deepStrictEqual(await nr.mGet(["nr:a", "nr:b", "nr:c", "nr:none"]), ["1", "2", "3", null]);
    equal(await nr.del(["nr:a", "nr:b", "nr:c"]), 3);
    equal(await nr.ping(), "PONG");
  } finally {
    await nr.close().catch(() => {});
  }
  if (hasRedisCli) {
    const port = String(f.proxyPort);
    equal((await runCli(["-p", port, "set", "cli:x", "42"])).out.trim(), "OK");
    equal((await runCli(["-p", port, "get", "cli:x"])).out.trim(), "42");
    equal((await runCli(["-p", port, "mget", "cli:x", "io:one"])).out.trim(), "42\n1");
    ok((await runCli(["-p", port, "scan", "0"])).out.includes("SCAN cannot iterate"));
  }
}

/** Writes through the proxy while `work` runs; every acknowledged key must read back. */
async function writesDuring(f: Fixture, work: () => Promise<void>): Promise<number> {
  const c = new Redis({ port: f.proxyPort, lazyConnect: true, maxRetriesPerRequest: 2 });
  await c.connect();
  const acked: number[] = [];
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop && i < 100_000; i++) {
      try {
        if ((await c.set(`w:${i}`, String(i))) === "OK") acked.push(i);
      } catch { /* not acknowledged: not counted */ }
    }
  })();
  try {
    await work();
    await sleep(200);
  } finally {
    stop = true;
    await writer;
  }
  try {
    for (let i = 0; i < acked.length; i += 200) {
      const batch = acked.slice(i, i + 200);
      const vals = await c.mget(...batch.map((n) => `w:${n}`));
      vals.forEach((v, j) => equal(v, String(batch[j]), `w:${batch[j]} lost`));
    }
  } finally {
    c.disconnect();
  }
  return acked.length;
}

/** The node serving a slot, from CLUSTER NODES of `n`. */
async function ownerOf(f: Fixture, slot: number): Promise<CNode> {
  const line = (await f.nodes[0]!.nodes()).find((l) =>
    l.flags.includes("master") && l.slots.some((s) => inRange(s, slot))
  );
  const n = f.nodes.find((x) => x.id === line?.id);
  if (!n) throw new Error(`no owner of slot ${slot}`);
  return n;
}

async function counter(f: Fixture, kind: string): Promise<number> {
  const m = await (await fetch(`http://127.0.0.1:${f.adminPort}/metrics`)).text();
  const hit = new RegExp(`cluster_bus_redirects_total\\{kind="${kind}"\\} (\\d+)`).exec(m);
  return Number(hit?.[1] ?? -1);
}

/** A slot moved by hand: ASK while it migrates, MOVED after, both followed by the proxy. */
async function redirections(f: Fixture): Promise<void> {
  const key = "redirect:key";
  const slot = keyHashSlot(key);
  const src = await ownerOf(f, slot);
  const masters = (await src.nodes()).filter((l) => l.flags.includes("master"));
  const dst = f.nodes.find((n) => n.id === masters.find((m) => m.id !== src.id)!.id)!;
  const c = new Redis({ port: f.proxyPort, lazyConnect: true, maxRetriesPerRequest: 0 });
  await c.connect();
  try {
    await dst.cmd("CLUSTER", "SETSLOT", String(slot), "IMPORTING", src.id);
    await src.cmd("CLUSTER", "SETSLOT", String(slot), "MIGRATING", dst.id);
    const ask0 = await counter(f, "ask");
    // The key is not on the source: it answers ASK, and the proxy asks the target.
    equal(await c.set(key, "v1"), "OK");
    equal(await c.get(key), "v1");
    ok((await counter(f, "ask")) >= ask0 + 2, "ASK followed");
    // The source still has no such key: it sends a client asking for it to the target.
    ok(String(await src.call("EXISTS", key)).startsWith("ASK "), "the key is on the target");
    for (const n of [dst, src, ...f.nodes.filter((x) => x !== src && x !== dst)]) {
      await n.call("CLUSTER", "SETSLOT", String(slot), "NODE", dst.id);
    }
    const moved0 = await counter(f, "moved");
    // The proxy still routes the slot to the old owner, which answers MOVED.
    equal(await c.get(key), "v1");
    ok((await counter(f, "moved")) >= moved0 + 1, "MOVED followed");
    // RESP3 through the proxy, and a blocking command served on its own connection.
    const r3 = createClient({ socket: { port: f.proxyPort, reconnectStrategy: false }, RESP: 3 });
    r3.on("error", () => {});
    await r3.connect();
    try {
      equal(await r3.hSet("redirect:h", { a: "1", b: "2" }), 2);
      // A RESP3 map reply, passed through as a map.
      deepStrictEqual({ ...(await r3.hGetAll("redirect:h")) }, { a: "1", b: "2" });
      const popped = r3.blPop("redirect:list", 5);
      await sleep(100);
      equal(await c.rpush("redirect:list", "x"), 1);
      deepStrictEqual({ ...(await popped) }, { key: "redirect:list", element: "x" });
    } finally {
      await r3.close().catch(() => {});
    }
  } finally {
    c.disconnect();
  }
}

async function topology(f: Fixture): Promise<{ masters: string[]; uncoveredSlots: number }> {
  const r = await fetch(`http://127.0.0.1:${f.adminPort}/topology`);
  equal(r.status, 200);
  return await r.json();
}

Deno.test({
  name: "ours: create, proxy for plain clients, reshard under load, failover, check and fix",
  ...opts,
  fn: async () => {
    await using f = await Fixture.start(Array(6).fill("ours"));
    await create(f, 1);
    const check = await manager(["check", f.addr(f.nodes[0]!)]);
    equal(check.code, 0, check.out);
    ok(/\(\d+ slots\) master\n\s+1 additional replica\(s\)/.test(check.out), check.out);
    await f.startProxy();
    equal((await topology(f)).masters.length, 3);
    await plainClients(f);
    await redirections(f);

    // Reshard 200 slots from the first master to the second while a client writes.
    const masters = (await f.nodes[0]!.nodes()).filter((n) => n.flags.includes("master"));
    const [from, to] = [masters[0]!, masters[1]!];
    let reshardOut = "";
    const acked = await writesDuring(f, async () => {
      const r = await manager([
        "reshard",
        f.addr(f.nodes[0]!),
        "--from",
        from.id,
        "--to",
        to.id,
        "--slots",
        "200",
        "--yes",
      ]);
      reshardOut = r.out;
      equal(r.code, 0, r.out);
    });
    ok(acked > 0, "the writer got replies during the reshard");
    ok(reshardOut.includes("Moving slot"), reshardOut);
    const after = await manager(["check", f.addr(f.nodes[1]!)]);
    equal(after.code, 0, after.out);
    const metrics = await (await fetch(`http://127.0.0.1:${f.adminPort}/metrics`)).text();
    ok(/cluster_bus_redirects_total\{kind="moved"\} \d+/.test(metrics), metrics);

    // A broken cluster: an open slot is reported, fix closes it.
    const owner = f.nodes.find((n) => n.id === to.id)!;
    const other = f.nodes.find((n) => n.id === from.id)!;
    const slot = keyHashSlot("io:one");
    const ownerNodes = await owner.nodes();
    const holder = ownerNodes.find((n) => n.slots.some((s) => inRange(s, slot)))!;
    const holderNode = f.nodes.find((n) => n.id === holder.id)!;
    const target = holderNode === other ? owner : other;
    await target.cmd("CLUSTER", "SETSLOT", String(slot), "IMPORTING", holderNode.id);
    const broken = await manager(["check", f.addr(f.nodes[0]!)]);
    equal(broken.code, 1, broken.out);
    ok(broken.out.includes(`[WARNING] The following slots are open: ${slot}.`), broken.out);
    const fixed = await manager(["fix", f.addr(f.nodes[0]!), "--yes"]);
    equal(fixed.code, 0, fixed.out);

    // kill -9 a master: its replica takes over and the proxy serves its slots again.
    const victim = holderNode;
    await victim.kill9();
    const proxied = new Redis({ port: f.proxyPort, lazyConnect: true, maxRetriesPerRequest: 0 });
    proxied.on("error", () => {});
    await proxied.connect();
    try {
      await waitReporting(
        "the proxy serving the failed master's slots",
        async () => {
          return (await proxied.set("io:one", "after")) === "OK" &&
            (await proxied.get("io:one")) === "after";
        },
        WAIT_MS,
        () => f.describe(),
      );
      equal((await topology(f)).uncoveredSlots, 0);
    } finally {
      proxied.disconnect();
    }
  },
});

function inRange(spec: string, slot: number): boolean {
  const [a, b] = spec.split("-");
  return Number(a) <= slot && slot <= Number(b ?? a);
}

Deno.test({
  name: "redis-server 7.0: create, check, proxy and a reshard that keeps every key",
  ignore: !hasRedisServer,
  ...opts,
  fn: async () => {
    await using f = await Fixture.start(["redis", "redis", "redis"]);
    await create(f, 0);
    await f.startProxy();
    await plainClients(f);
    const masters = (await f.nodes[0]!.nodes()).filter((n) => n.flags.includes("master"));
    const acked = await writesDuring(f, async () => {
      const r = await manager([
        "reshard",
        f.addr(f.nodes[0]!),
        "--from",
        "all",
        "--to",
        masters[2]!.id,
        "--slots",
        "300",
        "--yes",
      ]);
      equal(r.code, 0, r.out);
    });
    ok(acked > 0);
    const check = await manager(["check", f.addr(f.nodes[1]!)]);
    equal(check.code, 0, check.out);
    // The same through the admin API: 10 slots to the first master, and the map follows.
    const r = await fetch(`http://127.0.0.1:${f.adminPort}/reshard`, {
      method: "POST",
      body: JSON.stringify({ to: masters[0]!.id, slots: 10, from: [masters[2]!.id] }),
    });
    const body = await r.json();
    equal(r.status, 200, JSON.stringify(body));
    ok(body.output.some((l: string) => l.startsWith("Moving slot")), JSON.stringify(body));
    equal((await topology(f)).uncoveredSlots, 0);
    const rebalance = await manager([
      "rebalance",
      f.addr(f.nodes[0]!),
      "--threshold",
      "1",
      "--yes",
    ]);
    equal(rebalance.code, 0, rebalance.out);
    ok(rebalance.out.includes("Rebalancing across 3 nodes"), rebalance.out);
  },
});
